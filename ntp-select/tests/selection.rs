//! Table tests of the system process rules, with snapshots of the selection
//! tables (tally, offset, root distance, correctness interval, selection
//! jitter, weight, reason; times in ms).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use insta::assert_snapshot;
use ntp_select::{
    Candidate, CandidateFlags, PHI, Reject, Role, SelectState, SelectionResult, SystemProcess,
    Tally, TosSettings, clock_select,
};
use ntp_wire::packet::LeapIndicator;
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, Uptime};

fn now() -> Uptime {
    Uptime::from_secs(100_000)
}

fn ms(value: f64) -> NtpDuration {
    NtpDuration::from_seconds_f64(value / 1e3)
}

const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

/// A reachable stratum-2 server at 10.0.0.`id` with the given offset: delay
/// 20 ms, root delay 10 ms, dispersion 1 ms, root dispersion 5 ms, jitter
/// 0.5 ms, so lambda = 15 + 1 + 5 + 0.5 = 21.5 ms.
fn server(id: u32, offset_ms: f64) -> Candidate<u32> {
    Candidate {
        address: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8))),
        local_refid: Some(ReferenceId::from_ipv4(LOCAL)),
        stratum: 2,
        leap: LeapIndicator::NoWarning,
        reference_id: ReferenceId::from_ipv4(Ipv4Addr::new(192, 168, 1, 1)),
        offset: ms(offset_ms),
        delay: ms(20.0),
        dispersion: ms(1.0),
        jitter: ms(0.5),
        root_delay: ms(10.0),
        root_dispersion: ms(5.0),
        reach: 0o377,
        poll: 6,
        update_time: now(),
        epoch: now(),
        ..Candidate::new(id)
    }
}

fn run(candidates: &[Candidate<u32>], tos: &TosSettings) -> SelectionResult<u32> {
    clock_select(candidates, tos, &mut SelectState::default(), now())
}

fn tallies(result: &SelectionResult<u32>) -> String {
    result.candidates.iter().map(|r| r.tally.code()).collect()
}

fn offset_ms(result: &SelectionResult<u32>) -> f64 {
    result
        .system
        .expect("system variables")
        .offset
        .to_seconds_f64()
        * 1e3
}

// ---------------------------------------------------------------- intersection

#[test]
fn three_truechimers_two_falsetickers() {
    let candidates = [
        server(1, 1.0),
        server(2, 2.5),
        server(3, 4.0),
        server(4, 500.0),
        server(5, -800.0),
    ];
    let result = run(&candidates, &TosSettings::default());
    // The system peer is the survivor in the middle.
    assert_eq!(tallies(&result), "+*+xx");
    let x = result.intersection.expect("intersection");
    assert_eq!(x.allowed_falsetickers, 2);
    assert_snapshot!(result.to_string());
}

#[test]
fn all_agree() {
    let candidates = [
        server(1, 1.0),
        server(2, 1.2),
        server(3, 0.9),
        server(4, 1.1),
        server(5, 1.05),
    ];
    let result = run(&candidates, &TosSettings::default());
    assert!(
        result
            .candidates
            .iter()
            .all(|r| r.tally != Tally::Falseticker)
    );
    assert_eq!(result.intersection.expect("found").allowed_falsetickers, 0);
    assert_snapshot!(result.to_string());
}

#[test]
fn none_agree() {
    let candidates = [
        server(1, 0.0),
        server(2, 1000.0),
        server(3, -1000.0),
        server(4, 2000.0),
    ];
    let result = run(&candidates, &TosSettings::default());
    assert_eq!(tallies(&result), "xxxx");
    assert_eq!(result.sys_peer, None);
    assert_eq!(result.system, None);
    assert_snapshot!(result.to_string());
}

