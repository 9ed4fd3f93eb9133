//! The line parser behind [`Config::parse_str`](super::Config::parse_str).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::refclock::{RefclockConfig, RefclockDriver};
use super::{
    AssociationConfig, AssociationKind, Config, ConfigError, FilegenConfig, InterfaceAction,
    InterfaceRule, IpFamily, RestrictFlag, RestrictTarget, Restriction, ServerOptions,
};

/// How deep `includefile` may nest.
const MAX_INCLUDE_DEPTH: usize = 5;

/// Splits a line into words: whitespace-separated, `#` starts a comment,
/// double quotes group words.
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None | Some('#') => return Ok(out),
            Some('"') => {
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated quoted string".to_owned()),
                    }
                }
                out.push(word);
            }
            Some(_) => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '#' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(word);
            }
        }
    }
}

/// The words of one line after the command, with helpers that produce
/// "expected ..." messages.
struct Args<'a> {
    command: &'a str,
    words: std::slice::Iter<'a, String>,
}

impl<'a> Args<'a> {
    fn next(&mut self) -> Option<&'a str> {
        self.words.next().map(String::as_str)
    }

    /// `command` or `command option`, for messages.
    fn label(&self, option: &str) -> String {
        if option.is_empty() {
            self.command.to_owned()
        } else {
            format!("{} {option}", self.command)
        }
    }

    fn value(&mut self, option: &str, what: &str) -> Result<&'a str, String> {
        self.next()
            .ok_or_else(|| format!("{}: expected {what}", self.label(option)))
    }

    fn number<T: FromStr + PartialOrd + std::fmt::Display>(
        &mut self,
        option: &str,
        min: T,
        max: T,
    ) -> Result<T, String> {
        let what = format!("a number from {min} to {max}");
        let text = self.value(option, &what)?;
        match text.parse::<T>() {
            Ok(v) if v >= min && v <= max => Ok(v),
            _ => Err(format!(
                "{}: expected {what}, found {text:?}",
                self.label(option)
            )),
        }
    }

    fn seconds(&mut self, option: &str) -> Result<f64, String> {
        let text = self.value(option, "a number of seconds")?;
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!(
                "{}: expected a number of seconds, found {text:?}",
                self.label(option)
            )),
        }
    }

    fn flag(&mut self, option: &str) -> Result<bool, String> {
        match self.value(option, "0 or 1")? {
            "0" => Ok(false),
            "1" => Ok(true),
            other => Err(format!(
                "{} {option}: expected 0 or 1, found {other:?}",
                self.command
            )),
        }
    }
}

/// Parses `text` into `config`. `depth` counts `includefile` nesting.
pub(super) fn parse_into(
    config: &mut Config,
    text: &str,
    file: &Path,
    depth: usize,
) -> Result<(), ConfigError> {
    let mut pending_fudges = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let error = |message: String| ConfigError {
            file: file.to_owned(),
            line: line_no,
            message,
        };
        let words = words(line).map_err(error)?;
        let Some((command, rest)) = words.split_first() else {
            continue;
        };
        let mut args = Args {
            command,
            words: rest.iter(),
        };
        if command == "includefile" {
            let path = args.value("", "a file name").map_err(error)?;
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(error(format!(
                    "includefile nested deeper than {MAX_INCLUDE_DEPTH} levels"
                )));
            }
            let path = resolve(file, path);
            let included = std::fs::read_to_string(&path).map_err(|err| {
                error(format!(
                    "includefile: cannot read {}: {err}",
                    path.display()
                ))
            })?;
            parse_into(config, &included, &path, depth + 1)?;
            continue;
        }
        if command == "fudge" {
            let fudge = parse_fudge(&mut args, line_no).map_err(error)?;
            pending_fudges.push(fudge);
            continue;
        }
        parse_command(config, command, &mut args, file, line_no).map_err(error)?;
        if let Some(extra) = args.next() {
            return Err(error(format!("{command}: unexpected {extra:?}")));
        }
    }
    for (fudge, line_no) in pending_fudges {
        apply_fudge(config, fudge).map_err(|message| ConfigError {
            file: file.to_owned(),
            line: line_no,
            message,
        })?;
    }
    Ok(())
}

