//! The candidate: what the peer process (an association, or a reference
//! clock) hands the system process after its clock filter. Defined here, at
//! the bottom of the crate graph, so that `ntp-assoc`, `ntp-refclock` and
//! `ntp-select` share one type.

use std::net::IpAddr;

use crate::constants::MAXSTRAT;
use crate::packet::LeapIndicator;
use crate::refid::ReferenceId;
use crate::time::{NtpDuration, Uptime};

/// Per-association options that change how the system process treats a
/// candidate (the `server`/`peer` options and refclock properties).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CandidateFlags {
    /// `prefer`: never clustered out; when it survives it becomes the system
    /// peer and its offset and jitter are used instead of the combined ones.
    pub prefer: bool,
    /// `noselect`: measured and shown, never selected.
    pub noselect: bool,
    /// `true`: declared a truechimer whatever the intersection says, and
    /// never clustered out (it must still pass the fitness tests).
    pub truechimer: bool,
    /// A PPS source (no seconds numbering): it must survive the intersection
    /// but stays out of clustering and combining; it becomes the PPS peer
    /// only with a surviving prefer peer (or itself `prefer`) and a system
    /// offset within `ntp_select::PPS_MAX_OFFSET`.
    pub pps: bool,
    /// A reference clock: its reference ID (not an address) becomes the
    /// system reference ID, and its leap warning wins the leap vote.
    pub refclock: bool,
}

/// How the caller wants a candidate to take part in selection.
///
/// This is how policies outside the RFC's algorithms (orphan mode, the
/// local-clock and modem drivers of ntpd) steer the system process without
/// it knowing about them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// An ordinary source: fitness, intersection, clustering, combining.
    #[default]
    Source,
    /// Kept out of the selection; if no candidate survives the intersection,
    /// the fit fallback with the lowest `rank` (then the earliest in the
    /// input) becomes the only survivor. ntpd's order is modem driver, local
    /// driver, orphan parent.
    Fallback {
        /// Lower ranks are tried first.
        rank: u8,
    },
    /// Excluded by the caller's policy (tally: space).
    Excluded,
}

/// What the system process needs to know about one association: the peer
/// process's summary after its clock filter.
///
/// `K` is an opaque association handle chosen by the caller.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate<K> {
    /// The association handle.
    pub id: K,
    /// The source address (`None` for a reference clock). The system
    /// reference ID is derived from it when this candidate is the system
    /// peer.
    pub address: Option<IpAddr>,
    /// The reference-ID form of the local address used to talk to this
    /// source (IPv4 address or IPv6 hash), for loop detection. `None` skips
    /// that test.
    pub local_refid: Option<ReferenceId>,
    /// The source's stratum (0 for a reference clock).
    pub stratum: u8,
    /// The source's leap indicator.
    pub leap: LeapIndicator,
    /// The source's own reference ID (whom it is synchronised to).
    pub reference_id: ReferenceId,
    /// Clock offset theta of the source relative to this host.
    pub offset: NtpDuration,
    /// Round-trip delay delta to the source.
    pub delay: NtpDuration,
    /// Peer dispersion epsilon at `update_time`.
    pub dispersion: NtpDuration,
    /// A dispersion for the fitness test only, in place of `dispersion`
    /// (the start-up rule of an unsynchronised system: the clock filter's
    /// valid-stage dispersion during an iburst; see the crate
    /// documentation). `None`, the default, tests the peer dispersion as
    /// RFC 5905 does. The intersection, clustering, combining and the
    /// system variables always use `dispersion`.
    pub fit_dispersion: Option<NtpDuration>,
    /// Peer jitter psi.
    pub jitter: NtpDuration,
    /// The source's root delay.
    pub root_delay: NtpDuration,
    /// The source's root dispersion.
    pub root_dispersion: NtpDuration,
    /// The reachability register (0 means unreachable).
    pub reach: u8,
    /// The host poll exponent (log2 s) of the association, for the distance
    /// threshold `maxdist + PHI * 2^poll`.
    pub poll: i8,
    /// When `dispersion` was computed (ntpd's `peer->update`), on the
    /// node's monotonic clock: the dispersion grows at PHI from it.
    pub update_time: Uptime,
    /// When the sample in use was taken (RFC 5905 p.t, ntpd's
    /// `peer->epoch`): `clock_update()`'s freshness test (never an old
    /// sample or the same one twice) and the reference time.
    pub epoch: Uptime,
    /// The association's options.
    pub flags: CandidateFlags,
    /// How the caller wants it treated.
    pub role: Role,
}

impl<K> Candidate<K> {
    /// An unsynchronised, unreachable candidate with the given handle: every
    /// other field at its "nothing known" value, to be filled in with struct
    /// update syntax.
    pub fn new(id: K) -> Self {
        Self {
            id,
            address: None,
            local_refid: None,
            stratum: MAXSTRAT,
            leap: LeapIndicator::Unsynchronized,
            reference_id: ReferenceId::NONE,
            offset: NtpDuration::ZERO,
            delay: NtpDuration::ZERO,
            dispersion: NtpDuration::ZERO,
            fit_dispersion: None,
            jitter: NtpDuration::ZERO,
            root_delay: NtpDuration::ZERO,
            root_dispersion: NtpDuration::ZERO,
            reach: 0,
            poll: 6,
            update_time: Uptime::ZERO,
            epoch: Uptime::ZERO,
            flags: CandidateFlags::default(),
            role: Role::Source,
        }
    }

    /// The same candidate under another handle (a node keys associations
    /// and reference clocks in one space).
    pub fn map_id<L>(self, f: impl FnOnce(K) -> L) -> Candidate<L> {
        Candidate {
            id: f(self.id),
            address: self.address,
            local_refid: self.local_refid,
            stratum: self.stratum,
            leap: self.leap,
            reference_id: self.reference_id,
            offset: self.offset,
            delay: self.delay,
            dispersion: self.dispersion,
            fit_dispersion: self.fit_dispersion,
            jitter: self.jitter,
            root_delay: self.root_delay,
            root_dispersion: self.root_dispersion,
            reach: self.reach,
            poll: self.poll,
            update_time: self.update_time,
            epoch: self.epoch,
            flags: self.flags,
            role: self.role,
        }
    }

    /// The reference ID this host advertises when this candidate is its
    /// system peer: the reference clock's text at stratum 0 or for a
    /// reference clock, otherwise the source address (IPv4) or its MD5 hash
    /// (IPv6), falling back to the source's own reference ID when no address
    /// is known.
    pub fn system_reference_id(&self) -> ReferenceId {
        if self.stratum == 0 || self.flags.refclock {
            return self.reference_id;
        }
        match self.address {
            Some(address) => ReferenceId::from_ip(address),
            None => self.reference_id,
        }
    }
}
