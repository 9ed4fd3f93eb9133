//! The peer process end to end through `Endpoint`: lifecycles, packet
//! checks, KoD, authentication, manycast, and properties.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use ntp_assoc::dispatch::AssocMode;
use ntp_assoc::server::SystemVars;
use ntp_assoc::{
    Access, AssocConfig, Auth, DemobiliseReason, Disposition, Endpoint, EndpointConfig, Event,
    Kind, Rejection,
};
use ntp_poll::Uptime;
use ntp_wire::keys::{KeyStore, TrustedKeys};
use ntp_wire::mac::{Key, MacAlgorithm};
use ntp_wire::packet::{Header, LeapIndicator, Mode};
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpShort, NtpTimestamp};
use proptest::prelude::*;

const LOCAL: &str = "192.0.2.100:123";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ts(s: u32) -> NtpTimestamp {
    NtpTimestamp::from_seconds_and_fraction(s, 0)
}

fn synced() -> SystemVars {
    SystemVars {
        leap: LeapIndicator::NoWarning,
        stratum: 2,
        precision: -20,
        root_delay: NtpShort::from_bits(0x100),
        root_dispersion: NtpShort::from_bits(0x100),
        refid: ReferenceId::from_bytes([192, 0, 2, 250]),
        reftime: ts(100),
        poll: 6,
    }
}

fn server_header(origin: NtpTimestamp, xmt: NtpTimestamp) -> Header {
    Header {
        leap: LeapIndicator::NoWarning,
        version: 4,
        mode: Mode::Server,
        stratum: 1,
        poll: 6,
        precision: -20,
        root_delay: NtpShort::ZERO,
        root_dispersion: NtpShort::from_bits(0x10),
        reference_id: ReferenceId::from_ascii("GPS"),
        reference_time: ts(900),
        origin_time: origin,
        receive_time: xmt,
        transmit_time: xmt,
    }
}

fn bytes(h: &Header) -> Vec<u8> {
    let mut buf = vec![0u8; 48];
    h.emit(&mut buf).unwrap();
    buf
}

fn signed(h: &Header, key: &Key) -> Vec<u8> {
    let mut buf = vec![0u8; 48 + key.trailer_len()];
    h.emit(&mut buf).unwrap();
    key.sign_into(&mut buf, 48).unwrap();
    buf
}

fn drain(endpoint: &mut Endpoint) -> Vec<Event> {
    std::iter::from_fn(|| endpoint.poll_event()).collect()
}

/// A client association that has sent its first packet; returns the xmt.
fn client_sent(endpoint: &mut Endpoint, server: SocketAddr, at: u32) -> NtpTimestamp {
    let due = endpoint.poll_timeout();
    endpoint.handle_timeout(due, ts(at));
    let t = endpoint.poll_transmit().expect("a packet");
    assert_eq!(t.destination, server);
    Header::parse(t.packet.as_bytes()).unwrap().transmit_time
}

#[test]
fn client_exchange_and_replay() {
    let mut e = Endpoint::new(EndpointConfig::default(), Auth::disabled());
    e.set_system(synced());
    let server = addr("192.0.2.1:123");
    let id = e
        .mobilise(AssocConfig::client(server), Uptime::ZERO)
        .unwrap();
    let xmt = client_sent(&mut e, server, 1000);
    assert_eq!(xmt, ts(1000));
    let reply = bytes(&server_header(xmt, ts(1001)));
    let now = e.poll_timeout().min(Uptime::from_secs(30));
    assert_eq!(
        e.handle(now, ts(1000), server, addr(LOCAL), &reply, Access::ALLOW),
        Disposition::Processed(id)
    );
    let a = e.association(id).unwrap();
    assert_eq!(a.poller().reach(), 1);
    assert_eq!(a.filter().offset().to_seconds_f64(), 1.0);
    // The same reply again: duplicate.
    assert_eq!(
        e.handle(now, ts(1000), server, addr(LOCAL), &reply, Access::ALLOW),
        Disposition::Dropped(Rejection::Duplicate)
    );
    // A replayed request answered anew (new transmit time, same origin):
    // the xmt was cleared after the first reply, so it is bogus.
    let replay = bytes(&server_header(xmt, ts(1002)));
    assert_eq!(
        e.handle(now, ts(1000), server, addr(LOCAL), &replay, Access::ALLOW),
        Disposition::Dropped(Rejection::Bogus)
    );
    let events = drain(&mut e);
    assert!(events.contains(&Event::ClockUpdate { id }));
}

