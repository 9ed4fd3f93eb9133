use std::fmt::Write;

use super::*;

#[derive(Clone, Copy)]
enum Server {
    /// Never answers.
    Silent,
    /// Answers every packet after 25 ms.
    Responsive,
    /// Answers until this many seconds, then goes silent.
    ResponsiveUntil(u64),
    /// Answers; the answer to the packet sent at or after this many
    /// seconds is a RATE kiss with this poll.
    RateKissAt(u64, i8),
}

/// Runs a poller against a simulated server for `until` seconds and
/// returns one line per packet sent.
fn run(config: PollConfig, server: Server, until: u64, system_poll: i8) -> String {
    let mut poller = Poller::new(config, Uptime::ZERO, 7);
    poller.set_system_poll(system_poll);
    let mut out = String::new();
    let mut reply_due: Option<Uptime> = None;
    let mut kissed = false;
    let end = Uptime::from_secs(until);
    loop {
        let poll_at = poller.poll_timeout();
        let next = reply_due.map_or(poll_at, |r| r.min(poll_at));
        if next > end {
            break;
        }
        if Some(next) == reply_due {
            reply_due = None;
            match server {
                Server::RateKissAt(at, poll) if !kissed && next >= Uptime::from_secs(at) => {
                    kissed = true;
                    poller.handle_rate_kiss(next, poll);
                    writeln!(
                        out,
                        "{next:>10} RATE kiss (server poll {poll}) -> hpoll {}",
                        poller.hpoll()
                    )
                    .unwrap();
                }
                _ => poller.handle_reply(next, None),
            }
            continue;
        }
        let event = poller.handle_timeout(next);
        if event.send {
            writeln!(
                out,
                "{next:>10} send hpoll={:<2} reach={:08b} unreach={:<2} burst={:?}{}{}{}",
                poller.hpoll(),
                poller.reach(),
                poller.unreach(),
                poller.burst(),
                if poller.in_iburst() { " iburst" } else { "" },
                if event.stuff_filter { " stuff" } else { "" },
                if event.timed_out { " timed-out" } else { "" },
            )
            .unwrap();
            let answers = match server {
                Server::Silent => false,
                Server::Responsive | Server::RateKissAt(..) => true,
                Server::ResponsiveUntil(t) => next < Uptime::from_secs(t),
            };
            if answers {
                reply_due = Some(next + Duration::from_millis(25));
            }
        }
    }
    out
}

fn client(minpoll: i8, maxpoll: i8, burst: bool, iburst: bool) -> PollConfig {
    PollConfig {
        minpoll,
        maxpoll,
        burst,
        iburst,
        role: PollRole::Client,
    }
}

#[test]
fn iburst_against_responsive_server() {
    insta::assert_snapshot!(run(client(6, 10, false, true), Server::Responsive, 300, 6));
}

#[test]
fn iburst_starts_at_once_and_keeps_two_second_spacing() {
    for seed in 0..200 {
        let mut poller = Poller::new(client(6, 10, false, true), Uptime::ZERO, seed);
        let first = poller.poll_timeout();
        assert!(
            first < Uptime::ZERO + IBURST_START_SPREAD,
            "seed {seed}: {first}"
        );
        assert!(poller.handle_timeout(first).send);
        assert!(poller.in_iburst());
        poller.handle_reply(first + Duration::from_millis(1), None);
        // Never faster than BURST_INTERVAL after the previous packet.
        let mut last = first;
        for _ in 1..IBURST_COUNT {
            let due = poller.poll_timeout();
            assert_eq!(due, last + BURST_INTERVAL);
            assert!(poller.in_iburst());
            assert!(poller.handle_timeout(due).send);
            poller.handle_reply(due + Duration::from_millis(1), None);
            last = due;
        }
        assert!(!poller.in_burst() && !poller.in_iburst());
    }
}

