//! The DNN as a candle computation: trainable variables per synapse-based layer, and a
//! forward pass that puts the training activation in front of every synapse-based layer.

use candle_core::{Device, Tensor, Var, D};
use tdsnn_converter::{Dnn, DnnLayer, Window};

use crate::error::TrainError;

/// The activation in front of every synapse-based layer during training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// Plain ReLU (the network's own ReLU layers; inputs as they are).
    Relu,
    /// `G(x) = exp(T(x) / L)` (equation (11)), straight-through gradient.
    G {
        /// Leak constant `L`.
        leak: f64,
    },
    /// The staircase ReLU `G(x) - 1`, straight-through gradient; fold with
    /// [`fold_staircase`](tdsnn_converter::staircase::fold_staircase) to get the DNN(G).
    Staircase {
        /// Leak constant `L`.
        leak: f64,
    },
}

/// One layer's trainable variables.
#[derive(Debug)]
pub(crate) struct Params {
    pub(crate) weight: Var,
    pub(crate) bias: Option<Var>,
    /// Conv only: for each output position and kernel tap, the index of the input value in
    /// the padded, flattened (C, H, W) input (im2col as a gather).
    patches: Option<Tensor>,
}

/// The im2col gather indices of a conv on a padded input of shape (c, h, w): rows are the
/// output positions, columns the (c_in, ky, kx) taps, as the weights are laid out.
fn patch_indices(c: u32, h: u32, w: u32, window: &Window) -> Result<Tensor, TrainError> {
    let [kh, kw] = window.kernel;
    let [sh, sw] = window.stride;
    let (oh, ow) = ((h - kh) / sh + 1, (w - kw) / sw + 1);
    let mut idx = Vec::with_capacity((oh * ow * c * kh * kw) as usize);
    for oy in 0..oh {
        for ox in 0..ow {
            for ci in 0..c {
                for ky in 0..kh {
                    for kx in 0..kw {
                        idx.push((ci * h + oy * sh + ky) * w + ox * sw + kx);
                    }
                }
            }
        }
    }
    let n = idx.len();
    Ok(Tensor::from_vec(idx, n, &Device::Cpu)?)
}

/// A [`Dnn`] whose weights are candle variables.
#[derive(Debug)]
pub(crate) struct Net {
    dnn: Dnn,
    params: Vec<Option<Params>>,
}

fn var(values: &[f32], shape: &[usize]) -> Result<Var, TrainError> {
    Ok(Var::from_tensor(&Tensor::from_slice(
        values,
        shape,
        &Device::Cpu,
    )?)?)
}

impl Net {
    /// Variables initialised from `dnn`'s weights; errors for layers candle cannot train.
    pub(crate) fn new(dnn: &Dnn) -> Result<Net, TrainError> {
        let mut params = Vec::new();
        for (k, layer) in dnn.layers().iter().enumerate() {
            let unsupported = |what: &str| TrainError::Unsupported {
                layer: k,
                kind: layer.kind(),
                what: what.to_string(),
            };
            if let Some(w) = layer.window() {
                if w.stride[0] != w.stride[1] {
                    return Err(unsupported("non-square strides"));
                }
                if matches!(layer, DnnLayer::MaxPool { .. }) && w.padding != [0, 0] {
                    return Err(unsupported("padded max-pool"));
                }
                if !matches!(layer, DnnLayer::Conv2d { .. }) && w.kernel[0] != w.kernel[1] {
                    return Err(unsupported("non-square pool kernels"));
                }
            }
            if matches!(layer, DnnLayer::Shortcut { .. } | DnnLayer::Concat { .. }) {
                return Err(unsupported("branches (shortcuts and concats)"));
            }
            let input = dnn.input_shape_of(k);
            params.push(match layer {
                DnnLayer::Conv2d {
                    out_channels,
                    window,
                    weights,
                    bias,
                } => {
                    let taps = weights.len() / *out_channels as usize;
                    let [ph, pw] = window.padding;
                    let patches =
                        patch_indices(input.c, input.h + 2 * ph, input.w + 2 * pw, window)?;
                    Some(Params {
                        weight: var(weights, &[*out_channels as usize, taps])?,
                        bias: bias.as_ref().map(|b| var(b, &[b.len()])).transpose()?,
                        patches: Some(patches),
                    })
                }
                DnnLayer::Dense {
                    outputs,
                    weights,
                    bias,
                } => {
                    let shape = [*outputs as usize, input.len() as usize];
                    Some(Params {
                        weight: var(weights, &shape)?,
                        bias: bias.as_ref().map(|b| var(b, &[b.len()])).transpose()?,
                        patches: None,
                    })
                }
                _ => None,
            });
        }
        Ok(Net {
            dnn: dnn.clone(),
            params,
        })
    }

    /// All trainable variables.
    pub(crate) fn vars(&self) -> Vec<Var> {
        self.params
            .iter()
            .flatten()
            .flat_map(|p| std::iter::once(p.weight.clone()).chain(p.bias.clone()))
            .collect()
    }

