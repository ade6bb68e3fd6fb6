//! Sliding-window geometry shared by conv2d, average-pool and max-pool layers.
//!
//! Output size per axis: `(in + 2 * padding - kernel) / stride + 1`. Connectivity stays
//! implicit: a pre-synaptic position `y` reaches output rows `oy` with
//! `oy * stride - padding + ky = y` for some kernel row `ky`; nothing is expanded.

use std::ops::Range;

/// A tensor shape in channel-major order (C, H, W).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Channels.
    pub c: u32,
    /// Height.
    pub h: u32,
    /// Width.
    pub w: u32,
}

impl Shape {
    /// A (C, H, W) shape.
    pub const fn new(c: u32, h: u32, w: u32) -> Self {
        Shape { c, h, w }
    }

    /// A flat vector of `n` values, as (n, 1, 1).
    pub const fn flat(n: u32) -> Self {
        Shape { c: n, h: 1, w: 1 }
    }

    /// Number of values, `C * H * W`, saturating at `u64::MAX` (three `u32` factors can
    /// exceed a `u64`; any such shape is far beyond what a graph accepts).
    pub fn len(&self) -> u64 {
        let n = u128::from(self.c) * u128::from(self.h) * u128::from(self.w);
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// Whether the shape holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channel-major flat index of (c, y, x).
    pub fn index(&self, c: u32, y: u32, x: u32) -> usize {
        ((c as usize * self.h as usize) + y as usize) * self.w as usize + x as usize
    }

    /// The (c, y, x) of channel-major flat index `i`: the inverse of [`Shape::index`].
    ///
    /// # Example
    /// ```
    /// let s = tdsnn_engine::Shape::new(2, 3, 4);
    /// assert_eq!(s.coords(s.index(1, 2, 3) as u32), (1, 2, 3));
    /// ```
    pub fn coords(&self, i: u32) -> (u32, u32, u32) {
        let plane = self.h * self.w;
        (i / plane, (i % plane) / self.w, i % self.w)
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

/// Kernel, stride and zero padding of a sliding window, as (rows, columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// Kernel size (kh, kw), each >= 1.
    pub kernel: [u32; 2],
    /// Stride (sh, sw), each >= 1.
    pub stride: [u32; 2],
    /// Zero padding on each side (ph, pw).
    pub padding: [u32; 2],
}

impl Window {
    /// A square window: `k x k` kernel, stride `s`, padding `p`.
    pub const fn square(k: u32, s: u32, p: u32) -> Self {
        Window {
            kernel: [k, k],
            stride: [s, s],
            padding: [p, p],
        }
    }

    /// The output shape of this window sliding over `input`, with `channels` output
    /// channels. A pool window (`pool`) may pad at most half its kernel (PyTorch's rule, which
    /// guarantees every window covers a real input). `Err` says what does not fit.
    ///
    /// # Example
    /// ```
    /// use tdsnn_engine::{Shape, Window};
    /// let conv = Window::square(5, 1, 0);
    /// assert_eq!(conv.output_shape(Shape::new(1, 28, 28), 20, false), Ok(Shape::new(20, 24, 24)));
    /// assert!(Window::square(2, 2, 2).output_shape(Shape::new(1, 8, 8), 1, true).is_err());
    /// ```
    pub fn output_shape(&self, input: Shape, channels: u32, pool: bool) -> Result<Shape, String> {
        if self.kernel.contains(&0) || self.stride.contains(&0) {
            return Err(format!(
                "kernel {:?} and stride {:?} must be >= 1",
                self.kernel, self.stride
            ));
        }
        if pool && (0..2).any(|a| self.padding[a] > self.kernel[a] / 2) {
            return Err(format!(
                "padding {:?} exceeds half the kernel {:?}",
                self.padding, self.kernel
            ));
        }
        match (self.out_extent(0, input.h), self.out_extent(1, input.w)) {
            (Some(h), Some(w)) => Ok(Shape::new(channels, h, w)),
            _ => Err(format!(
                "kernel {:?} with padding {:?} does not fit input {input}",
                self.kernel, self.padding
            )),
        }
    }

    /// Output extent along `axis` (0 rows, 1 columns) for an input extent, or `None` if the
    /// window does not fit.
    pub fn out_extent(&self, axis: usize, input: u32) -> Option<u32> {
        let padded = u64::from(input) + 2 * u64::from(self.padding[axis]);
        let k = u64::from(self.kernel[axis]);
        let s = u64::from(self.stride[axis]);
        if k == 0 || s == 0 || padded < k {
            return None;
        }
        u32::try_from((padded - k) / s + 1).ok()
    }

    /// Output positions along `axis` that input position `pos` reaches, each with its kernel
    /// offset: pairs `(out, k)` with `out * stride - padding + k = pos`, `out < out_extent`,
    /// in ascending `k`. Costs one step per pair, not per kernel offset.
    pub fn reach(
        &self,
        axis: usize,
        pos: u32,
        out_extent: u32,
    ) -> impl Iterator<Item = (u32, u32)> {
        let stride = u64::from(self.stride[axis]);
        let shifted = u64::from(pos) + u64::from(self.padding[axis]);
        // k = shifted - out * stride, with 0 <= out < out_extent and 0 <= k < kernel.
        let lowest = shifted.saturating_sub(stride * u64::from(out_extent.max(1) - 1));
        let first = lowest + (shifted - lowest) % stride;
        let last = shifted.min(u64::from(self.kernel[axis]).saturating_sub(1));
        let count = if out_extent == 0 || first > last {
            0
        } else {
            (last - first) / stride + 1
        };
        // `out <= out_extent` and `k < kernel`, both u32, so the casts are lossless.
        (0..count).map(move |i| {
            let k = first + i * stride;
            (((shifted - k) / stride) as u32, k as u32)
        })
    }

    /// The kernel offsets along `axis` at which the window at output `out` covers a real
    /// (non-padding) input position, for an input extent `input`: a range whose length is at
    /// most `input`, however large the kernel.
    pub fn taps(&self, axis: usize, out: u32, input: u32) -> Range<u32> {
        // Input position of offset k: out * stride - padding + k, real when in [0, input).
        let start = i64::from(out) * i64::from(self.stride[axis]) - i64::from(self.padding[axis]);
        let kernel = i64::from(self.kernel[axis]);
        let first = (-start).clamp(0, kernel);
        let end = (i64::from(input) - start).clamp(first, kernel);
        // Both lie in [0, kernel], a u32.
        first as u32..end as u32
    }

    /// How many real (non-padding) input positions along `axis` the window at output `out`
    /// covers, for an input extent `input`.
    pub fn covered(&self, axis: usize, out: u32, input: u32) -> u32 {
        self.taps(axis, out, input).len() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `taps` against its definition, by brute force; and it stays short for a huge kernel.
    #[test]
    fn taps_are_the_real_positions() {
        for (kernel, stride, padding) in [(1, 1, 0), (3, 1, 1), (3, 2, 1), (4, 3, 2), (5, 1, 2)] {
            let w = Window {
                kernel: [kernel, 1],
                stride: [stride, 1],
                padding: [padding, 0],
            };
            for input in 1..=7u32 {
                let Some(out) = w.out_extent(0, input) else {
                    continue;
                };
                for o in 0..out {
                    let expected: Vec<u32> = (0..kernel)
                        .filter(|&k| {
                            (0..i64::from(input))
                                .contains(&(i64::from(o * stride + k) - i64::from(padding)))
                        })
                        .collect();
                    assert_eq!(
                        w.taps(0, o, input).collect::<Vec<_>>(),
                        expected,
                        "{w:?} o {o}"
                    );
                }
            }
        }
        let huge = Window {
            kernel: [u32::MAX, 1],
            stride: [1, 1],
            padding: [u32::MAX / 2, 0],
        };
        assert_eq!(huge.taps(0, 0, 1), u32::MAX / 2..u32::MAX / 2 + 1);
    }

    /// `reach` against its definition, by brute force over kernel offsets.
    #[test]
    fn reach_is_every_solution_in_ascending_k() {
        for kernel in 1..=5u32 {
            for stride in 1..=4u32 {
                for padding in 0..=3u32 {
                    let w = Window {
                        kernel: [kernel, 1],
                        stride: [stride, 1],
                        padding: [padding, 0],
                    };
                    for input in 1..=9u32 {
                        let Some(out) = w.out_extent(0, input) else {
                            continue;
                        };
                        for pos in 0..input {
                            let expected: Vec<(u32, u32)> = (0..kernel)
                                .filter_map(|k| {
                                    let num = (pos + padding).checked_sub(k)?;
                                    (num % stride == 0 && num / stride < out)
                                        .then_some((num / stride, k))
                                })
                                .collect();
                            assert_eq!(
                                w.reach(0, pos, out).collect::<Vec<_>>(),
                                expected,
                                "{w:?} pos {pos}"
                            );
                        }
                    }
                }
            }
        }
    }
}
