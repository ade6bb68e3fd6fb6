//! The connection graph the engine consumes: one entry per layer.
//!
//! A graph is what the converter emits from a trained DNN: weights already negated (except
//! the output layer's), bias neurons with weight `-b / G(1)`, the leak constant `L`, the firing
//! threshold and the `T_il` policy. The ticking neuron's weight is not stored: it follows from
//! `T_il` by equation (9) ([`coding::tick_weight`](crate::coding::tick_weight)).
//!
//! Layouts are chosen so that one pre-synaptic spike delivers contiguous runs of weights:
//! dense weights are `[in][out]`, conv weights `[c_in][kh][kw][c_out]`. Neurons are numbered
//! channel-major, (C, H, W), as PyTorch and ONNX flatten them. Conv connectivity stays implicit
//! (kernel + geometry); no synapse list is ever expanded.
//!
//! [`Graph::new`] validates everything: shapes, payload sizes, finite weights, `L`, the
//! threshold, and that the layer sequence ends in exactly one output layer.

mod builder;
mod links;
mod weights;
mod window;

pub use builder::GraphBuilder;
pub use links::{Group, Node, Source, Synapses};
pub use weights::Weights;
pub use window::{Shape, Window};

use crate::error::{ErrorKind, Result};

/// The largest leak constant accepted: beyond it spike times grow past any useful range.
pub const MAX_LEAK: f64 = 1000.0;

/// The smallest leak constant accepted: below it even one step exceeds the longest
/// inhibition time, `600 L` steps.
pub const MIN_LEAK: f64 = 0.01;

/// Whether `leak` is a leak constant the engine accepts: finite, in `[MIN_LEAK, MAX_LEAK]`.
pub fn valid_leak(leak: f64) -> bool {
    leak.is_finite() && (MIN_LEAK..=MAX_LEAK).contains(&leak)
}

/// Errors unless `leak` is a leak constant the engine accepts ([`valid_leak`]), with the
/// error a graph of that leak fails with ([`ErrorKind::InvalidLeak`]): the one check of the
/// leak constant, which the reference DNN, training and the command line make before they
/// start.
///
/// # Example
/// ```
/// use tdsnn_engine::graph::check_leak;
/// assert!(check_leak(5.0).is_ok());
/// let err = check_leak(0.0).unwrap_err();
/// assert_eq!(err.to_string(), "leak constant L = 0.0 must be finite and in [0.01, 1000.0]");
/// ```
pub fn check_leak(leak: f64) -> Result<()> {
    if valid_leak(leak) {
        return Ok(());
    }
    Err(ErrorKind::InvalidLeak {
        leak,
        min: MIN_LEAK,
        max: MAX_LEAK,
    }
    .into())
}

/// The most layers a graph may have (a hostile file cannot ask for millions).
pub const MAX_LAYERS: usize = 4096;

/// The most neurons one layer may hold (2^27): keeps a hostile graph from asking for
/// gigabytes of state.
pub const MAX_LAYER_NEURONS: u64 = 1 << 27;

/// The most neurons a whole graph may hold (2^28, about 4 GiB of simulation state).
pub const MAX_GRAPH_NEURONS: u64 = 1 << 28;

/// The longest inhibition time, in units of `L`: beyond `600 L`, `w_tick` and the potentials
/// at release (`~ e^{-T_il/L}`) leave the normal f64 range.
pub const MAX_T_IL_PER_LEAK: f64 = 600.0;

/// The longest inhibition time for leak constant `leak`: `floor(600 L)`.
pub fn max_t_il(leak: f64) -> u32 {
    (MAX_T_IL_PER_LEAK * leak).floor() as u32
}

/// When a synapse-based layer ends its inhibitory period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TilPolicy {
    /// Release at the last pre-synaptic spike, the bias spike included (the paper's default).
    Dynamic,
    /// Release a fixed number of steps after the frame origin. A pre-synaptic spike later than
    /// that is an error ([`ErrorKind::LateSpike`]), never silently used.
    Fixed(u32),
}

/// Graph-wide parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Leak constant `L > 0` (the paper's best is 5).
    pub leak: f64,
    /// Firing threshold `theta` of the ticking layers (0 in docs/semantics.md; must be <= 0).
    pub threshold: f64,
    /// How `T_il` is chosen.
    pub til: TilPolicy,
}

