//! What one run produced: every neuron's spike time, every layer's release, the output.

use crate::counters::LayerOps;
use crate::graph::{Graph, Source};

/// Spike time of a neuron that has not fired (never present in a finished [`Record`]).
pub const NOT_FIRED: u32 = u32::MAX;

/// The readout rule: the index of the largest value, the first one among equal maxima (0 for
/// an empty slice). The engine's class, the audit's and the reference DNN's all use it.
///
/// # Example
/// ```
/// assert_eq!(tdsnn_engine::record::argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
/// ```
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// The record of one graph layer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayerRecord {
    /// Absolute spike time of every neuron, channel-major. Empty for the output layer, which
    /// does not fire.
    pub spikes: Vec<u32>,
    /// The frame origin: in a chain, `R_{k-1}`, the release of the previous synapse-based
    /// layer (0 for the first); at a join, the latest frame of its sources. Spike times of
    /// this layer's inputs are relative to it (each group's after its delay).
    pub frame_origin: u32,
    /// The release time `R_k` of a synapse-based layer; `None` for max-pool and flatten.
    pub release: Option<u32>,
    /// A synapse-based layer's delays, its own synapses' first, then each further group's:
    /// how many steps the part's spikes wait in a buffer, `o - o_g` (all 0 in a chain).
    /// Empty for max-pool and flatten layers.
    pub delays: Vec<u32>,
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
    /// Potentials `V_j(R_out) = U_j * exp(-T_il / L)` at the output layer's release.
    pub potentials: Vec<f64>,
    /// The frame-origin potentials `U_j = V_j(R_out) * exp(T_il / L)`: the DNN logits `A_j`.
    pub logits: Vec<f64>,
    /// `argmax_j` of the logits, the first index among equal maxima.
    pub class: usize,
}

/// One part of a join as a run saw it ([`Record::join_parts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinPart {
    /// Where the part's spikes came from.
    pub source: Source,
    /// How many steps they waited, `o - o_g`.
    pub delay: u32,
    /// How many spikes waited (0 for a part without delay).
    pub delayed_spikes: u64,
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
    /// The spike times `source` gave: the input's, or graph layer `j`'s.
    ///
    /// # Example
    /// ```
    /// use tdsnn_engine::graph::Source;
    /// use tdsnn_engine::{GraphBuilder, Shape, Simulate, Simulator, TickMode};
    /// # fn main() -> Result<(), tdsnn_engine::Error> {
    /// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
    ///     .dense(2, vec![-1.0, 0.0, 0.0, -1.0], None)
    ///     .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
    ///     .build()?;
    /// let record = Simulator::new(graph, TickMode::ClosedForm).run(&[0.2, 0.9], &mut ())?;
    /// assert_eq!(record.spikes_of(Source::Input), &record.input[..]);
    /// assert_eq!(record.spikes_of(Source::Layer(0)), &record.layers[0].spikes[..]);
    /// # Ok(()) }
    /// ```
    pub fn spikes_of(&self, source: Source) -> &[u32] {
        match source {
            Source::Input => &self.input,
            Source::Layer(j) => &self.layers[j].spikes,
        }
    }

    /// The parts of layer `k` of `graph` as this run saw them, its own synapses first, then
    /// each further synapse group: each part's source, its delay `o - o_g`, and the spikes
    /// that waited in its buffer (the source's spike count where the delay is above 0). Empty
    /// unless layer `k` is a join.
    ///
    /// # Example
    /// ```
    /// use tdsnn_engine::graph::{Dense, Group, Node, Source, Synapses};
    /// use tdsnn_engine::{Graph, Layer, Params, Shape, Simulate, Simulator, TickMode};
    /// # fn main() -> Result<(), tdsnn_engine::Error> {
    /// let dense = |outputs, weights: Vec<f32>| Dense { outputs, weights: weights.into(), bias: None };
    /// let graph = Graph::from_nodes(
    ///     Shape::flat(2),
    ///     vec![
    ///         Node::new(Layer::Dense(dense(2, vec![-0.5, 0.0, 0.0, -0.5])), Source::Input),
    ///         Node {
    ///             layer: Layer::Dense(dense(2, vec![-1.0, 0.0, 0.0, -1.0])),
    ///             source: Source::Layer(0),
    ///             groups: vec![Group { source: Source::Input, synapses: Synapses::Identity { weight: -1.0 } }],
    ///         },
    ///         Node::new(Layer::Output(dense(1, vec![1.0, 1.0])), Source::Layer(1)),
    ///     ],
    ///     Params::new(5.0),
    /// )?;
    /// let record = Simulator::new(graph.clone(), TickMode::ClosedForm).run(&[0.9, 0.4], &mut ())?;
    /// let parts: Vec<_> = record.join_parts(&graph, 1).collect();
    /// assert_eq!(parts[1].source, Source::Input);
    /// // The input's spikes wait for layer 0's inhibitory period.
    /// assert_eq!(parts[1].delay, record.layers[0].t_il().unwrap());
    /// assert_eq!(parts[1].delayed_spikes, 2);
    /// # Ok(()) }
    /// ```
    pub fn join_parts<'a>(
        &'a self,
        graph: &'a Graph,
        k: usize,
    ) -> impl Iterator<Item = JoinPart> + 'a {
        let joins = !graph.groups(k).is_empty();
        graph
            .part_sources(k)
            .zip(&self.layers[k].delays)
            .filter(move |_| joins)
            .map(move |(source, &delay)| JoinPart {
                source,
                delay,
                delayed_spikes: if delay > 0 {
                    self.spikes_of(source).len() as u64
                } else {
                    0
                },
            })
    }

    /// Operation counts summed over all layers.
    pub fn total_ops(&self) -> LayerOps {
        self.layers.iter().map(|l| &l.ops).sum()
    }

    /// A CRC-32 of every spike time, frame origin, release and output potential (bit
    /// patterns, little-endian): equal records have equal digests, on every platform. Pins
    /// long runs in golden tests.
    pub fn digest(&self) -> u32 {
        let mut h = crc32fast::Hasher::new();
        let times = |h: &mut crc32fast::Hasher, ts: &[u32]| {
            ts.iter().for_each(|t| h.update(&t.to_le_bytes()));
        };
        times(&mut h, &self.input);
        for l in &self.layers {
            times(&mut h, &l.spikes);
            times(&mut h, &[l.frame_origin, l.release.unwrap_or(NOT_FIRED)]);
        }
        self.output
            .potentials
            .iter()
            .for_each(|v| h.update(&v.to_bits().to_le_bytes()));
        h.finalize()
    }
}
