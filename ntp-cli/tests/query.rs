//! `ntpctl query` end to end: against a test responder written here (every
//! way a reply can be wrong), against a real chronyd on a loopback port,
//! and against a real NTPsec ntpd in a network namespace made by the test.
//!
//! Third-party daemons run without CAP_SYS_TIME (`setpriv`, and chronyd
//! with `-x`), and the tests check that they really lack it. No test
//! adjusts this machine's clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use ntp_wire::mac::{Key, MacAlgorithm};
use ntp_wire::packet::{Header, LeapIndicator, Mode};
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, NtpShort, NtpTimestamp};
use serde_json::Value;

const NTPCTL: &str = env!("CARGO_BIN_EXE_ntpctl");
const CAP_SYS_TIME: u32 = 25;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(unique("ntpctl-query-"));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ntpctl(args: &[&str]) -> Output {
    Command::new(NTPCTL)
        .arg("query")
        .args(args)
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The documented keys of a server object.
const SERVER_KEYS: [&str; 18] = [
    "host",
    "address",
    "stratum",
    "refid",
    "leap",
    "offset",
    "delay",
    "jitter",
    "dispersion",
    "root_delay",
    "root_dispersion",
    "precision",
    "poll",
    "kiss",
    "error",
    "sent",
    "valid",
    "ignored",
];

fn check_schema(doc: &Value) {
    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        keys.sort_unstable();
        keys
    }
    let top: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(sorted(&top), sorted(&["servers", "best"]));
    let mut objects: Vec<&Value> = doc["servers"].as_array().unwrap().iter().collect();
    if !doc["best"].is_null() {
        objects.push(&doc["best"]);
    }
    for server in objects {
        let keys: Vec<&str> = server
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(sorted(&keys), sorted(&SERVER_KEYS));
    }
}

// ---------------------------------------------------------------------------
// The test responder.