#[test]
fn kod_honoured_only_after_origin_check() {
    let mut e = Endpoint::new(EndpointConfig::default(), Auth::disabled());
    let server = addr("192.0.2.1:123");
    let id = e
        .mobilise(AssocConfig::client(server), Uptime::ZERO)
        .unwrap();
    let xmt = client_sent(&mut e, server, 1000);
    let mut deny = server_header(ts(4242), ts(1001));
    deny.stratum = 0;
    deny.reference_id = ReferenceId::from_ascii("DENY");
    // Spoofed: wrong origin. Ignored.
    assert_eq!(
        e.handle(
            Uptime::from_secs(1),
            ts(1000),
            server,
            addr(LOCAL),
            &bytes(&deny),
            Access::ALLOW
        ),
        Disposition::Dropped(Rejection::Bogus)
    );
    assert!(e.association(id).is_some());
    assert!(!e.is_denied(server.ip()));
    // Genuine: demobilised, and nothing more is sent there.
    deny.origin_time = xmt;
    assert_eq!(
        e.handle(
            Uptime::from_secs(1),
            ts(1000),
            server,
            addr(LOCAL),
            &bytes(&deny),
            Access::ALLOW
        ),
        Disposition::Dropped(Rejection::Kiss(ntp_wire::KissCode::Deny))
    );
    assert!(e.association(id).is_none());
    assert!(e.is_denied(server.ip()));
    assert!(
        e.mobilise(AssocConfig::client(server), Uptime::from_secs(2))
            .is_err()
    );
}

#[test]
fn kod_rate_raises_poll() {
    let mut e = Endpoint::new(EndpointConfig::default(), Auth::disabled());
    let server = addr("192.0.2.1:123");
    let id = e
        .mobilise(AssocConfig::client(server), Uptime::ZERO)
        .unwrap();
    let xmt = client_sent(&mut e, server, 1000);
    let mut rate = server_header(xmt, xmt);
    rate.stratum = 0;
    rate.poll = 9;
    rate.reference_id = ReferenceId::from_ascii("RATE");
    e.handle(
        Uptime::from_secs(1),
        ts(1000),
        server,
        addr(LOCAL),
        &bytes(&rate),
        Access::ALLOW,
    );
    assert_eq!(e.association(id).unwrap().poller().hpoll(), 9);
}

#[test]
fn symmetric_passive_needs_authentication() {
    let key = Key::new(7, MacAlgorithm::Sha1, b"peer secret");
    let mut keys = KeyStore::new();
    keys.insert(key.clone());
    let trusted: TrustedKeys = [7].into_iter().collect();
    let peer = addr("192.0.2.7:123");
    let mut active = Header {
        mode: Mode::SymmetricActive,
        ..server_header(NtpTimestamp::ZERO, ts(5000))
    };
    active.receive_time = NtpTimestamp::ZERO;

    // Auth required: an unauthenticated packet mobilises nothing.
    let mut e = Endpoint::new(
        EndpointConfig::default(),
        Auth::new(keys.clone(), trusted.clone()),
    );
    let d = e.handle(
        Uptime::ZERO,
        ts(5000),
        peer,
        addr(LOCAL),
        &bytes(&active),
        Access::ALLOW,
    );
    assert_eq!(d, Disposition::Dropped(Rejection::AuthenticationFailed));
    assert_eq!(e.associations().count(), 0);
    // A bad MAC neither.
    let mut bad = signed(&active, &key);
    bad[60] ^= 1;
    e.handle(
        Uptime::ZERO,
        ts(5000),
        peer,
        addr(LOCAL),
        &bad,
        Access::ALLOW,
    );
    assert_eq!(e.associations().count(), 0);
    // An authenticated one does, with the peer's key.
    e.handle(
        Uptime::ZERO,
        ts(5000),
        peer,
        addr(LOCAL),
        &signed(&active, &key),
        Access::ALLOW,
    );
    let a = e.associations().next().unwrap();
    assert_eq!(a.mode(), AssocMode::SymmetricPassive);
    assert_eq!(a.config().kind, Kind::Ephemeral);
    assert_eq!(a.config().key, Some(7));

    // Auth disabled: mobilised without a MAC.
    let mut e = Endpoint::new(EndpointConfig::default(), Auth::disabled());
    e.handle(
        Uptime::ZERO,
        ts(5000),
        peer,
        addr(LOCAL),
        &bytes(&active),
        Access::ALLOW,
    );
    assert_eq!(e.associations().count(), 1);
    // Both passive: the error condition, ignored and never answered; the
    // ephemeral association goes.
    let passive = Header {
        mode: Mode::SymmetricPassive,
        ..active
    };
    let d = e.handle(
        Uptime::ZERO,
        ts(5001),
        peer,
        addr(LOCAL),
        &bytes(&passive),
        Access::ALLOW,
    );
    assert!(matches!(d, Disposition::Dropped(Rejection::ModeError(..))));
    assert!(e.poll_transmit().is_none());
    assert_eq!(e.associations().count(), 0);
}

