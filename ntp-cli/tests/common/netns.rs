//! Network namespaces made by the tests themselves: a "switch" namespace
//! holding a bridge, and host namespaces each joined to it by a veth pair,
//! with addresses from a private /24, loopback up, a default route and a
//! multicast route on the host's link (so that broadcast, multicast and the
//! orphan election's address probe all work). Everything is deleted when
//! the [`Lab`] drops, even when the test fails: deleting a namespace
//! deletes its links and the bridge with it; the `/etc/netns/NS` folders
//! made for host files are removed too.
//!
//! Declare the [`Lab`] before the daemons that run in it, so that the
//! daemons (killed by PID on drop) go first.
//!
//! Names are unique per test process and call (`ntpctl-PID-N-...`), so that
//! tests run in parallel never collide; interface names live inside the
//! namespaces and can be short and fixed.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::{Daemon, TempDir, ntpctl, unique};

/// Runs `ip ARGS`, failing the test with its stderr when it fails (or when
/// `ip` itself cannot be found: these tests need iproute2).
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip` (iproute2 is needed): {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One host namespace on the bridge.
#[derive(Clone, Debug)]
pub struct Host {
    /// The namespace's name (for `ip netns exec`).
    pub ns: String,
    /// Its address on the bridge.
    pub address: Ipv4Addr,
}

/// A bridge with host namespaces around it. See the module documentation.
pub struct Lab {
    /// The namespace holding the bridge `br0`.
    pub switch: String,
    /// The hosts, in the order of their addresses.
    pub hosts: Vec<Host>,
    /// The network's first three octets.
    pub prefix: [u8; 3],
    namespaces: Vec<String>,
    etc_dirs: Vec<PathBuf>,
}

/// The third octet of the next lab's 10.77.X.0/24, so that labs of one
/// test process never share a range (they could, being in separate
/// namespaces, but distinct ranges make logs unambiguous).
static NEXT_NET: AtomicU8 = AtomicU8::new(1);

impl Lab {
    /// A bridge and `hosts` host namespaces with addresses 10.77.X.11,
    /// 10.77.X.12, ... (ascending: the orphan election prefers the lowest).
    pub fn new(hosts: usize) -> Self {
        let base = unique("ntpctl");
        let net = NEXT_NET.fetch_add(1, Ordering::Relaxed);
        let mut lab = Self {
            switch: format!("{base}-sw"),
            hosts: Vec::new(),
            prefix: [10, 77, net],
            namespaces: Vec::new(),
            etc_dirs: Vec::new(),
        };
        lab.add_namespace(&lab.switch.clone());
        let sw = lab.switch.clone();
        // No multicast snooping: without a querier the bridge would
        // otherwise decide on its own which ports hear a group.
        ip(&[
            "-n",
            &sw,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip(&["-n", &sw, "link", "set", "br0", "up"]);
        for _ in 0..hosts {
            lab.add_host();
        }
        lab
    }

    fn add_namespace(&mut self, name: &str) {
        ip(&["netns", "add", name]);
        self.namespaces.push(name.to_owned());
        ip(&["-n", name, "link", "set", "lo", "up"]);
    }

    /// Adds one more host namespace to the bridge; returns it.
    pub fn add_host(&mut self) -> Host {
        let index = self.hosts.len();
        let ns = format!("{}-h{index}", self.switch.trim_end_matches("-sw"));
        self.add_namespace(&ns);
        let [a, b, c] = self.prefix;
        let address = Ipv4Addr::new(a, b, c, 11 + u8::try_from(index).unwrap());
        let sw = self.switch.clone();
        let port = format!("p{index}");
        ip(&[
            "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"]);
        let cidr = format!("{address}/24");
        let broadcast = self.broadcast().to_string();
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &cidr,
            "broadcast",
            &broadcast,
            "dev",
            "eth0",
        ]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        ip(&["-n", &ns, "route", "add", "224.0.0.0/4", "dev", "eth0"]);
        ip(&["-n", &ns, "route", "add", "default", "dev", "eth0"]);
        let host = Host { ns, address };
        self.hosts.push(host.clone());
        host
    }

    /// The network's broadcast address (10.77.X.255).
    pub fn broadcast(&self) -> Ipv4Addr {
        let [a, b, c] = self.prefix;
        Ipv4Addr::new(a, b, c, 255)
    }

    /// A multicast group for this lab (239.77.X.1).
    pub fn group(&self) -> Ipv4Addr {
        Ipv4Addr::new(239, 77, self.prefix[2], 1)
    }

    /// Writes `/etc/netns/NS/hosts` for host `index`: `ip netns exec`
    /// bind-mounts it over `/etc/hosts` for what runs there. Removed when
    /// the lab drops.
    pub fn set_hosts_file(&mut self, index: usize, contents: &str) {
        let dir = PathBuf::from("/etc/netns").join(&self.hosts[index].ns);
        std::fs::create_dir_all(&dir).unwrap();
        self.etc_dirs.push(dir.clone());
        std::fs::write(dir.join("hosts"), contents).unwrap();
    }

    /// Runs `COMMAND ARGS` in host `index`'s namespace; returns stdout,
    /// failing the test when it fails.
    pub fn exec(&self, index: usize, command: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.hosts[index].ns])
            .args(command)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run `ip` (iproute2 is needed): {e}"));
        assert!(
            out.status.success(),
            "{}: {}",
            command.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts one of our daemons in host `index`, listening on
    /// `0.0.0.0:123` (so that it hears broadcasts and multicast groups).
    pub fn daemon(&self, index: usize, config: &str) -> Daemon {
        Daemon::start_in(&self.hosts[index].ns, config, "0.0.0.0:123", &[])
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for dir in &self.etc_dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
        // Hosts first, then the switch; deleting a namespace deletes its
        // end of each veth pair, which deletes the other end.
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Daemon {
    /// Starts `ntpctl run` inside namespace `ns` (`ip netns exec NS ntpctl
    /// run ...`, which execs: the child's PID is the daemon's, so that the
    /// guard kills the daemon itself). The control socket is a file-system
    /// path, so `peers()` and `status()` work from outside.
    pub fn start_in(ns: &str, config: &str, listen: &str, extra: &[&str]) -> Self {
        let dir = TempDir::new("ntpctl-nsdaemon");
        let conf = dir.path().join("ntp.conf");
        std::fs::write(&conf, config).unwrap();
        let control = dir.path().join("control.sock");
        let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
        let program = ntpctl().get_program().to_owned();
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(program)
            .arg("run")
            .arg("-c")
            .arg(&conf)
            .args(["--listen", listen, "--no-adjust", "--control"])
            .arg(&control)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `ip` (iproute2 is needed): {e}"));
        let daemon = Self {
            child,
            dir,
            control,
            listen: listen.to_owned(),
        };
        daemon.wait_for(Duration::from_secs(10), "the control socket", |d| {
            d.control.exists()
        });
        daemon
    }

    /// The peer whose `remote` starts with `address` (`ADDR:PORT`).
    pub fn peer(&self, address: impl std::fmt::Display) -> Option<serde_json::Value> {
        let prefix = format!("{address}:");
        self.peers()
            .as_array()?
            .iter()
            .find(|p| p["remote"].as_str().is_some_and(|r| r.starts_with(&prefix)))
            .cloned()
    }
}
