//! Multi-host cases of `ntpctl run` against itself, in network namespaces
//! the tests create (see `common::netns`): client/server across a bridge,
//! broadcast, manycast, orphan mode, symmetric active/passive, pool.
//! Every daemon runs `--no-adjust`; all traffic stays in the namespaces.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::netns::Lab;

/// An orphan parent at stratum 5 at once: a server with no upstream.
const ORPHAN_SERVER: &str = "tos orphan 5 orphanwait 0\n";

#[test]
fn client_and_server_across_the_bridge() {
    let lab = Lab::new(2);
    let _server = lab.daemon(0, ORPHAN_SERVER);
    let client = lab.daemon(
        1,
        &format!(
            "server {} iburst minpoll 3 maxpoll 3\n",
            lab.hosts[0].address
        ),
    );
    let peer = client.wait_for_system_peer(Duration::from_secs(60));
    assert_eq!(peer["remote"], format!("{}:123", lab.hosts[0].address));
    assert_eq!(peer["mode"], "u");
    assert_eq!(peer["stratum"], 5);
    assert_eq!(client.status()["stratum"], 6);
}

const MINUTE: Duration = Duration::from_secs(60);

/// The peers of `daemon` with billboard type `mode`.
fn peers_of_mode(daemon: &common::Daemon, mode: &str) -> Vec<serde_json::Value> {
    daemon
        .peers()
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["mode"] == mode)
        .cloned()
        .collect()
}

fn broadcast(client_config: &str) -> (serde_json::Value, common::Daemon, common::Daemon, Lab) {
    let lab = Lab::new(2);
    let server = lab.daemon(
        0,
        &format!("{ORPHAN_SERVER}broadcast {} minpoll 3\n", lab.broadcast()),
    );
    let client = lab.daemon(1, client_config);
    let peer = client.wait_for_system_peer(MINUTE);
    (peer, client, server, lab)
}

#[test]
fn broadcast_with_calibration_volley() {
    let (peer, client, server, lab) = broadcast("broadcastclient\ndisable auth\n");
    assert_eq!(peer["remote"], format!("{}:123", lab.hosts[0].address));
    assert_eq!(peer["mode"], "b", "{peer}");
    assert_eq!(peer["stratum"], 5);
    // The volley measured the real delay across the bridge (well under the
    // 4 ms default broadcastdelay).
    let delay = peer["delay"].as_f64().unwrap();
    assert!(delay > 0.0 && delay < 0.004, "{peer}");
    assert!(peer["offset"].as_f64().unwrap().abs() < 0.001, "{peer}");
    assert_eq!(client.status()["stratum"], 6);
    // The volley's client requests were answered by the server.
    assert!(server.status()["counters"]["served"].as_u64().unwrap() >= 1);
    // The server's own broadcast association.
    let own = peers_of_mode(&server, "B");
    assert_eq!(own.len(), 1, "{}", server.peers());
    assert_eq!(own[0]["remote"], format!("{}:123", lab.broadcast()));
}

#[test]
fn broadcast_without_volley_uses_broadcastdelay() {
    let (peer, client, server, lab) =
        broadcast("broadcastclient novolley\nbroadcastdelay 0.008\ndisable auth\n");
    assert_eq!(peer["remote"], format!("{}:123", lab.hosts[0].address));
    assert_eq!(peer["mode"], "b", "{peer}");
    let delay = peer["delay"].as_f64().unwrap();
    assert!((delay - 0.008).abs() < 1e-6, "{peer}");
    // Half the assumed delay is added to each broadcast's T3 - T4: the
    // offset is about +4 ms (the real one-way delay is a few microseconds).
    let offset = peer["offset"].as_f64().unwrap();
    assert!((offset - 0.004).abs() < 0.001, "{peer}");
    assert_eq!(client.status()["stratum"], 6);
    // No client request ever reached the server.
    assert!(
        server.status()["counters"]
            .get("served")
            .is_none_or(|v| v == 0)
    );
}

