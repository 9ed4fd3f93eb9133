//! Reference identifiers and Kiss-o'-Death codes (RFC 5905 sections 7.3
//! and 7.4).
//!
//! The 32-bit reference ID means different things by stratum: at stratum 0
//! (a Kiss-o'-Death packet) it is a four-character kiss code; at stratum 1
//! it names the reference clock in up to four ASCII characters (`GPS`,
//! `PPS`, ...); above, it is the IPv4 address of the server's system peer or,
//! for an IPv6 system peer, the first four octets of the MD5 hash of its
//! address.
//!
//! ```
//! use ntp_wire::refid::{KissCode, ReferenceId};
//!
//! let id = ReferenceId::from_ascii("RATE");
//! assert_eq!(KissCode::from_reference_id(id), KissCode::Rate);
//! assert_eq!(ReferenceId::from_ascii("GPS").to_string(), "GPS");
//! ```

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use md5::{Digest, Md5};

/// A 32-bit reference identifier, kept as its four wire octets.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReferenceId([u8; 4]);

impl ReferenceId {
    /// All zero: no reference (an unsynchronised server).
    pub const NONE: Self = Self([0; 4]);
    /// `INIT`: the kiss code of an association that has not yet synchronised.
    pub const INIT: Self = Self(*b"INIT");
    /// `LOCL`: the local clock.
    pub const LOCAL: Self = Self(*b"LOCL");

    /// A reference ID from its four wire octets.
    pub const fn from_bytes(bytes: [u8; 4]) -> Self {
        Self(bytes)
    }

    /// The four wire octets.
    pub const fn to_bytes(self) -> [u8; 4] {
        self.0
    }

    /// The reference ID as a big-endian 32-bit number.
    pub const fn to_u32(self) -> u32 {
        u32::from_be_bytes(self.0)
    }

    /// A reference ID from a big-endian 32-bit number.
    pub const fn from_u32(value: u32) -> Self {
        Self(value.to_be_bytes())
    }

    /// Up to four ASCII characters, left-justified and zero-padded; longer
    /// text is cut after four octets.
    pub fn from_ascii(text: &str) -> Self {
        let mut bytes = [0; 4];
        for (slot, byte) in bytes.iter_mut().zip(text.bytes()) {
            *slot = byte;
        }
        Self(bytes)
    }

    /// The reference ID of an IPv4 system peer: its address.
    pub const fn from_ipv4(address: Ipv4Addr) -> Self {
        Self(address.octets())
    }

    /// The reference ID of an IPv6 system peer: the first four octets of the
    /// MD5 hash of its address (RFC 5905 section 7.3).
    pub fn from_ipv6(address: Ipv6Addr) -> Self {
        let digest = Md5::digest(address.octets());
        Self([digest[0], digest[1], digest[2], digest[3]])
    }

    /// The reference ID a server uses for a system peer at `address`.
    pub fn from_ip(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self::from_ipv4(v4),
            IpAddr::V6(v6) => Self::from_ipv6(v6),
        }
    }

    /// The reference ID read as an IPv4 address.
    pub const fn to_ipv4(self) -> Ipv4Addr {
        Ipv4Addr::new(self.0[0], self.0[1], self.0[2], self.0[3])
    }

    /// The text, if the octets are printable ASCII followed only by zero
    /// padding (and at least one character).
    pub fn ascii(&self) -> Option<&str> {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(4);
        if len == 0 || self.0[len..].iter().any(|&b| b != 0) {
            return None;
        }
        let text = &self.0[..len];
        if text.iter().all(|b| b.is_ascii_graphic()) {
            core::str::from_utf8(text).ok()
        } else {
            None
        }
    }

    /// How this reference ID reads in a packet of the given stratum.
    pub fn interpret(self, stratum: u8) -> RefIdMeaning {
        match stratum {
            0 => RefIdMeaning::Kiss(KissCode::from_reference_id(self)),
            1 => match self.ascii() {
                Some(_) => RefIdMeaning::Clock(self),
                None => RefIdMeaning::Opaque(self),
            },
            // Unsynchronised servers advertise stratum 16 with a kiss-like
            // text such as INIT, or nothing at all.
            16 => match self.ascii() {
                Some(_) => RefIdMeaning::Clock(self),
                None => RefIdMeaning::Opaque(self),
            },
            _ => RefIdMeaning::Address(self.to_ipv4()),
        }
    }
}

impl fmt::Debug for ReferenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ascii() {
            Some(text) => write!(f, "ReferenceId({text:?})"),
            None => write!(f, "ReferenceId(0x{:08x})", self.to_u32()),
        }
    }
}

/// The text when it is printable ASCII, otherwise dotted-quad form.
impl fmt::Display for ReferenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ascii() {
            Some(text) => f.write_str(text),
            None => write!(f, "{}", self.to_ipv4()),
        }
    }
}

