//! The clock discipline: the state machine and the hybrid PLL/FLL
//! (RFC 5905 section 11.3, Appendix A.5.5.6 `local_clock()`, A.5.5.7
//! `rstclock()`), and the clock-adjust process (section 12, Appendix
//! A.5.6.1 `clock_adjust()`).
//!
//! [`ClockDiscipline::update`] takes each offset the combine algorithm
//! produces and decides, following the state transition function of
//! RFC 5905 figure 28, whether to ignore it, slew it or step the clock.
//! [`ClockDiscipline::clock_adjust`] runs once a second and tells the
//! caller the frequency and the share of the residual offset to apply.
//!
//! Sign conventions are the RFC's: an offset is server time minus local
//! time, so a positive offset means the local clock is behind and must be
//! advanced; a positive frequency makes the local clock run faster.
//!
//! Where the appendix code has known slips, the reference implementation
//! (ntpd 4.2.8) is followed and the difference is noted:
//!
//! - the PLL gain constant is 16 (figure 27's `TC`; the appendix's 65536
//!   would make the loop inert);
//! - the averaging constant for jitter and wander is 8 (figure 27's `AVG`);
//! - a spike in SYNC state really enters SPIK state, and the frequency
//!   measured at the end of the FREQ interval enters SYNC state;
//! - the wander is the RMS of frequency *changes*;
//! - the hold timer of the 4.2.8 "startup interval": after the frequency is
//!   known (file, training or step) the residual offset is amortised with the
//!   time constant of poll exponent 2 and the frequency is left alone, until
//!   the stepout interval has passed or the residual is under 0.5 ms;
//! - the per-second phase adjustment is limited to 500 us, the slew rate of
//!   the Unix kernel.

use core::fmt;

use ntp_wire::time::{NtpDuration, NtpTimestamp};
use thiserror::Error;

use std::collections::VecDeque;

use crate::config::{DisciplineConfig, LoopAlgorithm, MAXFREQ};
use crate::regression::{OffsetRegression, RegressionSample};

/// PLL loop gain (figure 27 `TC`, ntpd `CLOCK_PLL`).
const PLL: f64 = 16.0;
/// FLL loop gain base (RFC 5905 `FLL` = `MAXPOLL` + 1).
const FLL: f64 = 18.0;
/// Averaging constant for jitter and wander (figure 27 `AVG`).
const AVG: f64 = 8.0;
/// Poll-adjust hysteresis threshold (`LIMIT`).
const LIMIT: i32 = 30;
/// Poll-adjust gate (`PGATE`).
const PGATE: f64 = 4.0;
/// The hold timer ends when the residual offset falls below this (s).
const HOLD_OFFSET: f64 = 0.5e-3;
/// Poll exponent of the time constant used while the hold timer runs.
const HOLD_POLL: i8 = 2;
/// Largest offset difference taken into the jitter, seconds.
const MAX_JITTER: f64 = 1e6;
/// Largest phase adjustment per second, the kernel's slew rate (s/s).
const MAX_SLEW: f64 = 500e-6;
/// Regression loop: the slope becomes the frequency once its standard
/// error is below this (s/s).
const ADOPT_SLOPE_ERROR: f64 = 1e-6;
/// Regression loop: seconds between entries of the correction log.
const CORRECTION_LOG_STEP: f64 = 16.0;
/// Regression loop: the most entries of the correction log (about 4.5 h).
const CORRECTION_LOG_LEN: usize = 1024;

/// The state of the clock state machine (RFC 5905 figure 28).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClockState {
    /// The clock has never been set and no frequency file was read.
    Nset,
    /// The frequency was set from the frequency file; no update yet.
    Fset,
    /// A spike (offset above the step threshold) was seen in SYNC state.
    Spik,
    /// Frequency training: measuring the oscillator frequency.
    Freq,
    /// Normal operation.
    Sync,
}

impl ClockState {
    /// The reference implementation's name (`NSET`, `FSET`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Nset => "NSET",
            Self::Fset => "FSET",
            Self::Spik => "SPIK",
            Self::Freq => "FREQ",
            Self::Sync => "SYNC",
        }
    }
}

