//! The `ntpctl query` command line: arguments, key loading, printing and
//! exit status (0: at least one valid sample, 1: none, 2: usage error).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ntp_wire::keys::KeyStore;
use ntp_wire::mac::Key;

use super::adjust::{self, Policy};
use super::target::Family;
use super::{Options, Report};
use crate::output::query::{error_lines, render_text, to_json};
use ntp_discipline::SystemClock;

/// Exit status for usage errors.
pub const EXIT_USAGE: u8 = 2;

fn seconds(text: &str, min: f64) -> Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("not a number of seconds: {text:?}"))?;
    if !value.is_finite() || value < min || value > 3600.0 {
        return Err(format!("must be from {min} to 3600 seconds"));
    }
    Ok(Duration::from_secs_f64(value))
}

fn gap(text: &str) -> Result<Duration, String> {
    seconds(text, 0.1)
}

fn timeout(text: &str) -> Result<Duration, String> {
    seconds(text, 0.001)
}

/// `ntpctl query [OPTIONS] HOST[:PORT]...`
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Servers: a name (every address it resolves to is queried), an IPv4
    /// address, an IPv6 address; with a port as HOST:PORT or
    /// `[IPV6]:PORT`.
    #[arg(required = true, value_name = "HOST[:PORT]")]
    pub hosts: Vec<String>,
    /// Use IPv4 addresses only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Use IPv6 addresses only.
    #[arg(short = '6')]
    pub ipv6: bool,
    /// Requests to send to each address.
    #[arg(short = 'n', long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub samples: u32,
    /// Seconds between requests to one address (at least 0.1).
    #[arg(long, default_value = "1", value_name = "SECONDS", value_parser = gap)]
    pub gap: Duration,
    /// Seconds to wait for each reply.
    #[arg(short = 't', long, default_value = "2", value_name = "SECONDS", value_parser = timeout)]
    pub timeout: Duration,
    /// NTP version of the requests.
    #[arg(long, default_value_t = 4, value_name = "1-4",
          value_parser = clap::value_parser!(u8).range(1..=4))]
    pub ntp_version: u8,
    /// Authenticate with this key from --keyfile: requests carry its MAC,
    /// replies without a valid MAC for it are rejected.
    #[arg(long, value_name = "ID", requires = "keyfile")]
    pub key: Option<u32>,
    /// The keys file (ntp.keys format).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub keyfile: Option<PathBuf>,
    /// Print a JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Show every request, reply and ignored datagram.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Set the clock from the best result: step when the offset is beyond
    /// 128 ms, slew otherwise (as `ntpd -q`). Needs CAP_SYS_TIME.
    #[arg(long, conflicts_with = "slew")]
    pub step: bool,
    /// Slew the clock by the best result's offset, never step (at most
    /// 0.5 s). Needs CAP_SYS_TIME.
    #[arg(long)]
    pub slew: bool,
    /// With --step, also step offsets beyond the 1000 s panic threshold.
    #[arg(long)]
    pub force: bool,
}

fn load_key(id: u32, file: &PathBuf) -> Result<Key, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|err| format!("--keyfile {}: {err}", file.display()))?;
    let store =
        KeyStore::parse(&text).map_err(|err| format!("--keyfile {}: {err}", file.display()))?;
    store
        .get(id)
        .cloned()
        .ok_or_else(|| format!("--key {id}: no such key in {}", file.display()))
}

/// Runs `ntpctl query` and returns its exit status.
pub fn run(args: &QueryArgs) -> ExitCode {
    let key = match (args.key, &args.keyfile) {
        (Some(id), Some(file)) => match load_key(id, file) {
            Ok(key) => Some(key),
            Err(err) => {
                eprintln!("ntpctl: {err}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
        _ => None,
    };
    if args.force && !args.step {
        eprintln!("ntpctl: --force needs --step");
        return ExitCode::from(EXIT_USAGE);
    }
    let options = Options {
        targets: args.hosts.clone(),
        family: if args.ipv4 {
            Family::V4
        } else if args.ipv6 {
            Family::V6
        } else {
            Family::Any
        },
        samples: args.samples,
        gap: args.gap,
        timeout: args.timeout,
        version: args.ntp_version,
        key,
    };
    let report = super::run(&options);
    print_report(&report, args);
    let Some(best) = report.best().and_then(|b| b.measurement) else {
        return ExitCode::FAILURE;
    };
    let mode = match (args.step, args.slew) {
        (true, _) => adjust::Mode::Step,
        (_, true) => adjust::Mode::Slew,
        _ => return ExitCode::SUCCESS,
    };
    let policy = Policy {
        mode,
        force: args.force,
    };
    let mut clock = SystemClock::realtime();
    let privileged = adjust::may_adjust_system_clock(&clock);
    match adjust::adjust(&mut clock, privileged, policy, best.offset) {
        Ok(action) => {
            eprintln!("ntpctl: {action}");
            ExitCode::SUCCESS
        }
        Err(refusal) => {
            eprintln!("ntpctl: {refusal}");
            ExitCode::FAILURE
        }
    }
}

fn print_report(report: &Report, args: &QueryArgs) {
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let text = serde_json::to_string_pretty(&to_json(report)).unwrap_or_default();
        let _ = writeln!(stdout, "{text}");
    } else {
        let _ = write!(stdout, "{}", render_text(report, args.verbose));
        let _ = stdout.flush();
        for line in error_lines(report) {
            eprintln!("ntpctl: {line}");
        }
    }
}
