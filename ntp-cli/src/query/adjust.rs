//! `--step` / `--slew`: setting the clock once from the best result, the
//! way `ntpd -q` and `ntpdate` do.
//!
//! The decision is a pure function ([`decide`]); [`adjust`] applies it
//! through `ntp-discipline`'s [`Clock`] trait, so tests run it against the
//! simulated clock; the system clock (`clock_adjtime`) is used only by the
//! command, and no test calls it with the privilege.
//!
//! - `--step`: step the clock when the offset is beyond the step threshold
//!   (128 ms, RFC 5905's STEPT), otherwise slew it (the `ntpd -q` rule);
//! - `--slew`: only slew (as `ntpdate -B`); refused beyond 0.5 s, the
//!   largest offset the kernel slews at once.
//!
//! Both are refused without the privilege to set the clock, and beyond the
//! panic threshold (1000 s, RFC 5905's PANICT) unless `--force` is given
//! (as `ntpd -g`).

use std::fmt;

use ntp_discipline::{Clock, ClockError, SystemClock};
use ntp_wire::time::NtpDuration;

/// RFC 5905 STEPT: offsets beyond this are stepped (seconds).
pub const STEP_THRESHOLD: f64 = 0.128;
/// RFC 5905 PANICT: offsets beyond this are refused unless forced (seconds).
pub const PANIC_THRESHOLD: f64 = 1000.0;
/// The largest offset slewed at once (the kernel's limit for a one-shot
/// `adjtime` slew), seconds.
pub const MAX_SLEW: f64 = 0.5;

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `--step`: step beyond [`STEP_THRESHOLD`], slew below.
    Step,
    /// `--slew`: slew only.
    Slew,
}

/// The adjustment policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// Step or slew.
    pub mode: Mode,
    /// Allow offsets beyond the panic threshold.
    pub force: bool,
}

/// What to do to the clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    /// Step the clock by this many seconds.
    Step(f64),
    /// Slew the clock by this many seconds.
    Slew(f64),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Step(s) => write!(
                f,
                "stepped the clock by {}",
                crate::output::human_seconds(*s)
            ),
            Self::Slew(s) => write!(
                f,
                "slewing the clock by {}",
                crate::output::human_seconds(*s)
            ),
        }
    }
}

/// Why the clock was not adjusted.
#[derive(Debug)]
pub enum Refusal {
    /// The process may not set the clock (no CAP_SYS_TIME).
    NoPrivilege,
    /// The offset is beyond the panic threshold and `--force` was not given.
    BeyondPanic(f64),
    /// `--slew` with an offset too large to slew.
    BeyondSlew(f64),
    /// The offset is not a number.
    NotFinite,
    /// The system refused the adjustment.
    Failed(ClockError),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::output::human_seconds;
        match self {
            Self::NoPrivilege => {
                f.write_str("not adjusting the clock: no privilege to set it (CAP_SYS_TIME)")
            }
            Self::BeyondPanic(s) => write!(
                f,
                "not adjusting the clock: offset {} is beyond the panic threshold of {PANIC_THRESHOLD} s (use --force)",
                human_seconds(*s)
            ),
            Self::BeyondSlew(s) => write!(
                f,
                "not adjusting the clock: offset {} is too large to slew (at most {MAX_SLEW} s; use --step)",
                human_seconds(*s)
            ),
            Self::NotFinite => f.write_str("not adjusting the clock: offset is not a number"),
            Self::Failed(err) => write!(f, "adjusting the clock failed: {err}"),
        }
    }
}

impl std::error::Error for Refusal {}

/// Decides what to do with `offset` (the server's clock minus ours) under
/// `policy`, given whether the process may adjust the clock.
pub fn decide(policy: Policy, offset: f64, privileged: bool) -> Result<Action, Refusal> {
    if !offset.is_finite() {
        return Err(Refusal::NotFinite);
    }
    if !privileged {
        return Err(Refusal::NoPrivilege);
    }
    if offset.abs() > PANIC_THRESHOLD && !policy.force {
        return Err(Refusal::BeyondPanic(offset));
    }
    match policy.mode {
        Mode::Step if offset.abs() > STEP_THRESHOLD => Ok(Action::Step(offset)),
        Mode::Step => Ok(Action::Slew(offset)),
        Mode::Slew if offset.abs() > MAX_SLEW => Err(Refusal::BeyondSlew(offset)),
        Mode::Slew => Ok(Action::Slew(offset)),
    }
}

