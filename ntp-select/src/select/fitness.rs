//! Fitness (RFC 5905 A.5.5.3 `root_dist()` and `fit()`, ntpd's
//! `peer_unfit()`): the root distance, the tests that make a candidate
//! unselectable, and the stratum range over the whole population.

use std::net::Ipv4Addr;

use ntp_wire::packet::LeapIndicator;
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, Uptime};

use super::Run;
use crate::tally::Reject;
use crate::tos::{MAXSTRAT, PHI, TosSettings};
use ntp_wire::candidate::{Candidate, Role};

/// The orphan reference ID 127.0.0.1 is never taken for a loop.
const LOOPBACK_REFID: ReferenceId = ReferenceId::from_ipv4(Ipv4Addr::LOCALHOST);

/// The root distance lambda of a candidate at `now` (RFC 5905 `root_dist()`
/// as ntpd 4.2.8 computes it), in seconds:
/// `(delay + root_delay) / 2 + dispersion + root_dispersion + PHI * age + jitter`,
/// floored at `mindist` seconds.
pub fn root_distance<K>(candidate: &Candidate<K>, now: Uptime, mindist: f64) -> f64 {
    distance_with(candidate, candidate.dispersion, now, mindist)
}

/// The root distance the fitness test compares with the `maxdist`
/// threshold: [`root_distance`], with the candidate's `fit_dispersion` in
/// place of its dispersion when the caller set one (the start-up rule).
pub fn fitness_distance<K>(candidate: &Candidate<K>, now: Uptime, mindist: f64) -> f64 {
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
    now: Uptime,
    mindist: f64,
) -> f64 {
    let age = now.saturating_since(candidate.update_time).as_secs_f64();
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
    now: Uptime,
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

impl<K> Run<'_, K> {
    /// Step 1: fitness, with the start-up dispersion where the caller set
    /// one (every later step uses the RFC distance); the stratum range is
    /// enforced only while at least `minclock` fit candidates are in it.
    /// Returns the fit sources and the fit fallbacks (rank, index).
    pub(super) fn fitness(
        &mut self,
        tos: &TosSettings,
        now: Uptime,
        mindist: f64,
    ) -> (Vec<usize>, Vec<(u8, usize)>) {
        let candidates = self.candidates;
        let basic: Vec<Option<Reject>> = candidates
            .iter()
            .zip(&self.distances)
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
            self.reject[i] = match basic[i] {
                Some(Reject::Unsynchronized) => Some(Reject::Unsynchronized),
                _ if enforce_range && !in_range(c) && c.role == Role::Source => {
                    Some(Reject::Stratum)
                }
                other => other,
            };
            if self.reject[i].is_none() {
                match c.role {
                    Role::Source => sources.push(i),
                    Role::Fallback { rank } => fallbacks.push((rank, i)),
                    Role::Excluded => {}
                }
            }
        }
        (sources, fallbacks)
    }
}
