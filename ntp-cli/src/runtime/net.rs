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
        // Never fragment: "don't fragment" on every datagram and no path MTU
        // learnt from ICMP, so a forged "fragmentation needed" cannot make
        // replies fragment (the off-path fragment-injection attack on NTP;
        // NTP datagrams are far below any path's MTU). An unfragmentable
        // IPv4 datagram also needs no identification field (RFC 6864), which
        // saves the kernel hashing one per datagram on the server path.
        if local.is_ipv4() {
            set_int_option(
                fd,
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                libc::IP_PMTUDISC_PROBE,
            );
        } else {
            set_int_option(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MTU_DISCOVER,
                libc::IPV6_PMTUDISC_PROBE,
            );
        }
        // A socket bound to one unicast address receives only datagrams sent
        // to that address, so it needs no destination control message (one
        // `put_cmsg` less per datagram on the server path).
        let one_destination = match local.ip() {
            IpAddr::V4(ip) => !ip.is_unspecified() && !ip.is_multicast() && !ip.is_broadcast(),
            IpAddr::V6(ip) => !ip.is_unspecified() && !ip.is_multicast(),
        };
        if !one_destination {
            if local.is_ipv4() {
                set_int_option(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1);
            } else {
                set_int_option(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1);
            }
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
    let mut control = [0u64; CONTROL_WORDS];
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
    let (to, timestamp) = control_data(&msg);
    Ok(Some(Received {
        len: n.min(buf.len()),
        from,
        to,
        timestamp,
    }))
}

/// The size of a control buffer, in u64 words (u64s keep it aligned for
/// cmsghdr): room for an SCM_TIMESTAMPING message (three timespecs) and an
/// IP_PKTINFO or IPV6_PKTINFO message, with margin.
const CONTROL_WORDS: usize = 32;

/// The destination address (IP_PKTINFO / IPV6_PKTINFO) and software receive
/// timestamp (SCM_TIMESTAMPING) in the control messages of a received
/// `msg`.
fn control_data(msg: &libc::msghdr) -> (Option<IpAddr>, Option<NtpTimestamp>) {
    let mut timestamp = None;
    let mut to = None;
    // SAFETY: msg was filled by recvmsg/recvmmsg, and its msg_control and
    // msg_controllen describe a live control buffer; the CMSG macros walk it
    // within msg_controllen; the data of an SCM_TIMESTAMPING message holds
    // three timespecs, of IP_PKTINFO an in_pktinfo, of IPV6_PKTINFO an
    // in6_pktinfo, each read unaligned after a length check.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
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
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    (to, timestamp)
}

/// How many datagrams one batched receive or send moves.
pub const BATCH: usize = 64;

/// Whether `recvmmsg`/`sendmmsg` may be used: cleared for the whole process
/// the first time either fails in a way that says the call itself is not
/// available (ENOSYS, EINVAL, EOPNOTSUPP, ENOTSOCK or EBADF on a socket
/// that `recvmsg`/`sendmsg` can use, as under an LD_PRELOAD network
/// simulator that intercepts only the single calls), or when the
/// environment variable `NTPCTL_NO_MMSG` is set.
static MMSG: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(MMSG_UNKNOWN);
const MMSG_UNKNOWN: u8 = 0;
const MMSG_ON: u8 = 1;
const MMSG_OFF: u8 = 2;

fn mmsg_enabled() -> bool {
    use std::sync::atomic::Ordering;
    match MMSG.load(Ordering::Relaxed) {
        MMSG_ON => true,
        MMSG_OFF => false,
        _ => {
            let on = std::env::var_os("NTPCTL_NO_MMSG").is_none();
            MMSG.store(if on { MMSG_ON } else { MMSG_OFF }, Ordering::Relaxed);
            on
        }
    }
}

fn mmsg_unavailable(err: &io::Error, receiving: bool) -> bool {
    // EINVAL is ambiguous when sending (a bad destination); only a receive
    // with well-formed arguments reports an unavailable call with it.
    let unavailable = match err.raw_os_error() {
        Some(libc::ENOSYS | libc::EOPNOTSUPP | libc::ENOTSOCK | libc::EBADF) => true,
        Some(libc::EINVAL) => receiving,
        _ => false,
    };
    if unavailable {
        log::info!("recvmmsg/sendmmsg unavailable ({err}); using single calls");
        MMSG.store(MMSG_OFF, std::sync::atomic::Ordering::Relaxed);
    }
    unavailable
}

