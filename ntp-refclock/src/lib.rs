//! NTP reference clocks.
//!
//! This crate will own the driver interface, the sample median filter, the
//! fudge parameters, and the drivers: NMEA 0183 on a serial line, PPS
//! (RFC 2783, `/dev/ppsN`), gpsd's shared memory (SHM) and the local clock.
//!
//! The implementation arrives with the reference-clock issue; today the crate
//! holds only this description.
