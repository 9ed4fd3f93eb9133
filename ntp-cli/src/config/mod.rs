//! The `ntp.conf` parser: the reference implementation's configuration
//! syntax, as users already know it, into typed values.
//!
//! Supported commands: `server`, `pool`, `peer`, `broadcast`,
//! `manycastclient` (with the options `iburst`, `burst`, `prefer`,
//! `preempt`, `minpoll`, `maxpoll`, `key`, `version`, `noselect`, `true`,
//! `mode`, `ttl`, `port`, `xmtnonce`), `manycastserver`, `broadcastclient`,
//! `multicastclient`, `broadcastdelay`, `tos`, `ttl`, `tinker`, `driftfile`,
//! `leapfile`, `keys`, `trustedkey`, `controlkey`, `requestkey`, `restrict`,
//! `discard`, `enable`/`disable`, `statsdir`, `statistics`, `filegen`,
//! `interface`, `includefile`, reference clocks in both forms (`server
//! 127.127.T.U` + `fudge`, and NTPsec's `refclock NAME ...`), and `logfile`.
//!
//! Every error names the file, the line and what was expected.
//!
//! ```
//! use ntp_cli::config::{AssociationKind, Config};
//!
//! let config = Config::parse_str("server ntp.example iburst\ntos minclock 4\n", "ntp.conf").unwrap();
//! assert_eq!(config.associations[0].kind, AssociationKind::Server);
//! assert!(config.associations[0].options.iburst);
//! assert_eq!(config.tos.minclock, Some(4));
//! ```

mod parse;
mod refclock;

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

pub use refclock::{RefclockConfig, RefclockDriver};

/// The default configuration used without `-c`: four pool servers with
/// iburst, as distributions ship ntpd.
pub const DEFAULT_CONFIG: &str = "\
# ntpctl built-in default configuration (print it with --print-default-config)
pool 0.pool.ntp.org iburst
pool 1.pool.ntp.org iburst
pool 2.pool.ntp.org iburst
pool 3.pool.ntp.org iburst
driftfile /var/lib/ntpctl/ntp.drift
restrict default kod limited nomodify nopeer noquery
restrict 127.0.0.1
restrict ::1
";

/// A configuration error: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct ConfigError {
    /// The file (or a name given to text parsed from memory).
    pub file: PathBuf,
    /// The line number, from 1 (0 when the file itself cannot be read).
    pub line: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

/// The parsed configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// `server`, `pool`, `peer`, `broadcast` and `manycastclient` lines
    /// (reference clocks excluded).
    pub associations: Vec<AssociationConfig>,
    /// Reference clocks, from either configuration form.
    pub refclocks: Vec<RefclockConfig>,
    /// `broadcastclient`: listen for broadcast servers.
    pub broadcast_client: bool,
    /// `broadcastclient novolley`: skip the calibration volley.
    pub broadcast_novolley: bool,
    /// `multicastclient` group addresses.
    pub multicast_client: Vec<IpAddr>,
    /// `manycastserver` group addresses.
    pub manycast_server: Vec<IpAddr>,
    /// `broadcastdelay` in seconds.
    pub broadcast_delay: Option<f64>,
    /// `tos` settings.
    pub tos: TosConfig,
    /// `tinker` settings.
    pub tinker: TinkerConfig,
    /// `ttl` list for manycast and broadcast (index = ttl option value).
    pub ttl: Vec<u8>,
    /// `driftfile` path.
    pub driftfile: Option<PathBuf>,
    /// `discipline rfc5905|regression` (an ntpctl extension): the daemon
    /// loop; `None` is the default, RFC 5905's PLL/FLL.
    pub discipline: Option<ntp_discipline::config::LoopAlgorithm>,
    /// `leapfile` path.
    pub leapfile: Option<PathBuf>,
    /// `keys` path.
    pub keys_file: Option<PathBuf>,
    /// `trustedkey` ranges.
    pub trusted_keys: Vec<RangeInclusive<u32>>,
    /// `controlkey` (mode 6 authentication).
    pub control_key: Option<u32>,
    /// `requestkey` (mode 7 authentication).
    pub request_key: Option<u32>,
    /// `restrict` lines, in order.
    pub restrictions: Vec<Restriction>,
    /// `discard` settings.
    pub discard: DiscardConfig,
    /// `enable`/`disable` flags.
    pub flags: SystemFlags,
    /// `statsdir`.
    pub statsdir: Option<PathBuf>,
    /// Statistics named by `statistics` (and enabled `filegen` lines).
    pub statistics: Vec<String>,
    /// `filegen` lines.
    pub filegen: Vec<FilegenConfig>,
    /// `interface` rules, in order.
    pub interfaces: Vec<InterfaceRule>,
    /// `logfile`.
    pub logfile: Option<PathBuf>,
}

