//! DNN to TDSNN conversion: the connection graph the engine runs (Algorithm 1 of the paper,
//! with the bias encoding of docs/semantics.md).
//!
//! Layer by layer:
//! - hidden conv2d and dense: weights negated (the inhibitory period integrates `-W_ji`) and
//!   re-laid out pre-synaptic major, conv `[c_out][c_in][kh][kw]` to `[c_in][kh][kw][c_out]`,
//!   dense `[out][in]` to `[in][out]`; bias neuron weight `-b / G(1)` (the bias neuron spikes
//!   at `T(1)`, worth `G(1)`, so it contributes `-b` in DNN units);
//! - avg-pool: an engine avg-pool with weight `-1 / (kh * kw)` on every synapse;
//! - max-pool and flatten: as such;
//! - ReLU: dropped, the ticking neuron realises it (a neuron with `A <= 0` fires at the
//!   release, which is `T(0) = 0`);
//! - the last synapse-based layer, which must be dense: the engine's output layer, weights
//!   not negated, bias `+b / G(1)`.
//!
//! Weights stay f32 (negation is exact); bias weights are f64, the division by `G(1)` done
//! once and not rounded to f32, so a biased pre-activation agrees with the f64 reference to
//! f64 rounding. The structure is checked first and every problem is reported together:
//! each hidden conv2d/dense must be followed by a ReLU (only max-pool and flatten layers may
//! stand between them, as both commute with ReLU), the last synapse-based layer must be
//! dense, and nothing may follow it. Cost: one pass over the weights.

use tdsnn_engine::coding;
use tdsnn_engine::graph::{Group, Node, Source, Synapses};
use tdsnn_engine::{AvgPool, Conv2d, Dense, Graph, Layer, MaxPool, Params, Shape, TilPolicy};

use crate::error::{ConvertError, LayerProblem, Problem};
use crate::model::{Dnn, DnnLayer, Source as DnnSource};