impl Params {
    /// `L` as given, threshold 0, dynamic `T_il`.
    pub fn new(leak: f64) -> Self {
        Params {
            leak,
            threshold: 0.0,
            til: TilPolicy::Dynamic,
        }
    }
}

/// The bias neuron's weights of a layer, one per output (per output channel for a conv), in
/// f64, cheap to clone.
pub type Bias = std::sync::Arc<[f64]>;

/// A fully connected layer: `weights[i * outputs + j]` is the synapse from input `i` to
/// output `j` (pre-synaptic major), `bias[j]` the bias neuron's weight onto `j`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// Number of output neurons.
    pub outputs: u32,
    /// `[in][out]` synaptic weights, as delivered (hidden layers: negated DNN weights).
    pub weights: Weights,
    /// The bias neuron's weights, as delivered (hidden layers: `-b / G(1)`), if any, in f64:
    /// the division by `G(1)` is not rounded to f32, so the bias adds exactly `-b`.
    pub bias: Option<Bias>,
}

/// A 2-D convolution with zero padding: `weights[((ci * kh + ky) * kw + kx) * c_out + co]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    /// Output channels.
    pub out_channels: u32,
    /// Kernel, stride and padding.
    pub window: Window,
    /// `[c_in][kh][kw][c_out]` weights, as delivered (negated DNN weights).
    pub weights: Weights,
    /// The bias neuron's weights per output channel, as delivered (`-b / G(1)`), if any, in
    /// f64.
    pub bias: Option<Bias>,
}

/// Average pooling as a synapse-based layer: every synapse carries the same weight
/// (as delivered: `-1 / (kh * kw)` for a hidden layer); padded positions contribute nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AvgPool {
    /// Kernel, stride and padding; padding at most half the kernel.
    pub window: Window,
    /// The weight of every synapse, as delivered.
    pub weight: f32,
}

/// The paper's simplified max-pool unit: threshold = number of inputs in the window, input
/// weights 1, no leak, no ticking neuron. It fires when its last input fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool {
    /// Kernel, stride and padding; padding at most half the kernel.
    pub window: Window,
}

/// One layer of the connection graph.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// A hidden fully connected layer, with a ticking neuron.
    Dense(Dense),
    /// A hidden convolution, with a ticking neuron.
    Conv2d(Conv2d),
    /// A hidden average-pool layer, with a ticking neuron.
    AvgPool(AvgPool),
    /// A max-pool layer (no ticking neuron, no new frame).
    MaxPool(MaxPool),
    /// Reinterpret (C, H, W) as a flat vector (channel-major); no neurons of its own.
    Flatten,
    /// The readout: fully connected, weights not negated, no ticking neuron. The last layer.
    Output(Dense),
}

impl Layer {
    /// Short lower-case name of the layer kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Dense(_) => "dense",
            Layer::Conv2d(_) => "conv2d",
            Layer::AvgPool(_) => "avg_pool",
            Layer::MaxPool(_) => "max_pool",
            Layer::Flatten => "flatten",
            Layer::Output(_) => "output",
        }
    }

    /// Whether the layer integrates weighted synapses and has its own release (`T_il`).
    pub fn is_synaptic(&self) -> bool {
        matches!(
            self,
            Layer::Dense(_) | Layer::Conv2d(_) | Layer::AvgPool(_) | Layer::Output(_)
        )
    }

    /// The bias neuron's weights, if the layer has a bias neuron.
    pub fn bias(&self) -> Option<&[f64]> {
        match self {
            Layer::Dense(d) | Layer::Output(d) => d.bias.as_deref(),
            Layer::Conv2d(c) => c.bias.as_deref(),
            _ => None,
        }
    }

    /// The layer's synaptic weight tensor, if it stores one.
    pub fn weights(&self) -> Option<&Weights> {
        match self {
            Layer::Dense(d) | Layer::Output(d) => Some(&d.weights),
            Layer::Conv2d(c) => Some(&c.weights),
            _ => None,
        }
    }

    /// The sliding window of a conv or pool layer.
    pub fn window(&self) -> Option<&Window> {
        match self {
            Layer::Conv2d(c) => Some(&c.window),
            Layer::AvgPool(p) => Some(&p.window),
            Layer::MaxPool(p) => Some(&p.window),
            _ => None,
        }
    }
}

