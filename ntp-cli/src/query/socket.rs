//! The UDP sockets of a query, following DESIGN.md's runtime rules:
//! created through socket2 (falling back to `fcntl` when the kernel refuses
//! the close-on-exec/non-blocking creation flags with EINVAL), read only
//! after `poll(2)` reports POLLIN, EAGAIN meaning "nothing", and receive
//! timestamps from SO_TIMESTAMPING (software RX) when the kernel gives them.

use std::io;
use std::mem::{size_of, size_of_val};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use ntp_wire::time::NtpTimestamp;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// A datagram received.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    /// Its length.
    pub len: usize,
    /// Where it came from.
    pub from: SocketAddr,
    /// The kernel's software receive timestamp, if there is one.
    pub timestamp: Option<NtpTimestamp>,
}

/// A non-blocking UDP socket bound to an ephemeral port.
#[derive(Debug)]
pub struct UdpSocket {
    socket: Socket,
    timestamping: bool,
}

fn create(domain: Domain) -> io::Result<Socket> {
    match Socket::new(
        domain,
        Type::DGRAM.nonblocking().cloexec(),
        Some(Protocol::UDP),
    ) {
        Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
            let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_nonblocking(true)?;
            socket.set_cloexec(true)?;
            Ok(socket)
        }
        other => other,
    }
}

impl UdpSocket {
    /// A socket for talking to `remote`, bound to the wildcard address of
    /// its family and an ephemeral port.
    pub fn open(remote: &SocketAddr) -> io::Result<Self> {
        let (domain, local) = match remote {
            SocketAddr::V4(_) => (Domain::IPV4, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
            SocketAddr::V6(_) => (Domain::IPV6, SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))),
        };
        let socket = create(domain)?;
        if remote.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.bind(&SockAddr::from(local))?;
        let timestamping = enable_timestamping(socket.as_raw_fd());
        Ok(Self {
            socket,
            timestamping,
        })
    }

    /// Whether the kernel gives software receive timestamps.
    pub fn timestamping(&self) -> bool {
        self.timestamping
    }

    /// The descriptor, for `poll(2)`.
    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Sends `bytes` to `to`.
    pub fn send_to(&self, bytes: &[u8], to: &SocketAddr) -> io::Result<usize> {
        self.socket.send_to(bytes, &SockAddr::from(*to))
    }

    /// Receives one datagram into `buf`; `Ok(None)` when there is none
    /// (EAGAIN).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        recv_timestamped(self.fd(), buf)
    }
}

fn enable_timestamping(fd: RawFd) -> bool {
    let flags: libc::c_uint = libc::SOF_TIMESTAMPING_RX_SOFTWARE | libc::SOF_TIMESTAMPING_SOFTWARE;
    // SAFETY: fd is an open socket; the option value is a c_uint that lives
    // across the call, and its size is given.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPING,
            (&raw const flags).cast(),
            size_of_val(&flags) as libc::socklen_t,
        )
    };
    rc == 0
}

fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is large and aligned enough for it.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn recv_timestamped(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<Received>> {
    // SAFETY: all-zero bytes are a valid sockaddr_storage and msghdr.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64s keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 64];
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut storage).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control) as _;
    let n = loop {
        // SAFETY: msg points at the live buffers set up above.
        let n = unsafe { libc::recvmsg(fd, &raw mut msg, libc::MSG_DONTWAIT) };
        if n >= 0 {
            break n as usize;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::WouldBlock => return Ok(None),
            io::ErrorKind::Interrupted => continue,
            _ => return Err(err),
        }
    };
    let Some(from) = socket_addr(&storage) else {
        return Ok(None);
    };
    let mut timestamp = None;
    // SAFETY: msg was filled by recvmsg; the CMSG macros walk its control
    // buffer within msg_controllen, and the data of an SCM_TIMESTAMPING
    // message holds three timespecs (read unaligned).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            if header.cmsg_level == libc::SOL_SOCKET
                && header.cmsg_type == libc::SCM_TIMESTAMPING
                && header.cmsg_len as usize
                    >= libc::CMSG_LEN(size_of::<libc::timespec>() as u32) as usize
            {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                if ts.tv_sec != 0 || ts.tv_nsec != 0 {
                    timestamp = Some(NtpTimestamp::from_unix(ts.tv_sec as i64, ts.tv_nsec as u32));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&raw const msg, cmsg);
        }
    }
    Ok(Some(Received {
        len: n.min(buf.len()),
        from,
        timestamp,
    }))
}

/// Waits with `poll(2)` until one of `fds` is readable or `timeout` passes
/// (rounded up to whole milliseconds); returns which descriptors are
/// readable (or in error, which a receive then reports).
pub fn poll_readable(fds: &[RawFd], timeout: Duration) -> io::Result<Vec<bool>> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let millis = timeout.as_micros().div_ceil(1000).min(60_000) as libc::c_int;
    // SAFETY: pollfds is a live array of the given length.
    let rc = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, millis) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(err);
    }
    Ok(pollfds
        .iter()
        .map(|p| p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0)
        .collect())
}

/// Eight random bytes from the kernel (getrandom, or /dev/urandom).
pub fn random_u64() -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    // SAFETY: bytes is a live buffer of the given length.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        use std::io::Read;
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    }
    Ok(u64::from_ne_bytes(bytes))
}
