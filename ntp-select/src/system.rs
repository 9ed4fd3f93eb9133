//! The system variables and the system process that keeps them.

use ntp_wire::packet::LeapIndicator;
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, NtpTimestamp, Uptime};

use crate::select::{SelectState, SelectionResult, clock_select};
use crate::tos::{MAXSTRAT, TosError, TosSettings};
use ntp_wire::candidate::Candidate;

/// The system variables a host advertises and disciplines its clock with
/// (RFC 5905 figure 23 and figure 25).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SystemVariables {
    /// Leap indicator: the majority vote of the survivors.
    pub leap: LeapIndicator,
    /// Stratum: the system peer's stratum + 1 (16 when unsynchronised).
    pub stratum: u8,
    /// Reference ID: the system peer's address (IPv4) or its MD5 hash (IPv6),
    /// or a reference clock's text.
    pub reference_id: ReferenceId,
    /// Reference time: when the system peer's sample was taken (ntpd's
    /// behaviour; the RFC's skeleton copies the peer's reftime instead).
    pub reference_time: NtpTimestamp,
    /// Root delay: the peer's root delay plus the delay to the peer.
    pub root_delay: NtpDuration,
    /// Root dispersion: the peer's root dispersion plus
    /// `sqrt(peer_jitter^2 + system_jitter^2)` plus
    /// `max(peer_dispersion + PHI * age + |peer_offset|, mindist)` (RFC 5905
    /// A.5.5.4, with ntpd 4.2.8's `mindist` as the floor).
    pub root_dispersion: NtpDuration,
    /// The combined (or prefer/PPS peer's) offset THETA, for the clock
    /// discipline.
    pub offset: NtpDuration,
    /// The system jitter PSI.
    pub jitter: NtpDuration,
    /// The update time of the sample used (s.t), on the monotonic clock:
    /// the root dispersion advertised grows at PHI from it.
    pub update_time: Uptime,
}

impl SystemVariables {
    /// The variables of a host that has never synchronised: leap 3,
    /// stratum 16, reference ID `INIT`, everything else zero.
    pub const fn unsynchronized() -> Self {
        Self {
            leap: LeapIndicator::Unsynchronized,
            stratum: MAXSTRAT,
            reference_id: ReferenceId::INIT,
            reference_time: NtpTimestamp::ZERO,
            root_delay: NtpDuration::ZERO,
            root_dispersion: NtpDuration::ZERO,
            offset: NtpDuration::ZERO,
            jitter: NtpDuration::ZERO,
            update_time: Uptime::ZERO,
        }
    }

    /// Whether these variables describe a synchronised host.
    pub fn is_synchronized(&self) -> bool {
        self.leap != LeapIndicator::Unsynchronized && self.stratum < MAXSTRAT
    }

    /// The root distance clients compute from these variables:
    /// `root_delay / 2 + root_dispersion`.
    pub fn root_distance(&self) -> NtpDuration {
        self.root_delay.halved() + self.root_dispersion
    }
}

impl Default for SystemVariables {
    fn default() -> Self {
        Self::unsynchronized()
    }
}

/// What [`SystemProcess::clock_update`] decided.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum ClockUpdate<K> {
    /// No system peer: the clock coasts, the variables stay as they were.
    NoPeer,
    /// The system peer's sample was used already (or is older).
    Stale {
        /// The system peer.
        peer: K,
    },
    /// A fresh sample: discipline the clock with `offset`.
    Fresh {
        /// The system peer.
        peer: K,
        /// The combined system offset THETA, seconds.
        offset: f64,
        /// When the system peer's sample was taken.
        taken: Uptime,
    },
}

/// The system process: the `tos` settings, the anti-clockhop state and the
/// current system variables.
///
/// Call [`SystemProcess::select`] whenever the clock filter of an
/// association produces a new sample (RFC 5905 calls `clock_select()` from
/// `clock_filter()`), and at least once per second-ish timer tick if the
/// caller wants dispersion growth reflected in the table.
#[derive(Clone, Debug)]
pub struct SystemProcess<K> {
    tos: TosSettings,
    state: SelectState<K>,
    variables: SystemVariables,
    sys_peer: Option<K>,
}

