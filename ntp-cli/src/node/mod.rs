//! The node: the sans-IO composition of every process of the daemon.
//!
//! A [`Node`] wires the peer and poll processes (`ntp-assoc`'s
//! [`Endpoint`]), the system process with orphan mode (`ntp-orphan`'s
//! [`OrphanSystem`] over `ntp-select`), the clock discipline and the
//! clock-adjust process (`ntp-discipline`), reference clocks
//! (`ntp-refclock`'s filter; the devices stay with the caller), access
//! control and rate limits (`ntp-assoc::access`).
//!
//! It opens no socket and never sleeps. The caller hands it packets (bytes,
//! source, destination, receive timestamp), reference clock events and
//! timer expiries, asks for the next deadline, and takes packets to send and
//! outputs (statistics lines, frequency-file writes). Monotonic time is an
//! [`Uptime`] argument; the NTP time scale comes from the [`Clock`] the node
//! owns - the system clock in the daemon, a simulated clock in the
//! simulator - which the node also adjusts when it is allowed to.

pub mod counters;
pub mod refclocks;
pub mod setup;

pub use refclocks::LOCAL_CLOCK_FALLBACK_RANK;

use std::collections::{HashMap, VecDeque};

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ntp_assoc::access::{AccessControl, AccessVerdict};
use ntp_assoc::{
    AssocConfig, AssocId, Auth, Disposition, Endpoint, EndpointConfig, Event, SystemVars, Transmit,
    TransmitKind,
};
use ntp_discipline::clock::{ErrorEstimates, apply_adjustment, apply_update};
use ntp_discipline::discipline::UpdateOutcome;
use ntp_discipline::drift::DriftSchedule;
use ntp_discipline::{Clock, ClockDiscipline, DisciplineConfig, LeapArm, LeapControl, LeapFile};
use ntp_orphan::{OrphanState, OrphanSystem, address_metric};
use ntp_poll::Uptime;
use ntp_refclock::{DriverEvent, Refclock};
use ntp_select::{Candidate, ClockUpdate, SelectionResult, SystemVariables, TosSettings};
use ntp_wire::packet::{LeapIndicator, Mode};
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, NtpShort, NtpTimestamp};

use self::counters::{Counter, Counters};
use self::refclocks::RefclockSlot;

/// A time source of the system process: an association or a reference clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A network association.
    Assoc(AssocId),
    /// A reference clock, by its index in the node.
    Refclock(usize),
}

/// Everything a node is built from.
pub struct NodeSettings {
    /// The `tos` knobs.
    pub tos: TosSettings,
    /// The discipline's configuration.
    pub discipline: DisciplineConfig,
    /// The peer process's switches.
    pub endpoint: EndpointConfig,
    /// Keys, trusted keys and `enable auth`.
    pub auth: Auth,
    /// `restrict` and `discard`.
    pub access: AccessControl,
    /// The associations to mobilise, with their host names.
    pub associations: Vec<(AssocConfig, Option<String>)>,
    /// Reference clocks (the filter side; the caller owns the devices).
    pub refclocks: Vec<Refclock>,
    /// Whether the node may adjust its clock (`--no-adjust`, `disable ntp`
    /// and the privilege decide). Without it the discipline is not run.
    pub adjust_clock: bool,
    /// The frequency read from the frequency file, ppm.
    pub stored_frequency_ppm: Option<f64>,
    /// A parsed leap-seconds file.
    pub leap_file: Option<LeapFile>,
    /// The address whose metric takes part in the orphan election.
    pub local_address: IpAddr,
}

/// Something for the caller to carry out or record.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A `loopstats` line (MJD, seconds, offset, frequency, jitter, wander, poll).
    Loopstats {
        /// When.
        time: NtpTimestamp,
        /// Offset, s.
        offset: f64,
        /// Frequency, ppm.
        frequency_ppm: f64,
        /// Jitter, s.
        jitter: f64,
        /// Wander, ppm.
        wander_ppm: f64,
        /// Poll exponent.
        poll: i8,
    },
    /// A `peerstats` line.
    Peerstats {
        /// When.
        time: NtpTimestamp,
        /// The source.
        source: IpAddr,
        /// The peer status word.
        status: u16,
        /// Offset, s.
        offset: f64,
        /// Delay, s.
        delay: f64,
        /// Dispersion, s.
        dispersion: f64,
        /// Jitter, s.
        jitter: f64,
    },
    /// Write this frequency (ppm) to the frequency file.
    WriteDrift(f64),
    /// The offset exceeds the panic threshold: the daemon must stop, as
    /// ntpd does, telling the operator to set the clock by hand.
    Panic(f64),
}

