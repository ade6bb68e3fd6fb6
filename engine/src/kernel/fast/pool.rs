//! Max-pool units (the paper's simplified mapping): each fires with the last input of its
//! window.

use smallvec::SmallVec;

use crate::graph::{Shape, Window};

/// Max-pool units, run under [`pulp::Arch::dispatch`] (the latest-time comparisons are
/// vectorised): each fires with the last input of its window (real taps only). Per output
/// row, the latest time down each input column of the window's rows, then across each
/// window's columns.
pub(super) struct MaxPool<'a> {
    pub(super) window: &'a Window,
    pub(super) inp: Shape,
    pub(super) out: Shape,
    /// The input spike times, channel-major.
    pub(super) prev: &'a [u32],
    /// Out: the output spike times, channel-major.
    pub(super) spikes: &'a mut Vec<u32>,
    /// Scratch: the latest time down each input column of one output row's window rows.
    pub(super) column: &'a mut Vec<u32>,
}

impl pulp::WithSimd for MaxPool<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let MaxPool {
            window,
            inp,
            out,
            prev,
            spikes,
            column,
        } = self;
        // Real input rows and columns of every output row and column, computed once.
        let span = |axis: usize, o: u32, extent: u32| {
            let taps = window.taps(axis, o, extent);
            // Tap k sits at input position out * stride - padding + k, real here.
            let first = o * window.stride[axis] + taps.start - window.padding[axis];
            first as usize..(first + taps.len() as u32) as usize
        };
        let rows: SmallVec<[_; 64]> = (0..out.h).map(|oy| span(0, oy, inp.h)).collect();
        let cols: SmallVec<[_; 64]> = (0..out.w).map(|ox| span(1, ox, inp.w)).collect();
        let (plane, width) = ((inp.h * inp.w) as usize, inp.w as usize);
        // Windows side by side, none cut short: each output is one chunk's latest.
        let k = window.kernel[1] as usize;
        let tiled = cols
            .iter()
            .enumerate()
            .all(|(ox, xs)| xs.start == ox * k && xs.len() == k);
        spikes.clear();
        for channel in prev.chunks_exact(plane).take(out.c as usize) {
            for ys in &rows {
                column.clear();
                column.resize(width, 0);
                for y in ys.clone() {
                    let row = &channel[y * width..(y + 1) * width];
                    column
                        .iter_mut()
                        .zip(row)
                        .for_each(|(c, &t)| *c = (*c).max(t));
                }
                if tiled {
                    spikes.extend(
                        column
                            .chunks_exact(k)
                            .take(cols.len())
                            .map(|c| c.iter().fold(0, |m, &t| m.max(t))),
                    );
                } else {
                    spikes.extend(
                        cols.iter()
                            .map(|xs| column[xs.clone()].iter().copied().max().unwrap_or(0)),
                    );
                }
            }
        }
    }
}
