//! The NTP packet: the 48-octet header, extension fields (RFC 7822) and the
//! MAC trailer.
//!
//! Two layers, as in smoltcp's `wire` module:
//!
//! - [`PacketView`] wraps a byte buffer after one length and version check;
//!   from then on no accessor can panic.
//! - [`Header`] and [`Packet`] are owned (or borrowing) representations that
//!   are parsed from a view and emitted into a buffer. Parsing and emitting
//!   do not allocate.
//!
//! ```
//! use ntp_wire::packet::{Header, Mode, Packet};
//! use ntp_wire::time::NtpTimestamp;
//!
//! let mut request = Header::client_request(4, NtpTimestamp::from_bits(0x1234));
//! request.poll = 6;
//! let mut buf = [0u8; 48];
//! let len = request.emit(&mut buf).unwrap();
//! let parsed = Packet::parse(&buf[..len]).unwrap();
//! assert_eq!(parsed.header, request);
//! assert_eq!(parsed.header.mode, Mode::Client);
//! ```

use core::fmt;

use crate::WireError;
use crate::refid::{KissCode, ReferenceId};
use crate::time::{NtpShort, NtpTimestamp};

/// Length of the NTP header, the smallest NTP packet.
pub const HEADER_LEN: usize = 48;
/// The smallest extension field (RFC 7822).
pub const MIN_EXTENSION_FIELD_LEN: usize = 16;
/// The smallest last extension field before a MAC (RFC 7822).
pub const MIN_LAST_EXTENSION_FIELD_LEN: usize = 28;
/// The longest MAC trailer this crate knows: key id plus a SHA-1 digest.
pub const MAX_MAC_LEN: usize = 24;
/// The oldest version this crate parses.
pub const MIN_VERSION: u8 = 1;
/// The newest version this crate parses (NTPv4).
pub const MAX_VERSION: u8 = 4;

/// The leap indicator (RFC 5905 figure 9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LeapIndicator {
    /// No leap second warning.
    #[default]
    NoWarning = 0,
    /// The last minute of the day has 61 seconds.
    InsertSecond = 1,
    /// The last minute of the day has 59 seconds.
    DeleteSecond = 2,
    /// The clock is unsynchronised (alarm condition).
    Unsynchronized = 3,
}

impl LeapIndicator {
    /// The indicator from its two bits (higher bits are ignored).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => Self::NoWarning,
            1 => Self::InsertSecond,
            2 => Self::DeleteSecond,
            _ => Self::Unsynchronized,
        }
    }

    /// The two-bit wire value.
    pub const fn to_bits(self) -> u8 {
        self as u8
    }

    /// A short description, as a packet decoder prints it.
    pub const fn description(self) -> &'static str {
        match self {
            Self::NoWarning => "no warning",
            Self::InsertSecond => "last minute has 61 seconds",
            Self::DeleteSecond => "last minute has 59 seconds",
            Self::Unsynchronized => "unsynchronized",
        }
    }
}

/// The association mode of a packet (RFC 5905 figure 10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// 0: reserved.
    #[default]
    Reserved = 0,
    /// 1: symmetric active.
    SymmetricActive = 1,
    /// 2: symmetric passive.
    SymmetricPassive = 2,
    /// 3: client.
    Client = 3,
    /// 4: server.
    Server = 4,
    /// 5: broadcast (and multicast).
    Broadcast = 5,
    /// 6: NTP control message (`ntpq`).
    Control = 6,
    /// 7: reserved for private use (`ntpdc`).
    Private = 7,
}

