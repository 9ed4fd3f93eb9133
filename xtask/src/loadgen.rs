//! The load generator of `cargo xtask bench-server` (run by the driver as
//! `xtask loadgen ...`, inside the benchmark's network namespace, pinned to
//! its own core).
//!
//! One UDP socket bound to the IPv4 wildcard address sends every request
//! from one of `--sources` loopback addresses (127.1.0.0 upwards), chosen
//! per datagram with an IP_PKTINFO control message, so that 64 requests from
//! 64 different addresses leave in one `sendmmsg` call and the generator
//! stays cheaper than the servers it measures. Each request carries a token
//! in its transmit timestamp (a per-run salt, the slot and a sequence
//! number); a reply counts only when it is mode 4, comes from the server,
//! echoes an outstanding token as its origin timestamp and arrives at the
//! address that request was sent from (IP_PKTINFO on receive).
//!
//! Two modes: closed loop (`--outstanding N` requests always in flight; a
//! request unanswered for `--timeout-ms` is lost and replaced) and open loop
//! (`--rate R` requests a second on a 1 ms tick, whatever the replies).
//! Both are bounded by `--seconds` and `--max-requests`.
//!
//! The result is one line on stdout, `key=value` pairs, read by the driver.

use std::io;
use std::mem::{size_of, size_of_val};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Datagrams per `recvmmsg`/`sendmmsg` call.
const BATCH: usize = 64;
/// The largest reply read.
const RECV_SIZE: usize = 128;
/// The first source address (127.1.0.0); source `i` is this plus `i`.
const FIRST_SOURCE: u32 = 0x7f01_0000;
/// Latency histogram: one bucket per microsecond up to this many.
const HISTOGRAM_US: usize = 100_000;
/// At most this many sources (127.1.0.0 to 127.16.66.63 and beyond stay in
/// 127.0.0.0/8).
const MAX_SOURCES: u32 = 1 << 23;

/// How requests are issued.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// This many requests in flight at all times.
    Closed(usize),
    /// This many requests a second.
    Open(u64),
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The server.
    pub server: SocketAddrV4,
    /// Closed or open loop.
    pub mode: Mode,
    /// How long to send.
    pub duration: Duration,
    /// How many distinct source addresses.
    pub sources: u32,
    /// The most requests to send.
    pub max_requests: u64,
    /// When an unanswered request counts as lost.
    pub timeout: Duration,
    /// Send one request and wait for its reply (up to the duration), to
    /// check that a server answers; the result says whether it did.
    pub probe: bool,
}

/// What happened.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Requests sent.
    pub sent: u64,
    /// Valid replies (not KoD), in total.
    pub answered: u64,
    /// Valid replies that arrived before the sending period ended.
    pub answered_in_period: u64,
    /// Kiss-o'-Death replies.
    pub kod: u64,
    /// Valid replies with leap indicator 3.
    pub unsynchronised: u64,
    /// Datagrams that were not a valid reply to an outstanding request.
    pub bogus: u64,
    /// Requests never answered (timed out, or still unanswered at the end).
    pub lost: u64,
    /// The sending period, seconds.
    pub seconds: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
}

impl Report {
    /// The line the driver parses.
    pub fn line(&self) -> String {
        format!(
            "loadgen sent={} answered={} answered_in_period={} kod={} unsync={} bogus={} lost={} seconds={:.6} p50_us={:.1} p99_us={:.1}",
            self.sent,
            self.answered,
            self.answered_in_period,
            self.kod,
            self.unsynchronised,
            self.bogus,
            self.lost,
            self.seconds,
            self.p50_us,
            self.p99_us
        )
    }

    /// Parses [`Report::line`].
    pub fn parse(line: &str) -> Result<Self> {
        let mut r = Self::default();
        let mut fields = line.split_whitespace();
        if fields.next() != Some("loadgen") {
            bail!("not a loadgen line: {line:?}");
        }
        for field in fields {
            let (key, value) = field.split_once('=').context("key=value")?;
            let int = || {
                value
                    .parse::<u64>()
                    .with_context(|| format!("{key}={value}"))
            };
            let float = || {
                value
                    .parse::<f64>()
                    .with_context(|| format!("{key}={value}"))
            };
            match key {
                "sent" => r.sent = int()?,
                "answered" => r.answered = int()?,
                "answered_in_period" => r.answered_in_period = int()?,
                "kod" => r.kod = int()?,
                "unsync" => r.unsynchronised = int()?,
                "bogus" => r.bogus = int()?,
                "lost" => r.lost = int()?,
                "seconds" => r.seconds = float()?,
                "p50_us" => r.p50_us = float()?,
                "p99_us" => r.p99_us = float()?,
                _ => {}
            }
        }
        Ok(r)
    }

