//! Access control for incoming packets: `restrict` lists (longest prefix
//! match, the reference implementation's flags) and the per-client rate
//! limiter behind `discard` and `restrict ... limited kod`.
//!
//! The rate limiter keeps a fixed-size table indexed by a hash of the
//! client address (the reference implementation's MRU list, bounded): one
//! lookup per packet, no allocation after start-up, and memory that stays
//! the same under a flood from any number of addresses. A client that
//! collides with another simply takes its slot.
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::Duration;
//! use ntp_assoc::access::{RateLimiter, RateVerdict};
//!
//! let mut limiter = RateLimiter::new(1024, 3, Duration::from_secs(2));
//! let client: IpAddr = "192.0.2.9".parse().unwrap();
//! let t = Duration::from_secs(100);
//! assert_eq!(limiter.check(client, t), RateVerdict::Allow);
//! // A second packet within the minimum headway is over the limit, and
//! // the first such packet may be answered with a KoD.
//! assert_eq!(limiter.check(client, t + Duration::from_millis(10)), RateVerdict::Limit { kiss: true });
//! assert_eq!(limiter.check(client, t + Duration::from_millis(20)), RateVerdict::Limit { kiss: false });
//! ```

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::time::Duration;

use crate::endpoint::Access;
use ntp_wire::refid::KissCode;

/// The restriction flags of one `restrict` line (the reference
/// implementation's accopt page).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestrictFlags {
    /// `ignore`: drop every packet.
    pub ignore: bool,
    /// `noserve`: no time service.
    pub noserve: bool,
    /// `noquery`: no mode 6/7 queries.
    pub noquery: bool,
    /// `nopeer`: no associations mobilised by packets.
    pub nopeer: bool,
    /// `notrust`: only authenticated packets.
    pub notrust: bool,
    /// `limited`: apply the rate limits.
    pub limited: bool,
    /// `kod`: answer rate-limited packets with a KoD RATE.
    pub kod: bool,
    /// `version`: drop packets not of the current version.
    pub version: bool,
}

/// One `restrict` entry: an address prefix and its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestrictEntry {
    /// The network address.
    pub address: IpAddr,
    /// The prefix length in bits.
    pub prefix_len: u8,
    /// The flags.
    pub flags: RestrictFlags,
}

impl RestrictEntry {
    /// Whether `ip` is in this entry's network.
    pub fn matches(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_match(
                u128::from(u32::from(net)) << 96,
                u128::from(u32::from(ip)) << 96,
                self.prefix_len,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_match(u128::from(net), u128::from(ip), self.prefix_len)
            }
            _ => false,
        }
    }
}

fn prefix_match(net: u128, ip: u128, prefix_len: u8) -> bool {
    let mask = if prefix_len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix_len.min(128)))
    };
    net & mask == ip & mask
}

/// A `restrict` list: defaults per family, and entries matched by the
/// longest prefix.
#[derive(Clone, Debug, Default)]
pub struct RestrictList {
    default_v4: RestrictFlags,
    default_v6: RestrictFlags,
    entries: Vec<RestrictEntry>,
}

impl RestrictList {
    /// No restrictions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the `restrict default` flags for IPv4 and/or IPv6.
    pub fn set_default(&mut self, v4: bool, v6: bool, flags: RestrictFlags) {
        if v4 {
            self.default_v4 = flags;
        }
        if v6 {
            self.default_v6 = flags;
        }
    }

    /// Adds (or replaces) an entry.
    pub fn add(&mut self, entry: RestrictEntry) {
        self.entries
            .retain(|e| !(e.address == entry.address && e.prefix_len == entry.prefix_len));
        self.entries.push(entry);
        // Longest prefix first, so that the first match is the best.
        self.entries
            .sort_by_key(|e| std::cmp::Reverse(e.prefix_len));
    }

    /// The flags that apply to `ip`.
    pub fn lookup(&self, ip: IpAddr) -> RestrictFlags {
        let ip = canonical(ip);
        match self.entries.iter().find(|e| e.matches(ip)) {
            Some(entry) => entry.flags,
            None if ip.is_ipv4() => self.default_v4,
            None => self.default_v6,
        }
    }
}

/// IPv4-mapped IPv6 addresses are matched as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What the rate limiter says about one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateVerdict {
    /// Within the limits.
    Allow,
    /// Over the limits; `kiss` is true for the first packet over the limit
    /// in a headway interval (a KoD RATE may be sent once, never more).
    Limit {
        /// Whether a KoD may be sent for this packet.
        kiss: bool,
    },
}

