//! The measurement of one address, without I/O: which request to send
//! when, what to make of each datagram that arrives, and the result.
//!
//! Time comes in as arguments: `now` is a monotonic [`Duration`] since the
//! query started (for the schedule), and the NTP timestamps T1 and T4 are
//! read by the caller from the system clock (or the kernel's receive
//! timestamp). The reply checks and the on-wire computation are those of
//! `ntp_assoc::onwire`, the same code the daemon uses.

use std::net::SocketAddr;
use std::time::Duration;

use ntp_assoc::onwire::{self, Rejection, Sample, Timestamps};
use ntp_wire::mac::Key;
use ntp_wire::packet::{HEADER_LEN, Header, Mac, PacketView};
use ntp_wire::refid::KissCode;
use ntp_wire::time::NtpTimestamp;

/// How to measure each address.
#[derive(Clone, Debug)]
pub struct Config {
    /// Requests to send (at least 1).
    pub samples: u32,
    /// Time between two requests.
    pub gap: Duration,
    /// How long to wait for the reply to each request.
    pub timeout: Duration,
    /// NTP version of the requests (4 unless asked otherwise).
    pub version: u8,
    /// This host's clock precision (log2 seconds), for the delay floor and
    /// the dispersion.
    pub system_precision: i8,
    /// Sign requests with this key and require replies signed with it.
    pub key: Option<Key>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            samples: 4,
            gap: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            version: 4,
            system_precision: -20,
            key: None,
        }
    }
}

/// A request in flight.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Its number, from 1.
    number: u32,
    /// The random transmit timestamp it carried.
    nonce: NtpTimestamp,
    /// T1: when it left, by this host's clock.
    t1: NtpTimestamp,
    /// When to give up on it.
    deadline: Duration,
}

/// One accepted reply: the sample and the header it came with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Offset, delay, dispersion.
    pub sample: Sample,
    /// The reply's header.
    pub header: Header,
}

/// What became of a datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A valid sample.
    Sample(Accepted),
    /// A genuine reply to one of our requests (it passed the origin,
    /// timestamp and, with a key, MAC checks) that carries no usable time:
    /// a Kiss-o'-Death, an unsynchronised server, a bad header.
    Unusable(Rejection),
    /// Not a reply to our requests (or not believable): ignored.
    Ignored(String),
}

/// One line of the verbose (`-v`) account of an address.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A request went out.
    Sent {
        /// Request number, from 1.
        number: u32,
    },
    /// A valid sample arrived.
    Sample {
        /// Request number.
        number: u32,
        /// Offset in seconds.
        offset: f64,
        /// Delay in seconds.
        delay: f64,
    },
    /// A genuine reply without usable time.
    Unusable {
        /// Request number.
        number: u32,
        /// Why.
        reason: String,
    },
    /// A datagram that was ignored.
    Ignored {
        /// Why.
        reason: String,
    },
    /// No reply in time.
    Timeout {
        /// Request number.
        number: u32,
    },
    /// Sending failed.
    SendFailed {
        /// Request number.
        number: u32,
        /// The system's error.
        reason: String,
    },
}

/// The best sample of an address and the spread of the others.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// Offset of the server's clock from this host's, seconds (positive:
    /// the server is ahead).
    pub offset: f64,
    /// Round-trip delay, seconds.
    pub delay: f64,
    /// Dispersion of the sample, seconds.
    pub dispersion: f64,
    /// RMS difference of the other samples' offsets from the best one's,
    /// seconds (0 with one sample).
    pub jitter: f64,
}

/// The result for one address (or one host that did not resolve).
#[derive(Clone, Debug, PartialEq)]
pub struct ServerResult {
    /// The host as given on the command line.
    pub host: String,
    /// The address queried; `None` when the host did not resolve.
    pub address: Option<SocketAddr>,
    /// The header of the best sample, or else of the last genuine reply.
    pub header: Option<Header>,
    /// The measurement, when at least one sample was valid.
    pub measurement: Option<Measurement>,
    /// The kiss code of a Kiss-o'-Death reply, if one came.
    pub kiss: Option<KissCode>,
    /// Why there is no measurement (one line), or `None`.
    pub error: Option<String>,
    /// Requests sent.
    pub sent: u32,
    /// Valid samples.
    pub valid: u32,
    /// Datagrams ignored.
    pub ignored: u32,
    /// What happened, in order (for `-v`).
    pub events: Vec<Event>,
}

