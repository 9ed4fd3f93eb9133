//! System V shared memory in the layout of gpsd's and ntpd's `struct shmTime`.

use std::io;
use std::ptr::{NonNull, addr_of, addr_of_mut};
use std::sync::atomic::{Ordering, fence};

use crate::RefclockError;

/// The base key: the segment of unit `u` has key `0x4E545030 + u` ("NTP0").
pub const SHM_KEY_BASE: i32 = 0x4E54_5030;

/// `struct shmTime` exactly as gpsd and the reference implementation declare
/// it (so `time_t` is the platform's).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShmTime {
    /// 0 or 1: the access protocol.
    pub mode: libc::c_int,
    /// Bumped by the writer before and after each update (mode 1).
    pub count: libc::c_int,
    /// Reference time, seconds.
    pub clock_time_stamp_sec: libc::time_t,
    /// Reference time, microseconds.
    pub clock_time_stamp_usec: libc::c_int,
    /// Local receive time, seconds.
    pub receive_time_stamp_sec: libc::time_t,
    /// Local receive time, microseconds.
    pub receive_time_stamp_usec: libc::c_int,
    /// Leap indicator.
    pub leap: libc::c_int,
    /// Precision, log2 seconds.
    pub precision: libc::c_int,
    /// Unused by readers.
    pub nsamples: libc::c_int,
    /// Set by the writer when a new record is ready, cleared by the reader.
    pub valid: libc::c_int,
    /// Reference time, nanoseconds (used when consistent with the µs field).
    pub clock_time_stamp_nsec: libc::c_uint,
    /// Receive time, nanoseconds (used when consistent with the µs field).
    pub receive_time_stamp_nsec: libc::c_uint,
    /// Padding.
    pub dummy: [libc::c_int; 8],
}

/// One record read from (or written to) a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShmRecord {
    /// Reference time: seconds since the Unix epoch.
    pub clock_sec: i64,
    /// Reference time: nanoseconds.
    pub clock_nsec: u32,
    /// Local receive time: seconds since the Unix epoch.
    pub receive_sec: i64,
    /// Local receive time: nanoseconds.
    pub receive_nsec: u32,
    /// Leap indicator (0-3).
    pub leap: i32,
    /// Precision, log2 seconds.
    pub precision: i32,
}

/// What a read of the segment found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShmRead {
    /// `valid` was not set: no new record.
    NotReady,
    /// Mode 1: the writer changed `count` while the record was read.
    Clash,
    /// The mode field is neither 0 nor 1.
    BadMode(i32),
    /// A new record.
    Record(ShmRecord),
}

/// An attached System V shared memory segment holding a `shmTime`.
#[derive(Debug)]
pub struct ShmSegment {
    pointer: NonNull<ShmTime>,
    id: libc::c_int,
    key: i32,
}

impl ShmSegment {
    /// Attach the segment with `key`, creating it (with permissions `perm`,
    /// such as 0o600) when `create` is set and it does not exist.
    pub fn attach(key: i32, create: bool, perm: u32) -> Result<Self, RefclockError> {
        let flags = (perm & 0o777) as libc::c_int | if create { libc::IPC_CREAT } else { 0 };
        Self::get_and_attach(key as libc::key_t, flags, key)
    }

    /// Create a fresh private segment (`IPC_PRIVATE`), for tests and
    /// simulations; remove it with [`ShmSegment::remove`].
    pub fn create_private() -> Result<Self, RefclockError> {
        Self::get_and_attach(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600, 0)
    }

    fn get_and_attach(
        key: libc::key_t,
        flags: libc::c_int,
        label: i32,
    ) -> Result<Self, RefclockError> {
        let error = |operation, source| RefclockError::Shm {
            key: label,
            operation,
            source,
        };
        // SAFETY: shmget has no memory-safety preconditions.
        let id = unsafe { libc::shmget(key, size_of::<ShmTime>(), flags) };
        if id < 0 {
            return Err(error("shmget", io::Error::last_os_error()));
        }
        // SAFETY: `id` is a valid segment identifier; a null address lets
        // the kernel choose where to map it.
        let address = unsafe { libc::shmat(id, std::ptr::null(), 0) };
        if address as isize == -1 {
            return Err(error("shmat", io::Error::last_os_error()));
        }
        let Some(pointer) = NonNull::new(address.cast::<ShmTime>()) else {
            return Err(error("shmat", io::Error::other("null address")));
        };
        let segment = Self {
            pointer,
            id,
            key: label,
        };
        // The segment may have been created by someone else with a smaller
        // size; refuse it rather than read past its end.
        if segment.size()? < size_of::<ShmTime>() {
            return Err(error(
                "size check",
                io::Error::other("segment smaller than struct shmTime"),
            ));
        }
        Ok(segment)
    }

