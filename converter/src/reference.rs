//! The reference DNN in f64: what the converted SNN must equal (docs/semantics.md, "The reference DNN").
//!
//! Every synapse-based layer (dense, conv2d, avg-pool) sees `G` of its input, equation (11):
//! `A_j = sum_i W_ji * G(x_i) + b_j`, with `G(x) = exp(T(x) / L)` and `G(x) = 1` for `x <= 0`
//! ([`tdsnn_engine::coding::g`], the one definition of spike time). The input image
//! goes through `G` too. Zero padding is applied after `G`: a padded position contributes 0,
//! not `G(0) = 1`. Max-pool takes the max of `x` itself (padded positions ignored); since `G`
//! is monotone, `G(maxpool(x)) = maxpool(G(x))`. ReLU is `max(x, 0)`. The last layer's
//! values are the logits (for a convertible network: the output dense layer's `A`, no
//! activation), and the class is their argmax, the first index on exact equality.
//!
//! Residual networks (docs/semantics.md, "Branches and joins"): every synapse group sees `G`
//! of its source. A shortcut adds `G` of its earlier tensor (identity) or a conv of it plus
//! the projection's bias to the pre-activation of the conv or dense layer before it; a conv
//! or dense layer after a concat sees `G` of every part (the concat holds the parts' values,
//! `G` is applied as the layer reads them).
//!
//! [`relu_forward`] runs the same layers as a plain float network (no `G`), for comparison.
//!
//! Cost: one `G` per input of each synapse-based layer (a `log1p` and an `exp`), then one
//! f64 multiply-add per synapse: `c_in * kh * kw * N` for a conv, `in * out` for a dense.
//! Sums run in a fixed order (inputs in channel-major order, bias last), so results are
//! deterministic.

use tdsnn_engine::coding;
use tdsnn_engine::graph::check_leak;
use tdsnn_engine::record::argmax;
use tdsnn_engine::{Shape, Window};

use crate::error::ReferenceError;
use crate::model::{Dnn, DnnLayer, Source};
use crate::window::{input_position, max_pool_into, pool_into, valid_outputs};

/// The values one DNN layer produced.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerValues {
    /// The layer's kind (`conv2d`, `dense`, `max_pool`, ...).
    pub kind: &'static str,
    /// Whether the layer is synapse-based (dense, conv2d, avg-pool).
    pub synaptic: bool,
    /// The layer's output values, channel-major. For a synapse-based layer these are its
    /// pre-activations `A` (the ReLU, if any, is the next layer); for a conv or dense layer
    /// followed by shortcuts, the joined pre-activations, its shortcuts included (the values
    /// of its last shortcut, what the SNN layer's neurons integrate). A shortcut's values are
    /// the running sum up to it, a concat's the parts one after the other.
    pub values: Vec<f64>,
}

impl LayerValues {
    /// The pre-activations `A_j = sum_i W_ji * G(x_i) + b_j` of a synapse-based layer
    /// (`None` for other layers). A hidden SNN neuron fires `T(A_j)` steps after its layer's
    /// release.
    pub fn pre_activations(&self) -> Option<&[f64]> {
        self.synaptic.then_some(&self.values[..])
    }
}

/// What the reference DNN computed for one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The leak constant `L` used by `G`.
    pub leak: f64,
    /// Every DNN layer's output, in the order of [`Dnn::layers`].
    pub layers: Vec<LayerValues>,
    /// The last layer's values: the output dense layer's `A` for a convertible network.
    pub logits: Vec<f64>,
    /// `argmax` of the logits (the first index on exact equality).
    pub class: usize,
}

/// What the plain ReLU network computed for one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    /// The last layer's values.
    pub logits: Vec<f64>,
    /// `argmax` of the logits (the first index on exact equality).
    pub class: usize,
}

