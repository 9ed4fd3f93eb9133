//! The PPS driver with a simulated pulse source: jittered pulses, a missing
//! pulse, a stale pulse, and the prefer-peer rule the system process applies.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::cell::RefCell;
use std::rc::Rc;

use chrono::{DateTime, TimeZone, Utc};
use ntp_refclock::RefclockError;
use ntp_refclock::config::{DriverKind, RefclockOptions};
use ntp_refclock::driver::{Driver, DriverEvent, add_seconds};
use ntp_refclock::pps::{PpsDriver, PpsEvents, PpsSource, Pulse, pps_may_discipline};
use ntp_refclock::refclock::Refclock;

/// The kernel's view: the last assert and clear events.
#[derive(Clone, Default)]
struct SimSource(Rc<RefCell<PpsEvents>>);

impl PpsSource for SimSource {
    fn fetch(&mut self) -> Result<PpsEvents, RefclockError> {
        Ok(*self.0.borrow())
    }
}

impl SimSource {
    fn pulse(&self, sequence: u32, assert: DateTime<Utc>) {
        let mut events = self.0.borrow_mut();
        events.assert = Some(Pulse {
            sequence,
            time: assert,
        });
        // the clear edge 100 ms later
        events.clear = Some(Pulse {
            sequence,
            time: add_seconds(assert, 0.1),
        });
    }
}

fn second(n: u32) -> DateTime<Utc> {
    add_seconds(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
        f64::from(n),
    )
}

/// Deterministic jitter in [-20, 20) microseconds.
fn jitter(n: u32) -> f64 {
    let x = n.wrapping_mul(2_654_435_761) >> 16;
    (f64::from(x % 40_000) - 20_000.0) * 1e-9
}

/// Run 16 seconds of pulses with the local clock `error` seconds ahead of
/// true time (pulses are timestamped at local second + error); pulse 7 is
/// missing. Returns the clock's update and the driver's counters.
fn run(
    flag2: bool,
    error: f64,
) -> (
    Option<ntp_refclock::RefclockUpdate>,
    ntp_refclock::pps::PpsCounters,
    Vec<DriverEvent>,
) {
    let mut options = RefclockOptions::new(DriverKind::Pps, 0);
    options.fudge.flags[1] = flag2;
    let source = SimSource::default();
    let mut driver = PpsDriver::with_source(source.clone(), &options);
    assert_eq!(driver.raw_fd(), None);
    assert!(driver.service_interval().is_some());
    let mut clock = Refclock::new(options);
    let mut all = Vec::new();
    for n in 1..=16 {
        if n != 7 {
            source.pulse(n, add_seconds(second(n), error + jitter(n)));
        }
        // serviced twice a second, as the daemon would
        for half in [0.3, 0.8] {
            let events = driver.service(add_seconds(second(n), half)).unwrap();
            for event in &events {
                clock.handle_event(event);
            }
            all.extend(events);
        }
    }
    (clock.poll(second(17)), driver.counters(), all)
}

#[test]
fn jittered_pulses_with_one_missing() {
    let (update, counters, events) = run(false, 0.003);
    // one sample per pulse, none for the missing one and none twice
    assert_eq!(events.len(), 15);
    assert_eq!(counters.pulses, 15);
    assert_eq!(counters.missed, 1);
    let update = update.unwrap();
    // the local clock is 3 ms ahead: offset -3 ms within the jitter
    assert!(
        (update.offset.to_seconds_f64() + 0.003).abs() < 20e-6,
        "{update:?}"
    );
    assert!(update.jitter.to_seconds_f64() < 40e-6);
    assert_eq!(update.refid.to_string(), "PPS");
    assert_eq!(update.precision, -20);
    // the system process may use it while a prefer peer is within 0.5 s
    assert!(pps_may_discipline(Some(-0.0031), false));
}

#[test]
fn the_clear_edge_with_flag2() {
    let (update, _, events) = run(true, 0.003);
    assert!(
        events
            .iter()
            .all(|e| matches!(e, DriverEvent::Sample(s) if s.source.starts_with("pps clear")))
    );
    // the clear edge comes 100 ms after assert
    assert!((update.unwrap().offset.to_seconds_f64() + 0.103).abs() < 20e-6);
}

#[test]
fn without_a_prefer_peer_pulses_cannot_number_the_seconds() {
    // The local clock is 0.7 s ahead: the pulses alone say 0.3 s behind.
    let (update, _, _) = run(false, 0.7);
    let update = update.unwrap();
    assert!(
        (update.offset.to_seconds_f64() - 0.3).abs() < 20e-6,
        "{update:?}"
    );
    // With no prefer peer the PPS offset must not be used ...
    assert!(!pps_may_discipline(None, false));
    // ... and with a prefer peer that sees the real 0.7 s error neither.
    assert!(!pps_may_discipline(Some(-0.7), false));
    // Once the prefer peer has the clock within 0.5 s it may.
    assert!(pps_may_discipline(Some(-0.2), false));
    // With no survivors and tos minsane 0, PPS keeps disciplining alone.
    assert!(pps_may_discipline(None, true));
}

#[test]
fn stale_pulses_are_not_used() {
    let options = RefclockOptions::new(DriverKind::Pps, 0);
    let source = SimSource::default();
    let mut driver = PpsDriver::with_source(source.clone(), &options);
    // At start-up the kernel holds an old pulse: ignored silently.
    source.pulse(100, second(0));
    assert!(driver.service(second(60)).unwrap().is_empty());
    // A new pulse, read too late, is rejected.
    source.pulse(101, second(1));
    let events = driver.service(second(10)).unwrap();
    assert!(matches!(&events[..], [DriverEvent::Rejected(r)] if r.reason.name() == "bad_pulse"));
    // A fresh one is used.
    source.pulse(102, add_seconds(second(11), -0.0001));
    let events = driver.service(second(11)).unwrap();
    let [DriverEvent::Sample(sample)] = &events[..] else {
        panic!("{events:?}")
    };
    assert!((sample.offset() - 0.0001).abs() < 1e-9);
    assert_eq!(driver.counters().rejected, 1);
}

#[test]
fn time1_calibrates_and_folds() {
    let mut options = RefclockOptions::new(DriverKind::Pps, 0);
    options.set("time1", "0.6").unwrap();
    let source = SimSource::default();
    let mut driver = PpsDriver::with_source(source.clone(), &options);
    source.pulse(1, add_seconds(second(1), 0.001));
    let events = driver.service(add_seconds(second(1), 0.2)).unwrap();
    let [DriverEvent::Sample(sample)] = &events[..] else {
        panic!("{events:?}")
    };
    // -0.001 + 0.6 folds to -0.401
    assert!(
        (sample.offset() + 0.401).abs() < 1e-9,
        "{}",
        sample.offset()
    );
}
