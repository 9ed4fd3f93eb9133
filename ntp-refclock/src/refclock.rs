//! The generic refclock machinery shared by every driver: fudge, the median
//! filter, the reachability register, status and counters.
//!
//! The daemon feeds every [`DriverEvent`] into [`Refclock::handle_event`] and
//! calls [`Refclock::poll`] at each poll of the association. A poll shifts
//! the reachability register and, when samples arrived since the last poll,
//! reduces them with the median filter to one [`RefclockUpdate`], which is
//! what the peer process puts into the association's clock filter (offset,
//! delay 0, dispersion) like a packet's measurement.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use ntp_refclock::config::{DriverKind, RefclockOptions};
//! use ntp_refclock::driver::{DriverEvent, LeapIndicator, Sample, add_seconds};
//! use ntp_refclock::refclock::Refclock;
//!
//! let mut clock = Refclock::new(RefclockOptions::new(DriverKind::Nmea, 0));
//! let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
//! for k in 0..16 {
//!     let reference = add_seconds(t0, f64::from(k));
//!     clock.handle_event(&DriverEvent::Sample(Sample {
//!         reference_time: reference,
//!         receive_time: add_seconds(reference, 0.120), // the local clock is 120 ms ahead
//!         correction: 0.0,
//!         leap: LeapIndicator::NoWarning,
//!         source: "$GPRMC,...".into(),
//!     }));
//! }
//! let update = clock.poll(add_seconds(t0, 16.0)).unwrap();
//! assert!((update.offset.to_seconds_f64() + 0.120).abs() < 1e-9);
//! assert_eq!(clock.reach(), 1);
//! ```

use chrono::{DateTime, Utc};
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, NtpTimestamp};

use crate::config::RefclockOptions;
use crate::driver::{DriverEvent, LeapIndicator, Sample};
use crate::filter::MedianFilter;
use crate::status::{ClockEvent, ClockStatus};

/// What a poll hands to the peer process.
#[derive(Debug, Clone, PartialEq)]
pub struct RefclockUpdate {
    /// Offset of the reference clock relative to the local clock (fudge
    /// included): the measurement for the peer's clock filter.
    pub offset: NtpDuration,
    /// The median filter's jitter.
    pub jitter: NtpDuration,
    /// The sample dispersion for the peer's clock filter (jitter, at least
    /// `minjitter`). The round-trip delay of a refclock is 0.
    pub dispersion: NtpDuration,
    /// The reference time of the last sample (the peer's reference time).
    pub reference_time: NtpTimestamp,
    /// The local receive time of the last sample (the peer's `dst`).
    pub receive_time: NtpTimestamp,
    /// The leap indicator of the last sample.
    pub leap: LeapIndicator,
    /// The stratum the clock claims (fudge `stratum` or the driver's default).
    pub stratum: u8,
    /// The reference ID (fudge `refid` or the driver's default).
    pub refid: ReferenceId,
    /// The precision of the samples, log2 seconds.
    pub precision: i8,
    /// Samples the filter used.
    pub samples_used: usize,
    /// Samples the filter was offered.
    pub samples_total: usize,
}

/// Counters in the spirit of `ntpq clockvar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RefclockCounters {
    /// Polls.
    pub polls: u64,
    /// Polls without any sample since the previous poll.
    pub noreply: u64,
    /// Input rejected as badly formatted.
    pub badformat: u64,
    /// Input rejected for its date, time or signal.
    pub baddata: u64,
    /// Samples accepted into the filter.
    pub samples: u64,
    /// Input filtered out (not selected, same second); not an error.
    pub filtered: u64,
}

/// The per-clock state of the generic refclock machinery.
#[derive(Debug, Clone)]
pub struct Refclock {
    options: RefclockOptions,
    precision: i8,
    filter: MedianFilter,
    reach: u8,
    status: ClockStatus,
    counters: RefclockCounters,
    last_sample: Option<Sample>,
    last_timecode: String,
    pending_alarm: bool,
}

