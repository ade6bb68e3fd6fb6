//! Delivery of one layer's inhibitory period: every spike later than the frame origin adds
//! `W_ji * expm1(tau / L)` to the frame-origin potentials of its targets.
//!
//! A spike reads contiguous weight runs: dense rows `[in][out]` onto all outputs, conv runs
//! along a kernel row onto the channels-last potentials of consecutive output columns
//! (`tables.rs` lays the weights out for that). Each thread adds into its own share of the
//! potentials only (`share.rs`). The loops are
//! plain slices zipped, which the compiler vectorises; the caller runs them under
//! [`pulp::Arch::dispatch`], so they are compiled for the best SIMD level the CPU has. Each
//! potential gets exactly the operations of the event-by-event path, in the same order.

use strength_reduce::StrengthReducedU32;

use super::super::fanout;
use super::super::leak::add_spike;
use super::share::Share;
use crate::graph::{AvgPool, Conv2d, Dense, Shape};

/// `u += w * excess`, element by element ([`add_spike`]).
#[inline(always)]
fn axpy<W: Copy + Into<f64>>(u: &mut [f64], w: &[W], excess: f64) {
    for (u, &w) in u.iter_mut().zip(w) {
        *u = add_spike(*u, w, excess);
    }
}

/// One time step's spikes `sources` (ascending) into a dense layer's outputs in `share`:
/// every output gets the step's weight rows added in source order, a register block of
/// outputs at a time, so each potential is loaded and stored once per step; returns the
/// synapses used.
#[inline(always)]
pub(crate) fn dense<const WIDE: usize>(
    d: &Dense,
    sources: &[u32],
    excess: f64,
    share: &mut Share<'_>,
    rows: &mut Vec<usize>,
) -> u64 {
    if sources.is_empty() {
        return 0;
    }
    let (n, lo) = (d.outputs as usize, share.lo());
    rows.clear();
    rows.extend(sources.iter().map(|&i| i as usize * n));
    let targets = share.all();
    accumulate_runs::<WIDE>(targets, &d.weights, rows, lo, excess);
    (targets.len() * sources.len()) as u64
}

/// A spike of input `src` into an average-pool layer (channel-major potentials): the
/// layer's one weight onto each target in `share`; returns the synapses used.
#[inline(always)]
pub(crate) fn avg_pool(
    p: &AvgPool,
    inp: Shape,
    out: Shape,
    src: u32,
    excess: f64,
    share: &mut Share<'_>,
) -> u64 {
    let mut synapses = 0;
    fanout::avg_pool(&p.window, inp, out, src, |at| {
        if let Some(u) = share.slot(at) {
            *u = add_spike(*u, p.weight, excess);
            synapses += 1;
        }
    });
    synapses
}

/// f64 lanes of one AVX-512 vector (two AVX2 ones).
pub(super) const LANES: usize = 8;

/// Potentials [`accumulate_runs`] holds in registers at once: 32 (eight AVX2 vectors of f64;
/// AVX2 has 16 registers) ...
pub(super) const WIDE: usize = 4 * LANES;
/// ... and 64 where the CPU has AVX-512 (eight of its 32 registers).
pub(super) const WIDE_AVX512: usize = 8 * LANES;

/// `targets[l] += w[row + offset + l] * excess` for each weight row start in `rows`, in
/// order: wide register blocks of `WIDE` ([`WIDE`] or [`WIDE_AVX512`]), then one block of
/// each smaller power of two the rest needs.
#[inline(always)]
fn accumulate_runs<const WIDE: usize>(
    targets: &mut [f64],
    weights: &[f32],
    rows: &[usize],
    offset: usize,
    excess: f64,
) {
    let run = targets.len();
    if let [row] = rows {
        let start = row + offset;
        axpy(targets, &weights[start..start + run], excess);
        return;
    }
    let mut done = run - run % WIDE;
    accumulate::<WIDE>(&mut targets[..done], weights, rows, offset, excess);
    // The rest, fewer than WIDE lanes, in at most one block of each smaller power of two.
    done += tail::<32>(&mut targets[done..], weights, rows, offset + done, excess);
    done += tail::<16>(&mut targets[done..], weights, rows, offset + done, excess);
    done += tail::<8>(&mut targets[done..], weights, rows, offset + done, excess);
    done += tail::<4>(&mut targets[done..], weights, rows, offset + done, excess);
    done += tail::<2>(&mut targets[done..], weights, rows, offset + done, excess);
    tail::<1>(&mut targets[done..], weights, rows, offset + done, excess);
}

