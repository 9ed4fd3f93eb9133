//! `ntpctl run` against itself on loopback: client/server synchronisation,
//! the control socket, signals, configuration errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Daemon, TempDir, free_port, ntpctl};

/// A server of ours with no upstream: an orphan parent at stratum 5 at once.
fn orphan_server(port: u16) -> Daemon {
    Daemon::start("tos orphan 5 orphanwait 0\n", &format!("127.0.0.1:{port}"))
}

#[test]
fn client_synchronises_to_our_server() {
    let server_port = free_port();
    let server = orphan_server(server_port);
    let client = Daemon::start(
        &format!("server 127.0.0.1 port {server_port} iburst minpoll 3 maxpoll 3\n"),
        &format!("127.0.0.1:{}", free_port()),
    );
    let peer = client.wait_for_system_peer(Duration::from_secs(60));
    assert_eq!(peer["remote"], format!("127.0.0.1:{server_port}"));
    assert_eq!(peer["stratum"], 5);
    assert_eq!(peer["refid"], "127.0.0.1");
    assert_eq!(peer["mode"], "u");
    assert!(peer["offset"].as_f64().unwrap().abs() < 0.001, "{peer}");
    assert!(peer["delay"].as_f64().unwrap() < 0.01, "{peer}");
    let status = client.status();
    assert_eq!(status["stratum"], 6);
    assert_eq!(status["leap"], 0);
    assert_eq!(status["system_peer"], format!("127.0.0.1:{server_port}"));
    assert_eq!(status["orphan"], false);
    assert_eq!(status["clock_adjusted"], false);
    for key in [
        "refid",
        "offset",
        "frequency_ppm",
        "root_delay",
        "root_dispersion",
        "discipline_state",
    ] {
        assert!(status.get(key).is_some(), "missing {key}");
    }
    let server_status = server.status();
    assert_eq!(server_status["orphan"], true);
    assert_eq!(server_status["stratum"], 5);
    // The client is selectable after three samples of its iburst.
    assert!(server_status["counters"]["served"].as_u64().unwrap() >= 3);

    // The text billboard, like ntpq -p.
    let out = ntpctl()
        .args(["peers", "--control"])
        .arg(&client.control)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("remote           refid      st t when poll reach"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("*127.0.0.1")), "{text}");
}

#[test]
fn reach_fills_to_377_after_eight_polls() {
    let server_port = free_port();
    let _server = orphan_server(server_port);
    let client = Daemon::start(
        &format!("server 127.0.0.1 port {server_port} minpoll 3 maxpoll 3\n"),
        &format!("127.0.0.1:{}", free_port()),
    );
    client.wait_for(Duration::from_secs(120), "reach 377", |d| {
        d.peers()[0]["reach"] == 0o377
    });
    assert_eq!(client.peers()[0]["tally"], "*");
}

#[test]
fn sigterm_exits_cleanly_and_sighup_reloads() {
    let server_port = free_port();
    let _server = orphan_server(server_port);
    let client = Daemon::start(
        &format!("server 127.0.0.1 port {server_port} iburst minpoll 3 maxpoll 3\n"),
        &format!("127.0.0.1:{}", free_port()),
    );
    assert_eq!(client.peers().as_array().unwrap().len(), 1);
    // Add a second server and reload.
    let second = free_port();
    let _second = orphan_server(second);
    let conf = client.dir.path().join("ntp.conf");
    std::fs::write(
        &conf,
        format!(
            "server 127.0.0.1 port {server_port} iburst minpoll 3 maxpoll 3\n\
             server 127.0.0.1 port {second} iburst minpoll 3 maxpoll 3\n"
        ),
    )
    .unwrap();
    client.signal(libc::SIGHUP);
    client.wait_for(Duration::from_secs(10), "two associations", |d| {
        d.peers().as_array().unwrap().len() == 2
    });
    // Remove the first.
    std::fs::write(
        &conf,
        format!("server 127.0.0.1 port {second} iburst minpoll 3 maxpoll 3\n"),
    )
    .unwrap();
    client.signal(libc::SIGHUP);
    client.wait_for(Duration::from_secs(10), "one association", |d| {
        let peers = d.peers();
        let peers = peers.as_array().unwrap();
        peers.len() == 1 && peers[0]["remote"] == format!("127.0.0.1:{second}")
    });
    let mut client = client;
    client.signal(libc::SIGTERM);
    let status = client.child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{}", client.log());
    assert!(client.log().contains("terminating"));
    assert!(
        !client.control.exists(),
        "the control socket is removed at exit"
    );
}

#[test]
fn bad_configuration_is_a_one_line_error() {
    let dir = TempDir::new("ntpctl-badconf");
    let conf = dir.path().join("ntp.conf");
    std::fs::write(&conf, "server 127.0.0.1\ntos maxclock lots\n").unwrap();
    let out = ntpctl()
        .arg("run")
        .arg("-c")
        .arg(&conf)
        .args(["--no-adjust", "--listen", "127.0.0.1:0", "--control"])
        .arg(dir.path().join("c.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("ntp.conf:2: tos maxclock: expected a number"),
        "{stderr}"
    );
}

#[test]
fn print_default_config() {
    let out = ntpctl()
        .args(["run", "--print-default-config"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("pool 0.pool.ntp.org iburst"));
}
