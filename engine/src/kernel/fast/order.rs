//! Integer-time buckets: one layer's spikes sorted by (time, neuron) with one counting-sort
//! pass (a range of positions per thread), no heap and no per-event allocation. Within a time step, neurons of a spatial layer
//! come in channels-last order (position, then channel): the delivery order the event order of docs/semantics.md
//! leaves open and both paths of the engine fix this way.

use std::ops::Range;

use rayon_core::ThreadPool;
use smallvec::SmallVec;

use super::share::{on_threads, ranges};

/// The spikes of one layer, grouped by step after their frame origin, ascending neurons
/// within a step. Its buffers are reused across layers and runs.
#[derive(Debug, Default)]
pub(crate) struct TimeOrder {
    /// `starts[tau]..starts[tau + 1]` is the range of `items` spiking at step `tau`.
    starts: Vec<u32>,
    items: Vec<u32>,
    /// Scratch of a sort on one thread: where each bucket is filled up to.
    cursor: Vec<u32>,
    /// Scratch of a sort on one thread: one tile of [`channels_last`].
    tile: Vec<u32>,
}

impl TimeOrder {
    /// Sorts neurons by their spike times `times` (absolute, none before `origin`, channel-major
    /// over `channels` channels), then channels-last within a step; returns the latest step
    /// after `origin`. With a `pool`, the positions are cut into `threads` ranges, each
    /// counted and placed by a thread of its own (a range's neurons of a step go after those
    /// of the ranges before it, so the order is the same).
    pub(crate) fn sort(
        &mut self,
        times: &[u32],
        origin: u32,
        channels: usize,
        pool: Option<&ThreadPool>,
        threads: usize,
    ) -> u32 {
        let last = times.iter().copied().max().unwrap_or(origin);
        debug_assert!(
            times.iter().all(|&t| t >= origin),
            "a spike before its frame origin {origin}"
        );
        let steps = (last - origin) as usize + 1;
        // One position (a flat layer): channel-major is channels-last already.
        let channels = match times.len() / channels.max(1) {
            0 | 1 => 1,
            _ => channels,
        };
        let plane = times.len() / channels;
        let cuts = ranges(plane, TILE, if pool.is_some() { threads } else { 1 });
        let counts = on_threads(pool, cuts.iter(), |positions| {
            let runs = (0..channels).map(|c| &times[c * plane..][positions.clone()]);
            histogram(runs, origin, steps)
        });
        self.starts.clear();
        self.starts.push(0);
        for tau in 0..steps {
            let n: u32 = counts.iter().map(|c| c[tau]).sum();
            self.starts.push(self.starts[tau] + n);
        }
        // Every item is written below: only a change of length needs filling.
        self.items.resize(times.len(), 0);
        if let [positions] = cuts.as_slice() {
            // One range: each bucket filled from its start.
            self.cursor.clear();
            self.cursor.extend_from_slice(&self.starts[..steps]);
            let (cursor, items) = (&mut self.cursor, &mut self.items);
            let place = |i: usize, t: u32| {
                let at = &mut cursor[(t - origin) as usize];
                items[*at as usize] = i as u32;
                *at += 1;
            };
            channels_last(times, channels, positions.clone(), &mut self.tile, place);
            return last - origin;
        }
        // Each range's share of each step's bucket, in bucket order, then range order, filled
        // by the range's own thread.
        let mut pieces: SmallVec<[Vec<&mut [u32]>; 8]> =
            counts.iter().map(|_| Vec::with_capacity(steps)).collect();
        let mut rest = &mut self.items[..];
        for tau in 0..steps {
            for (piece, count) in pieces.iter_mut().zip(&counts) {
                let (head, tail) = std::mem::take(&mut rest).split_at_mut(count[tau] as usize);
                piece.push(head);
                rest = tail;
            }
        }
        on_threads(
            pool,
            pieces.into_iter().zip(&cuts),
            |(mut pieces, positions)| {
                let tile = &mut Vec::new();
                channels_last(times, channels, positions.clone(), tile, |i, t| {
                    let piece = std::mem::take(&mut pieces[(t - origin) as usize]);
                    let (first, rest) = piece.split_first_mut().expect("counted");
                    *first = i as u32;
                    pieces[(t - origin) as usize] = rest;
                });
            },
        );
        last - origin
    }

    /// The neurons spiking `tau` steps after the origin, in order (empty past the last).
    #[inline]
    pub(crate) fn at(&self, tau: u32) -> &[u32] {
        let tau = tau as usize;
        if tau + 1 >= self.starts.len() {
            return &[];
        }
        &self.items[self.starts[tau] as usize..self.starts[tau + 1] as usize]
    }

    /// Every neuron in (time, neuron) order.
    pub(crate) fn all(&self) -> &[u32] {
        &self.items
    }
}

/// How many of `runs`' values (absolute times, none before `origin`) fall on each of
/// `steps` steps after `origin`.
fn histogram<'a>(runs: impl Iterator<Item = &'a [u32]>, origin: u32, steps: usize) -> Vec<u32> {
    // Four interleaved histograms: neighbours often share a step, and with one counter every
    // increment would wait for the one before.
    let mut counts = vec![0u32; 4 * steps];
    for run in runs {
        let mut quads = run.chunks_exact(4);
        for quad in &mut quads {
            for (k, &t) in quad.iter().enumerate() {
                counts[4 * (t - origin) as usize + k] += 1;
            }
        }
        for &t in quads.remainder() {
            counts[4 * (t - origin) as usize] += 1;
        }
    }
    counts.chunks_exact(4).map(|c| c.iter().sum()).collect()
}