    fn size(&self) -> Result<usize, RefclockError> {
        // SAFETY: `shmid_ds` is a plain C struct for which all-zero bytes
        // are a valid value.
        let mut info: libc::shmid_ds = unsafe { std::mem::zeroed() };
        // SAFETY: `self.id` is a valid identifier and `info` is writable.
        if unsafe { libc::shmctl(self.id, libc::IPC_STAT, &mut info) } < 0 {
            return Err(RefclockError::Shm {
                key: self.key,
                operation: "shmctl(IPC_STAT)",
                source: io::Error::last_os_error(),
            });
        }
        Ok(info.shm_segsz as usize)
    }

    /// The key the segment was attached with (0 for a private one).
    pub fn key(&self) -> i32 {
        self.key
    }

    /// The segment identifier.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// Mark the segment for removal; it disappears once every process has
    /// detached (this one detaches on drop).
    pub fn remove(&self) -> Result<(), RefclockError> {
        // SAFETY: `self.id` is a valid identifier; IPC_RMID takes no buffer.
        if unsafe { libc::shmctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) } < 0 {
            return Err(RefclockError::Shm {
                key: self.key,
                operation: "shmctl(IPC_RMID)",
                source: io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// Read a record with the reference implementation's protocol: nothing
    /// unless `valid` is set; copy the record; in mode 1 check that `count`
    /// did not change meanwhile; clear `valid`. Nanosecond fields are used
    /// when they agree with the microsecond fields, as gpsd writes them.
    pub fn read(&self) -> ShmRead {
        let shm = self.pointer.as_ptr();
        // SAFETY (for every volatile access below): `shm` points to a live
        // mapping of at least size_of::<ShmTime>() bytes (checked when
        // attaching) that stays mapped while `self` exists; it is page
        // aligned. Another process may write it concurrently, so fields are
        // accessed only through volatile reads and writes of plain integers,
        // never through references.
        let valid = unsafe { addr_of!((*shm).valid).read_volatile() };
        if valid == 0 {
            return ShmRead::NotReady;
        }
        // SAFETY: see above.
        let count_before = unsafe { addr_of!((*shm).count).read_volatile() };
        fence(Ordering::SeqCst);
        // SAFETY: see above; a volatile copy of the whole plain-data record.
        let copy: ShmTime = unsafe { shm.read_volatile() };
        fence(Ordering::SeqCst);
        // SAFETY: see above.
        let count_after = unsafe { addr_of!((*shm).count).read_volatile() };
        let result = match copy.mode {
            0 => ShmRead::Record(record_of(&copy)),
            1 if count_before != count_after || copy.count != count_before => ShmRead::Clash,
            1 => ShmRead::Record(record_of(&copy)),
            mode => ShmRead::BadMode(mode),
        };
        // SAFETY: see above.
        unsafe { addr_of_mut!((*shm).valid).write_volatile(0) };
        fence(Ordering::SeqCst);
        result
    }

    /// Write a record as gpsd does (the producer side, for tests,
    /// simulations and bridges): clear `valid`, bump `count`, write the
    /// fields, bump `count`, set `valid`.
    pub fn write(&self, record: &ShmRecord, mode: i32) {
        let shm = self.pointer.as_ptr();
        // SAFETY (for every volatile access below): as in `read`.
        unsafe {
            addr_of_mut!((*shm).mode).write_volatile(mode);
            addr_of_mut!((*shm).valid).write_volatile(0);
            let count = addr_of!((*shm).count).read_volatile();
            addr_of_mut!((*shm).count).write_volatile(count.wrapping_add(1));
        }
        fence(Ordering::SeqCst);
        let usec = |nsec: u32| (nsec / 1000) as libc::c_int;
        // SAFETY: as in `read`.
        unsafe {
            addr_of_mut!((*shm).clock_time_stamp_sec)
                .write_volatile(record.clock_sec as libc::time_t);
            addr_of_mut!((*shm).clock_time_stamp_usec).write_volatile(usec(record.clock_nsec));
            addr_of_mut!((*shm).clock_time_stamp_nsec).write_volatile(record.clock_nsec);
            addr_of_mut!((*shm).receive_time_stamp_sec)
                .write_volatile(record.receive_sec as libc::time_t);
            addr_of_mut!((*shm).receive_time_stamp_usec).write_volatile(usec(record.receive_nsec));
            addr_of_mut!((*shm).receive_time_stamp_nsec).write_volatile(record.receive_nsec);
            addr_of_mut!((*shm).leap).write_volatile(record.leap);
            addr_of_mut!((*shm).precision).write_volatile(record.precision);
        }
        fence(Ordering::SeqCst);
        // SAFETY: as in `read`.
        unsafe {
            let count = addr_of!((*shm).count).read_volatile();
            addr_of_mut!((*shm).count).write_volatile(count.wrapping_add(1));
            addr_of_mut!((*shm).valid).write_volatile(1);
        }
        fence(Ordering::SeqCst);
    }

    /// A volatile snapshot of the whole segment (diagnostics and tests).
    pub fn snapshot(&self) -> ShmTime {
        // SAFETY: as in `read`.
        unsafe { self.pointer.as_ptr().read_volatile() }
    }
}

// `time_t` is i64 on LP64 targets but i32 on some 32-bit ones.
#[allow(clippy::useless_conversion)]
fn record_of(copy: &ShmTime) -> ShmRecord {
    let consistent = |nsec: libc::c_uint, usec: libc::c_int| {
        nsec < 1_000_000_000 && i64::from(nsec / 1000) == i64::from(usec)
    };
    let use_nsec = consistent(copy.clock_time_stamp_nsec, copy.clock_time_stamp_usec)
        && consistent(copy.receive_time_stamp_nsec, copy.receive_time_stamp_usec);
    let (clock_nsec, receive_nsec) = if use_nsec {
        (copy.clock_time_stamp_nsec, copy.receive_time_stamp_nsec)
    } else {
        let micros = |usec: libc::c_int| u32::try_from(usec.clamp(0, 999_999)).unwrap_or(0) * 1000;
        (
            micros(copy.clock_time_stamp_usec),
            micros(copy.receive_time_stamp_usec),
        )
    };
    ShmRecord {
        clock_sec: i64::from(copy.clock_time_stamp_sec),
        clock_nsec,
        receive_sec: i64::from(copy.receive_time_stamp_sec),
        receive_nsec,
        leap: copy.leap,
        precision: copy.precision,
    }
}

impl Drop for ShmSegment {
    fn drop(&mut self) {
        // SAFETY: the address came from shmat and is detached exactly once;
        // no references into the mapping outlive `self`.
        unsafe {
            libc::shmdt(self.pointer.as_ptr().cast::<libc::c_void>());
        }
    }
}

// SAFETY: the segment is process-shared memory accessed only through
// volatile operations; moving the handle to another thread is as safe as
// another process using it.
unsafe impl Send for ShmSegment {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn layout_matches_gpsd_on_lp64() {
        if size_of::<libc::time_t>() == 8 && size_of::<libc::c_long>() == 8 {
            assert_eq!(offset_of!(ShmTime, mode), 0);
            assert_eq!(offset_of!(ShmTime, count), 4);
            assert_eq!(offset_of!(ShmTime, clock_time_stamp_sec), 8);
            assert_eq!(offset_of!(ShmTime, clock_time_stamp_usec), 16);
            assert_eq!(offset_of!(ShmTime, receive_time_stamp_sec), 24);
            assert_eq!(offset_of!(ShmTime, receive_time_stamp_usec), 32);
            assert_eq!(offset_of!(ShmTime, leap), 36);
            assert_eq!(offset_of!(ShmTime, precision), 40);
            assert_eq!(offset_of!(ShmTime, nsamples), 44);
            assert_eq!(offset_of!(ShmTime, valid), 48);
            assert_eq!(offset_of!(ShmTime, clock_time_stamp_nsec), 52);
            assert_eq!(offset_of!(ShmTime, receive_time_stamp_nsec), 56);
            assert_eq!(offset_of!(ShmTime, dummy), 60);
            assert_eq!(size_of::<ShmTime>(), 96);
        }
    }

    #[test]
    fn nanoseconds_only_when_consistent() {
        let mut t = ShmTime {
            clock_time_stamp_usec: 123_456,
            clock_time_stamp_nsec: 123_456_789,
            receive_time_stamp_usec: 5,
            receive_time_stamp_nsec: 5_999,
            ..Default::default()
        };
        let r = record_of(&t);
        assert_eq!((r.clock_nsec, r.receive_nsec), (123_456_789, 5_999));
        t.receive_time_stamp_nsec = 0; // an old writer that leaves nsec zero
        let r = record_of(&t);
        assert_eq!((r.clock_nsec, r.receive_nsec), (123_456_000, 5_000));
    }

    #[test]
    fn private_segment_round_trip_and_protocols() {
        let segment = ShmSegment::create_private().unwrap();
        struct Remove<'a>(&'a ShmSegment);
        impl Drop for Remove<'_> {
            fn drop(&mut self) {
                let _ = self.0.remove();
            }
        }
        let _guard = Remove(&segment);
        assert_eq!(segment.read(), ShmRead::NotReady);
        let record = ShmRecord {
            clock_sec: 1_700_000_000,
            clock_nsec: 1,
            receive_sec: 1_700_000_000,
            receive_nsec: 250_000_001,
            leap: 0,
            precision: -20,
        };
        for mode in [0, 1] {
            segment.write(&record, mode);
            assert_eq!(segment.read(), ShmRead::Record(record));
            assert_eq!(segment.read(), ShmRead::NotReady);
        }
        assert_eq!(segment.snapshot().count, 4);
        segment.write(&record, 7);
        assert_eq!(segment.read(), ShmRead::BadMode(7));
    }
}
