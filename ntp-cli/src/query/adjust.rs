//! `--step` / `--slew`: setting the clock once from the best result, the
//! way `ntpd -q` and `ntpdate` do.
//!
//! The decision is a pure function ([`decide`]) over a small [`Clock`]
//! trait, so tests run it against a simulated clock; [`SystemClock`] is the
//! only code that touches the real clock (`clock_adjtime`), and no test
//! calls it. (`ntp-discipline` will own the shared `Clock` trait; until it
//! has one, this module keeps the few lines it needs.)
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
use std::io;

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
    Failed(io::Error),
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

/// The clock interface the decision needs.
pub trait Clock {
    /// Whether this process may set the clock.
    fn may_adjust(&self) -> bool;
    /// Steps the clock by `offset` seconds at once.
    fn step(&mut self, offset: f64) -> io::Result<()>;
    /// Slews the clock by `offset` seconds gradually.
    fn slew(&mut self, offset: f64) -> io::Result<()>;
}

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

/// Decides and applies the adjustment to `clock`.
pub fn adjust(clock: &mut dyn Clock, policy: Policy, offset: f64) -> Result<Action, Refusal> {
    let action = decide(policy, offset, clock.may_adjust())?;
    match action {
        Action::Step(s) => clock.step(s),
        Action::Slew(s) => clock.slew(s),
    }
    .map_err(Refusal::Failed)?;
    Ok(action)
}

/// The system's realtime clock, adjusted with `clock_adjtime`.
#[derive(Debug, Default)]
pub struct SystemClock;

/// CAP_SYS_TIME's bit in the capability sets.
const CAP_SYS_TIME: u32 = 25;

/// Whether `status` (the text of `/proc/self/status`) shows CAP_SYS_TIME in
/// the effective set.
pub fn has_sys_time(status: &str) -> bool {
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_TIME) != 0)
}

fn clock_adjtime(tx: &mut libc::timex) -> io::Result<()> {
    // SAFETY: `tx` is a valid, initialised timex for the call's duration.
    let rc = unsafe { libc::clock_adjtime(libc::CLOCK_REALTIME, tx) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn zeroed_timex() -> libc::timex {
    // SAFETY: timex is a plain C struct for which all-zero bytes are valid.
    unsafe { std::mem::zeroed() }
}

impl Clock for SystemClock {
    fn may_adjust(&self) -> bool {
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| has_sys_time(&s))
    }

    fn step(&mut self, offset: f64) -> io::Result<()> {
        let nanos = (offset * 1e9).round() as i64;
        let mut tx = zeroed_timex();
        tx.modes = libc::ADJ_SETOFFSET | libc::ADJ_NANO;
        tx.time.tv_sec = nanos.div_euclid(1_000_000_000) as libc::time_t;
        tx.time.tv_usec = nanos.rem_euclid(1_000_000_000) as libc::suseconds_t;
        clock_adjtime(&mut tx)
    }

    fn slew(&mut self, offset: f64) -> io::Result<()> {
        let mut tx = zeroed_timex();
        tx.modes = libc::ADJ_OFFSET_SINGLESHOT;
        tx.offset = (offset * 1e6).round() as libc::c_long;
        clock_adjtime(&mut tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that only records what it is told.
    #[derive(Debug, Default)]
    struct SimulatedClock {
        privileged: bool,
        fail: bool,
        time: f64,
        slewing: f64,
        calls: Vec<Action>,
    }

    impl Clock for SimulatedClock {
        fn may_adjust(&self) -> bool {
            self.privileged
        }
        fn step(&mut self, offset: f64) -> io::Result<()> {
            if self.fail {
                return Err(io::Error::from_raw_os_error(libc::EPERM));
            }
            self.time += offset;
            self.calls.push(Action::Step(offset));
            Ok(())
        }
        fn slew(&mut self, offset: f64) -> io::Result<()> {
            self.slewing += offset;
            self.calls.push(Action::Slew(offset));
            Ok(())
        }
    }

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
        // (policy, offset, privileged) -> Ok(action) or the refusal's text start
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
        let mut clock = SimulatedClock {
            privileged: true,
            ..SimulatedClock::default()
        };
        assert_eq!(adjust(&mut clock, STEP, 2.5).unwrap(), Action::Step(2.5));
        assert_eq!(adjust(&mut clock, STEP, 0.01).unwrap(), Action::Slew(0.01));
        assert_eq!(clock.time, 2.5);
        assert_eq!(clock.slewing, 0.01);
        assert!(adjust(&mut clock, SLEW, 3.0).is_err());
        assert!(adjust(&mut clock, STEP, 3000.0).is_err());
        assert_eq!(clock.calls.len(), 2);

        let mut unprivileged = SimulatedClock::default();
        assert!(matches!(
            adjust(&mut unprivileged, STEP, 1.0),
            Err(Refusal::NoPrivilege)
        ));
        assert!(unprivileged.calls.is_empty());

        let mut failing = SimulatedClock {
            privileged: true,
            fail: true,
            ..SimulatedClock::default()
        };
        let err = adjust(&mut failing, STEP, 1.0).unwrap_err().to_string();
        assert!(err.starts_with("adjusting the clock failed"), "{err}");
    }

    #[test]
    fn capability_parsing() {
        assert!(has_sys_time("Name:\tx\nCapEff:\t000001fffeffffff\n"));
        assert!(!has_sys_time("CapEff:\t000001fffcffffff\n"));
        assert!(!has_sys_time("CapEff:\t0000000000000000\n"));
        assert!(!has_sys_time("no caps here"));
    }
}
