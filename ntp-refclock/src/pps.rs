//! The PPS driver (the reference implementation's type 22) and the rule
//! under which the system process may use it.
//!
//! A pulse marks the start of a second but cannot say which second; the
//! driver turns each pulse's kernel timestamp into the offset of the local
//! clock from the nearest whole second (folded into -0.5..0.5 s, `time1`
//! included). Those offsets are right only while another source - the
//! prefer peer, usually the NMEA clock on the same receiver - keeps the
//! clock within half a second; [`pps_may_discipline`] is that rule for the
//! system process.
//!
//! Device access sits behind [`PpsSource`], so tests feed pulses without
//! hardware:
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use ntp_refclock::config::{DriverKind, RefclockOptions};
//! use ntp_refclock::driver::DriverEvent;
//! use ntp_refclock::pps::{PpsDriver, PpsEvents, PpsSource, Pulse, pps_may_discipline};
//!
//! struct OnePulse;
//! impl PpsSource for OnePulse {
//!     fn fetch(&mut self) -> Result<PpsEvents, ntp_refclock::RefclockError> {
//!         let time = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
//!             + chrono::TimeDelta::microseconds(1_000_250); // 250 us late
//!         Ok(PpsEvents { assert: Some(Pulse { sequence: 1, time }), clear: None })
//!     }
//! }
//! let mut pps = PpsDriver::with_source(OnePulse, &RefclockOptions::new(DriverKind::Pps, 0));
//! let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 1).unwrap();
//! let events = pps.process(now).unwrap();
//! let DriverEvent::Sample(sample) = &events[0] else { panic!() };
//! assert!((sample.offset() + 0.000_250).abs() < 1e-9);
//! assert!(pps_may_discipline(Some(0.012), false));
//! assert!(!pps_may_discipline(None, false));
//! ```

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::RefclockError;
use crate::config::{ClockAddress, RefclockOptions};
use crate::device::pps::{self as dev, PpsDevice};
use crate::driver::{
    Driver, DriverEvent, LeapIndicator, RejectReason, Rejection, Sample, add_seconds,
    seconds_between,
};

/// The largest offset of the prefer peer at which PPS samples may be used.
pub const PPS_PREFER_LIMIT: f64 = 0.5;

/// Whether the system process may use a PPS driver's samples: while a
/// prefer peer survives with an offset under [`PPS_PREFER_LIMIT`], or when
/// there are no survivors at all and `tos minsane` is 0.
pub fn pps_may_discipline(prefer_offset: Option<f64>, no_survivors_and_minsane_zero: bool) -> bool {
    match prefer_offset {
        Some(offset) => offset.is_finite() && offset.abs() < PPS_PREFER_LIMIT,
        None => no_survivors_and_minsane_zero,
    }
}

/// The pulse edge to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PpsEdge {
    /// The rising (assert) edge, `flag2 0`.
    #[default]
    Assert,
    /// The falling (clear) edge, `flag2 1`.
    Clear,
}

impl PpsEdge {
    /// The edge chosen by `fudge flag2`.
    pub fn from_flag2(flag2: bool) -> Self {
        if flag2 {
            PpsEdge::Clear
        } else {
            PpsEdge::Assert
        }
    }

    /// The RFC 2783 capture bit.
    pub fn capture_bit(self) -> libc::c_int {
        match self {
            PpsEdge::Assert => dev::PPS_CAPTUREASSERT,
            PpsEdge::Clear => dev::PPS_CAPTURECLEAR,
        }
    }

    /// `assert` or `clear`.
    pub fn name(self) -> &'static str {
        match self {
            PpsEdge::Assert => "assert",
            PpsEdge::Clear => "clear",
        }
    }
}

/// The last event of one edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pulse {
    /// The event's sequence number.
    pub sequence: u32,
    /// The local time of the event (the kernel's timestamp).
    pub time: DateTime<Utc>,
}

/// The last assert and clear events, as `time_pps_fetch` returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PpsEvents {
    /// The last assert event, if any.
    pub assert: Option<Pulse>,
    /// The last clear event, if any.
    pub clear: Option<Pulse>,
}

