//! A simulated clock for tests and deterministic simulations.
//!
//! True time is an input: the simulation advances it with
//! [`SimulatedClock::advance`]. The clock's reading drifts from it by an
//! intrinsic frequency error plus a random walk (wander) drawn from a seeded
//! [`SplitMix64`], and is read with a given resolution. The clock obeys the
//! discipline like the kernel does: frequency corrections, steps, slews at
//! most 500 PPM, leap seconds at UTC midnight, and an emulation of the
//! Linux kernel PLL (`kernel/time/ntp.c`: SHIFT_PLL 2, time constant = the
//! poll exponent up to 10, FLL only beyond 2048 s between updates), the
//! loop ntpd runs with `enable kernel` on Linux. It reports its true error,
//! which a real clock cannot.
//!
//! ```
//! use ntp_discipline::clock::{Clock, SimulatedClock, SimulatedClockConfig};
//!
//! let mut clock = SimulatedClock::new(SimulatedClockConfig {
//!     frequency_error_ppm: 50.0,
//!     initial_offset: 0.1,
//!     ..Default::default()
//! });
//! clock.advance(100.0);
//! assert!((clock.time_error() - (0.1 + 100.0 * 50e-6)).abs() < 1e-9);
//! clock.set_frequency(-50e-6)?;
//! clock.advance(100.0);
//! assert!((clock.time_error() - 0.105).abs() < 1e-9);
//! # Ok::<(), ntp_discipline::clock::ClockError>(())
//! ```

use ntp_wire::time::{NtpDate, NtpDuration, NtpTimestamp};

use super::{Clock, ClockError, ErrorEstimates};
use crate::config::MAXFREQ;
use crate::discipline::KernelUpdate;
use crate::leap::LeapArm;

/// Linux's `SHIFT_PLL`: the PLL's phase time constant is
/// 2^(SHIFT_PLL + time_constant) seconds.
const LINUX_SHIFT_PLL: i32 = 2;
/// Linux's `SHIFT_FLL`.
const LINUX_SHIFT_FLL: i32 = 2;
/// Linux's `MAXTC`: the largest time constant.
const LINUX_MAXTC: i8 = 10;
/// Linux's `MAXSEC`: beyond this many seconds between updates the FLL
/// takes part.
const LINUX_MAXSEC: f64 = 2048.0;
/// A tiny, fast, deterministic pseudo-random generator (SplitMix64, Steele,
/// Lea and Flood 2014). Good enough for simulated noise; not for secrets.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator from a seed; equal seeds give equal sequences.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal number (Box-Muller).
    pub fn next_gaussian(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (core::f64::consts::TAU * u2).cos()
    }
}

/// The parameters of a [`SimulatedClock`].
#[derive(Clone, Debug, PartialEq)]
pub struct SimulatedClockConfig {
    /// The true time when the simulation starts.
    pub start: NtpDate,
    /// The clock's error at the start, seconds (clock minus true time).
    pub initial_offset: f64,
    /// The intrinsic frequency error, PPM (positive: the clock runs fast).
    pub frequency_error_ppm: f64,
    /// Random-walk frequency wander: the standard deviation of the
    /// frequency change over one second, PPM (it grows with the square root
    /// of time; 1e-4 gives about 0.006 PPM per hour).
    pub wander_ppm: f64,
    /// Reading resolution, seconds (0 reads exactly).
    pub resolution: f64,
    /// The largest slew rate for [`SimulatedClock::slew`], s/s.
    pub max_slew_rate: f64,
    /// Seed of the wander's random numbers.
    pub seed: u64,
}

impl Default for SimulatedClockConfig {
    fn default() -> Self {
        Self {
            // 2024-01-01T00:00:00Z.
            start: NtpDate::from_ntp_seconds(3_913_056_000, 0),
            initial_offset: 0.0,
            frequency_error_ppm: 0.0,
            wander_ppm: 0.0,
            resolution: 1e-9,
            max_slew_rate: 500e-6,
            seed: 1,
        }
    }
}

/// A simulated clock; see the [module documentation](self).
#[derive(Clone, Debug)]
pub struct SimulatedClock {
    config: SimulatedClockConfig,
    /// True seconds since `config.start`.
    elapsed: f64,
    /// Clock minus true time, seconds.
    error: f64,
    /// Intrinsic frequency error including the wander, s/s.
    intrinsic: f64,
    /// The frequency correction set through the trait, s/s.
    correction: f64,
    /// Offset still to be slewed by `slew`, seconds.
    slew_pending: f64,
    /// The armed leap second.
    leap: LeapArm,
    /// Emulated kernel PLL: on, offset still to slew, poll, and time of the
    /// last kernel update.
    kernel_on: bool,
    kernel_offset: f64,
    kernel_poll: i8,
    kernel_last: Option<f64>,
    estimates: ErrorEstimates,
    steps: u32,
    rng: SplitMix64,
}

