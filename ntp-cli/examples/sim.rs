//! Runs a simulation scenario (`testdata/sim/*.json`) and prints its
//! summary; `cargo xtask sim` drives it.
//!
//! ```sh
//! cargo run --release -p ntp-cli --example sim -- testdata/sim/jitter-100us.json \
//!     [--seed N] [--seeds N] [--duration S] [--short] [--csv FILE] [--json FILE] \
//!     [--summary-json FILE] [--check] [--config-line LINE]...
//! ```
//!
//! `--seeds N` runs seeds 1 to N (or from `--seed`) and prints each run's
//! summary and the mean RMS offset of each node; the files then hold the
//! last run. `--check` exits with status 1 when a bound of the scenario is
//! violated.

use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use ntp_cli::sim::Simulation;
use ntp_cli::sim::scenario::Scenario;

#[derive(Parser)]
struct Args {
    /// The scenario file.
    scenario: PathBuf,
    /// The seed (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Run this many seeds, from `--seed` (default 1) upwards.
    #[arg(long)]
    seeds: Option<u64>,
    /// Simulated seconds (default: the scenario's duration).
    #[arg(long)]
    duration: Option<f64>,
    /// Use the scenario's short test duration.
    #[arg(long)]
    short: bool,
    /// Write every record as CSV.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write every record as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the summary as JSON.
    #[arg(long)]
    summary_json: Option<PathBuf>,
    /// Fail when a bound is violated.
    #[arg(long)]
    check: bool,
    /// A line appended to the `ntp.conf` of every node that has one
    /// (repeatable), e.g. `--config-line "enable kernel"` or
    /// `--config-line "discipline rfc5905"` (a later line wins).
    #[arg(long = "config-line")]
    config_lines: Vec<String>,
}

fn main() -> Result<()> {
    env_logger::init();
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.scenario)
        .with_context(|| format!("cannot read {}", args.scenario.display()))?;
    let mut scenario = Scenario::from_json(&text)
        .with_context(|| format!("scenario {}", args.scenario.display()))?;
    if args.short {
        scenario = scenario.shortened();
    }
    if let Some(d) = args.duration {
        scenario.duration = d;
    }
    for node in scenario.nodes.iter_mut().filter(|n| !n.config.is_empty()) {
        for line in &args.config_lines {
            node.config.push('\n');
            node.config.push_str(line);
            node.config.push('\n');
        }
    }
    let first = args.seed.unwrap_or(if args.seeds.is_some() {
        1
    } else {
        scenario.seed
    });
    let count = args.seeds.unwrap_or(1).max(1);
    let mut sums: Vec<(String, f64)> = Vec::new();
    let mut violations = 0;
    for seed in first..first + count {
        let started = Instant::now();
        let mut sim = Simulation::new(&scenario, Some(seed))?;
        sim.run();
        let elapsed = started.elapsed();
        let counters = sim.counters();
        let recording = sim.into_recording();
        let run = Scenario {
            seed,
            ..scenario.clone()
        };
        let summary = recording.summary(&run);
        print!("{}", summary.to_text());
        println!(
            "network: {counters:?}; {:.2} s of real time",
            elapsed.as_secs_f64()
        );
        if counters.stuck_deadlines > 0 || counters.panics > 0 {
            println!("warning: {counters:?}");
        }
        let failures = recording.check(&run);
        for f in &failures {
            println!("BOUND VIOLATED: {f}");
        }
        if failures.is_empty() && !run.bounds.is_empty() {
            println!("all {} bounds hold", run.bounds.len());
        }
        violations += failures.len();
        for (k, n) in summary.nodes.iter().enumerate() {
            match sums.get_mut(k) {
                Some(entry) => entry.1 += n.settled.rms_offset,
                None => sums.push((n.name.clone(), n.settled.rms_offset)),
            }
        }
        if let Some(path) = &args.csv {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            recording.write_csv(BufWriter::new(file))?;
        }
        if let Some(path) = &args.json {
            std::fs::write(path, serde_json::to_string(&recording.to_json())?)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        if let Some(path) = &args.summary_json {
            std::fs::write(path, serde_json::to_string_pretty(&summary)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!();
    }
    if count > 1 {
        println!(
            "mean RMS offset over {count} seeds ({first}..={}):",
            first + count - 1
        );
        for (name, sum) in &sums {
            println!("  {name:<14} {:>9.1} us", sum / count as f64 * 1e6);
        }
    }
    if args.check && violations > 0 {
        anyhow::bail!("{violations} bound(s) violated");
    }
    Ok(())
}
