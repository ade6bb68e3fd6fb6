//! The converter's error types, one per phase: building a [`Dnn`](crate::Dnn)
//! ([`ModelError`]), running the reference ([`ReferenceError`]) and converting
//! ([`ConvertError`]).
//!
//! Every error names the layer it is about by its index into
//! [`Dnn::layers`](crate::Dnn::layers) and its kind (`conv2d`, `dense`, `max_pool`, ...).
//! Conversion collects every unsupported layer and reports them together.

use std::fmt;

use tdsnn_engine::Shape;

/// A [`Dnn`](crate::Dnn) whose layers do not fit together.
///
/// Validation stops at the first problem: the shape each layer sees depends on every layer
/// before it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The network has no layers at all.
    #[error("the network has no layers")]
    NoLayers,
    /// The network has more layers than the engine accepts.
    #[error("the network has {count} layers; at most {max} are accepted")]
    TooManyLayers {
        /// Layers given.
        count: usize,
        /// The most accepted ([`tdsnn_engine::graph::MAX_LAYERS`]).
        max: usize,
    },
    /// The input shape is empty or too large.
    #[error("input shape {shape} must hold 1 to {max} values")]
    InputShape {
        /// The rejected shape.
        shape: Shape,
        /// The largest number of values accepted.
        max: u64,
    },
    /// A weight or bias tensor has the wrong number of values for the layer's input.
    #[error("layer {layer} ({kind}): {tensor} holds {len} values, expected {expected}")]
    TensorSize {
        /// Index of the layer.
        layer: usize,
        /// The layer's kind.
        kind: &'static str,
        /// Which tensor: `weights` or `bias`.
        tensor: &'static str,
        /// Number of values given.
        len: usize,
        /// Number of values the layer needs.
        expected: u64,
    },
    /// A weight or bias is NaN or infinite.
    #[error("layer {layer} ({kind}): {tensor}[{index}] = {value:?} is not finite")]
    NonFinite {
        /// Index of the layer.
        layer: usize,
        /// The layer's kind.
        kind: &'static str,
        /// Which tensor: `weights` or `bias`.
        tensor: &'static str,
        /// Element index in that tensor.
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// A shortcut or concat that does not fit the network: it refers to a tensor that is not
    /// an earlier spiking one, its shapes differ, or it is not where a join can be (a
    /// shortcut after a conv2d or dense layer and before a ReLU, a concat before a conv2d or
    /// dense layer).
    #[error("layer {layer} ({kind}): {what}")]
    Join {
        /// Index of the layer.
        layer: usize,
        /// The layer's kind.
        kind: &'static str,
        /// What does not fit.
        what: String,
    },
    /// The layer's geometry does not fit its input: zero kernel, stride or outputs, pool
    /// padding beyond half the kernel, a window larger than the padded input, or an output
    /// too large.
    #[error("layer {layer} ({kind}): {what}")]
    Geometry {
        /// Index of the layer.
        layer: usize,
        /// The layer's kind.
        kind: &'static str,
        /// What does not fit.
        what: String,
    },
}

/// A network trained with the staircase `G(x) - 1` whose biases cannot be folded exactly
/// into a DNN(G) (see [`fold_staircase`](crate::staircase::fold_staircase)).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("layer {layer} ({kind}): cannot fold the staircase G(x) - 1 into the bias: {why}")]
pub struct FoldError {
    /// Index of the layer.
    pub layer: usize,
    /// The layer's kind.
    pub kind: &'static str,
    /// Why not.
    pub why: &'static str,
}

/// An input the reference DNN cannot evaluate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The input does not hold `C * H * W` values.
    #[error("input holds {len} values, the network expects {expected} ({shape})")]
    InputLength {
        /// Number of values given.
        len: usize,
        /// Number of values expected.
        expected: u64,
        /// The network's input shape.
        shape: Shape,
    },
    /// An input value is NaN or infinite.
    #[error("input[{index}] = {value:?} is not finite")]
    NonFiniteInput {
        /// Index of the value.
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// The leak constant is not a finite number in `[MIN_LEAK, MAX_LEAK]`: the engine's
    /// [`InvalidLeak`](tdsnn_engine::ErrorKind::InvalidLeak), from
    /// [`check_leak`](crate::check_leak).
    #[error(transparent)]
    InvalidLeak(tdsnn_engine::Error),
}

/// Why a layer cannot be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Problem {
    /// A hidden conv2d or dense layer is not followed by a ReLU (only max-pool and flatten
    /// layers, which commute with ReLU, may stand between them).
    MissingRelu,
    /// The layer comes after the output layer (the last synapse-based layer, at index
    /// `output`), which must be the last layer: its logits have no activation.
    AfterOutput {
        /// Index of the output layer.
        output: usize,
    },
    /// The layer is the last synapse-based layer, which becomes the output layer, but it is
    /// not dense.
    OutputNotDense,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingRelu => f.write_str(
                "not followed by ReLU (a hidden conv2d or dense layer needs one, possibly after \
                 max-pool or flatten layers)",
            ),
            Problem::AfterOutput { output } => write!(
                f,
                "follows the output layer (layer {output}), which must be last: its logits \
                 have no activation"
            ),
            Problem::OutputNotDense => f.write_str(
                "is the last synapse-based layer, which becomes the output layer and must be \
                 dense",
            ),
        }
    }
}

/// One layer that cannot be converted, and why. Displays as
/// `layer 3 (dense): not followed by ReLU (...)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayerProblem {
    /// Index of the layer in [`Dnn::layers`](crate::Dnn::layers).
    pub layer: usize,
    /// The layer's kind.
    pub kind: &'static str,
    /// What is wrong with it.
    pub problem: Problem,
}

impl fmt::Display for LayerProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "layer {} ({}): {}", self.layer, self.kind, self.problem)
    }
}

/// A DNN that cannot be converted into an engine graph.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// Some layers cannot be converted; every one of them is listed.
    #[error("cannot convert {} layer(s): {}", problems.len(), list(problems))]
    Unsupported {
        /// Every problem found, in layer order.
        problems: Vec<LayerProblem>,
    },
    /// The network has no synapse-based layer (dense, conv2d or avg-pool), so nothing can
    /// become the output layer.
    #[error("the network has no synapse-based layer; its last one must be dense")]
    NoSynapticLayer,
    /// The engine rejected the graph (for instance an invalid leak constant).
    #[error(transparent)]
    Engine(#[from] tdsnn_engine::Error),
}

fn list(problems: &[LayerProblem]) -> String {
    problems
        .iter()
        .map(LayerProblem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