/// With 2f+1 candidates of which f lie (colluding at the same offset), the
/// liars are found and the combined offset stays inside the truechimers'
/// interval.
#[test]
fn byzantine_tables() {
    for f in 1..=3u32 {
        let mut candidates = Vec::new();
        for i in 0..=f {
            candidates.push(server(i + 1, f64::from(i) * 0.7 - 1.0));
        }
        for i in 0..f {
            candidates.push(server(f + 2 + i, 300.0 + f64::from(i)));
        }
        let result = run(&candidates, &TosSettings::default());
        let liars: Vec<u32> = (f + 2..f + 2 + f).collect();
        for r in &result.candidates {
            if liars.contains(&r.id) {
                assert_eq!(r.tally, Tally::Falseticker, "f={f} id={}", r.id);
            } else {
                assert_ne!(r.tally, Tally::Falseticker, "f={f} id={}", r.id);
            }
        }
        let x = result.intersection.expect("majority clique");
        assert_eq!(x.allowed_falsetickers, f as usize);
        let offset = offset_ms(&result) / 1e3;
        assert!(x.low <= offset && offset <= x.high, "f={f}");
        let truechimer_offsets: Vec<f64> = result.truechimers().map(|r| r.offset).collect();
        let lo = truechimer_offsets
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let hi = truechimer_offsets
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(lo <= offset && offset <= hi, "f={f}");
        if f == 2 {
            assert_snapshot!(result.to_string());
        }
    }
}

#[test]
fn two_disagreeing_candidates_leave_the_clock_undisciplined() {
    let result = run(&[server(1, 0.0), server(2, 200.0)], &TosSettings::default());
    assert_eq!(tallies(&result), "xx");
    assert_eq!(result.sys_peer, None);
}

#[test]
fn minsane_not_met_means_no_system_peer() {
    let candidates = [server(1, 1.0), server(2, 2.0)];
    let default = run(&candidates, &TosSettings::default());
    assert_eq!(default.sys_peer, Some(1));

    let tos = TosSettings {
        minsane: 3,
        ..TosSettings::default()
    };
    let result = run(&candidates, &tos);
    assert_eq!(result.sys_peer, None);
    assert_eq!(result.system, None);
    assert_eq!(tallies(&result), "++");
    assert_snapshot!(result.to_string());
}

/// `tos mindist` pads the correctness intervals: two precise sources 3 ms
/// apart disagree with 1 ms padding and agree with 2 ms.
#[test]
fn mindist_pads_the_intervals() {
    let precise = |id, offset| Candidate {
        delay: ms(0.2),
        root_delay: ms(0.0),
        dispersion: ms(0.05),
        root_dispersion: ms(0.0),
        jitter: ms(0.05),
        ..server(id, offset)
    };
    let candidates = [precise(1, 0.0), precise(2, 3.0)];
    let tight = run(&candidates, &TosSettings::default());
    assert_eq!(tallies(&tight), "xx");
    let padded = run(
        &candidates,
        &TosSettings {
            mindist: ms(2.0),
            ..TosSettings::default()
        },
    );
    assert_eq!(tallies(&padded), "*+");
    assert!((padded.candidates[0].root_distance - 0.002).abs() < 1e-9);
}

// --------------------------------------------------------------------- fitness

#[test]
fn fitness_rules() {
    let candidates = [
        server(1, 1.0),
        Candidate {
            leap: LeapIndicator::Unsynchronized,
            ..server(2, 1.0)
        },
        Candidate {
            stratum: 16,
            ..server(3, 1.0)
        },
        Candidate {
            dispersion: ms(1600.0),
            ..server(4, 1.0)
        },
        Candidate {
            reference_id: ReferenceId::from_ipv4(LOCAL),
            ..server(5, 1.0)
        },
        Candidate {
            reach: 0,
            ..server(6, 1.0)
        },
        Candidate {
            flags: CandidateFlags {
                noselect: true,
                ..CandidateFlags::default()
            },
            ..server(7, 1.0)
        },
        Candidate {
            role: Role::Excluded,
            ..server(8, 1.0)
        },
        // An orphan's 127.0.0.1 is never a loop.
        Candidate {
            stratum: 5,
            reference_id: ReferenceId::from_ipv4(Ipv4Addr::LOCALHOST),
            local_refid: Some(ReferenceId::from_ipv4(Ipv4Addr::LOCALHOST)),
            ..server(9, 1.5)
        },
    ];
    let result = run(&candidates, &TosSettings::default());
    let reasons: Vec<Option<Reject>> = result.candidates.iter().map(|r| r.reject).collect();
    assert_eq!(
        reasons,
        [
            None,
            Some(Reject::Unsynchronized),
            Some(Reject::Unsynchronized),
            Some(Reject::Distance),
            Some(Reject::Loop),
            Some(Reject::Unreachable),
            Some(Reject::NoSelect),
            Some(Reject::Excluded),
            None,
        ]
    );
    assert_eq!(tallies(&result), "*       +");
    assert_snapshot!(result.to_string());
}