#[test]
fn symmetric_active_pair_exchange() {
    // Two endpoints configured as active peers of each other.
    let a_addr = addr("192.0.2.10:123");
    let b_addr = addr("192.0.2.11:123");
    let mut a = Endpoint::new(EndpointConfig::default(), Auth::disabled());
    let seeded = EndpointConfig {
        seed: 99,
        ..EndpointConfig::default()
    };
    let mut b = Endpoint::new(seeded, Auth::disabled());
    a.set_system(synced());
    b.set_system(synced());
    let peer = |to| AssocConfig::client(to).with_mode(AssocMode::SymmetricActive);
    let ida = a.mobilise(peer(b_addr), Uptime::ZERO).unwrap();
    let idb = b.mobilise(peer(a_addr), Uptime::ZERO).unwrap();
    // B's clock is 0.5 s ahead of A's; 10 ms each way.
    let mut now = Uptime::ZERO;
    for _ in 0..6 {
        now = a.poll_timeout().min(b.poll_timeout());
        let base = 10_000 + now.since_origin().as_millis() as u64;
        let clock_a = |ms: u64| {
            NtpTimestamp::from_seconds_and_fraction(0, 0)
                + ntp_wire::NtpDuration::from_nanos((ms * 1_000_000) as i64)
        };
        let clock_b = |ms: u64| clock_a(ms) + ntp_wire::NtpDuration::from_nanos(500_000_000);
        a.handle_timeout(now, clock_a(base));
        b.handle_timeout(now, clock_b(base));
        while let Some(t) = a.poll_transmit() {
            b.handle(
                now,
                clock_b(base + 10),
                a_addr,
                b_addr,
                t.packet.as_bytes(),
                Access::ALLOW,
            );
        }
        while let Some(t) = b.poll_transmit() {
            a.handle(
                now,
                clock_a(base + 10),
                b_addr,
                a_addr,
                t.packet.as_bytes(),
                Access::ALLOW,
            );
        }
    }
    let _ = now;
    let offset_a = a
        .association(ida)
        .unwrap()
        .filter()
        .offset()
        .to_seconds_f64();
    let offset_b = b
        .association(idb)
        .unwrap()
        .filter()
        .offset()
        .to_seconds_f64();
    assert!((offset_a - 0.5).abs() < 1e-6, "{offset_a}");
    assert!((offset_b + 0.5).abs() < 1e-6, "{offset_b}");
}