#[test]
fn regular_burst_is_not_an_iburst() {
    let mut poller = Poller::new(client(6, 6, true, false), Uptime::ZERO, 3);
    let first = poller.poll_timeout();
    assert!(poller.handle_timeout(first).send);
    poller.handle_reply(first + Duration::from_millis(1), None);
    let second = poller.poll_timeout();
    assert!(poller.handle_timeout(second).send);
    assert!(poller.in_burst());
    assert!(!poller.in_iburst());
}

#[test]
fn iburst_against_silent_server() {
    insta::assert_snapshot!(run(client(6, 10, false, true), Server::Silent, 3000, 6));
}

#[test]
fn iburst_again_after_reachability_lost() {
    insta::assert_snapshot!(run(
        client(6, 10, false, true),
        Server::ResponsiveUntil(200),
        1400,
        6
    ));
}

#[test]
fn burst_sizes_by_poll() {
    let mut all = String::new();
    for poll in [4, 5, 6, 7, 10] {
        writeln!(all, "== burst at poll {poll} ({} s)", 1u64 << poll).unwrap();
        let text = run(
            client(poll, poll, true, false),
            Server::Responsive,
            (1u64 << poll) * 3,
            poll,
        );
        all.push_str(&text);
    }
    insta::assert_snapshot!(all);
}

#[test]
fn burst_count_table() {
    let counts: Vec<_> = (3..=17).map(|p| (p, burst_count(p))).collect();
    insta::assert_debug_snapshot!(counts);
}

#[test]
fn unreachable_backoff() {
    insta::assert_snapshot!(run(client(6, 10, false, false), Server::Silent, 40_000, 6));
}

#[test]
fn kod_rate_backoff() {
    insta::assert_snapshot!(run(
        client(6, 10, true, false),
        Server::RateKissAt(200, 8),
        2000,
        6
    ));
}

#[test]
fn system_poll_is_followed_within_bounds() {
    let mut poller = Poller::new(client(6, 8, false, false), Uptime::ZERO, 1);
    poller.set_system_poll(12);
    let t = poller.poll_timeout();
    poller.handle_timeout(t);
    poller.handle_reply(t, None);
    let t = poller.poll_timeout();
    poller.handle_timeout(t);
    assert_eq!(poller.hpoll(), 8);
    poller.set_system_poll(3);
    poller.handle_reply(t, None);
    let t = poller.poll_timeout();
    poller.handle_timeout(t);
    assert_eq!(poller.hpoll(), 6);
}

#[test]
fn symmetric_peers_match_poll_without_jitter() {
    let config = PollConfig {
        role: PollRole::Symmetric,
        ..client(6, 10, false, false)
    };
    let mut poller = Poller::new(config, Uptime::ZERO, 1);
    poller.set_system_poll(10);
    let t = poller.poll_timeout();
    poller.handle_timeout(t);
    poller.handle_reply(t, Some(7));
    let t2 = poller.poll_timeout();
    poller.handle_timeout(t2);
    // hpoll follows the system poll, but the interval is min(ppoll, hpoll).
    assert_eq!(poller.hpoll(), 10);
    assert_eq!(poller.poll_timeout(), t2 + Duration::from_secs(128));
}

#[test]
fn config_validation() {
    assert_eq!(PollConfig::default().validate(), Ok(()));
    assert_eq!(
        client(2, 10, false, false).validate(),
        Err(PollConfigError::OutOfRange(2))
    );
    assert_eq!(
        client(8, 6, false, false).validate(),
        Err(PollConfigError::Inverted {
            minpoll: 8,
            maxpoll: 6
        })
    );
    let peer = PollConfig {
        role: PollRole::Symmetric,
        ..client(6, 10, false, true)
    };
    let err = peer.validate().unwrap_err();
    assert_eq!(
        err,
        PollConfigError::BurstNotAllowed {
            option: "iburst",
            role: "symmetric peers"
        }
    );
    assert!(
        err.to_string()
            .contains("iburst cannot be used with symmetric peers")
    );
    let refclock = PollConfig {
        role: PollRole::Refclock,
        ..client(4, 4, true, false)
    };
    assert!(refclock.validate().is_err());
}

