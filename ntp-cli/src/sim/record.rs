//! What a simulation records, its summary, and the check of a scenario's
//! bounds.
//!
//! Every record (one per node per recorded second) holds the node's true
//! clock error (clock minus true time), its true frequency error (intrinsic
//! error with wander plus the correction in force), its system peer and the
//! stratum it advertises. [`Recording::write_csv`] writes them one line a
//! node a second (`time,node,offset,frequency_ppm,peer,stratum`; offsets
//! in seconds); [`Recording::to_json`] gives one object a node with a
//! column for each field.

use std::io::{self, Write};

use serde::Serialize;

use super::scenario::{Bound, Scenario, matches};

/// The peer column of a node without a system peer.
pub const NO_PEER: i32 = -1;
/// The peer column of a node synchronised to its reference clock.
pub const REFCLOCK: i32 = -2;
/// The peer column of a system peer whose address is no node's.
pub const UNKNOWN_PEER: i32 = -3;

/// One node at one second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Record {
    /// Seconds since the start.
    pub time: u32,
    /// The true clock error, seconds.
    pub offset: f64,
    /// The true frequency error, PPM.
    pub frequency_ppm: f64,
    /// The system peer: a node index, or [`NO_PEER`], [`REFCLOCK`],
    /// [`UNKNOWN_PEER`].
    pub peer: i32,
    /// The advertised stratum (16: unsynchronised).
    pub stratum: u8,
}

/// Every record of a run, by node.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    names: Vec<String>,
    records: Vec<Vec<Record>>,
}

/// The measurements of one node over a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WindowStats {
    /// How many records.
    pub records: usize,
    /// RMS of the true offset, seconds.
    pub rms_offset: f64,
    /// Largest absolute true offset, seconds.
    pub max_offset: f64,
    /// Mean true offset, seconds.
    pub mean_offset: f64,
    /// RMS of the true frequency error, PPM.
    pub rms_frequency_ppm: f64,
    /// Fraction of records with a stratum below 16.
    pub synced_fraction: f64,
    /// Lowest and highest advertised stratum.
    pub stratum: [u8; 2],
}

/// The summary of one node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeSummary {
    /// The node.
    pub name: String,
    /// Over the settled part of the run.
    pub settled: WindowStats,
    /// The first second at which the node had a system peer and was within
    /// 1 ms of true time.
    pub sync_time: Option<u32>,
    /// The frequency error at the end, PPM.
    pub final_frequency_ppm: f64,
    /// The system peer at the end.
    pub final_peer: String,
}

/// The summary of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The scenario.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Simulated seconds.
    pub duration: f64,
    /// Settling time, seconds.
    pub settle: f64,
    /// Each node.
    pub nodes: Vec<NodeSummary>,
}

/// Whether `value` is above `limit` (or not a number).
fn exceeds(value: f64, limit: f64) -> bool {
    value.is_nan() || value > limit
}

/// Whether `value` is below `limit` (or not a number).
fn falls_short(value: f64, limit: f64) -> bool {
    value.is_nan() || value < limit
}

impl Recording {
    /// An empty recording for these nodes.
    pub fn new(names: Vec<String>) -> Self {
        let records = names.iter().map(|_| Vec::new()).collect();
        Self { names, records }
    }

    /// Appends one record a node, in node order.
    pub fn push(&mut self, records: &[Record]) {
        for (list, record) in self.records.iter_mut().zip(records) {
            list.push(*record);
        }
    }

    /// The node names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The records of node `index`.
    pub fn records(&self, index: usize) -> &[Record] {
        self.records.get(index).map_or(&[], Vec::as_slice)
    }

    /// The indices of the nodes matching a pattern.
    pub fn select(&self, pattern: &str) -> Vec<usize> {
        (0..self.names.len())
            .filter(|&i| matches(pattern, &self.names[i]))
            .collect()
    }

    /// The name shown for a peer column value.
    pub fn peer_name(&self, peer: i32) -> &str {
        match peer {
            NO_PEER => "-",
            REFCLOCK => "refclock",
            p => usize::try_from(p)
                .ok()
                .and_then(|i| self.names.get(i))
                .map_or("?", String::as_str),
        }
    }

