//! The SHM driver against a System V segment written the way gpsd writes
//! it. The segment has a test-only key (never gpsd's 0x4E545030..) and is
//! removed by a guard even when the test fails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::ptr::addr_of_mut;
use std::sync::atomic::{Ordering, fence};

use chrono::{DateTime, TimeZone, Utc};
use ntp_refclock::config::{DriverKind, RefclockOptions};
use ntp_refclock::device::shm::ShmSegment;
use ntp_refclock::driver::{DriverEvent, LeapIndicator, RejectReason};
use ntp_refclock::refclock::Refclock;
use ntp_refclock::shm::ShmDriver;

/// gpsd's `struct shmTime` (gpsd/ntpshm.h), declared here independently
/// of the crate's own.
#[repr(C)]
struct GpsdShmTime {
    mode: libc::c_int,
    count: libc::c_int,
    clock_time_stamp_sec: libc::time_t,
    clock_time_stamp_usec: libc::c_int,
    receive_time_stamp_sec: libc::time_t,
    receive_time_stamp_usec: libc::c_int,
    leap: libc::c_int,
    precision: libc::c_int,
    nsamples: libc::c_int,
    valid: libc::c_int,
    clock_time_stamp_nsec: libc::c_uint,
    receive_time_stamp_nsec: libc::c_uint,
    dummy: [libc::c_int; 8],
}

/// A segment created by the test, removed on drop.
struct Segment {
    id: libc::c_int,
    key: libc::key_t,
    shm: *mut GpsdShmTime,
}

impl Segment {
    fn create() -> Self {
        // A key outside gpsd's range, different per process and segment.
        static NEXT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
        let serial = NEXT.fetch_add(1, Ordering::Relaxed) & 0xff;
        let key = 0x5246_0000 | ((std::process::id() as libc::key_t & 0xff) << 8) | serial;
        assert!(!(0x4E54_5030..=0x4E54_50FF).contains(&key));
        // SAFETY: plain System V calls; the result is checked.
        unsafe {
            let id = libc::shmget(
                key,
                size_of::<GpsdShmTime>(),
                libc::IPC_CREAT | libc::IPC_EXCL | 0o600,
            );
            assert!(id >= 0, "shmget: {}", std::io::Error::last_os_error());
            let shm = libc::shmat(id, std::ptr::null(), 0);
            let segment = Segment {
                id,
                key,
                shm: shm.cast(),
            };
            assert_ne!(shm as isize, -1);
            segment
        }
    }

    /// gpsd's ntpshm_put(): valid = 0, count++, fields, count++, valid = 1.
    fn put(&self, mode: i32, clock: DateTime<Utc>, receive: DateTime<Utc>, leap: i32) {
        let s = self.shm;
        // SAFETY: `s` is the attached segment, alive until drop; volatile
        // accesses of plain integer fields.
        unsafe {
            addr_of_mut!((*s).mode).write_volatile(mode);
            addr_of_mut!((*s).valid).write_volatile(0);
            let count = addr_of_mut!((*s).count).read_volatile();
            addr_of_mut!((*s).count).write_volatile(count + 1);
            fence(Ordering::SeqCst);
            addr_of_mut!((*s).clock_time_stamp_sec)
                .write_volatile(clock.timestamp() as libc::time_t);
            addr_of_mut!((*s).clock_time_stamp_usec)
                .write_volatile((clock.timestamp_subsec_nanos() / 1000) as libc::c_int);
            addr_of_mut!((*s).clock_time_stamp_nsec).write_volatile(clock.timestamp_subsec_nanos());
            addr_of_mut!((*s).receive_time_stamp_sec)
                .write_volatile(receive.timestamp() as libc::time_t);
            addr_of_mut!((*s).receive_time_stamp_usec)
                .write_volatile((receive.timestamp_subsec_nanos() / 1000) as libc::c_int);
            addr_of_mut!((*s).receive_time_stamp_nsec)
                .write_volatile(receive.timestamp_subsec_nanos());
            addr_of_mut!((*s).leap).write_volatile(leap);
            addr_of_mut!((*s).precision).write_volatile(-20);
            addr_of_mut!((*s).nsamples).write_volatile(3);
            fence(Ordering::SeqCst);
            let count = addr_of_mut!((*s).count).read_volatile();
            addr_of_mut!((*s).count).write_volatile(count + 1);
            addr_of_mut!((*s).valid).write_volatile(1);
            fence(Ordering::SeqCst);
        }
    }

