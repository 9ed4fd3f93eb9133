//! What the endpoint hands out: packets to send, events, and what it did
//! with a received packet.

use std::net::{IpAddr, SocketAddr};

use ntp_wire::refid::KissCode;
use ntp_wire::time::{NtpDuration, Uptime};

use super::config::{AssocId, Kind};
use crate::dispatch::AssocMode;
use crate::onwire::Rejection;
use crate::server::PacketBuf;

/// Which of the caller's sockets a packet leaves from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendFrom {
    /// The ephemeral-port client socket of the destination's address
    /// family: requests of client, pool, manycast-client associations and a
    /// broadcast client's volley (replies come back to that port).
    Client,
    /// The listening socket (port 123 by default): server replies, from the
    /// address the request was sent to, and symmetric and broadcast packets.
    Server,
}

/// What a packet to send is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransmitKind {
    /// A packet of an association (`peer_xmit()`).
    Association,
    /// A server reply (`fast_xmit()`).
    Reply {
        /// A Kiss-o'-Death with this code instead of the time.
        kiss: Option<KissCode>,
        /// A crypto-NAK: the request's MAC failed or its key is unknown.
        crypto_nak: bool,
    },
}

/// A packet to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// The local address to send from (the request's destination for
    /// replies), if it matters.
    pub source: Option<IpAddr>,
    /// The multicast TTL, for broadcast servers and manycast clients.
    pub ttl: Option<u8>,
    /// The association sending, if any (none for server replies).
    pub association: Option<AssocId>,
    /// The socket to send it from.
    pub from: SendFrom,
    /// What it is.
    pub kind: TransmitKind,
    /// The octets.
    pub packet: PacketBuf,
}

/// Why an association went away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DemobiliseReason {
    /// No valid packet for too long (ephemeral, preemptable).
    Timeout,
    /// Preempted by better servers above `maxclock`.
    Preempted,
    /// The server sent a DENY or RSTR kiss.
    Denied(KissCode),
    /// A crypto-NAK: the server does not accept our key.
    CryptoNak,
    /// The error condition of the dispatch matrix.
    ModeError,
    /// Removed by the caller.
    Removed,
}

/// What happened, for the system process and the logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// An association was mobilised.
    Mobilised {
        /// Its identifier.
        id: AssocId,
        /// The remote address.
        address: SocketAddr,
        /// Its mode.
        mode: AssocMode,
        /// Its kind.
        kind: Kind,
    },
    /// An association was demobilised.
    Demobilised {
        /// Its identifier.
        id: AssocId,
        /// The remote address.
        address: SocketAddr,
        /// Why.
        reason: DemobiliseReason,
    },
    /// A new sample reached the peer variables outside a burst, or during a
    /// burst while the system is unsynchronised (ntpd's `clock_filter()`:
    /// "if not synchronised or not in a burst"): run the system process
    /// (`clock_select()`).
    ClockUpdate {
        /// The association.
        id: AssocId,
    },
    /// A new sample entered the clock filter (whatever the filter then
    /// chose; popcorn spikes excepted): its raw offset and delay, for a
    /// discipline that weighs every sample itself.
    Sample {
        /// The association.
        id: AssocId,
        /// The sample's offset (theta), seconds as a duration.
        offset: NtpDuration,
        /// The sample's round-trip delay (delta).
        delay: NtpDuration,
        /// When it was taken (the arrival of its packet).
        taken: Uptime,
    },
    /// A packet was refused.
    Rejected {
        /// The association it matched, if any.
        id: Option<AssocId>,
        /// The source.
        source: SocketAddr,
        /// Why.
        reason: Rejection,
    },
    /// A Kiss-o'-Death was honoured.
    Kiss {
        /// The association.
        id: AssocId,
        /// The code.
        code: KissCode,
    },
    /// The reach register became zero.
    Unreachable {
        /// The association.
        id: AssocId,
    },
    /// An association could not send: its key is missing or not trusted.
    KeyMissing {
        /// The association.
        id: AssocId,
        /// The key identifier.
        key: u32,
    },
}

/// What [`Endpoint::handle`](super::Endpoint::handle) did with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Processed by this association (a sample may have been taken).
    Processed(AssocId),
    /// Answered as a server (a reply was queued).
    Replied,
    /// A mode 6/7 packet: the caller's control protocol handles it.
    Control,
    /// Dropped, for this reason.
    Dropped(Rejection),
}
