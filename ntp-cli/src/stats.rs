//! Statistics files in the reference implementation's `loopstats` and
//! `peerstats` formats (monopt.md), so that existing tools such as NTPsec's
//! `ntpviz` read them.
//!
//! Lines are appended with `O_APPEND`, one `write` a line, so a crash or
//! `kill -9` never leaves a torn line in the middle of the file. File sets
//! follow `filegen ... type`: `none` (one file), `pid`, `day`
//! (`loopstats.20261123`, the default), `week`, `month`, `year`; with
//! `link` (the default) a hard link named like the statistics points at the
//! current generation.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::config::{Config, FilegenConfig};

/// The Modified Julian Day of 1970-01-01.
const MJD_UNIX_EPOCH: i64 = 40_587;

/// MJD and seconds past midnight, as the first two columns of every line.
pub fn mjd_and_seconds(time: DateTime<Utc>) -> (i64, f64) {
    let days = time.timestamp().div_euclid(86_400);
    let seconds = f64::from(time.num_seconds_from_midnight())
        + f64::from(time.timestamp_subsec_nanos()) / 1e9;
    (days + MJD_UNIX_EPOCH, seconds)
}

/// One `loopstats` line (without the newline): date, time, offset (s),
/// frequency (ppm), jitter (s), wander (ppm), time constant (log2 s).
pub fn loopstats_line(
    time: DateTime<Utc>,
    offset: f64,
    frequency_ppm: f64,
    jitter: f64,
    wander_ppm: f64,
    poll: i8,
) -> String {
    let (mjd, secs) = mjd_and_seconds(time);
    format!("{mjd} {secs:.3} {offset:.9} {frequency_ppm:.3} {jitter:.9} {wander_ppm:.6} {poll}")
}

/// One `peerstats` line (without the newline): date, time, source address,
/// status word (hex), offset, delay, dispersion, jitter (s).
pub fn peerstats_line(
    time: DateTime<Utc>,
    source: IpAddr,
    status: u16,
    offset: f64,
    delay: f64,
    dispersion: f64,
    jitter: f64,
) -> String {
    let (mjd, secs) = mjd_and_seconds(time);
    format!(
        "{mjd} {secs:.3} {source} {status:04x} {offset:.9} {delay:.9} {dispersion:.9} {jitter:.9}"
    )
}

/// How a statistics file set is split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileSetType {
    /// One file.
    None,
    /// One file per daemon process.
    Pid,
    /// One file a day (the default).
    Day,
    /// One file a week.
    Week,
    /// One file a month.
    Month,
    /// One file a year.
    Year,
}

impl FileSetType {
    fn parse(text: Option<&str>) -> Self {
        match text {
            Some("none") | Some("age") => Self::None,
            Some("pid") => Self::Pid,
            Some("week") => Self::Week,
            Some("month") => Self::Month,
            Some("year") => Self::Year,
            _ => Self::Day,
        }
    }

    /// The suffix of the generation holding `time`.
    pub fn suffix(self, time: DateTime<Utc>) -> Option<String> {
        match self {
            Self::None => None,
            Self::Pid => Some(std::process::id().to_string()),
            Self::Day => Some(format!(
                "{:04}{:02}{:02}",
                time.year(),
                time.month(),
                time.day()
            )),
            Self::Week => Some(format!("{:04}W{:02}", time.year(), time.iso_week().week())),
            Self::Month => Some(format!("{:04}{:02}", time.year(), time.month())),
            Self::Year => Some(format!("{:04}", time.year())),
        }
    }
}

/// One statistics file set.
#[derive(Clone, Debug)]
pub struct FileSet {
    prefix: PathBuf,
    file_type: FileSetType,
    link: bool,
    current: Option<PathBuf>,
}

impl FileSet {
    /// A file set writing `prefix.SUFFIX`.
    pub fn new(prefix: PathBuf, file_type: FileSetType, link: bool) -> Self {
        Self {
            prefix,
            file_type,
            link,
            current: None,
        }
    }

