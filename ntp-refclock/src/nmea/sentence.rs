//! NMEA 0183 sentences: framing, checksum and the time fields of RMC, GGA,
//! GLL and ZDA. Pure functions over bytes; they never panic.

use chrono::{NaiveDate, NaiveTime};

use crate::driver::RejectReason;

/// The sentence types that carry time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SentenceKind {
    /// Recommended minimum data: time, status, date.
    Rmc,
    /// Fix data: time and fix quality, no date.
    Gga,
    /// Geographic position: time and status, no date.
    Gll,
    /// Time and date.
    Zda,
    /// Anything else (GSV, GSA, VTG, proprietary `$P...`).
    Other,
}

impl SentenceKind {
    /// The three-letter sentence formatter, or `other`.
    pub fn name(self) -> &'static str {
        match self {
            SentenceKind::Rmc => "RMC",
            SentenceKind::Gga => "GGA",
            SentenceKind::Gll => "GLL",
            SentenceKind::Zda => "ZDA",
            SentenceKind::Other => "other",
        }
    }
}

/// Whether the sentence carried a checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// A checksum that matched.
    Valid(u8),
    /// No checksum (accepted only when asked for).
    Missing,
}

/// A framed, checksum-checked sentence, split into fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence<'a> {
    /// The address field without `$`: `GPRMC`, `GNGGA`, `PGRMF`, ...
    pub address: &'a str,
    /// The talker ID (`GP`, `GN`, `GL`, `GA`, `BD`, `GB`, ...), empty for
    /// proprietary sentences.
    pub talker: &'a str,
    /// The sentence type.
    pub kind: SentenceKind,
    /// The data fields after the address.
    pub fields: Vec<&'a str>,
    /// The checksum.
    pub checksum: Checksum,
}

/// The XOR of all bytes.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, byte| acc ^ byte)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

fn unparseable(why: &str) -> RejectReason {
    RejectReason::Unparseable(why.to_owned())
}

/// Frame a sentence (`$...*HH`, trailing CR/LF and blanks ignored), check
/// its checksum and split it into fields. A sentence without a checksum is
/// accepted only when `accept_no_checksum` is set.
pub fn parse_sentence(line: &[u8], accept_no_checksum: bool) -> Result<Sentence<'_>, RejectReason> {
    let end = line
        .iter()
        .rposition(|b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
        .map_or(0, |last| last + 1);
    let line = &line[..end];
    let Some(body) = line.strip_prefix(b"$") else {
        return Err(unparseable("does not start with $"));
    };
    if let Some(bad) = body.iter().find(|b| !(0x20..0x7f).contains(*b)) {
        return Err(RejectReason::Unparseable(format!(
            "non-printable byte {bad:#04x}"
        )));
    }
    let (data, checksum_field) = match body.iter().position(|&b| b == b'*') {
        Some(star) => (&body[..star], Some(&body[star + 1..])),
        None => (body, None),
    };
    let checksum_status = match checksum_field {
        Some(&[high, low]) => {
            let (Some(high), Some(low)) = (hex_value(high), hex_value(low)) else {
                return Err(unparseable("checksum is not two hex digits"));
            };
            let received = (high << 4) | low;
            let computed = checksum(data);
            if received != computed {
                return Err(RejectReason::BadChecksum { computed, received });
            }
            Checksum::Valid(received)
        }
        Some(_) => return Err(unparseable("checksum is not two hex digits")),
        None if accept_no_checksum => Checksum::Missing,
        None => return Err(RejectReason::MissingChecksum),
    };
    // The body is printable ASCII, hence valid UTF-8.
    let data = std::str::from_utf8(data).map_err(|_| unparseable("not ASCII"))?;
    let mut parts = data.split(',');
    let address = parts.next().unwrap_or_default();
    if address.is_empty() || !address.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(unparseable("bad address field"));
    }
    let (talker, kind) = if address.starts_with('P') || address.len() != 5 {
        ("", SentenceKind::Other)
    } else {
        let (talker, formatter) = address.split_at(2);
        let kind = match formatter {
            "RMC" => SentenceKind::Rmc,
            "GGA" => SentenceKind::Gga,
            "GLL" => SentenceKind::Gll,
            "ZDA" => SentenceKind::Zda,
            _ => SentenceKind::Other,
        };
        (talker, kind)
    };
    Ok(Sentence {
        address,
        talker,
        kind,
        fields: parts.collect(),
        checksum: checksum_status,
    })
}

