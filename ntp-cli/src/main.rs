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
    /// Check or print `ntp.conf` configurations.
    #[command(subcommand)]
    Config(ConfigCommand),
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
