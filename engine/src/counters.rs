//! Operation counts, in the paper's accounting and in the engine's actual work.
//!
//! The paper's table 2 (docs/semantics.md, "Operation counts"): every delivered synaptic event and every
//! tick delivered to a not-yet-fired neuron is an addition; every max-pool input is an
//! addition (a comparison); the leak of every neuron at every time step from its frame origin
//! until it fires (the output layer: until its release) is a multiplication.
//!
//! The engine applies a layer's leak once, at its release (one multiplication per neuron),
//! plus one per waiting neuron per explicit tick; in closed-form tick mode it makes no tick
//! additions, and the fast path does not deliver spikes at their frame origin (worth exactly
//! zero). [`EngineOps`] counts what it actually did; the two paths differ only there.

use std::ops::AddAssign;

/// Operations in the paper's accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaperOps {
    /// Synaptic events delivered, bias events included (additions).
    pub synaptic_adds: u64,
    /// Ticks delivered to not-yet-fired neurons (additions).
    pub tick_adds: u64,
    /// Max-pool inputs (comparisons, counted as additions).
    pub pool_comparisons: u64,
    /// Neuron-steps of leak from frame origin until firing (multiplications).
    pub leak_mults: u64,
}

impl PaperOps {
    /// All additions: synaptic, tick and pool comparisons.
    pub fn adds(&self) -> u64 {
        self.synaptic_adds + self.tick_adds + self.pool_comparisons
    }

    /// All multiplications (the leak).
    pub fn mults(&self) -> u64 {
        self.leak_mults
    }
}

/// Operations the engine actually performed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineOps {
    /// Weighted additions into potentials (synapses and bias) actually performed: the fast
    /// path skips spikes at their frame origin (worth exactly zero), the event-by-event path
    /// delivers every synapse.
    pub synaptic_adds: u64,
    /// Tick additions (explicit tick mode only).
    pub tick_adds: u64,
    /// Max-pool input counts.
    pub pool_comparisons: u64,
    /// Leak multiplications: one per neuron at its layer's release, plus one per waiting
    /// neuron per explicit tick.
    pub leak_mults: u64,
    /// Spikes fired by the layer.
    pub spikes: u64,
}

impl EngineOps {
    /// All additions performed: synaptic, tick and pool comparisons.
    pub fn adds(&self) -> u64 {
        self.synaptic_adds + self.tick_adds + self.pool_comparisons
    }

    /// All multiplications performed (the leak).
    pub fn mults(&self) -> u64 {
        self.leak_mults
    }
}

/// Both accountings for one layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerOps {
    /// The paper's accounting.
    pub paper: PaperOps,
    /// The engine's actual work.
    pub engine: EngineOps,
}

impl AddAssign for PaperOps {
    fn add_assign(&mut self, o: Self) {
        self.synaptic_adds += o.synaptic_adds;
        self.tick_adds += o.tick_adds;
        self.pool_comparisons += o.pool_comparisons;
        self.leak_mults += o.leak_mults;
    }
}

impl AddAssign for EngineOps {
    fn add_assign(&mut self, o: Self) {
        self.synaptic_adds += o.synaptic_adds;
        self.tick_adds += o.tick_adds;
        self.pool_comparisons += o.pool_comparisons;
        self.leak_mults += o.leak_mults;
        self.spikes += o.spikes;
    }
}

impl AddAssign for LayerOps {
    fn add_assign(&mut self, o: Self) {
        self.paper += o.paper;
        self.engine += o.engine;
    }
}

impl<'a> std::iter::Sum<&'a LayerOps> for LayerOps {
    fn sum<I: Iterator<Item = &'a LayerOps>>(iter: I) -> Self {
        let mut total = LayerOps::default();
        for o in iter {
            total += *o;
        }
        total
    }
}