/// The time (and date, if the sentence has one) of a valid fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeFix {
    /// The sentence type.
    pub kind: SentenceKind,
    /// UTC time of day (a leap second 60 is represented as chrono does,
    /// with nanoseconds above one second).
    pub time: NaiveTime,
    /// The date (RMC, ZDA), as sent, before any rollover repair.
    pub date: Option<NaiveDate>,
}

/// Whether a sentence reports a valid fix, for sentences with a status
/// (RMC, GGA, GLL); `None` for ZDA and others.
pub fn fix_status(sentence: &Sentence<'_>) -> Option<bool> {
    let field = |index: usize| sentence.fields.get(index).copied().unwrap_or_default();
    match sentence.kind {
        SentenceKind::Rmc => {
            // status A; the NMEA 2.3 mode indicator N also means no fix
            Some(field(1) == "A" && field(11) != "N")
        }
        SentenceKind::Gga => {
            // quality 1-6 is a fix; 0 invalid, 7 manual input, 8 simulation
            Some(matches!(field(5), "1" | "2" | "3" | "4" | "5" | "6"))
        }
        SentenceKind::Gll => Some(field(5) == "A" && field(6) != "N"),
        SentenceKind::Zda | SentenceKind::Other => None,
    }
}

/// The time of day in `hhmmss[.f...]`.
pub fn parse_time(text: &str) -> Option<NaiveTime> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    if whole.len() != 6 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| whole.get(range)?.parse::<u32>().ok();
    let (hour, minute, second) = (number(0..2)?, number(2..4)?, number(4..6)?);
    let mut nanos = 0u32;
    for (index, digit) in fraction.bytes().take(9).enumerate() {
        nanos += u32::from(digit - b'0') * 10u32.pow(8 - index as u32);
    }
    if second == 60 {
        // A leap second: chrono carries it as nanoseconds beyond 10^9.
        NaiveTime::from_hms_nano_opt(hour, minute, 59, 1_000_000_000 + nanos)
    } else {
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
    }
}

/// The RMC date `ddmmyy`; two-digit years 80-99 are 19xx, 00-79 are 20xx
/// (the GPS week-rollover repair moves them further if needed).
pub fn parse_rmc_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    let (day, month, year) = (number(0..2)?, number(2..4)?, number(4..6)?);
    let year = if year >= 80 { 1900 + year } else { 2000 + year };
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

fn parse_zda_date(day: &str, month: &str, year: &str) -> Option<NaiveDate> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(day, 2) || !digits(month, 2) || !digits(year, 4) {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
}

