//! The `tos` knobs of the system process (ntpd's `tos` command).

use ntp_wire::time::NtpDuration;

pub use ntp_wire::constants::{MAXSTRAT, PHI};

/// How far the system offset may be from the seconds-numbering source for a
/// PPS peer to count (the `pps` page of the 4.2.8 documentation: +/-0.5 s).
pub const PPS_MAX_OFFSET: f64 = 0.5;

/// The settings of the `tos` command that shape selection, clustering and
/// orphan mode.
///
/// Defaults are those of ntpd 4.2.8 (`select.md`, `miscopt.md`, the orphan
/// page): where the pages disagree on `floor`/`ceiling` (`miscopt` says 1 and
/// 16, `select` says 0 and 15), the values of the `select` page are used,
/// which are also the reference code's: a stratum-0 reference clock is never
/// below the floor and a stratum-15 server, which could not synchronise
/// anyone, is at the ceiling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TosSettings {
    /// `tos ceiling`: candidates at this stratum or above are discarded
    /// (while at least `minclock` others remain). Default 15.
    pub ceiling: u8,
    /// `tos floor`: candidates below this stratum are discarded (while at
    /// least `minclock` others remain). Default 0.
    pub floor: u8,
    /// `tos cohort`: whether a server at our own stratum is answered/accepted
    /// by the manycast discovery scheme. Carried for the peer process; the
    /// selection does not use it. Default `false`.
    pub cohort: bool,
    /// `tos minclock`: clustering stops at this many survivors. Default 3.
    pub minclock: usize,
    /// `tos maxclock`: survivors beyond this many are kept as backups (tally
    /// `#`), and outlyers pruned while more than this many remain are excess
    /// (tally `.`, to be demobilised if preemptable). Default 10.
    pub maxclock: usize,
    /// `tos minsane`: fewer survivors than this leave the clock undisciplined.
    /// Default 1.
    pub minsane: usize,
    /// `tos mindist`: the minimum root distance (padding of the correctness
    /// intervals), the anti-clockhop threshold, and the floor of the root
    /// dispersion increment. Default 1 ms.
    pub mindist: NtpDuration,
    /// `tos maxdist`: the distance threshold of the fitness test. Default
    /// 1.5 s.
    pub maxdist: NtpDuration,
    /// `tos orphan`: the orphan stratum; 16 disables orphan mode. Used by
    /// `ntp-orphan`. Default 16.
    pub orphan: u8,
    /// `tos orphanwait`: the hold-off before orphan mode is entered. Used by
    /// `ntp-orphan`. Default 300 s.
    pub orphanwait: NtpDuration,
    /// `tos beacon`: the manycast server beacon interval once `maxclock`
    /// servers are found. Carried for the poll process. Default 3600 s.
    pub beacon: NtpDuration,
}

impl Default for TosSettings {
    fn default() -> Self {
        Self {
            ceiling: 15,
            floor: 0,
            cohort: false,
            minclock: 3,
            maxclock: 10,
            minsane: 1,
            mindist: NtpDuration::from_nanos(1_000_000),
            maxdist: NtpDuration::from_nanos(1_500_000_000),
            orphan: MAXSTRAT,
            orphanwait: NtpDuration::from_seconds(300),
            beacon: NtpDuration::from_seconds(3600),
        }
    }
}

/// A `tos` setting that the system process cannot work with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TosError {
    /// `minclock` must be at least 1.
    #[error("tos minclock must be at least 1")]
    MinclockZero,
    /// `maxclock` must not be below `minclock`.
    #[error("tos maxclock ({maxclock}) is below minclock ({minclock})")]
    MaxclockBelowMinclock {
        /// The configured `maxclock`.
        maxclock: usize,
        /// The configured `minclock`.
        minclock: usize,
    },
    /// `floor` must be below `ceiling`, and `ceiling` at most 16.
    #[error("tos floor {floor} and ceiling {ceiling} leave no usable stratum")]
    StratumRange {
        /// The configured `floor`.
        floor: u8,
        /// The configured `ceiling`.
        ceiling: u8,
    },
    /// The orphan stratum must be 1..=16.
    #[error("tos orphan {0} is not a stratum from 1 to 16")]
    OrphanStratum(u8),
    /// A distance or interval knob is negative, or `maxdist` is not positive.
    #[error("tos {0} is out of range")]
    Interval(&'static str),
}

impl TosSettings {
    /// Checks the settings for values the algorithms cannot work with.
    ///
    /// ```
    /// use ntp_select::{TosError, TosSettings};
    ///
    /// assert_eq!(TosSettings::default().validate(), Ok(()));
    /// let odd = TosSettings { minclock: 0, ..TosSettings::default() };
    /// assert_eq!(odd.validate(), Err(TosError::MinclockZero));
    /// ```
    pub fn validate(&self) -> Result<(), TosError> {
        if self.minclock == 0 {
            return Err(TosError::MinclockZero);
        }
        if self.maxclock < self.minclock {
            return Err(TosError::MaxclockBelowMinclock {
                maxclock: self.maxclock,
                minclock: self.minclock,
            });
        }
        if self.floor >= self.ceiling || self.ceiling > MAXSTRAT {
            return Err(TosError::StratumRange {
                floor: self.floor,
                ceiling: self.ceiling,
            });
        }
        if self.orphan == 0 || self.orphan > MAXSTRAT {
            return Err(TosError::OrphanStratum(self.orphan));
        }
        if self.mindist.is_negative() {
            return Err(TosError::Interval("mindist"));
        }
        if self.maxdist <= NtpDuration::ZERO {
            return Err(TosError::Interval("maxdist"));
        }
        if self.orphanwait.is_negative() {
            return Err(TosError::Interval("orphanwait"));
        }
        if self.beacon.is_negative() {
            return Err(TosError::Interval("beacon"));
        }
        Ok(())
    }

    /// `mindist` in seconds, never negative.
    pub(crate) fn mindist_s(&self) -> f64 {
        self.mindist.to_seconds_f64().max(0.0)
    }

    /// `maxdist` in seconds.
    pub(crate) fn maxdist_s(&self) -> f64 {
        self.maxdist.to_seconds_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let base = TosSettings::default();
        assert_eq!(base.validate(), Ok(()));
        let cases = [
            (
                TosSettings {
                    maxclock: 2,
                    ..base
                },
                TosError::MaxclockBelowMinclock {
                    maxclock: 2,
                    minclock: 3,
                },
            ),
            (
                TosSettings {
                    floor: 5,
                    ceiling: 5,
                    ..base
                },
                TosError::StratumRange {
                    floor: 5,
                    ceiling: 5,
                },
            ),
            (
                TosSettings { orphan: 0, ..base },
                TosError::OrphanStratum(0),
            ),
            (
                TosSettings {
                    maxdist: NtpDuration::ZERO,
                    ..base
                },
                TosError::Interval("maxdist"),
            ),
            (
                TosSettings {
                    mindist: NtpDuration::from_seconds(-1),
                    ..base
                },
                TosError::Interval("mindist"),
            ),
        ];
        for (tos, error) in cases {
            assert_eq!(tos.validate(), Err(error));
        }
        assert_eq!(
            TosError::OrphanStratum(0).to_string(),
            "tos orphan 0 is not a stratum from 1 to 16"
        );
    }
}