/// What a reference ID means in a packet of a given stratum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefIdMeaning {
    /// Stratum 0: a Kiss-o'-Death code.
    Kiss(KissCode),
    /// Stratum 1 (or 16): a reference clock or state name in ASCII.
    Clock(ReferenceId),
    /// Stratum 2-15: the IPv4 address of the server's system peer, or the
    /// hash of its IPv6 address (the two cannot be told apart).
    Address(Ipv4Addr),
    /// Not printable where text was expected.
    Opaque(ReferenceId),
}

macro_rules! kiss_codes {
    ($($variant:ident = $code:literal : $meaning:literal,)*) => {
        /// A Kiss-o'-Death code (RFC 5905 figure 13, plus NTSN from RFC 8915).
        /// Unknown codes are kept.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum KissCode {
            $(
                #[doc = $meaning]
                $variant,
            )*
            /// A code this implementation does not know, kept as received.
            Unknown(ReferenceId),
        }

        impl KissCode {
            /// The code of a stratum-0 packet's reference ID.
            pub fn from_reference_id(id: ReferenceId) -> Self {
                match &id.to_bytes() {
                    $($code => Self::$variant,)*
                    _ => Self::Unknown(id),
                }
            }

            /// The reference ID carrying this code.
            pub fn to_reference_id(self) -> ReferenceId {
                match self {
                    $(Self::$variant => ReferenceId::from_bytes(*$code),)*
                    Self::Unknown(id) => id,
                }
            }

            /// What the code means (RFC 5905 figure 13).
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Self::$variant => $meaning,)*
                    Self::Unknown(_) => "unknown kiss code",
                }
            }
        }
    };
}

kiss_codes! {
    Acst = b"ACST": "The association belongs to a unicast server.",
    Auth = b"AUTH": "Server authentication failed.",
    Auto = b"AUTO": "Autokey sequence failed.",
    Bcst = b"BCST": "The association belongs to a broadcast server.",
    Cryp = b"CRYP": "Cryptographic authentication or identification failed.",
    Deny = b"DENY": "Access denied by remote server.",
    Drop = b"DROP": "Lost peer in symmetric mode.",
    Rstr = b"RSTR": "Access denied due to local policy.",
    Init = b"INIT": "The association has not yet synchronized for the first time.",
    Mcst = b"MCST": "The association belongs to a dynamically discovered server.",
    Nkey = b"NKEY": "No key found. Either the key was never installed or is not trusted.",
    Ntsn = b"NTSN": "Network Time Security (NTS) negative-acknowledgment (NAK).",
    Rate = b"RATE": "Rate exceeded. The server has temporarily denied access because the client exceeded the rate threshold.",
    Rmot = b"RMOT": "Alteration of association from a remote host running ntpdc.",
    Step = b"STEP": "A step change in system time has occurred, but the association has not yet resynchronized.",
}

impl KissCode {
    /// Whether the client must stop sending to the server (DENY, RSTR).
    pub fn is_access_denied(self) -> bool {
        matches!(self, Self::Deny | Self::Rstr)
    }
}

impl fmt::Display for KissCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_reference_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_refid_is_md5_prefix() {
        // RFC 5905 section 7.3: the first four octets of the MD5 hash of the
        // sixteen address octets.
        let addr: Ipv6Addr = "::1".parse().unwrap();
        let digest = Md5::digest(addr.octets());
        assert_eq!(
            ReferenceId::from_ipv6(addr).to_bytes(),
            [digest[0], digest[1], digest[2], digest[3]]
        );
        assert_eq!(
            ReferenceId::from_ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))).to_bytes(),
            [192, 0, 2, 1]
        );
    }

    #[test]
    fn ascii_rules() {
        assert_eq!(ReferenceId::from_ascii("GPS").ascii(), Some("GPS"));
        assert_eq!(ReferenceId::from_bytes([0x7f, 0, 0, 1]).ascii(), None);
        assert_eq!(ReferenceId::NONE.ascii(), None);
        assert_eq!(ReferenceId::from_bytes(*b"G\0PS").ascii(), None);
        assert_eq!(ReferenceId::from_ascii("TOOLONG").ascii(), Some("TOOL"));
    }

    #[test]
    fn kiss_codes_round_trip_and_keep_unknown() {
        for code in [
            KissCode::Rate,
            KissCode::Deny,
            KissCode::Rstr,
            KissCode::Ntsn,
        ] {
            assert_eq!(KissCode::from_reference_id(code.to_reference_id()), code);
        }
        let odd = ReferenceId::from_ascii("ZZZZ");
        assert_eq!(KissCode::from_reference_id(odd), KissCode::Unknown(odd));
        assert!(KissCode::Deny.is_access_denied());
        assert!(!KissCode::Rate.is_access_denied());
        assert_eq!(KissCode::Rate.to_string(), "RATE");
    }
}