impl Mode {
    /// The mode from its three bits (higher bits are ignored).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 7 {
            0 => Self::Reserved,
            1 => Self::SymmetricActive,
            2 => Self::SymmetricPassive,
            3 => Self::Client,
            4 => Self::Server,
            5 => Self::Broadcast,
            6 => Self::Control,
            _ => Self::Private,
        }
    }

    /// The three-bit wire value.
    pub const fn to_bits(self) -> u8 {
        self as u8
    }

    /// The name as RFC 5905 writes it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::SymmetricActive => "symmetric active",
            Self::SymmetricPassive => "symmetric passive",
            Self::Client => "client",
            Self::Server => "server",
            Self::Broadcast => "broadcast",
            Self::Control => "control",
            Self::Private => "private",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The NTP header (RFC 5905 figure 8): every field of the first 48 octets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Header {
    /// Leap indicator.
    pub leap: LeapIndicator,
    /// Version number, 1 to 4.
    pub version: u8,
    /// Association mode.
    pub mode: Mode,
    /// Stratum: 0 for Kiss-o'-Death, 1 primary, 2-15 secondary, 16 unsynchronised.
    pub stratum: u8,
    /// Poll exponent: log2 of the poll interval in seconds.
    pub poll: i8,
    /// Precision exponent: log2 of the clock precision in seconds.
    pub precision: i8,
    /// Root delay: total round-trip delay to the reference clock.
    pub root_delay: NtpShort,
    /// Root dispersion: total dispersion to the reference clock.
    pub root_dispersion: NtpShort,
    /// Reference ID.
    pub reference_id: ReferenceId,
    /// Reference timestamp: when the system clock was last set or corrected.
    pub reference_time: NtpTimestamp,
    /// Origin timestamp (T1): the client's transmit time echoed by the server.
    pub origin_time: NtpTimestamp,
    /// Receive timestamp (T2): when the request arrived at the server.
    pub receive_time: NtpTimestamp,
    /// Transmit timestamp (T3): when the reply left the server.
    pub transmit_time: NtpTimestamp,
}

impl Header {
    /// A client request following the data-minimisation practice: every
    /// field zero except version, mode and the transmit timestamp, which the
    /// caller fills with a random nonce.
    pub fn client_request(version: u8, nonce: NtpTimestamp) -> Self {
        Self {
            version,
            mode: Mode::Client,
            transmit_time: nonce,
            ..Self::default()
        }
    }

    /// The kiss code, if this is a Kiss-o'-Death packet (stratum 0).
    pub fn kiss_code(&self) -> Option<KissCode> {
        (self.stratum == 0).then(|| KissCode::from_reference_id(self.reference_id))
    }

    /// Parses the header from the first 48 octets of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        PacketView::new_checked(bytes).map(|view| view.header())
    }

    /// Writes the 48 header octets at the start of `buf`; returns 48.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let Some(out) = buf.get_mut(..HEADER_LEN) else {
            return Err(WireError::BufferTooSmall {
                needed: HEADER_LEN,
                available: buf.len(),
            });
        };
        out[0] = (self.leap.to_bits() << 6) | ((self.version & 7) << 3) | self.mode.to_bits();
        out[1] = self.stratum;
        out[2] = self.poll as u8;
        out[3] = self.precision as u8;
        out[4..8].copy_from_slice(&self.root_delay.to_bits().to_be_bytes());
        out[8..12].copy_from_slice(&self.root_dispersion.to_bits().to_be_bytes());
        out[12..16].copy_from_slice(&self.reference_id.to_bytes());
        out[16..24].copy_from_slice(&self.reference_time.to_bits().to_be_bytes());
        out[24..32].copy_from_slice(&self.origin_time.to_bits().to_be_bytes());
        out[32..40].copy_from_slice(&self.receive_time.to_bits().to_be_bytes());
        out[40..48].copy_from_slice(&self.transmit_time.to_bits().to_be_bytes());
        Ok(HEADER_LEN)
    }
}

/// A checked view over the bytes of an NTP packet (modes 0-5).
///
/// [`PacketView::new_checked`] verifies the length (at least 48 octets) and
/// the version (1 to 4); after that every header accessor is infallible.
/// The region after the header is interpreted by [`PacketView::trailer`].
#[derive(Clone, Copy, Debug)]
pub struct PacketView<'a> {
    header: &'a [u8; HEADER_LEN],
    rest: &'a [u8],
}

