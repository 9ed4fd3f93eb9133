//! The clock filter (RFC 5905 section 10, Appendix A.5.2): an eight-stage
//! shift register of samples, minimum-delay selection, dispersion weighting
//! and growth, jitter, and popcorn spike suppression.
//!
//! ```
//! use ntp_assoc::filter::{ClockFilter, FilterOutcome};
//! use ntp_poll::Uptime;
//! use ntp_wire::time::NtpDuration;
//!
//! let mut filter = ClockFilter::new(-20);
//! let ms = |v: i64| NtpDuration::from_nanos(v * 1_000_000);
//! let outcome = filter.update(ms(5), ms(20), ms(1), Uptime::from_secs(64), 6, false);
//! assert_eq!(outcome, FilterOutcome::Accepted);
//! assert_eq!(filter.offset(), ms(5));
//! ```

use ntp_poll::{Uptime, poll_interval};
use ntp_wire::time::NtpDuration;

use crate::onwire::{MAXDISP, log2_duration, phi_times};

/// NSTAGE: the number of filter stages; MAXDIST: the distance threshold
/// (1.5 s, `tos maxdist` default in the reference implementation), below
/// which alone the spike suppressor acts.
pub use ntp_wire::constants::{MAXDIST, NSTAGE};
/// SGATE: the popcorn spike gate, in multiples of the peer jitter.
pub const SGATE: f64 = 3.0;
/// The number of real samples from which the start-up fitness rule
/// ([`ClockFilter::startup_dispersion_at`]) applies.
pub const STARTUP_MIN_SAMPLES: usize = 3;

/// One filter stage: a sample and when it was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    /// Clock offset.
    pub offset: NtpDuration,
    /// Round-trip delay.
    pub delay: NtpDuration,
    /// Dispersion, grown at PHI since the sample was taken.
    pub dispersion: NtpDuration,
    /// When the sample was taken.
    pub time: Uptime,
}

impl Stage {
    /// The dummy tuple (0, MAXDISP, MAXDISP) of an empty or stale stage.
    pub const fn dummy(time: Uptime) -> Self {
        Self {
            offset: NtpDuration::ZERO,
            delay: MAXDISP,
            dispersion: MAXDISP,
            time,
        }
    }

    /// Whether this stage holds a real sample.
    pub fn is_valid(&self) -> bool {
        self.delay < MAXDISP && self.dispersion < MAXDISP
    }
}

/// What a filter update did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilterOutcome {
    /// A new minimum-delay sample became the peer's offset and delay: the
    /// system process should run (unless a burst is in progress).
    Accepted,
    /// The minimum-delay sample is not newer than the one last used; the
    /// peer offset is unchanged (the prime directive: use a sample once).
    Stale,
    /// The new offset differs from the last by more than SGATE times the
    /// jitter (as it was before this sample) within two system poll
    /// intervals: a popcorn spike, suppressed.
    PopcornSpike,
}

/// The clock filter of one association and the peer statistics it yields:
/// offset (theta), delay (delta), dispersion (epsilon), jitter (psi) and
/// the time of the sample used (t).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClockFilter {
    /// Newest first.
    stages: [Stage; NSTAGE],
    /// When the register was last shifted (dispersion ages from here).
    last_shift: Uptime,
    /// The time of the sample last used (p.t); `None` before the first.
    epoch: Option<Uptime>,
    offset: NtpDuration,
    delay: NtpDuration,
    dispersion: NtpDuration,
    /// The part of `dispersion` that comes from stages holding real samples.
    valid_dispersion: NtpDuration,
    jitter: NtpDuration,
    precision: i8,
}

impl ClockFilter {
    /// An empty filter (all stages dummy) for a host of precision
    /// `system_precision` (the jitter floor).
    pub fn new(system_precision: i8) -> Self {
        Self {
            stages: [Stage::dummy(Uptime::ZERO); NSTAGE],
            last_shift: Uptime::ZERO,
            epoch: None,
            offset: NtpDuration::ZERO,
            delay: MAXDISP,
            dispersion: MAXDISP,
            valid_dispersion: NtpDuration::ZERO,
            jitter: log2_duration(system_precision),
            precision: system_precision,
        }
    }

