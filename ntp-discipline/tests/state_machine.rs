//! State-machine traces (insta snapshots). The discipline runs in a closed
//! loop with a simulated clock (clock-adjust process every second); offsets
//! are measured against a perfect server, with scripted measurement spikes
//! and scripted clock jumps. Each line shows an update and what the
//! discipline decided; `clock` is the clock's true error afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write;

use ntp_discipline::clock::{
    Clock, SimulatedClock, SimulatedClockConfig, apply_adjustment, apply_update,
};
use ntp_discipline::config::{DisciplineConfig, Tinker};
use ntp_discipline::discipline::{ClockDiscipline, UpdateOutcome};
use ntp_wire::time::NtpDuration;

/// A scripted run.
struct Script {
    /// The clock's intrinsic frequency error, PPM.
    frequency_error_ppm: f64,
    /// The clock's initial error (clock minus true time), seconds.
    initial_error: f64,
    /// The frequency file, PPM.
    stored_ppm: Option<f64>,
    /// Update times, seconds.
    updates: Vec<u32>,
    /// Measurement errors added at given update times.
    spikes: Vec<(u32, f64)>,
    /// The clock jumps by this much at the given second.
    jumps: Vec<(u32, f64)>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            frequency_error_ppm: 0.0,
            initial_error: 0.0,
            stored_ppm: Some(0.0),
            updates: Vec::new(),
            spikes: Vec::new(),
            jumps: Vec::new(),
        }
    }
}

/// Runs a script; returns the trace.
fn trace(config: DisciplineConfig, script: &Script) -> String {
    let mut clock = SimulatedClock::new(SimulatedClockConfig {
        frequency_error_ppm: script.frequency_error_ppm,
        initial_offset: script.initial_error,
        ..Default::default()
    });
    let mut discipline = ClockDiscipline::new(config, script.stored_ppm);
    let mut out = String::new();
    writeln!(
        out,
        "start {} freq {:+.3} ppm poll {}",
        discipline.state(),
        discipline.frequency_ppm(),
        discipline.poll_exponent()
    )
    .unwrap();
    let end = script.updates.iter().copied().max().unwrap_or(0);
    for second in 0..=end {
        if second > 0 {
            clock.advance(1.0);
        }
        for &(_, amount) in script.jumps.iter().filter(|(t, _)| *t == second) {
            clock.step(NtpDuration::from_seconds_f64(amount)).unwrap();
        }
        if script.updates.contains(&second) {
            let spike: f64 = script
                .spikes
                .iter()
                .filter(|(t, _)| *t == second)
                .map(|(_, s)| s)
                .sum();
            let offset = -clock.time_error() + spike;
            let before = discipline.state();
            let line = match discipline.update(clock.now().unwrap(), offset) {
                Ok(update) => {
                    apply_update(&mut clock, &update).unwrap();
                    let outcome = match update.outcome {
                        UpdateOutcome::Stepped(amount) => format!("STEP {amount}"),
                        other => format!("{other:?}"),
                    };
                    format!(
                        "{before} -> {} {outcome:<18} freq {:+9.3} ppm  poll {:>2}  clock {:+.6}",
                        update.state,
                        update.frequency * 1e6 + 0.0,
                        update.poll,
                        clock.time_error(),
                    )
                }
                Err(e) => format!("{before} -> refused: {e}"),
            };
            writeln!(out, "t={second:>5} offset {offset:+12.6}  {line}").unwrap();
        }
        if let Some(adjustment) = discipline.clock_adjust(clock.now().unwrap()) {
            apply_adjustment(&mut clock, &adjustment).unwrap();
        }
    }
    out
}

/// Update times every `interval` seconds from `from` to `to`.
fn every(from: u32, to: u32, interval: u32) -> Vec<u32> {
    (from..=to).step_by(interval as usize).collect()
}

#[test]
fn first_update_without_frequency_file() {
    // A clock 20 PPM slow, 10 ms behind: NSET -> FREQ (training over the
    // stepout interval, the phase slewed meanwhile) -> SYNC with the
    // measured frequency.
    let script = Script {
        frequency_error_ppm: -20.0,
        initial_error: -0.010,
        stored_ppm: None,
        updates: every(0, 1280, 64),
        ..Default::default()
    };
    insta::assert_snapshot!(trace(DisciplineConfig::default(), &script));
}

#[test]
fn first_update_with_frequency_file() {
    // FSET -> SYNC at once, frequency from the file (which is right).
    let script = Script {
        frequency_error_ppm: 12.5,
        initial_error: -0.010,
        stored_ppm: Some(-12.5),
        updates: every(0, 640, 64),
        ..Default::default()
    };
    insta::assert_snapshot!(trace(DisciplineConfig::default(), &script));
}

#[test]
fn first_update_above_step_threshold() {
    // NSET: step at once, then train the frequency; FSET: step, then SYNC.
    let mut script = Script {
        frequency_error_ppm: 5.0,
        initial_error: -0.5,
        stored_ppm: None,
        updates: every(0, 640, 64),
        ..Default::default()
    };
    let without = trace(DisciplineConfig::default(), &script);
    script.stored_ppm = Some(-5.0);
    let with = trace(DisciplineConfig::default(), &script);
    insta::assert_snapshot!(format!(
        "without frequency file:\n{without}\nwith frequency file:\n{with}"
    ));
}

