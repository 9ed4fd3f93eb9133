//! How `ntpctl` prints things: packet decodes, measurements, billboards.
//!
//! Text output is for people (times with units they read: s, ms, us);
//! JSON output is for scripts (times in seconds, snake_case keys) and is a
//! stable, documented format.

pub mod billboard;
pub mod decode;
pub mod query;

/// Formats a time in seconds with a unit a person reads: `s`, `ms`, `us`
/// or `ns`, with four significant digits, e.g. `+1.234ms`.
pub fn human_seconds(seconds: f64) -> String {
    let sign = if seconds < 0.0 { "-" } else { "+" };
    let abs = seconds.abs();
    let (value, unit) = if !abs.is_finite() {
        return format!("{seconds}");
    } else if abs >= 1.0 {
        (abs, "s")
    } else if abs >= 1e-3 {
        (abs * 1e3, "ms")
    } else if abs >= 1e-6 {
        (abs * 1e6, "us")
    } else {
        (abs * 1e9, "ns")
    };
    let decimals = if value >= 100.0 {
        1
    } else if value >= 10.0 {
        2
    } else {
        3
    };
    format!("{sign}{value:.decimals$}{unit}")
}

/// Like [`human_seconds`] without a sign for non-negative values (delays,
/// dispersions, jitter).
pub fn human_interval(seconds: f64) -> String {
    let text = human_seconds(seconds);
    text.strip_prefix('+').map(str::to_owned).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(human_seconds(1.5), "+1.500s");
        assert_eq!(human_seconds(-0.0012346), "-1.235ms");
        assert_eq!(human_seconds(0.000_045_6), "+45.60us");
        assert_eq!(human_seconds(3e-9), "+3.000ns");
        assert_eq!(human_interval(0.25), "250.0ms");
        assert_eq!(human_seconds(0.0), "+0.000ns");
    }
}
