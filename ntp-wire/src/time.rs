//! NTP time values: timestamps, short format, durations and dates.
//!
//! RFC 5905 section 6 defines three formats:
//!
//! - [`NtpTimestamp`]: the 64-bit timestamp, 32 bits of seconds and 32 bits
//!   of fraction, counting from the start of the current era (era 0 began at
//!   1900-01-01T00:00:00Z; era 1 begins at 2036-02-07T06:28:16Z).
//! - [`NtpShort`]: the 32-bit short format, 16 bits of seconds and 16 bits
//!   of fraction, used for root delay and root dispersion.
//! - [`NtpDate`]: the 128-bit date, which carries the era number so that it
//!   names one instant without ambiguity.
//!
//! [`NtpDuration`] is the signed difference of two timestamps, kept in the
//! same 2^-32 s units so that the on-wire arithmetic is exact.
//!
//! [`Uptime`] is the other time of a node: monotonic, from an origin of the
//! caller's choosing, never stepped. Deadlines, ages and every interval
//! between two local events are measured in it; the steppable NTP time scale
//! is used only for what goes on the wire and for dates.
//!
//! A timestamp does not know its era. Converting it to a calendar date
//! ([`NtpTimestamp::to_date`]) needs a *pivot*: the date that is within
//! 2^31 seconds (about 68 years) of the pivot is chosen. With the current
//! time as pivot, timestamps written after the 2036 rollover are read
//! correctly.
//!
//! Dates convert to and from `SystemTime` and Unix time, and print as
//! RFC 3339 text ([`NtpDate::to_rfc3339`]), with no calendar library.
//! Conversions to and from chrono's `DateTime<Utc>` (`from_datetime`,
//! `to_datetime`) need the `chrono` feature, on by default.
//!
//! ```
//! use ntp_wire::time::{NtpDate, NtpTimestamp};
//!
//! // The last second of era 0 and the first second of era 1.
//! let before = NtpTimestamp::from_seconds_and_fraction(u32::MAX, 0);
//! let after = NtpTimestamp::from_seconds_and_fraction(1, 0);
//! assert_eq!((after - before).to_seconds_f64(), 2.0);
//!
//! // Read near 2036, the small value belongs to era 1.
//! let pivot = NtpDate::from_era_parts(0, u32::MAX - 10, 0);
//! let date = after.to_date(pivot);
//! assert_eq!(date.era(), 1);
//! assert_eq!(date.to_rfc3339(), "2036-02-07T06:28:17.000000000Z");
//! ```

use core::fmt;
use core::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "chrono")]
use chrono::{DateTime, Utc};

/// Seconds from the NTP prime epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const UNIX_EPOCH_NTP_SECONDS: u32 = 2_208_988_800;

/// 2^32 as a float, the number of fraction units in one second.
const FRACTION_PER_SECOND: f64 = 4_294_967_296.0;

/// A 64-bit NTP timestamp: seconds and fraction of a second within an era.
///
/// Timestamps compare for equality only; their order is meaningful only
/// through their difference (`a - b` is an [`NtpDuration`] that is right
/// whenever the two are within 68 years of each other, across era
/// boundaries too).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NtpTimestamp(u64);

impl NtpTimestamp {
    /// The zero timestamp, which NTP uses to mean "unknown" or "not set".
    pub const ZERO: Self = Self(0);

    /// A timestamp from its 64-bit wire value.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The 64-bit wire value.
    pub const fn to_bits(self) -> u64 {
        self.0
    }

    /// A timestamp from whole seconds since the era start and a 2^-32 s fraction.
    pub const fn from_seconds_and_fraction(seconds: u32, fraction: u32) -> Self {
        Self(((seconds as u64) << 32) | fraction as u64)
    }

    /// Whole seconds since the start of the era.
    pub const fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// Fraction of a second in units of 2^-32 s.
    pub const fn fraction(self) -> u32 {
        self.0 as u32
    }

    /// Whether this is the zero timestamp ("not set").
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The timestamp of a `SystemTime` (the era is dropped).
    pub fn from_system_time(time: SystemTime) -> Self {
        NtpDate::from_system_time(time).to_timestamp()
    }

    /// The timestamp of a chrono UTC date-time (the era is dropped).
    #[cfg(feature = "chrono")]
    pub fn from_datetime(time: DateTime<Utc>) -> Self {
        NtpDate::from_datetime(time).to_timestamp()
    }

