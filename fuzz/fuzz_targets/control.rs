//! Fuzz the control-socket request parser (what a local client sends).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ntp_cli::control::Request;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<Request>(data);
});
