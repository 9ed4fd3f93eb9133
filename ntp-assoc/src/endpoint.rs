//! The association table and the peer process (RFC 5905 A.5.1
//! `receive()`/`packet()`, A.5.7.3 `peer_xmit()`), sans-IO in the style of
//! quinn-proto's `Endpoint`: [`Endpoint::handle`] takes a received packet,
//! [`Endpoint::handle_timeout`] runs the poll processes due,
//! [`Endpoint::poll_transmit`] yields packets to send,
//! [`Endpoint::poll_event`] yields what the system process needs to know,
//! and [`Endpoint::poll_timeout`] says when to call again.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};

use ntp_poll::{ManycastRing, PollConfig, PollConfigError, PollRole, Poller, SplitMix64, Uptime};
use ntp_wire::packet::{Header, LeapIndicator, Mode, Packet, PacketView};
use ntp_wire::refid::{KissCode, ReferenceId};
use ntp_wire::time::{NtpDuration, NtpTimestamp};

use crate::auth::{Auth, AuthOutcome};
use crate::dispatch::{Action, AssocMode, Row, dispatch};
use crate::filter::{ClockFilter, FilterOutcome};
use crate::onwire::{
    MAXSTRAT, Rejection, TimestampField, Timestamps, broadcast_sample, check_header, client_sample,
    version_supported,
};
use crate::server::{OutgoingMac, PacketBuf, ReplyKind, SystemVars, fast_xmit};

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

    fn role(&self) -> PollRole {
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

/// What [`Endpoint::handle`] did with a packet.
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

/// The broadcast client's calibration state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Volley {
    /// Exchanging client/server packets to measure the delay.
    Running,
    /// Listen-only, with this round-trip delay.
    Done(NtpDuration),
}

/// The candidate summary the system process needs (plain fields, so the
/// daemon can map them onto `ntp-select`'s own type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The association.
    pub id: AssocId,
    /// The remote address.
    pub address: SocketAddr,
    /// Peer offset theta.
    pub offset: NtpDuration,
    /// Peer delay delta.
    pub delay: NtpDuration,
    /// Peer dispersion epsilon, grown to now.
    pub dispersion: NtpDuration,
    /// Peer jitter psi.
    pub jitter: NtpDuration,
    /// The server's root delay.
    pub root_delay: NtpDuration,
    /// The server's root dispersion.
    pub root_dispersion: NtpDuration,
    /// The server's stratum (0 read as 16).
    pub stratum: u8,
    /// The server's leap indicator.
    pub leap: LeapIndicator,
    /// The reach register.
    pub reach: u8,
    /// The server's reference ID (for loop detection).
    pub refid: ReferenceId,
    /// The host poll exponent.
    pub poll: i8,
    /// `prefer`.
    pub prefer: bool,
    /// `noselect`.
    pub noselect: bool,
    /// `true`.
    pub true_chimer: bool,
    /// Preemptable or ephemeral (may be pruned).
    pub kind: Kind,
    /// The association is in a burst (a synchronised system waits for its
    /// end before selecting).
    pub in_burst: bool,
    /// The start-up fitness dispersion: the filter's valid-stage
    /// dispersion grown to now, while the association is in its iburst and
    /// its filter holds at least [`crate::filter::STARTUP_MIN_SAMPLES`]
    /// samples; `None` otherwise. The system process may use it, instead of
    /// `dispersion`, in the fitness test while it is unsynchronised (see the
    /// crate documentation, "Start-up fitness").
    pub startup_dispersion: Option<NtpDuration>,
}

/// One association: configuration, peer variables, poll process and
/// clock filter.
#[derive(Clone, Debug)]
pub struct Association {
    id: AssocId,
    config: AssocConfig,
    mode: AssocMode,
    poller: Poller,
    filter: ClockFilter,
    /// The manycast expanding ring (manycast client templates only).
    ring: Option<ManycastRing>,
    /// The manycast template this association came from.
    template: Option<AssocId>,
    // Peer variables (RFC 5905 figure 17/18).
    leap: LeapIndicator,
    stratum: u8,
    ppoll: i8,
    root_delay: NtpDuration,
    root_dispersion: NtpDuration,
    refid: ReferenceId,
    reftime: NtpTimestamp,
    /// org: the peer's last transmit timestamp (T3 of the last packet).
    org: NtpTimestamp,
    /// rec: when the peer's last packet arrived (T4).
    rec: NtpTimestamp,
    /// xmt: our last transmit timestamp (zeroed after a valid client reply).
    xmt: NtpTimestamp,
    /// Key identifier received (symmetric passive uses the peer's).
    volley: Option<Volley>,
    sent: u64,
    received: u64,
    last_rejection: Option<Rejection>,
    denied: bool,
}

