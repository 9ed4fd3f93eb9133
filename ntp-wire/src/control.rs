//! Mode 6 control messages (the protocol `ntpq` speaks; RFC 9327, formerly
//! RFC 1305 appendix B), decoded for inspection.
//!
//! A control message has its own 12-octet header after the common first
//! octet: response/error/more bits and an opcode, a sequence number, a
//! status word, an association ID, an offset and a count of data octets.
//!
//! ```
//! use ntp_wire::control::{ControlMessage, Opcode};
//!
//! let bytes = [0x16, 0x01, 0x00, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0];
//! let message = ControlMessage::parse(&bytes).unwrap();
//! assert_eq!(message.opcode, Opcode::ReadStatus);
//! assert_eq!(message.sequence, 12);
//! assert!(!message.response);
//! ```

use crate::WireError;
use crate::packet::{LeapIndicator, Mode};

/// Length of the control message header.
pub const CONTROL_HEADER_LEN: usize = 12;

/// A control message operation code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 1: read system or peer status.
    ReadStatus,
    /// 2: read system or peer variables.
    ReadVariables,
    /// 3: write variables.
    WriteVariables,
    /// 4: read clock variables.
    ReadClock,
    /// 5: write clock variables.
    WriteClock,
    /// 6: set a trap.
    SetTrap,
    /// 7: asynchronous message.
    AsyncMessage,
    /// 8: runtime configuration.
    Configure,
    /// 9: save the configuration.
    SaveConfig,
    /// 10: read the MRU list.
    ReadMru,
    /// 11: read ordered list.
    ReadOrderedList,
    /// 12: request a nonce.
    RequestNonce,
    /// 31: unset a trap.
    UnsetTrap,
    /// Any other value.
    Other(u8),
}

impl Opcode {
    /// The opcode of its five-bit value.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0x1f {
            1 => Self::ReadStatus,
            2 => Self::ReadVariables,
            3 => Self::WriteVariables,
            4 => Self::ReadClock,
            5 => Self::WriteClock,
            6 => Self::SetTrap,
            7 => Self::AsyncMessage,
            8 => Self::Configure,
            9 => Self::SaveConfig,
            10 => Self::ReadMru,
            11 => Self::ReadOrderedList,
            12 => Self::RequestNonce,
            31 => Self::UnsetTrap,
            other => Self::Other(other),
        }
    }

    /// The reference implementation's name (`CTL_OP_...` without the prefix).
    pub const fn name(self) -> &'static str {
        match self {
            Self::ReadStatus => "READSTAT",
            Self::ReadVariables => "READVAR",
            Self::WriteVariables => "WRITEVAR",
            Self::ReadClock => "READCLOCK",
            Self::WriteClock => "WRITECLOCK",
            Self::SetTrap => "SETTRAP",
            Self::AsyncMessage => "ASYNCMSG",
            Self::Configure => "CONFIGURE",
            Self::SaveConfig => "SAVECONFIG",
            Self::ReadMru => "READ_MRU",
            Self::ReadOrderedList => "READ_ORDLIST_A",
            Self::RequestNonce => "REQ_NONCE",
            Self::UnsetTrap => "UNSETTRAP",
            Self::Other(_) => "UNSPEC",
        }
    }
}

/// The system status word (association ID 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemStatus {
    /// Leap indicator.
    pub leap: LeapIndicator,
    /// Clock source (6 bits; 6 = NTP, 0 = unspecified, ...).
    pub clock_source: u8,
    /// Event counter (4 bits).
    pub event_counter: u8,
    /// Last event code (4 bits).
    pub event_code: u8,
}

impl SystemStatus {
    /// Decodes a 16-bit system status word.
    pub const fn from_word(word: u16) -> Self {
        Self {
            leap: LeapIndicator::from_bits((word >> 14) as u8),
            clock_source: ((word >> 8) & 0x3f) as u8,
            event_counter: ((word >> 4) & 0xf) as u8,
            event_code: (word & 0xf) as u8,
        }
    }
}

/// A peer status word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    /// The association was configured (persistent).
    pub configured: bool,
    /// Authentication is enabled for the association.
    pub auth_enabled: bool,
    /// The last packet was authentic.
    pub authentic: bool,
    /// The peer is reachable.
    pub reachable: bool,
    /// A broadcast association.
    pub broadcast: bool,
    /// Selection status (3 bits: 0 reject ... 6 system peer, 7 PPS peer).
    pub selection: u8,
    /// Event counter (4 bits).
    pub event_counter: u8,
    /// Last event code (4 bits).
    pub event_code: u8,
}

