//! Server replies (RFC 5905 A.5.3 `fast_xmit()`): stateless answers to
//! client requests (and to symmetric-active packets when no association is
//! mobilised), built from the system variables handed in, including
//! Kiss-o'-Death replies. A reply is never longer than the request.

use ntp_wire::mac::Key;
use ntp_wire::packet::{HEADER_LEN, Header, LeapIndicator, MAX_MAC_LEN, Mode};
use ntp_wire::refid::{KissCode, ReferenceId};
use ntp_wire::time::{NtpShort, NtpTimestamp};

use crate::onwire::MAXSTRAT;

/// The system variables a packet is built from (RFC 5905 figure 23), as
/// the system process currently holds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SystemVars {
    /// Leap indicator (3 while unsynchronised).
    pub leap: LeapIndicator,
    /// Stratum (16 while unsynchronised; sent as 0).
    pub stratum: u8,
    /// Precision exponent of the system clock.
    pub precision: i8,
    /// Root delay.
    pub root_delay: NtpShort,
    /// Root dispersion.
    pub root_dispersion: NtpShort,
    /// Reference ID.
    pub refid: ReferenceId,
    /// Reference time: when the clock was last updated.
    pub reftime: NtpTimestamp,
    /// System poll exponent (the discipline's time constant).
    pub poll: i8,
}

impl Default for SystemVars {
    /// The start-up state: unsynchronised, stratum 16, refid INIT.
    fn default() -> Self {
        Self {
            leap: LeapIndicator::Unsynchronized,
            stratum: MAXSTRAT,
            precision: -20,
            root_delay: NtpShort::ZERO,
            root_dispersion: NtpShort::ZERO,
            refid: ReferenceId::INIT,
            reftime: NtpTimestamp::ZERO,
            poll: ntp_poll::DEFAULT_MINPOLL,
        }
    }
}

impl SystemVars {
    /// Whether the host is synchronised (leap not 3, stratum below 16).
    pub fn is_synchronised(&self) -> bool {
        self.leap != LeapIndicator::Unsynchronized && self.stratum < MAXSTRAT
    }

    /// The stratum as sent: 16 becomes 0 ("unspecified").
    pub fn wire_stratum(&self) -> u8 {
        if self.stratum >= MAXSTRAT {
            0
        } else {
            self.stratum
        }
    }

    /// A header carrying these variables (mode, version, poll and
    /// timestamps for the caller to set).
    pub fn header(&self, version: u8, mode: Mode, poll: i8) -> Header {
        Header {
            leap: self.leap,
            version,
            mode,
            stratum: self.wire_stratum(),
            poll,
            precision: self.precision,
            root_delay: self.root_delay,
            root_dispersion: self.root_dispersion,
            reference_id: self.refid,
            reference_time: self.reftime,
            origin_time: NtpTimestamp::ZERO,
            receive_time: NtpTimestamp::ZERO,
            transmit_time: NtpTimestamp::ZERO,
        }
    }
}

/// An outgoing packet: a header and at most one MAC, in a fixed buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PacketBuf {
    bytes: [u8; HEADER_LEN + MAX_MAC_LEN],
    len: usize,
}

impl core::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketBuf").field("len", &self.len).finish()
    }
}

/// What MAC an outgoing packet carries.
#[derive(Clone, Copy, Debug)]
pub enum OutgoingMac<'a> {
    /// None.
    None,
    /// A crypto-NAK: four zero octets.
    CryptoNak,
    /// A MAC with this key.
    Key(&'a Key),
}

impl PacketBuf {
    /// Emits `header` followed by the MAC requested.
    pub fn build(header: &Header, mac: OutgoingMac<'_>) -> Self {
        let mut bytes = [0u8; HEADER_LEN + MAX_MAC_LEN];
        // The buffer always holds a header.
        let _ = header.emit(&mut bytes);
        let len = match mac {
            OutgoingMac::None => HEADER_LEN,
            OutgoingMac::CryptoNak => HEADER_LEN + 4,
            OutgoingMac::Key(key) => key.sign_into(&mut bytes, HEADER_LEN).unwrap_or(HEADER_LEN),
        };
        Self { bytes, len }
    }

    /// The packet octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The length in octets.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a packet has at least a header.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The kind of stateless reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// An ordinary reply with the system's time.
    Time,
    /// A Kiss-o'-Death with this code (RATE, DENY, RSTR...): stratum 0, leap
    /// 3, the code as reference ID, and no usable time (receive and transmit
    /// timestamps are the request's transmit timestamp).
    Kiss(KissCode),
}