#[test]
fn maxdist_knob() {
    let far = Candidate {
        dispersion: ms(1600.0),
        ..server(1, 1.0)
    };
    assert_eq!(
        run(&[far], &TosSettings::default()).candidates[0].reject,
        Some(Reject::Distance)
    );
    let moon = TosSettings {
        maxdist: ms(2500.0),
        ..TosSettings::default()
    };
    assert_eq!(run(&[far], &moon).sys_peer, Some(1));
    // The threshold grows by PHI * 2^poll: at poll 17 that is almost 2 s.
    let threshold = 1.5 + PHI * 131_072.0;
    assert!(run(&[far], &TosSettings::default()).candidates[0].root_distance < threshold);
    let long_poll = Candidate { poll: 17, ..far };
    assert_eq!(run(&[long_poll], &TosSettings::default()).sys_peer, Some(1));
}

#[test]
fn floor_discards_while_minclock_remain() {
    let primary = Candidate {
        stratum: 1,
        ..server(9, 1.0)
    };
    let tos = TosSettings {
        floor: 2,
        ..TosSettings::default()
    };
    // Three stratum-2 servers remain: the stratum-1 one is discarded.
    let plenty = [server(1, 1.0), server(2, 1.5), server(3, 2.0), primary];
    let result = run(&plenty, &tos);
    assert_eq!(result.candidates[3].reject, Some(Reject::Stratum));
    assert_eq!(
        run(&plenty, &TosSettings::default()).candidates[3].reject,
        None
    );
    // Only two would remain: the stratum-1 one is kept.
    let few = [server(1, 1.0), server(2, 1.5), primary];
    assert_eq!(run(&few, &tos).candidates[2].reject, None);
}

#[test]
fn ceiling_discards_while_minclock_remain() {
    let deep = Candidate {
        stratum: 4,
        ..server(9, 1.0)
    };
    let tos = TosSettings {
        ceiling: 4,
        ..TosSettings::default()
    };
    let plenty = [server(1, 1.0), server(2, 1.5), server(3, 2.0), deep];
    assert_eq!(
        run(&plenty, &tos).candidates[3].reject,
        Some(Reject::Stratum)
    );
    assert_eq!(
        run(&plenty, &TosSettings::default()).candidates[3].reject,
        None
    );
    let lonely = [deep];
    assert_eq!(run(&lonely, &tos).sys_peer, Some(9));
}

// ------------------------------------------------------------------ clustering

fn quiet(id: u32, offset_ms: f64) -> Candidate<u32> {
    Candidate {
        jitter: ms(0.1),
        ..server(id, offset_ms)
    }
}

#[test]
fn clustering_down_to_minclock() {
    let candidates = [
        quiet(1, 0.0),
        quiet(2, 1.0),
        quiet(3, 2.0),
        quiet(4, 3.0),
        quiet(5, 8.0),
        quiet(6, -12.0),
    ];
    let result = run(&candidates, &TosSettings::default());
    assert_eq!(result.survivors.len(), 3);
    assert_eq!(tallies(&result).matches('-').count(), 3);
    assert_snapshot!(result.to_string());

    let five = TosSettings {
        minclock: 5,
        ..TosSettings::default()
    };
    let result = run(&candidates, &five);
    assert_eq!(result.survivors.len(), 5);
    assert_eq!(result.tally(6), Some(Tally::Outlyer));
}

#[test]
fn clustering_stops_when_select_jitter_is_below_peer_jitter() {
    // Offsets within 0.2 ms, peer jitter 0.5 ms: nothing to gain.
    let candidates = [
        server(1, 0.0),
        server(2, 0.1),
        server(3, 0.2),
        server(4, 0.15),
        server(5, 0.05),
    ];
    let result = run(&candidates, &TosSettings::default());
    assert_eq!(result.survivors.len(), 5);
}