#[test]
fn spike_suppressed_inside_stepout() {
    // SYNC, then two spikes (SPIK, ignored), then inliers: back to SYNC.
    let script = Script {
        initial_error: -0.001,
        updates: every(0, 448, 64),
        spikes: vec![(128, 0.300), (192, -0.250)],
        ..Default::default()
    };
    insta::assert_snapshot!(trace(DisciplineConfig::default(), &script));
}

#[test]
fn step_after_stepout() {
    // The clock jumps 0.5 s back: the offsets are ignored until the stepout
    // threshold (300 s after the last good update), then the clock is
    // stepped.
    let script = Script {
        initial_error: -0.001,
        updates: every(0, 640, 64),
        jumps: vec![(100, -0.5)],
        ..Default::default()
    };
    insta::assert_snapshot!(trace(DisciplineConfig::default(), &script));
}

#[test]
fn panic_threshold() {
    // Refused; with -g the first update may exceed it, later ones not.
    let script = Script {
        initial_error: -2000.0,
        stored_ppm: None,
        updates: vec![0, 64],
        ..Default::default()
    };
    let refused = trace(DisciplineConfig::default(), &script);
    let allowed_config = DisciplineConfig {
        allow_panic_once: true,
        ..Default::default()
    };
    let script = Script {
        updates: vec![0, 64, 128],
        jumps: vec![(100, 1500.0)],
        ..script
    };
    let allowed = trace(allowed_config, &script);
    insta::assert_snapshot!(format!(
        "default:\n{refused}\nallowed once (-g):\n{allowed}"
    ));
}

#[test]
fn frequency_clamped_to_500_ppm() {
    // The oscillator is 800 PPM slow: training measures it, the correction
    // stops at +500 PPM, and the PLL cannot push it further.
    let script = Script {
        frequency_error_ppm: -800.0,
        stored_ppm: None,
        updates: every(0, 1280, 64),
        ..Default::default()
    };
    let training = trace(DisciplineConfig::default(), &script);
    let script = Script {
        frequency_error_ppm: 520.0,
        stored_ppm: Some(-499.0),
        updates: every(0, 1280, 64),
        ..Default::default()
    };
    let pll = trace(DisciplineConfig::default(), &script);
    insta::assert_snapshot!(format!(
        "training:\n{training}\nPLL pushing below -500:\n{pll}"
    ));
}

#[test]
fn tinker_overrides() {
    let mut out = String::new();
    let jump = Script {
        updates: vec![0, 64, 128, 256, 384, 512, 704, 768],
        jumps: vec![(100, -0.5)],
        ..Default::default()
    };
    let mut run = |title: &str, option: (&str, &str), script: &Script| {
        let mut config = DisciplineConfig::default();
        config
            .apply(Tinker::parse(option.0, option.1).unwrap())
            .unwrap();
        writeln!(out, "{title}:\n{}", trace(config, script)).unwrap();
    };
    run("tinker step 0 (never step)", ("step", "0"), &jump);
    run("tinker step 1 (0.5 s is slewed)", ("step", "1"), &jump);
    run("tinker stepout 600", ("stepout", "600"), &jump);
    let far = Script {
        initial_error: -5000.0,
        stored_ppm: None,
        updates: vec![0],
        ..Default::default()
    };
    run("tinker panic 0 (no panic check)", ("panic", "0"), &far);
    let twenty = Script {
        initial_error: -20.0,
        stored_ppm: None,
        updates: vec![0],
        ..Default::default()
    };
    run("tinker panic 10", ("panic", "10"), &twenty);
    let small = Script {
        frequency_error_ppm: -33.5,
        stored_ppm: None,
        updates: vec![0, 64],
        ..Default::default()
    };
    run(
        "tinker freq 33.5 (like a frequency file)",
        ("freq", "33.5"),
        &small,
    );

    // The FLL joins the PLL from the Allan intercept up.
    let drifting = Script {
        frequency_error_ppm: -1.0,
        initial_error: -0.001,
        updates: every(0, 8192, 1024),
        ..Default::default()
    };
    for allan in ["11", "10"] {
        let mut config = DisciplineConfig {
            min_poll: 10,
            max_poll: 10,
            ..Default::default()
        };
        config
            .apply(Tinker::parse("allan", allan).unwrap())
            .unwrap();
        writeln!(
            out,
            "poll 10, tinker allan {allan}:\n{}",
            trace(config, &drifting)
        )
        .unwrap();
    }
    insta::assert_snapshot!(out);
}

#[test]
fn poll_exponent_feedback() {
    // Small offsets: the poll rises from minpoll to maxpoll; a burst of
    // large measurement errors brings it down again.
    let config = DisciplineConfig {
        min_poll: 4,
        max_poll: 8,
        ..Default::default()
    };
    let updates = every(0, 2400, 16);
    let spikes = every(1616, 2400, 16)
        .into_iter()
        .map(|t| (t, 0.05))
        .collect();
    let script = Script {
        updates,
        spikes,
        ..Default::default()
    };
    let text = trace(config, &script);
    let polls: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| {
            l.split("poll")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
        })
        .collect();
    assert!(polls.contains(&"8"), "{text}");
    assert_eq!(*polls.last().unwrap(), "4", "{text}");
    insta::assert_snapshot!(text);
}
