//! Random networks for the property tests: small DNNs of conv (any kernel up to 3, stride 1-2,
//! padding 0-2, non-square too), max-pool, avg-pool, flatten and dense layers, up to 4 drawn
//! stages and the output layer (1-5 synapse-based layers: a stage may be a pool), with
//! proptest-drawn weights and inputs. Windows that do not fit
//! the shape they meet are skipped; shapes are tracked here independently of the crates.
#![allow(dead_code)] // each test file uses a different part of this module

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tdsnn_converter::{convert, Dnn, DnnLayer};
use tdsnn_engine::{Graph, Shape, TilPolicy, Window};
use tdsnn_engine::{Record, Simulate};

fn window(pool: bool) -> impl Strategy<Value = Window> {
    ([1u32..=3, 1..=3], [1u32..=2, 1..=2], [0u32..=2, 0..=2]).prop_map(
        move |(kernel, stride, p)| {
            // Pools: padding at most half the kernel (PyTorch's rule).
            let padding = if pool {
                [p[0].min(kernel[0] / 2), p[1].min(kernel[1] / 2)]
            } else {
                p
            };
            Window {
                kernel,
                stride,
                padding,
            }
        },
    )
}

/// One hidden stage of a random network.
#[derive(Debug, Clone)]
pub enum Stage {
    /// conv, an optional max-pool, then ReLU.
    Conv {
        out: u32,
        window: Window,
        bias: bool,
        pool: Option<Window>,
    },
    MaxPool(Window),
    AvgPool(Window),
    Flatten,
    /// (flatten,) dense, then ReLU.
    Dense {
        outputs: u32,
        bias: bool,
    },
}

fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![
        4 => (1u32..=4, window(false), any::<bool>(), proptest::option::of(window(true)))
            .prop_map(|(out, window, bias, pool)| Stage::Conv { out, window, bias, pool }),
        2 => window(true).prop_map(Stage::MaxPool),
        2 => window(true).prop_map(Stage::AvgPool),
        1 => Just(Stage::Flatten),
        2 => (1u32..=12, any::<bool>()).prop_map(|(outputs, bias)| Stage::Dense { outputs, bias }),
    ]
}

/// A random architecture: input shape, hidden stages, the output dense layer, `L`.
#[derive(Debug, Clone)]
pub struct Problem {
    pub input: Shape,
    pub stages: Vec<Stage>,
    pub outputs: u32,
    pub out_bias: bool,
    pub leak: f64,
}

fn out_shape(shape: Shape, window: &Window, channels: u32) -> Option<Shape> {
    Some(Shape::new(
        channels,
        window.out_extent(0, shape.h)?,
        window.out_extent(1, shape.w)?,
    ))
}

impl Problem {
    /// The DNN layers with zero-filled tensors, and every layer's output shape.
    pub fn skeleton(&self) -> (Vec<DnnLayer>, Vec<Shape>) {
        let mut layers = Vec::new();
        let mut shapes = Vec::new();
        let mut shape = self.input;
        let mut push = |layer: DnnLayer, s: Shape, shape: &mut Shape| {
            layers.push(layer);
            shapes.push(s);
            *shape = s;
        };
        let dense = |outputs: u32, bias: bool, shape: Shape| DnnLayer::Dense {
            outputs,
            weights: vec![0.0; (shape.len() * u64::from(outputs)) as usize],
            bias: bias.then(|| vec![0.0; outputs as usize]),
        };
        for stage in &self.stages {
            match stage {
                Stage::Conv {
                    out,
                    window,
                    bias,
                    pool,
                } => {
                    let Some(s) = out_shape(shape, window, *out) else {
                        continue;
                    };
                    let n = out * shape.c * window.kernel[0] * window.kernel[1];
                    let conv = DnnLayer::Conv2d {
                        out_channels: *out,
                        window: *window,
                        weights: vec![0.0; n as usize],
                        bias: bias.then(|| vec![0.0; *out as usize]),
                    };
                    push(conv, s, &mut shape);
                    if let Some(window) = pool {
                        if let Some(s) = out_shape(shape, window, shape.c) {
                            push(DnnLayer::MaxPool { window: *window }, s, &mut shape);
                        }
                    }
                    push(DnnLayer::Relu, shape, &mut shape);
                }
                Stage::MaxPool(window) | Stage::AvgPool(window) => {
                    let Some(s) = out_shape(shape, window, shape.c) else {
                        continue;
                    };
                    let layer = match stage {
                        Stage::MaxPool(_) => DnnLayer::MaxPool { window: *window },
                        _ => DnnLayer::AvgPool { window: *window },
                    };
                    push(layer, s, &mut shape);
                }
                Stage::Flatten => push(
                    DnnLayer::Flatten,
                    Shape::flat(shape.len() as u32),
                    &mut shape,
                ),
                Stage::Dense { outputs, bias } => {
                    push(
                        dense(*outputs, *bias, shape),
                        Shape::flat(*outputs),
                        &mut shape,
                    );
                    push(DnnLayer::Relu, shape, &mut shape);
                }
            }
        }
        push(
            dense(self.outputs, self.out_bias, shape),
            Shape::flat(self.outputs),
            &mut shape,
        );
        (layers, shapes)
    }
}

