//! Leap seconds: the IERS/NIST `leap-seconds.list` file and the decision
//! when to announce and arm a leap second.
//!
//! [`LeapFile::parse`] reads the file format of the `leapfile` directive:
//! data lines `NTP-seconds TAI-offset [# comment]`, the special comments
//! `#$` (last update), `#@` (expiry) and `#h` (SHA-1 of the contents), and
//! plain comments. The hash is the SHA-1 of the digits of the `#$` and `#@`
//! values and of every data line (comments and whitespace removed), in
//! file order; its five words are compared as numbers, because some files
//! print them without leading zeros.
//!
//! [`LeapControl::status`] decides, from the time, the leap indicator voted
//! by the system process and the leap file, what to announce and when to
//! arm the kernel: a leap second is pending through the month whose end it
//! falls on, and is armed ([`LeapArm`]) only on the last day of that month.
//! A loaded, unexpired leap file wins over the votes.
//!
//! ```
//! use ntp_discipline::leap::{HashCheck, LeapArm, LeapControl, LeapFile};
//! use ntp_wire::packet::LeapIndicator;
//! use ntp_wire::time::NtpDate;
//!
//! let text = "#$ 3676924800\n#@ 3707596800\n3644697600 36\n3692217600 37\n";
//! let file = LeapFile::parse(text, HashCheck::Check)?;
//! assert_eq!(file.entries().len(), 2);
//!
//! let mut control = LeapControl::new();
//! control.set_file(Some(file));
//! // 2016-12-31T12:00:00Z: the last day of the month; the file says insert.
//! let now = NtpDate::from_ntp_seconds(3_692_217_600 - 43_200, 0);
//! let status = control.status(now, LeapIndicator::NoWarning);
//! assert_eq!(status.arm, LeapArm::Insert);
//! assert_eq!(status.indicator, LeapIndicator::InsertSecond);
//! # Ok::<(), ntp_discipline::leap::LeapFileError>(())
//! ```

use chrono::{Datelike, NaiveDate};
use ntp_wire::packet::LeapIndicator;
use ntp_wire::time::{NtpDate, UNIX_EPOCH_NTP_SECONDS};
use sha1::{Digest, Sha1};
use thiserror::Error;

/// A leap second armed at the end of the current UTC day (the kernel's
/// `STA_INS`/`STA_DEL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LeapArm {
    /// No leap second.
    #[default]
    None,
    /// Insert a second after 23:59:59.
    Insert,
    /// Delete second 23:59:59.
    Delete,
}

/// One line of the leap table: from `time` on, TAI - UTC is `tai_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LeapEntry {
    /// The first instant with the new offset, seconds since 1900 (the
    /// instant right after the leap second).
    pub ntp_seconds: i64,
    /// TAI - UTC from then on, seconds.
    pub tai_offset: i32,
}

impl LeapEntry {
    /// The instant as a date.
    pub fn date(&self) -> NtpDate {
        NtpDate::from_ntp_seconds(self.ntp_seconds, 0)
    }
}

/// Whether to check the `#h` hash line (`leapfile ... checkhash|ignorehash`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HashCheck {
    /// Verify the hash when the file has one (the default).
    #[default]
    Check,
    /// Do not verify it.
    Ignore,
}

/// What became of the file's hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashStatus {
    /// The hash matched the contents.
    Verified,
    /// The file has no `#h` line (such files are accepted).
    Missing,
    /// Not checked ([`HashCheck::Ignore`]).
    NotChecked,
}

/// An error in a leap file; line numbers count from 1.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LeapFileError {
    /// A line cannot be read.
    #[error("leap file line {line}: {message}")]
    Syntax {
        /// Line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The table is not in increasing time order, or an offset changes by
    /// more than one second.
    #[error("leap file line {line}: {message}")]
    Table {
        /// Line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The hash line does not match the contents.
    #[error(
        "leap file line {line}: hash mismatch (file says {expected}, contents give {computed})"
    )]
    HashMismatch {
        /// Line number of the `#h` line.
        line: usize,
        /// The hash in the file, as 40 hexadecimal digits.
        expected: String,
        /// The hash of the contents.
        computed: String,
    },
    /// The file has no `#@` expiry line.
    #[error("leap file has no expiry (#@) line")]
    MissingExpiry,
    /// The file has no data lines.
    #[error("leap file has no leap second table")]
    Empty,
}