/// Converts a validated DNN into the engine's connection graph with leak constant `L` and
/// the given `T_il` policy (firing threshold 0).
///
/// Errors: [`ConvertError::Unsupported`] listing every layer that cannot be converted,
/// [`ConvertError::NoSynapticLayer`], or [`ConvertError::Engine`] if the engine rejects the
/// graph (for instance a leak constant outside `[MIN_LEAK, MAX_LEAK]`).
///
/// Graph layer indices differ from DNN layer indices because ReLU layers are dropped; see
/// [`layer_map`].
///
/// # Example
/// ```
/// use tdsnn_converter::{convert, Dnn, DnnLayer, Shape, TilPolicy};
/// use tdsnn_engine::Layer;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dnn = Dnn::new(
///     Shape::flat(2),
///     vec![
///         // PyTorch layout [out][in]: hidden = relu(x0 + 2 x1 + 1)
///         DnnLayer::Dense { outputs: 1, weights: vec![1.0, 2.0], bias: Some(vec![1.0]) },
///         DnnLayer::Relu,
///         DnnLayer::Dense { outputs: 2, weights: vec![1.0, -1.0], bias: None },
///     ],
/// )?;
/// let graph = convert(&dnn, 5.0, TilPolicy::Dynamic)?;
/// assert_eq!(graph.layers().len(), 2); // the ReLU is realised by the SNN
/// let Layer::Dense(hidden) = &graph.layers()[0] else { unreachable!() };
/// assert_eq!(&hidden.weights[..], &[-1.0, -2.0]); // negated, [in][out]
/// assert!(matches!(graph.layers()[1], Layer::Output(_)));
/// # Ok(()) }
/// ```
pub fn convert(dnn: &Dnn, leak: f64, til: TilPolicy) -> Result<Graph, ConvertError> {
    let output = check(dnn)?;
    // What the bias neuron's spike at T(1) is worth in DNN units.
    let g1 = coding::g(1.0, leak);
    let layers = dnn.layers();
    let mut nodes: Vec<Node> = Vec::with_capacity(layers.len());
    // The graph source whose spikes carry each DNN layer's output (a ReLU's: the layer's
    // before it; `None` for a shortcut or concat, which no group may name).
    let mut carrier: Vec<Option<Source>> = Vec::with_capacity(layers.len());
    // The source of the current tensor's spikes (once its ReLU, if pending, is applied).
    let mut current = Source::Input;
    // The parts of a pending concatenation: each one's graph source and DNN shape.
    let mut parts: Vec<(Source, Shape)> = Vec::new();
    let graph_source = |carrier: &[Option<Source>], from: DnnSource| match from {
        DnnSource::Input => Source::Input,
        DnnSource::Layer(j) => carrier[j].expect("Dnn::new: joins name spiking tensors"),
    };
    let shape_of = |from: DnnSource| match from {
        DnnSource::Input => dnn.input_shape(),
        DnnSource::Layer(j) => dnn.output_shape(j),
    };
    for (k, layer) in layers.iter().enumerate() {
        // Hidden layers integrate negated weights; the output layer reads its own.
        let sign = if k == output { 1.0 } else { -1.0 };
        let here = current;
        let (graph_layer, source, groups) = match layer {
            DnnLayer::Relu => {
                carrier.push(Some(current));
                continue;
            }
            DnnLayer::Shortcut { .. } => {
                // Joined into the conv2d or dense layer before it.
                carrier.push(None);
                continue;
            }
            DnnLayer::Concat { from } => {
                if parts.is_empty() {
                    parts.push((here, dnn.input_shape_of(k)));
                }
                parts.push((graph_source(&carrier, *from), shape_of(*from)));
                // The conv2d or dense layer after it takes the parts.
                carrier.push(None);
                continue;
            }
            DnnLayer::Conv2d { .. } | DnnLayer::Dense { .. } => {
                let Joined {
                    own,
                    source,
                    groups,
                } = synapses(dnn, k, sign, g1, std::mem::take(&mut parts), &carrier);
                let layer = match own {
                    Synapses::Conv2d(c) => Layer::Conv2d(c),
                    Synapses::Dense(d) if k == output => Layer::Output(d),
                    Synapses::Dense(d) => Layer::Dense(d),
                    Synapses::Identity { .. } => {
                        unreachable!("a layer's own synapses are weighted")
                    }
                };
                (layer, source.unwrap_or(here), groups)
            }
            DnnLayer::AvgPool { window } => (
                Layer::AvgPool(AvgPool {
                    window: *window,
                    weight: (-1.0 / (f64::from(window.kernel[0]) * f64::from(window.kernel[1])))
                        as f32,
                }),
                here,
                Vec::new(),
            ),
            DnnLayer::MaxPool { window } => (
                Layer::MaxPool(MaxPool { window: *window }),
                here,
                Vec::new(),
            ),
            DnnLayer::Flatten => (Layer::Flatten, here, Vec::new()),
        };
        current = Source::Layer(nodes.len());
        carrier.push(Some(current));
        nodes.push(Node {
            layer: graph_layer,
            source,
            groups,
        });
    }
    let params = Params {
        til,
        ..Params::new(leak)
    };
    Ok(Graph::from_nodes(dnn.input_shape(), nodes, params)?)
}

/// A conv2d or dense layer with its further synapse groups, as [`synapses`] builds it.
struct Joined {
    /// The layer's own synapses: `Conv2d` or `Dense` with the bias neuron's weights.
    own: Synapses,
    /// Where its own synapses take their spikes from, if not the current tensor (the first
    /// part of a concatenation).
    source: Option<Source>,
    /// Further groups: the other parts of a concatenation, then the shortcuts.
    groups: Vec<Group>,
}