impl Refclock {
    /// The machinery for a configured clock.
    pub fn new(options: RefclockOptions) -> Self {
        Self {
            precision: options.kind.default_precision(),
            options,
            filter: MedianFilter::new(),
            reach: 0,
            status: ClockStatus::default(),
            counters: RefclockCounters::default(),
            last_sample: None,
            last_timecode: String::new(),
            pending_alarm: false,
        }
    }

    /// The options.
    pub fn options(&self) -> &RefclockOptions {
        &self.options
    }

    /// Override the precision (drivers such as SHM learn it from the source).
    pub fn set_precision(&mut self, precision: i8) {
        self.precision = precision;
    }

    /// Take one driver event: a sample goes into the median filter, a
    /// rejection is reported as a clock event.
    pub fn handle_event(&mut self, event: &DriverEvent) {
        match event {
            DriverEvent::Sample(sample) => {
                self.filter.push(sample.offset());
                self.counters.samples += 1;
                self.last_timecode.clone_from(&sample.source);
                self.last_sample = Some(sample.clone());
            }
            DriverEvent::Rejected(rejection) => {
                if !rejection.input.is_empty() {
                    self.last_timecode.clone_from(&rejection.input);
                }
                match rejection.reason.clock_event() {
                    Some(event) => self.report(event),
                    None => self.counters.filtered += 1,
                }
            }
        }
    }

    /// Report a clock event (as the reference implementation's
    /// `refclock_report`): counts it and updates the status.
    pub fn report(&mut self, event: ClockEvent) {
        match event {
            ClockEvent::NoReply => self.counters.noreply += 1,
            ClockEvent::BadFormat => self.counters.badformat += 1,
            ClockEvent::BadDate | ClockEvent::BadTime | ClockEvent::BadSignal => {
                self.counters.baddata += 1;
            }
            ClockEvent::Nominal | ClockEvent::Fault => {}
        }
        if self.status.report(event) {
            self.pending_alarm = true;
        }
    }

    /// Whether the status changed since the last call (the daemon reports a
    /// `clock_alarm` peer event when it did); clears the indication.
    pub fn take_alarm(&mut self) -> bool {
        std::mem::take(&mut self.pending_alarm)
    }

    /// Poll the clock: shift the reachability register and reduce the
    /// samples gathered since the last poll. `None` when there were none
    /// (reported as `clk_noreply`) or the last sample says the source is
    /// not synchronised.
    pub fn poll(&mut self, _now: DateTime<Utc>) -> Option<RefclockUpdate> {
        self.counters.polls += 1;
        self.reach <<= 1;
        let Some(output) = self.filter.process(self.options.fudge.minjitter) else {
            self.report(ClockEvent::NoReply);
            return None;
        };
        let last = self.last_sample.clone()?;
        if last.leap == LeapIndicator::Unsynchronized {
            return None;
        }
        self.reach |= 1;
        if self.status.current() != ClockEvent::Nominal {
            self.report(ClockEvent::Nominal);
        }
        Some(RefclockUpdate {
            offset: NtpDuration::from_seconds_f64(output.offset),
            jitter: NtpDuration::from_seconds_f64(output.jitter),
            dispersion: NtpDuration::from_seconds_f64(output.dispersion),
            reference_time: last.reference_timestamp(),
            receive_time: last.receive_timestamp(),
            leap: last.leap,
            stratum: self.options.stratum(),
            refid: self.options.refid(),
            precision: self.precision,
            samples_used: output.used,
            samples_total: output.total,
        })
    }

    /// The 8-bit reachability register (bit 0: the last poll had samples).
    pub fn reach(&self) -> u8 {
        self.reach
    }

    /// The status.
    pub fn status(&self) -> &ClockStatus {
        &self.status
    }

    /// Reset the status event count (as `ntpq clockvar` does).
    pub fn reset_status_count(&mut self) {
        self.status.reset_count();
    }

    /// The counters.
    pub fn counters(&self) -> RefclockCounters {
        self.counters
    }