impl fmt::Display for ClockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an update did (the return code of `local_clock()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Ignored: frequency training started or is still running.
    Ignored,
    /// Ignored: an offset above the step threshold, inside the stepout
    /// interval (a spike).
    SpikeSuppressed,
    /// Absorbed by the loop: the clock-adjust process slews it.
    Slewed,
    /// The clock must be stepped by this amount now (server minus local).
    Stepped(NtpDuration),
}

/// An update for the kernel discipline (`enable kernel`): pass the offset
/// to `ntp_adjtime` with `STA_PLL`, and the frequency when it is given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KernelUpdate {
    /// The offset to hand to the kernel, seconds.
    pub offset: f64,
    /// The poll exponent, which sets the kernel's time constant.
    pub poll: i8,
    /// A frequency (s/s) to set directly, after a frequency file was read
    /// or a frequency measured.
    pub frequency: Option<f64>,
    /// Hold the kernel's frequency (`STA_FREQHOLD`): the hold timer of the
    /// startup interval runs, and `poll` is then the short time constant.
    pub frequency_hold: bool,
}

/// The result of [`ClockDiscipline::update`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Update {
    /// What the update did; on [`UpdateOutcome::Stepped`] the caller steps
    /// the clock.
    pub outcome: UpdateOutcome,
    /// The state after the update.
    pub state: ClockState,
    /// The frequency correction after the update, s/s.
    pub frequency: f64,
    /// The recommended poll exponent after the update.
    pub poll: i8,
    /// In kernel mode, what to hand to the kernel discipline.
    pub kernel: Option<KernelUpdate>,
}

/// What the clock-adjust process applies for one interval (normally one
/// second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockAdjustment {
    /// The frequency correction, s/s.
    pub frequency: f64,
    /// The share of the residual offset to slew in this interval, seconds.
    pub phase: f64,
    /// The interval the adjustment covers, seconds.
    pub interval: f64,
}

impl ClockAdjustment {
    /// The frequency to set in the clock for the next interval (s/s): the
    /// frequency correction plus the phase spread over the interval. A
    /// clock driven only by its frequency (as the Linux clock through
    /// `ADJ_FREQUENCY`) applies both at once.
    pub fn rate(&self) -> f64 {
        if self.interval > 0.0 {
            self.frequency + self.phase / self.interval
        } else {
            self.frequency
        }
    }
}

/// An update the discipline refuses.
#[derive(Clone, Copy, Debug, Error, PartialEq)]
pub enum DisciplineError {
    /// The offset exceeds the panic threshold: the daemon should exit and
    /// ask the operator to set the clock (unless allowed once, like `-g`).
    #[error(
        "offset {offset:.6} s exceeds the panic threshold of {threshold} s; set the clock manually"
    )]
    Panic {
        /// The offset, seconds.
        offset: f64,
        /// The panic threshold, seconds.
        threshold: f64,
    },
    /// The offset is not a finite number.
    #[error("offset {0} is not a finite number")]
    InvalidOffset(f64),
}

/// The clock discipline and clock-adjust processes.
///
/// ```
/// use ntp_discipline::config::DisciplineConfig;
/// use ntp_discipline::discipline::{ClockDiscipline, ClockState, UpdateOutcome};
/// use ntp_wire::time::{NtpDuration, NtpTimestamp};
///
/// // A frequency file said +12.5 PPM.
/// let mut discipline = ClockDiscipline::new(DisciplineConfig::default(), Some(12.5));
/// assert_eq!(discipline.state(), ClockState::Fset);
/// let t0 = NtpTimestamp::from_seconds_and_fraction(3_900_000_000, 0);
/// let update = discipline.update(t0, 0.010)?;
/// assert_eq!(update.outcome, UpdateOutcome::Slewed);
/// assert_eq!(update.state, ClockState::Sync);
/// // Once a second: apply the frequency and a share of the offset.
/// let adjust = discipline.clock_adjust(t0 + NtpDuration::ONE_SECOND).unwrap();
/// assert!(adjust.phase > 0.0 && adjust.phase <= 0.0005);
/// # Ok::<(), ntp_discipline::discipline::DisciplineError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClockDiscipline {
    config: DisciplineConfig,
    state: ClockState,
    /// `c.offset`: the residual offset still to be slewed.
    offset: f64,
    /// `c.last`: the offset of the last update, for the jitter.
    last: f64,
    /// `c.freq`: the frequency correction.
    freq: f64,
    /// `c.jitter`.
    jitter: f64,
    /// `c.wander`.
    wander: f64,
    /// `c.count`: the poll-adjust hysteresis counter.
    count: i32,
    /// `s.poll`: the system poll exponent.
    poll: i8,
    /// `s.t`: the time of the last update that reset the state machine.
    update_time: Option<NtpTimestamp>,
    /// The time of the last clock-adjust run.
    adjust_time: Option<NtpTimestamp>,
    /// Hold timer, seconds left.
    hold: f64,
    /// The `-g` allowance, not yet used.
    allow_panic: bool,
    /// The system peer's `minpoll` and `maxpoll`, which bound the time
    /// constant as ntpd's `clock_update()` does.
    peer_bounds: Option<(i8, i8)>,
    /// Regression loop: the sample history.
    regression: OffsetRegression,
    /// Regression loop: the origin of its time axis (the first update).
    anchor: Option<NtpTimestamp>,
    /// The correction applied to the clock up to the last clock-adjust
    /// run (frequency and phase, and steps), seconds.
    correction: f64,
    /// The rate (s/s) the clock runs at since the last clock-adjust run.
    rate: f64,
    /// Regression loop: (time, correction) every few seconds, to find the
    /// correction at the time a sample was taken.
    correction_log: VecDeque<(f64, f64)>,
}