/// A parsed and validated leap-second file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeapFile {
    updated: Option<i64>,
    expires: i64,
    entries: Vec<LeapEntry>,
    hash: HashStatus,
}

fn syntax(line: usize, message: impl Into<String>) -> LeapFileError {
    LeapFileError::Syntax {
        line,
        message: message.into(),
    }
}

fn parse_seconds(text: &str, line: usize, what: &str) -> Result<i64, LeapFileError> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax(line, format!("{what} {text:?} is not a number")));
    }
    text.parse::<i64>()
        .map_err(|_| syntax(line, format!("{what} {text:?} is out of range")))
}

fn hash_digits(hasher: &mut Sha1, text: &str) {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_digit).collect();
    hasher.update(&digits);
}

fn hex_words(words: &[u32; 5]) -> String {
    words.iter().map(|w| format!("{w:08x}")).collect()
}

impl LeapFile {
    /// Parses and validates a leap file's text.
    pub fn parse(text: &str, check: HashCheck) -> Result<Self, LeapFileError> {
        let mut hasher = Sha1::new();
        let mut updated = None;
        let mut expires = None;
        let mut hash: Option<(usize, [u32; 5])> = None;
        let mut entries: Vec<LeapEntry> = Vec::new();

        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if let Some(rest) = raw.strip_prefix("#$") {
                if updated.is_some() {
                    return Err(syntax(line, "second #$ (update time) line"));
                }
                updated = Some(parse_seconds(rest, line, "update time")?);
                hash_digits(&mut hasher, rest);
            } else if let Some(rest) = raw.strip_prefix("#@") {
                if expires.is_some() {
                    return Err(syntax(line, "second #@ (expiry) line"));
                }
                expires = Some(parse_seconds(rest, line, "expiry time")?);
                hash_digits(&mut hasher, rest);
            } else if let Some(rest) = raw.strip_prefix("#h") {
                if hash.is_some() {
                    return Err(syntax(line, "second #h (hash) line"));
                }
                let mut words = [0u32; 5];
                let mut count = 0;
                for word in rest.split_whitespace() {
                    if count == 5 {
                        return Err(syntax(line, "hash has more than five words"));
                    }
                    if word.is_empty()
                        || word.len() > 8
                        || !word.bytes().all(|b| b.is_ascii_hexdigit())
                    {
                        return Err(syntax(
                            line,
                            format!("hash word {word:?} is not hexadecimal"),
                        ));
                    }
                    words[count] = u32::from_str_radix(word, 16).map_err(|_| {
                        syntax(line, format!("hash word {word:?} is not hexadecimal"))
                    })?;
                    count += 1;
                }
                if count != 5 {
                    return Err(syntax(line, format!("hash has {count} words, not five")));
                }
                hash = Some((line, words));
            } else if raw.starts_with('#') {
                // A comment.
            } else {
                let data = raw.split('#').next().unwrap_or("");
                let mut fields = data.split_whitespace();
                let Some(time) = fields.next() else {
                    continue; // A blank line.
                };
                let Some(offset) = fields.next() else {
                    return Err(syntax(line, "data line has no TAI offset"));
                };
                if let Some(extra) = fields.next() {
                    return Err(syntax(line, format!("unexpected field {extra:?}")));
                }
                let ntp_seconds = parse_seconds(time, line, "leap time")?;
                let tai_offset = offset
                    .parse::<i32>()
                    .ok()
                    .filter(|o| (0..=1000).contains(o))
                    .ok_or_else(|| syntax(line, format!("TAI offset {offset:?} is not valid")))?;
                if let Some(previous) = entries.last() {
                    if ntp_seconds <= previous.ntp_seconds {
                        return Err(LeapFileError::Table {
                            line,
                            message: "leap times are not increasing".into(),
                        });
                    }
                    if (tai_offset - previous.tai_offset).abs() != 1 {
                        return Err(LeapFileError::Table {
                            line,
                            message: format!(
                                "TAI offset changes from {} to {tai_offset}, not by one second",
                                previous.tai_offset
                            ),
                        });
                    }
                    if ntp_seconds % 86_400 != 0 {
                        return Err(LeapFileError::Table {
                            line,
                            message: "leap time is not at midnight".into(),
                        });
                    }
                }
                hash_digits(&mut hasher, data);
                entries.push(LeapEntry {
                    ntp_seconds,
                    tai_offset,
                });
            }
        }

