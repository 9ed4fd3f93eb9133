//! `ntpctl query`: a one-shot measurement of one or more servers, like
//! `ntpdig`, `sntp` or `chronyd -Q`.
//!
//! - [`target`]: `HOST[:PORT]` arguments and name resolution;
//! - [`exchange`]: the measurement of one address without I/O (schedule,
//!   reply checks, samples, result), unit-tested with fabricated replies;
//! - [`crate::runtime::net`] (shared with the daemon): the sockets, `poll(2)` and receive timestamps;
//! - [`adjust`]: `--step`/`--slew`, the decision over a `Clock` trait;
//! - [`command`]: the command line, printing and exit status;
//! - this module: the blocking loop that drives every address at once from
//!   one thread.

pub mod adjust;
pub mod command;
pub mod exchange;
pub mod target;

use std::time::{Duration, Instant, SystemTime};

use ntp_wire::mac::Key;
use ntp_wire::time::NtpTimestamp;

use self::exchange::{Config, Exchange, ServerResult};
use self::target::{Family, parse_target, resolve};
use crate::runtime::net::{self as socket, UdpSocket};

/// What to query and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// `HOST[:PORT]` arguments.
    pub targets: Vec<String>,
    /// Address families to use.
    pub family: Family,
    /// Requests per address.
    pub samples: u32,
    /// Time between requests to one address.
    pub gap: Duration,
    /// Time to wait for each reply.
    pub timeout: Duration,
    /// NTP version of the requests.
    pub version: u8,
    /// Key for authenticated requests.
    pub key: Option<Key>,
}

/// The outcome of a query: every address (and unresolved host) in the
/// order given, and which one is best.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// One entry per address, or per host that could not be queried.
    pub servers: Vec<ServerResult>,
    /// Index into `servers` of the best result, if any address answered.
    pub best: Option<usize>,
}

impl Report {
    /// Builds a report and picks the best address.
    pub fn new(servers: Vec<ServerResult>) -> Self {
        let best = exchange::best(&servers);
        Self { servers, best }
    }

    /// The best result.
    pub fn best(&self) -> Option<&ServerResult> {
        self.best.and_then(|i| self.servers.get(i))
    }
}

/// The current time as an NTP timestamp (CLOCK_REALTIME via
/// `clock_gettime`, which `SystemTime::now` uses).
pub fn ntp_now() -> NtpTimestamp {
    NtpTimestamp::from_system_time(SystemTime::now())
}

/// This host's clock precision as a log2 exponent, measured the way the
/// reference implementation does: the smallest step between successive
/// clock readings, rounded up to a power of two (and not below 2^-30 s).
pub fn measure_precision() -> i8 {
    let mut smallest = Duration::MAX;
    let mut last = SystemTime::now();
    let mut seen = 0;
    for _ in 0..100_000 {
        let now = SystemTime::now();
        if let Ok(step) = now.duration_since(last)
            && !step.is_zero()
        {
            smallest = smallest.min(step);
            seen += 1;
            if seen >= 8 {
                break;
            }
        }
        last = now;
    }
    if smallest == Duration::MAX {
        return -20;
    }
    let seconds = smallest.as_nanos().max(1) as f64 * 1e-9;
    // ceil(log2(seconds)) within -30..=0, without libm's log2 (whose only
    // use here would map all of libm into the daemon).
    (-30..=0i8)
        .find(|&e| 2f64.powi(i32::from(e)) >= seconds)
        .unwrap_or(0)
}