impl ClockDiscipline {
    /// A discipline with the given parameters. `stored_frequency_ppm` is the
    /// frequency read from the frequency file, if there is one; with it (or
    /// with `tinker freq`) the discipline starts in FSET state and skips the
    /// frequency training, otherwise in NSET state.
    pub fn new(config: DisciplineConfig, stored_frequency_ppm: Option<f64>) -> Self {
        let initial = config
            .frequency_ppm
            .or(stored_frequency_ppm)
            .filter(|f| f.is_finite());
        let (min_poll, _) = config.poll_bounds();
        let jitter = 2f64.powi(i32::from(config.precision));
        Self {
            state: if initial.is_some() {
                ClockState::Fset
            } else {
                ClockState::Nset
            },
            offset: 0.0,
            last: 0.0,
            freq: initial.map_or(0.0, |f| (f * 1e-6).clamp(-MAXFREQ, MAXFREQ)),
            jitter,
            wander: 0.0,
            count: 0,
            poll: min_poll,
            update_time: None,
            adjust_time: None,
            hold: 0.0,
            allow_panic: config.allow_panic_once,
            peer_bounds: None,
            regression: OffsetRegression::new(jitter),
            anchor: None,
            correction: 0.0,
            rate: initial.map_or(0.0, |f| (f * 1e-6).clamp(-MAXFREQ, MAXFREQ)),
            correction_log: VecDeque::new(),
            config,
        }
    }

    /// The parameters.
    pub fn config(&self) -> &DisciplineConfig {
        &self.config
    }

    /// The state of the state machine.
    pub fn state(&self) -> ClockState {
        self.state
    }

    /// The frequency correction, s/s (positive: the clock is sped up).
    pub fn frequency(&self) -> f64 {
        self.freq
    }

    /// The frequency correction in PPM, as a frequency file records it.
    pub fn frequency_ppm(&self) -> f64 {
        self.freq * 1e6
    }

    /// Whether the frequency is a measured value worth saving in the
    /// frequency file (SYNC or SPIK state).
    pub fn frequency_is_valid(&self) -> bool {
        matches!(self.state, ClockState::Sync | ClockState::Spik)
    }

    /// Whether the clock is synchronised (SYNC or SPIK state).
    pub fn is_synchronized(&self) -> bool {
        self.frequency_is_valid()
    }

    /// The residual offset the clock-adjust process has still to slew, s.
    pub fn residual_offset(&self) -> f64 {
        self.offset
    }

    /// The offset of the last accepted update, seconds.
    pub fn last_offset(&self) -> f64 {
        self.last
    }