impl Association {
    /// The identifier.
    pub fn id(&self) -> AssocId {
        self.id
    }

    /// The configuration.
    pub fn config(&self) -> &AssocConfig {
        &self.config
    }

    /// The current mode.
    pub fn mode(&self) -> AssocMode {
        self.mode
    }

    /// The poll process.
    pub fn poller(&self) -> &Poller {
        &self.poller
    }

    /// The clock filter.
    pub fn filter(&self) -> &ClockFilter {
        &self.filter
    }

    /// The broadcast client's calibration state.
    pub fn volley(&self) -> Option<Volley> {
        self.volley
    }

    /// The reason the last packet was refused (`ntpctl peers`' flash).
    pub fn last_rejection(&self) -> Option<Rejection> {
        self.last_rejection
    }

    /// Packets sent and valid packets received.
    pub fn counters(&self) -> (u64, u64) {
        (self.sent, self.received)
    }

    /// The peer's last transmit timestamp (org).
    pub fn org(&self) -> NtpTimestamp {
        self.org
    }

    /// Our last transmit timestamp (xmt); zero after a valid client reply.
    pub fn xmt(&self) -> NtpTimestamp {
        self.xmt
    }

    /// Whether sending stopped because of a DENY/RSTR kiss.
    pub fn is_denied(&self) -> bool {
        self.denied
    }

    /// The candidate summary as of `now`.
    pub fn candidate(&self, now: Uptime) -> Candidate {
        Candidate {
            id: self.id,
            address: self.config.address,
            offset: self.filter.offset(),
            delay: self.filter.delay(),
            dispersion: self.filter.dispersion_at(now),
            jitter: self.filter.jitter(),
            root_delay: self.root_delay,
            root_dispersion: self.root_dispersion,
            stratum: self.stratum,
            leap: self.leap,
            reach: self.poller.reach(),
            refid: self.refid,
            poll: self.poller.hpoll(),
            prefer: self.config.prefer,
            noselect: self.config.noselect,
            true_chimer: self.config.true_chimer,
            kind: self.config.kind,
            in_burst: self.poller.in_burst(),
            startup_dispersion: if self.poller.in_iburst() && !self.in_volley() {
                self.filter.startup_dispersion_at(now)
            } else {
                None
            },
        }
    }

    /// Whether this is a broadcast client still calibrating its delay.
    fn in_volley(&self) -> bool {
        self.volley == Some(Volley::Running)
    }

    fn clear_peer_variables(&mut self) {
        self.leap = LeapIndicator::Unsynchronized;
        self.stratum = MAXSTRAT;
        self.ppoll = ntp_poll::MAXPOLL_LIMIT;
        self.root_delay = NtpDuration::ZERO;
        self.root_dispersion = NtpDuration::ZERO;
        self.refid = ReferenceId::INIT;
        self.reftime = NtpTimestamp::ZERO;
        self.org = NtpTimestamp::ZERO;
        self.rec = NtpTimestamp::ZERO;
        self.xmt = NtpTimestamp::ZERO;
    }
}

/// The peer process of a node: all associations, and the stateless server.
#[derive(Debug)]
pub struct Endpoint {
    config: EndpointConfig,
    auth: Auth,
    assocs: BTreeMap<AssocId, Association>,
    next_id: u32,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// Addresses that sent DENY/RSTR: nothing is sent to them.
    denied: BTreeSet<IpAddr>,
    random: SplitMix64,
    /// Whether the system clock is synchronised (prime directive of the
    /// filter), and the system poll, as last handed in.
    system: SystemVars,
}

impl Endpoint {
    /// An endpoint with no associations.
    pub fn new(config: EndpointConfig, auth: Auth) -> Self {
        let random = SplitMix64::new(config.seed);
        Self {
            config,
            auth,
            assocs: BTreeMap::new(),
            next_id: 1,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            denied: BTreeSet::new(),
            random,
            system: SystemVars::default(),
        }
    }

