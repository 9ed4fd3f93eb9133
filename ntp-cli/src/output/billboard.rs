//! The `ntpctl peers` billboard (like `ntpq -p`) and the `ntpctl status`
//! summary, as text.

use std::fmt::Write as _;

use crate::control::{PeerReport, Response, StatusReport};

/// Renders a control-socket response as `ntpctl peers`/`status` print it:
/// the text form, or pretty JSON (times in seconds) with `json`.
pub fn render_response(response: &Response, json: bool) -> Result<String, serde_json::Error> {
    Ok(match response {
        Response::Peers(peers) if json => serde_json::to_string_pretty(peers)? + "\n",
        Response::Peers(peers) => render_peers(peers),
        Response::Status(status) if json => serde_json::to_string_pretty(status)? + "\n",
        Response::Status(status) => render_status(status),
        Response::Error(err) => format!("error: {err}\n"),
    })
}

/// Formats the peers as `ntpq -p` does: tally code and remote, refid,
/// stratum, type, when, poll, reach in octal, delay, offset and jitter in
/// milliseconds.
pub fn render_peers(peers: &[PeerReport]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "     remote           refid      st t when poll reach   delay   offset  jitter"
    );
    let _ = writeln!(s, "{}", "=".repeat(79));
    for p in peers {
        let when = match p.when {
            None => "-".to_owned(),
            Some(secs) if secs < 2048 => secs.to_string(),
            Some(secs) if secs < 2048 * 60 => format!("{}m", secs / 60),
            Some(secs) if secs < 300 * 3600 => format!("{}h", secs / 3600),
            Some(secs) => format!("{}d", secs / 86400),
        };
        let refid = if p.stratum <= 1 || p.refid.chars().all(|c| c.is_ascii_uppercase()) {
            format!(".{}.", p.refid)
        } else {
            p.refid.clone()
        };
        let _ = writeln!(
            s,
            "{}{:<15.15} {:<15.15} {:>2} {:1} {:>4} {:>4} {:>5o} {:>7.3} {:>8.3} {:>7.3}",
            p.tally,
            p.hostname.as_deref().unwrap_or(&p.remote),
            refid,
            p.stratum,
            p.mode,
            when,
            p.poll,
            p.reach,
            p.delay * 1e3,
            p.offset * 1e3,
            p.jitter * 1e3,
        );
    }
    s
}

/// Formats the system variables, one a line.
pub fn render_status(status: &StatusReport) -> String {
    let mut s = String::new();
    let leap = match status.leap {
        0 => "no warning",
        1 => "insert second",
        2 => "delete second",
        _ => "unsynchronized",
    };
    let _ = writeln!(s, "stratum:          {}", status.stratum);
    let _ = writeln!(s, "refid:            {}", status.refid);
    let _ = writeln!(s, "leap:             {} ({leap})", status.leap);
    let _ = writeln!(
        s,
        "system peer:      {}",
        status.system_peer.as_deref().unwrap_or("(none)")
    );
    let _ = writeln!(
        s,
        "offset:           {}",
        super::human_seconds(status.offset)
    );
    let _ = writeln!(s, "frequency:        {:+.3} ppm", status.frequency_ppm);
    let _ = writeln!(
        s,
        "jitter:           {}",
        super::human_interval(status.jitter)
    );
    let _ = writeln!(
        s,
        "root delay:       {}",
        super::human_interval(status.root_delay)
    );
    let _ = writeln!(
        s,
        "root dispersion:  {}",
        super::human_interval(status.root_dispersion)
    );
    let _ = writeln!(
        s,
        "poll:             {} ({} s)",
        status.poll,
        1u64 << status.poll.clamp(0, 17)
    );
    let _ = writeln!(s, "discipline:       {}", status.discipline_state);
    let _ = writeln!(
        s,
        "orphan:           {}",
        if status.orphan { "yes" } else { "no" }
    );
    let _ = writeln!(
        s,
        "clock adjusted:   {}",
        if status.clock_adjusted {
            "yes"
        } else {
            "no (--no-adjust, disable ntp, or no privilege)"
        }
    );
    if let Some(t) = &status.reference_time {
        let _ = writeln!(s, "reference time:   {t}");
    }
    for (name, count) in &status.counters {
        let _ = writeln!(s, "  {name:<28} {count}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(tally: char, remote: &str, refid: &str, stratum: u8, reach: u8) -> PeerReport {
        PeerReport {
            remote: remote.to_owned(),
            hostname: None,
            tally,
            refid: refid.to_owned(),
            stratum,
            mode: "u".to_owned(),
            reach,
            poll: 64,
            when: Some(12),
            delay: 0.000_512,
            offset: -0.000_034,
            jitter: 0.000_011,
            dispersion: 0.001,
            note: None,
        }
    }

    #[test]
    fn billboard_like_ntpq() {
        let text = render_peers(&[
            peer('*', "192.0.2.1", "GPS", 1, 0o377),
            peer('+', "192.0.2.2", "192.0.2.1", 2, 0o17),
            peer(' ', "2001:db8::1234:5678", "INIT", 16, 0),
        ]);
        insta::assert_snapshot!(text, @r"
             remote           refid      st t when poll reach   delay   offset  jitter
        ===============================================================================
        *192.0.2.1       .GPS.            1 u   12   64   377   0.512   -0.034   0.011
        +192.0.2.2       192.0.2.1        2 u   12   64    17   0.512   -0.034   0.011
         2001:db8::1234: .INIT.          16 u   12   64     0   0.512   -0.034   0.011
        ");
    }
}