    /// The measurements of node `index` from `from` to `to` seconds.
    pub fn window(&self, index: usize, from: f64, to: f64) -> WindowStats {
        let list: Vec<&Record> = self
            .records(index)
            .iter()
            .filter(|r| f64::from(r.time) >= from && f64::from(r.time) <= to)
            .collect();
        if list.is_empty() {
            return WindowStats::default();
        }
        let n = list.len() as f64;
        let mut s = WindowStats {
            records: list.len(),
            stratum: [u8::MAX, 0],
            ..WindowStats::default()
        };
        let mut synced = 0usize;
        for r in &list {
            s.rms_offset += r.offset * r.offset;
            s.mean_offset += r.offset;
            s.max_offset = s.max_offset.max(r.offset.abs());
            s.rms_frequency_ppm += r.frequency_ppm * r.frequency_ppm;
            s.stratum = [s.stratum[0].min(r.stratum), s.stratum[1].max(r.stratum)];
            if r.stratum < 16 {
                synced += 1;
            }
        }
        s.rms_offset = (s.rms_offset / n).sqrt();
        s.mean_offset /= n;
        s.rms_frequency_ppm = (s.rms_frequency_ppm / n).sqrt();
        s.synced_fraction = synced as f64 / n;
        s
    }

    /// The first second at which node `index` had a system peer and was
    /// within `limit` seconds of true time.
    pub fn sync_time(&self, index: usize, limit: f64) -> Option<u32> {
        self.records(index)
            .iter()
            .find(|r| r.peer != NO_PEER && r.offset.abs() <= limit)
            .map(|r| r.time)
    }

    /// The last recorded second.
    pub fn end(&self) -> f64 {
        self.records
            .iter()
            .filter_map(|l| l.last())
            .map(|r| f64::from(r.time))
            .fold(0.0, f64::max)
    }

    /// The summary of the run of `scenario`.
    pub fn summary(&self, scenario: &Scenario) -> Summary {
        let end = self.end();
        let nodes = (0..self.names.len())
            .map(|i| {
                let last = self.records(i).last();
                NodeSummary {
                    name: self.names[i].clone(),
                    settled: self.window(i, scenario.settle, end),
                    sync_time: self.sync_time(i, 1e-3),
                    final_frequency_ppm: last.map_or(0.0, |r| r.frequency_ppm),
                    final_peer: self.peer_name(last.map_or(NO_PEER, |r| r.peer)).to_owned(),
                }
            })
            .collect();
        Summary {
            scenario: scenario.name.clone(),
            seed: scenario.seed,
            duration: scenario.duration,
            settle: scenario.settle,
            nodes,
        }
    }

    /// Checks every bound of `scenario`; returns the violations, one line
    /// each.
    pub fn check(&self, scenario: &Scenario) -> Vec<String> {
        let mut out = Vec::new();
        for bound in &scenario.bounds {
            self.check_bound(scenario, bound, &mut out);
        }
        out
    }

    fn check_bound(&self, scenario: &Scenario, b: &Bound, out: &mut Vec<String>) {
        let end = self.end();
        let at = |t: f64| if t.is_sign_negative() { end + t } else { t };
        let (from, to) = match b.window {
            Some([f, t]) => (at(f), at(t)),
            None => (scenario.settle, end),
        };
        let nodes = self.select(&b.nodes);
        if nodes.is_empty() {
            out.push(format!("bound on {:?}: no such node", b.nodes));
            return;
        }
        let mut fail = |name: &str, what: String| {
            out.push(format!("{name} [{from:.0} s, {to:.0} s]: {what}"));
        };
        for &i in &nodes {
            let name = &self.names[i];
            let s = self.window(i, from, to);
            if let Some(limit) = b.rms_offset
                && exceeds(s.rms_offset, limit)
            {
                fail(
                    name,
                    format!("RMS offset {:.3e} s > {limit:.3e} s", s.rms_offset),
                );
            }
            if let Some(limit) = b.max_offset
                && exceeds(s.max_offset, limit)
            {
                fail(
                    name,
                    format!("max offset {:.3e} s > {limit:.3e} s", s.max_offset),
                );
            }
            if let Some([low, high]) = b.mean_offset
                && (falls_short(s.mean_offset, low) || exceeds(s.mean_offset, high))
            {
                fail(
                    name,
                    format!(
                        "mean offset {:.3e} s outside [{low:.3e}, {high:.3e}] s",
                        s.mean_offset
                    ),
                );
            }
            if let Some(limit) = b.rms_frequency_ppm
                && exceeds(s.rms_frequency_ppm, limit)
            {
                fail(
                    name,
                    format!(
                        "RMS frequency error {:.4} ppm > {limit} ppm",
                        s.rms_frequency_ppm
                    ),
                );
            }
            if let Some(limit) = b.sync_within {
                match self.sync_time(i, 1e-3) {
                    Some(t) if f64::from(t) <= limit => {}
                    other => fail(name, format!("first sync at {other:?} s, limit {limit} s")),
                }
            }
            if let Some(limit) = b.synced_fraction
                && falls_short(s.synced_fraction, limit)
            {
                fail(
                    name,
                    format!(
                        "synchronised {:.3} of the time < {limit}",
                        s.synced_fraction
                    ),
                );
            }
            if let Some([low, high]) = b.stratum
                && s.records > 0
                && (s.stratum[0] < low || s.stratum[1] > high)
            {
                fail(
                    name,
                    format!("stratum {:?} outside [{low}, {high}]", s.stratum),
                );
            }
            let in_window = || {
                self.records(i)
                    .iter()
                    .filter(|r| f64::from(r.time) >= from && f64::from(r.time) <= to)
            };
            if let Some(pattern) = &b.never_select
                && let Some(r) = in_window().find(|r| matches(pattern, self.peer_name(r.peer)))
            {
                fail(
                    name,
                    format!("selected {} at {} s", self.peer_name(r.peer), r.time),
                );
            }
            if let Some(pattern) = &b.selects {
                let total = in_window().count().max(1);
                let hits = in_window()
                    .filter(|r| matches(pattern, self.peer_name(r.peer)))
                    .count();
                let fraction = hits as f64 / total as f64;
                let limit = b.select_fraction.unwrap_or(0.9);
                if falls_short(fraction, limit) {
                    fail(
                        name,
                        format!("selected {pattern} in {fraction:.3} of the records < {limit}"),
                    );
                }
            }
        }
        if let Some(limit) = b.spread {
            let (worst, when) = self.spread(&nodes, from, to);
            if exceeds(worst, limit) {
                fail(
                    &b.nodes,
                    format!("offsets {worst:.3e} s apart at {when} s > {limit:.3e} s"),
                );
            }
        }
    }

