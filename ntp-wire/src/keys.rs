//! The symmetric keys file (`ntp.keys`) of the reference implementation,
//! the parsed key store, and the set of trusted key identifiers.
//!
//! # File format
//!
//! Each line holds `keyid type secret [addresses]`, fields separated by
//! spaces or tabs; `#` starts a comment anywhere on a line, and blank lines
//! are ignored. The rules follow ntpd 4.2.8p18's reader (`authreadkeys`):
//!
//! - `keyid` is a decimal number from 1 to 65535 ([`MAX_KEY_ID`]).
//! - `type` names the digest, case-insensitively: `MD5` (or the legacy `M`),
//!   `SHA1`, `AES128CMAC` (or `CMAC`, which OpenSSL also knows). ntpd also
//!   takes OpenSSL's `DSA` and `DSA-SHA` digest names, which OpenSSL computes
//!   as SHA-1; they load as [`MacAlgorithm::Sha1`]. Any other type (`MD4`,
//!   `RIPEMD160`, `SHA`, `SHA-1`, ...) is skipped with a
//!   [`KeyFileWarning::UnsupportedType`], as ntpd skips types it has no
//!   algorithm for; the rest of the line is still checked.
//! - A `secret` of at most 20 characters ([`MAX_ASCII_SECRET_LEN`]) is taken
//!   verbatim as ASCII. A longer one is hex (either case); it may have odd
//!   length (the last digit is then the high half of the last octet, as in
//!   ntpd), must decode to at most 64 octets ([`MAX_SECRET_LEN`]), and any
//!   non-hex character is an error.
//! - The optional fourth field is a comma-separated list of IP addresses,
//!   each with an optional `/bits` prefix length: the key is then accepted
//!   only from those sources ([`KeyStore::allows`]). Further fields are
//!   ignored, as in ntpd.
//!
//! ntpd rejects the whole file when any line has an error; [`KeyStore::parse`]
//! does the same. The `sntp` tool instead drops bad lines and keeps the rest;
//! [`KeyStore::parse_report`] gives that result together with every error and
//! warning. When a key identifier appears twice the first line wins (ntpd's
//! effective behaviour) and the second gets a
//! [`KeyFileWarning::DuplicateKeyId`].
//!
//! # Example
//!
//! ```
//! use ntp_wire::keys::{KeyStore, TrustedKeys};
//! use ntp_wire::mac::MacAlgorithm;
//!
//! let text = "\
//! ## ntp.keys
//! 1 MD5 asciikey            # 8 octets, ASCII
//! 2 SHA1 17d96a86eb9b9075f33e1c0a08bb2bb61e916e33
//! 3 AES128CMAC 0fd2287c1e97a50cb9d3cb9f80debcb6 192.0.2.0/24
//! ";
//! let keys = KeyStore::parse(text)?;
//! assert_eq!(keys.len(), 3);
//! assert_eq!(keys.get(2).map(|k| k.algorithm()), Some(MacAlgorithm::Sha1));
//! assert!(keys.allows(3, "192.0.2.7".parse()?));
//! assert!(!keys.allows(3, "198.51.100.1".parse()?));
//!
//! let mut trusted = TrustedKeys::new();
//! trusted.insert(1);
//! trusted.insert_range(2..=3);
//! assert!(trusted.contains(3) && !trusted.contains(4));
//!
//! // Sign a packet with key 3 and check it at the receiver.
//! let mut buf = [0u8; 48 + 20];
//! let key = keys.get(3).ok_or("no key 3")?;
//! let len = key.sign_into(&mut buf, 48)?;
//! let (data, trailer) = buf[..len].split_at(48);
//! let key = keys.verify_trailer(data, trailer)?;
//! assert!(trusted.contains(key.id()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::RangeInclusive;

use crate::mac::{Key, MacAlgorithm, VerifyError, trailer_key_id};

/// Largest key identifier allowed in a keys file (larger ones were reserved
/// for Autokey).
pub const MAX_KEY_ID: u32 = 65535;

/// Secrets up to this many characters are ASCII; longer ones are hex.
pub const MAX_ASCII_SECRET_LEN: usize = 20;

/// Largest secret a keys file may hold, in octets (ntpd's
/// `AUTHPWD_MAXSECLEN`).
pub const MAX_SECRET_LEN: usize = 64;

