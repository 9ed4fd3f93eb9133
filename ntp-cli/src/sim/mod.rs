//! A deterministic network simulation of whole daemons in virtual time.
//!
//! A [`Simulation`] runs N real [`Node`]s - the same sans-IO core
//! `ntpctl run` drives - in one process. Each node owns a
//! [`SimulatedClock`] with its own frequency error, random-walk wander and
//! resolution; nodes with a reference get a perfect reference clock (a
//! GPS receiver reading true time, or true time plus an error for a
//! falseticker). Packets travel over links with a fixed delay, an
//! asymmetry, a jitter distribution (normal or exponential), loss, and
//! up/down schedules; packets to a broadcast or multicast address reach
//! every member of its group. Everything random comes from [`SplitMix64`]
//! generators seeded from the scenario's seed, and events are ordered by
//! (virtual time, sequence number), so a run is fully determined by its
//! scenario and seed.
//!
//! Virtual time is kept in integer nanoseconds. The event queue holds
//! packet arrivals; node deadlines come from [`Node::poll_timeout`]; a tick
//! every simulated second feeds the reference clocks and records, for each
//! node, the true clock error, frequency error, system peer and stratum
//! ([`record`]). Before a node handles anything its clock is advanced to
//! the true time, so the transmit timestamp of a packet is the sender's
//! clock when the packet leaves, and the receive timestamp is the
//! receiver's clock when it arrives.
//!
//! # Why it lives here
//!
//! The simulator needs the composed node and the `ntp.conf` parser, both in
//! this crate's library, and is itself pure code (no sockets, no clocks,
//! no threads), so it is compiled always, as the design's sans-IO rule
//! intends. `xtask` must not depend on the crates it tests, so it drives
//! the simulator through cargo (`cargo run --release -p ntp-cli --example
//! sim`) and only reads its CSV output to draw plots. A separate dev-only
//! crate would add a top-level folder the design does not name, for no
//! gain: the integration tests (`tests/sim.rs`) and the example both reach
//! the module from here.
//!
//! Scenarios are JSON files in `testdata/sim/` ([`scenario`]).

pub mod record;
pub mod scenario;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ntp_assoc::Auth;
use ntp_discipline::clock::simulated::SplitMix64;
use ntp_discipline::clock::{Clock, SimulatedClock, SimulatedClockConfig};
use ntp_poll::Uptime;
use ntp_refclock::driver::LeapIndicator;
use ntp_refclock::{DriverEvent, DriverKind, Refclock, RefclockOptions, Sample};
use ntp_wire::time::NtpDuration;
use ntp_wire::{KeyStore, TrustedKeys};

use crate::config::{AssociationKind, Config};
use crate::node::{Node, NodeSettings, Output, Source, setup};
use record::{Record, Recording};
use scenario::{LinkSpec, NodeSpec, Scenario, Schedule, matches};

/// The NTP port every simulated node uses.
pub const PORT: u16 = 123;

const NANOS: u64 = 1_000_000_000;

/// Why a scenario cannot be simulated.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A node's configuration does not parse or is refused.
    #[error("node {node}: {message}")]
    Node {
        /// The node.
        node: String,
        /// Why.
        message: String,
    },
    /// Something else in the scenario is wrong.
    #[error("{0}")]
    Scenario(String),
}

/// A packet on its way.
struct Arrival {
    time: u64,
    seq: u64,
    to: usize,
    source: SocketAddr,
    destination: SocketAddr,
    bytes: Vec<u8>,
}

impl PartialEq for Arrival {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}

impl Eq for Arrival {}

