//! Selection, clustering, combining and the system peer choice (RFC 5905
//! section 11.2 and Appendix A.5.5, with ntpd 4.2.8's refinements).
//!
//! One function per step of the RFC's `clock_select()` (A.5.5.1) and
//! `clock_combine()` (A.5.5.5), the files named after them:
//!
//! - `fitness`: `root_dist()` and `fit()` (A.5.5.3);
//! - `intersection`: the intersection algorithm (Marzullo's, as ntpd
//!   4.2.8 has it) and the truechimers it leaves;
//! - `cluster`: the fallback, the clustering algorithm (A.5.5.2) and the
//!   survivors' ranking;
//! - `combine`: `clock_combine()`;
//! - `peer`: the system peer (anti-clockhop, prefer, PPS) and the
//!   system-variable part of `clock_update()` with the leap vote.

use ntp_wire::time::Uptime;

use crate::system::SystemVariables;
use crate::tally::{Reject, Tally};
use crate::tos::TosSettings;
use ntp_wire::candidate::Candidate;

mod cluster;
mod combine;
mod fitness;
mod intersection;
mod peer;

pub use fitness::{check_fitness, fitness_distance, root_distance};

/// The small state the system process keeps between runs: the anti-clockhop
/// memory and the time of the last update used.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectState<K> {
    /// The system peer chosen by the last run (before any PPS override).
    pub clockhop_peer: Option<K>,
    /// The current clockhop threshold in seconds (0 when not hopping).
    pub clockhop: f64,
    /// The update time (p.t) of the last system peer sample used (s.t).
    pub last_update: Option<Uptime>,
}

impl<K> Default for SelectState<K> {
    fn default() -> Self {
        Self {
            clockhop_peer: None,
            clockhop: 0.0,
            last_update: None,
        }
    }
}

/// The intersection interval found by the selection algorithm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Intersection {
    /// Lower end (s).
    pub low: f64,
    /// Upper end (s).
    pub high: f64,
    /// The number of falsetickers the algorithm had to allow.
    pub allowed_falsetickers: usize,
}

impl Intersection {
    /// Whether a correctness interval `[offset - distance, offset + distance]`
    /// has points in common with the intersection interval.
    pub fn overlaps(&self, offset: f64, distance: f64) -> bool {
        !(offset + distance < self.low || offset - distance > self.high)
    }
}

/// One line of the selection table: what happened to one candidate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CandidateReport<K> {
    /// The association handle.
    pub id: K,
    /// The tally code.
    pub tally: Tally,
    /// Why it was not selectable, when it was not.
    pub reject: Option<Reject>,
    /// Offset theta (s).
    pub offset: f64,
    /// Root distance lambda (s), floored at `mindist`; the half-width of
    /// the correctness interval.
    pub root_distance: f64,
    /// Selection jitter (s) in the final cluster round, for survivors.
    pub select_jitter: Option<f64>,
    /// Normalised weight in the combined offset, for contributors.
    pub weight: Option<f64>,
}

/// The outcome of one run of the system process.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectionResult<K> {
    /// One report per input candidate, in input order.
    pub candidates: Vec<CandidateReport<K>>,
    /// The intersection interval, if a majority clique was found.
    pub intersection: Option<Intersection>,
    /// The survivors (cluster survivors ordered by preference, backups
    /// included, then the PPS peer if one is used).
    pub survivors: Vec<K>,
    /// The system peer: the candidate whose variables the system inherits
    /// (the PPS peer when one is used). `None` leaves the clock free-running.
    pub sys_peer: Option<K>,
    /// The system variables derived from the system peer.
    pub system: Option<SystemVariables>,
    /// Whether the system peer's sample is newer than the last one used:
    /// only then should `system` be adopted and the clock disciplined with
    /// `system.offset` (RFC 5905 clock_update: never use a sample twice).
    pub fresh: bool,
}

impl<K: Copy + PartialEq> SelectionResult<K> {
    /// The report line of a candidate.
    pub fn report(&self, id: K) -> Option<&CandidateReport<K>> {
        self.candidates.iter().find(|r| r.id == id)
    }

    /// The tally code of a candidate.
    pub fn tally(&self, id: K) -> Option<Tally> {
        self.report(id).map(|r| r.tally)
    }