    fn valid(&self) -> i32 {
        // SAFETY: as in `put`.
        unsafe { addr_of_mut!((*self.shm).valid).read_volatile() }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: detach our mapping and remove the segment we created.
        unsafe {
            libc::shmdt(self.shm.cast());
            libc::shmctl(self.id, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

fn at(seconds: f64) -> DateTime<Utc> {
    let base = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    ntp_refclock::driver::add_seconds(base, seconds)
}

fn driver(segment: &Segment, options: &RefclockOptions) -> ShmDriver {
    let attached = ShmSegment::attach(segment.key, false, 0o600).unwrap();
    ShmDriver::with_segment(attached, options)
}

fn reasons(events: &[DriverEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            DriverEvent::Sample(s) => format!("sample {:+.6}", s.offset()),
            DriverEvent::Rejected(r) => r.reason.name().to_owned(),
        })
        .collect()
}

#[test]
fn the_layout_is_the_crates() {
    assert_eq!(
        size_of::<GpsdShmTime>(),
        size_of::<ntp_refclock::device::shm::ShmTime>()
    );
}

#[test]
fn gpsd_records_in_both_modes() {
    let segment = Segment::create();
    let mut options = RefclockOptions::new(DriverKind::Shm, 0);
    options.set("time1", "0.001").unwrap();
    let mut shm = driver(&segment, &options);
    let mut clock = Refclock::new(options.clone());

    // Nothing written yet.
    assert!(shm.process(at(0.0)).is_empty());
    assert_eq!(shm.counters().notready, 1);

    // Mode 1 and mode 0 records: the reference clock 12.345678 ms ahead.
    for (k, mode) in [(1, 1), (2, 0), (3, 1)] {
        let receive = at(f64::from(k) + 0.000_123_456);
        segment.put(
            mode,
            ntp_refclock::driver::add_seconds(receive, 0.012_345_678),
            receive,
            0,
        );
        let events = shm.process(at(f64::from(k) + 0.5));
        assert_eq!(reasons(&events), ["sample +0.013346"], "mode {mode}");
        assert_eq!(segment.valid(), 0, "the reader clears valid");
        if let DriverEvent::Sample(sample) = &events[0] {
            assert_eq!(sample.receive_time, receive);
            assert_eq!(sample.leap, LeapIndicator::NoWarning);
        }
        for event in &events {
            clock.handle_event(event);
        }
        // read once only
        assert!(shm.process(at(f64::from(k) + 0.9)).is_empty());
    }
    assert_eq!(shm.counters().good, 3);
    let update = clock.poll(at(4.0)).unwrap();
    assert!((update.offset.to_seconds_f64() - 0.013_345_678).abs() < 1e-9);
    assert_eq!(update.refid.to_string(), "SHM");
    assert_eq!((update.samples_used, update.samples_total), (2, 3));
    use ntp_refclock::driver::Driver;
    assert_eq!(shm.precision(), -20);
}

#[test]
fn stale_far_and_unsynchronised_records_are_rejected() {
    let segment = Segment::create();
    let options = RefclockOptions::new(DriverKind::Shm, 0);
    let mut shm = driver(&segment, &options);

    // received 10 s before it is read: stale
    segment.put(1, at(0.0), at(0.0), 0);
    assert_eq!(reasons(&shm.process(at(10.0))), ["stale"]);
    // a receive time in the future: stale as well
    segment.put(1, at(20.0), at(20.0), 0);
    assert_eq!(reasons(&shm.process(at(10.0))), ["stale"]);
    // 5 h apart: beyond the default 4 h limit
    segment.put(0, at(-18000.0), at(0.0), 0);
    assert_eq!(reasons(&shm.process(at(1.0))), ["out_of_range"]);
    // leap indicator 3: not synchronised
    segment.put(1, at(0.0), at(0.0), 3);
    assert_eq!(reasons(&shm.process(at(1.0))), ["not_in_sync"]);
    // an unknown protocol mode
    segment.put(2, at(0.0), at(0.0), 0);
    assert_eq!(reasons(&shm.process(at(1.0))), ["bad_mode"]);
    assert_eq!(shm.counters().bad, 5);

    // time2 narrows the limit; flag1 removes it.
    let mut narrow = options.clone();
    narrow.set("time2", "60").unwrap();
    let mut shm = driver(&segment, &narrow);
    segment.put(1, at(-61.0), at(0.0), 0);
    assert_eq!(reasons(&shm.process(at(1.0))), ["out_of_range"]);
    let mut unlimited = options.clone();
    unlimited.set("flag1", "1").unwrap();
    let mut shm = driver(&segment, &unlimited);
    segment.put(1, at(-18000.0), at(0.0), 1);
    let events = shm.process(at(1.0));
    assert_eq!(reasons(&events), ["sample -18000.000000"]);
    let DriverEvent::Sample(sample) = &events[0] else {
        unreachable!()
    };
    assert_eq!(sample.leap, LeapIndicator::InsertSecond);
    assert!(matches!(
        RejectReason::Stale.clock_event(),
        Some(ntp_refclock::status::ClockEvent::BadTime)
    ));
}

#[test]
fn the_crates_writer_is_read_back() {
    // The producer side the crate offers (for simulations) on a private segment.
    let segment = ShmSegment::create_private().unwrap();
    struct Remove(ShmSegment);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = self.0.remove();
        }
    }
    let guard = Remove(segment);
    let record = ntp_refclock::device::shm::ShmRecord {
        clock_sec: at(0.0).timestamp(),
        clock_nsec: 500_000_000,
        receive_sec: at(0.0).timestamp(),
        receive_nsec: 0,
        leap: 0,
        precision: -1,
    };
    guard.0.write(&record, 1);
    assert_eq!(guard.0.snapshot().valid, 1);
    assert_eq!(
        guard.0.read(),
        ntp_refclock::device::shm::ShmRead::Record(record)
    );
}