/// An error on one line of a keys file. Each variant carries the 1-based line
/// number. No variant contains secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// The first field is not a decimal number.
    #[error("line {line}: key id {text:?} is not a decimal number")]
    InvalidKeyId {
        /// Line number.
        line: usize,
        /// The field as written.
        text: String,
    },
    /// The key identifier is 0 or above [`MAX_KEY_ID`].
    #[error("line {line}: key id {text} is outside 1..=65535")]
    KeyIdOutOfRange {
        /// Line number.
        line: usize,
        /// The field as written.
        text: String,
    },
    /// The line ends after the key identifier.
    #[error("line {line}: no key type for key {id}")]
    MissingType {
        /// Line number.
        line: usize,
        /// Key identifier.
        id: u32,
    },
    /// The line ends after the key type.
    #[error("line {line}: no secret for key {id}")]
    MissingSecret {
        /// Line number.
        line: usize,
        /// Key identifier.
        id: u32,
    },
    /// A secret longer than 20 characters has a character that is not a hex
    /// digit.
    #[error("line {line}: hex secret of key {id} has a non-hex character at position {position}")]
    InvalidHex {
        /// Line number.
        line: usize,
        /// Key identifier.
        id: u32,
        /// 1-based character position within the secret.
        position: usize,
    },
    /// A hex secret decodes to more than [`MAX_SECRET_LEN`] octets.
    #[error("line {line}: secret of key {id} is {octets} octets, at most 64 are allowed")]
    SecretTooLong {
        /// Line number.
        line: usize,
        /// Key identifier.
        id: u32,
        /// Decoded length in octets.
        octets: usize,
    },
    /// An entry of the address list is not an IP address with an optional
    /// decimal prefix length.
    #[error("line {line}: invalid address {text:?} for key {id}")]
    InvalidAddress {
        /// Line number.
        line: usize,
        /// Key identifier.
        id: u32,
        /// The entry as written.
        text: String,
    },
}

impl KeyFileError {
    /// The 1-based line number the error is on.
    pub fn line(&self) -> usize {
        match self {
            Self::InvalidKeyId { line, .. }
            | Self::KeyIdOutOfRange { line, .. }
            | Self::MissingType { line, .. }
            | Self::MissingSecret { line, .. }
            | Self::InvalidHex { line, .. }
            | Self::SecretTooLong { line, .. }
            | Self::InvalidAddress { line, .. } => *line,
        }
    }
}

/// Something in a keys file that does not make it invalid but that the user
/// may want to hear about (ntpd logs these).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileWarning {
    /// The key type is not supported; the key is skipped.
    #[error("line {line}: unsupported type {name:?} for key {id}, key skipped")]
    UnsupportedType {
        /// Line number.
        line: usize,
        /// Key identifier.
        id: u32,
        /// The type as written.
        name: String,
    },
    /// The key identifier was already defined; this line is ignored.
    #[error("line {line}: key {id} already defined on line {first_line}, line ignored")]
    DuplicateKeyId {
        /// Line number.
        line: usize,
        /// Key identifier.
        id: u32,
        /// Line of the definition that is kept.
        first_line: usize,
    },
    /// An AES-128-CMAC secret shorter than 16 octets; it is zero-extended.
    #[error("line {line}: AES128CMAC key {id} has {octets} octets, zero-extended to 16")]
    ShortCmacKey {
        /// Line number.
        line: usize,
        /// Key identifier.
        id: u32,
        /// Secret length in octets.
        octets: usize,
    },
    /// A prefix length larger than the address has bits; it is clamped.
    #[error(
        "line {line}: prefix length {bits} too long for {addr} (key {id}), using the full address"
    )]
    ExcessivePrefix {
        /// Line number.
        line: usize,
        /// Key identifier.
        id: u32,
        /// The address.
        addr: IpAddr,
        /// The prefix length as written.
        bits: u32,
    },
}

/// A source address (or network) a key is restricted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyAccess {
    addr: IpAddr,
    prefix_len: u8,
}

impl KeyAccess {
    /// An entry matching the first `prefix_len` bits of `addr`; a prefix
    /// longer than the address is clamped to the full address.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Self {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        KeyAccess {
            addr,
            prefix_len: prefix_len.min(max),
        }
    }

    /// The address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `addr` is within this entry (same address family and the same
    /// first `prefix_len` bits).
    pub fn matches(&self, addr: IpAddr) -> bool {
        let bits = u32::from(self.prefix_len);
        match (self.addr, addr) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX.checked_shl(32 - bits.min(32)).unwrap_or(0);
                (u32::from(a) ^ u32::from(b)) & mask == 0
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX.checked_shl(128 - bits.min(128)).unwrap_or(0);
                (u128::from(a) ^ u128::from(b)) & mask == 0
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    key: Key,
    access: Vec<KeyAccess>,
    line: usize,
}

