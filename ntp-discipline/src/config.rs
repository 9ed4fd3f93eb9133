//! Discipline parameters and the `tinker` overrides.
//!
//! The defaults are those of the reference implementation (ntpd 4.2.8,
//! `miscopt` page): step threshold 0.128 s, stepout 300 s, panic threshold
//! 1000 s, Allan intercept 2^11 s, dispersion rate 15 PPM. Each can be
//! changed by a `tinker` option ([`Tinker`]), parsed from the keyword and
//! value of the configuration file with [`Tinker::parse`].

use thiserror::Error;

/// Frequency tolerance: the largest frequency correction the discipline
/// makes, in seconds per second (RFC 5905 `MAXFREQ`, 500 PPM).
pub const MAXFREQ: f64 = 500e-6;

/// Default step threshold in seconds (RFC 5905 `STEPT`).
pub const STEP_THRESHOLD: f64 = 0.128;

/// Default stepout threshold in seconds (ntpd 4.2.8; RFC 5905 `WATCH` is 900 s).
pub const STEPOUT_THRESHOLD: f64 = 300.0;

/// Default panic threshold in seconds (RFC 5905 `PANICT`).
pub const PANIC_THRESHOLD: f64 = 1000.0;

/// Default Allan intercept as a power of two of seconds (2048 s).
pub const ALLAN_INTERCEPT: i8 = 11;

/// Default dispersion increase rate in seconds per second (RFC 5905 `PHI`, 15 PPM).
pub use ntp_wire::constants::PHI;

/// Smallest poll exponent the protocol allows (RFC 5905 allows 4, 16 s).
pub const MIN_POLL_LIMIT: i8 = ntp_wire::constants::MINPOLL_LIMIT.get();

/// Largest poll exponent (RFC 5905 `MAXPOLL`, 36.4 h).
pub const MAX_POLL_LIMIT: i8 = ntp_wire::constants::MAXPOLL_LIMIT.get();

/// Default lower poll bound (`minpoll`, 64 s).
pub const DEFAULT_MIN_POLL: i8 = ntp_wire::constants::DEFAULT_MINPOLL.get();

/// Default upper poll bound (`maxpoll`, 1024 s).
pub const DEFAULT_MAX_POLL: i8 = ntp_wire::constants::DEFAULT_MAXPOLL.get();

/// Default clock precision exponent (RFC 5905 `PRECISION`, about 4 us).
pub const DEFAULT_PRECISION: i8 = -18;

/// Parameters of the clock discipline.
///
/// ```
/// use ntp_discipline::config::{DisciplineConfig, Tinker};
///
/// let mut config = DisciplineConfig::default();
/// config.apply(Tinker::parse("step", "0.5")?)?;
/// assert_eq!(config.step_threshold, 0.5);
/// # Ok::<(), ntp_discipline::config::TinkerError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DisciplineConfig {
    /// Step threshold in seconds: larger offsets are stepped (after the
    /// stepout interval); zero disables stepping, so the clock is always
    /// slewed (`tinker step`).
    pub step_threshold: f64,
    /// Stepout threshold in seconds: how long offsets above the step
    /// threshold must persist before a step, and the length of the
    /// frequency-training interval (`tinker stepout`).
    pub stepout: f64,
    /// Panic threshold in seconds: an offset larger than this is refused
    /// (the daemon exits); zero disables the check (`tinker panic`).
    pub panic_threshold: f64,
    /// Allow the first update to exceed the panic threshold, once (the
    /// reference implementation's `-g` option).
    pub allow_panic_once: bool,
    /// Allan intercept as a power of two of seconds: the FLL contributes
    /// at and above this poll exponent (`tinker allan`).
    pub allan_intercept: i8,
    /// Dispersion increase rate in seconds per second, for the system
    /// process's root dispersion (`tinker dispersion`, given in PPM).
    pub dispersion_rate: f64,
    /// Initial frequency in PPM, like a frequency file (`tinker freq`).
    pub frequency_ppm: Option<f64>,
    /// Huff-n'-puff span in seconds (`tinker huffpuff`). Recorded only: the
    /// huff-n'-puff filter is not implemented.
    pub huffpuff: Option<f64>,
    /// Lower bound of the poll exponent (`minpoll`).
    pub min_poll: i8,
    /// Upper bound of the poll exponent (`maxpoll`).
    pub max_poll: i8,
    /// Precision of the system clock as a power of two of seconds; the
    /// floor of the jitter estimate.
    pub precision: i8,
    /// Hand phase updates to the kernel discipline (`enable kernel`)
    /// instead of running the daemon's loop. The kernel discipline is not
    /// used when the step threshold is zero or above 0.5 s.
    pub kernel: bool,
    /// The loop that turns offsets into clock corrections when the kernel
    /// discipline is not used.
    pub algorithm: LoopAlgorithm,
}

