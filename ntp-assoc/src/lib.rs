//! The NTPv4 peer process (RFC 5905 sections 8-10, Appendix A.5.1-A.5.3),
//! sans-IO.
//!
//! - [`onwire`]: the on-wire computation (offset, delay, dispersion for
//!   client, symmetric and broadcast modes), the [`Sample`] type and the
//!   checks a client applies to a server reply, with a typed
//!   [`Rejection`] reason. `ntpctl query` and the daemon share this code.
//! - [`filter`]: the clock filter.
//! - [`dispatch`]: the dispatch matrix by (association mode, packet mode).
//! - [`server`]: stateless server replies (`fast_xmit`), including
//!   Kiss-o'-Death, never longer than the request.
//! - [`auth`]: symmetric-key checks of incoming packets.
//! - [`access`]: `restrict` lists and the bounded per-client rate limiter.
//! - [`endpoint`]: the association table: mobilisation and
//!   demobilisation of persistent, preemptable and ephemeral associations
//!   of every mode, the packet checks, reachability, KoD handling, and the
//!   poll processes (from `ntp-poll`), in the style of quinn-proto's
//!   `Endpoint`.
//!
//! Packets come in as bytes and go out as values for the caller to send;
//! time is an argument.
//!
//! ```
//! use ntp_assoc::onwire::{check_reply, client_sample, Timestamps};
//! use ntp_wire::packet::{Header, Mode};
//! use ntp_wire::time::NtpTimestamp;
//!
//! let nonce = NtpTimestamp::from_bits(0x0123_4567_89ab_cdef);
//! let mut reply = Header::client_request(4, NtpTimestamp::from_seconds_and_fraction(1001, 0));
//! reply.mode = Mode::Server;
//! reply.stratum = 2;
//! reply.origin_time = nonce;
//! reply.receive_time = NtpTimestamp::from_seconds_and_fraction(1001, 0);
//! assert_eq!(check_reply(&reply, nonce), Ok(()));
//!
//! let mut stamps = Timestamps::from_reply(&reply, NtpTimestamp::from_seconds_and_fraction(1002, 0));
//! stamps.origin = NtpTimestamp::from_seconds_and_fraction(1000, 0); // the time we really sent it
//! let sample = client_sample(&stamps, reply.precision, -20);
//! assert_eq!(sample.offset.to_seconds_f64(), 0.0);
//! assert_eq!(sample.delay.to_seconds_f64(), 2.0);
//! ```
//!
//! # Start-up: bursts and fitness
//!
//! Two rules make an `iburst` synchronise in about three samples (4 s),
//! as chronyd does, rather than at the end of the eight-packet burst:
//!
//! - As in ntpd's `clock_filter()` ("if not synchronised or not in a
//!   burst, call `clock_select`"), every accepted filter sample raises
//!   [`Event::ClockUpdate`] while the system is unsynchronised, even during
//!   a burst; once synchronised, a burst's samples wait for its end.
//! - **Start-up fitness, a documented deviation from RFC 5905.** With the
//!   RFC filter dispersion (empty stages count MAXDISP = 16 s, weighted
//!   `2^-(i+1)`), a peer with `k` samples has a dispersion of at least
//!   `16 s * (2^-k - 2^-8)`: 1.94 s for `k = 3`, above MAXDIST (1.5 s), so
//!   it would be unfit until the fourth sample. While the association is in
//!   its iburst and its filter holds at least
//!   [`filter::STARTUP_MIN_SAMPLES`] (3) samples, [`Candidate`] carries
//!   `startup_dispersion`, the dispersion of the filter's valid stages only
//!   ([`ClockFilter::valid_dispersion`]); the daemon hands it to
//!   `ntp-select`'s fitness test (`Candidate::fit_dispersion`) while the
//!   system has no system peer (and keeps it for the system peer so chosen
//!   until its iburst ends). The peer dispersion, the root distance used by
//!   the intersection and clustering, and the root dispersion this host
//!   derives and advertises stay those of the RFC; with eight samples the
//!   two dispersions are equal anyway.
//!
//! The daemon drives an [`Endpoint`]:
//!
//! ```
//! use ntp_assoc::{Access, AssocConfig, Auth, Endpoint, EndpointConfig};
//! use ntp_poll::Uptime;
//! use ntp_wire::time::NtpTimestamp;
//!
//! let mut endpoint = Endpoint::new(EndpointConfig::default(), Auth::disabled());
//! let server = "192.0.2.1:123".parse().unwrap();
//! let id = endpoint.mobilise(AssocConfig::client(server), Uptime::ZERO).unwrap();
//! let due = endpoint.poll_timeout();
//! endpoint.handle_timeout(due, NtpTimestamp::from_seconds_and_fraction(1000, 0));
//! let transmit = endpoint.poll_transmit().unwrap();
//! assert_eq!(transmit.destination, server);
//! assert_eq!(transmit.association, Some(id));
//! ```

pub mod access;
pub mod auth;
pub mod dispatch;
pub mod endpoint;
pub mod filter;
pub mod onwire;
pub mod server;

pub use auth::{Auth, AuthOutcome};
pub use dispatch::{Action, AssocMode};
pub use endpoint::{
    Access, AssocConfig, AssocId, Association, Candidate, ConfigError, DemobiliseReason,
    Disposition, Endpoint, EndpointConfig, Event, Kind, SendFrom, Transmit, TransmitKind, Volley,
};
pub use filter::{ClockFilter, FilterOutcome};
pub use onwire::{Rejection, Sample};
pub use server::{PacketBuf, ReplyKind, SystemVars};
