//! The NMEA decoder against real receiver logs and GPSD's decoding of them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use std::collections::HashMap;
use std::fmt::Write;

use chrono::{DateTime, TimeZone, Utc};
use common::*;
use ntp_refclock::driver::{DriverEvent, RejectReason};
use ntp_refclock::nmea::{
    LineAssembler, NmeaDecoder, NmeaDecoderOptions, SentenceKind, parse_sentence,
};
use proptest::prelude::*;

/// The events per line, the decoded time per sentence, the decoder.
type Replay = (
    Vec<(String, Option<DriverEvent>)>,
    HashMap<String, String>,
    NmeaDecoder,
);

fn arrival() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// Run a decoder over lines: the events, and the decoded time of every
/// sentence whose time could be decoded (whether or not it made a sample).
fn replay(lines: &[String], options: NmeaDecoderOptions) -> Replay {
    let mut decoder = NmeaDecoder::new(options);
    let mut events = Vec::new();
    let mut decoded = HashMap::new();
    for line in lines {
        let before = decoder.last_decoded();
        let event = decoder.decode_line(line.as_bytes(), arrival());
        let after = decoder.last_decoded();
        if after != before
            && let Some((_, time)) = after
        {
            decoded.insert(line.clone(), gpsd_format(time));
        }
        events.push((line.clone(), event));
    }
    (events, decoded, decoder)
}

fn sample_times(events: &[(String, Option<DriverEvent>)]) -> Vec<String> {
    events
        .iter()
        .filter_map(|(_, event)| match event {
            Some(DriverEvent::Sample(sample)) => Some(gpsd_format(sample.reference_time)),
            _ => None,
        })
        .collect()
}

fn is_time_sentence(line: &str) -> bool {
    parse_sentence(line.as_bytes(), true).is_ok_and(|s| s.kind != SentenceKind::Other)
}

/// For every TPV report with a time and a fix, the last time-bearing
/// sentence GPSD accepted before it decodes to exactly that time.
fn check_against_gpsd(name: &str, lines: &[String], options: NmeaDecoderOptions) -> usize {
    let (_, decoded, _) = replay(lines, options);
    let mut last_sentence: Option<String> = None;
    let mut checked = 0;
    for item in chk_items(name) {
        match item {
            ChkItem::Sentence(line) if is_time_sentence(&line) => last_sentence = Some(line),
            ChkItem::Sentence(_) => {}
            ChkItem::Tpv {
                time: Some(time),
                mode,
            } if mode >= 2 => {
                let sentence = last_sentence
                    .as_ref()
                    .expect("a sentence before the report");
                assert_eq!(
                    decoded.get(sentence),
                    Some(&time),
                    "{name}: GPSD reports {time} after {sentence}"
                );
                checked += 1;
            }
            ChkItem::Tpv { .. } => {}
        }
    }
    checked
}

#[test]
fn every_gpsd_fix_time_is_decoded() {
    let mut checked = Vec::new();
    for name in LOGS {
        let count = check_against_gpsd(name, &log_lines(name), replay_options(name));
        checked.push(format!("{name}: {count}"));
    }
    assert_eq!(
        checked,
        [
            "firefly-II: 23",
            "garmin-geko201: 0",
            "gp-320fw-2019-04-06-overflow: 51",
            "hp58534a: 0",
            "mt3339: 30",
            "mtk-3301: 11",
            "ublox-lea-4h: 8"
        ]
    );
}

#[test]
fn samples_are_gpsd_fixes_one_per_second() {
    for name in LOGS {
        let (events, _, _) = replay(&log_lines(name), replay_options(name));
        let ours = sample_times(&events);
        let gpsd = gpsd_fix_times(name);
        // Every second GPSD has a fix for makes exactly one sample ...
        for time in &gpsd {
            assert_eq!(
                ours.iter().filter(|t| *t == time).count(),
                1,
                "{name} {time}"
            );
        }
        // ... and every sample is within GPSD's fixes, except seconds GPSD
        // did not report: the gp-320fw cycle at 23:57:26 ends without a TPV
        // time, GPSD gives mtk-3301's first valid fix (RMC status A, GGA
        // quality 1) no time, the ublox log ends before GPSD closes its last
        // cycle (03:15:18), and GPSD ignored hp58534a entirely.
        let extra: Vec<&String> = ours.iter().filter(|t| !gpsd.contains(t)).collect();
        match *name {
            "gp-320fw-2019-04-06-overflow" => {
                assert_eq!(extra, ["2019-04-06T23:57:26.020Z"], "{name}")
            }
            "mtk-3301" => assert_eq!(extra, ["2008-08-23T08:14:36.000Z"]),
            "ublox-lea-4h" => assert_eq!(extra, ["2006-08-10T03:15:18.000Z"]),
            "hp58534a" => assert_eq!(
                extra,
                ["2010-10-25T22:24:49.000Z", "2010-10-25T22:24:50.000Z"]
            ),
            _ => assert!(extra.is_empty(), "{name}: {extra:?}"),
        }
    }
}

