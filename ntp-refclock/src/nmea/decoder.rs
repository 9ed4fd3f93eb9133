//! The stateful NMEA decoder: sentence lines in, samples or rejections out.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use super::sentence::{self, SentenceKind};
use crate::config::{ClockAddress, DriverKind, NmeaMode, RefclockOptions};
use crate::driver::{DriverEvent, LeapIndicator, RejectReason, Rejection, Sample};

/// The default GPS week-rollover base date (the reference implementation's
/// `tos basedate`): receiver dates before it are moved forward in steps of
/// 1024 weeks, dates 1024 weeks or more after it are moved back. With this
/// default, dates from 2019-01-01 to 2038-08 are taken as sent. Set
/// [`RefclockOptions::basedate`] to replay older captures or once the
/// window has passed.
pub const DEFAULT_BASEDATE: NaiveDate = match NaiveDate::from_ymd_opt(2019, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN,
};

/// The GPS epoch, 1980-01-06 (start of week 0).
pub const GPS_EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1980, 1, 6) {
    Some(date) => date,
    None => NaiveDate::MIN,
};

/// Days in 1024 GPS weeks.
pub const ROLLOVER_DAYS: i64 = 1024 * 7;

/// After this many sentences without any status-bearing sentence (RMC, GGA,
/// GLL), a ZDA-only receiver is trusted without fix information.
pub const ZDA_ONLY_AFTER: u32 = 10;

/// Options of the NMEA decoder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NmeaDecoderOptions {
    /// The clock (for log lines).
    pub address: ClockAddress,
    /// The driver's mode word (sentence selection, trust-date bit).
    pub mode: NmeaMode,
    /// Accept sentences without a checksum.
    pub accept_no_checksum: bool,
    /// The GPS week-rollover base date.
    pub basedate: NaiveDate,
    /// `fudge time2`: the delay from the second boundary to the start of
    /// the sentence, seconds; added to every offset.
    pub time2: f64,
}

impl Default for NmeaDecoderOptions {
    fn default() -> Self {
        Self {
            address: ClockAddress {
                kind: DriverKind::Nmea,
                unit: 0,
            },
            mode: NmeaMode(0),
            accept_no_checksum: false,
            basedate: DEFAULT_BASEDATE,
            time2: 0.0,
        }
    }
}

impl From<&RefclockOptions> for NmeaDecoderOptions {
    fn from(options: &RefclockOptions) -> Self {
        Self {
            address: options.address(),
            mode: NmeaMode(options.mode),
            accept_no_checksum: options.accept_no_checksum,
            basedate: options.basedate.unwrap_or(DEFAULT_BASEDATE),
            time2: options.fudge.time2,
        }
    }
}

/// The driver20 clockstats counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NmeaCounters {
    /// Sentences received (any kind).
    pub received: u64,
    /// Sentences accepted and used as samples.
    pub accepted: u64,
    /// Sentences rejected because they were marked invalid (void fix).
    pub invalid: u64,
    /// Sentences rejected for a bad checksum or an invalid date or time.
    pub bad: u64,
    /// Sentences filtered by the mode bits or because their second was
    /// already sampled.
    pub filtered: u64,
}

/// The GPS week (possibly negative) containing a date.
pub fn gps_week(date: NaiveDate) -> i64 {
    (date - GPS_EPOCH).num_days().div_euclid(7)
}

/// Map a date into the 1024-week window starting at the GPS week of
/// `basedate`; returns the number of 1024-week steps it was moved
/// (positive: forward).
pub fn repair_rollover(date: NaiveDate, basedate: NaiveDate) -> (NaiveDate, i64) {
    let offset = gps_week(date) - gps_week(basedate);
    let steps = -offset.div_euclid(1024);
    if steps == 0 {
        return (date, 0);
    }
    match date.checked_add_signed(TimeDelta::days(steps * ROLLOVER_DAYS)) {
        Some(moved) => (moved, steps),
        None => (date, 0),
    }
}