/// Random architectures.
pub fn problem() -> impl Strategy<Value = Problem> {
    (
        (1u32..=3, 3u32..=9, 3u32..=9),
        proptest::collection::vec(stage(), 1..=4),
        2u32..=6,
        any::<bool>(),
        1.0f64..=8.0,
    )
        .prop_map(|((c, h, w), stages, outputs, out_bias, leak)| Problem {
            input: Shape::new(c, h, w),
            stages,
            outputs,
            out_bias,
            leak,
        })
}

/// What a random architecture tells the case strategy: how many weights and biases to draw,
/// the DNN they make, its input shape and leak constant.
pub trait Architecture: Clone + std::fmt::Debug {
    /// Weights and biases to draw.
    fn sizes(&self) -> (usize, usize);
    /// The DNN with the drawn weights and biases.
    fn dnn(&self, w: &[f32], b: &[f32]) -> Dnn;
    /// The input shape.
    fn input(&self) -> Shape;
    /// The leak constant.
    fn leak(&self) -> f64;
}

impl Architecture for Problem {
    /// How many weights and biases the skeleton holds.
    fn sizes(&self) -> (usize, usize) {
        self.skeleton().0.iter().fold((0, 0), |(w, b), l| match l {
            DnnLayer::Dense { weights, bias, .. } | DnnLayer::Conv2d { weights, bias, .. } => {
                (w + weights.len(), b + bias.as_ref().map_or(0, Vec::len))
            }
            _ => (w, b),
        })
    }
    /// The DNN with weights taken in order from `w` (uniform in [-1, 1], scaled to
    /// `1.5 * sqrt(3 / fan_in)` so that activations stay of order one) and biases from `b`.
    fn dnn(&self, w: &[f32], b: &[f32]) -> Dnn {
        let (mut layers, _) = self.skeleton();
        let (mut wi, mut bi) = (0, 0);
        let take = |dst: &mut Vec<f32>, src: &[f32], at: &mut usize, scale: f32| {
            let n = dst.len();
            dst.iter_mut()
                .zip(&src[*at..*at + n])
                .for_each(|(d, s)| *d = s * scale);
            *at += n;
        };
        for layer in &mut layers {
            if let DnnLayer::Dense {
                outputs: n,
                weights,
                bias,
            }
            | DnnLayer::Conv2d {
                out_channels: n,
                weights,
                bias,
                ..
            } = layer
            {
                let fan_in = (weights.len() / *n as usize) as f32;
                take(weights, w, &mut wi, 1.5 * (3.0 / fan_in).sqrt());
                if let Some(bias) = bias {
                    take(bias, b, &mut bi, 1.0);
                }
            }
        }
        Dnn::new(self.input, layers).expect("a well-formed stack validates")
    }
    fn input(&self) -> Shape {
        self.input
    }
    fn leak(&self) -> f64 {
        self.leak
    }
}

