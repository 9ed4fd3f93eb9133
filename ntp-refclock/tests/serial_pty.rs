//! The NMEA driver's real code path - termios, non-blocking reads, line
//! assembly with arrival timestamps, decoding - fed through a
//! pseudo-terminal pair opened by the test, at a given line speed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use std::ffi::CStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::*;
use ntp_refclock::config::BaudRate;
use ntp_refclock::driver::{Driver, DriverEvent, RejectReason};
use ntp_refclock::nmea::{NmeaDecoder, NmeaDecoderOptions, NmeaDriver};

/// The master side of a pseudo-terminal and the path of its slave.
struct Pty {
    master: File,
    slave: PathBuf,
}

fn open_pty() -> Pty {
    // SAFETY: plain libc calls on a descriptor this function owns; the
    // buffer passed to ptsname_r is writable and its length is given.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = File::from_raw_fd(fd);
        assert_eq!(libc::grantpt(fd), 0);
        assert_eq!(libc::unlockpt(fd), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let slave = PathBuf::from(CStr::from_ptr(name.as_ptr()).to_str().unwrap());
        Pty { master, slave }
    }
}

fn readable(fd: RawFd, timeout_ms: i32) -> bool {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pollfd, 1, timeout_ms) };
    n > 0 && pollfd.revents & libc::POLLIN != 0
}

/// Write a log through the pty at `baud`, servicing the driver from a
/// poll(2) loop as the daemon will; returns every event.
fn replay_through_pty(
    lines: &[String],
    baud: BaudRate,
    options: NmeaDecoderOptions,
) -> Vec<DriverEvent> {
    let mut pty = open_pty();
    let mut driver = NmeaDriver::open_path(&pty.slave, baud, options).unwrap();
    assert!(driver.port().speed_is_set());
    let fd = driver.raw_fd().unwrap();
    assert_eq!(fd, driver.as_raw_fd());
    let mut events = Vec::new();
    let started = Instant::now();
    let mut sent_bits = 0u64;
    let service = |driver: &mut NmeaDriver, events: &mut Vec<DriverEvent>, timeout_ms| {
        while readable(fd, timeout_ms) {
            let now: DateTime<Utc> = Utc::now();
            events.extend(driver.service(now).unwrap());
        }
    };
    for line in lines {
        let bytes = format!("{line}\r\n");
        pty.master.write_all(bytes.as_bytes()).unwrap();
        // Pace the writes at the line speed (10 bits per character).
        sent_bits += 10 * bytes.len() as u64;
        let due = Duration::from_secs_f64(sent_bits as f64 / f64::from(baud.bps()));
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        service(&mut driver, &mut events, 0);
    }
    service(&mut driver, &mut events, 200);
    events
}

fn samples(events: &[DriverEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            DriverEvent::Sample(sample) => Some(gpsd_format(sample.reference_time)),
            DriverEvent::Rejected(_) => None,
        })
        .collect()
}

fn offline(lines: &[String], options: NmeaDecoderOptions) -> Vec<String> {
    let mut decoder = NmeaDecoder::new(options);
    lines
        .iter()
        .filter_map(
            |line| match decoder.decode_line(line.as_bytes(), Utc::now()) {
                Some(DriverEvent::Sample(sample)) => Some(gpsd_format(sample.reference_time)),
                _ => None,
            },
        )
        .collect()
}

#[test]
fn every_log_replays_through_a_pseudo_terminal() {
    for name in LOGS {
        let lines = log_lines(name);
        let before = Utc::now();
        let events = replay_through_pty(&lines, BaudRate::B115200, replay_options(name));
        let after = Utc::now();
        let ours = samples(&events);
        // The same samples as decoding the log directly (which the
        // nmea_logs tests compare with GPSD sentence by sentence) ...
        assert_eq!(ours, offline(&lines, replay_options(name)), "{name}");
        // ... and every time GPSD reports for a valid fix is among them.
        for time in gpsd_fix_times(name) {
            assert!(ours.contains(&time), "{name}: {time} missing");
        }
        // Arrival timestamps come from the loop's clock readings.
        for event in &events {
            if let DriverEvent::Sample(sample) = event {
                assert!(sample.receive_time >= before - chrono::TimeDelta::milliseconds(50));
                assert!(sample.receive_time <= after);
            }
        }
        match *name {
            "firefly-II" => {
                let bad = events
                    .iter()
                    .filter(|e| matches!(e, DriverEvent::Rejected(r) if matches!(r.reason, RejectReason::BadChecksum { .. })))
                    .count();
                assert_eq!(bad, 23);
                assert_eq!(ours.len(), 23);
            }
            "garmin-geko201" => assert!(ours.is_empty()),
            "hp58534a" => assert_eq!(ours.len(), 2),
            "gp-320fw-2019-04-06-overflow" => {
                assert!(ours.iter().all(|t| t.starts_with("2019-04-06")));
            }
            _ => {}
        }
    }
}

#[test]
fn checksum_less_log_needs_the_option_at_9600() {
    let lines = log_lines("hp58534a");
    let strict = NmeaDecoderOptions {
        accept_no_checksum: false,
        ..replay_options("hp58534a")
    };
    let events = replay_through_pty(&lines, BaudRate::B9600, strict);
    assert!(samples(&events).is_empty());
    assert!(events.iter().any(
        |e| matches!(e, DriverEvent::Rejected(r) if r.reason == RejectReason::MissingChecksum)
    ));
    let events = replay_through_pty(&lines, BaudRate::B9600, replay_options("hp58534a"));
    assert_eq!(
        samples(&events),
        ["2010-10-25T22:24:49.000Z", "2010-10-25T22:24:50.000Z"]
    );
}

#[test]
fn rolled_back_dates_are_repaired_through_the_pty() {
    let lines = rolled_back_rollover_log();
    let events = replay_through_pty(&lines, BaudRate::B57600, NmeaDecoderOptions::default());
    let ours = samples(&events);
    assert!(!ours.is_empty());
    assert!(ours.iter().all(|t| t.starts_with("2019-04-06")), "{ours:?}");
}