impl PartialOrd for Arrival {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Arrival {
    /// Reversed, so that the binary heap pops the earliest arrival.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// One simulated host.
struct SimNode {
    name: String,
    address: IpAddr,
    node: Node<SimulatedClock>,
    deadline: u64,
    /// The error of the reference clock, for nodes that have one.
    reference: Option<f64>,
    /// The reference clock's specification (its error may change).
    reference_spec: Option<scenario::ReferenceSpec>,
    down: Schedule,
    /// Jumps (`[time, seconds]`) not yet applied to the clock.
    jumps: Vec<[f64; 2]>,
}

/// Network counters of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetworkCounters {
    /// Packets handed to the network (one per receiver for groups).
    pub sent: u64,
    /// Packets delivered.
    pub delivered: u64,
    /// Packets lost at random.
    pub lost: u64,
    /// Packets dropped because a link or node was down.
    pub down: u64,
    /// Packets to an address no node has, or over no link.
    pub unroutable: u64,
    /// Times a node asked to be woken in the past (a bug in the node).
    pub stuck_deadlines: u64,
    /// Panic outputs (offset beyond the panic threshold).
    pub panics: u64,
}

/// A simulation run; see the module documentation.
pub struct Simulation {
    scenario: Scenario,
    nodes: Vec<SimNode>,
    /// `route[from][to]`: the link (an index into `links`) and the sign of
    /// the asymmetry in that direction.
    route: Vec<Vec<Option<(usize, f64)>>>,
    links: Vec<LinkSpec>,
    groups: Vec<(IpAddr, Vec<usize>)>,
    by_address: HashMap<IpAddr, usize>,
    queue: BinaryHeap<Arrival>,
    rng: SplitMix64,
    now: u64,
    next_tick: u64,
    seq: u64,
    counters: NetworkCounters,
    recording: Recording,
}

/// The node specifications with `count` expanded: (name, address, spec).
fn expand(nodes: &[NodeSpec]) -> Result<Vec<(String, IpAddr, &NodeSpec)>, SimError> {
    let mut out = Vec::new();
    for spec in nodes {
        if spec.count <= 1 {
            out.push((spec.name.clone(), spec.address, spec));
            continue;
        }
        for k in 0..spec.count {
            let address = match spec.address {
                IpAddr::V4(a) => {
                    let n = u32::from(a).checked_add(k as u32).ok_or_else(|| {
                        SimError::Scenario(format!("{}: addresses overflow", spec.name))
                    })?;
                    IpAddr::V4(n.into())
                }
                IpAddr::V6(a) => IpAddr::V6((u128::from(a).wrapping_add(k as u128)).into()),
            };
            out.push((format!("{}-{}", spec.name, k + 1), address, spec));
        }
    }
    Ok(out)
}

fn derive_seed(seed: u64, index: usize, salt: u64) -> u64 {
    let mut rng = SplitMix64::new(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    for _ in 0..=index {
        rng.next_u64();
    }
    rng.next_u64()
}

fn to_nanos(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * NANOS as f64).round() as u64
    } else {
        0
    }
}

fn uptime(nanos: u64) -> Uptime {
    Uptime::new(Duration::from_nanos(nanos))
}

impl Simulation {
    /// Builds the nodes and the network of `scenario`, with `seed` in place
    /// of the scenario's seed when given.
    pub fn new(scenario: &Scenario, seed: Option<u64>) -> Result<Self, SimError> {
        let mut scenario = scenario.clone();
        if let Some(seed) = seed {
            scenario.seed = seed;
        }
        let seed = scenario.seed;
        let expanded = expand(&scenario.nodes)?;
        let names: Vec<(String, IpAddr)> =
            expanded.iter().map(|(n, a, _)| (n.clone(), *a)).collect();
        let mut by_address = HashMap::new();
        for (index, (name, address)) in names.iter().enumerate() {
            if by_address.insert(*address, index).is_some() {
                return Err(SimError::Scenario(format!(
                    "{name}: address {address} is used twice"
                )));
            }
        }
        let mut nodes = Vec::new();
        for (index, (name, address, spec)) in expanded.iter().enumerate() {
            nodes.push(build_node(name, *address, spec, &names, seed, index)?);
        }

        // Links: the rules in order (a later rule wins), then the default.
        let mut links: Vec<LinkSpec> = scenario.links.iter().map(|r| r.link.clone()).collect();
        let default_index = scenario.default_link.clone().map(|l| {
            links.push(l);
            links.len() - 1
        });
        let n = nodes.len();
        let mut route = vec![vec![None; n]; n];
        for (i, row) in route.iter_mut().enumerate() {
            for (j, cell) in row.iter_mut().enumerate() {
                if i == j {
                    continue;
                }
                let (a, b) = (&names[i].0, &names[j].0);
                let mut found = None;
                for (k, rule) in scenario.links.iter().enumerate() {
                    let [x, y] = &rule.between;
                    if matches(x, a) && matches(y, b) {
                        found = Some((k, 1.0));
                    } else if matches(y, a) && matches(x, b) {
                        found = Some((k, -1.0));
                    }
                }
                *cell = found.or(default_index.map(|k| (k, if i < j { 1.0 } else { -1.0 })));
            }
        }
        let groups = scenario
            .groups
            .iter()
            .map(|g| {
                let members = names
                    .iter()
                    .enumerate()
                    .filter(|(_, (name, _))| g.members.iter().any(|p| matches(p, name)))
                    .map(|(i, _)| i)
                    .collect();
                (g.address, members)
            })
            .collect();
        let recording = Recording::new(names.iter().map(|(n, _)| n.clone()).collect());
        let mut sim = Self {
            rng: SplitMix64::new(derive_seed(seed, 0, 0x6e65_7477_6f72_6b00)),
            scenario,
            nodes,
            route,
            links,
            groups,
            by_address,
            queue: BinaryHeap::new(),
            now: 0,
            next_tick: 0,
            seq: 0,
            counters: NetworkCounters::default(),
            recording,
        };
        for i in 0..sim.nodes.len() {
            sim.flush(i, false);
        }
        Ok(sim)
    }