    /// The clock jitter (RMS of offset differences), seconds.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The clock wander (RMS of frequency changes), s/s.
    pub fn wander(&self) -> f64 {
        self.wander
    }

    /// The recommended poll exponent (the system poll `s.poll`): the poll
    /// process polls every association at no more than `2^poll` seconds.
    /// It rises while the offsets stay within `PGATE` times the jitter and
    /// falls otherwise, within `minpoll..=maxpoll`.
    pub fn poll_exponent(&self) -> i8 {
        self.poll
    }

    /// The poll-adjust hysteresis counter (`c.count`), for monitoring.
    pub fn poll_counter(&self) -> i32 {
        self.count
    }

    /// Seconds left on the hold timer (the startup interval).
    pub fn hold_remaining(&self) -> f64 {
        self.hold
    }

    /// Whether the `-g` allowance to exceed the panic threshold is unused.
    pub fn panic_allowed(&self) -> bool {
        self.allow_panic
    }

    /// Processes one clock update: the offset produced by the combine
    /// algorithm (server minus local, seconds) for a sample taken at `now`
    /// on the local clock (`local_clock()` of RFC 5905 A.5.5.6).
    ///
    /// When the outcome is [`UpdateOutcome::Stepped`] the caller must step
    /// the clock by that amount; the discipline shifts its own time marks
    /// by the step, so later `now` values are read from the stepped clock.
    pub fn update(&mut self, now: NtpTimestamp, offset: f64) -> Result<Update, DisciplineError> {
        self.update_sample(now, offset, 0.0, 0.0)
    }