#[test]
fn maxclock_backups_and_excess() {
    // Twelve agreeing servers with large peer jitter: clustering stops at
    // once, and those ranked beyond maxclock are backups.
    let agreeing: Vec<Candidate<u32>> = (1..=12)
        .map(|i| Candidate {
            jitter: ms(5.0),
            delay: ms(20.0 + f64::from(i)),
            ..server(i, f64::from(i) * 0.01)
        })
        .collect();
    let result = run(&agreeing, &TosSettings::default());
    let codes = tallies(&result);
    assert_eq!(codes.matches('#').count(), 2, "{codes}");
    assert_eq!(codes.matches('*').count(), 1, "{codes}");
    assert!(codes.ends_with("##"), "the farthest are backups: {codes}");
    let five = TosSettings {
        maxclock: 5,
        ..TosSettings::default()
    };
    let codes = tallies(&run(&agreeing, &five));
    assert_eq!(codes.matches('#').count(), 7, "{codes}");

    // Twelve spread servers with small jitter: outlyers cast out while more
    // than maxclock remain are excess.
    let spread: Vec<Candidate<u32>> = (1..=12).map(|i| quiet(i, f64::from(i) * 1.5)).collect();
    let result = run(&spread, &TosSettings::default());
    assert_eq!(result.survivors.len(), 3);
    assert_eq!(tallies(&result).matches('.').count(), 2);
    assert_eq!(tallies(&result).matches('-').count(), 7);
    assert_snapshot!(result.to_string());
}

// ------------------------------------------------------------------- combining

#[test]
fn combining_weights_by_inverse_root_distance() {
    let candidates = [
        server(1, 1.0),
        Candidate {
            delay: ms(60.0),
            ..server(2, 4.0)
        },
        Candidate {
            delay: ms(100.0),
            ..server(3, -2.0)
        },
    ];
    let result = run(&candidates, &TosSettings::default());
    let (mut y, mut z) = (0.0, 0.0);
    for r in &result.candidates {
        y += 1.0 / r.root_distance;
        z += r.offset / r.root_distance;
    }
    let expected = z / y * 1e3;
    assert!((offset_ms(&result) - expected).abs() < 1e-6);
    let weights: f64 = result.candidates.iter().filter_map(|r| r.weight).sum();
    assert!((weights - 1.0).abs() < 1e-12);
    assert_eq!(result.sys_peer, Some(1));
    assert_snapshot!(result.to_string());
}

// ------------------------------------------------------------ prefer and true

fn flagged(candidate: Candidate<u32>, flags: CandidateFlags) -> Candidate<u32> {
    Candidate { flags, ..candidate }
}

const PREFER: CandidateFlags = CandidateFlags {
    prefer: true,
    noselect: false,
    truechimer: false,
    pps: false,
    refclock: false,
};

#[test]
fn prefer_peer_becomes_system_peer_with_its_own_offset() {
    let candidates = [
        server(1, 1.0),
        server(2, 2.0),
        flagged(
            Candidate {
                delay: ms(80.0),
                ..server(3, 6.0)
            },
            PREFER,
        ),
    ];
    let result = run(&candidates, &TosSettings::default());
    assert_eq!(result.sys_peer, Some(3));
    assert!((offset_ms(&result) - 6.0).abs() < 1e-6);
    assert_eq!(tallies(&result), "++*");
    assert_snapshot!(result.to_string());
}

#[test]
fn prefer_falseticker_is_not_chosen() {
    let candidates = [
        server(1, 1.0),
        server(2, 2.0),
        server(3, 1.5),
        flagged(server(4, 900.0), PREFER),
    ];
    let result = run(&candidates, &TosSettings::default());
    assert_eq!(result.tally(4), Some(Tally::Falseticker));
    assert_eq!(result.sys_peer, Some(3));
}

#[test]
fn prefer_is_never_clustered_out() {
    let candidates = [
        quiet(1, 0.0),
        quiet(2, 0.5),
        quiet(3, 1.0),
        flagged(quiet(4, 15.0), PREFER),
    ];
    let result = run(&candidates, &TosSettings::default());
    assert!(result.survivors.contains(&4));
    assert_eq!(result.sys_peer, Some(4));
    let plain = run(
        &[candidates[0], candidates[1], candidates[2], quiet(4, 15.0)],
        &TosSettings::default(),
    );
    assert_eq!(plain.tally(4), Some(Tally::Outlyer));
}

