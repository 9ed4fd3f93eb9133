//! The poll exponent: log2 of a poll interval in seconds, within the bounds
//! every association must keep (RFC 5905 section 7.3, "poll").
//!
//! The packet's own poll field stays a raw `i8` (a peer may send anything);
//! inside a node every poll exponent is a [`PollExponent`].

use core::fmt;
use std::time::Duration;

/// A poll exponent between [`PollExponent::MIN`] (3, 8 s) and
/// [`PollExponent::MAX`] (17, 36.4 h).
///
/// ```
/// use ntp_wire::poll::PollExponent;
/// let p = PollExponent::new(6).unwrap();
/// assert_eq!(p.interval().as_secs(), 64);
/// assert_eq!(p.increased().get(), 7);
/// assert_eq!(PollExponent::MAX.increased(), PollExponent::MAX);
/// assert_eq!(PollExponent::clamped(30), PollExponent::MAX);
/// assert!(PollExponent::new(2).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PollExponent(i8);

impl PollExponent {
    /// The smallest poll exponent (8 s).
    pub const MIN: Self = Self(3);
    /// The largest poll exponent (2^17 s).
    pub const MAX: Self = Self(17);

    /// `exponent` if it is within the bounds.
    pub const fn new(exponent: i8) -> Option<Self> {
        if exponent >= Self::MIN.0 && exponent <= Self::MAX.0 {
            Some(Self(exponent))
        } else {
            None
        }
    }

    /// `exponent` brought within the bounds.
    pub const fn clamped(exponent: i8) -> Self {
        if exponent < Self::MIN.0 {
            Self::MIN
        } else if exponent > Self::MAX.0 {
            Self::MAX
        } else {
            Self(exponent)
        }
    }

    /// `exponent` (any integer) brought within the bounds.
    pub const fn clamped_i32(exponent: i32) -> Self {
        if exponent < Self::MIN.0 as i32 {
            Self::MIN
        } else if exponent > Self::MAX.0 as i32 {
            Self::MAX
        } else {
            Self(exponent as i8)
        }
    }

    /// The exponent.
    pub const fn get(self) -> i8 {
        self.0
    }

    /// The poll interval, `2^exponent` seconds.
    pub const fn interval(self) -> Duration {
        Duration::from_secs(1u64 << self.0)
    }

    /// The poll interval in seconds as a float.
    pub const fn seconds(self) -> f64 {
        (1u64 << self.0) as f64
    }

    /// One more, at most [`PollExponent::MAX`].
    #[must_use]
    pub const fn increased(self) -> Self {
        Self::clamped(self.0.saturating_add(1))
    }

    /// One less, at least [`PollExponent::MIN`].
    #[must_use]
    pub const fn decreased(self) -> Self {
        Self::clamped(self.0.saturating_sub(1))
    }

    /// This exponent brought within `[low, high]` (as `Ord::clamp`, but
    /// never panicking: with `low > high`, `low` wins).
    #[must_use]
    pub fn within(self, low: Self, high: Self) -> Self {
        self.min(high).max(low)
    }
}

impl Default for PollExponent {
    /// 6 (64 s), ntpd's default `minpoll`.
    fn default() -> Self {
        Self(6)
    }
}

impl From<PollExponent> for i8 {
    fn from(value: PollExponent) -> i8 {
        value.0
    }
}

impl From<PollExponent> for i32 {
    fn from(value: PollExponent) -> i32 {
        i32::from(value.0)
    }
}

impl fmt::Display for PollExponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_steps() {
        assert_eq!(PollExponent::new(3), Some(PollExponent::MIN));
        assert_eq!(PollExponent::new(17), Some(PollExponent::MAX));
        assert_eq!(PollExponent::new(18), None);
        assert_eq!(PollExponent::new(-1), None);
        assert_eq!(PollExponent::clamped(-100), PollExponent::MIN);
        assert_eq!(PollExponent::clamped_i32(1000), PollExponent::MAX);
        assert_eq!(PollExponent::MIN.decreased(), PollExponent::MIN);
        assert_eq!(
            PollExponent::clamped(10).interval(),
            Duration::from_secs(1024)
        );
        assert_eq!(PollExponent::MAX.seconds(), 131_072.0);
        let (lo, hi) = (PollExponent::clamped(6), PollExponent::clamped(10));
        assert_eq!(PollExponent::clamped(12).within(lo, hi), hi);
        assert_eq!(PollExponent::clamped(4).within(lo, hi), lo);
        assert_eq!(PollExponent::clamped(8).within(hi, lo), hi);
    }
}