#[test]
fn manycast_client_and_three_servers() {
    let lab = Lab::new(4);
    let group = lab.group();
    let _servers: Vec<_> = (1..4)
        .map(|i| lab.daemon(i, &format!("{ORPHAN_SERVER}manycastserver {group}\n")))
        .collect();
    let client = lab.daemon(
        0,
        &format!(
            "manycastclient {group} minpoll 3 maxpoll 3\ntos minclock 2 maxclock 2\ndisable auth\n"
        ),
    );
    let peer = client.wait_for_system_peer(MINUTE);
    assert_eq!(peer["stratum"], 5);
    let servers: Vec<String> = (1..4)
        .map(|i| format!("{}:123", lab.hosts[i].address))
        .collect();
    assert!(servers.contains(&peer["remote"].as_str().unwrap().to_owned()));
    // Three servers answer; at most maxclock (2) are mobilised and at
    // least minclock (2) are kept, polled as ordinary clients.
    for _ in 0..10 {
        let peers = client.peers();
        let peers = peers.as_array().unwrap();
        let template: Vec<_> = peers.iter().filter(|p| p["mode"] == "m").collect();
        assert_eq!(template.len(), 1, "{peers:?}");
        assert_eq!(template[0]["remote"], format!("{group}:123"));
        let found: Vec<_> = peers.iter().filter(|p| p["mode"] != "m").collect();
        assert_eq!(found.len(), 2, "{peers:?}\n{}", client.log());
        for p in found {
            assert!(servers.contains(&p["remote"].as_str().unwrap().to_owned()));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    assert_eq!(client.status()["stratum"], 6);
}

#[test]
fn symmetric_active_and_passive() {
    let lab = Lab::new(2);
    let (a, b) = (lab.hosts[0].address, lab.hosts[1].address);
    // The passive side is an orphan parent that accepts unauthenticated
    // peers; the active side has one `peer` line.
    let passive = lab.daemon(1, &format!("{ORPHAN_SERVER}disable auth\n"));
    let active = lab.daemon(0, &format!("peer {b} minpoll 3 maxpoll 3\n"));
    let peer = active.wait_for_system_peer(MINUTE);
    assert_eq!(peer["remote"], format!("{b}:123"));
    assert_eq!(peer["mode"], "s");
    assert_eq!(peer["stratum"], 5);
    passive.wait_for(MINUTE, "the passive association", |d| {
        d.peer(a)
            .is_some_and(|p| p["mode"] == "s" && p["reach"] != 0)
    });
    assert_eq!(active.status()["stratum"], 6);
    assert_eq!(passive.status()["stratum"], 5);
}

#[test]
fn pool_name_with_three_addresses() {
    let mut lab = Lab::new(4);
    let servers: Vec<_> = (1..4).map(|i| lab.daemon(i, ORPHAN_SERVER)).collect();
    let mut hosts = String::from("127.0.0.1 localhost\n");
    for host in &lab.hosts[1..] {
        hosts.push_str(&format!("{} pool.test\n", host.address));
    }
    lab.set_hosts_file(0, &hosts);
    let resolved = lab.exec(0, &["getent", "ahostsv4", "pool.test"]);
    assert_eq!(
        resolved.lines().filter(|l| l.contains("DGRAM")).count(),
        3,
        "{resolved}"
    );
    let client = lab.daemon(0, "pool pool.test iburst minpoll 3 maxpoll 3\n");
    let peer = client.wait_for_system_peer(MINUTE);
    assert_eq!(peer["hostname"], "pool.test");
    let peers = client.peers();
    let remotes: Vec<&str> = peers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["remote"].as_str().unwrap())
        .collect();
    assert_eq!(remotes.len(), 3, "{peers}");
    for host in &lab.hosts[1..] {
        assert!(
            remotes.contains(&format!("{}:123", host.address).as_str()),
            "{peers}"
        );
    }
    drop(servers);
}

/// Three of our daemons peering with each other in hosts 0-2, `tos orphan
/// 5` and a configured upstream in host 3 that is not running; waits until
/// the lowest address (host 0) is the orphan parent and the others follow it.
fn orphan_mesh(lab: &Lab) -> Vec<Option<common::Daemon>> {
    let address = |i: usize| lab.hosts[i].address;
    let upstream = address(3);
    let config = |me: usize| {
        let mut c =
            format!("tos orphan 5 orphanwait 2\nserver {upstream} iburst minpoll 3 maxpoll 3\n");
        for other in (0..3).filter(|&o| o != me) {
            c.push_str(&format!("peer {} minpoll 3 maxpoll 3\n", address(other)));
        }
        c
    };
    let mesh: Vec<Option<common::Daemon>> =
        (0..3).map(|i| Some(lab.daemon(i, &config(i)))).collect();
    let start = std::time::Instant::now();
    daemon(&mesh, 0).wait_for(MINUTE, "host 0 the orphan parent", is_orphan_parent);
    for i in 1..3 {
        daemon(&mesh, i).wait_for(MINUTE, "following host 0", |d| follows(lab, d, 0, 6));
    }
    eprintln!("parent elected after {:?}", start.elapsed());
    mesh
}

fn daemon(mesh: &[Option<common::Daemon>], i: usize) -> &common::Daemon {
    mesh[i].as_ref().unwrap()
}

/// Whether `d`'s system peer is host `parent` and its stratum `stratum`.
fn follows(lab: &Lab, d: &common::Daemon, parent: usize, stratum: u64) -> bool {
    let s = d.status();
    s["system_peer"] == format!("{}:123", lab.hosts[parent].address)
        && s["stratum"] == stratum
        && s["orphan"] == false
}

fn is_orphan_parent(d: &common::Daemon) -> bool {
    let s = d.status();
    s["orphan"] == true && s["stratum"] == 5 && s["system_peer"].is_null()
}

#[test]
fn orphan_mesh_elects_a_parent_and_fails_over() {
    let lab = Lab::new(4);
    let mut mesh = orphan_mesh(&lab);
    // The parent stops: the next lowest address takes over.
    mesh[0] = None;
    let start = std::time::Instant::now();
    daemon(&mesh, 1).wait_for(MINUTE, "host 1 the orphan parent", is_orphan_parent);
    daemon(&mesh, 2).wait_for(MINUTE, "following host 1", |d| follows(&lab, d, 1, 6));
    eprintln!("failover after {:?}", start.elapsed());
}

#[test]
fn orphan_mesh_follows_an_upstream_that_appears() {
    let lab = Lab::new(4);
    let mesh = orphan_mesh(&lab);
    // An upstream at a lower stratum (an orphan parent at stratum 2)
    // appears: everybody follows it, nobody is an orphan any more.
    let start = std::time::Instant::now();
    let _upstream = lab.daemon(3, "tos orphan 2 orphanwait 0\n");
    for i in 0..3 {
        daemon(&mesh, i).wait_for(MINUTE, "following the upstream", |d| follows(&lab, d, 3, 3));
    }
    eprintln!("upstream followed after {:?}", start.elapsed());
}
