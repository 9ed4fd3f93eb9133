//! Developer tasks for the workspace, run as `cargo xtask TASK`.
//!
//! - `ci`: `cargo fmt --check`, clippy on all targets with warnings denied,
//!   and the whole test suite.
//! - `demo`: an offline demonstration on loopback: a server daemon and a
//!   client daemon (both `--no-adjust`), and the client's `ntpctl peers`
//!   going from unreachable to `*` synchronised.
//! - `fuzz TARGET --seconds N`: run a cargo-fuzz target for a bounded time
//!   (`ci` runs every target for 10 seconds from its checked-in corpus).
//! - `sim SCENARIO [ARGS]`: run a simulation scenario (a name from
//!   `testdata/sim/` or a path) in release mode and print its summary;
//!   the arguments (`--seeds N`, `--seed N`, `--duration S`, `--short`,
//!   `--csv FILE`, `--json FILE`, `--summary-json FILE`, `--check`) go to
//!   the simulator, which is `ntp-cli`'s `sim` example: xtask depends on
//!   nothing it tests, so it goes through cargo (only xtask's tests use
//!   `ntp-cli` directly). `--plot FILE.png` also draws each node's true
//!   offset over time from the run's records (the `--csv` file, or a
//!   temporary one) as a PNG (see `plot.rs`; with `--seeds N`, the last
//!   run); the text needs a TrueType font, DejaVu Sans by default.
//! - `bench-server [--quick]`: server throughput, CPU per reply, latency and
//!   memory of our daemon, chronyd, NTPsec's ntpd and a minimal C responder,
//!   in a network namespace of its own (see `bench.rs`, `loadgen.rs`).
//! - `bench-sync [--quick]`: time to the first synchronisation with iburst
//!   and idle CPU time, our client against chronyd.
//! - `loadgen ...`: the load generator bench-server runs (internal).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod bench;
mod loadgen;
mod plot;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        bail!("usage: cargo xtask <ci|fuzz|demo|sim|bench-server|bench-sync> [ARGS]");
    };
    match task.as_str() {
        "ci" => ci(rest),
        "fuzz" => fuzz(rest),
        "demo" => demo(rest),
        "sim" => sim(rest),
        "bench-server" => bench::bench_server(rest),
        "bench-sync" => bench::bench_sync(rest),
        "loadgen" => loadgen::main(rest),
        other => bail!(
            "unknown task {other:?}; known tasks: ci, fuzz, demo, sim, bench-server, bench-sync"
        ),
    }
}

/// The repository root (the parent of this crate's folder).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command in the repository root and fails if it fails.
fn run(program: &str, args: &[&str]) -> Result<()> {
    eprintln!("xtask: running {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot start {program}"))?;
    if !status.success() {
        bail!("{program} {} failed: {status}", args.join(" "));
    }
    Ok(())
}

/// `cargo xtask sim SCENARIO [ARGS]`: see the crate documentation.
fn sim(args: &[String]) -> Result<()> {
    let Some((scenario, rest)) = args.split_first() else {
        bail!(
            "usage: cargo xtask sim SCENARIO [--seed N] [--seeds N] [--duration S] [--short] \
             [--csv FILE] [--json FILE] [--summary-json FILE] [--check] [--plot FILE.png] \
             [--config-line LINE]..."
        );
    };
    let named = root().join("testdata/sim").join(format!("{scenario}.json"));
    let path = if named.exists() {
        named
    } else {
        PathBuf::from(scenario)
    };
    let options = SimOptions::parse(rest)?;
    // The plot is drawn from the records: into the caller's --csv file, or
    // into a temporary one.
    let temporary = std::env::temp_dir().join(format!("ntpctl-sim-{}.csv", std::process::id()));
    let mut forwarded = options.forwarded.clone();
    let csv = match (&options.plot, &options.csv) {
        (None, _) => None,
        (Some(_), Some(csv)) => Some(csv.clone()),
        (Some(_), None) => {
            forwarded.push("--csv".to_owned());
            forwarded.push(temporary.to_string_lossy().into_owned());
            Some(temporary.clone())
        }
    };
    let path_text = path.to_string_lossy().into_owned();
    let mut command = vec![
        "run",
        "--quiet",
        "--release",
        "-p",
        "ntp-cli",
        "--example",
        "sim",
        "--",
        &path_text,
    ];
    command.extend(forwarded.iter().map(String::as_str));
    let started = std::time::SystemTime::now();
    let result = run("cargo", &command);
    let (Some(plot), Some(csv)) = (&options.plot, csv) else {
        return result;
    };
    // A run whose bounds failed (--check) still wrote its records: plot
    // those too, but never a CSV left from an earlier run.
    let fresh = std::fs::metadata(&csv)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified >= started);
    let plotted = if result.is_ok() || fresh {
        let mut title = scenario_name(&path);
        if let Some(seed) = &options.seed {
            title.push_str(&format!(" (seed {seed})"));
        }
        let drawn = plot::plot_csv(&title, &csv, plot)
            .with_context(|| format!("plotting {}", plot.display()));
        if drawn.is_ok() {
            println!("plot: {}", plot.display());
        }
        drawn
    } else {
        Ok(())
    };
    if csv == temporary {
        let _ = std::fs::remove_file(&temporary);
    }
    result.and(plotted)
}