/// Turns NMEA sentence lines into samples, keeping the context the
/// sentences need: the last date (for GGA and GLL), the receiver's fix
/// status (for ZDA, which has none), the last second sampled.
///
/// Rules, after the reference implementation's driver 20:
/// - checksums must match; sentences without one only with
///   `accept_no_checksum`;
/// - RMC and ZDA carry date and time, GGA and GLL time only (the date comes
///   from the last RMC or ZDA, across midnight as needed);
/// - void fixes make no sample; ZDA (which has no status) only while the
///   receiver's last RMC/GGA/GLL reported a fix, or for a receiver that
///   sends no status-bearing sentences at all;
/// - the `mode` bits choose the sentences; the first chosen sentence of
///   each second makes the sample;
/// - dates are mapped into the 1024-week window from `basedate` (GPS week
///   rollover), with a log line, unless mode bit 18 trusts the date;
/// - the sample's receive time is the arrival of the sentence start, and
///   `time2` is added to its offset.
#[derive(Debug, Clone)]
pub struct NmeaDecoder {
    options: NmeaDecoderOptions,
    date_context: Option<NaiveDateTime>,
    fix: Option<bool>,
    without_status: u32,
    last_second: Option<i64>,
    last_decoded: Option<(SentenceKind, DateTime<Utc>)>,
    last_rollover_steps: i64,
    counters: NmeaCounters,
}

impl NmeaDecoder {
    /// A decoder with the given options.
    pub fn new(options: NmeaDecoderOptions) -> Self {
        Self {
            options,
            date_context: None,
            fix: None,
            without_status: 0,
            last_second: None,
            last_decoded: None,
            last_rollover_steps: 0,
            counters: NmeaCounters::default(),
        }
    }

    /// The options.
    pub fn options(&self) -> &NmeaDecoderOptions {
        &self.options
    }

    /// The counters.
    pub fn counters(&self) -> NmeaCounters {
        self.counters
    }

    /// The sentence type and UTC time of the last sentence whose time was
    /// decoded (whether or not it became a sample).
    pub fn last_decoded(&self) -> Option<(SentenceKind, DateTime<Utc>)> {
        self.last_decoded
    }

    fn reject(
        &mut self,
        reason: RejectReason,
        line: &[u8],
        receive_time: DateTime<Utc>,
    ) -> Option<DriverEvent> {
        match reason {
            RejectReason::VoidFix | RejectReason::FixUnknown => self.counters.invalid += 1,
            RejectReason::NotSelected | RejectReason::SameSecond => self.counters.filtered += 1,
            _ => self.counters.bad += 1,
        }
        Some(DriverEvent::Rejected(Rejection {
            receive_time,
            reason,
            input: line_text(line),
        }))
    }

    /// Sentences the mode bits do not choose are reported as not selected,
    /// whatever else is wrong with them.
    fn unless_unselected(&self, kind: SentenceKind, reason: RejectReason) -> RejectReason {
        if self.options.mode.accepts(kind) {
            reason
        } else {
            RejectReason::NotSelected
        }
    }

    fn repair(&mut self, date: NaiveDate) -> NaiveDate {
        if self.options.mode.trust_date() {
            return date;
        }
        let (repaired, steps) = repair_rollover(date, self.options.basedate);
        if steps != self.last_rollover_steps {
            self.last_rollover_steps = steps;
            if steps != 0 {
                log::warn!(
                    "{}: GPS week rollover: receiver date {date} moved by {steps} x 1024 weeks to {repaired} (basedate {})",
                    self.options.address,
                    self.options.basedate
                );
            } else {
                log::info!(
                    "{}: receiver date {date} needs no more rollover repair",
                    self.options.address
                );
            }
        }
        repaired
    }