    /// The timestamp of a Unix time given as seconds and nanoseconds, as read
    /// from `clock_gettime` (the era is dropped). `nanos` may exceed a
    /// second; it is carried.
    pub fn from_unix(seconds: i64, nanos: u32) -> Self {
        NtpDate::from_unix(seconds, nanos).to_timestamp()
    }

    /// The date of this timestamp in the era that puts it within 2^31 s
    /// (about 68 years) of `pivot`.
    pub fn to_date(self, pivot: NtpDate) -> NtpDate {
        pivot + (self - pivot.to_timestamp())
    }

    /// The UTC date-time of this timestamp, with the era chosen by `pivot`.
    #[cfg(feature = "chrono")]
    pub fn to_datetime(self, pivot: NtpDate) -> Option<DateTime<Utc>> {
        self.to_date(pivot).to_datetime()
    }

    /// The `SystemTime` of this timestamp, with the era chosen by `pivot`.
    pub fn to_system_time(self, pivot: NtpDate) -> Option<SystemTime> {
        self.to_date(pivot).to_system_time()
    }
}

impl fmt::Debug for NtpTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NtpTimestamp({:08x}.{:08x})",
            self.seconds(),
            self.fraction()
        )
    }
}

/// The reference implementation's hexadecimal form, `seconds.fraction`
/// (for example `cfba1ce0.80000000`).
impl fmt::Display for NtpTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}.{:08x}", self.seconds(), self.fraction())
    }
}

impl Sub for NtpTimestamp {
    type Output = NtpDuration;

    /// The signed difference, exact to 2^-32 s, correct across era
    /// boundaries as long as the two are within 68 years of each other.
    fn sub(self, rhs: Self) -> NtpDuration {
        NtpDuration(self.0.wrapping_sub(rhs.0) as i64)
    }
}

impl Add<NtpDuration> for NtpTimestamp {
    type Output = NtpTimestamp;

    fn add(self, rhs: NtpDuration) -> NtpTimestamp {
        NtpTimestamp(self.0.wrapping_add(rhs.0 as u64))
    }
}

impl AddAssign<NtpDuration> for NtpTimestamp {
    fn add_assign(&mut self, rhs: NtpDuration) {
        *self = *self + rhs;
    }
}

impl Sub<NtpDuration> for NtpTimestamp {
    type Output = NtpTimestamp;

    fn sub(self, rhs: NtpDuration) -> NtpTimestamp {
        NtpTimestamp(self.0.wrapping_sub(rhs.0 as u64))
    }
}

impl SubAssign<NtpDuration> for NtpTimestamp {
    fn sub_assign(&mut self, rhs: NtpDuration) {
        *self = *self - rhs;
    }
}

/// A signed time interval in units of 2^-32 s (a signed 32.32 fixed-point
/// number of seconds), the type of timestamp differences.
///
/// Addition and subtraction are exact and saturate at the ends of the range
/// (about +/-68 years) instead of wrapping.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtpDuration(i64);

impl NtpDuration {
    /// Zero length.
    pub const ZERO: Self = Self(0);
    /// The longest representable interval, about 68 years.
    pub const MAX: Self = Self(i64::MAX);
    /// The most negative representable interval.
    pub const MIN: Self = Self(i64::MIN);
    /// One second.
    pub const ONE_SECOND: Self = Self(1 << 32);

    /// An interval from its raw value in units of 2^-32 s.
    pub const fn from_bits(bits: i64) -> Self {
        Self(bits)
    }

    /// The raw value in units of 2^-32 s.
    pub const fn to_bits(self) -> i64 {
        self.0
    }

    /// Whole seconds (saturating beyond +/-2^31 s).
    pub const fn from_seconds(seconds: i64) -> Self {
        if seconds >= 1 << 31 {
            Self::MAX
        } else if seconds < -(1 << 31) {
            Self::MIN
        } else {
            Self(seconds << 32)
        }
    }

    /// Seconds as a float, rounded to the nearest 2^-32 s; saturating, and
    /// NaN gives zero.
    pub fn from_seconds_f64(seconds: f64) -> Self {
        // `as` from float to integer saturates and maps NaN to 0.
        Self((seconds * FRACTION_PER_SECOND).round() as i64)
    }

