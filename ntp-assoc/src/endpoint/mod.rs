//! The association table and the peer process (RFC 5905 A.5.1
//! `receive()`/`packet()`, A.5.7.3 `peer_xmit()`), sans-IO in the style of
//! quinn-proto's `Endpoint`: [`Endpoint::handle`] takes a received packet,
//! [`Endpoint::handle_timeout`] runs the poll processes due,
//! [`Endpoint::poll_transmit`] yields packets to send,
//! [`Endpoint::poll_event`] yields what the system process needs to know,
//! and [`Endpoint::poll_timeout`] says when to call again.
//!
//! The file layout follows the RFC's own names:
//!
//! - `config`: [`AssocId`], [`Kind`], [`AssocConfig`], [`ConfigError`],
//!   [`EndpointConfig`] and the caller's [`Access`] decision;
//! - `events`: what goes out, [`Transmit`], [`Event`],
//!   [`DemobiliseReason`] and [`Disposition`];
//! - `association`: the [`Association`] and its peer variables, its
//!   [`Volley`] and the [`Candidate`] summary;
//! - `mobilise`: `mobilize()`/`clear()`, preemption;
//! - `receive`: A.5.1 `receive()`: the access and version checks, the
//!   dispatch matrix and the associations it mobilises;
//! - `process`: its PROC section (the timestamp checks, authentication,
//!   Kiss-o'-Death) and A.5.1.1 `packet()` up to the hand-off to
//!   `clock_filter()`;
//! - `serve`: the FXMIT action, handed to `fast_xmit()`;
//! - `poll`: A.5.7 `poll()` and `peer_xmit()`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;

use ntp_poll::{SplitMix64, Uptime};

use crate::auth::Auth;
use crate::dispatch::AssocMode;
use crate::server::SystemVars;

mod association;
mod config;
mod events;
mod mobilise;
mod poll;
mod process;
mod receive;
mod serve;

pub use association::{Association, Candidate, Volley};
pub use config::{Access, AssocConfig, AssocId, ConfigError, EndpointConfig, Kind};
pub use events::{DemobiliseReason, Disposition, Event, SendFrom, Transmit, TransmitKind};

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
}