    /// Decode one sentence line (with or without CR/LF) that started
    /// arriving at `receive_time`. Returns `None` for sentences that carry
    /// no time (GSV, GSA, VTG, proprietary ones), a sample, or a rejection.
    pub fn decode_line(&mut self, line: &[u8], receive_time: DateTime<Utc>) -> Option<DriverEvent> {
        self.counters.received += 1;
        let sentence = match sentence::parse_sentence(line, self.options.accept_no_checksum) {
            Ok(sentence) => sentence,
            Err(reason) => return self.reject(reason, line, receive_time),
        };
        let kind = sentence.kind;
        if kind == SentenceKind::Other {
            if self.fix.is_none() {
                self.without_status = self.without_status.saturating_add(1);
            }
            return None;
        }
        let status = sentence::fix_status(&sentence);
        if let Some(valid) = status {
            self.fix = Some(valid);
        } else if self.fix.is_none() {
            self.without_status = self.without_status.saturating_add(1);
        }
        let fix = match sentence::decode_time(&sentence) {
            Ok(fix) => fix,
            Err(reason) => {
                let reason = self.unless_unselected(kind, reason);
                return self.reject(reason, line, receive_time);
            }
        };
        if kind == SentenceKind::Zda {
            let trusted = match self.fix {
                Some(valid) => valid,
                None => self.without_status >= ZDA_ONLY_AFTER,
            };
            if !trusted {
                let reason = if self.fix == Some(false) {
                    RejectReason::VoidFix
                } else {
                    RejectReason::FixUnknown
                };
                let reason = self.unless_unselected(kind, reason);
                return self.reject(reason, line, receive_time);
            }
        }
        let datetime = match fix.date {
            Some(date) => {
                let datetime = self.repair(date).and_time(fix.time);
                self.date_context = Some(datetime);
                datetime
            }
            None => {
                let Some(context) = self.date_context else {
                    let reason = self.unless_unselected(kind, RejectReason::NoDate);
                    return self.reject(reason, line, receive_time);
                };
                let mut datetime = context.date().and_time(fix.time);
                // The time may have passed midnight since the date was sent.
                if datetime < context - TimeDelta::hours(12) {
                    datetime += TimeDelta::days(1);
                } else if datetime > context + TimeDelta::hours(12) {
                    datetime -= TimeDelta::days(1);
                }
                datetime
            }
        };
        let reference_time = datetime.and_utc();
        self.last_decoded = Some((kind, reference_time));
        if !self.options.mode.accepts(kind) {
            return self.reject(RejectReason::NotSelected, line, receive_time);
        }
        let second = reference_time.timestamp();
        if self.last_second == Some(second) {
            return self.reject(RejectReason::SameSecond, line, receive_time);
        }
        self.last_second = Some(second);
        self.counters.accepted += 1;
        Some(DriverEvent::Sample(Sample {
            reference_time,
            receive_time,
            correction: self.options.time2,
            leap: LeapIndicator::NoWarning,
            source: line_text(line),
        }))
    }
}

