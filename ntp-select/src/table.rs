//! The selection table as text, for logs, `ntpctl` and snapshot tests.

use core::fmt;

use crate::select::SelectionResult;

/// Milliseconds with three decimals and a sign.
struct Ms(f64);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{:+.3}", self.0 * 1e3);
        f.pad(&text)
    }
}

/// Prints the intersection interval, one line per candidate (tally, id,
/// offset, root distance, correctness interval, selection jitter, weight,
/// reason for rejection) and the system variables, times in milliseconds.
impl<K: fmt::Debug> fmt::Display for SelectionResult<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.intersection {
            Some(x) => writeln!(
                f,
                "intersection [{}, {}] ms, {} falseticker(s) allowed",
                Ms(x.low),
                Ms(x.high),
                x.allowed_falsetickers
            )?,
            None => writeln!(f, "intersection: none")?,
        }
        writeln!(
            f,
            "t id       offset     rootdist          low         high       seljit weight reason"
        )?;
        for r in &self.candidates {
            let id = format!("{:?}", r.id);
            let seljit = r
                .select_jitter
                .map_or_else(|| "-".to_owned(), |s| Ms(s).to_string());
            let weight = r
                .weight
                .map_or_else(|| "-".to_owned(), |w| format!("{w:.3}"));
            let reason = r.reject.map_or("", |x| x.name());
            writeln!(
                f,
                "{}{:<3}{:>12} {:>12} {:>12} {:>12} {:>12} {:>6} {}",
                r.tally.code(),
                id,
                Ms(r.offset),
                Ms(r.root_distance),
                Ms(r.offset - r.root_distance),
                Ms(r.offset + r.root_distance),
                seljit,
                weight,
                reason
            )?;
        }
        let survivors: Vec<String> = self.survivors.iter().map(|k| format!("{k:?}")).collect();
        writeln!(f, "survivors: [{}]", survivors.join(", "))?;
        match (&self.sys_peer, &self.system) {
            (Some(peer), Some(s)) => writeln!(
                f,
                "sys_peer {:?}: offset {} ms jitter {} ms | leap {} stratum {} refid {} rootdelay {} ms rootdisp {} ms sample at {}{}",
                peer,
                Ms(s.offset.to_seconds_f64()),
                Ms(s.jitter.to_seconds_f64()),
                s.leap.to_bits(),
                s.stratum,
                s.reference_id,
                Ms(s.root_delay.to_seconds_f64()),
                Ms(s.root_dispersion.to_seconds_f64()),
                s.update_time,
                if self.fresh { "" } else { " (not fresh)" }
            ),
            _ => writeln!(f, "sys_peer: none (clock not disciplined)"),
        }
    }
}