#[test]
fn void_fixes_yield_no_samples() {
    use ntp_refclock::nmea::fix_status;
    for name in LOGS {
        let (events, _, decoder) = replay(&log_lines(name), replay_options(name));
        for (line, event) in &events {
            let void =
                parse_sentence(line.as_bytes(), true).is_ok_and(|s| fix_status(&s) == Some(false));
            if void {
                assert!(
                    matches!(event, Some(DriverEvent::Rejected(r)) if r.reason == RejectReason::VoidFix),
                    "{name}: {line}: {event:?}"
                );
            }
        }
        if ["garmin-geko201", "mtk-3301", "ublox-lea-4h"].contains(name) {
            assert!(decoder.counters().invalid > 0, "{name}");
        }
    }
    // demo mode: nothing but void fixes
    let (events, _, _) = replay(
        &log_lines("garmin-geko201"),
        replay_options("garmin-geko201"),
    );
    assert!(sample_times(&events).is_empty());
    // ublox: ZDA from the receiver's clock before any fix, and right after
    // a void RMC, makes no sample
    let (events, _, _) = replay(&log_lines("ublox-lea-4h"), replay_options("ublox-lea-4h"));
    let zda = |time: &str| {
        events
            .iter()
            .find(|(line, _)| line.starts_with(&format!("$GPZDA,{time}")))
            .and_then(|(_, e)| e.clone())
    };
    assert!(
        matches!(zda("030807.00"), Some(DriverEvent::Rejected(r)) if r.reason == RejectReason::FixUnknown)
    );
    assert!(
        matches!(zda("031007.00"), Some(DriverEvent::Rejected(r)) if r.reason == RejectReason::VoidFix)
    );
    assert!(!sample_times(&events).contains(&"2006-08-10T03:10:07.000Z".to_owned()));
}

#[test]
fn firefly_bad_gga_checksums_are_rejected_and_counted() {
    let (events, _, decoder) = replay(&log_lines("firefly-II"), replay_options("firefly-II"));
    let bad: Vec<&String> = events
        .iter()
        .filter_map(|(line, event)| match event {
            Some(DriverEvent::Rejected(r))
                if matches!(r.reason, RejectReason::BadChecksum { .. }) =>
            {
                Some(line)
            }
            _ => None,
        })
        .collect();
    assert_eq!(bad.len(), 23);
    assert!(bad.iter().all(|line| line.starts_with("$GPGGA")));
    assert_eq!(decoder.counters().bad, 23);
    // RMC and ZDA come through: 23 seconds, one sample each.
    assert_eq!(sample_times(&events).len(), 23);
    assert_eq!(decoder.counters().accepted, 23);
}

#[test]
fn hp58534a_needs_checksum_less_input() {
    let lines = log_lines("hp58534a");
    let strict = NmeaDecoderOptions {
        accept_no_checksum: false,
        ..replay_options("hp58534a")
    };
    let (events, _, _) = replay(&lines, strict);
    assert!(sample_times(&events).is_empty());
    assert!(events.iter().all(|(_, e)| matches!(
        e,
        Some(DriverEvent::Rejected(r)) if r.reason == RejectReason::MissingChecksum
    )));
    let (events, _, _) = replay(&lines, replay_options("hp58534a"));
    assert_eq!(
        sample_times(&events),
        ["2010-10-25T22:24:49.000Z", "2010-10-25T22:24:50.000Z"]
    );
}

#[test]
fn week_rollover_is_repaired() {
    let name = "gp-320fw-2019-04-06-overflow";
    // As captured, with the default base date: 2019 dates, untouched.
    let (events, _, _) = replay(&log_lines(name), NmeaDecoderOptions::default());
    let as_captured = sample_times(&events);
    assert!(as_captured.iter().all(|t| t.starts_with("2019-04-06")));
    // The same log as a receiver with the rollover bug sends it (1999):
    // repaired to the dates GPSD reports, sentence by sentence.
    let rolled = rolled_back_rollover_log();
    assert!(rolled.iter().any(|l| l.contains(",210899,")));
    let (events, _, _) = replay(&rolled, NmeaDecoderOptions::default());
    assert_eq!(sample_times(&events), as_captured);
    let (_, decoded, _) = replay(&rolled, NmeaDecoderOptions::default());
    let rolled_gga = rolled.iter().find(|l| l.starts_with("$GPRMC")).unwrap();
    assert_eq!(decoded[rolled_gga], "2019-04-06T23:57:24.020Z");
    // Trusting the date (mode bit 18) keeps 1999.
    let trusting = NmeaDecoderOptions {
        mode: ntp_refclock::config::NmeaMode(ntp_refclock::config::NmeaMode::TRUST_DATE),
        ..NmeaDecoderOptions::default()
    };
    let (events, _, _) = replay(&rolled, trusting);
    assert!(
        sample_times(&events)
            .iter()
            .all(|t| t.starts_with("1999-08-21"))
    );
}

