//! Printing `ntpctl query` results: an aligned table for people, a stable
//! JSON document for scripts.
//!
//! # JSON schema
//!
//! ```text
//! {
//!   "servers": [SERVER, ...],   // one per address, in command-line order
//!   "best": SERVER | null       // the address with the smallest
//!                               // synchronisation distance; null when none answered
//! }
//! SERVER = {
//!   "host": string,             // the host as given (without port)
//!   "address": string | null,   // "192.0.2.1:123", "[2001:db8::1]:123"; null if unresolved
//!   "stratum": int | null,      // from the reply (null: no reply)
//!   "refid": string | null,     // dotted quad (stratum 2-15) or text (stratum 0, 1, 16)
//!   "leap": int | null,         // leap indicator 0-3 (3: unsynchronised)
//!   "offset": number | null,    // seconds, server minus local (positive: server ahead)
//!   "delay": number | null,     // round-trip delay of the best sample, seconds
//!   "jitter": number | null,    // RMS of the other samples' offsets from the best, seconds
//!   "dispersion": number | null,// dispersion of the best sample, seconds
//!   "root_delay": number | null,      // seconds
//!   "root_dispersion": number | null, // seconds
//!   "precision": int | null,    // server clock precision, log2 seconds
//!   "poll": int | null,         // server poll exponent, log2 seconds
//!   "kiss": string | null,      // kiss code of a Kiss-o'-Death reply ("RATE", "DENY", ...)
//!   "error": string | null,     // why there is no offset (one line), else null
//!   "sent": int,                // requests sent
//!   "valid": int,               // valid samples
//!   "ignored": int              // datagrams ignored (wrong source, nonce, mode, MAC, ...)
//! }
//! ```
//!
//! `offset`, `delay`, `jitter` and `dispersion` are null unless `valid` > 0.

use std::fmt::Write as _;
use std::net::SocketAddr;

use ntp_wire::packet::LeapIndicator;
use serde::Serialize;

use super::{human_interval, human_seconds};
use crate::query::Report;
use crate::query::exchange::{Event, ServerResult};

/// One address in the JSON document (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerJson {
    /// Host as given.
    pub host: String,
    /// Address queried.
    pub address: Option<String>,
    /// Stratum.
    pub stratum: Option<u8>,
    /// Reference ID as text.
    pub refid: Option<String>,
    /// Leap indicator.
    pub leap: Option<u8>,
    /// Offset, seconds.
    pub offset: Option<f64>,
    /// Delay, seconds.
    pub delay: Option<f64>,
    /// Jitter, seconds.
    pub jitter: Option<f64>,
    /// Dispersion, seconds.
    pub dispersion: Option<f64>,
    /// Root delay, seconds.
    pub root_delay: Option<f64>,
    /// Root dispersion, seconds.
    pub root_dispersion: Option<f64>,
    /// Precision exponent.
    pub precision: Option<i8>,
    /// Poll exponent.
    pub poll: Option<i8>,
    /// Kiss code.
    pub kiss: Option<String>,
    /// Error.
    pub error: Option<String>,
    /// Requests sent.
    pub sent: u32,
    /// Valid samples.
    pub valid: u32,
    /// Datagrams ignored.
    pub ignored: u32,
}

/// The whole JSON document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportJson {
    /// Every address.
    pub servers: Vec<ServerJson>,
    /// The best one.
    pub best: Option<ServerJson>,
}

/// An address as `192.0.2.1:123` or `[2001:db8::1]:123`.
pub fn address_text(address: &SocketAddr) -> String {
    address.to_string()
}

/// The reference ID as the table and JSON show it: an IPv4 address for
/// stratum 2-15, the text (or dotted quad when unprintable) otherwise.
pub fn refid_text(result: &ServerResult) -> Option<String> {
    let h = result.header?;
    Some(match h.stratum {
        2..=15 => h.reference_id.to_ipv4().to_string(),
        _ => h.reference_id.to_string(),
    })
}