impl ServerResult {
    /// A host that could not be queried at all (unknown host, no socket).
    pub fn failed(host: &str, address: Option<SocketAddr>, error: String) -> Self {
        Self {
            host: host.to_owned(),
            address,
            header: None,
            measurement: None,
            kiss: None,
            error: Some(error),
            sent: 0,
            valid: 0,
            ignored: 0,
            events: Vec::new(),
        }
    }

    /// The synchronisation distance of the measurement (RFC 5905
    /// `root_dist()` at the time of the sample): (root delay + delay) / 2 +
    /// root dispersion + dispersion + jitter; `None` without a measurement.
    pub fn distance(&self) -> Option<f64> {
        let m = self.measurement?;
        let h = self.header?;
        Some(
            (h.root_delay.to_seconds_f64() + m.delay) / 2.0
                + h.root_dispersion.to_seconds_f64()
                + m.dispersion
                + m.jitter,
        )
    }
}

/// Picks the best address: the one with a measurement and the smallest
/// synchronisation distance (the first of equals).
pub fn best(results: &[ServerResult]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, r) in results.iter().enumerate() {
        if let Some(d) = r.distance()
            && best.is_none_or(|(_, b)| d < b)
        {
            best = Some((i, d));
        }
    }
    best.map(|(i, _)| i)
}

/// The measurement of one address.
#[derive(Debug)]
pub struct Exchange {
    host: String,
    address: SocketAddr,
    config: Config,
    next_send: Duration,
    sent: u32,
    pending: Vec<Pending>,
    accepted: Vec<Accepted>,
    last_header: Option<Header>,
    kiss: Option<KissCode>,
    unusable: Option<Rejection>,
    auth_failure: Option<String>,
    last_ignored: Option<String>,
    send_error: Option<String>,
    ignored: u32,
    timeouts: u32,
    stopped: bool,
    events: Vec<Event>,
}

impl Exchange {
    /// A measurement of `address` (which `host` resolved to), its first
    /// request due at `start`.
    pub fn new(host: &str, address: SocketAddr, config: Config, start: Duration) -> Self {
        Self {
            host: host.to_owned(),
            address,
            config,
            next_send: start,
            sent: 0,
            pending: Vec::new(),
            accepted: Vec::new(),
            last_header: None,
            kiss: None,
            unusable: None,
            auth_failure: None,
            last_ignored: None,
            send_error: None,
            ignored: 0,
            timeouts: 0,
            stopped: false,
            events: Vec::new(),
        }
    }

    /// The address measured.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Whether a request is due at `now`.
    pub fn is_due(&self, now: Duration) -> bool {
        !self.stopped && self.sent < self.config.samples.max(1) && now >= self.next_send
    }

    /// Builds the next request with the random `nonce` as its transmit
    /// timestamp (every other field zero but version and mode, plus the MAC
    /// when a key is set) and records it as sent at `t1` (this host's
    /// clock, read just before sending) and `now` (monotonic).
    pub fn request(&mut self, now: Duration, nonce: NtpTimestamp, t1: NtpTimestamp) -> Vec<u8> {
        let header = Header::client_request(self.config.version, nonce);
        let mut buf = vec![0u8; HEADER_LEN + ntp_wire::mac::MAX_TRAILER_LEN];
        let mut len = header.emit(&mut buf).unwrap_or(HEADER_LEN);
        if let Some(key) = &self.config.key {
            len = key.sign_into(&mut buf, len).unwrap_or(len);
        }
        buf.truncate(len);
        self.sent += 1;
        let number = self.sent;
        self.pending.push(Pending {
            number,
            nonce,
            t1,
            deadline: now + self.config.timeout,
        });
        self.next_send = now + self.config.gap;
        self.events.push(Event::Sent { number });
        buf
    }

