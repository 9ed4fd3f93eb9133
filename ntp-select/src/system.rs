//! The system variables and the system process that keeps them.

use ntp_wire::packet::LeapIndicator;
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, NtpTimestamp};

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
    /// The update time of the sample used (s.t).
    pub update_time: NtpTimestamp,
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
            update_time: NtpTimestamp::ZERO,
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

    /// Runs selection, clustering and combining over `candidates` at `now`.
    /// When the result is fresh, its system variables become the current
    /// ones and the caller should hand `system.offset` to the clock
    /// discipline. With no system peer the variables are kept as they were
    /// (the clock coasts), as in the reference implementation.
    pub fn select(&mut self, candidates: &[Candidate<K>], now: NtpTimestamp) -> SelectionResult<K> {
        let result = clock_select(candidates, &self.tos, &mut self.state, now);
        self.sys_peer = result.sys_peer;
        if let (true, Some(system)) = (result.fresh, result.system) {
            self.variables = system;
        }
        result
    }

    /// Forgets everything (after a clock step, RFC 5905: all associations
    /// are reset): unsynchronised, no system peer, no clockhop memory.
    pub fn reset(&mut self) {
        self.state = SelectState::default();
        self.variables = SystemVariables::unsynchronized();
        self.sys_peer = None;
    }
}
