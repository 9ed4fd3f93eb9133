//! Shared harness of the daemon tests: our own daemons on loopback (with
//! free ports, private control sockets and temporary folders), killed by
//! PID when the guard drops, even when a test fails.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod netns;
pub mod thirdparty;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique name for this test process and call (for folders, namespaces).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A free UDP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A temporary folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn ntpctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ntpctl"))
}

/// One of our daemons, `--no-adjust`, killed by PID on drop.
pub struct Daemon {
    pub child: Child,
    pub dir: TempDir,
    pub control: PathBuf,
    pub listen: String,
}

impl Daemon {
    /// Starts `ntpctl run` with `config` listening on `listen`, plus `extra` arguments.
    pub fn start_with(config: &str, listen: &str, extra: &[&str]) -> Self {
        Self::start_with_env(TempDir::new("ntpctl-daemon"), config, listen, extra, &[])
    }

    /// Starts `ntpctl run` in `dir` with `config` listening on `listen`,
    /// plus `extra` arguments and `env` variables.
    pub fn start_with_env(
        dir: TempDir,
        config: &str,
        listen: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let conf = dir.path().join("ntp.conf");
        std::fs::write(&conf, config).unwrap();
        let control = dir.path().join("control.sock");
        let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
        let child = ntpctl()
            .arg("run")
            .arg("-c")
            .arg(&conf)
            .args(["--listen", listen, "--no-adjust", "--control"])
            .arg(&control)
            .args(extra)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let daemon = Self {
            child,
            dir,
            control,
            listen: listen.to_owned(),
        };
        daemon.wait_for(Duration::from_secs(10), "the control socket", |d| {
            d.control.exists()
        });
        daemon
    }

    pub fn start(config: &str, listen: &str) -> Self {
        Self::start_with(config, listen, &[])
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// `ntpctl peers --json`.
    pub fn peers(&self) -> Value {
        self.ask("peers")
    }

    /// `ntpctl status --json`.
    pub fn status(&self) -> Value {
        self.ask("status")
    }

    fn ask(&self, what: &str) -> Value {
        let out = ntpctl()
            .args([what, "--json", "--control"])
            .arg(&self.control)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ntpctl {what}: {}\ndaemon log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits until `condition` holds, or fails the test with the log.
    pub fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        mut condition: impl FnMut(&Self) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            if condition(self) {
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}\ndaemon log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until some peer has the tally code `*`; returns it.
    pub fn wait_for_system_peer(&self, timeout: Duration) -> Value {
        let mut found = Value::Null;
        self.wait_for(timeout, "a system peer (*)", |d| {
            let peers = d.peers();
            match peers
                .as_array()
                .and_then(|a| a.iter().find(|p| p["tally"] == "*"))
            {
                Some(p) => {
                    found = p.clone();
                    true
                }
                None => false,
            }
        });
        found
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY-free: kill(1) by PID of the child this guard started.
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