/// Values a layer may have for [`channels_last`] to read them channel after channel directly
/// rather than by tiles: 32 KiB of `u32`s, within the L1 cache.
const L1_VALUES: usize = 8 << 10;

/// Positions per tile of [`channels_last`] and [`channel_major`]: one cache line of `u32`s.
const TILE: usize = 16;

/// Calls `f(i, values[i])` for the neurons at `positions` of a layer of `channels` channels
/// (`values` channel-major) in channels-last order: position by position, each position's
/// channels ascending. A layer within the L1 cache is read directly, channel after channel a
/// plane apart; a larger one a tile of [`TILE`] positions at a time, one cache line per
/// channel, through `tile` (read directly, every read would miss the L1 cache: the planes'
/// lines share its sets).
pub(crate) fn channels_last<T: Copy>(
    values: &[T],
    channels: usize,
    positions: Range<usize>,
    tile: &mut Vec<T>,
    mut f: impl FnMut(usize, T),
) {
    let plane = values.len() / channels.max(1);
    if values.len() <= L1_VALUES {
        for pos in positions {
            for i in (pos..values.len()).step_by(plane.max(1)) {
                f(i, values[i]);
            }
        }
        return;
    }
    for p0 in positions.clone().step_by(TILE) {
        let width = TILE.min(positions.end - p0);
        tile.clear();
        for c in 0..channels {
            tile.extend_from_slice(&values[c * plane + p0..c * plane + p0 + width]);
        }
        for dp in 0..width {
            for c in 0..channels {
                f(c * plane + p0 + dp, tile[c * width + dp]);
            }
        }
    }
}

/// Writes `f(v)` for each value `v` of `values` (channels-last, `channels` channels) into
/// `out`, channel-major, `out` holding whole channels from `first` on: the inverse order of
/// [`channels_last`], a tile of [`TILE`] positions at a time, each channel's line of the tile
/// written whole.
pub(crate) fn channel_major<T: Copy, U: Copy>(
    values: &[T],
    channels: usize,
    first: usize,
    out: &mut [U],
    f: impl Fn(T) -> U,
) {
    let plane = values.len() / channels.max(1);
    let count = out.len() / plane.max(1);
    for p0 in (0..plane).step_by(TILE) {
        let width = TILE.min(plane - p0);
        let block = &values[p0 * channels..(p0 + width) * channels];
        for (o, c) in (first..first + count).enumerate() {
            let line = &mut out[o * plane + p0..o * plane + p0 + width];
            for (dp, o) in line.iter_mut().enumerate() {
                *o = f(block[dp * channels + c]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_time_then_neuron() {
        let mut o = TimeOrder::default();
        let times = [12, 10, 15, 12, 10, 10];
        assert_eq!(o.sort(&times, 10, 1, None, 1), 5);
        assert_eq!(o.at(0), &[1, 4, 5]);
        assert_eq!(o.at(1), &[] as &[u32]);
        assert_eq!(o.at(2), &[0, 3]);
        assert_eq!(o.at(5), &[2]);
        assert_eq!(o.at(6), &[] as &[u32]);
        assert_eq!(o.all(), &[1, 4, 5, 0, 3, 2]);
        // Two channels of three positions: within a step, position first, then channel.
        assert_eq!(o.sort(&[0, 1, 0, 0, 1, 0], 0, 2, None, 1), 1);
        assert_eq!(o.at(0), &[0, 3, 2, 5]);
        assert_eq!(o.at(1), &[1, 4]);
    }

    #[test]
    fn threads_sort_alike() {
        // 5 channels of 203 positions (read directly) and of 2,003 (read by tiles), times
        // 7..=19 in a scrambled pattern.
        for plane in [203u32, 2003] {
            let times: Vec<u32> = (0..5 * plane).map(|i| 7 + (i * 7919 % 13)).collect();
            let mut one = TimeOrder::default();
            let last = one.sort(&times, 7, 5, None, 1);
            for threads in 2..=4 {
                let pool = rayon_core::ThreadPoolBuilder::new()
                    .num_threads(threads - 1)
                    .build()
                    .unwrap();
                let mut cut = TimeOrder::default();
                assert_eq!(cut.sort(&times, 7, 5, Some(&pool), threads), last);
                assert_eq!(cut.all(), one.all());
                for tau in 0..=last + 1 {
                    assert_eq!(cut.at(tau), one.at(tau));
                }
            }
        }
    }

    #[test]
    fn tiles_transpose_both_ways() {
        // 3 channels of 37 positions (read directly) and of 2,741 (over L1_VALUES: read by
        // tiles, the last one partial).
        for plane in [37, 2741] {
            transposes_both_ways(3, plane);
        }
    }

    fn transposes_both_ways(channels: u32, plane: u32) {
        let major: Vec<u32> = (0..channels * plane).collect();
        let mut seen = Vec::new();
        channels_last(
            &major,
            channels as usize,
            0..plane as usize,
            &mut Vec::new(),
            |i, v| {
                assert_eq!(i as u32, v);
                seen.push(v);
            },
        );
        let want: Vec<u32> = (0..plane)
            .flat_map(|p| (0..channels).map(move |c| c * plane + p))
            .collect();
        assert_eq!(seen, want);
        let mut back = vec![0u32; major.len()];
        channel_major(&seen, channels as usize, 0, &mut back, |v| v);
        assert_eq!(back, major);
        // Channels 1 and 2 alone.
        let mut tail = vec![0u32; 2 * plane as usize];
        channel_major(&seen, channels as usize, 1, &mut tail, |v| v);
        assert_eq!(tail, major[plane as usize..]);
    }
}
