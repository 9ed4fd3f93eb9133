//! From the parsed `ntp.conf` to the settings of each process: the `tos`
//! knobs, the discipline's configuration, the peer process's switches, the
//! access control, and the association list.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ntp_assoc::access::{AccessControl, RateLimiter, RestrictEntry, RestrictFlags, RestrictList};
use ntp_assoc::{AssocConfig, AssocMode, EndpointConfig, Kind};
use ntp_discipline::{DisciplineConfig, Tinker};
use ntp_poll::{PollConfig, PollRole};
use ntp_select::TosSettings;
use ntp_wire::time::NtpDuration;

use crate::config::{
    AssociationConfig, AssociationKind, Config, IpFamily, RestrictFlag, RestrictTarget,
};

/// How many clients the rate limiter tracks (its memory bound: about 48
/// octets a slot).
pub const RATE_LIMIT_SLOTS: usize = 8192;

/// The default `discard average` exponent (8 s) and `minimum` (2 s) of the
/// reference implementation.
pub const DEFAULT_DISCARD_AVERAGE: u8 = 3;
/// See [`DEFAULT_DISCARD_AVERAGE`].
pub const DEFAULT_DISCARD_MINIMUM: u32 = 2;

/// A configuration value the processes refuse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// The `tos` settings of a configuration.
pub fn tos_settings(config: &Config) -> Result<TosSettings, SetupError> {
    let t = &config.tos;
    let d = TosSettings::default();
    let tos = TosSettings {
        ceiling: t.ceiling.unwrap_or(d.ceiling),
        floor: t.floor.unwrap_or(d.floor),
        cohort: t.cohort.unwrap_or(d.cohort),
        minclock: t.minclock.unwrap_or(d.minclock),
        maxclock: t.maxclock.unwrap_or(d.maxclock),
        minsane: t.minsane.unwrap_or(d.minsane),
        mindist: t.mindist.map_or(d.mindist, NtpDuration::from_seconds_f64),
        maxdist: t.maxdist.map_or(d.maxdist, NtpDuration::from_seconds_f64),
        orphan: t.orphan.unwrap_or(d.orphan),
        orphanwait: t
            .orphanwait
            .map_or(d.orphanwait, NtpDuration::from_seconds_f64),
        beacon: t.beacon.map_or(d.beacon, NtpDuration::from_seconds_f64),
    };
    tos.validate()
        .map_err(|e| SetupError(format!("tos: {e}")))?;
    Ok(tos)
}

/// The discipline's configuration: `tinker`, `enable kernel`, and `-g`.
pub fn discipline_config(
    config: &Config,
    allow_panic_once: bool,
) -> Result<DisciplineConfig, SetupError> {
    let mut d = DisciplineConfig {
        allow_panic_once,
        kernel: config.flags.kernel,
        algorithm: config.discipline.unwrap_or_default(),
        ..DisciplineConfig::default()
    };
    let t = &config.tinker;
    let tinkers = [
        ("allan", t.allan),
        ("dispersion", t.dispersion),
        ("freq", t.freq),
        ("huffpuff", t.huffpuff),
        ("panic", t.panic),
        ("step", t.step),
        ("stepout", t.stepout),
    ];
    for (keyword, value) in tinkers {
        if let Some(value) = value {
            let tinker = Tinker::parse(keyword, &value.to_string())
                .map_err(|e| SetupError(format!("tinker {keyword}: {e}")))?;
            d.apply(tinker)
                .map_err(|e| SetupError(format!("tinker {keyword}: {e}")))?;
        }
    }
    Ok(d)
}

/// The peer process's node-wide switches.
pub fn endpoint_config(config: &Config, tos: &TosSettings, seed: u64) -> EndpointConfig {
    let d = EndpointConfig::default();
    EndpointConfig {
        broadcast_client: config.broadcast_client || !config.multicast_client.is_empty(),
        broadcast_volley: !config.broadcast_novolley,
        broadcast_delay: config
            .broadcast_delay
            .map_or(d.broadcast_delay, NtpDuration::from_seconds_f64),
        manycast_server: !config.manycast_server.is_empty(),
        cohort: tos.cohort,
        maxclock: tos.maxclock,
        minclock: tos.minclock,
        beacon: tos.beacon.to_std().unwrap_or(d.beacon),
        ttls: config.ttl.clone(),
        seed,
    }
}

fn restrict_flags(flags: &[RestrictFlag]) -> RestrictFlags {
    let has = |f: RestrictFlag| flags.contains(&f);
    RestrictFlags {
        ignore: has(RestrictFlag::Ignore),
        noserve: has(RestrictFlag::NoServe),
        noquery: has(RestrictFlag::NoQuery),
        nopeer: has(RestrictFlag::NoPeer),
        notrust: has(RestrictFlag::NoTrust),
        limited: has(RestrictFlag::Limited),
        kod: has(RestrictFlag::Kod),
        version: has(RestrictFlag::Version),
    }
}

