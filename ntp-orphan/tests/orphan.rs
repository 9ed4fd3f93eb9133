//! Orphan mode: the wait, the election, the exclusions, leaving orphan mode,
//! and a three-node mesh simulated as values over time.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use insta::assert_snapshot;
use ntp_orphan::{
    Orphan, OrphanDecision, OrphanSettings, OrphanState, OrphanSystem, address_metric,
    orphan_reference_id,
};
use ntp_select::{Candidate, Role, SelectionResult, SystemVariables, TosSettings};
use ntp_wire::packet::LeapIndicator;
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDuration, NtpTimestamp, Uptime};

const ORPHAN: u8 = 6;

fn start() -> Uptime {
    Uptime::from_secs(1000)
}

fn at(seconds: i64) -> Uptime {
    start() + std::time::Duration::from_secs(seconds as u64)
}

/// The host's clock at monotonic `now`.
fn clock(now: Uptime) -> NtpTimestamp {
    NtpTimestamp::from_seconds_and_fraction(3_900_000_000, 0)
        + NtpDuration::from_std(now.since_origin())
}

/// The system process run as the node runs it: selection with orphan
/// mode, then `clock_update()`.
fn run(
    host: &mut OrphanSystem<u32>,
    candidates: &[Candidate<u32>],
    now: Uptime,
) -> (SelectionResult<u32>, OrphanDecision<u32>) {
    let (result, decision) = host.update(candidates, now, clock(now));
    host.clock_update(&result, now, clock(now));
    (result, decision)
}

fn tos() -> TosSettings {
    TosSettings {
        orphan: ORPHAN,
        ..TosSettings::default()
    }
}

