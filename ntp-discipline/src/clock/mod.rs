//! The clocks the discipline drives: the [`Clock`] trait, the Linux
//! [`SystemClock`] and the [`SimulatedClock`].
//!
//! The trait is the thin device layer under the sans-IO discipline: the
//! daemon reads the time from it, and applies what
//! [`ClockDiscipline`](crate::discipline::ClockDiscipline) decides through
//! it. [`apply_update`] and [`apply_adjustment`] do that for any clock.

use ntp_wire::time::{NtpDuration, NtpTimestamp};
use thiserror::Error;

use crate::discipline::{ClockAdjustment, KernelUpdate, Update, UpdateOutcome};
use crate::leap::LeapArm;

pub mod simulated;
pub mod system;

pub use simulated::{SimulatedClock, SimulatedClockConfig};
pub use system::{KernelState, SystemClock};

/// A clock error.
#[derive(Debug, Error)]
pub enum ClockError {
    /// The process may not adjust the clock (`EPERM`: no `CAP_SYS_TIME`).
    #[error("permission denied to adjust the clock")]
    PermissionDenied,
    /// A system call failed.
    #[error("{operation} failed: {source}")]
    Os {
        /// The operation that failed.
        operation: &'static str,
        /// The system error.
        #[source]
        source: std::io::Error,
    },
    /// A value cannot be given to the clock.
    #[error("invalid value for {operation}: {value}")]
    InvalidValue {
        /// The operation.
        operation: &'static str,
        /// The value.
        value: f64,
    },
}

/// Error estimates the daemon reports to the clock (the kernel's
/// `esterror` and `maxerror`, which other programs read through
/// `ntp_gettime`/`adjtimex`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ErrorEstimates {
    /// Estimated error (the clock jitter), seconds.
    pub estimated: f64,
    /// Maximum error (root delay / 2 + root dispersion), seconds.
    pub maximum: f64,
    /// Whether the clock is synchronised (clears the kernel's `STA_UNSYNC`).
    pub synchronized: bool,
}

/// A clock the discipline can drive.
///
/// All methods that change the clock are fallible: the system clock needs
/// the privilege to adjust the time.
pub trait Clock {
    /// The current time of the clock.
    fn now(&self) -> Result<NtpTimestamp, ClockError>;

    /// The frequency correction in force, s/s (positive: faster).
    fn frequency(&self) -> Result<f64, ClockError>;

    /// Sets the frequency correction, s/s; the clock limits it to
    /// +/-500 PPM.
    fn set_frequency(&mut self, frequency: f64) -> Result<(), ClockError>;

    /// Steps the clock by `offset` (positive: forward).
    fn step(&mut self, offset: NtpDuration) -> Result<(), ClockError>;

    /// Slews the clock by `offset` once, gradually, the way `adjtime(2)`
    /// does (`ntpctl query --slew`, `ntpd -q`); replaces a pending one-shot
    /// slew. The kernel slews at most 0.5 ms/s.
    fn slew_once(&mut self, offset: NtpDuration) -> Result<(), ClockError>;

    /// Arms or disarms a leap second at the end of the current UTC day.
    fn set_leap(&mut self, leap: LeapArm) -> Result<(), ClockError>;

    /// Reports the error estimates and the synchronisation status.
    fn set_error_estimates(&mut self, estimates: ErrorEstimates) -> Result<(), ClockError>;

    /// Hands an offset to the kernel discipline (`enable kernel`), turning
    /// it on.
    fn kernel_update(&mut self, update: &KernelUpdate) -> Result<(), ClockError>;

    /// Turns the kernel discipline off (the daemon runs its own loop).
    fn disable_kernel_discipline(&mut self) -> Result<(), ClockError>;
}

/// Carries out the part of an [`Update`] that concerns the clock: the step,
/// or the kernel update in kernel mode. Slews of the daemon's own loop
/// happen through [`apply_adjustment`].
pub fn apply_update<C: Clock + ?Sized>(clock: &mut C, update: &Update) -> Result<(), ClockError> {
    if let UpdateOutcome::Stepped(amount) = update.outcome {
        clock.step(amount)?;
    }
    if let Some(kernel) = &update.kernel {
        clock.kernel_update(kernel)?;
    }
    Ok(())
}

/// Carries out one run of the clock-adjust process: sets the clock's
/// frequency to the correction plus the phase share spread over the
/// interval.
pub fn apply_adjustment<C: Clock + ?Sized>(
    clock: &mut C,
    adjustment: &ClockAdjustment,
) -> Result<(), ClockError> {
    clock.set_frequency(adjustment.rate())
}
