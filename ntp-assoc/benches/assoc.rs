//! Benchmarks of the peer process hot paths.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ntp_assoc::filter::ClockFilter;
use ntp_assoc::server::{OutgoingMac, ReplyKind, SystemVars, fast_xmit};
use ntp_poll::Uptime;
use ntp_wire::mac::{Key, MacAlgorithm};
use ntp_wire::packet::{Header, Mode};
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
    let key = Key::new(1, MacAlgorithm::Sha1, b"benchmark secret");
    c.bench_function("server reply, SHA-1 MAC", |b| {
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

criterion_group!(benches, server_reply, clock_filter);
criterion_main!(benches);
