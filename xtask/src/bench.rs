//! `cargo xtask bench-server` and `cargo xtask bench-sync`: our daemon
//! against chronyd, NTPsec's ntpd and a minimal responder, run as separate
//! processes (this crate depends on nothing it measures).
//!
//! Safety: no server may change the clock (ours runs `--no-adjust`, chronyd
//! `-x`, every server under `setpriv` without CAP_SYS_TIME); the load stays
//! inside a network namespace this task creates and deletes (or, for
//! bench-sync, on loopback); every process started is killed by its PID
//! when its guard drops; every load run is bounded in time and count.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::loadgen::Report;
use crate::{root, run};

/// `setpriv` arguments that take CAP_SYS_TIME away for good.
const SETPRIV: [&str; 4] = ["--bounding-set", "-sys_time", "--inh-caps", "-sys_time"];

/// The target folder cargo builds into (CARGO_TARGET_DIR or `target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"))
}

/// Builds the release `ntpctl` and returns its path.
pub fn build_ntpctl() -> Result<PathBuf> {
    run(
        "cargo",
        &["build", "--release", "-p", "ntp-cli", "--bin", "ntpctl"],
    )?;
    let path = target_dir().join("release/ntpctl");
    if !path.is_file() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}

/// Builds this crate in release mode (the load generator must not be the
/// bottleneck) and returns the binary.
fn build_loadgen() -> Result<PathBuf> {
    run("cargo", &["build", "--release", "-p", "xtask"])?;
    let path = target_dir().join("release/xtask");
    if !path.is_file() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}

/// A temporary folder removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A network namespace deleted on drop (with everything in it).
struct Netns(String);

impl Netns {
    fn new() -> Result<Self> {
        let name = format!("ntpctl-bench-{}", std::process::id());
        let ok = |args: &[&str]| -> Result<()> {
            let status = Command::new("ip")
                .args(args)
                .stdin(Stdio::null())
                .status()
                .context("cannot run `ip` (iproute2 is needed)")?;
            if !status.success() {
                bail!("ip {} failed (root is needed)", args.join(" "));
            }
            Ok(())
        };
        ok(&["netns", "add", &name])?;
        let ns = Self(name);
        ok(&["-n", &ns.0, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A command run inside the namespace, pinned to `cpu`, at nice -20 so
    /// that other work on a shared machine disturbs the measurement less
    /// (every server and the generator alike).
    fn command(&self, cpu: u32, program: &Path) -> Command {
        let mut command = Command::new("ip");
        command
            .args([
                "netns", "exec", &self.0, "nice", "-n", "-20", "taskset", "-c",
            ])
            .arg(cpu.to_string())
            .arg(program);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A process we started, killed by its PID and reaped on drop.
struct Process {
    child: Child,
    name: String,
}

impl Process {
    fn spawn(command: &mut Command, name: &str, log: &Path) -> Result<Self> {
        let log_file = std::fs::File::create(log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Self {
            child,
            name: name.to_owned(),
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the process has exited.
    fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited: {status}", self.name);
        }
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) of a process, in seconds, from /proc/PID/stat.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces: fields count from after its ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("/proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) (utime, stime) are 12 and 13 after ')'.
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok((utime + stime) as f64 / ticks)
}

/// A field of /proc/PID/status in kB (VmRSS, VmHWM).
fn status_kb(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("{field} of {pid}"))
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

// ---------------------------------------------------------------------------
// bench-server

/// The servers compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Ours,
    Chronyd,
    Ntpsec,
    Minimal,
    /// Ours with `restrict default limited kod`, for the flood only (the
    /// rate-limit table in use).
    OursLimited,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Self::Ours => "ntpctl",
            Self::Chronyd => "chronyd 4.3",
            Self::Ntpsec => "NTPsec ntpd",
            Self::Minimal => "minimal (C)",
            Self::OursLimited => "ntpctl (limited)",
        }
    }

    fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "ours" | "ntpctl" => Self::Ours,
            "chronyd" | "chrony" => Self::Chronyd,
            "ntpsec" | "ntpd" => Self::Ntpsec,
            "minimal" => Self::Minimal,
            other => bail!("unknown server {other:?} (ours, chronyd, ntpsec, minimal)"),
        })
    }
}

struct ServerOptions {
    rounds: usize,
    seconds: f64,
    outstanding: usize,
    rate: u64,
    sources: u32,
    flood_sources: u32,
    servers: Vec<Server>,
    server_cpu: u32,
    load_cpu: u32,
}

fn parse_server_options(args: &[String]) -> Result<ServerOptions> {
    let mut o = ServerOptions {
        rounds: 3,
        seconds: 5.0,
        outstanding: 128,
        rate: 100_000,
        sources: 1024,
        flood_sources: 1_000_000,
        servers: vec![
            Server::Ours,
            Server::Chronyd,
            Server::Ntpsec,
            Server::Minimal,
        ],
        server_cpu: 0,
        load_cpu: 1,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => {
                o.rounds = 1;
                o.seconds = 1.0;
                o.flood_sources = 100_000;
            }
            "--rounds" => o.rounds = value()?.parse()?,
            "--seconds" => o.seconds = value()?.parse()?,
            "--outstanding" => o.outstanding = value()?.parse()?,
            "--rate" => o.rate = value()?.parse()?,
            "--sources" => o.sources = value()?.parse()?,
            "--flood-sources" => o.flood_sources = value()?.parse()?,
            "--servers" => {
                o.servers = value()?
                    .split(',')
                    .map(Server::parse)
                    .collect::<Result<_>>()?;
            }
            "--server-cpu" => o.server_cpu = value()?.parse()?,
            "--load-cpu" => o.load_cpu = value()?.parse()?,
            other => bail!("bench-server: unknown argument {other:?}"),
        }
    }
    if o.rounds == 0 || o.rounds > 20 || !(0.2..=120.0).contains(&o.seconds) {
        bail!("--rounds 1 to 20, --seconds 0.2 to 120");
    }
    Ok(o)
}

