//! The NTPv4 poll process (RFC 5905 section 13, Appendix A.5.7), sans-IO.
//!
//! This crate decides *when* an association sends: the poll exponent and
//! its bounds (`minpoll`/`maxpoll`), the jitter-driven poll adjustment
//! ([`PollAdjust`]), the `burst`/`iburst` schedules, the unreachable
//! back-off, the Kiss-o'-Death RATE back-off, the manycast TTL ring and
//! beacon ([`ManycastRing`]), and the randomisation of send times
//! ([`SplitMix64`]). It never reads a clock or sleeps: time is an
//! [`Uptime`] argument and the caller asks for the next deadline.
//!
//! ```
//! use ntp_poll::{PollConfig, Poller, Uptime};
//! use std::time::Duration;
//!
//! let config = PollConfig { iburst: true, ..PollConfig::default() };
//! let mut poller = Poller::new(config, Uptime::ZERO, 42);
//! // The first poll is due within a quarter of a second (iburst start-up).
//! let due = poller.poll_timeout();
//! assert!(due < Uptime::ZERO + Duration::from_millis(250));
//! let event = poller.handle_timeout(due);
//! assert!(event.send);
//! // No reply yet: the rest of the burst waits; the first packet is
//! // retried after the minimum poll interval.
//! assert_eq!(poller.poll_timeout(), due + Duration::from_secs(64));
//! // A reply arrives: the rest of the burst follows at 2 s intervals.
//! poller.handle_reply(due + Duration::from_millis(30), None);
//! assert_eq!(poller.poll_timeout(), due + Duration::from_secs(2));
//! ```

use std::time::Duration;

/// The smallest poll exponent accepted (8 s).
pub const MINPOLL_LIMIT: i8 = ntp_wire::constants::MINPOLL_LIMIT.get();
/// The largest poll exponent accepted (36 h).
pub const MAXPOLL_LIMIT: i8 = ntp_wire::constants::MAXPOLL_LIMIT.get();
/// The default `minpoll` (64 s).
pub const DEFAULT_MINPOLL: i8 = ntp_wire::constants::DEFAULT_MINPOLL.get();
/// The default `maxpoll` (1024 s).
pub const DEFAULT_MAXPOLL: i8 = ntp_wire::constants::DEFAULT_MAXPOLL.get();
/// BTIME: the interval between the packets of a burst.
pub const BURST_INTERVAL: Duration = Duration::from_secs(2);
/// The number of packets in an `iburst` (BCOUNT of RFC 5905, and seed 001).
pub const IBURST_COUNT: u8 = 8;
/// The first poll of an `iburst` association (and of a symmetric peer) is
/// at a random time within this span of its mobilisation: short, so that
/// the first sample arrives at once, yet not zero, so that many clients
/// started together do not send in lockstep.
pub const IBURST_START_SPREAD: Duration = Duration::from_millis(250);
/// The largest `burst` (at a poll of 128 s and above).
pub const MAX_BURST_COUNT: u8 = 8;
/// How many times the first packet of a burst is sent again, at the minimum
/// poll interval, when no reply arrives, before the back-off begins.
pub const BURST_RETRIES: u8 = 2;
/// The unreach threshold: after this many polls without a reply the poll
/// exponent is raised by one (4.2.8 "Poll Process" page), and a
/// preemptable association becomes a candidate for pruning.
pub const UNREACH_THRESHOLD: u32 = 10;
/// The default manycast beacon interval (`tos beacon`), in seconds.
pub const DEFAULT_BEACON: Duration = Duration::from_secs(3600);

pub use ntp_wire::time::Uptime;

/// `2^exponent` seconds (exponents are clamped to 0..=17).
pub fn poll_interval(exponent: i8) -> Duration {
    Duration::from_secs(1u64 << exponent.clamp(0, MAXPOLL_LIMIT))
}

/// A small deterministic pseudo-random generator (SplitMix64) for send-time
/// randomisation. Not for cryptography: nonces must come from the caller's
/// secure source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed (any value, zero included).
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A duration uniformly in `[0, max)` at millisecond resolution (zero
    /// when `max` is below a millisecond).
    pub fn below(&mut self, max: Duration) -> Duration {
        let millis = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(self.next_u64() % millis)
    }
}

