//! The undisciplined local clock (the reference implementation's type 1).
//!
//! It measures the local clock against itself: every sample has offset
//! `time1`. It is for isolated test set-ups and for hosts whose clock is
//! disciplined by other means (PTP, an external program). For a group of
//! hosts cut off from real time sources, orphan mode (`tos orphan`) is the
//! better choice: it needs no configuration per host and steps aside when
//! a real source comes back. Its default stratum is 5.
//!
//! ```
//! use chrono::Utc;
//! use ntp_refclock::config::{DriverKind, RefclockOptions};
//! use ntp_refclock::driver::{Driver, DriverEvent};
//! use ntp_refclock::local::LocalDriver;
//!
//! let mut local = LocalDriver::new(&RefclockOptions::new(DriverKind::Local, 0));
//! let events = local.service(Utc::now()).unwrap();
//! let DriverEvent::Sample(sample) = &events[0] else { panic!() };
//! assert_eq!(sample.offset(), 0.0);
//! ```

use std::os::fd::RawFd;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::RefclockError;
use crate::config::{ClockAddress, RefclockOptions};
use crate::driver::{Driver, DriverEvent, LeapIndicator, Sample};

/// The local clock driver.
#[derive(Debug, Clone)]
pub struct LocalDriver {
    address: ClockAddress,
    time1: f64,
}

impl LocalDriver {
    /// A local clock with the given options (`fudge time1` is the offset).
    pub fn new(options: &RefclockOptions) -> Self {
        Self {
            address: options.address(),
            time1: options.fudge.time1,
        }
    }
}

impl Driver for LocalDriver {
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
        Ok(vec![DriverEvent::Sample(Sample {
            reference_time: now,
            receive_time: now,
            correction: self.time1,
            leap: LeapIndicator::NoWarning,
            source: "local".to_owned(),
        })])
    }
}
