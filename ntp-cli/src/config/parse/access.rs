//! The access directives: `restrict` and `discard`.

use std::net::IpAddr;

use super::super::{Config, IpFamily, RestrictFlag, RestrictTarget, Restriction};
use super::Args;

/// `restrict [-4|-6] TARGET [mask MASK] [FLAG...]`.
pub(super) fn parse_restrict(args: &mut Args<'_>) -> Result<Restriction, String> {
    let mut family = None;
    let mut target_word = args.value("", "default, source or an address")?;
    if target_word == "-4" || target_word == "-6" {
        family = Some(if target_word == "-4" {
            IpFamily::V4
        } else {
            IpFamily::V6
        });
        target_word = args.value("", "default, source or an address")?;
    }
    let mut target = parse_restrict_target(target_word, family)?;
    let mut flags = Vec::new();
    let mut ippeerlimit = None;
    while let Some(word) = args.next() {
        let flag = match word {
            "mask" => {
                let mask_text = args.value(word, "a netmask")?;
                let RestrictTarget::Network {
                    address,
                    prefix_len,
                } = &mut target
                else {
                    return Err("restrict: mask is valid only after an address".to_owned());
                };
                *prefix_len = mask_prefix(*address, mask_text)?;
                continue;
            }
            "ippeerlimit" => {
                ippeerlimit = Some(args.number(word, 0, u32::MAX)?);
                continue;
            }
            "ignore" => RestrictFlag::Ignore,
            "kod" => RestrictFlag::Kod,
            "limited" => RestrictFlag::Limited,
            "lowpriotrap" => RestrictFlag::LowPrioTrap,
            "mssntp" => RestrictFlag::Mssntp,
            "noepeer" => RestrictFlag::NoEpeer,
            "nomodify" => RestrictFlag::NoModify,
            "noquery" => RestrictFlag::NoQuery,
            "nopeer" => RestrictFlag::NoPeer,
            "noserve" => RestrictFlag::NoServe,
            "notrap" => RestrictFlag::NoTrap,
            "notrust" => RestrictFlag::NoTrust,
            "ntpport" => RestrictFlag::NtpPort,
            "version" => RestrictFlag::Version,
            "flake" => RestrictFlag::Flake,
            other => {
                return Err(format!(
                    "restrict: unknown flag {other:?}; expected ignore, kod, limited, lowpriotrap, mssntp, noepeer, nomodify, noquery, nopeer, noserve, notrap, notrust, ntpport, version, flake, mask or ippeerlimit"
                ));
            }
        };
        if !flags.contains(&flag) {
            flags.push(flag);
        }
    }
    Ok(Restriction {
        target,
        flags,
        ippeerlimit,
    })
}

/// The target of a `restrict` line: `default` (of a family), `source`, or
/// an address with an optional `/prefix` length.
fn parse_restrict_target(
    target_word: &str,
    family: Option<IpFamily>,
) -> Result<RestrictTarget, String> {
    let target = match target_word {
        "default" => RestrictTarget::Default(family),
        "source" => RestrictTarget::Source,
        text => {
            let (addr_text, prefix) = match text.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (text, None),
            };
            let address: IpAddr = addr_text.parse().map_err(|_| {
                format!("restrict: expected default, source or an address, found {text:?}")
            })?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            let prefix_len = match prefix {
                Some(p) => match p.parse::<u8>() {
                    Ok(v) if v <= max => v,
                    _ => {
                        return Err(format!(
                            "restrict: expected a prefix length from 0 to {max}, found {p:?}"
                        ));
                    }
                },
                None => max,
            };
            RestrictTarget::Network {
                address,
                prefix_len,
            }
        }
    };
    Ok(target)
}

/// The prefix length of a netmask written as an address (`255.255.255.0`).
pub(super) fn mask_prefix(address: IpAddr, mask_text: &str) -> Result<u8, String> {
    let mask: IpAddr = mask_text
        .parse()
        .map_err(|_| format!("restrict mask: expected a netmask, found {mask_text:?}"))?;
    let bits: u128 = match (address, mask) {
        (IpAddr::V4(_), IpAddr::V4(m)) => u128::from(u32::from(m)) << 96,
        (IpAddr::V6(_), IpAddr::V6(m)) => u128::from(m),
        _ => {
            return Err(format!(
                "restrict mask: {mask_text} is not of the address's family"
            ));
        }
    };
    let ones = bits.leading_ones();
    if bits.checked_shl(ones).unwrap_or(0) != 0 {
        return Err(format!(
            "restrict mask: {mask_text} is not a contiguous netmask"
        ));
    }
    Ok(ones as u8)
}

/// `discard average|minimum|monitor VALUE...`: the rate limits.
pub(super) fn parse_discard(config: &mut Config, args: &mut Args<'_>) -> Result<(), String> {
    while let Some(word) = args.next() {
        match word {
            "average" => config.discard.average = Some(args.number(word, 0, 16)?),
            "minimum" => config.discard.minimum = Some(args.number(word, 0, 3600)?),
            "monitor" => {
                let p = args.seconds(word)?;
                config.discard.monitor = Some(p);
            }
            other => {
                return Err(format!(
                    "discard: expected average, minimum or monitor, found {other:?}"
                ));
            }
        }
    }
    Ok(())
}