#[test]
fn listen_only_never_sends_but_ages_reach() {
    let config = PollConfig {
        role: PollRole::ListenOnly,
        ..PollConfig::default()
    };
    let mut poller = Poller::new(config, Uptime::ZERO, 3);
    poller.handle_reply(Uptime::ZERO, None);
    for _ in 0..8 {
        let t = poller.poll_timeout();
        assert!(!poller.handle_timeout(t).send);
    }
    assert_eq!(poller.reach(), 0);
}

#[test]
fn stopped_poller_has_no_deadline() {
    let mut poller = Poller::new(PollConfig::default(), Uptime::ZERO, 3);
    poller.stop();
    assert_eq!(poller.poll_timeout(), Uptime::NEVER);
    assert!(!poller.handle_timeout(Uptime::from_secs(10_000)).send);
}

#[test]
fn jiggle_counter() {
    let mut adjust = PollAdjust::new(6, 10);
    let mut trace = Vec::new();
    // Quiet offsets: the poll rises slowly.
    for _ in 0..12 {
        trace.push(adjust.update(0.0001, 0.001));
    }
    // Noisy offsets: it falls fast.
    for _ in 0..6 {
        trace.push(adjust.update(0.1, 0.001));
    }
    insta::assert_debug_snapshot!(trace);
}

fn manycast_run(servers_after: &[(u64, usize)], until: u64) -> String {
    let mut ring = ManycastRing::new(&[], 6, 3, DEFAULT_BEACON, Uptime::ZERO);
    let mut out = String::new();
    let found_at = |t: Uptime| {
        servers_after
            .iter()
            .rev()
            .find(|(s, _)| t >= Uptime::from_secs(*s))
            .map_or(0, |(_, n)| *n)
    };
    loop {
        let t = ring.poll_timeout();
        if t > Uptime::from_secs(until) {
            break;
        }
        let found = found_at(t);
        match ring.handle_timeout(t, found) {
            Some(ttl) => writeln!(
                out,
                "{t:>10} found={found} send ttl={ttl:<3} {}",
                if ring.is_searching() {
                    "searching"
                } else {
                    "beacon"
                }
            )
            .unwrap(),
            None => writeln!(out, "{t:>10} found={found} quiet").unwrap(),
        }
    }
    out
}

#[test]
fn manycast_ring_finds_none() {
    insta::assert_snapshot!(manycast_run(&[], 700));
}

#[test]
fn manycast_ring_finds_one() {
    insta::assert_snapshot!(manycast_run(&[(130, 1)], 700));
}

#[test]
fn manycast_ring_finds_three_then_loses_one() {
    insta::assert_snapshot!(manycast_run(&[(130, 1), (190, 3), (8000, 2)], 11_300));
}

#[test]
fn splitmix_is_deterministic() {
    let mut a = SplitMix64::new(0);
    let mut b = SplitMix64::new(0);
    assert_eq!(a.next_u64(), b.next_u64());
    assert_eq!(a.below(Duration::ZERO), Duration::ZERO);
    assert!(a.below(Duration::from_secs(1)) < Duration::from_secs(1));
}

#[test]
fn refclock_is_polled_at_minpoll_without_back_off() {
    let config = PollConfig {
        role: PollRole::Refclock,
        minpoll: 4,
        maxpoll: 6,
        ..PollConfig::default()
    };
    let mut poller = Poller::new(config, Uptime::ZERO, 11);
    // The filter collects one poll interval of samples first.
    let first = poller.poll_timeout();
    assert_eq!(first, Uptime::from_secs(16));
    // Never a reply (no fix): 40 polls, at exactly 16 s.
    let mut last = first;
    assert!(poller.handle_timeout(first).send);
    for _ in 0..40 {
        let t = poller.poll_timeout();
        let gap = t.saturating_since(last).as_secs_f64();
        assert_eq!(gap, 16.0);
        assert!(poller.handle_timeout(t).send);
        last = t;
    }
    assert_eq!(poller.hpoll(), 4);
}