#[test]
fn manycast_server_answers_only_when_fit() {
    let client = addr("192.0.2.50:123");
    let group = addr("224.0.1.1:123");
    let mut request = Header::client_request(4, ts(7000));
    let cases = [
        // (server stratum, synchronised, client stratum in packet, cohort, answers)
        (2u8, true, 3u8, true, true),
        (2, true, 2, true, true),
        (2, true, 2, false, false),
        (3, true, 2, true, false),
        (2, false, 3, true, false),
        (2, true, 0, true, true), // unsynchronised client (stratum 0 = 16)
    ];
    let mut table = Vec::new();
    for (stratum, sync, client_stratum, cohort, answers) in cases {
        let config = EndpointConfig {
            manycast_server: true,
            cohort,
            ..EndpointConfig::default()
        };
        let mut e = Endpoint::new(config, Auth::disabled());
        let mut system = synced();
        system.stratum = stratum;
        if !sync {
            system.leap = LeapIndicator::Unsynchronized;
        }
        e.set_system(system);
        request.stratum = client_stratum;
        let d = e.handle(
            Uptime::ZERO,
            ts(7000),
            client,
            group,
            &bytes(&request),
            Access::ALLOW,
        );
        let answered = e.poll_transmit();
        assert_eq!(
            answered.is_some(),
            answers,
            "{stratum} {sync} {client_stratum} {cohort}: {d:?}"
        );
        if let Some(t) = answered {
            assert_eq!(t.destination, client);
        }
        table.push((stratum, sync, client_stratum, cohort, answers));
    }
}

#[test]
fn manycast_client_mobilises_preemptable_from_replies() {
    let mut e = Endpoint::new(EndpointConfig::default(), Auth::disabled());
    e.set_system(SystemVars::default());
    let group = addr("224.0.1.1:123");
    let template = e
        .mobilise(
            AssocConfig::client(group).with_mode(AssocMode::ManycastClient),
            Uptime::ZERO,
        )
        .unwrap();
    e.handle_timeout(Uptime::ZERO, ts(3000));
    let t = e.poll_transmit().unwrap();
    assert_eq!(t.destination, group);
    assert_eq!(t.ttl, Some(31));
    let xmt = Header::parse(t.packet.as_bytes()).unwrap().transmit_time;
    for server in ["192.0.2.21:123", "192.0.2.22:123"] {
        let d = e.handle(
            Uptime::from_secs(1),
            ts(3000),
            addr(server),
            addr(LOCAL),
            &bytes(&server_header(xmt, ts(3001))),
            Access::ALLOW,
        );
        assert!(matches!(d, Disposition::Processed(_)), "{d:?}");
    }
    let kinds: Vec<_> = e
        .associations()
        .map(|a| (a.config().address, a.mode(), a.config().kind))
        .collect();
    assert_eq!(kinds.len(), 3);
    assert_eq!(kinds[1].1, AssocMode::Client);
    assert_eq!(kinds[1].2, Kind::Preemptable);
    // A reply to nothing we sent mobilises nothing.
    let d = e.handle(
        Uptime::from_secs(1),
        ts(3000),
        addr("192.0.2.23:123"),
        addr(LOCAL),
        &bytes(&server_header(ts(1), ts(3001))),
        Access::ALLOW,
    );
    assert!(matches!(d, Disposition::Dropped(_)));
    let _ = template;
}

#[test]
fn broadcast_client_volley_then_listen() {
    let config = EndpointConfig {
        broadcast_client: true,
        ..EndpointConfig::default()
    };
    let mut e = Endpoint::new(config, Auth::disabled());
    e.set_system(synced());
    let server = addr("192.0.2.30:123");
    let bcast = Header {
        mode: Mode::Broadcast,
        ..server_header(NtpTimestamp::ZERO, ts(8000))
    };
    let d = e.handle(
        Uptime::ZERO,
        ts(7998),
        server,
        addr("192.0.2.255:123"),
        &bytes(&bcast),
        Access::ALLOW,
    );
    let Disposition::Processed(id) = d else {
        panic!("{d:?}")
    };
    assert_eq!(
        e.association(id).unwrap().volley(),
        Some(ntp_assoc::Volley::Running)
    );
    // The volley: client packets answered by the server, 2 s apart.
    let mut now = Uptime::ZERO;
    for i in 0..12u32 {
        now = e.poll_timeout();
        e.handle_timeout(now, ts(8000 + 2 * i));
        while let Some(t) = e.poll_transmit() {
            let h = Header::parse(t.packet.as_bytes()).unwrap();
            assert_eq!(h.mode, Mode::Client);
            // Server 2 s ahead, 4 ms round trip.
            let reply = server_header(
                h.transmit_time,
                h.transmit_time
                    + ntp_wire::NtpDuration::from_seconds(2)
                    + ntp_wire::NtpDuration::from_nanos(2_000_000),
            );
            e.handle(
                now,
                h.transmit_time + ntp_wire::NtpDuration::from_nanos(4_000_000),
                server,
                addr(LOCAL),
                &bytes(&reply),
                Access::ALLOW,
            );
        }
        if matches!(
            e.association(id).unwrap().volley(),
            Some(ntp_assoc::Volley::Done(_))
        ) {
            break;
        }
    }
    let a = e.association(id).unwrap();
    let Some(ntp_assoc::Volley::Done(delay)) = a.volley() else {
        panic!("volley not done")
    };
    assert!((delay.to_seconds_f64() - 0.004).abs() < 1e-6);
    // Listen-only now: broadcasts are processed with the calibrated delay.
    let t3 = ts(9000);
    let bcast = Header {
        mode: Mode::Broadcast,
        ..server_header(NtpTimestamp::ZERO, t3)
    };
    let t4 =
        t3 - ntp_wire::NtpDuration::from_seconds(2) + ntp_wire::NtpDuration::from_nanos(2_000_000);
    let d = e.handle(
        now,
        t4,
        server,
        addr("192.0.2.255:123"),
        &bytes(&bcast),
        Access::ALLOW,
    );
    assert_eq!(d, Disposition::Processed(id));
    assert!(e.poll_transmit().is_none());
}