impl<'a> PacketView<'a> {
    /// Checks the length and version of `bytes`.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, WireError> {
        let Some((header, rest)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(WireError::TooShort { len: bytes.len() });
        };
        let version = (header[0] >> 3) & 7;
        if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
            return Err(WireError::BadVersion(version));
        }
        Ok(Self { header, rest })
    }

    /// Leap indicator.
    pub fn leap(&self) -> LeapIndicator {
        LeapIndicator::from_bits(self.header[0] >> 6)
    }

    /// Version number (1 to 4, checked).
    pub fn version(&self) -> u8 {
        (self.header[0] >> 3) & 7
    }

    /// Association mode.
    pub fn mode(&self) -> Mode {
        Mode::from_bits(self.header[0])
    }

    /// Stratum.
    pub fn stratum(&self) -> u8 {
        self.header[1]
    }

    /// Poll exponent.
    pub fn poll(&self) -> i8 {
        self.header[2] as i8
    }

    /// Precision exponent.
    pub fn precision(&self) -> i8 {
        self.header[3] as i8
    }

    fn u32_at(&self, at: usize) -> u32 {
        let mut word = [0; 4];
        word.copy_from_slice(&self.header[at..at + 4]);
        u32::from_be_bytes(word)
    }

    fn timestamp_at(&self, at: usize) -> NtpTimestamp {
        let mut word = [0; 8];
        word.copy_from_slice(&self.header[at..at + 8]);
        NtpTimestamp::from_bits(u64::from_be_bytes(word))
    }

    /// Root delay.
    pub fn root_delay(&self) -> NtpShort {
        NtpShort::from_bits(self.u32_at(4))
    }

    /// Root dispersion.
    pub fn root_dispersion(&self) -> NtpShort {
        NtpShort::from_bits(self.u32_at(8))
    }

    /// Reference ID.
    pub fn reference_id(&self) -> ReferenceId {
        ReferenceId::from_u32(self.u32_at(12))
    }

    /// Reference timestamp.
    pub fn reference_time(&self) -> NtpTimestamp {
        self.timestamp_at(16)
    }

    /// Origin timestamp.
    pub fn origin_time(&self) -> NtpTimestamp {
        self.timestamp_at(24)
    }

    /// Receive timestamp.
    pub fn receive_time(&self) -> NtpTimestamp {
        self.timestamp_at(32)
    }

    /// Transmit timestamp.
    pub fn transmit_time(&self) -> NtpTimestamp {
        self.timestamp_at(40)
    }

    /// All header fields.
    pub fn header(&self) -> Header {
        Header {
            leap: self.leap(),
            version: self.version(),
            mode: self.mode(),
            stratum: self.stratum(),
            poll: self.poll(),
            precision: self.precision(),
            root_delay: self.root_delay(),
            root_dispersion: self.root_dispersion(),
            reference_id: self.reference_id(),
            reference_time: self.reference_time(),
            origin_time: self.origin_time(),
            receive_time: self.receive_time(),
            transmit_time: self.transmit_time(),
        }
    }

    /// The 48 header octets.
    pub fn header_bytes(&self) -> &'a [u8; HEADER_LEN] {
        self.header
    }

    /// The octets after the header (extension fields and MAC), uninterpreted.
    pub fn trailer_bytes(&self) -> &'a [u8] {
        self.rest
    }

    /// Interprets the octets after the header as extension fields and an
    /// optional MAC, following RFC 7822.
    ///
    /// Walking from the header, a remainder of exactly 4, 20 or 24 octets is
    /// the MAC (4: a crypto-NAK, key id only; 20: key id and a 16-octet
    /// digest, MD5 or AES-CMAC; 24: key id and a 20-octet SHA-1 digest),
    /// because RFC 7822 makes every extension field at least 16 octets and
    /// the last one before a MAC at least 28. Anything else must be a valid
    /// extension field. Before NTPv4 there are no extension fields.
    pub fn trailer(&self) -> Result<Trailer<'a>, WireError> {
        let v4 = self.version() >= 4;
        let mut at = 0;
        loop {
            let remaining = &self.rest[at..];
            match remaining.len() {
                0 => {
                    return Ok(Trailer {
                        extension_fields: ExtensionFields(&self.rest[..at]),
                        mac: None,
                    });
                }
                4 | 20 | 24 => {
                    return Ok(Trailer {
                        extension_fields: ExtensionFields(&self.rest[..at]),
                        mac: Some(Mac::parse_trailer(remaining)),
                    });
                }
                len if !v4 || len < MIN_EXTENSION_FIELD_LEN => {
                    return Err(WireError::BadMacLength {
                        len,
                        offset: HEADER_LEN + at,
                    });
                }
                _ => {
                    let field_len = usize::from(u16::from_be_bytes([remaining[2], remaining[3]]));
                    let offset = HEADER_LEN + at;
                    if field_len < MIN_EXTENSION_FIELD_LEN {
                        return Err(WireError::BadExtensionLength {
                            offset,
                            length: field_len,
                            reason: "shorter than 16 octets",
                        });
                    }
                    if !field_len.is_multiple_of(4) {
                        return Err(WireError::BadExtensionLength {
                            offset,
                            length: field_len,
                            reason: "not a multiple of 4 octets",
                        });
                    }
                    if field_len > remaining.len() {
                        return Err(WireError::BadExtensionLength {
                            offset,
                            length: field_len,
                            reason: "longer than the rest of the packet",
                        });
                    }
                    let after = remaining.len() - field_len;
                    if matches!(after, 4 | 20 | 24) && field_len < MIN_LAST_EXTENSION_FIELD_LEN {
                        return Err(WireError::BadExtensionLength {
                            offset,
                            length: field_len,
                            reason: "the last extension field before a MAC must be at least 28 octets",
                        });
                    }
                    at += field_len;
                }
            }
        }
    }
}