/// [`accumulate`] on the first `N` of `targets`, if there are that many; returns how many
/// were done (`N` or 0).
#[inline(always)]
fn tail<const N: usize>(
    targets: &mut [f64],
    weights: &[f32],
    rows: &[usize],
    offset: usize,
    excess: f64,
) -> usize {
    if targets.len() < N {
        return 0;
    }
    accumulate::<N>(&mut targets[..N], weights, rows, offset, excess);
    N
}

/// `targets[l] += w[row + offset + l] * excess` for each weight row start in `rows`, in order,
/// `N` potentials at a time held in registers.
#[inline(always)]
fn accumulate<const N: usize>(
    targets: &mut [f64],
    weights: &[f32],
    rows: &[usize],
    offset: usize,
    excess: f64,
) {
    for (l, chunk) in targets.chunks_exact_mut(N).enumerate() {
        let mut acc: [f64; N] = chunk.try_into().expect("a chunk of N");
        let start = offset + l * N;
        for &row in rows {
            let w: &[f32; N] = weights[row + start..row + start + N]
                .try_into()
                .expect("N weights");
            for (a, &w) in acc.iter_mut().zip(w) {
                *a = add_spike(*a, w, excess);
            }
        }
        chunk.copy_from_slice(&acc);
    }
}

/// Channel, row and column of channel-major neurons of one shape, by multiplications and shifts
/// instead of divisions (the divisors are fixed per layer).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Positions {
    plane: StrengthReducedU32,
    width: StrengthReducedU32,
}

impl Positions {
    pub(crate) fn of(shape: Shape) -> Positions {
        Positions {
            plane: StrengthReducedU32::new((shape.h * shape.w).max(1)),
            width: StrengthReducedU32::new(shape.w.max(1)),
        }
    }

    /// Neuron `i`'s position in its channel's plane (row-major).
    #[inline(always)]
    pub(crate) fn position(&self, i: u32) -> u32 {
        i % self.plane
    }

    /// Neuron `i`'s channel.
    #[inline(always)]
    pub(crate) fn channel(&self, i: u32) -> u32 {
        i / self.plane
    }

    /// Neuron `i`'s row and column.
    #[inline(always)]
    pub(crate) fn row_col(&self, i: u32) -> (u32, u32) {
        StrengthReducedU32::div_rem(self.position(i), self.width)
    }
}

