//! `ntpctl run` against real third-party daemons: chronyd (on loopback
//! ports, or in namespaces for broadcast) and NTPsec's ntpd (in network
//! namespaces made by the test, because it binds port 123).
//!
//! Nobody adjusts this machine's clock: our daemons run with `--no-adjust`;
//! chronyd with `-x`; chronyd and ntpd under `setpriv` without CAP_SYS_TIME
//! (checked in /proc for every one of them). Each test starts its own
//! daemons and namespaces, so the tests run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::netns::Lab;
use common::thirdparty::{Chronyd, Netns, Ntpd};
use common::{Daemon, TempDir, free_port};
use serde_json::Value;

/// Poll exponent 3 (8 s) everywhere: reach fills in about a minute.
const FAST: &str = "iburst minpoll 3 maxpoll 3";

/// Waits until our daemon's association with `remote` (`ADDR:PORT`) is the
/// system peer with reach 377 (eight polls in a row answered); returns it.
fn wait_for_377(daemon: &Daemon, remote: &str, timeout: Duration) -> Value {
    let mut found = Value::Null;
    daemon.wait_for(timeout, &format!("{remote}: * and reach 377"), |d| {
        let peers = d.peers();
        match peers
            .as_array()
            .and_then(|a| a.iter().find(|p| p["remote"] == remote))
        {
            Some(p) if p["tally"] == "*" && p["reach"] == 0o377 => {
                found = p.clone();
                true
            }
            _ => false,
        }
    });
    found
}

