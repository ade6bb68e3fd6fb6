//! Window geometry: where a sliding window (kernel, stride, zero padding; [`Window`]) over a
//! plane reaches, and the pooling loops built on it, shared by the f64 reference DNN
//! ([`reference`](crate::reference)) and the dense f32 baseline (`tdsnn-baseline`'s im2col
//! and pools), so that both walk a window the same way.
//!
//! Along one axis, output `o` at kernel offset `k` reads input position
//! `o * stride + k - padding`; [`valid_outputs`] gives, for one offset, the range of outputs
//! for which that position is real (not padding), so the loops over (offset, output) never
//! test for padding inside. Cost: the ranges are O(1); the pools touch each real input of
//! each window once.

use std::ops::Range;

use tdsnn_engine::{Shape, Window};

/// Output positions `o < out` along one axis whose input position `o * stride + k - padding`
/// (kernel offset `k`) lies inside `0..input`: the positions where offset `k` is not padding.
/// Shared by every sliding-window loop over (kernel offset, output position): the f64
/// reference's conv and pools, and the dense f32 baseline's im2col.
///
/// # Example
/// ```
/// use tdsnn_converter::window::valid_outputs;
/// use tdsnn_converter::Window;
/// // Kernel 3, stride 2, padding 1 over 5 inputs: 3 outputs; offset 0 is padding for o = 0.
/// assert_eq!(valid_outputs(&Window::square(3, 2, 1), 0, 0, 5, 3), 1..3);
/// ```
pub fn valid_outputs(window: &Window, axis: usize, k: u32, input: u32, out: u32) -> Range<usize> {
    let s = i64::from(window.stride[axis]);
    let shift = i64::from(k) - i64::from(window.padding[axis]);
    // o * s + shift >= 0  <=>  o >= ceil(-shift / s)
    let lo = if shift >= 0 { 0 } else { (-shift + s - 1) / s };
    // o * s + shift <= input - 1  <=>  o <= (input - 1 - shift) / s
    let top = i64::from(input) - 1 - shift;
    let hi = if top < 0 {
        0
    } else {
        (top / s + 1).min(i64::from(out))
    };
    let lo = lo.min(hi);
    lo as usize..hi as usize
}

/// Input position of output `o` at kernel offset `k` along `axis` (only meaningful where
/// [`valid_outputs`] says it is real).
pub fn input_position(window: &Window, axis: usize, o: usize, k: u32) -> usize {
    o * window.stride[axis] as usize + k as usize - window.padding[axis] as usize
}

/// Max-pools one image into `out` (channel-major, `to.len()` values), padding ignored: per
/// output row, the largest value down each input column of the window's real rows, then
/// across each window's real columns. The order of comparisons does not matter to a maximum
/// (except which of `+0` and `-0` a window holding both returns, which no later layer tells
/// apart), so this takes the fast order (whole rows at a time) rather than [`pool_into`]'s
/// kernel order. `lowest` is below every input. Shared by the f64 reference and the dense f32
/// baseline. Panics if `x` or `out` does not hold `from.len()` or `to.len()` values.
///
/// # Example
/// ```
/// use tdsnn_converter::window::max_pool_into;
/// use tdsnn_converter::{Shape, Window};
/// let x = [1.0f32, 4.0, 3.0, 2.0];
/// let mut out = [0.0f32; 1];
/// max_pool_into(&x, Shape::new(1, 2, 2), Shape::new(1, 1, 1), &Window::square(2, 2, 0), f32::MIN, &mut out);
/// assert_eq!(out, [4.0]);
/// ```
pub fn max_pool_into<T: Copy + PartialOrd>(
    x: &[T],
    from: Shape,
    to: Shape,
    window: &Window,
    lowest: T,
    out: &mut [T],
) {
    assert_eq!(x.len() as u64, from.len(), "pool input");
    assert_eq!(out.len() as u64, to.len(), "pool output");
    let (hi, wi) = (from.h as usize, from.w as usize);
    // The real input rows and columns of each output row and column, worked out once.
    let spans = |axis: usize, input: u32, outputs: u32| -> Vec<Range<usize>> {
        (0..outputs)
            .map(|o| {
                let taps = window.taps(axis, o, input);
                let first = input_position(window, axis, o as usize, taps.start);
                first..first + taps.len()
            })
            .collect()
    };
    let (rows, cols) = (spans(0, from.h, to.h), spans(1, from.w, to.w));
    let mut column = vec![lowest; wi];
    let planes = out.chunks_exact_mut((to.h * to.w) as usize);
    for (plane, channel) in planes.zip(x.chunks_exact(hi * wi)) {
        for (outputs, ys) in plane.chunks_exact_mut(to.w as usize).zip(&rows) {
            column.fill(lowest);
            for row in channel[ys.start * wi..ys.end * wi].chunks_exact(wi) {
                column
                    .iter_mut()
                    .zip(row)
                    .for_each(|(c, &v)| *c = max(*c, v));
            }
            for (o, xs) in outputs.iter_mut().zip(&cols) {
                *o = column[xs.clone()].iter().fold(lowest, |m, &v| max(m, v));
            }
        }
    }
}

