//! One association: its configuration, the peer variables (RFC 5905
//! figures 17 and 18), its poll process and clock filter, and the
//! candidate summary it hands the system process.

use ntp_poll::{ManycastRing, Poller, Uptime};
use ntp_wire::packet::LeapIndicator;
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, NtpTimestamp};

use super::config::{AssocConfig, AssocId};
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

/// The candidate an association hands the system process: the workspace's
/// one candidate type, keyed by [`AssocId`].
pub type Candidate = ntp_wire::candidate::Candidate<AssocId>;

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

    /// The candidate summary as of `now`: the peer variables with the
    /// dispersion as the clock filter last computed it (`update_time`, the
    /// system process grows it to its own time), the time of the sample in
    /// use (`epoch`), and, while the association is in its iburst, the
    /// start-up fitness dispersion (see the crate documentation).
    pub fn candidate(&self, now: Uptime) -> Candidate {
        let updated = self.filter.updated().min(now);
        Candidate {
            address: Some(self.config.address.ip()),
            stratum: self.stratum,
            leap: self.leap,
            reference_id: self.refid,
            offset: self.filter.offset(),
            delay: self.filter.delay(),
            dispersion: self.filter.dispersion_at(updated),
            fit_dispersion: if self.poller.in_iburst() && !self.in_volley() {
                self.filter.startup_dispersion_at(updated)
            } else {
                None
            },
            jitter: self.filter.jitter(),
            root_delay: self.root_delay,
            root_dispersion: self.root_dispersion,
            reach: self.poller.reach(),
            poll: self.poller.hpoll(),
            update_time: updated,
            epoch: self.filter.epoch().unwrap_or(Uptime::ZERO),
            flags: ntp_wire::candidate::CandidateFlags {
                prefer: self.config.prefer,
                noselect: self.config.noselect,
                truechimer: self.config.true_chimer,
                pps: false,
                refclock: false,
            },
            ..Candidate::new(self.id)
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