    /// Valid replies a second during the sending period.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.answered_in_period as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Parses the generator's command line.
pub fn parse_args(args: &[String]) -> Result<Config> {
    let mut config = Config {
        server: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 123),
        mode: Mode::Closed(128),
        duration: Duration::from_secs(5),
        sources: 1024,
        max_requests: 100_000_000,
        timeout: Duration::from_millis(200),
        probe: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => config.server = value()?.parse().context("--server ADDR:PORT")?,
            "--outstanding" => config.mode = Mode::Closed(value()?.parse()?),
            "--rate" => config.mode = Mode::Open(value()?.parse()?),
            "--seconds" => config.duration = Duration::from_secs_f64(value()?.parse()?),
            "--sources" => config.sources = value()?.parse()?,
            "--max-requests" => config.max_requests = value()?.parse()?,
            "--timeout-ms" => config.timeout = Duration::from_millis(value()?.parse()?),
            "--probe" => config.probe = true,
            other => bail!("loadgen: unknown argument {other:?}"),
        }
    }
    if config.sources == 0 || config.sources > MAX_SOURCES {
        bail!("--sources must be 1 to {MAX_SOURCES}");
    }
    if config.duration > Duration::from_secs(600) {
        bail!("--seconds: at most 600");
    }
    match config.mode {
        Mode::Closed(n) if n == 0 || n > 1 << 16 => bail!("--outstanding: 1 to 65536"),
        Mode::Open(r) if r == 0 || r > 10_000_000 => bail!("--rate: 1 to 10,000,000"),
        _ => {}
    }
    Ok(config)
}

/// `xtask loadgen ARGS`: runs and prints the report line.
pub fn main(args: &[String]) -> Result<()> {
    let config = parse_args(args)?;
    let report = run(&config)?;
    println!("{}", report.line());
    if config.probe && report.answered == 0 {
        bail!("no reply from {}", config.server);
    }
    Ok(())
}