fn addr(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

/// A candidate for a peer at 10.0.0.`last` advertising `vars`, seen from
/// `local` at `now`.
fn peer(id: u32, last: u8, local: u8, vars: &SystemVariables, now: Uptime) -> Candidate<u32> {
    Candidate {
        address: Some(addr(last)),
        local_refid: Some(ReferenceId::from_ip(addr(local))),
        stratum: vars.stratum,
        leap: vars.leap,
        reference_id: vars.reference_id,
        offset: NtpDuration::from_nanos(100_000),
        delay: NtpDuration::from_nanos(1_000_000),
        dispersion: NtpDuration::from_nanos(1_000_000),
        jitter: NtpDuration::from_nanos(100_000),
        root_delay: vars.root_delay,
        root_dispersion: vars.root_dispersion,
        reach: 0o377,
        update_time: now,
        epoch: now,
        ..Candidate::new(id)
    }
}

/// A real stratum-1 server.
fn upstream(id: u32, now: Uptime) -> Candidate<u32> {
    Candidate {
        address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        stratum: 1,
        leap: LeapIndicator::NoWarning,
        reference_id: ReferenceId::from_ascii("GPS"),
        offset: NtpDuration::from_nanos(2_000_000),
        delay: NtpDuration::from_nanos(20_000_000),
        dispersion: NtpDuration::from_nanos(1_000_000),
        jitter: NtpDuration::from_nanos(500_000),
        reach: 0o377,
        update_time: now,
        epoch: now,
        ..Candidate::new(id)
    }
}

fn orphan_vars(stratum: u8) -> SystemVariables {
    SystemVariables {
        leap: LeapIndicator::NoWarning,
        stratum,
        reference_id: orphan_reference_id(stratum),
        ..SystemVariables::unsynchronized()
    }
}

// ------------------------------------------------------------------ one host

#[test]
fn orphan_after_orphanwait_and_not_before() {
    let mut host = OrphanSystem::<u32>::new(tos(), address_metric(addr(1)), start()).unwrap();
    let mut trace = Vec::new();
    for t in [0, 64, 128, 299, 300, 364] {
        let (_, d) = run(&mut host, &[], at(t));
        trace.push((t, d.state, d.advertise.stratum, d.next_deadline));
    }
    assert_eq!(
        trace,
        [
            (
                0,
                OrphanState::Waiting { until: at(300) },
                16,
                Some(at(300))
            ),
            (
                64,
                OrphanState::Waiting { until: at(300) },
                16,
                Some(at(300))
            ),
            (
                128,
                OrphanState::Waiting { until: at(300) },
                16,
                Some(at(300))
            ),
            (
                299,
                OrphanState::Waiting { until: at(300) },
                16,
                Some(at(300))
            ),
            (300, OrphanState::Parent, ORPHAN, None),
            (364, OrphanState::Parent, ORPHAN, None),
        ]
    );
    let vars = host.advertised(at(364), clock(at(364)));
    assert_eq!(vars.reference_id.to_string(), "127.0.0.1");
    assert_eq!(vars.offset, NtpDuration::ZERO);
    assert_eq!(vars.root_delay, NtpDuration::ZERO);
    assert_eq!(vars.root_dispersion, NtpDuration::ZERO);
    assert_eq!(vars.leap, LeapIndicator::NoWarning);
    assert_eq!(vars.reference_time, clock(at(364)));
}

#[test]
fn orphanwait_knob() {
    let quick = TosSettings {
        orphanwait: NtpDuration::from_seconds(10),
        ..tos()
    };
    let mut host = OrphanSystem::<u32>::new(quick, address_metric(addr(1)), start()).unwrap();
    assert_eq!(run(&mut host, &[], at(10)).1.state, OrphanState::Parent);
}

#[test]
fn loop_refid_at_orphan_stratum_one() {
    assert_eq!(orphan_reference_id(1).to_string(), "LOOP");
    assert_eq!(orphan_reference_id(5).to_string(), "127.0.0.1");
    let one = TosSettings {
        orphan: 1,
        ..TosSettings::default()
    };
    let mut host = OrphanSystem::<u32>::new(one, 0, start()).unwrap();
    let (_, d) = run(&mut host, &[], at(300));
    assert_eq!(d.advertise.stratum, 1);
    assert_eq!(d.advertise.reference_id, ReferenceId::from_ascii("LOOP"));
}

#[test]
fn disabled_by_default() {
    let mut host =
        OrphanSystem::<u32>::new(TosSettings::default(), address_metric(addr(1)), start()).unwrap();
    let (_, d) = run(&mut host, &[], at(1000));
    assert_eq!(d.state, OrphanState::Disabled);
    assert_eq!(d.advertise.stratum, 16);
    // Peers above "the orphan stratum" are not excluded either.
    let deep = peer(2, 2, 1, &orphan_vars(9), at(1000));
    let (result, _) = run(&mut host, &[deep], at(1000));
    assert_eq!(result.sys_peer, Some(2));
}

#[test]
fn address_metric_is_the_refid_form() {
    assert_eq!(address_metric(addr(7)), 0x0a00_0007);
    let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert_eq!(
        address_metric(IpAddr::V6(v6)),
        ReferenceId::from_ipv6(v6).to_u32()
    );
}

// ------------------------------------------------------------------ election

#[test]
fn election_picks_the_lowest_metric() {
    let orphan = Orphan::new(
        OrphanSettings::from_tos(&tos()),
        address_metric(addr(9)),
        start(),
    );
    let vars = orphan_vars(ORPHAN);
    let candidates = [
        peer(5, 5, 9, &vars, start()),
        peer(3, 3, 9, &vars, start()),
        peer(7, 7, 9, &vars, start()),
        // Unreachable peers are not candidates.
        Candidate {
            reach: 0,
            ..peer(1, 1, 9, &vars, start())
        },
    ];
    assert_eq!(orphan.elect(&candidates, &tos(), start()), Some(3));
    let (prepared, elected) = orphan.prepare(&candidates, &tos(), start());
    assert_eq!(elected, Some(3));
    let roles: Vec<Role> = prepared.iter().map(|c| c.role).collect();
    assert_eq!(
        roles,
        [
            Role::Excluded,
            Role::Fallback { rank: 2 },
            Role::Excluded,
            Role::Excluded
        ]
    );
}

#[test]
fn host_is_parent_when_it_has_the_lowest_metric() {
    let mut host = OrphanSystem::<u32>::new(tos(), address_metric(addr(1)), start()).unwrap();
    let vars = orphan_vars(ORPHAN);
    let candidates = [peer(2, 2, 1, &vars, at(300)), peer(3, 3, 1, &vars, at(300))];
    let (result, d) = run(&mut host, &candidates, at(300));
    assert_eq!(d.elected, None);
    assert_eq!(d.state, OrphanState::Parent);
    assert_eq!(result.sys_peer, None);
    assert_eq!(
        result.candidates[0].reject,
        Some(ntp_select::Reject::Excluded)
    );
}

#[test]
fn child_follows_the_parent_with_its_offset_and_refid() {
    let mut host = OrphanSystem::<u32>::new(tos(), address_metric(addr(3)), start()).unwrap();
    let vars = orphan_vars(ORPHAN);
    let candidates = [peer(1, 1, 3, &vars, at(10)), peer(2, 2, 3, &vars, at(10))];
    let (result, d) = run(&mut host, &candidates, at(10));
    assert_eq!(d.state, OrphanState::Child { parent: 1 });
    assert!(d.discipline);
    assert_eq!(result.sys_peer, Some(1));
    // clock_update() made the parent's variables the system's.
    let advertised = host.advertised(at(10), clock(at(10)));
    assert_eq!(advertised.stratum, ORPHAN + 1);
    assert_eq!(advertised.reference_id.to_string(), "10.0.0.1");
    assert_eq!(advertised.offset, NtpDuration::from_nanos(100_000));
}

#[test]
fn peers_above_the_orphan_stratum_are_excluded() {
    let mut host = OrphanSystem::<u32>::new(tos(), address_metric(addr(1)), start()).unwrap();
    let child = peer(2, 2, 1, &orphan_vars(ORPHAN + 1), at(10));
    let (result, d) = run(&mut host, &[child], at(10));
    assert_eq!(
        result.candidates[0].reject,
        Some(ntp_select::Reject::Excluded)
    );
    assert_eq!(result.sys_peer, None);
    assert!(matches!(d.state, OrphanState::Waiting { .. }));
}

#[test]
fn leaves_orphan_mode_when_a_real_upstream_appears() {
    let mut host = OrphanSystem::<u32>::new(tos(), address_metric(addr(1)), start()).unwrap();
    assert_eq!(run(&mut host, &[], at(300)).1.state, OrphanState::Parent);
    let (result, d) = run(&mut host, &[upstream(50, at(364))], at(364));
    assert_eq!(d.state, OrphanState::Synchronized);
    assert!(d.discipline);
    assert_eq!(result.sys_peer, Some(50));
    assert_eq!(host.advertised(at(364), clock(at(364))).stratum, 2);
    // A network server at stratum 1: the reference ID is its address.
    assert_eq!(
        host.advertised(at(364), clock(at(364)))
            .reference_id
            .to_string(),
        "192.0.2.1"
    );
    // A real source wins over an elected orphan parent too.
    let mut child = OrphanSystem::<u32>::new(tos(), address_metric(addr(3)), start()).unwrap();
    let parent = peer(1, 1, 3, &orphan_vars(ORPHAN), at(10));
    assert_eq!(
        run(&mut child, &[parent], at(10)).1.state,
        OrphanState::Child { parent: 1 }
    );
    let (_, d) = run(&mut child, &[parent, upstream(50, at(20))], at(20));
    assert_eq!(d.state, OrphanState::Synchronized);
    // Losing it restarts the orphan wait.
    let (_, d) = run(&mut child, &[], at(100));
    assert_eq!(d.state, OrphanState::Waiting { until: at(400) });
}

// ---------------------------------------------------------- three-node mesh

/// Three hosts 10.0.0.1-3 peering with each other (as values: each step,
/// every host sees what the others advertised at the previous step), all
/// with `tos orphan 6`. `links[i]` says whether host i is on the network;
/// `upstream[i]` whether it reaches a real stratum-1 server.
struct Mesh {
    hosts: Vec<OrphanSystem<u32>>,
    advertised: Vec<SystemVariables>,
    log: String,
}

impl Mesh {
    fn new() -> Self {
        let hosts = (1..=3u8)
            .map(|i| OrphanSystem::new(tos(), address_metric(addr(i)), start()).unwrap())
            .collect();
        Self {
            hosts,
            advertised: vec![SystemVariables::unsynchronized(); 3],
            log: String::new(),
        }
    }

    fn step(&mut self, t: i64, up: [bool; 3], upstream_at: [bool; 3]) -> Vec<OrphanState<u32>> {
        let now = at(t);
        let mut states = Vec::new();
        let mut next = Vec::new();
        write!(self.log, "t={t:>4}").unwrap();
        for i in 0..3 {
            let mut candidates = Vec::new();
            for j in 0..3 {
                if j == i {
                    continue;
                }
                let mut c = peer(
                    j as u32 + 1,
                    j as u8 + 1,
                    i as u8 + 1,
                    &self.advertised[j],
                    now,
                );
                if !(up[i] && up[j]) {
                    c.reach = 0;
                }
                candidates.push(c);
            }
            if upstream_at[i] {
                candidates.push(upstream(50, now));
            }
            let (result, d) = run(&mut self.hosts[i], &candidates, now);
            let vars = if up[i] {
                self.hosts[i].advertised(now, clock(now))
            } else {
                SystemVariables::unsynchronized()
            };
            let state = match d.state {
                OrphanState::Waiting { .. } => "waiting".to_owned(),
                OrphanState::Parent => "PARENT".to_owned(),
                OrphanState::Child { parent } => format!("child of {parent}"),
                OrphanState::Synchronized => "synchronized".to_owned(),
                OrphanState::Disabled => "disabled".to_owned(),
            };
            let peer = result
                .sys_peer
                .map_or_else(|| "-".to_owned(), |p| p.to_string());
            write!(
                self.log,
                " | {}: {:<12} peer {:<2} st {:>2} refid {:<9}",
                i + 1,
                state,
                peer,
                vars.stratum,
                vars.reference_id.to_string()
            )
            .unwrap();
            states.push(d.state);
            next.push(vars);
        }
        self.log.push('\n');
        // No loops: strata in the mesh never climb past orphan + 1 without
        // an upstream, and a host never follows a host that follows it.
        for (i, v) in next.iter().enumerate() {
            if v.is_synchronized() && !upstream_at.iter().any(|&u| u) {
                assert!(
                    v.stratum <= ORPHAN + 1,
                    "host {} at stratum {}",
                    i + 1,
                    v.stratum
                );
            }
        }
        for (i, s) in states.iter().enumerate() {
            if let OrphanState::Child { parent } = s {
                let p = *parent as usize - 1;
                assert_ne!(
                    states[p],
                    OrphanState::Child {
                        parent: i as u32 + 1
                    }
                );
            }
        }
        self.advertised = next;
        states
    }
}

#[test]
fn three_node_mesh() {
    let mut mesh = Mesh::new();
    let all = [true; 3];
    let none = [false; 3];
    let mut last = Vec::new();
    // Start-up: nobody has a source; after orphanwait host 1 (lowest
    // address) is the parent and the others follow it.
    for t in (0..=512).step_by(64) {
        last = mesh.step(t, all, none);
        if t < 300 {
            assert!(
                last.iter()
                    .all(|s| matches!(s, OrphanState::Waiting { .. }))
            );
        }
    }
    assert_eq!(
        last,
        [
            OrphanState::Parent,
            OrphanState::Child { parent: 1 },
            OrphanState::Child { parent: 1 }
        ]
    );
    // The parent disappears: after the wait, host 2 is elected by all.
    let without_1 = [false, true, true];
    for t in (576..=1024).step_by(64) {
        last = mesh.step(t, without_1, none);
    }
    assert_eq!(last[1], OrphanState::Parent);
    assert_eq!(last[2], OrphanState::Child { parent: 2 });
    // Host 1 comes back: it never found a source, so it is still an orphan
    // parent; having the lowest metric, it is elected again by the others.
    for t in (1088..=1600).step_by(64) {
        last = mesh.step(t, all, none);
    }
    assert_eq!(
        last,
        [
            OrphanState::Parent,
            OrphanState::Child { parent: 1 },
            OrphanState::Child { parent: 1 }
        ]
    );
    // An upstream source returns at host 3: everyone leaves orphan mode.
    let at_3 = [false, false, true];
    for t in (1664..=1856).step_by(64) {
        last = mesh.step(t, all, at_3);
    }
    assert!(
        last.iter().all(|s| *s == OrphanState::Synchronized),
        "{last:?}"
    );
    let strata: Vec<u8> = mesh.advertised.iter().map(|v| v.stratum).collect();
    assert_eq!(strata, [3, 3, 2]);
    assert_snapshot!(mesh.log);
}
