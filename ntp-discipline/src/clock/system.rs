//! The Linux system clock, read with `clock_gettime` and adjusted only with
//! `clock_adjtime` (DESIGN.md runtime rules 4 and 5).
//!
//! All unsafe code of the crate is in the private `sys` module below: three
//! small functions, each block with its safety argument. Everything else
//! goes through their safe signatures.
//!
//! Nothing here is called on the real clock by the tests except the
//! read-only [`SystemClock::read_state`] (`clock_adjtime` with `modes = 0`)
//! and [`Clock::now`].

use std::io;

use ntp_wire::time::{NtpDuration, NtpTimestamp};

use super::{Clock, ClockError, ErrorEstimates};
use crate::config::MAXFREQ;
use crate::discipline::KernelUpdate;
use crate::leap::LeapArm;

/// The only unsafe code: thin wrappers over `libc`.
mod sys {
    use std::io;

    /// A `timex` with every field zero (`modes = 0` reads only).
    pub fn zeroed_timex() -> libc::timex {
        // SAFETY: `timex` is a plain C struct of integers and a `timeval`;
        // the all-zero bit pattern is a valid value of every field.
        unsafe { std::mem::zeroed() }
    }

    /// `clock_gettime(clock_id)`.
    pub fn gettime(clock_id: libc::clockid_t) -> io::Result<libc::timespec> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, exclusively borrowed `timespec` that lives
        // across the call; the kernel writes only into it.
        let rc = unsafe { libc::clock_gettime(clock_id, &mut ts) };
        if rc == 0 {
            Ok(ts)
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// `clock_adjtime(clock_id, tx)`; returns the clock state (`TIME_OK`,
    /// `TIME_INS`, ...). With `tx.modes == 0` nothing is changed.
    pub fn adjtime(clock_id: libc::clockid_t, tx: &mut libc::timex) -> io::Result<i32> {
        // SAFETY: `tx` is a valid, exclusively borrowed `timex`; the kernel
        // reads the fields selected by `modes` and writes the current state
        // back into the same struct, nothing else.
        let rc = unsafe { libc::clock_adjtime(clock_id, tx) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    }
}

/// Scaled-PPM units of `timex.freq` per s/s (PPM times 2^16).
const FREQ_SCALE: f64 = 65_536.0 * 1e6;

/// The kernel's clock-discipline state, as read with `modes = 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KernelState {
    /// The frequency correction, s/s.
    pub frequency: f64,
    /// The remaining kernel PLL offset, seconds.
    pub offset: f64,
    /// The status bits (`STA_*`).
    pub status: i32,
    /// The kernel PLL time constant.
    pub time_constant: i64,
    /// Estimated error, seconds.
    pub estimated_error: f64,
    /// Maximum error, seconds.
    pub maximum_error: f64,
    /// The clock state returned by the call (`TIME_OK`, `TIME_INS`,
    /// `TIME_DEL`, `TIME_OOP`, `TIME_WAIT`, `TIME_ERROR`).
    pub clock_state: i32,
    /// The TAI offset the kernel knows, seconds.
    pub tai: i32,
}

impl KernelState {
    // `c_long` is `i32` on 32-bit targets, so the conversion is not useless there.
    #[allow(clippy::useless_conversion)]
    fn from_timex(tx: &libc::timex, clock_state: i32) -> Self {
        let nano = tx.status & libc::STA_NANO != 0;
        let offset_unit = if nano { 1e-9 } else { 1e-6 };
        Self {
            frequency: tx.freq as f64 / FREQ_SCALE,
            offset: tx.offset as f64 * offset_unit,
            status: tx.status,
            time_constant: i64::from(tx.constant),
            estimated_error: tx.esterror as f64 * 1e-6,
            maximum_error: tx.maxerror as f64 * 1e-6,
            clock_state,
            tai: tx.tai,
        }
    }

    /// Whether the kernel discipline (`STA_PLL`) is on.
    pub fn pll_enabled(&self) -> bool {
        self.status & libc::STA_PLL != 0
    }

    /// Whether the kernel considers the clock unsynchronised (`STA_UNSYNC`).
    pub fn unsynchronized(&self) -> bool {
        self.status & libc::STA_UNSYNC != 0
    }
}

/// The Linux system clock (`CLOCK_REALTIME`).
///
/// Reading is always allowed; every adjusting method needs `CAP_SYS_TIME`
/// and fails with [`ClockError::PermissionDenied`] without it.
/// [`SystemClock::probe`] finds out beforehand with a no-op adjustment.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    clock_id: libc::clockid_t,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::realtime()
    }
}

