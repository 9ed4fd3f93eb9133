//! `ntpctl refclock watch nmea`: a real receiver log fed through a
//! pseudo-terminal pair (made by socat) into the real driver, printed as
//! JSON lines; and the clear error for a missing device.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{TempDir, ntpctl};
use serde_json::Value;

/// socat, killed by PID when dropped.
struct Socat(std::process::Child);

impl Drop for Socat {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn nmea_log_through_a_pty() {
    let socat =
        which("socat").expect("socat is needed (Debian package socat; .ci/run installs it)");
    let dir = TempDir::new("ntpctl-watch");
    let gps = dir.path().join("gps");
    let feed = dir.path().join("feed");
    let _socat = Socat(
        Command::new(socat)
            .arg(format!("pty,raw,echo=0,link={}", gps.display()))
            .arg(format!("pty,raw,echo=0,link={}", feed.display()))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if gps.exists() && feed.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let watch = ntpctl()
        .args([
            "refclock",
            "watch",
            "nmea",
            "--baud",
            "9600",
            "--count",
            "3",
            "--seconds",
            "20",
        ])
        .args(["--basedate", "2000-01-01", "--json", "--path"])
        .arg(&gps)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let log = std::fs::read_to_string(format!(
        "{}/../ntp-refclock/tests/data/nmea/mt3339.log",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut writer = std::fs::OpenOptions::new().write(true).open(&feed).unwrap();
    // A few seconds of receiver output, paced a little like a receiver.
    for line in log.lines().filter(|l| l.starts_with('$')).take(60) {
        writer.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = watch.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let samples: Vec<&Value> = records
        .iter()
        .filter(|r| r.get("error").is_none())
        .collect();
    assert_eq!(samples.len(), 3, "{records:?}");
    // The log's first seconds: 2015-04-13 20:26:40, :41, :42 (GPSD's .chk agrees).
    let times: Vec<&str> = samples
        .iter()
        .map(|s| s["reference_time"].as_str().unwrap())
        .collect();
    assert!(times[0].starts_with("2015-04-13T20:26:4"), "{times:?}");
    for s in &samples {
        assert!(s["sentence"].as_str().unwrap().starts_with("$GP"), "{s}");
        assert!(s["receive_time"].as_str().is_some());
        assert!(
            s["offset"].as_f64().unwrap() < -1e8,
            "an old log is far in the past: {s}"
        );
    }
}

#[test]
fn missing_device_is_a_clear_error() {
    let out = ntpctl()
        .args([
            "refclock",
            "watch",
            "nmea",
            "--path",
            "/nonexistent/gps0",
            "--seconds",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/gps0") || stderr.contains("nmea"),
        "{stderr}"
    );
    let out = ntpctl()
        .args(["refclock", "watch", "sundial"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected nmea, pps, shm or local"));
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}
