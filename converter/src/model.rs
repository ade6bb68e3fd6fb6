//! The trained DNN as the converter takes it: a sequence of PyTorch-style layers, validated
//! once, with every layer's output shape inferred.
//!
//! Tensors are channel-major (C, H, W); weights keep PyTorch's layouts (conv
//! `[c_out][c_in][kh][kw]`, dense `[out][in]`), so an exported state dict loads as is. A dense
//! layer accepts any input shape and flattens it channel-major, as `torch.flatten` does.
//!
//! Output extent per axis of a conv or pool: `(in + 2 * padding - kernel) / stride + 1`
//! (floor, PyTorch's default `ceil_mode=False`). Pool padding is at most half the kernel
//! (PyTorch's rule). Validation is linear in the number of weights (each is checked finite).
//!
//! # Residual networks
//! Two layers refer back to an earlier tensor, named by a [`Source`] over DNN layer indices
//! (`Source::Layer(j)` is the output of layer `j`, `Source::Input` the network's input):
//! [`Layer::Shortcut`] adds it (or a conv of it) to the pre-activation of the conv or dense
//! layer before it, as `relu(bn(conv(x)) + shortcut(x))` does; [`Layer::Concat`] appends its
//! channels to the current tensor's (`torch.cat([current, earlier], dim=1)`) for the conv or
//! dense layer after it. The earlier tensor must be one the spiking network has neurons for (a
//! *spiking* tensor: the input, a ReLU's output, or a pool or flatten of a spiking tensor), and
//! a join needs neurons of its own: a shortcut is followed by a ReLU. docs/semantics.md,
//! "Branches and joins", gives the laws.

pub use tdsnn_engine::graph::Source;
use tdsnn_engine::graph::MAX_LAYER_NEURONS;
use tdsnn_engine::{Shape, Window};

use crate::error::ModelError;

/// A conv or dense layer's outputs, weights and bias, borrowed mutably
/// ([`DnnLayer::parameters_mut`]).
pub type ParametersMut<'a> = (u32, &'a mut Vec<f32>, &'a mut Option<Vec<f32>>);

/// One layer of a DNN, in PyTorch's terms, holding a `T` for each weight or bias tensor:
/// the values ([`DnnLayer`], a layer of a [`Dnn`]) or nothing ([`LayerSpec`], a layer of an
/// [`Architecture`]). One definition, so the two cannot drift apart.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer<T> {
    /// 2-D convolution with zero padding (`torch.nn.Conv2d`, no groups, no dilation).
    Conv2d {
        /// Output channels.
        out_channels: u32,
        /// Kernel, stride and padding.
        window: Window,
        /// Weights in PyTorch layout `[c_out][c_in][kh][kw]`.
        weights: T,
        /// One bias per output channel, if any.
        bias: Option<T>,
    },
    /// Fully connected layer (`torch.nn.Linear`) on the channel-major flattened input.
    Dense {
        /// Number of outputs.
        outputs: u32,
        /// Weights in PyTorch layout `[out][in]`.
        weights: T,
        /// One bias per output, if any.
        bias: Option<T>,
    },
    /// Max pooling; padded positions are ignored (PyTorch pads with `-inf`).
    MaxPool {
        /// Kernel, stride and padding (padding at most half the kernel).
        window: Window,
    },
    /// Average pooling that always divides by `kh * kw`; padded positions count as 0
    /// (PyTorch's `count_include_pad=True`).
    AvgPool {
        /// Kernel, stride and padding (padding at most half the kernel).
        window: Window,
    },
    /// Reinterpret (C, H, W) as a flat vector, channel-major.
    Flatten,
    /// `max(x, 0)`.
    Relu,
    /// Adds an earlier tensor, or a conv of it, to the output of the layer before, which must
    /// be a conv2d or dense layer (or another shortcut): `conv(x) + shortcut(x)` of a residual
    /// block. A ReLU must follow (a join needs neurons of its own).
    Shortcut {
        /// The earlier tensor: a spiking one (the input, a ReLU's output, or a pool or
        /// flatten of a spiking tensor).
        from: Source,
        /// `None`: the identity (the earlier tensor has the current shape); otherwise a conv
        /// of it giving the current shape (a projection shortcut, a 1x1 strided conv with its
        /// BatchNorm folded in).
        projection: Option<Projection<T>>,
    },
    /// Appends an earlier tensor's channels after the current tensor's
    /// (`torch.cat([current, earlier], dim=1)`, same height and width), for the conv2d or
    /// dense layer that must follow (or another concat). Both tensors must be spiking.
    Concat {
        /// The earlier tensor (a spiking one).
        from: Source,
    },
}