/// The larger of two values (the first on equality or NaN): the max-pool fold.
pub fn max<T: PartialOrd>(acc: T, v: T) -> T {
    if v > acc {
        v
    } else {
        acc
    }
}

/// Pools one image: sets `out` (channel-major, `to.len()` values) to `init`, then folds each
/// window's real positions into it, channel by channel, in kernel order (padding ignored).
/// Shared by the f64 reference's pools and the dense f32 baseline. Panics if `x` or `out` does
/// not hold `from.len()` or `to.len()` values.
///
/// # Example
/// ```
/// use tdsnn_converter::window::{max, pool_into};
/// use tdsnn_converter::{Shape, Window};
/// let x = [1.0f32, 4.0, 3.0, 2.0];
/// let mut out = [0.0f32; 1];
/// pool_into(&x, Shape::new(1, 2, 2), Shape::new(1, 1, 1), &Window::square(2, 2, 0), f32::MIN, max, &mut out);
/// assert_eq!(out, [4.0]);
/// ```
pub fn pool_into<T: Copy>(
    x: &[T],
    from: Shape,
    to: Shape,
    window: &Window,
    init: T,
    fold: impl Fn(T, T) -> T,
    out: &mut [T],
) {
    assert_eq!(x.len() as u64, from.len(), "pool input");
    assert_eq!(out.len() as u64, to.len(), "pool output");
    let (hi, wi) = (from.h as usize, from.w as usize);
    let (ho, wo) = (to.h as usize, to.w as usize);
    out.fill(init);
    // Only the kernel offsets that reach a real input for some output: from the last
    // output's first real tap to the first output's last (at most the input's extent).
    let span = |axis: usize, input: u32, out: u32| {
        window.taps(axis, out - 1, input).start..window.taps(axis, 0, input).end
    };
    for (c, plane) in out.chunks_exact_mut(ho * wo).enumerate() {
        let channel = &x[c * hi * wi..(c + 1) * hi * wi];
        for ky in span(0, from.h, to.h) {
            let rows = valid_outputs(window, 0, ky, from.h, to.h);
            for kx in span(1, from.w, to.w) {
                let cols = valid_outputs(window, 1, kx, from.w, to.w);
                for oy in rows.clone() {
                    let row = &channel[input_position(window, 0, oy, ky) * wi..][..wi];
                    for ox in cols.clone() {
                        let dst = &mut plane[oy * wo + ox];
                        *dst = fold(*dst, row[input_position(window, 1, ox, kx)]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Row by row or in kernel order, a max pool finds the same maxima.
        #[test]
        fn max_pool_into_matches_kernel_order(
            (c, h, w) in (1u32..=3, 1u32..=9, 1u32..=9),
            (k, s, p) in (1u32..=3, 1u32..=3, 0u32..=1),
            seed in any::<u64>(),
        ) {
            let window = Window::square(k, s, p.min(k / 2));
            let from = Shape::new(c, h, w);
            prop_assume!(k <= h + 2 * window.padding[0] && k <= w + 2 * window.padding[1]);
            let to = Shape::new(
                c,
                (h + 2 * window.padding[0] - k) / s + 1,
                (w + 2 * window.padding[1] - k) / s + 1,
            );
            let x: Vec<f64> = (0..from.len())
                .map(|i| ((i ^ seed) % 97) as f64 - 48.0)
                .collect();
            let (mut rows, mut taps) = (vec![0.0; to.len() as usize], vec![0.0; to.len() as usize]);
            max_pool_into(&x, from, to, &window, f64::NEG_INFINITY, &mut rows);
            pool_into(&x, from, to, &window, f64::NEG_INFINITY, max, &mut taps);
            prop_assert_eq!(rows, taps);
        }
    }

    #[test]
    fn valid_ranges() {
        let w = Window::square(3, 2, 1);
        // input 5, out (5 + 2 - 3) / 2 + 1 = 3; positions o*2 + k - 1.
        assert_eq!(valid_outputs(&w, 0, 0, 5, 3), 1..3); // o=0 -> -1 (pad)
        assert_eq!(valid_outputs(&w, 0, 1, 5, 3), 0..3);
        assert_eq!(valid_outputs(&w, 0, 2, 5, 3), 0..2); // o=2 -> 5 (pad)
        let w = Window::square(1, 1, 3);
        assert_eq!(valid_outputs(&w, 0, 0, 1, 7), 3..4);
    }
}
