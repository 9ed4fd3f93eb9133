//! `ntpctl run --user NAME`: after the sockets are bound, the daemon gives
//! up root and keeps only the capabilities it needs: CAP_SYS_TIME (adjust
//! the clock) and CAP_NET_BIND_SERVICE (bind port 123 again on reload).

use std::ffi::CString;
use std::io;

/// CAP_NET_BIND_SERVICE.
const CAP_NET_BIND_SERVICE: u32 = 10;
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

/// Switches to `user` (and its primary group, with no supplementary
/// groups), keeping CAP_SYS_TIME and CAP_NET_BIND_SERVICE.
pub fn drop_to_user(user: &str) -> io::Result<()> {
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
    }
    let keep = (1u32 << CAP_SYS_TIME) | (1u32 << CAP_NET_BIND_SERVICE);
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
        "running as {user} (uid {uid}, gid {gid}) with CAP_SYS_TIME and CAP_NET_BIND_SERVICE"
    );
    Ok(())
}