/// Runs the reference DNN (with `G` in front of every synapse-based layer) on one input of
/// `C * H * W` values, typically pixels in `[0, 1]`.
///
/// Errors if the input has the wrong length or a non-finite value, or if `leak` is not a
/// finite number in `[MIN_LEAK, MAX_LEAK]`.
///
/// # Example
/// ```
/// use tdsnn_converter::{reference_forward, Dnn, DnnLayer, Shape};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dnn = Dnn::new(
///     Shape::flat(2),
///     vec![DnnLayer::Dense { outputs: 2, weights: vec![1.0, 0.0, 0.0, 1.0], bias: None }],
/// )?;
/// // G(0) = 1; T(0.5) = ceil(5 ln 1.5) = 3, so G(0.5) = exp(3 / 5).
/// let r = reference_forward(&dnn, &[0.0, 0.5], 5.0)?;
/// assert_eq!(r.logits[0], 1.0);
/// assert!((r.logits[1] - 0.6f64.exp()).abs() < 1e-12);
/// assert_eq!(r.class, 1);
/// assert_eq!(r.layers[0].pre_activations(), Some(&r.logits[..]));
/// # Ok(()) }
/// ```
pub fn reference_forward(dnn: &Dnn, input: &[f32], leak: f64) -> Result<Reference, ReferenceError> {
    check_leak(leak).map_err(ReferenceError::InvalidLeak)?;
    let mut outputs = run(dnn, input, |x| coding::g(x, leak))?;
    // A conv or dense layer's A is its sum with its shortcuts': the last shortcut's values.
    for k in (0..outputs.len()).rev() {
        let joined = matches!(dnn.layers().get(k + 1), Some(DnnLayer::Shortcut { .. }));
        if joined && !matches!(dnn.layers()[k], DnnLayer::Shortcut { .. }) {
            let mut m = k + 1;
            while matches!(dnn.layers().get(m + 1), Some(DnnLayer::Shortcut { .. })) {
                m += 1;
            }
            outputs[k] = outputs[m].clone();
        }
    }
    let layers: Vec<LayerValues> = dnn
        .layers()
        .iter()
        .zip(outputs)
        .map(|(layer, values)| LayerValues {
            kind: layer.kind(),
            synaptic: layer.is_synaptic(),
            values,
        })
        .collect();
    // `Dnn::new` rejects an empty network.
    let logits = layers[layers.len() - 1].values.clone();
    Ok(Reference {
        leak,
        class: argmax(&logits),
        layers,
        logits,
    })
}

/// Runs the same layers as a plain float network: no `G`, synapse-based layers see their
/// input as is (padding still contributes 0).
///
/// Errors if the input has the wrong length or a non-finite value.
///
/// # Example
/// ```
/// use tdsnn_converter::{relu_forward, Dnn, DnnLayer, Shape};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dnn = Dnn::new(
///     Shape::flat(2),
///     vec![DnnLayer::Dense { outputs: 1, weights: vec![2.0, -1.0], bias: Some(vec![0.5]) }],
/// )?;
/// let f = relu_forward(&dnn, &[0.25, 1.0])?;
/// assert_eq!(f.logits, vec![0.0]); // 2 * 0.25 - 1 + 0.5
/// # Ok(()) }
/// ```
pub fn relu_forward(dnn: &Dnn, input: &[f32]) -> Result<Forward, ReferenceError> {
    let mut outputs = run(dnn, input, |x| x)?;
    let logits = outputs.pop().unwrap_or_default();
    Ok(Forward {
        class: argmax(&logits),
        logits,
    })
}

/// Runs the network with the staircase ReLU `H(x) = G(x) - 1` in front of every
/// synapse-based layer (the input included): the network a staircase-trained model computes
/// before [`fold_staircase`](crate::staircase::fold_staircase) turns it into a DNN(G).
///
/// Errors as [`reference_forward`].
pub fn staircase_forward(dnn: &Dnn, input: &[f32], leak: f64) -> Result<Forward, ReferenceError> {
    check_leak(leak).map_err(ReferenceError::InvalidLeak)?;
    let mut outputs = run(dnn, input, |x| coding::g(x, leak) - 1.0)?;
    let logits = outputs.pop().unwrap_or_default();
    Ok(Forward {
        class: argmax(&logits),
        logits,
    })
}

