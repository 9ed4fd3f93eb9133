//! `kill -9` at random moments never leaves a broken frequency file or a
//! torn statistics line, and a restarted daemon picks up its frequency.
//!
//! A client daemon with a `driftfile` and `peerstats`/`loopstats` in a
//! `statsdir` synchronises to a server of ours on loopback. Under
//! `--no-adjust` the daemon never writes its frequency file by itself (it
//! does so hourly and at exit, and only when it adjusts the clock), so the
//! test sets the documented test knob `NTPCTL_TEST_DRIFT_INTERVAL_MS=2`:
//! the daemon then rewrites the file every 2 ms through the real atomic
//! writer (temporary file, fsync, rename, directory fsync). Before each
//! start the test stores a new frequency; the restarted daemon must report
//! it (`ntpctl status`), and after SIGKILL at a random moment the file must
//! hold exactly one complete value, the temporary file at most one stale
//! copy, and every statistics file only complete lines that parse (each
//! line is appended with one write(2), with O_APPEND).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Daemon, TempDir, free_port};
use ntp_discipline::drift::parse_drift;

/// Restarts (each ended by SIGKILL).
const RESTARTS: usize = 20;
/// The longest a run lasts before SIGKILL, milliseconds (a poll is 8 s).
const LONGEST_RUN_MS: u64 = 10_000;
/// Ports the server listens on (one association of the client each).
const SERVER_PORTS: usize = 6;

/// A small deterministic generator (the seed is printed, to replay a run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// Uniform in `[low, high)`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

/// Checks one `peerstats` or `loopstats` line: the field count and that
/// every field parses.
fn check_line(file: &str, line: &str) {
    let fields: Vec<&str> = line.split(' ').collect();
    let ok = if file.starts_with("peerstats") {
        fields.len() == 8
            && fields[0].parse::<u32>().is_ok()
            && fields[1].parse::<f64>().is_ok()
            && fields[2].parse::<std::net::IpAddr>().is_ok()
            && u16::from_str_radix(fields[3], 16).is_ok()
            && fields[4..].iter().all(|f| f.parse::<f64>().is_ok())
    } else {
        fields.len() == 7
            && fields[0].parse::<u32>().is_ok()
            && fields[1..6].iter().all(|f| f.parse::<f64>().is_ok())
            && fields[6].parse::<i8>().is_ok()
    };
    assert!(ok, "{file}: torn or malformed line {line:?}");
}

/// Checks every statistics file in `dir`; returns the number of lines.
fn check_stats(dir: &Path) -> usize {
    let mut lines = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{name}: partial last line {:?}",
            text.lines().last()
        );
        for line in text.lines() {
            check_line(&name, line);
            lines += 1;
        }
    }
    lines
}

/// The frequency file is absent, or holds exactly `expected`; the
/// temporary file, if a kill left one, is the only other entry.
fn check_drift(dir: &Path, expected: f64) {
    let path = dir.join("ntp.drift");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let value =
                parse_drift(&text).unwrap_or_else(|e| panic!("frequency file {text:?}: {e}"));
            assert_eq!(value, expected, "frequency file {text:?}");
            assert!(text.ends_with('\n'), "{text:?}");
        }
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
    }
    let mut entries: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    entries.retain(|e| e != "ntp.drift");
    assert!(
        entries.is_empty() || entries == ["ntp.drift.TEMP"],
        "left behind: {entries:?}"
    );
}

/// `ntpctl run` for the client, like `Daemon::start_with`, with the test
/// knob in its environment.
fn start_client(config: &str, listen: &str) -> Daemon {
    Daemon::start_with_env(
        TempDir::new("ntpctl-durable"),
        config,
        listen,
        &[],
        &[("NTPCTL_TEST_DRIFT_INTERVAL_MS", "2")],
    )
}

#[test]
fn kill_9_at_random_moments_leaves_complete_files_and_the_frequency_is_picked_up() {
    // One server of ours on several ports, so that the client has several
    // associations and writes more statistics lines.
    let ports: Vec<u16> = (0..SERVER_PORTS).map(|_| free_port()).collect();
    let mut listen = Vec::new();
    for port in &ports[1..] {
        listen.push("--listen".to_owned());
        listen.push(format!("127.0.0.1:{port}"));
    }
    let listen: Vec<&str> = listen.iter().map(String::as_str).collect();
    let server = Daemon::start_with(
        "tos orphan 5 orphanwait 0\n",
        &format!("127.0.0.1:{}", ports[0]),
        &listen,
    );
    server.wait_for(
        Duration::from_secs(10),
        "the server to be an orphan parent",
        |d| d.status()["stratum"] == 5,
    );
    let state = TempDir::new("ntpctl-state");
    let drift_dir = state.path().join("drift");
    let stats_dir = state.path().join("stats");
    std::fs::create_dir_all(&drift_dir).unwrap();
    std::fs::create_dir_all(&stats_dir).unwrap();
    let drift = drift_dir.join("ntp.drift");
    let servers: String = ports
        .iter()
        .map(|p| format!("server 127.0.0.1 port {p} minpoll 3 maxpoll 3\n"))
        .collect();
    let config = format!(
        "{servers}\
         driftfile {}\n\
         statsdir {}/\n\
         statistics peerstats loopstats\n\
         filegen peerstats file peerstats type day link enable\n\
         filegen loopstats file loopstats type none enable\n",
        drift.display(),
        stats_dir.display()
    );
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut rng = Lcg(seed);
    let mut lines = 0;
    let mut killed_after = Vec::new();
    let mut previous = None;
    for round in 0..=RESTARTS {
        // A new stored frequency, -400.000 to +400.000 ppm, in the file's
        // own format, for this start.
        let value = (rng.range(0, 800_001) as f64 - 400_000.0) / 1000.0;
        if round % 2 == 0 {
            std::fs::write(&drift, format!("{value:.3}\n")).unwrap();
        } else if let Some(previous) = previous {
            // Every other start takes what the killed daemon left.
            check_drift(&drift_dir, previous);
        }
        let expected = if round % 2 == 0 {
            value
        } else {
            previous.unwrap_or(value)
        };
        let mut client = start_client(&config, &format!("127.0.0.1:{}", free_port()));
        let status = client.status();
        // (Held in s/s inside, so compared to a nanoppm.)
        let reported = status["frequency_ppm"].as_f64().unwrap_or(f64::NAN);
        assert!(
            (reported - expected).abs() < 1e-6,
            "round {round}: the stored frequency {expected} was not picked up: {status}\n{}",
            client.log()
        );
        assert!(!client.log().contains("ignoring the frequency file"));
        if round == RESTARTS {
            // The last start: a clean exit instead.
            client.signal(libc::SIGTERM);
            assert!(client.child.wait().unwrap().success());
            break;
        }
        // Let it run, then SIGKILL at a random moment.
        let started = Instant::now();
        let run_for = Duration::from_millis(rng.range(5, LONGEST_RUN_MS));
        std::thread::sleep(run_for);
        client.child.kill().unwrap();
        client.child.wait().unwrap();
        killed_after.push(started.elapsed().as_millis());
        check_drift(&drift_dir, expected);
        lines = check_stats(&stats_dir);
        previous = Some(expected);
    }
    eprintln!(
        "killed after (ms): {killed_after:?}; {lines} statistics lines in the end (the peerstats link counts twice)"
    );
    assert!(
        lines > 0,
        "no statistics line was written; the test shows nothing"
    );
}