/// A line as text without its CR/LF (non-ASCII bytes replaced).
pub(crate) fn line_text(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .trim_end_matches(['\r', '\n'])
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    fn with_cksum(body: &str) -> String {
        format!("${body}*{:02X}", sentence::checksum(body.as_bytes()))
    }

    fn run(decoder: &mut NmeaDecoder, bodies: &[&str]) -> Vec<String> {
        bodies
            .iter()
            .map(
                |body| match decoder.decode_line(with_cksum(body).as_bytes(), now()) {
                    None => "-".to_owned(),
                    Some(DriverEvent::Sample(s)) => s.reference_time.to_rfc3339(),
                    Some(DriverEvent::Rejected(r)) => r.reason.name().to_owned(),
                },
            )
            .collect()
    }

    #[test]
    fn rollover_window() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let base = d(2019, 1, 1);
        assert_eq!(repair_rollover(d(2019, 4, 6), base), (d(2019, 4, 6), 0));
        assert_eq!(repair_rollover(d(1999, 8, 21), base), (d(2019, 4, 6), 1));
        assert_eq!(repair_rollover(d(1980, 1, 6), base), (d(2019, 4, 7), 2));
        assert_eq!(repair_rollover(d(2040, 1, 1), base), (d(2020, 5, 17), -1));
        assert_eq!(gps_week(GPS_EPOCH), 0);
        assert_eq!(gps_week(d(2019, 4, 7)), 2048);
        assert_eq!(gps_week(d(1980, 1, 5)), -1);
    }

    #[test]
    fn ggas_take_the_date_across_midnight() {
        let mut decoder = NmeaDecoder::new(NmeaDecoderOptions::default());
        let out = run(
            &mut decoder,
            &[
                "GPGGA,235958,4404.1306,N,12118.8515,W,1,10,0.98,1127.7,M,-19.6,M,,",
                "GPRMC,235959,A,4404.1306,N,12118.8515,W,0.03,225.97,311219,,,A",
                "GPGGA,235959,4404.1306,N,12118.8515,W,1,10,0.98,1127.7,M,-19.6,M,,",
                "GPGGA,000000,4404.1306,N,12118.8515,W,1,10,0.98,1127.7,M,-19.6,M,,",
                "GNGLL,4808.9977,N,01135.0800,E,000001.5,A,A",
            ],
        );
        assert_eq!(
            out,
            [
                "no_date",
                "2019-12-31T23:59:59+00:00",
                "same_second",
                "2020-01-01T00:00:00+00:00",
                "2020-01-01T00:00:01.500+00:00"
            ]
        );
        let c = decoder.counters();
        assert_eq!((c.received, c.accepted, c.bad, c.filtered), (5, 3, 1, 1));
    }

    #[test]
    fn zda_needs_a_fix() {
        let mut decoder = NmeaDecoder::new(NmeaDecoderOptions::default());
        let out = run(
            &mut decoder,
            &[
                "GPZDA,030807.00,10,08,2019,00,00",
                "GPRMC,030851.00,V,,,,,,,100819,,,N",
                "GPZDA,030851.00,10,08,2019,00,00",
                "GPGGA,030852,4404.1306,N,12118.8515,W,1,10,0.98,1127.7,M,-19.6,M,,",
                "GPZDA,030853.00,10,08,2019,00,00",
            ],
        );
        assert_eq!(
            out,
            [
                "fix_unknown",
                "void_fix",
                "void_fix",
                "no_date", // a void RMC gives no date either
                "2019-08-10T03:08:53+00:00"
            ]
        );
        // a receiver that only sends ZDA is trusted after a while
        let mut zda_only = NmeaDecoder::new(NmeaDecoderOptions::default());
        let bodies: Vec<String> = (0..12)
            .map(|k| format!("GPZDA,0308{k:02}.00,10,08,2019,00,00"))
            .collect();
        let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
        let out = run(&mut zda_only, &refs);
        assert_eq!(out[8], "fix_unknown");
        assert_eq!(out[9], "2019-08-10T03:08:09+00:00");
    }

    #[test]
    fn mode_bits_choose_sentences() {
        let cycle = [
            "GPGGA,202640.000,4404.1306,N,12118.8515,W,2,10,0.98,1127.7,M,-19.6,M,0000,0000",
            "GPRMC,202640.000,A,4404.1306,N,12118.8515,W,0.03,225.97,130425,,,D",
            "GPZDA,202640.000,13,04,2025,,",
            "GPGLL,4404.1306,N,12118.8515,W,202640.000,A,D",
        ];
        // (mode, what each of the four sentences gives)
        let table: &[(u32, [&str; 4])] = &[
            (0, ["no_date", "sample", "same_second", "same_second"]),
            (
                1,
                ["not_selected", "sample", "not_selected", "not_selected"],
            ),
            (
                2,
                ["no_date", "not_selected", "not_selected", "not_selected"],
            ),
            (
                8,
                ["not_selected", "not_selected", "sample", "not_selected"],
            ),
            (
                4,
                ["not_selected", "not_selected", "not_selected", "sample"],
            ),
            (
                0xc,
                ["not_selected", "not_selected", "sample", "same_second"],
            ),
        ];
        for (mode, want) in table {
            let mut decoder = NmeaDecoder::new(NmeaDecoderOptions {
                mode: NmeaMode(*mode),
                ..Default::default()
            });
            let got: Vec<String> = run(&mut decoder, &cycle)
                .into_iter()
                .map(|s| {
                    if s.starts_with("2025") {
                        "sample".into()
                    } else {
                        s
                    }
                })
                .collect();
            assert_eq!(got, want, "mode {mode:#x}");
        }
    }

    #[test]
    fn time2_is_the_sentence_delay_and_rollover_is_repaired() {
        let mut decoder = NmeaDecoder::new(NmeaDecoderOptions {
            time2: 0.35,
            ..Default::default()
        });
        let line =
            with_cksum("GPRMC,235724.02,A,4808.9978,N,01135.0800,E,000.0,000.0,210899,003.0,E,A");
        let receive = Utc.with_ymd_and_hms(2019, 4, 6, 23, 57, 25).unwrap();
        let Some(DriverEvent::Sample(sample)) = decoder.decode_line(line.as_bytes(), receive)
        else {
            panic!("no sample");
        };
        assert_eq!(
            sample.reference_time.to_rfc3339(),
            "2019-04-06T23:57:24.020+00:00"
        );
        assert!((sample.offset() - (-0.98 + 0.35)).abs() < 1e-9);
        // with the trust-date bit the receiver's date stands
        let mut trusting = NmeaDecoder::new(NmeaDecoderOptions {
            mode: NmeaMode(NmeaMode::TRUST_DATE),
            ..Default::default()
        });
        let Some(DriverEvent::Sample(sample)) = trusting.decode_line(line.as_bytes(), receive)
        else {
            panic!("no sample");
        };
        assert_eq!(
            sample.reference_time.to_rfc3339(),
            "1999-08-21T23:57:24.020+00:00"
        );
    }
}
