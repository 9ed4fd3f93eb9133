//! Closed-loop tests: the discipline drives a simulated clock from offsets
//! measured over a model network (deterministic seeds). The figures are
//! printed (`cargo test -p ntp-discipline --test convergence -- --nocapture`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ntp_discipline::clock::simulated::SplitMix64;
use ntp_discipline::clock::{
    Clock, SimulatedClock, SimulatedClockConfig, apply_adjustment, apply_update,
};
use ntp_discipline::config::{DisciplineConfig, LoopAlgorithm};
use ntp_discipline::discipline::{ClockDiscipline, ClockState};

/// A model network path to a perfect server: each exchange sees a base
/// delay plus an exponentially distributed queueing delay in each
/// direction; the measured offset errs by half the difference.
struct Network {
    rng: SplitMix64,
    /// Mean queueing delay per direction, seconds.
    jitter: f64,
}

impl Network {
    fn offset_error(&mut self) -> f64 {
        if self.jitter == 0.0 {
            return 0.0;
        }
        let mut queue = || -self.jitter * (1.0 - self.rng.next_f64()).ln();
        let out = queue();
        let back = queue();
        (out - back) / 2.0
    }
}

struct Scenario {
    name: &'static str,
    frequency_error_ppm: f64,
    initial_offset: f64,
    drift_file_ppm: Option<f64>,
    poll: Option<i8>,
    jitter: f64,
    wander_ppm: f64,
    hours: f64,
    seed: u64,
    /// Use the (emulated) kernel discipline.
    kernel: bool,
    /// Use the regression loop instead of the PLL/FLL.
    regression: bool,
}

#[derive(Debug)]
struct Outcome {
    final_offset: f64,
    final_frequency_error_ppm: f64,
    /// Seconds until the offset stayed below 1 ms for good.
    settled_1ms: Option<f64>,
    /// RMS offset over the last half of the run.
    rms_second_half: f64,
    steps: u32,
    state: ClockState,
    poll: i8,
}

fn run(s: &Scenario) -> Outcome {
    let mut clock = SimulatedClock::new(SimulatedClockConfig {
        initial_offset: -s.initial_offset,
        frequency_error_ppm: s.frequency_error_ppm,
        wander_ppm: s.wander_ppm,
        seed: s.seed,
        ..Default::default()
    });
    let mut config = DisciplineConfig {
        kernel: s.kernel,
        algorithm: if s.regression {
            LoopAlgorithm::Regression
        } else {
            LoopAlgorithm::Rfc5905
        },
        ..Default::default()
    };
    if let Some(poll) = s.poll {
        config.min_poll = poll;
        config.max_poll = poll;
    }
    let mut discipline = ClockDiscipline::new(config, s.drift_file_ppm);
    let mut network = Network {
        rng: SplitMix64::new(s.seed ^ 0x5eed),
        jitter: s.jitter,
    };
    let total = (s.hours * 3600.0) as u64;
    let mut next_poll = 1u64;
    let mut last_above = None;
    let mut sum_sq = 0.0;
    let mut n = 0u64;
    for second in 1..=total {
        clock.advance(1.0);
        let now = clock.now().unwrap();
        if second >= next_poll {
            // Offset: server minus client.
            let offset = -clock.time_error() + network.offset_error();
            let update = discipline.update(now, offset).unwrap();
            apply_update(&mut clock, &update).unwrap();
            next_poll = second + (1u64 << discipline.poll_exponent());
        }
        if let Some(adjustment) = discipline.clock_adjust(clock.now().unwrap()) {
            apply_adjustment(&mut clock, &adjustment).unwrap();
        }
        let error = clock.time_error();
        if error.abs() >= 1e-3 {
            last_above = Some(second);
        }
        if second > total / 2 {
            sum_sq += error * error;
            n += 1;
        }
    }
    Outcome {
        final_offset: clock.time_error(),
        final_frequency_error_ppm: clock.frequency_error() * 1e6,
        settled_1ms: match last_above {
            Some(s) if s == total => None,
            Some(s) => Some(s as f64),
            None => Some(0.0),
        },
        rms_second_half: (sum_sq / n.max(1) as f64).sqrt(),
        steps: clock.steps(),
        state: discipline.state(),
        poll: discipline.poll_exponent(),
    }
}

fn report(s: &Scenario) -> Outcome {
    let o = run(s);
    println!(
        "{:<44} offset {:+.6} s  freq err {:+.4} ppm  settled<1ms {:>8}  rms(2nd half) {:.1} us  steps {} state {} poll {}",
        s.name,
        o.final_offset,
        o.final_frequency_error_ppm,
        o.settled_1ms
            .map_or("never".to_string(), |t| format!("{:.0} s", t)),
        o.rms_second_half * 1e6,
        o.steps,
        o.state,
        o.poll,
    );
    o
}

