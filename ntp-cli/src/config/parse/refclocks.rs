//! The reference clock directives: `refclock NAME [options]` (NTPsec),
//! the options of `server 127.127.T.U` (classic), and `fudge`.

use std::path::PathBuf;

use super::super::Config;
use super::super::refclock::{RefclockConfig, RefclockDriver};
use super::Args;
use super::servers::parse_poll;

/// `refclock NAME [options]`.
pub(super) fn parse_refclock(
    config: &mut Config,
    args: &mut Args<'_>,
    line: usize,
) -> Result<(), String> {
    let name = args.value("", "a driver name (local, nmea, pps, shm)")?;
    let driver = RefclockDriver::from_name(name).ok_or_else(|| {
        format!(
            "refclock: unknown driver {name:?}; supported: {}",
            RefclockDriver::SUPPORTED
        )
    })?;
    let mut clock = RefclockConfig::new(driver, 0, line);
    parse_refclock_options(&mut clock, args, false)?;
    config.refclocks.push(clock);
    Ok(())
}

/// Options of `server 127.127.T.U ...` (classic) or `refclock NAME ...` (NTPsec).
pub(super) fn parse_refclock_options(
    clock: &mut RefclockConfig,
    args: &mut Args<'_>,
    classic: bool,
) -> Result<(), String> {
    while let Some(word) = args.next() {
        match word {
            "prefer" => clock.prefer = true,
            "noselect" => clock.noselect = true,
            "true" => clock.truechimer = true,
            "mode" => clock.mode = Some(args.number(word, 0, u32::MAX)?),
            "minpoll" => clock.minpoll = Some(parse_poll(args, word)?),
            "maxpoll" => clock.maxpoll = Some(parse_poll(args, word)?),
            "unit" if !classic => clock.unit = args.number(word, 0, 255)?,
            "path" if !classic => {
                clock.path = Some(PathBuf::from(args.value(word, "a device path")?))
            }
            "ppspath" if !classic => {
                clock.ppspath = Some(PathBuf::from(args.value(word, "a device path")?))
            }
            "baud" if !classic => clock.baud = Some(parse_baud(args)?),
            "time1" | "time2" | "stratum" | "refid" | "flag1" | "flag2" | "flag3" | "flag4"
                if !classic =>
            {
                apply_fudge_option(clock, word, args)?;
            }
            other => {
                let expected = if classic {
                    "prefer, noselect, true, mode, minpoll or maxpoll"
                } else {
                    "unit, mode, path, ppspath, baud, time1, time2, stratum, refid, flag1-flag4, prefer, noselect, true, minpoll or maxpoll"
                };
                return Err(format!(
                    "{}: unknown reference clock option {other:?}; expected {expected}",
                    args.command
                ));
            }
        }
    }
    Ok(())
}

/// `baud RATE`: one of the serial rates the NMEA driver supports.
fn parse_baud(args: &mut Args<'_>) -> Result<u32, String> {
    const RATES: [u32; 6] = [4800, 9600, 19200, 38400, 57600, 115200];
    let baud: u32 = args.number("baud", 1, u32::MAX)?;
    if RATES.contains(&baud) {
        Ok(baud)
    } else {
        Err(format!(
            "{} baud: expected one of 4800, 9600, 19200, 38400, 57600, 115200, found {baud}",
            args.command
        ))
    }
}

/// One of the fudge options (`time1`, `time2`, `stratum`, `refid`,
/// `flag1`-`flag4`), on a `fudge` or `refclock` line.
fn apply_fudge_option(
    clock: &mut RefclockConfig,
    word: &str,
    args: &mut Args<'_>,
) -> Result<(), String> {
    match word {
        "time1" => clock.time1 = Some(args.seconds(word)?),
        "time2" => clock.time2 = Some(args.seconds(word)?),
        "stratum" => clock.stratum = Some(args.number(word, 0, 15)?),
        "refid" => {
            let refid = args.value(word, "up to four characters")?;
            if refid.is_empty() || refid.len() > 4 || !refid.is_ascii() {
                return Err(format!(
                    "{} refid: expected one to four ASCII characters, found {refid:?}",
                    args.command
                ));
            }
            clock.refid = Some(refid.to_owned());
        }
        flag => {
            let index = match flag {
                "flag1" => 0,
                "flag2" => 1,
                "flag3" => 2,
                _ => 3,
            };
            clock.flags[index] = Some(args.flag(flag)?);
        }
    }
    Ok(())
}

/// A `fudge` line, applied after the whole file is read.
pub(super) struct Fudge {
    driver: RefclockDriver,
    unit: u8,
    clock: RefclockConfig,
}

/// `fudge 127.127.T.U [options]`, with its line number.
pub(super) fn parse_fudge(args: &mut Args<'_>, line: usize) -> Result<(Fudge, usize), String> {
    let address = args.value("", "a reference clock address 127.127.T.U")?;
    let (driver, unit) = RefclockConfig::parse_classic_address(address).ok_or_else(|| {
        format!("fudge: expected a reference clock address 127.127.T.U, found {address:?}")
    })??;
    let mut clock = RefclockConfig::new(driver, unit, line);
    while let Some(word) = args.next() {
        match word {
            "time1" | "time2" | "stratum" | "refid" | "flag1" | "flag2" | "flag3" | "flag4" => {
                apply_fudge_option(&mut clock, word, args)?;
            }
            other => {
                return Err(format!(
                    "fudge: unknown option {other:?}; expected time1, time2, stratum, refid or flag1-flag4"
                ));
            }
        }
    }
    Ok((
        Fudge {
            driver,
            unit,
            clock,
        },
        line,
    ))
}

/// Applies a `fudge` line to the reference clock it names.
pub(super) fn apply_fudge(config: &mut Config, fudge: Fudge) -> Result<(), String> {
    let Some(target) = config
        .refclocks
        .iter_mut()
        .find(|c| c.driver == fudge.driver && c.unit == fudge.unit)
    else {
        return Err(format!(
            "fudge: no server line configures {}",
            fudge.driver.address(fudge.unit)
        ));
    };
    let f = fudge.clock;
    target.time1 = f.time1.or(target.time1);
    target.time2 = f.time2.or(target.time2);
    target.stratum = f.stratum.or(target.stratum);
    target.refid = f.refid.or(target.refid.take());
    for (slot, value) in target.flags.iter_mut().zip(f.flags) {
        *slot = value.or(*slot);
    }
    Ok(())
}
