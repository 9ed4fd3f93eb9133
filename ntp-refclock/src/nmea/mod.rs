//! The NMEA 0183 driver (the reference implementation's type 20).
//!
//! The sans-IO parts - [`parse_sentence`], [`decode_time`], the stateful
//! [`NmeaDecoder`] and the [`LineAssembler`] - work on bytes and times
//! passed in; [`NmeaDriver`] puts them on a serial device.
//!
//! Timestamps mark the arrival of the sentence's first character (`$`),
//! estimated from the read time, the number of bytes that followed it and
//! the line speed. `fudge time2` is therefore the delay from the second
//! boundary to the *start* of the sentence; the reference implementation
//! timestamps the end of the line, so a `time2` carried over from it is too
//! large by the sentence's transmission time (about 0.15 s for a 70-byte
//! sentence at 4800 bit/s).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use ntp_refclock::driver::DriverEvent;
//! use ntp_refclock::nmea::{NmeaDecoder, NmeaDecoderOptions};
//!
//! let mut decoder = NmeaDecoder::new(NmeaDecoderOptions::default());
//! let arrival = Utc.with_ymd_and_hms(2019, 4, 6, 23, 57, 24).unwrap();
//! let line = b"$GPRMC,235724.02,A,4808.9978,N,01135.0800,E,000.0,000.0,060419,003.0,E,A*3E";
//! let Some(DriverEvent::Sample(sample)) = decoder.decode_line(line, arrival) else { panic!() };
//! assert_eq!(sample.reference_time.to_rfc3339(), "2019-04-06T23:57:24.020+00:00");
//! assert!((sample.offset() - 0.020).abs() < 1e-9);
//! ```

mod assembler;
mod decoder;
mod driver;
mod sentence;

pub use assembler::{Line, LineAssembler, MAX_LINE};
pub use decoder::{
    DEFAULT_BASEDATE, GPS_EPOCH, NmeaCounters, NmeaDecoder, NmeaDecoderOptions, ROLLOVER_DAYS,
    ZDA_ONLY_AFTER, gps_week, repair_rollover,
};
pub use driver::NmeaDriver;
pub use sentence::{
    Checksum, Sentence, SentenceKind, TimeFix, checksum, decode_time, fix_status, parse_rmc_date,
    parse_sentence, parse_time,
};