    /// The candidates that are not survivors, worst first: unfit ones,
    /// falsetickers, excess ones, then outlyers, each group by decreasing
    /// root distance. The order in which ntpd demobilises excess
    /// preemptable associations beyond `maxclock`.
    pub fn preemption_order(&self) -> Vec<K> {
        let mut ranked: Vec<(u8, f64, K)> = self
            .candidates
            .iter()
            .filter_map(|r| {
                let group = match r.tally {
                    Tally::Reject => 0,
                    Tally::Falseticker => 1,
                    Tally::Excess => 2,
                    Tally::Outlyer => 3,
                    _ => return None,
                };
                Some((group, r.root_distance, r.id))
            })
            .collect();
        ranked.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        ranked.into_iter().map(|(_, _, id)| id).collect()
    }

    /// The truechimers: candidates that passed the intersection (every
    /// survivor, outlyer and excess one).
    pub fn truechimers(&self) -> impl Iterator<Item = &CandidateReport<K>> {
        self.candidates
            .iter()
            .filter(|r| matches!(r.tally, Tally::Excess | Tally::Outlyer) || r.tally.is_survivor())
    }
}

/// A member of the cluster population.
#[derive(Clone, Copy)]
struct Member {
    /// The candidate's index in the input.
    index: usize,
    /// Offset theta (s).
    offset: f64,
    /// Root distance lambda (s).
    distance: f64,
    /// Peer jitter psi (s).
    jitter: f64,
    /// Selection jitter (s), as of the last clustering round.
    select_jitter: f64,
}

/// Runs the system process once over all candidates (RFC 5905
/// `clock_select()`, `clock_combine()` and the system-variable part of
/// `clock_update()`).
///
/// The steps, and where the rules come from:
///
/// 1. Fitness (`fit()`, ntpd's `peer_unfit()`): unsynchronised (leap 3 or
///    stratum 16), root distance at or above `maxdist + PHI * 2^poll`, a loop
///    (stratum above 1 and the source's reference ID is the local address,
///    except 127.0.0.1 which orphans use), unreachable, `noselect`, excluded
///    by the caller. The stratum range (`floor <= stratum < ceiling`) is
///    enforced only while at least `minclock` candidates in range remain
///    (the `tos` text of the seeds). The RFC skeleton also rejects a source
///    whose reference ID equals the system reference ID; that rejects
///    siblings sharing our upstream, which is no loop, so it is not done.
///    The distance threshold includes the poll term as in the RFC and is
///    applied to reference clocks too.
/// 2. Intersection (ntpd 4.2.8's form of Marzullo's algorithm): correctness
///    intervals `offset +/- lambda` with lambda floored at `mindist`; the
///    number of allowed falsetickers grows from 0 while below half the
///    candidates. A candidate whose interval overlaps the intersection
///    interval, or which is marked `true`, is a truechimer; the others are
///    falsetickers. PPS truechimers stay out of the following steps.
/// 3. If no truechimer remains, the first fit [`Role::Fallback`](crate::Role::Fallback) becomes the
///    only survivor.
/// 4. Clustering: while more than `max(1, minclock)` remain, the one with the
///    largest selection jitter weighted by root distance is cast out, unless
///    its selection jitter is not above the smallest peer jitter or it is
///    `true` or `prefer`.
/// 5. Survivors are ranked by ntpd 4.2.8's hybrid metric, selection jitter
///    times root distance plus `stratum * mindist` (ties: smaller root
///    distance, then input order). This favours the survivor nearest the
///    others with the smallest error budget; the prefer page describes the
///    ranking as "by root distance", the RFC skeleton as
///    `stratum * MAXDIST + lambda`, and the 4.2.8 code, followed here,
///    dropped that heavy stratum weight. Survivors ranked `maxclock` or later
///    (other than `prefer`/`true`) are backups.
/// 6. With fewer than `minsane` survivors there is no system peer.
///    Otherwise the first survivor is the candidate system peer, subject to
///    the anti-clockhop rule (see [`SelectState`] and below), and a `prefer`
///    survivor overrides both. The combined offset and jitter are the
///    `1/lambda`-weighted average of the survivors (RFC `clock_combine()`),
///    the jitter augmented by the system peer's selection jitter; a `prefer`
///    system peer contributes its own offset and jitter instead.
/// 7. A PPS truechimer becomes the system (PPS) peer when the system offset
///    is within [`PPS_MAX_OFFSET`](crate::PPS_MAX_OFFSET) and a prefer peer survives (or the PPS
///    candidate is itself `prefer`, or there is no system peer and `minsane`
///    is 0).
///
/// Anti-clockhop (ntpd 4.2.8, the prefer page): when the best survivor is
/// not the previous system peer but the previous one still survives (not as
/// a backup), and their offsets differ by less than `mindist`, the previous
/// peer is kept while the difference is below the clockhop threshold; the
/// threshold starts at `mindist` and halves at each run, so a persistently
/// better peer eventually takes over. A difference of `mindist` or more
/// switches at once.
pub fn clock_select<K: Copy + PartialEq>(
    candidates: &[Candidate<K>],
    tos: &TosSettings,
    state: &mut SelectState<K>,
    now: Uptime,
) -> SelectionResult<K> {
    let mindist = tos.mindist_s();
    let mut run = Run::new(candidates, now, mindist);
    // 1. Fitness.
    let (sources, fallbacks) = run.fitness(tos, now, mindist);
    // 2. Intersection.
    let intersection = run.intersection(&sources);
    let (mut population, pps_candidates) = run.truechimers(&sources, intersection);
    // 3. Fallback.
    run.fallback(&mut population, fallbacks, mindist);
    // 4. Clustering.
    run.cluster(&mut population, tos);
    // 5. Ranking and backups.
    run.rank(&mut population, tos, mindist);
    let leap = peer::leap_vote(candidates, &population);
    // 6. System peer, prefer peer and combining.
    let chosen = run.system_peer(&population, tos, state, mindist);
    // 7. PPS peer.
    let sys_peer = run.pps_peer(chosen, &population, &pps_candidates, tos);
    // System variables.
    let mut survivors: Vec<K> = population.iter().map(|m| candidates[m.index].id).collect();
    let mut system = None;
    let mut fresh = false;
    if let Some(sys_peer) = sys_peer {
        if run.tally[sys_peer.index] == Tally::PpsPeer {
            survivors.push(candidates[sys_peer.index].id);
        }
        fresh = run.is_fresh(sys_peer.index, state);
        system = Some(run.clock_update(sys_peer, leap, now, mindist));
    }
    run.result(
        intersection,
        survivors,
        sys_peer.map(|p| p.index),
        system,
        fresh,
    )
}

