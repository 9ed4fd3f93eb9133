//! Tally codes (the `select` field of the peer status word) and reasons for
//! rejection.

use core::fmt;

/// The selection status of a candidate, shown as one character in front of
/// each line of `ntpq -p` / `ntpctl peers` (ntpq and decode pages of the
/// 4.2.8 documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tally {
    /// `' '` (sel_reject): not valid (fitness tests, excluded, unused
    /// fallback).
    Reject,
    /// `x` (sel_falsetick): discarded by the intersection algorithm.
    Falseticker,
    /// `.` (sel_excess): clustered out while more than `maxclock` candidates
    /// remained; a preemptable association may be demobilised.
    Excess,
    /// `-` (sel_outlier): discarded by the cluster algorithm (or a PPS
    /// truechimer that did not become the PPS peer).
    Outlyer,
    /// `+` (sel_candidate): included by the combine algorithm.
    Candidate,
    /// `#` (sel_backup): a survivor beyond `maxclock`, kept as a backup.
    Backup,
    /// `*` (sel_sys.peer): the system peer.
    SystemPeer,
    /// `o` (sel_pps.peer): the PPS peer.
    PpsPeer,
}

impl Tally {
    /// The one-character code.
    pub const fn code(self) -> char {
        match self {
            Self::Reject => ' ',
            Self::Falseticker => 'x',
            Self::Excess => '.',
            Self::Outlyer => '-',
            Self::Candidate => '+',
            Self::Backup => '#',
            Self::SystemPeer => '*',
            Self::PpsPeer => 'o',
        }
    }

    /// The three-bit value of the `select` field of the peer status word.
    pub const fn select_field(self) -> u8 {
        match self {
            Self::Reject => 0,
            Self::Falseticker => 1,
            Self::Excess => 2,
            Self::Outlyer => 3,
            Self::Candidate => 4,
            Self::Backup => 5,
            Self::SystemPeer => 6,
            Self::PpsPeer => 7,
        }
    }

    /// Whether the candidate survived selection and clustering (`+ # * o`).
    pub const fn is_survivor(self) -> bool {
        matches!(
            self,
            Self::Candidate | Self::Backup | Self::SystemPeer | Self::PpsPeer
        )
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// Why a candidate was not selectable (RFC 5905 `fit()`, ntpd's TEST10 to
/// TEST13 and the caller's policy). The first failing test is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reject {
    /// Never synchronised: leap indicator 3 or stratum 16 (TEST10).
    Unsynchronized,
    /// Stratum below `tos floor` or at/above `tos ceiling`, with at least
    /// `minclock` other candidates left (TEST10).
    Stratum,
    /// Root distance at or above `maxdist + PHI * 2^poll` (TEST11).
    Distance,
    /// The source is synchronised to this host (TEST12).
    Loop,
    /// The reachability register is zero (TEST13).
    Unreachable,
    /// Configured `noselect` (TEST13).
    NoSelect,
    /// Excluded by the caller ([`Role::Excluded`](crate::Role::Excluded)).
    Excluded,
    /// A fallback that was not needed (or not the first fallback).
    FallbackUnused,
}

impl Reject {
    /// A short name for tables.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unsynchronized => "unsync",
            Self::Stratum => "stratum",
            Self::Distance => "distance",
            Self::Loop => "loop",
            Self::Unreachable => "unreach",
            Self::NoSelect => "noselect",
            Self::Excluded => "excluded",
            Self::FallbackUnused => "fallback",
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_ntpq_billboard() {
        let all = [
            Tally::Reject,
            Tally::Falseticker,
            Tally::Excess,
            Tally::Outlyer,
            Tally::Candidate,
            Tally::Backup,
            Tally::SystemPeer,
            Tally::PpsPeer,
        ];
        let codes: String = all.iter().map(|t| t.code()).collect();
        assert_eq!(codes, " x.-+#*o");
        for (i, t) in all.iter().enumerate() {
            assert_eq!(usize::from(t.select_field()), i);
        }
        let survivors: Vec<bool> = all.iter().map(|t| t.is_survivor()).collect();
        assert_eq!(
            survivors,
            [false, false, false, false, true, true, true, true]
        );
    }
}