    /// An interval of `nanos` nanoseconds, rounded to the nearest 2^-32 s.
    pub const fn from_nanos(nanos: i64) -> Self {
        let scaled = (nanos as i128) << 32;
        let rounded = if scaled >= 0 {
            (scaled + 500_000_000) / 1_000_000_000
        } else {
            (scaled - 500_000_000) / 1_000_000_000
        };
        Self(clamp_i128(rounded))
    }

    /// The interval in seconds as a float, for the algorithms.
    pub fn to_seconds_f64(self) -> f64 {
        self.0 as f64 / FRACTION_PER_SECOND
    }

    /// The interval in nanoseconds, rounded to nearest.
    pub const fn to_nanos(self) -> i64 {
        let scaled = self.0 as i128 * 1_000_000_000;
        let half = 1i128 << 31;
        let rounded = if scaled >= 0 {
            (scaled + half) >> 32
        } else {
            -((-scaled + half) >> 32)
        };
        rounded as i64
    }

    /// The absolute value (saturating: `MIN.abs()` is `MAX`).
    pub const fn abs(self) -> Self {
        Self(self.0.saturating_abs())
    }

    /// Whether the interval is negative.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Multiplication by an integer, saturating.
    pub const fn saturating_mul(self, factor: i64) -> Self {
        Self(self.0.saturating_mul(factor))
    }

    /// Division by a non-zero integer, rounding toward zero; `None` if
    /// `divisor` is zero.
    pub const fn checked_div(self, divisor: i64) -> Option<Self> {
        match self.0.checked_div(divisor) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// Half the interval, rounding toward negative infinity (the on-wire
    /// offset is a halved sum).
    pub const fn halved(self) -> Self {
        Self(self.0 >> 1)
    }

    /// The interval as a `std::time::Duration` if it is not negative.
    pub fn to_std(self) -> Option<Duration> {
        if self.0 < 0 {
            return None;
        }
        let secs = (self.0 as u64) >> 32;
        let frac = self.0 as u64 & 0xffff_ffff;
        let nanos = ((frac as u128 * 1_000_000_000 + (1 << 31)) >> 32) as u64;
        Some(Duration::from_secs(secs) + Duration::from_nanos(nanos))
    }

    /// A non-negative interval from a `std::time::Duration` (saturating).
    pub fn from_std(duration: Duration) -> Self {
        let nanos = i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
        Self::from_nanos(nanos)
    }
}

const fn clamp_i128(v: i128) -> i64 {
    if v > i64::MAX as i128 {
        i64::MAX
    } else if v < i64::MIN as i128 {
        i64::MIN
    } else {
        v as i64
    }
}

impl fmt::Debug for NtpDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtpDuration({:.9} s)", self.to_seconds_f64())
    }
}

/// Seconds with nine decimals, e.g. `-0.000123457`.
impl fmt::Display for NtpDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.to_nanos();
        let sign = if nanos < 0 { "-" } else { "" };
        let abs = nanos.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:09}",
            abs / 1_000_000_000,
            abs % 1_000_000_000
        )
    }
}

impl Add for NtpDuration {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for NtpDuration {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl Sub for NtpDuration {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }
}

impl SubAssign for NtpDuration {
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl Neg for NtpDuration {
    type Output = Self;
    fn neg(self) -> Self {
        Self(self.0.saturating_neg())
    }
}

/// The 32-bit NTP short format: unsigned 16.16 fixed-point seconds, used
/// for root delay and root dispersion.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtpShort(u32);

impl NtpShort {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// The largest value, just under 65536 s.
    pub const MAX: Self = Self(u32::MAX);

    /// A value from its 32-bit wire form.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The 32-bit wire form.
    pub const fn to_bits(self) -> u32 {
        self.0
    }

    /// Seconds as a float, rounded to the nearest 2^-16 s and saturating
    /// at zero and at [`NtpShort::MAX`].
    pub fn from_seconds_f64(seconds: f64) -> Self {
        Self((seconds * 65_536.0).round() as u32)
    }

    /// The value in seconds.
    pub fn to_seconds_f64(self) -> f64 {
        self.0 as f64 / 65_536.0
    }

    /// The exact value as a duration.
    pub const fn to_duration(self) -> NtpDuration {
        NtpDuration((self.0 as i64) << 16)
    }