struct Tools {
    ntpctl: PathBuf,
    responder: PathBuf,
    chronyd: PathBuf,
    ntpd: PathBuf,
    loadgen: PathBuf,
}

/// The port every server listens on inside the namespace.
const BENCH_PORT: u16 = 123;

fn start_server(
    server: Server,
    tools: &Tools,
    ns: &Netns,
    cpu: u32,
    dir: &Path,
) -> Result<Process> {
    let log = dir.join(format!("{server:?}.log"));
    let listen = format!("127.0.0.1:{BENCH_PORT}");
    let mut command = ns.command(cpu, Path::new("setpriv"));
    command.args(SETPRIV);
    match server {
        Server::Ours | Server::OursLimited => {
            let conf = dir.join("ntpctl.conf");
            let mut text = String::from("tos orphan 5 orphanwait 0\n");
            if server == Server::OursLimited {
                text.push_str("restrict default limited kod\n");
            }
            std::fs::write(&conf, text)?;
            command
                .arg(&tools.ntpctl)
                .arg("run")
                .arg("-c")
                .arg(&conf)
                .args(["--no-adjust", "--listen", &listen, "--control"])
                .arg(dir.join("ntpctl.sock"));
        }
        Server::Chronyd => {
            let conf = dir.join("chrony.conf");
            std::fs::write(
                &conf,
                format!(
                    "port {BENCH_PORT}\nbindaddress 127.0.0.1\nallow\nlocal stratum 3\n\
                     cmdport 0\nbindcmdaddress /\npidfile {}\n",
                    dir.join("chronyd.pid").display()
                ),
            )?;
            command
                .arg(&tools.chronyd)
                .args(["-x", "-d", "-u", "root", "-f"])
                .arg(&conf);
        }
        Server::Ntpsec => {
            let conf = dir.join("ntpsec.conf");
            std::fs::write(
                &conf,
                format!(
                    "disable ntp\ntos orphan 5 orphanwait 1\nunrestrict default limited\n\
                     logfile {}\n",
                    dir.join("ntpd.file.log").display()
                ),
            )?;
            command.arg(&tools.ntpd).args(["-n", "-c"]).arg(&conf);
        }
        Server::Minimal => {
            command
                .arg(&tools.responder)
                .args(["127.0.0.1", &BENCH_PORT.to_string()]);
        }
    }
    let mut process = Process::spawn(&mut command, server.name(), &log)?;
    // `ip netns exec`, nice, taskset and setpriv all exec: the PID is the
    // server's.
    std::thread::sleep(Duration::from_millis(300));
    process.check_running().with_context(|| {
        format!(
            "log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    })?;
    // Never measure a server that could change the clock.
    let status = std::fs::read_to_string(format!("/proc/{}/status", process.pid()))?;
    let effective = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .context("CapBnd")?;
    if effective & (1 << 25) != 0 {
        bail!(
            "{} still has CAP_SYS_TIME in its bounding set",
            server.name()
        );
    }
    Ok(process)
}

fn loadgen(ns: &Netns, tools: &Tools, cpu: u32, args: &[String]) -> Command {
    let mut command = ns.command(cpu, &tools.loadgen);
    command
        .arg("loadgen")
        .args(["--server", &format!("127.0.0.1:{BENCH_PORT}")])
        .args(args);
    command
}

/// Runs the generator to completion, sampling the server's RSS meanwhile;
/// returns the report and the largest RSS seen (kB).
fn run_load(
    ns: &Netns,
    tools: &Tools,
    cpu: u32,
    args: &[String],
    server: &mut Process,
) -> Result<(Report, u64)> {
    let mut child = loadgen(ns, tools, cpu, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the load generator")?;
    let mut rss = 0;
    let started = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(200) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the load generator did not finish");
        }
        if let Ok(kb) = status_kb(server.pid(), "VmRSS") {
            rss = rss.max(kb);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output()?;
    server.check_running()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("loadgen "))
        .with_context(|| format!("no report from the load generator: {stdout}"))?;
    Ok((Report::parse(line)?, rss))
}

/// A flood's RSS before, at its peak and after (kB), and the load report.
type Flood = (u64, u64, u64, Report);

#[derive(Default)]
struct Measured {
    closed_rate: Vec<f64>,
    closed_cpu_us: Vec<f64>,
    closed_loss: Vec<f64>,
    closed_p50: Vec<f64>,
    closed_p99: Vec<f64>,
    open_rate: Vec<f64>,
    open_cpu_us: Vec<f64>,
    open_loss: Vec<f64>,
    open_p50: Vec<f64>,
    open_p99: Vec<f64>,
    rss_idle_kb: Vec<f64>,
    rss_load_kb: Vec<f64>,
    unsynchronised: u64,
    kod: u64,
    flood: Option<Flood>,
}

fn loss(r: &Report) -> f64 {
    if r.sent == 0 {
        0.0
    } else {
        r.lost as f64 / r.sent as f64 * 100.0
    }
}

fn cpu_per_reply_us(cpu: f64, r: &Report) -> f64 {
    if r.answered == 0 {
        f64::NAN
    } else {
        cpu * 1e6 / r.answered as f64
    }
}

fn measure_round(
    server: Server,
    o: &ServerOptions,
    tools: &Tools,
    ns: &Netns,
    dir: &Path,
    m: &mut Measured,
) -> Result<()> {
    let mut process = start_server(server, tools, ns, o.server_cpu, dir)?;
    let (probe, _) = run_load(
        ns,
        tools,
        o.load_cpu,
        &["--probe".into(), "--seconds".into(), "20".into()],
        &mut process,
    )?;
    if probe.answered == 0 {
        bail!("{} did not answer", server.name());
    }
    std::thread::sleep(Duration::from_millis(500));
    m.rss_idle_kb
        .push(status_kb(process.pid(), "VmRSS")? as f64);

    // Closed loop: the most the server answers.
    let cpu0 = cpu_seconds(process.pid())?;
    let (closed, rss) = run_load(
        ns,
        tools,
        o.load_cpu,
        &[
            "--outstanding".into(),
            o.outstanding.to_string(),
            "--seconds".into(),
            o.seconds.to_string(),
            "--sources".into(),
            o.sources.to_string(),
        ],
        &mut process,
    )?;
    let cpu = cpu_seconds(process.pid())? - cpu0;
    m.rss_load_kb.push(rss as f64);
    m.closed_rate.push(closed.rate());
    m.closed_cpu_us.push(cpu_per_reply_us(cpu, &closed));
    m.closed_loss.push(loss(&closed));
    m.closed_p50.push(closed.p50_us);
    m.closed_p99.push(closed.p99_us);
    m.unsynchronised += closed.unsynchronised;
    m.kod += closed.kod;

    // Open loop at a fixed rate: CPU per reply at equal load.
    let cpu0 = cpu_seconds(process.pid())?;
    let (open, _) = run_load(
        ns,
        tools,
        o.load_cpu,
        &[
            "--rate".into(),
            o.rate.to_string(),
            "--seconds".into(),
            o.seconds.to_string(),
            "--sources".into(),
            o.sources.to_string(),
        ],
        &mut process,
    )?;
    let cpu = cpu_seconds(process.pid())? - cpu0;
    m.open_rate.push(open.rate());
    m.open_cpu_us.push(cpu_per_reply_us(cpu, &open));
    m.open_loss.push(loss(&open));
    m.open_p50.push(open.p50_us);
    m.open_p99.push(open.p99_us);
    m.unsynchronised += open.unsynchronised;
    m.kod += open.kod;
    Ok(())
}

/// One request from each of `o.flood_sources` addresses (closed loop);
/// returns the RSS before, the largest during, and after (kB).
fn flood(
    server: Server,
    o: &ServerOptions,
    tools: &Tools,
    ns: &Netns,
    dir: &Path,
) -> Result<Flood> {
    let mut process = start_server(server, tools, ns, o.server_cpu, dir)?;
    run_load(
        ns,
        tools,
        o.load_cpu,
        &["--probe".into(), "--seconds".into(), "20".into()],
        &mut process,
    )?;
    std::thread::sleep(Duration::from_millis(500));
    let before = status_kb(process.pid(), "VmRSS")?;
    let (report, peak) = run_load(
        ns,
        tools,
        o.load_cpu,
        &[
            "--outstanding".into(),
            o.outstanding.to_string(),
            "--seconds".into(),
            "60".into(),
            "--sources".into(),
            o.flood_sources.to_string(),
            "--max-requests".into(),
            o.flood_sources.to_string(),
        ],
        &mut process,
    )?;
    std::thread::sleep(Duration::from_millis(500));
    let after = status_kb(process.pid(), "VmRSS")?;
    Ok((before, peak.max(after), after, report))
}

fn find_program(name: &str, fallback: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| PathBuf::from(fallback))
}

/// `cargo xtask bench-server [--quick] [--rounds N] [--seconds S] ...`
pub fn bench_server(args: &[String]) -> Result<()> {
    let o = parse_server_options(args)?;
    let dir = TempDir::new("ntpctl-bench")?;
    let ntpctl = build_ntpctl()?;
    let responder = dir.0.join("responder");
    run(
        "gcc",
        &[
            "-O2",
            "-o",
            &responder.to_string_lossy(),
            &root().join("xtask/responder.c").to_string_lossy(),
        ],
    )?;
    let ntpsec_root =
        std::env::var("NTPSEC_ROOT").unwrap_or_else(|_| "/var/cache/ntpctl-ci/ntpsec".to_owned());
    let tools = Tools {
        ntpctl,
        responder,
        chronyd: find_program("chronyd", "/usr/sbin/chronyd"),
        ntpd: PathBuf::from(ntpsec_root).join("usr/sbin/ntpd"),
        loadgen: build_loadgen()?,
    };
    if o.servers.contains(&Server::Chronyd) && !tools.chronyd.is_file() {
        bail!("chronyd not found (apt-get install chrony, or --servers without it)");
    }
    if o.servers.contains(&Server::Ntpsec) && !tools.ntpd.is_file() {
        bail!(
            "NTPsec's ntpd not found at {} (set NTPSEC_ROOT, or --servers without it)",
            tools.ntpd.display()
        );
    }
    let ns = Netns::new()?;
    eprintln!(
        "bench-server: namespace {}, server on CPU {}, load on CPU {}, {} round(s) of {} s per server",
        ns.0, o.server_cpu, o.load_cpu, o.rounds, o.seconds
    );
    let mut measured: Vec<(Server, Measured)> = o
        .servers
        .iter()
        .map(|&s| (s, Measured::default()))
        .collect();
    for round in 0..o.rounds {
        // Interleaved, and a different server first in each round.
        for k in 0..measured.len() {
            let index = (k + round) % measured.len();
            let (server, m) = &mut measured[index];
            eprintln!("round {}: {}", round + 1, server.name());
            measure_round(*server, &o, &tools, &ns, &dir.0, m)
                .with_context(|| format!("measuring {}", server.name()))?;
        }
    }
    let mut flood_servers: Vec<Server> = o.servers.clone();
    if o.servers.contains(&Server::Ours) {
        flood_servers.push(Server::OursLimited);
    }
    let mut limited_flood = None;
    if o.flood_sources > 0 {
        for server in flood_servers {
            eprintln!(
                "flood from {} addresses: {}",
                o.flood_sources,
                server.name()
            );
            let result = flood(server, &o, &tools, &ns, &dir.0)
                .with_context(|| format!("flooding {}", server.name()))?;
            match measured.iter_mut().find(|(s, _)| *s == server) {
                Some((_, m)) => m.flood = Some(result),
                None => limited_flood = Some(result),
            }
        }
    }
    drop(ns);
    print!("{}", render(&o, &measured, limited_flood.as_ref()));
    Ok(())
}

fn render(
    o: &ServerOptions,
    measured: &[(Server, Measured)],
    limited_flood: Option<&Flood>,
) -> String {
    let mut out = String::new();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(
        out,
        "\n{date}, {cpus} CPUs, kernel {}; {} round(s) x {} s per server and mode, interleaved; \
         {} sources; server on CPU {}, generator on CPU {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        o.rounds,
        o.seconds,
        o.sources,
        o.server_cpu,
        o.load_cpu
    );
    let rate_of = |server: Server| {
        measured
            .iter()
            .find(|(s, _)| *s == server)
            .map(|(_, m)| median(&mut m.closed_rate.clone()))
    };
    let minimal = rate_of(Server::Minimal);
    let chronyd = rate_of(Server::Chronyd);
    let ratio = |value: f64, base: Option<f64>| match base {
        Some(b) if b > 0.0 => format!("{:.2}", value / b),
        _ => "-".to_owned(),
    };
    let _ = writeln!(
        out,
        "\nClosed loop, {} requests outstanding:\n",
        o.outstanding
    );
    let _ = writeln!(
        out,
        "| server | answered/s median (min-max) | x minimal | x chronyd | CPU us/reply | loss | p50 / p99 latency | RSS idle / under load |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (server, m) in measured {
        let mut rates = m.closed_rate.clone();
        let med = median(&mut rates);
        let min = rates.first().copied().unwrap_or(f64::NAN);
        let max = rates.last().copied().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "| {} | {:.0} ({:.0}-{:.0}) | {} | {} | {:.2} | {:.3}% | {:.0} / {:.0} us | {:.1} / {:.1} MB |",
            server.name(),
            med,
            min,
            max,
            ratio(med, minimal),
            ratio(med, chronyd),
            median(&mut m.closed_cpu_us.clone()),
            median(&mut m.closed_loss.clone()),
            median(&mut m.closed_p50.clone()),
            median(&mut m.closed_p99.clone()),
            median(&mut m.rss_idle_kb.clone()) / 1024.0,
            median(&mut m.rss_load_kb.clone()) / 1024.0,
        );
    }
    let minimal_cpu = measured
        .iter()
        .find(|(s, _)| *s == Server::Minimal)
        .map(|(_, m)| median(&mut m.open_cpu_us.clone()));
    let _ = writeln!(out, "\nOpen loop, {} requests/s offered:\n", o.rate);
    let _ = writeln!(
        out,
        "| server | answered/s | CPU us/reply | x minimal | loss | p50 / p99 latency |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- |");
    for (server, m) in measured {
        let cpu = median(&mut m.open_cpu_us.clone());
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {} | {:.3}% | {:.0} / {:.0} us |",
            server.name(),
            median(&mut m.open_rate.clone()),
            cpu,
            ratio(cpu, minimal_cpu),
            median(&mut m.open_loss.clone()),
            median(&mut m.open_p50.clone()),
            median(&mut m.open_p99.clone()),
        );
    }
    let floods: Vec<(&str, &Flood)> = measured
        .iter()
        .filter_map(|(s, m)| m.flood.as_ref().map(|f| (s.name(), f)))
        .chain(limited_flood.map(|f| (Server::OursLimited.name(), f)))
        .collect();
    if !floods.is_empty() {
        let _ = writeln!(
            out,
            "\nFlood: one request from each of {} distinct addresses (closed loop):\n",
            o.flood_sources
        );
        let _ = writeln!(out, "| server | answered | RSS before | peak | after |");
        let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
        for (name, (before, peak, after, report)) in floods {
            let _ = writeln!(
                out,
                "| {name} | {} of {} | {:.1} MB | {:.1} MB | {:.1} MB |",
                report.answered,
                report.sent,
                *before as f64 / 1024.0,
                *peak as f64 / 1024.0,
                *after as f64 / 1024.0,
            );
        }
    }
    for (server, m) in measured {
        if m.unsynchronised > 0 || m.kod > 0 {
            let _ = writeln!(
                out,
                "\nnote: {} sent {} unsynchronised replies (counted as answered) and {} KoD (not counted)",
                server.name(),
                m.unsynchronised,
                m.kod
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------
// bench-sync

struct SyncOptions {
    rounds: usize,
    idle_seconds: u64,
    timeout: Duration,
}

fn parse_sync_options(args: &[String]) -> Result<SyncOptions> {
    let mut o = SyncOptions {
        rounds: 3,
        idle_seconds: 120,
        timeout: Duration::from_secs(120),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => {
                o.rounds = 1;
                o.idle_seconds = 20;
            }
            "--rounds" => o.rounds = value()?.parse()?,
            "--idle-seconds" => o.idle_seconds = value()?.parse()?,
            other => bail!("bench-sync: unknown argument {other:?}"),
        }
    }
    if o.rounds == 0 || o.rounds > 20 || o.idle_seconds > 3600 {
        bail!("--rounds 1 to 20, --idle-seconds at most 3600");
    }
    Ok(o)
}

fn free_port_on(ip: &str) -> Result<u16> {
    Ok(std::net::UdpSocket::bind((ip, 0))?.local_addr()?.port())
}

/// Our server daemons on 127.0.0.1..=127.0.0.N at one port.
fn start_our_servers(ntpctl: &Path, dir: &Path, count: u8) -> Result<(u16, Vec<Process>)> {
    let port = free_port_on("127.0.0.1")?;
    let conf = dir.join("server.conf");
    std::fs::write(&conf, "tos orphan 5 orphanwait 0\n")?;
    let mut servers = Vec::new();
    for i in 1..=count {
        let mut command = Command::new("setpriv");
        command
            .args(SETPRIV)
            .arg(ntpctl)
            .arg("run")
            .arg("-c")
            .arg(&conf)
            .args([
                "--no-adjust",
                "--listen",
                &format!("127.0.0.{i}:{port}"),
                "--control",
            ])
            .arg(dir.join(format!("server{i}.sock")));
        servers.push(Process::spawn(
            &mut command,
            "ntpctl server",
            &dir.join(format!("server{i}.log")),
        )?);
    }
    std::thread::sleep(Duration::from_millis(500));
    for s in &mut servers {
        s.check_running()?;
    }
    Ok((port, servers))
}

fn our_client(
    ntpctl: &Path,
    dir: &Path,
    tag: &str,
    servers: &[String],
) -> Result<(Process, PathBuf)> {
    let conf = dir.join(format!("{tag}.conf"));
    std::fs::write(&conf, servers.concat())?;
    let control = dir.join(format!("{tag}.sock"));
    let port = free_port_on("127.0.0.1")?;
    let mut command = Command::new("setpriv");
    command
        .args(SETPRIV)
        .arg(ntpctl)
        .arg("run")
        .arg("-c")
        .arg(&conf)
        .args([
            "--no-adjust",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--control",
        ])
        .arg(&control);
    let process = Process::spawn(
        &mut command,
        "ntpctl client",
        &dir.join(format!("{tag}.log")),
    )?;
    Ok((process, control))
}

fn chronyd_client(dir: &Path, tag: &str, servers: &[String]) -> Result<(Process, PathBuf)> {
    let conf = dir.join(format!("{tag}.conf"));
    // chronyd wants its command socket in a folder only its user can enter.
    let private = dir.join(format!("{tag}.d"));
    std::fs::create_dir_all(&private)?;
    std::fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )?;
    let socket = private.join("chronyd.sock");
    std::fs::write(
        &conf,
        format!(
            "{}port 0\ncmdport 0\nbindcmdaddress {}\npidfile {}\n",
            servers.concat(),
            socket.display(),
            dir.join(format!("{tag}.pid")).display()
        ),
    )?;
    let mut command = Command::new("setpriv");
    command
        .args(SETPRIV)
        .arg(find_program("chronyd", "/usr/sbin/chronyd"))
        .args(["-x", "-d", "-u", "root", "-f"])
        .arg(&conf);
    let process = Process::spawn(
        &mut command,
        "chronyd client",
        &dir.join(format!("{tag}.log")),
    )?;
    Ok((process, socket))
}

/// Whether our client has a system peer (`*`) within 1 ms.
fn ours_synced(ntpctl: &Path, control: &Path) -> bool {
    let Ok(out) = Command::new(ntpctl)
        .args(["peers", "--json", "--control"])
        .arg(control)
        .output()
    else {
        return false;
    };
    let text: String = String::from_utf8_lossy(&out.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    // A tiny scan of the JSON array: an object with "tally":"*" and its offset.
    text.split('}').any(|object| {
        object.contains("\"tally\":\"*\"")
            && object
                .split("\"offset\":")
                .nth(1)
                .and_then(|v| v.split([',', '}']).next())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .is_some_and(|offset| offset.abs() < 0.001)
    })
}

/// Whether chronyd has a selected source (`*`) within 1 ms
/// (`chronyc -c sources`: mode,state,name,stratum,poll,reach,lastrx,
/// adjusted offset,measured offset,error; the adjusted offset is the one
/// `chronyc sources` shows).
fn chronyd_synced(socket: &Path) -> bool {
    let Ok(out) = Command::new(find_program("chronyc", "/usr/bin/chronyc"))
        .arg("-h")
        .arg(socket)
        .args(["-n", "-c", "sources"])
        .output()
    else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout).lines().any(|line| {
        let f: Vec<&str> = line.split(',').collect();
        f.len() >= 9 && f[1] == "*" && f[7].parse::<f64>().is_ok_and(|offset| offset.abs() < 0.001)
    })
}

fn time_to_sync(
    process: &mut Process,
    timeout: Duration,
    synced: impl Fn() -> bool,
) -> Result<f64> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if synced() {
            return Ok(start.elapsed().as_secs_f64());
        }
        process.check_running()?;
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{} did not synchronise within {timeout:?}", process.name)
}

/// `cargo xtask bench-sync [--quick] [--rounds N] [--idle-seconds S]`
pub fn bench_sync(args: &[String]) -> Result<()> {
    let o = parse_sync_options(args)?;
    let ntpctl = build_ntpctl()?;
    let dir = TempDir::new("ntpctl-bench-sync")?;
    let (port, _servers) = start_our_servers(&ntpctl, &dir.0, 4)?;
    let one = vec![format!("server 127.0.0.1 port {port} iburst\n")];
    let mut ours = Vec::new();
    let mut chrony = Vec::new();
    for round in 0..o.rounds {
        for k in 0..2 {
            let tag = format!("sync{round}-{k}");
            if (k + round) % 2 == 0 {
                let (mut p, control) = our_client(&ntpctl, &dir.0, &tag, &one)?;
                let t = time_to_sync(&mut p, o.timeout, || ours_synced(&ntpctl, &control))?;
                eprintln!("round {}: ntpctl synchronised in {t:.1} s", round + 1);
                ours.push(t);
            } else {
                let (mut p, socket) = chronyd_client(&dir.0, &tag, &one)?;
                let t = time_to_sync(&mut p, o.timeout, || chronyd_synced(&socket))?;
                eprintln!("round {}: chronyd synchronised in {t:.1} s", round + 1);
                chrony.push(t);
            }
        }
    }
    // Idle CPU: both clients at once, each with the four servers.
    let four: Vec<String> = (1..=4)
        .map(|i| format!("server 127.0.0.{i} port {port} iburst\n"))
        .collect();
    eprintln!(
        "idle CPU: both clients with 4 servers for {} s",
        o.idle_seconds
    );
    let (mut our_idle, _) = our_client(&ntpctl, &dir.0, "idle-ours", &four)?;
    let (mut chrony_idle, _) = chronyd_client(&dir.0, "idle-chronyd", &four)?;
    let cpu0 = (
        cpu_seconds(our_idle.pid())?,
        cpu_seconds(chrony_idle.pid())?,
    );
    std::thread::sleep(Duration::from_secs(o.idle_seconds));
    our_idle.check_running()?;
    chrony_idle.check_running()?;
    let cpu = (
        cpu_seconds(our_idle.pid())? - cpu0.0,
        cpu_seconds(chrony_idle.pid())? - cpu0.1,
    );
    let rss = (
        status_kb(our_idle.pid(), "VmRSS")?,
        status_kb(chrony_idle.pid(), "VmRSS")?,
    );
    let range = |v: &[f64]| {
        let mut v = v.to_vec();
        let med = median(&mut v);
        format!(
            "{med:.1} s ({:.1}-{:.1})",
            v.first().copied().unwrap_or(f64::NAN),
            v.last().copied().unwrap_or(f64::NAN)
        )
    };
    println!(
        "\nTime to first `*` within 1 ms, iburst, one loopback server (ntpctl, orphan stratum 5); {} round(s), interleaved:\n",
        o.rounds
    );
    println!("| client | time to sync median (min-max) |");
    println!("| --- | --- |");
    println!("| ntpctl run --no-adjust | {} |", range(&ours));
    println!("| chronyd -x | {} |", range(&chrony));
    println!(
        "\nIdle client with 4 servers, CPU time over {} s from start (clock ticks of 10 ms):\n",
        o.idle_seconds
    );
    println!("| client | CPU | RSS |");
    println!("| --- | --- | --- |");
    println!(
        "| ntpctl run --no-adjust | {:.2} s | {:.1} MB |",
        cpu.0,
        rss.0 as f64 / 1024.0
    );
    println!(
        "| chronyd -x | {:.2} s | {:.1} MB |",
        cpu.1,
        rss.1 as f64 / 1024.0
    );
    Ok(())
}
