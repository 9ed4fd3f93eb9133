//! The applicable time-conversion vectors of tests/data/time: era choice by
//! pivot, calendar conversions, fraction conversions.
//!
//! Not applicable here: calendar helpers of the reference implementation's
//! libntp that ntp-wire does not offer (yearday tables, `clocktime`,
//! `julian0`, century expansion, `daysec_to_date`, prettydate of ntp-4.2.8)
//! and the GPS week and era groups, which belong to the reference-clock crate.
//!
//! Calendar dates are checked twice: as RFC 3339 text, which needs no
//! feature, and through chrono's `DateTime<Utc>` with the `chrono` feature.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "chrono")]
use chrono::{NaiveDateTime, TimeZone, Utc};
use ntp_wire::time::{
    ERA_PIVOT, NtpDate, NtpDuration, NtpTimestamp, UNIX_EPOCH_NTP_SECONDS, fraction_to_micros,
    micros_to_fraction,
};
use serde_json::Value;

fn records() -> Vec<Value> {
    let path = format!(
        "{}/tests/data/time/time-conversion-vectors.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["records"].as_array().unwrap().clone()
}

fn group(prefix: &str) -> Vec<Value> {
    let found: Vec<_> = records()
        .into_iter()
        .filter(|r| r["group"].as_str().unwrap().starts_with(prefix))
        .collect();
    assert!(!found.is_empty(), "no records in group {prefix}");
    found
}

/// Parses "YYYY-MM-DD HH:MM:SS" at the start of a string.
#[cfg(feature = "chrono")]
fn utc(text: &str) -> chrono::DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(&text[..19], "%Y-%m-%d %H:%M:%S").unwrap();
    Utc.from_utc_datetime(&naive)
}

/// "YYYY-MM-DD HH:MM:SS" at the start of a string as the RFC 3339 text of
/// [`NtpDate::to_rfc3339`], with zero nanoseconds.
fn rfc3339(text: &str) -> String {
    format!("{}.000000000Z", text[..19].replacen(' ', "T", 1))
}

#[test]
fn caljulian_era_by_pivot_as_text() {
    let pivot = NtpDate::UNIX_EPOCH;
    for r in group("caljulian") {
        let ts = NtpTimestamp::from_seconds_and_fraction(
            r["input"]["ntp_seconds"].as_u64().unwrap() as u32,
            0,
        );
        assert_eq!(
            ts.to_date(pivot).to_rfc3339(),
            rfc3339(r["expected"]["utc"].as_str().unwrap())
        );
    }
}

#[test]
fn caltontp_ntp_seconds_as_text() {
    // The 32-bit value read near the era pivot names the calendar date.
    for r in group("caltontp") {
        let seconds = r["expected"]["ntp_seconds"].as_u64().unwrap() as u32;
        let date = NtpTimestamp::from_seconds_and_fraction(seconds, 0).to_date(ERA_PIVOT);
        assert_eq!(
            date.to_rfc3339(),
            rfc3339(r["input"]["utc"].as_str().unwrap())
        );
    }
}

#[test]
fn ntp64_and_unix_time_as_text() {
    let r = &group("ntpcal_ntp64_to_date")[0];
    let date = NtpDate::from_ntp_seconds(r["input"]["ntp64"].as_i64().unwrap(), 0);
    assert_eq!(
        date.to_rfc3339(),
        rfc3339(r["expected"]["utc"].as_str().unwrap())
    );
    for prefix in ["ntpcal_date_to_time", "parse_to_unixtime"] {
        let r = &group(prefix)[0];
        let date = NtpDate::from_unix(r["expected"]["unix_time"].as_i64().unwrap(), 0);
        assert_eq!(
            date.to_rfc3339(),
            rfc3339(r["input"]["utc"].as_str().unwrap())
        );
    }
}

#[test]
fn prettydate_ntpsec_form_as_text() {
    let r = &group("prettydate (ntpsec)")[0];
    let ts = NtpTimestamp::from_seconds_and_fraction(3_485_080_800, 0x8000_0000);
    let text = ts.to_date(NtpDate::UNIX_EPOCH).to_rfc3339();
    // Milliseconds: the first three of the nine decimals.
    let text = format!("{ts} {}Z", &text[..text.len() - 7]);
    assert_eq!(text, r["expected"]["string"].as_str().unwrap());
}

#[cfg(feature = "chrono")]
#[test]
fn caljulian_era_by_pivot() {
    let pivot = NtpDate::UNIX_EPOCH;
    for r in group("caljulian") {
        let ts = NtpTimestamp::from_seconds_and_fraction(
            r["input"]["ntp_seconds"].as_u64().unwrap() as u32,
            0,
        );
        let got = ts.to_datetime(pivot).unwrap();
        assert_eq!(got, utc(r["expected"]["utc"].as_str().unwrap()));
    }
}

#[cfg(feature = "chrono")]
#[test]
fn caltontp_calendar_to_ntp_seconds() {
    for r in group("caltontp") {
        let date = utc(r["input"]["utc"].as_str().unwrap());
        let ts = NtpTimestamp::from_datetime(date);
        assert_eq!(
            u64::from(ts.seconds()),
            r["expected"]["ntp_seconds"].as_u64().unwrap()
        );
        assert_eq!(ts.fraction(), 0);
    }
}