/// The daemon loop's algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoopAlgorithm {
    /// RFC 5905's hybrid PLL/FLL with its state machine (Appendix A.5.5.6),
    /// as ntpd runs it.
    #[default]
    Rfc5905,
    /// The same state machine (steps, spikes, panic), but offset and
    /// frequency estimated by a weighted regression over the recent raw
    /// offsets ([`crate::regression`]), as chrony does: it tracks a
    /// wandering oscillator far more closely at long poll intervals.
    Regression,
}

impl LoopAlgorithm {
    /// The name used in the configuration (`rfc5905`, `regression`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rfc5905 => "rfc5905",
            Self::Regression => "regression",
        }
    }

    /// Parses a configuration name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "rfc5905" => Some(Self::Rfc5905),
            "regression" => Some(Self::Regression),
            _ => None,
        }
    }
}

impl Default for DisciplineConfig {
    fn default() -> Self {
        Self {
            step_threshold: STEP_THRESHOLD,
            stepout: STEPOUT_THRESHOLD,
            panic_threshold: PANIC_THRESHOLD,
            allow_panic_once: false,
            allan_intercept: ALLAN_INTERCEPT,
            dispersion_rate: PHI,
            frequency_ppm: None,
            huffpuff: None,
            min_poll: DEFAULT_MIN_POLL,
            max_poll: DEFAULT_MAX_POLL,
            precision: DEFAULT_PRECISION,
            kernel: false,
            algorithm: LoopAlgorithm::Rfc5905,
        }
    }
}

impl DisciplineConfig {
    /// Applies one `tinker` override.
    pub fn apply(&mut self, tinker: Tinker) -> Result<(), TinkerError> {
        match tinker {
            Tinker::Allan(v) => {
                if !(1.0..=f64::from(MAX_POLL_LIMIT) + 5.0).contains(&v) {
                    return Err(TinkerError::OutOfRange {
                        option: "allan",
                        value: v,
                    });
                }
                self.allan_intercept = v.round() as i8;
            }
            Tinker::Dispersion(v) => {
                check_non_negative("dispersion", v)?;
                self.dispersion_rate = v * 1e-6;
            }
            Tinker::Freq(v) => {
                if !v.is_finite() || v.abs() > MAXFREQ * 1e6 {
                    return Err(TinkerError::OutOfRange {
                        option: "freq",
                        value: v,
                    });
                }
                self.frequency_ppm = Some(v);
            }
            Tinker::Huffpuff(v) => {
                check_non_negative("huffpuff", v)?;
                log::warn!("tinker huffpuff {v}: the huff-n'-puff filter is not implemented");
                self.huffpuff = Some(v);
            }
            Tinker::Panic(v) => {
                check_non_negative("panic", v)?;
                self.panic_threshold = v;
            }
            Tinker::Step(v) => {
                check_non_negative("step", v)?;
                self.step_threshold = v;
            }
            Tinker::Stepout(v) => {
                check_non_negative("stepout", v)?;
                self.stepout = v;
            }
        }
        Ok(())
    }

    /// Whether the kernel discipline is in use: requested with `kernel`
    /// and not disabled by a step threshold of zero or above 0.5 s.
    pub fn kernel_active(&self) -> bool {
        self.kernel && self.step_threshold > 0.0 && self.step_threshold <= 0.5
    }

    /// The poll bounds, repaired so that `min <= max` and both lie within
    /// the protocol's limits.
    pub fn poll_bounds(&self) -> (i8, i8) {
        let min = self.min_poll.clamp(MIN_POLL_LIMIT, MAX_POLL_LIMIT);
        let max = self.max_poll.clamp(min, MAX_POLL_LIMIT);
        (min, max)
    }
}

