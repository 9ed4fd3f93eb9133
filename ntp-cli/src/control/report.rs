//! The reports of the control protocol, made from a node's state: the
//! billboard (`ntpctl peers`) and the system status (`ntpctl status`).
//! Presentation lives here, not in the node: billboard letters, reference
//! IDs as text, state names, dates, counter names.

use std::collections::BTreeMap;

use ntp_assoc::{AssocMode, Association, Kind};
use ntp_discipline::Clock;
use ntp_discipline::discipline::ClockState;
use ntp_orphan::OrphanState;
use ntp_poll::Uptime;
use ntp_wire::packet::LeapIndicator;
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::NtpDuration;

use super::{PeerReport, StatusReport};
use crate::node::counters::{Counter, Counters, KeyCounts};
use crate::node::refclocks::RefclockSlot;
use crate::node::{Node, Source};

fn seconds(d: NtpDuration) -> f64 {
    d.to_seconds_f64()
}

/// A reference ID as `ntpq` prints it: text at stratum 0/1 and for kiss
/// codes (stratum 16), otherwise a dotted quad.
pub fn refid_text(refid: ReferenceId, stratum: u8) -> String {
    match refid.ascii() {
        Some(text) if stratum <= 1 || stratum >= 16 => text.to_owned(),
        _ => refid.to_ipv4().to_string(),
    }
}

/// The billboard's type letter of an association (`ntpq -p`'s `t` column).
pub fn mode_letter(assoc: &Association) -> &'static str {
    match assoc.mode() {
        AssocMode::Client if assoc.config().kind == Kind::Preemptable => "p",
        AssocMode::Client => "u",
        AssocMode::SymmetricActive | AssocMode::SymmetricPassive => "s",
        AssocMode::BroadcastServer => "B",
        AssocMode::BroadcastClient => "b",
        AssocMode::ManycastClient => "m",
    }
}

/// The name of a discipline state, as ntpd logs it.
pub fn state_name(state: ClockState) -> &'static str {
    match state {
        ClockState::Nset => "NSET",
        ClockState::Fset => "FSET",
        ClockState::Spik => "SPIK",
        ClockState::Freq => "FREQ",
        ClockState::Sync => "SYNC",
    }
}

/// The name of a counter in `ntpctl status`.
pub fn counter_name(counter: Counter) -> &'static str {
    match counter {
        Counter::Received => "received",
        Counter::Served => "served",
        Counter::Processed => "processed",
        Counter::Sent => "sent",
        Counter::KodRate => "sent: KoD RATE",
        Counter::CryptoNak => "sent: crypto-NAK",
        Counter::DroppedIgnore => "dropped: restrict ignore",
        Counter::DroppedRateLimit => "dropped: rate limit",
        Counter::DroppedNoquery => "dropped: noquery",
        Counter::DroppedControl => "dropped: mode 6/7 not served",
        Counter::ClockSteps => "clock steps",
        Counter::ClockReadErrors => "clock read errors",
    }
}

fn key_counts<K: Copy + PartialEq + std::fmt::Display>(
    table: &KeyCounts<K>,
    prefix: &str,
    out: &mut BTreeMap<String, u64>,
) {
    for (key, count) in table.iter() {
        *out.entry(format!("{prefix}: {key}")).or_default() += count;
    }
    if table.other() > 0 {
        *out.entry(format!("{prefix}: other")).or_default() += table.other();
    }
}

/// The non-zero counters by name.
pub fn counters_report(counters: &Counters) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for counter in Counter::ALL {
        let count = counters.get(counter);
        if count > 0 {
            *out.entry(counter_name(counter).to_owned()).or_default() += count;
        }
    }
    key_counts(&counters.rejected, "rejected", &mut out);
    key_counts(&counters.kisses, "kiss received", &mut out);
    out
}