/// Runs the query: resolves every target, measures every address
/// concurrently from this one thread, and returns the report.
pub fn run(options: &Options) -> Report {
    let config = Config {
        samples: options.samples.max(1),
        gap: options.gap,
        timeout: options.timeout,
        version: options.version,
        system_precision: measure_precision(),
        key: options.key.clone(),
    };
    let mut slots: Vec<Slot> = Vec::new();
    let start = Instant::now();
    for text in &options.targets {
        let target = match parse_target(text) {
            Ok(target) => target,
            Err(err) => {
                slots.push(Slot::Done(ServerResult::failed(
                    text,
                    None,
                    err.to_string(),
                )));
                continue;
            }
        };
        match resolve(&target, options.family) {
            Err(err) => slots.push(Slot::Done(ServerResult::failed(
                &target.host,
                None,
                err.to_string(),
            ))),
            Ok(addresses) => {
                for address in addresses {
                    match UdpSocket::open(&address) {
                        Ok(socket) => {
                            log::debug!(
                                "{address}: socket {} (receive timestamps: {})",
                                socket.fd(),
                                if socket.timestamping() {
                                    "kernel"
                                } else {
                                    "after poll"
                                }
                            );
                            slots.push(Slot::Active(
                                Box::new(Exchange::new(
                                    &target.host,
                                    address,
                                    config.clone(),
                                    start.elapsed(),
                                )),
                                socket,
                            ));
                        }
                        Err(err) => slots.push(Slot::Done(ServerResult::failed(
                            &target.host,
                            Some(address),
                            format!("cannot open a socket for {address}: {err}"),
                        ))),
                    }
                }
            }
        }
    }
    drive(&mut slots, start);
    Report::new(
        slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(result) => result,
                Slot::Active(exchange, _) => exchange.result(),
            })
            .collect(),
    )
}

enum Slot {
    Active(Box<Exchange>, UdpSocket),
    Done(ServerResult),
}

fn send_error_text(address: &std::net::SocketAddr, err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::ENETUNREACH | libc::EHOSTUNREACH) => format!("no route to {address}: {err}"),
        _ => format!("cannot send to {address}: {err}"),
    }
}

/// The loop: send what is due, expire what timed out, `poll(2)` until the
/// nearest deadline, read what arrived.
fn drive(slots: &mut [Slot], start: Instant) {
    let mut buf = [0u8; 2048];
    loop {
        let now = start.elapsed();
        let mut next: Option<Duration> = None;
        let mut fds = Vec::new();
        let mut active = Vec::new();
        for (i, slot) in slots.iter_mut().enumerate() {
            let Slot::Active(exchange, socket) = slot else {
                continue;
            };
            exchange.expire(now);
            if exchange.is_due(now) {
                match socket::random_u64() {
                    Ok(bits) => {
                        // A zero nonce would never match; the odds are 2^-64.
                        let nonce = NtpTimestamp::from_bits(bits.max(1));
                        let address = exchange.address();
                        let t1 = ntp_now();
                        let request = exchange.request(start.elapsed(), nonce, t1);
                        if let Err(err) = socket.send_to(&request, &address) {
                            exchange.send_failed(send_error_text(&address, &err));
                        }
                    }
                    Err(err) => exchange.send_failed(format!("no random nonce: {err}")),
                }
            }
            if exchange.is_done() {
                continue;
            }
            if let Some(deadline) = exchange.next_deadline() {
                next = Some(next.map_or(deadline, |n: Duration| n.min(deadline)));
            }
            fds.push(socket.fd());
            active.push(i);
        }
        if active.is_empty() {
            return;
        }
        let wait = next
            .unwrap_or(Duration::from_secs(1))
            .saturating_sub(start.elapsed())
            .min(Duration::from_secs(1));
        let readable = match socket::poll_readable(&fds, wait) {
            Ok(readable) => readable,
            Err(err) => {
                log::warn!("poll: {err}");
                vec![false; fds.len()]
            }
        };
        // Fallback receive time: right after poll returned.
        let after_poll = ntp_now();
        for (&i, ready) in active.iter().zip(readable) {
            if !ready {
                continue;
            }
            let Some(Slot::Active(exchange, socket)) = slots.get_mut(i) else {
                continue;
            };
            loop {
                match socket.recv(&mut buf) {
                    Ok(Some(received)) => {
                        let bytes = buf.get(..received.len).unwrap_or(&[]);
                        let t4 = received.timestamp.unwrap_or(after_poll);
                        let outcome = exchange.handle(received.from, bytes, t4);
                        log::debug!("{}: {outcome:?}", exchange.address());
                    }
                    Ok(None) => break,
                    Err(err) => {
                        // An ICMP error queued on the socket (port
                        // unreachable, ...): the request times out.
                        log::debug!("{}: receive: {err}", exchange.address());
                        break;
                    }
                }
            }
        }
    }
}