/// Which command mobilised an association.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssociationKind {
    /// `server`: a client association (persistent, or preemptable with `preempt`).
    Server,
    /// `pool`: one name, several preemptable client associations.
    Pool,
    /// `peer`: a symmetric active association.
    Peer,
    /// `broadcast`: a broadcast or multicast server association.
    Broadcast,
    /// `manycastclient`: a manycast client association for a group.
    ManycastClient,
}

impl AssociationKind {
    /// The configuration command.
    pub const fn command(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Pool => "pool",
            Self::Peer => "peer",
            Self::Broadcast => "broadcast",
            Self::ManycastClient => "manycastclient",
        }
    }
}

/// A `server`/`pool`/`peer`/`broadcast`/`manycastclient` line.
#[derive(Clone, Debug, PartialEq)]
pub struct AssociationConfig {
    /// The command.
    pub kind: AssociationKind,
    /// The host name or address as written.
    pub address: String,
    /// The options.
    pub options: ServerOptions,
    /// The line it came from, for messages.
    pub line: usize,
}

/// Options of the association commands.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerOptions {
    /// `iburst`.
    pub iburst: bool,
    /// `burst`.
    pub burst: bool,
    /// `prefer`.
    pub prefer: bool,
    /// `preempt`.
    pub preempt: bool,
    /// `noselect`.
    pub noselect: bool,
    /// `true`.
    pub truechimer: bool,
    /// `xmtnonce`.
    pub xmtnonce: bool,
    /// `minpoll` (3 to 17).
    pub minpoll: Option<i8>,
    /// `maxpoll` (3 to 17).
    pub maxpoll: Option<i8>,
    /// `key` (1 to 65535).
    pub key: Option<u32>,
    /// `version` (1 to 4, default 4).
    pub version: u8,
    /// `ttl` (broadcast, manycast).
    pub ttl: Option<u8>,
    /// `mode` (reference clocks; accepted and kept for other lines).
    pub mode: Option<u32>,
    /// `port` (default 123).
    pub port: u16,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            iburst: false,
            burst: false,
            prefer: false,
            preempt: false,
            noselect: false,
            truechimer: false,
            xmtnonce: false,
            minpoll: None,
            maxpoll: None,
            key: None,
            version: 4,
            ttl: None,
            mode: None,
            port: 123,
        }
    }
}

/// `tos` settings; `None` keeps the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TosConfig {
    /// `ceiling` stratum.
    pub ceiling: Option<u8>,
    /// `cohort` (0 or 1).
    pub cohort: Option<bool>,
    /// `floor` stratum.
    pub floor: Option<u8>,
    /// `orphan` stratum.
    pub orphan: Option<u8>,
    /// `orphanwait` seconds.
    pub orphanwait: Option<f64>,
    /// `mindist` seconds.
    pub mindist: Option<f64>,
    /// `maxdist` seconds.
    pub maxdist: Option<f64>,
    /// `minclock`.
    pub minclock: Option<usize>,
    /// `maxclock`.
    pub maxclock: Option<usize>,
    /// `minsane`.
    pub minsane: Option<usize>,
    /// `beacon` seconds.
    pub beacon: Option<f64>,
}

/// `tinker` settings; `None` keeps the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TinkerConfig {
    /// `allan` intercept, seconds.
    pub allan: Option<f64>,
    /// `dispersion` rate (PHI), s/s.
    pub dispersion: Option<f64>,
    /// `freq`: initial frequency offset, ppm.
    pub freq: Option<f64>,
    /// `huffpuff` window, seconds.
    pub huffpuff: Option<f64>,
    /// `panic` threshold, seconds (0 disables the check).
    pub panic: Option<f64>,
    /// `step` threshold, seconds (0 disables steps).
    pub step: Option<f64>,
    /// `stepout` interval, seconds.
    pub stepout: Option<f64>,
}