/// The billboard (`ntpctl peers`) of `node` at `now`.
pub fn peers_report<C: Clock>(node: &Node<C>, now: Uptime) -> Vec<PeerReport> {
    let tally = |source: Source| {
        node.last_selection()
            .and_then(|r| r.tally(source))
            .map_or(' ', |t| t.code())
    };
    let mut out: Vec<PeerReport> = node
        .endpoint()
        .associations()
        .map(|assoc| {
            let c = assoc.candidate(now);
            PeerReport {
                remote: assoc.config().address.to_string(),
                hostname: node.hostname(assoc.id()).map(str::to_owned),
                tally: tally(Source::Assoc(assoc.id())),
                refid: refid_text(c.reference_id, c.stratum),
                stratum: c.stratum,
                mode: mode_letter(assoc).to_owned(),
                reach: c.reach,
                poll: 1u32 << c.poll.clamp(0, 17),
                when: node
                    .last_packet(assoc.id())
                    .map(|t| now.saturating_since(t).as_secs()),
                delay: seconds(c.delay),
                offset: seconds(c.offset),
                jitter: seconds(c.jitter),
                dispersion: seconds(assoc.filter().dispersion_at(now)),
                note: assoc.last_rejection().map(|r| r.to_string()),
            }
        })
        .collect();
    for (index, slot) in node.refclocks().iter().enumerate() {
        out.push(refclock_line(slot, tally(Source::Refclock(index)), now));
    }
    out
}

fn refclock_line(slot: &RefclockSlot, tally: char, now: Uptime) -> PeerReport {
    let options = slot.refclock.options();
    let (offset, jitter, dispersion, refid, stratum) = match &slot.last {
        Some(u) => (
            seconds(u.offset),
            seconds(u.jitter),
            seconds(u.dispersion),
            u.refid,
            u.stratum,
        ),
        None => (0.0, 0.0, 0.0, options.refid(), options.stratum()),
    };
    PeerReport {
        remote: options.address().to_string(),
        hostname: None,
        tally,
        refid: refid.to_string(),
        stratum,
        mode: "l".to_owned(),
        reach: slot.refclock.reach(),
        poll: 1 << slot.poll().get(),
        when: slot.last_update.map(|t| now.saturating_since(t).as_secs()),
        delay: 0.0,
        offset,
        jitter,
        dispersion,
        note: None,
    }
}

/// The system status (`ntpctl status`) of `node`.
pub fn status_report<C: Clock>(node: &Node<C>) -> StatusReport {
    let vars = node.system_variables();
    let system_peer = node.system_peer().map(|source| match source {
        Source::Assoc(id) => node
            .endpoint()
            .association(id)
            .map_or_else(String::new, |a| a.config().address.to_string()),
        Source::Refclock(index) => node
            .refclocks()
            .get(index)
            .map_or_else(String::new, |r| r.refclock.options().address().to_string()),
    });
    let discipline = node.discipline();
    StatusReport {
        stratum: vars.stratum,
        refid: refid_text(vars.reference_id, vars.stratum),
        leap: if vars.is_synchronized() {
            vars.leap.to_bits()
        } else {
            LeapIndicator::Unsynchronized.to_bits()
        },
        system_peer,
        offset: node.last_offset(),
        frequency_ppm: discipline.frequency_ppm(),
        root_delay: seconds(vars.root_delay),
        root_dispersion: seconds(vars.root_dispersion),
        jitter: seconds(vars.jitter),
        poll: i8::from(node.system_poll()),
        discipline_state: state_name(discipline.state()).to_owned(),
        orphan: matches!(node.orphan_state(), Some(OrphanState::Parent)),
        clock_adjusted: node.adjusts_clock(),
        reference_time: (!vars.reference_time.is_zero())
            .then(|| vars.reference_time.to_pivot_date().to_rfc3339()),
        counters: counters_report(node.counters()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refids_as_ntpq_prints_them() {
        assert_eq!(refid_text(ReferenceId::from_ascii("GPS"), 1), "GPS");
        assert_eq!(refid_text(ReferenceId::from_ascii("RATE"), 16), "RATE");
        let address = ReferenceId::from_ipv4(std::net::Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(refid_text(address, 2), "192.0.2.1");
    }

    #[test]
    fn counters_by_name() {
        let mut counters = Counters::default();
        counters.add(Counter::Served);
        counters.add(Counter::ClockSteps);
        counters.kisses.count(ntp_wire::refid::KissCode::Rate);
        let report = counters_report(&counters);
        assert_eq!(report.get("served"), Some(&1));
        assert_eq!(report.get("clock steps"), Some(&1));
        assert_eq!(report.get("kiss received: RATE"), Some(&1));
        assert_eq!(report.get("received"), None);
    }
}