fn os_error(operation: &'static str, source: io::Error) -> ClockError {
    if source.raw_os_error() == Some(libc::EPERM) {
        ClockError::PermissionDenied
    } else {
        ClockError::Os { operation, source }
    }
}

impl SystemClock {
    /// The real-time clock.
    pub fn realtime() -> Self {
        Self {
            clock_id: libc::CLOCK_REALTIME,
        }
    }

    /// Reads the kernel discipline state without changing anything
    /// (`clock_adjtime` with `modes = 0`).
    pub fn read_state(&self) -> Result<KernelState, ClockError> {
        let (tx, state) = self.read_timex()?;
        Ok(KernelState::from_timex(&tx, state))
    }

    /// Checks whether this process may adjust the clock, by reading the
    /// frequency and setting it again to the very same value. `Ok` means
    /// adjusting is allowed; [`ClockError::PermissionDenied`] means it is
    /// not. It changes nothing, but it is an adjusting call: tests must
    /// not make it.
    pub fn probe(&self) -> Result<(), ClockError> {
        let (read, _) = self.read_timex()?;
        let mut tx = sys::zeroed_timex();
        tx.modes = libc::ADJ_FREQUENCY;
        tx.freq = read.freq;
        self.adjtime("clock_adjtime(ADJ_FREQUENCY) probe", &mut tx)
            .map(|_| ())
    }

    fn read_timex(&self) -> Result<(libc::timex, i32), ClockError> {
        let mut tx = sys::zeroed_timex();
        let state =
            sys::adjtime(self.clock_id, &mut tx).map_err(|e| os_error("clock_adjtime(read)", e))?;
        Ok((tx, state))
    }

    fn adjtime(&self, operation: &'static str, tx: &mut libc::timex) -> Result<i32, ClockError> {
        sys::adjtime(self.clock_id, tx).map_err(|e| os_error(operation, e))
    }

    /// The status bits with the read-only ones removed, for a write.
    fn writable_status(&self) -> Result<i32, ClockError> {
        let (tx, _) = self.read_timex()?;
        Ok(tx.status & !libc::STA_RONLY)
    }
}

fn scaled_frequency(frequency: f64) -> Result<libc::c_long, ClockError> {
    if !frequency.is_finite() {
        return Err(ClockError::InvalidValue {
            operation: "set frequency",
            value: frequency,
        });
    }
    Ok((frequency.clamp(-MAXFREQ, MAXFREQ) * FREQ_SCALE).round() as libc::c_long)
}

fn micros(seconds: f64) -> libc::c_long {
    // Saturating; the kernel caps these at 16 s anyway.
    (seconds.max(0.0) * 1e6).min(16e6) as libc::c_long
}

impl Clock for SystemClock {
    fn now(&self) -> Result<NtpTimestamp, ClockError> {
        let ts = sys::gettime(self.clock_id).map_err(|e| os_error("clock_gettime", e))?;
        Ok(NtpTimestamp::from_unix(
            ts.tv_sec as i64,
            u32::try_from(ts.tv_nsec).unwrap_or(0),
        ))
    }

    fn frequency(&self) -> Result<f64, ClockError> {
        Ok(self.read_state()?.frequency)
    }

    fn set_frequency(&mut self, frequency: f64) -> Result<(), ClockError> {
        let mut tx = sys::zeroed_timex();
        tx.modes = libc::ADJ_FREQUENCY;
        tx.freq = scaled_frequency(frequency)?;
        self.adjtime("clock_adjtime(ADJ_FREQUENCY)", &mut tx)
            .map(|_| ())
    }

    fn step(&mut self, offset: NtpDuration) -> Result<(), ClockError> {
        let nanos = offset.to_nanos();
        let mut tx = sys::zeroed_timex();
        tx.modes = libc::ADJ_SETOFFSET | libc::ADJ_NANO;
        tx.time.tv_sec = nanos.div_euclid(1_000_000_000) as libc::time_t;
        // With ADJ_NANO the `tv_usec` field carries nanoseconds, 0..1e9.
        tx.time.tv_usec = nanos.rem_euclid(1_000_000_000) as libc::suseconds_t;
        self.adjtime("clock_adjtime(ADJ_SETOFFSET)", &mut tx)
            .map(|_| ())
    }

