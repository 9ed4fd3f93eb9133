//! A symmetric key and the digests it computes (the `crypto` feature).

use std::fmt;

use aes::Aes128;
use cmac::{Cmac, Mac as _};
use md5::{Digest as _, Md5};
use sha1::Sha1;

use super::{KEY_ID_LEN, MAX_DIGEST_LEN, MacAlgorithm, constant_time_eq, trailer_key_id};

/// Length of an AES-128 key, in octets.
const CMAC_KEY_LEN: usize = 16;

/// A computed digest, held inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    bytes: [u8; MAX_DIGEST_LEN],
    len: usize,
}

impl Digest {
    /// The digest octets.
    pub fn as_bytes(&self) -> &[u8] {
        // `len` is always a valid digest length (16 or 20).
        &self.bytes[..self.len.min(MAX_DIGEST_LEN)]
    }

    /// Length of the digest in octets.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// Error from [`Key::sign_into`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The buffer cannot hold the data and the MAC trailer after it (or the
    /// data length is beyond the end of the buffer).
    #[error("buffer of {available} octets is too small for {needed} octets of data and MAC")]
    BufferTooSmall {
        /// Octets needed: data length plus trailer length.
        needed: usize,
        /// Length of the buffer given.
        available: usize,
    },
}

/// Why a MAC trailer did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The trailer's length does not match the key's algorithm (key
    /// identifier plus digest).
    #[error("MAC trailer is {actual} octets, expected {expected}")]
    TrailerLength {
        /// Length the key's algorithm needs.
        expected: usize,
        /// Length of the trailer given.
        actual: usize,
    },
    /// The trailer names a different key than the one verifying it.
    #[error("MAC trailer names key {found}, expected key {expected}")]
    KeyIdMismatch {
        /// The verifying key's identifier.
        expected: u32,
        /// The identifier in the trailer.
        found: u32,
    },
    /// The trailer names a key that is not in the key store.
    #[error("MAC trailer names unknown key {0}")]
    UnknownKey(u32),
    /// The digest does not match the data.
    #[error("MAC does not match")]
    BadMac,
}

/// A symmetric key: identifier, algorithm and secret.
///
/// The secret is never printed (the [`Debug`] output shows only its length)
/// and is overwritten with zeros when the key is dropped (best effort: copies
/// made by the allocator when the key was built are out of reach).
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    id: u32,
    algorithm: MacAlgorithm,
    secret: Vec<u8>,
}

impl Key {
    /// A key with the given identifier, algorithm and secret octets.
    ///
    /// Any identifier and secret length are accepted here; the keys-file
    /// parser enforces the file's limits (identifiers 1 to 65535, secrets of
    /// 1 to 64 octets). An AES-128-CMAC key uses the first 16 octets of the
    /// secret, zero-extended when it is shorter.
    pub fn new(id: u32, algorithm: MacAlgorithm, secret: &[u8]) -> Self {
        Key {
            id,
            algorithm,
            secret: secret.to_vec(),
        }
    }

    /// The key identifier.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The MAC algorithm.
    pub fn algorithm(&self) -> MacAlgorithm {
        self.algorithm
    }

    /// Length of the secret in octets.
    pub fn secret_len(&self) -> usize {
        self.secret.len()
    }

    /// Length of this key's digest in octets.
    pub fn digest_len(&self) -> usize {
        self.algorithm.digest_len()
    }

    /// Length of a MAC trailer made with this key (4 + digest length).
    pub fn trailer_len(&self) -> usize {
        self.algorithm.trailer_len()
    }

    /// The digest of `data` under this key.
    pub fn digest(&self, data: &[u8]) -> Digest {
        let mut bytes = [0u8; MAX_DIGEST_LEN];
        let len = self.algorithm.digest_len();
        match self.algorithm {
            MacAlgorithm::Md5 => {
                let mut h = Md5::new();
                h.update(&self.secret);
                h.update(data);
                bytes[..16].copy_from_slice(&h.finalize());
            }
            MacAlgorithm::Sha1 => {
                let mut h = Sha1::new();
                h.update(&self.secret);
                h.update(data);
                bytes[..20].copy_from_slice(&h.finalize());
            }
            MacAlgorithm::Aes128Cmac => {
                let mut k = [0u8; CMAC_KEY_LEN];
                let n = self.secret.len().min(CMAC_KEY_LEN);
                k[..n].copy_from_slice(&self.secret[..n]);
                let mut m = <Cmac<Aes128> as cmac::digest::KeyInit>::new(&k.into());
                m.update(data);
                bytes[..16].copy_from_slice(&m.finalize().into_bytes());
                wipe(&mut k);
            }
        }
        Digest { bytes, len }
    }