fn base() -> Scenario {
    Scenario {
        name: "",
        frequency_error_ppm: 50.0,
        initial_offset: 0.1,
        drift_file_ppm: None,
        poll: Some(6),
        jitter: 0.0,
        wander_ppm: 0.0,
        hours: 6.0,
        seed: 1,
        kernel: false,
        regression: false,
    }
}

/// Issue 6's start: 100 PPM off and 50 ms away, no frequency file, 100 us
/// network jitter, poll 6, two hours.
fn from_100_ppm_and_50_ms(seed: u64) -> Scenario {
    Scenario {
        name: "100 ppm, 50 ms, no driftfile, poll 6, 2 h",
        frequency_error_ppm: 100.0,
        initial_offset: 0.05,
        jitter: 100e-6,
        hours: 2.0,
        seed,
        ..base()
    }
}

fn assert_converged(o: &Outcome, max_offset: f64, max_frequency_ppm: f64) {
    assert_eq!(o.steps, 0, "{o:?}");
    assert_eq!(o.state, ClockState::Sync, "{o:?}");
    assert!(o.final_offset.abs() < max_offset, "{o:?}");
    assert!(
        o.final_frequency_error_ppm.abs() < max_frequency_ppm,
        "{o:?}"
    );
}

/// Issue 6: from a 100 PPM frequency error and a 50 ms offset, the offset is
/// under 1 ms within 2 hours and the frequency error under 1 PPM (no
/// frequency file, 100 us network jitter, poll 6), for several seeds.
#[test]
fn from_100_ppm_and_50_ms_within_two_hours() {
    for seed in 1..=5 {
        let o = report(&from_100_ppm_and_50_ms(seed));
        assert_converged(&o, 1e-3, 1.0);
        assert!(o.settled_1ms.is_some_and(|t| t < 2.0 * 3600.0), "{o:?}");
    }
}

/// Issue 6: steady-state RMS offset under 100 us with 100 us network jitter
/// at poll 6 (and a wandering oscillator).
#[test]
fn steady_state_rms_at_poll_6() {
    for seed in 1..=3 {
        let o = report(&Scenario {
            name: "steady state, 100 us jitter, wander, poll 6",
            jitter: 100e-6,
            wander_ppm: 1e-4,
            hours: 24.0,
            seed,
            ..base()
        });
        assert_converged(&o, 0.5e-3, 0.5);
        assert!(o.rms_second_half < 100e-6, "{o:?}");
    }
}

/// 50 PPM and 0.1 s, no frequency file: the FREQ training then the PLL.
#[test]
fn without_drift_file_at_poll_6_and_10() {
    let o = report(&Scenario {
        name: "50 ppm, 0.1 s, no driftfile, poll 6, 6 h",
        jitter: 100e-6,
        hours: 6.0,
        ..base()
    });
    assert_converged(&o, 0.5e-3, 0.2);
    assert!(o.settled_1ms.is_some_and(|t| t < 1800.0), "{o:?}");

    let o = report(&Scenario {
        name: "50 ppm, 0.1 s, no driftfile, poll 10, 24 h",
        poll: Some(10),
        jitter: 30e-6,
        hours: 24.0,
        ..base()
    });
    assert_converged(&o, 1e-3, 0.05);
    assert!(o.settled_1ms.is_some_and(|t| t < 3600.0), "{o:?}");

    let o = report(&Scenario {
        name: "50 ppm, 0.1 s, no driftfile, poll 10, 100us, 72 h",
        poll: Some(10),
        jitter: 100e-6,
        hours: 72.0,
        ..base()
    });
    assert_converged(&o, 1e-3, 0.05);
}