    fn slew_once(&mut self, offset: NtpDuration) -> Result<(), ClockError> {
        // c_long is 64 bits on the Linux targets this runs on.
        let micros: libc::c_long = offset.to_nanos() / 1000;
        let mut tx = sys::zeroed_timex();
        // ADJ_OFFSET_SINGLESHOT: the adjtime(2) slew, in microseconds.
        tx.modes = libc::ADJ_OFFSET_SINGLESHOT;
        tx.offset = micros;
        self.adjtime("clock_adjtime(ADJ_OFFSET_SINGLESHOT)", &mut tx)
            .map(|_| ())
    }

    fn set_leap(&mut self, leap: LeapArm) -> Result<(), ClockError> {
        let mut tx = sys::zeroed_timex();
        tx.modes = libc::ADJ_STATUS;
        tx.status = self.writable_status()? & !(libc::STA_INS | libc::STA_DEL);
        tx.status |= match leap {
            LeapArm::None => 0,
            LeapArm::Insert => libc::STA_INS,
            LeapArm::Delete => libc::STA_DEL,
        };
        self.adjtime("clock_adjtime(ADJ_STATUS leap)", &mut tx)
            .map(|_| ())
    }

    fn set_error_estimates(&mut self, estimates: ErrorEstimates) -> Result<(), ClockError> {
        let mut tx = sys::zeroed_timex();
        tx.modes = libc::ADJ_ESTERROR | libc::ADJ_MAXERROR | libc::ADJ_STATUS;
        tx.esterror = micros(estimates.estimated);
        tx.maxerror = micros(estimates.maximum);
        let status = self.writable_status()?;
        tx.status = if estimates.synchronized {
            status & !libc::STA_UNSYNC
        } else {
            status | libc::STA_UNSYNC
        };
        self.adjtime("clock_adjtime(ADJ_ESTERROR)", &mut tx)
            .map(|_| ())
    }

    fn kernel_update(&mut self, update: &KernelUpdate) -> Result<(), ClockError> {
        let mut tx = sys::zeroed_timex();
        tx.modes = libc::ADJ_OFFSET | libc::ADJ_STATUS | libc::ADJ_NANO | libc::ADJ_TIMECONST;
        // The kernel accepts at most +/-0.5 s (MAXPHASE).
        tx.offset = (update.offset.clamp(-0.5, 0.5) * 1e9).round() as libc::c_long;
        tx.constant = libc::c_long::from(update.poll.max(0));
        tx.status = self.writable_status()? | libc::STA_PLL;
        if update.frequency_hold {
            tx.status |= libc::STA_FREQHOLD;
        } else {
            tx.status &= !libc::STA_FREQHOLD;
        }
        if let Some(frequency) = update.frequency {
            tx.modes |= libc::ADJ_FREQUENCY;
            tx.freq = scaled_frequency(frequency)?;
        }
        self.adjtime("clock_adjtime(ADJ_OFFSET)", &mut tx)
            .map(|_| ())
    }

    fn disable_kernel_discipline(&mut self) -> Result<(), ClockError> {
        let mut tx = sys::zeroed_timex();
        tx.modes = libc::ADJ_STATUS;
        tx.status = self.writable_status()? & !(libc::STA_PLL | libc::STA_FREQHOLD);
        self.adjtime("clock_adjtime(ADJ_STATUS)", &mut tx)
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Only reading calls here: never adjust the real clock in a test.

    #[test]
    fn reads_time_and_kernel_state() {
        let clock = SystemClock::realtime();
        let now = clock.now().unwrap();
        let unix = std::time::SystemTime::now();
        let diff = (NtpTimestamp::from_system_time(unix) - now).to_seconds_f64();
        assert!(diff.abs() < 5.0, "{diff}");
        let state = clock.read_state().unwrap();
        assert!(state.frequency.abs() <= 600e-6, "{state:?}");
        assert_eq!(clock.frequency().unwrap(), state.frequency);
    }

    #[test]
    fn frequency_scaling() {
        assert_eq!(scaled_frequency(1e-6).unwrap(), 65_536);
        assert_eq!(scaled_frequency(-1.0).unwrap(), -(500 * 65_536));
        assert!(scaled_frequency(f64::NAN).is_err());
        assert_eq!(micros(0.25), 250_000);
        assert_eq!(micros(-1.0), 0);
        assert_eq!(micros(100.0), 16_000_000);
    }
}