    /// The node-wide configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// The authentication state (keys may be replaced at run time).
    pub fn auth_mut(&mut self) -> &mut Auth {
        &mut self.auth
    }

    /// An association.
    pub fn association(&self, id: AssocId) -> Option<&Association> {
        self.assocs.get(&id)
    }

    /// All associations, by identifier.
    pub fn associations(&self) -> impl Iterator<Item = &Association> {
        self.assocs.values()
    }

    /// Candidate summaries of every association that measures time (not
    /// broadcast servers nor manycast templates).
    pub fn candidates(&self, now: Uptime) -> Vec<Candidate> {
        self.assocs
            .values()
            .filter(|a| {
                !matches!(
                    a.mode,
                    AssocMode::BroadcastServer | AssocMode::ManycastClient
                )
            })
            .map(|a| a.candidate(now))
            .collect()
    }

    /// The number of client associations (for pool and manycast: new ones
    /// are mobilised while below `maxclock`).
    pub fn client_count(&self) -> usize {
        self.assocs
            .values()
            .filter(|a| a.mode == AssocMode::Client)
            .count()
    }

    /// How many more pool servers may be mobilised (`maxclock` minus the
    /// client associations).
    pub fn pool_slots(&self) -> usize {
        self.config.maxclock.saturating_sub(self.client_count())
    }

    /// Whether `address` sent a DENY/RSTR kiss.
    pub fn is_denied(&self, address: IpAddr) -> bool {
        self.denied.contains(&address)
    }

    /// The system variables changed (after each system process run): new
    /// packets carry them; the system poll is handed to every poll process.
    pub fn set_system(&mut self, system: SystemVars) {
        self.system = system;
        for assoc in self.assocs.values_mut() {
            assoc.poller.set_system_poll(system.poll);
        }
    }

    /// Mobilises an association at `now`.
    pub fn mobilise(&mut self, config: AssocConfig, now: Uptime) -> Result<AssocId, ConfigError> {
        let mut config = config;
        config.poll.role = config.role();
        config.poll.validate()?;
        if !version_supported(config.version) {
            return Err(ConfigError::Version(config.version));
        }
        if self.denied.contains(&config.address.ip()) {
            return Err(ConfigError::Denied(config.address.ip()));
        }
        if self.find(config.address).is_some() {
            return Err(ConfigError::Duplicate(config.address));
        }
        Ok(self.insert(config, now, None))
    }

    fn insert(&mut self, config: AssocConfig, now: Uptime, template: Option<AssocId>) -> AssocId {
        let id = AssocId(self.next_id);
        self.next_id += 1;
        let seed = self.random.next_u64();
        let mut poller = Poller::new(config.poll, now, seed);
        poller.set_system_poll(self.system.poll);
        let ring = (config.mode == AssocMode::ManycastClient).then(|| {
            ManycastRing::new(
                &self.config.ttls,
                config.poll.minpoll,
                self.config.minclock,
                self.config.beacon,
                now,
            )
        });
        let mut assoc = Association {
            id,
            config,
            mode: config.mode,
            poller,
            filter: ClockFilter::new(self.system.precision),
            ring,
            template,
            leap: LeapIndicator::Unsynchronized,
            stratum: MAXSTRAT,
            ppoll: ntp_poll::MAXPOLL_LIMIT,
            root_delay: NtpDuration::ZERO,
            root_dispersion: NtpDuration::ZERO,
            refid: ReferenceId::INIT,
            reftime: NtpTimestamp::ZERO,
            org: NtpTimestamp::ZERO,
            rec: NtpTimestamp::ZERO,
            xmt: NtpTimestamp::ZERO,
            volley: None,
            sent: 0,
            received: 0,
            last_rejection: None,
            denied: false,
        };
        assoc.clear_peer_variables();
        self.events.push_back(Event::Mobilised {
            id,
            address: config.address,
            mode: config.mode,
            kind: config.kind,
        });
        self.assocs.insert(id, assoc);
        id
    }

    /// Demobilises an association (any kind) at the caller's request.
    pub fn demobilise(&mut self, id: AssocId) -> bool {
        self.remove(id, DemobiliseReason::Removed)
    }

