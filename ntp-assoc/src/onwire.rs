//! The on-wire protocol (RFC 5905 section 8): offset, delay and dispersion
//! from the four timestamps of an exchange, and the checks a client applies
//! to a server reply before trusting it.
//!
//! Everything here is a pure function, so `ntpctl query` (one exchange, no
//! association) and the daemon's associations share the very same code.
//!
//! The first-order differences (`T2 - T1`, `T3 - T4`, ...) are taken between
//! 64-bit timestamps as exact signed 32.32 fixed-point [`NtpDuration`]s,
//! which is right across the 2036 era rollover as long as the two clocks are
//! within 68 years of each other. The second-order sums are done in 128-bit
//! integers and clamped, which keeps the full 68-year range the RFC reaches
//! with floating point, and stays exact to 2^-32 s.
//!
//! ```
//! use ntp_assoc::onwire::{client_sample, Timestamps};
//! use ntp_wire::time::{NtpDuration, NtpTimestamp};
//!
//! let t = |s: u32, ms: u32| {
//!     NtpTimestamp::from_seconds_and_fraction(s, ((ms as u64) << 32).div_ceil(1000) as u32)
//! };
//! // The server is 1 s ahead; the path is 10 ms each way; the server holds
//! // the request for 2 ms.
//! let stamps = Timestamps {
//!     origin: t(100, 0),         // T1, client clock
//!     receive: t(101, 10),       // T2, server clock
//!     transmit: t(101, 12),      // T3, server clock
//!     destination: t(100, 22),   // T4, client clock
//! };
//! let sample = client_sample(&stamps, -20, -20);
//! assert_eq!(sample.offset, NtpDuration::ONE_SECOND);
//! assert_eq!(sample.delay.to_nanos(), 20_000_000);
//! ```

use core::fmt;

use ntp_wire::packet::{Header, LeapIndicator, MAX_VERSION, MIN_VERSION, Mode};
use ntp_wire::refid::KissCode;
use ntp_wire::time::{NtpDuration, NtpShort, NtpTimestamp};

/// MAXDISP (16 s), the dispersion of an empty filter stage and the root
/// distance at which a server is unusable; MAXSTRAT (16), "unsynchronised".
pub use ntp_wire::constants::{MAXDISP, MAXSTRAT};

/// The frequency tolerance PHI, 15 ppm, as a ratio `PHI_NUMERATOR / PHI_DENOMINATOR`.
pub const PHI_NUMERATOR: i64 = 15;
/// See [`PHI_NUMERATOR`].
pub const PHI_DENOMINATOR: i64 = 1_000_000;
// The exact ratio is the workspace's one PHI.
const _: () = assert!(PHI_NUMERATOR as f64 / PHI_DENOMINATOR as f64 == ntp_wire::constants::PHI);

/// `PHI * interval`: the dispersion accumulated over `interval` at the
/// frequency tolerance of 15 ppm, rounded up (never understated) and
/// never negative.
pub fn phi_times(interval: NtpDuration) -> NtpDuration {
    let bits = i128::from(interval.to_bits().max(0));
    let grown = (bits * i128::from(PHI_NUMERATOR)).div_euclid(i128::from(PHI_DENOMINATOR))
        + i128::from(
            (bits * i128::from(PHI_NUMERATOR)).rem_euclid(i128::from(PHI_DENOMINATOR)) != 0,
        );
    NtpDuration::from_bits(clamp(grown))
}

/// `2^exponent` seconds as a duration (the RFC's `LOG2D`), saturating:
/// exponents below -32 give zero, above 30 give [`NtpDuration::MAX`].
pub fn log2_duration(exponent: i8) -> NtpDuration {
    match exponent {
        e if e < -32 => NtpDuration::ZERO,
        e if e > 30 => NtpDuration::MAX,
        e => NtpDuration::from_bits(1i64 << (32 + i32::from(e))),
    }
}

fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// The four timestamps of one exchange, as RFC 5905 figure 15 names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timestamps {
    /// T1 (org): when the request left this host, by this host's clock.
    pub origin: NtpTimestamp,
    /// T2 (rec): when the request arrived at the server, by its clock.
    pub receive: NtpTimestamp,
    /// T3 (xmt): when the reply left the server, by its clock.
    pub transmit: NtpTimestamp,
    /// T4 (dst): when the reply arrived here, by this host's clock.
    pub destination: NtpTimestamp,
}

impl Timestamps {
    /// The timestamps of a reply: T1, T2 and T3 from its header (origin,
    /// receive and transmit fields) and T4 as measured on arrival.
    pub fn from_reply(header: &Header, destination: NtpTimestamp) -> Self {
        Self {
            origin: header.origin_time,
            receive: header.receive_time,
            transmit: header.transmit_time,
            destination,
        }
    }

    /// The clock offset theta = ((T2 - T1) + (T3 - T4)) / 2, exact, of the
    /// server relative to this host (positive: the server is ahead).
    pub fn offset(&self) -> NtpDuration {
        let a = i128::from((self.receive - self.origin).to_bits());
        let b = i128::from((self.transmit - self.destination).to_bits());
        NtpDuration::from_bits(clamp((a + b) >> 1))
    }

    /// The raw round-trip delay delta = (T4 - T1) - (T3 - T2), exact; may be
    /// negative when the clocks run at different rates on a fast path (see
    /// [`client_sample`], which floors it).
    pub fn raw_delay(&self) -> NtpDuration {
        let a = i128::from((self.destination - self.origin).to_bits());
        let b = i128::from((self.transmit - self.receive).to_bits());
        NtpDuration::from_bits(clamp(a - b))
    }
}

/// One measurement: the tuple the clock filter stores (RFC 5905 section 10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sample {
    /// Clock offset theta of the server relative to this host.
    pub offset: NtpDuration,
    /// Round-trip delay delta (never below the system precision).
    pub delay: NtpDuration,
    /// Dispersion epsilon: the maximum error from the two clocks' precisions
    /// and the frequency tolerance over the exchange.
    pub dispersion: NtpDuration,
    /// When the measurement was made: the destination timestamp T4.
    pub time: NtpTimestamp,
}

impl Sample {
    /// The synchronisation distance of this sample, lambda = delay / 2 + dispersion.
    pub fn distance(&self) -> NtpDuration {
        self.delay.halved() + self.dispersion
    }
}

/// Client/server mode (and a server's view in symmetric mode): offset and
/// delay from T1-T4; the delay is clamped not below the system precision
/// (RFC 5905 section 8); the dispersion is
/// `2^peer_precision + 2^system_precision + PHI * (T4 - T1)`.
///
/// `peer_precision` is the precision field of the reply, `system_precision`
/// this host's precision exponent.
pub fn client_sample(stamps: &Timestamps, peer_precision: i8, system_precision: i8) -> Sample {
    let rho = log2_duration(system_precision);
    Sample {
        offset: stamps.offset(),
        delay: stamps.raw_delay().max(rho),
        dispersion: log2_duration(peer_precision)
            + rho
            + phi_times(stamps.destination - stamps.origin),
        time: stamps.destination,
    }
}

/// Symmetric mode (active or passive): the same formulas as client mode
/// over the four most recent timestamps of the two peers' packet stream. In
/// symmetric mode T1 is this peer's last transmit time echoed in the
/// packet's origin field, T2 the packet's receive field (when the other
/// peer received it), T3 its transmit field and T4 its arrival here.
pub fn symmetric_sample(stamps: &Timestamps, peer_precision: i8, system_precision: i8) -> Sample {
    client_sample(stamps, peer_precision, system_precision)
}