fn counter(status: &Value, name: &str) -> u64 {
    status["counters"][name].as_u64().unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Our client, their server.

#[test]
fn our_client_synchronises_to_chronyd() {
    let started = Instant::now();
    let port = free_port();
    let mut chronyd = Chronyd::start(
        None,
        &format!("port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 3\n"),
    );
    let ours = Daemon::start(
        &format!("server 127.0.0.1 port {port} {FAST}\n"),
        &format!("127.0.0.1:{}", free_port()),
    );
    let remote = format!("127.0.0.1:{port}");
    let peer = wait_for_377(&ours, &remote, Duration::from_secs(80));
    assert_eq!(peer["mode"], "u");
    assert_eq!(peer["stratum"], 3, "{peer}");
    // chronyd's reference ID for `local`: 127.127.1.1.
    assert_eq!(peer["refid"], "127.127.1.1", "{peer}");
    assert!(peer["offset"].as_f64().unwrap().abs() < 0.001, "{peer}");
    assert!(peer["delay"].as_f64().unwrap() < 0.01, "{peer}");
    let status = ours.status();
    assert_eq!(status["stratum"], 4);
    assert_eq!(status["leap"], 0);
    assert_eq!(status["system_peer"], remote);
    assert_eq!(status["clock_adjusted"], false);
    // chronyd served us and still cannot set the clock.
    let clients = chronyd.chronyc(&["clients"]);
    assert!(clients.contains("127.0.0.1"), "{clients}");
    chronyd.process.assert_no_sys_time("chronyd");
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn our_client_synchronises_to_ntpsec() {
    let started = Instant::now();
    let ns = Netns::new();
    let mut ntpd = Ntpd::start(&ns.0, "tos orphan 5 orphanwait 1", &[]);
    ntpd.wait_until_serving("127.0.0.1");
    let ours = Daemon::start_in(
        &ns.0,
        &format!("server 127.0.0.1 {FAST}\n"),
        "127.0.0.1:1123",
        &[],
    );
    let peer = wait_for_377(&ours, "127.0.0.1:123", Duration::from_secs(80));
    assert_eq!(peer["mode"], "u");
    assert_eq!(peer["stratum"], 5, "{peer}");
    // An orphan parent's reference ID is the loopback address.
    assert_eq!(peer["refid"], "127.0.0.1", "{peer}");
    assert!(peer["offset"].as_f64().unwrap().abs() < 0.001, "{peer}");
    let status = ours.status();
    assert_eq!(status["stratum"], 6);
    assert_eq!(status["system_peer"], "127.0.0.1:123");
    // No reply was rejected once ntpd left its start-up (INIT) state.
    ntpd.process.assert_no_sys_time("ntpd");
    eprintln!("took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------
// Their client, our server.

#[test]
fn chronyd_client_synchronises_to_our_server() {
    let started = Instant::now();
    let port = free_port();
    let ours = Daemon::start("tos orphan 5 orphanwait 0\n", &format!("127.0.0.1:{port}"));
    let mut chronyd = Chronyd::start(
        None,
        &format!("port 0\nserver 127.0.0.1 port {port} {FAST}\n"),
    );
    let line = chronyd.wait_for_source("127.0.0.1", Duration::from_secs(60), |l| {
        l.starts_with("^*")
    });
    // Stratum 5, polling every 8 s.
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&fields[1..3], ["127.0.0.1", "5"], "{line}");
    let ntpdata = chronyd.chronyc(&["ntpdata", "127.0.0.1"]);
    assert!(
        ntpdata.contains(&format!("Remote port     : {port}")),
        "{ntpdata}"
    );
    assert!(ntpdata.contains("Leap status     : Normal"), "{ntpdata}");
    assert!(ntpdata.contains("Mode            : Server"), "{ntpdata}");
    // All of chronyd's tests pass.
    assert!(
        ntpdata.contains("NTP tests       : 111 111 1111"),
        "{ntpdata}"
    );
    let status = ours.status();
    assert!(counter(&status, "served") >= 3, "{status}");
    chronyd.process.assert_no_sys_time("chronyd");
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn ntpsec_client_synchronises_to_our_server() {
    let started = Instant::now();
    // NTPsec's server lines take no port: our server listens on port 123
    // in one namespace, ntpd runs in another, across a bridge.
    let lab = Lab::new(2);
    let ours = lab.daemon(0, "tos orphan 5 orphanwait 0\n");
    let server = lab.hosts[0].address;
    let mut ntpd = Ntpd::start(&lab.hosts[1].ns, &format!("server {server} {FAST}"), &[]);
    let billboard = std::cell::RefCell::new(String::new());
    common::thirdparty::wait_until(
        Duration::from_secs(60),
        "ntpq -p: *",
        || {
            let text = ntpd.ntpq(&["-p", "-n"]);
            let done = text.lines().any(|l| l.starts_with(&format!("*{server} ")));
            *billboard.borrow_mut() = text;
            done
        },
        || {
            format!(
                "ntpq -p:\n{}\nntpd log:\n{}",
                billboard.borrow(),
                ntpd.log()
            )
        },
    );
    let billboard = billboard.into_inner();
    let line = billboard
        .lines()
        .find(|l| l.starts_with('*'))
        .unwrap()
        .to_owned();
    let fields: Vec<&str> = line.split_whitespace().collect();
    // remote, refid (an orphan's: 127.0.0.1), stratum 5, type u.
    assert_eq!(&fields[1..4], ["127.0.0.1", "5", "u"], "{billboard}");
    assert!(counter(&ours.status(), "served") >= 3);
    ntpd.process.assert_no_sys_time("ntpd");
    eprintln!("took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------
// Symmetric mode.

#[test]
fn symmetric_peers_with_chronyd() {
    let started = Instant::now();
    let chrony_port = free_port();
    let our_port = free_port();
    let mut chronyd = Chronyd::start(
        None,
        &format!(
            "port {chrony_port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 3\n\
             peer 127.0.0.1 port {our_port} minpoll 3 maxpoll 3\n"
        ),
    );
    let ours = Daemon::start(
        &format!("peer 127.0.0.1 port {chrony_port} minpoll 3 maxpoll 3\n"),
        &format!("127.0.0.1:{our_port}"),
    );
    // Ours: chronyd is a symmetric peer, and the system peer.
    let remote = format!("127.0.0.1:{chrony_port}");
    let peer = ours.wait_for_system_peer(Duration::from_secs(60));
    assert_eq!(peer["remote"], remote);
    assert_eq!(peer["mode"], "s");
    assert_eq!(peer["stratum"], 3);
    assert_eq!(ours.peers().as_array().unwrap().len(), 1, "one association");
    // chronyd: we are its symmetric peer (`=`), reachable. It does not
    // select us: our reference ID is its own address (a loop).
    let line = chronyd.wait_for_source("127.0.0.1", Duration::from_secs(30), |l| {
        l.starts_with('=') && l.split_whitespace().nth(4).is_some_and(|r| r != "0")
    });
    let ntpdata = chronyd.chronyc(&["ntpdata", "127.0.0.1"]);
    assert!(
        ntpdata.contains(&format!("Remote port     : {our_port}")),
        "{line}\n{ntpdata}"
    );
    // Our packets are symmetric active (mode 1), not client requests.
    assert!(ntpdata.contains("Mode            : Symmetric"), "{ntpdata}");
    assert!(ntpdata.contains("Stratum         : 4"), "{ntpdata}");
    chronyd.process.assert_no_sys_time("chronyd");
    eprintln!("took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------
// Authentication.

/// NTPsec's keys file: the three formats it accepts, and key 4, which our
/// keys file gets wrong.
const NTPSEC_KEYS: &str = "1 MD5 md5secret\n\
     2 SHA1 0123456789abcdef0123456789abcdef01234567\n\
     3 AES128CMAC 000102030405060708090a0b0c0d0e0f\n\
     4 SHA1 89abcdef0123456789abcdef0123456789abcdef\n";

#[test]
fn authentication_with_ntpsec() {
    let started = Instant::now();
    let ns = Netns::new();
    // Two more loopback addresses, so that each key has its own server.
    ns.ip(&["addr", "add", "127.0.0.2/8", "dev", "lo"]);
    ns.ip(&["addr", "add", "127.0.0.3/8", "dev", "lo"]);
    let mut ntpd = Ntpd::start(
        &ns.0,
        "tos orphan 5 orphanwait 1\nkeys {dir}/ntp.keys\ntrustedkey 1 2 3 4",
        &[("ntp.keys", NTPSEC_KEYS)],
    );
    ntpd.wait_until_serving("127.0.0.1");
    let dir = TempDir::new("ntpctl-interop-keys");
    let keys = dir.path().join("ntp.keys");
    let ours_keys = NTPSEC_KEYS.replace(
        "4 SHA1 89abcdef0123456789abcdef0123456789abcdef",
        "4 SHA1 0000000000000000000000000000000000000000",
    );
    std::fs::write(&keys, ours_keys).unwrap();
    let ours = Daemon::start_in(
        &ns.0,
        &format!(
            "keys {}\ntrustedkey 1 2 3 4\n\
             server 127.0.0.1 key 1 {FAST}\n\
             server ::1 key 2 {FAST}\n\
             server 127.0.0.2 key 3 {FAST}\n\
             server 127.0.0.3 key 4 {FAST}\n",
            keys.display()
        ),
        "127.0.0.1:1123",
        &[],
    );
    let good = ["127.0.0.1:123", "[::1]:123", "127.0.0.2:123"];
    ours.wait_for(
        Duration::from_secs(60),
        "three authenticated sources",
        |d| {
            let peers = d.peers();
            let peers = peers.as_array().unwrap();
            let reached = |remote: &str| {
                peers
                    .iter()
                    .any(|p| p["remote"] == remote && p["reach"].as_u64() >= Some(0o17))
            };
            good.iter().all(|r| reached(r)) && peers.iter().any(|p| p["tally"] == "*")
        },
    );
    let peers = ours.peers();
    for peer in peers.as_array().unwrap() {
        if peer["remote"] == "127.0.0.3:123" {
            // The wrong key: ntpd drops the requests, nothing comes back.
            assert_eq!(peer["reach"], 0, "{peer}");
            assert_ne!(peer["tally"], "*", "{peer}");
        } else {
            assert_eq!(peer["stratum"], 5, "{peer}");
            assert!(peer["note"].is_null(), "{peer}");
        }
    }
    let status = ours.status();
    let rejected: u64 = status["counters"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("rejected: "))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    // Nothing rejected (ntpd was serving before we started).
    assert_eq!(rejected, 0, "{status}");
    // ntpd counted the wrong MACs.
    let sysstats = ntpd.ntpq(&["-c", "sysstats"]);
    let failed = sysstats
        .lines()
        .find_map(|l| l.strip_prefix("authentication failed:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{sysstats}"));
    assert!(failed >= 2, "{sysstats}");
    ntpd.process.assert_no_sys_time("ntpd");
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn authentication_between_our_daemons() {
    let started = Instant::now();
    let dir = TempDir::new("ntpctl-interop-keys");
    let server_keys = dir.path().join("server.keys");
    std::fs::write(
        &server_keys,
        "1 SHA1 0123456789abcdef0123456789abcdef01234567\n2 AES128CMAC 000102030405060708090a0b0c0d0e0f\n",
    )
    .unwrap();
    let client_keys = dir.path().join("client.keys");
    // Key 2 has another secret here.
    std::fs::write(
        &client_keys,
        "1 SHA1 0123456789abcdef0123456789abcdef01234567\n2 AES128CMAC 0f0e0d0c0b0a09080706050403020100\n",
    )
    .unwrap();
    let port = free_port();
    let server = Daemon::start(
        &format!(
            "tos orphan 5 orphanwait 0\nkeys {}\ntrustedkey 1 2\n",
            server_keys.display()
        ),
        &format!("127.0.0.1:{port}"),
    );
    let good = Daemon::start(
        &format!(
            "keys {}\ntrustedkey 1\nserver 127.0.0.1 port {port} key 1 {FAST}\n",
            client_keys.display()
        ),
        &format!("127.0.0.1:{}", free_port()),
    );
    let bad = Daemon::start(
        &format!(
            "keys {}\ntrustedkey 2\nserver 127.0.0.1 port {port} key 2 {FAST}\n",
            client_keys.display()
        ),
        &format!("127.0.0.1:{}", free_port()),
    );
    let peer = good.wait_for_system_peer(Duration::from_secs(30));
    assert_eq!(peer["stratum"], 5);
    bad.wait_for(Duration::from_secs(30), "a rejected crypto-NAK", |d| {
        counter(&d.status(), "rejected: crypto-NAK received") >= 2
    });
    let peers = bad.peers();
    assert_eq!(peers[0]["reach"], 0, "{peers}");
    assert_ne!(peers[0]["tally"], "*", "{peers}");
    assert_eq!(bad.status()["leap"], 3);
    assert_eq!(counter(&good.status(), "rejected: crypto-NAK received"), 0);
    // The server answered the bad MACs with crypto-NAKs, and counted them.
    let status = server.status();
    assert!(counter(&status, "sent: crypto-NAK") >= 2, "{status}");
    assert!(counter(&status, "served") >= 4, "{status}");
    eprintln!("took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------
// Broadcast.

#[test]
fn chronyd_broadcast_to_our_broadcast_client() {
    let started = Instant::now();
    let lab = Lab::new(2);
    let server = lab.hosts[0].address;
    let mut chronyd = Chronyd::start(
        Some(&lab.hosts[0].ns),
        &format!("allow\nlocal stratum 3\nbroadcast 8 {}\n", lab.broadcast()),
    );
    let ours = lab.daemon(1, "broadcastclient\ndisable auth\n");
    let peer = ours.wait_for_system_peer(Duration::from_secs(80));
    assert_eq!(peer["remote"], format!("{server}:123"), "{peer}");
    assert_eq!(peer["mode"], "b", "{peer}");
    assert_eq!(peer["stratum"], 3, "{peer}");
    assert!(peer["offset"].as_f64().unwrap().abs() < 0.005, "{peer}");
    chronyd.process.assert_no_sys_time("chronyd");
    eprintln!("took {:?}", started.elapsed());
}
