//! The configuration of associations and of the endpoint, and the
//! caller's access decision.

use std::net::{IpAddr, SocketAddr};

use ntp_poll::{PollConfig, PollConfigError, PollRole};
use ntp_wire::refid::KissCode;
use ntp_wire::time::NtpDuration;

use crate::dispatch::AssocMode;

/// The identifier of an association, unique for the life of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssocId(pub u32);

/// How an association came to be, which decides how it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Configured: never demobilised (only reset).
    Persistent,
    /// Configured with `preempt`, or mobilised by pool or manycast
    /// discovery: demobilised by timeout, or preempted by a better server
    /// while there are more than `tos maxclock` associations.
    Preemptable,
    /// Mobilised by a broadcast/multicast packet or a symmetric-active
    /// packet: demobilised by timeout (a symmetric passive one only after
    /// it has sent at least one reply) or by an error.
    Ephemeral,
}

/// The configuration of one association (a `server`, `peer`, `pool`
/// member, `broadcast` or `manycastclient` line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssocConfig {
    /// The remote address (a group address for broadcast servers and
    /// manycast clients).
    pub address: SocketAddr,
    /// The association mode.
    pub mode: AssocMode,
    /// Its kind.
    pub kind: Kind,
    /// The version sent (default 4).
    pub version: u8,
    /// `key N`: MACs required and sent with this key.
    pub key: Option<u32>,
    /// `minpoll`, `maxpoll`, `burst`, `iburst` (the role is derived).
    pub poll: PollConfig,
    /// `prefer`.
    pub prefer: bool,
    /// `noselect`.
    pub noselect: bool,
    /// `true`.
    pub true_chimer: bool,
    /// `ttl` for broadcast servers and manycast clients.
    pub ttl: Option<u8>,
}

impl AssocConfig {
    /// A persistent client of `address` with default options.
    pub fn client(address: SocketAddr) -> Self {
        Self {
            address,
            mode: AssocMode::Client,
            kind: Kind::Persistent,
            version: 4,
            key: None,
            poll: PollConfig::default(),
            prefer: false,
            noselect: false,
            true_chimer: false,
            ttl: None,
        }
    }

    /// The same with another mode.
    pub fn with_mode(self, mode: AssocMode) -> Self {
        Self { mode, ..self }
    }

    /// The poll role its mode implies.
    pub(super) fn role(&self) -> PollRole {
        match self.mode {
            AssocMode::SymmetricActive | AssocMode::SymmetricPassive => PollRole::Symmetric,
            AssocMode::BroadcastServer => PollRole::BroadcastServer,
            AssocMode::Client | AssocMode::ManycastClient | AssocMode::BroadcastClient => {
                PollRole::Client
            }
        }
    }
}

/// Why an association configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A poll option problem (bounds, burst with a peer...).
    #[error(transparent)]
    Poll(#[from] PollConfigError),
    /// A version this implementation does not speak.
    #[error("version {0} is not supported (1 to 4)")]
    Version(u8),
    /// The association exists already.
    #[error("an association with {0} exists already")]
    Duplicate(SocketAddr),
    /// The server denied us (a DENY or RSTR kiss).
    #[error("{0} sent a DENY/RSTR kiss-o'-death; not sending to it")]
    Denied(IpAddr),
}

/// Node-wide switches of the peer process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointConfig {
    /// `broadcastclient`/`multicastclient`: accept broadcast servers.
    pub broadcast_client: bool,
    /// Run the client/server volley when a broadcast client is mobilised
    /// (`novolley` clears it).
    pub broadcast_volley: bool,
    /// `broadcastdelay`: the round-trip delay assumed without a volley.
    pub broadcast_delay: NtpDuration,
    /// `manycastserver`: answer client packets sent to group addresses.
    pub manycast_server: bool,
    /// `tos cohort`: a manycast server also answers clients of its own stratum.
    pub cohort: bool,
    /// `tos maxclock`.
    pub maxclock: usize,
    /// `tos minclock`.
    pub minclock: usize,
    /// `tos beacon`.
    pub beacon: std::time::Duration,
    /// The `ttl` list for the manycast expanding ring.
    pub ttls: Vec<u8>,
    /// Seed of the send-time randomisation.
    pub seed: u64,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            broadcast_client: false,
            broadcast_volley: true,
            broadcast_delay: NtpDuration::from_nanos(4_000_000),
            manycast_server: false,
            cohort: true,
            maxclock: 10,
            minclock: 3,
            beacon: ntp_poll::DEFAULT_BEACON,
            ttls: Vec::new(),
            seed: 0x6e74_7063_746c,
        }
    }
}

/// The caller's access decision for a packet's source (the `restrict`
/// flags); the rate limiting is the caller's too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// `ignore`: drop everything.
    pub ignore: bool,
    /// `noserve`: no time service.
    pub noserve: bool,
    /// `nopeer`: do not mobilise associations (answer statelessly instead).
    pub nopeer: bool,
    /// `notrust`: only authenticated packets.
    pub notrust: bool,
    /// Answer with this kiss code instead of time (RATE when `limited` and
    /// `kod` and the client is over its rate; DENY/RSTR for `kod` denials).
    pub kiss: Option<KissCode>,
}

impl Default for Access {
    fn default() -> Self {
        Self::ALLOW
    }
}

impl Access {
    /// No restrictions.
    pub const ALLOW: Self = Self {
        ignore: false,
        noserve: false,
        nopeer: false,
        notrust: false,
        kiss: None,
    };
}