/// A random network with its weights and one input.
#[derive(Debug, Clone)]
pub struct Case<P = Problem> {
    pub problem: P,
    pub dnn: Dnn,
    pub leak: f64,
    /// Pixels in [0, 1], about a fifth of them exactly 0.
    pub input: Vec<f32>,
    /// Extra steps added to the longest dynamic `T_il` to make a valid fixed `T_il`.
    pub fixed_slack: u32,
}

impl<P> Case<P> {
    /// The engine graph under a `T_il` policy.
    pub fn graph(&self, til: TilPolicy) -> Graph {
        convert(&self.dnn, self.leak, til).expect("random networks convert")
    }
}

/// Random cases with weights, biases and inputs drawn by proptest (so they shrink).
pub fn case() -> impl Strategy<Value = Case> {
    case_of(problem())
}

/// Random cases of the given architectures.
pub fn case_of<P: Architecture>(
    problems: impl Strategy<Value = P>,
) -> impl Strategy<Value = Case<P>> {
    (problems, 0u32..=3)
        .prop_flat_map(|(problem, fixed_slack)| {
            let (nw, nb) = problem.sizes();
            let pixel = prop_oneof![1 => Just(0.0f32), 4 => 0.0f32..=1.0];
            let n_in = problem.input().len() as usize;
            (
                Just(problem),
                proptest::collection::vec(-1.0f32..=1.0, nw),
                proptest::collection::vec(-1.0f32..=1.0, nb),
                proptest::collection::vec(pixel, n_in),
                Just(fixed_slack),
            )
        })
        .prop_map(|(problem, w, b, input, fixed_slack)| Case {
            dnn: problem.dnn(&w, &b),
            leak: problem.leak(),
            problem,
            input,
            fixed_slack,
        })
}

/// One residual block of a random residual network: conv 3x3 (stride `stride`, padding 1),
/// ReLU, conv 3x3, a shortcut from the block's input, ReLU, and a max-pool after it if
/// `pool_after`.
#[derive(Debug, Clone)]
pub struct Block {
    /// The block's channels.
    pub out: u32,
    /// The first conv's stride (1 where the tensor is too small for 2).
    pub stride: u32,
    /// A projection shortcut even where an identity would fit (one is used wherever the
    /// stride or the channels change).
    pub projection: bool,
    /// A max-pool 2x2 after the block (where the tensor is at least 2x2), so that the next
    /// block joins after a max-pool.
    pub pool_after: bool,
}

/// A random residual architecture: a stem (conv 3x3 with `stem` channels, ReLU, a max-pool
/// if `stem_pool`), blocks in sequence, an optional concatenation of the last activation with
/// an earlier one of the same height and width feeding a 1x1 conv and ReLU, then flatten and
/// the output dense layer.
#[derive(Debug, Clone)]
pub struct ResidualProblem {
    pub input: Shape,
    pub stem: u32,
    pub stem_pool: bool,
    pub blocks: Vec<Block>,
    pub concat: bool,
    pub outputs: u32,
    pub out_bias: bool,
    pub leak: f64,
}

