//! Fuzz the packet parser: the checked view, the trailer walk, the owned
//! representation (which must re-emit the same bytes), and mode 6 control
//! messages.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ntp_wire::control::ControlMessage;
use ntp_wire::packet::{Packet, PacketView};

fuzz_target!(|data: &[u8]| {
    if let Ok(view) = PacketView::new_checked(data) {
        let _ = view.header();
        let _ = view.trailer();
    }
    if let Ok(packet) = Packet::parse(data) {
        let mut out = vec![0u8; data.len()];
        let len = packet.emit(&mut out).unwrap_or(0);
        assert_eq!(&out[..len], data);
    }
    if let Ok(message) = ControlMessage::parse(data) {
        let _ = message.peer_statuses().count();
    }
});