impl<K: Copy + PartialEq> SystemProcess<K> {
    /// A system process with the given settings, unsynchronised.
    pub fn new(tos: TosSettings) -> Result<Self, TosError> {
        tos.validate()?;
        Ok(Self {
            tos,
            state: SelectState::default(),
            variables: SystemVariables::unsynchronized(),
            sys_peer: None,
        })
    }

    /// The `tos` settings.
    pub fn tos(&self) -> &TosSettings {
        &self.tos
    }

    /// The current system variables: those of the last fresh update, or
    /// unsynchronised.
    pub fn variables(&self) -> &SystemVariables {
        &self.variables
    }

    /// The current system peer.
    pub fn sys_peer(&self) -> Option<K> {
        self.sys_peer
    }

    /// The anti-clockhop state.
    pub fn state(&self) -> &SelectState<K> {
        &self.state
    }

    /// Runs selection, clustering and combining over `candidates` at `now`
    /// (RFC 5905 `clock_select()`); then call
    /// [`clock_update`](Self::clock_update) with the result.
    ///
    /// The start-up fitness rule (see the crate documentation) is applied
    /// here: a candidate's `fit_dispersion` counts only while there is no
    /// system peer, or for the system peer itself (chosen by it, it keeps
    /// the rule until its iburst ends rather than flap out at the next run).
    pub fn select(&mut self, candidates: &[Candidate<K>], now: Uptime) -> SelectionResult<K> {
        let result = match self.sys_peer {
            Some(peer)
                if candidates
                    .iter()
                    .any(|c| c.fit_dispersion.is_some() && c.id != peer) =>
            {
                let ruled: Vec<Candidate<K>> = candidates
                    .iter()
                    .map(|c| Candidate {
                        fit_dispersion: c.fit_dispersion.filter(|_| c.id == peer),
                        ..*c
                    })
                    .collect();
                clock_select(&ruled, &self.tos, &mut self.state, now)
            }
            _ => clock_select(candidates, &self.tos, &mut self.state, now),
        };
        self.sys_peer = result.sys_peer;
        result
    }

    /// RFC 5905 `clock_update()` (A.5.5.4) up to `local_clock()`: never
    /// use an old sample or the same sample twice; a fresh sample of the
    /// system peer makes its variables the system variables (before the
    /// discipline runs, as ntpd 4.2.8 does, so that a host whose discipline
    /// is still measuring its frequency serves as synchronised), with the
    /// reference time the clock time the sample was taken (ntpd's
    /// `sys_reftime`): `clock_now` less its age. The caller hands the
    /// returned offset to the clock discipline and, if that steps the clock,
    /// calls [`clock_stepped`](Self::clock_stepped) and clears every
    /// association.
    pub fn clock_update(
        &mut self,
        result: &SelectionResult<K>,
        now: Uptime,
        clock_now: NtpTimestamp,
    ) -> ClockUpdate<K> {
        let (Some(peer), Some(system)) = (result.sys_peer, result.system) else {
            return ClockUpdate::NoPeer;
        };
        if !result.fresh {
            return ClockUpdate::Stale { peer };
        }
        let age = NtpDuration::from_std(now.saturating_since(system.update_time));
        self.variables = SystemVariables {
            reference_time: clock_now - age,
            ..system
        };
        ClockUpdate::Fresh {
            peer,
            offset: system.offset.to_seconds_f64(),
            taken: system.update_time,
        }
    }

    /// The `STEP` case of `clock_update()`: every time value is now
    /// inconsistent, so the system forgets its peer and variables
    /// (unsynchronised, stratum 16); the caller clears every association.
    pub fn clock_stepped(&mut self) {
        self.reset();
    }

    /// Forgets everything (after a clock step, RFC 5905: all associations
    /// are reset): unsynchronised, no system peer, no clockhop memory.
    pub fn reset(&mut self) {
        self.state = SelectState::default();
        self.variables = SystemVariables::unsynchronized();
        self.sys_peer = None;
    }
}
