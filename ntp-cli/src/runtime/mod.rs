//! The daemon's event loop (DESIGN.md's runtime rules): one thread owns
//! every socket, clock and timer; it waits in `poll(2)` with a timeout from
//! the node's nearest deadline; it reads time with `clock_gettime` and
//! adjusts the clock only through `clock_adjtime` (in `ntp-discipline`'s
//! `SystemClock`), and only when allowed.
//!
//! - [`net`]: UDP sockets, receive timestamps, `poll(2)`;
//! - [`signals`]: SIGTERM/SIGINT/SIGHUP through a `signalfd`;
//! - this module: start-up (configuration, name resolution, sockets, keys,
//!   frequency and leap files, reference clocks), the loop, reloads and
//!   shutdown.
//!
//! # A test knob
//!
//! The daemon writes its frequency file hourly and at exit, and only when
//! it adjusts the clock - which tests never do. So that a test can kill it
//! in the middle of writing (`tests/durability.rs`), the environment
//! variable [`DRIFT_TEST_INTERVAL_ENV`] (`NTPCTL_TEST_DRIFT_INTERVAL_MS`)
//! makes it also write the file every that many milliseconds with the
//! discipline's current frequency (the stored one under `--no-adjust`),
//! through the same atomic writer. It is meant for tests only.

pub mod net;
pub mod signals;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ntp_assoc::{AssocConfig, AssocId, Auth, SendFrom};
use ntp_discipline::drift::{read_drift_file, write_drift_file};
use ntp_discipline::leap::HashCheck;
use ntp_discipline::{Clock, LeapFile, SystemClock};
use ntp_poll::Uptime;
use ntp_refclock::{Driver, DriverKind, Refclock, RefclockOptions};
use ntp_wire::keys::{KeyStore, TrustedKeys};
use ntp_wire::time::{NtpDate, NtpTimestamp};

use crate::config::{AssociationConfig, AssociationKind, Config, RefclockConfig};
use crate::control::server::ControlServer;
use crate::control::{Request, Response};
use crate::node::setup::{self, SetupError};
use crate::node::{Node, NodeSettings, Output};
use crate::stats::{Statistics, loopstats_line, peerstats_line};

use self::net::{RecvBatch, SendBatch, UdpSocket};
use self::signals::{Signal, Signals};

/// The largest datagram read.
const MAX_DATAGRAM: usize = 2048;
/// The test knob: also write the frequency file every this many
/// milliseconds (see the module documentation).
pub const DRIFT_TEST_INTERVAL_ENV: &str = "NTPCTL_TEST_DRIFT_INTERVAL_MS";

/// The interval of [`DRIFT_TEST_INTERVAL_ENV`], when set to a positive
/// number of milliseconds.
fn drift_test_interval() -> Option<Duration> {
    let text = std::env::var(DRIFT_TEST_INTERVAL_ENV).ok()?;
    match text.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => {
            log::warn!("{DRIFT_TEST_INTERVAL_ENV}: writing the frequency file every {ms} ms");
            Some(Duration::from_millis(ms))
        }
        _ => {
            log::warn!("{DRIFT_TEST_INTERVAL_ENV}={text:?} is not a positive number; ignored");
            None
        }
    }
}

/// How often pools with free slots resolve their name again.
const POOL_REFILL_INTERVAL: Duration = Duration::from_secs(60);

/// The command-line options of `ntpctl run`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// `-c FILE`; the built-in default configuration without it.
    pub config: Option<PathBuf>,
    /// `--listen ADDR:PORT` (default `0.0.0.0:123` and `[::]:123`).
    pub listen: Vec<SocketAddr>,
    /// `--control PATH`.
    pub control: PathBuf,
    /// `--no-adjust`: never touch the clock.
    pub no_adjust: bool,
    /// `-g`: allow the first adjustment beyond the panic threshold.
    pub allow_panic_once: bool,
    /// `--user NAME`: drop root after binding, keeping only CAP_SYS_TIME
    /// (and that only when the clock is adjusted).
    pub user: Option<String>,
}

