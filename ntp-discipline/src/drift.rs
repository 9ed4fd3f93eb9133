//! The frequency file (`driftfile`): one line holding the frequency
//! correction in PPM.
//!
//! The file is read once at start; its value goes to
//! [`ClockDiscipline::new`](crate::discipline::ClockDiscipline::new), which
//! then skips the frequency training. A missing file is normal (first
//! start); a corrupt one is reported and ignored.
//!
//! Writing is split in two. [`DriftSchedule`] is the sans-IO decision: at
//! most once an hour, and only when the frequency moved by more than a
//! threshold that halves each hour it is not exceeded (the reference
//! implementation's `nonvolatile` rule); the daemon also writes at
//! shutdown. [`write_drift_file`] does the I/O atomically: a temporary
//! file in the same directory, `fsync`, `rename` over the old file, and an
//! `fsync` of the directory, so a crash leaves the old file or the new one,
//! never a truncated one.
//!
//! ```no_run
//! use ntp_discipline::drift::{read_drift_file, write_drift_file};
//! use std::path::Path;
//!
//! let path = Path::new("/var/lib/ntp/ntp.drift");
//! let stored = match read_drift_file(path) {
//!     Ok(value) => value,
//!     Err(error) => {
//!         log::warn!("{error}; starting without a stored frequency");
//!         None
//!     }
//! };
//! write_drift_file(path, stored.unwrap_or(0.0))?;
//! # Ok::<(), ntp_discipline::drift::DriftFileError>(())
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ntp_wire::time::NtpTimestamp;
use thiserror::Error;

use crate::config::MAXFREQ;

/// The largest frequency a file may hold, PPM.
const MAX_PPM: f64 = MAXFREQ * 1e6;

/// Default write threshold, PPM (`nonvolatile` default 1e-7 s/s).
pub const DEFAULT_WRITE_THRESHOLD_PPM: f64 = 0.1;

/// Shortest interval between two scheduled writes, seconds.
pub const WRITE_INTERVAL: f64 = 3600.0;

/// A frequency file error.
#[derive(Debug, Error)]
pub enum DriftFileError {
    /// The file does not hold one frequency within +/-500 PPM.
    #[error("frequency file {path}: corrupt ({reason}); ignored")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The value to write is not a finite number.
    #[error("frequency {0} cannot be written to a frequency file")]
    InvalidValue(f64),
    /// Reading or writing failed.
    #[error("frequency file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Parses the contents of a frequency file: one number in PPM, within
/// +/-500, optionally surrounded by white space. The error is the reason.
pub fn parse_drift(text: &str) -> Result<f64, String> {
    let mut words = text.split_whitespace();
    let Some(first) = words.next() else {
        return Err("empty".into());
    };
    if words.next().is_some() {
        return Err("more than one value".into());
    }
    let value: f64 = first
        .parse()
        .map_err(|_| format!("{first:?} is not a number"))?;
    if !value.is_finite() || value.abs() > MAX_PPM {
        return Err(format!("{value} PPM is outside +/-{MAX_PPM} PPM"));
    }
    Ok(value)
}

/// Reads the frequency file: `Ok(None)` when it does not exist, the
/// frequency in PPM when it is sound, an error otherwise (the caller logs
/// it and starts without a stored frequency).
pub fn read_drift_file(path: &Path) -> Result<Option<f64>, DriftFileError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(DriftFileError::Corrupt {
                path: path.to_owned(),
                reason: "not text".into(),
            });
        }
        Err(source) => {
            return Err(DriftFileError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse_drift(&text)
        .map(Some)
        .map_err(|reason| DriftFileError::Corrupt {
            path: path.to_owned(),
            reason,
        })
}

/// The temporary file used while replacing `path`: `NAME.TEMP`, as the
/// reference implementation names it. One fixed name, so that a daemon
/// killed while writing leaves at most one stale temporary file, which the
/// next write truncates and renames.
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".TEMP");
    path.with_file_name(name)
}

/// Writes the frequency (PPM) atomically: temporary file, `fsync`, rename,
/// directory `fsync`.
pub fn write_drift_file(path: &Path, frequency_ppm: f64) -> Result<(), DriftFileError> {
    if !frequency_ppm.is_finite() {
        return Err(DriftFileError::InvalidValue(frequency_ppm));
    }
    let value = frequency_ppm.clamp(-MAX_PPM, MAX_PPM);
    let temporary = temporary_path(path);
    let io_error = |source| DriftFileError::Io {
        path: path.to_owned(),
        source,
    };
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)?;
        // One write(2) of the whole line.
        file.write_all(format!("{value:.3}\n").as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temporary);
        return Err(io_error(e));
    }
    // Make the rename durable; not every file system allows this.
    let directory = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(directory)
        && let Err(e) = dir.sync_all()
    {
        log::debug!("fsync of {} failed: {e}", directory.display());
    }
    Ok(())
}