/// The per-client rate limiter (`discard average A minimum M`).
///
/// Each client has a leaky bucket: every packet adds the average headway
/// (2^A seconds) and the bucket drains at one second per second; a packet
/// that would fill it beyond eight headways, or that comes sooner than the
/// minimum headway after the previous one, is over the limit.
///
/// The table is a fixed number of slots, allocated at once and never grown:
/// its size is the memory bound however many clients there are. It is kept
/// as columns of plain numbers whose empty value is all zero bits, so that
/// the allocation comes zeroed from the system and only the slots in use
/// are ever touched (an idle server does not pay for the whole table in
/// resident memory).
#[derive(Clone, Debug)]
pub struct RateLimiter {
    /// One slot per row: the client's address ([`slot_key`], split in two
    /// words; 0 for an empty slot), when its last packet came (nanoseconds
    /// of monotonic time, shifted left by one, with the "KoD allowed in the
    /// current run of limited packets" flag in bit 0), and the leaky-bucket
    /// score (seconds of headway owed, as `f64` bits). One allocation of
    /// 32 octets a slot, large enough to be mapped fresh (zeroed, untouched)
    /// by the allocator.
    slots: Vec<[u64; 4]>,
    mask: usize,
    average: f64,
    minimum: Duration,
    hasher: std::collections::hash_map::RandomState,
}

/// How many average headways a client may burst before it is limited.
const BURST_HEADWAYS: f64 = 8.0;

/// The slot key of a (canonical) address: its IPv6 form (IPv4 as
/// `::ffff:a.b.c.d`) plus one, so that 0 means "empty"; only
/// `ffff:...:ffff`, a multicast address and never a source, maps to 0.
fn slot_key(ip: IpAddr) -> u128 {
    let bits = match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    };
    bits.wrapping_add(1)
}