/// The conv of a projection shortcut ([`Layer::Shortcut`]): its output channels are the
/// current tensor's, its input channels the earlier tensor's.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection<T> {
    /// Kernel, stride and padding.
    pub window: Window,
    /// Weights in PyTorch layout `[c_out][c_in][kh][kw]`.
    pub weights: T,
    /// One bias per output channel, if any.
    pub bias: Option<T>,
}

/// A layer with its weights and biases: a layer of a [`Dnn`].
pub type DnnLayer = Layer<Vec<f32>>;

/// A layer without weights, its bias only said to be there (`Some(())`) or not: a layer of
/// an [`Architecture`].
pub type LayerSpec = Layer<()>;

impl<T> Layer<T> {
    /// Short lower-case name of the layer kind, as in the engine: `conv2d`, `dense`,
    /// `max_pool`, `avg_pool`, `flatten`, `relu`; and `shortcut`, `concat`.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Conv2d { .. } => "conv2d",
            Layer::Dense { .. } => "dense",
            Layer::MaxPool { .. } => "max_pool",
            Layer::AvgPool { .. } => "avg_pool",
            Layer::Flatten => "flatten",
            Layer::Relu => "relu",
            Layer::Shortcut { .. } => "shortcut",
            Layer::Concat { .. } => "concat",
        }
    }

    /// Whether the layer's output is a spiking tensor (one the spiking network has neurons
    /// for, which a shortcut or concat may name) when its input is one (`input`): a ReLU's
    /// output always is (and a concat's, whose parts must be), a conv2d, dense or shortcut
    /// output (a pre-activation) never, a pool's or flatten's if its input is.
    pub fn output_spiking(&self, input: bool) -> bool {
        match self {
            Layer::Relu | Layer::Concat { .. } => true,
            Layer::Conv2d { .. } | Layer::Dense { .. } | Layer::Shortcut { .. } => false,
            Layer::MaxPool { .. } | Layer::AvgPool { .. } | Layer::Flatten => input,
        }
    }

    /// The earlier tensor a shortcut or concat refers to.
    pub fn source(&self) -> Option<Source> {
        match self {
            Layer::Shortcut { from, .. } | Layer::Concat { from } => Some(*from),
            _ => None,
        }
    }

    /// Whether the layer sums weighted inputs (dense, conv2d, avg-pool): in the reference DNN
    /// it sees `G` of its input, in the SNN it has its own release. A shortcut is not: it
    /// adds to the layer before it.
    pub fn is_synaptic(&self) -> bool {
        matches!(
            self,
            Layer::Conv2d { .. } | Layer::Dense { .. } | Layer::AvgPool { .. }
        )
    }

    /// The sliding window of a conv or pool layer (or of a shortcut's projection).
    pub fn window(&self) -> Option<&Window> {
        match self {
            Layer::Conv2d { window, .. }
            | Layer::MaxPool { window }
            | Layer::AvgPool { window } => Some(window),
            Layer::Shortcut {
                projection: Some(p),
                ..
            } => Some(&p.window),
            _ => None,
        }
    }

    /// The same layer holding `tensor(name, shape, t)` for each of its tensors `t`: `name` is
    /// `weight` or `bias`, `shape` the tensor's shape in PyTorch's layout when the layer's
    /// input has shape `input` (conv weights `[out_channels, in_channels, kh, kw]`, dense
    /// weights `[outputs, inputs]`, biases `[outputs]`; a projection shortcut's weights
    /// `[input.c, c, kh, kw]` where `c` is the channels of its earlier tensor, whose shape
    /// `shape_of` gives). Fills an [`Architecture`]'s layers with values, or leaves a
    /// [`Dnn`]'s values out ([`spec`](Layer::spec)).
    ///
    /// # Example
    /// ```
    /// use tdsnn_converter::{DnnLayer, LayerSpec, Shape};
    /// let spec = LayerSpec::Dense { outputs: 2, weights: (), bias: Some(()) };
    /// let layer = spec.try_map(Shape::flat(3), &|_| Shape::flat(3), |_, shape, ()| {
    ///     Ok::<_, ()>(vec![0.5; shape.iter().product::<u64>() as usize])
    /// });
    /// assert_eq!(layer, Ok(DnnLayer::Dense { outputs: 2, weights: vec![0.5; 6], bias: Some(vec![0.5; 2]) }));
    /// ```
    pub fn try_map<U, E>(
        &self,
        input: Shape,
        shape_of: &dyn Fn(Source) -> Shape,
        mut tensor: impl FnMut(&'static str, &[u64], &T) -> Result<U, E>,
    ) -> Result<Layer<U>, E> {
        let mut both = |outputs: u32, weight_shape: &[u64], weights: &T, bias: &Option<T>| {
            let weights = tensor("weight", weight_shape, weights)?;
            let bias = match bias {
                Some(b) => Some(tensor("bias", &[u64::from(outputs)], b)?),
                None => None,
            };
            Ok((weights, bias))
        };
        Ok(match self {
            Layer::Conv2d {
                out_channels,
                window,
                weights,
                bias,
            } => {
                let [kh, kw] = window.kernel;
                let shape = [*out_channels, input.c, kh, kw].map(u64::from);
                let (weights, bias) = both(*out_channels, &shape, weights, bias)?;
                Layer::Conv2d {
                    out_channels: *out_channels,
                    window: *window,
                    weights,
                    bias,
                }
            }
            Layer::Dense {
                outputs,
                weights,
                bias,
            } => {
                let shape = [u64::from(*outputs), input.len()];
                let (weights, bias) = both(*outputs, &shape, weights, bias)?;
                Layer::Dense {
                    outputs: *outputs,
                    weights,
                    bias,
                }
            }
            Layer::MaxPool { window } => Layer::MaxPool { window: *window },
            Layer::AvgPool { window } => Layer::AvgPool { window: *window },
            Layer::Flatten => Layer::Flatten,
            Layer::Relu => Layer::Relu,
            Layer::Shortcut { from, projection } => Layer::Shortcut {
                from: *from,
                projection: match projection {
                    None => None,
                    Some(p) => {
                        let [kh, kw] = p.window.kernel;
                        let shape = [input.c, shape_of(*from).c, kh, kw].map(u64::from);
                        let (weights, bias) = both(input.c, &shape, &p.weights, &p.bias)?;
                        Some(Projection {
                            window: p.window,
                            weights,
                            bias,
                        })
                    }
                },
            },
            Layer::Concat { from } => Layer::Concat { from: *from },
        })
    }

    /// The layer without its tensors: kind and geometry, and whether it has a bias.
    pub fn spec(&self) -> LayerSpec {
        let kept = self.try_map(Shape::flat(1), &|_| Shape::flat(1), |_, _, _| {
            Ok::<_, std::convert::Infallible>(())
        });
        match kept {
            Ok(spec) => spec,
            Err(never) => match never {},
        }
    }
}