    /// The scenario being run (with the seed in force).
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Simulated seconds since the start.
    pub fn now(&self) -> f64 {
        self.now as f64 / NANOS as f64
    }

    /// The network counters so far.
    pub fn counters(&self) -> NetworkCounters {
        self.counters
    }

    /// What was recorded so far.
    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    /// Takes the recording out of a finished simulation.
    pub fn into_recording(self) -> Recording {
        self.recording
    }

    /// The node named `name`, to inspect it.
    pub fn node(&self, name: &str) -> Option<&Node<SimulatedClock>> {
        self.nodes.iter().find(|n| n.name == name).map(|n| &n.node)
    }

    /// Runs the scenario to its end.
    pub fn run(&mut self) {
        let end = self.scenario.duration;
        self.run_until(end);
    }

    /// Runs until `seconds` after the start (inclusive of events at that
    /// time).
    pub fn run_until(&mut self, seconds: f64) {
        let end = to_nanos(seconds);
        loop {
            let arrival = self.queue.peek().map_or(u64::MAX, |a| a.time);
            let (due_node, deadline) = self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (i, n.deadline))
                .min_by_key(|(_, d)| *d)
                .unwrap_or((0, u64::MAX));
            let t = arrival.min(deadline).min(self.next_tick);
            if t > end {
                break;
            }
            self.now = t;
            if arrival == t {
                if let Some(packet) = self.queue.pop() {
                    self.deliver(packet);
                }
            } else if deadline == t {
                self.timeout(due_node);
            } else {
                self.tick();
            }
        }
        self.now = end.max(self.now);
    }

    fn advance(&mut self, i: usize) {
        let t = self.now as f64 / NANOS as f64;
        if let Some(n) = self.nodes.get_mut(i) {
            n.node.clock_mut().advance_to(t);
        }
    }

    fn deliver(&mut self, packet: Arrival) {
        let i = packet.to;
        self.advance(i);
        let now = uptime(self.now);
        let Some(n) = self.nodes.get_mut(i) else {
            return;
        };
        let received = n.node.clock().now().unwrap_or_default();
        self.counters.delivered += 1;
        n.node.handle_packet(
            now,
            received,
            packet.source,
            packet.destination,
            &packet.bytes,
        );
        self.flush(i, false);
    }

    fn timeout(&mut self, i: usize) {
        self.advance(i);
        if let Some(n) = self.nodes.get_mut(i) {
            n.node.handle_timeout(uptime(self.now));
        }
        self.flush(i, true);
    }

    /// Sends what node `i` queued, drains its outputs and takes its next
    /// deadline. After a timeout, a deadline not in the future is a bug
    /// of the node; it is counted and pushed a millisecond ahead.
    fn flush(&mut self, i: usize, after_timeout: bool) {
        let mut transmits = Vec::new();
        if let Some(n) = self.nodes.get_mut(i) {
            while let Some(t) = n.node.poll_transmit() {
                transmits.push(t);
            }
            while let Some(output) = n.node.poll_output() {
                match output {
                    Output::Panic(_) => self.counters.panics += 1,
                    Output::Loopstats {
                        offset,
                        frequency_ppm,
                        jitter,
                        wander_ppm,
                        poll,
                        ..
                    } => log::debug!(
                        "{:.3} {} loop offset {offset:.9} freq {frequency_ppm:.4} jitter {jitter:.9} wander {wander_ppm:.4} poll {poll} true error {:.9}",
                        self.now as f64 / NANOS as f64,
                        n.name,
                        n.node.clock().time_error(),
                    ),
                    Output::Peerstats {
                        offset,
                        delay,
                        jitter,
                        ..
                    } => log::trace!(
                        "{:.3} {} peer offset {offset:.9} delay {delay:.9} jitter {jitter:.9}",
                        self.now as f64 / NANOS as f64,
                        n.name,
                    ),
                    _ => {}
                }
            }
            let deadline = n.node.poll_timeout().since_origin();
            let mut deadline = u64::try_from(deadline.as_nanos()).unwrap_or(u64::MAX);
            if after_timeout && deadline <= self.now {
                self.counters.stuck_deadlines += 1;
                deadline = self.now + 1_000_000;
            }
            n.deadline = deadline;
        }
        for t in transmits {
            self.route(i, t.destination, t.packet.as_bytes());
        }
    }

    fn route(&mut self, from: usize, destination: SocketAddr, bytes: &[u8]) {
        let Some(sender) = self.nodes.get(from) else {
            return;
        };
        let source = SocketAddr::new(sender.address, PORT);
        let receivers: Vec<usize> = match self.by_address.get(&destination.ip()) {
            Some(&to) => vec![to],
            None => match self.groups.iter().find(|(a, _)| *a == destination.ip()) {
                Some((_, members)) => members.iter().copied().filter(|&m| m != from).collect(),
                None => {
                    self.counters.unroutable += 1;
                    return;
                }
            },
        };
        let t = self.now();
        for to in receivers {
            self.counters.sent += 1;
            let Some((link, sign)) = self
                .route
                .get(from)
                .and_then(|r| r.get(to))
                .copied()
                .flatten()
            else {
                self.counters.unroutable += 1;
                continue;
            };
            let Some(spec) = self.links.get(link) else {
                continue;
            };
            let node_down = |k: usize| self.nodes.get(k).is_some_and(|n| n.down.is_down(t));
            if spec.down.is_down(t) || node_down(from) || node_down(to) {
                self.counters.down += 1;
                continue;
            }
            if spec.loss > 0.0 && self.rng.next_f64() < spec.loss {
                self.counters.lost += 1;
                continue;
            }
            let variable = match spec.jitter {
                scenario::Jitter::None => 0.0,
                scenario::Jitter::Normal { scale } => scale * self.rng.next_gaussian(),
                scenario::Jitter::Exponential { scale } => {
                    -scale * (1.0 - self.rng.next_f64()).ln()
                }
            };
            let added = if sign > 0.0 {
                spec.added_delay_at(t)
            } else {
                0.0
            };
            let delay = (spec.delay + sign * spec.asymmetry / 2.0 + variable + added).max(0.0);
            self.seq += 1;
            self.queue.push(Arrival {
                time: self.now + to_nanos(delay),
                seq: self.seq,
                to,
                source,
                destination,
                bytes: bytes.to_vec(),
            });
        }
    }

    /// The once-a-second tick: reference clock samples and the record.
    fn tick(&mut self) {
        let second = self.now / NANOS;
        for i in 0..self.nodes.len() {
            self.advance(i);
        }
        // Clocks set wrong, as the scenario says.
        let t = second as f64;
        for n in &mut self.nodes {
            let mut by = 0.0;
            n.jumps.retain(|&[at, seconds]| {
                let due = at <= t;
                if due {
                    by += seconds;
                }
                !due
            });
            if by != 0.0 {
                let _ = n.node.clock_mut().step(NtpDuration::from_seconds_f64(by));
            }
        }
        for n in &mut self.nodes {
            let Some(error) = n.reference else { continue };
            let error = n.reference_spec.as_ref().map_or(error, |r| r.error_at(t));
            let clock = n.node.clock();
            let true_date = clock.true_date();
            let reference = true_date + NtpDuration::from_seconds_f64(error);
            let local = clock.now().unwrap_or_default().to_date(true_date);
            if let (Some(reference_time), Some(receive_time)) =
                (reference.to_datetime(), local.to_datetime())
            {
                n.node.handle_refclock_event(
                    0,
                    &DriverEvent::Sample(Sample {
                        reference_time,
                        receive_time,
                        correction: 0.0,
                        leap: LeapIndicator::NoWarning,
                        source: "simulated reference".to_owned(),
                    }),
                );
            }
        }
        let every = to_nanos(self.scenario.record_every).max(NANOS) / NANOS;
        if second.is_multiple_of(every) {
            let records: Vec<Record> = self
                .nodes
                .iter()
                .map(|n| {
                    let peer = match n.node.system_peer() {
                        None => record::NO_PEER,
                        Some(Source::Refclock(_)) => record::REFCLOCK,
                        Some(Source::Assoc(id)) => n
                            .node
                            .endpoint()
                            .association(id)
                            .and_then(|a| self.by_address.get(&a.config().address.ip()))
                            .map_or(record::UNKNOWN_PEER, |&k| k as i32),
                    };
                    let clock = n.node.clock();
                    Record {
                        time: second as u32,
                        offset: clock.time_error(),
                        frequency_ppm: clock.frequency_error() * 1e6,
                        peer,
                        stratum: n.node.system_variables().stratum,
                    }
                })
                .collect();
            self.recording.push(&records);
        }
        self.next_tick = (second + 1) * NANOS;
    }
}