    /// A duration rounded up to the next 2^-16 s (so that a bound such as a
    /// dispersion is never understated), saturating at zero and at
    /// [`NtpShort::MAX`].
    pub const fn from_duration(duration: NtpDuration) -> Self {
        if duration.0 <= 0 {
            return Self(0);
        }
        let units = (duration.0 as u64).div_ceil(1 << 16);
        if units > u32::MAX as u64 {
            Self(u32::MAX)
        } else {
            Self(units as u32)
        }
    }
}

impl fmt::Debug for NtpShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtpShort({:.6} s)", self.to_seconds_f64())
    }
}

/// An NTP date (RFC 5905 figure 3): era number, seconds within the era and
/// fraction. It names one instant without ambiguity from 1900 - 2^31 eras to
/// far beyond 2036.
///
/// Dates order chronologically.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtpDate {
    /// Seconds since 1900-01-01T00:00:00Z (era * 2^32 + era offset).
    seconds: i64,
    /// Fraction of a second in units of 2^-32 s.
    fraction: u32,
}

impl NtpDate {
    /// The NTP prime epoch, 1900-01-01T00:00:00Z (era 0, offset 0).
    pub const PRIME_EPOCH: Self = Self {
        seconds: 0,
        fraction: 0,
    };

    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Self = Self {
        seconds: UNIX_EPOCH_NTP_SECONDS as i64,
        fraction: 0,
    };

    /// A date from its era number, seconds within the era and fraction.
    pub const fn from_era_parts(era: i32, era_offset: u32, fraction: u32) -> Self {
        Self {
            seconds: ((era as i64) << 32) | era_offset as i64,
            fraction,
        }
    }

    /// A date from signed seconds since 1900-01-01 and a fraction.
    pub const fn from_ntp_seconds(seconds: i64, fraction: u32) -> Self {
        Self { seconds, fraction }
    }

    /// The era number (0 for 1900-2036, 1 for 2036-2172, negative before 1900).
    pub const fn era(self) -> i32 {
        (self.seconds >> 32) as i32
    }

    /// Seconds since the start of the era (the timestamp's seconds field).
    pub const fn era_offset(self) -> u32 {
        self.seconds as u32
    }

    /// Signed seconds since 1900-01-01T00:00:00Z.
    pub const fn ntp_seconds(self) -> i64 {
        self.seconds
    }

    /// Fraction of a second in units of 2^-32 s.
    pub const fn fraction(self) -> u32 {
        self.fraction
    }

    /// The 64-bit timestamp of this date (the era is dropped).
    pub const fn to_timestamp(self) -> NtpTimestamp {
        NtpTimestamp::from_seconds_and_fraction(self.era_offset(), self.fraction)
    }

    /// The date of a Unix time given as seconds and nanoseconds (nanoseconds
    /// beyond a second are carried).
    pub fn from_unix(seconds: i64, nanos: u32) -> Self {
        let carry = i64::from(nanos / 1_000_000_000);
        let nanos = nanos % 1_000_000_000;
        Self {
            seconds: seconds
                .saturating_add(carry)
                .saturating_add(i64::from(UNIX_EPOCH_NTP_SECONDS)),
            fraction: nanos_to_fraction(nanos),
        }
    }

    /// Unix seconds and nanoseconds (nanoseconds rounded to nearest, always
    /// below one second).
    /// Saturates at the ends of `i64`, which only dates of the first and
    /// last eras `from_era_parts` can name reach.
    pub fn to_unix(self) -> (i64, u32) {
        let mut seconds = self
            .seconds
            .saturating_sub(i64::from(UNIX_EPOCH_NTP_SECONDS));
        let mut nanos = fraction_to_nanos(self.fraction);
        if nanos >= 1_000_000_000 {
            nanos -= 1_000_000_000;
            seconds = seconds.saturating_add(1);
        }
        (seconds, nanos)
    }