impl DnnLayer {
    /// A conv or dense layer's outputs (channels for a conv), weights and bias, mutably:
    /// each output's weights are one contiguous row of `weights` in PyTorch layouts.
    pub fn parameters_mut(&mut self) -> Option<ParametersMut<'_>> {
        match self {
            DnnLayer::Conv2d {
                out_channels: n,
                weights,
                bias,
                ..
            }
            | DnnLayer::Dense {
                outputs: n,
                weights,
                bias,
            } => Some((*n, weights, bias)),
            _ => None,
        }
    }
}

/// A network's architecture: input shape and layers, no weights. A model file stores one
/// beside the weights (`tdsnn-io`); [`Architecture::build`] puts the two together.
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    /// Input shape (C, H, W).
    pub input: Shape,
    /// The layers, in order.
    pub layers: Vec<LayerSpec>,
}

impl Architecture {
    /// LeNet-5 as the paper uses it: conv 20@5x5, max-pool 2, conv 50@5x5, max-pool 2,
    /// dense 500, dense 10, ReLU, on 1x28x28 (the shipped models' architecture; 2,293,000
    /// multiply-accumulates, see [`ops`](crate::ops)).
    pub fn lenet5() -> Architecture {
        let conv = |out_channels| LayerSpec::Conv2d {
            out_channels,
            window: Window::square(5, 1, 0),
            weights: (),
            bias: Some(()),
        };
        let pool = LayerSpec::MaxPool {
            window: Window::square(2, 2, 0),
        };
        let dense = |outputs| LayerSpec::Dense {
            outputs,
            weights: (),
            bias: Some(()),
        };
        Architecture {
            input: Shape::new(1, 28, 28),
            layers: vec![
                conv(20),
                LayerSpec::Relu,
                pool.clone(),
                conv(50),
                LayerSpec::Relu,
                pool,
                LayerSpec::Flatten,
                dense(500),
                LayerSpec::Relu,
                dense(10),
            ],
        }
    }