/// What an association is, as far as its schedule goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PollRole {
    /// A client (or pool/manycast-discovered client): sends, may burst.
    #[default]
    Client,
    /// A symmetric active or passive peer: sends at the poll matched with
    /// the other peer, no randomisation, no bursts.
    Symmetric,
    /// A broadcast or multicast server: sends at the poll interval while
    /// synchronised, never bursts, never becomes "unreachable".
    BroadcastServer,
    /// A broadcast client in listen-only mode: never sends, but the timer
    /// still runs to age the reach register.
    ListenOnly,
    /// A reference clock: polled, never bursts.
    Refclock,
}

/// Why a poll configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PollConfigError {
    /// A poll exponent outside 3 to 17.
    #[error("poll exponent {0} out of range (minpoll and maxpoll must be between 3 and 17)")]
    OutOfRange(i8),
    /// `minpoll` above `maxpoll`.
    #[error("minpoll {minpoll} is greater than maxpoll {maxpoll}")]
    Inverted {
        /// The configured minimum.
        minpoll: i8,
        /// The configured maximum.
        maxpoll: i8,
    },
    /// `burst` or `iburst` on a symmetric peer, a broadcast association or
    /// a reference clock.
    #[error(
        "{option} cannot be used with {role}: bursts upset the symmetry of peers and are meaningless for reference clocks and broadcast"
    )]
    BurstNotAllowed {
        /// `burst` or `iburst`.
        option: &'static str,
        /// The kind of association.
        role: &'static str,
    },
}

/// The poll options of one association.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollConfig {
    /// The minimum poll exponent (`minpoll`, default 6).
    pub minpoll: i8,
    /// The maximum poll exponent (`maxpoll`, default 10).
    pub maxpoll: i8,
    /// `burst`: a burst at each poll while the server is reachable.
    pub burst: bool,
    /// `iburst`: a burst at each poll while the server is unreachable.
    pub iburst: bool,
    /// The kind of association.
    pub role: PollRole,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            minpoll: DEFAULT_MINPOLL,
            maxpoll: DEFAULT_MAXPOLL,
            burst: false,
            iburst: false,
            role: PollRole::Client,
        }
    }
}

impl PollConfig {
    /// Checks the bounds and the burst options against the role.
    pub fn validate(&self) -> Result<(), PollConfigError> {
        for exponent in [self.minpoll, self.maxpoll] {
            if !(MINPOLL_LIMIT..=MAXPOLL_LIMIT).contains(&exponent) {
                return Err(PollConfigError::OutOfRange(exponent));
            }
        }
        if self.minpoll > self.maxpoll {
            return Err(PollConfigError::Inverted {
                minpoll: self.minpoll,
                maxpoll: self.maxpoll,
            });
        }
        let role = match self.role {
            PollRole::Client => return Ok(()),
            PollRole::Symmetric => "symmetric peers",
            PollRole::BroadcastServer => "broadcast servers",
            PollRole::ListenOnly => "broadcast clients",
            PollRole::Refclock => "reference clocks",
        };
        for (on, option) in [(self.burst, "burst"), (self.iburst, "iburst")] {
            if on {
                return Err(PollConfigError::BurstNotAllowed { option, role });
            }
        }
        Ok(())
    }
}

/// The number of packets in a `burst` at poll exponent `hpoll`: 1 at 16 s,
/// 2 at 32 s, 4 at 64 s, 8 at 128 s and above, so that the average headway
/// stays at least 16 s (seed 001, DESIGN.md).
pub fn burst_count(hpoll: i8) -> u8 {
    match hpoll {
        p if p <= 4 => 1,
        5 => 2,
        6 => 4,
        _ => MAX_BURST_COUNT,
    }
}

/// Where a burst stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BurstState {
    /// Not in a burst.
    #[default]
    Idle,
    /// The first packet was sent; the rest wait for its reply.
    AwaitingReply {
        /// Packets still to send after the reply.
        remaining: u8,
        /// Times the first packet has been sent again.
        retries: u8,
    },
    /// A reply came; the rest go out at 2 s intervals.
    Sending {
        /// Packets still to send.
        remaining: u8,
    },
}

/// What the caller does at a poll deadline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollEvent {
    /// Send a packet now.
    pub send: bool,
    /// The last three polls went unanswered: shift a dummy sample (0,
    /// MAXDISP) into the clock filter (RFC 5905 A.5.7.1).
    pub stuff_filter: bool,
    /// The reach register just became zero (the server was reachable
    /// before this poll).
    pub lost_reach: bool,
    /// The unreach counter passed [`UNREACH_THRESHOLD`]: a preemptable or
    /// ephemeral association is now a candidate for demobilisation.
    pub timed_out: bool,
    /// This packet is part of a burst (a synchronised system process waits
    /// for the burst's end before selecting; an unsynchronised one selects
    /// on every sample).
    pub in_burst: bool,
}

