//! Refclock status and event codes, as on the reference implementation's
//! decode page ("Clock Status Word").
//!
//! The clock status word has a 4-bit event count (bits 8-11 in the page's
//! MSB-first numbering, bits 4-7 of the value) and the 4-bit code of the
//! current status (bits 12-15, bits 0-3 of the value).
//!
//! ```
//! use ntp_refclock::status::{ClockEvent, ClockStatus};
//!
//! let mut status = ClockStatus::default();
//! assert_eq!(status.report(ClockEvent::BadFormat), true); // changed: a clock_alarm peer event
//! assert_eq!(status.report(ClockEvent::BadFormat), false);
//! assert_eq!(status.word(), 0x22);
//! assert_eq!(status.current().name(), "clk_badformat");
//! ```

use core::fmt;

/// A refclock event or status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum ClockEvent {
    /// 0 `clk_unspe`: nominal.
    #[default]
    Nominal = 0,
    /// 1 `clk_noreply`: no reply to poll.
    NoReply = 1,
    /// 2 `clk_badformat`: bad timecode format.
    BadFormat = 2,
    /// 3 `clk_fault`: hardware or software fault.
    Fault = 3,
    /// 4 `clk_bad_signal`: signal loss.
    BadSignal = 4,
    /// 5 `clk_bad_date`: bad date format.
    BadDate = 5,
    /// 6 `clk_bad_time`: bad time format.
    BadTime = 6,
}

impl ClockEvent {
    /// The code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The code's message, as `ntpq` shows it.
    pub fn name(self) -> &'static str {
        match self {
            ClockEvent::Nominal => "clk_unspe",
            ClockEvent::NoReply => "clk_noreply",
            ClockEvent::BadFormat => "clk_badformat",
            ClockEvent::Fault => "clk_fault",
            ClockEvent::BadSignal => "clk_bad_signal",
            ClockEvent::BadDate => "clk_bad_date",
            ClockEvent::BadTime => "clk_bad_time",
        }
    }

    /// The longer description.
    pub fn description(self) -> &'static str {
        match self {
            ClockEvent::Nominal => "nominal",
            ClockEvent::NoReply => "no reply to poll",
            ClockEvent::BadFormat => "bad timecode format",
            ClockEvent::Fault => "hardware or software fault",
            ClockEvent::BadSignal => "signal loss",
            ClockEvent::BadDate => "bad date format",
            ClockEvent::BadTime => "bad time format",
        }
    }
}

impl fmt::Display for ClockEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A refclock's status: the current code, the last non-nominal event, and
/// the number of events (saturating at 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockStatus {
    current: ClockEvent,
    last_event: ClockEvent,
    count: u8,
}

impl ClockStatus {
    /// Record an event. Returns whether the current status changed, in which
    /// case the daemon reports a `clock_alarm` peer event.
    pub fn report(&mut self, event: ClockEvent) -> bool {
        if event != ClockEvent::Nominal {
            self.last_event = event;
            if self.count < 15 {
                self.count += 1;
            }
        }
        let changed = self.current != event;
        self.current = event;
        changed
    }

    /// The current status code.
    pub fn current(&self) -> ClockEvent {
        self.current
    }

    /// The most recent non-nominal event.
    pub fn last_event(&self) -> ClockEvent {
        self.last_event
    }

    /// The number of events since the count was last reset (at most 15).
    pub fn count(&self) -> u8 {
        self.count
    }

    /// Reset the count, as `ntpq clockvar` does.
    pub fn reset_count(&mut self) {
        self.count = 0;
    }

    /// The 16-bit clock status word: count in bits 4-7, code in bits 0-3.
    pub fn word(&self) -> u16 {
        (u16::from(self.count & 0xf) << 4) | u16::from(self.current.code() & 0xf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_saturates_and_nominal_does_not_count() {
        let mut status = ClockStatus::default();
        assert!(!status.report(ClockEvent::Nominal));
        assert_eq!(status.count(), 0);
        for _ in 0..20 {
            status.report(ClockEvent::NoReply);
        }
        assert_eq!(status.count(), 15);
        assert_eq!(status.word(), 0xf1);
        assert!(status.report(ClockEvent::Nominal));
        assert_eq!(status.last_event(), ClockEvent::NoReply);
        assert_eq!(status.word(), 0xf0);
        status.reset_count();
        assert_eq!(status.word(), 0);
    }

    #[test]
    fn names() {
        let all = [
            ClockEvent::Nominal,
            ClockEvent::NoReply,
            ClockEvent::BadFormat,
            ClockEvent::Fault,
            ClockEvent::BadSignal,
            ClockEvent::BadDate,
            ClockEvent::BadTime,
        ];
        for (code, event) in all.iter().enumerate() {
            assert_eq!(usize::from(event.code()), code);
            assert!(event.name().starts_with("clk_"));
            assert!(!event.description().is_empty());
        }
    }
}