    /// The stages, newest first.
    pub fn stages(&self) -> &[Stage; NSTAGE] {
        &self.stages
    }

    /// Peer offset (theta) of the selected sample.
    pub fn offset(&self) -> NtpDuration {
        self.offset
    }

    /// Peer delay (delta) of the selected sample.
    pub fn delay(&self) -> NtpDuration {
        self.delay
    }

    /// Peer dispersion (epsilon) as of the last update.
    pub fn dispersion(&self) -> NtpDuration {
        self.dispersion
    }

    /// Peer dispersion grown at PHI up to `now`.
    pub fn dispersion_at(&self, now: Uptime) -> NtpDuration {
        let since = NtpDuration::from_std(now.saturating_since(self.last_shift));
        (self.dispersion + phi_times(since)).min(MAXDISP)
    }

    /// The valid-stage dispersion as of the last update: the sum that makes
    /// the peer dispersion (each stage's dispersion weighted by `2^-(i+1)`
    /// in delay order), taken over the stages holding real samples only,
    /// without the MAXDISP of the empty or stale ones. With all eight stages
    /// valid it equals [`dispersion`](Self::dispersion); with `k` valid
    /// stages the peer dispersion exceeds it by `16 s * (2^-k - 2^-8)`.
    pub fn valid_dispersion(&self) -> NtpDuration {
        self.valid_dispersion
    }

    /// The valid-stage dispersion grown at PHI up to `now`.
    pub fn valid_dispersion_at(&self, now: Uptime) -> NtpDuration {
        let since = NtpDuration::from_std(now.saturating_since(self.last_shift));
        (self.valid_dispersion + phi_times(since)).min(MAXDISP)
    }

    /// The dispersion the fitness test may use at start-up (a documented
    /// deviation from RFC 5905, see the crate documentation): the
    /// valid-stage dispersion grown to `now` once the filter holds at least
    /// [`STARTUP_MIN_SAMPLES`] real samples, `None` before. The caller
    /// decides when the rule applies (an unsynchronised system and an
    /// association in its iburst); the peer dispersion itself, and all that
    /// derives from it, stays that of the RFC.
    pub fn startup_dispersion_at(&self, now: Uptime) -> Option<NtpDuration> {
        (self.valid_count() >= STARTUP_MIN_SAMPLES).then(|| self.valid_dispersion_at(now))
    }

    /// Peer jitter (psi), never below the system precision.
    pub fn jitter(&self) -> NtpDuration {
        self.jitter
    }

    /// When the filter last ran (its stages were aged to this time and the
    /// peer dispersion computed).
    pub fn updated(&self) -> Uptime {
        self.last_shift
    }

    /// When the sample in use was taken (p.t), if any was.
    pub fn epoch(&self) -> Option<Uptime> {
        self.epoch
    }

    /// Number of stages holding real samples.
    pub fn valid_count(&self) -> usize {
        self.stages.iter().filter(|s| s.is_valid()).count()
    }

    /// Shifts the dummy tuple in, as the poll process does after three
    /// unanswered polls.
    pub fn stuff(&mut self, now: Uptime, system_poll: i8, synchronised: bool) -> FilterOutcome {
        self.update(
            NtpDuration::ZERO,
            MAXDISP,
            MAXDISP,
            now,
            system_poll,
            synchronised,
        )
    }

    /// Clears the filter (after a clock step or a reset).
    pub fn reset(&mut self, now: Uptime) {
        *self = Self::new(self.precision);
        self.last_shift = now;
        for stage in &mut self.stages {
            stage.time = now;
        }
    }