/// Loads the configuration of `options`.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    Ok(match path {
        Some(path) => Config::from_file(path)?,
        None => Config::default_config()?,
    })
}

/// Resolves a host (name or literal) to its addresses.
fn resolve(host: &str, port: u16) -> Vec<IpAddr> {
    match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let mut out: Vec<IpAddr> = Vec::new();
            for a in addrs {
                if !out.contains(&a.ip()) {
                    out.push(a.ip());
                }
            }
            out
        }
        Err(err) => {
            log::warn!("cannot resolve {host}: {err}");
            Vec::new()
        }
    }
}

/// The key identifying a configuration line across reloads.
fn line_key(line: &AssociationConfig) -> String {
    format!("{:?} {} {:?}", line.kind, line.address, line.options)
}

/// The association configurations of one line: the first address of a
/// server or peer, every address of a pool (up to `limit`).
fn line_assocs(
    line: &AssociationConfig,
    limit: usize,
) -> Result<Vec<(AssocConfig, Option<String>)>, SetupError> {
    let addresses = resolve(&line.address, line.options.port);
    let take = match line.kind {
        AssociationKind::Pool => limit,
        _ => 1,
    };
    let hostname = line
        .address
        .parse::<IpAddr>()
        .is_err()
        .then(|| line.address.clone());
    addresses
        .into_iter()
        .take(take)
        .map(|ip| Ok((setup::assoc_config(line, ip)?, hostname.clone())))
        .collect()
}

fn refclock_options(config: &RefclockConfig) -> Result<RefclockOptions> {
    let kind = DriverKind::from_number(config.driver.type_number())
        .with_context(|| format!("line {}: unsupported reference clock", config.line))?;
    let mut o = RefclockOptions::new(kind, config.unit);
    let mut set = |option: &str, value: String| {
        o.set(option, &value)
            .with_context(|| format!("line {}: reference clock option {option}", config.line))
    };
    if let Some(v) = config.mode {
        set("mode", v.to_string())?;
    }
    if let Some(v) = config.minpoll {
        set("minpoll", v.max(4).to_string())?;
    }
    if let Some(v) = config.maxpoll {
        set("maxpoll", v.max(4).to_string())?;
    }
    if let Some(v) = &config.path {
        set("path", v.display().to_string())?;
    }
    if let Some(v) = &config.ppspath {
        set("ppspath", v.display().to_string())?;
    }
    if let Some(v) = config.baud {
        set("baud", v.to_string())?;
    }
    if let Some(v) = config.time1 {
        set("time1", v.to_string())?;
    }
    if let Some(v) = config.time2 {
        set("time2", v.to_string())?;
    }
    if let Some(v) = config.stratum {
        set("stratum", v.to_string())?;
    }
    if let Some(v) = &config.refid {
        set("refid", v.clone())?;
    }
    for (i, flag) in config.flags.iter().enumerate() {
        if let Some(on) = flag {
            set(&format!("flag{}", i + 1), u8::from(*on).to_string())?;
        }
    }
    if config.prefer {
        o.set_flag("prefer")?;
    }
    if config.noselect {
        o.set_flag("noselect")?;
    }
    Ok(o)
}

