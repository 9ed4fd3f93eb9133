//! The system peer (RFC 5905 A.5.5.1's end, with ntpd 4.2.8's
//! anti-clockhop, prefer and PPS rules) and the system-variable part of
//! `clock_update()` (A.5.5.4) with the leap vote.

use ntp_wire::packet::LeapIndicator;
use ntp_wire::time::{NtpDuration, NtpTimestamp, Uptime};

use super::{Member, Run, SelectState, SysPeer};
use crate::system::SystemVariables;
use crate::tally::Tally;
use crate::tos::{MAXSTRAT, PHI, PPS_MAX_OFFSET, TosSettings};
use ntp_wire::candidate::Candidate;

impl<K: Copy + PartialEq> Run<'_, K> {
    /// Step 6: with at least `minsane` survivors, the first one not a
    /// backup is the candidate system peer, subject to the anti-clockhop
    /// rule; a `prefer` survivor overrides both and brings its own offset
    /// and jitter, otherwise they are `clock_combine()`'s.
    pub(super) fn system_peer(
        &mut self,
        population: &[Member],
        tos: &TosSettings,
        state: &mut SelectState<K>,
        mindist: f64,
    ) -> Option<SysPeer> {
        let candidates = self.candidates;
        let active: Vec<Member> = population
            .iter()
            .copied()
            .filter(|m| self.tally[m.index] == Tally::Candidate)
            .collect();
        let mut chosen = None;
        if !population.is_empty()
            && population.len() >= tos.minsane
            && let Some(&best) = active.first()
        {
            let mut pick = anti_clockhop(candidates, &active, best, state, mindist);
            let prefer = active
                .iter()
                .filter(|m| candidates[m.index].flags.prefer)
                .min_by_key(|m| m.index);
            let (sys_offset, sys_jitter) = if let Some(&prefer) = prefer {
                pick = prefer;
                state.clockhop = 0.0;
                self.weight[prefer.index] = Some(1.0);
                (prefer.offset, prefer.jitter)
            } else {
                self.clock_combine(&active, pick)
            };
            self.tally[pick.index] = Tally::SystemPeer;
            state.clockhop_peer = Some(candidates[pick.index].id);
            chosen = Some(SysPeer {
                index: pick.index,
                offset: sys_offset,
                jitter: sys_jitter,
            });
        }
        if chosen.is_none() {
            state.clockhop_peer = None;
            state.clockhop = 0.0;
        }
        chosen
    }

    /// Step 7: the first PPS truechimer becomes the system (PPS) peer when
    /// the system offset (its own without a system peer) is within
    /// [`PPS_MAX_OFFSET`] and a prefer peer survives, or it is itself
    /// `prefer`, or there is no system peer and `minsane` is 0.
    pub(super) fn pps_peer(
        &mut self,
        chosen: Option<SysPeer>,
        population: &[Member],
        pps_candidates: &[usize],
        tos: &TosSettings,
    ) -> Option<SysPeer> {
        let Some(&pps) = pps_candidates.first() else {
            return chosen;
        };
        let prefer_survives = population
            .iter()
            .any(|m| self.candidates[m.index].flags.prefer);
        let c = &self.candidates[pps];
        let reference = match chosen {
            Some(sys_peer) => sys_peer.offset,
            None => self.offsets[pps],
        };
        let allowed = prefer_survives || c.flags.prefer || (chosen.is_none() && tos.minsane == 0);
        if reference.abs() < PPS_MAX_OFFSET && allowed {
            self.tally[pps] = Tally::PpsPeer;
            return Some(SysPeer {
                index: pps,
                offset: self.offsets[pps],
                jitter: c.jitter.to_seconds_f64().max(0.0),
            });
        }
        chosen
    }

    /// The system variables `clock_update()` derives from the system peer:
    /// stratum one more, the root delay and dispersion grown by the peer's
    /// own, the combined offset and jitter.
    pub(super) fn clock_update(
        &self,
        sys_peer: SysPeer,
        leap: LeapIndicator,
        now: Uptime,
        mindist: f64,
    ) -> SystemVariables {
        let i = sys_peer.index;
        let p = &self.candidates[i];
        let age = now.saturating_since(p.update_time).as_secs_f64();
        let peer_jitter = p.jitter.to_seconds_f64().max(0.0);
        let increment =
            (p.dispersion.to_seconds_f64().max(0.0) + PHI * age + self.offsets[i].abs())
                .max(mindist);
        let root_dispersion = p.root_dispersion.to_seconds_f64().max(0.0)
            + (peer_jitter.powi(2) + sys_peer.jitter.powi(2)).sqrt()
            + increment;
        let root_delay = (p.root_delay.to_seconds_f64() + p.delay.to_seconds_f64()).max(0.0);
        SystemVariables {
            leap,
            stratum: p.stratum.saturating_add(1).min(MAXSTRAT),
            reference_id: p.system_reference_id(),
            // The clock time of the sample, filled in by `clock_update()`.
            reference_time: NtpTimestamp::ZERO,
            root_delay: NtpDuration::from_seconds_f64(root_delay),
            root_dispersion: NtpDuration::from_seconds_f64(root_dispersion),
            offset: NtpDuration::from_seconds_f64(sys_peer.offset),
            jitter: NtpDuration::from_seconds_f64(sys_peer.jitter),
            update_time: p.epoch,
        }
    }
}

/// Anti-clockhop (ntpd 4.2.8): when the best survivor `best` is not the
/// previous system peer but that one is still active and their offsets
/// differ by less than `mindist`, the previous peer is kept while the
/// difference is below the clockhop threshold, which starts at `mindist`
/// and halves at each run; otherwise the threshold is reset.
fn anti_clockhop<K: Copy + PartialEq>(
    candidates: &[Candidate<K>],
    active: &[Member],
    best: Member,
    state: &mut SelectState<K>,
    mindist: f64,
) -> Member {
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
    pick
}

/// The leap vote over the survivors (ntpd 4.2.8): a warning wins when more
/// than half of the survivors carry it; a reference clock's warning always
/// wins.
pub(super) fn leap_vote<K>(candidates: &[Candidate<K>], population: &[Member]) -> LeapIndicator {
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