#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    Skew(i64),
    WrongNonce,
    WrongPort,
    Mode3,
    ZeroTransmit,
    Kiss(&'static str),
    Unsynchronised,
    Stratum16,
    /// Sign replies with this key (None: never sign).
    Sign(Option<(u32, &'static [u8])>),
}

struct Responder {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

fn now_ntp() -> NtpTimestamp {
    NtpTimestamp::from_system_time(SystemTime::now())
}

fn reply_for(request: &Header, skew: i64) -> Header {
    let t2 = now_ntp() + NtpDuration::from_seconds(skew);
    Header {
        leap: LeapIndicator::NoWarning,
        version: request.version,
        mode: Mode::Server,
        stratum: 2,
        poll: request.poll.max(4),
        precision: -23,
        root_delay: NtpShort::from_seconds_f64(0.0125),
        root_dispersion: NtpShort::from_seconds_f64(0.025),
        reference_id: ReferenceId::from_bytes([192, 0, 2, 7]),
        reference_time: t2 - NtpDuration::from_seconds(30),
        origin_time: request.transmit_time,
        receive_time: t2,
        transmit_time: t2 + NtpDuration::from_nanos(10_000),
    }
}

impl Responder {
    fn start(bind: &str, fault: Fault) -> Self {
        let socket = UdpSocket::bind(bind).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let address = socket.local_addr().unwrap();
        let other = UdpSocket::bind(SocketAddr::new(address.ip(), 0)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (stop2, requests2) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while !stop2.load(Ordering::SeqCst) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                requests2.fetch_add(1, Ordering::SeqCst);
                let request = Header::parse(&buf[..len]).unwrap();
                assert_eq!(request.mode, Mode::Client);
                let mut h = reply_for(&request, 0);
                let mut key = None;
                let mut from_socket = &socket;
                match fault {
                    Fault::None => {}
                    Fault::Skew(s) => h = reply_for(&request, s),
                    Fault::WrongNonce => h.origin_time += NtpDuration::from_bits(1),
                    Fault::WrongPort => from_socket = &other,
                    Fault::Mode3 => h.mode = Mode::Client,
                    Fault::ZeroTransmit => h.transmit_time = NtpTimestamp::ZERO,
                    Fault::Kiss(code) => {
                        h.stratum = 0;
                        h.reference_id = ReferenceId::from_ascii(code);
                    }
                    Fault::Unsynchronised => h.leap = LeapIndicator::Unsynchronized,
                    Fault::Stratum16 => {
                        h.stratum = 16;
                        h.reference_id = ReferenceId::INIT;
                    }
                    Fault::Sign(k) => key = k.map(|(id, s)| Key::new(id, MacAlgorithm::Sha1, s)),
                }
                let mut out = vec![0u8; 48 + 24];
                let mut n = h.emit(&mut out).unwrap();
                if let Some(key) = key {
                    n = key.sign_into(&mut out, n).unwrap();
                }
                from_socket.send_to(&out[..n], from).unwrap();
            }
        });
        Self {
            address,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    fn target(&self) -> String {
        self.address.to_string()
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const FAST: [&str; 6] = ["-n", "2", "--gap", "0.1", "--timeout", "0.4"];

fn query_json(target: &str, extra: &[&str]) -> (Output, Value) {
    let mut args: Vec<&str> = FAST.to_vec();
    if extra.contains(&"-n") {
        args.drain(..2);
    }
    args.extend_from_slice(extra);
    args.push("--json");
    args.push(target);
    let output = ntpctl(&args);
    let doc = json_of(&output);
    check_schema(&doc);
    (output, doc)
}

#[test]
fn responder_good_reply_ipv4_and_ipv6() {
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        let responder = Responder::start(bind, Fault::Skew(3));
        let (output, doc) = query_json(&responder.target(), &[]);
        assert_eq!(output.status.code(), Some(0), "{bind}");
        let s = &doc["servers"][0];
        assert_eq!(s["address"], responder.target());
        assert_eq!(s["stratum"], 2);
        assert_eq!(s["refid"], "192.0.2.7");
        assert_eq!(s["leap"], 0);
        assert_eq!(s["precision"], -23);
        assert_eq!(s["poll"], 4);
        assert_eq!(
            (s["sent"].as_u64(), s["valid"].as_u64()),
            (Some(2), Some(2))
        );
        assert!((s["offset"].as_f64().unwrap() - 3.0).abs() < 0.01, "{s}");
        assert!(s["delay"].as_f64().unwrap() < 0.01);
        assert!((s["root_delay"].as_f64().unwrap() - 0.0125).abs() < 1e-4);
        assert!((s["root_dispersion"].as_f64().unwrap() - 0.025).abs() < 1e-4);
        assert!(s["kiss"].is_null() && s["error"].is_null());
        assert_eq!(doc["best"], *s);
        assert_eq!(responder.requests.load(Ordering::SeqCst), 2);
    }
}

#[test]
fn responder_text_output() {
    let responder = Responder::start("127.0.0.1:0", Fault::None);
    let mut args = FAST.to_vec();
    args.push("-v");
    let target = responder.target();
    args.push(&target);
    let output = ntpctl(&args);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("server"), "{text}");
    assert!(
        lines[1].starts_with(&target) && lines[1].contains("192.0.2.7"),
        "{text}"
    );
    assert!(text.contains("request 2: offset"), "{text}");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with(&format!("best: {target} offset"))
    );
    assert!(output.stderr.is_empty());
}

/// Runs a faulty responder and checks the documented result.
fn faulty(fault: Fault, samples: &str) -> (Output, Value) {
    let responder = Responder::start("127.0.0.1:0", fault);
    let (output, doc) = query_json(&responder.target(), &["-n", samples]);
    assert_eq!(output.status.code(), Some(1), "{fault:?}: exit status");
    assert!(doc["best"].is_null());
    assert!(doc["servers"][0]["offset"].is_null());
    (output, doc)
}

#[test]
fn responder_ignored_replies() {
    for (fault, reason) in [
        (
            Fault::WrongNonce,
            "origin timestamp does not match our transmit timestamp",
        ),
        (Fault::WrongPort, "not from 127.0.0.1:"),
        (Fault::Mode3, "unexpected mode: expected server, got client"),
        (Fault::ZeroTransmit, "transmit timestamp is zero"),
    ] {
        let (_, doc) = faulty(fault, "2");
        let s = &doc["servers"][0];
        assert_eq!(s["ignored"], 2, "{fault:?}");
        let error = s["error"].as_str().unwrap();
        assert!(
            error.starts_with("no valid reply: 2 datagrams ignored") && error.contains(reason),
            "{fault:?}: {error}"
        );
    }
    // -v names the reason of each ignored datagram; stderr has one line.
    let responder = Responder::start("127.0.0.1:0", Fault::WrongPort);
    let output = ntpctl(&["-v", "-n", "1", "-t", "0.3", &responder.target()]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("    ignored: reply from 127.0.0.1:"),
        "{text}"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("ntpctl: 127.0.0.1:"), "{stderr}");
}

#[test]
fn responder_kiss_codes() {
    for code in ["RATE", "DENY", "RSTR"] {
        let (output, doc) = faulty(Fault::Kiss(code), "4");
        let s = &doc["servers"][0];
        assert_eq!(s["kiss"], code);
        assert_eq!(s["stratum"], 0);
        assert_eq!(s["refid"], code);
        // DENY and RSTR (and RATE) end the requests to that address.
        assert_eq!(s["sent"], 1, "{code}");
        let error = s["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("kiss-o'-death {code}: ")),
            "{error}"
        );
        assert!(output.stderr.is_empty());
    }
    // The text form names the kiss code on stderr.
    let responder = Responder::start("127.0.0.1:0", Fault::Kiss("DENY"));
    let output = ntpctl(&["-n", "1", &responder.target()]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("kiss-o'-death DENY: Access denied by remote server."),
        "{stderr}"
    );
}

#[test]
fn responder_unsynchronised() {
    for (fault, stratum, text) in [
        (
            Fault::Unsynchronised,
            2,
            "unsynchronised: the server's leap indicator is 3",
        ),
        (
            Fault::Stratum16,
            16,
            "unsynchronised: the server's stratum is 16",
        ),
    ] {
        let (_, doc) = faulty(fault, "1");
        let s = &doc["servers"][0];
        assert_eq!(s["stratum"], stratum);
        assert_eq!(s["error"], text);
        assert!(s["kiss"].is_null());
    }
}

#[test]
fn responder_authentication() {
    let dir = TempDir::new();
    let keys = dir.file("ntp.keys", "7 SHA1 sevensecret\n8 SHA1 eightsecret\n");
    let keys = keys.to_str().unwrap();
    // MAC ok.
    let responder = Responder::start("127.0.0.1:0", Fault::Sign(Some((7, b"sevensecret"))));
    let (output, doc) = query_json(&responder.target(), &["--key", "7", "--keyfile", keys]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(doc["servers"][0]["valid"], 2);
    // MAC bad (another key's MAC).
    let (_, doc) = faulty_auth(Fault::Sign(Some((7, b"wrongsecret"))), keys);
    assert_eq!(
        doc["servers"][0]["error"],
        "bad MAC: authentication failed: MAC does not match"
    );
    // MAC missing.
    let (_, doc) = faulty_auth(Fault::Sign(None), keys);
    assert_eq!(
        doc["servers"][0]["error"],
        "bad MAC: authentication failed: reply has no MAC"
    );
    // A key that is not in the file is a usage error.
    let output = ntpctl(&["--key", "9", "--keyfile", keys, "127.0.0.1:9"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--key 9: no such key"));
}

fn faulty_auth(fault: Fault, keys: &str) -> (Output, Value) {
    let responder = Responder::start("127.0.0.1:0", fault);
    let (output, doc) = query_json(&responder.target(), &["--key", "7", "--keyfile", keys]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(doc["servers"][0]["ignored"], 2);
    (output, doc)
}

#[test]
fn exit_statuses_and_errors() {
    // Usage errors: 2.
    for args in [
        vec![],
        vec!["--gap", "0.05", "127.0.0.1"],
        vec!["-n", "0", "127.0.0.1"],
        vec!["-4", "-6", "127.0.0.1"],
        vec!["--step", "--slew", "127.0.0.1"],
        vec!["--key", "1", "127.0.0.1"],
    ] {
        assert_eq!(ntpctl(&args).status.code(), Some(2), "{args:?}");
    }
    // Unknown host and timeout: 1, one line each.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let target = format!("127.0.0.1:{port}");
    let output = ntpctl(&["-n", "1", "-t", "0.2", "no-such-host.invalid", &target]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("ntpctl: no-such-host.invalid: unknown host"),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        format!("ntpctl: {target}: timeout: no reply to 1 request within 0.2 s")
    );
    // One good address among bad ones: 0.
    let responder = Responder::start("127.0.0.1:0", Fault::None);
    let output = ntpctl(&["-n", "1", "-t", "0.2", &target, &responder.target()]);
    assert_eq!(output.status.code(), Some(0));
    // -6 with an IPv4 literal: nothing to query.
    let output = ntpctl(&["-6", "-n", "1", &responder.target()]);
    assert_eq!(output.status.code(), Some(1));
}

/// `--step` without CAP_SYS_TIME is refused before any clock call (and
/// the kernel would refuse it anyway under setpriv).
#[test]
fn step_is_refused_without_privilege() {
    let responder = Responder::start("127.0.0.1:0", Fault::Skew(5));
    let output = Command::new("setpriv")
        .args([
            "--bounding-set",
            "-sys_time",
            "--inh-caps",
            "-sys_time",
            NTPCTL,
        ])
        .args(["query", "-n", "1", "--step", &responder.target()])
        .output()
        .expect("setpriv (util-linux) is needed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not adjusting the clock: no privilege to set it"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// Real daemons.

/// A child process killed (by its PID) and reaped on drop.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts that the daemon cannot set the clock: CAP_SYS_TIME is out of
    /// its bounding, permitted and effective sets.
    fn assert_no_sys_time(&self) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        for set in ["CapBnd:", "CapPrm:", "CapEff:"] {
            let line = status.lines().find(|l| l.starts_with(set)).unwrap();
            let bits = u64::from_str_radix(line[set.len()..].trim(), 16).unwrap();
            assert_eq!(
                bits & (1 << CAP_SYS_TIME),
                0,
                "{set} has CAP_SYS_TIME: {line}"
            );
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_logged(command: &mut Command, log: &Path) -> Daemon {
    let out = std::fs::File::create(log).unwrap();
    let child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
    Daemon {
        child,
        log: log.to_owned(),
    }
}

const SETPRIV: [&str; 4] = ["--bounding-set", "-sys_time", "--inh-caps", "-sys_time"];

/// A UDP port free on both 127.0.0.1 and ::1 (probed, then released).
fn free_port() -> u16 {
    for _ in 0..50 {
        let v4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        if UdpSocket::bind(("::1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

/// Queries until `done` accepts the document or `limit` passes; returns
/// the last output and document.
fn query_until(
    wrap: &[&str],
    args: &[&str],
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> (Output, Value) {
    let start = Instant::now();
    loop {
        let mut command = match wrap.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(NTPCTL);
                c
            }
            None => Command::new(NTPCTL),
        };
        let output = command
            .arg("query")
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        let doc = json_of(&output);
        check_schema(&doc);
        if done(&doc) || start.elapsed() > limit {
            return (output, doc);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn all_valid(doc: &Value) -> bool {
    doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["valid"].as_u64() > Some(0) && s["valid"] == s["sent"])
}

#[test]
fn chronyd_on_loopback() {
    let dir = TempDir::new();
    let port = free_port();
    let conf = dir.file(
        "chrony.conf",
        &format!(
            "port {port}\nbindaddress 127.0.0.1\nbindaddress ::1\nallow 127.0.0.1\nallow ::1\n\
             local stratum 3\ncmdport 0\nbindcmdaddress /\npidfile {}\n",
            dir.0.join("chronyd.pid").display()
        ),
    );
    let mut command = Command::new("setpriv");
    command
        .args(SETPRIV)
        .args(["chronyd", "-x", "-d", "-u", "root", "-f"])
        .arg(&conf);
    let chronyd = spawn_logged(&mut command, &dir.0.join("chronyd.log"));
    std::thread::sleep(Duration::from_millis(300));
    chronyd.assert_no_sys_time();
    let v4 = format!("127.0.0.1:{port}");
    let v6 = format!("[::1]:{port}");
    let (output, doc) = query_until(
        &[],
        &["-n", "3", "--gap", "0.2", "-t", "0.5", &v4, &v6],
        Duration::from_secs(15),
        all_valid,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{doc}\nchronyd log:\n{}",
        chronyd.log()
    );
    for (s, address) in doc["servers"].as_array().unwrap().iter().zip([&v4, &v6]) {
        assert_eq!(s["address"], **address);
        assert_eq!(s["stratum"], 3, "{s}");
        // chronyd's reference ID for `local`: 127.127.1.1.
        assert_eq!(s["refid"], "127.127.1.1", "{s}");
        assert_eq!(s["leap"], 0);
        assert!(s["offset"].as_f64().unwrap().abs() < 0.001, "{s}");
        assert!(s["delay"].as_f64().unwrap() < 0.01, "{s}");
        assert!(s["error"].is_null() && s["kiss"].is_null());
    }
    chronyd.assert_no_sys_time();
}

/// A network namespace deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Self {
        let name = unique("ntpctlq");
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(status.success(), "ip netns add {name}");
        let ns = Self(name);
        let status = Command::new("ip")
            .args(["-n", &ns.0, "link", "set", "lo", "up"])
            .status()
            .unwrap();
        assert!(status.success());
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ntpsec_root() -> PathBuf {
    PathBuf::from(
        std::env::var("NTPSEC_ROOT").unwrap_or_else(|_| "/var/cache/ntpctl-ci/ntpsec".to_owned()),
    )
}

#[test]
fn ntpsec_ntpd_in_a_namespace() {
    let ntpd_path = ntpsec_root().join("usr/sbin/ntpd");
    assert!(
        ntpd_path.is_file(),
        "NTPsec's ntpd not found at {} (set NTPSEC_ROOT; .ci/run unpacks it)",
        ntpd_path.display()
    );
    let dir = TempDir::new();
    let keys = dir.file(
        "ntp.keys",
        "1 SHA1 0123456789abcdef0123456789abcdef01234567\n",
    );
    // Our keys file has key 2 as well, which ntpd does not know.
    let our_keys = dir.file(
        "our.keys",
        "1 SHA1 0123456789abcdef0123456789abcdef01234567\n2 SHA1 89abcdef0123456789abcdef0123456789abcdef\n",
    );
    let conf = dir.file(
        "ntp.conf",
        &format!(
            "disable ntp\ntos orphan 5 orphanwait 1\nunrestrict default limited\n\
             keys {}\ntrustedkey 1\nlogfile {}\n",
            keys.display(),
            dir.0.join("ntpd.file.log").display()
        ),
    );
    let ns = Netns::new();
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", &ns.0, "setpriv"])
        .args(SETPRIV)
        .arg(&ntpd_path)
        .args(["-n", "-c"])
        .arg(&conf);
    let ntpd = spawn_logged(&mut command, &dir.0.join("ntpd.log"));
    std::thread::sleep(Duration::from_millis(500));
    // `ip netns exec` and setpriv exec ntpd: the child's PID is ntpd's.
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", ntpd.pid())).unwrap();
    assert_eq!(comm.trim(), "ntpd");
    ntpd.assert_no_sys_time();
    assert!(!ntpd.log().contains("syntax error"), "{}", ntpd.log());

    let wrap = ["ip", "netns", "exec", &ns.0];
    // Orphan mode answers synchronised after orphanwait; before, INIT.
    let (output, doc) = query_until(
        &wrap,
        &["-n", "2", "--gap", "0.2", "-t", "0.5", "127.0.0.1", "::1"],
        Duration::from_secs(20),
        all_valid,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{doc}\nntpd log:\n{}",
        ntpd.log()
    );
    for (s, address) in doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["127.0.0.1:123", "[::1]:123"])
    {
        assert_eq!(s["address"], address);
        assert_eq!(s["stratum"], 5, "{s}");
        // An orphan's reference ID is the loopback address.
        assert_eq!(s["refid"], "127.0.0.1", "{s}");
        assert_eq!(s["leap"], 0);
        assert!(s["offset"].as_f64().unwrap().abs() < 0.001, "{s}");
        assert!(s["precision"].as_i64().unwrap() < -10, "{s}");
        assert!(s["error"].is_null() && s["kiss"].is_null(), "{s}");
        assert_eq!(s["ignored"], 0);
    }
    // Authenticated: key 1 is trusted by ntpd, key 2 is unknown to it.
    let our_keys = our_keys.to_str().unwrap();
    let (output, doc) = query_until(
        &wrap,
        &["-n", "1", "--key", "1", "--keyfile", our_keys, "127.0.0.1"],
        Duration::ZERO,
        |_| true,
    );
    assert_eq!(output.status.code(), Some(0), "{doc}");
    assert_eq!(doc["servers"][0]["valid"], 1);
    let (output, doc) = query_until(
        &wrap,
        &[
            "-n",
            "1",
            "-t",
            "0.5",
            "--key",
            "2",
            "--keyfile",
            our_keys,
            "127.0.0.1",
        ],
        Duration::ZERO,
        |_| true,
    );
    assert_eq!(output.status.code(), Some(1), "{doc}");
    let error = doc["servers"][0]["error"].as_str().unwrap();
    // NTPsec drops a request with a key it does not have (no crypto-NAK).
    assert!(
        ["bad MAC", "no valid reply", "timeout"]
            .iter()
            .any(|start| error.starts_with(start)),
        "{error}"
    );
    assert!(doc["best"].is_null());
    ntpd.assert_no_sys_time();
}