    /// Appends one line for an event at `time`.
    pub fn append(&mut self, time: DateTime<Utc>, line: &str) -> io::Result<()> {
        let path = match self.file_type.suffix(time) {
            Some(suffix) => {
                let mut name = self.prefix.clone().into_os_string();
                name.push(".");
                name.push(suffix);
                PathBuf::from(name)
            }
            None => self.prefix.clone(),
        };
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        file.write_all(&bytes)?;
        if self.current.as_ref() != Some(&path) {
            if self.link && path != self.prefix {
                let _ = std::fs::remove_file(&self.prefix);
                if let Err(err) = std::fs::hard_link(&path, &self.prefix) {
                    log::warn!(
                        "cannot link {} to {}: {err}",
                        self.prefix.display(),
                        path.display()
                    );
                }
            }
            self.current = Some(path);
        }
        Ok(())
    }
}

/// The statistics the daemon writes, as configured.
#[derive(Debug, Default)]
pub struct Statistics {
    /// `loopstats`, when enabled.
    pub loopstats: Option<FileSet>,
    /// `peerstats`, when enabled.
    pub peerstats: Option<FileSet>,
}

impl Statistics {
    /// The file sets of a configuration: `statistics NAME` and `filegen NAME
    /// ... enable` turn a set on; `statsdir` (default the working directory)
    /// and `filegen ... file` name it; `disable stats` turns all off.
    pub fn from_config(config: &Config) -> Self {
        if !config.flags.stats {
            return Self::default();
        }
        let dir = config
            .statsdir
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        let make = |name: &str| -> Option<FileSet> {
            let filegen: Option<&FilegenConfig> = config.filegen.iter().rfind(|f| f.name == name);
            let enabled = config.statistics.iter().any(|s| s == name)
                && filegen.and_then(|f| f.enable) != Some(false);
            if !enabled {
                return None;
            }
            let file = filegen
                .and_then(|f| f.file.clone())
                .unwrap_or_else(|| name.to_owned());
            let prefix = if Path::new(&file).is_absolute() {
                PathBuf::from(file)
            } else {
                dir.join(file)
            };
            Some(FileSet::new(
                prefix,
                FileSetType::parse(filegen.and_then(|f| f.file_type.as_deref())),
                filegen.and_then(|f| f.link).unwrap_or(true),
            ))
        };
        Self {
            loopstats: make("loopstats"),
            peerstats: make("peerstats"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn line_formats_match_the_reference() {
        // monopt.md's examples: MJD 50935 is 1998-05-02.
        let t = Utc.with_ymd_and_hms(1998, 5, 2, 20, 57, 20).unwrap()
            + chrono::Duration::milliseconds(31);
        assert_eq!(
            loopstats_line(t, 0.000_006_019, 13.778, 0.000_351_733, 0.013_380, 6),
            "50935 75440.031 0.000006019 13.778 0.000351733 0.013380 6"
        );
        let t = Utc.with_ymd_and_hms(1992, 5, 31, 3, 0, 47).unwrap()
            + chrono::Duration::milliseconds(650);
        assert_eq!(
            peerstats_line(
                t,
                "127.127.4.1".parse().unwrap(),
                0x9714,
                -0.001_605_376,
                0.0,
                0.001_424_877,
                0.000_958_674
            ),
            "48773 10847.650 127.127.4.1 9714 -0.001605376 0.000000000 0.001424877 0.000958674"
        );
    }

    #[test]
    fn file_sets_by_day_with_link() {
        let dir = std::env::temp_dir().join(format!("ntpctl-stats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = Config::parse_str(
            &format!(
                "statsdir {}\nstatistics loopstats\nfilegen loopstats type day link enable\n",
                dir.display()
            ),
            "t.conf",
        )
        .unwrap();
        let mut stats = Statistics::from_config(&config);
        assert!(stats.peerstats.is_none());
        let set = stats.loopstats.as_mut().unwrap();
        let day1 = Utc.with_ymd_and_hms(2026, 11, 23, 23, 59, 59).unwrap();
        let day2 = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 1).unwrap();
        set.append(day1, "a").unwrap();
        set.append(day1, "b").unwrap();
        set.append(day2, "c").unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(read("loopstats.20261123"), "a\nb\n");
        assert_eq!(read("loopstats.20261124"), "c\n");
        assert_eq!(read("loopstats"), "c\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