/// What a `restrict` line matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestrictTarget {
    /// `default` (with `-4`/`-6`: one family only; `None` both).
    Default(Option<IpFamily>),
    /// `source`: the addresses of configured associations.
    Source,
    /// An address and mask.
    Network {
        /// The address.
        address: IpAddr,
        /// Prefix length in bits.
        prefix_len: u8,
    },
}

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// A `restrict` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restriction {
    /// What it matches.
    pub target: RestrictTarget,
    /// The flags (`ignore`, `kod`, `limited`, `nomodify`, `noquery`,
    /// `nopeer`, `noserve`, `notrust`, ...), as written.
    pub flags: Vec<RestrictFlag>,
    /// `ippeerlimit`.
    pub ippeerlimit: Option<u32>,
}

/// A restriction flag (accopt.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RestrictFlag {
    /// `ignore`: deny packets of all kinds.
    Ignore,
    /// `kod`: send a KoD RATE when a packet is dropped for rate limits.
    Kod,
    /// `limited`: apply the `discard` rate limits.
    Limited,
    /// `lowpriotrap`.
    LowPrioTrap,
    /// `mssntp`.
    Mssntp,
    /// `noepeer`: no ephemeral peer associations.
    NoEpeer,
    /// `nomodify`: no runtime configuration changes.
    NoModify,
    /// `noquery`: no mode 6/7 queries.
    NoQuery,
    /// `nopeer`: no new associations mobilised by packets.
    NoPeer,
    /// `noserve`: no time service (mode 6/7 still allowed).
    NoServe,
    /// `notrap`.
    NoTrap,
    /// `notrust`: only authenticated packets.
    NoTrust,
    /// `ntpport`: match only packets from port 123.
    NtpPort,
    /// `version`: deny packets of other versions.
    Version,
    /// `flake`: drop 10% of packets (testing).
    Flake,
}

/// `discard` settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiscardConfig {
    /// `average`: log2 of the minimum average headway, seconds.
    pub average: Option<u8>,
    /// `minimum`: minimum headway, seconds.
    pub minimum: Option<u32>,
    /// `monitor`: probability of monitoring a packet.
    pub monitor: Option<f64>,
}

/// `enable`/`disable` flags with the reference implementation's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemFlags {
    /// `auth`: require authentication to mobilise ephemeral associations (default on).
    pub auth: bool,
    /// `bclient`: broadcast client (default off).
    pub bclient: bool,
    /// `calibrate` (default off).
    pub calibrate: bool,
    /// `kernel`: kernel clock discipline (default off here; the daemon's own loop).
    pub kernel: bool,
    /// `mode7` (default off).
    pub mode7: bool,
    /// `monitor` (default on).
    pub monitor: bool,
    /// `ntp`: discipline the clock (default on).
    pub ntp: bool,
    /// `stats`: write statistics files (default on).
    pub stats: bool,
}

impl Default for SystemFlags {
    fn default() -> Self {
        Self {
            auth: true,
            bclient: false,
            calibrate: false,
            kernel: false,
            mode7: false,
            monitor: true,
            ntp: true,
            stats: true,
        }
    }
}

/// A `filegen` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilegenConfig {
    /// The statistics name (`peerstats`, `loopstats`, ...).
    pub name: String,
    /// `file` prefix.
    pub file: Option<String>,
    /// `type` (none, pid, day, week, month, year, age).
    pub file_type: Option<String>,
    /// `link`/`nolink`.
    pub link: Option<bool>,
    /// `enable`/`disable`.
    pub enable: Option<bool>,
}

/// An `interface` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceRule {
    /// `listen`, `ignore` or `drop`.
    pub action: InterfaceAction,
    /// `all`, `ipv4`, `ipv6`, `wildcard`, a name, or an address[/prefix].
    pub target: String,
}

/// What an `interface` rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterfaceAction {
    /// Listen on matching addresses.
    Listen,
    /// Do not open sockets on matching addresses.
    Ignore,
    /// Open, but drop what arrives.
    Drop,
}

impl Config {
    /// Parses configuration text; `name` is used in error messages and as
    /// the base for relative `includefile` paths.
    pub fn parse_str(text: &str, name: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        parse::parse_into(&mut config, text, name.as_ref(), 0)?;
        parse::finish(&mut config, name.as_ref())?;
        Ok(config)
    }

    /// Reads and parses a configuration file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
            file: path.to_owned(),
            line: 0,
            message: format!("cannot read the file: {err}"),
        })?;
        Self::parse_str(&text, path)
    }

    /// The built-in default configuration.
    pub fn default_config() -> Result<Self, ConfigError> {
        Self::parse_str(DEFAULT_CONFIG, "(built-in default)")
    }
}