/// The arguments of `cargo xtask sim` after the scenario: `--plot FILE` is
/// xtask's own, the others go to the simulator (`--csv` and `--seed` are
/// also read here).
#[derive(Debug, Default, PartialEq)]
struct SimOptions {
    plot: Option<PathBuf>,
    csv: Option<PathBuf>,
    seed: Option<String>,
    forwarded: Vec<String>,
}

impl SimOptions {
    fn parse(args: &[String]) -> Result<Self> {
        let mut options = Self::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
                _ => (arg.as_str(), None),
            };
            let mut value = |forward: bool| -> Result<String> {
                let value = match inline.clone() {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .with_context(|| format!("sim: {flag} needs a value"))?,
                };
                if forward {
                    options.forwarded.push(flag.to_owned());
                    options.forwarded.push(value.clone());
                }
                Ok(value)
            };
            match flag {
                "--plot" => options.plot = Some(PathBuf::from(value(false)?)),
                "--csv" => options.csv = Some(PathBuf::from(value(true)?)),
                "--seed" => options.seed = Some(value(true)?),
                _ => options.forwarded.push(arg.clone()),
            }
        }
        Ok(options)
    }
}

/// The `name` of a scenario file, or its file name without `.json`.
fn scenario_name(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_owned))
        .unwrap_or_else(|| {
            path.file_stem().map_or_else(
                || "simulation".to_owned(),
                |s| s.to_string_lossy().into_owned(),
            )
        })
}

fn ci(args: &[String]) -> Result<()> {
    if let Some(unknown) = args.first() {
        bail!("ci takes no arguments, got {unknown:?}");
    }
    run("cargo", &["fmt", "--all", "--", "--check"])?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run("cargo", &["test", "--workspace", "--all-targets"])?;
    run("cargo", &["test", "--workspace", "--doc"])?;
    // ntp-wire as a parser-only user builds it: without its default
    // features (chrono, crypto), and with each of them alone.
    let ntp_wire_feature_sets: [&[&str]; 3] =
        [&[], &["--features", "chrono"], &["--features", "crypto"]];
    for features in ntp_wire_feature_sets {
        let args = |command: &[&'static str], tail: &[&'static str]| {
            [
                command,
                &["-p", "ntp-wire", "--no-default-features"],
                features,
                tail,
            ]
            .concat()
        };
        run(
            "cargo",
            &args(&["clippy", "--all-targets"], &["--", "-D", "warnings"]),
        )?;
        run("cargo", &args(&["test", "--all-targets"], &[]))?;
        run("cargo", &args(&["test", "--doc"], &[]))?;
    }
    // The API documentation builds without a warning (broken links), ntp-wire
    // also without its features.
    let doc_runs: [&[&str]; 2] = [
        &["doc", "--no-deps", "--workspace"],
        &[
            "doc",
            "--no-deps",
            "-p",
            "ntp-wire",
            "--no-default-features",
        ],
    ];
    for doc_args in doc_runs {
        eprintln!(
            "xtask: running RUSTDOCFLAGS=\"-D warnings\" cargo {}",
            doc_args.join(" ")
        );
        let status = Command::new("cargo")
            .args(doc_args)
            .env("RUSTDOCFLAGS", "-D warnings")
            .current_dir(root())
            .status()
            .context("cannot start cargo doc")?;
        if !status.success() {
            bail!("cargo {} failed: {status}", doc_args.join(" "));
        }
    }
    // Every fuzz target briefly, from its checked-in corpus.
    for target in fuzz_targets()? {
        fuzz(&[target, "--seconds".to_owned(), CI_FUZZ_SECONDS.to_string()])?;
    }
    Ok(())
}

/// How long `ci` runs each fuzz target.
const CI_FUZZ_SECONDS: u64 = 10;

