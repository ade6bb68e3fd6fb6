//! Which neurons one spike reaches: the geometry of conv and pool windows, the conv weight
//! runs a spike delivers (both paths, each into its own potential layout), and the
//! average-pool delivery both paths share (channel-major potentials).

use smallvec::SmallVec;

use crate::graph::{Conv2d, Shape, Window};

type Reach = SmallVec<[(u32, u32); 8]>;

/// Output rows and columns (with kernel offsets) that input position (y, x) reaches.
#[inline]
pub(crate) fn reach(window: &Window, y: u32, x: u32, out: Shape) -> (Reach, Reach) {
    (
        window.reach(0, y, out.h).collect(),
        window.reach(1, x, out.w).collect(),
    )
}

/// The synapses of a spike of input `src` (channel-major in `inp`) into a conv layer with
/// output `out`: `deliver(pos, run)` for each output position `pos = oy * out.w + ox` it
/// reaches, in ascending kernel offsets, with `run` the `c_out` weights of that tap
/// (`[c_in][kh][kw][c_out]`). Returns the synapses.
#[inline(always)]
pub(crate) fn conv_taps(
    c: &Conv2d,
    inp: Shape,
    out: Shape,
    src: u32,
    mut deliver: impl FnMut(usize, &[f32]),
) -> u64 {
    let (ci, y, x) = inp.coords(src);
    let (rows, cols) = reach(&c.window, y, x, out);
    let [kh, kw] = c.window.kernel.map(|k| k as usize);
    let cout = c.out_channels as usize;
    for &(oy, ky) in &rows {
        for &(ox, kx) in &cols {
            let base = ((ci as usize * kh + ky as usize) * kw + kx as usize) * cout;
            deliver((oy * out.w + ox) as usize, &c.weights[base..base + cout]);
        }
    }
    (rows.len() * cols.len() * cout) as u64
}

/// Calls `deliver` with every target (channel-major index) of a spike of input `src` into an
/// average-pool layer, whose synapses all carry the same weight.
#[inline(always)]
pub(crate) fn avg_pool(
    window: &Window,
    inp: Shape,
    out: Shape,
    src: u32,
    mut deliver: impl FnMut(usize),
) {
    let (c, y, x) = inp.coords(src);
    let (rows, cols) = reach(window, y, x, out);
    for &(oy, _) in &rows {
        for &(ox, _) in &cols {
            deliver(out.index(c, oy, ox));
        }
    }
}