/// The keys loaded from a keys file (or added by hand), by key identifier.
#[derive(Debug, Clone, Default)]
pub struct KeyStore {
    keys: BTreeMap<u32, Entry>,
}

/// Everything [`KeyStore::parse_report`] found in a keys file.
#[derive(Debug, Clone, Default)]
pub struct KeyFileReport {
    /// The keys of all lines without errors (what `sntp` would use).
    pub keys: KeyStore,
    /// Errors, in line order. ntpd rejects a file with any error.
    pub errors: Vec<KeyFileError>,
    /// Warnings, in line order.
    pub warnings: Vec<KeyFileWarning>,
}

impl KeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a keys file strictly, as ntpd does: any error rejects the
    /// whole file and the first one is returned. Warnings (such as skipped
    /// key types) are dropped; use [`KeyStore::parse_report`] to see them.
    pub fn parse(text: &str) -> Result<KeyStore, KeyFileError> {
        let report = Self::parse_report(text);
        match report.errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(report.keys),
        }
    }

    /// Parses a keys file leniently: lines with errors are dropped (as
    /// `sntp` does) and reported along with all warnings.
    pub fn parse_report(text: &str) -> KeyFileReport {
        let mut report = KeyFileReport::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            match parse_line(line, raw, &mut report.warnings) {
                Ok(None) => {}
                Ok(Some(entry)) => {
                    let id = entry.key.id();
                    if let Some(first) = report.keys.keys.get(&id) {
                        report.warnings.push(KeyFileWarning::DuplicateKeyId {
                            line,
                            id,
                            first_line: first.line,
                        });
                    } else {
                        report.keys.keys.insert(id, entry);
                    }
                }
                Err(e) => report.errors.push(e),
            }
        }
        report
    }

    /// Adds a key usable from any source, replacing (and returning) any key
    /// with the same identifier.
    pub fn insert(&mut self, key: Key) -> Option<Key> {
        self.insert_restricted(key, Vec::new())
    }

    /// Adds a key accepted only from the given sources (an empty list means
    /// any source), replacing (and returning) any key with the same
    /// identifier.
    pub fn insert_restricted(&mut self, key: Key, access: Vec<KeyAccess>) -> Option<Key> {
        let entry = Entry {
            key,
            access,
            line: 0,
        };
        self.keys.insert(entry.key.id(), entry).map(|e| e.key)
    }

    /// Removes the key with this identifier.
    pub fn remove(&mut self, id: u32) -> Option<Key> {
        self.keys.remove(&id).map(|e| e.key)
    }

    /// The key with this identifier.
    pub fn get(&self, id: u32) -> Option<&Key> {
        self.keys.get(&id).map(|e| &e.key)
    }

    /// Whether a key with this identifier is present.
    pub fn contains(&self, id: u32) -> bool {
        self.keys.contains_key(&id)
    }

    /// The source addresses the key is restricted to (empty: any source, or
    /// no such key).
    pub fn access_list(&self, id: u32) -> &[KeyAccess] {
        self.keys.get(&id).map_or(&[], |e| e.access.as_slice())
    }

    /// Whether the key exists and may be used with packets from `source`:
    /// its address list is empty or has a matching entry.
    pub fn allows(&self, id: u32, source: IpAddr) -> bool {
        self.keys
            .get(&id)
            .is_some_and(|e| e.access.is_empty() || e.access.iter().any(|a| a.matches(source)))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys in increasing identifier order.
    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.keys.values().map(|e| &e.key)
    }

    /// Looks up the key named by a MAC trailer and verifies the trailer
    /// against `data` with it (see [`Key::verify_trailer`]). Returns the key
    /// that verified. Whether that key is trusted, and allowed from the
    /// packet's source, is for the caller to check ([`TrustedKeys`],
    /// [`KeyStore::allows`]).
    pub fn verify_trailer(&self, data: &[u8], trailer: &[u8]) -> Result<&Key, VerifyError> {
        let id = trailer_key_id(trailer).ok_or(VerifyError::TrailerLength {
            expected: crate::mac::KEY_ID_LEN,
            actual: trailer.len(),
        })?;
        let key = self.get(id).ok_or(VerifyError::UnknownKey(id))?;
        key.verify_trailer(data, trailer)?;
        Ok(key)
    }
}

