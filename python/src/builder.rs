//! Networks built from numpy weights, layer by layer, in PyTorch's terms and layouts.

use pyo3::prelude::*;
use tdsnn_converter::{Dnn, DnnLayer, Projection, Source};
use tdsnn_engine::{Shape, Window};

use crate::network::{Network, Til};
use crate::{arrays, errors};

/// A pair from an int or a pair of ints (PyTorch's `int or (int, int)`).
#[derive(FromPyObject)]
enum Pair {
    One(u32),
    Two(u32, u32),
}

impl Pair {
    fn get(&self) -> [u32; 2] {
        match *self {
            Pair::One(n) => [n, n],
            Pair::Two(a, b) => [a, b],
        }
    }
}

/// Where a shortcut or concat takes its tensor from: `"input"` or a layer index.
#[derive(FromPyObject)]
enum From {
    Layer(usize),
    Name(String),
}

impl From {
    fn source(&self) -> PyResult<Source> {
        match self {
            From::Layer(j) => Ok(Source::Layer(*j)),
            From::Name(s) if s == "input" => Ok(Source::Input),
            From::Name(s) => Err(errors::input(format!(
                "source {s:?}: expected \"input\" or the index of an earlier layer"
            ))),
        }
    }
}

/// A DNN built layer by layer from numpy weights, in PyTorch's layouts (conv
/// `(out, in, kh, kw)`, dense `(out, in)`), then converted (`build`).
///
/// Layer indices (for `shortcut` and `concat`) count every layer added, ReLUs included: the
/// output of layer `j`. The network ends in a conv or dense layer without a ReLU, the
/// output. Weights are read as float32; every check (shapes, finite values, a ReLU before
/// every synapse-based layer but the first) happens in `build`, naming the layer.
#[pyclass(module = "tdsnn")]
#[derive(Debug)]
pub struct Builder {
    input: Shape,
    layers: Vec<DnnLayer>,
}

impl Builder {
    /// Adds the pooling layer `layer` makes of its window.
    fn pool(
        mut slf: PyRefMut<'_, Self>,
        layer: fn(Window) -> DnnLayer,
        kernel: Pair,
        stride: Option<Pair>,
        padding: Pair,
    ) -> PyRefMut<'_, Self> {
        let stride = stride.map_or(kernel.get(), |s| s.get());
        slf.layers
            .push(layer(window(kernel.get(), stride, padding.get())));
        slf
    }
}

/// A window from a kernel, a stride and a padding.
fn window(kernel: [u32; 2], stride: [u32; 2], padding: [u32; 2]) -> Window {
    Window {
        kernel,
        stride,
        padding,
    }
}

/// A conv's output channels, kernel and weights from an `(out, in, kh, kw)` array.
fn conv_weights(weights: &Bound<'_, PyAny>) -> PyResult<(u32, [u32; 2], Vec<f32>)> {
    let (shape, values) = arrays::float32(weights, "conv weights")?;
    let [out, _, kh, kw] = shape[..] else {
        return Err(errors::input(format!(
            "conv weights have shape {shape:?}: expected (out, in, kh, kw)"
        )));
    };
    let dim = |d: usize| {
        u32::try_from(d).map_err(|_| errors::input(format!("dimension {d} is too large")))
    };
    Ok((dim(out)?, [dim(kh)?, dim(kw)?], values))
}

