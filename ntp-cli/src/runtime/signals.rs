//! SIGTERM, SIGINT and SIGHUP as readable events of the `poll(2)` loop,
//! through a `signalfd`: the signals are blocked and read from a
//! descriptor, so no handler runs asynchronously.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A signal the daemon acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT: write the frequency file and exit.
    Terminate,
    /// SIGHUP: re-read the configuration.
    Reload,
}

/// The signal descriptor.
#[derive(Debug)]
pub struct Signals {
    fd: OwnedFd,
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set it is given; the set is a
    // plain value on the stack.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        set
    }
}

impl Signals {
    /// Blocks SIGTERM, SIGINT and SIGHUP in this (single-threaded) process
    /// and opens a non-blocking descriptor that reports them.
    pub fn new() -> io::Result<Self> {
        let set = signal_set();
        // SAFETY: set is a valid sigset_t; the old mask is not wanted.
        let rc = unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: -1 asks for a new descriptor; set is valid.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new descriptor this value now owns.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// The descriptor, for `poll(2)`.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The signals that arrived since the last call.
    pub fn read(&self) -> Vec<Signal> {
        let mut out = Vec::new();
        loop {
            // SAFETY: all-zero bytes are a valid signalfd_siginfo.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: info is a live buffer of `size` bytes; a signalfd is
            // not a socket, so read(2) is the way to take its records.
            let n = unsafe { libc::read(self.fd(), (&raw mut info).cast(), size) };
            if n != size as isize {
                return out;
            }
            match info.ssi_signo as libc::c_int {
                libc::SIGHUP => out.push(Signal::Reload),
                _ => out.push(Signal::Terminate),
            }
        }
    }
}
