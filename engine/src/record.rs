//! What one run produced: every neuron's spike time, every layer's release, the output.

use crate::counters::LayerOps;

/// Spike time of a neuron that has not fired (never present in a finished [`Record`]).
pub const NOT_FIRED: u32 = u32::MAX;

/// The record of one graph layer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayerRecord {
    /// Absolute spike time of every neuron, channel-major. Empty for the output layer, which
    /// does not fire.
    pub spikes: Vec<u32>,
    /// The frame origin `R_{k-1}`: release time of the previous synapse-based layer (0 for the
    /// first). Spike times of this layer's inputs are relative to it.
    pub frame_origin: u32,
    /// The release time `R_k` of a synapse-based layer; `None` for max-pool and flatten.
    pub release: Option<u32>,
    /// Operation counts of this layer.
    pub ops: LayerOps,
}

impl LayerRecord {
    /// The inhibition time `T_il = R_k - R_{k-1}` of a synapse-based layer.
    pub fn t_il(&self) -> Option<u32> {
        self.release.map(|r| r - self.frame_origin)
    }
}

/// The output layer's result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutputRecord {
    /// Potentials `V_j(R_out)` at the output layer's release.
    pub potentials: Vec<f64>,
    /// Rescaled logits `V_j(R_out) * exp(T_il / L)`: the DNN logits `A_j`.
    pub logits: Vec<f64>,
    /// `argmax_j V_j(R_out)`, the first index among equal maxima.
    pub class: usize,
}

/// Everything one run recorded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    /// Spike time of every input neuron (frame origin 0).
    pub input: Vec<u32>,
    /// One record per graph layer, in order.
    pub layers: Vec<LayerRecord>,
    /// The output layer's potentials, logits and class.
    pub output: OutputRecord,
}

impl Record {
    /// The spike times that reached graph layer `k`: the input's for `k = 0`, else layer
    /// `k - 1`'s.
    pub fn spikes_into(&self, k: usize) -> &[u32] {
        if k == 0 {
            &self.input
        } else {
            &self.layers[k - 1].spikes
        }
    }

    /// Operation counts summed over all layers.
    pub fn total_ops(&self) -> LayerOps {
        self.layers.iter().map(|l| &l.ops).sum()
    }

    /// A 64-bit FNV-1a digest of every spike time, release and output potential (bit
    /// patterns): equal records have equal digests; used to pin long runs in tests.
    pub fn digest(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325_u64;
        let mut eat = |x: u64| {
            for b in x.to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        self.input.iter().for_each(|&t| eat(u64::from(t)));
        for l in &self.layers {
            l.spikes.iter().for_each(|&t| eat(u64::from(t)));
            eat(u64::from(l.frame_origin));
            eat(l.release.map_or(u64::MAX, u64::from));
        }
        self.output.potentials.iter().for_each(|v| eat(v.to_bits()));
        h
    }
}