/// Builds the reply to a request (`fast_xmit()`): version and poll copied
/// from the request, system variables from `system`, origin = the request's
/// transmit timestamp, receive = `received` (when the request arrived),
/// transmit = `transmit` (the clock now). `mode` is the reply mode (4 for a
/// client request, 2 for a symmetric-active packet answered without state).
///
/// `mac` is the MAC to append: the request's key when it verified with a
/// trusted key, a crypto-NAK when it did not. `None` is returned if the
/// reply would be longer than the request (`request_len`), so a reply can
/// never amplify.
#[allow(clippy::too_many_arguments)]
pub fn fast_xmit(
    request: &Header,
    request_len: usize,
    mode: Mode,
    received: NtpTimestamp,
    transmit: NtpTimestamp,
    system: &SystemVars,
    kind: ReplyKind,
    mac: OutgoingMac<'_>,
) -> Option<PacketBuf> {
    let mut header = system.header(request.version, mode, request.poll);
    header.origin_time = request.transmit_time;
    match kind {
        ReplyKind::Time => {
            header.receive_time = received;
            header.transmit_time = transmit;
        }
        ReplyKind::Kiss(code) => {
            header.leap = LeapIndicator::Unsynchronized;
            header.stratum = 0;
            header.reference_id = code.to_reference_id();
            header.receive_time = request.transmit_time;
            header.transmit_time = request.transmit_time;
        }
    }
    let packet = PacketBuf::build(&header, mac);
    (packet.len() <= request_len).then_some(packet)
}

#[cfg(test)]
mod tests {
    use ntp_wire::mac::MacAlgorithm;
    use ntp_wire::packet::Packet;

    use super::*;

    fn system() -> SystemVars {
        SystemVars {
            leap: LeapIndicator::NoWarning,
            stratum: 2,
            precision: -23,
            root_delay: NtpShort::from_bits(0x100),
            root_dispersion: NtpShort::from_bits(0x200),
            refid: ReferenceId::from_bytes([192, 0, 2, 9]),
            reftime: NtpTimestamp::from_seconds_and_fraction(900, 0),
            poll: 6,
        }
    }

    #[test]
    fn reply_echoes_and_fills() {
        let mut request = Header::client_request(3, NtpTimestamp::from_bits(0xabcdef));
        request.poll = 9;
        let rec = NtpTimestamp::from_seconds_and_fraction(1000, 1);
        let xmt = NtpTimestamp::from_seconds_and_fraction(1000, 2);
        let reply = fast_xmit(
            &request,
            48,
            Mode::Server,
            rec,
            xmt,
            &system(),
            ReplyKind::Time,
            OutgoingMac::None,
        )
        .unwrap();
        let parsed = Packet::parse(reply.as_bytes()).unwrap().header;
        assert_eq!(parsed.version, 3);
        assert_eq!(parsed.poll, 9);
        assert_eq!(parsed.mode, Mode::Server);
        assert_eq!(parsed.stratum, 2);
        assert_eq!(parsed.origin_time, request.transmit_time);
        assert_eq!(parsed.receive_time, rec);
        assert_eq!(parsed.transmit_time, xmt);
        // Our own client check accepts it.
        assert_eq!(
            crate::onwire::check_reply(&parsed, request.transmit_time),
            Ok(())
        );
    }

    #[test]
    fn unsynchronised_server_sends_stratum_zero_and_kiss() {
        let request = Header::client_request(4, NtpTimestamp::from_bits(7));
        let reply = fast_xmit(
            &request,
            48,
            Mode::Server,
            NtpTimestamp::from_bits(8),
            NtpTimestamp::from_bits(9),
            &SystemVars::default(),
            ReplyKind::Time,
            OutgoingMac::None,
        )
        .unwrap();
        let parsed = Header::parse(reply.as_bytes()).unwrap();
        assert_eq!(parsed.stratum, 0);
        assert_eq!(parsed.leap, LeapIndicator::Unsynchronized);
        let kod = fast_xmit(
            &request,
            48,
            Mode::Server,
            NtpTimestamp::from_bits(8),
            NtpTimestamp::from_bits(9),
            &system(),
            ReplyKind::Kiss(KissCode::Rate),
            OutgoingMac::None,
        )
        .unwrap();
        let parsed = Header::parse(kod.as_bytes()).unwrap();
        assert_eq!(parsed.kiss_code(), Some(KissCode::Rate));
        assert_eq!(
            crate::onwire::check_reply(&parsed, request.transmit_time),
            Err(crate::Rejection::Kiss(KissCode::Rate))
        );
    }

    #[test]
    fn mac_reply_needs_room() {
        let key = Key::new(5, MacAlgorithm::Sha1, b"secret");
        let request = Header::client_request(4, NtpTimestamp::from_bits(7));
        let args = |len| {
            fast_xmit(
                &request,
                len,
                Mode::Server,
                NtpTimestamp::from_bits(8),
                NtpTimestamp::from_bits(9),
                &system(),
                ReplyKind::Time,
                OutgoingMac::Key(&key),
            )
        };
        assert!(args(48).is_none());
        let reply = args(72).unwrap();
        assert_eq!(reply.len(), 72);
        assert!(
            key.verify_trailer(&reply.as_bytes()[..48], &reply.as_bytes()[48..])
                .is_ok()
        );
    }
}
