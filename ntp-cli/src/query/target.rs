//! `HOST[:PORT]` arguments and their resolution to socket addresses.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The NTP port.
pub const NTP_PORT: u16 = 123;

/// Which address families to query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Family {
    /// IPv4 and IPv6.
    #[default]
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

impl Family {
    /// Whether `address` belongs to this family.
    pub fn admits(self, address: &IpAddr) -> bool {
        match self {
            Self::Any => true,
            Self::V4 => address.is_ipv4(),
            Self::V6 => address.is_ipv6(),
        }
    }
}

/// A command-line target: a host name or address literal and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host as written (without brackets and port).
    pub host: String,
    /// The port (123 unless given).
    pub port: u16,
}

/// Why a `HOST[:PORT]` argument is not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetError(pub String);

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TargetError {}

/// Parses `HOST`, `HOST:PORT`, `IPV4:PORT`, a bare IPv6 literal (`::1`) or a
/// bracketed IPv6 literal with or without a port (`[::1]:123`, `[::1]`).
pub fn parse_target(text: &str) -> Result<Target, TargetError> {
    let bad = |why: &str| TargetError(format!("{text:?}: {why}"));
    let parse_port = |port: &str| {
        port.parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| bad("the port must be a number from 1 to 65535"))
    };
    if let Some(rest) = text.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(bad("missing ']' after the IPv6 address"));
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("not an IPv6 address between '[' and ']'"));
        }
        let port = match after {
            "" => NTP_PORT,
            _ => match after.strip_prefix(':') {
                Some(port) => parse_port(port)?,
                None => return Err(bad("expected ':PORT' after ']'")),
            },
        };
        return Ok(Target {
            host: host.to_owned(),
            port,
        });
    }
    if text.is_empty() {
        return Err(bad("empty host"));
    }
    match text.matches(':').count() {
        0 => Ok(Target {
            host: text.to_owned(),
            port: NTP_PORT,
        }),
        1 => {
            let (host, port) = text.split_once(':').unwrap_or((text, ""));
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            Ok(Target {
                host: host.to_owned(),
                port: parse_port(port)?,
            })
        }
        // Several colons: a bare IPv6 literal (a port needs brackets).
        _ => match text.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(Target {
                host: text.to_owned(),
                port: NTP_PORT,
            }),
            Err(_) => Err(bad(
                "not an IPv6 address (write an IPv6 address with a port as [ADDRESS]:PORT)",
            )),
        },
    }
}

/// Resolves a target to all of its addresses in `family`, in the
/// resolver's order, without duplicates.
pub fn resolve(target: &Target, family: Family) -> Result<Vec<SocketAddr>, TargetError> {
    let found = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|err| TargetError(format!("unknown host {}: {err}", target.host)))?;
    let mut addresses: Vec<SocketAddr> = Vec::new();
    let mut any = false;
    for address in found {
        any = true;
        if family.admits(&address.ip()) && !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    if addresses.is_empty() {
        let which = match family {
            Family::V4 => "IPv4 ",
            Family::V6 => "IPv6 ",
            Family::Any => "",
        };
        return Err(TargetError(if any {
            format!("unknown host {}: no {which}address", target.host)
        } else {
            format!("unknown host {}: no address", target.host)
        }));
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(host: &str, port: u16) -> Target {
        Target {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn targets() {
        assert_eq!(parse_target("pool.ntp.org"), Ok(t("pool.ntp.org", 123)));
        assert_eq!(parse_target("localhost:1123"), Ok(t("localhost", 1123)));
        assert_eq!(parse_target("127.0.0.1:5"), Ok(t("127.0.0.1", 5)));
        assert_eq!(parse_target("::1"), Ok(t("::1", 123)));
        assert_eq!(parse_target("[::1]:4123"), Ok(t("::1", 4123)));
        assert_eq!(parse_target("[fe80::1]"), Ok(t("fe80::1", 123)));
        for bad in [
            "",
            ":123",
            "host:",
            "host:0",
            "host:70000",
            "[::1",
            "[::1]x",
            "[nothost]:1",
            "::1:zz:",
        ] {
            assert!(parse_target(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn resolution_filters_families() {
        let v6 = resolve(&t("::1", 9), Family::Any).unwrap();
        assert_eq!(v6, vec!["[::1]:9".parse().unwrap()]);
        assert!(resolve(&t("::1", 9), Family::V4).is_err());
        let v4 = resolve(&t("127.0.0.1", 9), Family::V4).unwrap();
        assert_eq!(v4, vec!["127.0.0.1:9".parse().unwrap()]);
        let err = resolve(&t("no-such-host.invalid", 9), Family::Any).unwrap_err();
        assert!(
            err.0.starts_with("unknown host no-such-host.invalid"),
            "{err}"
        );
    }
}