/// Broadcast/multicast client mode: one timestamp pair only (T3 from the
/// packet, T4 at arrival) and a round-trip `delay` that was calibrated by
/// the initial client/server volley or configured with `broadcastdelay`.
/// The offset is `(T3 - T4) + delay / 2` (the one-way propagation corrected
/// as half the round trip); the dispersion is
/// `2^peer_precision + 2^system_precision + PHI * 2 * delay` (RFC 5905
/// A.5.1.1).
pub fn broadcast_sample(
    transmit: NtpTimestamp,
    destination: NtpTimestamp,
    delay: NtpDuration,
    peer_precision: i8,
    system_precision: i8,
) -> Sample {
    let delay = delay.max(NtpDuration::ZERO);
    Sample {
        offset: (transmit - destination) + delay.halved(),
        delay,
        dispersion: log2_duration(peer_precision)
            + log2_duration(system_precision)
            + phi_times(delay.saturating_mul(2)),
        time: destination,
    }
}

/// The round-trip delay calibrated by a broadcast client's volley, as the
/// reference implementation does it: twice the difference between the
/// client/server offset of the volley and the uncorrected broadcast offset
/// `T3 - T4` of a broadcast packet.
pub fn calibrate_broadcast_delay(
    volley_offset: NtpDuration,
    transmit: NtpTimestamp,
    destination: NtpTimestamp,
) -> NtpDuration {
    (volley_offset - (transmit - destination))
        .abs()
        .saturating_mul(2)
}

/// Which timestamp field of a packet was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimestampField {
    /// The origin timestamp (T1).
    Origin,
    /// The receive timestamp (T2).
    Receive,
    /// The transmit timestamp (T3).
    Transmit,
    /// The reference timestamp.
    Reference,
}

impl fmt::Display for TimestampField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Origin => "origin",
            Self::Receive => "receive",
            Self::Transmit => "transmit",
            Self::Reference => "reference",
        })
    }
}

