//! Random networks for the property tests: small DNNs of conv (any kernel up to 3, stride 1-2,
//! padding 0-2, non-square too), max-pool, avg-pool, flatten and dense layers, up to 4 drawn
//! stages and the output layer (1-5 synapse-based layers: a stage may be a pool), with
//! proptest-drawn weights and inputs. Windows that do not fit
//! the shape they meet are skipped; shapes are tracked here independently of the crates.
#![allow(dead_code)] // each test file uses a different part of this module

use proptest::prelude::*;
use tdsnn_converter::{convert, Dnn, DnnLayer};
use tdsnn_engine::{Graph, Shape, TilPolicy, Window};

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

    /// How many weights and biases the skeleton holds.
    pub fn sizes(&self) -> (usize, usize) {
        self.skeleton().0.iter().fold((0, 0), |(w, b), l| match l {
            DnnLayer::Dense { weights, bias, .. } | DnnLayer::Conv2d { weights, bias, .. } => {
                (w + weights.len(), b + bias.as_ref().map_or(0, Vec::len))
            }
            _ => (w, b),
        })
    }

    /// The DNN with weights taken in order from `w` (uniform in [-1, 1], scaled to
    /// `1.5 * sqrt(3 / fan_in)` so that activations stay of order one) and biases from `b`.
    pub fn dnn(&self, w: &[f32], b: &[f32]) -> Dnn {
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

/// A random network with its weights and one input.
#[derive(Debug, Clone)]
pub struct Case {
    pub problem: Problem,
    pub dnn: Dnn,
    pub leak: f64,
    /// Pixels in [0, 1], about a fifth of them exactly 0.
    pub input: Vec<f32>,
    /// Extra steps added to the longest dynamic `T_il` to make a valid fixed `T_il`.
    pub fixed_slack: u32,
}

impl Case {
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
pub fn case_of(problems: impl Strategy<Value = Problem>) -> impl Strategy<Value = Case> {
    (problems, 0u32..=3)
        .prop_flat_map(|(problem, fixed_slack)| {
            let (nw, nb) = problem.sizes();
            let pixel = prop_oneof![1 => Just(0.0f32), 4 => 0.0f32..=1.0];
            let n_in = problem.input.len() as usize;
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
            leak: problem.leak,
            problem,
            input,
            fixed_slack,
        })
}