    /// The last sample taken.
    pub fn last_sample(&self) -> Option<&Sample> {
        self.last_sample.as_ref()
    }

    /// The last timecode (NMEA sentence) accepted or rejected, for
    /// `clockvar` and clockstats.
    pub fn last_timecode(&self) -> &str {
        &self.last_timecode
    }

    /// Samples waiting for the next poll.
    pub fn pending_samples(&self) -> usize {
        self.filter.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DriverKind;
    use crate::driver::{RejectReason, Rejection, add_seconds};
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
    }

    fn sample(k: f64, offset: f64) -> DriverEvent {
        let reference = add_seconds(t0(), k);
        DriverEvent::Sample(Sample {
            reference_time: reference,
            receive_time: add_seconds(reference, -offset),
            correction: 0.0,
            leap: LeapIndicator::NoWarning,
            source: format!("s{k}"),
        })
    }

    fn reject(reason: RejectReason) -> DriverEvent {
        DriverEvent::Rejected(Rejection {
            receive_time: t0(),
            reason,
            input: "$GPGGA,bad".into(),
        })
    }

    #[test]
    fn reach_and_status_follow_polls() {
        let mut options = RefclockOptions::new(DriverKind::Nmea, 0);
        options.fudge.set("stratum", "1").unwrap();
        let mut clock = Refclock::new(options);
        assert!(clock.poll(t0()).is_none());
        assert_eq!(clock.reach(), 0);
        assert_eq!(clock.status().current(), ClockEvent::NoReply);
        assert!(clock.take_alarm());
        assert!(!clock.take_alarm());

        for k in 0..4 {
            clock.handle_event(&sample(f64::from(k), 0.01));
        }
        clock.handle_event(&reject(RejectReason::BadChecksum {
            computed: 1,
            received: 2,
        }));
        clock.handle_event(&reject(RejectReason::SameSecond));
        assert_eq!(clock.pending_samples(), 4);
        assert_eq!(clock.last_timecode(), "$GPGGA,bad");
        let update = clock.poll(t0()).unwrap();
        assert!((update.offset.to_seconds_f64() - 0.01).abs() < 1e-9);
        assert_eq!(update.stratum, 1);
        assert_eq!(update.refid, ReferenceId::from_ascii("GPS"));
        assert_eq!(update.precision, -9);
        assert_eq!(clock.reach(), 1);
        assert_eq!(clock.status().current(), ClockEvent::Nominal);
        assert_eq!(clock.status().last_event(), ClockEvent::BadFormat);
        let c = clock.counters();
        assert_eq!(
            (c.polls, c.noreply, c.badformat, c.samples, c.filtered),
            (2, 1, 1, 4, 1)
        );

        for _ in 0..8 {
            clock.handle_event(&sample(0.0, 0.0));
            clock.poll(t0());
        }
        assert_eq!(clock.reach(), 0xff);
        clock.poll(t0());
        assert_eq!(clock.reach(), 0xfe);
    }

    #[test]
    fn not_in_sync_gives_no_update() {
        let mut clock = Refclock::new(RefclockOptions::new(DriverKind::Shm, 0));
        let mut event = sample(0.0, 0.0);
        if let DriverEvent::Sample(s) = &mut event {
            s.leap = LeapIndicator::Unsynchronized;
        }
        clock.handle_event(&event);
        assert!(clock.poll(t0()).is_none());
        assert_eq!(clock.reach(), 0);
    }

    #[test]
    fn fudge_time1_moves_offset() {
        let mut options = RefclockOptions::new(DriverKind::Pps, 0);
        options.fudge.set("time1", "0.5").unwrap();
        let mut clock = Refclock::new(options);
        // The driver applies the correction into the sample.
        let mut event = sample(0.0, 0.1);
        if let DriverEvent::Sample(s) = &mut event {
            s.correction = clock.options().fudge.time1;
        }
        clock.handle_event(&event);
        let update = clock.poll(t0()).unwrap();
        assert!((update.offset.to_seconds_f64() - 0.6).abs() < 1e-9);
    }
}
