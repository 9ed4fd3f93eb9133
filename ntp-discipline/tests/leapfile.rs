//! Leap seconds: the IERS `leap-seconds.list` files in `tests/data` (see
//! `tests/data/README.txt`), tampered copies, and the arming table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use ntp_discipline::leap::{
    HashCheck, HashStatus, LeapArm, LeapControl, LeapFile, LeapFileError, LeapSource,
};
use ntp_wire::packet::LeapIndicator;
use ntp_wire::time::NtpDate;

const CURRENT: &str = include_str!("data/leap-seconds.list");
const EXPIRED_2016: &str = include_str!("data/leap-seconds.list.2016-expiry-version");

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NtpDate {
    NtpDate::from_datetime(Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap())
}

#[test]
fn current_file_parses_and_its_hash_matches() {
    let file = LeapFile::parse(CURRENT, HashCheck::Check).unwrap();
    assert_eq!(file.hash_status(), HashStatus::Verified);
    assert_eq!(file.entries().len(), 28);
    let first = file.entries()[0];
    assert_eq!((first.ntp_seconds, first.tai_offset), (2_272_060_800, 10));
    let last = *file.entries().last().unwrap();
    assert_eq!((last.ntp_seconds, last.tai_offset), (3_692_217_600, 37));
    assert_eq!(file.updated().unwrap().ntp_seconds(), 3_992_312_697);
    assert_eq!(file.expires().ntp_seconds(), 4_023_129_600);
    assert_eq!(
        file.expires().to_rfc3339(),
        "2027-06-28T00:00:00.000000000Z"
    );
    assert!(!file.is_expired(utc(2026, 1, 1, 0, 0, 0)));
    assert!(file.is_expired(utc(2027, 6, 28, 0, 0, 0)));
    assert_eq!(file.tai_offset(utc(2024, 1, 1, 0, 0, 0)), Some(37));
    assert_eq!(file.tai_offset(utc(2016, 12, 31, 23, 59, 59)), Some(36));
    assert_eq!(file.tai_offset(utc(1971, 1, 1, 0, 0, 0)), None);
    assert_eq!(file.next_leap(utc(2024, 1, 1, 0, 0, 0)), None);
    assert_eq!(
        file.next_leap(utc(2016, 7, 1, 0, 0, 0)),
        Some((utc(2017, 1, 1, 0, 0, 0), LeapArm::Insert))
    );
}

#[test]
fn expired_2016_file_hash_with_dropped_leading_zero() {
    // Its hash line prints 0cdd22f1 as "cdd22f1": words compare as numbers.
    assert!(EXPIRED_2016.contains("#h\tafc03691 8ff53838 42080ba1 cdd22f1 48192c10"));
    let file = LeapFile::parse(EXPIRED_2016, HashCheck::Check).unwrap();
    assert_eq!(file.hash_status(), HashStatus::Verified);
    assert_eq!(file.entries().len(), 27);
    assert_eq!(file.entries().last().unwrap().tai_offset, 36);
    assert_eq!(file.expires().ntp_seconds(), 3_691_872_000);
    assert!(file.is_expired(utc(2024, 1, 1, 0, 0, 0)));
    assert!(!file.is_expired(utc(2016, 12, 27, 23, 59, 59)));
    assert!(file.is_expired(utc(2016, 12, 28, 0, 0, 0)));
}

/// `text` with the line starting with `prefix` replaced by `line`.
fn replace_line(text: &str, prefix: &str, line: &str) -> String {
    let out: String = text
        .lines()
        .map(|l| if l.starts_with(prefix) { line } else { l })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(out, text);
    out
}

fn hash_line(text: &str) -> usize {
    text.lines().position(|l| l.starts_with("#h")).unwrap() + 1
}

