//! The NTPv4 system process (RFC 5905 section 11, Appendix A.5.5), sans-IO.
//!
//! Given one [`Candidate`] per association (the peer process's summary after
//! its clock filter), [`clock_select`] runs the fitness tests, the
//! intersection (selection) algorithm that separates truechimers from
//! falsetickers, the cluster algorithm that casts out outlyers, the
//! combine algorithm, the system peer choice with ntpd's anti-clockhop
//! hysteresis and the `prefer` and PPS rules, and derives the
//! [`SystemVariables`] (stratum, reference ID, root delay and dispersion,
//! leap vote). Every candidate gets a [`Tally`] code for the peers
//! billboard. [`SystemProcess`] wraps the function with its small state.
//!
//! The crate reads no clock: `now` is an argument. It knows nothing of
//! orphan mode; `ntp-orphan` steers it through [`Role`].
//!
//! One documented deviation from RFC 5905 is available to the caller: a
//! candidate's `fit_dispersion`, when set, replaces its dispersion in the
//! fitness test only ([`fitness_distance`]); the intersection, clustering,
//! combining and system variables keep the RFC dispersion. The daemon sets
//! it at start-up, from the clock filter's valid-stage dispersion during an
//! iburst (see `ntp-assoc`'s "Start-up: bursts and fitness"), so that a
//! source is fit after three samples instead of four.
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use ntp_select::{Candidate, ClockUpdate, SystemProcess, Tally, TosSettings};
//! use ntp_wire::packet::LeapIndicator;
//! use ntp_wire::time::{NtpDuration, NtpTimestamp, Uptime};
//!
//! let now = Uptime::from_secs(1000);
//! let server = |id: u32, offset_ms: i64| Candidate {
//!     address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, id as u8))),
//!     stratum: 2,
//!     leap: LeapIndicator::NoWarning,
//!     offset: NtpDuration::from_nanos(offset_ms * 1_000_000),
//!     delay: NtpDuration::from_nanos(20_000_000),
//!     dispersion: NtpDuration::from_nanos(1_000_000),
//!     jitter: NtpDuration::from_nanos(500_000),
//!     reach: 0o377,
//!     update_time: now,
//!     ..Candidate::new(id)
//! };
//! // Three servers agree within a few milliseconds; one is 5 s off.
//! let candidates = [server(1, 1), server(2, 2), server(3, 3), server(4, 5000)];
//!
//! let mut system = SystemProcess::new(TosSettings::default())?;
//! let result = system.select(&candidates, now);
//! assert_eq!(result.tally(4), Some(Tally::Falseticker));
//! // The system peer is the survivor in the middle of the others.
//! assert_eq!(result.sys_peer, Some(2));
//! // clock_update(): a fresh sample of the system peer becomes the system
//! // variables, and its offset goes to the clock discipline.
//! let clock = NtpTimestamp::from_seconds_and_fraction(3_900_000_000, 0);
//! let update = system.clock_update(&result, now, clock);
//! assert!(matches!(update, ClockUpdate::Fresh { peer: 2, .. }));
//! let vars = system.variables();
//! assert_eq!(vars.stratum, 3);
//! assert_eq!(vars.reference_id.to_string(), "192.0.2.2");
//! # Ok::<(), ntp_select::TosError>(())
//! ```

mod select;
mod system;
mod table;
mod tally;
mod tos;

pub use ntp_wire::candidate::{Candidate, CandidateFlags, Role};
pub use select::{
    CandidateReport, Intersection, SelectState, SelectionResult, check_fitness, clock_select,
    fitness_distance, root_distance,
};
pub use system::{ClockUpdate, SystemProcess, SystemVariables};
pub use tally::{Reject, Tally};
pub use tos::{MAXSTRAT, PHI, PPS_MAX_OFFSET, TosError, TosSettings};