        let expires = expires.ok_or(LeapFileError::MissingExpiry)?;
        if entries.is_empty() {
            return Err(LeapFileError::Empty);
        }
        let hash = match (check, hash) {
            (HashCheck::Ignore, _) => HashStatus::NotChecked,
            (HashCheck::Check, None) => HashStatus::Missing,
            (HashCheck::Check, Some((line, expected))) => {
                let digest = hasher.finalize();
                let mut computed = [0u32; 5];
                for (word, chunk) in computed.iter_mut().zip(digest.chunks_exact(4)) {
                    *word = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                }
                if computed != expected {
                    return Err(LeapFileError::HashMismatch {
                        line,
                        expected: hex_words(&expected),
                        computed: hex_words(&computed),
                    });
                }
                HashStatus::Verified
            }
        };
        Ok(Self {
            updated,
            expires,
            entries,
            hash,
        })
    }

    /// The table, in time order.
    pub fn entries(&self) -> &[LeapEntry] {
        &self.entries
    }

    /// The last update of the table (`#$`), if given.
    pub fn updated(&self) -> Option<NtpDate> {
        self.updated.map(|s| NtpDate::from_ntp_seconds(s, 0))
    }

    /// The expiry of the file (`#@`).
    pub fn expires(&self) -> NtpDate {
        NtpDate::from_ntp_seconds(self.expires, 0)
    }

    /// Whether the file has expired at `now`.
    pub fn is_expired(&self, now: NtpDate) -> bool {
        now >= self.expires()
    }

    /// What became of the hash.
    pub fn hash_status(&self) -> HashStatus {
        self.hash
    }

    /// TAI - UTC at `now`, if `now` is within the table.
    pub fn tai_offset(&self, now: NtpDate) -> Option<i32> {
        self.entries
            .iter()
            .take_while(|e| e.date() <= now)
            .last()
            .map(|e| e.tai_offset)
    }

    /// The next leap second after `now`: the instant after it and whether
    /// a second is inserted or deleted.
    pub fn next_leap(&self, now: NtpDate) -> Option<(NtpDate, LeapArm)> {
        let index = self.entries.iter().position(|e| e.date() > now)?;
        let entry = self.entries[index];
        let previous = index.checked_sub(1).map(|i| self.entries[i])?;
        let arm = if entry.tai_offset > previous.tai_offset {
            LeapArm::Insert
        } else {
            LeapArm::Delete
        };
        Some((entry.date(), arm))
    }
}

/// Where a leap decision comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeapSource {
    /// No leap second pending.
    None,
    /// The leap file.
    File,
    /// The leap indicator voted by the system process.
    Vote,
}

/// What [`LeapControl::status`] decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeapStatus {
    /// The leap indicator to announce in packets (the leap second is
    /// pending at the end of the current month).
    pub indicator: LeapIndicator,
    /// What to arm in the clock ([`Clock::set_leap`](crate::clock::Clock::set_leap)):
    /// only on the last day of the month, before the leap.
    pub arm: LeapArm,
    /// The instant right after the pending leap second (00:00:00 UTC on the
    /// first of the next month).
    pub leap_at: Option<NtpDate>,
    /// Where the decision comes from.
    pub source: LeapSource,
    /// TAI - UTC from the leap file, if one is loaded.
    pub tai_offset: Option<i32>,
    /// A leap file is loaded but has expired (it is then not used for
    /// future leap seconds; the votes are).
    pub file_expired: bool,
}

