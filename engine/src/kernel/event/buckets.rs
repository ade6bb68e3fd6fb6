//! Time buckets: the neurons due at each time step, with their vectors recycled.

use hashbrown::HashMap;

/// Neuron lists keyed by absolute time step.
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    by_time: HashMap<u32, Vec<u32>>,
    spare: Vec<Vec<u32>>,
}

impl Buckets {
    /// Adds `neuron` at `time`; returns true if this opened a new bucket (so the caller
    /// schedules a slot for it).
    pub(crate) fn push(&mut self, time: u32, neuron: u32) -> bool {
        let spare = &mut self.spare;
        let mut opened = false;
        self.by_time
            .entry(time)
            .or_insert_with(|| {
                opened = true;
                spare.pop().unwrap_or_default()
            })
            .push(neuron);
        opened
    }

    /// Puts a whole list at `time` (which must hold no bucket yet).
    pub(crate) fn put(&mut self, time: u32, neurons: Vec<u32>) {
        let old = self.by_time.insert(time, neurons);
        debug_assert!(old.is_none(), "bucket at t = {time} filled twice");
    }

    /// Removes and returns the bucket at `time` (empty if none).
    pub(crate) fn take(&mut self, time: u32) -> Vec<u32> {
        self.by_time
            .remove(&time)
            .unwrap_or_else(|| self.spare.pop().unwrap_or_default())
    }

    /// Returns a drained list for reuse.
    pub(crate) fn recycle(&mut self, mut v: Vec<u32>) {
        v.clear();
        self.spare.push(v);
    }

    /// Empties every bucket, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        let spare = &mut self.spare;
        for (_, mut v) in self.by_time.drain() {
            v.clear();
            spare.push(v);
        }
    }
}