/// Buffers for receiving up to [`BATCH`] datagrams with one `recvmmsg`
/// call (or, where that is unavailable, with `recvmsg` calls), each with
/// its source, destination and kernel receive timestamp. Allocated once;
/// receiving allocates nothing.
pub struct RecvBatch {
    bufs: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    control: Vec<[u64; CONTROL_WORDS]>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    /// (buffer index, what arrived in it).
    received: Vec<(usize, Received)>,
    size: usize,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("received", &self.received.len())
            .finish()
    }
}

impl RecvBatch {
    /// Buffers for [`BATCH`] datagrams of up to `size` octets.
    pub fn new(size: usize) -> Self {
        // SAFETY: all-zero bytes are valid sockaddr_storage, iovec and
        // mmsghdr values (null pointers, zero lengths).
        let (name, iov, hdr) = unsafe {
            (
                std::mem::zeroed::<libc::sockaddr_storage>(),
                std::mem::zeroed::<libc::iovec>(),
                std::mem::zeroed::<libc::mmsghdr>(),
            )
        };
        Self {
            bufs: vec![0; size * BATCH],
            names: vec![name; BATCH],
            control: vec![[0; CONTROL_WORDS]; BATCH],
            iovs: vec![iov; BATCH],
            hdrs: vec![hdr; BATCH],
            received: Vec::with_capacity(BATCH),
            size,
        }
    }

    /// Receives what is waiting on `fd`, up to [`BATCH`] datagrams, without
    /// blocking; returns how many (0 when there was nothing: EAGAIN).
    /// Datagrams whose source is not an IP address are skipped.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.received.clear();
        if mmsg_enabled() {
            match self.recv_mmsg(fd) {
                Ok(n) => return Ok(n),
                Err(err) if mmsg_unavailable(&err, true) => {}
                Err(err) => return Err(err),
            }
        }
        for index in 0..BATCH {
            let buf = &mut self.bufs[index * self.size..(index + 1) * self.size];
            match recv_timestamped(fd, buf) {
                Ok(Some(received)) => self.received.push((index, received)),
                Ok(None) => break,
                Err(err) if self.received.is_empty() => return Err(err),
                Err(_) => break,
            }
        }
        Ok(self.received.len())
    }

    fn recv_mmsg(&mut self, fd: RawFd) -> io::Result<usize> {
        for index in 0..BATCH {
            self.iovs[index] = libc::iovec {
                iov_base: self.bufs[index * self.size..].as_mut_ptr().cast(),
                iov_len: self.size,
            };
            let hdr = &mut self.hdrs[index];
            hdr.msg_len = 0;
            hdr.msg_hdr.msg_name = (&raw mut self.names[index]).cast();
            hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_hdr.msg_iov = &raw mut self.iovs[index];
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_control = self.control[index].as_mut_ptr().cast();
            hdr.msg_hdr.msg_controllen = size_of::<[u64; CONTROL_WORDS]>() as _;
            hdr.msg_hdr.msg_flags = 0;
        }
        let n = loop {
            // SAFETY: hdrs holds BATCH message headers, each pointing at its
            // own live name, iovec (over its own slice of bufs) and control
            // buffer, all owned by self and not moved during the call; no
            // timeout pointer.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    self.hdrs.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                break n as usize;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => return Ok(0),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(err),
            }
        };
        for index in 0..n.min(BATCH) {
            let hdr = &self.hdrs[index];
            let Some(from) = socket_addr(&self.names[index]) else {
                continue;
            };
            let (to, timestamp) = control_data(&hdr.msg_hdr);
            self.received.push((
                index,
                Received {
                    len: (hdr.msg_len as usize).min(self.size),
                    from,
                    to,
                    timestamp,
                },
            ));
        }
        Ok(self.received.len())
    }

    /// The datagrams of the last [`RecvBatch::recv`], with their octets.
    pub fn iter(&self) -> impl Iterator<Item = (&Received, &[u8])> {
        self.received.iter().map(|(index, r)| {
            let start = index * self.size;
            (r, &self.bufs[start..start + r.len])
        })
    }
}