#[test]
fn tampered_files_fail_the_hash() {
    // A changed expiry (to stretch the file's life).
    let tampered = CURRENT.replace("#@\t4023129600", "#@\t4054665600");
    assert_ne!(tampered, CURRENT);
    let err = LeapFile::parse(&tampered, HashCheck::Check).unwrap_err();
    match &err {
        LeapFileError::HashMismatch {
            line,
            expected,
            computed,
        } => {
            assert_eq!(*line, hash_line(CURRENT));
            assert_eq!(expected, "a9bad14584c31c70758402aab37bfd545923836a");
            assert_ne!(computed, expected);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("line {}", hash_line(CURRENT)))
    );

    // A leap second moved by a day.
    let tampered = replace_line(
        CURRENT,
        "3692217600",
        "3692304000      37      # 2 Jan 2017",
    );
    assert_ne!(tampered, CURRENT);
    assert!(matches!(
        LeapFile::parse(&tampered, HashCheck::Check),
        Err(LeapFileError::HashMismatch { .. })
    ));

    // A changed hash word.
    let tampered = CURRENT.replace("a9bad145", "a9bad146");
    assert!(matches!(
        LeapFile::parse(&tampered, HashCheck::Check),
        Err(LeapFileError::HashMismatch { .. })
    ));

    // `ignorehash` loads it anyway.
    let file = LeapFile::parse(&tampered, HashCheck::Ignore).unwrap();
    assert_eq!(file.hash_status(), HashStatus::NotChecked);

    // A file without a hash line is accepted (as ntpd does).
    let unsigned: String = CURRENT
        .lines()
        .filter(|l| !l.starts_with("#h"))
        .map(|l| format!("{l}\n"))
        .collect();
    let file = LeapFile::parse(&unsigned, HashCheck::Check).unwrap();
    assert_eq!(file.hash_status(), HashStatus::Missing);
}

#[test]
fn errors_name_the_line() {
    let broken = replace_line(CURRENT, "3692217600", "3692217600      thirty-seven");
    let line = CURRENT
        .lines()
        .position(|l| l.starts_with("3692217600"))
        .unwrap()
        + 1;
    let err = LeapFile::parse(&broken, HashCheck::Check).unwrap_err();
    assert!(
        matches!(err, LeapFileError::Syntax { line: l, .. } if l == line),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("leap file line {line}:"))
    );

    let broken = replace_line(
        CURRENT,
        "3692217600",
        "3692217600      39      # 1 Jan 2017",
    );
    let err = LeapFile::parse(&broken, HashCheck::Check).unwrap_err();
    assert!(
        matches!(err, LeapFileError::Table { line: l, .. } if l == line),
        "{err}"
    );

    let broken = CURRENT.replace("#@\t4023129600", "#@\tsoon");
    let err = LeapFile::parse(&broken, HashCheck::Check).unwrap_err();
    assert!(matches!(err, LeapFileError::Syntax { .. }), "{err}");

    let no_expiry: String = CURRENT
        .lines()
        .filter(|l| !l.starts_with("#@"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        LeapFile::parse(&no_expiry, HashCheck::Check).unwrap_err(),
        LeapFileError::MissingExpiry
    );
}

#[test]
fn crlf_line_ends_are_accepted() {
    let crlf = CURRENT.replace('\n', "\r\n");
    let file = LeapFile::parse(&crlf, HashCheck::Check).unwrap();
    assert_eq!(file.hash_status(), HashStatus::Verified);
}