impl PeerStatus {
    /// Decodes a 16-bit peer status word.
    pub const fn from_word(word: u16) -> Self {
        Self {
            configured: word & 0x8000 != 0,
            auth_enabled: word & 0x4000 != 0,
            authentic: word & 0x2000 != 0,
            reachable: word & 0x1000 != 0,
            broadcast: word & 0x0800 != 0,
            selection: ((word >> 8) & 7) as u8,
            event_counter: ((word >> 4) & 0xf) as u8,
            event_code: (word & 0xf) as u8,
        }
    }
}

/// A parsed control message, borrowing its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlMessage<'a> {
    /// Leap indicator bits of the first octet.
    pub leap: LeapIndicator,
    /// Version number.
    pub version: u8,
    /// Response bit.
    pub response: bool,
    /// Error bit.
    pub error: bool,
    /// More bit: further fragments follow.
    pub more: bool,
    /// Operation code.
    pub opcode: Opcode,
    /// Sequence number.
    pub sequence: u16,
    /// Status word (system status when `association_id` is 0).
    pub status: u16,
    /// Association ID (0 for the system).
    pub association_id: u16,
    /// Offset of this fragment's data.
    pub offset: u16,
    /// Number of data octets.
    pub count: u16,
    /// The data octets.
    pub data: &'a [u8],
    /// Octets after the data (padding, MAC).
    pub trailing: &'a [u8],
}

impl<'a> ControlMessage<'a> {
    /// Parses a mode 6 message.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        let Some((header, rest)) = bytes.split_first_chunk::<CONTROL_HEADER_LEN>() else {
            return Err(WireError::ControlTooShort {
                len: bytes.len(),
                needed: CONTROL_HEADER_LEN,
            });
        };
        let word = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
        let count = word(10);
        let Some((data, trailing)) = rest.split_at_checked(usize::from(count)) else {
            return Err(WireError::ControlTooShort {
                len: bytes.len(),
                needed: CONTROL_HEADER_LEN + usize::from(count),
            });
        };
        Ok(Self {
            leap: LeapIndicator::from_bits(header[0] >> 6),
            version: (header[0] >> 3) & 7,
            response: header[1] & 0x80 != 0,
            error: header[1] & 0x40 != 0,
            more: header[1] & 0x20 != 0,
            opcode: Opcode::from_bits(header[1]),
            sequence: word(2),
            status: word(4),
            association_id: word(6),
            offset: word(8),
            count,
            data,
            trailing,
        })
    }

    /// The mode of the first octet of `bytes` (to tell control messages
    /// from NTP packets before parsing), or `None` for an empty buffer.
    pub fn mode_of(bytes: &[u8]) -> Option<Mode> {
        bytes.first().map(|b| Mode::from_bits(*b))
    }

    /// The system status, when the message is about the system (association 0).
    pub fn system_status(&self) -> Option<SystemStatus> {
        (self.association_id == 0).then(|| SystemStatus::from_word(self.status))
    }

    /// For a READSTAT response about the system: the (association ID, peer
    /// status) pairs in the data.
    pub fn peer_statuses(&self) -> impl Iterator<Item = (u16, PeerStatus)> + 'a {
        let pairs =
            if self.response && self.opcode == Opcode::ReadStatus && self.association_id == 0 {
                self.data
            } else {
                &[]
            };
        pairs.chunks_exact(4).map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                PeerStatus::from_word(u16::from_be_bytes([c[2], c[3]])),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readstat_response() {
        let bytes = [
            0x16, 0x81, 0x00, 0x0c, 0x06, 0x64, 0, 0, 0, 0, 0, 4, 0xe5, 0xfc, 0xf6, 0x24,
        ];
        let m = ControlMessage::parse(&bytes).unwrap();
        assert!(m.response);
        let sys = m.system_status().unwrap();
        assert_eq!(
            (sys.clock_source, sys.event_counter, sys.event_code),
            (6, 6, 4)
        );
        let peers: Vec<_> = m.peer_statuses().collect();
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].0, 58876);
        assert!(peers[0].1.configured && peers[0].1.reachable);
        assert_eq!(peers[0].1.selection, 6);
    }

    #[test]
    fn count_beyond_data_is_an_error() {
        let bytes = [0x16, 0x81, 0, 1, 0, 0, 0, 0, 0, 0, 0, 8, 1, 2];
        assert_eq!(
            ControlMessage::parse(&bytes),
            Err(WireError::ControlTooShort {
                len: 14,
                needed: 20
            })
        );
    }
}
