//! The driver interface: what every driver produces and how a poll(2) loop
//! drives it.
//!
//! A driver turns device input into [`DriverEvent`]s: a [`Sample`] (a
//! reference time and the local time it was received) or a [`Rejection`]
//! (input that did not make a sample, with the reason). Drivers never read
//! the clock, sleep or start threads: the caller passes `now` (read right
//! after `poll(2)` returned) and the driver reads what is available.
//!
//! - a driver with a descriptor ([`Driver::raw_fd`]) is serviced when the
//!   descriptor is readable (NMEA);
//! - a driver with a [`Driver::service_interval`] is serviced at least that
//!   often, whether or not it has a descriptor (SHM, PPS, local).

use core::fmt;
use std::os::fd::RawFd;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use ntp_wire::packet::LeapIndicator;
use ntp_wire::time::{NtpDuration, NtpTimestamp};

use crate::RefclockError;
use crate::config::ClockAddress;
use crate::status::ClockEvent;

/// Seconds from `earlier` to `later` (negative if `later` is earlier).
pub fn seconds_between(later: DateTime<Utc>, earlier: DateTime<Utc>) -> f64 {
    let delta = later.signed_duration_since(earlier);
    match delta.num_nanoseconds() {
        Some(nanos) => nanos as f64 * 1e-9,
        None => delta.num_milliseconds() as f64 * 1e-3,
    }
}

/// A date-time moved by a number of seconds (saturating at chrono's range).
pub fn add_seconds(time: DateTime<Utc>, seconds: f64) -> DateTime<Utc> {
    let nanos = (seconds * 1e9).round();
    let delta = if nanos.abs() < 9.0e18 {
        chrono::TimeDelta::nanoseconds(nanos as i64)
    } else {
        chrono::TimeDelta::zero()
    };
    time.checked_add_signed(delta).unwrap_or(time)
}

/// One measurement of a reference clock: the clock's time and the local
/// time at the same instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The reference clock's time (UTC).
    pub reference_time: DateTime<Utc>,
    /// The local clock's time at which the reference time was valid (for
    /// NMEA: the arrival of the sentence start; for PPS: the pulse's kernel
    /// timestamp; for SHM: the writer's receive timestamp).
    pub receive_time: DateTime<Utc>,
    /// The fudge correction the driver applies, in seconds (NMEA: `time2`;
    /// others: `time1`); it is added to the raw offset.
    pub correction: f64,
    /// The leap indicator of the reference.
    pub leap: LeapIndicator,
    /// What the sample came from: the NMEA sentence, `pps assert`, `shm`, `local`.
    pub source: String,
}

impl Sample {
    /// The offset of the reference clock relative to the local clock
    /// (reference - receive + correction), positive when the local clock is
    /// behind; it is what the clock discipline must add.
    pub fn offset(&self) -> f64 {
        seconds_between(self.reference_time, self.receive_time) + self.correction
    }

    /// The offset as an NTP duration.
    pub fn offset_duration(&self) -> NtpDuration {
        NtpDuration::from_seconds_f64(self.offset())
    }

    /// The reference time as an NTP timestamp.
    pub fn reference_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp::from_datetime(self.reference_time)
    }

    /// The receive time as an NTP timestamp.
    pub fn receive_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp::from_datetime(self.receive_time)
    }
}

/// Why input did not make a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// The NMEA checksum does not match.
    BadChecksum {
        /// The checksum computed over the sentence.
        computed: u8,
        /// The checksum the sentence carries.
        received: u8,
    },
    /// The NMEA sentence carries no checksum and checksum-less input is not accepted.
    MissingChecksum,
    /// The input could not be parsed (the text says what was wrong).
    Unparseable(String),
    /// The receiver reports no valid fix (status `V`, GGA quality 0, ...).
    VoidFix,
    /// A ZDA sentence arrived before the receiver said whether it has a fix.
    FixUnknown,
    /// A time-only sentence (GGA, GLL) arrived before any date (RMC, ZDA).
    NoDate,
    /// The date or time is not a valid calendar date or time of day.
    BadDate,
    /// The `mode` bits do not select this sentence.
    NotSelected,
    /// A sample for this second was already taken (the first sentence of a
    /// cycle wins).
    SameSecond,
    /// The SHM record's receive timestamp is too old (or in the future).
    Stale,
    /// The reference time differs from the local time by more than allowed.
    OutOfRange,
    /// The SHM writer changed the record while it was read (mode 1).
    Clash,
    /// The SHM segment's mode field is neither 0 nor 1.
    BadMode(i32),
    /// The source says it is not synchronised (leap indicator 3).
    NotInSync,
    /// The PPS timestamp is not plausible (flagged invalid, or far from now).
    BadPulse,
}

