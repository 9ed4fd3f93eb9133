//! The deterministic simulation scenarios of `testdata/sim/`: each runs for
//! its short test duration and must keep its bounds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ntp_cli::sim::Simulation;
use ntp_cli::sim::scenario::{Bound, Scenario};

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/sim")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    Scenario::from_json(&text).unwrap().shortened()
}

fn run(name: &str) {
    let scenario = scenario(name);
    assert!(!scenario.bounds.is_empty(), "{name} states no bounds");
    let mut sim = Simulation::new(&scenario, None).unwrap();
    sim.run();
    let counters = sim.counters();
    assert_eq!(counters.stuck_deadlines, 0, "{counters:?}");
    assert_eq!(counters.panics, 0, "{counters:?}");
    let recording = sim.into_recording();
    let failures = recording.check(&scenario);
    assert!(
        failures.is_empty(),
        "{name}:\n{}\n{}",
        failures.join("\n"),
        recording.summary(&scenario).to_text()
    );
}

macro_rules! scenarios {
    ($($test:ident => $file:literal),* $(,)?) => {
        $(#[test] fn $test() { run($file); })*
    };
}

scenarios! {
    jitter_10us => "jitter-10us",
    jitter_100us => "jitter-100us",
    jitter_1ms => "jitter-1ms",
    jitter_10ms => "jitter-10ms",
    poll64_10us => "poll64-10us",
    poll64_100us => "poll64-100us",
    poll64_1ms => "poll64-1ms",
    poll64_10ms => "poll64-10ms",
    intermittent => "intermittent",
    falsetickers => "falsetickers",
    falsetickers_lying => "falsetickers-lying",
    server_loss => "server-loss",
    symmetric => "symmetric",
    broadcast_lan => "broadcast-lan",
    manycast => "manycast",
    orphan_mesh => "orphan-mesh",
    orphan_mesh_regression => "orphan-mesh-regression",
    asymmetric => "asymmetric",
    walking_server => "walking-server",
    mitm_delay => "mitm-delay",
    mitm_delay_one_of_three => "mitm-delay-one-of-three",
}

/// Runs a scenario and checks its bounds; returns the finished simulation.
fn run_checked(name: &str) -> Simulation {
    let scenario = scenario(name);
    let mut sim = Simulation::new(&scenario, None).unwrap();
    sim.run();
    assert_eq!(sim.counters().stuck_deadlines, 0, "{:?}", sim.counters());
    let failures = sim.recording().check(&scenario);
    assert!(
        failures.is_empty(),
        "{name}:\n{}\n{}",
        failures.join("\n"),
        sim.recording().summary(&scenario).to_text()
    );
    sim
}

/// The index of node `name` in the recording.
fn index(sim: &Simulation, name: &str) -> usize {
    sim.recording().select(name)[0]
}

#[test]
fn a_lone_walking_server_is_followed_within_the_slew_limits() {
    let sim = run_checked("walking-server-alone");
    assert_eq!(sim.counters().panics, 0);
    let client = sim.node("follow-client").unwrap();
    // Slewed, never stepped.
    assert_eq!(client.clock().steps(), 0);
    // The frequency correction never leaves the 500 ppm limit (measured
    // peak 186 ppm).
    let peak = sim
        .recording()
        .records(index(&sim, "follow-client"))
        .iter()
        .map(|r| r.frequency_ppm.abs())
        .fold(0.0, f64::max);
    assert!(peak <= 500.0, "peak frequency error {peak} ppm");
    // It does follow: the walk shows in its frequency (50 ppm).
    assert!(peak >= 40.0, "peak frequency error {peak} ppm");
}

#[test]
fn a_step_beyond_the_panic_threshold_is_refused() {
    let sim = run_checked("panic-jump");
    // Every update from the jumped server is refused (the daemon exits at
    // the first; the simulator counts them) ...
    assert!(sim.counters().panics > 0, "{:?}", sim.counters());
    // ... and no client clock is stepped.
    for name in ["alone", "outvoting"] {
        assert_eq!(sim.node(name).unwrap().clock().steps(), 0, "{name}");
    }
}

#[test]
fn minsane_stops_the_discipline_with_too_few_survivors() {
    let scenario = scenario("minsane");
    let mut sim = Simulation::new(&scenario, None).unwrap();
    let frequency =
        |sim: &Simulation, name: &str| sim.node(name).unwrap().discipline().frequency_ppm();
    sim.run_until(4500.0);
    let (strict, lenient) = (frequency(&sim, "strict"), frequency(&sim, "lenient"));
    sim.run_until(10800.0);
    // No update reached the strict client's discipline while it had two
    // survivors; the lenient one went on disciplining.
    assert_eq!(frequency(&sim, "strict"), strict);
    assert_ne!(frequency(&sim, "lenient"), lenient);
    sim.run();
    let failures = sim.recording().check(&scenario);
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn a_run_is_determined_by_its_seed() {
    let mut s = scenario("falsetickers");
    s.duration = 3600.0;
    let record = |seed| {
        let mut sim = Simulation::new(&s, Some(seed)).unwrap();
        sim.run();
        let mut csv = Vec::new();
        sim.recording().write_csv(&mut csv).unwrap();
        csv
    };
    assert_eq!(record(7), record(7));
    assert_ne!(record(7), record(8));
}

#[test]
fn bounds_can_fail() {
    let mut s = scenario("falsetickers");
    s.duration = 3600.0;
    s.settle = 1800.0;
    s.bounds = vec![
        Bound {
            nodes: "client".into(),
            rms_offset: Some(1e-9),
            ..Bound::default()
        },
        Bound {
            nodes: "client".into(),
            selects: Some("false-*".into()),
            ..Bound::default()
        },
    ];
    let mut sim = Simulation::new(&s, None).unwrap();
    sim.run();
    let failures = sim.recording().check(&s);
    assert_eq!(failures.len(), 2, "{failures:?}");
}

#[test]
fn links_down_and_loss_drop_packets() {
    let mut s = scenario("server-loss");
    s.duration = 20_000.0;
    let mut sim = Simulation::new(&s, None).unwrap();
    sim.run();
    assert!(sim.counters().down > 0);
    assert_eq!(sim.counters().lost, 0);
}
