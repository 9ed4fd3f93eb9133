//! The association directives: `server`, `pool`, `peer`, `broadcast`
//! and `manycastclient` with their options, and the broadcast and
//! manycast switches (`broadcastclient`, `multicastclient`,
//! `manycastserver`, `ttl`).

use std::net::IpAddr;

use super::super::refclock::RefclockConfig;
use super::super::{AssociationConfig, AssociationKind, Config, ServerOptions};
use super::Args;
use super::refclocks::parse_refclock_options;

/// `server`, `pool`, `peer`, `broadcast` or `manycastclient ADDRESS
/// [options]`; `server 127.127.T.U` configures a reference clock.
pub(super) fn parse_association(
    config: &mut Config,
    command: &str,
    args: &mut Args<'_>,
    line: usize,
) -> Result<(), String> {
    let kind = match command {
        "server" => AssociationKind::Server,
        "pool" => AssociationKind::Pool,
        "peer" => AssociationKind::Peer,
        "broadcast" => AssociationKind::Broadcast,
        _ => AssociationKind::ManycastClient,
    };
    let address = args.value("", "an address or host name")?;
    if let Some(refclock) = RefclockConfig::parse_classic_address(address) {
        if kind != AssociationKind::Server {
            return Err(format!(
                "{command}: reference clock address {address} is valid only with server"
            ));
        }
        let (driver, unit) = refclock?;
        let mut clock = RefclockConfig::new(driver, unit, line);
        parse_refclock_options(&mut clock, args, true)?;
        config.refclocks.push(clock);
        return Ok(());
    }
    let options = parse_server_options(kind, args)?;
    if matches!(
        kind,
        AssociationKind::Broadcast | AssociationKind::ManycastClient
    ) {
        let ip: IpAddr = address.parse().map_err(|_| {
            format!("{command}: expected a broadcast or multicast address, found {address:?}")
        })?;
        if kind == AssociationKind::ManycastClient && !ip.is_multicast() {
            return Err(format!(
                "manycastclient: {address} is not a multicast group address"
            ));
        }
    }
    config.associations.push(AssociationConfig {
        kind,
        address: address.to_owned(),
        options,
        line,
    });
    Ok(())
}

/// `broadcastclient [novolley]`.
pub(super) fn parse_broadcastclient(
    config: &mut Config,
    args: &mut Args<'_>,
) -> Result<(), String> {
    config.broadcast_client = true;
    if let Some(word) = args.next() {
        if word == "novolley" {
            config.broadcast_novolley = true;
        } else {
            return Err(format!(
                "broadcastclient: expected novolley or nothing, found {word:?}"
            ));
        }
    }
    Ok(())
}

/// `multicastclient [GROUP...]` (224.0.1.1 by default) or
/// `manycastserver GROUP...`.
pub(super) fn parse_groups(
    config: &mut Config,
    command: &str,
    args: &mut Args<'_>,
) -> Result<(), String> {
    let mut groups = Vec::new();
    while let Some(word) = args.next() {
        let ip: IpAddr = word
            .parse()
            .map_err(|_| format!("{command}: expected a group address, found {word:?}"))?;
        if !ip.is_multicast() {
            return Err(format!(
                "{command}: {word} is not a multicast group address"
            ));
        }
        groups.push(ip);
    }
    if groups.is_empty() && command == "manycastserver" {
        return Err("manycastserver: expected at least one group address".to_owned());
    }
    if command == "multicastclient" {
        if groups.is_empty() {
            // The reference implementation's default group.
            groups.push(IpAddr::from([224, 0, 1, 1]));
        }
        config.multicast_client.extend(groups);
    } else {
        config.manycast_server.extend(groups);
    }
    Ok(())
}

/// `ttl N...`: the manycast expanding ring.
pub(super) fn parse_ttl(config: &mut Config, args: &mut Args<'_>) -> Result<(), String> {
    while let Some(word) = args.next() {
        let ttl = word
            .parse::<u8>()
            .map_err(|_| format!("ttl: expected numbers from 0 to 255, found {word:?}"))?;
        config.ttl.push(ttl);
    }
    Ok(())
}

/// A poll exponent option (`minpoll`, `maxpoll`): 3 to 17.
pub(super) fn parse_poll(args: &mut Args<'_>, option: &str) -> Result<i8, String> {
    args.number(option, 3, 17)
}

/// The options of an association line.
fn parse_server_options(
    kind: AssociationKind,
    args: &mut Args<'_>,
) -> Result<ServerOptions, String> {
    let mut o = ServerOptions::default();
    let command = kind.command();
    while let Some(word) = args.next() {
        match word {
            "iburst" | "burst"
                if !matches!(kind, AssociationKind::Server | AssociationKind::Pool) =>
            {
                return Err(format!(
                    "{command}: {word} is valid only with server and pool"
                ));
            }
            "iburst" => o.iburst = true,
            "burst" => o.burst = true,
            "prefer" => o.prefer = true,
            "preempt" => o.preempt = true,
            "noselect" => o.noselect = true,
            "true" => o.truechimer = true,
            "xmtnonce" => o.xmtnonce = true,
            "minpoll" => o.minpoll = Some(parse_poll(args, word)?),
            "maxpoll" => o.maxpoll = Some(parse_poll(args, word)?),
            "key" => o.key = Some(args.number(word, 1, 65535)?),
            "version" => o.version = args.number(word, 1, 4)?,
            "ttl" => o.ttl = Some(args.number(word, 0, 255)?),
            "mode" => o.mode = Some(args.number(word, 0, 255)?),
            "port" => o.port = args.number(word, 1, 65535)?,
            "autokey" | "ident" => {
                return Err(format!(
                    "{command}: Autokey ({word}) is not supported; use key"
                ));
            }
            "xleave" => {
                return Err(format!(
                    "{command}: interleaved mode (xleave) is not supported"
                ));
            }
            other => {
                return Err(format!(
                    "{command}: unknown option {other:?}; expected iburst, burst, prefer, preempt, noselect, true, minpoll, maxpoll, key, version, ttl, mode, port or xmtnonce"
                ));
            }
        }
    }
    Ok(o)
}
