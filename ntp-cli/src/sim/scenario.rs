//! Scenario files: the nodes, their clocks and configurations, the network,
//! and the bounds a run must stay within.
//!
//! A scenario is a JSON document (the files live in `testdata/sim/`):
//!
//! ```json
//! {
//!   "name": "single-server-100us",
//!   "description": "one client, one stratum-1 server, 100 us jitter",
//!   "seed": 1,
//!   "duration": 86400, "test_duration": 21600, "settle": 7200,
//!   "nodes": [
//!     {"name": "server", "address": "10.0.0.1", "reference": {}},
//!     {"name": "client", "address": "10.0.0.2", "config": "server server iburst",
//!      "clock": {"frequency_ppm": 20, "wander_ppb_s": 1, "offset": 0.05}}
//!   ],
//!   "default_link": {"delay": 0.0001, "jitter": {"kind": "exponential", "scale": 0.0001}},
//!   "bounds": [{"nodes": "client", "rms_offset": 0.0002}]
//! }
//! ```
//!
//! Node names in bounds, links and groups may end in `*` to match every
//! node whose name starts with what comes before it. A node with
//! `"count": N` stands for N nodes named `NAME-1` to `NAME-N` with
//! consecutive addresses. In `config` (an `ntp.conf` text), a node name
//! may stand where an address goes; `pool PATTERN` mobilises up to
//! `maxclock` matches and `server`/`peer PATTERN*` every match but the node
//! itself.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A whole scenario.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name.
    pub name: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// The seed of every random choice of a run.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated seconds of a full run (`cargo xtask sim`).
    pub duration: f64,
    /// Simulated seconds of the run in debug test builds (defaults to
    /// `duration`).
    #[serde(default)]
    pub test_duration: Option<f64>,
    /// Seconds after which the clocks count as settled (RMS and maximum
    /// offset are taken after it unless a bound gives its own window).
    #[serde(default)]
    pub settle: f64,
    /// Seconds between two records (1 by default).
    #[serde(default = "default_record_every")]
    pub record_every: f64,
    /// The nodes.
    pub nodes: Vec<NodeSpec>,
    /// The link between any two nodes not named in `links` (none: they
    /// cannot reach each other).
    #[serde(default)]
    pub default_link: Option<LinkSpec>,
    /// Links between named nodes.
    #[serde(default)]
    pub links: Vec<LinkRule>,
    /// Broadcast and multicast groups.
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
    /// What a run must achieve.
    #[serde(default)]
    pub bounds: Vec<Bound>,
}

fn default_seed() -> u64 {
    1
}

fn default_record_every() -> f64 {
    1.0
}

/// One node (or `count` alike nodes).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// The name (with `count`, the prefix of `NAME-1` ... `NAME-N`).
    pub name: String,
    /// The address (with `count`, the first one).
    pub address: IpAddr,
    /// How many nodes this entry stands for.
    #[serde(default = "one")]
    pub count: usize,
    /// The `ntp.conf` text.
    #[serde(default)]
    pub config: String,
    /// A perfect reference clock (a GPS receiver) attached to this node,
    /// making it a stratum-1 server.
    #[serde(default)]
    pub reference: Option<ReferenceSpec>,
    /// The node's own clock.
    #[serde(default)]
    pub clock: ClockSpec,
    /// Whether the node disciplines its clock (default: yes, except for
    /// nodes with a reference, whose clock is perfect).
    #[serde(default)]
    pub adjust: Option<bool>,
    /// The frequency file's value, PPM (none: no frequency file).
    #[serde(default)]
    pub drift_ppm: Option<f64>,
    /// Periods when the node is cut off the network.
    #[serde(default)]
    pub down: Schedule,
}

fn one() -> usize {
    1
}

/// A reference clock that reads true time plus `offset`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// The error of the reference, seconds (a falseticker has a large one).
    #[serde(default)]
    pub offset: f64,
    /// A slow walk of the reference (a spoofed GPS receiver): from
    /// `ramp_from` seconds on, its error grows by this many PPM (1e-6 s a
    /// second). A node that disciplines its clock (`"adjust": true`) to
    /// such a reference serves time walking away at that rate.
    #[serde(default)]
    pub ramp_ppm: f64,
    /// When the walk of `ramp_ppm` starts, seconds.
    #[serde(default)]
    pub ramp_from: f64,
}

impl ReferenceSpec {
    /// The error of the reference at `t` seconds after the start.
    pub fn error_at(&self, t: f64) -> f64 {
        self.offset + self.ramp_ppm * 1e-6 * (t - self.ramp_from).max(0.0)
    }
}

/// The parameters of a node's simulated clock.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    /// The intrinsic frequency error, PPM.
    #[serde(default)]
    pub frequency_ppm: f64,
    /// With `count`, each node's frequency error is drawn uniformly within
    /// `frequency_ppm` +/- this, PPM.
    #[serde(default)]
    pub frequency_spread_ppm: f64,
    /// Random-walk wander: the standard deviation of the frequency change
    /// over one second, in ppb (1e-9 s/s) per second.
    #[serde(default)]
    pub wander_ppb_s: f64,
    /// The error at the start, seconds.
    #[serde(default)]
    pub offset: f64,
    /// The reading resolution, seconds.
    #[serde(default = "default_resolution")]
    pub resolution: f64,
    /// Jumps of the clock: `[time, seconds]` makes the clock jump by
    /// `seconds` at simulated `time` (a server whose time is set wrong).
    #[serde(default)]
    pub jumps: Vec<[f64; 2]>,
}

fn default_resolution() -> f64 {
    1e-9
}