/// The time (and date) of a time-bearing sentence with a valid fix.
///
/// Errors: [`RejectReason::VoidFix`] for a sentence that says it has no fix,
/// [`RejectReason::BadDate`] for fields that are not a date or time, and
/// [`RejectReason::Unparseable`] for sentences without time.
pub fn decode_time(sentence: &Sentence<'_>) -> Result<TimeFix, RejectReason> {
    if fix_status(sentence) == Some(false) {
        return Err(RejectReason::VoidFix);
    }
    let field = |index: usize| sentence.fields.get(index).copied().unwrap_or_default();
    let (time_field, date) = match sentence.kind {
        SentenceKind::Rmc => (
            field(0),
            Some(parse_rmc_date(field(8)).ok_or(RejectReason::BadDate)?),
        ),
        SentenceKind::Gga => (field(0), None),
        SentenceKind::Gll => (field(4), None),
        SentenceKind::Zda => (
            field(0),
            Some(parse_zda_date(field(1), field(2), field(3)).ok_or(RejectReason::BadDate)?),
        ),
        SentenceKind::Other => return Err(unparseable("sentence carries no time")),
    };
    let time = parse_time(time_field).ok_or(RejectReason::BadDate)?;
    Ok(TimeFix {
        kind: sentence.kind,
        time,
        date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        let line = b"$GPRMC,005947.00,A,3715.6616,N,12157.6709,W,0.0,0.0,080710,,*2F\r\n";
        let s = parse_sentence(line, false).unwrap();
        assert_eq!(s.address, "GPRMC");
        assert_eq!(s.talker, "GP");
        assert_eq!(s.kind, SentenceKind::Rmc);
        assert_eq!(s.checksum, Checksum::Valid(0x2f));
        // firefly-II: GGA checksum off by xor 0x02
        let bad = b"$GPGGA,005947.00,3715.6616,N,12157.6709,W,,11,0.8,86.0,M,-30.1,M,,*54";
        assert_eq!(
            parse_sentence(bad, false),
            Err(RejectReason::BadChecksum {
                computed: 0x56,
                received: 0x54
            })
        );
        let none = b"$GPZDA,222449,25,10,2010,+00,00";
        assert_eq!(
            parse_sentence(none, false),
            Err(RejectReason::MissingChecksum)
        );
        assert_eq!(
            parse_sentence(none, true).unwrap().checksum,
            Checksum::Missing
        );
        assert!(parse_sentence(b"$GPZDA,1*4", false).is_err());
        assert!(parse_sentence(b"$GPZDA,1*4G", false).is_err());
        assert!(parse_sentence(b"GPZDA,1", true).is_err());
        assert!(parse_sentence(b"$GP\x01ZDA", true).is_err());
        assert!(parse_sentence(b"$", true).is_err());
        assert!(parse_sentence(b"", true).is_err());
        // lower-case hex is accepted
        assert!(
            parse_sentence(
                b"$GPRMC,005947.00,A,3715.6616,N,12157.6709,W,0.0,0.0,080710,,*2f",
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn talkers_and_kinds() {
        for (address, talker, kind) in [
            ("GNRMC", "GN", SentenceKind::Rmc),
            ("GLGGA", "GL", SentenceKind::Gga),
            ("GAGLL", "GA", SentenceKind::Gll),
            ("BDZDA", "BD", SentenceKind::Zda),
            ("GBZDA", "GB", SentenceKind::Zda),
            ("GPGSV", "GP", SentenceKind::Other),
            ("PGRMF", "", SentenceKind::Other),
            ("PMTKCHN", "", SentenceKind::Other),
        ] {
            let line = format!("${address},1");
            let s = parse_sentence(line.as_bytes(), true).unwrap();
            assert_eq!((s.talker, s.kind), (talker, kind), "{address}");
        }
    }

    #[test]
    fn times_and_dates() {
        let t = |s| parse_time(s).map(|t| t.to_string());
        assert_eq!(t("235724.02"), Some("23:57:24.020".into()));
        assert_eq!(t("222449"), Some("22:24:49".into()));
        assert_eq!(t("000000.123456789123"), Some("00:00:00.123456789".into()));
        assert_eq!(t("235960"), Some("23:59:60".into()));
        assert_eq!(t("240000"), None);
        assert_eq!(t("236000"), None);
        assert_eq!(t("2357"), None);
        assert_eq!(t("23572a"), None);
        assert_eq!(t("235724.x"), None);
        assert_eq!(t(""), None);
        assert_eq!(
            parse_rmc_date("060419"),
            NaiveDate::from_ymd_opt(2019, 4, 6)
        );
        assert_eq!(
            parse_rmc_date("050180"),
            NaiveDate::from_ymd_opt(1980, 1, 5)
        );
        assert_eq!(parse_rmc_date("310299"), None);
        assert_eq!(parse_rmc_date("1"), None);
    }

    #[test]
    fn decoding() {
        let decode = |line: &[u8]| decode_time(&parse_sentence(line, true).unwrap());
        let rmc =
            decode(b"$GPRMC,235724.02,A,4808.9978,N,01135.0800,E,000.0,000.0,060419,003.0,E,A*3E")
                .unwrap();
        assert_eq!(rmc.date, NaiveDate::from_ymd_opt(2019, 4, 6));
        assert_eq!(
            decode(b"$GPRMC,235946.005,V,8960.000000,N,00000.000000,E,0.000,0.00,050180,,,N*47"),
            Err(RejectReason::VoidFix)
        );
        assert_eq!(
            decode(b"$GPGGA,030851.00,,,,,0,03,9.93,,,,,,*59"),
            Err(RejectReason::VoidFix)
        );
        let gll = decode(b"$GPGLL,4808.9977,N,01135.0800,E,235723.02,A,A*63").unwrap();
        assert_eq!(gll.time.to_string(), "23:57:23.020");
        assert_eq!(gll.date, None);
        assert_eq!(
            decode(b"$GPGLL,,,,,030851.00,V,N*45"),
            Err(RejectReason::VoidFix)
        );
        let zda = decode(b"$GPZDA,202640.000,13,04,2015,,*54").unwrap();
        assert_eq!(zda.date, NaiveDate::from_ymd_opt(2015, 4, 13));
        assert_eq!(
            decode(b"$GPZDA,202640.000,13,4,2015,,"),
            Err(RejectReason::BadDate)
        );
        assert_eq!(decode(b"$GPRMC,,A,,,,,,,,"), Err(RejectReason::BadDate));
        assert!(matches!(
            decode(b"$GPGSV,3,1,09"),
            Err(RejectReason::Unparseable(_))
        ));
    }
}