impl PpsEvents {
    /// Convert the kernel's `pps_kinfo`.
    pub fn from_kinfo(info: &dev::PpsKinfo) -> Self {
        let pulse = |sequence: u32, time: dev::PpsKtime| {
            if sequence == 0 {
                return None;
            }
            let (sec, nsec) = dev::ktime_to_unix(time)?;
            Some(Pulse {
                sequence,
                time: DateTime::from_timestamp(sec, nsec)?,
            })
        };
        Self {
            assert: pulse(info.assert_sequence, info.assert_tu),
            clear: pulse(info.clear_sequence, info.clear_tu),
        }
    }

    /// The event of one edge.
    pub fn edge(&self, edge: PpsEdge) -> Option<Pulse> {
        match edge {
            PpsEdge::Assert => self.assert,
            PpsEdge::Clear => self.clear,
        }
    }
}

/// Where pulses come from: a PPS device, or a simulation in tests.
pub trait PpsSource {
    /// The last events, without waiting.
    fn fetch(&mut self) -> Result<PpsEvents, RefclockError>;
}

impl PpsSource for PpsDevice {
    fn fetch(&mut self) -> Result<PpsEvents, RefclockError> {
        let info = PpsDevice::fetch(self, Duration::ZERO)?;
        Ok(PpsEvents::from_kinfo(&info))
    }
}

/// PPS counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PpsCounters {
    /// Pulses turned into samples.
    pub pulses: u64,
    /// Pulses missed between fetches (sequence gaps).
    pub missed: u64,
    /// Pulses rejected as implausible.
    pub rejected: u64,
}

/// A pulse older than this (seconds before `now`) is not used.
pub const MAX_PULSE_AGE: f64 = 1.5;

/// The PPS driver over a [`PpsSource`].
#[derive(Debug)]
pub struct PpsDriver<S = PpsDevice> {
    source: S,
    address: ClockAddress,
    edge: PpsEdge,
    time1: f64,
    last_sequence: Option<u32>,
    counters: PpsCounters,
}

impl PpsDriver<PpsDevice> {
    /// Open the configured device (`path`, default `/dev/ppsU`), ask it to
    /// capture the `flag2` edge, and with `flag3` bind the kernel hard-PPS
    /// consumer. Failing to set parameters or bind (no `CAP_SYS_TIME`) is
    /// logged, not fatal, as long as the device already captures the edge.
    pub fn open(options: &RefclockOptions) -> Result<Self, RefclockError> {
        let path = options.device_path();
        let device = PpsDevice::open(&path)?;
        let edge = PpsEdge::from_flag2(options.fudge.flag2());
        let caps = device.capabilities()?;
        if caps & edge.capture_bit() == 0 {
            return Err(RefclockError::Device {
                operation: "capture the requested PPS edge on",
                path,
                source: std::io::Error::from(std::io::ErrorKind::Unsupported),
            });
        }
        let mut params = device.params()?;
        if params.mode & edge.capture_bit() == 0 {
            params.mode |= edge.capture_bit() | dev::PPS_TSFMT_TSPEC;
            if let Err(e) = device.set_params(&params) {
                log::warn!(
                    "{}: {e}; the {} edge may not be captured",
                    options.address(),
                    edge.name()
                );
            }
        }
        if options.fudge.flag3() {
            match device.bind_kernel_consumer(edge.capture_bit()) {
                Ok(()) => log::info!(
                    "{}: kernel hard PPS bound to the {} edge",
                    options.address(),
                    edge.name()
                ),
                Err(e) => log::warn!("{}: {e}", options.address()),
            }
        }
        log::info!(
            "{}: PPS on {}, {} edge",
            options.address(),
            path.display(),
            edge.name()
        );
        Ok(Self::with_source(device, options))
    }
}

impl<S> AsRawFd for PpsDriver<S>
where
    S: AsRawFd,
{
    fn as_raw_fd(&self) -> RawFd {
        self.source.as_raw_fd()
    }
}

/// Fold an offset into [-0.5, 0.5) seconds.
pub fn fold_offset(offset: f64) -> f64 {
    offset - (offset + 0.5).floor()
}

impl<S: PpsSource> PpsDriver<S> {
    /// A driver over any pulse source.
    pub fn with_source(source: S, options: &RefclockOptions) -> Self {
        Self {
            source,
            address: options.address(),
            edge: PpsEdge::from_flag2(options.fudge.flag2()),
            time1: options.fudge.time1,
            last_sequence: None,
            counters: PpsCounters::default(),
        }
    }

    /// The edge in use.
    pub fn edge(&self) -> PpsEdge {
        self.edge
    }