#[test]
fn ntp_to_ntp_pivot_window() {
    // NtpToNtp1: 32-bit value 42 near Unix time 23 is in era 1.
    let r = &group("ntpcal_ntp_to_ntp (ntpsec)")[0];
    let pivot = NtpDate::from_unix(r["input"]["pivot_unix"].as_i64().unwrap(), 0);
    let ts =
        NtpTimestamp::from_seconds_and_fraction(r["input"]["ntp32"].as_u64().unwrap() as u32, 0);
    let date = ts.to_date(pivot);
    assert_eq!(date.ntp_seconds(), r["expected"]["ntp64"].as_i64().unwrap());

    // The constraint group: for 16 pivots and six values, the low 32 bits
    // are kept and the result is within [-2^31, 2^31) of the pivot.
    let inputs = &group("ntpcal_ntp_to_ntp / ntp_to_time")[0]["input"]["ntp32"];
    for step in 0..16i64 {
        let pivot_unix = step * 0x2000_0000;
        let pivot = NtpDate::from_unix(pivot_unix, 0);
        for value in inputs.as_array().unwrap() {
            let value = value.as_u64().unwrap() as u32;
            let date = NtpTimestamp::from_seconds_and_fraction(value, 0).to_date(pivot);
            assert_eq!(date.era_offset(), value);
            let distance = date.ntp_seconds() - (pivot_unix + i64::from(UNIX_EPOCH_NTP_SECONDS));
            assert!((-(1i64 << 31)..(1i64 << 31)).contains(&distance));
            // ntp_to_time: the Unix time maps back to the same value.
            let (unix, _) = date.to_unix();
            assert_eq!(
                (unix + i64::from(UNIX_EPOCH_NTP_SECONDS)).rem_euclid(1 << 32) as u32,
                value
            );
        }
    }
}

#[cfg(feature = "chrono")]
#[test]
fn ntp64_to_date_and_date_to_time() {
    let r = &group("ntpcal_ntp64_to_date")[0];
    let date = NtpDate::from_ntp_seconds(r["input"]["ntp64"].as_i64().unwrap(), 0);
    assert_eq!(
        date.to_datetime().unwrap(),
        utc(r["expected"]["utc"].as_str().unwrap())
    );
    for prefix in ["ntpcal_date_to_time", "parse_to_unixtime"] {
        let r = &group(prefix)[0];
        let date = NtpDate::from_datetime(utc(r["input"]["utc"].as_str().unwrap()));
        assert_eq!(
            date.to_unix(),
            (r["expected"]["unix_time"].as_i64().unwrap(), 0)
        );
    }
    let constants = &group("calendar constants")[0]["expected"];
    assert_eq!(
        i64::from(UNIX_EPOCH_NTP_SECONDS),
        constants["JAN_1970"].as_i64().unwrap()
    );
}

#[test]
fn microseconds_and_fractions() {
    let r = &group("microseconds")[0];
    for pair in r["input"]["pairs_us_frac"].as_array().unwrap() {
        let micros = pair[0].as_u64().unwrap() as u32;
        let frac =
            u32::from_str_radix(pair[1].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        let got = micros_to_fraction(micros);
        assert!(
            got.abs_diff(frac) <= 1,
            "{micros} us: {got:#x} vs {frac:#x}"
        );
        assert!(fraction_to_micros(frac).abs_diff(micros) <= 1);
        // As an interval: {1 s, us} and {-1 s, us} (tval_intv_to_lfp).
        let d = NtpDuration::from_nanos(1_000_000_000 + i64::from(micros) * 1000);
        assert_eq!(d.to_bits() >> 32, 1);
        assert!((d.to_bits() as u32).abs_diff(frac) <= 1);
        let d = NtpDuration::from_nanos(-1_000_000_000 + i64::from(micros) * 1000);
        if micros > 0 {
            assert_eq!(d.to_bits() >> 32, -1);
            assert!((d.to_bits() as u32).abs_diff(frac) <= 1);
        }
    }
}

#[test]
fn timeval_to_timestamp() {
    // buftvtots: {0,0} and {5,500000}.
    assert_eq!(
        NtpTimestamp::from_unix(0, 0),
        NtpTimestamp::from_seconds_and_fraction(UNIX_EPOCH_NTP_SECONDS, 0)
    );
    assert_eq!(
        NtpTimestamp::from_unix(5, 500_000_000),
        NtpTimestamp::from_seconds_and_fraction(UNIX_EPOCH_NTP_SECONDS + 5, 0x8000_0000)
    );
}

#[cfg(feature = "chrono")]
#[test]
fn prettydate_ntpsec_form() {
    let r = &group("prettydate (ntpsec)")[0];
    let ts = NtpTimestamp::from_seconds_and_fraction(3_485_080_800, 0x8000_0000);
    let date = ts.to_date(NtpDate::UNIX_EPOCH);
    let text = format!(
        "{ts} {}",
        date.to_datetime()
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    assert_eq!(text, r["expected"]["string"].as_str().unwrap());
}