/// Builds node `index` of a scenario.
fn build_node(
    name: &str,
    address: IpAddr,
    spec: &NodeSpec,
    names: &[(String, IpAddr)],
    seed: u64,
    index: usize,
) -> Result<SimNode, SimError> {
    let err = |message: String| SimError::Node {
        node: name.to_owned(),
        message,
    };
    let config = Config::parse_str(&spec.config, name).map_err(|e| err(e.to_string()))?;
    let tos = setup::tos_settings(&config).map_err(|e| err(e.to_string()))?;
    let mut associations = Vec::new();
    for line in &config.associations {
        let resolved: Vec<IpAddr> = match line.address.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => names
                .iter()
                .filter(|(n, _)| n != name && matches(&line.address, n))
                .map(|(_, a)| *a)
                .collect(),
        };
        if resolved.is_empty() {
            return Err(err(format!("no node matches {:?}", line.address)));
        }
        // A pool takes up to `maxclock` matches, a pattern every match but
        // this node, a name its node.
        let take = match line.kind {
            AssociationKind::Pool => tos.maxclock,
            _ if line.address.ends_with('*') => usize::MAX,
            _ => 1,
        };
        for ip in resolved.into_iter().take(take) {
            let a = setup::assoc_config(line, ip).map_err(|e| err(e.to_string()))?;
            associations.push((a, None));
        }
    }
    let sources: Vec<IpAddr> = associations.iter().map(|(a, _)| a.address.ip()).collect();
    let mut auth = Auth::new(KeyStore::new(), TrustedKeys::new());
    auth.required = config.flags.auth;
    let mut refclocks = Vec::new();
    if spec.reference.is_some() {
        let mut options = RefclockOptions::new(DriverKind::Shm, 0);
        for (option, value) in [("stratum", "0"), ("refid", "GPS"), ("minpoll", "4")] {
            options
                .set(option, value)
                .map_err(|e| err(format!("reference clock: {e}")))?;
        }
        let mut refclock = Refclock::new(options);
        refclock.set_precision(-20);
        refclocks.push(refclock);
    }
    let mut clock_rng = SplitMix64::new(derive_seed(seed, index, 0x636c_6f63_6b00));
    let c = &spec.clock;
    let spread = c.frequency_spread_ppm * (2.0 * clock_rng.next_f64() - 1.0);
    let clock = SimulatedClock::new(SimulatedClockConfig {
        initial_offset: c.offset,
        frequency_error_ppm: c.frequency_ppm + spread,
        wander_ppm: c.wander_ppb_s * 1e-3,
        resolution: c.resolution,
        seed: clock_rng.next_u64(),
        ..SimulatedClockConfig::default()
    });
    let settings = NodeSettings {
        endpoint: setup::endpoint_config(&config, &tos, derive_seed(seed, index, 0x706f_6c6c)),
        discipline: setup::discipline_config(&config, true).map_err(|e| err(e.to_string()))?,
        tos,
        auth,
        access: setup::access_control(&config, &sources),
        associations,
        refclocks,
        adjust_clock: spec.adjust.unwrap_or(spec.reference.is_none()),
        stored_frequency_ppm: spec.drift_ppm,
        leap_file: None,
        local_address: address,
    };
    let node = Node::new(settings, clock, Uptime::ZERO).map_err(|e| err(e.to_string()))?;
    Ok(SimNode {
        name: name.to_owned(),
        address,
        node,
        deadline: 0,
        reference: spec.reference.as_ref().map(|r| r.offset),
        reference_spec: spec.reference.clone(),
        down: spec.down.clone(),
        jumps: c.jumps.clone(),
    })
}
