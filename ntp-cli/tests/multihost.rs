//! Multi-host cases of `ntpctl run` against itself, in network namespaces
//! the tests create (see `common::netns`): client/server across a bridge,
//! broadcast, manycast, orphan mode, symmetric active/passive, pool.
//! Every daemon runs `--no-adjust`; all traffic stays in the namespaces.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::netns::Lab;

/// An orphan parent at stratum 5 at once: a server with no upstream.
const ORPHAN_SERVER: &str = "tos orphan 5 orphanwait 0\n";

#[test]
fn client_and_server_across_the_bridge() {
    let lab = Lab::new(2);
    let _server = lab.daemon(0, ORPHAN_SERVER);
    let client = lab.daemon(
        1,
        &format!(
            "server {} iburst minpoll 3 maxpoll 3\n",
            lab.hosts[0].address
        ),
    );
    let peer = client.wait_for_system_peer(Duration::from_secs(60));
    assert_eq!(peer["remote"], format!("{}:123", lab.hosts[0].address));
    assert_eq!(peer["mode"], "u");
    assert_eq!(peer["stratum"], 5);
    assert_eq!(client.status()["stratum"], 6);
}
