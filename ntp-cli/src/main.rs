//! `ntpctl`: the command-line entry point.

use clap::Parser;

/// NTPv4 tools: decode packets, query servers, run the daemon.
#[derive(Debug, Parser)]
#[command(name = "ntpctl", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    env_logger::init();
    let _cli = Cli::parse();
    Ok(())
}