    /// The date of a `SystemTime`.
    pub fn from_system_time(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self::from_unix(
                i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                after.subsec_nanos(),
            ),
            Err(before) => {
                let before = before.duration();
                let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                let nanos = before.subsec_nanos();
                if nanos == 0 {
                    Self::from_unix(-secs, 0)
                } else {
                    Self::from_unix(-secs - 1, 1_000_000_000 - nanos)
                }
            }
        }
    }

    /// The `SystemTime` of this date, if the platform can represent it.
    pub fn to_system_time(self) -> Option<SystemTime> {
        let (seconds, nanos) = self.to_unix();
        if seconds >= 0 {
            UNIX_EPOCH.checked_add(Duration::new(seconds.unsigned_abs(), nanos))
        } else {
            UNIX_EPOCH
                .checked_sub(Duration::from_secs(seconds.unsigned_abs()))?
                .checked_add(Duration::from_nanos(u64::from(nanos)))
        }
    }

    /// The date of a chrono UTC date-time.
    #[cfg(feature = "chrono")]
    pub fn from_datetime(time: DateTime<Utc>) -> Self {
        Self::from_unix(time.timestamp(), time.timestamp_subsec_nanos())
    }

    /// The chrono UTC date-time of this date, if chrono can represent it.
    #[cfg(feature = "chrono")]
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        let (seconds, nanos) = self.to_unix();
        DateTime::from_timestamp(seconds, nanos)
    }

    /// RFC 3339 text in UTC with nanoseconds (rounded to nearest), e.g.
    /// `2010-06-09T14:00:00.500000000Z`, in the proleptic Gregorian calendar.
    /// Years outside 0000 to 9999, which RFC 3339 cannot write, take a sign
    /// and as many digits as they need (ISO 8601's expanded form, e.g.
    /// `+10000-01-01T00:00:00.000000000Z`), as chrono writes them.
    pub fn to_rfc3339(self) -> String {
        let mut seconds = i128::from(self.seconds);
        let mut nanos = fraction_to_nanos(self.fraction);
        if nanos >= 1_000_000_000 {
            nanos -= 1_000_000_000;
            seconds += 1;
        }
        let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
        let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let (hour, minute, second) = (
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60,
        );
        let year = if (0..=9999).contains(&year) {
            format!("{year:04}")
        } else {
            format!("{year:+05}")
        };
        format!("{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{nanos:09}Z")
    }
}

impl fmt::Debug for NtpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NtpDate(era {}, {:08x}.{:08x}, {})",
            self.era(),
            self.era_offset(),
            self.fraction,
            self.to_rfc3339()
        )
    }
}

impl Add<NtpDuration> for NtpDate {
    type Output = NtpDate;

    fn add(self, rhs: NtpDuration) -> NtpDate {
        let total = ((self.seconds as i128) << 32) + self.fraction as i128 + rhs.0 as i128;
        NtpDate {
            seconds: (total >> 32) as i64,
            fraction: total as u32,
        }
    }
}

impl Sub for NtpDate {
    type Output = NtpDuration;

    /// The difference, saturating beyond +/-68 years.
    fn sub(self, rhs: Self) -> NtpDuration {
        let a = ((self.seconds as i128) << 32) + self.fraction as i128;
        let b = ((rhs.seconds as i128) << 32) + rhs.fraction as i128;
        NtpDuration(clamp_i128(a - b))
    }
}

const SECONDS_PER_DAY: i128 = 86_400;

/// Days from 0000-03-01 to 1900-01-01 in the proleptic Gregorian calendar.
const DAYS_FROM_0000_03_01_TO_PRIME_EPOCH: i128 = 693_901;

/// The proleptic Gregorian (year, month, day) of a day counted from
/// 1900-01-01 (day 0).
///
/// Counted from 0000-03-01, the calendar repeats every 400 years
/// (146,097 days), and a year that starts in March puts the leap day at the
/// end of the year: within a 400-year cycle the year and the day of the year
/// follow from the lengths of years, centuries and 4-year cycles, and the
/// month from the five-month rhythm 31, 30, 31, 30, 31 of March to July and
/// August to December (153 days each).
const fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let days = days + DAYS_FROM_0000_03_01_TO_PRIME_EPOCH;
    let cycle = days.div_euclid(146_097);
    let day_of_cycle = days.rem_euclid(146_097); // 0..=146_096
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365; // 0..=399
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100); // 0..=365
    let month_from_march = (5 * day_of_year + 2) / 153; // 0..=11, 0 is March
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let (month, year_carry) = if month_from_march < 10 {
        (month_from_march + 3, 0)
    } else {
        (month_from_march - 9, 1)
    };
    (cycle * 400 + year_of_cycle + year_carry, month as u32, day)
}

/// Nanoseconds (below one second) to a 2^-32 s fraction, rounded to nearest.
pub const fn nanos_to_fraction(nanos: u32) -> u32 {
    let v = ((nanos as u64) << 32).saturating_add(500_000_000) / 1_000_000_000;
    if v > u32::MAX as u64 {
        u32::MAX
    } else {
        v as u32
    }
}

