//! One line per driver event, for the `ntpctl refclock watch` diagnostic:
//! human-readable text or one JSON object per line.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use ntp_refclock::driver::{DriverEvent, LeapIndicator, Sample};
//! use ntp_refclock::watch::WatchRecord;
//!
//! let receive = Utc.with_ymd_and_hms(2019, 4, 6, 23, 57, 24).unwrap();
//! let event = DriverEvent::Sample(Sample {
//!     reference_time: receive,
//!     receive_time: receive,
//!     correction: 0.0,
//!     leap: LeapIndicator::NoWarning,
//!     source: "$GPZDA,235724.00,06,04,2019,,*6F".into(),
//! });
//! let json = WatchRecord::from(&event).to_json();
//! assert_eq!(
//!     json,
//!     r#"{"reference_time":"2019-04-06T23:57:24.000000000Z","receive_time":"2019-04-06T23:57:24.000000000Z","offset":0.000000000,"sentence":"$GPZDA,235724.00,06,04,2019,,*6F"}"#
//! );
//! ```

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::driver::DriverEvent;

/// What `watch` prints for one event.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchRecord {
    /// The reference time (samples only).
    pub reference_time: Option<DateTime<Utc>>,
    /// The local time the input arrived.
    pub receive_time: DateTime<Utc>,
    /// The offset, seconds (samples only).
    pub offset: Option<f64>,
    /// The NMEA sentence the event came from, if any.
    pub sentence: Option<String>,
    /// Another source description (`pps assert #12`, `shm ...`, `local`).
    pub source: Option<String>,
    /// Why the input was rejected (rejections only).
    pub error: Option<String>,
    /// The short name of the rejection reason (rejections only).
    pub reason: Option<&'static str>,
}

fn split_source(text: &str) -> (Option<String>, Option<String>) {
    if text.is_empty() {
        (None, None)
    } else if text.starts_with('$') {
        (Some(text.to_owned()), None)
    } else {
        (None, Some(text.to_owned()))
    }
}

impl From<&DriverEvent> for WatchRecord {
    fn from(event: &DriverEvent) -> Self {
        match event {
            DriverEvent::Sample(sample) => {
                let (sentence, source) = split_source(&sample.source);
                Self {
                    reference_time: Some(sample.reference_time),
                    receive_time: sample.receive_time,
                    offset: Some(sample.offset()),
                    sentence,
                    source,
                    error: None,
                    reason: None,
                }
            }
            DriverEvent::Rejected(rejection) => {
                let (sentence, source) = split_source(&rejection.input);
                Self {
                    reference_time: None,
                    receive_time: rejection.receive_time,
                    offset: None,
                    sentence,
                    source,
                    error: Some(rejection.reason.to_string()),
                    reason: Some(rejection.reason.name()),
                }
            }
        }
    }
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A JSON string literal.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl WatchRecord {
    /// One JSON object: `reference_time`, `receive_time` (RFC 3339 with
    /// nanoseconds), `offset` (seconds), `sentence`, `source`, `error`,
    /// `reason`; absent values are left out.
    pub fn to_json(&self) -> String {
        let mut fields = Vec::new();
        if let Some(time) = self.reference_time {
            fields.push(format!(
                "\"reference_time\":{}",
                json_string(&rfc3339(time))
            ));
        }
        fields.push(format!(
            "\"receive_time\":{}",
            json_string(&rfc3339(self.receive_time))
        ));
        if let Some(offset) = self.offset.filter(|o| o.is_finite()) {
            fields.push(format!("\"offset\":{offset:.9}"));
        }
        for (key, value) in [
            ("sentence", &self.sentence),
            ("source", &self.source),
            ("error", &self.error),
        ] {
            if let Some(value) = value {
                fields.push(format!("\"{key}\":{}", json_string(value)));
            }
        }
        if let Some(reason) = self.reason {
            fields.push(format!("\"reason\":{}", json_string(reason)));
        }
        format!("{{{}}}", fields.join(","))
    }

    /// One line of text: the reference time, the receive time and the
    /// offset of a sample, or the reason of a rejection, then the input.
    pub fn to_text(&self) -> String {
        let input = self
            .sentence
            .as_deref()
            .or(self.source.as_deref())
            .unwrap_or_default();
        match (&self.reference_time, &self.offset, &self.error) {
            (Some(reference), Some(offset), _) => format!(
                "{}  received {}  offset {offset:+.6} s  {input}",
                rfc3339(*reference),
                rfc3339(self.receive_time)
            ),
            (_, _, Some(error)) => format!(
                "rejected ({error})  received {}  {input}",
                rfc3339(self.receive_time)
            ),
            _ => format!("received {}  {input}", rfc3339(self.receive_time)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{RejectReason, Rejection};
    use chrono::TimeZone;

    #[test]
    fn rejections_and_escaping() {
        let event = DriverEvent::Rejected(Rejection {
            receive_time: Utc.with_ymd_and_hms(2010, 7, 8, 0, 59, 47).unwrap(),
            reason: RejectReason::BadChecksum {
                computed: 0x56,
                received: 0x54,
            },
            input: "$GPGGA,\"x\\\u{1}".into(),
        });
        let record = WatchRecord::from(&event);
        assert_eq!(
            record.to_json(),
            r#"{"receive_time":"2010-07-08T00:59:47.000000000Z","sentence":"$GPGGA,\"x\\\u0001","error":"bad checksum (computed 56, received 54)","reason":"bad_checksum"}"#
        );
        assert!(record.to_text().starts_with("rejected (bad checksum"));
        let value: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(value["reason"], "bad_checksum");
        assert_eq!(value["sentence"], "$GPGGA,\"x\\\u{1}");
    }
}
