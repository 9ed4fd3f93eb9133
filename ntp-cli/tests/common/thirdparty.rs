//! Third-party daemons for the interoperability tests: chronyd (on
//! loopback or inside a namespace) and NTPsec's ntpd (always inside a
//! namespace made by the test, because it binds port 123), each a child
//! process killed by PID and reaped when its guard drops.
//!
//! Safety: none of them may change this machine's clock. Every daemon runs
//! under `setpriv` with CAP_SYS_TIME removed from its bounding and
//! inheritable sets (so even root cannot regain it), and chronyd also with
//! `-x`. [`Process::assert_no_sys_time`] checks the kernel's view of it.
//!
//! A program the tests need and cannot find fails the test with a message
//! naming what to install (`.ci/run` installs everything).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{TempDir, ntpctl, unique};

/// The capability bit of CAP_SYS_TIME.
pub const CAP_SYS_TIME: u32 = 25;

/// `setpriv` arguments that drop CAP_SYS_TIME for good.
pub const SETPRIV: [&str; 4] = ["--bounding-set", "-sys_time", "--inh-caps", "-sys_time"];

/// The path of `program` (searched in PATH and the sbin folders), or a
/// failed test saying what is missing.
pub fn require(program: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{program}` not found: this test needs it (.ci/run installs it)")
        })
}

/// Where NTPsec is unpacked (`$NTPSEC_ROOT`, default
/// `/var/cache/ntpctl-ci/ntpsec`).
pub fn ntpsec_root() -> PathBuf {
    PathBuf::from(
        std::env::var("NTPSEC_ROOT").unwrap_or_else(|_| "/var/cache/ntpctl-ci/ntpsec".to_owned()),
    )
}

/// A file of the unpacked NTPsec, or a failed test saying it is missing.
pub fn ntpsec_file(relative: &str) -> PathBuf {
    let path = ntpsec_root().join(relative);
    assert!(
        path.is_file(),
        "NTPsec's {relative} not found at {} (set NTPSEC_ROOT; .ci/run unpacks NTPsec there)",
        path.display()
    );
    path
}

/// A third-party daemon: killed by PID and reaped on drop.
pub struct Process {
    pub child: Child,
    pub log: PathBuf,
}

impl Process {
    /// Starts `command` with stdout and stderr going to `log`.
    pub fn spawn(command: &mut Command, log: &Path) -> Self {
        let out = std::fs::File::create(log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
        Self {
            child,
            log: log.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts that the process is `name` (so that a wrapper such as
    /// `setpriv` or `ip netns exec` really exec'd it) and that it cannot set
    /// the clock: CAP_SYS_TIME is out of its bounding, permitted and
    /// effective sets.
    pub fn assert_no_sys_time(&mut self, name: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{name} exited ({status}):\n{}", self.log());
        }
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", self.pid())).unwrap();
        assert_eq!(comm.trim(), name, "PID {} is not {name}", self.pid());
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        for set in ["CapBnd:", "CapPrm:", "CapEff:"] {
            let line = status.lines().find(|l| l.starts_with(set)).unwrap();
            let bits = u64::from_str_radix(line[set.len()..].trim(), 16).unwrap();
            assert_eq!(
                bits & (1 << CAP_SYS_TIME),
                0,
                "{name} has CAP_SYS_TIME in {set} {line}"
            );
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command that runs `program` without CAP_SYS_TIME, inside namespace
/// `ns` when given (`ip netns exec NS setpriv ... PROGRAM`; both exec, so
/// the child's PID is the program's).
pub fn unprivileged(ns: Option<&str>, program: &Path) -> Command {
    let setpriv = require("setpriv");
    let mut command = match ns {
        Some(ns) => {
            let mut c = Command::new(require("ip"));
            c.args(["netns", "exec", ns]).arg(setpriv);
            c
        }
        None => Command::new(setpriv),
    };
    command.args(SETPRIV).arg(program);
    command
}

/// Runs a command to completion (inside `ns` when given), returning its
/// output.
pub fn run_in(ns: Option<&str>, program: &Path, args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut command = match ns {
        Some(ns) => {
            let mut c = Command::new(require("ip"));
            c.args(["netns", "exec", ns]).arg(program);
            c
        }
        None => Command::new(program),
    };
    for (key, value) in envs {
        command.env(key, value);
    }
    command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", program.display()))
}

/// Waits until `condition` holds; panics with `what` and `context()` when
/// `timeout` passes.
pub fn wait_until(
    timeout: Duration,
    what: &str,
    mut condition: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A network namespace with only its loopback (up), deleted on drop.
pub struct Netns(pub String);

impl Netns {
    pub fn new() -> Self {
        let name = unique("ntpctl-ns");
        let ip = require("ip");
        let status = Command::new(&ip)
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(status.success(), "ip netns add {name}");
        let ns = Self(name);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Runs `ip -n NS ARGS`, failing the test when it fails.
    pub fn ip(&self, args: &[&str]) {
        let out = Command::new(require("ip"))
            .args(["-n", &self.0])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ip -n {} {}: {}",
            self.0,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.0])
            .stderr(Stdio::null())
            .status();
    }
}

/// `ntpctl query --json ARGS` (inside `ns` when given) until `done`
/// accepts the document or `limit` passes; returns the last document.
pub fn query_until(
    ns: Option<&str>,
    args: &[&str],
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let program = ntpctl().get_program().to_owned();
    let start = Instant::now();
    loop {
        let mut all = vec!["query", "--json"];
        all.extend_from_slice(args);
        let output = run_in(ns, Path::new(&program), &all, &[]);
        let doc: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        if done(&doc) || start.elapsed() > limit {
            return doc;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Whether every server of an `ntpctl query --json` document answered
/// every request.
pub fn all_valid(doc: &Value) -> bool {
    doc["servers"].as_array().is_some_and(|servers| {
        servers
            .iter()
            .all(|s| s["valid"].as_u64() > Some(0) && s["valid"] == s["sent"])
    })
}

/// chronyd (`-x`, without CAP_SYS_TIME, in the foreground, as root so that
/// it can use the test's folder), with its command socket in a private
/// folder for `chronyc -h PATH`.
pub struct Chronyd {
    pub process: Process,
    pub dir: TempDir,
    pub socket: PathBuf,
}

impl Chronyd {
    /// Starts chronyd with `body` plus the lines that keep it private: no
    /// UDP command port, a Unix command socket and a PID file in its folder.
    pub fn start(ns: Option<&str>, body: &str) -> Self {
        let chronyd = require("chronyd");
        require("chronyc");
        let dir = TempDir::new("ntpctl-chronyd");
        // chronyd refuses a command socket in a folder others can enter.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let socket = dir.path().join("chronyd.sock");
        let conf = dir.path().join("chrony.conf");
        std::fs::write(
            &conf,
            format!(
                "{body}\ncmdport 0\nbindcmdaddress {}\npidfile {}\n",
                socket.display(),
                dir.path().join("chronyd.pid").display()
            ),
        )
        .unwrap();
        let mut command = unprivileged(ns, &chronyd);
        command.args(["-x", "-d", "-u", "root", "-f"]).arg(&conf);
        let mut process = Process::spawn(&mut command, &dir.path().join("chronyd.log"));
        let started = Instant::now();
        while !socket.exists() {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("chronyd exited ({status}):\n{}", process.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "chronyd made no command socket:\n{}",
                process.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        process.assert_no_sys_time("chronyd");
        Self {
            process,
            dir,
            socket,
        }
    }

    /// `chronyc -n -h SOCKET ARGS`: its stdout.
    pub fn chronyc(&self, args: &[&str]) -> String {
        let socket = self.socket.to_str().unwrap();
        let mut all = vec!["-n", "-h", socket];
        all.extend_from_slice(args);
        let out = run_in(None, &require("chronyc"), &all, &[]);
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    /// The line of `chronyc sources` for `address`, if any.
    pub fn source(&self, address: &str) -> Option<String> {
        self.chronyc(&["sources"])
            .lines()
            .find(|l| {
                l.get(3..)
                    .is_some_and(|r| r.starts_with(&format!("{address} ")))
            })
            .map(str::to_owned)
    }

    /// Waits until `chronyc sources` has a line for `address` that
    /// `condition` accepts; returns it.
    pub fn wait_for_source(
        &self,
        address: &str,
        timeout: Duration,
        condition: impl Fn(&str) -> bool,
    ) -> String {
        let mut found = String::new();
        wait_until(
            timeout,
            &format!("chronyc sources: {address}"),
            || match self.source(address) {
                Some(line) if condition(&line) => {
                    found = line;
                    true
                }
                _ => false,
            },
            || {
                format!(
                    "chronyc sources:\n{}\nchronyd log:\n{}",
                    self.chronyc(&["sources"]),
                    self.process.log()
                )
            },
        );
        found
    }
}

/// NTPsec's ntpd inside namespace `ns` (it binds port 123 there), without
/// CAP_SYS_TIME (it calls ntp_adjtime at start-up, which then fails), with
/// `disable ntp`, logging to its folder.
pub struct Ntpd {
    pub process: Process,
    pub dir: TempDir,
    pub ns: String,
}

impl Ntpd {
    /// Starts ntpd with `body` (`disable ntp`, a log file in its folder, and
    /// `restrict` lines without flags: without them ntpd does not answer
    /// `ntpq`'s mode 6 queries, are added). `files` are written into its folder first
    /// (e.g. a keys file); `body` may name them as `{dir}/NAME`.
    pub fn start(ns: &str, body: &str, files: &[(&str, &str)]) -> Self {
        let ntpd = ntpsec_file("usr/sbin/ntpd");
        let dir = TempDir::new("ntpctl-ntpd");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let conf = dir.path().join("ntp.conf");
        let body = body.replace("{dir}", dir.path().to_str().unwrap());
        std::fs::write(
            &conf,
            format!(
                "disable ntp\nrestrict default\nrestrict 127.0.0.1\nrestrict ::1\n{body}\nlogfile {}\n",
                dir.path().join("ntpd.file.log").display()
            ),
        )
        .unwrap();
        let mut command = unprivileged(Some(ns), &ntpd);
        command.args(["-n", "-c"]).arg(&conf);
        let mut process = Process::spawn(&mut command, &dir.path().join("ntpd.log"));
        std::thread::sleep(Duration::from_millis(500));
        process.assert_no_sys_time("ntpd");
        let ntpd = Self {
            process,
            dir,
            ns: ns.to_owned(),
        };
        assert!(
            !ntpd.log().contains("syntax error"),
            "ntpd configuration:\n{}",
            ntpd.log()
        );
        ntpd
    }

    /// Both of ntpd's logs.
    pub fn log(&self) -> String {
        let file =
            std::fs::read_to_string(self.dir.path().join("ntpd.file.log")).unwrap_or_default();
        format!("{}{file}", self.process.log())
    }

    /// NTPsec's `ntpq ARGS` inside ntpd's namespace: its stdout. The Python
    /// module finds its C library next to itself, so a private copy of the
    /// module folder (symbolic links) gets a link to the library.
    pub fn ntpq(&self, args: &[&str]) -> String {
        let ntpq = ntpsec_file("usr/bin/ntpq");
        let python = self.dir.path().join("python");
        let module = python.join("ntp");
        if !module.exists() {
            let dist = ntpsec_root().join("usr/lib/python3/dist-packages/ntp");
            std::fs::create_dir_all(&module).unwrap();
            for entry in std::fs::read_dir(&dist)
                .unwrap_or_else(|e| panic!("NTPsec's Python module {}: {e}", dist.display()))
            {
                let entry = entry.unwrap();
                std::os::unix::fs::symlink(entry.path(), module.join(entry.file_name())).unwrap();
            }
            // usr/lib/<multiarch triplet>/ntp/libntpc.so.1
            let lib = std::fs::read_dir(ntpsec_root().join("usr/lib"))
                .unwrap()
                .map(|e| e.unwrap().path().join("ntp/libntpc.so.1"))
                .find(|p| p.is_file())
                .expect("NTPsec's libntpc.so.1 under usr/lib/*/ntp (.ci/run unpacks python3-ntp)");
            std::os::unix::fs::symlink(lib, module.join("libntpc.so")).unwrap();
        }
        let out = run_in(Some(&self.ns), &ntpq, args, &[("PYTHONPATH", &python)]);
        assert!(
            out.status.success(),
            "ntpq {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until NTPsec answers `target` synchronised (orphan mode takes
    /// `orphanwait`).
    pub fn wait_until_serving(&self, target: &str) {
        let doc = query_until(
            Some(&self.ns),
            &["-n", "1", "-t", "0.5", target],
            Duration::from_secs(20),
            all_valid,
        );
        assert!(
            all_valid(&doc),
            "ntpd does not serve: {doc}\n{}",
            self.log()
        );
    }
}