    /// The largest difference between the offsets of `nodes` at one
    /// record, and when.
    pub fn spread(&self, nodes: &[usize], from: f64, to: f64) -> (f64, u32) {
        let mut worst = (0.0, 0);
        let Some(&first) = nodes.first() else {
            return worst;
        };
        for (k, r) in self.records(first).iter().enumerate() {
            let t = f64::from(r.time);
            if t < from || t > to {
                continue;
            }
            let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
            for &i in nodes {
                if let Some(r) = self.records(i).get(k) {
                    low = low.min(r.offset);
                    high = high.max(r.offset);
                }
            }
            if high - low > worst.0 {
                worst = (high - low, r.time);
            }
        }
        worst
    }

    /// Writes every record as CSV.
    pub fn write_csv<W: Write>(&self, mut w: W) -> io::Result<()> {
        writeln!(w, "time,node,offset,frequency_ppm,peer,stratum")?;
        let len = self.records.iter().map(Vec::len).max().unwrap_or(0);
        for k in 0..len {
            for (i, name) in self.names.iter().enumerate() {
                if let Some(r) = self.records(i).get(k) {
                    writeln!(
                        w,
                        "{},{},{:.9},{:.6},{},{}",
                        r.time,
                        name,
                        r.offset,
                        r.frequency_ppm,
                        self.peer_name(r.peer),
                        r.stratum
                    )?;
                }
            }
        }
        w.flush()
    }

    /// Every record as JSON: `{"nodes": [{"name", "time": [..], "offset":
    /// [..], "frequency_ppm": [..], "peer": [..], "stratum": [..]}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let nodes = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let r = self.records(i);
                serde_json::json!({
                    "name": name,
                    "time": r.iter().map(|r| r.time).collect::<Vec<_>>(),
                    "offset": r.iter().map(|r| r.offset).collect::<Vec<_>>(),
                    "frequency_ppm": r.iter().map(|r| r.frequency_ppm).collect::<Vec<_>>(),
                    "peer": r.iter().map(|r| self.peer_name(r.peer)).collect::<Vec<_>>(),
                    "stratum": r.iter().map(|r| r.stratum).collect::<Vec<_>>(),
                })
            })
            .collect::<Vec<_>>();
        serde_json::json!({ "nodes": nodes })
    }
}

impl Summary {
    /// The summary as a text table.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "scenario {} (seed {}), {:.0} s simulated, settled after {:.0} s\n",
            self.scenario, self.seed, self.duration, self.settle
        );
        s.push_str(&format!(
            "{:<14} {:>12} {:>12} {:>12} {:>10} {:>12} {:>12} {:>8} {:>9}\n",
            "node",
            "rms offset",
            "max offset",
            "mean offset",
            "sync<1ms",
            "rms freq",
            "final freq",
            "synced",
            "peer"
        ));
        for n in &self.nodes {
            let t = &n.settled;
            s.push_str(&format!(
                "{:<14} {:>9.1} us {:>9.1} us {:>9.1} us {:>10} {:>8.4} ppm {:>8.4} ppm {:>7.1}% {:>9}\n",
                n.name,
                t.rms_offset * 1e6,
                t.max_offset * 1e6,
                t.mean_offset * 1e6,
                n.sync_time.map_or_else(|| "never".to_owned(), |t| format!("{t} s")),
                t.rms_frequency_ppm,
                n.final_frequency_ppm,
                t.synced_fraction * 100.0,
                n.final_peer,
            ));
        }
        s
    }
}
