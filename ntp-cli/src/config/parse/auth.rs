//! The authentication directive with more than one value: `trustedkey`.

use super::super::Config;
use super::Args;

/// `trustedkey ID...` (IDs or ranges N-M).
pub(super) fn parse_trustedkey(config: &mut Config, args: &mut Args<'_>) -> Result<(), String> {
    let mut any = false;
    while let Some(word) = args.next() {
        config.trusted_keys.push(parse_key_range(word)?);
        any = true;
    }
    if !any {
        return Err("trustedkey: expected key ids (N or N-M)".to_owned());
    }
    Ok(())
}

/// A key ID or a range of them, `N` or `N-M`, from 1 to 65535.
pub(super) fn parse_key_range(word: &str) -> Result<std::ops::RangeInclusive<u32>, String> {
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
