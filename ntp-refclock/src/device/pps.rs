//! The RFC 2783 PPS API over Linux `/dev/ppsN` (the ioctls of
//! `<linux/pps.h>`: `PPS_GETPARAMS`, `PPS_SETPARAMS`, `PPS_GETCAP`,
//! `PPS_FETCH`, `PPS_KC_BIND`).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::RefclockError;

/// `struct pps_ktime`: a kernel timestamp.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PpsKtime {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds.
    pub nsec: i32,
    /// `PPS_TIME_INVALID` when the timestamp (or timeout) is not set.
    pub flags: u32,
}

/// `struct pps_kinfo`: the last assert and clear events.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PpsKinfo {
    /// Sequence number of the last assert event.
    pub assert_sequence: u32,
    /// Sequence number of the last clear event.
    pub clear_sequence: u32,
    /// Time of the last assert event.
    pub assert_tu: PpsKtime,
    /// Time of the last clear event.
    pub clear_tu: PpsKtime,
    /// The current mode bits.
    pub current_mode: libc::c_int,
}

/// `struct pps_kparams`: the PPS parameters.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PpsKparams {
    /// API version (`PPS_API_VERS_1`).
    pub api_version: libc::c_int,
    /// Mode bits.
    pub mode: libc::c_int,
    /// Offset compensation for assert.
    pub assert_off_tu: PpsKtime,
    /// Offset compensation for clear.
    pub clear_off_tu: PpsKtime,
}

/// `struct pps_fdata`: argument of `PPS_FETCH`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PpsFdata {
    /// Filled in by the kernel.
    pub info: PpsKinfo,
    /// How long to wait for the next event.
    pub timeout: PpsKtime,
}

/// `struct pps_bind_args`: argument of `PPS_KC_BIND`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PpsBindArgs {
    /// Timestamp format (`PPS_TSFMT_TSPEC`).
    pub tsformat: libc::c_int,
    /// The edge to hand to the consumer (0 unbinds).
    pub edge: libc::c_int,
    /// The consumer (`PPS_KC_HARDPPS`).
    pub consumer: libc::c_int,
}

/// `PPS_API_VERS_1`.
pub const PPS_API_VERS_1: libc::c_int = 1;
/// Capture assert events.
pub const PPS_CAPTUREASSERT: libc::c_int = 0x01;
/// Capture clear events.
pub const PPS_CAPTURECLEAR: libc::c_int = 0x02;
/// Capture both.
pub const PPS_CAPTUREBOTH: libc::c_int = 0x03;
/// Apply the assert offset compensation.
pub const PPS_OFFSETASSERT: libc::c_int = 0x10;
/// Apply the clear offset compensation.
pub const PPS_OFFSETCLEAR: libc::c_int = 0x20;
/// `PPS_FETCH` can wait.
pub const PPS_CANWAIT: libc::c_int = 0x100;
/// The device supports poll().
pub const PPS_CANPOLL: libc::c_int = 0x200;
/// Timestamps as `struct timespec`.
pub const PPS_TSFMT_TSPEC: libc::c_int = 0x1000;
/// Timestamps as NTP fixed point.
pub const PPS_TSFMT_NTPFP: libc::c_int = 0x2000;
/// The kernel consumer: the hard-PPS clock discipline.
pub const PPS_KC_HARDPPS: libc::c_int = 0;
/// `pps_ktime.flags`: no time given.
pub const PPS_TIME_INVALID: u32 = 1;

#[cfg(any(
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
))]
mod ioc {
    pub const SIZE_BITS: u32 = 13;
    pub const READ: u32 = 2;
    pub const WRITE: u32 = 4;
}

#[cfg(not(any(
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
mod ioc {
    pub const SIZE_BITS: u32 = 14;
    pub const READ: u32 = 2;
    pub const WRITE: u32 = 1;
}

/// Linux `_IOC(dir, type, nr, size)`.
pub const fn ioc(dir: u32, kind: u8, nr: u8, size: usize) -> u32 {
    (dir << (16 + ioc::SIZE_BITS)) | ((size as u32) << 16) | ((kind as u32) << 8) | nr as u32
}

