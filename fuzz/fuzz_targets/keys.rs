//! Fuzz the keys-file parser (strict and lenient).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ntp_wire::keys::KeyStore;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let strict = KeyStore::parse(text);
        let report = KeyStore::parse_report(text);
        assert_eq!(strict.is_err(), !report.errors.is_empty());
    }
});
