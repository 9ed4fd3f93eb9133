//! Orphan mode: the wait, the parent election and what an orphan advertises.

use std::net::{IpAddr, Ipv4Addr};

use ntp_select::{
    Candidate, MAXSTRAT, Role, SelectionResult, SystemVariables, TosSettings, check_fitness,
};
use ntp_wire::packet::LeapIndicator;
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, NtpTimestamp, Uptime};

/// The fallback rank given to the elected orphan parent: after ntpd's modem
/// driver (0) and local clock driver (1).
pub const ORPHAN_FALLBACK_RANK: u8 = 2;

/// The address metric of orphan parent election: the reference-ID form of an
/// address as a big-endian number (the IPv4 address itself, or the first 32
/// bits of the MD5 hash of an IPv6 address). The lowest metric wins.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use ntp_orphan::address_metric;
///
/// assert_eq!(address_metric(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))), 0x0a00_0001);
/// ```
pub fn address_metric(address: IpAddr) -> u32 {
    ReferenceId::from_ip(address).to_u32()
}

/// The reference ID an orphan parent advertises: `LOOP` at stratum 1,
/// otherwise 127.0.0.1 (the orphan page of the 4.2.8 documentation).
pub fn orphan_reference_id(orphan_stratum: u8) -> ReferenceId {
    if orphan_stratum <= 1 {
        ReferenceId::from_ascii("LOOP")
    } else {
        ReferenceId::from_ipv4(Ipv4Addr::LOCALHOST)
    }
}

/// `orphanwait` as a monotonic interval (a negative value is none).
fn wait_duration(wait: NtpDuration) -> std::time::Duration {
    wait.to_std().unwrap_or_default()
}

/// `tos orphan` and `tos orphanwait`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrphanSettings {
    /// The orphan stratum; 16 (the default) disables orphan mode.
    pub stratum: u8,
    /// How long the host must be without a system peer (from start-up, or
    /// from losing its system peer) before it becomes an orphan parent.
    pub wait: NtpDuration,
}

impl OrphanSettings {
    /// The orphan knobs of a `tos` configuration.
    pub fn from_tos(tos: &TosSettings) -> Self {
        Self {
            stratum: tos.orphan,
            wait: tos.orphanwait,
        }
    }

    /// Whether orphan mode is configured (`tos orphan` below 16).
    pub fn is_enabled(&self) -> bool {
        self.stratum < MAXSTRAT
    }
}

impl Default for OrphanSettings {
    fn default() -> Self {
        Self::from_tos(&TosSettings::default())
    }
}

/// Where the host stands with respect to orphan mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrphanState<K> {
    /// Orphan mode is not configured.
    Disabled,
    /// A real source (below the orphan stratum) is the system peer.
    Synchronized,
    /// No system peer; the host becomes an orphan parent at `until` unless a
    /// source appears.
    Waiting {
        /// When the orphan wait ends.
        until: Uptime,
    },
    /// This host is the orphan parent: it advertises the orphan stratum with
    /// offset 0, root delay 0 and the orphan reference ID, and does not
    /// discipline its clock.
    Parent,
    /// This host follows the elected orphan parent `parent` as its system
    /// peer (an orphan child at orphan stratum + 1).
    Child {
        /// The elected orphan parent's association.
        parent: K,
    },
}

/// The outcome of one orphan-mode decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrphanDecision<K> {
    /// Where the host stands.
    pub state: OrphanState<K>,
    /// The orphan parent elected among the peers, if any peer at the orphan
    /// stratum has a lower metric than this host.
    pub elected: Option<K>,
    /// What the host advertises in its packets (and serves to clients) as
    /// the decision is made: an orphan parent's variables, or the system
    /// variables before `clock_update()` adopts a fresh sample.
    pub advertise: SystemVariables,
    /// Whether the caller should discipline the clock with the selection's
    /// offset (a fresh update from a system peer; never for a parent).
    pub discipline: bool,
    /// When to decide again even without new samples (the end of the
    /// orphan wait).
    pub next_deadline: Option<Uptime>,
}

/// The orphan-mode state machine of one host.
///
/// Use it around the system process: [`Orphan::prepare`] the candidates
/// (which excludes peers that could descend from the orphan parent and keeps
/// the elected orphan parent as a fallback), run
/// [`ntp_select::SystemProcess::select`] on them, then [`Orphan::decide`].
/// [`crate::OrphanSystem`] does all three.
///
/// The rules are those of ntpd 4.2.8 (DESIGN.md "Decisions"):
///
/// - Candidates above the orphan stratum are excluded from selection: they
///   may have the orphan parent as an ancestor.
/// - Among fit candidates at the orphan stratum, the one with the lowest
///   [`address_metric`] is elected orphan parent, but only if its metric is
///   below this host's own (this host is itself a candidate); the others are
///   excluded. The elected parent is used only when no real source survives
///   the intersection ([`Role::Fallback`]).
/// - With no system peer for `orphanwait` (from start-up, or from losing the
///   system peer), the host becomes the orphan parent.
/// - A real source at a lower stratum ends orphan mode at once: it is an
///   ordinary source, preferred to any fallback.
#[derive(Clone, Debug)]
pub struct Orphan {
    settings: OrphanSettings,
    local_metric: u32,
    wait_until: Uptime,
    had_sys_peer: bool,
}

