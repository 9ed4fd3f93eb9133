//! One association: its configuration, the peer variables (RFC 5905
//! figures 17 and 18), its poll process and clock filter, and the
//! candidate summary it hands the system process.

use std::net::SocketAddr;

use ntp_poll::{ManycastRing, Poller, Uptime};
use ntp_wire::packet::LeapIndicator;
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, NtpTimestamp};

use super::config::{AssocConfig, AssocId, Kind};
use crate::dispatch::AssocMode;
use crate::filter::ClockFilter;
use crate::onwire::{MAXSTRAT, Rejection};

/// The broadcast client's calibration state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Volley {
    /// Exchanging client/server packets to measure the delay.
    Running,
    /// Listen-only, with this round-trip delay.
    Done(NtpDuration),
}

/// The candidate summary the system process needs (plain fields, so the
/// daemon can map them onto `ntp-select`'s own type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The association.
    pub id: AssocId,
    /// The remote address.
    pub address: SocketAddr,
    /// Peer offset theta.
    pub offset: NtpDuration,
    /// Peer delay delta.
    pub delay: NtpDuration,
    /// Peer dispersion epsilon, grown to now.
    pub dispersion: NtpDuration,
    /// Peer jitter psi.
    pub jitter: NtpDuration,
    /// The server's root delay.
    pub root_delay: NtpDuration,
    /// The server's root dispersion.
    pub root_dispersion: NtpDuration,
    /// The server's stratum (0 read as 16).
    pub stratum: u8,
    /// The server's leap indicator.
    pub leap: LeapIndicator,
    /// The reach register.
    pub reach: u8,
    /// The server's reference ID (for loop detection).
    pub refid: ReferenceId,
    /// The host poll exponent.
    pub poll: i8,
    /// `prefer`.
    pub prefer: bool,
    /// `noselect`.
    pub noselect: bool,
    /// `true`.
    pub true_chimer: bool,
    /// Preemptable or ephemeral (may be pruned).
    pub kind: Kind,
    /// The association is in a burst (a synchronised system waits for its
    /// end before selecting).
    pub in_burst: bool,
    /// The start-up fitness dispersion: the filter's valid-stage
    /// dispersion grown to now, while the association is in its iburst and
    /// its filter holds at least [`crate::filter::STARTUP_MIN_SAMPLES`]
    /// samples; `None` otherwise. The system process may use it, instead of
    /// `dispersion`, in the fitness test while it is unsynchronised (see the
    /// crate documentation, "Start-up fitness").
    pub startup_dispersion: Option<NtpDuration>,
}

/// One association: configuration, peer variables, poll process and
/// clock filter.
#[derive(Clone, Debug)]
pub struct Association {
    pub(super) id: AssocId,
    pub(super) config: AssocConfig,
    pub(super) mode: AssocMode,
    pub(super) poller: Poller,
    pub(super) filter: ClockFilter,
    /// The manycast expanding ring (manycast client templates only).
    pub(super) ring: Option<ManycastRing>,
    /// The manycast template this association came from.
    pub(super) template: Option<AssocId>,
    // Peer variables (RFC 5905 figure 17/18).
    pub(super) leap: LeapIndicator,
    pub(super) stratum: u8,
    pub(super) ppoll: i8,
    pub(super) root_delay: NtpDuration,
    pub(super) root_dispersion: NtpDuration,
    pub(super) refid: ReferenceId,
    pub(super) reftime: NtpTimestamp,
    /// org: the peer's last transmit timestamp (T3 of the last packet).
    pub(super) org: NtpTimestamp,
    /// rec: when the peer's last packet arrived (T4).
    pub(super) rec: NtpTimestamp,
    /// xmt: our last transmit timestamp (zeroed after a valid client reply).
    pub(super) xmt: NtpTimestamp,
    /// Key identifier received (symmetric passive uses the peer's).
    pub(super) volley: Option<Volley>,
    pub(super) sent: u64,
    pub(super) received: u64,
    pub(super) last_rejection: Option<Rejection>,
    pub(super) denied: bool,
}

