//! Helpers shared by the integration tests: the NMEA logs and GPSD's
//! decoding of them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use chrono::NaiveDate;
use ntp_refclock::nmea::{NmeaDecoderOptions, checksum};

/// The logs, with whether they need checksum-less input.
pub const LOGS: &[&str] = &[
    "firefly-II",
    "garmin-geko201",
    "gp-320fw-2019-04-06-overflow",
    "hp58534a",
    "mt3339",
    "mtk-3301",
    "ublox-lea-4h",
];

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/nmea")
}

/// The receiver output of a log: its lines without GPSD's `#` header.
pub fn log_lines(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(data_dir().join(format!("{name}.log"))).unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// An item of a `.chk` file.
#[derive(Debug, Clone, PartialEq)]
pub enum ChkItem {
    /// A sentence GPSD accepted.
    Sentence(String),
    /// A TPV report: its time (if any) and fix mode.
    Tpv { time: Option<String>, mode: i64 },
}

pub fn chk_items(name: &str) -> Vec<ChkItem> {
    let text = std::fs::read_to_string(data_dir().join(format!("{name}.log.chk"))).unwrap();
    let mut items = Vec::new();
    for line in text.lines() {
        if line.starts_with('$') {
            items.push(ChkItem::Sentence(line.to_owned()));
        } else if line.starts_with('{') {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            if value["class"] == "TPV" {
                items.push(ChkItem::Tpv {
                    time: value["time"].as_str().map(str::to_owned),
                    mode: value["mode"].as_i64().unwrap_or(0),
                });
            }
        }
    }
    items
}

/// The times GPSD reports for valid fixes (mode 2 or 3), as RFC 3339
/// with milliseconds, deduplicated, in order.
pub fn gpsd_fix_times(name: &str) -> Vec<String> {
    let mut times: Vec<String> = chk_items(name)
        .into_iter()
        .filter_map(|item| match item {
            ChkItem::Tpv {
                time: Some(time),
                mode,
            } if mode >= 2 => Some(time),
            _ => None,
        })
        .collect();
    times.dedup();
    times
}

/// Decoder options for replaying a historical log: the base date before
/// the oldest log, so no date is taken for a rollover victim.
pub fn replay_options(name: &str) -> NmeaDecoderOptions {
    NmeaDecoderOptions {
        accept_no_checksum: name == "hp58534a",
        basedate: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        ..NmeaDecoderOptions::default()
    }
}

/// The rollover log with every date moved back 1024 weeks (what a receiver
/// with the week-rollover bug sends), checksums recomputed.
pub fn rolled_back_rollover_log() -> Vec<String> {
    log_lines("gp-320fw-2019-04-06-overflow")
        .into_iter()
        .map(|line| {
            let line = line
                .replace(",060419,", ",210899,")
                .replace(",06,04,2019,", ",21,08,1999,");
            let body = line[1..].split('*').next().unwrap().to_owned();
            format!("${body}*{:02X}", checksum(body.as_bytes()))
        })
        .collect()
}

/// A reference time as GPSD prints it.
pub fn gpsd_format(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