// <linux/pps.h> declares these with pointer types, so the size field is the
// size of a pointer, not of the structure.
const POINTER: usize = size_of::<*const u8>();
/// `PPS_GETPARAMS`: `_IOR('p', 0xa1, struct pps_kparams *)`.
pub const PPS_GETPARAMS: u32 = ioc(ioc::READ, b'p', 0xa1, POINTER);
/// `PPS_SETPARAMS`: `_IOW('p', 0xa2, struct pps_kparams *)`.
pub const PPS_SETPARAMS: u32 = ioc(ioc::WRITE, b'p', 0xa2, POINTER);
/// `PPS_GETCAP`: `_IOR('p', 0xa3, int *)`.
pub const PPS_GETCAP: u32 = ioc(ioc::READ, b'p', 0xa3, POINTER);
/// `PPS_FETCH`: `_IOWR('p', 0xa4, struct pps_fdata *)`.
pub const PPS_FETCH: u32 = ioc(ioc::READ | ioc::WRITE, b'p', 0xa4, POINTER);
/// `PPS_KC_BIND`: `_IOW('p', 0xa5, struct pps_bind_args *)`.
pub const PPS_KC_BIND: u32 = ioc(ioc::WRITE, b'p', 0xa5, POINTER);

/// A kernel timestamp as seconds and nanoseconds since the Unix epoch,
/// `None` when flagged invalid or out of range.
pub fn ktime_to_unix(time: PpsKtime) -> Option<(i64, u32)> {
    if time.flags & PPS_TIME_INVALID != 0 {
        return None;
    }
    let nsec = u32::try_from(time.nsec)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    Some((time.sec, nsec))
}

/// A timeout for `PPS_FETCH`.
pub fn timeout_ktime(timeout: Duration) -> PpsKtime {
    PpsKtime {
        sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        nsec: i32::try_from(timeout.subsec_nanos()).unwrap_or(0),
        flags: 0,
    }
}

/// An open `/dev/ppsN` device.
#[derive(Debug)]
pub struct PpsDevice {
    file: File,
    path: PathBuf,
}

/// Run one PPS ioctl whose argument is a `T`.
fn pps_ioctl<T>(fd: RawFd, request: u32, argument: &mut T) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `fd` is an open descriptor for the duration of the call;
        // `request` is one of the <linux/pps.h> requests whose argument is
        // a pointer to exactly the `#[repr(C)]` type `T` mirroring the
        // kernel's structure (sizes checked by tests), and `argument` is a
        // valid, exclusive reference that outlives the call.
        let result = unsafe {
            libc::ioctl(
                fd,
                request as libc::Ioctl,
                std::ptr::from_mut(argument).cast::<libc::c_void>(),
            )
        };
        if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (fd, request, argument);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

impl PpsDevice {
    /// Open a PPS device (read-write when allowed, else read-only) and check
    /// that it answers `PPS_GETCAP`.
    pub fn open(path: &Path) -> Result<Self, RefclockError> {
        let open = |write| {
            OpenOptions::new()
                .read(true)
                .write(write)
                .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
                .open(path)
        };
        let file = open(true)
            .or_else(|_| open(false))
            .map_err(|source| RefclockError::Device {
                operation: "open PPS device",
                path: path.to_owned(),
                source,
            })?;
        let device = Self {
            file,
            path: path.to_owned(),
        };
        device.capabilities()?;
        Ok(device)
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, operation: &'static str, source: io::Error) -> RefclockError {
        RefclockError::Device {
            operation,
            path: self.path.clone(),
            source,
        }
    }

    /// `time_pps_getcap`: the capability bits.
    pub fn capabilities(&self) -> Result<libc::c_int, RefclockError> {
        let mut caps: libc::c_int = 0;
        pps_ioctl(self.file.as_raw_fd(), PPS_GETCAP, &mut caps)
            .map_err(|e| self.error("PPS_GETCAP (is it a PPS device?)", e))?;
        Ok(caps)
    }

    /// `time_pps_getparams`.
    pub fn params(&self) -> Result<PpsKparams, RefclockError> {
        let mut params = PpsKparams::default();
        pps_ioctl(self.file.as_raw_fd(), PPS_GETPARAMS, &mut params)
            .map_err(|e| self.error("PPS_GETPARAMS", e))?;
        Ok(params)
    }

    /// `time_pps_setparams` (needs `CAP_SYS_TIME`).
    pub fn set_params(&self, params: &PpsKparams) -> Result<(), RefclockError> {
        let mut params = *params;
        params.api_version = PPS_API_VERS_1;
        pps_ioctl(self.file.as_raw_fd(), PPS_SETPARAMS, &mut params)
            .map_err(|e| self.error("PPS_SETPARAMS", e))
    }