    /// [`update`](Self::update) with what the regression loop also uses:
    /// how long ago (seconds, on the local clock) the offset was measured
    /// (a sample may wait a while before it is used), and its round-trip
    /// delay, which weighs it. The RFC 5905 loop ignores both.
    pub fn update_sample(
        &mut self,
        now: NtpTimestamp,
        offset: f64,
        age: f64,
        delay: f64,
    ) -> Result<Update, DisciplineError> {
        if !offset.is_finite() {
            return Err(DisciplineError::InvalidOffset(offset));
        }
        let panic = self.config.panic_threshold;
        if panic > 0.0 && offset.abs() > panic {
            if !self.allow_panic {
                log::error!("offset {offset:.6} s exceeds the panic threshold {panic} s");
                return Err(DisciplineError::Panic {
                    offset,
                    threshold: panic,
                });
            }
            log::warn!("offset {offset:.6} s exceeds the panic threshold; allowed once");
        }
        // The allowance covers the first update only.
        self.allow_panic = false;

        let mu = self
            .update_time
            .map_or(0.0, |t| (now - t).to_seconds_f64().max(0.0));
        let step = self.config.step_threshold;
        let mut freq = 0.0;
        let mut kernel_frequency = None;
        let outcome;

        if step > 0.0 && offset.abs() > step {
            match self.state {
                // In SYNC state the first outlier is ignored.
                ClockState::Sync => {
                    self.state = ClockState::Spik;
                    return Ok(self.result(UpdateOutcome::SpikeSuppressed, None));
                }
                // In FREQ state outliers are ignored until the stepout
                // threshold; then the frequency is computed and the time
                // stepped.
                ClockState::Freq => {
                    if mu < self.config.stepout {
                        return Ok(self.result(UpdateOutcome::Ignored, None));
                    }
                    freq = (offset - self.offset) / mu;
                }
                ClockState::Spik => {
                    if mu < self.config.stepout {
                        return Ok(self.result(UpdateOutcome::SpikeSuppressed, None));
                    }
                }
                ClockState::Nset | ClockState::Fset => {}
            }
            let amount = NtpDuration::from_seconds_f64(offset);
            log::info!("stepping the clock by {amount} s ({} state)", self.state);
            self.shift_time_marks(amount);
            self.correction += offset;
            self.regression.clear();
            self.count = 0;
            self.poll = self.poll_bounds().0;
            outcome = UpdateOutcome::Stepped(amount);
            let stepped_at = now + amount;
            if self.state == ClockState::Nset {
                // No frequency yet: measure it over the stepout interval.
                self.reset(ClockState::Freq, stepped_at, 0.0);
                return Ok(self.result(outcome, None));
            }
            self.reset(ClockState::Sync, stepped_at, 0.0);
            self.hold = self.config.stepout;
        } else if self.uses_regression() {
            // The regression sets the frequency itself; the common code
            // below applies the change (and keeps the wander statistics).
            let before = self.freq;
            self.regression_update(now, offset, age, delay);
            freq = self.freq - before;
            self.freq = before;
            outcome = UpdateOutcome::Slewed;
        } else {
            // Jitter: RMS of exponentially weighted offset differences.
            let floor = 2f64.powi(i32::from(self.config.precision));
            let previous = self.jitter * self.jitter;
            // Capped so that absurd offsets (with the panic check off)
            // cannot overflow the statistics.
            let sample = (offset - self.last).abs().clamp(floor, MAX_JITTER).powi(2);
            self.jitter = (previous + (sample - previous) / AVG).sqrt();

            match self.state {
                // First update without a frequency: start measuring it.
                // The offset is slewed meanwhile; the frequency is not
                // touched.
                ClockState::Nset => {
                    self.reset(ClockState::Freq, now, offset);
                    return Ok(self.result(UpdateOutcome::Ignored, None));
                }
                // First update with the frequency from the file: slew the
                // phase, leave the frequency until the next update.
                ClockState::Fset => {
                    self.reset(ClockState::Sync, now, offset);
                    self.hold = self.config.stepout;
                    kernel_frequency = Some(self.freq);
                }
                // Training: ignore updates until the stepout threshold,
                // then compute the frequency directly.
                ClockState::Freq => {
                    if mu < self.config.stepout {
                        return Ok(self.result(UpdateOutcome::Ignored, None));
                    }
                    freq = (offset - self.offset) / mu;
                    kernel_frequency = Some((self.freq + freq).clamp(-MAXFREQ, MAXFREQ));
                    self.reset(ClockState::Sync, now, offset);
                    self.hold = self.config.stepout;
                }
                // SYNC and SPIK: the PLL/FLL frequency update.
                ClockState::Sync | ClockState::Spik => {
                    if self.config.kernel_active() && offset.abs() < HOLD_OFFSET {
                        // The kernel holds the residual; judge by the offset.
                        self.hold = 0.0;
                    }
                    if self.hold <= 0.0 && !self.config.kernel_active() {
                        let poll_interval = 2f64.powi(i32::from(self.poll));
                        let allan = 2f64.powi(i32::from(self.config.allan_intercept));
                        // FLL: at and above the Allan intercept, with a
                        // gain that grows to 1/AVG as the poll grows.
                        if poll_interval > allan / 2.0 {
                            let gain = (FLL - f64::from(self.poll)).max(AVG);
                            freq += (offset - self.offset) / (mu.max(allan) * gain);
                        }
                        // PLL: the integration interval is the shorter
                        // of the update interval and the Allan intercept
                        // (ntpd 4.2.8; the appendix's shorter of update
                        // and poll intervals starves the loop when the
                        // clock filter yields a sample only every few
                        // polls).
                        let interval = mu.min(allan);
                        let tau = 4.0 * PLL * poll_interval;
                        freq += offset * interval / (tau * tau);
                    }
                    self.reset(ClockState::Sync, now, offset);
                }
            }
            outcome = UpdateOutcome::Slewed;
        }

        // The new frequency and the wander.
        let new_freq = (self.freq + freq).clamp(-MAXFREQ, MAXFREQ);
        let change = new_freq - self.freq;
        self.freq = new_freq;
        let previous = self.wander * self.wander;
        self.wander = (previous + (change * change - previous) / AVG).sqrt();

        self.adjust_poll();

        let kernel = if self.config.kernel_active() && outcome == UpdateOutcome::Slewed {
            // The kernel slews the offset itself; the daemon does not.
            let offset = self.offset;
            self.offset = 0.0;
            let frequency_hold = self.hold > 0.0;
            Some(KernelUpdate {
                offset,
                poll: if frequency_hold { HOLD_POLL } else { self.poll },
                frequency: kernel_frequency,
                frequency_hold,
            })
        } else {
            None
        };
        Ok(self.result(outcome, kernel))
    }