/// The part of a packet after the header: extension fields and a MAC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trailer<'a> {
    /// The extension fields, validated.
    pub extension_fields: ExtensionFields<'a>,
    /// The MAC, if present.
    pub mac: Option<Mac<'a>>,
}

/// A validated sequence of extension fields (RFC 7822), kept as the bytes
/// they occupy; iterate to read them.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtensionFields<'a>(&'a [u8]);

/// Lists each field's type and wire length.
impl fmt::Debug for ExtensionFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|e| format!("type {:#06x}, {} octets", e.field_type, e.wire_len())),
            )
            .finish()
    }
}

impl<'a> ExtensionFields<'a> {
    /// No extension fields.
    pub const EMPTY: Self = Self(&[]);

    /// The raw bytes of all fields.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields in order.
    pub fn iter(&self) -> ExtensionFieldIter<'a> {
        ExtensionFieldIter(self.0)
    }
}

impl<'a> IntoIterator for ExtensionFields<'a> {
    type Item = ExtensionField<'a>;
    type IntoIter = ExtensionFieldIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over validated extension fields.
#[derive(Clone, Debug)]
pub struct ExtensionFieldIter<'a>(&'a [u8]);

impl<'a> Iterator for ExtensionFieldIter<'a> {
    type Item = ExtensionField<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let (head, _) = self.0.split_first_chunk::<4>()?;
        let field_type = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        // The region was validated; stay safe if it was not.
        let field = self.0.get(..len)?;
        self.0 = &self.0[len..];
        Some(ExtensionField {
            field_type,
            value: field.get(4..).unwrap_or_default(),
        })
    }
}

/// One extension field: its type and its value (including padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionField<'a> {
    /// The 16-bit field type.
    pub field_type: u16,
    /// The value, padded to a multiple of four octets.
    pub value: &'a [u8],
}