impl RejectReason {
    /// The clock event the reason reports, or `None` for input that was
    /// merely filtered (not selected, same second).
    pub fn clock_event(&self) -> Option<ClockEvent> {
        match self {
            RejectReason::BadChecksum { .. }
            | RejectReason::MissingChecksum
            | RejectReason::Unparseable(_)
            | RejectReason::BadMode(_)
            | RejectReason::Clash => Some(ClockEvent::BadFormat),
            RejectReason::VoidFix | RejectReason::FixUnknown | RejectReason::NotInSync => {
                Some(ClockEvent::BadSignal)
            }
            RejectReason::NoDate | RejectReason::BadDate => Some(ClockEvent::BadDate),
            RejectReason::Stale | RejectReason::OutOfRange | RejectReason::BadPulse => {
                Some(ClockEvent::BadTime)
            }
            RejectReason::NotSelected | RejectReason::SameSecond => None,
        }
    }

    /// A short machine-friendly name (`bad_checksum`, `void_fix`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            RejectReason::BadChecksum { .. } => "bad_checksum",
            RejectReason::MissingChecksum => "missing_checksum",
            RejectReason::Unparseable(_) => "unparseable",
            RejectReason::VoidFix => "void_fix",
            RejectReason::FixUnknown => "fix_unknown",
            RejectReason::NoDate => "no_date",
            RejectReason::BadDate => "bad_date",
            RejectReason::NotSelected => "not_selected",
            RejectReason::SameSecond => "same_second",
            RejectReason::Stale => "stale",
            RejectReason::OutOfRange => "out_of_range",
            RejectReason::Clash => "clash",
            RejectReason::BadMode(_) => "bad_mode",
            RejectReason::NotInSync => "not_in_sync",
            RejectReason::BadPulse => "bad_pulse",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::BadChecksum { computed, received } => write!(
                f,
                "bad checksum (computed {computed:02X}, received {received:02X})"
            ),
            RejectReason::MissingChecksum => f.write_str("missing checksum"),
            RejectReason::Unparseable(why) => write!(f, "unparseable: {why}"),
            RejectReason::VoidFix => f.write_str("void fix"),
            RejectReason::FixUnknown => f.write_str("fix status not yet known"),
            RejectReason::NoDate => f.write_str("no date yet"),
            RejectReason::BadDate => f.write_str("bad date or time"),
            RejectReason::NotSelected => f.write_str("not selected by mode"),
            RejectReason::SameSecond => f.write_str("second already sampled"),
            RejectReason::Stale => f.write_str("stale"),
            RejectReason::OutOfRange => f.write_str("offset out of range"),
            RejectReason::Clash => f.write_str("record changed while reading"),
            RejectReason::BadMode(mode) => write!(f, "bad mode {mode}"),
            RejectReason::NotInSync => f.write_str("source not in sync"),
            RejectReason::BadPulse => f.write_str("implausible pulse"),
        }
    }
}

/// Input that did not make a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The local time the input arrived (or was read).
    pub receive_time: DateTime<Utc>,
    /// Why it was rejected.
    pub reason: RejectReason,
    /// The input itself, as text (the NMEA sentence; empty for other drivers).
    pub input: String,
}

/// What a driver produces from its input.
#[derive(Debug, Clone, PartialEq)]
pub enum DriverEvent {
    /// A measurement.
    Sample(Sample),
    /// Input that did not make a measurement.
    Rejected(Rejection),
}

/// A reference clock driver, serviced from a single-threaded poll(2) loop.
pub trait Driver {
    /// The driver and unit.
    fn address(&self) -> ClockAddress;

    /// The descriptor to watch for `POLLIN`, if the driver has one.
    fn raw_fd(&self) -> Option<RawFd>;

    /// How often [`Driver::service`] must be called even when no descriptor
    /// is readable (`None`: only on readiness).
    fn service_interval(&self) -> Option<Duration>;

    /// Read whatever input is available, without blocking, and turn it into
    /// events. `now` is the local time, read right after poll(2) returned.
    fn service(&mut self, now: DateTime<Utc>) -> Result<Vec<DriverEvent>, RefclockError>;

    /// The precision of the samples, log2 seconds.
    fn precision(&self) -> i8 {
        self.address().kind.default_precision()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_sign_and_correction() {
        let reference = DateTime::parse_from_rfc3339("2010-07-08T00:59:47Z")
            .unwrap()
            .to_utc();
        let receive = add_seconds(reference, 0.25);
        let sample = Sample {
            reference_time: reference,
            receive_time: receive,
            correction: 0.1,
            leap: LeapIndicator::NoWarning,
            source: String::new(),
        };
        assert!((sample.offset() - (-0.15)).abs() < 1e-9);
        assert!((sample.offset_duration().to_seconds_f64() + 0.15).abs() < 1e-9);
        assert_eq!(
            sample.receive_timestamp() - sample.reference_timestamp(),
            NtpDuration::from_seconds_f64(0.25)
        );
        assert_eq!(seconds_between(receive, reference), 0.25);
        assert_eq!(add_seconds(receive, -0.25), reference);
    }

    #[test]
    fn reasons_map_to_events() {
        assert_eq!(
            RejectReason::MissingChecksum.clock_event(),
            Some(ClockEvent::BadFormat)
        );
        assert_eq!(RejectReason::SameSecond.clock_event(), None);
        assert_eq!(RejectReason::VoidFix.to_string(), "void fix");
        assert_eq!(
            RejectReason::BadChecksum {
                computed: 0x56,
                received: 0x54
            }
            .to_string(),
            "bad checksum (computed 56, received 54)"
        );
    }
}
