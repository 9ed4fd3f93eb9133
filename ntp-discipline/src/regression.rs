//! A regression estimate of the clock's offset and frequency, the loop
//! behind [`LoopAlgorithm::Regression`](crate::config::LoopAlgorithm).
//!
//! RFC 5905's hybrid PLL/FLL integrates each offset with a fixed gain set
//! by the poll exponent: at a 1024 s poll its time constant is hours, so a
//! wandering oscillator leaves a standing offset of a millisecond or more
//! before the loop catches up. This estimator instead fits a straight line
//! to the recent *raw* offsets - each measured offset plus the correction
//! the discipline had applied to the clock by the time of the measurement,
//! which is what the offset would have been with no discipline at all.
//! The slope of that line is the frequency correction the oscillator
//! needs; the line's value now, minus the correction applied so far, is
//! the clock's present offset. This is the approach of chrony's source
//! statistics.
//!
//! How far back the fit reaches decides between noise and lag. Like
//! chrony, the estimator starts from every sample it holds and drops the
//! oldest while the residuals fail a runs test: a straight line through a
//! wandering oscillator leaves long runs of residuals of one sign, white
//! measurement noise does not. When the noise is large the runs test cannot
//! see the wander, so the length it allows is only an upper bound: among
//! the shorter fits the estimator keeps the longest whose present value
//! agrees with every shorter fit's within their confidence intervals (the
//! intersection-of-confidence-intervals rule of adaptive smoothing, with
//! the noise measured by the runs-tested fit). Samples are weighted by
//! their round-trip delay: a sample whose delay exceeds the least seen by
//! `d` can be wrong by up to `d / 2`; when every recent delay is far above
//! the older ones, the path has changed and the older samples are dropped.
//!
//! ```
//! use ntp_discipline::regression::{OffsetRegression, RegressionSample};
//!
//! let mut regression = OffsetRegression::new(1e-6);
//! // An oscillator 10 PPM slow: the raw offset grows 10 us each second.
//! for k in 0..8 {
//!     let time = 64.0 * f64::from(k);
//!     regression.push(RegressionSample { time, raw_offset: 1e-3 + 10e-6 * time, delay: 1e-3 });
//! }
//! let fit = regression.fit().expect("eight samples");
//! assert!((fit.slope - 10e-6).abs() < 1e-12);
//! assert!((fit.value_at(1000.0) - (1e-3 + 10e-3)).abs() < 1e-9);
//! assert_eq!(fit.samples, 8);
//! ```

use std::collections::VecDeque;

/// The most samples kept (chrony keeps 64 as well).
pub const MAX_SAMPLES: usize = 64;
/// The fewest samples a fit uses once it has that many.
pub const MIN_SAMPLES: usize = 3;
/// The runs test rejects a fit when the number of residual runs falls this
/// many standard deviations below the number expected of random signs.
/// A strict test (about 16 % one-sided) chosen in the simulated
/// scenarios: it follows wander at low noise and still keeps long fits
/// when the noise is large.
const RUNS_Z: f64 = 1.0;
/// The half-width of the confidence intervals of the
/// intersection-of-confidence-intervals rule, in standard deviations.
/// Chosen in the simulated scenarios (1.5-3 tried; 1.75 gave the least RMS
/// offset over the eight accuracy cells taken together).
const ICI_GAMMA: f64 = 1.75;

/// How many consecutive samples with longer delays reveal a change of path
/// (at a 64 s poll, six and a half minutes). Three and four also caught
/// the simulated one but cost accuracy in the noisiest scenarios (false
/// detections); six cost nothing measurable.
pub const PATH_CHANGE_SAMPLES: usize = 6;
/// How much longer, in units of the delay noise (the median excess of the
/// older delays over their least), their delays must be.
pub const PATH_CHANGE_FACTOR: f64 = 4.0;

/// One measurement, on the estimator's time axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegressionSample {
    /// When the offset was measured, seconds on the caller's time axis.
    pub time: f64,
    /// The measured offset plus the correction applied to the clock by
    /// then (server minus the undisciplined clock), seconds.
    pub raw_offset: f64,
    /// The round-trip delay of the measurement, seconds (its weight).
    pub delay: f64,
}

