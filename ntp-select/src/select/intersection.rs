//! The intersection algorithm (RFC 5905 A.5.5.1, the first half of
//! `clock_select()`: Marzullo's algorithm as ntpd 4.2.8 has it) and the
//! truechimers it leaves.

use super::{Intersection, Member, Run};
use crate::tally::Tally;

impl<K: Copy> Run<'_, K> {
    /// Step 2: the intersection interval of the sources' correctness
    /// intervals `offset +/- lambda`, allowing from 0 falsetickers up while
    /// fewer than half of them; `None` when no majority clique exists.
    pub(super) fn intersection(&self, sources: &[usize]) -> Option<Intersection> {
        let m = sources.len();
        let mut endpoints: Vec<(f64, i8)> = Vec::with_capacity(2 * m);
        for &i in sources {
            endpoints.push((self.offsets[i] - self.distances[i], -1));
            endpoints.push((self.offsets[i] + self.distances[i], 1));
        }
        endpoints.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut allow = 0;
        while 2 * allow < m {
            let need = (m - allow) as i64;
            let mut low = f64::INFINITY;
            let mut chime = 0i64;
            for &(edge, kind) in &endpoints {
                low = edge;
                chime -= i64::from(kind);
                if chime >= need {
                    break;
                }
            }
            let mut high = f64::NEG_INFINITY;
            chime = 0;
            for &(edge, kind) in endpoints.iter().rev() {
                high = edge;
                chime += i64::from(kind);
                if chime >= need {
                    break;
                }
            }
            if high > low {
                return Some(Intersection {
                    low,
                    high,
                    allowed_falsetickers: allow,
                });
            }
            allow += 1;
        }
        None
    }

    /// The sources whose interval overlaps the intersection, or marked
    /// `true`, are truechimers, the others falsetickers; PPS truechimers
    /// stay out of the cluster population (returned second, tallied
    /// outlyers for now).
    pub(super) fn truechimers(
        &mut self,
        sources: &[usize],
        intersection: Option<Intersection>,
    ) -> (Vec<Member>, Vec<usize>) {
        let mut population = Vec::new();
        let mut pps_candidates = Vec::new();
        for &i in sources {
            let c = &self.candidates[i];
            let chimes =
                intersection.is_some_and(|x| x.overlaps(self.offsets[i], self.distances[i]));
            if !chimes && !c.flags.truechimer {
                self.tally[i] = Tally::Falseticker;
                continue;
            }
            if c.flags.pps {
                self.tally[i] = Tally::Outlyer;
                pps_candidates.push(i);
                continue;
            }
            population.push(self.member(i));
        }
        (population, pps_candidates)
    }
}