/// The address whose metric takes part in the orphan election: the first
/// specific listening address, else the source address of the default route
/// (found by connecting a UDP socket, which sends nothing), else loopback.
fn local_address(listen: &[SocketAddr]) -> IpAddr {
    if let Some(a) = listen.iter().find(|a| !a.ip().is_unspecified()) {
        return a.ip();
    }
    let probe = || -> std::io::Result<IpAddr> {
        let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
        socket.connect("192.0.2.1:123")?;
        Ok(socket.local_addr()?.ip())
    };
    probe().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Whether the process may adjust the clock, found by a no-op adjustment.
fn may_adjust(clock: &SystemClock, options: &RunOptions, config: &Config) -> bool {
    if options.no_adjust {
        log::info!("--no-adjust: the clock is measured but never adjusted");
        return false;
    }
    if !config.flags.ntp {
        log::info!("disable ntp: the clock is measured but never adjusted");
        return false;
    }
    match clock.probe() {
        Ok(()) => {
            log::info!("the clock will be disciplined");
            true
        }
        Err(err) => {
            log::warn!("the clock cannot be adjusted ({err}); running without adjusting it");
            false
        }
    }
}

struct Sockets {
    listen: Vec<UdpSocket>,
    client_v4: Option<UdpSocket>,
    client_v6: Option<UdpSocket>,
}

impl Sockets {
    fn open(config: &Config, listen: &[SocketAddr]) -> Result<Self> {
        let mut sockets = Vec::new();
        for addr in listen {
            match UdpSocket::bind(*addr) {
                Ok(socket) => {
                    log::info!("listening on {}", socket.local_addr());
                    sockets.push(socket);
                }
                Err(err) if listen.len() > 1 => {
                    log::warn!("cannot listen on {addr}: {err}");
                }
                Err(err) => return Err(err).with_context(|| format!("cannot listen on {addr}")),
            }
        }
        if sockets.is_empty() {
            bail!("no listening socket could be opened");
        }
        let broadcast = config.broadcast_client
            || config
                .associations
                .iter()
                .any(|a| a.kind == AssociationKind::Broadcast);
        for socket in &sockets {
            if broadcast && socket.local_addr().is_ipv4() {
                socket.set_broadcast().context("SO_BROADCAST")?;
            }
            for group in config
                .multicast_client
                .iter()
                .chain(&config.manycast_server)
            {
                if group.is_ipv4() == socket.local_addr().is_ipv4() {
                    socket
                        .join_multicast(*group)
                        .with_context(|| format!("cannot join multicast group {group}"))?;
                    log::info!("joined {group} on {}", socket.local_addr());
                }
            }
        }
        Ok(Self {
            listen: sockets,
            client_v4: None,
            client_v6: None,
        })
    }

    /// The ephemeral-port socket of a family for client associations.
    fn client(&mut self, ipv4: bool) -> std::io::Result<&UdpSocket> {
        let slot = if ipv4 {
            &mut self.client_v4
        } else {
            &mut self.client_v6
        };
        if slot.is_none() {
            let local = if ipv4 {
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
            } else {
                SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
            };
            let socket = UdpSocket::bind(local)?;
            if ipv4 {
                let _ = socket.set_broadcast();
            }
            *slot = Some(socket);
        }
        slot.as_ref()
            .ok_or_else(|| std::io::Error::other("no client socket"))
    }

    fn listen_for(&self, ipv4: bool) -> Option<&UdpSocket> {
        self.listen
            .iter()
            .find(|s| s.local_addr().is_ipv4() == ipv4)
    }

    fn all(&self) -> impl Iterator<Item = &UdpSocket> {
        self.listen
            .iter()
            .chain(self.client_v4.iter())
            .chain(self.client_v6.iter())
    }
}

/// The running daemon.
struct Daemon {
    config: Config,
    options: RunOptions,
    node: Node<SystemClock>,
    sockets: Sockets,
    control: ControlServer,
    signals: Signals,
    drivers: Vec<Box<dyn Driver>>,
    driver_next_service: Vec<Instant>,
    stats: Statistics,
    start: Instant,
    line_assocs: HashMap<String, Vec<AssocId>>,
    next_pool_refill: Instant,
    /// Receive buffers for one batch of datagrams.
    recv: RecvBatch,
    /// Datagrams queued for one socket, sent together.
    send: SendBatch,
    /// The socket `send` is queued for.
    send_fd: Option<i32>,
    /// The descriptors of one `poll(2)` call, reused.
    poll_set: PollSet,
    /// The test knob's interval and next write (module documentation).
    drift_test: Option<(Duration, Instant)>,
}

/// The descriptors of one `poll(2)` call, in this order: the NTP sockets,
/// the signal descriptor, the control sockets, the reference clock drivers
/// that have a descriptor. Kept between wake-ups so that building it does
/// not allocate.
#[derive(Default)]
struct PollSet {
    fds: Vec<libc::pollfd>,
    sockets: Vec<i32>,
    control: Vec<(i32, bool)>,
    /// Indices into the daemon's drivers, one per driver descriptor.
    drivers: Vec<usize>,
    /// The drivers whose descriptor is readable after the call.
    ready_drivers: Vec<usize>,
}

impl PollSet {
    fn fill(
        &mut self,
        sockets: &Sockets,
        signals: &Signals,
        control: &ControlServer,
        drivers: &[Box<dyn Driver>],
    ) {
        self.fds.clear();
        self.sockets.clear();
        self.sockets.extend(sockets.all().map(|s| s.fd()));
        self.fds
            .extend(self.sockets.iter().map(|&fd| net::pollfd_in(fd)));
        self.fds.push(net::pollfd_in(signals.fd()));
        control.poll_fds(&mut self.control);
        self.fds
            .extend(self.control.iter().map(|&(fd, write)| libc::pollfd {
                fd,
                events: libc::POLLIN | if write { libc::POLLOUT } else { 0 },
                revents: 0,
            }));
        self.drivers.clear();
        for (index, driver) in drivers.iter().enumerate() {
            if let Some(fd) = driver.raw_fd() {
                self.drivers.push(index);
                self.fds.push(net::pollfd_in(fd));
            }
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(options: RunOptions) -> Result<()> {
    let config = load_config(options.config.as_deref())?;
    let listen = if options.listen.is_empty() {
        vec![
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 123)),
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 123)),
        ]
    } else {
        options.listen.clone()
    };
    let sockets = Sockets::open(&config, &listen)?;
    let signals = Signals::new().context("cannot set up signal handling")?;
    let control = ControlServer::bind(&options.control).with_context(|| {
        format!(
            "cannot create the control socket {}",
            options.control.display()
        )
    })?;

    // Keys and trusted keys.
    let keys = match &config.keys_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the keys file {}", path.display()))?;
            KeyStore::parse(&text).with_context(|| format!("keys file {}", path.display()))?
        }
        None => KeyStore::new(),
    };
    let mut trusted = TrustedKeys::new();
    for range in &config.trusted_keys {
        trusted.insert_range(range.clone());
    }
    let mut auth = Auth::new(keys, trusted);
    auth.required = config.flags.auth;

    // The clock, and whether we may adjust it.
    let clock = SystemClock::realtime();
    let adjust = may_adjust(&clock, &options, &config);

    let stored_frequency_ppm = match &config.driftfile {
        Some(path) => match read_drift_file(path) {
            Ok(value) => value,
            Err(err) => {
                log::warn!("ignoring the frequency file: {err}");
                None
            }
        },
        None => None,
    };
    let leap_file = match &config.leapfile {
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| LeapFile::parse(&text, HashCheck::Check).map_err(|e| e.to_string()))
        {
            Ok(file) => Some(file),
            Err(err) => {
                log::warn!("ignoring the leap file {}: {err}", path.display());
                None
            }
        },
        None => None,
    };

    // Reference clocks.
    let mut refclocks = Vec::new();
    let mut drivers = Vec::new();
    for rc in &config.refclocks {
        let options = refclock_options(rc)?;
        let driver = ntp_refclock::open_driver(&options)
            .with_context(|| format!("reference clock {}", rc.driver.address(rc.unit)))?;
        let mut refclock = Refclock::new(options);
        refclock.set_precision(driver.precision());
        refclocks.push(refclock);
        drivers.push(driver);
    }

    // Associations.
    let tos = setup::tos_settings(&config)?;
    let mut associations = Vec::new();
    let mut keyed = Vec::new();
    for line in &config.associations {
        let assocs = line_assocs(line, tos.maxclock)?;
        keyed.push((line_key(line), assocs.len()));
        associations.extend(assocs);
    }
    let sources: Vec<IpAddr> = associations.iter().map(|(a, _)| a.address.ip()).collect();
    let seed = net::random_u64().unwrap_or(0x5eed);
    let settings = NodeSettings {
        endpoint: setup::endpoint_config(&config, &tos, seed),
        discipline: setup::discipline_config(&config, options.allow_panic_once)?,
        tos,
        auth,
        access: setup::access_control(&config, &sources),
        associations,
        refclocks,
        adjust_clock: adjust,
        stored_frequency_ppm,
        leap_file,
        local_address: local_address(&listen),
    };
    let node = Node::new(settings, clock, Uptime::ZERO)?;
    // Remember which associations each line made, for reloads.
    let mut line_assocs: HashMap<String, Vec<AssocId>> = HashMap::new();
    let mut ids = node
        .endpoint()
        .associations()
        .map(|a| a.id())
        .collect::<Vec<_>>()
        .into_iter();
    for (key, count) in keyed {
        line_assocs
            .entry(key)
            .or_default()
            .extend(ids.by_ref().take(count));
    }
    if let Some(user) = &options.user {
        crate::privileges::drop_to_user(user, adjust)
            .with_context(|| format!("cannot drop privileges to user {user}"))?;
    }
    let now = Instant::now();
    let mut daemon = Daemon {
        stats: Statistics::from_config(&config),
        config,
        options,
        node,
        sockets,
        control,
        signals,
        driver_next_service: vec![now; drivers.len()],
        drivers,
        start: now,
        line_assocs,
        next_pool_refill: now + POOL_REFILL_INTERVAL,
        recv: RecvBatch::new(MAX_DATAGRAM),
        send: SendBatch::new(),
        send_fd: None,
        poll_set: PollSet::default(),
        drift_test: drift_test_interval().map(|every| (every, now + every)),
    };
    daemon.run_loop()
}