/// Runs every layer; `feed` maps the input of each synapse-based layer (`G`, or identity).
fn run(
    dnn: &Dnn,
    input: &[f32],
    feed: impl Fn(f64) -> f64,
) -> Result<Vec<Vec<f64>>, ReferenceError> {
    let shape = dnn.input_shape();
    if input.len() as u64 != shape.len() {
        return Err(ReferenceError::InputLength {
            len: input.len(),
            expected: shape.len(),
            shape,
        });
    }
    if let Some(index) = input.iter().position(|v| !v.is_finite()) {
        return Err(ReferenceError::NonFiniteInput {
            index,
            value: input[index],
        });
    }
    let input: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
    let mut outputs: Vec<Vec<f64>> = Vec::with_capacity(dnn.layers().len());
    for (k, layer) in dnn.layers().iter().enumerate() {
        let x = outputs.last().unwrap_or(&input);
        let (from, to) = (dnn.input_shape_of(k), dnn.output_shape(k));
        let fed = || -> Vec<f64> { x.iter().map(|&v| feed(v)).collect() };
        let earlier = |s: Source| match s {
            Source::Input => (&input, dnn.input_shape()),
            Source::Layer(j) => (&outputs[j], dnn.output_shape(j)),
        };
        let out = match layer {
            DnnLayer::Conv2d {
                window,
                weights,
                bias,
                ..
            } => conv2d(&fed(), from, to, window, weights, bias.as_deref()),
            DnnLayer::Dense { weights, bias, .. } => dense(&fed(), to, weights, bias.as_deref()),
            DnnLayer::AvgPool { window } => avg_pool(&fed(), from, to, window),
            DnnLayer::MaxPool { window } => max_pool(x, from, to, window),
            DnnLayer::Flatten => x.clone(),
            DnnLayer::Relu => x.iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect(),
            DnnLayer::Shortcut { from, projection } => {
                let (y, shape) = earlier(*from);
                let y: Vec<f64> = y.iter().map(|&v| feed(v)).collect();
                let added = match projection {
                    None => y,
                    Some(p) => conv2d(&y, shape, to, &p.window, &p.weights, p.bias.as_deref()),
                };
                x.iter().zip(&added).map(|(a, b)| a + b).collect()
            }
            DnnLayer::Concat { from } => x.iter().chain(earlier(*from).0).copied().collect(),
        };
        debug_assert_eq!(out.len() as u64, to.len(), "layer {k}");
        outputs.push(out);
    }
    Ok(outputs)
}

