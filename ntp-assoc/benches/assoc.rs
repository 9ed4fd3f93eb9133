//! Benchmarks of the peer process hot paths.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ntp_assoc::access::{AccessControl, RateLimiter, RestrictFlags, RestrictList};
use ntp_assoc::filter::ClockFilter;
use ntp_assoc::server::{OutgoingMac, ReplyKind, SystemVars, fast_xmit};
use ntp_assoc::{Access, Auth, Endpoint, EndpointConfig};
use ntp_poll::Uptime;
use ntp_wire::keys::{KeyStore, TrustedKeys};
use ntp_wire::mac::{Key, MacAlgorithm};
use ntp_wire::packet::{Header, LeapIndicator, Mode};
use ntp_wire::time::{NtpDuration, NtpTimestamp};

fn server_reply(c: &mut Criterion) {
    let request = Header::client_request(4, NtpTimestamp::from_bits(0x1234_5678_9abc_def0));
    let system = SystemVars::default();
    let rec = NtpTimestamp::from_seconds_and_fraction(1000, 1);
    let xmt = NtpTimestamp::from_seconds_and_fraction(1000, 2);
    c.bench_function("server reply, no MAC", |b| {
        b.iter(|| {
            fast_xmit(
                black_box(&request),
                48,
                Mode::Server,
                rec,
                xmt,
                &system,
                ReplyKind::Time,
                OutgoingMac::None,
            )
        })
    });
    for (name, algorithm) in [
        ("server reply, MD5 MAC", MacAlgorithm::Md5),
        ("server reply, SHA-1 MAC", MacAlgorithm::Sha1),
        ("server reply, AES-128-CMAC", MacAlgorithm::Aes128Cmac),
    ] {
        let key = Key::new(1, algorithm, b"benchmark secret");
        c.bench_function(name, |b| {
            b.iter(|| {
                fast_xmit(
                    black_box(&request),
                    72,
                    Mode::Server,
                    rec,
                    xmt,
                    &system,
                    ReplyKind::Time,
                    OutgoingMac::Key(&key),
                )
            })
        });
    }
}

/// The whole per-request work of the peer process: a client request in
/// (parse, checks, dispatch), the reply built and taken out.
fn endpoint_request(c: &mut Criterion) {
    let mut endpoint = Endpoint::new(
        EndpointConfig::default(),
        Auth::new(KeyStore::new(), TrustedKeys::new()),
    );
    endpoint.set_system(SystemVars {
        leap: LeapIndicator::NoWarning,
        stratum: 2,
        ..SystemVars::default()
    });
    let mut request = [0u8; 48];
    request[0] = 0x23;
    request[40..48].copy_from_slice(&0xe5f6_63a8_798e_ae2bu64.to_be_bytes());
    let source = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 7), 40123));
    let destination = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 123));
    let rec = NtpTimestamp::from_seconds_and_fraction(3_900_000_000, 1);
    c.bench_function("endpoint: client request to reply", |b| {
        b.iter(|| {
            endpoint.handle(
                Uptime::from_secs(10),
                rec,
                source,
                destination,
                black_box(&request),
                Access::ALLOW,
            );
            black_box(endpoint.poll_transmit())
        })
    });
}

/// Access control per packet: `restrict` lookup and the rate limiter,
/// with clients spread over more addresses than the table has slots.
fn access_control(c: &mut Criterion) {
    let mut restrict = RestrictList::new();
    restrict.set_default(
        true,
        true,
        RestrictFlags {
            limited: true,
            kod: true,
            ..RestrictFlags::default()
        },
    );
    let mut access = AccessControl {
        restrict,
        limiter: RateLimiter::new(8192, 3, Duration::from_secs(1)),
    };
    let mut i = 0u32;
    c.bench_function("access control, limited, 1M clients", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (i % 1_000_000)));
            black_box(access.decide(ip, Duration::from_millis(u64::from(i)), false))
        })
    });
}

fn clock_filter(c: &mut Criterion) {
    let mut filter = ClockFilter::new(-20);
    let mut t = 0u64;
    c.bench_function("clock filter update", |b| {
        b.iter(|| {
            t += 64;
            filter.update(
                NtpDuration::from_nanos((t % 7) as i64 * 100_000),
                NtpDuration::from_nanos(10_000_000 + (t % 5) as i64 * 1_000_000),
                NtpDuration::from_nanos(1_000),
                Uptime::from_secs(t),
                6,
                true,
            )
        })
    });
}

criterion_group!(
    benches,
    server_reply,
    endpoint_request,
    access_control,
    clock_filter
);
criterion_main!(benches);
