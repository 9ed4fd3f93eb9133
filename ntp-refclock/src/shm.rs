//! The shared memory driver (the reference implementation's type 28), as
//! written to by gpsd.
//!
//! The segment of unit `u` has the System V key `0x4E545030 + u`; units 0
//! and 1 are created owner-only (0600), higher units world-writable (0666)
//! unless mode bit 0 asks for a private one. gpsd runs as root and writes
//! units 0 and 1, so reading those needs root as well.
//!
//! Each service (once a second) reads a record if the writer marked it
//! valid, with the mode 0 or mode 1 protocol the writer chose, and checks
//! it: the receive timestamp must be at most 5 s old, and the reference
//! time within `time2` seconds (default 4 h; `flag1` disables the check) of
//! the receive time.

use std::os::fd::RawFd;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::RefclockError;
use crate::config::{ClockAddress, RefclockOptions};
use crate::device::shm::{SHM_KEY_BASE, ShmRead, ShmRecord, ShmSegment};
use crate::driver::{Driver, DriverEvent, LeapIndicator, RejectReason, Rejection, Sample};

/// The largest age, seconds, of a record's receive timestamp.
pub const MAX_AGE: i64 = 5;
/// The default largest difference between reference and receive time, seconds.
pub const DEFAULT_MAX_DELTA: f64 = 4.0 * 3600.0;

/// The System V key of a unit's segment.
pub fn key_for_unit(unit: u8) -> i32 {
    SHM_KEY_BASE + i32::from(unit)
}

/// The permissions a unit's segment is created with.
pub fn permissions(unit: u8, mode: u32) -> u32 {
    if unit < 2 || mode & 1 != 0 {
        0o600
    } else {
        0o666
    }
}

/// SHM counters, as the driver's clockstats line has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShmCounters {
    /// Services (second ticks).
    pub ticks: u64,
    /// Good samples.
    pub good: u64,
    /// Ticks without a new record.
    pub notready: u64,
    /// Records rejected.
    pub bad: u64,
    /// Mode 1 records changed while being read.
    pub clash: u64,
}

/// The SHM driver.
#[derive(Debug)]
pub struct ShmDriver {
    segment: ShmSegment,
    address: ClockAddress,
    time1: f64,
    max_delta: Option<f64>,
    precision: i8,
    counters: ShmCounters,
}

impl ShmDriver {
    /// Attach (creating if needed) the segment of the configured unit.
    pub fn open(options: &RefclockOptions) -> Result<Self, RefclockError> {
        let key = key_for_unit(options.unit);
        let segment = ShmSegment::attach(key, true, permissions(options.unit, options.mode))?;
        log::info!("{}: SHM segment key {key:#010x}", options.address());
        Ok(Self::with_segment(segment, options))
    }

    /// The driver over an already attached segment (tests use a private one).
    pub fn with_segment(segment: ShmSegment, options: &RefclockOptions) -> Self {
        let time2 = options.fudge.time2;
        let max_delta = if options.fudge.flag1() {
            None
        } else if (1.0..=86400.0).contains(&time2) {
            Some(time2)
        } else {
            Some(DEFAULT_MAX_DELTA)
        };
        Self {
            segment,
            address: options.address(),
            time1: options.fudge.time1,
            max_delta,
            precision: options.kind.default_precision(),
            counters: ShmCounters::default(),
        }
    }

    /// The segment.
    pub fn segment(&self) -> &ShmSegment {
        &self.segment
    }

    /// The counters.
    pub fn counters(&self) -> ShmCounters {
        self.counters
    }

    fn reject(
        &mut self,
        now: DateTime<Utc>,
        reason: RejectReason,
        input: String,
    ) -> Vec<DriverEvent> {
        self.counters.bad += 1;
        vec![DriverEvent::Rejected(Rejection {
            receive_time: now,
            reason,
            input,
        })]
    }

    /// Read a new record, if any, and check it against `now`.
    pub fn process(&mut self, now: DateTime<Utc>) -> Vec<DriverEvent> {
        self.counters.ticks += 1;
        let record = match self.segment.read() {
            ShmRead::NotReady => {
                self.counters.notready += 1;
                return Vec::new();
            }
            ShmRead::Clash => {
                self.counters.clash += 1;
                return self.reject(now, RejectReason::Clash, String::new());
            }
            ShmRead::BadMode(mode) => {
                return self.reject(now, RejectReason::BadMode(mode), String::new());
            }
            ShmRead::Record(record) => record,
        };
        let text = describe(&record);
        let (Some(reference_time), Some(receive_time)) = (
            DateTime::from_timestamp(record.clock_sec, record.clock_nsec),
            DateTime::from_timestamp(record.receive_sec, record.receive_nsec),
        ) else {
            return self.reject(now, RejectReason::BadDate, text);
        };
        let age = now.timestamp() - record.receive_sec;
        if !(0..=MAX_AGE).contains(&age) {
            return self.reject(now, RejectReason::Stale, text);
        }
        if let Some(max_delta) = self.max_delta {
            let delta = (record.receive_sec - record.clock_sec).unsigned_abs() as f64;
            if delta > max_delta {
                return self.reject(now, RejectReason::OutOfRange, text);
            }
        }
        let leap = LeapIndicator::from_bits(u8::try_from(record.leap & 3).unwrap_or(3));
        if leap == LeapIndicator::Unsynchronized {
            return self.reject(now, RejectReason::NotInSync, text);
        }
        if let Ok(precision) = i8::try_from(record.precision)
            && precision < 0
        {
            self.precision = precision;
        }
        self.counters.good += 1;
        vec![DriverEvent::Sample(Sample {
            reference_time,
            receive_time,
            correction: self.time1,
            leap,
            source: text,
        })]
    }
}

fn describe(record: &ShmRecord) -> String {
    format!(
        "shm clock {}.{:09} receive {}.{:09} leap {} precision {}",
        record.clock_sec,
        record.clock_nsec,
        record.receive_sec,
        record.receive_nsec,
        record.leap,
        record.precision
    )
}

impl Driver for ShmDriver {
    fn address(&self) -> ClockAddress {
        self.address
    }

    fn raw_fd(&self) -> Option<RawFd> {
        None
    }

    fn service_interval(&self) -> Option<Duration> {
        Some(Duration::from_secs(1))
    }

    fn service(&mut self, now: DateTime<Utc>) -> Result<Vec<DriverEvent>, RefclockError> {
        Ok(self.process(now))
    }

    fn precision(&self) -> i8 {
        self.precision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_permissions() {
        assert_eq!(key_for_unit(0), 0x4E54_5030);
        assert_eq!(key_for_unit(2), 0x4E54_5032);
        assert_eq!(permissions(0, 0), 0o600);
        assert_eq!(permissions(1, 0), 0o600);
        assert_eq!(permissions(2, 0), 0o666);
        assert_eq!(permissions(2, 1), 0o600);
    }
}
