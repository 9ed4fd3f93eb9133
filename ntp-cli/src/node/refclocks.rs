//! The node's reference clocks: each one's filter (`ntp-refclock`), its poll
//! process (`ntp-poll`, role [`PollRole::Refclock`]) and its last update, as
//! a candidate of the system process. The devices stay with the caller.

use ntp_poll::{PollConfig, PollRole, Poller, Uptime};
use ntp_refclock::{DriverKind, Refclock, RefclockUpdate};
use ntp_select::{Candidate, CandidateFlags, Role};
use ntp_wire::poll::PollExponent;
use ntp_wire::time::NtpDuration;

use super::Source;

/// The selection rank of the local clock driver as a fallback: after a modem
/// driver (0), before the orphan parent ([`ntp_orphan::ORPHAN_FALLBACK_RANK`]).
pub const LOCAL_CLOCK_FALLBACK_RANK: u8 = 1;

/// One reference clock of the node.
pub struct RefclockSlot {
    /// The filter side of the driver.
    pub refclock: Refclock,
    /// When to poll it.
    pub poller: Poller,
    /// The last update the filter produced.
    pub last: Option<RefclockUpdate>,
    /// When it produced it.
    pub last_update: Option<Uptime>,
}

impl RefclockSlot {
    /// A slot for `refclock`, its first poll scheduled from `now`.
    pub fn new(refclock: Refclock, now: Uptime, seed: u64) -> Self {
        let options = refclock.options();
        let minpoll = PollExponent::clamped_i32(i32::from(options.minpoll));
        let maxpoll = PollExponent::clamped_i32(i32::from(options.maxpoll)).max(minpoll);
        let config = PollConfig {
            minpoll: minpoll.get(),
            maxpoll: maxpoll.get(),
            burst: false,
            iburst: false,
            role: PollRole::Refclock,
        };
        Self {
            poller: Poller::new(config, now, seed),
            refclock,
            last: None,
            last_update: None,
        }
    }

    /// Polls the filter if its poll is due at `now`; `true` when that
    /// produced a new update.
    pub fn handle_timeout(&mut self, now: Uptime, utc: chrono::DateTime<chrono::Utc>) -> bool {
        if self.poller.poll_timeout() > now || !self.poller.handle_timeout(now).send {
            return false;
        }
        let Some(update) = self.refclock.poll(utc) else {
            return false;
        };
        self.poller.handle_reply(now, None);
        self.last = Some(update);
        self.last_update = Some(now);
        true
    }

    /// The poll exponent in force.
    pub fn poll(&self) -> PollExponent {
        PollExponent::clamped(self.poller.hpoll())
    }

    /// The last update as a candidate of the system process.
    pub fn candidate(&self, index: usize) -> Option<Candidate<Source>> {
        let update = self.last.as_ref()?;
        let taken = self.last_update?;
        let options = self.refclock.options();
        Some(Candidate {
            id: Source::Refclock(index),
            address: None,
            stratum: update.stratum,
            leap: update.leap,
            reference_id: update.refid,
            offset: update.offset,
            delay: NtpDuration::ZERO,
            // Grown at PHI from the update by the system process.
            dispersion: update.dispersion,
            jitter: update.jitter,
            root_delay: NtpDuration::ZERO,
            root_dispersion: NtpDuration::ZERO,
            reach: self.refclock.reach(),
            poll: self.poll().get(),
            update_time: taken,
            epoch: taken,
            flags: CandidateFlags {
                prefer: options.prefer,
                noselect: options.noselect,
                truechimer: false,
                pps: options.kind == DriverKind::Pps,
                refclock: true,
            },
            // ntpd's rule: the local clock (type 1) is used only when no
            // other source survives the intersection, before an orphan
            // parent; it never outvotes or joins real sources.
            role: if options.kind == DriverKind::Local {
                Role::Fallback {
                    rank: LOCAL_CLOCK_FALLBACK_RANK,
                }
            } else {
                Role::Source
            },
            ..Candidate::new(Source::Refclock(index))
        })
    }
}
