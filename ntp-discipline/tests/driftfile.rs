//! The frequency file: round trip, atomic replacement, corrupt files.
//! Each test works in its own directory under the system temporary
//! directory, removed at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use ntp_discipline::config::DisciplineConfig;
use ntp_discipline::discipline::{ClockDiscipline, ClockState};
use ntp_discipline::drift::{DriftFileError, read_drift_file, write_drift_file};

/// A unique temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "ntp-discipline-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn round_trip() {
    let dir = TempDir::new("round-trip");
    let path = dir.path().join("ntp.drift");
    assert_eq!(read_drift_file(&path).unwrap(), None);
    for value in [12.345, -499.999, 0.0, 500.0, -0.001] {
        write_drift_file(&path, value).unwrap();
        assert_eq!(read_drift_file(&path).unwrap(), Some(value));
    }
    assert_eq!(fs::read_to_string(&path).unwrap(), "-0.001\n");
    // Out-of-range values are clamped when written.
    write_drift_file(&path, 700.0).unwrap();
    assert_eq!(read_drift_file(&path).unwrap(), Some(500.0));
    assert!(matches!(
        write_drift_file(&path, f64::NAN),
        Err(DriftFileError::InvalidValue(_))
    ));
    assert_eq!(read_drift_file(&path).unwrap(), Some(500.0));
    // The discipline starts in FSET with it.
    let discipline =
        ClockDiscipline::new(DisciplineConfig::default(), read_drift_file(&path).unwrap());
    assert_eq!(discipline.state(), ClockState::Fset);
    assert_eq!(discipline.frequency_ppm(), 500.0);
}

#[test]
fn atomic_replacement() {
    let dir = TempDir::new("atomic");
    let path = dir.path().join("ntp.drift");
    write_drift_file(&path, 1.5).unwrap();
    // A temporary file left by a writer that crashed (killed between
    // creating and renaming it) does not matter: the next write truncates
    // it and renames it, so crashes never pile temporary files up.
    let stale = dir.path().join("ntp.drift.TEMP");
    fs::write(&stale, "-3").unwrap();
    // Keep a handle on the old file: replacement is a rename, so the old
    // inode still holds the old contents, complete.
    let old = fs::File::open(&path).unwrap();
    write_drift_file(&path, -7.25).unwrap();
    assert_eq!(read_drift_file(&path).unwrap(), Some(-7.25));
    let mut old_text = String::new();
    std::io::Read::read_to_string(&mut &old, &mut old_text).unwrap();
    assert_eq!(old_text, "1.500\n");
    // Only the file itself is left: no temporary file.
    assert_eq!(dir.entries(), vec!["ntp.drift"]);
    // A write into a directory that does not exist fails and leaves nothing.
    let missing = dir.path().join("no-such-dir").join("ntp.drift");
    assert!(matches!(
        write_drift_file(&missing, 1.0),
        Err(DriftFileError::Io { .. })
    ));
}

#[test]
fn corrupt_file_is_reported_and_ignored() {
    let dir = TempDir::new("corrupt");
    let path = dir.path().join("ntp.drift");
    for contents in [
        &b""[..],
        b"\n",
        b"garbage\n",
        b"12.5 13.5\n",
        b"1e3\n",
        b"nan\n",
        b"12.5", // no newline is fine, tested below
        b"\xff\xfe\x00binary",
    ] {
        fs::write(&path, contents).unwrap();
        let result = read_drift_file(&path);
        if contents == b"12.5" {
            assert_eq!(result.unwrap(), Some(12.5));
            continue;
        }
        let err = result.unwrap_err();
        assert!(matches!(err, DriftFileError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("ntp.drift"), "{err}");
        // The daemon logs it and starts without a stored frequency.
        let stored = read_drift_file(&path).ok().flatten();
        let discipline = ClockDiscipline::new(DisciplineConfig::default(), stored);
        assert_eq!(discipline.state(), ClockState::Nset);
    }
    // A truncated write of an old-style writer ("12." cut off) still reads
    // as a number; an empty file (truncated to zero) is corrupt, not zero.
    fs::write(&path, "12.").unwrap();
    assert_eq!(read_drift_file(&path).unwrap(), Some(12.0));
    // Overwriting a corrupt file repairs it.
    fs::write(&path, "junk").unwrap();
    write_drift_file(&path, 3.0).unwrap();
    assert_eq!(read_drift_file(&path).unwrap(), Some(3.0));
}

#[test]
fn a_directory_in_the_way_is_an_io_error() {
    let dir = TempDir::new("dir");
    let path = dir.path().join("ntp.drift");
    fs::create_dir(&path).unwrap();
    assert!(read_drift_file(&path).is_err());
}
