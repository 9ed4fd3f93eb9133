//! The system directives: `tos`, `tinker`, `discipline`, `enable` and
//! `disable`, `leapfile`, `interface`.

use super::super::{Config, InterfaceAction, InterfaceRule};
use super::{Args, resolve};
use std::path::Path;

/// `tos OPTION VALUE...`.
pub(super) fn parse_tos(config: &mut Config, args: &mut Args<'_>) -> Result<(), String> {
    let tos = &mut config.tos;
    let mut any = false;
    while let Some(word) = args.next() {
        any = true;
        match word {
            "ceiling" => tos.ceiling = Some(args.number(word, 1, 16)?),
            "cohort" => tos.cohort = Some(args.flag(word)?),
            "floor" => tos.floor = Some(args.number(word, 0, 15)?),
            "orphan" => tos.orphan = Some(args.number(word, 1, 16)?),
            "orphanwait" => tos.orphanwait = Some(non_negative(args, word)?),
            "mindist" => tos.mindist = Some(non_negative(args, word)?),
            "maxdist" => tos.maxdist = Some(non_negative(args, word)?),
            "minclock" => tos.minclock = Some(args.number(word, 1, 100)?),
            "maxclock" => tos.maxclock = Some(args.number(word, 1, 100)?),
            "minsane" => tos.minsane = Some(args.number(word, 0, 100)?),
            "beacon" => tos.beacon = Some(non_negative(args, word)?),
            other => {
                return Err(format!(
                    "tos: unknown option {other:?}; expected ceiling, cohort, floor, orphan, orphanwait, mindist, maxdist, minclock, maxclock, minsane or beacon"
                ));
            }
        }
    }
    if !any {
        return Err("tos: expected at least one option".to_owned());
    }
    Ok(())
}

/// A number of seconds (or other quantity) of 0 or more.
fn non_negative(args: &mut Args<'_>, option: &str) -> Result<f64, String> {
    let v = args.seconds(option)?;
    if v < 0.0 {
        return Err(format!(
            "{} {option}: expected a value of 0 or more, found {v}",
            args.command
        ));
    }
    Ok(v)
}

/// `tinker OPTION VALUE...`.
pub(super) fn parse_tinker(config: &mut Config, args: &mut Args<'_>) -> Result<(), String> {
    let t = &mut config.tinker;
    let mut any = false;
    while let Some(word) = args.next() {
        any = true;
        match word {
            "allan" => t.allan = Some(non_negative(args, word)?),
            "dispersion" => t.dispersion = Some(non_negative(args, word)?),
            "freq" => {
                let ppm = args.seconds(word)?;
                if ppm.abs() > 500.0 {
                    return Err(format!(
                        "tinker freq: expected -500 to 500 ppm, found {ppm}"
                    ));
                }
                t.freq = Some(ppm);
            }
            "huffpuff" => t.huffpuff = Some(non_negative(args, word)?),
            "panic" => t.panic = Some(non_negative(args, word)?),
            "step" => t.step = Some(non_negative(args, word)?),
            "stepout" => t.stepout = Some(non_negative(args, word)?),
            other => {
                return Err(format!(
                    "tinker: unknown option {other:?}; expected allan, dispersion, freq, huffpuff, panic, step or stepout"
                ));
            }
        }
    }
    if !any {
        return Err("tinker: expected at least one option".to_owned());
    }
    Ok(())
}

/// `discipline rfc5905|regression`: the clock loop.
pub(super) fn parse_discipline(config: &mut Config, args: &mut Args<'_>) -> Result<(), String> {
    let name = args.value("", "rfc5905 or regression")?;
    config.discipline = Some(
        ntp_discipline::config::LoopAlgorithm::from_name(name)
            .ok_or_else(|| format!("discipline: expected rfc5905 or regression, found {name:?}"))?,
    );
    Ok(())
}

/// `enable` or `disable FLAG...`.
pub(super) fn parse_enable(
    config: &mut Config,
    command: &str,
    args: &mut Args<'_>,
) -> Result<(), String> {
    let on = command == "enable";
    let mut any = false;
    while let Some(word) = args.next() {
        any = true;
        let flags = &mut config.flags;
        match word {
            "auth" => flags.auth = on,
            "bclient" => {
                flags.bclient = on;
                config.broadcast_client = on;
            }
            "calibrate" => flags.calibrate = on,
            "kernel" => flags.kernel = on,
            "mode7" => flags.mode7 = on,
            "monitor" => flags.monitor = on,
            "ntp" => flags.ntp = on,
            "stats" => flags.stats = on,
            "unpeer_crypto_early" | "unpeer_crypto_nak_early" | "unpeer_digest_early" => {}
            other => {
                return Err(format!(
                    "{command}: expected auth, bclient, calibrate, kernel, mode7, monitor, ntp or stats, found {other:?}"
                ));
            }
        }
    }
    if !any {
        return Err(format!("{command}: expected at least one flag"));
    }
    Ok(())
}

/// `leapfile FILE [checkhash|ignorehash]`.
pub(super) fn parse_leapfile(
    config: &mut Config,
    args: &mut Args<'_>,
    file: &Path,
) -> Result<(), String> {
    config.leapfile = Some(resolve(file, args.value("", "a file name")?));
    // checkhash/ignorehash: the hash is always checked here.
    if let Some(word) = args.next()
        && word != "checkhash"
        && word != "ignorehash"
    {
        return Err(format!(
            "leapfile: expected checkhash or ignorehash, found {word:?}"
        ));
    }
    Ok(())
}

/// `interface listen|ignore|drop TARGET`.
pub(super) fn parse_interface(config: &mut Config, args: &mut Args<'_>) -> Result<(), String> {
    let action = match args.value("", "listen, ignore or drop")? {
        "listen" => InterfaceAction::Listen,
        "ignore" => InterfaceAction::Ignore,
        "drop" => InterfaceAction::Drop,
        other => {
            return Err(format!(
                "interface: expected listen, ignore or drop, found {other:?}"
            ));
        }
    };
    let target = args.value("", "all, ipv4, ipv6, wildcard, a name or an address")?;
    config.interfaces.push(InterfaceRule {
        action,
        target: target.to_owned(),
    });
    Ok(())
}
