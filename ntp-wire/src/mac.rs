//! Symmetric-key message authentication codes (RFC 5905 section 7.3,
//! RFC 8573).
//!
//! An authenticated NTP packet carries, after the header and any extension
//! fields, a MAC trailer: the 4-octet key identifier in network order followed
//! by the digest. The digest depends on the key's [`MacAlgorithm`]:
//!
//! | algorithm | digest | length |
//! | --- | --- | --- |
//! | [`MacAlgorithm::Md5`] | MD5(secret \|\| data) | 16 octets |
//! | [`MacAlgorithm::Sha1`] | SHA-1(secret \|\| data) | 20 octets |
//! | [`MacAlgorithm::Aes128Cmac`] | AES-CMAC(K, data) (RFC 4493), K = the first 16 octets of the secret, zero-extended when shorter | 16 octets |
//!
//! The AES-CMAC key rule is the reference implementation's (ntpd 4.2.8
//! truncates longer secrets to 128 bits and zero-extends shorter ones, with a
//! warning); RFC 8573 itself requires a key of exactly 128 bits, which is the
//! case where the rule does nothing.
//!
//! The trailer's framing is always available: the algorithms and their
//! lengths, [`trailer_key_id`] and [`constant_time_eq`]. Computing and
//! verifying digests (`Key`, `Digest`, `SignError`, `VerifyError`) needs the
//! `crypto` feature, on by default.
//!
//! Everything here works on caller-provided buffers and never allocates
//! (except `Key::new`, which copies the secret). Verification compares
//! digests in constant time.
//!
//! Recognising a crypto-NAK (a trailer made of a zero key identifier alone)
//! is the trailer parser's business, not this module's.
//!
//! # Example
//!
//! With the `crypto` feature:
//!
//! ```
//! # #[cfg(feature = "crypto")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use ntp_wire::keys::KeyStore;
//! use ntp_wire::mac::{MacAlgorithm, VerifyError};
//!
//! let keys = KeyStore::parse("# id type secret\n7 AES128CMAC 0fd2287c1e97a50cb9d3cb9f80debcb6\n")?;
//! let key = keys.get(7).ok_or("key 7 missing")?;
//! assert_eq!(key.algorithm(), MacAlgorithm::Aes128Cmac);
//!
//! // A 48-octet client packet, with room for the trailer after it.
//! let mut buf = [0u8; 48 + 4 + 20];
//! buf[0] = 0x23; // LI 0, VN 4, mode 3
//! let len = key.sign_into(&mut buf, 48)?;
//! assert_eq!(len, 48 + 4 + 16);
//! assert_eq!(&buf[48..52], &7u32.to_be_bytes());
//!
//! // The receiver splits data and trailer and checks them.
//! let (data, trailer) = buf[..len].split_at(48);
//! assert_eq!(keys.verify_trailer(data, trailer).map(|k| k.id()), Ok(7));
//!
//! // Any change to the packet is detected.
//! let mut forged = buf;
//! forged[1] = 1;
//! let (data, trailer) = forged[..len].split_at(48);
//! assert_eq!(key.verify_trailer(data, trailer), Err(VerifyError::BadMac));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "crypto"))]
//! # fn main() {}
//! ```

use std::fmt;

#[cfg(feature = "crypto")]
mod key;
#[cfg(feature = "crypto")]
pub use key::{Digest, Key, SignError, VerifyError};

/// Length of the key identifier at the start of a MAC trailer, in octets.
pub const KEY_ID_LEN: usize = 4;

/// Length of the longest digest produced by any supported algorithm (SHA-1).
pub const MAX_DIGEST_LEN: usize = 20;

/// Length of the longest MAC trailer (key identifier and digest) this module
/// produces or accepts.
pub const MAX_TRAILER_LEN: usize = KEY_ID_LEN + MAX_DIGEST_LEN;

/// A symmetric-key MAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacAlgorithm {
    /// MD5(secret || data), 16 octets (RFC 5905; deprecated by RFC 8573).
    Md5,
    /// SHA-1(secret || data), 20 octets (the reference implementation's
    /// `SHA1` key type).
    Sha1,
    /// AES-128-CMAC (RFC 4493) keyed with the first 16 octets of the secret,
    /// 16 octets (RFC 8573).
    Aes128Cmac,
}

impl MacAlgorithm {
    /// All supported algorithms.
    pub const ALL: [MacAlgorithm; 3] = [Self::Md5, Self::Sha1, Self::Aes128Cmac];

    /// Length of this algorithm's digest in octets (16 or 20).
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Md5 | Self::Aes128Cmac => 16,
            Self::Sha1 => 20,
        }
    }

    /// Length of a MAC trailer with this algorithm: the key identifier and
    /// the digest.
    pub const fn trailer_len(self) -> usize {
        KEY_ID_LEN + self.digest_len()
    }

    /// The canonical keys-file name of the algorithm: `MD5`, `SHA1` or
    /// `AES128CMAC`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA1",
            Self::Aes128Cmac => "AES128CMAC",
        }
    }
}

impl fmt::Display for MacAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The key identifier at the start of a MAC trailer (the first four octets,
/// network order), or `None` when `trailer` is shorter than four octets.
pub fn trailer_key_id(trailer: &[u8]) -> Option<u32> {
    let id: [u8; KEY_ID_LEN] = trailer.get(..KEY_ID_LEN)?.try_into().ok()?;
    Some(u32::from_be_bytes(id))
}

/// Compares two byte strings in time that depends only on their lengths,
/// never on where they differ. Strings of different lengths are unequal.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_basics() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn trailer_key_id_needs_four_octets() {
        assert_eq!(trailer_key_id(&[0, 0, 1]), None);
        assert_eq!(trailer_key_id(&[0, 0, 1, 2, 9]), Some(258));
    }

    #[test]
    fn algorithm_lengths_match_the_trailer_framing() {
        // The trailer lengths the packet parser accepts besides a crypto-NAK.
        assert_eq!(MacAlgorithm::Md5.trailer_len(), 20);
        assert_eq!(MacAlgorithm::Aes128Cmac.trailer_len(), 20);
        assert_eq!(MacAlgorithm::Sha1.trailer_len(), 24);
        assert_eq!(MAX_TRAILER_LEN, crate::packet::MAX_MAC_LEN);
        assert_eq!(MacAlgorithm::Aes128Cmac.to_string(), "AES128CMAC");
    }
}