impl ExtensionField<'_> {
    /// The whole length of the field on the wire (type, length, value).
    pub fn wire_len(&self) -> usize {
        4 + self.value.len()
    }

    /// The registered name of the field type, where known.
    pub fn type_name(&self) -> Option<&'static str> {
        Some(match self.field_type {
            0x0104 => "NTS Unique Identifier",
            0x0204 => "NTS Cookie",
            0x0304 => "NTS Cookie Placeholder",
            0x0404 => "NTS Authenticator and Encrypted Extension Fields",
            0x0002 => "No-Operation Request",
            0x8002 => "No-Operation Response",
            _ => return None,
        })
    }

    /// Writes the field into `buf` (type, length, value); returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.wire_len();
        let length_field = u16::try_from(len).map_err(|_| WireError::BadExtensionLength {
            offset: 0,
            length: len,
            reason: "longer than 65535 octets",
        })?;
        if len < MIN_EXTENSION_FIELD_LEN || !len.is_multiple_of(4) {
            return Err(WireError::BadExtensionLength {
                offset: 0,
                length: len,
                reason: "extension fields are at least 16 octets, in multiples of 4",
            });
        }
        let Some(out) = buf.get_mut(..len) else {
            return Err(WireError::BufferTooSmall {
                needed: len,
                available: buf.len(),
            });
        };
        out[..2].copy_from_slice(&self.field_type.to_be_bytes());
        out[2..4].copy_from_slice(&length_field.to_be_bytes());
        out[4..].copy_from_slice(self.value);
        Ok(len)
    }
}

/// The MAC trailer: a key identifier and a digest, or a crypto-NAK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mac<'a> {
    /// A 4-octet MAC holding only a key id: the server could not
    /// authenticate the request (RFC 5905 section 7.4).
    CryptoNak {
        /// The key id field (normally zero).
        key_id: u32,
    },
    /// A key id followed by a digest (16 octets for MD5 and AES-CMAC, 20 for SHA-1).
    Digest {
        /// The key identifier.
        key_id: u32,
        /// The digest octets.
        digest: &'a [u8],
    },
}

impl<'a> Mac<'a> {
    /// Reads a trailer of 4, 20 or 24 octets (the caller checked the length).
    fn parse_trailer(bytes: &'a [u8]) -> Self {
        let key_id = bytes
            .first_chunk::<4>()
            .map(|k| u32::from_be_bytes(*k))
            .unwrap_or_default();
        match bytes.get(4..) {
            Some(digest) if !digest.is_empty() => Mac::Digest { key_id, digest },
            _ => Mac::CryptoNak { key_id },
        }
    }

    /// The key identifier.
    pub fn key_id(&self) -> u32 {
        match *self {
            Mac::CryptoNak { key_id } | Mac::Digest { key_id, .. } => key_id,
        }
    }

    /// The length of the trailer on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            Mac::CryptoNak { .. } => 4,
            Mac::Digest { digest, .. } => 4 + digest.len(),
        }
    }

    /// Writes the trailer into `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.wire_len();
        let Some(out) = buf.get_mut(..len) else {
            return Err(WireError::BufferTooSmall {
                needed: len,
                available: buf.len(),
            });
        };
        out[..4].copy_from_slice(&self.key_id().to_be_bytes());
        if let Mac::Digest { digest, .. } = self {
            out[4..].copy_from_slice(digest);
        }
        Ok(len)
    }
}

/// A whole NTP packet (modes 0-5): header, extension fields and MAC,
/// borrowing the variable parts from the buffer it was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The 48-octet header.
    pub header: Header,
    /// Extension fields (NTPv4 only).
    pub extension_fields: ExtensionFields<'a>,
    /// The MAC trailer, if present.
    pub mac: Option<Mac<'a>>,
}

impl<'a> Packet<'a> {
    /// A packet with only a header.
    pub fn from_header(header: Header) -> Self {
        Self {
            header,
            extension_fields: ExtensionFields::EMPTY,
            mac: None,
        }
    }