    /// `time_pps_fetch`: the last events. With a zero timeout it returns at
    /// once; the drivers only use zero.
    pub fn fetch(&self, timeout: Duration) -> Result<PpsKinfo, RefclockError> {
        let mut data = PpsFdata {
            info: PpsKinfo::default(),
            timeout: timeout_ktime(timeout),
        };
        pps_ioctl(self.file.as_raw_fd(), PPS_FETCH, &mut data)
            .map_err(|e| self.error("PPS_FETCH", e))?;
        Ok(data.info)
    }

    /// `time_pps_kcbind`: hand an edge (`PPS_CAPTUREASSERT` or
    /// `PPS_CAPTURECLEAR`; 0 unbinds) to the kernel's hard-PPS discipline.
    /// Needs `CAP_SYS_TIME`; the kernel uses it only while the clock
    /// discipline enables `STA_PPSTIME`/`STA_PPSFREQ`.
    pub fn bind_kernel_consumer(&self, edge: libc::c_int) -> Result<(), RefclockError> {
        let mut args = PpsBindArgs {
            tsformat: PPS_TSFMT_TSPEC,
            edge,
            consumer: PPS_KC_HARDPPS,
        };
        pps_ioctl(self.file.as_raw_fd(), PPS_KC_BIND, &mut args)
            .map_err(|e| self.error("PPS_KC_BIND", e))
    }
}

impl AsRawFd for PpsDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_sizes_match_the_kernel() {
        // <linux/pps.h> on LP64 targets
        if size_of::<usize>() == 8 {
            assert_eq!(size_of::<PpsKtime>(), 16);
            assert_eq!(size_of::<PpsKinfo>(), 48);
            assert_eq!(size_of::<PpsKparams>(), 40);
            assert_eq!(size_of::<PpsFdata>(), 64);
            assert_eq!(size_of::<PpsBindArgs>(), 12);
            assert_eq!(std::mem::offset_of!(PpsKinfo, assert_tu), 8);
            assert_eq!(std::mem::offset_of!(PpsKinfo, clear_tu), 24);
            assert_eq!(std::mem::offset_of!(PpsKinfo, current_mode), 40);
            assert_eq!(std::mem::offset_of!(PpsFdata, timeout), 48);
        }
    }

    #[test]
    #[cfg(all(
        target_pointer_width = "64",
        any(
            target_arch = "x86_64",
            target_arch = "aarch64",
            target_arch = "riscv64"
        )
    ))]
    fn request_numbers_match_the_kernel() {
        assert_eq!(PPS_GETPARAMS, 0x8008_70a1);
        assert_eq!(PPS_SETPARAMS, 0x4008_70a2);
        assert_eq!(PPS_GETCAP, 0x8008_70a3);
        assert_eq!(PPS_FETCH, 0xc008_70a4);
        assert_eq!(PPS_KC_BIND, 0x4008_70a5);
    }

    #[test]
    fn kernel_times() {
        let t = |sec, nsec, flags| PpsKtime { sec, nsec, flags };
        assert_eq!(ktime_to_unix(t(100, 5, 0)), Some((100, 5)));
        assert_eq!(ktime_to_unix(t(100, 5, PPS_TIME_INVALID)), None);
        assert_eq!(ktime_to_unix(t(100, -1, 0)), None);
        assert_eq!(ktime_to_unix(t(100, 1_000_000_000, 0)), None);
        assert_eq!(
            timeout_ktime(Duration::from_millis(1500)),
            t(1, 500_000_000, 0)
        );
    }

    #[test]
    fn missing_device_is_a_clear_error() {
        let err = PpsDevice::open(Path::new("/dev/pps-missing-7"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("open PPS device /dev/pps-missing-7"), "{err}");
    }

    #[test]
    fn a_non_pps_device_is_refused() {
        let err = PpsDevice::open(Path::new("/dev/null"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("PPS_GETCAP"), "{err}");
    }

    #[test]
    fn real_devices_answer_if_present() {
        // Exercised only on machines with PPS hardware (or pps-ktimer).
        for n in 0..4 {
            let path = PathBuf::from(format!("/dev/pps{n}"));
            if !path.exists() {
                continue;
            }
            if let Ok(device) = PpsDevice::open(&path) {
                let caps = device.capabilities().unwrap();
                assert!(caps & PPS_CAPTUREBOTH != 0);
                device.params().unwrap();
                device.fetch(Duration::ZERO).unwrap();
            }
        }
    }
}
