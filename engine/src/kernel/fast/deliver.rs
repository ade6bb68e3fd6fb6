//! Delivery of one layer's inhibitory period: every spike later than the frame origin adds
//! `W_ji * expm1(tau / L)` to the frame-origin potentials of its targets.
//!
//! A spike reads contiguous weight runs: dense rows `[in][out]` onto all outputs, conv runs
//! `[c_in][kh][kw][c_out]` onto the channels-last group of one output position. The loops are
//! plain slices zipped, which the compiler vectorises; the caller runs them under
//! [`pulp::Arch::dispatch`], so they are compiled for the best SIMD level the CPU has. Each
//! potential gets exactly the operations of the event-by-event path, in the same order.

use strength_reduce::StrengthReducedU32;

use super::super::fanout;
use super::super::leak::add_spike;
use crate::graph::{Conv2d, Dense, Shape};

/// `u += w * excess`, element by element ([`add_spike`]).
#[inline(always)]
fn axpy<W: Copy + Into<f64>>(u: &mut [f64], w: &[W], excess: f64) {
    for (u, &w) in u.iter_mut().zip(w) {
        *u = add_spike(*u, w, excess);
    }
}

/// One time step's spikes `sources` (ascending) into a dense layer: every output gets the
/// step's weight rows added in source order, a register block of outputs at a time, so
/// each potential is loaded and stored once per step; returns the synapses used.
#[inline(always)]
pub(crate) fn dense<const WIDE: usize>(
    d: &Dense,
    sources: &[u32],
    excess: f64,
    u: &mut [f64],
    rows: &mut Vec<usize>,
) -> u64 {
    if sources.is_empty() {
        return 0;
    }
    let n = d.outputs as usize;
    rows.clear();
    rows.extend(sources.iter().map(|&i| i as usize * n));
    accumulate_runs::<WIDE>(u, &d.weights, rows, excess);
    (n * sources.len()) as u64
}

/// A spike of input `src` (channel-major in `inp`) into a conv layer whose potentials are
/// channels-last (`u[pos * c_out + co]`), one contiguous run per kernel tap: the path for
/// column strides above 1, where [`conv_rows`] does not apply.
#[inline(always)]
pub(crate) fn conv(
    c: &Conv2d,
    inp: Shape,
    out: Shape,
    src: u32,
    excess: f64,
    u: &mut [f64],
) -> u64 {
    let cout = c.out_channels as usize;
    fanout::conv_taps(c, inp, out, src, |pos, run| {
        axpy(&mut u[pos * cout..(pos + 1) * cout], run, excess);
    })
}

/// f64 lanes of one AVX-512 vector (two AVX2 ones).
pub(super) const LANES: usize = 8;

/// Potentials [`accumulate_runs`] holds in registers at once: 32 (eight AVX2 vectors of f64;
/// AVX2 has 16 registers) ...
pub(super) const WIDE: usize = 4 * LANES;
/// ... and 64 where the CPU has AVX-512 (eight of its 32 registers).
pub(super) const WIDE_AVX512: usize = 8 * LANES;

