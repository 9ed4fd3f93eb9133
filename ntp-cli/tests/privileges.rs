//! `ntpctl run --user nobody`: after binding, the daemon runs as nobody
//! (uid, gid, no supplementary groups), with no capability left under
//! `--no-adjust` (CAP_SYS_TIME is kept only when the daemon adjusts the
//! clock, which tests never do) and `no_new_privs`, as
//! `/proc/PID/status` shows; it still serves time and answers on its
//! control socket, which is not world-writable; it never writes its
//! configuration file, not even on a reload or at exit.
//!
//! The test must run as root (it is the only way to change user); it fails
//! rather than skip when it does not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::time::{Duration, SystemTime};

use common::{Daemon, free_port, ntpctl};

/// The uid and gid of `user`.
fn ids_of(user: &str) -> (u32, u32) {
    let name = CString::new(user).unwrap();
    // SAFETY: a valid C string; the result is read at once (the test
    // threads do not call getpwnam concurrently with this lookup's use).
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        assert!(!pw.is_null(), "no user {user} on this machine");
        ((*pw).pw_uid, (*pw).pw_gid)
    }
}

/// The value of `field` in /proc/PID/status, without the label.
fn status_field(pid: u32, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status:\n{text}"))
        .trim()
        .to_owned()
}

fn capabilities(pid: u32, field: &str) -> u64 {
    u64::from_str_radix(&status_field(pid, field), 16).unwrap()
}

#[test]
fn run_user_drops_to_nobody_with_no_capability_left() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root: only root can start `ntpctl run --user nobody` \
         (run the test suite as root, e.g. in the CI container)"
    );
    let (uid, gid) = ids_of("nobody");

    let server_port = free_port();
    let config = "tos orphan 5 orphanwait 0\n";
    let mut daemon = Daemon::start_with(
        config,
        &format!("127.0.0.1:{server_port}"),
        &["--user", "nobody"],
    );
    let conf = daemon.dir.path().join("ntp.conf");
    let modified = |path: &std::path::Path| -> SystemTime {
        std::fs::metadata(path).unwrap().modified().unwrap()
    };
    let conf_mtime = modified(&conf);

    // The control socket answers, which means the event loop runs, which
    // it does only after the drop.
    let status = daemon.status();
    assert_eq!(status["stratum"], 5, "{status}");
    assert_eq!(status["clock_adjusted"], false);
    assert!(
        daemon.log().contains("running as nobody"),
        "{}",
        daemon.log()
    );

    let pid = daemon.child.id();
    let expect_ids = |field: &str, id: u32| {
        let values = status_field(pid, field);
        let values: Vec<&str> = values.split_whitespace().collect();
        // Real, effective, saved and file-system ids.
        assert_eq!(values, vec![id.to_string(); 4], "{field}");
    };
    expect_ids("Uid", uid);
    expect_ids("Gid", gid);
    assert_eq!(status_field(pid, "Groups"), "", "supplementary groups");
    // --no-adjust: not even CAP_SYS_TIME (bit 25) is kept; never
    // CAP_NET_BIND_SERVICE (bit 10): the daemon does not bind again.
    for field in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(capabilities(pid, field), 0, "{field}");
    }
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");

    // It still serves time.
    let out = ntpctl()
        .args(["query", "-n", "1", "--json"])
        .arg(format!("127.0.0.1:{server_port}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "query: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        daemon.log()
    );
    let served = daemon.status()["counters"]["served"].as_u64().unwrap_or(0);
    assert!(served >= 1, "served {served}");

    // The control socket: a socket, owner-only (0600), in particular not
    // world-writable.
    let meta = std::fs::metadata(&daemon.control).unwrap();
    assert!(meta.file_type().is_socket());
    let mode = meta.permissions().mode() & 0o777;
    assert_eq!(mode & 0o002, 0, "world-writable control socket: {mode:o}");
    assert_eq!(mode, 0o600, "control socket mode {mode:o}");

    // A reload re-reads the configuration as nobody and writes nothing.
    daemon.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(daemon.status()["stratum"], 5);
    // Still nobody, still no capability.
    expect_ids("Uid", uid);
    assert_eq!(capabilities(pid, "CapEff"), 0);

    // SIGTERM: a clean exit, and the configuration is untouched.
    daemon.signal(libc::SIGTERM);
    let exit = daemon.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}\n{}", daemon.log());
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), config);
    assert_eq!(modified(&conf), conf_mtime, "ntp.conf was written");
}
