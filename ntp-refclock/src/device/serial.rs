//! A serial line in raw 8N1 mode, read without blocking.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::RefclockError;
use crate::config::BaudRate;

/// The most bytes one [`SerialPort::read_available`] call takes, so one
/// chatty device cannot starve the poll loop.
pub const MAX_READ: usize = 64 * 1024;

/// A serial device (any tty, including a pseudo-terminal) opened
/// non-blocking, without becoming the controlling terminal, and set to raw
/// 8N1 at a given speed.
#[derive(Debug)]
pub struct SerialPort {
    file: File,
    path: PathBuf,
    baud: BaudRate,
}

fn speed(baud: BaudRate) -> libc::speed_t {
    match baud {
        BaudRate::B4800 => libc::B4800,
        BaudRate::B9600 => libc::B9600,
        BaudRate::B19200 => libc::B19200,
        BaudRate::B38400 => libc::B38400,
        BaudRate::B57600 => libc::B57600,
        BaudRate::B115200 => libc::B115200,
    }
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Set a terminal to raw 8N1 at `baud`, no flow control, reads returning
/// at once, and drop pending input.
fn configure(fd: RawFd, baud: BaudRate) -> io::Result<()> {
    // SAFETY: `termios` is a plain C struct of integers and integer arrays,
    // for which all-zero bytes are a valid value.
    let mut tio: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is an open descriptor owned by the caller for the whole
    // call and `tio` is a valid, writable termios.
    check(unsafe { libc::tcgetattr(fd, &mut tio) })?;
    // SAFETY: `tio` is a valid termios filled in by tcgetattr.
    unsafe { libc::cfmakeraw(&mut tio) };
    tio.c_cflag &= !(libc::CSIZE | libc::PARENB | libc::CSTOPB | libc::CRTSCTS);
    tio.c_cflag |= libc::CS8 | libc::CLOCAL | libc::CREAD;
    tio.c_iflag &= !(libc::IXON | libc::IXOFF | libc::IXANY);
    tio.c_cc[libc::VMIN] = 0;
    tio.c_cc[libc::VTIME] = 0;
    // SAFETY: `tio` is a valid termios; the speed is one of libc's constants.
    check(unsafe { libc::cfsetispeed(&mut tio, speed(baud)) })?;
    // SAFETY: as above.
    check(unsafe { libc::cfsetospeed(&mut tio, speed(baud)) })?;
    // SAFETY: `fd` is open and `tio` is a valid termios that outlives the call.
    check(unsafe { libc::tcsetattr(fd, libc::TCSANOW, &tio) })?;
    // SAFETY: `fd` is open; TCIFLUSH only discards queued input.
    check(unsafe { libc::tcflush(fd, libc::TCIFLUSH) })?;
    Ok(())
}

/// The line speed a terminal is set to, for checks.
fn input_speed(fd: RawFd) -> io::Result<libc::speed_t> {
    // SAFETY: all-zero bytes are a valid termios (see `configure`).
    let mut tio: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open for the call and `tio` is writable.
    check(unsafe { libc::tcgetattr(fd, &mut tio) })?;
    // SAFETY: `tio` is a valid termios filled in by tcgetattr.
    Ok(unsafe { libc::cfgetispeed(&tio) })
}

impl SerialPort {
    /// Open and configure a serial device.
    pub fn open(path: &Path, baud: BaudRate) -> Result<Self, RefclockError> {
        let device = |operation, source| RefclockError::Device {
            operation,
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| device("open", e))?;
        configure(file.as_raw_fd(), baud).map_err(|e| device("configure (termios)", e))?;
        Ok(Self {
            file,
            path: path.to_owned(),
            baud,
        })
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The line speed.
    pub fn baud(&self) -> BaudRate {
        self.baud
    }

    /// Whether the device is set to the configured speed (pseudo-terminals
    /// store the speed they are given, real ports may refuse some).
    pub fn speed_is_set(&self) -> bool {
        input_speed(self.file.as_raw_fd()).is_ok_and(|s| s == speed(self.baud))
    }

    /// Append whatever bytes are available to `out` without blocking;
    /// returns how many were read (0: nothing available).
    pub fn read_available(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let mut buffer = [0u8; 4096];
        let mut total = 0;
        while total < MAX_READ {
            match self.file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    out.extend_from_slice(&buffer[..n]);
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }
}

impl AsRawFd for SerialPort {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_device_is_a_clear_error() {
        let err = SerialPort::open(Path::new("/dev/nonexistent-gps9"), BaudRate::B4800)
            .unwrap_err()
            .to_string();
        assert!(err.contains("open /dev/nonexistent-gps9"), "{err}");
    }

    #[test]
    fn a_regular_file_is_not_a_terminal() {
        let err = SerialPort::open(Path::new("/proc/self/status"), BaudRate::B4800);
        // opening read-write may fail first; either way it is refused
        assert!(err.is_err());
        let err = SerialPort::open(Path::new("/dev/null"), BaudRate::B4800)
            .unwrap_err()
            .to_string();
        assert!(err.contains("termios"), "{err}");
    }
}
