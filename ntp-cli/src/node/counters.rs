//! The node's packet and event counters (`ntpctl status`): a fixed array
//! indexed by [`Counter`], and fixed-size tables of rejection reasons and
//! kiss codes, so that counting never allocates. Names are given to them
//! only by the presentation layer (`control::report`).

use ntp_assoc::Rejection;
use ntp_wire::refid::KissCode;

/// What the node counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Counter {
    /// Datagrams handed to the node.
    Received,
    /// Client requests answered.
    Served,
    /// Packets processed by an association.
    Processed,
    /// Datagrams sent.
    Sent,
    /// Kiss-o'-Death RATE replies sent.
    KodRate,
    /// Crypto-NAKs sent (a request whose MAC failed).
    CryptoNak,
    /// Dropped by `restrict ... ignore`.
    DroppedIgnore,
    /// Dropped by the rate limit.
    DroppedRateLimit,
    /// Mode 6/7 queries dropped by `restrict ... noquery`.
    DroppedNoquery,
    /// Mode 6/7 queries dropped because they are not served.
    DroppedControl,
    /// Clock steps.
    ClockSteps,
    /// Failed reads of the clock (the handler that needed the time did not run).
    ClockReadErrors,
}

impl Counter {
    /// Every counter, in report order.
    pub const ALL: [Counter; 12] = [
        Counter::Received,
        Counter::Served,
        Counter::Processed,
        Counter::Sent,
        Counter::KodRate,
        Counter::CryptoNak,
        Counter::DroppedIgnore,
        Counter::DroppedRateLimit,
        Counter::DroppedNoquery,
        Counter::DroppedControl,
        Counter::ClockSteps,
        Counter::ClockReadErrors,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// How many distinct keys a [`KeyCounts`] table tells apart; further keys
/// are counted together (a flood of packets with many different version
/// numbers cannot grow the table).
pub const KEY_KINDS: usize = 32;

/// Counts by key in a fixed-size table: the first [`KEY_KINDS`] keys seen
/// get their own count, the rest share one.
#[derive(Clone, Debug)]
pub struct KeyCounts<K> {
    slots: [Option<(K, u64)>; KEY_KINDS],
    other: u64,
}

impl<K> Default for KeyCounts<K> {
    fn default() -> Self {
        Self {
            slots: [const { None }; KEY_KINDS],
            other: 0,
        }
    }
}

impl<K: Copy + PartialEq> KeyCounts<K> {
    /// Counts one `key`.
    pub fn count(&mut self, key: K) {
        for slot in &mut self.slots {
            match slot {
                Some((k, count)) if *k == key => {
                    *count += 1;
                    return;
                }
                Some(_) => {}
                None => {
                    *slot = Some((key, 1));
                    return;
                }
            }
        }
        self.other += 1;
    }

    /// The keys seen, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (K, u64)> + '_ {
        self.slots.iter().flatten().copied()
    }

    /// The count of keys beyond the table.
    pub fn other(&self) -> u64 {
        self.other
    }
}

/// All the node's counters.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    fixed: [u64; Counter::ALL.len()],
    /// Packets refused by the peer process, by reason.
    pub rejected: KeyCounts<Rejection>,
    /// Kiss-o'-Death codes honoured, by code.
    pub kisses: KeyCounts<KissCode>,
}

impl Counters {
    /// Counts one `counter`.
    pub fn add(&mut self, counter: Counter) {
        self.fixed[counter.index()] += 1;
    }

    /// The value of `counter`.
    pub fn get(&self, counter: Counter) -> u64 {
        self.fixed[counter.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_enum_and_bounded_tables() {
        let mut counters = Counters::default();
        counters.add(Counter::Sent);
        counters.add(Counter::Sent);
        counters.add(Counter::ClockReadErrors);
        assert_eq!(counters.get(Counter::Sent), 2);
        assert_eq!(counters.get(Counter::ClockReadErrors), 1);
        assert_eq!(counters.get(Counter::Received), 0);
        let mut table = KeyCounts::<u32>::default();
        for key in 0..(KEY_KINDS as u32 + 5) {
            table.count(key);
        }
        table.count(0);
        assert_eq!(table.iter().count(), KEY_KINDS);
        assert_eq!(table.iter().find(|(k, _)| *k == 0), Some((0, 2)));
        assert_eq!(table.other(), 5);
    }

    #[test]
    fn every_counter_has_its_own_slot() {
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }
}