impl ServerJson {
    /// The JSON form of one result.
    pub fn new(r: &ServerResult) -> Self {
        let h = r.header;
        let m = r.measurement;
        Self {
            host: r.host.clone(),
            address: r.address.as_ref().map(address_text),
            stratum: h.map(|h| h.stratum),
            refid: refid_text(r),
            leap: h.map(|h| h.leap.to_bits()),
            offset: m.map(|m| m.offset),
            delay: m.map(|m| m.delay),
            jitter: m.map(|m| m.jitter),
            dispersion: m.map(|m| m.dispersion),
            root_delay: h.map(|h| h.root_delay.to_seconds_f64()),
            root_dispersion: h.map(|h| h.root_dispersion.to_seconds_f64()),
            precision: h.map(|h| h.precision),
            poll: h.map(|h| h.poll),
            kiss: r.kiss.map(|k| k.to_string()),
            error: r.error.clone(),
            sent: r.sent,
            valid: r.valid,
            ignored: r.ignored,
        }
    }
}

/// The JSON document of a report.
pub fn to_json(report: &Report) -> ReportJson {
    ReportJson {
        servers: report.servers.iter().map(ServerJson::new).collect(),
        best: report.best().map(ServerJson::new),
    }
}

fn leap_text(leap: LeapIndicator) -> &'static str {
    match leap {
        LeapIndicator::NoWarning => "none",
        LeapIndicator::InsertSecond => "+1s",
        LeapIndicator::DeleteSecond => "-1s",
        LeapIndicator::Unsynchronized => "unsync",
    }
}

fn log2_text(exponent: i8) -> String {
    human_interval(2f64.powi(i32::from(exponent)))
}

fn name(r: &ServerResult) -> String {
    match r.address {
        Some(address) if address.ip().to_string() == r.host => address_text(&address),
        Some(address) => format!("{} ({})", r.host, address_text(&address)),
        None => r.host.clone(),
    }
}

const COLUMNS: [&str; 11] = [
    "server",
    "st",
    "refid",
    "offset",
    "delay",
    "jitter",
    "root-delay",
    "root-disp",
    "leap",
    "poll",
    "precision",
];

fn cells(r: &ServerResult) -> [String; 11] {
    let dash = || "-".to_owned();
    let h = r.header;
    let m = r.measurement;
    [
        name(r),
        h.map_or_else(dash, |h| h.stratum.to_string()),
        refid_text(r).unwrap_or_else(dash),
        m.map_or_else(dash, |m| human_seconds(m.offset)),
        m.map_or_else(dash, |m| human_interval(m.delay)),
        m.map_or_else(dash, |m| human_interval(m.jitter)),
        h.map_or_else(dash, |h| human_interval(h.root_delay.to_seconds_f64())),
        h.map_or_else(dash, |h| human_interval(h.root_dispersion.to_seconds_f64())),
        h.map_or_else(dash, |h| leap_text(h.leap).to_owned()),
        h.map_or_else(dash, |h| log2_text(h.poll)),
        h.map_or_else(dash, |h| log2_text(h.precision)),
    ]
}

fn event_text(event: &Event) -> String {
    match event {
        Event::Sent { number } => format!("request {number} sent"),
        Event::Sample {
            number,
            offset,
            delay,
        } => format!(
            "request {number}: offset {} delay {}",
            human_seconds(*offset),
            human_interval(*delay)
        ),
        Event::Unusable { number, reason } => format!("request {number}: {reason}"),
        Event::Ignored { reason } => format!("ignored: {reason}"),
        Event::Timeout { number } => format!("request {number}: timeout"),
        Event::SendFailed { number, reason } => format!("request {number}: {reason}"),
    }
}

