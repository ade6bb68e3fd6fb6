//! How layers connect: each layer's source, and the further synapse groups of a join.
//!
//! A chain (the paper's networks) feeds every layer from the one before it. A residual
//! network also joins branches: a synapse-based layer may take further *synapse groups*,
//! each from an earlier layer (or the input), through an identity, conv or dense connection.
//! docs/semantics.md ("Branches and joins") gives the timing: each group's spikes are timed
//! from its source's frame and wait in a delay buffer until the join's frame, the latest of
//! its sources'.

use super::{Conv2d, Dense, Layer, Shape};
use crate::error::{ErrorKind, Result};

/// Where a layer's (or a synapse group's) spikes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The input layer.
    Input,
    /// Graph layer `k` (always an earlier layer than the one it feeds).
    Layer(usize),
}

impl Source {
    /// The source as one number: 0 the input, `j + 1` layer `j` (how the graph file and the
    /// kernel's tables index sources).
    ///
    /// # Example
    /// ```
    /// use tdsnn_engine::graph::Source;
    /// assert_eq!(Source::Layer(4).index(), 5);
    /// assert_eq!(Source::from_index(0), Source::Input);
    /// ```
    pub fn index(self) -> usize {
        match self {
            Source::Input => 0,
            Source::Layer(j) => j + 1,
        }
    }

    /// The source numbered `index` (see [`index`](Source::index)).
    pub fn from_index(index: usize) -> Source {
        match index {
            0 => Source::Input,
            j => Source::Layer(j - 1),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Input => write!(f, "the input"),
            Source::Layer(k) => write!(f, "layer {k}"),
        }
    }
}

/// The synapses of a further group of a join layer, as delivered (a hidden layer's negated).
#[derive(Debug, Clone, PartialEq)]
pub enum Synapses {
    /// Neuron `(c, y, x)` of the source onto neuron `(c, y, x)` of the layer (the same shape),
    /// every synapse with weight `weight`: an identity shortcut (`-1` into a hidden layer).
    Identity {
        /// The weight of every synapse, as delivered.
        weight: f32,
    },
    /// A convolution from the source (a projection shortcut, or a part of a concatenation):
    /// `out_channels` is the layer's, there is no bias (a group's bias is folded into the
    /// layer's).
    Conv2d(Conv2d),
    /// A fully connected group from the source: `outputs` is the layer's, no bias.
    Dense(Dense),
}

impl Synapses {
    /// Short lower-case name of the connection: `identity`, `conv2d`, `dense`.
    pub fn kind(&self) -> &'static str {
        match self {
            Synapses::Identity { .. } => "identity",
            Synapses::Conv2d(_) => "conv2d",
            Synapses::Dense(_) => "dense",
        }
    }
}

/// A further synapse group of a join layer: the spikes of `source` through `synapses`.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Where the group's spikes come from.
    pub source: Source,
    /// How they reach the layer's neurons.
    pub synapses: Synapses,
}

/// One layer of a graph with its connections: [`Graph::from_nodes`](super::Graph::from_nodes)
/// takes these.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The layer and its own synapses.
    pub layer: Layer,
    /// Where the layer's own synapses take their spikes from.
    pub source: Source,
    /// Further synapse groups (conv2d, dense and output layers only).
    pub groups: Vec<Group>,
}

impl Node {
    /// Layer `layer` fed by `source` alone.
    pub fn new(layer: Layer, source: Source) -> Node {
        Node {
            layer,
            source,
            groups: Vec::new(),
        }
    }
}

/// The error for a connection of layer `k` that does not fit.
pub(super) fn link_error(k: usize, layer: &Layer, what: String) -> crate::Error {
    ErrorKind::Shape {
        layer: k,
        kind: layer.kind(),
        what,
    }
    .into()
}

/// Errors unless `source` is earlier than layer `k`.
pub(super) fn check_source(k: usize, layer: &Layer, source: Source) -> Result<()> {
    match source {
        Source::Layer(j) if j >= k => Err(link_error(
            k,
            layer,
            format!("takes its spikes from layer {j}, which is not an earlier layer"),
        )),
        _ => Ok(()),
    }
}

/// Checks group `g` of layer `k` (output shape `out`) against its source's shape `from`
/// (its source already checked to be earlier, [`check_source`]).
pub(super) fn check_group(
    k: usize,
    layer: &Layer,
    g: usize,
    group: &Group,
    from: Shape,
    out: Shape,
) -> Result<()> {
    let unfit = |what: String| {
        Err(link_error(
            k,
            layer,
            format!(
                "synapse group {g} ({} from {}): {what}",
                group.synapses.kind(),
                group.source
            ),
        ))
    };
    if !matches!(layer, Layer::Conv2d(_) | Layer::Dense(_) | Layer::Output(_)) {
        return unfit("only conv2d, dense and output layers take further groups".into());
    }
    match &group.synapses {
        Synapses::Identity { weight } => {
            if !weight.is_finite() {
                return unfit(format!("weight {weight:?} is not finite"));
            }
            if from.len() != out.len() || (from != out && (out.h, out.w) != (1, 1)) {
                return unfit(format!("an identity from {from} onto {out}"));
            }
        }
        Synapses::Conv2d(c) => {
            if c.bias.is_some() {
                return unfit("a group has no bias of its own (fold it into the layer's)".into());
            }
            let probe = Layer::Conv2d(c.clone());
            let shape = super::out_shape(k, &probe, from)?;
            if shape != out {
                return unfit(format!("gives {shape} from {from}, the layer is {out}"));
            }
            super::check_finite(k, &probe)?;
        }
        Synapses::Dense(d) => {
            if d.bias.is_some() {
                return unfit("a group has no bias of its own (fold it into the layer's)".into());
            }
            let probe = Layer::Dense(d.clone());
            let shape = super::out_shape(k, &probe, from)?;
            if shape.len() != out.len() {
                return unfit(format!("gives {shape} from {from}, the layer is {out}"));
            }
            super::check_finite(k, &probe)?;
        }
    }
    Ok(())
}
