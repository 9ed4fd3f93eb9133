//! The NTPv4 wire format, usable on its own.
//!
//! - [`time`]: the 64-bit timestamp, the 32-bit short format, signed
//!   durations with exact fixed-point arithmetic, and era-aware dates.
//! - [`packet`]: the 48-octet header, extension fields (RFC 7822) and the
//!   MAC trailer, as a checked view over bytes and an owned representation
//!   that is parsed and emitted without allocation.
//! - [`refid`]: reference IDs (address, text, IPv6 hash) and Kiss-o'-Death codes.
//! - [`control`]: mode 6 control messages (the `ntpq` protocol), for decoding.
//! - [`constants`], [`poll`], [`candidate`]: the vocabulary every process
//!   shares - RFC 5905's constants (PHI, MAXDISP, MAXDIST, ...), the
//!   [`PollExponent`], and the
//!   [`Candidate`](candidate::Candidate) a peer process hands the system
//!   process. [`time::Uptime`] is the one monotonic time of a node.
//! - [`mac`] and `keys`: symmetric-key MACs (MD5, SHA-1, AES-128-CMAC per
//!   RFC 8573), the reference implementation's keys file and trusted keys.
//!
//! Nothing here reads a clock or opens a socket.
//!
//! # Features
//!
//! Both features are on by default. A user who only parses and builds
//! packets can turn them off (`default-features = false`) and builds the
//! crate with thiserror and md-5 alone.
//!
//! | feature | adds | dependencies |
//! | --- | --- | --- |
//! | `chrono` | conversions to and from chrono's `DateTime<Utc>`: `NtpTimestamp::from_datetime` and `to_datetime`, `NtpDate::from_datetime` and `to_datetime` | chrono |
//! | `crypto` | computing and verifying MACs (`mac::Key`, `mac::Digest`, `mac::SignError`, `mac::VerifyError`) and the keys file (the `keys` module, `KeyStore`, `TrustedKeys`) | sha1, aes, cmac |
//!
//! Without them everything else is there: the header view and
//! representation, extension fields, the MAC trailer's framing
//! ([`packet::Mac`], [`MacAlgorithm`] and its lengths), reference IDs and
//! kiss codes, timestamps, durations, the short format and dates (with
//! SystemTime and Unix conversions and RFC 3339 text,
//! [`NtpDate::to_rfc3339`]), mode 6 messages, and the shared vocabulary.
//!
//! md-5 is not behind `crypto`: RFC 5905 section 7.3 makes the reference ID
//! of an IPv6 system peer the first four octets of the MD5 hash of its
//! address ([`ReferenceId::from_ipv6`]), which is part of the wire format
//! rather than of authentication, and [`Candidate`](candidate::Candidate)
//! needs it for the reference ID a host advertises.
//!
//! ```
//! use ntp_wire::packet::{Mode, Packet};
//!
//! // A captured NTPv4 server reply.
//! let bytes = [
//!     0x24, 0x02, 0x06, 0xe9, 0x00, 0x00, 0x02, 0x36, 0x00, 0x00, 0x03, 0xb7,
//!     0xc0, 0x35, 0x67, 0x6c, 0xe5, 0xf6, 0x61, 0xfd, 0x6f, 0x16, 0x5f, 0x03,
//!     0xe5, 0xf6, 0x63, 0xa8, 0x76, 0x19, 0xef, 0x40, 0xe5, 0xf6, 0x63, 0xa8,
//!     0x79, 0x8c, 0x65, 0x81, 0xe5, 0xf6, 0x63, 0xa8, 0x79, 0x8e, 0xae, 0x2b,
//! ];
//! let packet = Packet::parse(&bytes).unwrap();
//! assert_eq!(packet.header.mode, Mode::Server);
//! assert_eq!(packet.header.stratum, 2);
//! assert_eq!(packet.header.reference_id.to_string(), "192.53.103.108");
//! ```

pub mod candidate;
pub mod constants;
pub mod control;
#[cfg(feature = "crypto")]
pub mod keys;
pub mod mac;
pub mod packet;
pub mod poll;
pub mod refid;
pub mod time;

#[cfg(feature = "crypto")]
pub use keys::{KeyStore, TrustedKeys};
#[cfg(feature = "crypto")]
pub use mac::Key;
pub use mac::MacAlgorithm;
pub use packet::{Header, LeapIndicator, Mode, Packet, PacketView};
pub use poll::PollExponent;
pub use refid::{KissCode, ReferenceId};
pub use time::{NtpDate, NtpDuration, NtpShort, NtpTimestamp, Uptime};

/// What is wrong with bytes that do not parse, or a buffer too small to emit into.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer octets than the header needs.
    #[error("packet too short: {len} octets, an NTP header needs 48")]
    TooShort {
        /// The length received.
        len: usize,
    },
    /// A version number outside 1 to 4.
    #[error("unsupported NTP version {0} (versions 1 to 4 parse)")]
    BadVersion(u8),
    /// An extension field whose length field is impossible.
    #[error("bad extension field at offset {offset}: length {length} is {reason}")]
    BadExtensionLength {
        /// Offset of the field in the packet.
        offset: usize,
        /// The length the field claims.
        length: usize,
        /// Why that length is wrong.
        reason: &'static str,
    },
    /// Octets after the header that are neither extension fields nor a MAC
    /// of 4, 20 or 24 octets.
    #[error("bad MAC length: {len} octets at offset {offset} are not a MAC (4, 20 or 24 octets)")]
    BadMacLength {
        /// The number of octets left.
        len: usize,
        /// Where they start in the packet.
        offset: usize,
    },
    /// A mode 6 control message shorter than its header or its count field.
    #[error("control message too short: {len} octets, need {needed}")]
    ControlTooShort {
        /// The length received.
        len: usize,
        /// The length the header requires.
        needed: usize,
    },
    /// The output buffer cannot hold what is being emitted.
    #[error("output buffer too small: need {needed} octets, have {available}")]
    BufferTooSmall {
        /// Octets needed.
        needed: usize,
        /// Octets available.
        available: usize,
    },
}