/// `targets[l] += w[row + l] * excess` for each weight row start in `rows`, in order: wide
/// register blocks of `WIDE` ([`WIDE`] or [`WIDE_AVX512`]), then one block of each smaller
/// power of two the rest needs.
#[inline(always)]
fn accumulate_runs<const WIDE: usize>(
    targets: &mut [f64],
    weights: &[f32],
    rows: &[usize],
    excess: f64,
) {
    let run = targets.len();
    if let [row] = rows {
        axpy(targets, &weights[*row..*row + run], excess);
        return;
    }
    let mut done = run - run % WIDE;
    accumulate::<WIDE>(&mut targets[..done], weights, rows, 0, excess);
    // The rest, fewer than WIDE lanes, in at most one block of each smaller power of two.
    done += tail::<32>(&mut targets[done..], weights, rows, done, excess);
    done += tail::<16>(&mut targets[done..], weights, rows, done, excess);
    done += tail::<8>(&mut targets[done..], weights, rows, done, excess);
    done += tail::<4>(&mut targets[done..], weights, rows, done, excess);
    done += tail::<2>(&mut targets[done..], weights, rows, done, excess);
    tail::<1>(&mut targets[done..], weights, rows, done, excess);
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
/// a conv layer of column stride 1, with `flipped` its weights with the kernel columns
/// reversed (`tables.rs`). Along each kernel row the position reaches consecutive output
/// columns, whose channels-last potentials are one contiguous run, as are the matching
/// weights of every channel. Each potential is loaded once, gets the group's products added
/// in channel order, and is stored once: the same additions, in the same order, as one spike
/// at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the layer, its weights and shapes, the group, the scratch
pub(crate) fn conv_rows<const WIDE: usize>(
    c: &Conv2d,
    flipped: &[f32],
    geometry: &Positions,
    out: Shape,
    group: &[u32],
    excess: f64,
    u: &mut [f64],
    rows: &mut Vec<usize>,
) -> u64 {
    let (y, x) = geometry.row_col(group[0]);
    let [kh, kw] = c.window.kernel.map(i64::from);
    let cout = c.out_channels as usize;
    let (stride, [pad_y, pad_x]) = (
        i64::from(c.window.stride[0]),
        c.window.padding.map(i64::from),
    );
    // Output column of reversed offset m: ox0 + m, with ox0 = x + pad - (kw - 1).
    let ox0 = i64::from(x) + pad_x - (kw - 1);
    let (m0, m1) = ((-ox0).max(0), (i64::from(out.w) - ox0).min(kw));
    if m0 >= m1 {
        return 0;
    }
    let run = (m1 - m0) as usize * cout;
    let mut synapses = 0;
    // Each channel's weight run for the current kernel row, starting at row 0; row ky + 1
    // lies `kw * cout` further on.
    rows.clear();
    rows.extend(
        group
            .iter()
            .map(|&i| ((i64::from(geometry.channel(i)) * kh * kw + m0) as usize) * cout),
    );
    let next_row = kw as usize * cout;
    for ky in 0..kh {
        let shifted = i64::from(y) + pad_y - ky;
        // Output row `shifted / stride`, if it divides; a stride of 1 needs no division.
        let oy = match stride {
            1 => Some(shifted),
            _ => (shifted % stride == 0).then(|| shifted.div_euclid(stride)),
        };
        if let Some(oy) = oy.filter(|oy| (0..i64::from(out.h)).contains(oy)) {
            let at = ((oy * i64::from(out.w) + ox0 + m0) as usize) * cout;
            accumulate_runs::<WIDE>(&mut u[at..at + run], flipped, rows, excess);
            synapses += (run * group.len()) as u64;
        }
        rows.iter_mut().for_each(|r| *r += next_row);
    }
    synapses
}

/// The bias neuron's spike onto every neuron: `bias[co]` onto channel `co`, in the layer's
/// slot layout (`channels_last` for conv layers).
#[inline(always)]
pub(crate) fn bias(
    bias: &[f64],
    out: Shape,
    channels_last: bool,
    excess: f64,
    u: &mut [f64],
) -> u64 {
    if channels_last {
        for group in u.chunks_exact_mut(bias.len()) {
            axpy(group, bias, excess);
        }
    } else {
        let plane = (out.h * out.w) as usize;
        for (run, &b) in u.chunks_exact_mut(plane).zip(bias) {
            run.iter_mut().for_each(|u| *u = add_spike(*u, b, excess));
        }
    }
    out.len()
}

/// One step's spikes `sources` through an identity group of weight `weight`: source neuron
/// `i` (channel-major) onto the layer's neuron `i`, in slot order (channels-last for a conv).
pub(crate) fn identity(
    weight: f32,
    out: Shape,
    channels_last: bool,
    sources: &[u32],
    excess: f64,
    u: &mut [f64],
) -> u64 {
    let plane = out.h * out.w;
    for &i in sources {
        let slot = if channels_last {
            (i % plane) * out.c + i / plane
        } else {
            i
        } as usize;
        u[slot] = add_spike(u[slot], weight, excess);
    }
    sources.len() as u64
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::graph::{Layer, Window};
    use crate::kernel::tables::row_runs;

    /// A conv layer, its input and output shapes, and one time step's spiking inputs
    /// (channel-major indices, in channels-last order as the time buckets give them).
    fn step() -> impl Strategy<Value = (Conv2d, Shape, Shape, Vec<u32>)> {
        (
            1u32..=3,
            1u32..=11,
            3u32..=8,
            3u32..=8,
            1u32..=3,
            1u32..=3,
            1u32..=2,
        )
            .prop_flat_map(|(cin, cout, h, w, kh, kw, sy)| {
                let inp = Shape::new(cin, h, w);
                let n_w = (cin * kh * kw * cout) as usize;
                (
                    Just((cout, inp, kh, kw, sy)),
                    0u32..=1,
                    0u32..=1,
                    proptest::collection::vec(-1.0f32..1.0, n_w),
                    proptest::collection::vec(any::<bool>(), inp.len() as usize),
                )
            })
            .prop_filter_map("window fits", |((cout, inp, kh, kw, sy), py, px, w, on)| {
                let window = Window {
                    kernel: [kh, kw],
                    stride: [sy, 1],
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
            })
    }

    proptest! {
        /// Spike by spike along kernel taps, and by kernel rows with each position's channels
        /// accumulated in registers: the same potentials, bit for bit.
        #[test]
        fn conv_row_runs_match_tap_runs((layer, inp, out, sources) in step(), excess in 0.01f64..3.0) {
            let n = out.len() as usize;
            let start: Vec<f64> = (0..n).map(|j| (j as f64).sin()).collect();
            let (mut by_tap, mut by_rows) = (start.clone(), start);
            let mut synapses = 0;
            for &i in &sources {
                synapses += conv(&layer, inp, out, i, excess, &mut by_tap);
            }
            let flipped = row_runs(&Layer::Conv2d(layer.clone())).expect("column stride 1");
            let plane = inp.h * inp.w;
            let mut row_synapses = 0;
            let geometry = Positions::of(inp);
            for group in sources.chunk_by(|a, b| a % plane == b % plane) {
                row_synapses += conv_rows::<WIDE>(&layer, &flipped, &geometry, out, group, excess, &mut by_rows, &mut Vec::new());
            }
            prop_assert_eq!(synapses, row_synapses);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&by_tap), bits(&by_rows));
        }
    }
}
