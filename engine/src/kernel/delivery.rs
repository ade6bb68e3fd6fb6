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
///
/// A conv layer keeps its potentials channels-last, one *group* of `out_channels` slots per
/// output position: every channel at a position sees the same input spikes at the same
/// times, so the group shares one last-event time, one leak check, and a spike adds one
/// contiguous weight run to one contiguous run of potentials. Every other layer has groups
/// of one, in neuron order. Each neuron still gets exactly the operations of the plain
/// scheme (`v *= exp(-dt/L)` at a new event time, then `v += w`), so spike times are the
/// same bit for bit.
#[derive(Debug, Default)]
pub(crate) struct Potentials {
    /// Potentials in slot order.
    pub(crate) v: Vec<f64>,
    /// Time of each group's last event ([`EMPTY`] before the first).
    last: Vec<u32>,
    /// Slots per group.
    group: usize,
    /// Positions per channel (conv layers), to map channel-major neuron indices to slots.
    plane: usize,
}

impl Potentials {
    /// `n` neurons at rest, in groups of `group` (a conv's channels; else 1) over `plane`
    /// positions per channel.
    pub(crate) fn reset(&mut self, n: usize, group: usize, plane: usize) {
        self.v.clear();
        self.v.resize(n, 0.0);
        self.last.clear();
        self.last.resize(n / group, EMPTY);
        (self.group, self.plane) = (group, plane);
    }

    /// The slot of channel-major neuron `j`.
    #[inline]
    pub(crate) fn slot(&self, j: usize) -> usize {
        if self.group == 1 {
            j
        } else {
            (j % self.plane) * self.group + j / self.plane
        }
    }

    /// Number of groups.
    pub(crate) fn groups(&self) -> usize {
        self.last.len()
    }

    /// Brings group `p` to time `t` with the lazy leak; returns the multiplications done.
    #[inline]
    pub(crate) fn advance(&mut self, p: usize, t: u32, leak: &LeakTable) -> u64 {
        let last = self.last[p];
        if last == t {
            return 0;
        }
        self.last[p] = t;
        if last == EMPTY {
            return 0;
        }
        debug_assert!(
            last < t,
            "group {p}: event at t = {t} before its last at {last}"
        );
        let factor = leak.factor(t - last);
        let g = self.group;
        self.v[p * g..(p + 1) * g]
            .iter_mut()
            .for_each(|v| *v *= factor);
        g as u64
    }

    /// Delivers weight `w` to neuron (slot) `j` of a layer of groups of one, at time `t`;
    /// returns the multiplications done.
    #[inline]
    fn add(&mut self, j: usize, w: f32, t: u32, leak: &LeakTable) -> u64 {
        let m = self.advance(j, t, leak);
        self.v[j] += f64::from(w);
        m
    }

    /// Delivers the weight run `w` to the group at position `p` at time `t`; returns the
    /// multiplications done.
    #[inline]
    fn add_run(&mut self, p: usize, w: &[f32], t: u32, leak: &LeakTable) -> u64 {
        let m = self.advance(p, t, leak);
        let g = self.group;
        for (v, &w) in self.v[p * g..(p + 1) * g].iter_mut().zip(w) {
            *v += f64::from(w);
        }
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
    let mut mults = 0;
    for &(oy, ky) in &rows {
        for &(ox, kx) in &cols {
            let base = ((ci as usize * kh + ky as usize) * kw + kx as usize) * cout;
            let pos = (oy * out.w + ox) as usize;
            mults += pot.add_run(pos, &c.weights[base..base + cout], t, leak);
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
    for j in 0..out.len() as usize {
        let slot = pot.slot(j);
        mults += pot.advance(slot / pot.group, t, leak);
        pot.v[slot] += f64::from(bias[j / plane]);
    }
    count(ops, out.len(), mults);
}