#[test]
fn lifecycles() {
    // (kind, mode, expected after a long silence)
    let cases = [
        (Kind::Persistent, AssocMode::Client, true),
        (Kind::Preemptable, AssocMode::Client, false),
        (Kind::Persistent, AssocMode::SymmetricActive, true),
    ];
    let mut report = String::new();
    for (kind, mode, survives) in cases {
        let mut e = Endpoint::new(EndpointConfig::default(), Auth::disabled());
        let mut config = AssocConfig::client(addr("192.0.2.40:123")).with_mode(mode);
        config.kind = kind;
        let id = e.mobilise(config, Uptime::ZERO).unwrap();
        for i in 0..40 {
            let now = e.poll_timeout();
            if now > Uptime::from_secs(200_000) {
                break;
            }
            e.handle_timeout(now, ts(1000 + i));
            while e.poll_transmit().is_some() {}
        }
        let alive = e.association(id).is_some();
        assert_eq!(alive, survives, "{kind:?} {mode:?}");
        let events: Vec<_> = drain(&mut e)
            .into_iter()
            .filter(|ev| matches!(ev, Event::Mobilised { .. } | Event::Demobilised { .. }))
            .collect();
        report.push_str(&format!("{kind:?} {mode}: alive={alive} {events:?}\n"));
    }
    // Ephemeral broadcast client times out without broadcasts.
    let config = EndpointConfig {
        broadcast_client: true,
        broadcast_volley: false,
        ..EndpointConfig::default()
    };
    let mut e = Endpoint::new(config, Auth::disabled());
    let bcast = Header {
        mode: Mode::Broadcast,
        ..server_header(NtpTimestamp::ZERO, ts(8000))
    };
    e.handle(
        Uptime::ZERO,
        ts(7998),
        addr("192.0.2.30:123"),
        addr("192.0.2.255:123"),
        &bytes(&bcast),
        Access::ALLOW,
    );
    for i in 0..40 {
        let now = e.poll_timeout();
        if now == Uptime::NEVER {
            break;
        }
        e.handle_timeout(now, ts(9000 + i));
    }
    assert_eq!(e.associations().count(), 0);
    let events = drain(&mut e);
    assert!(events.iter().any(|ev| matches!(
        ev,
        Event::Demobilised {
            reason: DemobiliseReason::Timeout,
            ..
        }
    )));
    report.push_str(&format!(
        "Ephemeral broadcast client: {:?}\n",
        events
            .iter()
            .filter(|ev| matches!(ev, Event::Mobilised { .. } | Event::Demobilised { .. }))
            .collect::<Vec<_>>()
    ));
    insta::assert_snapshot!(report);
}