/// A validated connection graph.
///
/// # Example
/// ```
/// use tdsnn_engine::{GraphBuilder, Shape};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// // Two inputs -> one output neuron with weights (1, 2) and bias 0.5.
/// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
///     .output(1, vec![1.0, 2.0], Some(vec![0.5]))
///     .build()?;
/// assert_eq!(graph.layers().len(), 1);
/// assert_eq!(graph.output_shape(0), Shape::flat(1));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    input: Shape,
    layers: Vec<Layer>,
    sources: Vec<Source>,
    groups: Vec<Vec<Group>>,
    shapes: Vec<Shape>,
    params: Params,
}

impl Graph {
    /// Validates and builds a chain: `layers` follow `input` in order, each fed by the one
    /// before it.
    pub fn new(input: Shape, layers: Vec<Layer>, params: Params) -> Result<Graph> {
        let nodes = layers
            .into_iter()
            .enumerate()
            .map(|(k, layer)| {
                let source = if k == 0 {
                    Source::Input
                } else {
                    Source::Layer(k - 1)
                };
                Node::new(layer, source)
            })
            .collect();
        Graph::from_nodes(input, nodes, params)
    }

    /// Validates and builds a graph whose layers may branch and join (a DAG in layer order):
    /// each node names its source and any further synapse groups.
    ///
    /// Checks, besides each layer's own geometry: every source is an earlier layer or the
    /// input; every group fits its source and the layer (an identity joins equal shapes, a
    /// conv or dense group gives the layer's shape, and has no bias of its own); only conv2d,
    /// dense and output layers take groups; the output layer is last, and every other layer,
    /// and the input, feeds a later layer (nothing dangles).
    ///
    /// # Example
    /// ```
    /// use tdsnn_engine::graph::{Dense, Group, Node, Source, Synapses};
    /// use tdsnn_engine::{Graph, Layer, Params, Shape};
    /// # fn main() -> Result<(), tdsnn_engine::Error> {
    /// // A residual pair: hidden = relu(W x + x), read out by the output layer.
    /// let dense = |outputs, weights: Vec<f32>| Dense { outputs, weights: weights.into(), bias: None };
    /// let graph = Graph::from_nodes(
    ///     Shape::flat(2),
    ///     vec![
    ///         Node {
    ///             layer: Layer::Dense(dense(2, vec![-0.5, 0.0, 0.0, -0.5])),
    ///             source: Source::Input,
    ///             groups: vec![Group { source: Source::Input, synapses: Synapses::Identity { weight: -1.0 } }],
    ///         },
    ///         Node::new(Layer::Output(dense(1, vec![1.0, 1.0])), Source::Layer(0)),
    ///     ],
    ///     Params::new(5.0),
    /// )?;
    /// assert_eq!(graph.groups(0).len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn from_nodes(input: Shape, nodes: Vec<Node>, params: Params) -> Result<Graph> {
        let mut layers = Vec::with_capacity(nodes.len());
        let mut sources = Vec::with_capacity(nodes.len());
        let mut groups = Vec::with_capacity(nodes.len());
        for node in nodes {
            layers.push(node.layer);
            sources.push(node.source);
            groups.push(node.groups);
        }
        validate_params(&params)?;
        if input.is_empty() || input.len() > MAX_LAYER_NEURONS {
            return Err(ErrorKind::Structure {
                what: format!("input shape {input} must hold 1 to {MAX_LAYER_NEURONS} values"),
            }
            .into());
        }
        if layers.len() > MAX_LAYERS {
            return Err(ErrorKind::Structure {
                what: format!(
                    "{} layers; a graph may have at most {MAX_LAYERS}",
                    layers.len()
                ),
            }
            .into());
        }
        match layers.iter().position(|l| matches!(l, Layer::Output(_))) {
            Some(p) if p + 1 == layers.len() => {}
            Some(p) => {
                return Err(ErrorKind::Structure {
                    what: format!(
                        "layer {p} is an output layer but {} layer(s) follow it; the output \
                         layer must be last",
                        layers.len() - p - 1
                    ),
                }
                .into())
            }
            None => {
                return Err(ErrorKind::Structure {
                    what: "the graph has no output layer; its last layer must be `output`".into(),
                }
                .into())
            }
        }
        let mut shapes: Vec<Shape> = Vec::with_capacity(layers.len());
        let mut total = input.len();
        let mut feeds = vec![false; layers.len() + 1];
        let shape_of = |shapes: &[Shape], s: Source| match s {
            Source::Input => input,
            Source::Layer(j) => shapes[j],
        };
        for (index, layer) in layers.iter().enumerate() {
            links::check_source(index, layer, sources[index])?;
            let shape = out_shape(index, layer, shape_of(&shapes, sources[index]))?;
            if shape.is_empty() || shape.len() > MAX_LAYER_NEURONS {
                return Err(shape_error(
                    index,
                    layer,
                    format!("output shape {shape} must hold 1 to {MAX_LAYER_NEURONS} neurons"),
                ));
            }
            total += shape.len();
            if total > MAX_GRAPH_NEURONS {
                return Err(shape_error(
                    index,
                    layer,
                    format!("the graph holds more than {MAX_GRAPH_NEURONS} neurons up to here"),
                ));
            }
            check_finite(index, layer)?;
            for (g, group) in groups[index].iter().enumerate() {
                // The source first: only an earlier layer has a shape yet.
                links::check_source(index, layer, group.source)?;
                let from = shape_of(&shapes, group.source);
                links::check_group(index, layer, g, group, from, shape)?;
            }
            for s in std::iter::once(sources[index]).chain(groups[index].iter().map(|g| g.source)) {
                feeds[match s {
                    Source::Input => layers.len(),
                    Source::Layer(j) => j,
                }] = true;
            }
            shapes.push(shape);
        }
        let last = layers.len() - 1;
        if let Some(j) = (0..last).find(|&j| !feeds[j]) {
            return Err(links::link_error(
                j,
                &layers[j],
                "feeds no later layer: its spikes would go nowhere".into(),
            ));
        }
        Ok(Graph {
            input,
            layers,
            sources,
            groups,
            shapes,
            params,
        })
    }

    /// Where layer `k`'s own synapses take their spikes from (in a chain, `k - 1`).
    pub fn source(&self, k: usize) -> Source {
        self.sources[k]
    }

    /// The further synapse groups of layer `k` (empty but for a join).
    pub fn groups(&self, k: usize) -> &[Group] {
        &self.groups[k]
    }

    /// The sources of layer `k`'s parts, in the order both simulators deliver them: its own
    /// synapses' source, then each further group's.
    pub fn part_sources(&self, k: usize) -> impl Iterator<Item = Source> + '_ {
        std::iter::once(self.sources[k]).chain(self.groups[k].iter().map(|g| g.source))
    }

    /// Whether any layer joins branches (has further synapse groups) or takes its spikes
    /// from another layer than the one before it.
    pub fn branches(&self) -> bool {
        self.groups.iter().any(|g| !g.is_empty())
            || self.sources.iter().enumerate().any(|(k, &s)| {
                s != if k == 0 {
                    Source::Input
                } else {
                    Source::Layer(k - 1)
                }
            })
    }

    /// The shape of the spikes `source` gives.
    pub fn shape_of(&self, source: Source) -> Shape {
        match source {
            Source::Input => self.input,
            Source::Layer(j) => self.shapes[j],
        }
    }

    /// The input layer's shape.
    pub fn input_shape(&self) -> Shape {
        self.input
    }

    /// The layers after the input, in order; the last is [`Layer::Output`].
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Output shape of layer `k`.
    pub fn output_shape(&self, k: usize) -> Shape {
        self.shapes[k]
    }

    /// Input shape of layer `k`: the shape of its source (in a chain, the previous layer's
    /// output, or the graph input).
    pub fn input_shape_of(&self, k: usize) -> Shape {
        self.shape_of(self.sources[k])
    }

    /// Graph-wide parameters: `L`, threshold, `T_il` policy.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The same graph with other parameters (validated).
    pub fn with_params(mut self, params: Params) -> Result<Graph> {
        validate_params(&params)?;
        self.params = params;
        Ok(self)
    }
}

