//! gpsd interoperability: `gpsfake` replays an NMEA log into a real gpsd,
//! which writes the System V segment of an NTP SHM unit (key 0x4E545030 +
//! unit); our SHM driver reads it, through `ntpctl refclock watch shm` and
//! in the daemon as reference clock 127.127.28.U.
//!
//! Two conditions of gpsd 3.22 decide whether it writes the segment at all:
//!
//! - gpsd never writes SHM for a pseudo-terminal source (`ntpshm.c`: "don't
//!   talk to NTP when we're running inside the test harness"), and
//!   gpsfake's default device is a pty. So gpsfake runs with `-t`: the log
//!   is served over TCP and gpsd reads it as `tcp://127.0.0.1:PORT`.
//! - gpsd opens a device only when a client watches it, unless it runs
//!   with `-n`; gpsfake without `-p` starts no client, so `-n` is needed.
//!
//! gpsd then writes one record per fix cycle once it has seen 3 fixes. As
//! root it takes unit 0 (units 0 and 1 are root-only); otherwise unit 2.
//! It creates the segments of all units it may use (0-7 as root, 2-7
//! otherwise) and leaves them behind; the guard below removes the ones that
//! did not exist before, and a lock file serialises the tests of every
//! process that use the machine-wide units.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{Daemon, TempDir, ntpctl};
use serde_json::Value;

/// The base key of the NTP SHM units.
const SHM_KEY_BASE: i64 = 0x4E54_5030;
/// 1024 GPS weeks, seconds.
const GPS_ERA: i64 = 1024 * 7 * 86400;

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

fn need(program: &str, package: &str) -> PathBuf {
    which(program).unwrap_or_else(|| {
        panic!("{program} is needed (Debian package {package}; .ci/run installs it)")
    })
}

/// The keys of the System V segments that exist now.
fn shm_keys() -> BTreeSet<i64> {
    std::fs::read_to_string("/proc/sysvipc/shm")
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Exclusive use of the machine-wide SHM units for this test: a lock file
/// shared by every test process, and on drop the removal (`ipcrm -M`) of
/// the NTP SHM segments and the gpsd segments that appeared meanwhile.
struct ShmUnits {
    _lock: File,
    before: BTreeSet<i64>,
    extra: Vec<i64>,
}

impl ShmUnits {
    fn claim() -> Self {
        need("ipcrm", "util-linux");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::env::temp_dir().join("ntpctl-test-shm-units.lock"))
            .unwrap();
        lock.lock().unwrap();
        Self {
            _lock: lock,
            before: shm_keys(),
            extra: Vec::new(),
        }
    }

    /// The unit gpsd writes: 0 as root, 2 otherwise.
    fn gpsd_unit() -> u8 {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            0
        } else {
            2
        }
    }
}

impl Drop for ShmUnits {
    fn drop(&mut self) {
        let ours = (SHM_KEY_BASE..SHM_KEY_BASE + 8).chain(self.extra.iter().copied());
        let now = shm_keys();
        for key in ours {
            if now.contains(&key) && !self.before.contains(&key) {
                let _ = Command::new("ipcrm")
                    .args(["-M", &key.to_string()])
                    .status();
            }
        }
    }
}

/// gpsfake (and the gpsd it runs), without CAP_SYS_TIME, in its own process
/// group; killed by PID on drop.
struct Gpsfake {
    child: Child,
    gpsd: Option<i32>,
}

/// The children of process `pid`.
fn children(pid: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces, ')' ends it.
            let rest = &stat[stat.rfind(')')? + 1..];
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid).then(|| e.file_name().to_str()?.parse().ok())?
        })
        .collect()
}