/// Decides and applies the adjustment to `clock` (`privileged`: whether
/// the process may adjust it, as [`SystemClock::probe`] finds out).
pub fn adjust(
    clock: &mut dyn Clock,
    privileged: bool,
    policy: Policy,
    offset: f64,
) -> Result<Action, Refusal> {
    let action = decide(policy, offset, privileged)?;
    match action {
        Action::Step(s) => clock.step(NtpDuration::from_seconds_f64(s)),
        Action::Slew(s) => clock.slew_once(NtpDuration::from_seconds_f64(s)),
    }
    .map_err(Refusal::Failed)?;
    Ok(action)
}

/// Whether this process may adjust the system clock: a no-op adjustment
/// (the frequency set to the value just read) succeeds.
pub fn may_adjust_system_clock(clock: &SystemClock) -> bool {
    clock.probe().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_discipline::SimulatedClock;
    use ntp_discipline::clock::SimulatedClockConfig;

    const STEP: Policy = Policy {
        mode: Mode::Step,
        force: false,
    };
    const SLEW: Policy = Policy {
        mode: Mode::Slew,
        force: false,
    };

    #[test]
    fn decisions() {
        assert_eq!(decide(STEP, 0.5, true).unwrap(), Action::Step(0.5));
        assert_eq!(decide(STEP, -0.129, true).unwrap(), Action::Step(-0.129));
        assert_eq!(decide(STEP, 0.128, true).unwrap(), Action::Slew(0.128));
        assert_eq!(decide(STEP, -0.002, true).unwrap(), Action::Slew(-0.002));
        assert_eq!(decide(SLEW, 0.3, true).unwrap(), Action::Slew(0.3));
        assert!(matches!(
            decide(SLEW, 0.6, true),
            Err(Refusal::BeyondSlew(_))
        ));
        assert!(matches!(
            decide(STEP, 0.001, false),
            Err(Refusal::NoPrivilege)
        ));
        assert!(matches!(
            decide(SLEW, 0.001, false),
            Err(Refusal::NoPrivilege)
        ));
        assert!(matches!(
            decide(STEP, 1000.5, true),
            Err(Refusal::BeyondPanic(_))
        ));
        assert!(matches!(
            decide(STEP, -5000.0, true),
            Err(Refusal::BeyondPanic(_))
        ));
        let forced = Policy {
            force: true,
            ..STEP
        };
        assert_eq!(
            decide(forced, -5000.0, true).unwrap(),
            Action::Step(-5000.0)
        );
        assert!(matches!(
            decide(STEP, f64::NAN, true),
            Err(Refusal::NotFinite)
        ));
        let text = decide(STEP, 2000.0, true).unwrap_err().to_string();
        assert!(
            text.contains("panic threshold") && text.contains("--force"),
            "{text}"
        );
    }

    #[test]
    fn simulated_clock_is_adjusted_only_when_allowed() {
        let config = SimulatedClockConfig {
            initial_offset: -2.5,
            ..SimulatedClockConfig::default()
        };
        let mut clock = SimulatedClock::new(config);
        assert!((clock.time_error() + 2.5).abs() < 1e-9);
        assert_eq!(
            adjust(&mut clock, true, STEP, 2.5).unwrap(),
            Action::Step(2.5)
        );
        assert!(clock.time_error().abs() < 1e-6, "{}", clock.time_error());
        assert_eq!(clock.steps(), 1);
        assert_eq!(
            adjust(&mut clock, true, STEP, 0.01).unwrap(),
            Action::Slew(0.01)
        );
        assert!((clock.slew_pending() - 0.01).abs() < 1e-9);
        assert!(adjust(&mut clock, true, SLEW, 3.0).is_err());
        assert!(adjust(&mut clock, true, STEP, 3000.0).is_err());
        assert_eq!(clock.steps(), 1);
        assert!(matches!(
            adjust(&mut clock, false, STEP, 1.0),
            Err(Refusal::NoPrivilege)
        ));
        assert_eq!(clock.steps(), 1);
    }
}