    /// The clock-adjust process (`clock_adjust()` of RFC 5905 A.5.6.1), to
    /// be run once a second with the local clock's time. It returns the
    /// frequency and the share of the residual offset to apply, or `None`
    /// in kernel mode, where the kernel does this itself.
    pub fn clock_adjust(&mut self, now: NtpTimestamp) -> Option<ClockAdjustment> {
        let interval = match self.adjust_time {
            Some(last) => (now - last).to_seconds_f64(),
            None => 1.0,
        };
        self.adjust_time = Some(now);
        let interval = if interval.is_finite() && interval > 0.0 {
            interval.min(3600.0)
        } else {
            0.0
        };

        if self.hold > 0.0 {
            self.hold -= interval;
            // In kernel mode the residual is the kernel's; updates end the
            // hold on small offsets instead.
            let settled = !self.config.kernel_active() && self.offset.abs() < HOLD_OFFSET;
            if settled || self.hold < 0.0 {
                self.hold = 0.0;
            }
        }
        if self.config.kernel_active() {
            return None;
        }
        // What the clock ran at since the last run is now applied.
        self.correction += self.rate * interval;
        self.log_correction(now);

        // The gain is not allowed to fall below the Allan intercept's; while
        // the hold timer runs, the short time constant of poll 2 is used.
        let poll = if self.hold > 0.0 {
            HOLD_POLL
        } else {
            self.poll.min(self.config.allan_intercept)
        };
        let tau = if self.uses_regression() {
            // The regression's offset is an estimate, not one noisy sample:
            // remove it within a fraction of the poll interval.
            (2f64.powi(i32::from(self.poll)) / 4.0).clamp(1.0, 256.0)
        } else {
            PLL * 2f64.powi(i32::from(poll))
        };
        let share = (interval / tau).min(1.0);
        let limit = MAX_SLEW * interval;
        let phase = (self.offset * share).clamp(-limit, limit);
        self.offset -= phase;
        let adjustment = ClockAdjustment {
            frequency: self.freq,
            phase,
            interval: if interval > 0.0 { interval } else { 1.0 },
        };
        self.rate = adjustment.rate();
        Some(adjustment)
    }

    /// Forgets the regression loop's samples, keeping the frequency: the
    /// caller feeds samples of another source from now on, whose offsets
    /// may differ from the last one's by more than the noise.
    pub fn restart_regression(&mut self) {
        self.regression.clear();
    }

    /// Whether the regression loop runs (configured, and no kernel
    /// discipline).
    pub fn uses_regression(&self) -> bool {
        self.config.algorithm == LoopAlgorithm::Regression && !self.config.kernel_active()
    }

    /// Seconds on the regression's time axis.
    fn axis(&mut self, now: NtpTimestamp) -> f64 {
        let anchor = *self.anchor.get_or_insert(now);
        (now - anchor).to_seconds_f64()
    }

    /// Records the correction applied so far, every few seconds.
    fn log_correction(&mut self, now: NtpTimestamp) {
        if !self.uses_regression() || self.anchor.is_none() {
            return;
        }
        let t = self.axis(now);
        if let Some(&(last, _)) = self.correction_log.back()
            && t - last < CORRECTION_LOG_STEP
            && t >= last
        {
            return;
        }
        if self.correction_log.len() == CORRECTION_LOG_LEN {
            self.correction_log.pop_front();
        }
        self.correction_log.push_back((t, self.correction));
    }

    /// The correction applied by time `t` on the regression axis:
    /// interpolated in the log, and between its newest entry and
    /// `(t_now, correction_now)` after it.
    fn correction_at(&self, t: f64, t_now: f64, correction_now: f64) -> f64 {
        let (last_t, last_c) = self
            .correction_log
            .back()
            .copied()
            .unwrap_or((t_now, correction_now));
        if t >= last_t {
            let span = t_now - last_t;
            return if span > 0.0 {
                last_c + (correction_now - last_c) * ((t - last_t) / span).min(1.0)
            } else {
                correction_now
            };
        }
        let index = self.correction_log.partition_point(|&(time, _)| time <= t);
        if index == 0 {
            return self.correction_log.front().map_or(correction_now, |e| e.1);
        }
        let (t0, c0) = self.correction_log[index - 1];
        let (t1, c1) = self.correction_log[index];
        if t1 > t0 {
            c0 + (c1 - c0) * (t - t0) / (t1 - t0)
        } else {
            c0
        }
    }

