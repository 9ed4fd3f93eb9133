//! `ntpctl refclock watch DRIVER [OPTIONS]`: open a reference clock with the
//! real driver code and print every sample as it arrives (reference time,
//! local receive time, offset, and for NMEA the sentence), and every
//! rejected input with its reason - the tool for a GPS setup that does not
//! work, like `gpsmon` or `ppstest`.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ntp_refclock::watch::WatchRecord;
use ntp_refclock::{DriverEvent, DriverKind, RefclockOptions};

use crate::runtime::net;

/// The options of `ntpctl refclock watch`.
#[derive(Clone, Debug, clap::Args)]
pub struct WatchArgs {
    /// The driver: nmea, pps, shm or local.
    pub driver: String,
    /// The unit number (SHM key 0x4E545030 + unit; default device paths).
    #[arg(long, default_value_t = 0)]
    pub unit: u8,
    /// The device (default: the driver's, e.g. /dev/gps0, /dev/pps0).
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// Serial speed (NMEA): 4800 to 115200.
    #[arg(long)]
    pub baud: Option<u32>,
    /// Driver mode bits (NMEA sentence selection, ...).
    #[arg(long)]
    pub mode: Option<u32>,
    /// Accept NMEA sentences without a checksum.
    #[arg(long)]
    pub nochecksum: bool,
    /// Fudge time2 (NMEA: delay of the sentence start after the second), seconds.
    #[arg(long)]
    pub time2: Option<f64>,
    /// Set fudge flag N (1-4; repeatable), e.g. `--flag 1` for SHM: accept
    /// any difference between reference and receive time.
    #[arg(long = "flag", value_name = "N", value_parser = clap::value_parser!(u8).range(1..=4))]
    pub flags: Vec<u8>,
    /// GPS week-rollover base date (YYYY-MM-DD).
    #[arg(long)]
    pub basedate: Option<String>,
    /// Exit after this many samples.
    #[arg(long)]
    pub count: Option<u64>,
    /// Exit after this many seconds.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

fn options(args: &WatchArgs) -> Result<RefclockOptions> {
    let kind = DriverKind::from_name(&args.driver)
        .with_context(|| format!("expected nmea, pps, shm or local, found {:?}", args.driver))?;
    let mut o = RefclockOptions::new(kind, args.unit);
    if let Some(path) = &args.path {
        o.set("path", &path.display().to_string())?;
    }
    if let Some(baud) = args.baud {
        o.set("baud", &baud.to_string())?;
    }
    if let Some(mode) = args.mode {
        o.set("mode", &mode.to_string())?;
    }
    if let Some(time2) = args.time2 {
        o.set("time2", &time2.to_string())?;
    }
    if let Some(date) = &args.basedate {
        o.set("basedate", date)?;
    }
    if args.nochecksum {
        o.set_flag("nochecksum")?;
    }
    for flag in &args.flags {
        o.set(&format!("flag{flag}"), "1")?;
    }
    Ok(o)
}

/// Runs the watch until `--count` samples or `--seconds` pass (or forever).
pub fn run(args: &WatchArgs) -> Result<()> {
    if args.seconds.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        bail!("--seconds must be a positive number");
    }
    let options = options(args)?;
    let mut driver = ntp_refclock::open_driver(&options)
        .with_context(|| format!("cannot open the {} driver", args.driver))?;
    let start = Instant::now();
    let deadline = args.seconds.map(|s| start + Duration::from_secs_f64(s));
    let mut samples = 0u64;
    let mut stdout = std::io::stdout().lock();
    loop {
        let mut wait = driver.service_interval().unwrap_or(Duration::from_secs(1));
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            wait = wait.min(left);
        }
        match driver.raw_fd() {
            Some(fd) => {
                net::poll_readable(&[fd], wait).context("poll")?;
            }
            None => std::thread::sleep(wait),
        }
        let events = driver
            .service(chrono::Utc::now())
            .with_context(|| format!("reading the {} device", args.driver))?;
        for event in &events {
            let record = WatchRecord::from(event);
            let line = if args.json {
                record.to_json()
            } else {
                record.to_text()
            };
            writeln!(stdout, "{line}")?;
            if matches!(event, DriverEvent::Sample(_)) {
                samples += 1;
                if args.count.is_some_and(|n| samples >= n) {
                    return Ok(());
                }
            }
        }
        stdout.flush()?;
    }
}