#[derive(Clone, Copy, Default)]
struct Slot {
    token: u64,
    sent: Option<Instant>,
    source: u32,
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn set_option(fd: i32, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: fd is an open socket; the value is a c_int living across the
    // call, with its size given.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            size_of_val(&value) as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(last_error()) }
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// An owned descriptor closed on drop.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}

fn open_socket() -> Result<Fd> {
    // SAFETY: plain socket creation.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(last_error()).context("socket");
    }
    let fd = Fd(fd);
    set_option(fd.0, libc::IPPROTO_IP, libc::IP_PKTINFO, 1).context("IP_PKTINFO")?;
    // Big buffers (forced where allowed) so that the generator's own socket
    // never drops replies.
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if set_option(fd.0, libc::SOL_SOCKET, force, 16 << 20).is_err() {
            let _ = set_option(fd.0, libc::SOL_SOCKET, plain, 16 << 20);
        }
    }
    let local = sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    // SAFETY: local is a live sockaddr_in of the given size.
    let rc = unsafe {
        libc::bind(
            fd.0,
            (&raw const local).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(last_error()).context("bind");
    }
    Ok(fd)
}

/// Control buffer words for one IP_PKTINFO message (u64s keep it aligned).
const CONTROL_WORDS: usize = 8;

struct Generator {
    fd: Fd,
    server: libc::sockaddr_in,
    server_addr: SocketAddrV4,
    salt: u32,
    slots: Vec<Slot>,
    sources: u32,
    seq: u64,
    report: Report,
    histogram: Vec<u64>,
    slow: u64,
    // Send side.
    send_bufs: Vec<[u8; 48]>,
    send_control: Vec<[u64; CONTROL_WORDS]>,
    send_iovs: Vec<libc::iovec>,
    send_hdrs: Vec<libc::mmsghdr>,
    queued: usize,
    // Receive side.
    recv_bufs: Vec<[u8; RECV_SIZE]>,
    recv_names: Vec<libc::sockaddr_in>,
    recv_control: Vec<[u64; CONTROL_WORDS]>,
    recv_iovs: Vec<libc::iovec>,
    recv_hdrs: Vec<libc::mmsghdr>,
}

impl Generator {
    fn new(config: &Config, slots: usize) -> Result<Self> {
        let fd = open_socket()?;
        let salt = Instant::now().elapsed().subsec_nanos()
            ^ std::process::id().rotate_left(16)
            ^ (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos());
        // SAFETY: all-zero bytes are valid iovec and mmsghdr values.
        let (iov, hdr) = unsafe {
            (
                std::mem::zeroed::<libc::iovec>(),
                std::mem::zeroed::<libc::mmsghdr>(),
            )
        };
        Ok(Self {
            fd,
            server: sockaddr(config.server),
            server_addr: config.server,
            salt,
            slots: vec![Slot::default(); slots],
            sources: config.sources,
            seq: 0,
            report: Report::default(),
            histogram: vec![0; HISTOGRAM_US],
            slow: 0,
            send_bufs: vec![[0; 48]; BATCH],
            send_control: vec![[0; CONTROL_WORDS]; BATCH],
            send_iovs: vec![iov; BATCH],
            send_hdrs: vec![hdr; BATCH],
            queued: 0,
            recv_bufs: vec![[0; RECV_SIZE]; BATCH],
            recv_names: vec![sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)); BATCH],
            recv_control: vec![[0; CONTROL_WORDS]; BATCH],
            recv_iovs: vec![iov; BATCH],
            recv_hdrs: vec![hdr; BATCH],
        })
    }

    /// Queues a new request in `slot` (sending the batch when full).
    fn issue(&mut self, slot: usize, now: Instant) {
        if self.queued == BATCH {
            self.send_queued();
        }
        let seq = self.seq;
        self.seq += 1;
        let token = (seq << 32) | u64::from(slot as u32 ^ self.salt);
        let source = FIRST_SOURCE + (seq % u64::from(self.sources)) as u32;
        self.slots[slot] = Slot {
            token,
            sent: Some(now),
            source,
        };
        let index = self.queued;
        self.queued += 1;
        let buf = &mut self.send_bufs[index];
        *buf = [0; 48];
        buf[0] = (4 << 3) | 3; // version 4, mode 3 (client)
        buf[40..48].copy_from_slice(&token.to_be_bytes());
        // The source address, as an IP_PKTINFO control message.
        let control = &mut self.send_control[index];
        *control = [0; CONTROL_WORDS];
        let info = libc::in_pktinfo {
            ipi_ifindex: 0,
            ipi_spec_dst: libc::in_addr {
                s_addr: source.to_be(),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        // SAFETY: the control buffer is CONTROL_WORDS * 8 = 64 octets, more
        // than CMSG_SPACE(sizeof in_pktinfo) = 32; a msghdr describing it is
        // built here only so that the CMSG macros can place the header and
        // data inside it; writes are unaligned-safe.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) as _;
            let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
            (*cmsg).cmsg_level = libc::IPPROTO_IP;
            (*cmsg).cmsg_type = libc::IP_PKTINFO;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>(), info);
        }
        self.report.sent += 1;
    }

    /// Sends the queued requests with sendmmsg.
    fn send_queued(&mut self) {
        let count = self.queued;
        self.queued = 0;
        // SAFETY: CMSG_SPACE is arithmetic on its argument.
        let space = unsafe { libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) };
        for index in 0..count {
            self.send_iovs[index] = libc::iovec {
                iov_base: self.send_bufs[index].as_mut_ptr().cast(),
                iov_len: 48,
            };
            let hdr = &mut self.send_hdrs[index];
            hdr.msg_len = 0;
            hdr.msg_hdr.msg_name = (&raw mut self.server).cast();
            hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            hdr.msg_hdr.msg_iov = &raw mut self.send_iovs[index];
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_control = self.send_control[index].as_mut_ptr().cast();
            hdr.msg_hdr.msg_controllen = space as _;
            hdr.msg_hdr.msg_flags = 0;
        }
        let mut done = 0;
        let mut attempts = 0;
        while done < count && attempts < 1000 {
            attempts += 1;
            // SAFETY: send_hdrs[done..count] point at live buffers, iovecs,
            // control buffers and the server address, all owned by self and
            // untouched during the call.
            let rc = unsafe {
                libc::sendmmsg(
                    self.fd.0,
                    self.send_hdrs[done..].as_mut_ptr(),
                    (count - done) as libc::c_uint,
                    0,
                )
            };
            if rc > 0 {
                done += rc as usize;
            } else if last_error().kind() == io::ErrorKind::WouldBlock {
                // The socket's send buffer is full: wait for room.
                std::thread::yield_now();
            } else if last_error().kind() != io::ErrorKind::Interrupted {
                // Refused: this request is lost (counted when it times out).
                done += 1;
            }
        }
    }

    /// Receives what is waiting (up to `rounds` batches) and accounts each
    /// reply; returns the slots freed, in `freed`.
    fn receive(&mut self, rounds: usize, freed: &mut Vec<usize>, in_period: bool) {
        for _ in 0..rounds {
            for index in 0..BATCH {
                self.recv_iovs[index] = libc::iovec {
                    iov_base: self.recv_bufs[index].as_mut_ptr().cast(),
                    iov_len: RECV_SIZE,
                };
                let hdr = &mut self.recv_hdrs[index];
                hdr.msg_len = 0;
                hdr.msg_hdr.msg_name = (&raw mut self.recv_names[index]).cast();
                hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
                hdr.msg_hdr.msg_iov = &raw mut self.recv_iovs[index];
                hdr.msg_hdr.msg_iovlen = 1;
                hdr.msg_hdr.msg_control = self.recv_control[index].as_mut_ptr().cast();
                hdr.msg_hdr.msg_controllen = size_of::<[u64; CONTROL_WORDS]>() as _;
                hdr.msg_hdr.msg_flags = 0;
            }
            // SAFETY: recv_hdrs point at live names, iovecs (over live
            // buffers) and control buffers owned by self; no timeout.
            let n = unsafe {
                libc::recvmmsg(
                    self.fd.0,
                    self.recv_hdrs.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n <= 0 {
                return;
            }
            let now = Instant::now();
            for index in 0..n as usize {
                match self.check(index) {
                    Some((slot, kod, unsync)) => {
                        let sent = self.slots[slot].sent.take();
                        if kod {
                            self.report.kod += 1;
                        } else {
                            self.report.answered += 1;
                            if in_period {
                                self.report.answered_in_period += 1;
                            }
                            if unsync {
                                self.report.unsynchronised += 1;
                            }
                            let us = sent
                                .map(|t| now.duration_since(t).as_micros() as usize)
                                .unwrap_or(0);
                            match self.histogram.get_mut(us) {
                                Some(bucket) => *bucket += 1,
                                None => self.slow += 1,
                            }
                        }
                        freed.push(slot);
                    }
                    None => self.report.bogus += 1,
                }
            }
            if (n as usize) < BATCH {
                return;
            }
        }
    }

    /// Checks received datagram `index`: the slot it answers, whether it is
    /// a KoD, whether it says unsynchronised.
    fn check(&self, index: usize) -> Option<(usize, bool, bool)> {
        let hdr = &self.recv_hdrs[index];
        let len = (hdr.msg_len as usize).min(RECV_SIZE);
        let buf = &self.recv_bufs[index][..len];
        if len < 48 || buf[0] & 7 != 4 {
            return None;
        }
        let from = &self.recv_names[index];
        if from.sin_addr.s_addr != u32::from(*self.server_addr.ip()).to_be()
            || from.sin_port != self.server_addr.port().to_be()
        {
            return None;
        }
        let mut origin = [0u8; 8];
        origin.copy_from_slice(&buf[24..32]);
        let token = u64::from_be_bytes(origin);
        let slot = ((token as u32) ^ self.salt) as usize;
        let entry = self.slots.get(slot)?;
        if entry.sent.is_none() || entry.token != token {
            return None;
        }
        // The address the reply came back to must be the request's source.
        let mut destination = None;
        // SAFETY: the header was filled by recvmmsg and describes the live
        // control buffer of this index; the walk stays within
        // msg_controllen and the in_pktinfo is read unaligned after a
        // length check.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&raw const hdr.msg_hdr);
            while !cmsg.is_null() {
                let c = &*cmsg;
                if c.cmsg_level == libc::IPPROTO_IP
                    && c.cmsg_type == libc::IP_PKTINFO
                    && c.cmsg_len as usize
                        >= libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as usize
                {
                    let info =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>());
                    destination = Some(u32::from_be(info.ipi_addr.s_addr));
                }
                cmsg = libc::CMSG_NXTHDR(&raw const hdr.msg_hdr, cmsg);
            }
        }
        if destination != Some(entry.source) {
            return None;
        }
        let kod = buf[1] == 0;
        let unsync = buf[0] >> 6 == 3;
        Some((slot, kod, unsync))
    }

    fn wait_readable(&self, timeout: Duration) {
        let mut pfd = libc::pollfd {
            fd: self.fd.0,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().clamp(0, 1000) as i32;
        // SAFETY: one live pollfd.
        unsafe { libc::poll(&raw mut pfd, 1, ms) };
    }

    fn percentile(&self, q: f64) -> f64 {
        let total: u64 = self.histogram.iter().sum::<u64>() + self.slow;
        if total == 0 {
            return 0.0;
        }
        let target = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (us, count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= target {
                return us as f64;
            }
        }
        HISTOGRAM_US as f64
    }
}