impl Default for ClockSpec {
    fn default() -> Self {
        Self {
            frequency_ppm: 0.0,
            frequency_spread_ppm: 0.0,
            wander_ppb_s: 0.0,
            offset: 0.0,
            resolution: default_resolution(),
            jumps: Vec::new(),
        }
    }
}

/// Times when something is down: explicit intervals, and optionally a
/// periodic pattern that is up only `up` seconds of every `period`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// `[start, end)` intervals, seconds.
    #[serde(default)]
    pub intervals: Vec<[f64; 2]>,
    /// The period of the periodic pattern, seconds.
    #[serde(default)]
    pub period: Option<f64>,
    /// Seconds up at the start of each period.
    #[serde(default)]
    pub up: Option<f64>,
}

impl Schedule {
    /// Whether the schedule says down at `t`.
    pub fn is_down(&self, t: f64) -> bool {
        if self.intervals.iter().any(|[a, b]| t >= *a && t < *b) {
            return true;
        }
        match (self.period, self.up) {
            (Some(period), Some(up)) if period > 0.0 => t.rem_euclid(period) >= up,
            _ => false,
        }
    }
}

/// The distribution of the variable part of a one-way delay.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Jitter {
    /// No variation.
    #[default]
    None,
    /// `scale` times a standard normal number (the total delay is kept
    /// non-negative).
    Normal {
        /// The standard deviation, seconds.
        scale: f64,
    },
    /// An exponential number of mean `scale` (queueing delays).
    Exponential {
        /// The mean, seconds.
        scale: f64,
    },
}

/// The properties of a link.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// The fixed one-way delay, seconds.
    #[serde(default)]
    pub delay: f64,
    /// How much longer the first-named side's direction is than the way
    /// back, seconds (the fixed delays are `delay +/- asymmetry / 2`).
    #[serde(default)]
    pub asymmetry: f64,
    /// The variable part of the delay, drawn for each packet.
    #[serde(default)]
    pub jitter: Jitter,
    /// The probability that a packet is lost.
    #[serde(default)]
    pub loss: f64,
    /// When the link is down.
    #[serde(default)]
    pub down: Schedule,
    /// Delays added to the direction from the first-named side to the
    /// second (a man in the middle holding packets back) during given
    /// periods.
    #[serde(default)]
    pub added_delay: Vec<AddedDelay>,
}

/// A delay added to one direction of a link from `start` to `end`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddedDelay {
    /// When it starts, seconds.
    pub start: f64,
    /// When it ends, seconds (none: never).
    #[serde(default)]
    pub end: Option<f64>,
    /// The added delay, seconds.
    pub delay: f64,
}

impl LinkSpec {
    /// The delay added at `t` to the direction from the first-named side
    /// to the second, seconds.
    pub fn added_delay_at(&self, t: f64) -> f64 {
        self.added_delay
            .iter()
            .filter(|a| t >= a.start && a.end.is_none_or(|end| t < end))
            .map(|a| a.delay)
            .sum()
    }
}

/// A link between two sets of nodes (both directions).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRule {
    /// The two sides, as node names or patterns; `asymmetry` slows the
    /// direction from the first to the second.
    pub between: [String; 2],
    /// The link.
    #[serde(flatten)]
    pub link: LinkSpec,
}

/// A broadcast or multicast address and the nodes that hear it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// The group (or broadcast) address.
    pub address: IpAddr,
    /// The member nodes (names or patterns).
    pub members: Vec<String>,
}

/// What the nodes matching `nodes` must achieve; each field that is set is
/// checked, over `window` (default: from `settle` to the end).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bound {
    /// The nodes (a name or pattern).
    pub nodes: String,
    /// `[start, end]` seconds; negative values count from the end of the
    /// run.
    #[serde(default)]
    pub window: Option<[f64; 2]>,
    /// The largest RMS true offset of each node, seconds.
    #[serde(default)]
    pub rms_offset: Option<f64>,
    /// The largest absolute true offset of each node, seconds.
    #[serde(default)]
    pub max_offset: Option<f64>,
    /// Each node must be within 1 ms of true time, with a system peer, by
    /// this many seconds after the start.
    #[serde(default)]
    pub sync_within: Option<f64>,
    /// The mean true offset of each node lies within `[low, high]`,
    /// seconds.
    #[serde(default)]
    pub mean_offset: Option<[f64; 2]>,
    /// The largest RMS frequency error, PPM.
    #[serde(default)]
    pub rms_frequency_ppm: Option<f64>,
    /// The largest difference between the offsets of any two of the nodes
    /// at any record, seconds.
    #[serde(default)]
    pub spread: Option<f64>,
    /// The nodes never pick one of these (a pattern) as system peer.
    #[serde(default)]
    pub never_select: Option<String>,
    /// The nodes pick one of these (a pattern) as system peer in at least
    /// `select_fraction` of the records.
    #[serde(default)]
    pub selects: Option<String>,
    /// See `selects` (default 0.9).
    #[serde(default)]
    pub select_fraction: Option<f64>,
    /// The advertised stratum stays within `[low, high]`.
    #[serde(default)]
    pub stratum: Option<[u8; 2]>,
    /// The fraction of records with a system peer (or as orphan parent:
    /// a stratum below 16) is at least this.
    #[serde(default)]
    pub synced_fraction: Option<f64>,
}

impl Scenario {
    /// Parses a scenario from JSON text.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The scenario with its test duration in place of its duration (bound
    /// windows with negative ends follow the end of the run).
    pub fn shortened(&self) -> Self {
        let mut s = self.clone();
        if let Some(d) = self.test_duration {
            s.duration = d;
        }
        s
    }
}

/// Whether `name` matches `pattern` (a name, or a prefix followed by `*`).
pub fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}
