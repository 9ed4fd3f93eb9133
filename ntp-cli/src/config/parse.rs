//! The line parser behind [`Config::parse_str`](super::Config::parse_str).

//!
//! One function per directive, in files by subject: `servers`
//! (associations, broadcast and manycast), `refclocks` (`refclock`,
//! `fudge`), `system` (`tos`, `tinker`, `discipline`, `enable`/`disable`,
//! `leapfile`, `interface`), `access` (`restrict`, `discard`), `auth`
//! (`trustedkey`), `stats` (`statistics`, `filegen`); the one-value
//! settings are parsed in the dispatcher.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{Config, ConfigError};

mod access;
mod auth;
mod refclocks;
mod servers;
mod stats;
mod system;

use refclocks::{apply_fudge, parse_fudge};

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

/// `path` relative to the directory of the file that names it.
fn resolve(base: &Path, path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_absolute() {
        path
    } else {
        base.parent().unwrap_or(Path::new(".")).join(path)
    }
}

/// One directive, dispatched by its keyword to its parser.
fn parse_command(
    config: &mut Config,
    command: &str,
    args: &mut Args<'_>,
    file: &Path,
    line: usize,
) -> Result<(), String> {
    match command {
        "server" | "pool" | "peer" | "broadcast" | "manycastclient" => {
            servers::parse_association(config, command, args, line)?;
        }
        "refclock" => refclocks::parse_refclock(config, args, line)?,
        "broadcastclient" => servers::parse_broadcastclient(config, args)?,
        "multicastclient" | "manycastserver" => servers::parse_groups(config, command, args)?,
        "broadcastdelay" => config.broadcast_delay = Some(args.seconds("")?),
        "tos" => system::parse_tos(config, args)?,
        "tinker" => system::parse_tinker(config, args)?,
        "discipline" => system::parse_discipline(config, args)?,
        "ttl" => servers::parse_ttl(config, args)?,
        "driftfile" => config.driftfile = Some(resolve(file, args.value("", "a file name")?)),
        "leapfile" => system::parse_leapfile(config, args, file)?,
        "keys" => config.keys_file = Some(resolve(file, args.value("", "a file name")?)),
        "trustedkey" => auth::parse_trustedkey(config, args)?,
        "controlkey" => config.control_key = Some(args.number("", 1, 65535)?),
        "requestkey" => config.request_key = Some(args.number("", 1, 65535)?),
        "restrict" => config.restrictions.push(access::parse_restrict(args)?),
        "discard" => access::parse_discard(config, args)?,
        "enable" | "disable" => system::parse_enable(config, command, args)?,
        "statsdir" => config.statsdir = Some(resolve(file, args.value("", "a directory")?)),
        "statistics" => stats::parse_statistics(config, command, args)?,
        "filegen" => stats::parse_filegen(config, command, args)?,
        "interface" => system::parse_interface(config, args)?,
        "logfile" => config.logfile = Some(resolve(file, args.value("", "a file name")?)),
        other => {
            return Err(format!("unknown command {other:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::access::mask_prefix;
    use super::auth::parse_key_range;
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