/// The poll process of one association (RFC 5905 figure 29 variables:
/// hpoll, ppoll, reach, unreach, burst, next and last).
#[derive(Clone, Debug)]
pub struct Poller {
    config: PollConfig,
    /// Host poll exponent.
    hpoll: i8,
    /// Peer poll exponent (from the last packet; symmetric peers match it).
    ppoll: i8,
    /// The poll exponent the system process (discipline) recommends.
    system_poll: i8,
    /// A floor raised by RATE kisses.
    rate_floor: i8,
    reach: u8,
    unreach: u32,
    burst: BurstState,
    /// When the current poll cycle started (the RFC's outdate/last).
    last: Uptime,
    /// When the last packet was sent.
    last_sent: Option<Uptime>,
    next: Uptime,
    /// Stopped for good (DENY/RSTR, demobilised).
    stopped: bool,
    /// An iburst is due at the next unreachable poll (at start-up and
    /// after reachability is lost).
    iburst_armed: bool,
    /// The burst in progress (if any) is an iburst.
    iburst_running: bool,
    random: SplitMix64,
}

impl Poller {
    /// A poller for an association mobilised at `now`, with `seed` for the
    /// send-time randomisation. An invalid configuration is clamped (call
    /// [`PollConfig::validate`] first to report it).
    ///
    /// The first poll is at a random time within [`IBURST_START_SPREAD`]
    /// with `iburst` (or for a symmetric peer), within the minimum poll
    /// interval otherwise (RFC 5905 `clear()`), so that
    /// many clients started together do not poll in lockstep.
    pub fn new(config: PollConfig, now: Uptime, seed: u64) -> Self {
        let minpoll = config.minpoll.clamp(MINPOLL_LIMIT, MAXPOLL_LIMIT);
        let maxpoll = config.maxpoll.clamp(minpoll, MAXPOLL_LIMIT);
        let config = PollConfig {
            minpoll,
            maxpoll,
            ..config
        };
        let mut random = SplitMix64::new(seed);
        let first = if config.iburst || config.role == PollRole::Symmetric {
            random.below(IBURST_START_SPREAD)
        } else if config.role == PollRole::Refclock {
            // A reference clock's filter collects samples for one poll
            // interval before its first poll.
            poll_interval(minpoll)
        } else {
            random.below(poll_interval(minpoll))
        };
        Self {
            config,
            hpoll: minpoll,
            ppoll: MAXPOLL_LIMIT,
            system_poll: minpoll,
            rate_floor: MINPOLL_LIMIT,
            reach: 0,
            unreach: 0,
            burst: BurstState::Idle,
            last: now,
            last_sent: None,
            next: now + first,
            stopped: false,
            iburst_armed: true,
            iburst_running: false,
            random,
        }
    }

    /// The configuration in force (bounds clamped).
    pub fn config(&self) -> &PollConfig {
        &self.config
    }

    /// The host poll exponent (hpoll).
    pub fn hpoll(&self) -> i8 {
        self.hpoll
    }

    /// The peer poll exponent (ppoll) last heard.
    pub fn ppoll(&self) -> i8 {
        self.ppoll
    }

    /// The exponent written in outgoing packets' poll field.
    pub fn packet_poll(&self) -> i8 {
        self.hpoll
    }

    /// The reach register (8 bits, newest poll in bit 0).
    pub fn reach(&self) -> u8 {
        self.reach
    }

    /// The unreach counter: polls since the last valid packet.
    pub fn unreach(&self) -> u32 {
        self.unreach
    }

    /// Where the burst stands.
    pub fn burst(&self) -> BurstState {
        self.burst
    }

    /// Whether a burst is in progress.
    pub fn in_burst(&self) -> bool {
        self.burst != BurstState::Idle
    }

    /// Whether the burst in progress is an `iburst` (the start-up burst
    /// of an unreachable server), not a `burst` at a regular poll.
    pub fn in_iburst(&self) -> bool {
        self.in_burst() && self.iburst_running
    }

    /// The effective minimum poll exponent (configured, raised by RATE).
    pub fn minpoll(&self) -> i8 {
        self.config.minpoll.max(self.rate_floor)
    }

