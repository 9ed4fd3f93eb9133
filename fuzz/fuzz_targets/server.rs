//! Fuzz the whole request handler of the peer process: any bytes from any
//! address to an endpoint that serves time and has a client association;
//! it never panics, and no reply is larger than the request.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ntp_assoc::{Access, AssocConfig, Auth, Endpoint, EndpointConfig, SystemVars};
use ntp_poll::Uptime;
use ntp_wire::packet::LeapIndicator;
use ntp_wire::time::NtpTimestamp;

fuzz_target!(|data: &[u8]| {
    let mut endpoint = Endpoint::new(
        EndpointConfig {
            manycast_server: true,
            broadcast_client: true,
            ..EndpointConfig::default()
        },
        Auth::disabled(),
    );
    let server = "192.0.2.1:123".parse().unwrap();
    let _ = endpoint.mobilise(AssocConfig::client(server), Uptime::ZERO);
    endpoint.set_system(SystemVars {
        leap: LeapIndicator::NoWarning,
        stratum: 2,
        ..SystemVars::default()
    });
    let now = NtpTimestamp::from_seconds_and_fraction(3_900_000_000, 0);
    endpoint.handle_timeout(endpoint.poll_timeout(), now);
    while endpoint.poll_transmit().is_some() {}
    // The first byte chooses the source: the server, or a stranger.
    let (source, bytes) = match data.split_first() {
        Some((0, rest)) => (server, rest),
        Some((_, rest)) => ("198.51.100.7:123".parse().unwrap(), rest),
        None => (server, data),
    };
    let destination = "192.0.2.9:123".parse().unwrap();
    endpoint.handle(Uptime::from_secs(5), now, source, destination, bytes, Access::ALLOW);
    while let Some(transmit) = endpoint.poll_transmit() {
        assert!(transmit.packet.as_bytes().len() <= bytes.len().max(48));
    }
    while endpoint.poll_event().is_some() {}
});