/// The spikes `group` (neurons at one input position, ascending channels, one time step) into
/// the potentials in `share` of a conv layer, with `runs` its weights laid out for row runs
/// (`tables.rs`). Along each kernel row the position reaches consecutive output columns
/// (those of the kernel columns congruent to it modulo the column stride), whose
/// channels-last potentials are one contiguous run, as are the matching weights of every
/// channel. Each potential is loaded once, gets the group's products added in channel order,
/// and is stored once: the same additions, in the same order, as one spike at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the layer, its weights and shapes, the group, the scratch
pub(crate) fn conv_rows<const WIDE: usize>(
    c: &Conv2d,
    runs: &[f32],
    geometry: &Positions,
    out: Shape,
    group: &[u32],
    excess: f64,
    share: &mut Share<'_>,
    rows: &mut Vec<usize>,
) -> u64 {
    let (y, x) = geometry.row_col(group[0]);
    let [kh, kw] = c.window.kernel.map(i64::from);
    let [stride_y, stride_x] = c.window.stride.map(i64::from);
    let [pad_y, pad_x] = c.window.padding.map(i64::from);
    let cout = c.out_channels as usize;
    // Kernel column kx reaches output column (x + pad_x - kx) / stride_x where that divides:
    // the columns of residue r = (x + pad_x) mod stride_x, which the layout keeps together,
    // descending, after those of every smaller residue (`tables::row_runs`).
    let shifted = i64::from(x) + pad_x;
    // (A stride of 1, the common case, needs no division.)
    let (first_tap, count, ox0) = match stride_x {
        1 => (0, kw, shifted - kw + 1),
        _ => {
            let residue = shifted % stride_x;
            let count = taps(kw, stride_x, residue);
            let first_tap: i64 = (0..residue).map(|r| taps(kw, stride_x, r)).sum();
            (first_tap, count, (shifted - residue) / stride_x - count + 1)
        }
    };
    // Output column of the residue's m-th tap in the layout: ox0 + m.
    let (m0, m1) = ((-ox0).max(0), (i64::from(out.w) - ox0).min(count));
    if m0 >= m1 {
        return 0;
    }
    let run = (m1 - m0) as usize * cout;
    let mut synapses = 0;
    // Each channel's weight run for the current kernel row, starting at row 0; row ky + 1
    // lies `kw * cout` further on.
    rows.clear();
    rows.extend(
        group.iter().map(|&i| {
            ((i64::from(geometry.channel(i)) * kh * kw + first_tap + m0) as usize) * cout
        }),
    );
    let next_row = kw as usize * cout;
    for ky in 0..kh {
        let shifted = i64::from(y) + pad_y - ky;
        // Output row `shifted / stride_y`, if it divides; a stride of 1 needs no division.
        let oy = match stride_y {
            1 => Some(shifted),
            _ => (shifted % stride_y == 0).then(|| shifted.div_euclid(stride_y)),
        };
        if let Some(oy) = oy.filter(|oy| (0..i64::from(out.h)).contains(oy)) {
            let at = ((oy * i64::from(out.w) + ox0 + m0) as usize) * cout;
            if let Some((targets, skipped)) = share.run(at, run) {
                accumulate_runs::<WIDE>(targets, runs, rows, skipped, excess);
                synapses += (targets.len() * group.len()) as u64;
            }
        }
        rows.iter_mut().for_each(|r| *r += next_row);
    }
    synapses
}

/// Kernel columns `kx < kw` with `kx = residue (mod stride)`.
#[inline(always)]
fn taps(kw: i64, stride: i64, residue: i64) -> i64 {
    ((kw - residue + stride - 1) / stride).max(0)
}

/// The bias neuron's spike onto every neuron in `share`: `bias[co]` onto channel `co`, in
/// the layer's slot layout (`channels_last` for conv layers, whose shares hold whole output
/// rows; shares of other layers hold whole channels).
#[inline(always)]
pub(crate) fn bias(
    bias: &[f64],
    out: Shape,
    channels_last: bool,
    excess: f64,
    share: &mut Share<'_>,
) -> u64 {
    let lo = share.lo();
    let u = share.all();
    if channels_last {
        for group in u.chunks_exact_mut(bias.len()) {
            axpy(group, bias, excess);
        }
    } else {
        let plane = (out.h * out.w) as usize;
        for (run, &b) in u.chunks_mut(plane).zip(&bias[lo / plane..]) {
            run.iter_mut().for_each(|u| *u = add_spike(*u, b, excess));
        }
    }
    u.len() as u64
}