impl Daemon {
    fn uptime(&self) -> Uptime {
        Uptime::new(self.start.elapsed())
    }

    fn run_loop(&mut self) -> Result<()> {
        loop {
            let now = self.uptime();
            if self.node.poll_timeout() <= now {
                self.node.handle_timeout(now);
            }
            self.flush()?;
            if Instant::now() >= self.next_pool_refill {
                self.refill_pools();
                self.next_pool_refill = Instant::now() + POOL_REFILL_INTERVAL;
            }
            if let Some((every, next)) = self.drift_test
                && Instant::now() >= next
            {
                self.write_drift(self.node.discipline().frequency_ppm());
                self.drift_test = Some((every, Instant::now() + every));
            }

            // What to wait for: the descriptor lists are rebuilt in place
            // (no allocation per wake-up, which matters at 100k wakes/s).
            let mut set = std::mem::take(&mut self.poll_set);
            set.fill(&self.sockets, &self.signals, &self.control, &self.drivers);

            let deadline = self.node.poll_timeout();
            let mut timeout = deadline.saturating_since(self.uptime());
            if !self.drivers.is_empty() || self.drift_test.is_some() {
                let now = Instant::now();
                for next in &self.driver_next_service {
                    timeout = timeout.min(next.saturating_duration_since(now));
                }
                if let Some((_, next)) = self.drift_test {
                    timeout = timeout.min(next.saturating_duration_since(now));
                }
            }
            net::poll(&mut set.fds, timeout).context("poll")?;
            // Receive timestamps fall back to the clock read right after poll.
            let woke = self.node.clock().now().unwrap_or_default();

            for (index, &fd) in set.sockets.iter().enumerate() {
                if net::is_readable(&set.fds[index]) {
                    self.receive(fd, woke);
                }
            }
            let mut index = set.sockets.len();
            let signals_ready = net::is_readable(&set.fds[index]);
            index += 1;
            for &(fd, _) in &set.control {
                if set.fds[index].revents != 0 {
                    let now = self.uptime();
                    let node = &self.node;
                    self.control.handle(fd, |request| match request {
                        Request::Peers => {
                            Response::Peers(crate::control::report::peers_report(node, now))
                        }
                        Request::Status => {
                            Response::Status(Box::new(crate::control::report::status_report(node)))
                        }
                    });
                }
                index += 1;
            }
            set.ready_drivers.clear();
            for &driver in &set.drivers {
                if net::is_readable(&set.fds[index]) {
                    set.ready_drivers.push(driver);
                }
                index += 1;
            }
            if !self.drivers.is_empty() {
                self.service_drivers(&set.ready_drivers);
            }
            self.poll_set = set;
            if signals_ready {
                for signal in self.signals.read() {
                    match signal {
                        Signal::Terminate => {
                            log::info!("terminating");
                            self.shutdown();
                            return Ok(());
                        }
                        Signal::Reload => self.reload(),
                    }
                }
            }
        }
    }