/// Why a packet was not accepted: every check of RFC 5905 figure 22 and
/// appendix A.5.1 (and a few of the reference implementation's), one
/// variant each, so that `ntpctl peers` and `ntpctl query` can show it.
///
/// The RFC's test numbers, where they exist, are given per variant
/// ([`Rejection::test_number`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Rejection {
    /// Fewer than 48 octets, a version outside 1-4, or a malformed
    /// extension-field/MAC trailer.
    #[error("malformed packet")]
    Malformed,
    /// A version number this implementation does not speak.
    #[error("unsupported NTP version {0}")]
    BadVersion(u8),
    /// The packet's mode is not what this exchange expects.
    #[error("unexpected mode: expected {expected}, got {got}")]
    UnexpectedMode {
        /// What was expected.
        expected: Mode,
        /// What arrived.
        got: Mode,
    },
    /// (Test 1) The transmit timestamp equals that of the last packet
    /// accepted: an old duplicate or a replay.
    #[error("duplicate packet (replayed transmit timestamp)")]
    Duplicate,
    /// (Test 2) The origin timestamp does not match the last transmit
    /// timestamp sent: not a reply to our packet (bogus or spoofed).
    #[error("bogus packet: origin timestamp does not match our transmit timestamp")]
    Bogus,
    /// (Test 3) A timestamp that must be set is zero.
    #[error("invalid packet: {0} timestamp is zero")]
    InvalidTimestamp(TimestampField),
    /// (Test 4) The access controls refuse this source.
    #[error("access denied")]
    AccessDenied,
    /// (Test 5) The MAC is missing where one is required, names an unknown
    /// or untrusted key, or does not match.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// (Test 5) A crypto-NAK: the server could not authenticate our request.
    #[error("crypto-NAK received")]
    CryptoNak,
    /// (Test 6) The server says it is unsynchronised: leap indicator 3.
    #[error("server unsynchronised (leap indicator 3)")]
    Unsynchronised,
    /// (Test 7) The stratum is 16 or above (or this host's stratum limit).
    #[error("stratum {0} too high")]
    StratumTooHigh(u8),
    /// (Test 8) Bad header values: root distance (root delay / 2 + root
    /// dispersion) at or beyond MAXDISP, or a reference time later than the
    /// transmit time.
    #[error("bad header: {0}")]
    BadHeader(&'static str),
    /// A Kiss-o'-Death packet (stratum 0) that passed the origin check.
    #[error("kiss-o'-death {0}")]
    Kiss(KissCode),
    /// A broadcast association heard a packet from a server it did not
    /// calibrate against, or any other mode error of the dispatch matrix.
    #[error("mode error: {0} packet with {1} association")]
    ModeError(Mode, &'static str),
    /// (Test 11) The peer's synchronisation distance exceeds the threshold.
    #[error("distance too large")]
    DistanceTooLarge,
    /// (Test 12) The server is synchronised to this host (a timing loop).
    #[error("synchronisation loop")]
    Loop,
    /// (Test 13) The server is unreachable.
    #[error("unreachable")]
    Unreachable,
}

impl Rejection {
    /// The RFC 5905 / reference-implementation test number (the bit of
    /// `ntpq`'s flash word), when the rejection has one.
    pub fn test_number(&self) -> Option<u8> {
        Some(match self {
            Self::Duplicate => 1,
            Self::Bogus => 2,
            Self::InvalidTimestamp(_) => 3,
            Self::AccessDenied => 4,
            Self::AuthenticationFailed | Self::CryptoNak => 5,
            Self::Unsynchronised => 6,
            Self::StratumTooHigh(_) => 7,
            Self::BadHeader(_) => 8,
            Self::DistanceTooLarge => 11,
            Self::Loop => 12,
            Self::Unreachable => 13,
            _ => return None,
        })
    }
}

/// Whether a version number is one this implementation speaks (1 to 4;
/// replies use the version of the request).
pub fn version_supported(version: u8) -> bool {
    (MIN_VERSION..=MAX_VERSION).contains(&version)
}

/// The header checks (RFC 5905 A.5.1.1 `packet()`, tests 6 to 8) that any
/// packet carrying time must pass: the leap indicator is not 3, the stratum
/// is below 16 (stratum 0 counts as 16, as in `packet()`), the root
/// distance is below MAXDISP and the reference time is not later than the
/// transmit time.
pub fn check_header(header: &Header) -> Result<(), Rejection> {
    if header.leap == LeapIndicator::Unsynchronized {
        return Err(Rejection::Unsynchronised);
    }
    let stratum = if header.stratum == 0 {
        MAXSTRAT
    } else {
        header.stratum
    };
    if stratum >= MAXSTRAT {
        return Err(Rejection::StratumTooHigh(header.stratum));
    }
    if root_distance(header.root_delay, header.root_dispersion) >= MAXDISP {
        return Err(Rejection::BadHeader("root distance at or beyond 16 s"));
    }
    // A zero reference time means "never set" (NTPsec's orphan parents send
    // it), not a time in the future.
    if !header.reference_time.is_zero()
        && (header.transmit_time - header.reference_time).is_negative()
    {
        return Err(Rejection::BadHeader(
            "reference time later than transmit time",
        ));
    }
    Ok(())
}

/// Root distance as the header states it: root delay / 2 + root dispersion.
pub fn root_distance(root_delay: NtpShort, root_dispersion: NtpShort) -> NtpDuration {
    root_delay.to_duration().halved() + root_dispersion.to_duration()
}

/// The checks a client applies to a server reply (mode 4) to a request
/// whose transmit timestamp was `sent_nonce`, in this order:
///
/// 1. the version is one we speak, and the mode is server;
/// 2. the origin timestamp equals the nonce sent (else [`Rejection::Bogus`]:
///    nothing in the packet is believed, not even a kiss code);
/// 3. a stratum-0 packet is a Kiss-o'-Death ([`Rejection::Kiss`]), to be
///    honoured since it passed the origin check;
/// 4. the receive and transmit timestamps are not zero;
/// 5. the header checks of [`check_header`] (unsynchronised, stratum,
///    root distance, reference time).
///
/// A one-shot query (`ntpctl query`) needs nothing more; an association
/// also checks for duplicates and authentication.
pub fn check_reply(header: &Header, sent_nonce: NtpTimestamp) -> Result<(), Rejection> {
    if !version_supported(header.version) {
        return Err(Rejection::BadVersion(header.version));
    }
    if header.mode != Mode::Server {
        return Err(Rejection::UnexpectedMode {
            expected: Mode::Server,
            got: header.mode,
        });
    }
    if sent_nonce.is_zero() || header.origin_time != sent_nonce {
        return Err(Rejection::Bogus);
    }
    if let Some(code) = header.kiss_code() {
        return Err(Rejection::Kiss(code));
    }
    check_timestamps(header)?;
    check_header(header)
}

/// Test 3 for a reply: receive and transmit timestamps are set.
fn check_timestamps(header: &Header) -> Result<(), Rejection> {
    if header.transmit_time.is_zero() {
        return Err(Rejection::InvalidTimestamp(TimestampField::Transmit));
    }
    if header.receive_time.is_zero() {
        return Err(Rejection::InvalidTimestamp(TimestampField::Receive));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(seconds: u32, fraction: u32) -> NtpTimestamp {
        NtpTimestamp::from_seconds_and_fraction(seconds, fraction)
    }

    const HALF: u32 = 0x8000_0000;
    const QUARTER: u32 = 0x4000_0000;

    #[test]
    fn client_offsets_and_delays_exact() {
        // (T1, T2, T3, T4) -> (offset bits, delay bits)
        let cases: &[(&str, Timestamps, i64, i64)] = &[
            (
                "synchronised, 1 s round trip, no server hold",
                Timestamps {
                    origin: ts(1000, 0),
                    receive: ts(1000, HALF),
                    transmit: ts(1000, HALF),
                    destination: ts(1001, 0),
                },
                0,
                1 << 32,
            ),
            (
                "server 10 s ahead, 0.5 s each way, 0.25 s hold",
                Timestamps {
                    origin: ts(1000, 0),
                    receive: ts(1010, HALF),
                    transmit: ts(1010, HALF + QUARTER),
                    destination: ts(1001, QUARTER),
                },
                10 << 32,
                1 << 32,
            ),
            (
                "server 3 s behind, asymmetric path",
                Timestamps {
                    origin: ts(2000, 0),
                    receive: ts(1997, QUARTER),
                    transmit: ts(1997, QUARTER),
                    destination: ts(2000, HALF + QUARTER),
                },
                // ((-2.75) + (-3.5)) / 2 = -3.125
                -(3 << 32) - (1 << 29),
                3 << 30,
            ),
            (
                "one fraction unit: halving rounds toward minus infinity",
                Timestamps {
                    origin: ts(5, 0),
                    receive: ts(5, 1),
                    transmit: ts(5, 1),
                    destination: ts(5, 1),
                },
                0,
                1 << 12, // floored at precision 2^-20
            ),
            (
                "across the 2036 era rollover: client before, server after",
                Timestamps {
                    origin: ts(u32::MAX, HALF),
                    receive: ts(0, QUARTER),
                    transmit: ts(0, HALF),
                    destination: ts(1, 0),
                },
                // T2-T1 = 0.75, T3-T4 = -0.5 -> 0.125 ; delay = 1.5 - 0.25
                1 << 29,
                (1 << 32) + (1 << 30),
            ),
            (
                "across the 2036 era rollover: server 2 s behind",
                Timestamps {
                    origin: ts(0, 0),
                    receive: ts(u32::MAX - 1, QUARTER),
                    transmit: ts(u32::MAX - 1, HALF),
                    destination: ts(0, HALF + QUARTER),
                },
                // T2-T1 = -1.75, T3-T4 = -2.25 -> -2
                -(2 << 32),
                1 << 31,
            ),
        ];
        for (name, stamps, offset, delay) in cases {
            let sample = client_sample(stamps, -20, -20);
            assert_eq!(sample.offset.to_bits(), *offset, "{name}: offset");
            assert_eq!(sample.delay.to_bits(), *delay, "{name}: delay");
            assert_eq!(sample.time, stamps.destination, "{name}: time");
        }
    }

    #[test]
    fn offset_keeps_the_68_year_range() {
        // Server 60 years ahead: each first-order difference fits, their sum
        // would overflow a 64-bit fixed-point value.
        let sixty_years = 60u64 * 365 * 86_400;
        let t1 = ts(0x1000_0000, 0);
        let stamps = Timestamps {
            origin: t1,
            receive: t1 + NtpDuration::from_seconds(sixty_years as i64),
            transmit: t1 + NtpDuration::from_seconds(sixty_years as i64),
            destination: t1,
        };
        assert_eq!(
            stamps.offset(),
            NtpDuration::from_seconds(sixty_years as i64)
        );
    }

    #[test]
    fn negative_delay_is_floored_at_precision() {
        let stamps = Timestamps {
            origin: ts(10, 0),
            receive: ts(10, 100),
            transmit: ts(10, 300),
            destination: ts(10, 100),
        };
        assert_eq!(stamps.raw_delay().to_bits(), -100);
        let sample = client_sample(&stamps, -10, -18);
        assert_eq!(sample.delay, log2_duration(-18));
        assert_eq!(sample.delay.to_bits(), 1 << 14);
    }

    #[test]
    fn dispersion_adds_precisions_and_phi() {
        let stamps = Timestamps {
            origin: ts(0, 0),
            receive: ts(0, 0),
            transmit: ts(0, 0),
            destination: ts(1000, 0),
        };
        let sample = client_sample(&stamps, -10, -20);
        // 2^-10 + 2^-20 + 15e-6 * 1000 s = 2^-10 + 2^-20 + 0.015
        let expected = (1i64 << 22) + (1 << 12) + (15u64 << 32).div_ceil(1000) as i64;
        assert_eq!(sample.dispersion.to_bits(), expected);
        assert_eq!(sample.distance(), sample.delay.halved() + sample.dispersion);
    }

    #[test]
    fn symmetric_both_active() {
        // Peer B is 0.5 s ahead of A, 0.125 s each way.
        // A sends at t1=100.0 (A clock); B receives at t2=100.625 (B clock);
        // B sends its own active packet at t3=101.5; A receives at t4=101.125.
        let stamps = Timestamps {
            origin: ts(100, 0),
            receive: ts(100, HALF + (1 << 29)),
            transmit: ts(101, HALF),
            destination: ts(101, 1 << 29),
        };
        let sample = symmetric_sample(&stamps, -20, -20);
        assert_eq!(sample.offset.to_bits(), 1 << 31);
        assert_eq!(sample.delay.to_bits(), 1 << 30);
    }

    #[test]
    fn broadcast_after_calibration() {
        // The server is 2 s ahead, one-way 5 ms, so round trip 10 ms.
        let one_way = NtpDuration::from_nanos(5_000_000);
        let delay = one_way.saturating_mul(2);
        let t3 = ts(5000, 0);
        let t4 = t3 - NtpDuration::from_seconds(2) + one_way;
        // Calibration: the volley measured offset 2 s.
        let calibrated = calibrate_broadcast_delay(NtpDuration::from_seconds(2), t3, t4);
        assert_eq!(calibrated, delay);
        let sample = broadcast_sample(t3, t4, calibrated, -20, -20);
        assert_eq!(sample.offset, NtpDuration::from_seconds(2));
        assert_eq!(sample.delay, delay);
        // Across the era boundary too.
        let t3 = ts(0, 0);
        let t4 = t3 - NtpDuration::from_seconds(2) + one_way;
        assert_eq!(t4.seconds(), u32::MAX - 1);
        let sample = broadcast_sample(t3, t4, delay, -20, -20);
        assert_eq!(sample.offset, NtpDuration::from_seconds(2));
    }

    fn reply(nonce: NtpTimestamp) -> Header {
        Header {
            leap: LeapIndicator::NoWarning,
            version: 4,
            mode: Mode::Server,
            stratum: 2,
            poll: 6,
            precision: -20,
            root_delay: NtpShort::from_bits(0x0000_1000),
            root_dispersion: NtpShort::from_bits(0x0000_2000),
            reference_id: ntp_wire::refid::ReferenceId::from_bytes([192, 0, 2, 1]),
            reference_time: ts(900, 0),
            origin_time: nonce,
            receive_time: ts(1000, 1),
            transmit_time: ts(1000, 2),
        }
    }

    #[test]
    fn reply_checks() {
        use ntp_wire::refid::ReferenceId;
        let nonce = ts(0x1234_5678, 0x9abc_def0);
        assert_eq!(check_reply(&reply(nonce), nonce), Ok(()));
        type Edit = fn(&mut Header);
        let cases: &[(&str, Edit, Rejection)] = &[
            (
                "wrong mode",
                |h| h.mode = Mode::SymmetricPassive,
                Rejection::UnexpectedMode {
                    expected: Mode::Server,
                    got: Mode::SymmetricPassive,
                },
            ),
            ("version 0", |h| h.version = 0, Rejection::BadVersion(0)),
            (
                "origin mismatch",
                |h| h.origin_time = ts(1, 1),
                Rejection::Bogus,
            ),
            (
                "kod rate",
                |h| {
                    h.stratum = 0;
                    h.reference_id = ReferenceId::from_ascii("RATE")
                },
                Rejection::Kiss(KissCode::Rate),
            ),
            (
                "spoofed kod",
                |h| {
                    h.stratum = 0;
                    h.reference_id = ReferenceId::from_ascii("DENY");
                    h.origin_time = ts(7, 7)
                },
                Rejection::Bogus,
            ),
            (
                "zero transmit",
                |h| h.transmit_time = NtpTimestamp::ZERO,
                Rejection::InvalidTimestamp(TimestampField::Transmit),
            ),
            (
                "zero receive",
                |h| h.receive_time = NtpTimestamp::ZERO,
                Rejection::InvalidTimestamp(TimestampField::Receive),
            ),
            (
                "leap 3",
                |h| h.leap = LeapIndicator::Unsynchronized,
                Rejection::Unsynchronised,
            ),
            (
                "stratum 16",
                |h| h.stratum = 16,
                Rejection::StratumTooHigh(16),
            ),
            (
                "root distance",
                |h| h.root_dispersion = NtpShort::from_bits(16 << 16),
                Rejection::BadHeader("root distance at or beyond 16 s"),
            ),
            (
                "reftime in future",
                |h| h.reference_time = ts(2000, 0),
                Rejection::BadHeader("reference time later than transmit time"),
            ),
        ];
        for (name, edit, expected) in cases {
            let mut h = reply(nonce);
            edit(&mut h);
            assert_eq!(check_reply(&h, nonce), Err(*expected), "{name}");
            // Every rejection prints.
            assert!(!expected.to_string().is_empty());
        }
        // A zero nonce never matches (a server echoing zero is not a reply).
        let mut h = reply(NtpTimestamp::ZERO);
        h.origin_time = NtpTimestamp::ZERO;
        assert_eq!(check_reply(&h, NtpTimestamp::ZERO), Err(Rejection::Bogus));
    }

    #[test]
    fn log2_and_phi() {
        assert_eq!(log2_duration(0), NtpDuration::ONE_SECOND);
        assert_eq!(log2_duration(-32).to_bits(), 1);
        assert_eq!(log2_duration(-33), NtpDuration::ZERO);
        assert_eq!(log2_duration(4), NtpDuration::from_seconds(16));
        assert_eq!(log2_duration(i8::MAX), NtpDuration::MAX);
        assert_eq!(
            phi_times(NtpDuration::from_seconds(1_000_000)),
            NtpDuration::from_seconds(15)
        );
        assert_eq!(phi_times(-NtpDuration::ONE_SECOND), NtpDuration::ZERO);
        assert_eq!(phi_times(NtpDuration::from_bits(1)).to_bits(), 1);
    }
}

#[cfg(test)]
mod reference_time_tests {
    use super::*;

    #[test]
    fn zero_reference_time_is_not_in_the_future() {
        let mut header =
            Header::client_request(4, NtpTimestamp::from_seconds_and_fraction(0xed00_0000, 0));
        header.mode = ntp_wire::packet::Mode::Server;
        header.leap = LeapIndicator::NoWarning;
        header.stratum = 5;
        assert_eq!(check_header(&header), Ok(()));
        header.reference_time = header.transmit_time + NtpDuration::from_seconds(10);
        assert!(check_header(&header).is_err());
    }
}