impl Orphan {
    /// A host starting at `now` with the given settings and its own address
    /// metric (see [`address_metric`]; on a multihomed host, the metric of
    /// the address it uses towards the orphan mesh).
    pub fn new(settings: OrphanSettings, local_metric: u32, now: Uptime) -> Self {
        Self {
            settings,
            local_metric,
            wait_until: now + wait_duration(settings.wait),
            had_sys_peer: false,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &OrphanSettings {
        &self.settings
    }

    /// This host's metric.
    pub fn local_metric(&self) -> u32 {
        self.local_metric
    }

    /// The metric of a candidate (unknown addresses never win).
    fn metric<K>(candidate: &Candidate<K>) -> u32 {
        candidate.address.map_or(u32::MAX, address_metric)
    }

    /// The orphan parent among the peers: the fit candidate at the orphan
    /// stratum with the lowest metric, if that metric is below this host's.
    pub fn elect<K: Copy>(
        &self,
        candidates: &[Candidate<K>],
        tos: &TosSettings,
        now: Uptime,
    ) -> Option<K> {
        if !self.settings.is_enabled() {
            return None;
        }
        candidates
            .iter()
            .filter(|c| c.stratum == self.settings.stratum && c.role == Role::Source)
            .filter(|c| check_fitness(*c, tos, now).is_none())
            .map(|c| (Self::metric(c), c.id))
            .filter(|&(metric, _)| metric < self.local_metric)
            .min_by_key(|&(metric, _)| metric)
            .map(|(_, id)| id)
    }

    /// The candidates as the system process should see them: peers above the
    /// orphan stratum and non-elected peers at the orphan stratum are
    /// [`Role::Excluded`], the elected parent becomes a [`Role::Fallback`]
    /// with [`ORPHAN_FALLBACK_RANK`]. Returns them with the elected parent.
    /// Unchanged when orphan mode is off.
    pub fn prepare<K: Copy + PartialEq>(
        &self,
        candidates: &[Candidate<K>],
        tos: &TosSettings,
        now: Uptime,
    ) -> (Vec<Candidate<K>>, Option<K>) {
        let mut prepared = candidates.to_vec();
        if !self.settings.is_enabled() {
            return (prepared, None);
        }
        let elected = self.elect(candidates, tos, now);
        let orphan = self.settings.stratum;
        for c in prepared.iter_mut().filter(|c| c.role == Role::Source) {
            if c.stratum > orphan && c.stratum < MAXSTRAT {
                c.role = Role::Excluded;
            } else if c.stratum == orphan {
                c.role = if Some(c.id) == elected {
                    Role::Fallback {
                        rank: ORPHAN_FALLBACK_RANK,
                    }
                } else {
                    Role::Excluded
                };
            }
        }
        (prepared, elected)
    }

    /// Decides the orphan state after a selection run over the prepared
    /// candidates. `current` is the system process's current variables (what
    /// the host advertises when it is not an orphan parent).
    pub fn decide<K: Copy + PartialEq>(
        &mut self,
        result: &SelectionResult<K>,
        elected: Option<K>,
        current: &SystemVariables,
        now: Uptime,
        clock_now: NtpTimestamp,
    ) -> OrphanDecision<K> {
        let has_peer = result.sys_peer.is_some();
        if self.had_sys_peer && !has_peer {
            self.wait_until = now + wait_duration(self.settings.wait);
        }
        self.had_sys_peer = has_peer;
        let discipline = has_peer && result.fresh;
        let normal = |state| OrphanDecision {
            state,
            elected,
            advertise: *current,
            discipline,
            next_deadline: None,
        };
        if !self.settings.is_enabled() {
            return normal(OrphanState::Disabled);
        }
        match result.sys_peer {
            Some(peer) if Some(peer) == elected => normal(OrphanState::Child { parent: peer }),
            Some(_) => normal(OrphanState::Synchronized),
            None if now >= self.wait_until => OrphanDecision {
                state: OrphanState::Parent,
                elected,
                advertise: self.parent_variables(now, clock_now),
                discipline: false,
                next_deadline: None,
            },
            None => OrphanDecision {
                state: OrphanState::Waiting {
                    until: self.wait_until,
                },
                elected,
                advertise: *current,
                discipline: false,
                next_deadline: Some(self.wait_until),
            },
        }
    }

    /// What an orphan parent advertises at `now`: the orphan stratum, no
    /// leap warning, reference ID `LOOP`/127.0.0.1, offset, jitter, root
    /// delay and root dispersion 0, reference time `clock_now` (the clock
    /// at monotonic `now`).
    pub fn parent_variables(&self, now: Uptime, clock_now: NtpTimestamp) -> SystemVariables {
        SystemVariables {
            leap: LeapIndicator::NoWarning,
            stratum: self.settings.stratum,
            reference_id: orphan_reference_id(self.settings.stratum),
            reference_time: clock_now,
            root_delay: NtpDuration::ZERO,
            root_dispersion: NtpDuration::ZERO,
            offset: NtpDuration::ZERO,
            jitter: NtpDuration::ZERO,
            update_time: now,
        }
    }
}
