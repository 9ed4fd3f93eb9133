//! NTP orphan mode (the orphan page of the ntpd 4.2.8 documentation and
//! DESIGN.md's decision), sans-IO.
//!
//! When a group of hosts loses every real time source, orphan mode lets
//! them keep a common timescale: after `tos orphanwait` seconds without a
//! source, a host becomes an orphan parent advertising `tos orphan` as its
//! stratum; every host follows the orphan parent with the lowest address
//! metric (the IPv4 address, or the first 32 bits of the MD5 hash of an IPv6
//! address), itself included in the election. Hosts above the orphan stratum
//! are never selected (they may descend from the parent), so no loop can
//! form. A real source below the orphan stratum ends orphan mode at once.
//!
//! What an orphan advertises: the parent shows stratum = orphan stratum,
//! offset 0, root delay and dispersion 0, no leap warning, and reference ID
//! `LOOP` at stratum 1 or 127.0.0.1 otherwise; children show the usual
//! system variables derived from the parent (stratum + 1, the parent's
//! address as reference ID, the parent's offset).
//!
//! This crate steers `ntp-select` through its [`Role`](ntp_select::Role)s;
//! `ntp-select` knows nothing of orphan mode.
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use ntp_orphan::{OrphanState, OrphanSystem, address_metric};
//! use ntp_select::{Candidate, TosSettings};
//! use ntp_wire::time::{NtpTimestamp, Uptime};
//!
//! let start = Uptime::ZERO;
//! let clock = NtpTimestamp::from_seconds_and_fraction(3_900_000_000, 0);
//! let tos = TosSettings { orphan: 6, ..TosSettings::default() };
//! let me = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
//! let mut host = OrphanSystem::<u32>::new(tos, address_metric(me), start)?;
//!
//! // No sources: the host waits for orphanwait (300 s), then is the parent.
//! let (_, decision) = host.update(&[], Uptime::from_secs(299), clock);
//! assert!(matches!(decision.state, OrphanState::Waiting { .. }));
//! let (_, decision) = host.update(&[], Uptime::from_secs(300), clock);
//! assert_eq!(decision.state, OrphanState::Parent);
//! assert_eq!(decision.advertise.stratum, 6);
//! assert_eq!(decision.advertise.reference_id.to_string(), "127.0.0.1");
//! # let _ = Candidate::<u32>::new(0);
//! # Ok::<(), ntp_select::TosError>(())
//! ```

mod orphan;
mod system;

pub use orphan::{
    ORPHAN_FALLBACK_RANK, Orphan, OrphanDecision, OrphanSettings, OrphanState, address_metric,
    orphan_reference_id,
};
pub use system::OrphanSystem;
