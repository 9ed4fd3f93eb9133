//! Fuzz the `ntp.conf` parser: any text gives a configuration or an error
//! naming a line, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(err) = ntp_cli::config::Config::parse_str(text, "fuzz.conf") {
            assert!(err.line <= text.lines().count());
        }
    }
});
