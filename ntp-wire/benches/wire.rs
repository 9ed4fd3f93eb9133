//! Parse and emit of NTP packets: a plain 48-octet packet, and one with a MAC.

// criterion_main! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use ntp_wire::packet::{Header, Packet};

/// A captured NTPv4 server reply (ntpd-rs test_packed_flags).
const SERVER_REPLY: [u8; 48] = [
    0x24, 0x02, 0x06, 0xe9, 0x00, 0x00, 0x02, 0x36, 0x00, 0x00, 0x03, 0xb7, 0xc0, 0x35, 0x67, 0x6c,
    0xe5, 0xf6, 0x61, 0xfd, 0x6f, 0x16, 0x5f, 0x03, 0xe5, 0xf6, 0x63, 0xa8, 0x76, 0x19, 0xef, 0x40,
    0xe5, 0xf6, 0x63, 0xa8, 0x79, 0x8c, 0x65, 0x81, 0xe5, 0xf6, 0x63, 0xa8, 0x79, 0x8e, 0xae, 0x2b,
];

fn with_mac() -> [u8; 68] {
    let mut bytes = [0u8; 68];
    bytes[..48].copy_from_slice(&SERVER_REPLY);
    bytes[48..52].copy_from_slice(&1u32.to_be_bytes());
    for (i, b) in bytes[52..].iter_mut().enumerate() {
        *b = i as u8;
    }
    bytes
}

fn bench(c: &mut Criterion) {
    c.bench_function("parse+emit 48-octet packet", |b| {
        let mut out = [0u8; 48];
        b.iter(|| {
            let packet = Packet::parse(black_box(&SERVER_REPLY)).unwrap_or_else(|_| unreachable!());
            black_box(packet.emit(&mut out)).ok();
        })
    });
    c.bench_function("parse header only", |b| {
        b.iter(|| black_box(Header::parse(black_box(&SERVER_REPLY))).ok())
    });
    c.bench_function("emit header only", |b| {
        let header = Header::parse(&SERVER_REPLY).unwrap_or_default();
        let mut out = [0u8; 48];
        b.iter(|| black_box(black_box(&header).emit(&mut out)).ok())
    });
    let mac = with_mac();
    c.bench_function("parse+emit packet with MAC (68 octets)", |b| {
        let mut out = [0u8; 68];
        b.iter(|| {
            let packet = Packet::parse(black_box(&mac)).unwrap_or_else(|_| unreachable!());
            black_box(packet.emit(&mut out)).ok();
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