    /// Logits `(batch, classes)` for a batch `(batch, C, H, W)`.
    pub(crate) fn forward(&self, x: &Tensor, activation: Activation) -> Result<Tensor, TrainError> {
        let mut x = x.clone();
        for (k, (layer, params)) in self.dnn.layers().iter().zip(&self.params).enumerate() {
            if layer.is_synaptic() {
                x = feed(&x, activation)?;
            }
            x = match (layer, params) {
                (
                    DnnLayer::Conv2d {
                        window,
                        out_channels,
                        ..
                    },
                    Some(p),
                ) => {
                    let [ph, pw] = window.padding.map(|p| p as usize);
                    // Zero padding after the activation, as the reference DNN does (docs/semantics.md); then the
                    // conv as a gather of patches and one matrix product (faster on CPU than
                    // candle's direct conv2d, and its backward is a scatter-add).
                    let padded = x.pad_with_zeros(2, ph, ph)?.pad_with_zeros(3, pw, pw)?;
                    let batch = padded.dim(0)?;
                    let patches = p.patches.as_ref().expect("conv layers have patches");
                    let taps = p.weight.as_tensor().dim(1)?;
                    let cols = padded
                        .flatten_from(1)?
                        .index_select(patches, 1)?
                        .reshape(((), taps))?;
                    let mut y = cols.matmul(&p.weight.as_tensor().t()?)?;
                    if let Some(b) = &p.bias {
                        y = y.broadcast_add(b.as_tensor())?;
                    }
                    let out = self.dnn.output_shape(k);
                    y.reshape((batch, (out.h * out.w) as usize, *out_channels as usize))?
                        .transpose(1, 2)?
                        .reshape((batch, out.c as usize, out.h as usize, out.w as usize))?
                }
                (DnnLayer::Dense { .. }, Some(p)) => {
                    let y = x.flatten_from(1)?.matmul(&p.weight.as_tensor().t()?)?;
                    match &p.bias {
                        Some(b) => y.broadcast_add(b.as_tensor())?,
                        None => y,
                    }
                }
                (DnnLayer::MaxPool { window }, _) => {
                    x.max_pool2d_with_stride(window.kernel[0] as usize, window.stride[0] as usize)?
                }
                (DnnLayer::AvgPool { window }, _) => {
                    let [ph, pw] = window.padding.map(|p| p as usize);
                    // Padded positions count as 0 in the average (count_include_pad).
                    x.pad_with_zeros(2, ph, ph)?
                        .pad_with_zeros(3, pw, pw)?
                        .avg_pool2d_with_stride(
                            window.kernel[0] as usize,
                            window.stride[0] as usize,
                        )?
                }
                (DnnLayer::Flatten, _) => x.flatten_from(1)?,
                (DnnLayer::Relu, _) => x.relu()?,
                (DnnLayer::Conv2d { .. } | DnnLayer::Dense { .. }, None) => {
                    unreachable!("params exist for weighted layers")
                }
                (DnnLayer::Shortcut { .. } | DnnLayer::Concat { .. }, _) => {
                    unreachable!("Net::new refuses branches")
                }
            };
        }
        Ok(x)
    }

    /// The network with the variables' current values.
    pub(crate) fn to_dnn(&self) -> Result<Dnn, TrainError> {
        let mut layers = self.dnn.layers().to_vec();
        for (layer, params) in layers.iter_mut().zip(&self.params) {
            let (
                Some(p),
                DnnLayer::Conv2d { weights, bias, .. } | DnnLayer::Dense { weights, bias, .. },
            ) = (params, layer)
            else {
                continue;
            };
            *weights = p.weight.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            if let (Some(b), Some(v)) = (bias.as_mut(), &p.bias) {
                *b = v.as_tensor().to_vec1::<f32>()?;
            }
        }
        Ok(Dnn::new(self.dnn.input_shape(), layers)?)
    }

    /// The class of every sample of a batch: the argmax of its logits.
    pub(crate) fn classes(logits: &Tensor) -> Result<Vec<usize>, TrainError> {
        let classes = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
        Ok(classes.into_iter().map(|c| c as usize).collect())
    }
}

/// The activation in front of a synapse-based layer, with a straight-through gradient:
/// `r + (act(r) - r).detach()` with `r = relu(x)`, so the forward value is `act(r)` and the
/// gradient is ReLU's (`ceil` has none in candle).
fn feed(x: &Tensor, activation: Activation) -> Result<Tensor, TrainError> {
    let (leak, offset) = match activation {
        Activation::Relu => return Ok(x.clone()),
        Activation::G { leak } => (leak, 0.0),
        Activation::Staircase { leak } => (leak, 1.0),
    };
    let r = x.relu()?;
    // G(r) = exp(ceil(L ln(r + 1)) / L); G(0) = 1.
    let g = ((((&r + 1.0)?.log()? * leak)?.ceil()? / leak)?.exp()? - offset)?;
    Ok((&r + (g - &r)?.detach())?)
}
