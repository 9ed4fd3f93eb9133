//! The refclock median filter.
//!
//! Drivers deliver samples far more often than the clock is polled (one per
//! second against a poll of 16-64 s or more). The samples gathered between
//! two polls go through this filter, as in the reference implementation's
//! `refclock_sample()`: sort the offsets, drop the one farthest from the
//! median until about 60 % remain, and average the rest. The jitter is the
//! RMS of the differences between neighbouring survivors; the sample
//! dispersion handed to the peer's clock filter is that jitter, at least
//! `minjitter`.
//!
//! ```
//! use ntp_refclock::filter::MedianFilter;
//!
//! let mut filter = MedianFilter::new();
//! for offset in [0.010, 0.011, 0.009, 0.250, 0.010] {
//!     filter.push(offset);
//! }
//! let out = filter.process(0.0).unwrap();
//! assert_eq!(out.used, 3); // the 0.250 outlier is trimmed
//! assert!((out.offset - 0.010).abs() < 0.001);
//! assert!(filter.is_empty());
//! ```

use std::collections::VecDeque;

/// The most samples kept between polls (the reference implementation's
/// `MAXSTAGE`); older ones are dropped.
pub const MAX_STAGES: usize = 60;

/// The filter's result for one poll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterOutput {
    /// Mean offset of the surviving samples, seconds.
    pub offset: f64,
    /// RMS of the differences between neighbouring survivors, seconds.
    pub jitter: f64,
    /// The sample dispersion for the peer's clock filter: the jitter, at
    /// least `minjitter`.
    pub dispersion: f64,
    /// Samples used (the survivors).
    pub used: usize,
    /// Samples offered.
    pub total: usize,
}

/// Collects sample offsets between polls and reduces them at each poll.
#[derive(Debug, Clone, Default)]
pub struct MedianFilter {
    offsets: VecDeque<f64>,
}

impl MedianFilter {
    /// An empty filter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a sample offset (seconds); non-finite values are ignored. When
    /// [`MAX_STAGES`] samples are held the oldest is dropped.
    pub fn push(&mut self, offset: f64) {
        if !offset.is_finite() {
            return;
        }
        if self.offsets.len() == MAX_STAGES {
            self.offsets.pop_front();
        }
        self.offsets.push_back(offset);
    }

    /// Samples held.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether no samples are held.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Drop all samples.
    pub fn clear(&mut self) {
        self.offsets.clear();
    }

    /// Reduce the held samples to one offset and jitter and empty the
    /// filter; `None` if it held no samples.
    pub fn process(&mut self, minjitter: f64) -> Option<FilterOutput> {
        let mut offsets: Vec<f64> = self.offsets.drain(..).collect();
        reduce(&mut offsets, minjitter)
    }
}

/// The median filter over one batch of offsets (sorted in place).
pub fn reduce(offsets: &mut [f64], minjitter: f64) -> Option<FilterOutput> {
    let n = offsets.len();
    if n == 0 {
        return None;
    }
    offsets.sort_by(f64::total_cmp);
    // Reject the sample farthest from the median until about 60 % remain.
    let keep = n - (n * 4) / 10;
    let (mut i, mut j) = (0, n);
    while j - i > keep {
        let median = offsets[(i + j) / 2];
        if offsets[j - 1] - median < median - offsets[i] {
            i += 1;
        } else {
            j -= 1;
        }
    }
    let survivors = &offsets[i..j];
    let offset = survivors.iter().sum::<f64>() / survivors.len() as f64;
    let squares: f64 = survivors
        .windows(2)
        .map(|pair| (pair[1] - pair[0]) * (pair[1] - pair[0]))
        .sum();
    let terms = survivors.len() - 1;
    let jitter = if terms > 0 {
        (squares / terms as f64).sqrt()
    } else {
        0.0
    };
    Some(FilterOutput {
        offset,
        jitter,
        dispersion: jitter.max(minjitter),
        used: survivors.len(),
        total: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(offsets: &[f64]) -> Option<FilterOutput> {
        let mut filter = MedianFilter::new();
        for &offset in offsets {
            filter.push(offset);
        }
        filter.process(0.0)
    }

    #[test]
    fn table() {
        // (input, expected offset, used, jitter)
        let table: &[(&[f64], f64, usize, f64)] = &[
            (&[0.5], 0.5, 1, 0.0),
            (&[0.1, 0.3], 0.2, 2, 0.2),
            // 3 samples: keep 3 - 1 = 2; the one farthest from the median goes.
            (&[0.0, 0.1, 0.9], 0.05, 2, 0.1),
            (&[-0.9, 0.0, 0.1], 0.05, 2, 0.1),
            // 5 samples: keep 3; the outlier 0.25 goes, then the low 0.009 (in
            // binary, 0.011 - 0.010 is a hair below 0.010 - 0.009).
            (
                &[0.010, 0.011, 0.009, 0.250, 0.010],
                0.010_333_333,
                3,
                0.000_707_107,
            ),
            // symmetric outliers on both ends are both trimmed
            (&[-1.0, 0.0, 0.0, 0.0, 1.0], 0.0, 3, 0.0),
            // all equal
            (&[0.002; 10], 0.002, 6, 0.0),
        ];
        for &(input, offset, used, jitter) in table {
            let out = run(input).unwrap();
            assert!((out.offset - offset).abs() < 1e-6, "{input:?}: {out:?}");
            assert_eq!(out.used, used, "{input:?}");
            assert_eq!(out.total, input.len());
            assert!((out.jitter - jitter).abs() < 1e-6, "{input:?}: {out:?}");
        }
        assert_eq!(run(&[]), None);
    }

    #[test]
    fn ten_samples_with_two_spikes() {
        let mut input = vec![0.001; 8];
        input.extend([0.5, -0.4]);
        let out = run(&input).unwrap();
        assert_eq!(out.used, 6);
        assert_eq!(out.offset, 0.001);
    }

    #[test]
    fn minjitter_floors_dispersion_not_jitter() {
        let mut filter = MedianFilter::new();
        filter.push(0.0);
        filter.push(0.0);
        let out = filter.process(0.005).unwrap();
        assert_eq!(out.jitter, 0.0);
        assert_eq!(out.dispersion, 0.005);
    }

    #[test]
    fn capacity_drops_oldest_and_ignores_nan() {
        let mut filter = MedianFilter::new();
        filter.push(f64::NAN);
        assert!(filter.is_empty());
        for k in 0..(MAX_STAGES + 5) {
            filter.push(k as f64);
        }
        assert_eq!(filter.len(), MAX_STAGES);
        let out = filter.process(0.0).unwrap();
        assert_eq!(out.total, MAX_STAGES);
        // the oldest five (0..5) were dropped, so the mean of the central
        // 60 % of 5..65 is near the middle value.
        assert!((out.offset - 34.5).abs() <= 0.5, "{out:?}");
        assert_eq!(out.used, 36);
        filter.push(1.0);
        filter.clear();
        assert!(filter.is_empty());
    }
}