    fn remove(&mut self, id: AssocId, reason: DemobiliseReason) -> bool {
        match self.assocs.remove(&id) {
            Some(assoc) => {
                self.events.push_back(Event::Demobilised {
                    id,
                    address: assoc.config.address,
                    reason,
                });
                true
            }
            None => false,
        }
    }

    /// Preemption (the system process's "excess association" hook): while
    /// there are more than `maxclock` client associations, demobilise
    /// preemptable ones that are not among `survivors`, worst first in the
    /// order given by `ranked_worst_first` (outlyers, then largest
    /// distance). Persistent associations are never touched. Returns the
    /// associations demobilised.
    pub fn preempt(
        &mut self,
        survivors: &[AssocId],
        ranked_worst_first: &[AssocId],
    ) -> Vec<AssocId> {
        let mut gone = Vec::new();
        for id in ranked_worst_first {
            if self.client_count() <= self.config.maxclock {
                break;
            }
            let Some(assoc) = self.assocs.get(id) else {
                continue;
            };
            if assoc.config.kind == Kind::Preemptable
                && assoc.mode == AssocMode::Client
                && !survivors.contains(id)
            {
                self.remove(*id, DemobiliseReason::Preempted);
                gone.push(*id);
            }
        }
        gone
    }

    fn find(&self, source: SocketAddr) -> Option<AssocId> {
        self.assocs
            .values()
            .find(|a| {
                a.config.address == source
                    && !matches!(
                        a.mode,
                        AssocMode::ManycastClient | AssocMode::BroadcastServer
                    )
            })
            .map(|a| a.id)
    }

    /// The next event to report.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next packet to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The earliest deadline of all poll processes.
    pub fn poll_timeout(&self) -> Uptime {
        self.assocs
            .values()
            .map(|a| match &a.ring {
                Some(ring) => ring.poll_timeout(),
                None => a.poller.poll_timeout(),
            })
            .min()
            .unwrap_or(Uptime::NEVER)
    }

    /// Runs every poll process due at `now` (RFC 5905 `poll()`); `clock` is
    /// the system clock now, the transmit timestamp of packets sent.
    pub fn handle_timeout(&mut self, now: Uptime, clock: NtpTimestamp) {
        let due: Vec<AssocId> = self
            .assocs
            .values()
            .filter(|a| match &a.ring {
                Some(ring) => ring.poll_timeout() <= now,
                None => a.poller.poll_timeout() <= now,
            })
            .map(|a| a.id)
            .collect();
        for id in due {
            self.poll_one(id, now, clock);
        }
    }

    fn poll_one(&mut self, id: AssocId, now: Uptime, clock: NtpTimestamp) {
        let system = self.system;
        let found = self
            .assocs
            .values()
            .filter(|a| a.template == Some(id))
            .count();
        let Some(assoc) = self.assocs.get_mut(&id) else {
            return;
        };
        if let Some(ring) = assoc.ring.as_mut() {
            if let Some(ttl) = ring.handle_timeout(now, found) {
                self.send(id, clock, Some(ttl));
            }
            return;
        }
        let event = assoc.poller.handle_timeout(now);
        if event.stuff_filter {
            assoc
                .filter
                .stuff(now, system.poll, system.is_synchronised());
        }
        if event.lost_reach {
            self.events.push_back(Event::Unreachable { id });
        }
        // A broadcast client whose volley went unanswered falls back to
        // the configured delay.
        if assoc.volley == Some(Volley::Running) && !assoc.poller.in_burst() && event.send {
            let delay = if assoc.filter.valid_count() > 0 {
                assoc.filter.delay()
            } else {
                self.config.broadcast_delay
            };
            assoc.volley = Some(Volley::Done(delay));
            assoc.mode = AssocMode::BroadcastClient;
            assoc.poller.set_role(PollRole::ListenOnly);
            return;
        }
        if event.timed_out {
            let removable = match assoc.config.kind {
                Kind::Persistent => false,
                Kind::Preemptable => true,
                Kind::Ephemeral => assoc.mode != AssocMode::SymmetricPassive || assoc.sent > 0,
            };
            if removable {
                self.remove(id, DemobiliseReason::Timeout);
                return;
            }
        }
        if event.send {
            let broadcast_idle =
                assoc.mode == AssocMode::BroadcastServer && !system.is_synchronised();
            if !broadcast_idle {
                let ttl = assoc.config.ttl;
                self.send(id, clock, ttl);
            }
        }
    }