impl SimulatedClock {
    /// A clock with the given parameters at the start of the simulation.
    pub fn new(config: SimulatedClockConfig) -> Self {
        Self {
            elapsed: 0.0,
            error: config.initial_offset,
            intrinsic: config.frequency_error_ppm * 1e-6,
            correction: 0.0,
            slew_pending: 0.0,
            leap: LeapArm::None,
            kernel_on: false,
            kernel_offset: 0.0,
            kernel_poll: 0,
            kernel_last: None,
            estimates: ErrorEstimates::default(),
            steps: 0,
            rng: SplitMix64::new(config.seed),
            config,
        }
    }

    /// Advances true time by `seconds` (non-positive or non-finite values
    /// are ignored). Long intervals are integrated in one go; to follow the
    /// once-a-second clock-adjust process, advance a second at a time.
    pub fn advance(&mut self, seconds: f64) {
        if !(seconds.is_finite() && seconds > 0.0) {
            return;
        }
        let day_before = self.local_day_position();

        // Frequency: intrinsic with a random walk, plus the correction.
        let start_rate = self.intrinsic;
        if self.config.wander_ppm > 0.0 {
            self.intrinsic +=
                self.config.wander_ppm * 1e-6 * seconds.sqrt() * self.rng.next_gaussian();
        }
        let mean_intrinsic = 0.5 * (start_rate + self.intrinsic);
        self.error += (mean_intrinsic + self.correction) * seconds;

        // Slew (adjtime-like), at most `max_slew_rate`.
        if self.slew_pending != 0.0 {
            let limit = self.config.max_slew_rate * seconds;
            let amount = self.slew_pending.clamp(-limit, limit);
            self.error += amount;
            self.slew_pending -= amount;
        }

        // Emulated kernel PLL: amortise the offset with the PLL time
        // constant (Linux: a 2^(SHIFT_PLL + time_constant) share each
        // second), at most 500 PPM.
        if self.kernel_on && self.kernel_offset != 0.0 {
            let tau = 2f64.powi(LINUX_SHIFT_PLL + i32::from(self.kernel_poll));
            let limit = 500e-6 * seconds;
            let amount = (self.kernel_offset * (seconds / tau).min(1.0)).clamp(-limit, limit);
            self.error += amount;
            self.kernel_offset -= amount;
        }

        self.elapsed += seconds;

        // Leap second at UTC midnight of the clock's own time.
        let day_after = self.local_day_position();
        match self.leap {
            LeapArm::Insert if day_after.0 > day_before.0 => {
                self.error -= 1.0;
                self.leap = LeapArm::None;
            }
            LeapArm::Delete if day_before.1 < 86_399.0 && day_after.1 >= 86_399.0 => {
                self.error += 1.0;
                self.leap = LeapArm::None;
            }
            _ => {}
        }
    }

    /// Advances true time to `elapsed` seconds after the start.
    pub fn advance_to(&mut self, elapsed: f64) {
        self.advance(elapsed - self.elapsed);
    }

    /// True seconds since the start of the simulation.
    pub fn elapsed(&self) -> f64 {
        self.elapsed
    }

    /// The true time.
    pub fn true_date(&self) -> NtpDate {
        self.config.start + NtpDuration::from_seconds_f64(self.elapsed)
    }

    /// The true time as a timestamp.
    pub fn true_time(&self) -> NtpTimestamp {
        self.true_date().to_timestamp()
    }

    /// The clock's true error: clock minus true time, seconds. An NTP
    /// offset measured against a perfect server is its negative.
    pub fn time_error(&self) -> f64 {
        self.error
    }

    /// The clock's true frequency error: intrinsic error (with wander) plus
    /// the correction in force, s/s.
    pub fn frequency_error(&self) -> f64 {
        self.intrinsic + self.correction
    }

    /// The intrinsic frequency error including the wander, s/s.
    pub fn intrinsic_frequency(&self) -> f64 {
        self.intrinsic
    }

    /// The armed leap second.
    pub fn leap(&self) -> LeapArm {
        self.leap
    }

    /// The error estimates last reported.
    pub fn error_estimates(&self) -> ErrorEstimates {
        self.estimates
    }

    /// How many times the clock was stepped.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Whether the emulated kernel discipline is on.
    pub fn kernel_enabled(&self) -> bool {
        self.kernel_on
    }

    /// Slews the clock by `offset` seconds over time at up to the
    /// configured slew rate, like `adjtime()`; replaces a pending slew.
    pub fn slew(&mut self, offset: f64) {
        if offset.is_finite() {
            self.slew_pending = offset;
        }
    }

    /// The offset still to be slewed, seconds.
    pub fn slew_pending(&self) -> f64 {
        self.slew_pending
    }

    /// Clock seconds since the NTP epoch: (whole days, seconds into day).
    fn local_day_position(&self) -> (f64, f64) {
        let local = self.config.start.ntp_seconds() as f64 + self.elapsed + self.error;
        let day = (local / 86_400.0).floor();
        (day, local - day * 86_400.0)
    }

