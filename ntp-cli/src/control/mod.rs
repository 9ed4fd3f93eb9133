//! The control socket: a Unix-domain stream socket speaking one JSON
//! request and one JSON response per line, used by `ntpctl peers` and
//! `ntpctl status`.
//!
//! Requests are `{"command": "peers"}` and `{"command": "status"}`; the
//! response is `{"ok": REPORT}` or `{"error": "..."}`. The reports are the
//! documented JSON of `ntpctl peers --json` and `ntpctl status --json`.
//!
//! The socket is created with permissions 0600 (only the daemon's user may
//! connect) and spoken to with `send`/`recv` only (DESIGN.md runtime rules).

pub mod report;
pub mod server;

use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use socket2::{Domain, SockAddr, Socket, Type};

/// The default control socket path.
pub const DEFAULT_CONTROL_PATH: &str = "/run/ntpctl/control.sock";

/// The longest request or response line accepted.
pub const MAX_MESSAGE_LEN: usize = 1 << 20;

/// A request to the daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    /// The associations, as `ntpq -p` shows them.
    Peers,
    /// The system variables and discipline state.
    Status,
}

/// One association on the billboard (`ntpctl peers --json` array element).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerReport {
    /// The remote address (or `127.127.T.U` / driver name for refclocks).
    pub remote: String,
    /// The host name as configured, if any.
    pub hostname: Option<String>,
    /// The tally code: space, `x`, `.`, `-`, `+`, `#`, `*` or `o`.
    pub tally: char,
    /// The remote's reference ID as text.
    pub refid: String,
    /// The remote's stratum.
    pub stratum: u8,
    /// The association type: `u` unicast, `p` pool, `s` symmetric, `b`
    /// broadcast/multicast client, `B` broadcast server, `m` manycast
    /// client, `A` manycast-mobilised, `l` local reference clock.
    pub mode: String,
    /// The reachability register (8 bits).
    pub reach: u8,
    /// The poll interval, seconds.
    pub poll: u32,
    /// Seconds since the last packet was received (null: never).
    pub when: Option<u64>,
    /// Round-trip delay, seconds.
    pub delay: f64,
    /// Offset, seconds.
    pub offset: f64,
    /// Jitter, seconds.
    pub jitter: f64,
    /// Dispersion, seconds.
    pub dispersion: f64,
    /// Why the association is not used, if it is not (`unreachable`, a kiss code, ...).
    pub note: Option<String>,
}

/// The system variables (`ntpctl status --json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// The system stratum (16: unsynchronised).
    pub stratum: u8,
    /// The system reference ID as text.
    pub refid: String,
    /// The leap indicator (0-3).
    pub leap: u8,
    /// The system peer's address, if any.
    pub system_peer: Option<String>,
    /// The last combined offset, seconds.
    pub offset: f64,
    /// The clock frequency correction, ppm.
    pub frequency_ppm: f64,
    /// Root delay, seconds.
    pub root_delay: f64,
    /// Root dispersion, seconds.
    pub root_dispersion: f64,
    /// System jitter, seconds.
    pub jitter: f64,
    /// The poll exponent the discipline asks for.
    pub poll: i8,
    /// The discipline state: NSET, FSET, SPIK, FREQ or SYNC.
    pub discipline_state: String,
    /// Whether the host runs as an orphan.
    pub orphan: bool,
    /// Whether the daemon adjusts the clock (false with --no-adjust, `disable ntp`, or without the privilege).
    pub clock_adjusted: bool,
    /// The reference time, RFC 3339.
    pub reference_time: Option<String>,
    /// Packet counters by outcome (received, sent, rejected by reason, ...).
    pub counters: std::collections::BTreeMap<String, u64>,
}

/// A response from the daemon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// The billboard.
    Peers(Vec<PeerReport>),
    /// The system status.
    Status(Box<StatusReport>),
    /// The request could not be served.
    Error(String),
}

/// Sends one request to the daemon at `path` and reads its response.
pub fn request(path: &Path, request: Request, timeout: Duration) -> io::Result<Response> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_read_timeout(Some(timeout))?;
    socket.set_write_timeout(Some(timeout))?;
    socket.connect(&SockAddr::unix(path)?)?;
    let mut line = serde_json::to_vec(&request).map_err(io::Error::other)?;
    line.push(b'\n');
    // socket2's Write and Read call send(2) and recv(2).
    (&socket).write_all(&line)?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = (&socket).read(&mut buf)?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if reply.ends_with(b"\n") {
            break;
        }
        if reply.len() > MAX_MESSAGE_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response too long",
            ));
        }
    }
    serde_json::from_slice(&reply).map_err(|err| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the daemon's response is not valid JSON: {err}"),
        )
    })
}
