//! The monitoring directives: `statistics` and `filegen`.

use super::super::{Config, FilegenConfig};
use super::Args;

/// `statistics NAME...`.
pub(super) fn parse_statistics(
    config: &mut Config,
    command: &str,
    args: &mut Args<'_>,
) -> Result<(), String> {
    while let Some(word) = args.next() {
        check_stats_name(command, word)?;
        config.statistics.push(word.to_owned());
    }
    Ok(())
}

/// `filegen NAME [file F] [type T] [link|nolink] [enable|disable]`.
pub(super) fn parse_filegen(
    config: &mut Config,
    command: &str,
    args: &mut Args<'_>,
) -> Result<(), String> {
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
    Ok(())
}

/// Whether `name` is a statistics file ntpd knows.
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