/// Runs the generator.
pub fn run(config: &Config) -> Result<Report> {
    if config.probe {
        return probe(config);
    }
    match config.mode {
        Mode::Closed(outstanding) => closed_loop(config, outstanding),
        Mode::Open(rate) => open_loop(config, rate),
    }
}

fn probe(config: &Config) -> Result<Report> {
    let mut g = Generator::new(config, 1)?;
    let deadline = Instant::now() + config.duration;
    let mut freed = Vec::new();
    while Instant::now() < deadline {
        g.issue(0, Instant::now());
        g.send_queued();
        g.wait_readable(Duration::from_millis(100));
        g.receive(1, &mut freed, true);
        if g.report.answered > 0 {
            break;
        }
    }
    g.report.p50_us = g.percentile(0.5);
    Ok(g.report)
}

fn closed_loop(config: &Config, outstanding: usize) -> Result<Report> {
    let mut g = Generator::new(config, outstanding)?;
    let start = Instant::now();
    let end = start + config.duration;
    let mut freed = Vec::with_capacity(outstanding);
    for slot in 0..outstanding {
        g.issue(slot, start);
    }
    g.send_queued();
    let mut next_scan = start + Duration::from_millis(10);
    loop {
        let now = Instant::now();
        if now >= end || g.report.sent >= config.max_requests {
            break;
        }
        g.wait_readable(Duration::from_millis(1));
        freed.clear();
        g.receive(4, &mut freed, true);
        let now = Instant::now();
        if now >= next_scan {
            next_scan = now + Duration::from_millis(10);
            for slot in 0..outstanding {
                if let Some(sent) = g.slots[slot].sent
                    && now.duration_since(sent) > config.timeout
                {
                    g.slots[slot].sent = None;
                    g.report.lost += 1;
                    freed.push(slot);
                }
            }
        }
        if now < end {
            for &slot in &freed {
                if g.report.sent < config.max_requests {
                    g.issue(slot, now);
                }
            }
            g.send_queued();
        }
    }
    finish(g, start, end, config.timeout)
}