    /// Builds the DNN, asking `tensor(k, name, shape)` for the values of layer `k`'s
    /// `weight` or `bias` tensor, whose shape in PyTorch's layout is `shape` (see
    /// [`Layer::try_map`]). An error of `tensor` is returned as is (outside); a network
    /// that does not fit together, as the inner [`ModelError`], naming the layer.
    ///
    /// # Example
    /// ```
    /// use tdsnn_converter::model::Architecture;
    /// # fn main() -> Result<(), tdsnn_converter::ModelError> {
    /// let zeros = |_, _, shape: &[u64]| Ok::<_, ()>(vec![0.0; shape.iter().product::<u64>() as usize]);
    /// let dnn = Architecture::lenet5().build(zeros).unwrap()?;
    /// assert_eq!(dnn.parameter_count(), 431_080);
    /// assert_eq!(Architecture::of(&dnn), Architecture::lenet5());
    /// # Ok(()) }
    /// ```
    pub fn build<E>(
        &self,
        mut tensor: impl FnMut(usize, &'static str, &[u64]) -> Result<Vec<f32>, E>,
    ) -> Result<Result<Dnn, ModelError>, E> {
        let mut shape = self.input;
        let mut shapes: Vec<Shape> = Vec::with_capacity(self.layers.len());
        let mut layers = Vec::with_capacity(self.layers.len());
        for (k, spec) in self.layers.iter().enumerate() {
            let earlier = |s: Source| earlier_shape(self.input, &shapes, s);
            // A source that is not an earlier tensor fails validation below.
            let shape_of = |s: Source| earlier(s).unwrap_or(Shape::flat(1));
            let layer = spec.try_map(shape, &shape_of, |name, dims, ()| tensor(k, name, dims))?;
            // The next layer's tensor shapes follow from this layer's output shape.
            shape = match layer.output_shape(k, shape, &earlier) {
                Ok(s) => s,
                Err(e) => return Ok(Err(e)),
            };
            shapes.push(shape);
            layers.push(layer);
        }
        Ok(Dnn::new(self.input, layers))
    }

    /// The architecture of a DNN (its weights left out).
    pub fn of(dnn: &Dnn) -> Architecture {
        Architecture {
            input: dnn.input_shape(),
            layers: dnn.layers().iter().map(Layer::spec).collect(),
        }
    }
}

/// A validated DNN: its input shape, its layers and every layer's output shape.
///
/// # Example
/// ```
/// use tdsnn_converter::{Dnn, DnnLayer, Shape, Window};
/// # fn main() -> Result<(), tdsnn_converter::ModelError> {
/// let dnn = Dnn::new(
///     Shape::new(1, 4, 4),
///     vec![
///         DnnLayer::Conv2d {
///             out_channels: 2,
///             window: Window::square(3, 1, 1),
///             weights: vec![0.1; 2 * 1 * 3 * 3],
///             bias: Some(vec![0.0, 0.1]),
///         },
///         DnnLayer::Relu,
///         DnnLayer::MaxPool { window: Window::square(2, 2, 0) },
///         DnnLayer::Dense { outputs: 3, weights: vec![0.2; 3 * 8], bias: None },
///     ],
/// )?;
/// assert_eq!(dnn.output_shape(2), Shape::new(2, 2, 2));
/// assert_eq!(dnn.output_shape(3), Shape::flat(3));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dnn {
    input: Shape,
    layers: Vec<DnnLayer>,
    shapes: Vec<Shape>,
}

impl Dnn {
    /// Validates `layers` on `input` and infers every layer's output shape.
    ///
    /// Checks: at least one layer; every shape holds 1 to
    /// [`MAX_LAYER_NEURONS`] values (the engine's
    /// limit); kernels, strides and output counts non-zero; pool padding at most half the
    /// kernel; windows fit the padded input; weight and bias sizes match; every weight and
    /// bias finite; shortcuts and concats refer to an earlier spiking tensor of a fitting
    /// shape, a shortcut follows a conv2d or dense layer and is followed by a ReLU, a concat
    /// joins spiking tensors and is followed by a conv2d or dense layer (see the
    /// [module docs](self)). The first problem is returned, naming the layer.
    pub fn new(input: Shape, layers: Vec<DnnLayer>) -> Result<Dnn, ModelError> {
        if input.is_empty() || input.len() > MAX_LAYER_NEURONS {
            return Err(ModelError::InputShape {
                shape: input,
                max: MAX_LAYER_NEURONS,
            });
        }
        if layers.is_empty() {
            return Err(ModelError::NoLayers);
        }
        if layers.len() > tdsnn_engine::graph::MAX_LAYERS {
            return Err(ModelError::TooManyLayers {
                count: layers.len(),
                max: tdsnn_engine::graph::MAX_LAYERS,
            });
        }
        let mut shapes = Vec::with_capacity(layers.len());
        let mut shape = input;
        for (index, layer) in layers.iter().enumerate() {
            let earlier = |s: Source| earlier_shape(input, &shapes, s);
            shape = layer.output_shape(index, shape, &earlier)?;
            if shape.is_empty() || shape.len() > MAX_LAYER_NEURONS {
                return Err(geometry(
                    index,
                    layer,
                    format!("output shape {shape} must hold 1 to {MAX_LAYER_NEURONS} values"),
                ));
            }
            check_finite(index, layer)?;
            shapes.push(shape);
        }
        check_joins(&layers)?;
        Ok(Dnn {
            input,
            layers,
            shapes,
        })
    }