    /// Sending the last request failed (no route, ...): the address is
    /// given up.
    pub fn send_failed(&mut self, reason: String) {
        if let Some(p) = self.pending.pop() {
            self.events.push(Event::SendFailed {
                number: p.number,
                reason: reason.clone(),
            });
        }
        self.send_error = Some(reason);
        self.stopped = true;
    }

    /// Gives up on requests whose timeout has passed.
    pub fn expire(&mut self, now: Duration) {
        let (expired, kept): (Vec<Pending>, Vec<Pending>) =
            self.pending.iter().partition(|p| now >= p.deadline);
        for p in expired {
            self.timeouts += 1;
            self.events.push(Event::Timeout { number: p.number });
        }
        self.pending = kept;
    }

    /// The next moment something happens: a request due or a timeout.
    pub fn next_deadline(&self) -> Option<Duration> {
        let send =
            (!self.stopped && self.sent < self.config.samples.max(1)).then_some(self.next_send);
        let timeout = self.pending.iter().map(|p| p.deadline).min();
        match (send, timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the measurement is over: every request sent and answered or
    /// timed out, or the address given up.
    pub fn is_done(&self) -> bool {
        (self.stopped || self.sent >= self.config.samples.max(1)) && self.pending.is_empty()
    }

    fn ignore(&mut self, reason: String) -> Outcome {
        self.ignored += 1;
        self.events.push(Event::Ignored {
            reason: reason.clone(),
        });
        self.last_ignored = Some(reason.clone());
        Outcome::Ignored(reason)
    }

    /// Handles a datagram that arrived from `from` at `t4` (this host's
    /// clock).
    pub fn handle(&mut self, from: SocketAddr, bytes: &[u8], t4: NtpTimestamp) -> Outcome {
        if from.ip() != self.address.ip() || from.port() != self.address.port() {
            return self.ignore(format!("reply from {from}, not from {}", self.address));
        }
        let view = match PacketView::new_checked(bytes) {
            Ok(view) => view,
            Err(err) => return self.ignore(format!("malformed packet: {err}")),
        };
        let header = view.header();
        let index = self
            .pending
            .iter()
            .position(|p| !p.nonce.is_zero() && p.nonce == header.origin_time);
        // Without a matching request the checks report why (the origin
        // test, or an earlier one).
        let nonce = index
            .and_then(|i| self.pending.get(i))
            .map_or(NtpTimestamp::ZERO, |p| p.nonce);
        let checked = match onwire::check_reply(&header, nonce) {
            // A zero reference time (a server that never set its clock,
            // such as an NTPsec orphan) is not "later than the transmit
            // time": RFC 5905's packet() compares the raw 64-bit values.
            // Workaround until ntp_assoc::onwire::check_header does the same.
            Err(Rejection::BadHeader(why))
                if header.reference_time.is_zero() && why.starts_with("reference time") =>
            {
                Ok(())
            }
            other => other,
        };
        let (Some(index), false) = (
            index,
            matches!(
                checked,
                Err(Rejection::BadVersion(_)
                    | Rejection::UnexpectedMode { .. }
                    | Rejection::Bogus
                    | Rejection::InvalidTimestamp(_)
                    | Rejection::Malformed)
            ),
        ) else {
            let reason = match checked {
                Err(rejection) => rejection.to_string(),
                Ok(()) => Rejection::Bogus.to_string(),
            };
            return self.ignore(reason);
        };
        if let Some(key) = &self.config.key {
            let verdict = match view.trailer() {
                Err(err) => Err(format!("authentication failed: malformed MAC trailer: {err}")),
                Ok(trailer) => match trailer.mac {
                    None => Err("authentication failed: reply has no MAC".to_owned()),
                    Some(Mac::CryptoNak { .. }) => Err(
                        "authentication failed: crypto-NAK (the server could not authenticate the request)"
                            .to_owned(),
                    ),
                    Some(mac) => {
                        let split = bytes.len().saturating_sub(mac.wire_len());
                        let (data, trailer) = bytes.split_at(split);
                        key.verify_trailer(data, trailer)
                            .map_err(|err| format!("authentication failed: {err}"))
                    }
                },
            };
            if let Err(reason) = verdict {
                self.auth_failure = Some(reason.clone());
                return self.ignore(reason);
            }
        }
        let pending = self.pending.remove(index);
        self.last_header = Some(header);
        match checked {
            Ok(()) => {
                let stamps = Timestamps {
                    origin: pending.t1,
                    ..Timestamps::from_reply(&header, t4)
                };
                let sample =
                    onwire::client_sample(&stamps, header.precision, self.config.system_precision);
                let accepted = Accepted { sample, header };
                self.events.push(Event::Sample {
                    number: pending.number,
                    offset: sample.offset.to_seconds_f64(),
                    delay: sample.delay.to_seconds_f64(),
                });
                self.accepted.push(accepted);
                Outcome::Sample(accepted)
            }
            Err(rejection) => {
                if let Rejection::Kiss(code) = rejection {
                    self.kiss = Some(code);
                    // DENY and RSTR: stop sending. RATE: the server asks
                    // for fewer requests; end the burst (DESIGN.md).
                    if code.is_access_denied() || code == KissCode::Rate {
                        self.stopped = true;
                        self.pending.clear();
                    }
                }
                self.events.push(Event::Unusable {
                    number: pending.number,
                    reason: describe(&rejection),
                });
                self.unusable = Some(rejection);
                Outcome::Unusable(rejection)
            }
        }
    }

    /// The result so far.
    pub fn result(&self) -> ServerResult {
        let best = self.accepted.iter().min_by_key(|a| a.sample.delay).copied();
        let measurement = best.map(|b| {
            let offset = b.sample.offset.to_seconds_f64();
            let n = self.accepted.len();
            let jitter = if n > 1 {
                let sum: f64 = self
                    .accepted
                    .iter()
                    .map(|a| (a.sample.offset.to_seconds_f64() - offset).powi(2))
                    .sum();
                (sum / (n - 1) as f64).sqrt()
            } else {
                0.0
            };
            Measurement {
                offset,
                delay: b.sample.delay.to_seconds_f64(),
                dispersion: b.sample.dispersion.to_seconds_f64(),
                jitter,
            }
        });
        let error = if measurement.is_some() {
            None
        } else if let Some(rejection) = &self.unusable {
            Some(describe(rejection))
        } else if let Some(reason) = &self.auth_failure {
            Some(format!("bad MAC: {reason}"))
        } else if let Some(reason) = &self.send_error {
            Some(reason.clone())
        } else if let Some(reason) = &self.last_ignored {
            Some(format!(
                "no valid reply: {} datagram{} ignored (last: {reason})",
                self.ignored,
                if self.ignored == 1 { "" } else { "s" }
            ))
        } else {
            Some(format!(
                "timeout: no reply to {} request{} within {}",
                self.sent,
                if self.sent == 1 { "" } else { "s" },
                seconds_text(self.config.timeout)
            ))
        };
        ServerResult {
            host: self.host.clone(),
            address: Some(self.address),
            header: best.map(|b| b.header).or(self.last_header),
            measurement,
            kiss: self.kiss,
            error,
            sent: self.sent,
            valid: u32::try_from(self.accepted.len()).unwrap_or(u32::MAX),
            ignored: self.ignored,
            events: self.events.clone(),
        }
    }
}

fn seconds_text(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// One line for a genuine reply without usable time: kiss codes with their
/// meaning, unsynchronised servers named as such.
pub fn describe(rejection: &Rejection) -> String {
    match rejection {
        Rejection::Kiss(KissCode::Init) => {
            "unsynchronised: kiss-o'-death INIT (the server has not synchronised yet)".to_owned()
        }
        Rejection::Kiss(code) => format!("kiss-o'-death {code}: {}", code.meaning()),
        Rejection::Unsynchronised => "unsynchronised: the server's leap indicator is 3".to_owned(),
        Rejection::StratumTooHigh(s) => format!("unsynchronised: the server's stratum is {s}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use ntp_wire::mac::MacAlgorithm;
    use ntp_wire::packet::{LeapIndicator, Mode};
    use ntp_wire::refid::ReferenceId;
    use ntp_wire::time::{NtpDuration, NtpShort};

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn server() -> SocketAddr {
        "192.0.2.1:123".parse().unwrap()
    }

    fn ts(seconds: u32, millis: u32) -> NtpTimestamp {
        NtpTimestamp::from_seconds_and_fraction(seconds, 0)
            + NtpDuration::from_nanos(i64::from(millis) * 1_000_000)
    }

    /// A reply to `request` from a server whose clock reads `skew` seconds
    /// ahead, received `one_way` after T1, held for 1 ms.
    fn reply_to(request: &[u8], t1: NtpTimestamp, skew: i64, one_way_ms: i64) -> Header {
        let req = Header::parse(request).unwrap();
        let t2 =
            t1 + NtpDuration::from_seconds(skew) + NtpDuration::from_nanos(one_way_ms * 1_000_000);
        Header {
            leap: LeapIndicator::NoWarning,
            version: req.version,
            mode: Mode::Server,
            stratum: 2,
            poll: 6,
            precision: -20,
            root_delay: NtpShort::from_seconds_f64(0.01),
            root_dispersion: NtpShort::from_seconds_f64(0.02),
            reference_id: ReferenceId::from_bytes([192, 0, 2, 7]),
            reference_time: t1 - NtpDuration::from_seconds(10),
            origin_time: req.transmit_time,
            receive_time: t2,
            transmit_time: t2 + NtpDuration::from_nanos(1_000_000),
        }
    }

    fn bytes(h: &Header) -> Vec<u8> {
        let mut buf = vec![0u8; 48];
        h.emit(&mut buf).unwrap();
        buf
    }

    fn config(samples: u32) -> Config {
        Config {
            samples,
            gap: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            ..Config::default()
        }
    }

    #[test]
    fn request_is_data_minimised() {
        let mut ex = Exchange::new("h", server(), config(1), Duration::ZERO);
        assert!(ex.is_due(Duration::ZERO));
        let nonce = NtpTimestamp::from_bits(0x0123_4567_89ab_cdef);
        let req = ex.request(Duration::ZERO, nonce, ts(1000, 0));
        assert_eq!(req.len(), 48);
        assert_eq!(req[0], 0x23); // leap 0, version 4, mode 3
        assert!(req[1..40].iter().all(|&b| b == 0));
        assert_eq!(&req[40..], &nonce.to_bits().to_be_bytes());
        assert!(!ex.is_due(Duration::from_secs(5)));
        assert!(!ex.is_done());
    }

    #[test]
    fn best_sample_has_minimum_delay_and_jitter_from_others() {
        let mut ex = Exchange::new("h", server(), config(3), Duration::ZERO);
        // Three samples: offsets 1.0 s + (0, +2 ms, -2 ms) by delay.
        let plan = [(10, 0i64), (2, 0), (6, 0)];
        let mut now = Duration::ZERO;
        for (i, (one_way, _)) in plan.iter().enumerate() {
            assert!(ex.is_due(now));
            let t1 = ts(1000 + i as u32 * 10, 0);
            let nonce = NtpTimestamp::from_bits(0x1111 + i as u64);
            let req = ex.request(now, nonce, t1);
            let reply = reply_to(&req, t1, 1, *one_way);
            // Symmetric path: T4 = T1 + 2 * one_way + 1 ms hold.
            let t4 = t1 + NtpDuration::from_nanos((2 * one_way + 1) * 1_000_000);
            match ex.handle(server(), &bytes(&reply), t4) {
                Outcome::Sample(a) => assert_eq!(a.header.stratum, 2),
                other => panic!("{other:?}"),
            }
            now += Duration::from_secs(1);
        }
        assert!(ex.is_done());
        let r = ex.result();
        let m = r.measurement.unwrap();
        assert!((m.offset - 1.0).abs() < 1e-9, "{m:?}");
        assert!((m.delay - 0.004).abs() < 1e-9, "{m:?}");
        assert_eq!(m.jitter, 0.0);
        assert_eq!((r.sent, r.valid, r.ignored), (3, 3, 0));
        assert_eq!(r.error, None);
        assert!(r.distance().unwrap() > 0.02);
    }

    #[test]
    fn jitter_is_rms_from_best() {
        let mut ex = Exchange::new("h", server(), config(3), Duration::ZERO);
        // Offsets 0, +3 ms, -4 ms with delays 2, 4, 6 ms (asymmetric: the
        // server's T2/T3 move, T4 fixed by the delay).
        for (i, (skew_ms, delay_ms)) in [(0i64, 2i64), (3, 4), (-4, 6)].iter().enumerate() {
            let now = Duration::from_secs(i as u64);
            let t1 = ts(2000, 0) + NtpDuration::from_seconds(i as i64);
            let req = ex.request(now, NtpTimestamp::from_bits(77 + i as u64), t1);
            let mut reply = reply_to(&req, t1, 0, delay_ms / 2);
            let shift = NtpDuration::from_nanos(skew_ms * 1_000_000);
            reply.receive_time = t1 + shift + NtpDuration::from_nanos(delay_ms * 500_000);
            reply.transmit_time = reply.receive_time;
            let t4 = t1 + NtpDuration::from_nanos(delay_ms * 1_000_000);
            assert!(matches!(
                ex.handle(server(), &bytes(&reply), t4),
                Outcome::Sample(_)
            ));
        }
        let m = ex.result().measurement.unwrap();
        assert!(m.offset.abs() < 1e-9);
        let expected = ((0.003f64.powi(2) + 0.004f64.powi(2)) / 2.0).sqrt();
        assert!((m.jitter - expected).abs() < 1e-9, "{m:?}");
    }

    /// Sends one request and feeds back `edit`ed replies.
    fn one_reply(
        edit: impl Fn(&mut Header),
        from: SocketAddr,
        key: Option<Key>,
        sign: impl Fn(&mut Vec<u8>),
    ) -> (Outcome, ServerResult) {
        let mut cfg = config(1);
        cfg.key = key;
        let mut ex = Exchange::new("h", server(), cfg, Duration::ZERO);
        let t1 = ts(3000, 0);
        let req = ex.request(Duration::ZERO, NtpTimestamp::from_bits(0xfeed_f00d), t1);
        let mut reply = reply_to(&req, t1, 0, 1);
        edit(&mut reply);
        let mut data = bytes(&reply);
        sign(&mut data);
        let outcome = ex.handle(from, &data, t1 + NtpDuration::from_nanos(3_000_000));
        ex.expire(Duration::from_secs(3));
        assert!(ex.is_done());
        (outcome, ex.result())
    }

    fn ignored_case(edit: impl Fn(&mut Header), from: SocketAddr, expect: &str) {
        let (outcome, result) = one_reply(edit, from, None, |_| {});
        match outcome {
            Outcome::Ignored(reason) => assert!(reason.contains(expect), "{reason}"),
            other => panic!("expected ignored ({expect}), got {other:?}"),
        }
        assert_eq!(result.measurement, None);
        assert_eq!(result.ignored, 1);
        let error = result.error.unwrap();
        assert!(
            error.starts_with("no valid reply: 1 datagram ignored"),
            "{error}"
        );
        assert!(error.contains(expect), "{error}");
        assert!(result.events.contains(&Event::Timeout { number: 1 }));
    }

    #[test]
    fn replies_that_are_ignored() {
        ignored_case(
            |h| h.origin_time = NtpTimestamp::from_bits(1),
            server(),
            "origin timestamp does not match",
        );
        ignored_case(
            |_| {},
            "192.0.2.1:124".parse().unwrap(),
            "not from 192.0.2.1:123",
        );
        ignored_case(
            |_| {},
            "192.0.2.9:123".parse().unwrap(),
            "reply from 192.0.2.9:123",
        );
        ignored_case(|h| h.mode = Mode::Client, server(), "unexpected mode");
        ignored_case(|h| h.version = 5, server(), "malformed packet");
        ignored_case(
            |h| h.transmit_time = NtpTimestamp::ZERO,
            server(),
            "transmit timestamp is zero",
        );
        ignored_case(
            |h| h.receive_time = NtpTimestamp::ZERO,
            server(),
            "receive timestamp is zero",
        );
    }

    #[test]
    fn zero_reference_time_is_accepted() {
        let (outcome, r) = one_reply(
            |h| h.reference_time = NtpTimestamp::ZERO,
            server(),
            None,
            |_| {},
        );
        assert!(matches!(outcome, Outcome::Sample(_)), "{outcome:?}");
        assert_eq!(r.error, None);
        // A non-zero reference time after the transmit time still is not.
        let (outcome, _) = one_reply(
            |h| h.reference_time = h.transmit_time + NtpDuration::from_seconds(5),
            server(),
            None,
            |_| {},
        );
        assert!(matches!(
            outcome,
            Outcome::Unusable(Rejection::BadHeader(_))
        ));
    }

    #[test]
    fn kiss_codes() {
        for (code, stops) in [
            ("RATE", true),
            ("DENY", true),
            ("RSTR", true),
            ("XYZW", false),
        ] {
            let mut cfg = config(3);
            cfg.timeout = Duration::from_millis(500);
            let mut ex = Exchange::new("h", server(), cfg, Duration::ZERO);
            let t1 = ts(10, 0);
            let req = ex.request(Duration::ZERO, NtpTimestamp::from_bits(5), t1);
            let mut reply = reply_to(&req, t1, 0, 1);
            reply.stratum = 0;
            reply.reference_id = ReferenceId::from_ascii(code);
            let outcome = ex.handle(
                server(),
                &bytes(&reply),
                t1 + NtpDuration::from_nanos(2_000_000),
            );
            assert!(
                matches!(outcome, Outcome::Unusable(Rejection::Kiss(_))),
                "{code}"
            );
            assert_eq!(ex.is_done(), stops, "{code}");
            assert_eq!(ex.is_due(Duration::from_secs(1)), !stops, "{code}");
            let r = ex.result();
            assert_eq!(r.kiss.unwrap().to_string(), code);
            let error = r.error.unwrap();
            assert!(
                error.starts_with(&format!("kiss-o'-death {code}: ")),
                "{error}"
            );
            assert_eq!(r.header.unwrap().stratum, 0);
        }
        // A kiss with a wrong origin is not believed.
        let (outcome, r) = one_reply(
            |h| {
                h.stratum = 0;
                h.reference_id = ReferenceId::from_ascii("DENY");
                h.origin_time = NtpTimestamp::from_bits(3);
            },
            server(),
            None,
            |_| {},
        );
        assert!(matches!(outcome, Outcome::Ignored(_)));
        assert_eq!(r.kiss, None);
    }

    #[test]
    fn unsynchronised_servers() {
        for (edit, expect) in [
            (
                (|h: &mut Header| h.leap = LeapIndicator::Unsynchronized) as fn(&mut Header),
                "unsynchronised: the server's leap indicator is 3",
            ),
            (
                |h: &mut Header| h.stratum = 16,
                "unsynchronised: the server's stratum is 16",
            ),
            (
                |h: &mut Header| {
                    h.stratum = 0;
                    h.leap = LeapIndicator::Unsynchronized;
                    h.reference_id = ReferenceId::INIT;
                },
                "unsynchronised: kiss-o'-death INIT",
            ),
        ] {
            let (outcome, r) = one_reply(edit, server(), None, |_| {});
            assert!(matches!(outcome, Outcome::Unusable(_)));
            assert!(
                r.error.as_deref().unwrap().starts_with(expect),
                "{:?}",
                r.error
            );
            assert!(r.measurement.is_none());
            assert!(r.header.is_some());
        }
    }

    fn key() -> Key {
        Key::new(7, MacAlgorithm::Sha1, b"sevensecret")
    }

    #[test]
    fn authenticated_requests_and_replies() {
        let mut cfg = config(1);
        cfg.key = Some(key());
        let mut ex = Exchange::new("h", server(), cfg, Duration::ZERO);
        let req = ex.request(Duration::ZERO, NtpTimestamp::from_bits(9), ts(1, 0));
        assert_eq!(req.len(), 48 + 24);
        assert_eq!(key().verify_trailer(&req[..48], &req[48..]), Ok(()));

        let sign_with = |k: Key| {
            move |data: &mut Vec<u8>| {
                data.resize(48 + k.trailer_len(), 0);
                k.sign_into(data, 48).unwrap();
            }
        };
        // MAC ok.
        let (outcome, r) = one_reply(|_| {}, server(), Some(key()), sign_with(key()));
        assert!(matches!(outcome, Outcome::Sample(_)), "{outcome:?}");
        assert_eq!(r.error, None);
        // MAC missing.
        let (outcome, r) = one_reply(|_| {}, server(), Some(key()), |_| {});
        assert_eq!(
            outcome,
            Outcome::Ignored("authentication failed: reply has no MAC".into())
        );
        assert_eq!(
            r.error.as_deref(),
            Some("bad MAC: authentication failed: reply has no MAC")
        );
        // MAC bad: same key id, other secret.
        let (outcome, r) = one_reply(
            |_| {},
            server(),
            Some(key()),
            sign_with(Key::new(7, MacAlgorithm::Sha1, b"wrong")),
        );
        assert_eq!(
            outcome,
            Outcome::Ignored("authentication failed: MAC does not match".into())
        );
        assert!(r.error.unwrap().starts_with("bad MAC"));
        // MAC with another key id.
        let (outcome, _) = one_reply(
            |_| {},
            server(),
            Some(key()),
            sign_with(Key::new(8, MacAlgorithm::Sha1, b"sevensecret")),
        );
        assert!(matches!(outcome, Outcome::Ignored(r) if r.contains("names key 8")));
        // Crypto-NAK.
        let (outcome, _) = one_reply(|_| {}, server(), Some(key()), |d| d.extend([0, 0, 0, 0]));
        assert!(matches!(outcome, Outcome::Ignored(r) if r.contains("crypto-NAK")));
    }

    #[test]
    fn timeouts_and_schedule() {
        let mut cfg = config(2);
        cfg.gap = 100 * MS;
        cfg.timeout = 300 * MS;
        let mut ex = Exchange::new("h", server(), cfg, Duration::ZERO);
        assert_eq!(ex.next_deadline(), Some(Duration::ZERO));
        ex.request(Duration::ZERO, NtpTimestamp::from_bits(1), ts(1, 0));
        assert_eq!(ex.next_deadline(), Some(100 * MS));
        assert!(!ex.is_due(99 * MS));
        ex.request(100 * MS, NtpTimestamp::from_bits(2), ts(1, 100));
        assert_eq!(ex.next_deadline(), Some(300 * MS));
        ex.expire(300 * MS);
        assert!(!ex.is_done());
        assert_eq!(ex.next_deadline(), Some(400 * MS));
        ex.expire(400 * MS);
        assert!(ex.is_done());
        let r = ex.result();
        assert_eq!(
            r.error.as_deref(),
            Some("timeout: no reply to 2 requests within 0.3 s")
        );
    }

    #[test]
    fn send_failure_gives_up() {
        let mut ex = Exchange::new("h", server(), config(4), Duration::ZERO);
        ex.request(Duration::ZERO, NtpTimestamp::from_bits(1), ts(1, 0));
        ex.send_failed("no route to host 192.0.2.1:123: Network is unreachable".into());
        assert!(ex.is_done());
        assert_eq!(
            ex.result().error.as_deref(),
            Some("no route to host 192.0.2.1:123: Network is unreachable")
        );
    }

    #[test]
    fn best_address_by_distance() {
        let mk = |delay: f64, root: f64| ServerResult {
            measurement: Some(Measurement {
                offset: 0.0,
                delay,
                dispersion: 0.0,
                jitter: 0.0,
            }),
            header: Some(Header {
                root_dispersion: NtpShort::from_seconds_f64(root),
                ..Header::default()
            }),
            ..ServerResult::failed("h", None, String::new())
        };
        let none = ServerResult::failed("x", None, "unknown host".into());
        assert_eq!(best(std::slice::from_ref(&none)), None);
        assert_eq!(
            best(&[none, mk(0.1, 0.1), mk(0.01, 0.01), mk(0.001, 0.5)]),
            Some(2)
        );
    }
}