/// A fitted line: `raw_offset(t) = intercept + slope * (t - origin)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// The weighted mean time of the samples used, where the intercept
    /// is least uncertain.
    pub origin: f64,
    /// The raw offset at `origin`, seconds.
    pub intercept: f64,
    /// The rate at which the raw offset grows, s/s: the frequency
    /// correction the oscillator needs.
    pub slope: f64,
    /// The standard error of the slope, s/s.
    pub slope_error: f64,
    /// The weighted RMS of the residuals, seconds: the measurement noise.
    pub residual_rms: f64,
    /// How many of the newest samples the fit used.
    pub samples: usize,
    /// The time between the oldest and newest sample used, seconds.
    pub span: f64,
    /// The residual variance per unit weight (weights are inverse squared
    /// seconds, so this is about 1 when the assumed errors are right).
    pub unit_variance: f64,
    /// The variance of the fitted value at the newest sample, per unit of
    /// `unit_variance`: `1 / sum(w) + (t_newest - origin)^2 / sum(w dt^2)`.
    pub leverage: f64,
}

impl Fit {
    /// The fitted raw offset at `time`.
    pub fn value_at(&self, time: f64) -> f64 {
        self.intercept + self.slope * (time - self.origin)
    }
}

/// The round-trip delays of some samples: the least, and each delay's
/// excess over it, sorted.
struct DelayProfile {
    least: f64,
    excess: [f64; MAX_SAMPLES],
    len: usize,
}

impl DelayProfile {
    fn of<'a>(samples: impl Iterator<Item = &'a RegressionSample> + Clone) -> Self {
        let least = samples
            .clone()
            .map(|s| s.delay)
            .fold(f64::INFINITY, f64::min);
        let mut excess = [0.0f64; MAX_SAMPLES];
        let mut len = 0;
        for (slot, s) in excess.iter_mut().zip(samples) {
            *slot = s.delay - least;
            len += 1;
        }
        excess[..len].sort_by(f64::total_cmp);
        Self { least, excess, len }
    }

    /// The excesses, smallest first.
    fn excess(&self) -> &[f64] {
        &self.excess[..self.len]
    }
}

/// The sample history and the fit (see the module documentation).
#[derive(Clone, Debug)]
pub struct OffsetRegression {
    samples: VecDeque<RegressionSample>,
    /// The noise floor of one sample, seconds (clock precision).
    floor: f64,
}

impl OffsetRegression {
    /// An empty history; `floor` is the smallest error assumed of a
    /// sample (the clock's precision), which keeps weights finite.
    pub fn new(floor: f64) -> Self {
        Self {
            samples: VecDeque::with_capacity(MAX_SAMPLES),
            floor: floor.max(1e-9),
        }
    }

    /// Forgets every sample (after a clock step).
    pub fn clear(&mut self) {
        self.samples.clear();
    }

    /// The number of samples held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no sample is held.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Adds a sample, dropping the oldest beyond [`MAX_SAMPLES`]. Samples
    /// that are not finite are ignored.
    pub fn push(&mut self, sample: RegressionSample) {
        if !(sample.time.is_finite() && sample.raw_offset.is_finite() && sample.delay.is_finite()) {
            return;
        }
        if self.samples.len() == MAX_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
        self.detect_path_change();
    }

    /// A change of path: the newest [`PATH_CHANGE_SAMPLES`] samples' delays
    /// all exceed the least of the older ones by more than
    /// [`PATH_CHANGE_FACTOR`] times the older ones' delay noise (the median
    /// of their excess), with at least as many older samples as newest.
    /// The older samples then describe another
    /// path - their offsets differ by the change of asymmetry - and, with
    /// their smaller delays, would outweigh every new one, so the fit
    /// pivots on them: they are dropped.
    fn detect_path_change(&mut self) {
        let len = self.samples.len();
        if len < 2 * PATH_CHANGE_SAMPLES {
            return;
        }
        let older = len - PATH_CHANGE_SAMPLES;
        let before = DelayProfile::of(self.samples.iter().take(older));
        let after = DelayProfile::of(self.samples.iter().skip(older));
        let noise = before.excess()[older / 2].max(self.floor);
        if after.least - before.least > PATH_CHANGE_FACTOR * noise {
            self.samples.drain(..older);
        }
    }