/// The algorithm for a keys-file type name, `None` for an unsupported one.
fn algorithm_from_name(name: &str) -> Option<MacAlgorithm> {
    let upper = name.to_ascii_uppercase();
    match upper.as_str() {
        "MD5" | "M" => Some(MacAlgorithm::Md5),
        "SHA1" | "DSA" | "DSA-SHA" => Some(MacAlgorithm::Sha1),
        "AES128CMAC" | "CMAC" => Some(MacAlgorithm::Aes128Cmac),
        _ => None,
    }
}

/// Parses one line; `Ok(None)` for blank and comment lines and for skipped
/// key types.
fn parse_line(
    line: usize,
    raw: &str,
    warnings: &mut Vec<KeyFileWarning>,
) -> Result<Option<Entry>, KeyFileError> {
    let content = raw.split('#').next().unwrap_or("");
    let mut fields = content.split([' ', '\t']).filter(|f| !f.is_empty());
    let Some(id_text) = fields.next() else {
        return Ok(None);
    };
    let id = parse_key_id(line, id_text)?;
    let type_name = fields
        .next()
        .ok_or(KeyFileError::MissingType { line, id })?;
    let algorithm = algorithm_from_name(type_name);
    let secret_text = fields
        .next()
        .ok_or(KeyFileError::MissingSecret { line, id })?;
    let secret = decode_secret(line, id, secret_text)?;
    let mut access = Vec::new();
    if let Some(list) = fields.next() {
        for item in list.split(',') {
            access.push(parse_access(line, id, item, warnings)?);
        }
    }
    let Some(algorithm) = algorithm else {
        warnings.push(KeyFileWarning::UnsupportedType {
            line,
            id,
            name: type_name.to_string(),
        });
        return Ok(None);
    };
    if algorithm == MacAlgorithm::Aes128Cmac && secret.len() < 16 {
        warnings.push(KeyFileWarning::ShortCmacKey {
            line,
            id,
            octets: secret.len(),
        });
    }
    let key = Key::new(id, algorithm, &secret);
    Ok(Some(Entry { key, access, line }))
}

fn parse_key_id(line: usize, text: &str) -> Result<u32, KeyFileError> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KeyFileError::InvalidKeyId {
            line,
            text: text.to_string(),
        });
    }
    match text.parse::<u32>() {
        Ok(id @ 1..=MAX_KEY_ID) => Ok(id),
        _ => Err(KeyFileError::KeyIdOutOfRange {
            line,
            text: text.to_string(),
        }),
    }
}

/// A secret that zeroes itself when dropped (parse-time temporary).
struct SecretBuf([u8; MAX_SECRET_LEN], usize);

impl std::ops::Deref for SecretBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0[..self.1.min(MAX_SECRET_LEN)]
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&mut self.0);
    }
}

fn decode_secret(line: usize, id: u32, text: &str) -> Result<SecretBuf, KeyFileError> {
    let bytes = text.as_bytes();
    let mut out = SecretBuf([0; MAX_SECRET_LEN], 0);
    if bytes.len() <= MAX_ASCII_SECRET_LEN {
        out.0[..bytes.len()].copy_from_slice(bytes);
        out.1 = bytes.len();
        return Ok(out);
    }
    let octets = bytes.len().div_ceil(2);
    if octets > MAX_SECRET_LEN {
        return Err(KeyFileError::SecretTooLong { line, id, octets });
    }
    for (i, &c) in bytes.iter().enumerate() {
        let nibble = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => {
                return Err(KeyFileError::InvalidHex {
                    line,
                    id,
                    position: text[..i].chars().count() + 1,
                });
            }
        };
        if i.is_multiple_of(2) {
            out.0[i / 2] = nibble << 4;
        } else {
            out.0[i / 2] |= nibble;
        }
    }
    out.1 = octets;
    Ok(out)
}

fn parse_access(
    line: usize,
    id: u32,
    item: &str,
    warnings: &mut Vec<KeyFileWarning>,
) -> Result<KeyAccess, KeyFileError> {
    let invalid = || KeyFileError::InvalidAddress {
        line,
        id,
        text: item.to_string(),
    };
    let (addr_text, bits) = match item.split_once('/') {
        None => (item, None),
        Some((a, b)) => {
            if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) {
                return Err(invalid());
            }
            (a, Some(b.parse::<u32>().unwrap_or(u32::MAX)))
        }
    };
    let addr: IpAddr = addr_text.parse().map_err(|_| invalid())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        None => max,
        Some(b) if b > max => {
            warnings.push(KeyFileWarning::ExcessivePrefix {
                line,
                id,
                addr,
                bits: b,
            });
            max
        }
        Some(b) => b,
    };
    Ok(KeyAccess::new(addr, u8::try_from(bits).unwrap_or(u8::MAX)))
}