#[test]
fn preemption_only_above_maxclock() {
    let config = EndpointConfig {
        maxclock: 2,
        ..EndpointConfig::default()
    };
    let mut e = Endpoint::new(config, Auth::disabled());
    let mut ids = Vec::new();
    for (i, kind) in [Kind::Persistent, Kind::Preemptable, Kind::Preemptable]
        .into_iter()
        .enumerate()
    {
        let mut c = AssocConfig::client(addr(&format!("192.0.2.{}:123", 60 + i)));
        c.kind = kind;
        ids.push(e.mobilise(c, Uptime::ZERO).unwrap());
    }
    // Three clients, maxclock 2: one preemptable non-survivor goes.
    let ranked: Vec<_> = ids.iter().rev().copied().collect();
    let gone = e.preempt(&[], &ranked);
    assert_eq!(gone, vec![ids[2]]);
    // At maxclock: nothing more goes, and the persistent one never.
    assert!(e.preempt(&[], &ranked).is_empty());
    assert!(e.association(ids[0]).is_some());
}

#[test]
fn packet_checks_table() {
    let server = addr("192.0.2.1:123");
    type Edit = fn(&mut Header, NtpTimestamp);
    let cases: &[(&str, Edit, Option<Rejection>)] = &[
        ("valid", |_, _| {}, None),
        (
            "zero transmit",
            |h, _| h.transmit_time = NtpTimestamp::ZERO,
            Some(Rejection::InvalidTimestamp(
                ntp_assoc::onwire::TimestampField::Transmit,
            )),
        ),
        (
            "zero origin",
            |h, _| h.origin_time = NtpTimestamp::ZERO,
            Some(Rejection::InvalidTimestamp(
                ntp_assoc::onwire::TimestampField::Origin,
            )),
        ),
        (
            "bogus origin",
            |h, x| h.origin_time = x + ntp_wire::NtpDuration::ONE_SECOND,
            Some(Rejection::Bogus),
        ),
        (
            "unsynchronised",
            |h, _| h.leap = LeapIndicator::Unsynchronized,
            Some(Rejection::Unsynchronised),
        ),
        (
            "stratum 16",
            |h, _| h.stratum = 16,
            Some(Rejection::StratumTooHigh(16)),
        ),
        (
            "distance",
            |h, _| h.root_dispersion = NtpShort::from_bits(17 << 16),
            Some(Rejection::BadHeader("root distance at or beyond 16 s")),
        ),
        (
            "reftime",
            |h, _| h.reference_time = ts(5000),
            Some(Rejection::BadHeader(
                "reference time later than transmit time",
            )),
        ),
        (
            "wrong mode",
            |h, _| h.mode = Mode::SymmetricPassive,
            Some(Rejection::ModeError(Mode::SymmetricPassive, "client")),
        ),
    ];
    for (name, edit, expected) in cases {
        let mut e = Endpoint::new(EndpointConfig::default(), Auth::disabled());
        let id = e
            .mobilise(AssocConfig::client(server), Uptime::ZERO)
            .unwrap();
        let xmt = client_sent(&mut e, server, 1000);
        let mut h = server_header(xmt, ts(1001));
        edit(&mut h, xmt);
        let d = e.handle(
            Uptime::from_secs(1),
            ts(1000),
            server,
            addr(LOCAL),
            &bytes(&h),
            Access::ALLOW,
        );
        match expected {
            None => assert_eq!(d, Disposition::Processed(id), "{name}"),
            Some(r) => {
                assert_eq!(d, Disposition::Dropped(*r), "{name}");
                assert_eq!(e.association(id).unwrap().poller().reach(), 0, "{name}");
            }
        }
    }
    // Access denied and authentication required.
    let mut e = Endpoint::new(EndpointConfig::default(), Auth::disabled());
    let id = e
        .mobilise(AssocConfig::client(server), Uptime::ZERO)
        .unwrap();
    let xmt = client_sent(&mut e, server, 1000);
    let reply = bytes(&server_header(xmt, ts(1001)));
    let ignore = Access {
        ignore: true,
        ..Access::ALLOW
    };
    assert_eq!(
        e.handle(
            Uptime::from_secs(1),
            ts(1000),
            server,
            addr(LOCAL),
            &reply,
            ignore
        ),
        Disposition::Dropped(Rejection::AccessDenied)
    );
    let notrust = Access {
        notrust: true,
        ..Access::ALLOW
    };
    assert_eq!(
        e.handle(
            Uptime::from_secs(1),
            ts(1000),
            server,
            addr(LOCAL),
            &reply,
            notrust
        ),
        Disposition::Dropped(Rejection::AuthenticationFailed)
    );
    let _ = id;
}

