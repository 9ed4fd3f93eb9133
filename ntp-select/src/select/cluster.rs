//! The fallback, the clustering algorithm (RFC 5905 A.5.5.2, the second
//! half of `clock_select()`) and the survivors' ranking.

use super::{Member, Run};
use crate::tally::{Reject, Tally};
use crate::tos::TosSettings;

impl<K: Copy> Run<'_, K> {
    /// Step 3: if no truechimer remains, the first fit fallback (lowest
    /// rank, then input order) becomes the only survivor; the other
    /// fallbacks go unused.
    pub(super) fn fallback(
        &mut self,
        population: &mut Vec<Member>,
        mut fallbacks: Vec<(u8, usize)>,
        mindist: f64,
    ) {
        fallbacks.sort_by_key(|&(rank, i)| (rank, i));
        for (n, &(_, i)) in fallbacks.iter().enumerate() {
            if n == 0 && population.is_empty() {
                population.push(Member {
                    index: i,
                    offset: self.offsets[i],
                    distance: mindist,
                    jitter: 0.0,
                    select_jitter: 0.0,
                });
            } else {
                self.reject[i] = Some(Reject::FallbackUnused);
            }
        }
    }

    /// Step 4, clustering: while more than `max(1, minclock)` remain, the
    /// member with the largest selection jitter weighted by root distance
    /// is cast out (an excess one above `maxclock`, else an outlyer),
    /// unless its selection jitter is not above the smallest peer jitter
    /// or it is `true` or `prefer`. Leaves every member's selection jitter
    /// as of the last round.
    pub(super) fn cluster(&mut self, population: &mut Vec<Member>, tos: &TosSettings) {
        loop {
            let n = population.len();
            let (worst, min_jitter) = select_jitters(population);
            if n <= tos.minclock.max(1) {
                break;
            }
            let flags = self.candidates[population[worst].index].flags;
            if population[worst].select_jitter <= min_jitter || flags.truechimer || flags.prefer {
                break;
            }
            self.tally[population[worst].index] = if n > tos.maxclock {
                Tally::Excess
            } else {
                Tally::Outlyer
            };
            population.remove(worst);
        }
    }

    /// Step 5: survivors ranked by ntpd 4.2.8's hybrid metric, selection
    /// jitter times root distance plus `stratum * mindist` (ties: smaller
    /// root distance, then input order); those ranked `maxclock` or later
    /// (other than `prefer`/`true`) are backups.
    pub(super) fn rank(&mut self, population: &mut [Member], tos: &TosSettings, mindist: f64) {
        let candidates = self.candidates;
        let metric = |m: &Member| {
            m.select_jitter * m.distance + f64::from(candidates[m.index].stratum) * mindist
        };
        population.sort_by(|a, b| {
            metric(a)
                .total_cmp(&metric(b))
                .then(a.distance.total_cmp(&b.distance))
                .then(a.index.cmp(&b.index))
        });
        for (rank, member) in population.iter().enumerate() {
            let flags = candidates[member.index].flags;
            self.tally[member.index] = if rank >= tos.maxclock && !flags.prefer && !flags.truechimer
            {
                Tally::Backup
            } else {
                Tally::Candidate
            };
            self.select_jitter[member.index] = Some(member.select_jitter);
        }
    }
}

/// One clustering round: every member's selection jitter (the RMS of its
/// offset's differences from the others'); returns the member with the
/// largest selection jitter times root distance, and the smallest peer
/// jitter.
fn select_jitters(population: &mut [Member]) -> (usize, f64) {
    let n = population.len();
    let mut min_jitter = f64::INFINITY;
    let mut worst = 0;
    let mut worst_metric = f64::NEG_INFINITY;
    // sum_j (x_j - x_k)^2 = S2 - 2 x_k S1 + n x_k^2 over offsets
    // centred on their mean: O(n) per round instead of O(n^2).
    let mean = population.iter().map(|m| m.offset).sum::<f64>() / n.max(1) as f64;
    let s1: f64 = population.iter().map(|m| m.offset - mean).sum();
    let s2: f64 = population.iter().map(|m| (m.offset - mean).powi(2)).sum();
    for (k, member) in population.iter_mut().enumerate() {
        min_jitter = min_jitter.min(member.jitter);
        let sj = if n > 1 {
            let x = member.offset - mean;
            let sum = s2 - 2.0 * x * s1 + n as f64 * x * x;
            (sum.max(0.0) / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        member.select_jitter = sj;
        if sj * member.distance > worst_metric {
            worst_metric = sj * member.distance;
            worst = k;
        }
    }
    (worst, min_jitter)
}