/// The synapses of the conv2d or dense layer `k` (weights times `sign`, re-laid out), split
/// into one group per part of the concatenation before it (`parts`, empty if none), with a
/// group for each shortcut after it; its bias (plus the projections' biases, summed in f64)
/// divided by `g1` and rounded to f32 once.
fn synapses(
    dnn: &Dnn,
    k: usize,
    sign: f64,
    g1: f64,
    parts: Vec<(Source, Shape)>,
    carrier: &[Option<Source>],
) -> Joined {
    let layers = dnn.layers();
    let (n, weights, bias, window) = match &layers[k] {
        DnnLayer::Conv2d {
            out_channels,
            window,
            weights,
            bias,
        } => (*out_channels, weights, bias, Some(*window)),
        DnnLayer::Dense {
            outputs,
            weights,
            bias,
        } => (*outputs, weights, bias, None),
        _ => unreachable!("conv2d or dense"),
    };
    let weighted = |weights: Vec<f32>, bias: Option<Vec<f64>>| match window {
        Some(window) => Synapses::Conv2d(Conv2d {
            out_channels: n,
            window,
            weights: weights.into(),
            bias: bias.map(Into::into),
        }),
        None => Synapses::Dense(Dense {
            outputs: n,
            weights: weights.into(),
            bias: bias.map(Into::into),
        }),
    };
    // The bias in f64: the layer's, plus every projection's.
    let mut total: Option<Vec<f64>> = bias
        .as_ref()
        .map(|b| b.iter().map(|&v| f64::from(v)).collect());
    let mut groups = Vec::new();
    let mut own = transpose_scaled(weights, n, sign);
    let mut source = None;
    if !parts.is_empty() {
        // One row of weights per output; each part takes its inputs' share of every row:
        // `c * kh * kw` for a conv, `c * h * w` for a dense layer (channel-major flattening).
        let taps = window.map_or(1, |w| u64::from(w.kernel[0]) * u64::from(w.kernel[1]));
        let widths: Vec<usize> = parts
            .iter()
            .map(|(_, shape)| match window {
                Some(_) => (u64::from(shape.c) * taps) as usize,
                None => shape.len() as usize,
            })
            .collect();
        let row = weights.len() / n as usize;
        debug_assert_eq!(widths.iter().sum::<usize>(), row, "layer {k}");
        let mut start = 0;
        for (p, ((from, _), width)) in parts.iter().zip(&widths).enumerate() {
            let share: Vec<f32> = weights
                .chunks_exact(row)
                .flat_map(|r| &r[start..start + width])
                .copied()
                .collect();
            start += width;
            let share = transpose_scaled(&share, n, sign);
            if p == 0 {
                own = share;
                source = Some(*from);
            } else {
                groups.push(Group {
                    source: *from,
                    synapses: weighted(share, None),
                });
            }
        }
    }
    for layer in layers[k + 1..].iter() {
        let DnnLayer::Shortcut { from, projection } = layer else {
            break;
        };
        let from = match *from {
            DnnSource::Input => Source::Input,
            DnnSource::Layer(j) => carrier[j].expect("Dnn::new: joins name spiking tensors"),
        };
        let synapses = match projection {
            None => Synapses::Identity {
                weight: sign as f32,
            },
            Some(p) => {
                if let Some(b) = &p.bias {
                    let sum = total.get_or_insert_with(|| vec![0.0; n as usize]);
                    sum.iter_mut().zip(b).for_each(|(s, &v)| *s += f64::from(v));
                }
                Synapses::Conv2d(Conv2d {
                    out_channels: n,
                    window: p.window,
                    weights: transpose_scaled(&p.weights, n, sign).into(),
                    bias: None,
                })
            }
        };
        groups.push(Group {
            source: from,
            synapses,
        });
    }
    // Kept in f64: the bias neuron's spike, worth G(1), adds `sign * b` to rounding.
    let bias = total.map(|b| b.iter().map(|&v| sign * v / g1).collect());
    Joined {
        own: weighted(own, bias),
        source,
        groups,
    }
}