/// The composed daemon core. See the module documentation.
pub struct Node<C: Clock> {
    clock: C,
    adjust: bool,
    endpoint: Endpoint,
    system: OrphanSystem<Source>,
    discipline: ClockDiscipline,
    drift: DriftSchedule,
    leap: LeapControl,
    armed: LeapArm,
    access: AccessControl,
    refclocks: Vec<RefclockSlot>,
    hostnames: HashMap<AssocId, String>,
    last_packet: HashMap<AssocId, Uptime>,
    /// The regression loop's input: each association's newest sample
    /// (offset, delay, when) not yet handed to the discipline.
    unfed: HashMap<AssocId, (f64, f64, Uptime)>,
    /// The association whose samples the regression loop holds.
    regression_source: Option<AssocId>,
    /// Whether the last system process run let the clock be disciplined
    /// (an orphan parent's is not).
    discipline_allowed: bool,
    last_result: Option<SelectionResult<Source>>,
    advertised: SystemVariables,
    synchronized_once: bool,
    last_offset: f64,
    next_second: Uptime,
    counters: Counters,
    outputs: VecDeque<Output>,
    precision: i8,
}

/// Why a node cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A `tos` value the system process refuses.
    #[error("tos: {0}")]
    Tos(#[from] ntp_select::TosError),
    /// An association the peer process refuses.
    #[error("{address}: {source}")]
    Association {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: ntp_assoc::ConfigError,
    },
    /// The clock cannot be read.
    #[error("cannot read the clock: {0}")]
    Clock(#[from] ntp_discipline::ClockError),
}

fn seconds(d: NtpDuration) -> f64 {
    d.to_seconds_f64()
}

impl<C: Clock> Node<C> {
    /// Builds a node at monotonic time `now`, mobilising the configured
    /// associations.
    pub fn new(settings: NodeSettings, clock: C, now: Uptime) -> Result<Self, NodeError> {
        let precision = settings.discipline.precision;
        let seed = settings.endpoint.seed;
        let mut endpoint = Endpoint::new(settings.endpoint, settings.auth);
        let mut hostnames = HashMap::new();
        for (config, hostname) in settings.associations {
            let id = endpoint
                .mobilise(config, now)
                .map_err(|source| NodeError::Association {
                    address: config.address,
                    source,
                })?;
            if let Some(name) = hostname {
                hostnames.insert(id, name);
            }
        }
        let mut leap = LeapControl::new();
        leap.set_file(settings.leap_file);
        let system = OrphanSystem::new(settings.tos, address_metric(settings.local_address), now)?;
        let refclocks = settings
            .refclocks
            .into_iter()
            .enumerate()
            .map(|(index, refclock)| {
                RefclockSlot::new(refclock, now, seed.wrapping_add(index as u64 + 1))
            })
            .collect();
        let mut node = Self {
            adjust: settings.adjust_clock,
            discipline: ClockDiscipline::new(settings.discipline, settings.stored_frequency_ppm),
            drift: DriftSchedule::new(settings.stored_frequency_ppm),
            clock,
            endpoint,
            system,
            leap,
            armed: LeapArm::None,
            access: settings.access,
            refclocks,
            hostnames,
            last_packet: HashMap::new(),
            unfed: HashMap::new(),
            discipline_allowed: false,
            regression_source: None,
            last_result: None,
            advertised: SystemVariables::unsynchronized(),
            synchronized_once: false,
            last_offset: 0.0,
            next_second: now,
            counters: Counters::default(),
            outputs: VecDeque::new(),
            precision,
        };
        if node.adjust
            && !node.discipline.config().kernel_active()
            && let Err(err) = node.clock.disable_kernel_discipline()
        {
            log::warn!("cannot turn the kernel discipline off: {err}");
        }
        let clock_now = node.clock.now()?;
        node.publish_system_vars(now, clock_now);
        Ok(node)
    }

    /// The clock this node reads and disciplines.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The clock, mutably (the simulator advances it).
    pub fn clock_mut(&mut self) -> &mut C {
        &mut self.clock
    }

    /// The peer process.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The discipline.
    pub fn discipline(&self) -> &ClockDiscipline {
        &self.discipline
    }

    /// The system variables this node advertises.
    pub fn system_variables(&self) -> &SystemVariables {
        &self.advertised
    }

    /// The current system peer, if any.
    pub fn system_peer(&self) -> Option<Source> {
        self.last_result.as_ref().and_then(|r| r.sys_peer)
    }

    /// Mobilises an association at run time (configuration reload, pool
    /// refill); `hostname` is shown on the billboard.
    pub fn add_association(
        &mut self,
        config: AssocConfig,
        hostname: Option<String>,
        now: Uptime,
    ) -> Result<AssocId, ntp_assoc::ConfigError> {
        let id = self.endpoint.mobilise(config, now)?;
        if let Some(name) = hostname {
            self.hostnames.insert(id, name);
        }
        Ok(id)
    }

    /// Demobilises an association (configuration reload).
    pub fn remove_association(&mut self, id: AssocId) -> bool {
        self.hostnames.remove(&id);
        self.endpoint.demobilise(id)
    }

    /// How many client associations exist and how many more a pool may add.
    pub fn pool_slots(&self) -> usize {
        self.endpoint.pool_slots()
    }

    /// Handles a packet from `source` to local `destination`, received at
    /// monotonic `now` with receive timestamp `received`.
    pub fn handle_packet(
        &mut self,
        now: Uptime,
        received: NtpTimestamp,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
    ) {
        self.counters.add(Counter::Received);
        let is_query = matches!(
            bytes.first().map(|b| Mode::from_bits(*b)),
            Some(Mode::Control | Mode::Private)
        );
        let access = match self
            .access
            .decide(source.ip(), now.since_origin(), is_query)
        {
            AccessVerdict::Pass(access) => access,
            AccessVerdict::Ignored => return self.counters.add(Counter::DroppedIgnore),
            AccessVerdict::RateLimited => return self.counters.add(Counter::DroppedRateLimit),
            AccessVerdict::QueryRefused => return self.counters.add(Counter::DroppedNoquery),
        };
        if is_query {
            // Mode 6/7 (ntpq/ntpdc) are not served: never answered, so
            // never amplified.
            return self.counters.add(Counter::DroppedControl);
        }
        match self
            .endpoint
            .handle(now, received, source, destination, bytes, access)
        {
            Disposition::Processed(id) => {
                self.last_packet.insert(id, now);
                self.counters.add(Counter::Processed);
            }
            Disposition::Replied if access.kiss.is_some() => self.counters.add(Counter::KodRate),
            Disposition::Replied => self.counters.add(Counter::Served),
            Disposition::Control => self.counters.add(Counter::DroppedControl),
            Disposition::Dropped(reason) => self.counters.rejected.count(reason),
        }
        if let Some(clock_now) = self.read_clock() {
            self.process_events(now, clock_now);
        }
    }

    /// Hands an event of reference clock `index`'s driver to its filter.
    pub fn handle_refclock_event(&mut self, index: usize, event: &DriverEvent) {
        if let Some(slot) = self.refclocks.get_mut(index) {
            slot.refclock.handle_event(event);
        }
    }

    /// The earliest deadline of every process.
    pub fn poll_timeout(&self) -> Uptime {
        let refclock = self
            .refclocks
            .iter()
            .map(|r| r.poller.poll_timeout())
            .min()
            .unwrap_or(Uptime::NEVER);
        self.endpoint
            .poll_timeout()
            .min(self.next_second)
            .min(refclock)
    }

    /// Runs every process due at `now`.
    pub fn handle_timeout(&mut self, now: Uptime) {
        let Some(clock_now) = self.read_clock() else {
            return;
        };
        if self.endpoint.poll_timeout() <= now {
            self.endpoint.handle_timeout(now, clock_now);
        }
        self.process_events(now, clock_now);
        self.poll_refclocks(now, clock_now);
        if self.next_second <= now {
            self.once_per_second(now, clock_now);
            // Stay on a one-second grid without drifting behind.
            while self.next_second <= now {
                self.next_second = self.next_second + Duration::from_secs(1);
            }
        }
    }

    /// Reads the clock once for a handler; a failed read is logged and
    /// counted, and the handler's clock-dependent work is skipped (never a
    /// timestamp of 1900).
    fn read_clock(&mut self) -> Option<NtpTimestamp> {
        match self.clock.now() {
            Ok(t) => Some(t),
            Err(err) => {
                log::error!("cannot read the clock: {err}");
                self.counters.add(Counter::ClockReadErrors);
                None
            }
        }
    }

    /// The next packet to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let transmit = self.endpoint.poll_transmit();
        if let Some(t) = &transmit {
            self.counters.add(Counter::Sent);
            if let TransmitKind::Reply {
                crypto_nak: true, ..
            } = t.kind
            {
                self.counters.add(Counter::CryptoNak);
            }
        }
        transmit
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    fn poll_refclocks(&mut self, now: Uptime, clock_now: NtpTimestamp) {
        let Some(utc) = clock_now.to_datetime(ntp_wire::time::ERA_PIVOT) else {
            return;
        };
        let mut updated = false;
        for slot in &mut self.refclocks {
            updated |= slot.handle_timeout(now, utc);
        }
        if updated {
            self.clock_select(now, clock_now);
        }
    }

    fn process_events(&mut self, now: Uptime, clock_now: NtpTimestamp) {
        let mut run_select = false;
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                Event::ClockUpdate { id } => {
                    run_select = true;
                    if let Some(assoc) = self.endpoint.association(id) {
                        let c = assoc.candidate(now);
                        self.outputs.push_back(Output::Peerstats {
                            time: clock_now,
                            source: assoc.config().address.ip(),
                            status: 0,
                            offset: seconds(c.offset),
                            delay: seconds(c.delay),
                            dispersion: seconds(c.dispersion),
                            jitter: seconds(c.jitter),
                        });
                    }
                }
                Event::Mobilised { address, mode, .. } => {
                    log::info!("mobilised {mode:?} association with {address}");
                }
                Event::Demobilised {
                    id,
                    address,
                    reason,
                } => {
                    log::info!("demobilised association with {address}: {reason:?}");
                    self.hostnames.remove(&id);
                    self.last_packet.remove(&id);
                    self.unfed.remove(&id);
                }
                Event::Kiss { id, code } => {
                    log::warn!("association {}: kiss-o'-death {code}", id.0);
                    self.counters.kisses.count(code);
                }
                Event::Unreachable { id } => {
                    log::info!("association {} is unreachable", id.0);
                }
                Event::KeyMissing { id, key } => {
                    log::warn!("association {}: key {key} is missing or not trusted", id.0);
                }
                Event::Sample {
                    id, offset, delay, ..
                } => {
                    if self.discipline.uses_regression() {
                        self.unfed
                            .insert(id, (seconds(offset), seconds(delay), now));
                        if self.system_peer() == Some(Source::Assoc(id)) {
                            self.feed_regression(now, clock_now, id);
                        } else if self.system_peer().is_none() {
                            // Without a system peer every sample may make a
                            // source fit (its dispersion falls as the filter
                            // fills): run the system process, as ntpd does
                            // while unsynchronised. (The RFC loop keeps the
                            // stricter rule its scenarios were measured with.)
                            run_select = true;
                        }
                    }
                }
                Event::Rejected { .. } => {}
            }
        }
        if run_select {
            self.clock_select(now, clock_now);
        }
    }

    /// Every candidate of the system process: the associations' and the
    /// reference clocks'. (The start-up fitness rule is the system
    /// process's: `ntp_select::SystemProcess::select`.)
    fn candidates(&self, now: Uptime) -> Vec<Candidate<Source>> {
        let mut list: Vec<Candidate<Source>> = self
            .endpoint
            .candidates(now)
            .into_iter()
            .map(|c| c.map_id(Source::Assoc))
            .collect();
        list.extend(
            self.refclocks
                .iter()
                .enumerate()
                .filter_map(|(index, slot)| slot.candidate(index)),
        );
        list
    }

    /// The system process: RFC 5905 `clock_select()` with orphan mode, the
    /// preemption of excess associations, and `clock_update()`, whose
    /// offset goes to the clock discipline.
    fn clock_select(&mut self, now: Uptime, clock_now: NtpTimestamp) {
        let candidates = self.candidates(now);
        let (result, decision) = self.system.update(&candidates, now, clock_now);
        self.preempt(&result);
        let update = self.system.clock_update(&result, now, clock_now);
        self.last_result = Some(result);
        if matches!(decision.state, OrphanState::Parent) {
            self.synchronized_once = true;
            self.publish_system_vars(now, clock_now);
            return;
        }
        self.discipline_allowed = decision.discipline;
        let peer = match update {
            ClockUpdate::Fresh { peer, .. } | ClockUpdate::Stale { peer } => peer,
            _ => {
                self.publish_system_vars(now, clock_now);
                return;
            }
        };
        if let Source::Assoc(id) = peer
            && self.discipline.uses_regression()
        {
            // The regression loop takes every sample of the system peer
            // as it arrives (see `Event::Sample`), not the filter's pick.
            self.synchronized_once = true;
            self.set_discipline_poll_bounds(peer);
            self.feed_regression(now, clock_now, id);
            self.publish_system_vars(now, clock_now);
            return;
        }
        if let ClockUpdate::Fresh { offset, .. } = update {
            self.synchronized_once = true;
            self.last_offset = offset;
            if self.adjust && decision.discipline {
                self.set_discipline_poll_bounds(peer);
                self.discipline_update(now, clock_now, offset, 0.0, 0.0);
            }
        }
        self.publish_system_vars(now, clock_now);
    }

    /// Demobilises excess preemptable (pool, manycast) associations beyond
    /// `maxclock` that are not among the survivors, worst first
    /// (`SelectionResult::preemption_order`, ntpd's rule).
    fn preempt(&mut self, result: &SelectionResult<Source>) {
        if self.endpoint.client_count() <= self.endpoint.config().maxclock {
            return;
        }
        let assoc = |s: Source| match s {
            Source::Assoc(id) => Some(id),
            Source::Refclock(_) => None,
        };
        let survivors: Vec<AssocId> = result.survivors.iter().filter_map(|&s| assoc(s)).collect();
        let order: Vec<AssocId> = result
            .preemption_order()
            .into_iter()
            .filter_map(assoc)
            .collect();
        for id in self.endpoint.preempt(&survivors, &order) {
            log::info!("association {} preempted (beyond maxclock)", id.0);
        }
    }

    /// The time constant stays within the system peer's poll range
    /// (ntpd's clock_update()).
    fn set_discipline_poll_bounds(&mut self, peer: Source) {
        let bounds = match peer {
            Source::Assoc(id) => self
                .endpoint
                .association(id)
                .map(|a| (a.config().poll.minpoll, a.config().poll.maxpoll)),
            Source::Refclock(_) => None,
        };
        self.discipline.set_peer_poll_bounds(bounds);
    }

    /// Hands the system peer's newest sample, if not yet used, to the
    /// regression loop.
    fn feed_regression(&mut self, now: Uptime, clock_now: NtpTimestamp, id: AssocId) {
        if !(self.adjust && self.discipline_allowed) {
            return;
        }
        let Some((offset, delay, taken)) = self.unfed.remove(&id) else {
            return;
        };
        let age = now.saturating_since(taken).as_secs_f64();
        if self.regression_source != Some(id) {
            // A new system peer: its offsets are not the last one's.
            self.regression_source = Some(id);
            self.discipline.restart_regression();
        }
        self.last_offset = offset;
        self.discipline_update(now, clock_now, offset, age, delay);
    }

    fn discipline_update(
        &mut self,
        now: Uptime,
        clock_now: NtpTimestamp,
        offset: f64,
        age: f64,
        delay: f64,
    ) {
        match self.discipline.update_sample(clock_now, offset, age, delay) {
            Ok(update) => {
                if let Err(err) = apply_update(&mut self.clock, &update) {
                    log::error!("cannot adjust the clock: {err}");
                }
                if let UpdateOutcome::Stepped(amount) = update.outcome {
                    log::warn!("clock stepped by {amount} s");
                    self.counters.add(Counter::ClockSteps);
                    // clock_update()'s STEP case: the system forgets its
                    // peer and every association starts over.
                    self.system.clock_stepped();
                    self.endpoint.clear_all(now);
                }
                self.outputs.push_back(Output::Loopstats {
                    time: clock_now,
                    offset,
                    frequency_ppm: self.discipline.frequency_ppm(),
                    jitter: self.discipline.jitter(),
                    wander_ppm: self.discipline.wander() * 1e6,
                    poll: self.discipline.poll_exponent(),
                });
            }
            Err(err) => {
                log::error!("{err}");
                self.outputs.push_back(Output::Panic(offset));
            }
        }
    }

    /// What the server side advertises, from the system (or orphan)
    /// variables, with the leap indicator of the leap process.
    fn publish_system_vars(&mut self, now: Uptime, clock_now: NtpTimestamp) {
        let vars = if self.synchronized_once {
            self.system.advertised(now, clock_now)
        } else {
            SystemVariables::unsynchronized()
        };
        self.advertised = vars;
        let leap_status = self.leap.status(clock_now.to_pivot_date(), vars.leap);
        let synchronized = vars.is_synchronized();
        // RFC 5905: the root dispersion grows with the time since the last update.
        let age = now.saturating_since(vars.update_time).as_secs_f64();
        let root_dispersion = if synchronized {
            vars.root_dispersion + NtpDuration::from_seconds_f64(ntp_select::PHI * age)
        } else {
            vars.root_dispersion
        };
        self.endpoint.set_system(SystemVars {
            leap: if synchronized {
                leap_status.indicator
            } else {
                LeapIndicator::Unsynchronized
            },
            stratum: vars.stratum,
            precision: self.precision,
            root_delay: NtpShort::from_duration(vars.root_delay),
            root_dispersion: NtpShort::from_duration(root_dispersion),
            refid: vars.reference_id,
            reftime: vars.reference_time,
            poll: self.discipline.poll_exponent(),
        });
    }

    fn once_per_second(&mut self, now: Uptime, clock_now: NtpTimestamp) {
        if self.adjust {
            if let Some(adjustment) = self.discipline.clock_adjust(clock_now)
                && let Err(err) = apply_adjustment(&mut self.clock, &adjustment)
            {
                log::error!("cannot adjust the clock frequency: {err}");
            }
            let status = self
                .leap
                .status(clock_now.to_pivot_date(), self.advertised.leap);
            if status.arm != self.armed {
                match self.clock.set_leap(status.arm) {
                    Ok(()) => self.armed = status.arm,
                    Err(err) => log::error!("cannot arm the leap second: {err}"),
                }
            }
            let estimates = ErrorEstimates {
                estimated: self.discipline.jitter(),
                maximum: seconds(self.advertised.root_distance()),
                synchronized: self.discipline.is_synchronized(),
            };
            let _ = self.clock.set_error_estimates(estimates);
            let ppm = self.discipline.frequency_ppm();
            let valid = self.discipline.frequency_is_valid();
            if self.drift.should_write(clock_now, ppm, valid) {
                self.drift.written(clock_now, ppm);
                self.outputs.push_back(Output::WriteDrift(ppm));
            }
        }
        // Orphan mode and the system peer's aging need the system process
        // to run even without new samples.
        if self.system.next_deadline().is_some_and(|d| d <= now)
            || self.last_result.is_none()
            || self.system.orphan().settings().is_enabled()
        {
            self.clock_select(now, clock_now);
        } else {
            self.publish_system_vars(now, clock_now);
        }
    }

    /// The frequency to write at shutdown, if it should be written.
    pub fn drift_at_shutdown(&self) -> Option<f64> {
        let ppm = self.discipline.frequency_ppm();
        (self.adjust
            && self
                .drift
                .should_write_at_shutdown(ppm, self.discipline.frequency_is_valid()))
        .then_some(ppm)
    }

    /// The last run of the system process (the tally codes).
    pub fn last_selection(&self) -> Option<&SelectionResult<Source>> {
        self.last_result.as_ref()
    }

    /// The host name an association was configured with.
    pub fn hostname(&self, id: AssocId) -> Option<&str> {
        self.hostnames.get(&id).map(String::as_str)
    }

    /// When the last packet of an association was processed.
    pub fn last_packet(&self, id: AssocId) -> Option<Uptime> {
        self.last_packet.get(&id).copied()
    }

    /// The reference clocks.
    pub fn refclocks(&self) -> &[RefclockSlot] {
        &self.refclocks
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The last offset handed to the clock discipline, seconds.
    pub fn last_offset(&self) -> f64 {
        self.last_offset
    }

    /// Whether this node adjusts its clock.
    pub fn adjusts_clock(&self) -> bool {
        self.adjust
    }

    /// The orphan state of the system process, if it ran.
    pub fn orphan_state(&self) -> Option<OrphanState<Source>> {
        self.system.state()
    }

    /// The system poll exponent (what the discipline asks for).
    pub fn system_poll(&self) -> ntp_wire::poll::PollExponent {
        ntp_wire::poll::PollExponent::clamped(self.discipline.poll_exponent())
    }

    /// The reference ID other servers see for this node's address.
    pub fn reference_id_of(address: IpAddr) -> ReferenceId {
        ReferenceId::from_ip(address)
    }
}
