//! The daemon with reference clocks: an NMEA receiver simulated on a socat
//! pseudo-terminal (current-time RMC and GGA sentences with correct
//! checksums, written at the real second boundaries) is reached and
//! selected `*`; the local clock (127.127.1.0) is only a fallback, selected
//! when nothing else is there. (gpsd through SHM: `refclock_gpsd.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{Daemon, TempDir};
use serde_json::Value;

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// A simulated NMEA receiver: a socat pty pair (`gps` for the daemon) and
/// a thread writing RMC and GGA for each second just after it begins.
/// socat is killed by PID and the thread stopped on drop.
struct Receiver {
    socat: Child,
    stop: Arc<AtomicBool>,
    writer: Option<JoinHandle<()>>,
    gps: PathBuf,
}

fn sentence(body: &str) -> String {
    let sum = body.bytes().fold(0u8, |a, b| a ^ b);
    format!("${body}*{sum:02X}\r\n")
}

impl Receiver {
    fn start(dir: &TempDir) -> Self {
        let socat =
            which("socat").expect("socat is needed (Debian package socat; .ci/run installs it)");
        let gps = dir.path().join("gps");
        let feed = dir.path().join("feed");
        let socat = Command::new(socat)
            .arg(format!("pty,raw,echo=0,link={}", gps.display()))
            .arg(format!("pty,raw,echo=0,link={}", feed.display()))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(gps.exists() && feed.exists()) {
            assert!(Instant::now() < deadline, "socat made no pty pair");
            std::thread::sleep(Duration::from_millis(20));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let writer = std::thread::spawn(move || {
            let mut out = std::fs::OpenOptions::new().write(true).open(&feed).unwrap();
            while !stopped.load(Ordering::Relaxed) {
                // Sleep to 10 ms after the next second begins.
                let now = Utc::now();
                let into = f64::from(now.timestamp_subsec_nanos()) * 1e-9;
                std::thread::sleep(Duration::from_secs_f64(1.01 - into));
                let second = Utc::now().timestamp();
                let t = DateTime::from_timestamp(second, 0).unwrap();
                let hms = t.format("%H%M%S.00");
                let dmy = t.format("%d%m%y");
                let text = sentence(&format!(
                    "GPRMC,{hms},A,4404.1306,N,12118.8515,W,0.03,225.97,{dmy},,,A"
                )) + &sentence(&format!(
                    "GPGGA,{hms},4404.1306,N,12118.8515,W,1,10,0.98,1127.7,M,-19.6,M,,"
                ));
                // The daemon may not have opened the port yet: ignore errors.
                let _ = out.write_all(text.as_bytes());
            }
        });
        Self {
            socat,
            stop,
            writer: Some(writer),
            gps,
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        let _ = self.socat.kill();
        let _ = self.socat.wait();
    }
}

fn listen() -> String {
    format!("127.0.0.1:{}", common::free_port())
}

fn peer<'a>(peers: &'a Value, remote: &str) -> &'a Value {
    peers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["remote"] == remote)
        .unwrap_or_else(|| panic!("no {remote} in {peers}"))
}

#[test]
fn nmea_refclock_is_selected() {
    let dir = TempDir::new("ntpctl-nmea-daemon");
    let receiver = Receiver::start(&dir);
    // NTPsec's form for the device, the classic fudge line for the rest;
    // the local clock is configured too and must stay a fallback.
    let config = format!(
        "refclock nmea unit 0 path {} baud 115200 minpoll 4 maxpoll 4\n\
         fudge 127.127.20.0 stratum 0 refid GPS\n\
         server 127.127.1.0 minpoll 4\n\
         fudge 127.127.1.0 stratum 10\n",
        receiver.gps.display()
    );
    let begun = Instant::now();
    let daemon = Daemon::start(&config, &listen());
    let selected = daemon.wait_for_system_peer(Duration::from_secs(90));
    eprintln!("NMEA refclock selected after {:?}", begun.elapsed());
    assert_eq!(selected["remote"], "127.127.20.0", "{selected}");
    assert_eq!(selected["mode"], "l", "{selected}");
    assert_eq!(selected["refid"], "GPS", "{selected}");
    assert_eq!(selected["stratum"], 0, "{selected}");
    assert_ne!(selected["reach"], 0, "{selected}");
    // Sentences start 10 ms into the second. The driver dates a sentence's
    // start back from its arrival by the character time of the baud rate;
    // a pty delivers both sentences (145 characters) at once, which at
    // 115200 bit/s moves the start back by about 13 ms (at 9600, 150 ms).
    let offset = selected["offset"].as_f64().unwrap();
    assert!(offset.abs() < 0.05, "{selected}");
    let peers = daemon.peers();
    let local = peer(&peers, "127.127.1.0");
    assert_ne!(local["tally"], "*", "{peers}");
    assert_ne!(local["tally"], "+", "{peers}");
    let status = daemon.status();
    assert_eq!(status["system_peer"], "127.127.20.0", "{status}");
    assert_eq!(status["stratum"], 1, "{status}");
    assert_eq!(status["refid"], "GPS", "{status}");
}

#[test]
fn local_clock_is_the_fallback_when_alone() {
    let config = "server 127.127.1.0 minpoll 4\nfudge 127.127.1.0 stratum 10\n";
    let daemon = Daemon::start(config, &listen());
    let selected = daemon.wait_for_system_peer(Duration::from_secs(60));
    assert_eq!(selected["remote"], "127.127.1.0", "{selected}");
    assert_eq!(selected["mode"], "l", "{selected}");
    assert_eq!(selected["stratum"], 10, "{selected}");
    assert_eq!(selected["refid"], "LOCL", "{selected}");
    let status = daemon.status();
    assert_eq!(status["system_peer"], "127.127.1.0", "{status}");
    assert_eq!(status["stratum"], 11, "{status}");
}
