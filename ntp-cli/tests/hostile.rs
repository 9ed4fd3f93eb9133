//! A hostile network against running daemons on loopback: malformed and
//! truncated packets of every length, every mode and version, oversized
//! extension fields, MACs with unknown keys, spoofed Kiss-o'-Death and
//! server replies with a wrong origin from the server's own address,
//! unauthenticated symmetric-active packets, mode 6/7 queries, and a flood
//! from many source addresses. After each, the daemons still run, the
//! client keeps its system peer, and the counters show the rejections by
//! reason. Also: no reply is larger than its request, and a KoD RATE goes
//! out at most once per client per interval.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::{Daemon, free_port};
use serde_json::Value;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

fn counter(status: &Value, name: &str) -> u64 {
    status["counters"][name].as_u64().unwrap_or(0)
}

fn counters_with_prefix(status: &Value, prefix: &str) -> u64 {
    status["counters"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum()
}

/// A UDP socket bound to `local`, with SO_REUSEADDR so that it can take an
/// address and port a daemon also holds (to spoof that daemon).
fn spoofing_socket(local: SocketAddr) -> Socket {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.bind(&SockAddr::from(local)).unwrap();
    socket
}

/// A 48-octet header.
fn header(li_vn_mode: u8, stratum: u8, origin: u64, transmit: u64) -> Vec<u8> {
    let mut p = vec![0u8; 48];
    p[0] = li_vn_mode;
    p[1] = stratum;
    p[2] = 6;
    p[3] = 0xec;
    p[24..32].copy_from_slice(&origin.to_be_bytes());
    p[32..40].copy_from_slice(&transmit.to_be_bytes());
    p[40..48].copy_from_slice(&transmit.to_be_bytes());
    p
}

struct Setup {
    server: Daemon,
    client: Daemon,
    server_addr: SocketAddr,
    client_addr: SocketAddr,
}

fn setup() -> Setup {
    let server_port = free_port();
    let server = Daemon::start(
        "tos orphan 5 orphanwait 0\nrestrict default kod limited\ndiscard average 3 minimum 1\n",
        &format!("127.0.0.1:{server_port}"),
    );
    let client_port = free_port();
    let client = Daemon::start(
        &format!("server 127.0.0.1 port {server_port} iburst minpoll 3 maxpoll 3\n"),
        &format!("127.0.0.1:{client_port}"),
    );
    client.wait_for_system_peer(Duration::from_secs(60));
    Setup {
        server,
        client,
        server_addr: format!("127.0.0.1:{server_port}").parse().unwrap(),
        client_addr: format!("127.0.0.1:{client_port}").parse().unwrap(),
    }
}

fn still_synchronised(s: &Setup) {
    let peer = s.client.wait_for_system_peer(Duration::from_secs(30));
    assert_eq!(peer["remote"], s.server_addr.to_string());
    // Both daemons still answer on their control sockets.
    assert_eq!(s.server.status()["stratum"], 5);
}

#[test]
fn malformed_truncated_every_mode_and_version() {
    let s = setup();
    let attacker = UdpSocket::bind("127.0.0.9:0").unwrap();
    let mut sent = 0u64;
    for target in [s.client_addr, s.server_addr] {
        // Every length 0..=1500, of zeros and of a pattern.
        for len in 0..=1500usize {
            let fill = (len % 251) as u8;
            attacker.send_to(&vec![fill; len], target).unwrap();
            sent += 1;
            if len % 64 == 0 {
                // Paced a little, so that the daemon sees most of them.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // Every first octet (leap, version 0-7, mode 0-7) on a 48-octet body.
        for first in 0..=255u8 {
            attacker
                .send_to(&header(first, 2, 0x1234, 0x5678), target)
                .unwrap();
            sent += 1;
        }
        // Oversized and broken extension fields.
        let mut big = header(0x23, 0, 0, 0x1111_2222_3333_4444);
        big.extend_from_slice(&[0x01, 0x04, 0xff, 0xfc]);
        big.resize(1400, 0xaa);
        attacker.send_to(&big, target).unwrap();
        let mut odd = header(0x23, 0, 0, 0x1111_2222_3333_4445);
        odd.extend_from_slice(&[0x01, 0x04, 0x00, 0x11]);
        odd.resize(48 + 40, 0);
        attacker.send_to(&odd, target).unwrap();
        // A MAC with a key the daemons do not have.
        let mut mac = header(0x23, 0, 0, 0x1111_2222_3333_4446);
        mac.extend_from_slice(&77u32.to_be_bytes());
        mac.extend_from_slice(&[0x5a; 16]);
        attacker.send_to(&mac, target).unwrap();
        sent += 3;
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    still_synchronised(&s);
    let status = s.client.status();
    assert!(counter(&status, "received") >= 500, "{status}");
    assert!(counters_with_prefix(&status, "rejected: ") > 0, "{status}");
    // The server answered only what it should: never more than was sent.
    let server_status = s.server.status();
    assert!(counter(&server_status, "served") < sent, "{server_status}");
    assert!(
        counter(&server_status, "rejected: malformed packet") > 0
            || counters_with_prefix(&server_status, "rejected: ") > 0,
        "{server_status}"
    );
}

#[test]
fn spoofed_kiss_and_replies_from_the_servers_address_are_rejected() {
    let s = setup();
    // Take the server's own address and port (SO_REUSEADDR), and send the
    // client a DENY kiss and server replies whose origin is not the
    // client's nonce.
    let spoof = spoofing_socket(s.server_addr);
    let dest = SockAddr::from(s.client_addr);
    let mut deny = header(0x24, 0, 0xdead_beef_0000_0001, 0x1111);
    deny[12..16].copy_from_slice(b"DENY");
    spoof.send_to(&deny, &dest).unwrap();
    let mut rate = header(0x24, 0, 0xdead_beef_0000_0002, 0x1112);
    rate[12..16].copy_from_slice(b"RATE");
    spoof.send_to(&rate, &dest).unwrap();
    for i in 0..20u64 {
        let reply = header(
            0x24,
            1,
            0xdead_beef_0000_1000 + i,
            0xe000_0000_0000_0000 + i,
        );
        spoof.send_to(&reply, &dest).unwrap();
        // And the same reply again (duplicate).
        spoof.send_to(&reply, &dest).unwrap();
    }
    drop(spoof);
    std::thread::sleep(Duration::from_secs(1));
    still_synchronised(&s);
    let status = s.client.status();
    assert!(
        counter(
            &status,
            "rejected: bogus packet: origin timestamp does not match our transmit timestamp"
        ) >= 20,
        "{status}"
    );
    assert_eq!(
        counters_with_prefix(&status, "kiss received"),
        0,
        "{status}"
    );
    let peers = s.client.peers();
    assert_eq!(
        peers.as_array().unwrap().len(),
        1,
        "the association survives"
    );
}

#[test]
fn unauthenticated_symmetric_active_does_not_mobilise() {
    let s = setup();
    let attacker = UdpSocket::bind("127.0.0.10:0").unwrap();
    for i in 0..10u64 {
        // Mode 1 (symmetric active), version 4, stratum 2.
        attacker
            .send_to(
                &header(0x21, 2, 0, 0xe000_0000_0000_0100 + i),
                s.client_addr,
            )
            .unwrap();
    }
    std::thread::sleep(Duration::from_secs(1));
    let peers = s.client.peers();
    assert_eq!(
        peers.as_array().unwrap().len(),
        1,
        "no ephemeral association: {peers}"
    );
    still_synchronised(&s);
}

#[test]
fn mode_6_and_7_queries_are_not_answered() {
    let s = setup();
    let attacker = UdpSocket::bind("127.0.0.11:0").unwrap();
    attacker
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // ntpq READSTAT and an ntpdc (mode 7) MON_GETLIST, the amplification classic.
    let readstat = [0x16, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0];
    let monlist = [0x17, 0x00, 0x03, 0x2a, 0, 0, 0, 0];
    for target in [s.client_addr, s.server_addr] {
        attacker.send_to(&readstat, target).unwrap();
        attacker.send_to(&monlist, target).unwrap();
    }
    let mut buf = [0u8; 2048];
    assert!(
        attacker.recv_from(&mut buf).is_err(),
        "a mode 6/7 query was answered"
    );
    let status = s.server.status();
    assert!(
        counter(&status, "dropped: mode 6/7 not served") >= 2,
        "{status}"
    );
}

#[test]
fn replies_are_never_larger_and_rate_kiss_is_sent_once() {
    let s = setup();
    let client = UdpSocket::bind("127.0.0.12:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let mut answers = Vec::new();
    // A burst far over `discard minimum 1`: one answer, then one KoD RATE,
    // then silence.
    for i in 0..10u64 {
        let mut request = header(0x23, 0, 0, 0xe000_0000_0000_2000 + i);
        // A 100-octet request: one 52-octet extension field of an unknown type.
        request.extend_from_slice(&[0x7f, 0x00, 0x00, 52]);
        request.extend_from_slice(&[0u8; 48]);
        client.send_to(&request, s.server_addr).unwrap();
        if let Ok((n, _)) = client.recv_from(&mut buf) {
            assert!(
                n <= request.len(),
                "reply of {n} octets to a request of {}",
                request.len()
            );
            answers.push(buf[..n].to_vec());
        }
    }
    let kisses = answers
        .iter()
        .filter(|a| a[1] == 0 && &a[12..16] == b"RATE")
        .count();
    let times = answers.iter().filter(|a| a[1] != 0).count();
    assert_eq!(kisses, 1, "exactly one KoD RATE: {answers:?}");
    assert!(times >= 1, "the first request is answered");
    assert!(
        answers.len() <= 3,
        "the rest are dropped: {}",
        answers.len()
    );
    // A 48-octet request (from a fresh client) gets a 48-octet reply.
    let fresh = UdpSocket::bind("127.0.0.13:0").unwrap();
    fresh
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    fresh
        .send_to(&header(0x23, 0, 0, 0xe000_0000_0000_3000), s.server_addr)
        .unwrap();
    let (n, _) = fresh.recv_from(&mut buf).unwrap();
    assert_eq!(n, 48);
    let status = s.server.status();
    assert!(counter(&status, "dropped: rate limit") >= 5, "{status}");
    assert_eq!(counter(&status, "sent: KoD RATE"), 1, "{status}");
}

#[test]
fn flood_from_many_addresses() {
    let s = setup();
    // 2,000 source addresses on 127.0.0.0/8, a few packets each, bounded.
    let mut sockets = Vec::new();
    for i in 0..2000u32 {
        let ip = std::net::Ipv4Addr::from(0x7f02_0000 + i);
        sockets.push(UdpSocket::bind((ip, 0)).unwrap());
    }
    for round in 0..3u64 {
        for (i, socket) in sockets.iter().enumerate() {
            let request = header(
                0x23,
                0,
                0,
                0xe100_0000_0000_0000 + round * 10_000 + i as u64,
            );
            let _ = socket.send_to(&request, s.server_addr);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    still_synchronised(&s);
    let status = s.server.status();
    // Some of the 6,000 datagrams may overflow the socket buffer on a busy
    // machine; most arrive.
    assert!(counter(&status, "received") >= 1500, "{status}");
    assert!(counter(&status, "served") >= 1000, "{status}");
    // The client kept its server and its samples.
    let peer = s.client.peers()[0].clone();
    assert_eq!(peer["tally"], "*");
}