/// The leap-second decision: votes and the leap file.
#[derive(Clone, Debug, Default)]
pub struct LeapControl {
    file: Option<LeapFile>,
    votes_any_month: bool,
}

/// 00:00:00 UTC on the first of the month after the one `now` is in, and
/// whether `now` is on the last day of its month; `None` outside chrono's
/// range.
fn month_end(now: NtpDate) -> Option<(NtpDate, u32)> {
    let date = now.to_datetime()?.date_naive();
    let (year, month) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    let next = NaiveDate::from_ymd_opt(year, month, 1)?;
    let unix = next.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    Some((
        NtpDate::from_ntp_seconds(unix + i64::from(UNIX_EPOCH_NTP_SECONDS), 0),
        date.month(),
    ))
}

impl LeapControl {
    /// No leap file; votes honoured for the end of June and December only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Honour votes at the end of any month, not only June and December.
    pub fn with_votes_any_month(mut self, any: bool) -> Self {
        self.votes_any_month = any;
        self
    }

    /// Loads (or removes) the leap file.
    pub fn set_file(&mut self, file: Option<LeapFile>) {
        self.file = file;
    }

    /// The loaded leap file.
    pub fn file(&self) -> Option<&LeapFile> {
        self.file.as_ref()
    }

    /// The leap decision at `now` given the system process's voted leap
    /// indicator.
    pub fn status(&self, now: NtpDate, vote: LeapIndicator) -> LeapStatus {
        let mut status = LeapStatus {
            indicator: LeapIndicator::NoWarning,
            arm: LeapArm::None,
            leap_at: None,
            source: LeapSource::None,
            tai_offset: self.file.as_ref().and_then(|f| f.tai_offset(now)),
            file_expired: false,
        };
        let Some((end, month)) = month_end(now) else {
            return status;
        };
        let last_day = (end - now).to_seconds_f64() <= 86_400.0;

        let pending = match &self.file {
            Some(file) if !file.is_expired(now) => {
                // The file wins: votes are ignored.
                match file.next_leap(now) {
                    Some((at, arm)) if at == end => Some((arm, LeapSource::File)),
                    _ => None,
                }
            }
            file => {
                status.file_expired = file.is_some();
                let month_ok = self.votes_any_month || month == 6 || month == 12;
                match vote {
                    LeapIndicator::InsertSecond if month_ok => {
                        Some((LeapArm::Insert, LeapSource::Vote))
                    }
                    LeapIndicator::DeleteSecond if month_ok => {
                        Some((LeapArm::Delete, LeapSource::Vote))
                    }
                    _ => None,
                }
            }
        };
        if let Some((arm, source)) = pending {
            status.indicator = match arm {
                LeapArm::Delete => LeapIndicator::DeleteSecond,
                _ => LeapIndicator::InsertSecond,
            };
            status.arm = if last_day { arm } else { LeapArm::None };
            status.leap_at = Some(end);
            status.source = source;
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_end_of_december() {
        // 2016-12-15T00:00:00Z
        let now = NtpDate::from_ntp_seconds(3_692_217_600 - 17 * 86_400, 0);
        let (end, month) = month_end(now).unwrap();
        assert_eq!(end.ntp_seconds(), 3_692_217_600);
        assert_eq!(month, 12);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = LeapFile::parse("#@ 1\n\n2272060800 x\n", HashCheck::Check).unwrap_err();
        assert!(
            matches!(err, LeapFileError::Syntax { line: 3, .. }),
            "{err}"
        );
        let err = LeapFile::parse("#@ 1\n#h 1 2 3\n2272060800 10\n", HashCheck::Check).unwrap_err();
        assert!(
            matches!(err, LeapFileError::Syntax { line: 2, .. }),
            "{err}"
        );
        assert_eq!(
            LeapFile::parse("2272060800 10\n", HashCheck::Check).unwrap_err(),
            LeapFileError::MissingExpiry
        );
        let err =
            LeapFile::parse("#@ 1\n2287785600 11\n2272060800 10\n", HashCheck::Check).unwrap_err();
        assert!(matches!(err, LeapFileError::Table { line: 3, .. }), "{err}");
    }
}