/// The working table of one run, a column per quantity, in input order.
struct Run<'a, K> {
    candidates: &'a [Candidate<K>],
    /// Offsets theta (s).
    offsets: Vec<f64>,
    /// Root distances lambda (s), floored at `mindist`.
    distances: Vec<f64>,
    tally: Vec<Tally>,
    reject: Vec<Option<Reject>>,
    select_jitter: Vec<Option<f64>>,
    weight: Vec<Option<f64>>,
}

/// The system peer (or PPS peer) and the system offset and jitter it
/// brings.
#[derive(Clone, Copy)]
struct SysPeer {
    /// The candidate's index in the input.
    index: usize,
    /// The system offset (s).
    offset: f64,
    /// The system jitter (s).
    jitter: f64,
}

impl<'a, K: Copy> Run<'a, K> {
    /// Offsets and root distances at `now`; every candidate a reject until
    /// a step says otherwise.
    fn new(candidates: &'a [Candidate<K>], now: Uptime, mindist: f64) -> Self {
        let count = candidates.len();
        Self {
            candidates,
            offsets: candidates
                .iter()
                .map(|c| c.offset.to_seconds_f64())
                .collect(),
            distances: candidates
                .iter()
                .map(|c| root_distance(c, now, mindist))
                .collect(),
            tally: vec![Tally::Reject; count],
            reject: vec![None; count],
            select_jitter: vec![None; count],
            weight: vec![None; count],
        }
    }

    /// A cluster member from candidate `index`.
    fn member(&self, index: usize) -> Member {
        Member {
            index,
            offset: self.offsets[index],
            distance: self.distances[index],
            jitter: self.candidates[index].jitter.to_seconds_f64().max(0.0),
            select_jitter: 0.0,
        }
    }

    /// Whether the system peer's sample is newer than the last one used;
    /// if so, it becomes the last one used.
    fn is_fresh(&self, index: usize, state: &mut SelectState<K>) -> bool {
        let p = &self.candidates[index];
        let fresh = state.last_update.is_none_or(|last| p.epoch > last);
        if fresh {
            state.last_update = Some(p.epoch);
        }
        fresh
    }

    /// The outcome: the report lines and what was chosen.
    fn result(
        self,
        intersection: Option<Intersection>,
        survivors: Vec<K>,
        sys_index: Option<usize>,
        system: Option<SystemVariables>,
        fresh: bool,
    ) -> SelectionResult<K> {
        let reports = self
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| CandidateReport {
                id: c.id,
                tally: self.tally[i],
                reject: self.reject[i],
                offset: self.offsets[i],
                root_distance: self.distances[i],
                select_jitter: self.select_jitter[i],
                weight: self.weight[i],
            })
            .collect();
        SelectionResult {
            candidates: reports,
            intersection,
            survivors,
            sys_peer: sys_index.map(|i| self.candidates[i].id),
            system,
            fresh,
        }
    }
}
