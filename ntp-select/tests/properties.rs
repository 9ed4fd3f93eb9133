//! Property tests: selection never panics, its outcome is self-consistent,
//! and the intersection interval holds the truechimers the combined offset is
//! made of.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};

use ntp_select::{
    Candidate, CandidateFlags, Role, SelectState, SelectionResult, Tally, TosSettings, clock_select,
};
use ntp_wire::packet::LeapIndicator;
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, Uptime};
use proptest::prelude::*;

fn now() -> Uptime {
    Uptime::from_secs(100_000)
}

/// Durations: mostly realistic (up to a few seconds), sometimes anything the
/// type can hold, negative included.
fn duration() -> impl Strategy<Value = NtpDuration> {
    prop_oneof![
        8 => (-5_000_000_000i64..5_000_000_000).prop_map(NtpDuration::from_nanos),
        1 => any::<i64>().prop_map(NtpDuration::from_bits),
        1 => Just(NtpDuration::ZERO),
    ]
}

fn small_duration() -> impl Strategy<Value = NtpDuration> {
    prop_oneof![
        8 => (0i64..100_000_000).prop_map(NtpDuration::from_nanos),
        1 => any::<i64>().prop_map(NtpDuration::from_bits),
    ]
}

fn flags() -> impl Strategy<Value = CandidateFlags> {
    (
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(prefer, noselect, truechimer, pps, refclock)| CandidateFlags {
                prefer,
                noselect,
                truechimer,
                pps,
                refclock,
            },
        )
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        10 => Just(Role::Source),
        1 => (0u8..3).prop_map(|rank| Role::Fallback { rank }),
        1 => Just(Role::Excluded),
    ]
}

fn leap() -> impl Strategy<Value = LeapIndicator> {
    prop_oneof![
        6 => Just(LeapIndicator::NoWarning),
        1 => Just(LeapIndicator::InsertSecond),
        1 => Just(LeapIndicator::DeleteSecond),
        1 => Just(LeapIndicator::Unsynchronized),
    ]
}

prop_compose! {
    fn candidate(id: u32)(
        stratum in prop_oneof![8 => 1u8..4, 1 => 0u8..=16, 1 => any::<u8>()],
        leap in leap(),
        refid in any::<u32>(),
        offset in duration(),
        delay in small_duration(),
        dispersion in small_duration(),
        jitter in small_duration(),
        root_delay in small_duration(),
        root_dispersion in small_duration(),
        reach in prop_oneof![4 => Just(0o377u8), 1 => any::<u8>()],
        poll in any::<i8>(),
        age in prop_oneof![8 => 0i64..1_000_000_000_000, 1 => any::<i64>()],
        flags in flags(),
        role in role(),
    ) -> Candidate<u32> {
        Candidate {
            address: Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + id))),
            local_refid: Some(ReferenceId::from_u32(0x0a00_0000 + (refid % 64))),
            stratum,
            leap,
            reference_id: ReferenceId::from_u32(0x0a00_0000 + (refid % 64)),
            offset,
            delay,
            dispersion,
            jitter,
            root_delay,
            root_dispersion,
            reach,
            poll,
            update_time: now() - std::time::Duration::from_nanos(age as u64),
            flags,
            role,
            ..Candidate::new(id)
        }
    }
}

fn candidates() -> impl Strategy<Value = Vec<Candidate<u32>>> {
    (0usize..=100).prop_flat_map(|n| (0..n as u32).map(candidate).collect::<Vec<_>>())
}

prop_compose! {
    fn tos()(
        minclock in 1usize..6,
        extra in 0usize..8,
        minsane in 0usize..5,
        mindist_us in 0i64..20_000,
        maxdist_ms in 1i64..4000,
        floor in 0u8..3,
        ceiling in 3u8..=16,
    ) -> TosSettings {
        TosSettings {
            minclock,
            maxclock: minclock + extra,
            minsane,
            mindist: NtpDuration::from_nanos(mindist_us * 1000),
            maxdist: NtpDuration::from_nanos(maxdist_ms * 1_000_000),
            floor,
            ceiling,
            ..TosSettings::default()
        }
    }
}