    /// The best fit (module documentation): the runs test bounds how many
    /// of the newest samples it may use, the intersection of confidence
    /// intervals picks the length within that bound. `None` with fewer
    /// than two samples.
    pub fn fit(&self) -> Option<Fit> {
        let len = self.samples.len();
        if len < 2 {
            return None;
        }
        // The error assumed of the best samples: half the lower quartile
        // of the delays' excess over the least, or half the residual RMS
        // of a first fit that trusts the least-delay samples most,
        // whichever is smaller.
        let delays = DelayProfile::of(self.samples.iter());
        let min_delay = delays.least;
        let quartile = delays.excess()[len / 4] / 2.0;
        let first = self.fit_with(len, min_delay, 0.0)?;
        self.fit_with(len, min_delay, quartile.min(first.residual_rms / 2.0))
    }

    /// The fit with `base` as the error of a least-delay sample.
    fn fit_with(&self, len: usize, min_delay: f64, base: f64) -> Option<Fit> {
        // The candidate lengths, longest first, each about an eighth
        // shorter than the one before; the longest that passes the runs
        // test bounds the choice and measures the noise.
        let mut candidates: Vec<Fit> = Vec::with_capacity(32);
        let mut bound = None;
        let mut n = len;
        loop {
            let fit = self.fit_newest(n, min_delay, base)?;
            if bound.is_none() && (n <= MIN_SAMPLES || self.runs_pass(&fit, n)) {
                bound = Some(candidates.len());
            }
            candidates.push(fit);
            if n <= MIN_SAMPLES {
                break;
            }
            n = (n - (n / 8).max(1)).max(MIN_SAMPLES);
        }
        let bound = bound.unwrap_or(candidates.len() - 1);
        let noise = candidates[bound].unit_variance;
        let newest = self.samples.back()?.time;
        // From the shortest up: keep lengthening while the present value
        // stays inside every shorter fit's interval.
        let (mut low, mut high) = (f64::NEG_INFINITY, f64::INFINITY);
        let mut chosen = *candidates.last()?;
        for fit in candidates[bound..].iter().rev() {
            let half_width = ICI_GAMMA * (noise * fit.leverage).sqrt();
            let value = fit.value_at(newest);
            low = low.max(value - half_width);
            high = high.min(value + half_width);
            if low > high {
                break;
            }
            chosen = *fit;
        }
        Some(chosen)
    }

    /// The weight of a sample: the inverse square of its possible error,
    /// `base` plus half its delay's excess over the least (the offset of
    /// an exchange errs by at most half its round-trip delay).
    fn weight(&self, sample: &RegressionSample, min_delay: f64, base: f64) -> f64 {
        let sigma = self.floor + base + (sample.delay - min_delay).max(0.0) / 2.0;
        1.0 / (sigma * sigma)
    }

    fn newest(&self, n: usize) -> impl Iterator<Item = &RegressionSample> {
        self.samples.iter().skip(self.samples.len() - n)
    }

    /// Weighted least squares over the newest `n` samples.
    fn fit_newest(&self, n: usize, min_delay: f64, base: f64) -> Option<Fit> {
        let (mut sw, mut st, mut sr) = (0.0, 0.0, 0.0);
        for s in self.newest(n) {
            let w = self.weight(s, min_delay, base);
            sw += w;
            st += w * s.time;
            sr += w * s.raw_offset;
        }
        if sw <= 0.0 {
            return None;
        }
        let origin = st / sw;
        let mean = sr / sw;
        let (mut stt, mut str_) = (0.0, 0.0);
        for s in self.newest(n) {
            let w = self.weight(s, min_delay, base);
            let dt = s.time - origin;
            stt += w * dt * dt;
            str_ += w * dt * (s.raw_offset - mean);
        }
        let slope = if stt > 0.0 { str_ / stt } else { 0.0 };
        let mut sum_squares = 0.0;
        for s in self.newest(n) {
            let w = self.weight(s, min_delay, base);
            let residual = s.raw_offset - (mean + slope * (s.time - origin));
            sum_squares += w * residual * residual;
        }
        // The residual variance per unit weight, with the two degrees of
        // freedom the line takes.
        let dof = n.saturating_sub(2).max(1) as f64;
        let variance = sum_squares / dof;
        let residual_rms = (sum_squares / sw * n as f64 / dof).sqrt();
        let slope_error = if stt > 0.0 {
            (variance / stt).sqrt()
        } else {
            f64::INFINITY
        };
        let first = self.newest(n).next().map_or(0.0, |s| s.time);
        let last = self.samples.back().map_or(0.0, |s| s.time);
        let lead = last - origin;
        let leverage = if stt > 0.0 {
            1.0 / sw + lead * lead / stt
        } else {
            f64::INFINITY
        };
        Some(Fit {
            origin,
            intercept: mean,
            slope,
            slope_error,
            residual_rms,
            samples: n,
            span: last - first,
            unit_variance: variance,
            leverage,
        })
    }

