//! Selection, clustering and combining with 10 and 100 candidates.

#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ntp_select::{Candidate, SelectState, TosSettings, clock_select};
use ntp_wire::packet::LeapIndicator;
use ntp_wire::time::{NtpDuration, Uptime};

fn candidates(n: u32, now: Uptime) -> Vec<Candidate<u32>> {
    (0..n)
        .map(|i| {
            // A deterministic spread of offsets with every seventh a liar.
            let offset_us =
                i64::from((i * 7919) % 2000) - 1000 + if i % 7 == 3 { 250_000 } else { 0 };
            Candidate {
                address: Some(IpAddr::V4(Ipv4Addr::from(0xc000_0200 + i))),
                stratum: 1 + (i % 3) as u8,
                leap: LeapIndicator::NoWarning,
                offset: NtpDuration::from_nanos(offset_us * 1000),
                delay: NtpDuration::from_nanos(i64::from(10_000 + (i * 37) % 5000) * 1000),
                dispersion: NtpDuration::from_nanos(1_000_000),
                jitter: NtpDuration::from_nanos(i64::from(100 + (i * 13) % 400) * 1000),
                root_delay: NtpDuration::from_nanos(5_000_000),
                root_dispersion: NtpDuration::from_nanos(2_000_000),
                reach: 0o377,
                update_time: now,
                ..Candidate::new(i)
            }
        })
        .collect()
}

fn bench_select(c: &mut Criterion) {
    let now = Uptime::from_secs(100_000);
    let tos = TosSettings::default();
    let mut group = c.benchmark_group("clock_select");
    for n in [10u32, 100] {
        let input = candidates(n, now);
        group.bench_with_input(BenchmarkId::from_parameter(n), &input, |b, input| {
            b.iter(|| {
                let mut state = SelectState::default();
                black_box(clock_select(black_box(input), &tos, &mut state, now))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_select);
criterion_main!(benches);