/// For each DNN layer, the index of the graph layer [`convert`] makes of it (`None` for a
/// ReLU, which is dropped, and for a shortcut or concat, which become synapse groups of the
/// conv2d or dense layer before or after them).
///
/// # Example
/// ```
/// use tdsnn_converter::{layer_map, Dnn, DnnLayer, Shape};
/// # fn main() -> Result<(), tdsnn_converter::ModelError> {
/// let dnn = Dnn::new(
///     Shape::flat(1),
///     vec![
///         DnnLayer::Dense { outputs: 1, weights: vec![1.0], bias: None },
///         DnnLayer::Relu,
///         DnnLayer::Dense { outputs: 1, weights: vec![1.0], bias: None },
///     ],
/// )?;
/// assert_eq!(layer_map(&dnn), vec![Some(0), None, Some(1)]);
/// # Ok(()) }
/// ```
pub fn layer_map(dnn: &Dnn) -> Vec<Option<usize>> {
    let mut next = 0;
    dnn.layers()
        .iter()
        .map(|layer| {
            let dropped = matches!(
                layer,
                DnnLayer::Relu | DnnLayer::Shortcut { .. } | DnnLayer::Concat { .. }
            );
            (!dropped).then(|| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

/// Checks the layer sequence; returns the index of the output layer (the last
/// synapse-based one) or every problem found.
fn check(dnn: &Dnn) -> Result<usize, ConvertError> {
    let layers = dnn.layers();
    let output = layers
        .iter()
        .rposition(DnnLayer::is_synaptic)
        .ok_or(ConvertError::NoSynapticLayer)?;
    let mut problems = Vec::new();
    for (k, layer) in layers.iter().enumerate() {
        let problem = if k > output {
            Some(Problem::AfterOutput { output })
        } else if k == output {
            (!matches!(layer, DnnLayer::Dense { .. })).then_some(Problem::OutputNotDense)
        } else if matches!(layer, DnnLayer::Conv2d { .. } | DnnLayer::Dense { .. }) {
            let next = layers[k + 1..].iter().find(|l| {
                !matches!(
                    l,
                    DnnLayer::MaxPool { .. } | DnnLayer::Flatten | DnnLayer::Shortcut { .. }
                )
            });
            (!matches!(next, Some(DnnLayer::Relu))).then_some(Problem::MissingRelu)
        } else {
            None
        };
        if let Some(problem) = problem {
            problems.push(LayerProblem {
                layer: k,
                kind: layer.kind(),
                problem,
            });
        }
    }
    if problems.is_empty() {
        Ok(output)
    } else {
        Err(ConvertError::Unsupported { problems })
    }
}

/// The transpose of a row-major matrix of `rows` rows, each entry times `scale` (an f32
/// product, exact for `scale = ±1`). With PyTorch weights, one row of `fan_in` weights per
/// output (`[out][in]`, and for a conv `[c_out][c_in][kh][kw]`, whose rows are
/// `[c_in][kh][kw]`), it gives the engine's pre-synaptic major layout (`[in][out]`,
/// `[c_in][kh][kw][c_out]`); the ONNX import uses it for `Gemm` weights given `[in][out]`.
///
/// # Example
/// ```
/// use tdsnn_converter::convert::transpose_scaled;
/// // Two rows of three: [[1, 2, 3], [4, 5, 6]] becomes [[-1, -4], [-2, -5], [-3, -6]].
/// let t = transpose_scaled(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, -1.0);
/// assert_eq!(t, [-1.0, -4.0, -2.0, -5.0, -3.0, -6.0]);
/// ```
pub fn transpose_scaled(torch: &[f32], rows: u32, scale: f64) -> Vec<f32> {
    let n_out = rows as usize;
    let fan_in = torch.len() / n_out;
    let sign = scale as f32;
    let mut engine = vec![0.0; torch.len()];
    for (j, row) in torch.chunks_exact(fan_in).enumerate() {
        for (i, &w) in row.iter().enumerate() {
            engine[i * n_out + j] = sign * w;
        }
    }
    engine
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::lenet_layers;
    use tdsnn_engine::{Shape, Window};

    const L: f64 = 5.0;

    /// A deterministic pseudo-random f32 in [-1, 1) (xorshift), distinct per index.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// conv (3 -> 4 channels, kernel 3x2, stride 2x1, padding 1x0) on 3x7x6, relu, max-pool,
    /// flatten, dense hidden, relu, dense output; random weights and biases.
    fn net() -> Dnn {
        let conv_window = Window {
            kernel: [3, 2],
            stride: [2, 1],
            padding: [1, 0],
        };
        // conv out: h = (7 + 2 - 3) / 2 + 1 = 4, w = (6 - 2) / 1 + 1 = 5 -> 4x4x5
        // max-pool 2, stride 2, padding 1: h = (4 + 2 - 2) / 2 + 1 = 3, w = (5 + 2 - 2) / 2 + 1 = 3
        Dnn::new(
            Shape::new(3, 7, 6),
            vec![
                DnnLayer::Conv2d {
                    out_channels: 4,
                    window: conv_window,
                    weights: values(4 * 3 * 3 * 2, 1),
                    bias: Some(values(4, 2)),
                },
                DnnLayer::MaxPool {
                    window: Window::square(2, 2, 1),
                },
                DnnLayer::Relu,
                DnnLayer::Flatten,
                DnnLayer::Dense {
                    outputs: 5,
                    weights: values(5 * 36, 3),
                    bias: Some(values(5, 4)),
                },
                DnnLayer::Relu,
                DnnLayer::Dense {
                    outputs: 3,
                    weights: values(3 * 5, 5),
                    bias: Some(values(3, 6)),
                },
            ],
        )
        .unwrap()
    }

    #[test]
    fn conv_layout_is_negated_and_channels_last() {
        let dnn = net();
        let graph = convert(&dnn, L, TilPolicy::Dynamic).unwrap();
        let DnnLayer::Conv2d { weights: torch, .. } = &dnn.layers()[0] else {
            panic!()
        };
        let Layer::Conv2d(conv) = &graph.layers()[0] else {
            panic!("{:?}", graph.layers()[0])
        };
        let (c_out, c_in, kh, kw) = (4, 3, 3, 2);
        let mut checked = 0;
        for co in 0..c_out {
            for ci in 0..c_in {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let t = torch[((co * c_in + ci) * kh + ky) * kw + kx];
                        let e = conv.weights[((ci * kh + ky) * kw + kx) * c_out + co];
                        assert_eq!(
                            e.to_bits(),
                            (-t).to_bits(),
                            "co {co} ci {ci} ky {ky} kx {kx}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, conv.weights.len());
        assert_eq!(conv.window, *dnn.layers()[0].window().unwrap());
    }

    #[test]
    fn dense_layouts_hidden_negated_output_not() {
        let dnn = net();
        let graph = convert(&dnn, L, TilPolicy::Fixed(40)).unwrap();
        assert_eq!(graph.params().til, TilPolicy::Fixed(40));
        assert_eq!(graph.params().leak, L);
        assert_eq!(graph.params().threshold, 0.0);
        let kinds: Vec<_> = graph.layers().iter().map(Layer::kind).collect();
        assert_eq!(kinds, ["conv2d", "max_pool", "flatten", "dense", "output"]);

        let DnnLayer::Dense { weights: torch, .. } = &dnn.layers()[4] else {
            panic!()
        };
        let Layer::Dense(hidden) = &graph.layers()[3] else {
            panic!()
        };
        for j in 0..5 {
            for i in 0..36 {
                assert_eq!(hidden.weights[i * 5 + j], -torch[j * 36 + i], "j {j} i {i}");
            }
        }
        let DnnLayer::Dense { weights: torch, .. } = &dnn.layers()[6] else {
            panic!()
        };
        let Layer::Output(out) = &graph.layers()[4] else {
            panic!()
        };
        for j in 0..3 {
            for i in 0..5 {
                assert_eq!(out.weights[i * 3 + j], torch[j * 5 + i], "j {j} i {i}");
            }
        }
    }

    #[test]
    fn biases_divided_by_g1() {
        let dnn = net();
        for leak in [1.0, 5.0, 7.5] {
            let graph = convert(&dnn, leak, TilPolicy::Dynamic).unwrap();
            // G(1) = exp(ceil(L ln 2) / L), by hand.
            let g1 = ((leak * 2f64.ln()).ceil() / leak).exp();
            let pairs = [(0, 0, -1.0), (4, 3, -1.0), (6, 4, 1.0)];
            for (dnn_k, graph_k, sign) in pairs {
                let b = match &dnn.layers()[dnn_k] {
                    DnnLayer::Conv2d { bias, .. } | DnnLayer::Dense { bias, .. } => {
                        bias.clone().unwrap()
                    }
                    _ => panic!(),
                };
                let got = graph.layers()[graph_k].bias().unwrap();
                assert_eq!(got.len(), b.len());
                for (g, b) in got.iter().zip(&b) {
                    // Kept in f64: the division to f64 rounding (G(1) by hand here, through
                    // libm in the converter), not rounded to f32 (which is off by ~1e-8).
                    let want = sign * f64::from(*b) / g1;
                    assert!(
                        (g - want).abs() <= want.abs() * 1e-15,
                        "layer {dnn_k}: {g} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn avg_pool_weight_and_no_bias() {
        let dnn = Dnn::new(
            Shape::new(2, 6, 6),
            vec![
                DnnLayer::AvgPool {
                    window: Window::square(3, 3, 0),
                },
                DnnLayer::Dense {
                    outputs: 2,
                    weights: values(2 * 8, 9),
                    bias: None,
                },
            ],
        )
        .unwrap();
        let graph = convert(&dnn, L, TilPolicy::Dynamic).unwrap();
        let Layer::AvgPool(pool) = graph.layers()[0] else {
            panic!()
        };
        assert_eq!(pool.weight, -1.0f32 / 9.0);
        assert_eq!(pool.window, Window::square(3, 3, 0));
        assert!(graph.layers()[1].bias().is_none());
        assert_eq!(graph.output_shape(0), Shape::new(2, 2, 2));
    }

    #[test]
    fn lenet_converts() {
        let dnn = Dnn::new(Shape::new(1, 28, 28), lenet_layers()).unwrap();
        let graph = convert(&dnn, L, TilPolicy::Dynamic).unwrap();
        let kinds: Vec<_> = graph.layers().iter().map(Layer::kind).collect();
        assert_eq!(
            kinds,
            ["conv2d", "max_pool", "conv2d", "max_pool", "flatten", "dense", "output"]
        );
        let map = layer_map(&dnn);
        assert_eq!(
            map,
            [
                Some(0),
                None,
                Some(1),
                Some(2),
                None,
                Some(3),
                Some(4),
                Some(5),
                None,
                Some(6)
            ]
        );
        for (k, g) in map.iter().enumerate() {
            if let Some(g) = g {
                assert_eq!(graph.output_shape(*g), dnn.output_shape(k));
            }
        }
    }

    fn dense(outputs: u32, inputs: u32) -> DnnLayer {
        DnnLayer::Dense {
            outputs,
            weights: vec![0.5; (outputs * inputs) as usize],
            bias: None,
        }
    }

    fn problems(dnn: &Dnn) -> Vec<LayerProblem> {
        match convert(dnn, L, TilPolicy::Dynamic) {
            Err(ConvertError::Unsupported { problems }) => problems,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_relu() {
        let dnn = Dnn::new(Shape::flat(3), vec![dense(4, 3), dense(2, 4)]).unwrap();
        let err = convert(&dnn, L, TilPolicy::Dynamic).unwrap_err();
        assert_eq!(
            err,
            ConvertError::Unsupported {
                problems: vec![LayerProblem {
                    layer: 0,
                    kind: "dense",
                    problem: Problem::MissingRelu,
                }]
            }
        );
        assert!(err
            .to_string()
            .contains("layer 0 (dense): not followed by ReLU"));
        // A max-pool before the ReLU is fine, a max-pool with no ReLU is not.
        let conv = DnnLayer::Conv2d {
            out_channels: 1,
            window: Window::square(1, 1, 0),
            weights: vec![1.0],
            bias: None,
        };
        let pool = DnnLayer::MaxPool {
            window: Window::square(2, 2, 0),
        };
        let ok = Dnn::new(
            Shape::new(1, 4, 4),
            vec![conv.clone(), pool.clone(), DnnLayer::Relu, dense(2, 4)],
        )
        .unwrap();
        assert!(convert(&ok, L, TilPolicy::Dynamic).is_ok());
        let bad = Dnn::new(
            Shape::new(1, 4, 4),
            vec![conv, pool, DnnLayer::Flatten, dense(2, 4)],
        )
        .unwrap();
        assert_eq!(
            problems(&bad),
            vec![LayerProblem {
                layer: 0,
                kind: "conv2d",
                problem: Problem::MissingRelu
            }]
        );
    }

    #[test]
    fn relu_after_output() {
        let dnn = Dnn::new(
            Shape::flat(3),
            vec![dense(4, 3), DnnLayer::Relu, dense(2, 4), DnnLayer::Relu],
        )
        .unwrap();
        let err = convert(&dnn, L, TilPolicy::Dynamic).unwrap_err();
        let ConvertError::Unsupported { problems } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            problems,
            &[LayerProblem {
                layer: 3,
                kind: "relu",
                problem: Problem::AfterOutput { output: 2 },
            }]
        );
        assert!(err
            .to_string()
            .contains("layer 3 (relu): follows the output layer (layer 2)"));
    }

    #[test]
    fn output_must_be_dense() {
        let dnn = Dnn::new(
            Shape::new(1, 4, 4),
            vec![
                DnnLayer::AvgPool {
                    window: Window::square(2, 2, 0),
                },
                DnnLayer::Conv2d {
                    out_channels: 2,
                    window: Window::square(2, 1, 0),
                    weights: vec![0.1; 8],
                    bias: None,
                },
            ],
        )
        .unwrap();
        assert_eq!(
            problems(&dnn),
            vec![LayerProblem {
                layer: 1,
                kind: "conv2d",
                problem: Problem::OutputNotDense
            }]
        );
        // No synapse-based layer at all.
        let dnn = Dnn::new(Shape::new(1, 4, 4), vec![DnnLayer::Relu, DnnLayer::Flatten]).unwrap();
        assert_eq!(
            convert(&dnn, L, TilPolicy::Dynamic),
            Err(ConvertError::NoSynapticLayer)
        );
    }

    #[test]
    fn several_problems_reported_together() {
        // 0 dense (no relu), 1 dense, 2 relu, 3 hidden avg-pool (needs no relu), 4 dense (no
        // relu), 5 max-pool, 6 avg-pool: the output but not dense, 7 relu and 8 flatten after it.
        let dnn = Dnn::new(
            Shape::flat(4),
            vec![
                dense(4, 4),
                dense(4, 4),
                DnnLayer::Relu,
                DnnLayer::AvgPool {
                    window: Window::square(1, 1, 0),
                },
                dense(4, 4),
                DnnLayer::MaxPool {
                    window: Window::square(1, 1, 0),
                },
                DnnLayer::AvgPool {
                    window: Window::square(1, 1, 0),
                },
                DnnLayer::Relu,
                DnnLayer::Flatten,
            ],
        )
        .unwrap();
        let err = convert(&dnn, L, TilPolicy::Dynamic).unwrap_err();
        let ConvertError::Unsupported { problems } = &err else {
            panic!("{err:?}")
        };
        let got: Vec<_> = problems
            .iter()
            .map(|p| (p.layer, p.kind, p.problem))
            .collect();
        assert_eq!(
            got,
            [
                (0, "dense", Problem::MissingRelu),
                (4, "dense", Problem::MissingRelu),
                (6, "avg_pool", Problem::OutputNotDense),
                (7, "relu", Problem::AfterOutput { output: 6 }),
                (8, "flatten", Problem::AfterOutput { output: 6 }),
            ]
        );
        let text = err.to_string();
        assert!(
            text.starts_with("cannot convert 5 layer(s): layer 0 (dense): "),
            "{text}"
        );
        for p in problems {
            assert!(text.contains(&p.to_string()), "{text}");
        }
    }

    #[test]
    fn engine_errors_are_wrapped() {
        let dnn = Dnn::new(Shape::flat(3), vec![dense(2, 3)]).unwrap();
        for leak in [0.0, -1.0, f64::NAN, 1e9] {
            let err = convert(&dnn, leak, TilPolicy::Dynamic).unwrap_err();
            let ConvertError::Engine(e) = &err else {
                panic!("{err:?}")
            };
            assert!(
                matches!(e.kind(), tdsnn_engine::ErrorKind::InvalidLeak { .. }),
                "{e}"
            );
            assert!(err.to_string().starts_with("leak constant"), "{err}");
        }
    }
}