/// The arming table: a leap second is pending through the month it ends,
/// and armed in the clock only on the last day of that month.
#[test]
fn leap_arming_table() {
    use LeapArm::{Delete, Insert, None as No};
    use LeapIndicator::{DeleteSecond as Del, InsertSecond as Ins, NoWarning as Nw};

    let current = LeapFile::parse(CURRENT, HashCheck::Check).unwrap();
    let expired = LeapFile::parse(EXPIRED_2016, HashCheck::Check).unwrap();
    let with_file = |file: &LeapFile| {
        let mut c = LeapControl::new();
        c.set_file(Some(file.clone()));
        c
    };
    let no_file = LeapControl::new();
    let any_month = LeapControl::new().with_votes_any_month(true);
    let cur = with_file(&current);
    let old = with_file(&expired);

    #[allow(clippy::type_complexity)]
    let table: Vec<(
        &str,
        &LeapControl,
        NtpDate,
        LeapIndicator,
        LeapIndicator,
        LeapArm,
        LeapSource,
    )> = vec![
        // The leap file's 2016-12-31 insertion.
        (
            "file, a month before",
            &cur,
            utc(2016, 11, 30, 12, 0, 0),
            Nw,
            Nw,
            No,
            LeapSource::None,
        ),
        (
            "file, first of the month",
            &cur,
            utc(2016, 12, 1, 0, 0, 0),
            Nw,
            Ins,
            No,
            LeapSource::File,
        ),
        (
            "file, day before the last",
            &cur,
            utc(2016, 12, 30, 23, 59, 59),
            Nw,
            Ins,
            No,
            LeapSource::File,
        ),
        (
            "file, last day starts",
            &cur,
            utc(2016, 12, 31, 0, 0, 0),
            Nw,
            Ins,
            Insert,
            LeapSource::File,
        ),
        (
            "file, last second",
            &cur,
            utc(2016, 12, 31, 23, 59, 59),
            Nw,
            Ins,
            Insert,
            LeapSource::File,
        ),
        (
            "file, after the leap",
            &cur,
            utc(2017, 1, 1, 0, 0, 0),
            Nw,
            Nw,
            No,
            LeapSource::None,
        ),
        // The file wins over votes.
        (
            "file, vote without leap in file",
            &cur,
            utc(2024, 6, 30, 12, 0, 0),
            Ins,
            Nw,
            No,
            LeapSource::None,
        ),
        (
            "file, vote delete vs file insert",
            &cur,
            utc(2016, 12, 31, 12, 0, 0),
            Del,
            Ins,
            Insert,
            LeapSource::File,
        ),
        // Votes, end of June/December.
        (
            "vote, mid-June",
            &no_file,
            utc(2024, 6, 15, 0, 0, 0),
            Ins,
            Ins,
            No,
            LeapSource::Vote,
        ),
        (
            "vote, June 29",
            &no_file,
            utc(2024, 6, 29, 23, 59, 59),
            Ins,
            Ins,
            No,
            LeapSource::Vote,
        ),
        (
            "vote, June 30",
            &no_file,
            utc(2024, 6, 30, 0, 0, 1),
            Ins,
            Ins,
            Insert,
            LeapSource::Vote,
        ),
        (
            "vote delete, Dec 31",
            &no_file,
            utc(2024, 12, 31, 18, 0, 0),
            Del,
            Del,
            Delete,
            LeapSource::Vote,
        ),
        (
            "vote, no warning",
            &no_file,
            utc(2024, 6, 30, 12, 0, 0),
            Nw,
            Nw,
            No,
            LeapSource::None,
        ),
        (
            "vote, unsynchronised",
            &no_file,
            utc(2024, 6, 30, 12, 0, 0),
            LeapIndicator::Unsynchronized,
            Nw,
            No,
            LeapSource::None,
        ),
        (
            "vote, March ignored",
            &no_file,
            utc(2024, 3, 31, 12, 0, 0),
            Ins,
            Nw,
            No,
            LeapSource::None,
        ),
        (
            "vote, March, any month",
            &any_month,
            utc(2024, 3, 31, 12, 0, 0),
            Ins,
            Ins,
            Insert,
            LeapSource::Vote,
        ),
        (
            "vote, Feb 29 (leap year)",
            &any_month,
            utc(2024, 2, 29, 1, 0, 0),
            Ins,
            Ins,
            Insert,
            LeapSource::Vote,
        ),
        (
            "vote, Feb 28 (leap year)",
            &any_month,
            utc(2024, 2, 28, 23, 0, 0),
            Ins,
            Ins,
            No,
            LeapSource::Vote,
        ),
        // An expired file gives way to the votes.
        (
            "expired file, vote",
            &old,
            utc(2024, 6, 30, 12, 0, 0),
            Ins,
            Ins,
            Insert,
            LeapSource::Vote,
        ),
    ];
    for (name, control, now, vote, indicator, arm, source) in table {
        let status = control.status(now, vote);
        assert_eq!(
            (status.indicator, status.arm, status.source),
            (indicator, arm, source),
            "{name}: {status:?}"
        );
        if source != LeapSource::None {
            let at = status.leap_at.unwrap().to_datetime().unwrap();
            assert_eq!(
                at.format("%d %H:%M:%S").to_string(),
                "01 00:00:00",
                "{name}"
            );
        }
    }
    let status = old.status(utc(2024, 6, 30, 12, 0, 0), Ins);
    assert!(status.file_expired);
    assert_eq!(status.tai_offset, Some(36));
    assert_eq!(
        cur.status(utc(2024, 1, 1, 0, 0, 0), Nw).tai_offset,
        Some(37)
    );
}
