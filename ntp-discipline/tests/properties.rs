//! Property tests: the discipline never leaves +/-500 PPM and never panics
//! on finite offsets; the parsers never panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ntp_discipline::config::{DisciplineConfig, MAXFREQ};
use ntp_discipline::discipline::ClockDiscipline;
use ntp_discipline::drift::parse_drift;
use ntp_discipline::leap::{HashCheck, LeapControl, LeapFile};
use ntp_wire::packet::LeapIndicator;
use ntp_wire::time::{NtpDate, NtpDuration, NtpTimestamp};
use proptest::prelude::*;

fn offset() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e-3..1e-3f64,
        -0.2..0.2f64,
        -2000.0..2000.0f64,
        -1e9..1e9f64,
        Just(0.0),
        Just(f64::MIN_POSITIVE),
        Just(-1e300),
        Just(1e300),
    ]
}

fn config() -> impl Strategy<Value = DisciplineConfig> {
    (
        prop_oneof![Just(0.0), Just(0.128), 0.0..700.0f64],
        prop_oneof![Just(300.0), 0.0..2000.0f64],
        prop_oneof![Just(0.0), Just(1000.0), 0.0..5000.0f64],
        any::<bool>(),
        any::<bool>(),
        1i8..20,
        -3i8..20,
        -3i8..20,
        prop::option::of(-600.0..600.0f64),
    )
        .prop_map(
            |(step, stepout, panic, allow, kernel, allan, min_poll, max_poll, freq)| {
                DisciplineConfig {
                    step_threshold: step,
                    stepout,
                    panic_threshold: panic,
                    allow_panic_once: allow,
                    kernel,
                    allan_intercept: allan,
                    min_poll,
                    max_poll,
                    frequency_ppm: freq,
                    ..Default::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn frequency_stays_within_500_ppm(
        config in config(),
        stored in prop::option::of(-1000.0..1000.0f64),
        updates in prop::collection::vec((0u32..5000, offset(), 0u32..3), 1..60),
    ) {
        let mut discipline = ClockDiscipline::new(config, stored);
        let mut now = NtpTimestamp::from_seconds_and_fraction(3_913_056_000, 0);
        prop_assert!(discipline.frequency().abs() <= MAXFREQ);
        for (gap, offset, adjusts) in updates {
            now += NtpDuration::from_seconds(i64::from(gap));
            for _ in 0..adjusts {
                now += NtpDuration::ONE_SECOND;
                if let Some(adjustment) = discipline.clock_adjust(now) {
                    prop_assert!(adjustment.frequency.abs() <= MAXFREQ);
                    prop_assert!(adjustment.phase.is_finite());
                    prop_assert!(adjustment.rate().abs() <= 2.0 * MAXFREQ + 1e-12);
                }
            }
            if let Ok(update) = discipline.update(now, offset) {
                prop_assert!(update.frequency.abs() <= MAXFREQ);
                if let ntp_discipline::UpdateOutcome::Stepped(amount) = update.outcome {
                    now += amount;
                }
            }
            prop_assert!(discipline.frequency().abs() <= MAXFREQ);
            prop_assert!(discipline.jitter().is_finite());
            prop_assert!(discipline.wander().is_finite());
            prop_assert!(discipline.residual_offset().is_finite());
            let (min, max) = discipline.config().poll_bounds();
            prop_assert!((min..=max).contains(&discipline.poll_exponent()));
        }
    }

    #[test]
    fn leap_parser_never_panics(text in "\\PC*") {
        let _ = LeapFile::parse(&text, HashCheck::Check);
        let _ = LeapFile::parse(&text, HashCheck::Ignore);
    }

    #[test]
    fn leap_parser_never_panics_on_near_valid_files(
        lines in prop::collection::vec(
            prop_oneof![
                "#\\$[ \t]*[0-9]{0,12}",
                "#@[ \t]*[0-9]{0,12}",
                "#h( [0-9a-f]{0,9}){0,6}",
                "#[ \t].{0,20}",
                "[0-9]{1,12}[ \t]+-?[0-9]{1,4}([ \t]*#.{0,10})?",
                "[ \t]*",
            ],
            0..40,
        )
    ) {
        let text = lines.join("\n");
        if let Ok(file) = LeapFile::parse(&text, HashCheck::Check) {
            let mut control = LeapControl::new();
            control.set_file(Some(file));
            for seconds in [0i64, 3_692_217_600 - 1, 4_000_000_000, i64::MAX / 2] {
                let _ = control.status(NtpDate::from_ntp_seconds(seconds, 0), LeapIndicator::InsertSecond);
            }
        }
    }

    #[test]
    fn leap_status_never_panics(seconds in any::<i64>(), vote in 0u8..4) {
        let control = LeapControl::new().with_votes_any_month(true);
        let _ = control.status(NtpDate::from_ntp_seconds(seconds, 0), LeapIndicator::from_bits(vote));
    }

    #[test]
    fn drift_parser_never_panics(text in "\\PC*") {
        if let Ok(value) = parse_drift(&text) {
            prop_assert!(value.abs() <= 500.0);
        }
    }
}