    /// `peer_xmit()`: builds and queues the association's packet.
    fn send(&mut self, id: AssocId, clock: NtpTimestamp, ttl: Option<u8>) {
        let system = self.system;
        let Some(assoc) = self.assocs.get_mut(&id) else {
            return;
        };
        if assoc.denied || self.denied.contains(&assoc.config.address.ip()) {
            assoc.poller.stop();
            return;
        }
        let mut header = system.header(
            assoc.config.version,
            assoc.mode.packet_mode(),
            assoc.poller.packet_poll(),
        );
        if matches!(
            assoc.mode,
            AssocMode::SymmetricActive | AssocMode::SymmetricPassive
        ) {
            header.origin_time = assoc.org;
            header.receive_time = assoc.rec;
        }
        header.transmit_time = clock;
        let mac = match assoc.config.key {
            None => OutgoingMac::None,
            Some(key_id) => match self.auth.key_for(key_id, assoc.config.address.ip()) {
                Some(key) => OutgoingMac::Key(key),
                None => {
                    self.events.push_back(Event::KeyMissing { id, key: key_id });
                    return;
                }
            },
        };
        assoc.xmt = clock;
        assoc.sent += 1;
        self.transmits.push_back(Transmit {
            destination: assoc.config.address,
            source: None,
            ttl,
            association: Some(id),
            packet: PacketBuf::build(&header, mac),
        });
    }

    /// Handles a packet from `source` to local `destination` that arrived
    /// at `received` (the receive timestamp, T4) and at `now` (monotonic),
    /// with the caller's `access` decision for the source.
    pub fn handle(
        &mut self,
        now: Uptime,
        received: NtpTimestamp,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
        access: Access,
    ) -> Disposition {
        let outcome = self.receive(now, received, source, destination, bytes, access);
        if let Err((id, reason)) = outcome {
            if let Some(assoc) = id.and_then(|id| self.assocs.get_mut(&id)) {
                assoc.last_rejection = Some(reason);
            }
            self.events
                .push_back(Event::Rejected { id, source, reason });
            return Disposition::Dropped(reason);
        }
        outcome.unwrap_or(Disposition::Dropped(Rejection::Malformed))
    }