    /// The counters.
    pub fn counters(&self) -> PpsCounters {
        self.counters
    }

    /// The source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Fetch the last pulse and make a sample of it if it is new.
    pub fn process(&mut self, now: DateTime<Utc>) -> Result<Vec<DriverEvent>, RefclockError> {
        let events = self.source.fetch()?;
        let Some(pulse) = events.edge(self.edge) else {
            return Ok(Vec::new());
        };
        let first = self.last_sequence.is_none();
        if self.last_sequence == Some(pulse.sequence) {
            return Ok(Vec::new());
        }
        if let Some(last) = self.last_sequence {
            let gap = pulse.sequence.wrapping_sub(last);
            if gap > 1 {
                self.counters.missed += u64::from(gap - 1);
                log::debug!("{}: {} pulses missed", self.address, gap - 1);
            }
        }
        self.last_sequence = Some(pulse.sequence);
        let age = seconds_between(now, pulse.time);
        if !(-0.5..=MAX_PULSE_AGE).contains(&age) {
            // At start-up the kernel still holds whatever pulse came last.
            if first {
                return Ok(Vec::new());
            }
            self.counters.rejected += 1;
            return Ok(vec![DriverEvent::Rejected(Rejection {
                receive_time: now,
                reason: RejectReason::BadPulse,
                input: format!(
                    "pps {} #{} at {}",
                    self.edge.name(),
                    pulse.sequence,
                    pulse.time.to_rfc3339()
                ),
            })]);
        }
        let fraction = f64::from(pulse.time.timestamp_subsec_nanos()) * 1e-9;
        let offset = fold_offset(-fraction + self.time1);
        self.counters.pulses += 1;
        Ok(vec![DriverEvent::Sample(Sample {
            reference_time: add_seconds(pulse.time, offset - self.time1),
            receive_time: pulse.time,
            correction: self.time1,
            leap: LeapIndicator::NoWarning,
            source: format!("pps {} #{}", self.edge.name(), pulse.sequence),
        })])
    }
}

impl<S: PpsSource> Driver for PpsDriver<S> {
    fn address(&self) -> ClockAddress {
        self.address
    }

    /// `None`: kernels before 6.13 report a PPS device readable all the
    /// time, so the driver is serviced on its interval instead.
    fn raw_fd(&self) -> Option<RawFd> {
        None
    }

    /// Twice a second, so no pulse is missed.
    fn service_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(500))
    }

    fn service(&mut self, now: DateTime<Utc>) -> Result<Vec<DriverEvent>, RefclockError> {
        self.process(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        let table = [
            (0.0, 0.0),
            (-0.25, -0.25),
            (0.25, 0.25),
            (-0.75, 0.25),
            (0.75, -0.25),
            (0.5, -0.5),
            (-0.5, -0.5),
            (1.2, 0.2),
        ];
        for (input, want) in table {
            assert!((fold_offset(input) - want).abs() < 1e-12, "{input}");
        }
    }

    #[test]
    fn prefer_rule() {
        let table = [
            (Some(0.0), false, true),
            (Some(0.499), false, true),
            (Some(-0.499), false, true),
            (Some(0.5), false, false),
            (Some(-2.0), true, false),
            (Some(f64::NAN), false, false),
            (None, false, false),
            (None, true, true),
        ];
        for (prefer, alone, want) in table {
            assert_eq!(
                pps_may_discipline(prefer, alone),
                want,
                "{prefer:?} {alone}"
            );
        }
    }

    #[test]
    fn kinfo_conversion() {
        let info = dev::PpsKinfo {
            assert_sequence: 7,
            clear_sequence: 0,
            assert_tu: dev::PpsKtime {
                sec: 1_700_000_000,
                nsec: 999_000_000,
                flags: 0,
            },
            clear_tu: dev::PpsKtime::default(),
            current_mode: dev::PPS_CAPTUREBOTH,
        };
        let events = PpsEvents::from_kinfo(&info);
        let pulse = events.edge(PpsEdge::Assert).unwrap();
        assert_eq!(pulse.sequence, 7);
        assert_eq!(pulse.time.timestamp(), 1_700_000_000);
        assert_eq!(events.edge(PpsEdge::Clear), None);
        assert_eq!(PpsEdge::from_flag2(true), PpsEdge::Clear);
        assert_eq!(PpsEdge::Clear.capture_bit(), dev::PPS_CAPTURECLEAR);
    }
}