    /// Reads one batch of datagrams from `fd` (one `recvmmsg` call), hands
    /// each to the node, and sends the replies together (one `sendmmsg`
    /// call per socket).
    fn receive(&mut self, fd: i32, woke: NtpTimestamp) {
        let Some(socket) = self.sockets.all().find(|s| s.fd() == fd) else {
            return;
        };
        let local = socket.local_addr();
        match self.recv.recv(fd) {
            Ok(0) => return,
            Ok(_) => {}
            Err(err) => {
                log::debug!("receive on {local}: {err}");
                return;
            }
        }
        // One monotonic time for the batch: its datagrams arrived together.
        let now = self.uptime();
        for (received, bytes) in self.recv.iter() {
            let destination = SocketAddr::new(received.to.unwrap_or(local.ip()), local.port());
            let timestamp = received.timestamp.unwrap_or(woke);
            self.node
                .handle_packet(now, timestamp, received.from, destination, bytes);
        }
        if let Err(err) = self.flush() {
            log::error!("{err:#}");
        }
    }

    /// Sends the datagrams queued in the send batch.
    fn send_queued(&mut self) {
        if let Some(fd) = self.send_fd.take() {
            self.send.send(fd);
        }
    }

    /// Sends what the node queued and records its outputs. Datagrams for the
    /// same socket go out together (one `sendmmsg` call per batch).
    fn flush(&mut self) -> Result<()> {
        while let Some(transmit) = self.node.poll_transmit() {
            let ipv4 = transmit.destination.is_ipv4();
            let socket = match transmit.from {
                SendFrom::Client => self.sockets.client(ipv4).ok(),
                _ => match self.sockets.listen_for(ipv4) {
                    Some(s) => Some(s),
                    None => self.sockets.client(ipv4).ok(),
                },
            };
            let Some(socket) = socket else {
                log::warn!("no socket to send to {}", transmit.destination);
                continue;
            };
            let fd = socket.fd();
            let bytes = transmit.packet.as_bytes();
            let multicast_ttl = transmit
                .ttl
                .filter(|_| transmit.destination.ip().is_multicast());
            if multicast_ttl.is_none()
                && self.send_fd.is_none_or(|queued| queued == fd)
                && self.send.push(bytes, &transmit.destination)
            {
                self.send_fd = Some(fd);
                continue;
            }
            // A multicast TTL is a socket option, a full batch or another
            // socket must wait: what is queued goes first.
            self.send_queued();
            let Some(socket) = self.sockets.all().find(|s| s.fd() == fd) else {
                continue;
            };
            if let Some(ttl) = multicast_ttl {
                let _ = socket.set_multicast_ttl(ttl);
            } else if self.send.push(bytes, &transmit.destination) {
                self.send_fd = Some(fd);
                continue;
            }
            if let Err(err) = socket.send_to(bytes, &transmit.destination) {
                log::debug!("send to {}: {err}", transmit.destination);
            }
        }
        self.send_queued();
        while let Some(output) = self.node.poll_output() {
            self.output(output)?;
        }
        Ok(())
    }