    #[allow(clippy::too_many_lines)]
    fn receive(
        &mut self,
        now: Uptime,
        received: NtpTimestamp,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
        access: Access,
    ) -> Result<Disposition, (Option<AssocId>, Rejection)> {
        let malformed = |_| (None, Rejection::Malformed);
        let view = PacketView::new_checked(bytes).map_err(malformed)?;
        if matches!(view.mode(), Mode::Control | Mode::Private) {
            return Ok(Disposition::Control);
        }
        if access.ignore {
            return Err((None, Rejection::AccessDenied));
        }
        let packet = Packet::parse(bytes).map_err(malformed)?;
        let header = packet.header;
        if !version_supported(header.version) {
            return Err((None, Rejection::BadVersion(header.version)));
        }
        let auth = self.auth.check(bytes, packet.mac, source.ip());

        let found = if header.mode == Mode::Client {
            None
        } else {
            self.find(source)
        };
        let row = match found.and_then(|id| self.assocs.get(&id)) {
            None => Row::NoAssociation,
            Some(a) if a.volley == Some(Volley::Running) => Row::BroadcastVolley,
            Some(a) => Row::Assoc(a.mode),
        };
        let id = match dispatch(row, header.mode) {
            Action::Discard => {
                return Err((found, Rejection::ModeError(header.mode, row_name(row))));
            }
            Action::Error => {
                if let Some(id) = found
                    && self
                        .assocs
                        .get(&id)
                        .is_some_and(|a| a.config.kind == Kind::Ephemeral)
                {
                    self.remove(id, DemobiliseReason::ModeError);
                }
                return Err((found, Rejection::ModeError(header.mode, row_name(row))));
            }
            Action::FastReply => {
                return self.serve(
                    received,
                    now,
                    source,
                    destination,
                    &header,
                    bytes.len(),
                    auth,
                    access,
                );
            }
            Action::NewPassive => {
                if !auth.acceptable(access.notrust || self.auth.required) {
                    return Err((None, Rejection::AuthenticationFailed));
                }
                if access.nopeer || access.noserve {
                    return Err((None, Rejection::AccessDenied));
                }
                let mut config = AssocConfig::client(source).with_mode(AssocMode::SymmetricPassive);
                config.kind = Kind::Ephemeral;
                config.version = header.version;
                config.key = match auth {
                    AuthOutcome::Ok(key) => Some(key),
                    _ => None,
                };
                config.poll.role = PollRole::Symmetric;
                config.poll = polled_like(config.poll, header.poll);
                self.insert(config, now, None)
            }
            Action::NewBroadcastClient => {
                if !self.config.broadcast_client {
                    return Err((None, Rejection::ModeError(header.mode, "no")));
                }
                if !auth.acceptable(access.notrust || self.auth.required) {
                    return Err((None, Rejection::AuthenticationFailed));
                }
                if access.nopeer {
                    return Err((None, Rejection::AccessDenied));
                }
                let mut config = AssocConfig::client(source).with_mode(AssocMode::BroadcastClient);
                config.kind = Kind::Ephemeral;
                config.version = header.version;
                config.key = match auth {
                    AuthOutcome::Ok(key) => Some(key),
                    _ => None,
                };
                config.poll = polled_like(config.poll, header.poll);
                let volley = self.config.broadcast_volley;
                config.poll.iburst = volley;
                let id = self.insert(config, now, None);
                if let Some(assoc) = self.assocs.get_mut(&id) {
                    if volley {
                        assoc.volley = Some(Volley::Running);
                        assoc.org = header.transmit_time;
                        assoc.rec = received;
                        // The volley packet goes out at once.
                        return Ok(Disposition::Processed(id));
                    }
                    assoc.volley = Some(Volley::Done(self.config.broadcast_delay));
                    assoc.poller.set_role(PollRole::ListenOnly);
                }
                id
            }
            Action::NewManycast => {
                let template = self
                    .assocs
                    .values()
                    .find(|a| {
                        a.mode == AssocMode::ManycastClient
                            && !a.xmt.is_zero()
                            && a.xmt == header.origin_time
                    })
                    .map(|a| (a.id, a.config));
                let Some((template_id, template)) = template else {
                    return Err((None, Rejection::ModeError(header.mode, "no")));
                };
                if !auth.acceptable(access.notrust || self.auth.required || template.key.is_some())
                {
                    return Err((None, Rejection::AuthenticationFailed));
                }
                if self.denied.contains(&source.ip()) || access.nopeer {
                    return Err((None, Rejection::AccessDenied));
                }
                let server_stratum = if header.stratum == 0 {
                    MAXSTRAT
                } else {
                    header.stratum
                };
                if server_stratum > self.system.stratum
                    || self.client_count() >= self.config.maxclock
                {
                    return Err((None, Rejection::StratumTooHigh(header.stratum)));
                }
                let mut config = template;
                config.address = source;
                config.mode = AssocMode::Client;
                config.kind = Kind::Preemptable;
                config.poll.role = PollRole::Client;
                let id = self.insert(config, now, Some(template_id));
                if let Some(assoc) = self.assocs.get_mut(&id) {
                    assoc.xmt = header.origin_time;
                }
                if let Some(ring) = self
                    .assocs
                    .get_mut(&template_id)
                    .and_then(|t| t.ring.as_mut())
                {
                    ring.servers_changed(now, 0);
                }
                id
            }
            Action::Process => found.ok_or((None, Rejection::Malformed))?,
        };
        self.process(id, now, received, &header, auth, access)
            .map_err(|reason| (Some(id), reason))
    }

