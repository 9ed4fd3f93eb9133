//! Selection, clustering, combining and the system peer choice (RFC 5905
//! section 11.2 and Appendix A.5.5, with ntpd 4.2.8's refinements).

use std::net::Ipv4Addr;

use ntp_wire::packet::LeapIndicator;
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, NtpTimestamp};

use crate::system::SystemVariables;
use crate::tally::{Reject, Tally};
use crate::tos::{MAXSTRAT, PHI, PPS_MAX_OFFSET, TosSettings};
use ntp_wire::candidate::{Candidate, Role};

/// The orphan reference ID 127.0.0.1 is never taken for a loop.
const LOOPBACK_REFID: ReferenceId = ReferenceId::from_ipv4(Ipv4Addr::LOCALHOST);

/// The small state the system process keeps between runs: the anti-clockhop
/// memory and the time of the last update used.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectState<K> {
    /// The system peer chosen by the last run (before any PPS override).
    pub clockhop_peer: Option<K>,
    /// The current clockhop threshold in seconds (0 when not hopping).
    pub clockhop: f64,
    /// The update time (p.t) of the last system peer sample used (s.t).
    pub last_update: Option<NtpTimestamp>,
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

    /// The truechimers: candidates that passed the intersection (every
    /// survivor, outlyer and excess one).
    pub fn truechimers(&self) -> impl Iterator<Item = &CandidateReport<K>> {
        self.candidates
            .iter()
            .filter(|r| matches!(r.tally, Tally::Excess | Tally::Outlyer) || r.tally.is_survivor())
    }
}

/// The root distance lambda of a candidate at `now` (RFC 5905 `root_dist()`
/// as ntpd 4.2.8 computes it), in seconds:
/// `(delay + root_delay) / 2 + dispersion + root_dispersion + PHI * age + jitter`,
/// floored at `mindist` seconds.
pub fn root_distance<K>(candidate: &Candidate<K>, now: NtpTimestamp, mindist: f64) -> f64 {
    distance_with(candidate, candidate.dispersion, now, mindist)
}

/// The root distance the fitness test compares with the `maxdist`
/// threshold: [`root_distance`], with the candidate's `fit_dispersion` in
/// place of its dispersion when the caller set one (the start-up rule).
pub fn fitness_distance<K>(candidate: &Candidate<K>, now: NtpTimestamp, mindist: f64) -> f64 {
    distance_with(
        candidate,
        candidate.fit_dispersion.unwrap_or(candidate.dispersion),
        now,
        mindist,
    )
}

fn distance_with<K>(
    candidate: &Candidate<K>,
    dispersion: NtpDuration,
    now: NtpTimestamp,
    mindist: f64,
) -> f64 {
    let age = (now - candidate.update_time).to_seconds_f64().max(0.0);
    let delay = (candidate.delay.to_seconds_f64() + candidate.root_delay.to_seconds_f64()).max(0.0);
    let distance = delay / 2.0
        + dispersion.to_seconds_f64().max(0.0)
        + candidate.root_dispersion.to_seconds_f64().max(0.0)
        + PHI * age
        + candidate.jitter.to_seconds_f64().max(0.0);
    distance.max(mindist)
}

/// The fitness tests of RFC 5905 `fit()` other than the stratum range
/// (which depends on the whole population): why `candidate` cannot be
/// selected at `now`, or `None` if it can. A caller policy (such as orphan
/// parent election) uses this to consider only selectable candidates.
pub fn check_fitness<K>(
    candidate: &Candidate<K>,
    tos: &TosSettings,
    now: NtpTimestamp,
) -> Option<Reject> {
    unfit(
        candidate,
        fitness_distance(candidate, now, tos.mindist_s()),
        tos,
    )
}

/// The fitness tests other than the stratum range (RFC 5905 `fit()`).
fn unfit<K>(candidate: &Candidate<K>, distance: f64, tos: &TosSettings) -> Option<Reject> {
    if candidate.leap == LeapIndicator::Unsynchronized || candidate.stratum >= MAXSTRAT {
        return Some(Reject::Unsynchronized);
    }
    // powi of an integer exponent, not exp2 (a libm call).
    let poll_interval = 2f64.powi(i32::from(candidate.poll.clamp(-8, 17)));
    if distance >= tos.maxdist_s() + PHI * poll_interval {
        return Some(Reject::Distance);
    }
    if candidate.stratum > 1
        && candidate.reference_id != LOOPBACK_REFID
        && Some(candidate.reference_id) == candidate.local_refid
    {
        return Some(Reject::Loop);
    }
    if candidate.reach == 0 {
        return Some(Reject::Unreachable);
    }
    if candidate.flags.noselect {
        return Some(Reject::NoSelect);
    }
    if candidate.role == Role::Excluded {
        return Some(Reject::Excluded);
    }
    None
}