/// 50 PPM and 0.1 s with a frequency file: FSET skips the training.
#[test]
fn with_drift_file_at_poll_6_and_10() {
    // The file holds the right value.
    let o = report(&Scenario {
        name: "50 ppm, 0.1 s, driftfile exact, poll 6, 6 h",
        drift_file_ppm: Some(-50.0),
        jitter: 100e-6,
        hours: 6.0,
        ..base()
    });
    assert_converged(&o, 0.5e-3, 0.2);
    assert!(o.settled_1ms.is_some_and(|t| t < 3600.0), "{o:?}");

    // The file is 1 PPM stale: the PLL pulls it in.
    let o = report(&Scenario {
        name: "50 ppm, 0.1 s, driftfile 1 ppm off, poll 6, 12 h",
        drift_file_ppm: Some(-49.0),
        jitter: 100e-6,
        hours: 12.0,
        ..base()
    });
    assert_converged(&o, 0.5e-3, 0.1);
    assert!(o.settled_1ms.is_some_and(|t| t < 3.0 * 3600.0), "{o:?}");

    let o = report(&Scenario {
        name: "50 ppm, 0.1 s, driftfile exact, poll 10, 24 h",
        drift_file_ppm: Some(-50.0),
        poll: Some(10),
        jitter: 100e-6,
        hours: 24.0,
        ..base()
    });
    assert_converged(&o, 1e-3, 0.05);
    assert!(o.settled_1ms.is_some_and(|t| t < 8.0 * 3600.0), "{o:?}");

    // At poll 10 the PLL's time constant is about 18 h: a stale file
    // takes days to pull in, but the frequency is right.
    let o = report(&Scenario {
        name: "50 ppm, 0.1 s, driftfile 0.1 ppm off, poll 10, 48 h",
        drift_file_ppm: Some(-49.9),
        poll: Some(10),
        jitter: 100e-6,
        hours: 48.0,
        ..base()
    });
    assert_converged(&o, 3e-3, 0.05);
}

/// A large initial offset with a frequency file: stepped at once (FSET),
/// then converges.
#[test]
fn large_offset_is_stepped_then_converges() {
    let o = report(&Scenario {
        name: "50 ppm, 2 s, driftfile exact, poll 6, 4 h",
        drift_file_ppm: Some(-50.0),
        initial_offset: 2.0,
        jitter: 100e-6,
        hours: 4.0,
        ..base()
    });
    assert_eq!(o.steps, 1, "{o:?}");
    assert!(o.final_offset.abs() < 0.5e-3, "{o:?}");
}

/// With the poll left free, the feedback raises it from minpoll and the loop
/// stays converged.
#[test]
fn free_poll_rises_and_stays_converged() {
    let o = report(&Scenario {
        name: "50 ppm, 0.1 s, poll 6..10, 24 h",
        poll: None,
        jitter: 100e-6,
        hours: 24.0,
        seed: 2,
        ..base()
    });
    assert!(o.poll > 6, "{o:?}");
    assert_converged(&o, 2e-3, 0.1);
}

/// The same seed gives the same run.
#[test]
fn deterministic() {
    let s = Scenario {
        name: "determinism",
        jitter: 100e-6,
        wander_ppm: 1e-4,
        hours: 1.0,
        ..base()
    };
    let a = run(&s);
    let b = run(&s);
    assert_eq!(a.final_offset, b.final_offset);
    assert_eq!(a.final_frequency_error_ppm, b.final_frequency_error_ppm);
}

/// With `enable kernel` the offsets go to the (emulated) kernel PLL.
#[test]
fn kernel_discipline_converges() {
    let o = report(&Scenario {
        name: "50 ppm, 0.1 s, no driftfile, kernel PLL, 6 h",
        jitter: 100e-6,
        kernel: true,
        ..base()
    });
    assert_converged(&o, 0.5e-3, 0.2);
    assert!(o.settled_1ms.is_some_and(|t| t < 1800.0), "{o:?}");
}

/// The regression loop converges from 100 PPM and 50 ms like the PLL/FLL
/// (no step), and at a 1024 s poll with a wandering oscillator it holds the
/// clock several times closer than the PLL/FLL in the same conditions.
#[test]
fn regression_loop_converges_and_tracks_wander_at_poll_10() {
    for seed in 1..=3 {
        let o = report(&Scenario {
            name: "regression: 100 ppm, 50 ms, no driftfile, poll 6, 2 h",
            regression: true,
            ..from_100_ppm_and_50_ms(seed)
        });
        assert_converged(&o, 1e-3, 1.0);
        let wander = Scenario {
            name: "poll 10, 20 us jitter, wander",
            poll: Some(10),
            jitter: 20e-6,
            wander_ppm: 1e-3,
            hours: 48.0,
            seed,
            ..base()
        };
        let pll = report(&wander);
        let regression = report(&Scenario {
            name: "regression: poll 10, 20 us jitter, wander",
            regression: true,
            ..wander
        });
        assert_eq!(regression.steps, 0, "{regression:?}");
        assert!(
            regression.rms_second_half * 3.0 < pll.rms_second_half,
            "regression {regression:?} vs PLL/FLL {pll:?}"
        );
    }
}