    /// The regression loop's update (no step): the sample joins the
    /// history, the fit gives the present offset and, once it is precise
    /// enough, the frequency.
    fn regression_update(&mut self, now: NtpTimestamp, offset: f64, age: f64, delay: f64) {
        let t_now = self.axis(now);
        // The correction applied by now, including the interval still
        // running at the current rate.
        let since_adjust = self
            .adjust_time
            .map_or(0.0, |a| (now - a).to_seconds_f64().clamp(0.0, 3600.0));
        let correction_now = self.correction + self.rate * since_adjust;
        let t_sample = t_now - age.max(0.0);
        let correction_then = self.correction_at(t_sample, t_now, correction_now);
        self.regression.push(RegressionSample {
            time: t_sample,
            raw_offset: offset + correction_then,
            delay: delay.max(0.0),
        });
        let floor = 2f64.powi(i32::from(self.config.precision));
        match self.state {
            ClockState::Nset => self.state = ClockState::Freq,
            ClockState::Fset => self.state = ClockState::Sync,
            _ => {}
        }
        let fit = self.regression.fit();
        let mut estimate = offset;
        match fit {
            Some(fit) if fit.samples >= 3 => {
                estimate = fit.value_at(t_now) - correction_now;
                self.jitter = fit.residual_rms.max(floor);
                let precise = fit.samples >= 4 && fit.slope_error < ADOPT_SLOPE_ERROR;
                let trained = self.state == ClockState::Freq && fit.span >= self.config.stepout;
                if precise || trained {
                    self.freq = fit.slope.clamp(-MAXFREQ, MAXFREQ);
                    if self.state == ClockState::Freq {
                        self.state = ClockState::Sync;
                    }
                }
            }
            _ => {
                let previous = self.jitter * self.jitter;
                let sample = (offset - self.last).abs().clamp(floor, MAX_JITTER).powi(2);
                self.jitter = (previous + (sample - previous) / AVG).sqrt();
            }
        }
        self.offset = estimate;
        self.last = offset;
        self.update_time = Some(now);
    }

    /// Tells the discipline that the clock was stepped by `amount` outside
    /// its control (for example by a leap second), so that its time marks
    /// stay consistent with the clock.
    pub fn clock_was_stepped(&mut self, amount: NtpDuration) {
        self.shift_time_marks(amount);
    }

    fn shift_time_marks(&mut self, amount: NtpDuration) {
        if let Some(t) = self.update_time.as_mut() {
            *t += amount;
        }
        if let Some(t) = self.adjust_time.as_mut() {
            *t += amount;
        }
    }

    /// `rstclock()`: enter a state and restart the offset bookkeeping.
    fn reset(&mut self, state: ClockState, now: NtpTimestamp, offset: f64) {
        self.state = state;
        self.offset = offset;
        self.last = offset;
        self.update_time = Some(now);
    }

    /// The poll-interval feedback: lengthen the poll while the offset is
    /// small compared with the jitter, shorten it otherwise.
    /// Bounds the time constant by the system peer's `minpoll` and
    /// `maxpoll` (ntpd 4.2.8 `clock_update()` clamps `sys_poll` to them):
    /// a server polled every 64 s must not be disciplined with the time
    /// constant of a 1024 s poll. `None` lifts the bounds.
    pub fn set_peer_poll_bounds(&mut self, bounds: Option<(i8, i8)>) {
        self.peer_bounds = bounds;
        let (min_poll, max_poll) = self.poll_bounds();
        self.poll = self.poll.clamp(min_poll, max_poll);
    }

    /// The configured poll bounds narrowed to the system peer's.
    fn poll_bounds(&self) -> (i8, i8) {
        let (min, max) = self.config.poll_bounds();
        match self.peer_bounds {
            Some((low, high)) => {
                let max = max.min(high).max(min);
                (min.max(low).min(max), max)
            }
            None => (min, max),
        }
    }