fn validate_params(params: &Params) -> Result<()> {
    check_leak(params.leak)?;
    if !(params.threshold.is_finite() && params.threshold <= 0.0) {
        return Err(ErrorKind::InvalidThreshold {
            threshold: params.threshold,
        }
        .into());
    }
    match params.til {
        TilPolicy::Fixed(t_il) if t_il > max_t_il(params.leak) => Err(ErrorKind::TilTooLong {
            layer: None,
            t_il,
            max: max_t_il(params.leak),
        }
        .into()),
        _ => Ok(()),
    }
}

fn shape_error(layer: usize, l: &Layer, what: String) -> crate::Error {
    ErrorKind::Shape {
        layer,
        kind: l.kind(),
        what,
    }
    .into()
}

fn check_len(index: usize, layer: &Layer, tensor: &str, len: usize, expected: u64) -> Result<()> {
    if len as u64 != expected {
        return Err(shape_error(
            index,
            layer,
            format!("{tensor} holds {len} values, expected {expected}"),
        ));
    }
    Ok(())
}

/// The output shape of `layer` on `input`, checking geometry and payload sizes.
fn out_shape(index: usize, layer: &Layer, input: Shape) -> Result<Shape> {
    let windowed = |window: &Window, channels: u32, pool: bool| -> Result<Shape> {
        window
            .output_shape(input, channels, pool)
            .map_err(|what| shape_error(index, layer, what))
    };
    match layer {
        Layer::Dense(d) | Layer::Output(d) => {
            if d.outputs == 0 {
                return Err(shape_error(index, layer, "0 outputs".into()));
            }
            check_len(
                index,
                layer,
                "weights",
                d.weights.len(),
                input.len().saturating_mul(u64::from(d.outputs)),
            )?;
            if let Some(b) = &d.bias {
                check_len(index, layer, "bias", b.len(), u64::from(d.outputs))?;
            }
            Ok(Shape::flat(d.outputs))
        }
        Layer::Conv2d(c) => {
            if c.out_channels == 0 {
                return Err(shape_error(index, layer, "0 output channels".into()));
            }
            let out = windowed(&c.window, c.out_channels, false)?;
            let expected = Shape::new(input.c, c.window.kernel[0], c.window.kernel[1])
                .len()
                .saturating_mul(u64::from(c.out_channels));
            check_len(index, layer, "weights", c.weights.len(), expected)?;
            if let Some(b) = &c.bias {
                check_len(index, layer, "bias", b.len(), u64::from(c.out_channels))?;
            }
            Ok(out)
        }
        Layer::AvgPool(p) => {
            if !p.weight.is_finite() {
                return Err(ErrorKind::NonFinite {
                    layer: index,
                    kind: layer.kind(),
                    tensor: "weight",
                    index: 0,
                    value: p.weight,
                }
                .into());
            }
            windowed(&p.window, input.c, true)
        }
        Layer::MaxPool(p) => windowed(&p.window, input.c, true),
        Layer::Flatten => Ok(Shape::flat(u32::try_from(input.len()).map_err(|_| {
            shape_error(index, layer, format!("{input} is too large to flatten"))
        })?)),
    }
}

fn check_finite(index: usize, layer: &Layer) -> Result<()> {
    if let Some((i, &value)) = layer
        .bias()
        .and_then(|b| b.iter().enumerate().find(|(_, v)| !v.is_finite()))
    {
        return Err(ErrorKind::NonFinite {
            layer: index,
            kind: layer.kind(),
            tensor: "bias",
            index: i,
            value: value as f32,
        }
        .into());
    }
    let tensors = [("weights", layer.weights())];
    for (tensor, w) in tensors {
        let Some(w) = w else { continue };
        if let Some(i) = w.iter().position(|v| !v.is_finite()) {
            return Err(ErrorKind::NonFinite {
                layer: index,
                kind: layer.kind(),
                tensor,
                index: i,
                value: w[i],
            }
            .into());
        }
    }
    Ok(())
}
