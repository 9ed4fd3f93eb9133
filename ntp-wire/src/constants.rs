//! The constants of RFC 5905 (figure 6 and Appendix A.1.1) that more than one
//! process uses, defined once for the whole workspace.
//!
//! Durations are given both as [`NtpDuration`] (exact fixed point, for the
//! peer process) and, where the algorithms work in floating point, as `f64`
//! seconds.

use crate::poll::PollExponent;
use crate::time::NtpDuration;

/// PHI, the frequency tolerance: the rate at which dispersion grows, 15 PPM
/// (seconds per second).
pub const PHI: f64 = 15e-6;

/// MAXDISP, the maximum dispersion: 16 s (the dispersion of an empty clock
/// filter stage).
pub const MAXDISP: NtpDuration = NtpDuration::from_seconds(16);

/// MINDISP, the minimum dispersion increment of a sample: 0.005 s (ntpd
/// 4.2.8; the RFC's skeleton has 0.01 s).
pub const MINDISP: NtpDuration = NtpDuration::from_bits(0x0147_AE14);

/// MAXDIST, the distance threshold: a source whose root distance exceeds
/// `MAXDIST + PHI * 2^poll` is unfit (1.5 s; `tos maxdist` changes it).
pub const MAXDIST: NtpDuration = NtpDuration::from_bits(3 << 31);

/// MAXSTRAT, the highest stratum: at or above it a host is unsynchronised.
pub const MAXSTRAT: u8 = 16;

/// NSTAGE, the number of clock filter stages.
pub const NSTAGE: usize = 8;

/// The smallest poll exponent any association may use (8 s).
pub const MINPOLL_LIMIT: PollExponent = PollExponent::MIN;

/// The largest poll exponent (2^17 s, 36.4 h; RFC 5905 MAXPOLL).
pub const MAXPOLL_LIMIT: PollExponent = PollExponent::MAX;

/// The default `minpoll` (64 s; RFC 5905 MINPOLL is 16 s, ntpd uses 64 s).
pub const DEFAULT_MINPOLL: PollExponent = PollExponent::clamped(6);

/// The default `maxpoll` (1024 s).
pub const DEFAULT_MAXPOLL: PollExponent = PollExponent::clamped(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_those_of_the_rfc() {
        assert_eq!(MAXDISP.to_seconds_f64(), 16.0);
        assert_eq!(MAXDIST.to_seconds_f64(), 1.5);
        assert!((MINDISP.to_seconds_f64() - 0.005).abs() < 1e-9);
        assert_eq!(MINPOLL_LIMIT.get(), 3);
        assert_eq!(MAXPOLL_LIMIT.get(), 17);
        assert_eq!(DEFAULT_MINPOLL.get(), 6);
        assert_eq!(DEFAULT_MAXPOLL.get(), 10);
    }
}