/// The largest datagram a [`SendBatch`] holds.
pub const MAX_SEND: usize = 256;

/// Up to [`BATCH`] datagrams for one socket, sent with one `sendmmsg` call
/// (or, where that is unavailable, with `sendto` calls). Allocated once;
/// queueing and sending allocate nothing.
pub struct SendBatch {
    bufs: Vec<[u8; MAX_SEND]>,
    lens: Vec<usize>,
    names: Vec<SockAddr>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl std::fmt::Debug for SendBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendBatch")
            .field("queued", &self.names.len())
            .finish()
    }
}

impl Default for SendBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl SendBatch {
    /// An empty batch.
    pub fn new() -> Self {
        // SAFETY: all-zero bytes are valid iovec and mmsghdr values.
        let (iov, hdr) = unsafe {
            (
                std::mem::zeroed::<libc::iovec>(),
                std::mem::zeroed::<libc::mmsghdr>(),
            )
        };
        Self {
            bufs: vec![[0; MAX_SEND]; BATCH],
            lens: vec![0; BATCH],
            names: Vec::with_capacity(BATCH),
            iovs: vec![iov; BATCH],
            hdrs: vec![hdr; BATCH],
        }
    }

    /// How many datagrams are queued.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether the batch is full (send it before queueing more).
    pub fn is_full(&self) -> bool {
        self.names.len() >= BATCH
    }

    /// Queues `bytes` for `to`; returns false (queueing nothing) when the
    /// batch is full or the datagram longer than [`MAX_SEND`].
    pub fn push(&mut self, bytes: &[u8], to: &SocketAddr) -> bool {
        let index = self.names.len();
        if index >= BATCH || bytes.len() > MAX_SEND {
            return false;
        }
        self.bufs[index][..bytes.len()].copy_from_slice(bytes);
        self.lens[index] = bytes.len();
        self.names.push(SockAddr::from(*to));
        true
    }