    /// The input shape.
    pub fn input_shape(&self) -> Shape {
        self.input
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[DnnLayer] {
        &self.layers
    }

    /// Weights and biases of every conv and dense layer, counted as PyTorch counts a model's
    /// parameters.
    pub fn parameter_count(&self) -> u64 {
        self.layers
            .iter()
            .map(|l| match l {
                DnnLayer::Conv2d { weights, bias, .. }
                | DnnLayer::Dense { weights, bias, .. }
                | DnnLayer::Shortcut {
                    projection: Some(Projection { weights, bias, .. }),
                    ..
                } => (weights.len() + bias.as_ref().map_or(0, Vec::len)) as u64,
                _ => 0,
            })
            .sum()
    }

    /// Output shape of layer `k`. Panics if `k` is out of range.
    pub fn output_shape(&self, k: usize) -> Shape {
        self.shapes[k]
    }

    /// Every layer's output shape, in order.
    pub fn output_shapes(&self) -> &[Shape] {
        &self.shapes
    }

    /// Input shape of layer `k`: the previous layer's output, or the network input.
    /// Panics if `k` is out of range.
    pub fn input_shape_of(&self, k: usize) -> Shape {
        assert!(k < self.layers.len(), "layer {k} of {}", self.layers.len());
        if k == 0 {
            self.input
        } else {
            self.shapes[k - 1]
        }
    }

    /// The network's final output shape.
    pub fn final_shape(&self) -> Shape {
        // `new` rejects an empty layer list.
        self.shapes[self.shapes.len() - 1]
    }

    /// Takes the network apart: input shape and layers.
    pub fn into_parts(self) -> (Shape, Vec<DnnLayer>) {
        (self.input, self.layers)
    }
}

/// The shape of tensor `source` when `shapes` are the output shapes of the layers so far
/// (`None` for a layer not among them).
fn earlier_shape(input: Shape, shapes: &[Shape], source: Source) -> Option<Shape> {
    match source {
        Source::Input => Some(input),
        Source::Layer(j) => shapes.get(j).copied(),
    }
}

fn geometry(layer: usize, l: &DnnLayer, what: String) -> ModelError {
    ModelError::Geometry {
        layer,
        kind: l.kind(),
        what,
    }
}

fn check_len(
    index: usize,
    layer: &DnnLayer,
    tensor: &'static str,
    len: usize,
    expected: u64,
) -> Result<(), ModelError> {
    if len as u64 != expected {
        return Err(ModelError::TensorSize {
            layer: index,
            kind: layer.kind(),
            tensor,
            len,
            expected,
        });
    }
    Ok(())
}

impl DnnLayer {
    /// The output shape of this layer on an input of shape `input`, its geometry and its
    /// tensors' sizes checked; `index`, the layer's place in its network, is what errors
    /// name. [`Dnn::new`] checks every layer this way (and bounds each shape's size, and the
    /// values' finiteness); a reader that builds a network layer by layer (a model file's
    /// architecture, an ONNX graph) learns each next layer's input from it.
    ///
    /// # Example
    /// ```
    /// use tdsnn_converter::{DnnLayer, Shape, Window};
    /// # fn main() -> Result<(), tdsnn_converter::ModelError> {
    /// let none = |_| None; // no earlier tensors to refer to
    /// let pool = DnnLayer::MaxPool { window: Window::square(2, 2, 0) };
    /// assert_eq!(pool.output_shape(0, Shape::new(3, 8, 8), &none)?, Shape::new(3, 4, 4));
    /// let dense = DnnLayer::Dense { outputs: 2, weights: vec![0.0; 5], bias: None };
    /// assert!(dense.output_shape(1, Shape::flat(3), &none).is_err()); // 6 weights expected
    /// # Ok(()) }
    /// ```
    ///
    /// A shortcut or concat refers to an earlier tensor: `earlier` gives the shape of each
    /// earlier tensor, `None` for a source that is not one (an error). Whether that tensor is
    /// a spiking one, and what surrounds the layer, is [`Dnn::new`]'s to check.
    pub fn output_shape(
        &self,
        index: usize,
        input: Shape,
        earlier: &dyn Fn(Source) -> Option<Shape>,
    ) -> Result<Shape, ModelError> {
        let layer = self;
        let windowed = |window: &Window, channels: u32, pool: bool| -> Result<Shape, ModelError> {
            window
                .output_shape(input, channels, pool)
                .map_err(|what| geometry(index, layer, what))
        };
        match layer {
            DnnLayer::Dense {
                outputs,
                weights,
                bias,
            } => {
                if *outputs == 0 {
                    return Err(geometry(index, layer, "0 outputs".into()));
                }
                check_len(
                    index,
                    layer,
                    "weights",
                    weights.len(),
                    input.len().saturating_mul(u64::from(*outputs)),
                )?;
                if let Some(b) = bias {
                    check_len(index, layer, "bias", b.len(), u64::from(*outputs))?;
                }
                Ok(Shape::flat(*outputs))
            }
            DnnLayer::Conv2d {
                out_channels,
                window,
                weights,
                bias,
            } => {
                if *out_channels == 0 {
                    return Err(geometry(index, layer, "0 output channels".into()));
                }
                let out = windowed(window, *out_channels, false)?;
                let expected = Shape::new(input.c, window.kernel[0], window.kernel[1])
                    .len()
                    .saturating_mul(u64::from(*out_channels));
                check_len(index, layer, "weights", weights.len(), expected)?;
                if let Some(b) = bias {
                    check_len(index, layer, "bias", b.len(), u64::from(*out_channels))?;
                }
                Ok(out)
            }
            DnnLayer::MaxPool { window } | DnnLayer::AvgPool { window } => {
                windowed(window, input.c, true)
            }
            // The input already holds at most MAX_LAYER_NEURONS (< 2^32) values.
            DnnLayer::Flatten => Ok(Shape::flat(u32::try_from(input.len()).map_err(|_| {
                geometry(index, layer, format!("{input} is too large to flatten"))
            })?)),
            DnnLayer::Relu => Ok(input),
            DnnLayer::Shortcut { from, projection } => {
                let source = earlier(*from).ok_or_else(|| not_earlier(index, layer, *from))?;
                match projection {
                    None => {
                        let flat = (input.h, input.w) == (1, 1) && source.len() == input.len();
                        if source != input && !flat {
                            return Err(join(
                                index,
                                layer,
                                format!(
                                    "an identity shortcut adds {from} ({source}) to {input}: \
                                     the shapes differ (a projection would fit them)"
                                ),
                            ));
                        }
                    }
                    Some(p) => {
                        let out =
                            p.window
                                .output_shape(source, input.c, false)
                                .map_err(|what| {
                                    geometry(index, layer, format!("projection: {what}"))
                                })?;
                        if out != input {
                            return Err(join(
                                index,
                                layer,
                                format!(
                                    "the projection gives {out} from {from} ({source}), the \
                                     layer before gives {input}"
                                ),
                            ));
                        }
                        let expected = Shape::new(source.c, p.window.kernel[0], p.window.kernel[1])
                            .len()
                            .saturating_mul(u64::from(input.c));
                        check_len(index, layer, "weights", p.weights.len(), expected)?;
                        if let Some(b) = &p.bias {
                            check_len(index, layer, "bias", b.len(), u64::from(input.c))?;
                        }
                    }
                }
                Ok(input)
            }
            DnnLayer::Concat { from } => {
                let source = earlier(*from).ok_or_else(|| not_earlier(index, layer, *from))?;
                if (source.h, source.w) != (input.h, input.w) {
                    return Err(join(
                        index,
                        layer,
                        format!(
                            "concatenates {from} ({source}) to {input} along channels: the \
                             heights and widths differ"
                        ),
                    ));
                }
                let c = input.c.checked_add(source.c).ok_or_else(|| {
                    geometry(
                        index,
                        layer,
                        format!("{input} and {source}: too many channels"),
                    )
                })?;
                Ok(Shape::new(c, input.h, input.w))
            }
        }
    }
}

fn join(layer: usize, l: &DnnLayer, what: String) -> ModelError {
    ModelError::Join {
        layer,
        kind: l.kind(),
        what,
    }
}

fn not_earlier(index: usize, layer: &DnnLayer, from: Source) -> ModelError {
    join(
        index,
        layer,
        format!("refers to {from}, which is not an earlier layer"),
    )
}

/// The rules of joins (see the [module docs](self)), over a network whose shapes fit: every
/// shortcut or concat refers to a spiking tensor, a shortcut follows a conv2d or dense layer
/// (or a shortcut) and is followed by a ReLU (or a shortcut), a concat joins onto a spiking
/// tensor and is followed by a conv2d or dense layer (or a concat).
fn check_joins(layers: &[DnnLayer]) -> Result<(), ModelError> {
    // Whether each layer's output is a spiking tensor (one the SNN has neurons for).
    let mut spiking: Vec<bool> = Vec::with_capacity(layers.len());
    for (k, layer) in layers.iter().enumerate() {
        let current = k == 0 || spiking[k - 1];
        let next = layers.get(k + 1);
        let fail = |what: String| Err(join(k, layer, what));
        if let Some(Source::Layer(j)) = layer.source() {
            let earlier = &layers[j];
            if !spiking[j] || matches!(earlier, DnnLayer::Concat { .. }) {
                let why = if matches!(earlier, DnnLayer::Concat { .. }) {
                    "a concatenation, which has no neurons of its own"
                } else {
                    "not a tensor the spiking network has neurons for (those are the input, \
                     a ReLU's output, and a pool or flatten of one)"
                };
                return fail(format!(
                    "refers to layer {j}'s output ({}), {why}",
                    earlier.kind()
                ));
            }
        }
        match layer {
            DnnLayer::Shortcut { .. } => {
                let after = k.checked_sub(1).map(|j| &layers[j]);
                if !matches!(
                    after,
                    Some(
                        DnnLayer::Conv2d { .. }
                            | DnnLayer::Dense { .. }
                            | DnnLayer::Shortcut { .. }
                    )
                ) {
                    return fail(
                        "must directly follow a conv2d or dense layer (or another shortcut), \
                         whose pre-activation it adds to"
                            .into(),
                    );
                }
                if !matches!(next, Some(DnnLayer::Relu | DnnLayer::Shortcut { .. })) {
                    return fail(
                        "is not followed by a ReLU: a join needs neurons of its own, so a \
                         shortcut (an Add) must be followed by a ReLU"
                            .into(),
                    );
                }
            }
            DnnLayer::Concat { .. } => {
                if !current {
                    return fail(format!(
                        "joins onto {}, a tensor the spiking network has no neurons for: a \
                         concat joins the input, ReLU outputs, and pools or flattens of them",
                        match k {
                            0 => "the input".to_string(),
                            _ => format!("layer {}'s output ({})", k - 1, layers[k - 1].kind()),
                        }
                    ));
                }
                if !matches!(
                    next,
                    Some(
                        DnnLayer::Conv2d { .. } | DnnLayer::Dense { .. } | DnnLayer::Concat { .. }
                    )
                ) {
                    return fail(
                        "must be followed by a conv2d or dense layer (or another concat), which \
                         takes one synapse group per part"
                            .into(),
                    );
                }
            }
            _ => {}
        }
        spiking.push(layer.output_spiking(current));
    }
    Ok(())
}

fn check_finite(index: usize, layer: &DnnLayer) -> Result<(), ModelError> {
    let (weights, bias) = match layer {
        DnnLayer::Conv2d { weights, bias, .. }
        | DnnLayer::Dense { weights, bias, .. }
        | DnnLayer::Shortcut {
            projection: Some(Projection { weights, bias, .. }),
            ..
        } => (weights, bias),
        _ => return Ok(()),
    };
    let tensors = [("weights", Some(weights)), ("bias", bias.as_ref())];
    for (tensor, values) in tensors {
        let Some(values) = values else { continue };
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite {
                layer: index,
                kind: layer.kind(),
                tensor,
                index: i,
                value: values[i],
            });
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The paper's LeNet-5 ([`Architecture::lenet5`]), weights 0.01, biases 0.
    pub(crate) fn lenet_layers() -> Vec<DnnLayer> {
        let values = |_, name, shape: &[u64]| {
            let v = if name == "bias" { 0.0 } else { 0.01 };
            Ok::<_, ()>(vec![v; shape.iter().product::<u64>() as usize])
        };
        let dnn = Architecture::lenet5().build(values).unwrap().unwrap();
        dnn.into_parts().1
    }

    #[test]
    fn lenet_shapes() {
        let dnn = Dnn::new(Shape::new(1, 28, 28), lenet_layers()).unwrap();
        let expected = [
            Shape::new(20, 24, 24),
            Shape::new(20, 24, 24),
            Shape::new(20, 12, 12),
            Shape::new(50, 8, 8),
            Shape::new(50, 8, 8),
            Shape::new(50, 4, 4),
            Shape::flat(800),
            Shape::flat(500),
            Shape::flat(500),
            Shape::flat(10),
        ];
        assert_eq!(dnn.output_shapes(), &expected);
        assert_eq!(dnn.input_shape_of(0), Shape::new(1, 28, 28));
        assert_eq!(dnn.input_shape_of(3), Shape::new(20, 12, 12));
        assert_eq!(dnn.final_shape(), Shape::flat(10));
    }

    #[test]
    fn dense_flattens_any_input() {
        let dnn = Dnn::new(
            Shape::new(2, 3, 4),
            vec![DnnLayer::Dense {
                outputs: 5,
                weights: vec![0.0; 5 * 24],
                bias: None,
            }],
        )
        .unwrap();
        assert_eq!(dnn.final_shape(), Shape::flat(5));
    }

    #[test]
    fn wrong_weight_count_names_the_layer() {
        let mut layers = lenet_layers();
        layers[3] = DnnLayer::Conv2d {
            out_channels: 50,
            window: Window::square(5, 1, 0),
            weights: vec![0.0; 50 * 25],
            bias: None,
        };
        let err = Dnn::new(Shape::new(1, 28, 28), layers).unwrap_err();
        assert_eq!(
            err,
            ModelError::TensorSize {
                layer: 3,
                kind: "conv2d",
                tensor: "weights",
                len: 1250,
                expected: 25_000,
            }
        );
        assert_eq!(
            err.to_string(),
            "layer 3 (conv2d): weights holds 1250 values, expected 25000"
        );
    }

    #[test]
    fn wrong_bias_count() {
        let err = Dnn::new(
            Shape::flat(2),
            vec![DnnLayer::Dense {
                outputs: 2,
                weights: vec![0.0; 4],
                bias: Some(vec![0.0; 3]),
            }],
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ModelError::TensorSize {
                layer: 0,
                tensor: "bias",
                len: 3,
                expected: 2,
                ..
            }
        ));
    }