    fn adjust_poll(&mut self) {
        let (min_poll, max_poll) = self.poll_bounds();
        self.poll = self.poll.clamp(min_poll, max_poll);
        if self.last.abs() < PGATE * self.jitter {
            self.count += i32::from(self.poll);
            if self.count > LIMIT {
                self.count = LIMIT;
                if self.poll < max_poll {
                    self.count = 0;
                    self.poll += 1;
                }
            }
        } else {
            self.count -= i32::from(self.poll) << 1;
            if self.count < -LIMIT {
                self.count = -LIMIT;
                if self.poll > min_poll {
                    self.count = 0;
                    self.poll -= 1;
                }
            }
        }
    }

    fn result(&self, outcome: UpdateOutcome, kernel: Option<KernelUpdate>) -> Update {
        Update {
            outcome,
            state: self.state,
            frequency: self.freq,
            poll: self.poll,
            kernel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: u32) -> NtpTimestamp {
        NtpTimestamp::from_seconds_and_fraction(3_900_000_000u32.wrapping_add(seconds), 0)
    }

    #[test]
    fn peer_poll_bounds_clamp_the_time_constant() {
        let mut d = ClockDiscipline::new(DisciplineConfig::default(), Some(0.0));
        d.poll = 10;
        d.set_peer_poll_bounds(Some((6, 6)));
        assert_eq!(d.poll_exponent(), 6);
        for k in 0..50 {
            d.update(t(64 * k), 1e-6).unwrap();
        }
        assert_eq!(d.poll_exponent(), 6);
        d.set_peer_poll_bounds(None);
        for k in 50..200 {
            d.update(t(64 * k), 1e-6).unwrap();
        }
        assert!(d.poll_exponent() > 6);
    }

    #[test]
    fn nset_small_offset_trains_frequency() {
        let mut d = ClockDiscipline::new(DisciplineConfig::default(), None);
        assert_eq!(
            d.update(t(0), 0.01).unwrap().outcome,
            UpdateOutcome::Ignored
        );
        assert_eq!(d.state(), ClockState::Freq);
        assert_eq!(
            d.update(t(64), 0.01).unwrap().outcome,
            UpdateOutcome::Ignored
        );
        // No clock adjust ran: the offset grew by 10 us/s * 320 s.
        let u = d.update(t(320), 0.01 + 320.0 * 10e-6).unwrap();
        assert_eq!(u.state, ClockState::Sync);
        assert!((d.frequency() - 10e-6).abs() < 1e-9, "{}", d.frequency());
    }

    #[test]
    fn panic_refused_unless_allowed_once() {
        let mut d = ClockDiscipline::new(DisciplineConfig::default(), None);
        assert!(matches!(
            d.update(t(0), 2000.0),
            Err(DisciplineError::Panic { .. })
        ));
        let config = DisciplineConfig {
            allow_panic_once: true,
            ..Default::default()
        };
        let mut d = ClockDiscipline::new(config, None);
        let u = d.update(t(0), 2000.0).unwrap();
        assert!(matches!(u.outcome, UpdateOutcome::Stepped(_)));
        assert!(matches!(
            d.update(t(100), 2000.0),
            Err(DisciplineError::Panic { .. })
        ));
    }

    #[test]
    fn non_finite_offsets_are_refused() {
        let mut d = ClockDiscipline::new(DisciplineConfig::default(), None);
        assert!(d.update(t(0), f64::NAN).is_err());
        assert!(d.update(t(0), f64::INFINITY).is_err());
        assert_eq!(d.state(), ClockState::Nset);
    }

    #[test]
    fn kernel_mode_hands_offsets_to_the_kernel() {
        let config = DisciplineConfig {
            kernel: true,
            ..Default::default()
        };
        let mut d = ClockDiscipline::new(config, Some(3.0));
        let u = d.update(t(0), 0.002).unwrap();
        let k = u.kernel.unwrap();
        assert_eq!(k.offset, 0.002);
        assert_eq!(k.frequency, Some(3e-6));
        assert_eq!(d.residual_offset(), 0.0);
        assert_eq!(d.clock_adjust(t(1)), None);
    }
}