/// The `restrict` list and the `discard` rate limits. `sources` are the
/// addresses of configured associations (for `restrict source`).
pub fn access_control(config: &Config, sources: &[IpAddr]) -> AccessControl {
    let mut restrict = RestrictList::new();
    for r in &config.restrictions {
        let flags = restrict_flags(&r.flags);
        match &r.target {
            RestrictTarget::Default(family) => restrict.set_default(
                *family != Some(IpFamily::V6),
                *family != Some(IpFamily::V4),
                flags,
            ),
            RestrictTarget::Network {
                address,
                prefix_len,
            } => restrict.add(RestrictEntry {
                address: *address,
                prefix_len: *prefix_len,
                flags,
            }),
            RestrictTarget::Source => {
                for ip in sources {
                    restrict.add(RestrictEntry {
                        address: *ip,
                        prefix_len: if ip.is_ipv4() { 32 } else { 128 },
                        flags,
                    });
                }
            }
        }
    }
    let average = config.discard.average.unwrap_or(DEFAULT_DISCARD_AVERAGE);
    let minimum = config.discard.minimum.unwrap_or(DEFAULT_DISCARD_MINIMUM);
    AccessControl {
        restrict,
        limiter: RateLimiter::new(
            RATE_LIMIT_SLOTS,
            average,
            Duration::from_secs(u64::from(minimum)),
        ),
    }
}

/// The association configuration of one resolved address of a
/// `server`/`pool`/`peer`/`broadcast`/`manycastclient` line.
pub fn assoc_config(line: &AssociationConfig, address: IpAddr) -> Result<AssocConfig, SetupError> {
    let o = &line.options;
    let (mode, kind) = match line.kind {
        AssociationKind::Server if o.preempt => (AssocMode::Client, Kind::Preemptable),
        AssociationKind::Server => (AssocMode::Client, Kind::Persistent),
        AssociationKind::Pool => (AssocMode::Client, Kind::Preemptable),
        AssociationKind::Peer => (AssocMode::SymmetricActive, Kind::Persistent),
        AssociationKind::Broadcast => (AssocMode::BroadcastServer, Kind::Persistent),
        AssociationKind::ManycastClient => (AssocMode::ManycastClient, Kind::Persistent),
    };
    let role = match mode {
        AssocMode::SymmetricActive | AssocMode::SymmetricPassive => PollRole::Symmetric,
        AssocMode::BroadcastServer => PollRole::BroadcastServer,
        _ => PollRole::Client,
    };
    let d = PollConfig::default();
    let poll = PollConfig {
        minpoll: o
            .minpoll
            .unwrap_or(d.minpoll.min(o.maxpoll.unwrap_or(d.minpoll))),
        maxpoll: o
            .maxpoll
            .unwrap_or(d.maxpoll.max(o.minpoll.unwrap_or(d.maxpoll))),
        burst: o.burst,
        iburst: o.iburst,
        role,
    };
    poll.validate()
        .map_err(|e| SetupError(format!("line {}: {e}", line.line)))?;
    Ok(AssocConfig {
        address: SocketAddr::new(address, o.port),
        mode,
        kind,
        version: o.version,
        key: o.key,
        poll,
        prefer: o.prefer,
        noselect: o.noselect,
        true_chimer: o.truechimer,
        ttl: o.ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_a_configuration() {
        let config = Config::parse_str(
            "server 192.0.2.1 iburst minpoll 3 maxpoll 4 port 1123\n\
             peer 192.0.2.2\npool pool.example\n\
             tos minclock 2 orphan 7\ntinker step 0.5 panic 0\n\
             restrict default limited kod\nrestrict 127.0.0.1\ndiscard average 4\n",
            "t.conf",
        )
        .unwrap();
        let tos = tos_settings(&config).unwrap();
        assert_eq!((tos.minclock, tos.orphan), (2, 7));
        let d = discipline_config(&config, false).unwrap();
        assert_eq!((d.step_threshold, d.panic_threshold), (0.5, 0.0));
        let a = assoc_config(&config.associations[0], "192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!(a.address.port(), 1123);
        assert_eq!(
            (a.poll.minpoll, a.poll.maxpoll, a.poll.iburst),
            (3, 4, true)
        );
        let p = assoc_config(&config.associations[1], "192.0.2.2".parse().unwrap()).unwrap();
        assert_eq!(p.mode, AssocMode::SymmetricActive);
        let pool = assoc_config(&config.associations[2], "192.0.2.3".parse().unwrap()).unwrap();
        assert_eq!(pool.kind, Kind::Preemptable);
        let mut access = access_control(&config, &[]);
        assert!(access.restrict.lookup("192.0.2.9".parse().unwrap()).limited);
        assert!(!access.restrict.lookup("127.0.0.1".parse().unwrap()).limited);
        let _ = access.decide("192.0.2.9".parse().unwrap(), Duration::ZERO, false);
    }

    #[test]
    fn minpoll_alone_raises_the_default_maxpoll() {
        let config =
            Config::parse_str("server a minpoll 12\nserver b maxpoll 4\n", "t.conf").unwrap();
        let a = assoc_config(&config.associations[0], "192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!((a.poll.minpoll, a.poll.maxpoll), (12, 12));
        let b = assoc_config(&config.associations[1], "192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!((b.poll.minpoll, b.poll.maxpoll), (4, 4));
    }
}
