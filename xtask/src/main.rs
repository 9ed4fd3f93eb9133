//! Developer tasks for the workspace, run as `cargo xtask TASK`.
//!
//! - `ci`: `cargo fmt --check`, clippy on all targets with warnings denied,
//!   and the whole test suite.
//! - `fuzz TARGET --seconds N`: run a cargo-fuzz target for a bounded time
//!   (`ci` runs every target for 10 seconds from its checked-in corpus).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        bail!("usage: cargo xtask <ci|fuzz> [ARGS]");
    };
    match task.as_str() {
        "ci" => ci(rest),
        "fuzz" => fuzz(rest),
        other => bail!("unknown task {other:?}; known tasks: ci, fuzz"),
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