impl ResidualProblem {
    /// The DNN layers with zero-filled tensors (every conv with a bias, every projection
    /// with one).
    pub fn skeleton(&self) -> Vec<DnnLayer> {
        use tdsnn_converter::{Projection, Source};
        let conv = |c_in: u32, c_out: u32, k: u32, s: u32, p: u32| DnnLayer::Conv2d {
            out_channels: c_out,
            window: Window::square(k, s, p),
            weights: vec![0.0; (c_out * c_in * k * k) as usize],
            bias: Some(vec![0.0; c_out as usize]),
        };
        let pool = DnnLayer::MaxPool {
            window: Window::square(2, 2, 0),
        };
        let halved = |s: Shape| Shape::new(s.c, s.h / 2, s.w / 2);
        let mut layers = vec![conv(self.input.c, self.stem, 3, 1, 1), DnnLayer::Relu];
        let mut shape = Shape::new(self.stem, self.input.h, self.input.w);
        if self.stem_pool && shape.h >= 2 && shape.w >= 2 {
            layers.push(pool.clone());
            shape = halved(shape);
        }
        // The last block's input: its index and shape.
        let mut block_input = (layers.len() - 1, shape);
        for block in &self.blocks {
            let b = layers.len() - 1; // a ReLU or max-pool: a spiking tensor
            block_input = (b, shape);
            let s = if shape.h >= 2 && shape.w >= 2 {
                block.stride
            } else {
                1
            };
            let next = Shape::new(block.out, (shape.h - 1) / s + 1, (shape.w - 1) / s + 1);
            layers.extend([
                conv(shape.c, block.out, 3, s, 1),
                DnnLayer::Relu,
                conv(block.out, block.out, 3, 1, 1),
            ]);
            let projection =
                (block.projection || s != 1 || shape.c != block.out).then(|| Projection {
                    window: Window::square(1, s, 0),
                    weights: vec![0.0; (block.out * shape.c) as usize],
                    bias: Some(vec![0.0; block.out as usize]),
                });
            layers.extend([
                DnnLayer::Shortcut {
                    from: Source::Layer(b),
                    projection,
                },
                DnnLayer::Relu,
            ]);
            shape = next;
            if block.pool_after && shape.h >= 2 && shape.w >= 2 {
                layers.push(pool.clone());
                shape = halved(shape);
            }
        }
        if self.concat {
            // The last block's input where it has the current height and width, else the
            // current tensor itself.
            let (from, part) = match block_input {
                (j, s) if (s.h, s.w) == (shape.h, shape.w) => (j, s),
                _ => (layers.len() - 1, shape),
            };
            layers.push(DnnLayer::Concat {
                from: Source::Layer(from),
            });
            layers.extend([conv(shape.c + part.c, 2, 1, 1, 0), DnnLayer::Relu]);
            shape = Shape::new(2, shape.h, shape.w);
        }
        layers.push(DnnLayer::Flatten);
        layers.push(DnnLayer::Dense {
            outputs: self.outputs,
            weights: vec![0.0; (shape.len() * u64::from(self.outputs)) as usize],
            bias: self.out_bias.then(|| vec![0.0; self.outputs as usize]),
        });
        layers
    }

    /// How many shortcuts (identity and projection) and concatenations the network has.
    pub fn joins(&self) -> (usize, usize, usize) {
        let layers = self.skeleton();
        let count = |f: &dyn Fn(&DnnLayer) -> bool| layers.iter().filter(|l| f(l)).count();
        (
            count(&|l| {
                matches!(
                    l,
                    DnnLayer::Shortcut {
                        projection: None,
                        ..
                    }
                )
            }),
            count(&|l| {
                matches!(
                    l,
                    DnnLayer::Shortcut {
                        projection: Some(_),
                        ..
                    }
                )
            }),
            count(&|l| matches!(l, DnnLayer::Concat { .. })),
        )
    }
}

fn block() -> impl Strategy<Value = Block> {
    (
        1u32..=4,
        1u32..=2,
        proptest::bool::weighted(0.25),
        proptest::bool::weighted(0.3),
    )
        .prop_map(|(out, stride, projection, pool_after)| Block {
            out,
            stride,
            projection,
            pool_after,
        })
}

/// Random residual architectures: 1 to 3 blocks in sequence, identity and projection
/// shortcuts, joins after max-pools, sometimes a concatenation.
pub fn residual_problem() -> impl Strategy<Value = ResidualProblem> {
    (
        (1u32..=2, 3u32..=8, 3u32..=8),
        (1u32..=4, any::<bool>()),
        proptest::collection::vec(block(), 1..=3),
        proptest::bool::weighted(0.3),
        (2u32..=5, any::<bool>()),
        1.0f64..=8.0,
    )
        .prop_map(
            |((c, h, w), (stem, stem_pool), blocks, concat, (outputs, out_bias), leak)| {
                ResidualProblem {
                    input: Shape::new(c, h, w),
                    stem,
                    stem_pool,
                    blocks,
                    concat,
                    outputs,
                    out_bias,
                    leak,
                }
            },
        )
}

/// A random residual network with its weights and one input.
pub type ResidualCase = Case<ResidualProblem>;