/// Conv2d with PyTorch weights `[c_out][c_in][kh][kw]`; padding contributes 0.
fn conv2d(
    g: &[f64],
    from: Shape,
    to: Shape,
    window: &Window,
    weights: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f64> {
    let [kh, kw] = window.kernel;
    let (hi, wi) = (from.h as usize, from.w as usize);
    let (ho, wo) = (to.h as usize, to.w as usize);
    let mut out = vec![0.0; to.len() as usize];
    for (co, plane) in out.chunks_exact_mut(ho * wo).enumerate() {
        for ci in 0..from.c as usize {
            let channel = &g[ci * hi * wi..(ci + 1) * hi * wi];
            for ky in 0..kh {
                let rows = valid_outputs(window, 0, ky, from.h, to.h);
                for kx in 0..kw {
                    let w = f64::from(
                        weights[((co * from.c as usize + ci) * kh as usize + ky as usize)
                            * kw as usize
                            + kx as usize],
                    );
                    let cols = valid_outputs(window, 1, kx, from.w, to.w);
                    if cols.is_empty() {
                        continue;
                    }
                    let first = input_position(window, 1, cols.start, kx);
                    for oy in rows.clone() {
                        let row = &channel[input_position(window, 0, oy, ky) * wi..][..wi];
                        let dst = &mut plane[oy * wo..(oy + 1) * wo][cols.clone()];
                        let src = row[first..].iter().step_by(window.stride[1] as usize);
                        for (d, &x) in dst.iter_mut().zip(src) {
                            *d += w * x;
                        }
                    }
                }
            }
        }
        if let Some(b) = bias {
            let b = f64::from(b[co]);
            plane.iter_mut().for_each(|v| *v += b);
        }
    }
    out
}

/// Dense with PyTorch weights `[out][in]` on the channel-major flattened input.
fn dense(g: &[f64], to: Shape, weights: &[f32], bias: Option<&[f32]>) -> Vec<f64> {
    (0..to.len() as usize)
        .map(|j| {
            let row = &weights[j * g.len()..(j + 1) * g.len()];
            let sum: f64 = row
                .iter()
                .zip(g)
                .fold(0.0, |acc, (&w, &x)| acc + f64::from(w) * x);
            sum + bias.map_or(0.0, |b| f64::from(b[j]))
        })
        .collect()
}

/// Average pool: the sum over real positions divided by `kh * kw` (padding contributes 0).
fn avg_pool(g: &[f64], from: Shape, to: Shape, window: &Window) -> Vec<f64> {
    let mut out = vec![0.0; to.len() as usize];
    pool_into(g, from, to, window, 0.0, |acc, v| acc + v, &mut out);
    let area = f64::from(window.kernel[0]) * f64::from(window.kernel[1]);
    out.iter_mut().for_each(|s| *s /= area);
    out
}

/// Max pool over real positions only (padding ignored; every window holds at least one real
/// position because padding is at most half the kernel).
fn max_pool(x: &[f64], from: Shape, to: Shape, window: &Window) -> Vec<f64> {
    let mut out = vec![f64::NEG_INFINITY; to.len() as usize];
    max_pool_into(x, from, to, window, f64::NEG_INFINITY, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: f64 = 5.0;

    /// `exp(t / 5)`: the worth of a spike at step `t` with `L = 5`, computed by hand.
    fn gain(t: u32) -> f64 {
        (f64::from(t) / L).exp()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(close(*g, *w), "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn dense_two_to_one() {
        // T(0.3) = ceil(5 ln 1.3) = ceil(1.312) = 2; T(0) = 0 so G(0) = 1.
        let dnn = Dnn::new(
            Shape::flat(2),
            vec![DnnLayer::Dense {
                outputs: 1,
                weights: vec![0.5, -1.0],
                bias: Some(vec![0.25]),
            }],
        )
        .unwrap();
        let r = reference_forward(&dnn, &[0.3, 0.0], L).unwrap();
        assert_close(&r.logits, &[0.5 * gain(2) - 1.0 + 0.25]);
        assert_eq!(r.layers[0].pre_activations(), Some(&r.logits[..]));
        assert_eq!(r.class, 0);
        // The plain network sees the input as is.
        let f = relu_forward(&dnn, &[0.3, 0.0]).unwrap();
        assert_close(&f.logits, &[0.5 * f64::from(0.3f32) + 0.25]);
        // Negative inputs have G = 1 as well.
        let r = reference_forward(&dnn, &[-0.7, -2.0], L).unwrap();
        assert_eq!(r.logits, vec![0.5 - 1.0 + 0.25]);
    }

    #[test]
    fn conv_padding_contributes_zero_not_g0() {
        // Input 1x2x2 of zeros: G = 1 everywhere. Kernel 3x3 with weights 1..9 (row-major),
        // padding 1: each output sums the kernel weights that land on the 2x2 input.
        let dnn = Dnn::new(
            Shape::new(1, 2, 2),
            vec![DnnLayer::Conv2d {
                out_channels: 1,
                window: Window::square(3, 1, 1),
                weights: (1..=9).map(|v| v as f32).collect(),
                bias: None,
            }],
        )
        .unwrap();
        let r = reference_forward(&dnn, &[0.0; 4], L).unwrap();
        // (0,0): kernel rows/cols 1..=2 -> 5+6+8+9; (0,1): rows 1..=2, cols 0..=1 -> 4+5+7+8;
        // (1,0): rows 0..=1, cols 1..=2 -> 2+3+5+6; (1,1): rows/cols 0..=1 -> 1+2+4+5.
        // Were padding G(0) = 1, every output would be 45.
        assert_eq!(r.logits, vec![28.0, 24.0, 16.0, 12.0]);

        // Same geometry, one non-zero pixel at (1,1) = 1.0: T(1) = ceil(5 ln 2) = 4.
        let r = reference_forward(&dnn, &[0.0, 0.0, 0.0, 1.0], L).unwrap();
        // Pixel (1,1) meets kernel (2,2)=9 at output (0,0), (2,1)=8 at (0,1),
        // (1,2)=6 at (1,0), (1,1)=5 at (1,1).
        let g = gain(4);
        assert_close(
            &r.logits,
            &[
                19.0 + 9.0 * g,
                16.0 + 8.0 * g,
                10.0 + 6.0 * g,
                7.0 + 5.0 * g,
            ],
        );
    }

    #[test]
    fn conv_two_channels_stride_bias() {
        // Input 2x1x3, two output channels, kernel 1x2, stride 1, no padding -> 2x1x2.
        let window = Window {
            kernel: [1, 2],
            stride: [1, 1],
            padding: [0, 0],
        };
        // weights [co][ci][0][kx]
        let weights = vec![
            1.0, 2.0, // co 0, ci 0
            3.0, 4.0, // co 0, ci 1
            -1.0, 0.5, // co 1, ci 0
            0.0, 1.0, // co 1, ci 1
        ];
        let dnn = Dnn::new(
            Shape::new(2, 1, 3),
            vec![DnnLayer::Conv2d {
                out_channels: 2,
                window,
                weights,
                bias: Some(vec![0.5, -1.0]),
            }],
        )
        .unwrap();
        // Channel 0 = [0, 1, 3] -> G = [1, e^.8, e^1.4] (T(1) = 4, T(3) = ceil(5 ln 4) = 7);
        // channel 1 = [0.3, 0, -1] -> G = [e^.4, 1, 1].
        let r = reference_forward(&dnn, &[0.0, 1.0, 3.0, 0.3, 0.0, -1.0], L).unwrap();
        let (a, b, c, d) = (1.0, gain(4), gain(7), gain(2));
        let want = [
            1.0 * a + 2.0 * b + 3.0 * d + 4.0 * 1.0 + 0.5,
            1.0 * b + 2.0 * c + 3.0 * 1.0 + 4.0 * 1.0 + 0.5,
            -a + 0.5 * b + 1.0 - 1.0,
            -b + 0.5 * c + 1.0 - 1.0,
        ];
        assert_close(&r.logits, &want);
        assert_eq!(r.class, 1);
    }

    #[test]
    fn avg_pool_divides_by_kernel_area() {
        // Input 1x2x2 = [0, 0.3; 1, 3]: G = [1, e^.4; e^.8, e^1.4].
        let input = [0.0, 0.3, 1.0, 3.0];
        let g = [1.0, gain(2), gain(4), gain(7)];
        let whole = Dnn::new(
            Shape::new(1, 2, 2),
            vec![DnnLayer::AvgPool {
                window: Window::square(2, 1, 0),
            }],
        )
        .unwrap();
        let r = reference_forward(&whole, &input, L).unwrap();
        assert_close(&r.logits, &[(g[0] + g[1] + g[2] + g[3]) / 4.0]);
        assert!(r.layers[0].pre_activations().is_some());
        // Kernel 2, stride 2, padding 1: each window holds one real position and three
        // padded ones, still divided by 4.
        let padded = Dnn::new(
            Shape::new(1, 2, 2),
            vec![DnnLayer::AvgPool {
                window: Window::square(2, 2, 1),
            }],
        )
        .unwrap();
        let r = reference_forward(&padded, &input, L).unwrap();
        assert_close(&r.logits, &[g[0] / 4.0, g[1] / 4.0, g[2] / 4.0, g[3] / 4.0]);
        let f = relu_forward(&padded, &input).unwrap();
        assert_eq!(f.logits, vec![0.0, f64::from(0.3f32) / 4.0, 0.25, 0.75]);
    }

    #[test]
    fn max_pool_ignores_padding_and_g() {
        // Negative values: a padded 0 would win if padding counted.
        let input = [-0.5, -2.0, -1.0, -3.0];
        let padded = Dnn::new(
            Shape::new(1, 2, 2),
            vec![DnnLayer::MaxPool {
                window: Window::square(2, 2, 1),
            }],
        )
        .unwrap();
        let r = reference_forward(&padded, &input, L).unwrap();
        assert_eq!(r.logits, vec![-0.5, -2.0, -1.0, -3.0]);
        assert_eq!(r.layers[0].pre_activations(), None);
        assert_eq!(r.class, 0);
        let whole = Dnn::new(
            Shape::new(1, 2, 2),
            vec![DnnLayer::MaxPool {
                window: Window::square(2, 1, 0),
            }],
        )
        .unwrap();
        assert_eq!(
            reference_forward(&whole, &input, L).unwrap().logits,
            vec![-0.5]
        );
        // Max-pool sees x, not G(x).
        assert_eq!(
            reference_forward(&whole, &[0.25, 0.75, 0.5, 0.0], L)
                .unwrap()
                .logits,
            vec![0.75]
        );
    }

    #[test]
    fn chain_conv_relu_pool_flatten_dense() {
        // 1x2x2 input -> conv 1x1 (weight -1, bias 0.5) -> relu -> maxpool 2 -> dense 1->2.
        let dnn = Dnn::new(
            Shape::new(1, 2, 2),
            vec![
                DnnLayer::Conv2d {
                    out_channels: 1,
                    window: Window::square(1, 1, 0),
                    weights: vec![-1.0],
                    bias: Some(vec![0.5]),
                },
                DnnLayer::Relu,
                DnnLayer::MaxPool {
                    window: Window::square(2, 2, 0),
                },
                DnnLayer::Flatten,
                DnnLayer::Dense {
                    outputs: 2,
                    weights: vec![1.0, -1.0],
                    bias: Some(vec![0.0, 2.0]),
                },
            ],
        )
        .unwrap();
        // Pixels [0, 0.3, 1, 3] -> G = [1, e^.4, e^.8, e^1.4] -> conv A = 0.5 - G.
        let input = [0.0, 0.3, 1.0, 3.0];
        let r = reference_forward(&dnn, &input, L).unwrap();
        let a = [-0.5, 0.5 - gain(2), 0.5 - gain(4), 0.5 - gain(7)];
        assert_close(&r.layers[0].values, &a);
        assert_eq!(r.layers[1].values, vec![0.0; 4]);
        assert_eq!(r.layers[2].values, vec![0.0]);
        assert_eq!(r.layers[3].values, vec![0.0]);
        // Dense sees G(0) = 1: logits [1, 1].
        assert_eq!(r.logits, vec![1.0, 1.0]);
        assert_eq!(r.class, 0, "first index on equality");
        // Plain network: conv = 0.5 - x = [0.5, 0.2, -0.5, -2.5] -> relu -> max 0.5.
        let f = relu_forward(&dnn, &input).unwrap();
        assert_close(&f.logits, &[0.5, 1.5]);
        assert_eq!(f.class, 1);
    }

    #[test]
    fn input_errors() {
        let dnn = Dnn::new(Shape::new(1, 2, 2), vec![DnnLayer::Relu]).unwrap();
        assert_eq!(
            reference_forward(&dnn, &[0.0; 3], L),
            Err(ReferenceError::InputLength {
                len: 3,
                expected: 4,
                shape: Shape::new(1, 2, 2),
            })
        );
        assert!(matches!(
            relu_forward(&dnn, &[0.0, 0.0, f32::NAN, 0.0]),
            Err(ReferenceError::NonFiniteInput { index: 2, .. })
        ));
        assert!(matches!(
            reference_forward(&dnn, &[0.0, f32::INFINITY, 0.0, 0.0], L),
            Err(ReferenceError::NonFiniteInput { index: 1, .. })
        ));
        for leak in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e4] {
            assert!(matches!(
                reference_forward(&dnn, &[0.0; 4], leak),
                Err(ReferenceError::InvalidLeak(e))
                    if matches!(e.kind(), tdsnn_engine::ErrorKind::InvalidLeak { .. })
            ));
        }
    }

    #[test]
    fn argmax_first_on_ties() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[-1.0, -1.0]), 0);
        assert_eq!(argmax(&[]), 0);
    }
}
