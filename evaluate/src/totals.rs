//! What an evaluation adds up, as whole numbers: counts, sums and maxima over images. Every
//! figure of the report (accuracies, means, operations per image) is computed from these
//! alone, so the totals of a data set's shards, added, give the report of the whole data set
//! bit for bit, whatever way it was cut.

use serde::{Deserialize, Serialize};
use tdsnn_engine::counters::{EngineOps, LayerOps, PaperOps};
use tdsnn_engine::graph::Source;
use tdsnn_engine::Graph;

/// The paper's operation counts, as serde sees them.
#[derive(Serialize, Deserialize)]
#[serde(remote = "PaperOps")]
struct PaperOpsDef {
    synaptic_adds: u64,
    tick_adds: u64,
    pool_comparisons: u64,
    leak_mults: u64,
}

/// The engine's operation counts, as serde sees them.
#[derive(Serialize, Deserialize)]
#[serde(remote = "EngineOps")]
struct EngineOpsDef {
    synaptic_adds: u64,
    tick_adds: u64,
    pool_comparisons: u64,
    leak_mults: u64,
    spikes: u64,
}

/// A layer's operation counts, as serde sees them.
#[derive(Serialize, Deserialize)]
#[serde(remote = "LayerOps")]
struct LayerOpsDef {
    #[serde(with = "PaperOpsDef")]
    paper: PaperOps,
    #[serde(with = "EngineOpsDef")]
    engine: EngineOps,
}

/// One part of a join over a set of images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PartTotals {
    /// Sum over images of the delay `o - o_g`.
    pub delay_sum: u64,
    /// Largest delay.
    pub delay_max: u32,
    /// Spikes that waited in the buffer, over all images.
    pub delayed_spikes: u64,
}

/// One layer over a set of images.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LayerTotals {
    /// Sum of `T_il` over images (synapse-based layers; 0 for others).
    pub t_il_sum: u64,
    /// Largest `T_il`.
    pub t_il_max: u32,
    /// Sum of spike times relative to the release (or frame origin).
    pub spike_sum: u64,
    /// Largest relative spike time.
    pub spike_max: u32,
    /// Spikes.
    pub spikes: u64,
    /// Operation counts (a join's include its delayed spikes).
    #[serde(with = "LayerOpsDef")]
    pub ops: LayerOps,
    /// A join's parts, its own synapses first (empty for any other layer).
    pub parts: Vec<PartTotals>,
}

/// An evaluation's counts over a set of images.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Images.
    pub images: u64,
    /// Images with a label.
    pub labelled: u64,
    /// Images whose SNN class is their label.
    pub snn_correct: u64,
    /// Images whose reference DNN(G) class is their label.
    pub dnn_g_correct: u64,
    /// Images whose plain ReLU network's class is their label, if one ran.
    pub dnn_relu_correct: Option<u64>,
    /// Images whose SNN class equals the DNN(G)'s.
    pub agreements: u64,
    /// Images with a tie that can change their class.
    pub tied_images: u64,
    /// SNN/DNN(G) disagreements at such a tie.
    pub disagreements_at_ties: u64,
    /// Disagreements without a tie (must be 0).
    pub unexplained_disagreements: u64,
    /// Neurons checked by the audit.
    pub neurons: u64,
    /// Of those outside ties, whose spike time equals `T(A)`.
    pub exact: u64,
    /// Neurons within the tie window.
    pub ties: u64,
    /// Neurons off `T(A)` outside the tie window (must be 0).
    pub mismatches: u64,
    /// Images whose audit failed as a whole (must be 0).
    pub audit_failures: u64,
    /// Per graph layer.
    pub layers: Vec<LayerTotals>,
}

impl Totals {
    /// Adds `other`'s counts (of the same graph) to these: the totals of both sets of images.
    pub fn add(&mut self, other: &Totals) {
        self.images += other.images;
        self.labelled += other.labelled;
        self.snn_correct += other.snn_correct;
        self.dnn_g_correct += other.dnn_g_correct;
        self.dnn_relu_correct = match (self.dnn_relu_correct, other.dnn_relu_correct) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.agreements += other.agreements;
        self.tied_images += other.tied_images;
        self.disagreements_at_ties += other.disagreements_at_ties;
        self.unexplained_disagreements += other.unexplained_disagreements;
        self.neurons += other.neurons;
        self.exact += other.exact;
        self.ties += other.ties;
        self.mismatches += other.mismatches;
        self.audit_failures += other.audit_failures;
        add_each(&mut self.layers, &other.layers, |a, b| {
            a.t_il_sum += b.t_il_sum;
            a.t_il_max = a.t_il_max.max(b.t_il_max);
            a.spike_sum += b.spike_sum;
            a.spike_max = a.spike_max.max(b.spike_max);
            a.spikes += b.spikes;
            a.ops += b.ops;
            add_each(&mut a.parts, &b.parts, |p, q| {
                p.delay_sum += q.delay_sum;
                p.delay_max = p.delay_max.max(q.delay_max);
                p.delayed_spikes += q.delayed_spikes;
            });
        });
    }