/// A set of trusted key identifiers (`trustedkey 1 2 (5 ... 9)`), stored as
/// sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    ranges: Vec<(u32, u32)>,
}

impl TrustedKeys {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one key identifier.
    pub fn insert(&mut self, id: u32) {
        self.insert_range(id..=id);
    }

    /// Adds every identifier in `range` (nothing if it is empty).
    pub fn insert_range(&mut self, range: RangeInclusive<u32>) {
        let (mut lo, mut hi) = range.into_inner();
        if lo > hi {
            return;
        }
        // Merge with every range that overlaps or touches [lo, hi].
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        for &(a, b) in &self.ranges {
            if b.saturating_add(1) < lo || hi.saturating_add(1) < a {
                out.push((a, b));
            } else {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
        let pos = out.partition_point(|&(a, _)| a < lo);
        out.insert(pos, (lo, hi));
        self.ranges = out;
    }

    /// Removes one key identifier (ntpd's "untrust").
    pub fn remove(&mut self, id: u32) {
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        for &(a, b) in &self.ranges {
            if id < a || id > b {
                out.push((a, b));
                continue;
            }
            if a < id {
                out.push((a, id - 1));
            }
            if id < b {
                out.push((id + 1, b));
            }
        }
        self.ranges = out;
    }

    /// Whether `id` is trusted.
    pub fn contains(&self, id: u32) -> bool {
        let i = self.ranges.partition_point(|&(_, b)| b < id);
        self.ranges.get(i).is_some_and(|&(a, _)| a <= id)
    }

    /// Whether no identifier is trusted.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of trusted identifiers.
    pub fn count(&self) -> u64 {
        self.ranges
            .iter()
            .map(|&(a, b)| u64::from(b) - u64::from(a) + 1)
            .sum()
    }

    /// The trusted identifiers as sorted, disjoint inclusive ranges.
    pub fn ranges(&self) -> impl Iterator<Item = RangeInclusive<u32>> + '_ {
        self.ranges.iter().map(|&(a, b)| a..=b)
    }
}

impl FromIterator<u32> for TrustedKeys {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        let mut set = Self::new();
        set.extend(iter);
        set
    }
}

impl Extend<u32> for TrustedKeys {
    fn extend<I: IntoIterator<Item = u32>>(&mut self, iter: I) {
        for id in iter {
            self.insert(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_ranges_merge() {
        let mut t = TrustedKeys::new();
        t.insert_range(5..=9);
        t.insert(1);
        t.insert(2);
        t.insert(10);
        let (hi, lo) = (20, 19);
        t.insert_range(hi..=lo);
        assert_eq!(t.ranges().collect::<Vec<_>>(), vec![1..=2, 5..=10]);
        t.insert_range(3..=4);
        assert_eq!(t.ranges().collect::<Vec<_>>(), vec![1..=10]);
        t.remove(5);
        assert_eq!(t.ranges().collect::<Vec<_>>(), vec![1..=4, 6..=10]);
        assert!(!t.contains(5) && t.contains(4) && t.contains(6) && !t.contains(0));
        assert_eq!(t.count(), 9);
        t.insert_range(0..=u32::MAX);
        assert_eq!(t.count(), 1 << 32);
        t.remove(0);
        t.remove(u32::MAX);
        assert_eq!(t.ranges().collect::<Vec<_>>(), vec![1..=u32::MAX - 1]);
    }

    #[test]
    fn access_matching() {
        let a = KeyAccess::new("192.0.2.0".parse().unwrap(), 24);
        assert!(a.matches("192.0.2.255".parse().unwrap()));
        assert!(!a.matches("192.0.3.0".parse().unwrap()));
        assert!(!a.matches("::ffff:192.0.2.1".parse().unwrap()));
        let any = KeyAccess::new("0.0.0.0".parse().unwrap(), 0);
        assert!(any.matches("203.0.113.9".parse().unwrap()));
        let six = KeyAccess::new("2001:db8::".parse().unwrap(), 200);
        assert_eq!(six.prefix_len(), 128);
        assert!(six.matches("2001:db8::".parse().unwrap()));
        assert!(!six.matches("2001:db8::1".parse().unwrap()));
    }
}