impl RateLimiter {
    /// A limiter with at least `capacity` slots (rounded up to a power of
    /// two), `average_log2` (the `discard average` exponent) and `minimum`
    /// headway.
    pub fn new(capacity: usize, average_log2: u8, minimum: Duration) -> Self {
        let size = capacity.max(16).next_power_of_two();
        Self {
            // A zero-filled vector of plain numbers is allocated zeroed
            // (calloc): untouched pages stay out of the resident set.
            slots: vec![[0; 4]; size],
            mask: size - 1,
            average: f64::from(1u32 << average_log2.min(16)),
            minimum,
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The number of slots (the memory bound: this many clients are tracked).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn index(&self, ip: IpAddr) -> usize {
        let mut h = self.hasher.build_hasher();
        match ip {
            IpAddr::V4(v4) => h.write(&v4.octets()),
            IpAddr::V6(v6) => h.write(&v6.octets()),
        }
        (h.finish() as usize) & self.mask
    }

    /// Accounts one packet from `ip` at monotonic time `now`.
    pub fn check(&mut self, ip: IpAddr, now: Duration) -> RateVerdict {
        let ip = canonical(ip);
        let index = self.index(ip);
        let key = slot_key(ip);
        let (high, low) = ((key >> 64) as u64, key as u64);
        let average = self.average;
        let minimum = self.minimum;
        // Nanoseconds in 63 bits (292 years of uptime), bit 0 for the flag.
        let now_ns = u64::try_from(now.as_nanos())
            .unwrap_or(u64::MAX)
            .min(u64::MAX >> 1);
        let Some(slot) = self.slots.get_mut(index) else {
            return RateVerdict::Allow;
        };
        if slot[0] != high || slot[1] != low {
            *slot = [high, low, now_ns << 1, average.to_bits()];
            return RateVerdict::Allow;
        }
        let last = slot[2] >> 1;
        let kissed = slot[2] & 1 == 1;
        let elapsed = Duration::from_nanos(now_ns.saturating_sub(last));
        let score = (f64::from_bits(slot[3]) - elapsed.as_secs_f64()).max(0.0) + average;
        slot[3] = score.to_bits();
        let limited = elapsed < minimum || score > average * BURST_HEADWAYS;
        slot[2] = now_ns << 1 | u64::from(limited);
        if !limited {
            return RateVerdict::Allow;
        }
        RateVerdict::Limit { kiss: !kissed }
    }
}

/// Restrictions and rate limits together: the [`Access`] decision for a
/// packet the endpoint is about to handle.
#[derive(Clone, Debug)]
pub struct AccessControl {
    /// The `restrict` list.
    pub restrict: RestrictList,
    /// The rate limiter.
    pub limiter: RateLimiter,
}

/// Why a packet was refused before it reached the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessVerdict {
    /// Hand it to the endpoint with these permissions.
    Pass(Access),
    /// `restrict ... ignore`.
    Ignored,
    /// Rate-limited and dropped (no `kod`, or a KoD was sent already).
    RateLimited,
    /// A mode 6/7 query from a client with `noquery`.
    QueryRefused,
}

impl AccessControl {
    /// The decision for a packet from `ip` at `now`; `is_query` for mode
    /// 6/7 packets.
    pub fn decide(&mut self, ip: IpAddr, now: Duration, is_query: bool) -> AccessVerdict {
        let flags = self.restrict.lookup(ip);
        if flags.ignore {
            return AccessVerdict::Ignored;
        }
        if is_query && flags.noquery {
            return AccessVerdict::QueryRefused;
        }
        let mut access = Access {
            ignore: false,
            noserve: flags.noserve,
            nopeer: flags.nopeer,
            notrust: flags.notrust,
            kiss: None,
        };
        if flags.limited {
            match self.limiter.check(ip, now) {
                RateVerdict::Allow => {}
                RateVerdict::Limit { kiss: true } if flags.kod => {
                    access.kiss = Some(KissCode::Rate);
                }
                RateVerdict::Limit { .. } => return AccessVerdict::RateLimited,
            }
        }
        AccessVerdict::Pass(access)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> RestrictFlags {
        RestrictFlags::default()
    }

    #[test]
    fn longest_prefix_wins() {
        let mut list = RestrictList::new();
        list.set_default(
            true,
            true,
            RestrictFlags {
                nopeer: true,
                ..flags()
            },
        );
        list.add(RestrictEntry {
            address: "192.0.2.0".parse().unwrap(),
            prefix_len: 24,
            flags: RestrictFlags {
                ignore: true,
                ..flags()
            },
        });
        list.add(RestrictEntry {
            address: "192.0.2.7".parse().unwrap(),
            prefix_len: 32,
            flags: flags(),
        });
        assert!(list.lookup("192.0.2.8".parse().unwrap()).ignore);
        assert_eq!(list.lookup("192.0.2.7".parse().unwrap()), flags());
        assert!(list.lookup("198.51.100.1".parse().unwrap()).nopeer);
        assert!(list.lookup("::1".parse().unwrap()).nopeer);
        // IPv4-mapped IPv6 is matched as IPv4.
        assert!(list.lookup("::ffff:192.0.2.9".parse().unwrap()).ignore);
    }

    #[test]
    fn rate_limit_bucket_and_single_kiss() {
        let mut limiter = RateLimiter::new(64, 3, Duration::from_secs(2));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        // One packet every 8 s (the average headway) is always fine.
        for i in 0..20 {
            assert_eq!(
                limiter.check(ip, Duration::from_secs(8 * i)),
                RateVerdict::Allow
            );
        }
        // Packets every 3 s pass the minimum but fill the bucket.
        let start = Duration::from_secs(1000);
        let mut verdicts = Vec::new();
        for i in 0..20 {
            verdicts.push(limiter.check(ip, start + Duration::from_secs(3 * i)));
        }
        let first_limited = verdicts
            .iter()
            .position(|v| *v != RateVerdict::Allow)
            .unwrap();
        assert!(first_limited > 3, "{verdicts:?}");
        assert_eq!(verdicts[first_limited], RateVerdict::Limit { kiss: true });
        assert!(
            verdicts[first_limited + 1..]
                .iter()
                .all(|v| *v == RateVerdict::Limit { kiss: false })
        );
    }

    #[test]
    fn memory_is_bounded_under_a_flood() {
        let mut limiter = RateLimiter::new(1000, 3, Duration::from_secs(2));
        let capacity = limiter.capacity();
        for i in 0..100_000u32 {
            limiter.check(IpAddr::V4(i.into()), Duration::from_millis(u64::from(i)));
        }
        assert_eq!(limiter.capacity(), capacity);
        assert_eq!(capacity, 1024);
    }

    #[test]
    fn access_decisions() {
        let mut control = AccessControl {
            restrict: RestrictList::new(),
            limiter: RateLimiter::new(64, 3, Duration::from_secs(2)),
        };
        control.restrict.set_default(
            true,
            true,
            RestrictFlags {
                limited: true,
                kod: true,
                noquery: true,
                ..flags()
            },
        );
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Duration::from_secs(10);
        assert!(matches!(control.decide(ip, t, false), AccessVerdict::Pass(a) if a.kiss.is_none()));
        assert!(matches!(
            control.decide(ip, t, false),
            AccessVerdict::Pass(a) if a.kiss == Some(KissCode::Rate)
        ));
        assert_eq!(control.decide(ip, t, false), AccessVerdict::RateLimited);
        assert_eq!(control.decide(ip, t, true), AccessVerdict::QueryRefused);
    }
}