    /// `count / images`, the share of the images (0 without images).
    pub fn share(&self, count: u64) -> f64 {
        count as f64 / self.images.max(1) as f64
    }
}

/// What a layer is, whatever the images: what the report says of it besides its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// The layer's kind (`conv2d`, `max_pool`, ...).
    pub kind: String,
    /// Output shape, as `CxHxW`.
    pub shape: String,
    /// Whether it has synapses (a `T_il` and a release).
    pub synaptic: bool,
    /// Where its own synapses take their spikes from, when the graph branches.
    #[serde(with = "source_name::option")]
    pub source: Option<Source>,
    /// A join's parts: each one's source and synapses (`own`, or the group's `identity`,
    /// `conv2d`, `dense`); empty for any other layer.
    pub parts: Vec<PartInfo>,
}

/// One part of a join, whatever the images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartInfo {
    /// Where its spikes come from.
    #[serde(with = "source_name")]
    pub source: Source,
    /// `own`, or the group's connection.
    pub synapses: String,
}

impl LayerInfo {
    /// Every layer of `graph`.
    pub fn of(graph: &Graph) -> Vec<LayerInfo> {
        (graph.layers().iter().enumerate())
            .map(|(k, layer)| {
                let groups = graph.groups(k);
                let kinds = std::iter::once("own").chain(groups.iter().map(|g| g.synapses.kind()));
                let parts = if groups.is_empty() {
                    Vec::new()
                } else {
                    (graph.part_sources(k).zip(kinds))
                        .map(|(source, synapses)| PartInfo {
                            source,
                            synapses: synapses.to_string(),
                        })
                        .collect()
                };
                LayerInfo {
                    kind: layer.kind().to_string(),
                    shape: graph.output_shape(k).to_string(),
                    synaptic: layer.is_synaptic(),
                    source: graph.branches().then(|| graph.source(k)),
                    parts,
                }
            })
            .collect()
    }
}

/// A source as reports name it, `input` or `layer k`, read back.
pub mod source_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use tdsnn_engine::graph::Source;

    /// `input`, or `layer k`.
    pub fn name(source: Source) -> String {
        match source {
            Source::Input => "input".into(),
            Source::Layer(k) => format!("layer {k}"),
        }
    }

    /// The source a name names.
    pub fn parse(name: &str) -> Option<Source> {
        match name {
            "input" => Some(Source::Input),
            _ => name.strip_prefix("layer ")?.parse().ok().map(Source::Layer),
        }
    }

    /// Serialises a source as its name.
    pub fn serialize<S: Serializer>(source: &Source, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&name(*source))
    }

    /// Reads a source from its name.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Source, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).ok_or_else(|| serde::de::Error::custom(format!("not a source: {text:?}")))
    }

    /// The same for an optional source (`null` for none).
    pub mod option {
        use super::*;

        /// Serialises an optional source.
        pub fn serialize<S: Serializer>(source: &Option<Source>, s: S) -> Result<S::Ok, S::Error> {
            match source {
                Some(source) => super::serialize(source, s),
                None => s.serialize_none(),
            }
        }

        /// Reads an optional source.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Source>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|t| {
                parse(&t).ok_or_else(|| serde::de::Error::custom(format!("not a source: {t:?}")))
            })
            .transpose()
        }
    }
}

/// `add(a, b)` for each element of `b` and its counterpart in `a`, `a` first made as long as
/// `b` if it is empty (a total with nothing added yet).
fn add_each<T: Default + Clone>(a: &mut Vec<T>, b: &[T], add: impl Fn(&mut T, &T)) {
    if a.is_empty() {
        *a = vec![T::default(); b.len()];
    }
    for (a, b) in a.iter_mut().zip(b) {
        add(a, b);
    }
}