fn check_non_negative(option: &'static str, value: f64) -> Result<(), TinkerError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(TinkerError::OutOfRange { option, value })
    }
}

/// One option of the `tinker` command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tinker {
    /// `allan`: the Allan intercept, log2 seconds.
    Allan(f64),
    /// `dispersion`: the dispersion increase rate, PPM.
    Dispersion(f64),
    /// `freq`: the initial frequency offset, PPM.
    Freq(f64),
    /// `huffpuff`: the huff-n'-puff filter span, seconds (recorded only).
    Huffpuff(f64),
    /// `panic`: the panic threshold, seconds (zero disables).
    Panic(f64),
    /// `step`: the step threshold, seconds (zero disables stepping).
    Step(f64),
    /// `stepout`: the stepout threshold, seconds.
    Stepout(f64),
}

impl Tinker {
    /// Parses one keyword and its value, as written after `tinker`.
    pub fn parse(keyword: &str, value: &str) -> Result<Self, TinkerError> {
        let number: f64 = value.trim().parse().map_err(|_| TinkerError::BadValue {
            option: keyword.to_owned(),
            value: value.to_owned(),
        })?;
        if !number.is_finite() {
            return Err(TinkerError::BadValue {
                option: keyword.to_owned(),
                value: value.to_owned(),
            });
        }
        Ok(match keyword.to_ascii_lowercase().as_str() {
            "allan" => Self::Allan(number),
            "dispersion" => Self::Dispersion(number),
            "freq" => Self::Freq(number),
            "huffpuff" => Self::Huffpuff(number),
            "panic" => Self::Panic(number),
            "step" => Self::Step(number),
            "stepout" => Self::Stepout(number),
            _ => return Err(TinkerError::UnknownOption(keyword.to_owned())),
        })
    }
}

/// A `tinker` option that cannot be applied.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum TinkerError {
    /// The keyword is not a `tinker` option.
    #[error("unknown tinker option {0:?}")]
    UnknownOption(String),
    /// The value is not a number.
    #[error("tinker {option}: {value:?} is not a number")]
    BadValue {
        /// The option keyword.
        option: String,
        /// The text given as value.
        value: String,
    },
    /// The value is outside the option's range.
    #[error("tinker {option}: {value} is out of range")]
    OutOfRange {
        /// The option keyword.
        option: &'static str,
        /// The value given.
        value: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tinker_overrides() {
        let mut c = DisciplineConfig::default();
        for (k, v) in [
            ("step", "0.4"),
            ("stepout", "600"),
            ("panic", "0"),
            ("allan", "12"),
            ("dispersion", "20"),
            ("freq", "-12.5"),
            ("huffpuff", "7200"),
        ] {
            c.apply(Tinker::parse(k, v).unwrap()).unwrap();
        }
        assert_eq!(c.step_threshold, 0.4);
        assert_eq!(c.stepout, 600.0);
        assert_eq!(c.panic_threshold, 0.0);
        assert_eq!(c.allan_intercept, 12);
        assert!((c.dispersion_rate - 20e-6).abs() < 1e-12);
        assert_eq!(c.frequency_ppm, Some(-12.5));
        assert_eq!(c.huffpuff, Some(7200.0));
        assert!(matches!(
            Tinker::parse("bogus", "1"),
            Err(TinkerError::UnknownOption(_))
        ));
        assert!(matches!(
            Tinker::parse("step", "x"),
            Err(TinkerError::BadValue { .. })
        ));
        assert!(c.apply(Tinker::Step(-1.0)).is_err());
        assert!(c.apply(Tinker::Freq(600.0)).is_err());
    }

    #[test]
    fn kernel_discipline_is_disabled_by_large_or_zero_step() {
        let mut c = DisciplineConfig {
            kernel: true,
            ..Default::default()
        };
        assert!(c.kernel_active());
        c.step_threshold = 0.0;
        assert!(!c.kernel_active());
        c.step_threshold = 0.6;
        assert!(!c.kernel_active());
    }
}