    fn output(&mut self, output: Output) -> Result<()> {
        let pivot = NtpDate::from_system_time(std::time::SystemTime::now());
        match output {
            Output::Loopstats {
                time,
                offset,
                frequency_ppm,
                jitter,
                wander_ppm,
                poll,
            } => {
                if let (Some(set), Some(t)) =
                    (self.stats.loopstats.as_mut(), time.to_datetime(pivot))
                {
                    let line = loopstats_line(t, offset, frequency_ppm, jitter, wander_ppm, poll);
                    if let Err(err) = set.append(t, &line) {
                        log::warn!("loopstats: {err}");
                    }
                }
            }
            Output::Peerstats {
                time,
                source,
                status,
                offset,
                delay,
                dispersion,
                jitter,
            } => {
                if let (Some(set), Some(t)) =
                    (self.stats.peerstats.as_mut(), time.to_datetime(pivot))
                {
                    let line = peerstats_line(t, source, status, offset, delay, dispersion, jitter);
                    if let Err(err) = set.append(t, &line) {
                        log::warn!("peerstats: {err}");
                    }
                }
            }
            Output::WriteDrift(ppm) => self.write_drift(ppm),
            Output::Panic(offset) => {
                self.shutdown();
                bail!(
                    "the clock is off by {offset:.3} s, beyond the panic threshold; set it by hand \
                     or start with -g to allow one large correction"
                );
            }
        }
        Ok(())
    }