impl Association {
    /// A new association, its peer variables cleared.
    pub(super) fn new(
        id: AssocId,
        config: AssocConfig,
        poller: Poller,
        filter: ClockFilter,
        ring: Option<ManycastRing>,
        template: Option<AssocId>,
    ) -> Self {
        let mut assoc = Self {
            id,
            config,
            mode: config.mode,
            poller,
            filter,
            ring,
            template,
            leap: LeapIndicator::Unsynchronized,
            stratum: MAXSTRAT,
            ppoll: ntp_poll::MAXPOLL_LIMIT,
            root_delay: NtpDuration::ZERO,
            root_dispersion: NtpDuration::ZERO,
            refid: ReferenceId::INIT,
            reftime: NtpTimestamp::ZERO,
            org: NtpTimestamp::ZERO,
            rec: NtpTimestamp::ZERO,
            xmt: NtpTimestamp::ZERO,
            volley: None,
            sent: 0,
            received: 0,
            last_rejection: None,
            denied: false,
        };
        assoc.clear_peer_variables();
        assoc
    }

    /// The identifier.
    pub fn id(&self) -> AssocId {
        self.id
    }

    /// The configuration.
    pub fn config(&self) -> &AssocConfig {
        &self.config
    }

    /// The current mode.
    pub fn mode(&self) -> AssocMode {
        self.mode
    }

    /// The poll process.
    pub fn poller(&self) -> &Poller {
        &self.poller
    }

    /// The clock filter.
    pub fn filter(&self) -> &ClockFilter {
        &self.filter
    }

    /// The broadcast client's calibration state.
    pub fn volley(&self) -> Option<Volley> {
        self.volley
    }

    /// The reason the last packet was refused (`ntpctl peers`' flash).
    pub fn last_rejection(&self) -> Option<Rejection> {
        self.last_rejection
    }

    /// Packets sent and valid packets received.
    pub fn counters(&self) -> (u64, u64) {
        (self.sent, self.received)
    }

    /// The peer's last transmit timestamp (org).
    pub fn org(&self) -> NtpTimestamp {
        self.org
    }

    /// Our last transmit timestamp (xmt); zero after a valid client reply.
    pub fn xmt(&self) -> NtpTimestamp {
        self.xmt
    }

    /// Whether sending stopped because of a DENY/RSTR kiss.
    pub fn is_denied(&self) -> bool {
        self.denied
    }

    /// The candidate summary as of `now`.
    pub fn candidate(&self, now: Uptime) -> Candidate {
        Candidate {
            id: self.id,
            address: self.config.address,
            offset: self.filter.offset(),
            delay: self.filter.delay(),
            dispersion: self.filter.dispersion_at(now),
            jitter: self.filter.jitter(),
            root_delay: self.root_delay,
            root_dispersion: self.root_dispersion,
            stratum: self.stratum,
            leap: self.leap,
            reach: self.poller.reach(),
            refid: self.refid,
            poll: self.poller.hpoll(),
            prefer: self.config.prefer,
            noselect: self.config.noselect,
            true_chimer: self.config.true_chimer,
            kind: self.config.kind,
            in_burst: self.poller.in_burst(),
            startup_dispersion: if self.poller.in_iburst() && !self.in_volley() {
                self.filter.startup_dispersion_at(now)
            } else {
                None
            },
        }
    }

    /// Whether this is a broadcast client still calibrating its delay.
    pub(super) fn in_volley(&self) -> bool {
        self.volley == Some(Volley::Running)
    }

    pub(super) fn clear_peer_variables(&mut self) {
        self.leap = LeapIndicator::Unsynchronized;
        self.stratum = MAXSTRAT;
        self.ppoll = ntp_poll::MAXPOLL_LIMIT;
        self.root_delay = NtpDuration::ZERO;
        self.root_dispersion = NtpDuration::ZERO;
        self.refid = ReferenceId::INIT;
        self.reftime = NtpTimestamp::ZERO;
        self.org = NtpTimestamp::ZERO;
        self.rec = NtpTimestamp::ZERO;
        self.xmt = NtpTimestamp::ZERO;
    }
}
