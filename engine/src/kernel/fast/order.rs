//! Integer-time buckets: one layer's spikes sorted by (time, neuron) with one counting-sort
//! pass, no heap and no per-event allocation. Within a time step, neurons of a spatial layer
//! come in channels-last order (position, then channel): the delivery order the event order of docs/semantics.md
//! leaves open and both paths of the engine fix this way.

/// The spikes of one layer, grouped by step after their frame origin, ascending neurons
/// within a step. Its buffers are reused across layers and runs.
#[derive(Debug, Default)]
pub(crate) struct TimeOrder {
    /// `starts[tau]..starts[tau + 1]` is the range of `items` spiking at step `tau`.
    starts: Vec<u32>,
    items: Vec<u32>,
    /// Scratch: four interleaved histograms of the steps.
    counts: Vec<u32>,
}

impl TimeOrder {
    /// Sorts neurons by their spike times `times` (absolute, none before `origin`, channel-major
    /// over `channels` channels), then channels-last within a step; returns the latest step
    /// after `origin`.
    pub(crate) fn sort(&mut self, times: &[u32], origin: u32, channels: usize) -> u32 {
        let last = times.iter().copied().max().unwrap_or(origin);
        debug_assert!(
            times.iter().all(|&t| t >= origin),
            "a spike before its frame origin {origin}"
        );
        let steps = (last - origin) as usize + 1;
        // Counted in four interleaved histograms: neighbours often share a step, and with one
        // counter every increment would wait for the one before.
        self.counts.clear();
        self.counts.resize(4 * steps, 0);
        let mut quads = times.chunks_exact(4);
        for quad in &mut quads {
            for (k, &t) in quad.iter().enumerate() {
                self.counts[4 * (t - origin) as usize + k] += 1;
            }
        }
        for &t in quads.remainder() {
            self.counts[4 * (t - origin) as usize] += 1;
        }
        self.starts.clear();
        self.starts.push(0);
        self.starts
            .extend(self.counts.chunks_exact(4).map(|c| c.iter().sum::<u32>()));
        for s in 1..=steps {
            self.starts[s] += self.starts[s - 1];
        }
        self.items.clear();
        self.items.resize(times.len(), 0);
        // Fill each bucket from its start; `starts[tau]` serves as the cursor, so afterwards
        // it holds the bucket's end, which is where bucket `tau + 1` starts: shift back.
        let plane = times.len() / channels.max(1);
        for pos in 0..plane {
            for i in (pos..times.len()).step_by(plane.max(1)) {
                let slot = &mut self.starts[(times[i] - origin) as usize];
                self.items[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        self.starts.copy_within(0..steps, 1);
        self.starts[0] = 0;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_time_then_neuron() {
        let mut o = TimeOrder::default();
        let times = [12, 10, 15, 12, 10, 10];
        assert_eq!(o.sort(&times, 10, 1), 5);
        assert_eq!(o.at(0), &[1, 4, 5]);
        assert_eq!(o.at(1), &[] as &[u32]);
        assert_eq!(o.at(2), &[0, 3]);
        assert_eq!(o.at(5), &[2]);
        assert_eq!(o.at(6), &[] as &[u32]);
        assert_eq!(o.all(), &[1, 4, 5, 0, 3, 2]);
        // Two channels of three positions: within a step, position first, then channel.
        assert_eq!(o.sort(&[0, 1, 0, 0, 1, 0], 0, 2), 1);
        assert_eq!(o.at(0), &[0, 3, 2, 5]);
        assert_eq!(o.at(1), &[1, 4]);
    }
}