#[test]
fn server_reply_with_mac_and_crypto_nak() {
    let key = Key::new(3, MacAlgorithm::Md5, b"abc");
    let mut keys = KeyStore::new();
    keys.insert(key.clone());
    let trusted: TrustedKeys = [3].into_iter().collect();
    let mut e = Endpoint::new(EndpointConfig::default(), Auth::new(keys, trusted));
    e.set_system(synced());
    let client = addr("198.51.100.1:50000");
    let request = Header::client_request(4, ts(1234));
    let good = signed(&request, &key);
    assert_eq!(
        e.handle(
            Uptime::ZERO,
            ts(2000),
            client,
            addr(LOCAL),
            &good,
            Access::ALLOW
        ),
        Disposition::Replied
    );
    let reply = e.poll_transmit().unwrap();
    assert_eq!(reply.packet.len(), good.len());
    assert!(
        key.verify_trailer(
            &reply.packet.as_bytes()[..48],
            &reply.packet.as_bytes()[48..]
        )
        .is_ok()
    );
    let mut bad = good.clone();
    bad[50] ^= 0xff;
    e.handle(
        Uptime::ZERO,
        ts(2000),
        client,
        addr(LOCAL),
        &bad,
        Access::ALLOW,
    );
    let nak = e.poll_transmit().unwrap();
    assert_eq!(nak.packet.len(), 52);
    // KoD RATE as the caller decided.
    let kod = Access {
        kiss: Some(ntp_wire::KissCode::Rate),
        ..Access::ALLOW
    };
    e.handle(
        Uptime::ZERO,
        ts(2000),
        client,
        addr(LOCAL),
        &bytes(&request),
        kod,
    );
    let h = Header::parse(e.poll_transmit().unwrap().packet.as_bytes()).unwrap();
    assert_eq!(h.kiss_code(), Some(ntp_wire::KissCode::Rate));
}

proptest! {
    #[test]
    fn handler_never_panics(
        data in proptest::collection::vec(any::<u8>(), 0..120),
        src in any::<[u8; 4]>(),
        port in any::<u16>(),
        multicast in any::<bool>(),
    ) {
        let config = EndpointConfig { broadcast_client: true, manycast_server: true, ..EndpointConfig::default() };
        let mut e = Endpoint::new(config, Auth::disabled());
        e.set_system(synced());
        let source = SocketAddr::from((src, port));
        e.mobilise(AssocConfig::client(source), Uptime::ZERO).ok();
        let dst = if multicast { addr("224.0.1.1:123") } else { addr(LOCAL) };
        e.handle(Uptime::from_secs(1), ts(1), source, dst, &data, Access::ALLOW);
        while let Some(t) = e.poll_transmit() {
            prop_assert!(t.packet.len() <= data.len().max(48));
        }
    }

    #[test]
    fn replies_never_longer_than_requests(
        mut data in proptest::collection::vec(any::<u8>(), 48..120),
        version in 1u8..=4,
    ) {
        data[0] = (data[0] & 0xc0) | (version << 3) | 3;
        let key = Key::new(1, MacAlgorithm::Sha1, b"k");
        let mut keys = KeyStore::new();
        keys.insert(key);
        let mut e = Endpoint::new(EndpointConfig::default(), Auth::new(keys, [1].into_iter().collect()));
        e.set_system(synced());
        e.handle(Uptime::ZERO, ts(1), addr("198.51.100.9:123"), addr(LOCAL), &data, Access::ALLOW);
        while let Some(t) = e.poll_transmit() {
            prop_assert!(t.packet.len() <= data.len());
        }
    }
}

