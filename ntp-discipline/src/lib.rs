//! The NTPv4 clock discipline and clock-adjust processes (RFC 5905 section
//! 11.3 and 12, Appendix A.5.5.6-A.5.6), sans-IO.
//!
//! - [`discipline`]: the clock state machine (NSET, FSET, SPIK, FREQ, SYNC)
//!   with the step, stepout and panic thresholds, the hybrid PLL/FLL, the
//!   jitter and wander statistics, the poll-exponent feedback for the poll
//!   process, and the once-a-second clock-adjust process.
//! - [`config`]: the parameters and the `tinker` overrides.
//! - [`regression`]: the regression loop ([`config::LoopAlgorithm::Regression`]),
//!   an alternative to the PLL/FLL that tracks a wandering oscillator closely.
//! - [`drift`]: the frequency file, with a sans-IO write schedule.
//! - [`leap`]: the IERS `leap-seconds.list` file and the decision when to
//!   announce and arm a leap second.
//! - [`clock`]: the [`Clock`] trait, the Linux
//!   [`SystemClock`] (`clock_adjtime` only; the crate's
//!   only unsafe code) and the deterministic
//!   [`SimulatedClock`].
//!
//! The discipline never reads a clock: the caller passes the time and
//! carries out what the discipline returns.
//!
//! ```
//! use ntp_discipline::clock::{apply_adjustment, apply_update, Clock, SimulatedClock,
//!     SimulatedClockConfig};
//! use ntp_discipline::config::DisciplineConfig;
//! use ntp_discipline::discipline::ClockDiscipline;
//!
//! // A clock 20 ms ahead and 30 PPM fast, no frequency file.
//! let mut clock = SimulatedClock::new(SimulatedClockConfig {
//!     initial_offset: 0.020,
//!     frequency_error_ppm: 30.0,
//!     ..Default::default()
//! });
//! let mut discipline = ClockDiscipline::new(DisciplineConfig::default(), None);
//! for second in 1..=2 * 3600 {
//!     clock.advance(1.0);
//!     let now = clock.now()?;
//!     if second % 64 == 0 {
//!         // The combine algorithm's offset: server minus local.
//!         let offset = -clock.time_error();
//!         let update = discipline.update(now, offset).expect("below the panic threshold");
//!         apply_update(&mut clock, &update)?;
//!     }
//!     if let Some(adjustment) = discipline.clock_adjust(now) {
//!         apply_adjustment(&mut clock, &adjustment)?;
//!     }
//! }
//! assert!(clock.time_error().abs() < 0.001);
//! assert!(clock.frequency_error().abs() < 0.5e-6);
//! # Ok::<(), ntp_discipline::clock::ClockError>(())
//! ```

pub mod clock;
pub mod config;
pub mod discipline;
pub mod drift;
pub mod leap;
pub mod regression;

pub use clock::{Clock, ClockError, SimulatedClock, SystemClock};
pub use config::{DisciplineConfig, Tinker};
pub use discipline::{
    ClockAdjustment, ClockDiscipline, ClockState, DisciplineError, Update, UpdateOutcome,
};
pub use leap::{LeapArm, LeapControl, LeapFile};
