//! `ntpctl`: the command-line entry point, a thin shell over the `ntp_cli`
//! library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ntp_cli::config::{Config, DEFAULT_CONFIG};
use ntp_cli::decode::{self, Input};
use ntp_wire::time::NtpDate;

/// NTPv4 tools: decode packets, query servers, run the daemon.
#[derive(Debug, Parser)]
#[command(name = "ntpctl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode NTP packets given as hex (or `-` for hex lines on standard
    /// input, or --file for raw bytes) and print every field.
    Decode {
        /// Packets as hex strings; `-` reads one hex packet a line from
        /// standard input.
        #[arg(required_unless_present = "file")]
        hex: Vec<String>,
        /// Read one packet as raw bytes from this file.
        #[arg(long, conflicts_with = "hex")]
        file: Option<PathBuf>,
        /// Print one JSON object a packet instead of text.
        #[arg(long)]
        json: bool,
        /// Timestamps are read in the era that puts them within 68 years
        /// of this date (RFC 3339; default: now).
        #[arg(long, value_name = "DATE")]
        era_pivot: Option<String>,
    },
    /// Measure this host's clock offset against NTP servers, once (like
    /// ntpdig, sntp or chronyd -Q); optionally set the clock from it.
    Query(ntp_cli::query::command::QueryArgs),
    /// Run the NTP daemon (configured with ntp.conf syntax).
    Run {
        /// The configuration file (default: the built-in configuration,
        /// see `ntpctl config print-default`).
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: Option<PathBuf>,
        /// Listen on this address and port instead of `0.0.0.0:123` and
        /// `[::]:123` (repeatable).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Vec<std::net::SocketAddr>,
        /// The control socket.
        #[arg(long, value_name = "PATH", default_value = ntp_cli::control::DEFAULT_CONTROL_PATH)]
        control: PathBuf,
        /// Measure and serve time, but never adjust the clock.
        #[arg(long)]
        no_adjust: bool,
        /// Allow the first correction to exceed the panic threshold (like ntpd -g).
        #[arg(short = 'g', long = "allow-first-panic")]
        allow_panic_once: bool,
        /// Drop root for this user after binding, keeping only CAP_SYS_TIME
        /// (none with --no-adjust).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Stay in the foreground (ntpctl never forks; accepted for
        /// compatibility with service files).
        #[arg(long, short = 'n')]
        foreground: bool,
        /// Print the built-in default configuration and exit.
        #[arg(long)]
        print_default_config: bool,
    },
    /// Show the daemon's associations, like `ntpq -p`.
    Peers {
        /// The daemon's control socket.
        #[arg(long, value_name = "PATH", default_value = ntp_cli::control::DEFAULT_CONTROL_PATH)]
        control: PathBuf,
        /// Print JSON (times in seconds).
        #[arg(long)]
        json: bool,
    },
    /// Show the daemon's system variables and discipline state.
    Status {
        /// The daemon's control socket.
        #[arg(long, value_name = "PATH", default_value = ntp_cli::control::DEFAULT_CONTROL_PATH)]
        control: PathBuf,
        /// Print JSON (times in seconds).
        #[arg(long)]
        json: bool,
    },
    /// Check or print `ntp.conf` configurations.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Reference clock diagnostics.
    #[command(subcommand)]
    Refclock(RefclockCommand),
}

#[derive(Debug, Subcommand)]
enum RefclockCommand {
    /// Open a reference clock with the real driver and print every sample
    /// and every rejected input as it arrives.
    Watch(ntp_cli::refclock_watch::WatchArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file without running anything; errors name
    /// the file, the line and what was expected.
    Check {
        /// The configuration file.
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the built-in default configuration (used without -c).
    PrintDefault,
}

fn pivot(text: Option<&str>) -> Result<NtpDate> {
    match text {
        None => Ok(NtpDate::from_system_time(std::time::SystemTime::now())),
        Some(text) => {
            let date = chrono::DateTime::parse_from_rfc3339(text)
                .with_context(|| format!("--era-pivot: not an RFC 3339 date: {text:?}"))?;
            Ok(NtpDate::from_datetime(date.to_utc()))
        }
    }
}

/// One request to the daemon's control socket.
fn ask(
    control: &std::path::Path,
    request: ntp_cli::control::Request,
) -> Result<ntp_cli::control::Response> {
    let response =
        ntp_cli::control::request(control, request, std::time::Duration::from_secs(5))
            .with_context(|| format!("cannot talk to the daemon at {}", control.display()))?;
    if let ntp_cli::control::Response::Error(err) = &response {
        anyhow::bail!("the daemon says: {err}");
    }
    Ok(response)
}

/// `ntpctl peers` / `ntpctl status`: one request, its response printed.
fn show(
    control: &std::path::Path,
    request: ntp_cli::control::Request,
    json: bool,
) -> Result<ExitCode> {
    let response = ask(control, request)?;
    print!(
        "{}",
        ntp_cli::output::billboard::render_response(&response, json)?
    );
    Ok(ExitCode::SUCCESS)
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Decode {
            hex,
            file,
            json,
            era_pivot,
        } => {
            let input = match file {
                Some(path) => Input::File(path),
                None if hex.len() == 1 && hex[0] == "-" => Input::Stdin,
                None => Input::Hex(hex),
            };
            let ok = decode::run(&input, json, pivot(era_pivot.as_deref())?)?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Query(args) => Ok(ntp_cli::query::command::run(&args)),
        Command::Run {
            config,
            listen,
            control,
            no_adjust,
            allow_panic_once,
            user,
            foreground: _,
            print_default_config,
        } => {
            if print_default_config {
                print!("{DEFAULT_CONFIG}");
                return Ok(ExitCode::SUCCESS);
            }
            ntp_cli::runtime::run(ntp_cli::runtime::RunOptions {
                config,
                listen,
                control,
                no_adjust,
                allow_panic_once,
                user,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Peers { control, json } => show(&control, ntp_cli::control::Request::Peers, json),
        Command::Status { control, json } => {
            show(&control, ntp_cli::control::Request::Status, json)
        }
        Command::Config(ConfigCommand::Check { file }) => match Config::from_file(&file) {
            Ok(config) => {
                println!(
                    "{}: OK ({} associations, {} reference clocks, {} restrict lines)",
                    file.display(),
                    config.associations.len(),
                    config.refclocks.len(),
                    config.restrictions.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(err) => {
                eprintln!("ntpctl: {err}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Refclock(RefclockCommand::Watch(args)) => {
            ntp_cli::refclock_watch::run(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::PrintDefault) => {
            print!("{DEFAULT_CONFIG}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    env_logger::init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ntpctl: {err:#}");
            ExitCode::FAILURE
        }
    }
}
