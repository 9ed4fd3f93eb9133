//! Snapshots of the median filter over a recorded sample sequence: the
//! offsets of an NMEA receiver on a serial line (a few milliseconds of
//! scatter around +12 ms, with the occasional late sentence), four polls of
//! 16 samples each.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::fmt::Write;

use ntp_refclock::filter::MedianFilter;

/// Offsets in milliseconds, one per second, as recorded.
const RECORDED_MS: [[f64; 16]; 4] = [
    [
        12.1, 11.8, 12.4, 12.0, 11.9, 12.2, 47.5, 12.3, 11.7, 12.0, 12.1, 12.6, 11.9, 12.2, 12.0,
        11.8,
    ],
    [
        12.0, 12.2, 11.9, 12.1, 12.0, 12.4, 11.6, 12.3, 12.1, 11.9, 80.2, 79.9, 12.0, 12.2, 11.8,
        12.1,
    ],
    [
        13.0, 11.1, 12.9, 11.3, 12.7, 11.5, 12.5, 11.7, 12.3, 11.9, 12.1, 12.0, 12.2, 11.8, 12.4,
        11.6,
    ],
    [
        -5.0, 12.0, 12.1, 30.0, 11.9, 12.0, 12.2, 11.8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ],
];

#[test]
fn median_filter_over_a_recorded_sequence() {
    let mut filter = MedianFilter::new();
    let mut out = String::new();
    for (poll, batch) in RECORDED_MS.iter().enumerate() {
        let batch: &[f64] = if poll == 3 { &batch[..8] } else { batch };
        for offset in batch {
            filter.push(offset * 1e-3);
        }
        let result = filter.process(0.0001).unwrap();
        writeln!(
            out,
            "poll {poll}: n {:2} used {:2} offset {:+.6} ms jitter {:.6} ms dispersion {:.6} ms",
            result.total,
            result.used,
            result.offset * 1e3,
            result.jitter * 1e3,
            result.dispersion * 1e3
        )
        .unwrap();
    }
    assert!(filter.process(0.0).is_none());
    insta::assert_snapshot!(out);
}
