//! `clock_combine()` (RFC 5905 A.5.5.5): the survivors' offsets averaged
//! with weights `1/lambda`.

use super::{Member, Run};

impl<K: Copy> Run<'_, K> {
    /// The combined offset of the `active` survivors and the system jitter:
    /// the weighted RMS of their offsets' differences from the system
    /// peer `pick`'s, augmented by its selection jitter. Records each
    /// survivor's normalised weight.
    pub(super) fn clock_combine(&mut self, active: &[Member], pick: Member) -> (f64, f64) {
        let (mut y, mut z, mut w) = (0.0, 0.0, 0.0);
        for m in active {
            let x = 1.0 / m.distance;
            y += x;
            z += x * m.offset;
            w += x * (m.offset - pick.offset).powi(2);
        }
        let sys_offset = z / y;
        let sys_jitter = (w / y + pick.select_jitter.powi(2)).sqrt();
        for m in active {
            self.weight[m.index] = Some((1.0 / m.distance) / y);
        }
        (sys_offset, sys_jitter)
    }
}