/// One step's spikes `sources` through an identity group of weight `weight`: source neuron
/// `i` (channel-major) onto the layer's neuron `i` if `share` holds it, in slot order
/// (channels-last for a conv).
pub(crate) fn identity(
    weight: f32,
    out: Shape,
    channels_last: bool,
    sources: &[u32],
    excess: f64,
    share: &mut Share<'_>,
) -> u64 {
    let plane = out.h * out.w;
    let mut synapses = 0;
    for &i in sources {
        let slot = if channels_last {
            (i % plane) * out.c + i / plane
        } else {
            i
        } as usize;
        if let Some(u) = share.slot(slot) {
            *u = add_spike(*u, weight, excess);
            synapses += 1;
        }
    }
    synapses
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::share::{ranges, split};
    use super::*;
    use crate::graph::Window;
    use crate::kernel::tables::row_runs;

    /// A conv layer, its input and output shapes, and one time step's spiking inputs
    /// (channel-major indices, in channels-last order as the time buckets give them).
    fn step() -> impl Strategy<Value = (Conv2d, Shape, Shape, Vec<u32>)> {
        (
            1u32..=3,
            1u32..=11,
            3u32..=9,
            3u32..=9,
            1u32..=4,
            1u32..=4,
            1u32..=3,
            1u32..=3,
        )
            .prop_flat_map(|(cin, cout, h, w, kh, kw, sy, sx)| {
                let inp = Shape::new(cin, h, w);
                let n_w = (cin * kh * kw * cout) as usize;
                (
                    Just((cout, inp, kh, kw, sy, sx)),
                    0u32..=2,
                    0u32..=2,
                    proptest::collection::vec(-1.0f32..1.0, n_w),
                    proptest::collection::vec(any::<bool>(), inp.len() as usize),
                )
            })
            .prop_filter_map(
                "window fits",
                |((cout, inp, kh, kw, sy, sx), py, px, w, on)| {
                    let window = Window {
                        kernel: [kh, kw],
                        stride: [sy, sx],
                        padding: [py.min(kh / 2), px.min(kw / 2)],
                    };
                    let out = window.output_shape(inp, cout, false).ok()?;
                    let plane = inp.h * inp.w;
                    let sources = (0..plane)
                        .flat_map(|pos| (0..inp.c).map(move |c| c * plane + pos))
                        .filter(|&i| on[i as usize])
                        .collect();
                    let layer = Conv2d {
                        out_channels: cout,
                        window,
                        weights: w.into(),
                        bias: None,
                    };
                    Some((layer, inp, out, sources))
                },
            )
    }

    proptest! {
        /// Spike by spike along kernel taps on one thread, and by kernel rows with each
        /// position's channels accumulated in registers, on up to four shares of whole output
        /// positions: the same potentials and synapse counts, bit for bit, for any strides.
        #[test]
        fn conv_row_runs_match_tap_runs(
            (layer, inp, out, sources) in step(),
            excess in 0.01f64..3.0,
            threads in 1usize..=4,
        ) {
            let n = out.len() as usize;
            let cout = layer.out_channels as usize;
            let start: Vec<f64> = (0..n).map(|j| (j as f64).sin()).collect();
            let (mut by_tap, mut by_rows) = (start.clone(), start);
            let mut synapses = 0;
            for &i in &sources {
                synapses += fanout::conv_taps(&layer, inp, out, i, |pos, run| {
                    axpy(&mut by_tap[pos * cout..(pos + 1) * cout], run, excess);
                });
            }
            let runs = row_runs(&layer);
            let plane = inp.h * inp.w;
            let geometry = Positions::of(inp);
            let cuts = ranges(n, cout, threads);
            let mut row_synapses = 0;
            for (part, range) in split(&mut by_rows, &cuts).into_iter().zip(&cuts) {
                let mut share = Share::new(part, range.start);
                for group in sources.chunk_by(|a, b| a % plane == b % plane) {
                    row_synapses += conv_rows::<WIDE>(
                        &layer, &runs, &geometry, out, group, excess, &mut share, &mut Vec::new(),
                    );
                }
            }
            prop_assert_eq!(synapses, row_synapses);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&by_tap), bits(&by_rows));
        }
    }
}