#[test]
fn true_option_always_survives() {
    let truechimer = CandidateFlags {
        truechimer: true,
        ..CandidateFlags::default()
    };
    let candidates = [
        server(1, 1.0),
        server(2, 2.0),
        server(3, 1.5),
        flagged(server(4, 900.0), truechimer),
    ];
    let result = run(&candidates, &TosSettings::default());
    assert_ne!(result.tally(4), Some(Tally::Falseticker));
    assert!(result.survivors.contains(&4));
    let plain = run(
        &[
            candidates[0],
            candidates[1],
            candidates[2],
            server(4, 900.0),
        ],
        &TosSettings::default(),
    );
    assert_eq!(plain.tally(4), Some(Tally::Falseticker));
    assert_snapshot!(result.to_string());
}

// ------------------------------------------------------------------ hysteresis

#[test]
fn no_flapping_between_near_equal_peers() {
    // Two servers 0.2 ms apart whose root distances take turns being the
    // smaller one.
    let mut state = SelectState::default();
    let tos = TosSettings::default();
    let mut peers = Vec::new();
    for round in 0..20 {
        let (d1, d2) = if round % 2 == 0 {
            (20.0, 20.4)
        } else {
            (20.4, 20.0)
        };
        let candidates = [
            Candidate {
                delay: ms(d1),
                ..server(1, 1.0)
            },
            Candidate {
                delay: ms(d2),
                ..server(2, 1.2)
            },
        ];
        let result = clock_select(&candidates, &tos, &mut state, now());
        peers.push(result.sys_peer.expect("peer"));
    }
    assert!(peers.iter().all(|&p| p == 1), "{peers:?}");

    // Without memory the choice flaps every round.
    let mut flaps = Vec::new();
    for round in 0..4 {
        let (d1, d2) = if round % 2 == 0 {
            (20.0, 20.4)
        } else {
            (20.4, 20.0)
        };
        let candidates = [
            Candidate {
                delay: ms(d1),
                ..server(1, 1.0)
            },
            Candidate {
                delay: ms(d2),
                ..server(2, 1.2)
            },
        ];
        flaps.push(run(&candidates, &tos).sys_peer.expect("peer"));
    }
    assert_eq!(flaps, [1, 2, 1, 2]);
}

#[test]
fn persistently_better_peer_takes_over_after_the_threshold_decays() {
    let tos = TosSettings::default();
    let mut state = SelectState::default();
    let first = [
        server(1, 1.0),
        Candidate {
            delay: ms(24.0),
            ..server(2, 1.2)
        },
    ];
    assert_eq!(
        clock_select(&first, &tos, &mut state, now()).sys_peer,
        Some(1)
    );
    // Now server 2 is better, 0.2 ms away: thresholds 1, 0.5, 0.25 ms keep
    // server 1; at 0.125 ms server 2 takes over.
    let better = [
        Candidate {
            delay: ms(24.0),
            ..server(1, 1.0)
        },
        server(2, 1.2),
    ];
    let mut trace = Vec::new();
    for _ in 0..5 {
        let result = clock_select(&better, &tos, &mut state, now());
        let threshold_us = (state.clockhop * 1e6).round();
        trace.push((result.sys_peer.expect("peer"), threshold_us));
    }
    assert_eq!(
        trace,
        [(1, 1000.0), (1, 500.0), (1, 250.0), (2, 0.0), (2, 0.0)]
    );
    // A clearly better peer (offset difference above mindist) wins at once.
    let mut state = SelectState::default();
    clock_select(&first, &tos, &mut state, now());
    let far_better = [
        Candidate {
            delay: ms(24.0),
            ..server(1, 1.0)
        },
        server(2, 3.0),
    ];
    assert_eq!(
        clock_select(&far_better, &tos, &mut state, now()).sys_peer,
        Some(2)
    );
}

// ------------------------------------------------------------------- leap vote