    /// The stateless server (FXMIT).
    #[allow(clippy::too_many_arguments)]
    fn serve(
        &mut self,
        received: NtpTimestamp,
        _now: Uptime,
        source: SocketAddr,
        destination: SocketAddr,
        request: &Header,
        request_len: usize,
        auth: AuthOutcome,
        access: Access,
    ) -> Result<Disposition, (Option<AssocId>, Rejection)> {
        if access.noserve {
            return Err((None, Rejection::AccessDenied));
        }
        let system = self.system;
        let manycast = destination.ip().is_multicast()
            || matches!(destination.ip(), IpAddr::V4(v4) if v4.is_broadcast());
        if manycast {
            // A manycast client: answer only when synchronised, at a
            // stratum at or below the client's, authenticated as required;
            // never a crypto-NAK.
            if !self.config.manycast_server {
                return Err((None, Rejection::AccessDenied));
            }
            let client_stratum = if request.stratum == 0 {
                MAXSTRAT
            } else {
                request.stratum
            };
            let too_high = if self.config.cohort {
                system.stratum > client_stratum
            } else {
                system.stratum >= client_stratum
            };
            if !system.is_synchronised() {
                return Err((None, Rejection::Unsynchronised));
            }
            if too_high {
                return Err((None, Rejection::StratumTooHigh(system.stratum)));
            }
            if !auth.acceptable(access.notrust) {
                return Err((None, Rejection::AuthenticationFailed));
            }
        }
        let mac = match auth {
            AuthOutcome::Ok(key_id) => self
                .auth
                .key_for(key_id, source.ip())
                .map_or(OutgoingMac::CryptoNak, OutgoingMac::Key),
            AuthOutcome::Error(_) => OutgoingMac::CryptoNak,
            AuthOutcome::None if access.notrust => {
                return Err((None, Rejection::AuthenticationFailed));
            }
            AuthOutcome::None | AuthOutcome::CryptoNak => OutgoingMac::None,
        };
        let kind = access.kiss.map_or(ReplyKind::Time, ReplyKind::Kiss);
        let mode = if request.mode == Mode::SymmetricActive {
            Mode::SymmetricPassive
        } else {
            Mode::Server
        };
        // The transmit timestamp is the receive timestamp here: the caller
        // can restamp it at send time if it wants to (sans-IO).
        let reply = fast_xmit(
            request,
            request_len,
            mode,
            received,
            received,
            &system,
            kind,
            mac,
        )
        .ok_or((None, Rejection::Malformed))?;
        self.transmits.push_back(Transmit {
            destination: source,
            source: (!manycast).then_some(destination.ip()),
            ttl: None,
            association: None,
            packet: reply,
        });
        Ok(Disposition::Replied)
    }

    /// PROC: the timestamp checks of `receive()` and then `packet()`.
    fn process(
        &mut self,
        id: AssocId,
        now: Uptime,
        received: NtpTimestamp,
        header: &Header,
        auth: AuthOutcome,
        access: Access,
    ) -> Result<Disposition, Rejection> {
        let system = self.system;
        let auth_required = self.auth.required;
        let Some(assoc) = self.assocs.get_mut(&id) else {
            return Err(Rejection::Malformed);
        };
        if access.ignore {
            return Err(Rejection::AccessDenied);
        }
        // Test 3: a zero transmit timestamp is broken.
        if header.transmit_time.is_zero() {
            return Err(Rejection::InvalidTimestamp(TimestampField::Transmit));
        }
        // Test 1: duplicate / replay.
        if header.transmit_time == assoc.org {
            return Err(Rejection::Duplicate);
        }
        let symmetric = matches!(
            assoc.mode,
            AssocMode::SymmetricActive | AssocMode::SymmetricPassive
        );
        // Test 2: bogus (origin check), and test 3 for a zero origin.
        let mut synch = Ok(());
        if header.mode != Mode::Broadcast {
            if header.origin_time.is_zero() {
                synch = Err(Rejection::InvalidTimestamp(TimestampField::Origin));
            } else if header.origin_time != assoc.xmt {
                synch = Err(Rejection::Bogus);
            }
        }
        if symmetric || header.mode == Mode::Broadcast || synch.is_ok() {
            assoc.org = header.transmit_time;
            assoc.rec = received;
        }
        synch?;
        if header.mode != Mode::Broadcast && !symmetric {
            // Protect against a replay of the request: one reply per request.
            assoc.xmt = NtpTimestamp::ZERO;
        }
        // Test 5: authentication.
        if auth == AuthOutcome::CryptoNak {
            self.crypto_nak(id, now);
            return Err(Rejection::CryptoNak);
        }
        let required = assoc.config.key.is_some() || access.notrust;
        if !auth.acceptable(required) {
            return Err(Rejection::AuthenticationFailed);
        }
        if let (Some(key), AuthOutcome::Ok(got)) = (assoc.config.key, auth)
            && key != got
        {
            return Err(Rejection::AuthenticationFailed);
        }
        let _ = auth_required;
        // Kiss-o'-Death, honoured only now that origin and MAC passed.
        if let Some(code) = header.kiss_code() {
            match code {
                KissCode::Rate => {
                    assoc.poller.handle_rate_kiss(now, header.poll);
                    self.events.push_back(Event::Kiss { id, code });
                    return Err(Rejection::Kiss(code));
                }
                KissCode::Deny | KissCode::Rstr => {
                    self.events.push_back(Event::Kiss { id, code });
                    self.deny(id, code);
                    return Err(Rejection::Kiss(code));
                }
                _ => {}
            }
        }
        // packet(): light up the header variables, then tests 6-8.
        assoc.leap = header.leap;
        assoc.stratum = if header.stratum == 0 {
            MAXSTRAT
        } else {
            header.stratum
        };
        assoc.ppoll = header.poll;
        assoc.root_delay = header.root_delay.to_duration();
        assoc.root_dispersion = header.root_dispersion.to_duration();
        assoc.refid = header.reference_id;
        assoc.reftime = header.reference_time;
        check_header(header)?;
        assoc
            .poller
            .handle_reply(now, symmetric.then_some(header.poll));
        assoc.received += 1;
        assoc.last_rejection = None;

        let sample = if header.mode == Mode::Broadcast {
            let delay = match assoc.volley {
                Some(Volley::Done(delay)) => delay,
                _ => self.config.broadcast_delay,
            };
            broadcast_sample(
                header.transmit_time,
                received,
                delay,
                header.precision,
                system.precision,
            )
        } else {
            client_sample(
                &Timestamps::from_reply(header, received),
                header.precision,
                system.precision,
            )
        };
        let outcome = assoc.filter.update(
            sample.offset,
            sample.delay,
            sample.dispersion,
            now,
            system.poll,
            system.is_synchronised(),
        );
        if outcome != FilterOutcome::PopcornSpike {
            self.events.push_back(Event::Sample {
                id,
                offset: sample.offset,
                delay: sample.delay,
            });
        }
        // ntpd's clock_filter(): "if not synchronised or not in a burst,
        // call clock_select": while unsynchronised every new sample counts,
        // so that an iburst synchronises as soon as the source is fit. A
        // broadcast client's volley is a delay calibration, not a start-up
        // burst: its samples wait for its end, as before (starting the
        // clock on client/server samples and going on with broadcast ones
        // would turn their difference into a frequency error).
        let startup = !system.is_synchronised() && !assoc.in_volley();
        if outcome == FilterOutcome::Accepted && (!assoc.poller.in_burst() || startup) {
            self.events.push_back(Event::ClockUpdate { id });
        }
        Ok(Disposition::Processed(id))
    }

