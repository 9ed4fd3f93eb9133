//! Symmetric-key authentication of incoming and outgoing packets (RFC 5905
//! A.5.1 `receive()`'s four outcomes) with the keys of `ntp-wire`.

use std::net::IpAddr;

use ntp_wire::keys::{KeyStore, TrustedKeys};
use ntp_wire::mac::Key;
use ntp_wire::packet::{HEADER_LEN, Mac, PacketView};

/// The outcome of checking a packet's MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthOutcome {
    /// No MAC (A_NONE).
    None,
    /// A MAC that verified with a trusted key allowed from the source (A_OK).
    Ok(u32),
    /// A MAC that did not verify, or names an unknown, untrusted or
    /// not-allowed key (A_ERROR).
    Error(u32),
    /// A four-octet crypto-NAK (A_CRYPTO).
    CryptoNak,
}

impl AuthOutcome {
    /// The RFC's `AUTH(required, outcome)`: acceptable outcomes are NONE and
    /// OK when not required, only OK when required.
    pub fn acceptable(self, required: bool) -> bool {
        match self {
            Self::Ok(_) => true,
            Self::None => !required,
            Self::Error(_) | Self::CryptoNak => false,
        }
    }
}

/// The authentication state of the node: the keys file, the trusted keys
/// and whether authentication is required for mobilising ephemeral
/// associations (`enable auth`, the default; `disable auth` clears it).
#[derive(Clone, Debug, Default)]
pub struct Auth {
    /// The keys file.
    pub keys: KeyStore,
    /// `trustedkey`.
    pub trusted: TrustedKeys,
    /// `enable auth` (default true in the reference implementation).
    pub required: bool,
}

impl Auth {
    /// Keys and trusted keys, with authentication required.
    pub fn new(keys: KeyStore, trusted: TrustedKeys) -> Self {
        Self {
            keys,
            trusted,
            required: true,
        }
    }

    /// No keys; authentication not required (`disable auth`).
    pub fn disabled() -> Self {
        Self {
            required: false,
            ..Self::default()
        }
    }

    /// A trusted key usable with `peer`, if any.
    pub fn key_for(&self, key_id: u32, peer: IpAddr) -> Option<&Key> {
        if !self.trusted.contains(key_id) || !self.keys.allows(key_id, peer) {
            return None;
        }
        self.keys.get(key_id)
    }

    /// Checks the MAC of a packet received from `source`. `bytes` is the
    /// whole packet and `mac` its parsed trailer.
    pub fn check(&self, bytes: &[u8], mac: Option<Mac<'_>>, source: IpAddr) -> AuthOutcome {
        let Some(mac) = mac else {
            return AuthOutcome::None;
        };
        let key_id = mac.key_id();
        let Mac::Digest { .. } = mac else {
            return AuthOutcome::CryptoNak;
        };
        let data_len = bytes.len().saturating_sub(mac.wire_len());
        let (Some(data), Some(trailer)) = (bytes.get(..data_len), bytes.get(data_len..)) else {
            return AuthOutcome::Error(key_id);
        };
        match self.key_for(key_id, source) {
            Some(key) if key.verify_trailer(data, trailer).is_ok() => AuthOutcome::Ok(key_id),
            _ => AuthOutcome::Error(key_id),
        }
    }

    /// Checks a packet given as bytes (parsing its trailer).
    pub fn check_bytes(&self, bytes: &[u8], source: IpAddr) -> AuthOutcome {
        match PacketView::new_checked(bytes).and_then(|v| v.trailer()) {
            Ok(trailer) => self.check(bytes, trailer.mac, source),
            Err(_) => AuthOutcome::Error(0),
        }
    }
}

/// Where the MAC of an outgoing packet starts: right after the header (this
/// crate never sends extension fields).
pub const MAC_OFFSET: usize = HEADER_LEN;