    /// The runs test on the residuals of `fit` over the newest `n`.
    fn runs_pass(&self, fit: &Fit, n: usize) -> bool {
        // Residuals below the clock's precision carry no sign information.
        if fit.residual_rms < self.floor {
            return true;
        }
        let mut runs = 0u32;
        let mut positive = 0u32;
        let mut previous = None;
        for s in self.newest(n) {
            let sign = s.raw_offset - fit.value_at(s.time) >= 0.0;
            positive += u32::from(sign);
            if previous != Some(sign) {
                runs += 1;
            }
            previous = Some(sign);
        }
        let n = n as f64;
        let n1 = f64::from(positive);
        let n2 = n - n1;
        if n1 == 0.0 || n2 == 0.0 {
            return false;
        }
        let expected = 2.0 * n1 * n2 / n + 1.0;
        let variance = (expected - 1.0) * (expected - 2.0) / (n - 1.0);
        f64::from(runs) >= expected - RUNS_Z * variance.max(0.0).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_wire_free_rng::Rng;

    /// A tiny deterministic generator, so the tests need no dependency.
    mod ntp_wire_free_rng {
        pub struct Rng(pub u64);
        impl Rng {
            pub fn next_f64(&mut self) -> f64 {
                self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = self.0;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
            }
            pub fn noise(&mut self, scale: f64) -> f64 {
                (self.next_f64() - 0.5) * 2.0 * scale
            }
        }
    }

    fn sample(time: f64, raw_offset: f64) -> RegressionSample {
        RegressionSample {
            time,
            raw_offset,
            delay: 1e-3,
        }
    }

    #[test]
    fn fewer_than_two_samples_give_no_fit() {
        let mut r = OffsetRegression::new(1e-6);
        assert!(r.fit().is_none());
        r.push(sample(0.0, 1.0));
        assert!(r.fit().is_none());
        r.push(sample(1.0, 1.0));
        assert_eq!(r.fit().map(|f| f.samples), Some(2));
    }

    #[test]
    fn a_line_through_noise_keeps_every_sample() {
        let mut r = OffsetRegression::new(1e-6);
        let mut rng = Rng(7);
        for k in 0..64 {
            let t = 64.0 * f64::from(k);
            r.push(sample(t, 2e-3 - 5e-6 * t + rng.noise(20e-6)));
        }
        let fit = r.fit().unwrap();
        assert!(fit.samples >= 48, "{fit:?}");
        assert!((fit.slope + 5e-6).abs() < 0.05e-6, "{fit:?}");
        assert!(
            fit.residual_rms < 20e-6 && fit.residual_rms > 5e-6,
            "{fit:?}"
        );
    }

    #[test]
    fn a_frequency_change_shortens_the_fit() {
        let mut r = OffsetRegression::new(1e-6);
        let mut rng = Rng(3);
        // 40 samples at +10 PPM, then 24 at -10 PPM.
        let mut value = 0.0;
        for k in 0..64 {
            let t = 64.0 * f64::from(k);
            value += if k < 40 { 10e-6 } else { -10e-6 } * 64.0;
            r.push(sample(t, value + rng.noise(10e-6)));
        }
        let fit = r.fit().unwrap();
        assert!(fit.samples <= 30, "{fit:?}");
        assert!((fit.slope + 10e-6).abs() < 0.5e-6, "{fit:?}");
    }

    #[test]
    fn long_delays_weigh_less() {
        let mut r = OffsetRegression::new(1e-6);
        for k in 0..16 {
            let t = 16.0 * f64::from(k);
            // Every other sample took 20 ms longer and errs by 10 ms.
            let (delay, error) = if k % 2 == 1 {
                (21e-3, 10e-3)
            } else {
                (1e-3, 0.0)
            };
            r.push(RegressionSample {
                time: t,
                raw_offset: 1e-3 + error,
                delay,
            });
        }
        let fit = r.fit().unwrap();
        assert!((fit.value_at(300.0) - 1e-3).abs() < 50e-6, "{fit:?}");
    }

    #[test]
    fn a_change_of_path_drops_the_older_samples() {
        let mut r = OffsetRegression::new(1e-6);
        let mut rng = Rng(11);
        for k in 0..20 {
            r.push(RegressionSample {
                time: 64.0 * f64::from(k),
                raw_offset: rng.noise(20e-6),
                delay: 1e-3 + rng.noise(50e-6).abs(),
            });
        }
        // From now on the path is 20 ms longer one way: +10 ms of offset.
        let newer = |r: &mut OffsetRegression, k: u32, rng: &mut Rng| {
            r.push(RegressionSample {
                time: 64.0 * f64::from(k),
                raw_offset: 10e-3 + rng.noise(20e-6),
                delay: 21e-3 + rng.noise(50e-6).abs(),
            });
        };
        for k in 20..20 + PATH_CHANGE_SAMPLES as u32 - 1 {
            newer(&mut r, k, &mut rng);
        }
        assert_eq!(r.len(), 20 + PATH_CHANGE_SAMPLES - 1, "not yet");
        newer(&mut r, 30, &mut rng);
        assert_eq!(r.len(), PATH_CHANGE_SAMPLES);
        let fit = r.fit().unwrap();
        assert!((fit.value_at(64.0 * 30.0) - 10e-3).abs() < 50e-6, "{fit:?}");
    }

    #[test]
    fn noisy_delays_are_no_change_of_path() {
        let mut r = OffsetRegression::new(1e-6);
        let mut rng = Rng(5);
        for k in 0..MAX_SAMPLES as u32 {
            // Excess delays spread evenly over 0-4 ms.
            r.push(RegressionSample {
                time: 64.0 * f64::from(k),
                raw_offset: rng.noise(1e-3),
                delay: 1e-3 + 4e-3 * rng.next_f64(),
            });
        }
        assert_eq!(r.len(), MAX_SAMPLES);
    }

    #[test]
    fn under_heavy_noise_a_bend_shortens_the_fit() {
        // Noise of +/-0.5 ms hides from the runs test a bend of the line
        // (the frequency moves by 2 PPM over the last 16 samples); the
        // intersection of confidence intervals still finds it, and the
        // present value lies closer to the truth than the full fit's.
        let mut r = OffsetRegression::new(1e-6);
        let mut rng = Rng(9);
        let truth = |k: u32| {
            let bent = f64::from(k.saturating_sub(48)) * 64.0;
            2e-6 * bent * bent / (2.0 * 16.0 * 64.0)
        };
        for k in 0..64 {
            r.push(sample(64.0 * f64::from(k), truth(k) + rng.noise(0.5e-3)));
        }
        let fit = r.fit().unwrap();
        let full = r.fit_newest(64, 1e-3, 0.0).unwrap();
        let now = 64.0 * 63.0;
        assert!(fit.samples < 64, "{fit:?}");
        assert!(
            (fit.value_at(now) - truth(63)).abs() < (full.value_at(now) - truth(63)).abs(),
            "{fit:?} {full:?}"
        );
    }

    #[test]
    fn history_is_bounded_and_non_finite_samples_ignored() {
        let mut r = OffsetRegression::new(1e-6);
        for k in 0..200 {
            r.push(sample(f64::from(k), 0.0));
        }
        r.push(sample(f64::NAN, 0.0));
        r.push(sample(0.0, f64::INFINITY));
        assert_eq!(r.len(), MAX_SAMPLES);
        r.clear();
        assert!(r.is_empty());
    }
}
