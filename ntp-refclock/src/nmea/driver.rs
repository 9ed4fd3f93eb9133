//! The NMEA driver on a serial device.

use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{LineAssembler, NmeaCounters, NmeaDecoder, NmeaDecoderOptions};
use crate::RefclockError;
use crate::config::{BaudRate, ClockAddress, RefclockOptions};
use crate::device::serial::SerialPort;
use crate::driver::{Driver, DriverEvent};

/// The NMEA driver: a [`SerialPort`], a [`LineAssembler`] and an
/// [`NmeaDecoder`]. Serviced when its descriptor is readable.
#[derive(Debug)]
pub struct NmeaDriver {
    port: SerialPort,
    lines: LineAssembler,
    decoder: NmeaDecoder,
    buffer: Vec<u8>,
}

impl NmeaDriver {
    /// Open the configured device (`path`, default `/dev/gpsU`) at the
    /// configured speed (`baud`, or mode bits 4-6).
    pub fn open(options: &RefclockOptions) -> Result<Self, RefclockError> {
        Self::open_path(
            &options.device_path(),
            options.serial_baud(),
            options.into(),
        )
    }

    /// Open a device with explicit decoder options.
    pub fn open_path(
        path: &Path,
        baud: BaudRate,
        decoder: NmeaDecoderOptions,
    ) -> Result<Self, RefclockError> {
        let port = SerialPort::open(path, baud)?;
        log::info!(
            "{}: NMEA on {} at {} bit/s",
            decoder.address,
            path.display(),
            baud.bps()
        );
        Ok(Self {
            port,
            lines: LineAssembler::new(Some(baud.char_time())),
            decoder: NmeaDecoder::new(decoder),
            buffer: Vec::new(),
        })
    }

    /// The decoder's counters.
    pub fn counters(&self) -> NmeaCounters {
        self.decoder.counters()
    }

    /// The serial port.
    pub fn port(&self) -> &SerialPort {
        &self.port
    }

    /// Read what is available and decode the complete sentences. `now` is
    /// the local time right after poll(2) reported the descriptor readable.
    pub fn read_available(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Vec<DriverEvent>, RefclockError> {
        self.buffer.clear();
        self.port
            .read_available(&mut self.buffer)
            .map_err(|source| RefclockError::Device {
                operation: "read",
                path: self.port.path().to_owned(),
                source,
            })?;
        let mut events = Vec::new();
        for line in self.lines.push(&self.buffer, now) {
            if let Some(event) = self.decoder.decode_line(&line.bytes, line.start_time) {
                events.push(event);
            }
        }
        Ok(events)
    }
}

impl AsRawFd for NmeaDriver {
    fn as_raw_fd(&self) -> RawFd {
        self.port.as_raw_fd()
    }
}

impl Driver for NmeaDriver {
    fn address(&self) -> ClockAddress {
        self.decoder.options().address
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.port.as_raw_fd())
    }

    fn service_interval(&self) -> Option<Duration> {
        None
    }

    fn service(&mut self, now: DateTime<Utc>) -> Result<Vec<DriverEvent>, RefclockError> {
        self.read_available(now)
    }
}