    fn write_drift(&self, ppm: f64) {
        if let Some(path) = &self.config.driftfile
            && let Err(err) = write_drift_file(path, ppm)
        {
            log::warn!("cannot write the frequency file {}: {err}", path.display());
        }
    }

    fn service_drivers(&mut self, ready: &[usize]) {
        let now = Instant::now();
        let utc = chrono::Utc::now();
        for index in 0..self.drivers.len() {
            let due = self.driver_next_service[index] <= now;
            if !due && !ready.contains(&index) {
                continue;
            }
            let driver = &mut self.drivers[index];
            let interval = driver
                .service_interval()
                .unwrap_or(Duration::from_secs(3600));
            self.driver_next_service[index] = now + interval;
            match driver.service(utc) {
                Ok(events) => {
                    for event in &events {
                        self.node.handle_refclock_event(index, event);
                    }
                }
                Err(err) => log::warn!("reference clock {}: {err}", driver.address()),
            }
        }
    }

    fn refill_pools(&mut self) {
        let pools: Vec<AssociationConfig> = self
            .config
            .associations
            .iter()
            .filter(|a| a.kind == AssociationKind::Pool)
            .cloned()
            .collect();
        for line in pools {
            let free = self.node.pool_slots();
            if free == 0 {
                return;
            }
            let Ok(assocs) = line_assocs(&line, usize::MAX) else {
                continue;
            };
            let mut added = 0;
            for (config, hostname) in assocs {
                if added >= free {
                    break;
                }
                let now = self.uptime();
                if let Ok(id) = self.node.add_association(config, hostname, now) {
                    self.line_assocs
                        .entry(line_key(&line))
                        .or_default()
                        .push(id);
                    added += 1;
                }
            }
        }
    }

    /// SIGHUP: re-reads the configuration and adds and removes associations
    /// without restarting. Other changes need a restart (logged).
    fn reload(&mut self) {
        let config = match load_config(self.options.config.as_deref()) {
            Ok(config) => config,
            Err(err) => {
                log::error!("reload: keeping the running configuration: {err:#}");
                return;
            }
        };
        let new_keys: Vec<(String, &AssociationConfig)> = config
            .associations
            .iter()
            .map(|l| (line_key(l), l))
            .collect();
        let removed: Vec<String> = self
            .line_assocs
            .keys()
            .filter(|k| !new_keys.iter().any(|(n, _)| n == *k))
            .cloned()
            .collect();
        for key in removed {
            for id in self.line_assocs.remove(&key).unwrap_or_default() {
                self.node.remove_association(id);
            }
            log::info!("reload: removed {key}");
        }
        let maxclock = config.tos.maxclock.unwrap_or(10);
        for (key, line) in new_keys {
            if self.line_assocs.contains_key(&key) {
                continue;
            }
            match line_assocs(line, maxclock) {
                Ok(assocs) => {
                    let mut ids = Vec::new();
                    for (config, hostname) in assocs {
                        let now = self.uptime();
                        match self.node.add_association(config, hostname, now) {
                            Ok(id) => ids.push(id),
                            Err(err) => log::warn!("reload: {err}"),
                        }
                    }
                    log::info!("reload: added {key}");
                    self.line_assocs.insert(key, ids);
                }
                Err(err) => log::warn!("reload: {err}"),
            }
        }
        self.config.associations = config.associations;
    }

    fn shutdown(&mut self) {
        if let Some(ppm) = self.node.drift_at_shutdown() {
            self.write_drift(ppm);
        }
    }
}
