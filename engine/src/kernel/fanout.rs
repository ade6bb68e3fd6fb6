//! Which neurons one spike reaches: the geometry of conv and pool windows, and the
//! average-pool delivery both paths of the engine share (channel-major potentials).

use smallvec::SmallVec;

use crate::graph::{Shape, Window};

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

/// A spike of input `src` into an average-pool layer: the same weight on every synapse.
#[inline(always)]
pub(crate) fn avg_pool(
    window: &Window,
    weight: f32,
    inp: Shape,
    out: Shape,
    src: u32,
    excess: f64,
    u: &mut [f64],
) -> u64 {
    let (c, y, x) = coords(inp, src);
    let (rows, cols) = reach(window, y, x, out);
    for &(oy, _) in &rows {
        for &(ox, _) in &cols {
            u[out.index(c, oy, ox)] += f64::from(weight) * excess;
        }
    }
    (rows.len() * cols.len()) as u64
}