    /// The effective maximum poll exponent.
    pub fn maxpoll(&self) -> i8 {
        self.config.maxpoll.max(self.rate_floor)
    }

    /// When the next poll is due ([`Uptime::NEVER`] once stopped).
    pub fn poll_timeout(&self) -> Uptime {
        if self.stopped {
            Uptime::NEVER
        } else {
            self.next
        }
    }

    /// Stops all polling for good (DENY/RSTR kiss, demobilisation).
    pub fn stop(&mut self) {
        self.stopped = true;
        self.burst = BurstState::Idle;
    }

    /// Whether polling was stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Switches the role (a broadcast client becomes listen-only after its
    /// volley). Any burst ends.
    pub fn set_role(&mut self, role: PollRole) {
        self.config.role = role;
        if role != PollRole::Client {
            self.burst = BurstState::Idle;
            self.config.burst = false;
            self.config.iburst = false;
        }
    }

    /// The poll exponent the system process recommends (the discipline's
    /// time constant, s.poll). Used at the next poll while reachable,
    /// clamped to the association's bounds.
    pub fn set_system_poll(&mut self, exponent: i8) {
        self.system_poll = exponent;
    }

    fn clamp_poll(&self, exponent: i8) -> i8 {
        exponent.clamp(self.minpoll(), self.maxpoll())
    }

    /// The interval between regular polls: `2^max(min(ppoll, hpoll),
    /// minpoll)` (RFC 5905 `poll_update()`).
    pub fn interval(&self) -> Duration {
        poll_interval(self.ppoll.min(self.hpoll).max(self.minpoll()))
    }

    /// Random lead to de-synchronise clients: up to 1/16 of the interval,
    /// subtracted; symmetric peers, broadcast servers and reference clocks
    /// (a local device, no one to de-synchronise from) keep exact times.
    fn randomised(&mut self, interval: Duration) -> Duration {
        match self.config.role {
            PollRole::Client => interval - self.random.below(interval / 16),
            _ => interval,
        }
    }

    fn schedule_regular(&mut self, now: Uptime) {
        let interval = self.interval();
        let interval = self.randomised(interval);
        self.next = self.last + interval;
        if self.next <= now {
            self.next = now + Duration::from_secs(1);
        }
    }

    /// Runs the poll process at a deadline (RFC 5905 A.5.7.1 `poll()`),
    /// and says whether to send. Call it when `now >= poll_timeout()`;
    /// earlier calls do nothing.
    pub fn handle_timeout(&mut self, now: Uptime) -> PollEvent {
        let mut event = PollEvent::default();
        if self.stopped || now < self.next {
            return event;
        }
        if let BurstState::Sending { remaining } = self.burst {
            // In a burst: send the next packet, 2 s after the last.
            let remaining = remaining.saturating_sub(1);
            event.send = true;
            event.in_burst = true;
            self.last_sent = Some(now);
            if remaining == 0 {
                self.burst = BurstState::Idle;
                self.schedule_regular(now);
            } else {
                self.burst = BurstState::Sending { remaining };
                self.next = now + BURST_INTERVAL;
            }
            return event;
        }
        // A regular poll (or a retry of a burst's unanswered first packet).
        self.last = now;
        let was_reachable = self.reach != 0;
        if self.config.role != PollRole::BroadcastServer {
            self.reach <<= 1;
            if self.reach & 0x07 == 0 {
                event.stuff_filter = true;
            }
            event.lost_reach = was_reachable && self.reach == 0;
            if event.lost_reach {
                self.iburst_armed = true;
            }
        }
        let mut hpoll = self.hpoll;
        match self.burst {
            BurstState::AwaitingReply { remaining, retries } if retries < BURST_RETRIES => {
                // The first packet of the burst is sent again after the
                // minimum poll interval.
                self.burst = BurstState::AwaitingReply {
                    remaining,
                    retries: retries + 1,
                };
                self.unreach += 1;
                hpoll = self.minpoll();
                event.in_burst = true;
            }
            _ => {
                if matches!(self.burst, BurstState::AwaitingReply { .. }) {
                    // Retries exhausted: give up the burst, back off.
                    self.burst = BurstState::Idle;
                }
                if self.config.role == PollRole::BroadcastServer {
                    hpoll = self.minpoll();
                } else if self.reach == 0 {
                    if self.config.iburst && self.iburst_armed {
                        self.iburst_armed = false;
                        self.start_burst(IBURST_COUNT);
                        self.iburst_running = true;
                        event.in_burst = true;
                    } else if self.unreach >= UNREACH_THRESHOLD
                        // A reference clock is polled at its minpoll
                        // whatever its reach (ntpd's refclock_transmit()).
                        && self.config.role != PollRole::Refclock
                    {
                        hpoll = hpoll.saturating_add(1);
                        self.unreach = 0;
                        event.timed_out = true;
                    }
                    self.unreach += 1;
                } else {
                    self.unreach = 0;
                    hpoll = self.system_poll;
                    if self.config.burst {
                        self.start_burst(burst_count(self.clamp_poll(hpoll)));
                        event.in_burst = self.in_burst();
                    }
                }
            }
        }
        self.hpoll = self.clamp_poll(hpoll);
        event.send = self.config.role != PollRole::ListenOnly;
        if event.send {
            self.last_sent = Some(now);
        }
        if let BurstState::AwaitingReply { .. } = self.burst {
            // Retry the first packet after the minimum poll interval.
            self.next = now + poll_interval(self.minpoll());
        } else {
            self.schedule_regular(now);
        }
        event
    }