/// The fuzz targets, as `cargo fuzz list` prints them.
fn fuzz_targets() -> Result<Vec<String>> {
    let output = Command::new("cargo")
        .args(["+nightly", "fuzz", "list"])
        .current_dir(root())
        .output()
        .context("cannot run `cargo +nightly fuzz list`: install cargo-fuzz (.ci/run does)")?;
    if !output.status.success() {
        bail!(
            "`cargo +nightly fuzz list` failed (is cargo-fuzz installed?): {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

fn fuzz(args: &[String]) -> Result<()> {
    let mut target = None;
    let mut seconds: u64 = 60;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = it.next().context("--seconds needs a value")?;
                seconds = value
                    .parse()
                    .with_context(|| format!("--seconds: not a number: {value:?}"))?;
            }
            other if target.is_none() && !other.starts_with('-') => target = Some(other.to_owned()),
            other => bail!("fuzz: unexpected argument {other:?}"),
        }
    }
    let target = target.context("usage: cargo xtask fuzz TARGET [--seconds N]")?;
    let max_time = format!("-max_total_time={seconds}");
    // The checked-in corpus is read, and new inputs go to a scratch folder so
    // that a run never dirties the repository.
    let corpus = format!("fuzz/corpus/{target}");
    let scratch = std::env::temp_dir().join(format!("ntpctl-fuzz-{target}-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).context("creating the scratch corpus folder")?;
    let scratch = scratch.to_string_lossy().into_owned();
    let result = run(
        "cargo",
        &[
            "+nightly",
            "fuzz",
            "run",
            &target,
            &scratch,
            &corpus,
            "--",
            &max_time,
            "-rss_limit_mb=2048",
        ],
    );
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// Kills the demo's daemons (by PID) when dropped.
struct Children(Vec<std::process::Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::UdpSocket::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn demo(args: &[String]) -> Result<()> {
    if let Some(unknown) = args.first() {
        bail!("demo takes no arguments, got {unknown:?}");
    }
    run(
        "cargo",
        &["build", "--release", "-p", "ntp-cli", "--bin", "ntpctl"],
    )?;
    let ntpctl = root().join("target/release/ntpctl");
    let dir = std::env::temp_dir().join(format!("ntpctl-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (server_port, client_port) = (free_port()?, free_port()?);
    let server_conf = dir.join("server.conf");
    let client_conf = dir.join("client.conf");
    // The server has no upstream: orphan mode makes it a stratum-5 source at once.
    std::fs::write(&server_conf, "tos orphan 5 orphanwait 0\n")?;
    std::fs::write(
        &client_conf,
        format!("server 127.0.0.1 port {server_port} iburst minpoll 3 maxpoll 3\n"),
    )?;
    let start = |conf: &Path, port: u16, control: &Path| {
        Command::new(&ntpctl)
            .arg("run")
            .arg("-c")
            .arg(conf)
            .args([
                "--no-adjust",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--control",
            ])
            .arg(control)
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", ntpctl.display()))
    };
    let server_control = dir.join("server.sock");
    let client_control = dir.join("client.sock");
    let mut children = Children(Vec::new());
    children
        .0
        .push(start(&server_conf, server_port, &server_control)?);
    children
        .0
        .push(start(&client_conf, client_port, &client_control)?);
    println!("server: ntpctl run --listen 127.0.0.1:{server_port} (tos orphan 5)");
    println!(
        "client: ntpctl run --listen 127.0.0.1:{client_port} (server 127.0.0.1 port {server_port} iburst)"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let out = Command::new(&ntpctl)
            .args(["peers", "--control"])
            .arg(&client_control)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        println!("\n$ ntpctl peers\n{text}");
        if text.lines().any(|l| l.starts_with('*')) {
            let out = Command::new(&ntpctl)
                .args(["status", "--control"])
                .arg(&client_control)
                .output()?;
            println!("$ ntpctl status\n{}", String::from_utf8_lossy(&out.stdout));
            println!("synchronised: the client selected the server as its system peer (*).");
            break;
        }
        if std::time::Instant::now() > deadline {
            bail!("the client did not synchronise within 90 s");
        }
    }
    drop(children);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn sim_options_keep_plot_and_forward_the_rest() {
        let options = SimOptions::parse(&strings(&[
            "--short",
            "--plot",
            "out.png",
            "--csv=a.csv",
            "--seed",
            "7",
            "--check",
        ]))
        .unwrap();
        assert_eq!(options.plot, Some(PathBuf::from("out.png")));
        assert_eq!(options.csv, Some(PathBuf::from("a.csv")));
        assert_eq!(options.seed.as_deref(), Some("7"));
        assert_eq!(
            options.forwarded,
            strings(&["--short", "--csv", "a.csv", "--seed", "7", "--check"])
        );
        let err = SimOptions::parse(&strings(&["--plot"])).unwrap_err();
        assert!(err.to_string().contains("--plot needs a value"), "{err}");
    }
}