/// A 2^-32 s fraction to nanoseconds, rounded to nearest (may be
/// 1,000,000,000 for fractions just under one second).
pub const fn fraction_to_nanos(fraction: u32) -> u32 {
    ((fraction as u64 * 1_000_000_000 + (1 << 31)) >> 32) as u32
}

/// Microseconds (below one second) to a 2^-32 s fraction, rounded to nearest.
pub const fn micros_to_fraction(micros: u32) -> u32 {
    let v = ((micros as u64) << 32).saturating_add(500_000) / 1_000_000;
    if v > u32::MAX as u64 {
        u32::MAX
    } else {
        v as u32
    }
}

/// A 2^-32 s fraction to microseconds, rounded to nearest.
pub const fn fraction_to_micros(fraction: u32) -> u32 {
    ((fraction as u64 * 1_000_000 + (1 << 31)) >> 32) as u32
}

/// The era pivot of a node: an NTP timestamp carries no era, and is read as
/// the date within 68 years of this one (the start of era 1, 2036-02-07), so
/// timestamps from 1968 to 2104 read correctly without a calendar. Where a
/// better guess of the date exists (`ntpctl decode --era-pivot`, the build
/// date), pass that instead.
pub const ERA_PIVOT: NtpDate = NtpDate::from_era_parts(1, 0, 0);

impl NtpTimestamp {
    /// The date of this timestamp near [`ERA_PIVOT`].
    pub fn to_pivot_date(self) -> NtpDate {
        self.to_date(ERA_PIVOT)
    }
}

/// Monotonic time as the caller measures it, from an origin of its
/// choosing (typically the start of the node). Deadlines are expressed in
/// it; it is never the NTP clock, which can be stepped.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uptime(Duration);

impl Uptime {
    /// The origin.
    pub const ZERO: Self = Self(Duration::ZERO);
    /// Far in the future: the deadline of a timer that is not running.
    pub const NEVER: Self = Self(Duration::MAX);

    /// The time `since_origin` after the origin.
    pub const fn new(since_origin: Duration) -> Self {
        Self(since_origin)
    }

    /// Whole seconds after the origin.
    pub const fn from_secs(seconds: u64) -> Self {
        Self(Duration::from_secs(seconds))
    }

    /// Milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Self {
        Self(Duration::from_millis(millis))
    }

    /// The time since the origin.
    pub const fn since_origin(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Uptime) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Debug for Uptime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Seconds with three decimals, e.g. `66.125s`.
impl fmt::Display for Uptime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::NEVER {
            return f.write_str("never");
        }
        write!(f, "{}.{:03}s", self.0.as_secs(), self.0.subsec_millis())
    }
}

impl Add<Duration> for Uptime {
    type Output = Uptime;
    fn add(self, rhs: Duration) -> Uptime {
        Uptime(self.0.saturating_add(rhs))
    }
}