impl Gpsfake {
    /// Replays `log` once over TCP, `cycle` seconds between sentences.
    fn start(log: &Path, dir: &Path, cycle: f64, shm: &mut ShmUnits) -> Self {
        let gpsfake = need("gpsfake", "gpsd-clients");
        need("gpsd", "gpsd");
        let setpriv = need("setpriv", "util-linux");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // gpsfake gives gpsd the client-export segment key 0x4770PPPP.
        shm.extra.push(0x4770_0000 + i64::from(port));
        // (gpsfake 3.22's -o splits its argument into characters, so gpsd
        // gets no pid file; its PID is found as gpsfake's child.)
        let log_path = dir.join("gpsfake.log");
        let stderr = File::create(&log_path).unwrap();
        let child = std::os::unix::process::CommandExt::process_group(
            Command::new(setpriv)
                .args(["--bounding-set", "-sys_time", "--inh-caps", "-sys_time"])
                .arg(gpsfake)
                .args(["-1", "-t", "-q", "-n", "-c", &cycle.to_string()])
                .args(["-P", &port.to_string()])
                .arg(log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr),
            0,
        )
        .spawn()
        .unwrap();
        let mut fake = Self { child, gpsd: None };
        let deadline = Instant::now() + Duration::from_secs(10);
        while fake.gpsd.is_none() {
            if let Ok(Some(status)) = fake.child.try_wait() {
                panic!(
                    "gpsfake exited ({status}): {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "gpsfake started no gpsd");
            std::thread::sleep(Duration::from_millis(50));
            fake.gpsd = children(fake.child.id()).first().copied();
        }
        fake
    }
}

impl Drop for Gpsfake {
    fn drop(&mut self) {
        let gpsd = self.gpsd;
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on processes this guard started: gpsd (gpsfake's
        // child) and gpsfake; then the process group gpsfake leads.
        unsafe {
            if let Some(gpsd) = gpsd {
                libc::kill(gpsd, libc::SIGTERM);
            }
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An NMEA log of RMC and GGA sentences (correct checksums) for `epochs`
/// seconds from `start`, and those times.
fn current_log(start: i64, epochs: i64) -> (String, Vec<i64>) {
    let mut log = String::new();
    let mut times = Vec::new();
    for k in 0..epochs {
        let t = DateTime::from_timestamp(start + k, 0).unwrap();
        let hms = t.format("%H%M%S.00");
        let dmy = t.format("%d%m%y");
        for body in [
            format!("GPRMC,{hms},A,4404.1306,N,12118.8515,W,0.03,225.97,{dmy},,,A"),
            format!("GPGGA,{hms},4404.1306,N,12118.8515,W,1,10,0.98,1127.7,M,-19.6,M,,"),
        ] {
            let sum = body.bytes().fold(0u8, |a, b| a ^ b);
            log.push_str(&format!("${body}*{sum:02X}\r\n"));
        }
        times.push(start + k);
    }
    (log, times)
}

/// The valid RMC times of a receiver log.
fn rmc_times(log: &str) -> BTreeSet<i64> {
    log.lines()
        .filter(|l| l.len() > 6 && &l[3..6] == "RMC")
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            if f.get(2) != Some(&"A") {
                return None;
            }
            let text = format!("{} {}", f.get(9)?, f.get(1)?.get(..6)?);
            let t = chrono::NaiveDateTime::parse_from_str(&text, "%d%m%y %H%M%S").ok()?;
            Some(t.and_utc().timestamp())
        })
        .collect()
}

/// `ntpctl refclock watch shm --unit U --json` until `count` samples.
fn watch_shm(unit: u8, count: u32, extra: &[&str]) -> Vec<Value> {
    let out = ntpctl()
        .args(["refclock", "watch", "shm", "--json", "--seconds", "40"])
        .args(["--unit", &unit.to_string(), "--count", &count.to_string()])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn timestamp(value: &Value) -> f64 {
    let t = DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap();
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) * 1e-9
}

fn samples(records: &[Value]) -> Vec<&Value> {
    records
        .iter()
        .filter(|r| r.get("error").is_none())
        .collect()
}

#[test]
fn gpsd_feeds_our_shm_driver() {
    let mut shm = ShmUnits::claim();
    let unit = ShmUnits::gpsd_unit();
    let dir = TempDir::new("ntpctl-gpsd");

    // 1. A log of the current time: the samples carry exactly its times.
    let start = Utc::now().timestamp() + 2;
    let (log, times) = current_log(start, 40);
    let path = dir.path().join("now.log");
    std::fs::write(&path, log).unwrap();
    let begun = Instant::now();
    let fake = Gpsfake::start(&path, dir.path(), 0.5, &mut shm);
    let records = watch_shm(unit, 5, &[]);
    let found = samples(&records);
    assert_eq!(found.len(), 5, "{records:?}");
    let mut last = 0.0;
    for s in &found {
        let reference = timestamp(&s["reference_time"]);
        let receive = timestamp(&s["receive_time"]);
        assert_eq!(reference.fract(), 0.0, "{s}");
        assert!(times.contains(&(reference as i64)), "{s} not in the log");
        assert!(reference > last, "{s}");
        last = reference;
        // gpsfake paces the log at about one epoch a second.
        assert!((reference - receive).abs() < 5.0, "{s}");
        assert!(s["offset"].as_f64().unwrap().abs() < 5.0, "{s}");
    }
    eprintln!(
        "current-time log: {} samples in {:?}",
        found.len(),
        begun.elapsed()
    );
    drop(fake);

    // 2. GPSD's own receiver log (2015): every sample is a time of the log,
    // moved forward by whole GPS eras (gpsd 3.22 treats a date before its
    // start as a week rollover and adds 1024 weeks). `--flag 1` lifts the
    // driver's 4-hour limit between reference and receive time.
    let log = std::fs::read_to_string(format!(
        "{}/../ntp-refclock/tests/data/nmea/mt3339.log",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let log_times = rmc_times(&log);
    assert!(!log_times.is_empty());
    let path = dir.path().join("mt3339.log");
    std::fs::write(&path, &log).unwrap();
    let _fake = Gpsfake::start(&path, dir.path(), 0.1, &mut shm);
    let records = watch_shm(unit, 3, &["--flag", "1"]);
    let found = samples(&records);
    assert_eq!(found.len(), 3, "{records:?}");
    for s in &found {
        let reference = timestamp(&s["reference_time"]) as i64;
        assert!(
            log_times
                .iter()
                .any(|t| (reference - t) % GPS_ERA == 0 && reference >= *t),
            "{s}: not a time of mt3339.log"
        );
    }
}

#[test]
fn daemon_selects_gpsd_through_shm() {
    let mut shm = ShmUnits::claim();
    let unit = ShmUnits::gpsd_unit();
    let dir = TempDir::new("ntpctl-gpsd-daemon");
    let start = Utc::now().timestamp() + 2;
    let (log, _) = current_log(start, 150);
    let path = dir.path().join("now.log");
    std::fs::write(&path, log).unwrap();
    let _fake = Gpsfake::start(&path, dir.path(), 0.5, &mut shm);
    let address = format!("127.127.28.{unit}");
    let config =
        format!("server {address} minpoll 4 maxpoll 4\nfudge {address} refid GPSD stratum 0\n");
    let listen = format!("127.0.0.1:{}", common::free_port());
    let begun = Instant::now();
    let daemon = Daemon::start(&config, &listen);
    let peer = daemon.wait_for_system_peer(Duration::from_secs(90));
    eprintln!("SHM refclock selected after {:?}", begun.elapsed());
    assert_eq!(peer["remote"], address.as_str(), "{peer}");
    assert_eq!(peer["mode"], "l", "{peer}");
    assert_eq!(peer["refid"], "GPSD", "{peer}");
    assert_eq!(peer["stratum"], 0, "{peer}");
    assert_ne!(peer["reach"], 0, "{peer}");
    // gpsfake's pacing is not tied to the second: within a second or so.
    assert!(peer["offset"].as_f64().unwrap().abs() < 2.0, "{peer}");
    let status = daemon.status();
    assert_eq!(status["system_peer"], address.as_str(), "{status}");
    assert_eq!(status["stratum"], 1, "{status}");
    assert_eq!(status["refid"], "GPSD", "{status}");
}