fn open_loop(config: &Config, rate: u64) -> Result<Report> {
    // Enough slots that a slot comes round again only after the timeout.
    let slots = ((rate as f64 * config.timeout.as_secs_f64() * 2.0) as usize)
        .clamp(1024, 1 << 22)
        .next_power_of_two();
    let mut g = Generator::new(config, slots)?;
    let start = Instant::now();
    let end = start + config.duration;
    let mut freed = Vec::new();
    let mut next_slot = 0usize;
    loop {
        let now = Instant::now();
        if now >= end || g.report.sent >= config.max_requests {
            break;
        }
        let due = ((now - start).as_secs_f64() * rate as f64) as u64;
        while g.report.sent < due.min(config.max_requests) {
            if g.slots[next_slot].sent.is_some() {
                // Still unanswered a full cycle later: lost.
                g.slots[next_slot].sent = None;
                g.report.lost += 1;
            }
            g.issue(next_slot, now);
            next_slot = (next_slot + 1) % slots;
        }
        g.send_queued();
        freed.clear();
        g.receive(16, &mut freed, true);
        g.wait_readable(Duration::from_millis(1));
    }
    finish(g, start, end, config.timeout)
}

/// Collects the stragglers for one timeout and closes the books.
fn finish(mut g: Generator, start: Instant, end: Instant, timeout: Duration) -> Result<Report> {
    let stop = Instant::now();
    let drain_until = stop + timeout;
    let mut freed = Vec::new();
    while Instant::now() < drain_until {
        g.wait_readable(Duration::from_millis(5));
        g.receive(16, &mut freed, false);
    }
    g.report.lost += g.slots.iter().filter(|s| s.sent.is_some()).count() as u64;
    g.report.seconds = stop.min(end).duration_since(start).as_secs_f64();
    g.report.p50_us = g.percentile(0.50);
    g.report.p99_us = g.percentile(0.99);
    Ok(g.report)
}
