//! Fuzz the NMEA sentence parser and the decoder (line by line).

#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use ntp_refclock::nmea::{NmeaDecoder, NmeaDecoderOptions, parse_sentence};

fuzz_target!(|data: &[u8]| {
    let mut decoder = NmeaDecoder::new(NmeaDecoderOptions {
        accept_no_checksum: data.first().is_some_and(|b| b & 1 == 1),
        ..NmeaDecoderOptions::default()
    });
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    for line in data.split(|&b| b == b'\n') {
        let _ = parse_sentence(line, true);
        let _ = decoder.decode_line(line, now);
    }
});