    fn start_burst(&mut self, count: u8) {
        self.iburst_running = false;
        self.burst = if count > 1 {
            BurstState::AwaitingReply {
                remaining: count - 1,
                retries: 0,
            }
        } else {
            BurstState::Idle
        };
    }

    /// A valid packet arrived (RFC 5905 `packet()`: `reach |= 1`,
    /// `poll_update()`). `peer_poll` is the packet's poll field, if the
    /// association tracks it (symmetric peers match their polls). The rest
    /// of a burst waiting for this reply is released at 2 s intervals.
    pub fn handle_reply(&mut self, now: Uptime, peer_poll: Option<i8>) {
        self.reach |= 1;
        self.unreach = 0;
        if let Some(ppoll) = peer_poll {
            self.ppoll = ppoll.clamp(MINPOLL_LIMIT, MAXPOLL_LIMIT);
        }
        if self.stopped {
            return;
        }
        match self.burst {
            BurstState::AwaitingReply { remaining, .. } => {
                self.burst = BurstState::Sending { remaining };
                let after_last = self.last_sent.map_or(now, |t| t + BURST_INTERVAL);
                self.next = after_last.max(now);
            }
            BurstState::Sending { .. } => {}
            BurstState::Idle => {
                // A shorter peer poll can pull the next poll earlier.
                if peer_poll.is_some() {
                    self.schedule_regular(now);
                }
            }
        }
    }

    /// A RATE kiss arrived (already origin-checked): the poll exponent
    /// rises to at least the server's, and at least one step above the
    /// current one; it stays there (the floor is kept); any burst stops.
    pub fn handle_rate_kiss(&mut self, now: Uptime, server_poll: i8) {
        let raised = server_poll
            .max(self.hpoll.saturating_add(1))
            .clamp(MINPOLL_LIMIT, MAXPOLL_LIMIT);
        self.rate_floor = self.rate_floor.max(raised);
        self.hpoll = self.clamp_poll(raised);
        self.ppoll = self.ppoll.max(self.hpoll);
        self.burst = BurstState::Idle;
        self.last = self.last_sent.unwrap_or(now);
        self.schedule_regular(now);
    }

    /// Forgets reachability, as after a clock step or a reset (`clear()`):
    /// reach 0, unreach 0, poll at minimum, next poll soon.
    pub fn reset(&mut self, now: Uptime) {
        self.reach = 0;
        self.unreach = 0;
        self.hpoll = self.minpoll();
        self.burst = BurstState::Idle;
        self.iburst_armed = true;
        self.iburst_running = false;
        self.last = now;
        let first = self.random.below(IBURST_START_SPREAD);
        self.next = now + first;
    }
}

/// The jitter-driven poll adjustment of RFC 5905 A.5.5 (`clock_adjust`'s
/// hysteresis; the "jiggle counter" of the 4.2.8 Poll Process page): after
/// each clock update, an offset below PGATE (4) times the clock jitter adds
/// the poll exponent to a counter, a larger one subtracts twice the poll
/// exponent; at +30 the poll exponent rises, at -30 it falls.
///
/// The discipline crate owns the clock jitter; it can run this rule or its
/// own and hand the result to [`Poller::set_system_poll`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollAdjust {
    /// The system poll exponent, s.poll.
    pub poll: i8,
    /// The jiggle counter, c.count.
    pub count: i32,
    /// Lower bound.
    pub minpoll: i8,
    /// Upper bound.
    pub maxpoll: i8,
}