#[test]
fn mobilised_associations_poll_at_the_sender_rate() {
    // A symmetric passive association answers at its active peer's poll
    // (here 8 s), even while the peer is unsynchronised and its packets
    // cannot be used; a broadcast client follows the broadcast interval.
    let config = EndpointConfig {
        broadcast_client: true,
        ..EndpointConfig::default()
    };
    let mut e = Endpoint::new(config, Auth::disabled());
    e.set_system(synced());
    let active = Header {
        mode: Mode::SymmetricActive,
        leap: LeapIndicator::Unsynchronized,
        stratum: 0,
        poll: 3,
        ..server_header(NtpTimestamp::ZERO, ts(5000))
    };
    let bcast = Header {
        mode: Mode::Broadcast,
        poll: 4,
        ..server_header(NtpTimestamp::ZERO, ts(8000))
    };
    e.handle(
        Uptime::ZERO,
        ts(5000),
        addr("192.0.2.7:123"),
        addr(LOCAL),
        &bytes(&active),
        Access::ALLOW,
    );
    e.handle(
        Uptime::ZERO,
        ts(8000),
        addr("192.0.2.30:123"),
        addr("192.0.2.255:123"),
        &bytes(&bcast),
        Access::ALLOW,
    );
    let polls: Vec<(AssocMode, i8, i8)> = e
        .associations()
        .map(|a| (a.mode(), a.poller().minpoll(), a.poller().maxpoll()))
        .collect();
    assert_eq!(
        polls,
        [
            (AssocMode::SymmetricPassive, 3, 10),
            (AssocMode::BroadcastClient, 4, 10)
        ]
    );
    let passive = e.associations().next().unwrap().id();
    assert_eq!(
        e.association(passive).unwrap().poller().interval(),
        std::time::Duration::from_secs(8)
    );
}

#[test]
fn clear_all_after_a_step_starts_every_association_over() {
    let mut e = Endpoint::new(EndpointConfig::default(), Auth::disabled());
    e.set_system(synced());
    let server = addr("192.0.2.1:123");
    let id = e
        .mobilise(AssocConfig::client(server), Uptime::ZERO)
        .unwrap();
    let xmt = client_sent(&mut e, server, 1000);
    let reply = bytes(&server_header(xmt, ts(1001)));
    let now = Uptime::from_secs(1);
    assert_eq!(
        e.handle(now, ts(1000), server, addr(LOCAL), &reply, Access::ALLOW),
        Disposition::Processed(id)
    );
    assert_eq!(e.association(id).unwrap().filter().valid_count(), 1);
    let later = Uptime::from_secs(10);
    e.clear_all(later);
    let a = e.association(id).unwrap();
    assert_eq!(a.poller().reach(), 0);
    assert_eq!(a.filter().valid_count(), 0);
    assert_eq!(a.filter().offset().to_seconds_f64(), 0.0);
    assert_eq!(a.poller().hpoll(), 6);
    // The next poll comes soon, not a poll interval later.
    assert!(e.poll_timeout() <= later + std::time::Duration::from_millis(250));
    // The pre-step reply is no longer accepted (xmt cleared).
    assert_ne!(
        e.handle(later, ts(1010), server, addr(LOCAL), &reply, Access::ALLOW),
        Disposition::Processed(id)
    );
}

#[test]
fn transmits_say_their_socket_and_kind() {
    use ntp_assoc::{SendFrom, TransmitKind};
    let mut e = Endpoint::new(EndpointConfig::default(), Auth::disabled());
    e.set_system(synced());
    let server = addr("192.0.2.1:123");
    e.mobilise(AssocConfig::client(server), Uptime::ZERO)
        .unwrap();
    let due = e.poll_timeout();
    e.handle_timeout(due, ts(1000));
    let t = e.poll_transmit().unwrap();
    assert_eq!(t.from, SendFrom::Client);
    assert_eq!(t.kind, TransmitKind::Association);
    let request = bytes(&Header::client_request(4, ts(2000)));
    let client = addr("192.0.2.7:40000");
    let mut kod = Access::ALLOW;
    kod.kiss = Some(ntp_wire::refid::KissCode::Rate);
    for (access, kiss) in [(Access::ALLOW, None), (kod, kod.kiss)] {
        assert_eq!(
            e.handle(due, ts(2001), client, addr(LOCAL), &request, access),
            Disposition::Replied
        );
        let t = e.poll_transmit().unwrap();
        assert_eq!(t.from, SendFrom::Server);
        assert_eq!(
            t.kind,
            TransmitKind::Reply {
                kiss,
                crypto_nak: false
            }
        );
    }
}