    #[test]
    fn pool_padding_beyond_half_kernel() {
        for window in [Window::square(2, 2, 2), Window::square(3, 1, 2)] {
            for layer in [DnnLayer::MaxPool { window }, DnnLayer::AvgPool { window }] {
                let kind = layer.kind();
                let err = Dnn::new(Shape::new(1, 8, 8), vec![DnnLayer::Relu, layer]).unwrap_err();
                assert!(
                    matches!(err, ModelError::Geometry { layer: 1, kind: k, .. } if k == kind),
                    "{err}"
                );
            }
        }
        // Exactly half the kernel is allowed.
        let dnn = Dnn::new(
            Shape::new(1, 3, 3),
            vec![DnnLayer::MaxPool {
                window: Window::square(2, 2, 1),
            }],
        )
        .unwrap();
        assert_eq!(dnn.final_shape(), Shape::new(1, 2, 2));
        // A conv may pad more than half its kernel.
        let dnn = Dnn::new(
            Shape::new(1, 3, 3),
            vec![DnnLayer::Conv2d {
                out_channels: 1,
                window: Window::square(1, 1, 2),
                weights: vec![1.0],
                bias: None,
            }],
        )
        .unwrap();
        assert_eq!(dnn.final_shape(), Shape::new(1, 7, 7));
    }

