//! Cutting a serial byte stream into sentence lines, each timestamped with
//! the arrival of its start (`$`).

use chrono::{DateTime, Utc};

use crate::driver::add_seconds;

/// The longest line kept (NMEA allows 82 characters; some receivers send
/// longer proprietary sentences). Longer input is dropped up to the next `$`.
pub const MAX_LINE: usize = 256;

/// One assembled line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The bytes from `$` up to, not including, the CR or LF.
    pub bytes: Vec<u8>,
    /// The estimated local time the `$` started to arrive.
    pub start_time: DateTime<Utc>,
}

/// Assembles lines from chunks of bytes read from a serial line.
///
/// Each chunk comes with the local time it was read. When the line speed is
/// known, the arrival of a `$` inside the chunk is estimated by going back
/// one character time (10 bits at 8N1) for every byte from the `$` to the
/// end of the chunk, on the assumption that the chunk's last byte had just
/// arrived when it was read.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use ntp_refclock::nmea::LineAssembler;
///
/// let mut lines = LineAssembler::new(Some(10.0 / 4800.0));
/// let read = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 1).unwrap();
/// let out = lines.push(b"garbage\r\n$GPZDA,000001.00,01,01,2024,,*6C\r\n", read);
/// assert_eq!(out.len(), 1);
/// assert_eq!(out[0].bytes, b"$GPZDA,000001.00,01,01,2024,,*6C");
/// // 34 bytes from `$` to the end at 4800 bit/s: 70.8 ms earlier
/// let early = read - out[0].start_time;
/// assert_eq!(early.num_microseconds(), Some(70_833));
/// ```
#[derive(Debug, Clone, Default)]
pub struct LineAssembler {
    char_time: Option<f64>,
    buffer: Vec<u8>,
    start_time: Option<DateTime<Utc>>,
    overlong: bool,
}

impl LineAssembler {
    /// An assembler for a line whose characters take `char_time` seconds
    /// each (`None`: take the read time as the arrival time).
    pub fn new(char_time: Option<f64>) -> Self {
        Self {
            char_time,
            ..Self::default()
        }
    }

    /// Feed bytes read at `read_time`; returns the lines completed.
    pub fn push(&mut self, bytes: &[u8], read_time: DateTime<Utc>) -> Vec<Line> {
        let mut lines = Vec::new();
        for (index, &byte) in bytes.iter().enumerate() {
            match byte {
                b'$' => {
                    let behind = (bytes.len() - index) as f64;
                    let start = match self.char_time {
                        Some(char_time) => add_seconds(read_time, -behind * char_time),
                        None => read_time,
                    };
                    self.buffer.clear();
                    self.buffer.push(byte);
                    self.start_time = Some(start);
                    self.overlong = false;
                }
                b'\r' | b'\n' => {
                    if let Some(start_time) = self.start_time.take()
                        && !self.overlong
                    {
                        lines.push(Line {
                            bytes: std::mem::take(&mut self.buffer),
                            start_time,
                        });
                    }
                    self.buffer.clear();
                }
                _ if self.start_time.is_some() && !self.overlong => {
                    if self.buffer.len() >= MAX_LINE {
                        self.overlong = true;
                        self.buffer.clear();
                    } else {
                        self.buffer.push(byte);
                    }
                }
                _ => {}
            }
        }
        lines
    }

    /// Bytes of the line in progress.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::TimeDelta::milliseconds(ms)
    }

    #[test]
    fn lines_span_chunks_and_keep_their_start() {
        let mut a = LineAssembler::new(None);
        assert!(a.push(b"$GPRMC,1", t(0)).is_empty());
        assert_eq!(a.pending(), 8);
        let out = a.push(b"23*00\r\n$GPGGA", t(10));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bytes, b"$GPRMC,123*00");
        assert_eq!(out[0].start_time, t(0));
        let out = a.push(b",1\n", t(20));
        assert_eq!(out[0].start_time, t(10));
        // a new $ restarts a broken line; bare CR/LF produce nothing
        let out = a.push(b"$GPR$GPZ\r\n\r\n", t(30));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bytes, b"$GPZ");
    }

    #[test]
    fn overlong_lines_are_dropped() {
        let mut a = LineAssembler::new(None);
        let mut long = vec![b'$'];
        long.extend(std::iter::repeat_n(b'A', MAX_LINE + 10));
        long.extend(b"\r\n$OK\r\n");
        let out = a.push(&long, t(0));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bytes, b"$OK");
    }

    #[test]
    fn start_time_is_estimated_from_line_speed() {
        // 115200 bit/s: 86.8 us per character
        let mut a = LineAssembler::new(Some(10.0 / 115_200.0));
        let out = a.push(b"xx$AB\r\n", t(1000));
        // `$` is 5 characters before the end of the chunk
        let early = t(1000) - out[0].start_time;
        assert_eq!(early.num_microseconds(), Some(434));
    }
}