    /// Parses a whole packet: header, extension fields and MAC.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        let view = PacketView::new_checked(bytes)?;
        let trailer = view.trailer()?;
        Ok(Self {
            header: view.header(),
            extension_fields: trailer.extension_fields,
            mac: trailer.mac,
        })
    }

    /// The length of the packet on the wire.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN + self.extension_fields.as_bytes().len() + self.mac.map_or(0, |m| m.wire_len())
    }

    /// Writes the packet into `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let needed = self.wire_len();
        if buf.len() < needed {
            return Err(WireError::BufferTooSmall {
                needed,
                available: buf.len(),
            });
        }
        let mut at = self.header.emit(buf)?;
        let fields = self.extension_fields.as_bytes();
        buf[at..at + fields.len()].copy_from_slice(fields);
        at += fields.len();
        if let Some(mac) = &self.mac {
            at += mac.emit(&mut buf[at..])?;
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            leap: LeapIndicator::InsertSecond,
            version: 4,
            mode: Mode::Server,
            stratum: 2,
            poll: -3,
            precision: -20,
            root_delay: NtpShort::from_bits(0x0001_0002),
            root_dispersion: NtpShort::from_bits(0x0003_0004),
            reference_id: ReferenceId::from_bytes([192, 0, 2, 7]),
            reference_time: NtpTimestamp::from_bits(1),
            origin_time: NtpTimestamp::from_bits(2),
            receive_time: NtpTimestamp::from_bits(3),
            transmit_time: NtpTimestamp::from_bits(4),
        }
    }

    #[test]
    fn header_round_trip() {
        let mut buf = [0u8; 48];
        header().emit(&mut buf).unwrap();
        assert_eq!(buf[0], 0b01_100_100);
        assert_eq!(buf[2], 0xfd);
        assert_eq!(Header::parse(&buf).unwrap(), header());
    }

    #[test]
    fn length_and_version_errors() {
        assert_eq!(
            Header::parse(&[0x23; 47]),
            Err(WireError::TooShort { len: 47 })
        );
        let mut buf = [0u8; 48];
        for version in [0u8, 5, 6, 7] {
            buf[0] = (version << 3) | 3;
            assert_eq!(Header::parse(&buf), Err(WireError::BadVersion(version)));
        }
        assert_eq!(
            header().emit(&mut [0u8; 10]),
            Err(WireError::BufferTooSmall {
                needed: 48,
                available: 10
            })
        );
    }

    #[test]
    fn trailer_forms() {
        let mut buf = [0u8; 48 + 32 + 20];
        header().emit(&mut buf).unwrap();
        // 4 octets: crypto-NAK.
        let p = Packet::parse(&buf[..52]).unwrap();
        assert_eq!(p.mac, Some(Mac::CryptoNak { key_id: 0 }));
        // 20 octets: MAC with a 16-octet digest.
        buf[48..52].copy_from_slice(&7u32.to_be_bytes());
        let p = Packet::parse(&buf[..68]).unwrap();
        assert_eq!(p.mac.map(|m| m.key_id()), Some(7));
        // 12 octets: nothing valid.
        assert!(matches!(
            Packet::parse(&buf[..60]),
            Err(WireError::BadMacLength { len: 12, .. })
        ));
        // A 32-octet extension field followed by a 20-octet MAC.
        buf[48..52].copy_from_slice(&[0x01, 0x04, 0x00, 32]);
        buf[80..84].copy_from_slice(&9u32.to_be_bytes());
        let p = Packet::parse(&buf).unwrap();
        let fields: Vec<_> = p.extension_fields.iter().collect();
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].field_type, 0x0104);
        assert_eq!(fields[0].wire_len(), 32);
        assert_eq!(p.mac.map(|m| m.key_id()), Some(9));
        let mut out = [0u8; 100];
        assert_eq!(p.emit(&mut out), Ok(100));
        assert_eq!(out, buf);
        // A 16-octet extension field right before a MAC is ambiguous: refused.
        buf[48..52].copy_from_slice(&[0x01, 0x04, 0x00, 16]);
        assert!(matches!(
            Packet::parse(&buf[..48 + 16 + 20]),
            Err(WireError::BadExtensionLength {
                offset: 48,
                length: 16,
                ..
            })
        ));
        // A field longer than the packet.
        buf[48..52].copy_from_slice(&[0x01, 0x04, 0x01, 0x00]);
        assert!(matches!(
            Packet::parse(&buf),
            Err(WireError::BadExtensionLength { length: 256, .. })
        ));
    }

    #[test]
    fn no_extension_fields_before_v4() {
        let mut buf = [0u8; 48 + 16];
        header().emit(&mut buf).unwrap();
        buf[0] = (3 << 3) | 4;
        buf[48..52].copy_from_slice(&[0x01, 0x04, 0x00, 16]);
        assert!(matches!(
            Packet::parse(&buf),
            Err(WireError::BadMacLength { len: 16, .. })
        ));
    }
}