    #[test]
    fn window_too_large_zero_stride_zero_outputs() {
        let err = Dnn::new(
            Shape::new(1, 3, 3),
            vec![DnnLayer::MaxPool {
                window: Window::square(4, 1, 0),
            }],
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ModelError::Geometry {
                layer: 0,
                kind: "max_pool",
                ..
            }
        ));
        let err = Dnn::new(
            Shape::new(1, 3, 3),
            vec![DnnLayer::AvgPool {
                window: Window::square(2, 0, 0),
            }],
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ModelError::Geometry {
                layer: 0,
                kind: "avg_pool",
                ..
            }
        ));
        let err = Dnn::new(
            Shape::flat(3),
            vec![DnnLayer::Dense {
                outputs: 0,
                weights: vec![],
                bias: None,
            }],
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ModelError::Geometry {
                layer: 0,
                kind: "dense",
                ..
            }
        ));
    }

    #[test]
    fn non_finite_weight_or_bias() {
        let err = Dnn::new(
            Shape::flat(2),
            vec![
                DnnLayer::Relu,
                DnnLayer::Dense {
                    outputs: 1,
                    weights: vec![1.0, f32::NAN],
                    bias: None,
                },
            ],
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ModelError::NonFinite {
                layer: 1,
                kind: "dense",
                tensor: "weights",
                index: 1,
                ..
            }
        ));
        let err = Dnn::new(
            Shape::flat(1),
            vec![DnnLayer::Dense {
                outputs: 1,
                weights: vec![1.0],
                bias: Some(vec![f32::INFINITY]),
            }],
        )
        .unwrap_err();
        assert!(matches!(err, ModelError::NonFinite { tensor: "bias", .. }));
    }

    #[test]
    fn empty_network_or_input() {
        assert_eq!(Dnn::new(Shape::flat(3), vec![]), Err(ModelError::NoLayers));
        assert!(matches!(
            Dnn::new(Shape::new(1, 0, 3), vec![DnnLayer::Relu]),
            Err(ModelError::InputShape { .. })
        ));
    }

    #[test]
    fn oversized_layer_is_rejected() {
        let err = Dnn::new(
            Shape::flat(1),
            vec![DnnLayer::Conv2d {
                out_channels: 1 << 14,
                window: Window::square(1, 1, 50),
                weights: vec![0.0; 1 << 14],
                bias: None,
            }],
        )
        .unwrap_err();
        assert!(
            matches!(err, ModelError::Geometry { layer: 0, .. }),
            "{err}"
        );
    }
}