/// Checks that need the whole file.
pub(super) fn finish(config: &mut Config, file: &Path) -> Result<(), ConfigError> {
    for a in &config.associations {
        if let (Some(min), Some(max)) = (a.options.minpoll, a.options.maxpoll)
            && min > max
        {
            return Err(ConfigError {
                file: file.to_owned(),
                line: a.line,
                message: format!("{}: minpoll {min} is above maxpoll {max}", a.kind.command()),
            });
        }
    }
    Ok(())
}

fn resolve(base: &Path, path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_absolute() {
        path
    } else {
        base.parent().unwrap_or(Path::new(".")).join(path)
    }
}

fn parse_command(
    config: &mut Config,
    command: &str,
    args: &mut Args<'_>,
    file: &Path,
    line: usize,
) -> Result<(), String> {
    match command {
        "server" | "pool" | "peer" | "broadcast" | "manycastclient" => {
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
                    format!(
                        "{command}: expected a broadcast or multicast address, found {address:?}"
                    )
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
        }
        "refclock" => {
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
        }
        "broadcastclient" => {
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
        }
        "multicastclient" | "manycastserver" => {
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
        }
        "broadcastdelay" => config.broadcast_delay = Some(args.seconds("")?),
        "tos" => parse_tos(config, args)?,
        "tinker" => parse_tinker(config, args)?,
        "discipline" => {
            let name = args.value("", "rfc5905 or regression")?;
            config.discipline = Some(
                ntp_discipline::config::LoopAlgorithm::from_name(name).ok_or_else(|| {
                    format!("discipline: expected rfc5905 or regression, found {name:?}")
                })?,
            );
        }
        "ttl" => {
            while let Some(word) = args.next() {
                let ttl = word
                    .parse::<u8>()
                    .map_err(|_| format!("ttl: expected numbers from 0 to 255, found {word:?}"))?;
                config.ttl.push(ttl);
            }
        }
        "driftfile" => config.driftfile = Some(resolve(file, args.value("", "a file name")?)),
        "leapfile" => {
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
        }
        "keys" => config.keys_file = Some(resolve(file, args.value("", "a file name")?)),
        "trustedkey" => {
            let mut any = false;
            while let Some(word) = args.next() {
                config.trusted_keys.push(parse_key_range(word)?);
                any = true;
            }
            if !any {
                return Err("trustedkey: expected key ids (N or N-M)".to_owned());
            }
        }
        "controlkey" => config.control_key = Some(args.number("", 1, 65535)?),
        "requestkey" => config.request_key = Some(args.number("", 1, 65535)?),
        "restrict" => config.restrictions.push(parse_restrict(args)?),
        "discard" => {
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
        }
        "enable" | "disable" => {
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
        }
        "statsdir" => config.statsdir = Some(resolve(file, args.value("", "a directory")?)),
        "statistics" => {
            while let Some(word) = args.next() {
                check_stats_name(command, word)?;
                config.statistics.push(word.to_owned());
            }
        }
        "filegen" => {
            let name = args.value("", "a statistics name")?;
            check_stats_name(command, name)?;
            let mut filegen = FilegenConfig {
                name: name.to_owned(),
                file: None,
                file_type: None,
                link: None,
                enable: None,
            };
            while let Some(word) = args.next() {
                match word {
                    "file" => filegen.file = Some(args.value(word, "a file name")?.to_owned()),
                    "type" => {
                        let t = args.value(word, "none, pid, day, week, month, year or age")?;
                        if !["none", "pid", "day", "week", "month", "year", "age"].contains(&t) {
                            return Err(format!(
                                "filegen type: expected none, pid, day, week, month, year or age, found {t:?}"
                            ));
                        }
                        filegen.file_type = Some(t.to_owned());
                    }
                    "link" => filegen.link = Some(true),
                    "nolink" => filegen.link = Some(false),
                    "enable" => filegen.enable = Some(true),
                    "disable" => filegen.enable = Some(false),
                    other => {
                        return Err(format!(
                            "filegen: expected file, type, link, nolink, enable or disable, found {other:?}"
                        ));
                    }
                }
            }
            if filegen.enable == Some(true) && !config.statistics.contains(&filegen.name) {
                config.statistics.push(filegen.name.clone());
            }
            config.filegen.push(filegen);
        }
        "interface" => {
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
        }
        "logfile" => config.logfile = Some(resolve(file, args.value("", "a file name")?)),
        other => {
            return Err(format!("unknown command {other:?}"));
        }
    }
    Ok(())
}