impl Sub<Duration> for Uptime {
    type Output = Uptime;
    fn sub(self, rhs: Duration) -> Uptime {
        Uptime(self.0.saturating_sub(rhs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difference_across_era_boundary() {
        let a = NtpTimestamp::from_seconds_and_fraction(u32::MAX, 0x8000_0000);
        let b = NtpTimestamp::from_seconds_and_fraction(0, 0x8000_0000);
        assert_eq!((b - a).to_seconds_f64(), 1.0);
        assert_eq!((a - b).to_seconds_f64(), -1.0);
        assert_eq!(a + NtpDuration::ONE_SECOND, b);
    }

    #[test]
    fn duration_conversions() {
        let d = NtpDuration::from_seconds_f64(-1.5);
        assert_eq!(d.to_bits(), -(3i64 << 31));
        assert_eq!(d.to_nanos(), -1_500_000_000);
        assert_eq!(d.to_string(), "-1.500000000");
        assert_eq!(NtpDuration::from_nanos(1).to_nanos(), 1);
        assert_eq!(NtpDuration::from_nanos(-7).to_nanos(), -7);
        assert_eq!(NtpDuration::from_seconds_f64(f64::NAN), NtpDuration::ZERO);
        assert_eq!(NtpDuration::from_seconds_f64(1e300), NtpDuration::MAX);
        assert_eq!(NtpDuration::MIN.abs(), NtpDuration::MAX);
        assert_eq!(NtpDuration::from_seconds(1 << 40), NtpDuration::MAX);
        assert_eq!(
            NtpDuration::from_std(Duration::from_millis(250)).to_bits(),
            1 << 30
        );
        assert_eq!(
            NtpDuration::from_bits(1 << 30).to_std(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(NtpDuration::from_seconds(-1).to_std(), None);
    }

    #[test]
    fn short_format() {
        let s = NtpShort::from_bits(0x0001_8000);
        assert_eq!(s.to_seconds_f64(), 1.5);
        assert_eq!(NtpShort::from_duration(s.to_duration()), s);
        // Rounded up, never understated.
        assert_eq!(
            NtpShort::from_duration(NtpDuration::from_bits(1)).to_bits(),
            1
        );
        assert_eq!(
            NtpShort::from_duration(-NtpDuration::ONE_SECOND).to_bits(),
            0
        );
        assert_eq!(NtpShort::from_duration(NtpDuration::MAX), NtpShort::MAX);
        assert_eq!(NtpShort::from_seconds_f64(-3.0), NtpShort::ZERO);
    }

    #[test]
    fn dates_before_the_unix_epoch() {
        let t = UNIX_EPOCH - Duration::from_millis(1500);
        let d = NtpDate::from_system_time(t);
        assert_eq!(d.to_unix(), (-2, 500_000_000));
        assert_eq!(d.to_system_time(), Some(t));
    }

    #[test]
    fn civil_dates_of_day_numbers() {
        // (days since 1900-01-01, year, month, day)
        let table = [
            (0, 1900, 1, 1),
            (58, 1900, 2, 28),
            (59, 1900, 3, 1), // 1900 is not a leap year
            (25_567, 1970, 1, 1),
            (36_523, 1999, 12, 31),
            (36_583, 2000, 2, 29), // 2000 is
            (36_584, 2000, 3, 1),
            (49_710, 2036, 2, 7),
            (-1, 1899, 12, 31),
            (-693_901, 0, 3, 1),
            (-693_902, 0, 2, 29), // year 0 (1 BC) is a leap year
            (-693_961, 0, 1, 1),
            (-693_962, -1, 12, 31),
            (2_958_463, 9999, 12, 31),
            (2_958_464, 10000, 1, 1),
        ];
        for (days, year, month, day) in table {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
        }
    }

    #[test]
    fn rfc3339_text() {
        let table = [
            (NtpDate::PRIME_EPOCH, "1900-01-01T00:00:00.000000000Z"),
            (NtpDate::UNIX_EPOCH, "1970-01-01T00:00:00.000000000Z"),
            (ERA_PIVOT, "2036-02-07T06:28:16.000000000Z"),
            (
                NtpDate::from_ntp_seconds(3_485_080_800, 0x8000_0000),
                "2010-06-09T14:00:00.500000000Z",
            ),
            // A fraction just under a second rounds up into the next day.
            (
                NtpDate::from_ntp_seconds(86_399, u32::MAX),
                "1900-01-02T00:00:00.000000000Z",
            ),
            (
                NtpDate::from_ntp_seconds(-1, 0),
                "1899-12-31T23:59:59.000000000Z",
            ),
            (
                NtpDate::from_ntp_seconds(-59_958_230_401, 0),
                "-0001-12-31T23:59:59.000000000Z",
            ),
            (
                NtpDate::from_ntp_seconds(255_611_289_600, 0),
                "+10000-01-01T00:00:00.000000000Z",
            ),
        ];
        for (date, text) in table {
            assert_eq!(date.to_rfc3339(), text);
        }
        // The ends of the range print too.
        for era in [i32::MIN, i32::MAX] {
            for offset in [0, u32::MAX] {
                let text = NtpDate::from_era_parts(era, offset, u32::MAX).to_rfc3339();
                assert!(text.ends_with('Z'), "{text}");
            }
        }
        assert_eq!(
            NtpDate::from_era_parts(i32::MIN, 0, 0).to_unix().0,
            i64::MIN
        );
    }

    #[test]
    fn fraction_round_trip_is_exact_for_nanoseconds() {
        for nanos in [0, 1, 2, 499_999_999, 500_000_000, 999_999_999] {
            assert_eq!(fraction_to_nanos(nanos_to_fraction(nanos)), nanos);
        }
    }
}
