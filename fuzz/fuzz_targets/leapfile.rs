//! Fuzz the IERS leap-seconds.list parser, with and without the hash check.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ntp_discipline::leap::{HashCheck, LeapFile};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = LeapFile::parse(text, HashCheck::Check);
        let _ = LeapFile::parse(text, HashCheck::Ignore);
    }
});