    /// Shifts a sample in (RFC 5905 A.5.2 `clock_filter()`): ages the other
    /// stages' dispersion by PHI since the last shift, picks the stage of
    /// least delay, recomputes dispersion and jitter, and decides whether
    /// the system process sees the result.
    ///
    /// `system_poll` is the system poll exponent (the popcorn window is two
    /// system poll intervals); `synchronised` is whether the system clock
    /// is synchronised (before that, a sample may be reused).
    pub fn update(
        &mut self,
        offset: NtpDuration,
        delay: NtpDuration,
        dispersion: NtpDuration,
        now: Uptime,
        system_poll: i8,
        synchronised: bool,
    ) -> FilterOutcome {
        let aged = phi_times(NtpDuration::from_std(now.saturating_since(self.last_shift)));
        self.last_shift = now;
        self.stages.rotate_right(1);
        for stage in &mut self.stages[1..] {
            stage.dispersion = (stage.dispersion + aged).min(MAXDISP);
        }
        self.stages[0] = Stage {
            offset,
            delay,
            dispersion: dispersion.min(MAXDISP),
            time: now,
        };

        // Sort by delay (stable: among equal delays the newest first);
        // dummy stages sort last since their delay is MAXDISP.
        let mut sorted = self.stages;
        sorted.sort_by_key(|s| s.delay);

        let mut disp = 0i128;
        let mut valid_disp = 0i128;
        for (i, stage) in sorted.iter().enumerate() {
            let weighted = i128::from(stage.dispersion.to_bits()) >> (i + 1);
            disp += weighted;
            if stage.is_valid() {
                valid_disp += weighted;
            }
        }
        self.dispersion = NtpDuration::from_bits(i64::try_from(disp).unwrap_or(i64::MAX));
        self.valid_dispersion =
            NtpDuration::from_bits(i64::try_from(valid_disp).unwrap_or(i64::MAX));

        let best = sorted[0];
        // The spike gate uses the jitter before this sample, which a spike
        // would otherwise inflate enough to let itself through.
        let previous_jitter = self.jitter;
        let previous_dispersion = self.dispersion;
        let valid: Vec<&Stage> = sorted.iter().filter(|s| s.is_valid()).collect();
        let jitter = if valid.len() > 1 {
            let sum: f64 = valid[1..]
                .iter()
                .map(|s| {
                    let d = (s.offset - best.offset).to_seconds_f64();
                    d * d
                })
                .sum();
            (sum / (valid.len() - 1) as f64).sqrt()
        } else {
            0.0
        };
        self.jitter = NtpDuration::from_seconds_f64(jitter).max(log2_duration(self.precision));

        if !best.is_valid() {
            return FilterOutcome::Stale;
        }
        // Prime directive: use a sample only once and never one older than
        // the last used, except before the first synchronisation.
        if let Some(epoch) = self.epoch {
            if best.time <= epoch && synchronised {
                return FilterOutcome::Stale;
            }
            // Popcorn spike suppressor.
            let jump = (best.offset - self.offset).abs().to_seconds_f64();
            let window = poll_interval(system_poll) * 2;
            // As in the reference implementation, only once the peer has
            // settled (dispersion below MAXDIST), so that the first samples
            // after start-up are not taken for spikes.
            if previous_dispersion < MAXDIST
                && jump > SGATE * previous_jitter.to_seconds_f64()
                && best.time.saturating_since(epoch) < window
            {
                return FilterOutcome::PopcornSpike;
            }
        }
        self.offset = best.offset;
        self.delay = best.delay;
        self.epoch = Some(best.time);
        FilterOutcome::Accepted
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use super::*;

    fn ms(v: f64) -> NtpDuration {
        NtpDuration::from_seconds_f64(v / 1000.0)
    }

    #[test]
    fn worked_table() {
        let mut filter = ClockFilter::new(-20);
        // (time s, offset ms, delay ms)
        let samples = [
            (0u64, 1.0, 30.0),
            (64, 2.0, 20.0),
            (128, 1.5, 25.0),
            (192, 0.5, 10.0),
            (256, 3.0, 40.0),
            (300, 50.0, 8.0), // popcorn spike at the lowest delay
            (384, 0.8, 12.0),
            (448, 0.7, 9.0),
            (512, 0.6, 15.0),
            (576, 0.9, 16.0),
        ];
        let mut table = String::from(
            "   t  in_off  in_del  outcome       offset     delay      disp       jitter   valid\n",
        );
        for (t, off, del) in samples {
            let outcome = filter.update(ms(off), ms(del), ms(0.002), Uptime::from_secs(t), 6, true);
            writeln!(
                table,
                "{t:>4} {off:>7.3} {del:>7.3}  {:<12} {:>9.6} {:>9.6} {:>9.6} {:>9.6} {}",
                format!("{outcome:?}"),
                filter.offset().to_seconds_f64() * 1e3,
                filter.delay().to_seconds_f64() * 1e3,
                filter.dispersion().to_seconds_f64() * 1e3,
                filter.jitter().to_seconds_f64() * 1e3,
                filter.valid_count(),
            )
            .unwrap();
        }
        insta::assert_snapshot!(table);
    }

    #[test]
    fn popcorn_spike_suppressed() {
        let mut filter = ClockFilter::new(-20);
        for (t, off) in [
            (64u64, 1.0),
            (128, 1.1),
            (192, 0.9),
            (200, 1.0),
            (208, 1.05),
            (216, 0.95),
        ] {
            filter.update(
                ms(off),
                ms(10.0 - t as f64 / 100.0),
                ms(0.0),
                Uptime::from_secs(t),
                6,
                true,
            );
        }
        let before = filter.offset();
        // The lowest delay yet, but 100 ms off, within two poll intervals.
        let outcome = filter.update(ms(100.0), ms(5.0), ms(0.0), Uptime::from_secs(256), 6, true);
        assert!(filter.dispersion() < MAXDIST);
        assert_eq!(outcome, FilterOutcome::PopcornSpike);
        assert_eq!(filter.offset(), before);
        // The same jump after a long gap (beyond two system polls) is taken.
        let mut filter2 = filter.clone();
        let outcome = filter2.update(
            ms(100.0),
            ms(4.0),
            ms(0.0),
            Uptime::from_secs(2000),
            6,
            true,
        );
        assert_eq!(outcome, FilterOutcome::Accepted);
    }

    #[test]
    fn min_delay_sample_is_chosen() {
        let mut filter = ClockFilter::new(-20);
        filter.update(ms(5.0), ms(50.0), ms(1.0), Uptime::from_secs(1), 6, false);
        filter.update(ms(1.0), ms(10.0), ms(1.0), Uptime::from_secs(2), 6, false);
        filter.update(ms(9.0), ms(90.0), ms(1.0), Uptime::from_secs(3), 6, false);
        assert_eq!(filter.offset(), ms(1.0));
        assert_eq!(filter.delay(), ms(10.0));
        // The third sample is older than the one in use: stale once synchronised.
        let outcome = filter.update(ms(9.0), ms(95.0), ms(1.0), Uptime::from_secs(4), 6, true);
        assert_eq!(outcome, FilterOutcome::Stale);
    }

    #[test]
    fn dispersion_halves_then_grows() {
        let mut filter = ClockFilter::new(-20);
        assert_eq!(filter.dispersion(), MAXDISP);
        let mut last = filter.dispersion();
        for i in 1..=4 {
            filter.update(ms(0.0), ms(10.0), ms(0.0), Uptime::from_secs(i), 6, false);
            assert!(filter.dispersion() < last);
            last = filter.dispersion();
        }
        // Four valid samples: 16 s * (2^-5 + 2^-6 + 2^-7 + 2^-8) = 0.9375 s
        // plus the tiny PHI growth of the valid stages.
        assert!((filter.dispersion().to_seconds_f64() - 0.9375).abs() < 1e-3);
        // Grows at 15 us/s afterwards.
        let later = filter.dispersion_at(Uptime::from_secs(4 + 1000));
        assert!((later - filter.dispersion()).to_seconds_f64() - 0.015 < 1e-9);
    }

    /// Peer dispersion and valid-stage dispersion after k samples of zero
    /// dispersion, one per second: the peer dispersion is 16 s * (2^-k -
    /// 2^-8) plus PHI growth; the valid-stage dispersion is only the PHI
    /// growth of the real samples; the start-up rule needs 3 samples.
    #[test]
    fn valid_stage_dispersion_table() {
        let mut filter = ClockFilter::new(-20);
        assert_eq!(filter.valid_dispersion(), NtpDuration::ZERO);
        assert_eq!(filter.startup_dispersion_at(Uptime::ZERO), None);
        let mut table =
            String::from(" k  peer disp (s)  16(2^-k-2^-8)  valid disp (us)  startup (us)\n");
        for k in 1..=9u64 {
            filter.update(
                ms(0.0),
                ms(10.0),
                ms(0.0),
                Uptime::from_secs(2 * k),
                6,
                false,
            );
            let now = Uptime::from_secs(2 * k);
            let rfc = 16.0 * (2f64.powi(-(k.min(8) as i32)) - 2f64.powi(-8));
            let peer = filter.dispersion().to_seconds_f64();
            let valid = filter.valid_dispersion().to_seconds_f64();
            // The peer dispersion is the valid part plus the empty stages'.
            assert!((peer - valid - rfc).abs() < 1e-6, "k={k}");
            let startup = filter.startup_dispersion_at(now);
            assert_eq!(startup.is_some(), k >= 3, "k={k}");
            if k >= 8 {
                assert_eq!(filter.valid_dispersion(), filter.dispersion());
            }
            writeln!(
                table,
                "{k:>2}  {peer:>12.6}  {rfc:>13.6}  {:>15.3}  {}",
                valid * 1e6,
                startup.map_or("-".to_string(), |d| format!(
                    "{:.3}",
                    d.to_seconds_f64() * 1e6
                )),
            )
            .unwrap();
        }
        insta::assert_snapshot!(table);
        // Grows at PHI like the peer dispersion.
        let later = filter.valid_dispersion_at(Uptime::from_secs(18 + 100));
        assert!(((later - filter.valid_dispersion()).to_seconds_f64() - 0.0015).abs() < 1e-9);
    }

    #[test]
    fn valid_stage_dispersion_ignores_stuffed_stages() {
        let mut filter = ClockFilter::new(-20);
        for k in 1..=3u64 {
            filter.update(ms(0.0), ms(10.0), ms(1.0), Uptime::from_secs(k), 6, false);
        }
        filter.stuff(Uptime::from_secs(4), 6, false);
        assert_eq!(filter.valid_count(), 3);
        // 1 ms * (1/2 + 1/4 + 1/8) plus a few us of PHI growth.
        let valid = filter.valid_dispersion().to_seconds_f64();
        assert!((valid - 0.000875).abs() < 1e-4, "{valid}");
        assert!(filter.dispersion().to_seconds_f64() > 1.9);
        assert!(filter.startup_dispersion_at(Uptime::from_secs(4)).is_some());
    }

    #[test]
    fn jitter_is_rms_about_the_best_and_floored() {
        let mut filter = ClockFilter::new(-20);
        assert_eq!(filter.jitter(), log2_duration(-20));
        filter.update(ms(0.0), ms(10.0), ms(0.0), Uptime::from_secs(1), 6, false);
        filter.update(ms(3.0), ms(20.0), ms(0.0), Uptime::from_secs(2), 6, false);
        filter.update(ms(-4.0), ms(30.0), ms(0.0), Uptime::from_secs(3), 6, false);
        // sqrt((9 + 16) / 2) ms
        let expected = (12.5f64).sqrt() / 1000.0;
        assert!((filter.jitter().to_seconds_f64() - expected).abs() < 1e-9);
    }

    #[test]
    fn stuffing_eight_dummies_empties_the_filter() {
        let mut filter = ClockFilter::new(-20);
        filter.update(ms(1.0), ms(10.0), ms(0.0), Uptime::from_secs(1), 6, false);
        for i in 0..8 {
            filter.stuff(Uptime::from_secs(100 + i), 6, false);
        }
        assert_eq!(filter.valid_count(), 0);
        assert!(filter.dispersion() > NtpDuration::from_seconds(15));
    }
}
