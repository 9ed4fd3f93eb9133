//! The daemon's side of the control socket: a non-blocking listener and
//! connections, driven from the event loop's `poll(2)`.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

use super::{MAX_MESSAGE_LEN, Request, Response};

/// At most this many clients are connected at once; more are refused.
const MAX_CONNECTIONS: usize = 16;

struct Connection {
    socket: Socket,
    input: Vec<u8>,
    output: Vec<u8>,
}

/// The listening control socket and its connections.
pub struct ControlServer {
    path: PathBuf,
    listener: Socket,
    connections: Vec<Connection>,
}

impl ControlServer {
    /// Creates the socket at `path` (replacing a stale one), with
    /// permissions 0600, listening and non-blocking.
    pub fn bind(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        let listener = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        listener.bind(&SockAddr::unix(path)?)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.listen(8)?;
        listener.set_nonblocking(true)?;
        Ok(Self {
            path: path.to_owned(),
            listener,
            connections: Vec::new(),
        })
    }

    /// Fills `fds` (cleared first, so a caller can reuse it) with the
    /// descriptors to poll for reading (listener first), and for each whether
    /// it also waits to write.
    pub fn poll_fds(&self, fds: &mut Vec<(RawFd, bool)>) {
        fds.clear();
        fds.push((self.listener.as_raw_fd(), false));
        fds.extend(
            self.connections
                .iter()
                .map(|c| (c.socket.as_raw_fd(), !c.output.is_empty())),
        );
    }

    /// Handles readiness of `fd`: accepts clients, reads requests, answers
    /// them with `handler`, writes responses, and drops finished or broken
    /// connections.
    pub fn handle(&mut self, fd: RawFd, mut handler: impl FnMut(Request) -> Response) {
        if fd == self.listener.as_raw_fd() {
            self.accept();
            return;
        }
        let Some(index) = self
            .connections
            .iter()
            .position(|c| c.socket.as_raw_fd() == fd)
        else {
            return;
        };
        let keep = serve(&mut self.connections[index], &mut handler);
        if !keep {
            self.connections.swap_remove(index);
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((socket, _)) => {
                    if self.connections.len() >= MAX_CONNECTIONS {
                        log::warn!("control socket: too many clients, refusing one");
                        continue;
                    }
                    if socket.set_nonblocking(true).is_err() {
                        continue;
                    }
                    self.connections.push(Connection {
                        socket,
                        input: Vec::new(),
                        output: Vec::new(),
                    });
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    log::warn!("control socket: accept failed: {err}");
                    return;
                }
            }
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads what is available, answers a complete request line, and writes
/// what can be written. Returns whether to keep the connection.
fn serve(conn: &mut Connection, handler: &mut impl FnMut(Request) -> Response) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        // socket2's Read calls recv(2).
        match (&conn.socket).read(&mut buf) {
            Ok(0) => {
                if conn.output.is_empty() {
                    return false;
                }
                break;
            }
            Ok(n) => {
                conn.input.extend_from_slice(&buf[..n]);
                if conn.input.len() > MAX_MESSAGE_LEN {
                    return false;
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    if let Some(end) = conn.input.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = conn.input.drain(..=end).collect();
        let response = match serde_json::from_slice::<Request>(&line) {
            Ok(request) => handler(request),
            Err(err) => Response::Error(format!("bad request: {err}")),
        };
        match serde_json::to_vec(&response) {
            Ok(mut bytes) => {
                bytes.push(b'\n');
                conn.output.extend_from_slice(&bytes);
            }
            Err(_) => return false,
        }
    }
    while !conn.output.is_empty() {
        // socket2's Write calls send(2).
        match (&conn.socket).write(&conn.output) {
            Ok(n) => {
                conn.output.drain(..n);
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return true,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{StatusReport, request};
    use std::time::Duration;

    fn status() -> StatusReport {
        StatusReport {
            stratum: 3,
            refid: "192.0.2.1".to_owned(),
            leap: 0,
            system_peer: Some("192.0.2.1".to_owned()),
            offset: 1e-4,
            frequency_ppm: -12.5,
            root_delay: 0.01,
            root_dispersion: 0.02,
            jitter: 1e-5,
            poll: 6,
            discipline_state: "SYNC".to_owned(),
            orphan: false,
            clock_adjusted: false,
            reference_time: None,
            counters: Default::default(),
        }
    }

    #[test]
    fn request_response_round_trip() {
        let path = std::env::temp_dir().join(format!("ntpctl-control-{}.sock", std::process::id()));
        let mut server = ControlServer::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let client_path = path.clone();
        let client = std::thread::spawn(move || {
            request(&client_path, Request::Status, Duration::from_secs(5)).unwrap()
        });
        // Drive the server as the event loop would, until the client is answered.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !client.is_finished() && std::time::Instant::now() < deadline {
            let mut fds = Vec::new();
            server.poll_fds(&mut fds);
            for (fd, _) in fds {
                server.handle(fd, |req| {
                    assert_eq!(req, Request::Status);
                    Response::Status(Box::new(status()))
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let response = client.join().unwrap();
        assert_eq!(response, Response::Status(Box::new(status())));
        drop(server);
        assert!(!path.exists());
    }
}