#[test]
fn leap_vote() {
    let with_leap = |id, leap| Candidate {
        leap,
        ..server(id, 1.0)
    };
    let insert = LeapIndicator::InsertSecond;
    let none = LeapIndicator::NoWarning;
    let vote = |leaps: [LeapIndicator; 3]| {
        let candidates = [
            with_leap(1, leaps[0]),
            with_leap(2, leaps[1]),
            with_leap(3, leaps[2]),
        ];
        run(&candidates, &TosSettings::default())
            .system
            .expect("sync")
            .leap
    };
    assert_eq!(vote([insert, insert, none]), insert);
    assert_eq!(vote([none, insert, none]), none);
    assert_eq!(
        vote([
            LeapIndicator::DeleteSecond,
            LeapIndicator::DeleteSecond,
            LeapIndicator::DeleteSecond
        ]),
        LeapIndicator::DeleteSecond
    );
    // A reference clock's warning always wins.
    let clock = Candidate {
        flags: CandidateFlags {
            refclock: true,
            ..CandidateFlags::default()
        },
        ..with_leap(3, insert)
    };
    let result = run(
        &[with_leap(1, none), with_leap(2, none), clock],
        &TosSettings::default(),
    );
    assert_eq!(result.system.expect("sync").leap, insert);
}

// ------------------------------------------------------------ system variables

#[test]
fn system_variables_arithmetic() {
    let sample_time = now();
    let later = now() + std::time::Duration::from_secs(10);
    let peer = server(1, 3.0);
    let result = clock_select(
        &[peer],
        &TosSettings::default(),
        &mut SelectState::default(),
        later,
    );
    let s = result.system.expect("sync");
    assert_eq!(s.stratum, 3);
    assert_eq!(s.reference_id.to_string(), "10.0.0.1");
    assert_eq!(s.update_time, sample_time);
    assert_eq!(s.leap, LeapIndicator::NoWarning);
    assert!((s.root_delay.to_seconds_f64() - 0.030).abs() < 1e-9);
    // rootdisp = 5 + sqrt(0.5^2 + 0^2) + max(1 + PHI*10 s + 3, 1) ms.
    let expected = 0.005 + 0.0005 + (0.001 + PHI * 10.0 + 0.003);
    assert!((s.root_dispersion.to_seconds_f64() - expected).abs() < 1e-9);
    assert!((s.offset.to_seconds_f64() - 0.003).abs() < 1e-9);
    // The floor of the dispersion increment is mindist.
    let exact = Candidate {
        dispersion: ms(0.0),
        offset: ms(0.0),
        jitter: ms(0.0),
        ..server(1, 0.0)
    };
    let s = run(&[exact], &TosSettings::default()).system.expect("sync");
    assert!((s.root_dispersion.to_seconds_f64() - 0.006).abs() < 1e-9);
    assert_snapshot!(result.to_string());
}

#[test]
fn reference_ids() {
    let v6: Ipv6Addr = "2001:db8::1".parse().expect("address");
    let peer6 = Candidate {
        address: Some(IpAddr::V6(v6)),
        ..server(1, 1.0)
    };
    let s = run(&[peer6], &TosSettings::default()).system.expect("sync");
    assert_eq!(s.reference_id, ReferenceId::from_ipv6(v6));

    let gps = Candidate {
        address: None,
        stratum: 0,
        reference_id: ReferenceId::from_ascii("GPS"),
        delay: ms(0.0),
        root_delay: ms(0.0),
        root_dispersion: ms(0.0),
        flags: CandidateFlags {
            refclock: true,
            ..CandidateFlags::default()
        },
        ..server(1, 1.0)
    };
    let s = run(&[gps], &TosSettings::default()).system.expect("sync");
    assert_eq!(s.stratum, 1);
    assert_eq!(s.reference_id.to_string(), "GPS");
    assert_eq!(s.root_delay, NtpDuration::ZERO);
}