/// When to write the frequency file (sans-IO).
///
/// ```
/// use ntp_discipline::drift::DriftSchedule;
/// use ntp_wire::time::{NtpDuration, NtpTimestamp};
///
/// let t0 = NtpTimestamp::from_seconds_and_fraction(3_900_000_000, 0);
/// let mut schedule = DriftSchedule::new(Some(10.0));
/// // Not within the first hour.
/// assert!(!schedule.should_write(t0, 12.0, true));
/// let later = t0 + NtpDuration::from_seconds(3600);
/// assert!(schedule.should_write(later, 12.0, true));
/// schedule.written(later, 12.0);
/// ```
#[derive(Clone, Debug)]
pub struct DriftSchedule {
    /// The last value written or read, PPM.
    last_value: Option<f64>,
    /// When the last check (or write) happened.
    last_check: Option<NtpTimestamp>,
    threshold: f64,
    base_threshold: f64,
}

impl DriftSchedule {
    /// A schedule starting from the value read at start (if any), with the
    /// default threshold.
    pub fn new(stored_ppm: Option<f64>) -> Self {
        Self::with_threshold(stored_ppm, DEFAULT_WRITE_THRESHOLD_PPM)
    }

    /// A schedule with a write threshold in PPM (`nonvolatile`, given there
    /// in s/s).
    pub fn with_threshold(stored_ppm: Option<f64>, threshold_ppm: f64) -> Self {
        let threshold = if threshold_ppm.is_finite() && threshold_ppm >= 0.0 {
            threshold_ppm
        } else {
            DEFAULT_WRITE_THRESHOLD_PPM
        };
        Self {
            last_value: stored_ppm,
            last_check: None,
            threshold,
            base_threshold: threshold,
        }
    }

    /// Whether to write `frequency_ppm` now. Call it as often as
    /// convenient (each second is fine): it answers yes at most once an
    /// hour, when `valid` (the discipline's frequency is measured) and the
    /// value moved by more than the threshold since the last write. Each
    /// hourly check that does not write halves the threshold. After
    /// writing, call [`DriftSchedule::written`].
    pub fn should_write(&mut self, now: NtpTimestamp, frequency_ppm: f64, valid: bool) -> bool {
        let Some(last) = self.last_check else {
            self.last_check = Some(now);
            return false;
        };
        if (now - last).to_seconds_f64() < WRITE_INTERVAL {
            return false;
        }
        self.last_check = Some(now);
        if !valid || !frequency_ppm.is_finite() {
            return false;
        }
        match self.last_value {
            Some(previous) if (frequency_ppm - previous).abs() <= self.threshold => {
                self.threshold /= 2.0;
                false
            }
            _ => true,
        }
    }

    /// Whether to write at shutdown: when the frequency is valid and was
    /// not written with this value already.
    pub fn should_write_at_shutdown(&self, frequency_ppm: f64, valid: bool) -> bool {
        valid && frequency_ppm.is_finite() && self.last_value != Some(frequency_ppm)
    }

    /// Records a successful write.
    pub fn written(&mut self, now: NtpTimestamp, frequency_ppm: f64) {
        self.last_value = Some(frequency_ppm);
        self.last_check = Some(now);
        self.threshold = self.base_threshold;
    }

    /// The current write threshold, PPM.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_wire::time::NtpDuration;

    #[test]
    fn parse_values() {
        assert_eq!(parse_drift("12.345\n"), Ok(12.345));
        assert_eq!(parse_drift("  -7 "), Ok(-7.0));
        assert!(parse_drift("").is_err());
        assert!(parse_drift("1 2").is_err());
        assert!(parse_drift("abc").is_err());
        assert!(parse_drift("600").is_err());
        assert!(parse_drift("NaN").is_err());
        assert!(parse_drift("inf").is_err());
    }

    #[test]
    fn schedule_hourly_with_halving_threshold() {
        let t0 = NtpTimestamp::from_seconds_and_fraction(3_900_000_000, 0);
        let hour = |h: i64| t0 + NtpDuration::from_seconds(h * 3600);
        let mut s = DriftSchedule::new(Some(10.0));
        assert!(!s.should_write(t0, 20.0, true));
        assert!(!s.should_write(hour(1) - NtpDuration::ONE_SECOND, 20.0, true));
        // Not valid: checked but not written.
        assert!(!s.should_write(hour(1), 20.0, false));
        assert!(s.should_write(hour(2), 20.0, true));
        s.written(hour(2), 20.0);
        // Small change: not written, threshold halves.
        assert!(!s.should_write(hour(3), 20.05, true));
        assert_eq!(s.threshold(), 0.05);
        assert!(s.should_write(hour(4), 20.06, true));
        assert!(s.should_write_at_shutdown(20.06, true));
        assert!(!s.should_write_at_shutdown(20.0, true));
        assert!(!s.should_write_at_shutdown(21.0, false));
    }
}