#[test]
fn mode_bits_on_a_real_log() {
    // mt3339 sends GGA, RMC and ZDA every second.
    let lines = log_lines("mt3339");
    let count = |mode: u32| {
        let options = NmeaDecoderOptions {
            mode: ntp_refclock::config::NmeaMode(mode),
            ..replay_options("mt3339")
        };
        let (events, _, decoder) = replay(&lines, options);
        let sources: Vec<String> = events
            .iter()
            .filter_map(|(line, e)| match e {
                Some(DriverEvent::Sample(_)) => Some(line[3..6].to_owned()),
                _ => None,
            })
            .collect();
        (sources, decoder.counters())
    };
    let (all, _) = count(0);
    assert_eq!(all.len(), 30);
    // With mode 0 the first sentence of the cycle wins: GGA once a date is
    // known (the first GGA has none yet, so that second is RMC's).
    assert_eq!(all[0], "RMC");
    assert!(all[1..].iter().all(|s| s == "GGA"));
    for (mode, kind) in [(1, "RMC"), (2, "GGA"), (8, "ZDA")] {
        let (sources, counters) = count(mode);
        let want = if kind == "GGA" { 29 } else { 30 };
        assert_eq!(sources.len(), want, "mode {mode}");
        assert!(sources.iter().all(|s| s == kind), "mode {mode}");
        assert!(counters.filtered >= 60, "mode {mode}: {counters:?}");
    }
}

/// A table of what each sentence of a log gives, for the snapshots.
fn table(name: &str, lines: &[String], options: NmeaDecoderOptions) -> String {
    let (events, _, decoder) = replay(lines, options);
    let mut out = String::new();
    for (line, event) in &events {
        let result = match event {
            None => continue,
            Some(DriverEvent::Sample(s)) => format!("sample {}", gpsd_format(s.reference_time)),
            Some(DriverEvent::Rejected(r)) => format!("reject {}", r.reason),
        };
        let head: String = line.chars().take(24).collect();
        writeln!(out, "{head:<24}  {result}").unwrap();
    }
    let c = decoder.counters();
    writeln!(
        out,
        "{name}: received {} accepted {} invalid {} bad {} filtered {}",
        c.received, c.accepted, c.invalid, c.bad, c.filtered
    )
    .unwrap();
    out
}

#[test]
fn decoded_sentence_tables() {
    for name in LOGS {
        insta::assert_snapshot!(
            format!("table_{name}"),
            table(name, &log_lines(name), replay_options(name))
        );
    }
    insta::assert_snapshot!(
        "table_rolled_back_rollover",
        table(
            "rolled-back",
            &rolled_back_rollover_log(),
            NmeaDecoderOptions::default()
        )
    );
}

proptest! {
    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), lax: bool) {
        let _ = parse_sentence(&bytes, lax);
    }

    #[test]
    fn decoder_never_panics(
        lines in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..100),
                "\\$(GP|GN|GL)(RMC|GGA|GLL|ZDA),[0-9.,AVNSEW+-]{0,60}(\\*[0-9A-F]{2})?"
                    .prop_map(String::into_bytes),
            ],
            0..20,
        ),
        mode in 0u32..0x80000,
    ) {
        let mut decoder = NmeaDecoder::new(NmeaDecoderOptions {
            mode: ntp_refclock::config::NmeaMode(mode),
            accept_no_checksum: true,
            ..NmeaDecoderOptions::default()
        });
        for line in &lines {
            let _ = decoder.decode_line(line, arrival());
        }
    }

    #[test]
    fn assembler_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..10)) {
        let mut assembler = LineAssembler::new(Some(10.0 / 4800.0));
        for chunk in &chunks {
            for line in assembler.push(chunk, arrival()) {
                prop_assert!(line.bytes.starts_with(b"$"));
                prop_assert!(!line.bytes.contains(&b'\n'));
                prop_assert!(line.start_time <= arrival());
            }
        }
    }

    #[test]
    fn valid_checksums_round_trip(body in "[A-Z]{5}(,[0-9A-Za-z.]{0,8}){0,12}") {
        let line = format!("${body}*{:02X}", ntp_refclock::nmea::checksum(body.as_bytes()));
        prop_assert!(parse_sentence(line.as_bytes(), false).is_ok());
    }
}