/// A member of the cluster population.
#[derive(Clone, Copy)]
struct Member {
    index: usize,
    offset: f64,
    distance: f64,
    jitter: f64,
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
/// 3. If no truechimer remains, the first fit [`Role::Fallback`] becomes the
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
///    is within [`PPS_MAX_OFFSET`] and a prefer peer survives (or the PPS
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
    now: NtpTimestamp,
) -> SelectionResult<K> {
    let mindist = tos.mindist_s();
    let count = candidates.len();
    let offsets: Vec<f64> = candidates
        .iter()
        .map(|c| c.offset.to_seconds_f64())
        .collect();
    let distances: Vec<f64> = candidates
        .iter()
        .map(|c| root_distance(c, now, mindist))
        .collect();
    let mut tally = vec![Tally::Reject; count];
    let mut reject: Vec<Option<Reject>> = vec![None; count];
    let mut select_jitter: Vec<Option<f64>> = vec![None; count];
    let mut weight: Vec<Option<f64>> = vec![None; count];

    // 1. Fitness (with the start-up dispersion where the caller set one;
    // every later step uses the RFC distance).
    let basic: Vec<Option<Reject>> = candidates
        .iter()
        .zip(&distances)
        .map(|(c, &d)| match c.fit_dispersion {
            Some(_) => unfit(c, fitness_distance(c, now, mindist), tos),
            None => unfit(c, d, tos),
        })
        .collect();
    let in_range = |c: &Candidate<K>| c.stratum >= tos.floor && c.stratum < tos.ceiling;
    let fit_in_range = candidates
        .iter()
        .zip(&basic)
        .filter(|(c, b)| b.is_none() && c.role == Role::Source && in_range(c))
        .count();
    let enforce_range = fit_in_range >= tos.minclock;
    let mut sources = Vec::new();
    let mut fallbacks = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        reject[i] = match basic[i] {
            Some(Reject::Unsynchronized) => Some(Reject::Unsynchronized),
            _ if enforce_range && !in_range(c) && c.role == Role::Source => Some(Reject::Stratum),
            other => other,
        };
        if reject[i].is_none() {
            match c.role {
                Role::Source => sources.push(i),
                Role::Fallback { rank } => fallbacks.push((rank, i)),
                Role::Excluded => {}
            }
        }
    }

    // 2. Intersection.
    let m = sources.len();
    let mut endpoints: Vec<(f64, i8)> = Vec::with_capacity(2 * m);
    for &i in &sources {
        endpoints.push((offsets[i] - distances[i], -1));
        endpoints.push((offsets[i] + distances[i], 1));
    }
    endpoints.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut intersection = None;
    let mut allow = 0;
    while 2 * allow < m {
        let need = (m - allow) as i64;
        let mut low = f64::INFINITY;
        let mut chime = 0i64;
        for &(edge, kind) in &endpoints {
            low = edge;
            chime -= i64::from(kind);
            if chime >= need {
                break;
            }
        }
        let mut high = f64::NEG_INFINITY;
        chime = 0;
        for &(edge, kind) in endpoints.iter().rev() {
            high = edge;
            chime += i64::from(kind);
            if chime >= need {
                break;
            }
        }
        if high > low {
            intersection = Some(Intersection {
                low,
                high,
                allowed_falsetickers: allow,
            });
            break;
        }
        allow += 1;
    }
    let mut population = Vec::new();
    let mut pps_candidates = Vec::new();
    for &i in &sources {
        let c = &candidates[i];
        let chimes = intersection.is_some_and(|x| x.overlaps(offsets[i], distances[i]));
        if !chimes && !c.flags.truechimer {
            tally[i] = Tally::Falseticker;
            continue;
        }
        if c.flags.pps {
            tally[i] = Tally::Outlyer;
            pps_candidates.push(i);
            continue;
        }
        population.push(Member {
            index: i,
            offset: offsets[i],
            distance: distances[i],
            jitter: c.jitter.to_seconds_f64().max(0.0),
            select_jitter: 0.0,
        });
    }

    // 3. Fallback.
    fallbacks.sort_by_key(|&(rank, i)| (rank, i));
    for (n, &(_, i)) in fallbacks.iter().enumerate() {
        if n == 0 && population.is_empty() {
            population.push(Member {
                index: i,
                offset: offsets[i],
                distance: mindist,
                jitter: 0.0,
                select_jitter: 0.0,
            });
        } else {
            reject[i] = Some(Reject::FallbackUnused);
        }
    }

    // 4. Clustering.
    loop {
        let n = population.len();
        let mut min_jitter = f64::INFINITY;
        let mut worst = 0;
        let mut worst_metric = f64::NEG_INFINITY;
        // sum_j (x_j - x_k)^2 = S2 - 2 x_k S1 + n x_k^2 over offsets
        // centred on their mean: O(n) per round instead of O(n^2).
        let mean = population.iter().map(|m| m.offset).sum::<f64>() / n.max(1) as f64;
        let s1: f64 = population.iter().map(|m| m.offset - mean).sum();
        let s2: f64 = population.iter().map(|m| (m.offset - mean).powi(2)).sum();
        for (k, member) in population.iter_mut().enumerate() {
            min_jitter = min_jitter.min(member.jitter);
            let sj = if n > 1 {
                let x = member.offset - mean;
                let sum = s2 - 2.0 * x * s1 + n as f64 * x * x;
                (sum.max(0.0) / (n - 1) as f64).sqrt()
            } else {
                0.0
            };
            member.select_jitter = sj;
            if sj * member.distance > worst_metric {
                worst_metric = sj * member.distance;
                worst = k;
            }
        }
        if n <= tos.minclock.max(1) {
            break;
        }
        let flags = candidates[population[worst].index].flags;
        if population[worst].select_jitter <= min_jitter || flags.truechimer || flags.prefer {
            break;
        }
        tally[population[worst].index] = if n > tos.maxclock {
            Tally::Excess
        } else {
            Tally::Outlyer
        };
        population.remove(worst);
    }

    // 5. Ranking and backups.
    let metric = |m: &Member| {
        m.select_jitter * m.distance + f64::from(candidates[m.index].stratum) * mindist
    };
    population.sort_by(|a, b| {
        metric(a)
            .total_cmp(&metric(b))
            .then(a.distance.total_cmp(&b.distance))
            .then(a.index.cmp(&b.index))
    });
    for (rank, member) in population.iter().enumerate() {
        let flags = candidates[member.index].flags;
        tally[member.index] = if rank >= tos.maxclock && !flags.prefer && !flags.truechimer {
            Tally::Backup
        } else {
            Tally::Candidate
        };
        select_jitter[member.index] = Some(member.select_jitter);
    }
    let leap = leap_vote(candidates, &population);

    // 6. System peer, prefer peer and combining.
    let active: Vec<Member> = population
        .iter()
        .copied()
        .filter(|m| tally[m.index] == Tally::Candidate)
        .collect();
    let mut chosen: Option<Member> = None;
    let mut sys_offset = 0.0;
    let mut sys_jitter = 0.0;
    let prefer_survives = population.iter().any(|m| candidates[m.index].flags.prefer);
    if !population.is_empty()
        && population.len() >= tos.minsane
        && let Some(&best) = active.first()
    {
        let mut pick = best;
        let old = state
            .clockhop_peer
            .and_then(|id| active.iter().find(|m| candidates[m.index].id == id));
        match old {
            Some(old) if old.index != best.index => {
                let x = (best.offset - old.offset).abs();
                if x < mindist {
                    state.clockhop = if state.clockhop == 0.0 {
                        mindist
                    } else {
                        state.clockhop * 0.5
                    };
                    if x < state.clockhop {
                        pick = *old;
                    } else {
                        state.clockhop = 0.0;
                    }
                } else {
                    state.clockhop = 0.0;
                }
            }
            _ => state.clockhop = 0.0,
        }
        let prefer = active
            .iter()
            .filter(|m| candidates[m.index].flags.prefer)
            .min_by_key(|m| m.index);
        if let Some(&prefer) = prefer {
            pick = prefer;
            state.clockhop = 0.0;
            sys_offset = prefer.offset;
            sys_jitter = prefer.jitter;
            weight[prefer.index] = Some(1.0);
        } else {
            let (mut y, mut z, mut w) = (0.0, 0.0, 0.0);
            for m in &active {
                let x = 1.0 / m.distance;
                y += x;
                z += x * m.offset;
                w += x * (m.offset - pick.offset).powi(2);
            }
            sys_offset = z / y;
            sys_jitter = (w / y + pick.select_jitter.powi(2)).sqrt();
            for m in &active {
                weight[m.index] = Some((1.0 / m.distance) / y);
            }
        }
        tally[pick.index] = Tally::SystemPeer;
        state.clockhop_peer = Some(candidates[pick.index].id);
        chosen = Some(pick);
    }
    if chosen.is_none() {
        state.clockhop_peer = None;
        state.clockhop = 0.0;
    }

    // 7. PPS peer.
    let mut sys_index = chosen.map(|m| m.index);
    if let Some(&pps) = pps_candidates.first() {
        let c = &candidates[pps];
        let reference = if chosen.is_some() {
            sys_offset
        } else {
            offsets[pps]
        };
        let allowed = prefer_survives || c.flags.prefer || (chosen.is_none() && tos.minsane == 0);
        if reference.abs() < PPS_MAX_OFFSET && allowed {
            tally[pps] = Tally::PpsPeer;
            sys_index = Some(pps);
            sys_offset = offsets[pps];
            sys_jitter = c.jitter.to_seconds_f64().max(0.0);
        }
    }

    // System variables.
    let mut survivors: Vec<K> = population.iter().map(|m| candidates[m.index].id).collect();
    let mut system = None;
    let mut fresh = false;
    if let Some(i) = sys_index {
        let p = &candidates[i];
        if tally[i] == Tally::PpsPeer {
            survivors.push(p.id);
        }
        fresh = state
            .last_update
            .is_none_or(|last| p.update_time - last > NtpDuration::ZERO);
        if fresh {
            state.last_update = Some(p.update_time);
        }
        let age = (now - p.update_time).to_seconds_f64().max(0.0);
        let peer_jitter = p.jitter.to_seconds_f64().max(0.0);
        let increment =
            (p.dispersion.to_seconds_f64().max(0.0) + PHI * age + offsets[i].abs()).max(mindist);
        let root_dispersion = p.root_dispersion.to_seconds_f64().max(0.0)
            + (peer_jitter.powi(2) + sys_jitter.powi(2)).sqrt()
            + increment;
        let root_delay = (p.root_delay.to_seconds_f64() + p.delay.to_seconds_f64()).max(0.0);
        system = Some(SystemVariables {
            leap,
            stratum: p.stratum.saturating_add(1).min(MAXSTRAT),
            reference_id: p.system_reference_id(),
            reference_time: p.update_time,
            root_delay: NtpDuration::from_seconds_f64(root_delay),
            root_dispersion: NtpDuration::from_seconds_f64(root_dispersion),
            offset: NtpDuration::from_seconds_f64(sys_offset),
            jitter: NtpDuration::from_seconds_f64(sys_jitter),
            update_time: p.update_time,
        });
    }

    let reports = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| CandidateReport {
            id: c.id,
            tally: tally[i],
            reject: reject[i],
            offset: offsets[i],
            root_distance: distances[i],
            select_jitter: select_jitter[i],
            weight: weight[i],
        })
        .collect();
    SelectionResult {
        candidates: reports,
        intersection,
        survivors,
        sys_peer: sys_index.map(|i| candidates[i].id),
        system,
        fresh,
    }
}

/// The leap vote over the survivors (ntpd 4.2.8): a warning wins when more
/// than half of the survivors carry it; a reference clock's warning always
/// wins.
fn leap_vote<K>(candidates: &[Candidate<K>], population: &[Member]) -> LeapIndicator {
    let n = population.len();
    let (mut insert, mut delete) = (0, 0);
    for m in population {
        let c = &candidates[m.index];
        let vote = if c.flags.refclock { n } else { 1 };
        match c.leap {
            LeapIndicator::InsertSecond => insert = (insert + vote).min(n),
            LeapIndicator::DeleteSecond => delete = (delete + vote).min(n),
            _ => {}
        }
    }
    if insert > n / 2 {
        LeapIndicator::InsertSecond
    } else if delete > n / 2 {
        LeapIndicator::DeleteSecond
    } else {
        LeapIndicator::NoWarning
    }
}
