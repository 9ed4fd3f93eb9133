//! UDP sockets and `poll(2)`, following DESIGN.md's runtime rules: sockets
//! created through socket2 (falling back to `fcntl` when the kernel refuses
//! the close-on-exec/non-blocking creation flags with EINVAL), read only
//! after `poll(2)` reports POLLIN, EAGAIN meaning "nothing", receive
//! timestamps from SO_TIMESTAMPING (software RX) when the kernel gives them,
//! and the destination address of each datagram from IP_PKTINFO /
//! IPV6_RECVPKTINFO (a broadcast or multicast group, or our own address).
//!
//! `ntpctl query` and the daemon share this module. Its `unsafe` blocks are
//! the socket options and `recvmsg`/`poll` calls libc offers only as raw
//! functions; each has a `SAFETY:` comment.

use std::io;
use std::mem::{size_of, size_of_val};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
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
    /// The address it was sent to (from IP_PKTINFO), if known.
    pub to: Option<IpAddr>,
    /// The kernel's software receive timestamp, if there is one.
    pub timestamp: Option<NtpTimestamp>,
}

/// A non-blocking UDP socket.
#[derive(Debug)]
pub struct UdpSocket {
    socket: Socket,
    timestamping: bool,
    local: SocketAddr,
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

fn set_int_option(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> bool {
    // SAFETY: fd is an open socket; the option value is a c_int that lives
    // across the call, and its size is given.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            size_of_val(&value) as libc::socklen_t,
        )
    };
    rc == 0
}

impl UdpSocket {
    /// A socket for talking to `remote`, bound to the wildcard address of
    /// its family and an ephemeral port.
    pub fn open(remote: &SocketAddr) -> io::Result<Self> {
        let local = match remote {
            SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        };
        Self::bind(local)
    }

    /// A socket bound to `local` (IPv6 sockets are IPv6-only, so that an
    /// IPv4 and an IPv6 socket can share a port).
    pub fn bind(local: SocketAddr) -> io::Result<Self> {
        let domain = if local.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let socket = create(domain)?;
        if local.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.set_reuse_address(true)?;
        socket.bind(&SockAddr::from(local))?;
        let fd = socket.as_raw_fd();
        let flags =
            (libc::SOF_TIMESTAMPING_RX_SOFTWARE | libc::SOF_TIMESTAMPING_SOFTWARE) as libc::c_int;
        let timestamping = set_int_option(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, flags);
        if local.is_ipv4() {
            set_int_option(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1);
        } else {
            set_int_option(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1);
        }
        let local = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .unwrap_or(local);
        Ok(Self {
            socket,
            timestamping,
            local,
        })
    }

    /// The local address (with the port the kernel chose).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether the kernel gives software receive timestamps.
    pub fn timestamping(&self) -> bool {
        self.timestamping
    }

    /// The descriptor, for `poll(2)`.
    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Allows sending to broadcast addresses.
    pub fn set_broadcast(&self) -> io::Result<()> {
        self.socket.set_broadcast(true)
    }

    /// Joins a multicast group on the default interface.
    pub fn join_multicast(&self, group: IpAddr) -> io::Result<()> {
        match group {
            IpAddr::V4(g) => self.socket.join_multicast_v4(&g, &Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(g) => self.socket.join_multicast_v6(&g, 0),
        }
    }

    /// Sets the TTL (hop limit) of multicast packets sent from now on.
    pub fn set_multicast_ttl(&self, ttl: u8) -> io::Result<()> {
        if self.local.is_ipv4() {
            self.socket.set_multicast_ttl_v4(u32::from(ttl))
        } else {
            self.socket.set_multicast_hops_v6(u32::from(ttl))
        }
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
    let mut to = None;
    // SAFETY: msg was filled by recvmsg; the CMSG macros walk its control
    // buffer within msg_controllen; the data of an SCM_TIMESTAMPING message
    // holds three timespecs, of IP_PKTINFO an in_pktinfo, of IPV6_PKTINFO an
    // in6_pktinfo, each read unaligned after a length check.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            let len = header.cmsg_len as usize;
            let fits = |size: usize| len >= libc::CMSG_LEN(size as u32) as usize;
            match (header.cmsg_level, header.cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_TIMESTAMPING) if fits(size_of::<libc::timespec>()) => {
                    let ts =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                    if ts.tv_sec != 0 || ts.tv_nsec != 0 {
                        timestamp =
                            Some(NtpTimestamp::from_unix(ts.tv_sec as i64, ts.tv_nsec as u32));
                    }
                }
                (libc::IPPROTO_IP, libc::IP_PKTINFO) if fits(size_of::<libc::in_pktinfo>()) => {
                    let info =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>());
                    to = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        info.ipi_addr.s_addr,
                    ))));
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) if fits(size_of::<libc::in6_pktinfo>()) => {
                    let info =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in6_pktinfo>());
                    to = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&raw const msg, cmsg);
        }
    }
    Ok(Some(Received {
        len: n.min(buf.len()),
        from,
        to,
        timestamp,
    }))
}

/// Waits with `poll(2)` until one of `fds` is ready for what it asks
/// (`events`) or `timeout` passes (rounded up to whole milliseconds, at most
/// a minute); fills in `revents`. An interrupted wait returns with nothing
/// ready.
pub fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<()> {
    let millis = timeout.as_micros().div_ceil(1000).min(60_000) as libc::c_int;
    for fd in fds.iter_mut() {
        fd.revents = 0;
    }
    // SAFETY: fds is a live array of the given length.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}

/// A `pollfd` waiting for input.
pub fn pollfd_in(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Whether a polled descriptor is readable (or in error, which a receive
/// then reports).
pub fn is_readable(fd: &libc::pollfd) -> bool {
    fd.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0
}

/// Waits until one of `fds` is readable or `timeout` passes; returns which
/// descriptors are readable.
pub fn poll_readable(fds: &[RawFd], timeout: Duration) -> io::Result<Vec<bool>> {
    let mut pollfds: Vec<libc::pollfd> = fds.iter().map(|&fd| pollfd_in(fd)).collect();
    poll(&mut pollfds, timeout)?;
    Ok(pollfds.iter().map(is_readable).collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_datagram_with_destination_and_timestamp() {
        let server = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let client = UdpSocket::open(&server.local_addr()).unwrap();
        client.send_to(b"hello", &server.local_addr()).unwrap();
        assert!(poll_readable(&[server.fd()], Duration::from_secs(5)).unwrap()[0]);
        let mut buf = [0u8; 64];
        let got = server.recv(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..got.len], b"hello");
        assert_eq!(got.to, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(got.from.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
        if server.timestamping() {
            assert!(got.timestamp.is_some());
        }
        // Nothing more: EAGAIN is "nothing", not an error.
        assert!(server.recv(&mut buf).unwrap().is_none());
    }
}
