//! Closed-form firing: each neuron's step from the exact threshold table (`ticking.rs`),
//! counted level by level over a block of neurons at once, vectorised.

use super::super::ticking::TickSchedule;
use super::deliver::LANES;

/// The closed-form firing of a released layer, run under [`pulp::Arch::dispatch`], in blocks
/// of neurons small enough to stay in the L1 cache: the block's potentials are scaled in place
/// to `V(R) = U e^{-T_il/L}`, the threshold table is extended down to the block's lowest, and
/// each neuron's step is the number of thresholds above it, counted level by level over the
/// block (levels at or below its lowest add nothing). Returns the latest step and the sum of
/// all steps.
pub(super) struct Firing<'a> {
    /// Frame-origin potentials, scaled in place to the potentials at the release.
    pub(super) v: &'a mut [f64],
    /// `e^{-T_il/L}`.
    pub(super) scale: f64,
    pub(super) schedule: &'a mut TickSchedule,
    /// Each neuron's firing step (after the release), out.
    pub(super) steps: &'a mut [u32],
}

impl pulp::WithSimd for Firing<'_> {
    type Output = (u32, u64);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> (u32, u64) {
        const BLOCK: usize = 512;
        let Firing {
            v,
            scale,
            schedule,
            steps,
        } = self;
        for (steps, v) in steps.chunks_mut(BLOCK).zip(v.chunks_mut(BLOCK)) {
            let lowest = scale_to_release(v, scale);
            schedule.cover(lowest);
            let levels = schedule.covered_step(lowest) as usize;
            steps.fill(0);
            for &m in &schedule.bounds()[..levels] {
                for (s, &v) in steps.iter_mut().zip(&*v) {
                    *s += u32::from(m > v);
                }
            }
        }
        let latest = steps.iter().fold(0, |l, &s| l.max(s));
        let total = steps.iter().map(|&s| u64::from(s)).sum();
        (latest, total)
    }
}

/// Scales potentials `v` by `scale` in place; returns the lowest, with one running minimum per
/// vector lane (no serial chain).
#[inline(always)]
fn scale_to_release(v: &mut [f64], scale: f64) -> f64 {
    let mut lowest = [f64::INFINITY; LANES];
    let mut chunks = v.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        for (l, v) in lowest.iter_mut().zip(chunk) {
            *v *= scale;
            *l = if *v < *l { *v } else { *l };
        }
    }
    for v in chunks.into_remainder() {
        *v *= scale;
        lowest[0] = if *v < lowest[0] { *v } else { lowest[0] };
    }
    lowest.into_iter().fold(f64::INFINITY, f64::min)
}
