//! NTP reference clocks.
//!
//! This crate holds the reference-clock side of an NTPv4 daemon, as the
//! reference implementation's refclock, clockopt and driver 20/22/28 pages
//! describe it:
//!
//! - [`config`]: typed options (driver, unit, `mode`, device path, baud,
//!   `fudge` values, `prefer`), filled from either `server 127.127.T.U` +
//!   `fudge` or NTPsec's `refclock NAME ...`, and the driver tables;
//! - [`driver`]: the [`Driver`] trait every driver
//!   implements for a single-threaded poll(2) loop, and the
//!   [`Sample`]s and rejections it produces;
//! - [`refclock`]: the generic machinery - median [`filter`],
//!   reachability, [`status`] and event codes, counters - that turns
//!   samples into one measurement per poll for the peer process;
//! - the drivers: [`nmea`] (type 20, serial NMEA 0183), [`pps`] (type 22,
//!   RFC 2783), [`shm`] (type 28, gpsd's shared memory) and [`local`]
//!   (type 1);
//! - [`watch`]: one line of text or JSON per driver event, for the
//!   `ntpctl refclock watch` diagnostic;
//! - [`device`]: the thin, `unsafe`-containing device layers (termios,
//!   PPS ioctls, System V shared memory) behind safe APIs.
//!
//! Everything outside [`device`] is sans-IO: time comes in as an argument,
//! bytes come in as slices. Nothing here starts a thread, sleeps or touches
//! the system clock.
//!
//! # Example: what the daemon does for one clock
//!
//! ```no_run
//! use chrono::Utc;
//! use ntp_refclock::config::ClockAddress;
//! use ntp_refclock::{RefclockOptions, Refclock, open_driver};
//!
//! // server 127.127.20.0 mode 16 prefer   /   fudge 127.127.20.0 time2 0.4
//! let address = ClockAddress::parse("127.127.20.0")?;
//! let mut options = RefclockOptions::new(address.kind, address.unit);
//! options.set("mode", "16")?;
//! options.set_flag("prefer")?;
//! options.set("time2", "0.4")?;
//!
//! let mut driver = open_driver(&options)?;
//! let mut clock = Refclock::new(options);
//! // In the poll(2) loop: when driver.raw_fd() is readable, or every
//! // driver.service_interval():
//! for event in driver.service(Utc::now())? {
//!     clock.handle_event(&event);
//! }
//! // At each poll of the association (every 2^minpoll s):
//! if let Some(update) = clock.poll(Utc::now()) {
//!     // hand update.offset / update.dispersion to the peer's clock filter
//!     println!("offset {} jitter {}", update.offset, update.jitter);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::path::PathBuf;

use thiserror::Error;

pub mod config;
pub mod device;
pub mod driver;
pub mod filter;
pub mod local;
pub mod nmea;
pub mod pps;
pub mod refclock;
pub mod shm;
pub mod status;
pub mod watch;

pub use config::{ClockAddress, ConfigError, DriverKind, RefclockOptions};
pub use driver::{Driver, DriverEvent, Sample};
pub use refclock::{Refclock, RefclockUpdate};

/// Errors of the drivers and their devices.
#[derive(Debug, Error)]
pub enum RefclockError {
    /// The configuration cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A device operation failed.
    #[error("{operation} {}: {source}", path.display())]
    Device {
        /// What was being done.
        operation: &'static str,
        /// The device.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// A shared memory operation failed.
    #[error("SHM segment key {key:#010x}: {operation}: {source}")]
    Shm {
        /// The segment key (0 for a private segment).
        key: i32,
        /// What was being done.
        operation: &'static str,
        /// The system's error.
        #[source]
        source: io::Error,
    },
}

/// Open the driver a configuration names, with its device.
pub fn open_driver(options: &RefclockOptions) -> Result<Box<dyn Driver>, RefclockError> {
    Ok(match options.kind {
        DriverKind::Local => Box::new(local::LocalDriver::new(options)),
        DriverKind::Nmea => Box::new(nmea::NmeaDriver::open(options)?),
        DriverKind::Pps => Box::new(pps::PpsDriver::open(options)?),
        DriverKind::Shm => Box::new(shm::ShmDriver::open(options)?),
    })
}