/// The invariants every result must satisfy.
fn check(candidates: &[Candidate<u32>], result: &SelectionResult<u32>) {
    assert_eq!(result.candidates.len(), candidates.len());
    let by_id = |id: u32| &candidates[id as usize];

    // The system peer is a survivor, marked * or o.
    if let Some(peer) = result.sys_peer {
        assert!(result.survivors.contains(&peer));
        let tally = result.tally(peer).unwrap();
        assert!(matches!(tally, Tally::SystemPeer | Tally::PpsPeer));
        assert!(result.system.is_some());
    } else {
        assert!(result.system.is_none());
    }
    let stars = result
        .candidates
        .iter()
        .filter(|r| r.tally == Tally::SystemPeer)
        .count();
    assert!(stars <= 1);
    let pps = result
        .candidates
        .iter()
        .filter(|r| r.tally == Tally::PpsPeer)
        .count();
    assert!(pps <= 1);

    // Falsetickers are never survivors, and every survivor is tallied so.
    for r in &result.candidates {
        assert_eq!(
            r.tally.is_survivor(),
            result.survivors.contains(&r.id),
            "{r:?}"
        );
        if r.tally == Tally::Falseticker {
            assert!(!result.survivors.contains(&r.id));
        }
        if r.reject.is_some() {
            assert_eq!(r.tally, Tally::Reject);
        }
        assert!(r.root_distance.is_finite() && r.root_distance >= 0.0);
    }

    // The intersection interval holds the truechimers and excludes the
    // falsetickers (the `true` option and fallbacks aside).
    if let Some(x) = result.intersection {
        assert!(x.low < x.high);
        let sources = result
            .candidates
            .iter()
            .filter(|r| r.reject.is_none() && by_id(r.id).role == Role::Source)
            .count();
        assert!(2 * x.allowed_falsetickers < sources);
        for r in &result.candidates {
            let c = by_id(r.id);
            if c.flags.truechimer || c.role != Role::Source || r.reject.is_some() {
                continue;
            }
            let overlaps = x.overlaps(r.offset, r.root_distance);
            if r.tally == Tally::Falseticker {
                assert!(!overlaps, "{r:?} {x:?}");
            } else {
                assert!(overlaps, "{r:?} {x:?}");
            }
        }
    }

    // Combined offset: the weights sum to one, and the offset lies among
    // the contributors' offsets.
    let contributors: Vec<_> = result
        .candidates
        .iter()
        .filter(|r| r.weight.is_some())
        .collect();
    if let (Some(system), false) = (result.system, contributors.is_empty()) {
        let total: f64 = contributors.iter().filter_map(|r| r.weight).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        if result.tally(result.sys_peer.unwrap()) == Some(Tally::SystemPeer) {
            let lo = contributors
                .iter()
                .map(|r| r.offset)
                .fold(f64::INFINITY, f64::min);
            let hi = contributors
                .iter()
                .map(|r| r.offset)
                .fold(f64::NEG_INFINITY, f64::max);
            let offset = system.offset.to_seconds_f64();
            let slack = 1e-9 * (1.0 + lo.abs().max(hi.abs()));
            assert!(
                lo - slack <= offset && offset <= hi + slack,
                "{lo} {offset} {hi}"
            );
        }
        assert!(system.stratum >= 1 && system.stratum <= 16);
        assert!(!system.root_dispersion.is_negative());
        assert!(!system.root_delay.is_negative());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn selection_is_consistent(candidates in candidates(), tos in tos()) {
        let mut state = SelectState::default();
        let result = clock_select(&candidates, &tos, &mut state, now());
        check(&candidates, &result);
    }

    /// With the anti-clockhop memory of a previous run (on other data), the
    /// system peer is still a survivor.
    #[test]
    fn hysteresis_keeps_only_survivors(
        first in candidates(),
        second in candidates(),
        tos in tos(),
    ) {
        let mut state = SelectState::default();
        let _ = clock_select(&first, &tos, &mut state, now());
        let result = clock_select(&second, &tos, &mut state, now());
        check(&second, &result);
        if let Some(peer) = state.clockhop_peer {
            prop_assert!(result.survivors.contains(&peer));
        }
    }

    /// Honest servers around a true offset plus fewer liars: the combined
    /// offset stays inside the hull of the honest servers' intervals.
    #[test]
    fn liars_cannot_drag_the_offset(
        honest in prop::collection::vec((-5_000i64..5_000, 1_000i64..30_000), 3..12),
        liars in prop::collection::vec(-10_000_000i64..10_000_000, 0..6),
    ) {
        prop_assume!(liars.len() < honest.len());
        let mut candidates = Vec::new();
        for (i, &(offset_us, delay_us)) in honest.iter().enumerate() {
            candidates.push(Candidate {
                stratum: 2,
                leap: LeapIndicator::NoWarning,
                offset: NtpDuration::from_nanos(offset_us * 1000),
                delay: NtpDuration::from_nanos(delay_us * 1000),
                dispersion: NtpDuration::from_nanos(5_000_000),
                jitter: NtpDuration::from_nanos(200_000),
                reach: 0o377,
                update_time: now(),
                ..Candidate::new(i as u32)
            });
        }
        let hull_lo = candidates
            .iter()
            .map(|c| c.offset.to_seconds_f64() - ntp_select::root_distance(c, now(), 0.001))
            .fold(f64::INFINITY, f64::min);
        let hull_hi = candidates
            .iter()
            .map(|c| c.offset.to_seconds_f64() + ntp_select::root_distance(c, now(), 0.001))
            .fold(f64::NEG_INFINITY, f64::max);
        for (j, &offset_us) in liars.iter().enumerate() {
            candidates.push(Candidate {
                stratum: 2,
                leap: LeapIndicator::NoWarning,
                offset: NtpDuration::from_nanos(offset_us * 1000),
                delay: NtpDuration::from_nanos(10_000_000),
                dispersion: NtpDuration::from_nanos(5_000_000),
                jitter: NtpDuration::from_nanos(200_000),
                reach: 0o377,
                update_time: now(),
                ..Candidate::new((honest.len() + j) as u32)
            });
        }
        let result = clock_select(&candidates, &TosSettings::default(), &mut SelectState::default(), now());
        check(&candidates, &result);
        let system = result.system.expect("a majority of honest servers always synchronises");
        let offset = system.offset.to_seconds_f64();
        prop_assert!(hull_lo <= offset && offset <= hull_hi, "{hull_lo} {offset} {hull_hi}");
    }
}