    /// Sends everything queued from `fd` and empties the batch. A datagram
    /// the kernel refuses is dropped (and logged at debug level); the rest
    /// are still sent. Returns how many were sent.
    pub fn send(&mut self, fd: RawFd) -> usize {
        let count = self.names.len();
        let mut sent = 0;
        if mmsg_enabled() {
            sent = self.send_mmsg(fd, count);
        }
        // Single calls for what sendmmsg did not take.
        while sent < count {
            let to = &self.names[sent];
            // SAFETY: the buffer and address are live for the call, with
            // their lengths given.
            let rc = unsafe {
                libc::sendto(
                    fd,
                    self.bufs[sent].as_ptr().cast(),
                    self.lens[sent],
                    libc::MSG_DONTWAIT,
                    to.as_ptr().cast(),
                    to.len(),
                )
            };
            if rc < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                log::debug!("send to {:?}: {err}", to.as_socket());
            }
            sent += 1;
        }
        self.names.clear();
        count
    }

    /// Sends with sendmmsg; returns how many datagrams are done with (sent,
    /// or refused and skipped), leaving the rest for single calls.
    fn send_mmsg(&mut self, fd: RawFd, count: usize) -> usize {
        for index in 0..count {
            self.iovs[index] = libc::iovec {
                iov_base: self.bufs[index].as_mut_ptr().cast(),
                iov_len: self.lens[index],
            };
            let name = &self.names[index];
            let hdr = &mut self.hdrs[index];
            hdr.msg_len = 0;
            hdr.msg_hdr.msg_name = name.as_ptr().cast_mut().cast();
            hdr.msg_hdr.msg_namelen = name.len();
            hdr.msg_hdr.msg_iov = &raw mut self.iovs[index];
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_control = std::ptr::null_mut();
            hdr.msg_hdr.msg_controllen = 0;
            hdr.msg_hdr.msg_flags = 0;
        }
        let mut done = 0;
        while done < count {
            // SAFETY: hdrs[done..count] are message headers pointing at live
            // addresses, iovecs and buffers owned by self, which are not
            // touched during the call.
            let rc = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs[done..].as_mut_ptr(),
                    (count - done) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if rc > 0 {
                done += rc as usize;
                continue;
            }
            let err = io::Error::last_os_error();
            if rc < 0 && err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if rc == 0 || mmsg_unavailable(&err, false) {
                return done;
            }
            // The first remaining datagram was refused: skip it.
            log::debug!("send to {:?}: {err}", self.names[done].as_socket());
            done += 1;
        }
        done
    }
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
        // A wildcard socket learns each datagram's destination (IP_PKTINFO).
        let server = UdpSocket::bind("0.0.0.0:0".parse().unwrap()).unwrap();
        let to = SocketAddr::new("127.0.0.1".parse().unwrap(), server.local_addr().port());
        let client = UdpSocket::open(&to).unwrap();
        // See batched_receive_and_send: timestamping is enabled in deferred work.
        std::thread::sleep(Duration::from_millis(200));
        client.send_to(b"hello", &to).unwrap();
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

        // Neither socket ever fragments (IP_PMTUDISC_PROBE: DF set, no path
        // MTU from ICMP).
        for socket in [&server, &client] {
            let mut value: libc::c_int = -1;
            let mut len = size_of_val(&value) as libc::socklen_t;
            // SAFETY: an open socket, an int-sized buffer and its length.
            let rc = unsafe {
                libc::getsockopt(
                    socket.fd(),
                    libc::IPPROTO_IP,
                    libc::IP_MTU_DISCOVER,
                    (&raw mut value).cast(),
                    &mut len,
                )
            };
            assert_eq!((rc, value), (0, libc::IP_PMTUDISC_PROBE));
        }

        // A socket bound to one address asks for no destination: it is that
        // address.
        let bound = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        client.send_to(b"again", &bound.local_addr()).unwrap();
        assert!(poll_readable(&[bound.fd()], Duration::from_secs(5)).unwrap()[0]);
        let got = bound.recv(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..got.len], b"again");
        assert_eq!(got.to, None);
    }

    #[test]
    fn batched_receive_and_send() {
        let server = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let client = UdpSocket::open(&server.local_addr()).unwrap();
        // The kernel turns receive timestamping on for the whole stack in
        // deferred work after the first socket asks for it; packets that
        // arrive before that carry no timestamp (the daemon then reads the
        // clock after poll). Give it a moment.
        std::thread::sleep(Duration::from_millis(200));
        for i in 0..10u8 {
            client.send_to(&[i; 48], &server.local_addr()).unwrap();
        }
        assert!(poll_readable(&[server.fd()], Duration::from_secs(5)).unwrap()[0]);
        let mut batch = RecvBatch::new(2048);
        let mut got = Vec::new();
        for _ in 0..10 {
            batch.recv(server.fd()).unwrap();
            for (received, bytes) in batch.iter() {
                assert_eq!(received.len, 48);
                assert_eq!(received.to, None, "a socket bound to one address");
                assert_eq!(
                    received.from,
                    SocketAddr::new("127.0.0.1".parse().unwrap(), client.local_addr().port())
                );
                if server.timestamping() {
                    assert!(received.timestamp.is_some());
                }
                got.push(bytes[0]);
            }
            if got.len() == 10 {
                break;
            }
            let _ = poll_readable(&[server.fd()], Duration::from_millis(100));
        }
        assert_eq!(got, (0..10).collect::<Vec<u8>>());
        assert_eq!(batch.recv(server.fd()).unwrap(), 0);

        // Replies in one batch, one of them to an address the socket
        // cannot reach (skipped, the others still sent).
        let mut send = SendBatch::new();
        let from = SocketAddr::new("127.0.0.1".parse().unwrap(), client.local_addr().port());
        for i in 0..5u8 {
            assert!(send.push(&[i; 48], &from));
            if i == 2 {
                assert!(send.push(&[9; 48], &"[::1]:9".parse().unwrap()));
            }
        }
        assert_eq!(send.len(), 6);
        assert_eq!(send.send(server.fd()), 6);
        assert!(send.is_empty());
        let mut buf = [0u8; 64];
        let mut replies = Vec::new();
        while replies.len() < 5 {
            assert!(poll_readable(&[client.fd()], Duration::from_secs(5)).unwrap()[0]);
            while let Some(r) = client.recv(&mut buf).unwrap() {
                replies.push(buf[..r.len][0]);
            }
        }
        assert_eq!(replies, vec![0, 1, 2, 3, 4]);
        assert!(!send.push(&[0; MAX_SEND + 1], &from));
    }
}