    fn crypto_nak(&mut self, id: AssocId, now: Uptime) {
        let Some(assoc) = self.assocs.get_mut(&id) else {
            return;
        };
        if assoc.config.kind == Kind::Persistent {
            assoc.clear_peer_variables();
            assoc.filter.reset(now);
            assoc.poller.reset(now);
        } else {
            self.remove(id, DemobiliseReason::CryptoNak);
        }
    }

    fn deny(&mut self, id: AssocId, code: KissCode) {
        let Some(assoc) = self.assocs.get(&id) else {
            return;
        };
        let address = assoc.config.address.ip();
        self.denied.insert(address);
        let same: Vec<AssocId> = self
            .assocs
            .values()
            .filter(|a| a.config.address.ip() == address)
            .map(|a| a.id)
            .collect();
        for other in same {
            self.remove(other, DemobiliseReason::Denied(code));
        }
    }
}

/// The poll bounds of an association mobilised by a packet (symmetric
/// passive, broadcast client): the minimum is the sender's poll exponent
/// and the maximum the default, as the reference implementation's
/// `newpeer(..., pkt->ppoll, NTP_MAXDPOLL, ...)`, so that the passive side
/// answers at its peer's rate even while it cannot use the peer's packets
/// (an unsynchronised peer).
fn polled_like(poll: PollConfig, peer_poll: i8) -> PollConfig {
    let minpoll = peer_poll.clamp(ntp_poll::MINPOLL_LIMIT, ntp_poll::MAXPOLL_LIMIT);
    PollConfig {
        minpoll,
        maxpoll: ntp_poll::DEFAULT_MAXPOLL.max(minpoll),
        ..poll
    }
}

fn row_name(row: Row) -> &'static str {
    match row {
        Row::NoAssociation => "no",
        Row::Assoc(mode) => mode.name(),
        Row::BroadcastVolley => "broadcast client (volley)",
    }
}
