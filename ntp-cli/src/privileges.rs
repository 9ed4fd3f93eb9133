//! `ntpctl run --user NAME`: after the sockets are bound and the files
//! read, the daemon gives up root: it becomes NAME (uid, primary gid, no
//! supplementary groups) and keeps CAP_SYS_TIME only when it will adjust
//! the clock, nothing otherwise (with `--no-adjust`, `disable ntp`, or when
//! the no-op adjustment probe failed). It never binds a socket again
//! (a reload only adds and removes associations), so it does not keep
//! CAP_NET_BIND_SERVICE; it sets `no_new_privs`, so nothing it could run
//! gains privileges either. `tests/privileges.rs` checks all of it in
//! `/proc/PID/status`.

use std::ffi::CString;
use std::io;

/// CAP_SYS_TIME.
const CAP_SYS_TIME: u32 = 25;
/// `_LINUX_CAPABILITY_VERSION_3`.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn check(rc: libc::c_int, what: &str) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        let err = io::Error::last_os_error();
        Err(io::Error::new(err.kind(), format!("{what}: {err}")))
    }
}

/// The capability mask kept after [`drop_to_user`]: CAP_SYS_TIME when the
/// daemon adjusts the clock, nothing otherwise.
pub fn kept_capabilities(adjust_clock: bool) -> u32 {
    if adjust_clock { 1 << CAP_SYS_TIME } else { 0 }
}

/// Switches to `user` (and its primary group, with no supplementary
/// groups), keeping only CAP_SYS_TIME, and that only when `adjust_clock`.
pub fn drop_to_user(user: &str, adjust_clock: bool) -> io::Result<()> {
    let name = CString::new(user)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "user name contains NUL"))?;
    // SAFETY: name is a valid C string; getpwnam returns a pointer to static
    // storage (or null), read at once in this single-threaded process.
    let (uid, gid) = unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no such user {user}"),
            ));
        }
        ((*pw).pw_uid, (*pw).pw_gid)
    };
    // SAFETY: plain system calls with integer arguments (and a null list
    // of zero groups).
    unsafe {
        check(
            libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0),
            "PR_SET_KEEPCAPS",
        )?;
        check(libc::setgroups(0, std::ptr::null()), "setgroups")?;
        check(libc::setresgid(gid, gid, gid), "setresgid")?;
        check(libc::setresuid(uid, uid, uid), "setresuid")?;
        check(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            "PR_SET_NO_NEW_PRIVS",
        )?;
    }
    let keep = kept_capabilities(adjust_clock);
    let header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: keep,
            permitted: keep,
            inheritable: 0,
        },
        CapData::default(),
    ];
    // SAFETY: capset(2) reads a version-3 header and two data records, which
    // live across the call; libc has no wrapper for it.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &raw const header, data.as_ptr()) };
    check(rc as libc::c_int, "capset")?;
    log::info!(
        "running as {user} (uid {uid}, gid {gid}) with {}",
        if adjust_clock {
            "CAP_SYS_TIME only"
        } else {
            "no capabilities"
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_clock_capability_and_only_when_adjusting() {
        assert_eq!(kept_capabilities(true), 1 << 25);
        assert_eq!(kept_capabilities(false), 0);
    }
}