    /// Computes the digest of `data` into the start of `out` and returns its
    /// length ([`Key::digest_len`]).
    ///
    /// If `out` is shorter than the digest, nothing is written and 0 is
    /// returned.
    pub fn compute_mac(&self, data: &[u8], out: &mut [u8]) -> usize {
        let digest = self.digest(data);
        let d = digest.as_bytes();
        match out.get_mut(..d.len()) {
            Some(dst) => {
                dst.copy_from_slice(d);
                d.len()
            }
            None => 0,
        }
    }

    /// Whether `mac` is the digest of `data` under this key. The comparison
    /// takes the same time wherever the first difference is; a `mac` of the
    /// wrong length is rejected outright.
    #[must_use]
    pub fn verify(&self, data: &[u8], mac: &[u8]) -> bool {
        constant_time_eq(self.digest(data).as_bytes(), mac)
    }

    /// Appends the MAC trailer (key identifier in network order, then the
    /// digest of `buf[..data_len]`) after the first `data_len` octets of
    /// `buf`, and returns the new length `data_len + trailer_len()`.
    ///
    /// Octets after the new length are left untouched.
    pub fn sign_into(&self, buf: &mut [u8], data_len: usize) -> Result<usize, SignError> {
        let needed = data_len.saturating_add(self.trailer_len());
        if needed > buf.len() {
            return Err(SignError::BufferTooSmall {
                needed,
                available: buf.len(),
            });
        }
        let (data, rest) = buf.split_at_mut(data_len);
        let digest = self.digest(data);
        let (id, mac) = rest.split_at_mut(KEY_ID_LEN);
        id.copy_from_slice(&self.id.to_be_bytes());
        mac[..digest.len()].copy_from_slice(digest.as_bytes());
        Ok(needed)
    }

    /// Checks a MAC trailer (key identifier then digest) against `data`: the
    /// trailer must have this key's trailer length, name this key and hold
    /// the digest of `data`.
    pub fn verify_trailer(&self, data: &[u8], trailer: &[u8]) -> Result<(), VerifyError> {
        if trailer.len() != self.trailer_len() {
            return Err(VerifyError::TrailerLength {
                expected: self.trailer_len(),
                actual: trailer.len(),
            });
        }
        let (id, mac) = trailer.split_at(KEY_ID_LEN);
        let found = trailer_key_id(id).unwrap_or(0);
        if found != self.id {
            return Err(VerifyError::KeyIdMismatch {
                expected: self.id,
                found,
            });
        }
        if self.verify(data, mac) {
            Ok(())
        } else {
            Err(VerifyError::BadMac)
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("algorithm", &self.algorithm)
            .field(
                "secret",
                &format_args!("<{} octets, not shown>", self.secret.len()),
            )
            .finish()
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        wipe(&mut self.secret);
    }
}

/// Overwrites `bytes` with zeros in a way the optimiser should not remove.
fn wipe(bytes: &mut [u8]) {
    for b in bytes.iter_mut() {
        *b = 0;
    }
    std::hint::black_box(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secret() {
        let key = Key::new(5, MacAlgorithm::Md5, b"topsecret");
        let s = format!("{key:?}");
        assert!(!s.contains("topsecret"), "{s}");
        assert!(s.contains("9 octets"), "{s}");
    }

    #[test]
    fn short_buffers() {
        let key = Key::new(1, MacAlgorithm::Sha1, b"k");
        let mut out = [0u8; 19];
        assert_eq!(key.compute_mac(b"x", &mut out), 0);
        assert_eq!(out, [0u8; 19]);
        let mut buf = [0u8; 48 + 23];
        assert_eq!(
            key.sign_into(&mut buf, 48),
            Err(SignError::BufferTooSmall {
                needed: 72,
                available: 71
            })
        );
        assert!(key.sign_into(&mut buf, usize::MAX).is_err());
        assert!(key.sign_into(&mut buf, 100).is_err());
    }

    #[test]
    fn cmac_short_secret_is_zero_extended() {
        let short = Key::new(1, MacAlgorithm::Aes128Cmac, b"abc");
        let mut padded = [0u8; 16];
        padded[..3].copy_from_slice(b"abc");
        let full = Key::new(1, MacAlgorithm::Aes128Cmac, &padded);
        assert_eq!(short.digest(b"data"), full.digest(b"data"));
        let long = Key::new(1, MacAlgorithm::Aes128Cmac, b"0123456789abcdefXYZ");
        let first16 = Key::new(1, MacAlgorithm::Aes128Cmac, b"0123456789abcdef");
        assert_eq!(long.digest(b"data"), first16.digest(b"data"));
    }
}