impl Architecture for ResidualProblem {
    /// How many weights and biases the skeleton holds.
    fn sizes(&self) -> (usize, usize) {
        self.skeleton().iter().fold((0, 0), |(w, b), l| match l {
            DnnLayer::Dense { weights, bias, .. }
            | DnnLayer::Conv2d { weights, bias, .. }
            | DnnLayer::Shortcut {
                projection: Some(tdsnn_converter::Projection { weights, bias, .. }),
                ..
            } => (w + weights.len(), b + bias.as_ref().map_or(0, Vec::len)),
            _ => (w, b),
        })
    }
    /// The DNN with weights taken in order from `w` (scaled as [`Problem::dnn`] scales them)
    /// and biases from `b`.
    fn dnn(&self, w: &[f32], b: &[f32]) -> Dnn {
        let mut layers = self.skeleton();
        let (mut wi, mut bi) = (0, 0);
        let take = |dst: &mut Vec<f32>, src: &[f32], at: &mut usize, scale: f32| {
            let n = dst.len();
            dst.iter_mut()
                .zip(&src[*at..*at + n])
                .for_each(|(d, s)| *d = s * scale);
            *at += n;
        };
        for layer in &mut layers {
            let (n, weights, bias) = match layer {
                DnnLayer::Dense {
                    outputs: n,
                    weights,
                    bias,
                }
                | DnnLayer::Conv2d {
                    out_channels: n,
                    weights,
                    bias,
                    ..
                } => (*n as usize, weights, bias),
                DnnLayer::Shortcut {
                    projection: Some(p),
                    ..
                } => {
                    let n = p.bias.as_ref().map_or(1, Vec::len);
                    (n, &mut p.weights, &mut p.bias)
                }
                _ => continue,
            };
            let fan_in = (weights.len() / n) as f32;
            take(weights, w, &mut wi, 1.5 * (3.0 / fan_in).sqrt());
            if let Some(bias) = bias {
                take(bias, b, &mut bi, 1.0);
            }
        }
        Dnn::new(self.input, layers).expect("a well-formed residual network validates")
    }
    fn input(&self) -> Shape {
        self.input
    }
    fn leak(&self) -> f64 {
        self.leak
    }
}

/// Random residual cases with weights, biases and inputs drawn by proptest (so they shrink).
pub fn residual_case() -> impl Strategy<Value = ResidualCase> {
    case_of(residual_problem())
}

/// The records of the two paths agree, the engine's own work aside (the fast path delivers
/// no spike that fires at its frame origin): spikes, frames, releases, delays, paper counts,
/// the output's bits and the digest.
pub fn assert_same(fast: &Record, slow: &Record) -> Result<(), TestCaseError> {
    prop_assert_eq!(&fast.input, &slow.input);
    prop_assert_eq!(fast.layers.len(), slow.layers.len());
    for (k, (f, s)) in fast.layers.iter().zip(&slow.layers).enumerate() {
        prop_assert_eq!(&f.spikes, &s.spikes, "layer {} spikes", k);
        prop_assert_eq!(f.frame_origin, s.frame_origin, "layer {} frame", k);
        prop_assert_eq!(f.release, s.release, "layer {} release", k);
        prop_assert_eq!(&f.delays, &s.delays, "layer {} delays", k);
        prop_assert_eq!(f.ops.paper, s.ops.paper, "layer {} paper ops", k);
        prop_assert_eq!(f.ops.engine.spikes, s.ops.engine.spikes);
        prop_assert!(f.ops.engine.synaptic_adds <= s.ops.engine.synaptic_adds);
    }
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    prop_assert_eq!(bits(&fast.output.potentials), bits(&slow.output.potentials));
    prop_assert_eq!(bits(&fast.output.logits), bits(&slow.output.logits));
    prop_assert_eq!(fast.output.class, slow.output.class);
    prop_assert_eq!(fast.digest(), slow.digest());
    Ok(())
}

/// The longest inhibition time of any layer when `graph` (a dynamic-`T_il` conversion) runs
/// `input`: a fixed `T_il` of at least this covers every layer.
pub fn longest_t_il(graph: Graph, input: &[f32]) -> u32 {
    tdsnn_engine::Simulator::new(graph, tdsnn_engine::TickMode::ClosedForm)
        .run(input, &mut ())
        .expect("a valid input runs")
        .layers
        .iter()
        .filter_map(|l| l.t_il())
        .max()
        .unwrap_or(0)
}