fn check_stats_name(command: &str, name: &str) -> Result<(), String> {
    const KNOWN: [&str; 7] = [
        "peerstats",
        "loopstats",
        "clockstats",
        "rawstats",
        "sysstats",
        "protostats",
        "cryptostats",
    ];
    if KNOWN.contains(&name) {
        Ok(())
    } else {
        Err(format!(
            "{command}: expected one of {}, found {name:?}",
            KNOWN.join(", ")
        ))
    }
}

fn parse_key_range(word: &str) -> Result<std::ops::RangeInclusive<u32>, String> {
    let parse = |s: &str| match s.parse::<u32>() {
        Ok(v) if (1..=65535).contains(&v) => Ok(v),
        _ => Err(format!(
            "trustedkey: expected a key id from 1 to 65535, found {s:?}"
        )),
    };
    // ntpd writes ranges as "(1 ... 5)" in ntpq output; the config accepts N-M.
    match word.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if a > b {
                return Err(format!("trustedkey: range {word} is empty"));
            }
            Ok(a..=b)
        }
        None => {
            let v = parse(word)?;
            Ok(v..=v)
        }
    }
}

fn parse_poll(args: &mut Args<'_>, option: &str) -> Result<i8, String> {
    args.number(option, 3, 17)
}

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

/// Options of `server 127.127.T.U ...` (classic) or `refclock NAME ...` (NTPsec).
fn parse_refclock_options(
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
struct Fudge {
    driver: RefclockDriver,
    unit: u8,
    clock: RefclockConfig,
}

fn parse_fudge(args: &mut Args<'_>, line: usize) -> Result<(Fudge, usize), String> {
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

fn apply_fudge(config: &mut Config, fudge: Fudge) -> Result<(), String> {
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

fn parse_tos(config: &mut Config, args: &mut Args<'_>) -> Result<(), String> {
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

fn parse_tinker(config: &mut Config, args: &mut Args<'_>) -> Result<(), String> {
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

fn parse_restrict(args: &mut Args<'_>) -> Result<Restriction, String> {
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
    let mut target = match target_word {
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

/// The prefix length of a netmask written as an address (`255.255.255.0`).
fn mask_prefix(address: IpAddr, mask_text: &str) -> Result<u8, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_splitting() {
        assert_eq!(
            words("server a  iburst # c").unwrap(),
            ["server", "a", "iburst"]
        );
        assert_eq!(
            words("driftfile \"/a b/c\"").unwrap(),
            ["driftfile", "/a b/c"]
        );
        assert!(words("keys \"/x").is_err());
        assert!(words("   # only a comment").unwrap().is_empty());
    }

    #[test]
    fn masks() {
        let v4: IpAddr = "192.0.2.0".parse().unwrap();
        assert_eq!(mask_prefix(v4, "255.255.255.0"), Ok(24));
        assert_eq!(mask_prefix(v4, "255.255.255.255"), Ok(32));
        assert_eq!(mask_prefix(v4, "0.0.0.0"), Ok(0));
        assert!(mask_prefix(v4, "255.0.255.0").is_err());
        assert!(mask_prefix(v4, "ffff::").is_err());
    }

    #[test]
    fn key_ranges() {
        assert_eq!(parse_key_range("5"), Ok(5..=5));
        assert_eq!(parse_key_range("2-9"), Ok(2..=9));
        assert!(parse_key_range("9-2").is_err());
        assert!(parse_key_range("0").is_err());
        assert!(parse_key_range("70000").is_err());
    }

    #[test]
    fn discipline_selects_the_loop() {
        use ntp_discipline::config::LoopAlgorithm;
        let parse = |text: &str| Config::parse_str(text, "test.conf");
        assert_eq!(parse("").unwrap().discipline, None);
        assert_eq!(
            parse("discipline regression\n").unwrap().discipline,
            Some(LoopAlgorithm::Regression)
        );
        assert_eq!(
            parse("discipline rfc5905\n").unwrap().discipline,
            Some(LoopAlgorithm::Rfc5905)
        );
        assert!(parse("discipline pid\n").is_err());
        assert!(parse("discipline\n").is_err());
    }
}