/// The text output: one aligned line per address (with `verbose`, each
/// followed by what happened to every request and datagram), then the best
/// result. Errors are not in it; see [`error_lines`].
pub fn render_text(report: &Report, verbose: bool) -> String {
    let rows: Vec<[String; 11]> = report.servers.iter().map(cells).collect();
    let mut widths = COLUMNS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[String]| {
        let mut text = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i == 0 || i == 2 || i == 8 {
                let _ = write!(text, "{cell:<w$}  ");
            } else {
                let _ = write!(text, "{cell:>w$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, &COLUMNS.map(str::to_owned));
    for (row, r) in rows.iter().zip(&report.servers) {
        line(&mut out, row);
        if verbose {
            for event in &r.events {
                let _ = writeln!(out, "    {}", event_text(event));
            }
            if let Some(kiss) = r.kiss {
                let _ = writeln!(out, "    kiss code {kiss}: {}", kiss.meaning());
            }
            if let Some(error) = &r.error {
                let _ = writeln!(out, "    error: {error}");
            }
        }
    }
    match report.best() {
        Some(best) => {
            if let Some(m) = best.measurement {
                let _ = writeln!(
                    out,
                    "best: {} offset {} delay {} jitter {} stratum {}",
                    name(best),
                    human_seconds(m.offset),
                    human_interval(m.delay),
                    human_interval(m.jitter),
                    best.header.map_or(0, |h| h.stratum),
                );
            }
        }
        None => out.push_str("best: none (no address gave a valid sample)\n"),
    }
    out
}

/// One error line per address without a measurement:
/// `HOST (ADDRESS): REASON`.
pub fn error_lines(report: &Report) -> Vec<String> {
    report
        .servers
        .iter()
        .filter(|r| r.measurement.is_none())
        .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", name(r))))
        .collect()
}

#[cfg(test)]
mod tests {
    use ntp_wire::packet::Header;
    use ntp_wire::refid::{KissCode, ReferenceId};
    use ntp_wire::time::NtpShort;

    use super::*;
    use crate::query::exchange::Measurement;

    fn sample_report() -> Report {
        let header = Header {
            leap: LeapIndicator::NoWarning,
            version: 4,
            stratum: 3,
            poll: 6,
            precision: -24,
            root_delay: NtpShort::from_bits(0x0000_0400),
            root_dispersion: NtpShort::from_bits(0x0000_0800),
            reference_id: ReferenceId::from_bytes([127, 127, 1, 1]),
            ..Header::default()
        };
        let good = ServerResult {
            host: "localhost".into(),
            address: Some("127.0.0.1:11123".parse().unwrap()),
            header: Some(header),
            measurement: Some(Measurement {
                offset: -0.000_012_5,
                delay: 0.000_061,
                dispersion: 0.000_25,
                jitter: 0.000_003_25,
            }),
            kiss: None,
            error: None,
            sent: 4,
            valid: 4,
            ignored: 0,
            events: vec![
                Event::Sent { number: 1 },
                Event::Sample {
                    number: 1,
                    offset: -0.000_012_5,
                    delay: 0.000_061,
                },
            ],
        };
        let kissed = ServerResult {
            host: "::1".into(),
            address: Some("[::1]:123".parse().unwrap()),
            header: Some(Header {
                stratum: 0,
                reference_id: ReferenceId::from_ascii("DENY"),
                ..header
            }),
            measurement: None,
            kiss: Some(KissCode::Deny),
            error: Some("kiss-o'-death DENY: Access denied by remote server.".into()),
            sent: 1,
            valid: 0,
            ignored: 0,
            events: vec![],
        };
        let unknown = ServerResult::failed(
            "no-such-host.invalid",
            None,
            "unknown host no-such-host.invalid: failed to lookup address information".into(),
        );
        Report::new(vec![good, kissed, unknown])
    }

    #[test]
    fn json_schema() {
        let json = serde_json::to_value(to_json(&sample_report())).unwrap();
        insta::assert_json_snapshot!("query_json", json);
    }

    #[test]
    fn text_table() {
        let report = sample_report();
        insta::assert_snapshot!("query_text", render_text(&report, false));
        insta::assert_snapshot!("query_text_verbose", render_text(&report, true));
        assert_eq!(
            error_lines(&report),
            vec![
                "[::1]:123: kiss-o'-death DENY: Access denied by remote server.".to_owned(),
                "no-such-host.invalid: unknown host no-such-host.invalid: failed to lookup address information".to_owned(),
            ]
        );
        let empty = Report::new(vec![]);
        assert!(
            render_text(&empty, false).ends_with("best: none (no address gave a valid sample)\n")
        );
    }
}
