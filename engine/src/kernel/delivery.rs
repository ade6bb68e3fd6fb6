//! Synaptic delivery: one pre-synaptic spike into the potentials of its targets.
//!
//! Cost per spike: one leak check and one addition per synapse. Dense weights are `[in][out]`
//! and conv weights `[c_in][kh][kw][c_out]`, so every spike reads contiguous weight runs; conv
//! connectivity is found from the geometry (at most `kh * kw` target positions per spike).

use smallvec::SmallVec;

use super::leak::LeakTable;
use crate::counters::LayerOps;
use crate::graph::{Conv2d, Dense, Shape, Window};

/// A neuron that has received no event yet in this frame (its potential is still 0).
pub(crate) const EMPTY: u32 = u32::MAX;

/// Membrane potentials of one layer, with the time of each neuron's last event.
#[derive(Debug, Default)]
pub(crate) struct Potentials {
    pub(crate) v: Vec<f64>,
    pub(crate) last: Vec<u32>,
}

impl Potentials {
    pub(crate) fn reset(&mut self, n: usize) {
        self.v.clear();
        self.v.resize(n, 0.0);
        self.last.clear();
        self.last.resize(n, EMPTY);
    }

    /// Brings neuron `j` to time `t` with the lazy leak; returns the multiplications done.
    #[inline]
    pub(crate) fn advance(&mut self, j: usize, t: u32, leak: &LeakTable) -> u64 {
        let last = self.last[j];
        if last == t {
            return 0;
        }
        self.last[j] = t;
        if last == EMPTY {
            return 0;
        }
        debug_assert!(
            last < t,
            "neuron {j}: event at t = {t} before its last at {last}"
        );
        self.v[j] *= leak.factor(t - last);
        1
    }

    /// Delivers weight `w` to neuron `j` at time `t`; returns the multiplications done.
    #[inline]
    fn add(&mut self, j: usize, w: f32, t: u32, leak: &LeakTable) -> u64 {
        let m = self.advance(j, t, leak);
        self.v[j] += f64::from(w);
        m
    }
}

fn count(ops: &mut LayerOps, synapses: u64, mults: u64) {
    ops.paper.synaptic_adds += synapses;
    ops.engine.synaptic_adds += synapses;
    ops.engine.leak_mults += mults;
}

/// (C, H, W) coordinates of channel-major index `i`.
#[inline]
pub(crate) fn coords(shape: Shape, i: u32) -> (u32, u32, u32) {
    let plane = shape.h * shape.w;
    (i / plane, (i % plane) / shape.w, i % shape.w)
}

type Reach = SmallVec<[(u32, u32); 8]>;

/// Output rows and columns (with kernel offsets) that input position (y, x) reaches.
#[inline]
pub(crate) fn reach(window: &Window, y: u32, x: u32, out: Shape) -> (Reach, Reach) {
    (
        window.reach(0, y, out.h).collect(),
        window.reach(1, x, out.w).collect(),
    )
}

/// A spike of input `src` into a dense layer.
pub(crate) fn dense(
    d: &Dense,
    src: u32,
    t: u32,
    pot: &mut Potentials,
    leak: &LeakTable,
    ops: &mut LayerOps,
) {
    let n = d.outputs as usize;
    let row = &d.weights[src as usize * n..(src as usize + 1) * n];
    let mut mults = 0;
    for (j, &w) in row.iter().enumerate() {
        mults += pot.add(j, w, t, leak);
    }
    count(ops, n as u64, mults);
}

/// A spike of input `src` (channel-major in `inp`) into a conv layer with output `out`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv(
    c: &Conv2d,
    inp: Shape,
    out: Shape,
    src: u32,
    t: u32,
    pot: &mut Potentials,
    leak: &LeakTable,
    ops: &mut LayerOps,
) {
    let (ci, y, x) = coords(inp, src);
    let (rows, cols) = reach(&c.window, y, x, out);
    let [kh, kw] = c.window.kernel.map(|k| k as usize);
    let cout = c.out_channels as usize;
    let plane = (out.h * out.w) as usize;
    let mut mults = 0;
    for &(oy, ky) in &rows {
        for &(ox, kx) in &cols {
            let base = ((ci as usize * kh + ky as usize) * kw + kx as usize) * cout;
            let pos = (oy * out.w + ox) as usize;
            for (co, &w) in c.weights[base..base + cout].iter().enumerate() {
                mults += pot.add(co * plane + pos, w, t, leak);
            }
        }
    }
    count(ops, (rows.len() * cols.len() * cout) as u64, mults);
}

/// A spike of input `src` into an average-pool layer: the same weight on every synapse.
#[allow(clippy::too_many_arguments)]
pub(crate) fn avg_pool(
    window: &Window,
    weight: f32,
    inp: Shape,
    out: Shape,
    src: u32,
    t: u32,
    pot: &mut Potentials,
    leak: &LeakTable,
    ops: &mut LayerOps,
) {
    let (c, y, x) = coords(inp, src);
    let (rows, cols) = reach(window, y, x, out);
    let mut mults = 0;
    for &(oy, _) in &rows {
        for &(ox, _) in &cols {
            mults += pot.add(out.index(c, oy, ox), weight, t, leak);
        }
    }
    count(ops, (rows.len() * cols.len()) as u64, mults);
}

/// The bias neuron's spike: `bias[channel]` onto every neuron of each channel (a dense
/// layer's channels are its neurons).
pub(crate) fn bias(
    bias: &[f32],
    out: Shape,
    t: u32,
    pot: &mut Potentials,
    leak: &LeakTable,
    ops: &mut LayerOps,
) {
    let plane = (out.h * out.w) as usize;
    let mut mults = 0;
    for (c, &w) in bias.iter().enumerate() {
        for j in c * plane..(c + 1) * plane {
            mults += pot.add(j, w, t, leak);
        }
    }
    count(ops, out.len(), mults);
}