/// LIMIT: the jiggle counter threshold.
pub const POLL_ADJUST_LIMIT: i32 = 30;
/// PGATE: the offset/jitter gate.
pub const POLL_ADJUST_GATE: f64 = 4.0;

impl PollAdjust {
    /// Starts at `minpoll`.
    pub fn new(minpoll: i8, maxpoll: i8) -> Self {
        Self {
            poll: minpoll,
            count: 0,
            minpoll,
            maxpoll,
        }
    }

    /// One clock update with `offset` and `clock_jitter` in seconds;
    /// returns the new system poll exponent.
    pub fn update(&mut self, offset: f64, clock_jitter: f64) -> i8 {
        let poll = i32::from(self.poll);
        if offset.abs() < POLL_ADJUST_GATE * clock_jitter {
            self.count += poll;
            if self.count > POLL_ADJUST_LIMIT {
                self.count = POLL_ADJUST_LIMIT;
                if self.poll < self.maxpoll {
                    self.count = 0;
                    self.poll += 1;
                }
            }
        } else {
            self.count -= poll << 1;
            if self.count < -POLL_ADJUST_LIMIT {
                self.count = -POLL_ADJUST_LIMIT;
                if self.poll > self.minpoll {
                    self.count = 0;
                    self.poll -= 1;
                }
            }
        }
        self.poll
    }
}

/// The manycast client's schedule: an expanding-ring search over the `ttl`
/// list while fewer than `minclock` servers are found, then one packet per
/// `tos beacon` interval; the search starts over from the first TTL when
/// the servers fall below `minclock` again.
#[derive(Clone, Debug)]
pub struct ManycastRing {
    ttls: Vec<u8>,
    index: usize,
    minclock: usize,
    beacon: Duration,
    interval: Duration,
    next: Uptime,
    searching: bool,
}

/// The default `ttl` list: eight multiples of 32 starting at 31.
pub const DEFAULT_TTLS: [u8; 8] = [31, 63, 95, 127, 159, 191, 223, 255];

impl ManycastRing {
    /// A ring over `ttls` (the default list if empty), sending every
    /// `2^minpoll` s while searching and every `beacon` once `minclock`
    /// servers are found; the first packet goes at `now`.
    pub fn new(ttls: &[u8], minpoll: i8, minclock: usize, beacon: Duration, now: Uptime) -> Self {
        let ttls = if ttls.is_empty() {
            DEFAULT_TTLS.to_vec()
        } else {
            ttls.to_vec()
        };
        Self {
            ttls,
            index: 0,
            minclock: minclock.max(1),
            beacon,
            interval: poll_interval(minpoll.clamp(MINPOLL_LIMIT, MAXPOLL_LIMIT)),
            next: now,
            searching: true,
        }
    }

    /// When the next packet is due.
    pub fn poll_timeout(&self) -> Uptime {
        self.next
    }

    /// Whether the ring is searching (fewer than `minclock` servers).
    pub fn is_searching(&self) -> bool {
        self.searching
    }

    /// At a deadline, with `found` servers currently associated: the TTL to
    /// send a client packet with, if one is to be sent.
    pub fn handle_timeout(&mut self, now: Uptime, found: usize) -> Option<u8> {
        if now < self.next {
            return None;
        }
        if found >= self.minclock {
            // Enough: keep them alive with a beacon at the widest TTL used.
            self.searching = false;
            self.next = now + self.beacon;
            let ttl = self.ttls.get(self.index.saturating_sub(1)).copied();
            return ttl.or(self.ttls.first().copied());
        }
        if !self.searching {
            // Fell below minclock: start the search again.
            self.searching = true;
            self.index = 0;
        }
        let ttl = self.ttls.get(self.index).or(self.ttls.last()).copied();
        if self.index < self.ttls.len() {
            self.index += 1;
        }
        self.next = now + self.interval;
        ttl
    }

    /// The number of associated servers changed; if it fell below
    /// `minclock` while beaconing, the search resumes at once.
    pub fn servers_changed(&mut self, now: Uptime, found: usize) {
        if !self.searching && found < self.minclock {
            self.searching = true;
            self.index = 0;
            self.next = now;
        }
    }
}

#[cfg(test)]
mod tests;