#[test]
fn stale_samples_are_not_fresh() {
    use ntp_select::ClockUpdate;
    use ntp_wire::time::NtpTimestamp;
    let clock = NtpTimestamp::from_seconds_and_fraction(3_900_000_000, 0);
    let mut system = SystemProcess::new(TosSettings::default()).expect("valid");
    // Selection alone adopts nothing; clock_update does.
    let later = now() + std::time::Duration::from_secs(3);
    let first = system.select(&[server(1, 1.0)], later);
    assert!(first.fresh);
    assert_eq!(system.variables().stratum, 16);
    match system.clock_update(&first, later, clock) {
        ClockUpdate::Fresh {
            peer: 1,
            offset,
            taken,
        } => {
            assert!((offset - 0.001).abs() < 1e-9);
            assert_eq!(taken, now());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(system.variables().stratum, 3);
    // The reference time is the clock time the sample was taken.
    assert_eq!(
        system.variables().reference_time,
        clock - NtpDuration::from_seconds(3)
    );
    let again = system.select(&[server(1, 1.0)], later);
    assert!(!again.fresh);
    assert_eq!(
        system.clock_update(&again, later, clock),
        ClockUpdate::Stale { peer: 1 }
    );
    let newer = Candidate {
        epoch: now() + std::time::Duration::from_secs(64),
        ..server(1, 1.0)
    };
    assert!(system.select(&[newer], now()).fresh);
    // Losing every source keeps the variables (the clock coasts).
    let gone = system.select(&[Candidate { reach: 0, ..newer }], now());
    assert_eq!(gone.sys_peer, None);
    assert_eq!(
        system.clock_update(&gone, now(), clock),
        ClockUpdate::NoPeer
    );
    assert_eq!(system.sys_peer(), None);
    assert_eq!(system.variables().stratum, 3);
    system.clock_stepped();
    assert!(!system.variables().is_synchronized());
}

// ------------------------------------------------------------------------- PPS

fn pps(id: u32, offset_ms: f64) -> Candidate<u32> {
    Candidate {
        address: None,
        stratum: 0,
        reference_id: ReferenceId::from_ascii("PPS"),
        delay: ms(0.0),
        root_delay: ms(0.0),
        root_dispersion: ms(0.0),
        dispersion: ms(0.01),
        jitter: ms(0.002),
        flags: CandidateFlags {
            pps: true,
            refclock: true,
            ..CandidateFlags::default()
        },
        ..server(id, offset_ms)
    }
}

fn nmea(offset_ms: f64, prefer: bool) -> Candidate<u32> {
    Candidate {
        address: None,
        stratum: 0,
        reference_id: ReferenceId::from_ascii("GPS"),
        delay: ms(0.0),
        root_delay: ms(0.0),
        root_dispersion: ms(0.0),
        jitter: ms(20.0),
        dispersion: ms(5.0),
        flags: CandidateFlags {
            prefer,
            refclock: true,
            ..CandidateFlags::default()
        },
        ..server(1, offset_ms)
    }
}

#[test]
fn pps_counts_only_with_a_prefer_peer() {
    let with_prefer = [nmea(30.0, true), pps(2, 0.2), server(3, 5.0)];
    let result = run(&with_prefer, &TosSettings::default());
    assert_eq!(tallies(&result), "*o+");
    assert_eq!(result.sys_peer, Some(2));
    let s = result.system.expect("sync");
    assert!((s.offset.to_seconds_f64() - 0.0002).abs() < 1e-9);
    assert_eq!(s.reference_id.to_string(), "PPS");
    assert_eq!(s.stratum, 1);
    assert_snapshot!(result.to_string());

    let without = [nmea(30.0, false), pps(2, 0.2), server(3, 5.0)];
    let result = run(&without, &TosSettings::default());
    assert_eq!(result.tally(2), Some(Tally::Outlyer));
    assert_ne!(result.sys_peer, Some(2));
}

#[test]
fn pps_needs_the_prefer_peer_within_half_a_second() {
    // The PPS pulse must survive the intersection, so give the prefer peer
    // and PPS wide enough intervals to overlap, but 0.6 s of system offset.
    let prefer = Candidate {
        dispersion: ms(700.0),
        ..nmea(600.0, true)
    };
    let pulse = Candidate {
        dispersion: ms(700.0),
        ..pps(2, 0.1)
    };
    let result = run(&[prefer, pulse], &TosSettings::default());
    assert_eq!(result.tally(2), Some(Tally::Outlyer));
    assert_eq!(result.sys_peer, Some(1));

    let near = Candidate {
        dispersion: ms(700.0),
        ..nmea(400.0, true)
    };
    let result = run(&[near, pulse], &TosSettings::default());
    assert_eq!(result.sys_peer, Some(2));
}

#[test]
fn pps_alone_with_minsane_zero() {
    let tos = TosSettings {
        minsane: 0,
        ..TosSettings::default()
    };
    let alone = [pps(2, 0.1)];
    assert_eq!(run(&alone, &tos).sys_peer, Some(2));
    assert_eq!(run(&alone, &TosSettings::default()).sys_peer, None);
}

// -------------------------------------------------------------------- fallback

#[test]
fn fallback_is_used_only_without_survivors() {
    let local = Candidate {
        role: Role::Fallback { rank: 1 },
        stratum: 5,
        ..server(7, 0.0)
    };
    let result = run(
        &[
            Candidate {
                reach: 0,
                ..server(1, 1.0)
            },
            local,
        ],
        &TosSettings::default(),
    );
    assert_eq!(result.sys_peer, Some(7));
    assert_eq!(result.system.expect("sync").stratum, 6);

    let result = run(&[server(1, 1.0), local], &TosSettings::default());
    assert_eq!(result.sys_peer, Some(1));
    assert_eq!(result.candidates[1].reject, Some(Reject::FallbackUnused));

    let modem = Candidate {
        role: Role::Fallback { rank: 0 },
        ..server(8, 0.0)
    };
    assert_eq!(
        run(&[local, modem], &TosSettings::default()).sys_peer,
        Some(8)
    );
}

#[test]
fn empty_input() {
    let result = run(&[], &TosSettings::default());
    assert_eq!(result.sys_peer, None);
    assert_eq!(result.intersection, None);
    assert_snapshot!(result.to_string());
}

/// The start-up fitness rule: a source with k filter samples has peer
/// dispersion 16 s * (2^-k - 2^-8) (plus its samples'); with a
/// `fit_dispersion` (the valid-stage dispersion the daemon passes during an
/// iburst while unsynchronised) the fitness test uses that instead, while
/// the root distance shown, the intersection and the system root
/// dispersion keep the RFC dispersion.
#[test]
fn startup_fit_dispersion_table() {
    let mut table = String::from("k  peer disp ms  fit disp   tally  reject     root disp ms\n");
    for k in 1..=8i32 {
        let rfc = 16.0 * (2f64.powi(-k) - 2f64.powi(-8)) * 1e3;
        for fit in [None, Some(ms(0.02))] {
            let candidate = Candidate {
                dispersion: ms(rfc + 0.02),
                fit_dispersion: fit,
                ..server(1, 1.0)
            };
            let result = run(&[candidate], &TosSettings::default());
            let report = &result.candidates[0];
            // The root distance reported is always the RFC one.
            assert!(report.root_distance > (rfc + 0.02) / 1e3);
            let root_dispersion = result
                .system
                .map(|v| v.root_dispersion.to_seconds_f64() * 1e3);
            if let Some(rd) = root_dispersion {
                // root dispersion of the server + peer dispersion (RFC) + ...
                assert!(rd >= 5.0 + rfc, "k={k}: {rd}");
            }
            table.push_str(&format!(
                "{k}  {rfc:>12.3}  {:<9}  {:<5}  {:<9}  {}\n",
                if fit.is_some() { "0.020 ms" } else { "-" },
                report.tally.code(),
                report.reject.map_or("-".to_string(), |r| format!("{r:?}")),
                root_dispersion.map_or("-".to_string(), |rd| format!("{rd:.3}")),
            ));
            // Fit without the rule from 4 samples; with it from any count.
            let expect_fit = fit.is_some() || k >= 4;
            assert_eq!(result.sys_peer.is_some(), expect_fit, "k={k} fit={fit:?}");
        }
    }
    assert_snapshot!(table);
}

#[test]
fn preemption_order_is_worst_first() {
    // Three agree, one is 5 s off (falseticker), one unreachable (unfit).
    let unfit = Candidate {
        reach: 0,
        ..server(5, 1.0)
    };
    let result = run(
        &[
            server(1, 1.0),
            server(2, 1.5),
            server(3, 2.0),
            server(4, 5000.0),
            unfit,
        ],
        &TosSettings::default(),
    );
    let order = result.preemption_order();
    assert_eq!(order.first(), Some(&5));
    assert_eq!(order.get(1), Some(&4));
    assert!(!order.contains(&result.sys_peer.expect("sync")));
}