    fn local_reading(&self) -> f64 {
        let local = self.elapsed + self.error;
        let resolution = self.config.resolution;
        if resolution > 0.0 {
            (local / resolution).floor() * resolution
        } else {
            local
        }
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> Result<NtpTimestamp, ClockError> {
        Ok(self.config.start.to_timestamp() + NtpDuration::from_seconds_f64(self.local_reading()))
    }

    fn frequency(&self) -> Result<f64, ClockError> {
        Ok(self.correction)
    }

    fn set_frequency(&mut self, frequency: f64) -> Result<(), ClockError> {
        if !frequency.is_finite() {
            return Err(ClockError::InvalidValue {
                operation: "set frequency",
                value: frequency,
            });
        }
        self.correction = frequency.clamp(-MAXFREQ, MAXFREQ);
        Ok(())
    }

    fn step(&mut self, offset: NtpDuration) -> Result<(), ClockError> {
        self.error += offset.to_seconds_f64();
        self.steps += 1;
        Ok(())
    }

    fn slew_once(&mut self, offset: NtpDuration) -> Result<(), ClockError> {
        self.slew(offset.to_seconds_f64());
        Ok(())
    }

    fn set_leap(&mut self, leap: LeapArm) -> Result<(), ClockError> {
        self.leap = leap;
        Ok(())
    }

    fn set_error_estimates(&mut self, estimates: ErrorEstimates) -> Result<(), ClockError> {
        self.estimates = estimates;
        Ok(())
    }

    fn kernel_update(&mut self, update: &KernelUpdate) -> Result<(), ClockError> {
        if !update.offset.is_finite() {
            return Err(ClockError::InvalidValue {
                operation: "kernel offset",
                value: update.offset,
            });
        }
        self.kernel_on = true;
        if let Some(frequency) = update.frequency {
            self.set_frequency(frequency)?;
        }
        let offset = update.offset.clamp(-0.5, 0.5);
        // Linux's time constant: the poll exponent (ADJ_NANO), 0 to 10.
        let constant = update.poll.clamp(0, LINUX_MAXTC);
        let shift = LINUX_SHIFT_PLL + i32::from(constant);
        if let Some(last) = self.kernel_last.filter(|_| !update.frequency_hold) {
            // ntp_update_offset(): the FLL share beyond MAXSEC, then the
            // PLL share with the interval clamped to 2^(SHIFT_PLL + 1 +
            // time_constant).
            let secs = (self.elapsed - last).max(0.0);
            let fll = if secs > LINUX_MAXSEC {
                offset / (secs * 2f64.powi(LINUX_SHIFT_FLL))
            } else {
                0.0
            };
            let pll_secs = secs.min(2f64.powi(shift + 1));
            let pll = offset * pll_secs / 2f64.powi(2 * (shift + 2));
            self.correction = (self.correction + fll + pll).clamp(-MAXFREQ, MAXFREQ);
        }
        self.kernel_last = Some(self.elapsed);
        self.kernel_offset = offset;
        self.kernel_poll = constant;
        Ok(())
    }

    fn disable_kernel_discipline(&mut self) -> Result<(), ClockError> {
        self.kernel_on = false;
        self.kernel_offset = 0.0;
        self.kernel_last = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_wander() {
        let config = SimulatedClockConfig {
            wander_ppm: 1e-3,
            seed: 42,
            ..Default::default()
        };
        let mut a = SimulatedClock::new(config.clone());
        let mut b = SimulatedClock::new(config);
        for _ in 0..1000 {
            a.advance(1.0);
            b.advance(1.0);
        }
        assert_eq!(a.time_error(), b.time_error());
        assert_ne!(a.intrinsic_frequency(), 0.0);
    }

    #[test]
    fn step_slew_and_resolution() {
        let mut c = SimulatedClock::new(SimulatedClockConfig {
            resolution: 1e-3,
            ..Default::default()
        });
        c.step(NtpDuration::from_seconds_f64(0.0104)).unwrap();
        let reading = (c.now().unwrap() - c.true_time()).to_seconds_f64();
        assert!((reading - 0.010).abs() < 1e-9, "{reading}");
        c.slew(-0.001);
        c.advance(1.0);
        assert!((c.time_error() - (0.0104 - 0.0005)).abs() < 1e-9);
        c.advance(10.0);
        assert!((c.time_error() - 0.0094).abs() < 1e-9);
        assert_eq!(c.steps(), 1);
    }

    #[test]
    fn leap_insert_at_midnight() {
        let mut c = SimulatedClock::new(SimulatedClockConfig {
            // 2016-12-31T23:59:00Z
            start: NtpDate::from_ntp_seconds(3_692_217_600 - 60, 0),
            ..Default::default()
        });
        c.set_leap(LeapArm::Insert).unwrap();
        c.advance(59.5);
        assert_eq!(c.time_error(), 0.0);
        c.advance(1.0);
        assert_eq!(c.time_error(), -1.0);
        assert_eq!(c.leap(), LeapArm::None);
    }

    #[test]
    fn gaussian_is_roughly_standard() {
        let mut rng = SplitMix64::new(7);
        let n = 20_000;
        let samples: Vec<f64> = (0..n).map(|_| rng.next_gaussian()).collect();
        let mean = samples.iter().sum::<f64>() / n as f64;
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.05 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