/// A bias vector, if given.
fn bias(bias: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<f32>>> {
    bias.map(|b| arrays::float32(b, "bias").map(|(_, v)| v))
        .transpose()
}

#[pymethods]
impl Builder {
    /// A network taking images of shape `input_shape` `(C, H, W)`.
    #[new]
    fn new(input_shape: (u32, u32, u32)) -> Self {
        let (c, h, w) = input_shape;
        Builder {
            input: Shape::new(c, h, w),
            layers: Vec::new(),
        }
    }

    /// Adds a 2-D convolution (`torch.nn.Conv2d`): `weights` `(out, in, kh, kw)`, `bias`
    /// `(out,)`, zero padding.
    #[pyo3(
        signature = (weights, bias=None, *, stride=Pair::One(1), padding=Pair::One(0)),
        text_signature = "(self, weights, bias=None, *, stride=1, padding=0)"
    )]
    fn conv2d<'py>(
        mut slf: PyRefMut<'py, Self>,
        weights: &Bound<'py, PyAny>,
        bias: Option<&Bound<'py, PyAny>>,
        stride: Pair,
        padding: Pair,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let (out_channels, kernel, weights) = conv_weights(weights)?;
        slf.layers.push(DnnLayer::Conv2d {
            out_channels,
            window: window(kernel, stride.get(), padding.get()),
            weights,
            bias: self::bias(bias)?,
        });
        Ok(slf)
    }

    /// Adds a fully connected layer (`torch.nn.Linear`) on the channel-major flattened
    /// input: `weights` `(out, in)`, `bias` `(out,)`.
    #[pyo3(signature = (weights, bias=None))]
    fn dense<'py>(
        mut slf: PyRefMut<'py, Self>,
        weights: &Bound<'py, PyAny>,
        bias: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let (shape, weights) = arrays::float32(weights, "dense weights")?;
        let [outputs, _] = shape[..] else {
            return Err(errors::input(format!(
                "dense weights have shape {shape:?}: expected (out, in)"
            )));
        };
        slf.layers.push(DnnLayer::Dense {
            outputs: u32::try_from(outputs).map_err(|_| errors::input("too many outputs"))?,
            weights,
            bias: self::bias(bias)?,
        });
        Ok(slf)
    }

    /// Adds a ReLU (converted to the spiking code; trained with G, it is G).
    fn relu(mut slf: PyRefMut<'_, Self>) -> PyRefMut<'_, Self> {
        slf.layers.push(DnnLayer::Relu);
        slf
    }

    /// Adds a flatten (channel-major, as `torch.flatten`).
    fn flatten(mut slf: PyRefMut<'_, Self>) -> PyRefMut<'_, Self> {
        slf.layers.push(DnnLayer::Flatten);
        slf
    }

    /// Adds max pooling (`torch.nn.MaxPool2d`; `stride` defaults to the kernel).
    #[pyo3(
        signature = (kernel, stride=None, padding=Pair::One(0)),
        text_signature = "(self, kernel, stride=None, padding=0)"
    )]
    fn max_pool(
        slf: PyRefMut<'_, Self>,
        kernel: Pair,
        stride: Option<Pair>,
        padding: Pair,
    ) -> PyRefMut<'_, Self> {
        Builder::pool(
            slf,
            |window| DnnLayer::MaxPool { window },
            kernel,
            stride,
            padding,
        )
    }

    /// Adds average pooling (`torch.nn.AvgPool2d`, padding counted as zeros; `stride`
    /// defaults to the kernel).
    #[pyo3(
        signature = (kernel, stride=None, padding=Pair::One(0)),
        text_signature = "(self, kernel, stride=None, padding=0)"
    )]
    fn avg_pool(
        slf: PyRefMut<'_, Self>,
        kernel: Pair,
        stride: Option<Pair>,
        padding: Pair,
    ) -> PyRefMut<'_, Self> {
        Builder::pool(
            slf,
            |window| DnnLayer::AvgPool { window },
            kernel,
            stride,
            padding,
        )
    }

    /// Adds a residual shortcut to the conv or dense layer just added: the output of layer
    /// `source` (or `"input"`), or with `weights` `(out, in, kh, kw)` a projection conv of
    /// it, is added to that layer's pre-activation. A ReLU must follow.
    #[pyo3(
        signature = (source, weights=None, bias=None, *, stride=Pair::One(1), padding=Pair::One(0)),
        text_signature = "(self, source, weights=None, bias=None, *, stride=1, padding=0)"
    )]
    fn shortcut<'py>(
        mut slf: PyRefMut<'py, Self>,
        source: From,
        weights: Option<&Bound<'py, PyAny>>,
        bias: Option<&Bound<'py, PyAny>>,
        stride: Pair,
        padding: Pair,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let projection = weights
            .map(|w| -> PyResult<Projection<Vec<f32>>> {
                let (_, kernel, weights) = conv_weights(w)?;
                Ok(Projection {
                    window: window(kernel, stride.get(), padding.get()),
                    weights,
                    bias: self::bias(bias)?,
                })
            })
            .transpose()?;
        slf.layers.push(DnnLayer::Shortcut {
            from: source.source()?,
            projection,
        });
        Ok(slf)
    }

    /// Appends the channels of layer `source`'s output (or `"input"`'s) to the current
    /// tensor's (`torch.cat([current, earlier], dim=1)`), for the conv or dense layer that
    /// must follow.
    fn concat(mut slf: PyRefMut<'_, Self>, source: From) -> PyResult<PyRefMut<'_, Self>> {
        slf.layers.push(DnnLayer::Concat {
            from: source.source()?,
        });
        Ok(slf)
    }

    /// Checks the layers and converts them with leak constant `leak` and inhibition time
    /// policy `til` (`"dynamic"` or a number of steps). Raises `NetworkError` naming the
    /// layer that does not fit.
    #[pyo3(signature = (leak, til=Til::dynamic()), text_signature = "(self, leak, til='dynamic')")]
    fn build(&self, leak: f64, til: Til) -> PyResult<Network> {
        let til = til.policy()?;
        let dnn = Dnn::new(self.input, self.layers.clone()).map_err(errors::model)?;
        Network::convert(dnn, leak, til, "built network".into(), false)
    }

    fn __len__(&self) -> usize {
        self.layers.len()
    }

    fn __repr__(&self) -> String {
        let kinds: Vec<&str> = self.layers.iter().map(|l| l.kind()).collect();
        format!("Builder({}, [{}])", self.input, kinds.join(", "))
    }
}
