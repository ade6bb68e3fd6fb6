//! Random small DNNs for the property tests: a `Problem` draws an input shape and a stack of
//! conv, pool, flatten and dense stages, and builds a well-formed, convertible [`Dnn`]
//! (windows that do not fit are skipped, pool padding clamped to half the kernel).

#![allow(dead_code)]

use proptest::prelude::*;
use tdsnn_converter::{Dnn, DnnLayer, Shape, Window};

/// A sliding window as drawn: padding is clamped where the layer needs it.
#[derive(Debug, Clone, Copy)]
pub struct Win {
    pub kernel: [u32; 2],
    pub stride: [u32; 2],
    pub padding: [u32; 2],
}

impl Win {
    /// The window, with pool padding clamped to half the kernel (PyTorch's rule).
    pub fn window(self, pool: bool) -> Window {
        let pad = |a: usize| {
            if pool {
                self.padding[a].min(self.kernel[a] / 2)
            } else {
                self.padding[a]
            }
        };
        Window {
            kernel: self.kernel,
            stride: self.stride,
            padding: [pad(0), pad(1)],
        }
    }
}

#[derive(Debug, Clone)]
pub enum Stage {
    /// conv, then an optional max-pool before its ReLU.
    Conv {
        out: u32,
        win: Win,
        bias: bool,
        pool: Option<Win>,
    },
    MaxPool(Win),
    AvgPool(Win),
    Flatten,
    /// hidden dense, then ReLU.
    Dense {
        outputs: u32,
        bias: bool,
    },
}

/// One random network: an input shape, hidden stages, then (optionally flatten and) the
/// output dense layer.
#[derive(Debug, Clone)]
pub struct Problem {
    pub input: Shape,
    pub stages: Vec<Stage>,
    pub flatten_last: bool,
    pub outputs: u32,
    pub out_bias: bool,
    pub leak: f64,
}

fn win() -> impl Strategy<Value = Win> {
    ([1u32..=4, 1..=4], [1u32..=3, 1..=3], [0u32..=2, 0..=2]).prop_map(
        |(kernel, stride, padding)| Win {
            kernel,
            stride,
            padding,
        },
    )
}

fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![
        4 => (1u32..=4, win(), any::<bool>(), proptest::option::of(win()))
            .prop_map(|(out, win, bias, pool)| Stage::Conv { out, win, bias, pool }),
        2 => win().prop_map(Stage::MaxPool),
        2 => win().prop_map(Stage::AvgPool),
        1 => Just(Stage::Flatten),
        1 => (1u32..=6, any::<bool>()).prop_map(|(outputs, bias)| Stage::Dense { outputs, bias }),
    ]
}

impl Arbitrary for Problem {
    type Parameters = ();
    type Strategy = BoxedStrategy<Problem>;

    fn arbitrary_with(_: ()) -> Self::Strategy {
        (
            (1u32..=3, 1u32..=12, 1u32..=12),
            proptest::collection::vec(stage(), 0..6),
            any::<bool>(),
            1u32..=5,
            any::<bool>(),
            prop_oneof![Just(1.0), Just(2.5), Just(5.0), Just(10.0)],
        )
            .prop_map(
                |((c, h, w), stages, flatten_last, outputs, out_bias, leak)| Problem {
                    input: Shape::new(c, h, w),
                    stages,
                    flatten_last,
                    outputs,
                    out_bias,
                    leak,
                },
            )
            .boxed()
    }
}

/// Deterministic weights in [-1, 1): the values do not matter for shapes.
fn weights(n: u64, seed: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// The output shape of a window on `shape`, if it fits.
fn fits(shape: Shape, window: &Window, channels: u32) -> Option<Shape> {
    Some(Shape::new(
        channels,
        window.out_extent(0, shape.h)?,
        window.out_extent(1, shape.w)?,
    ))
}

impl Problem {
    /// Builds the layers, skipping any stage whose window does not fit; tracks the shape
    /// independently of the crate under test (the oracle).
    pub fn build(&self) -> (Dnn, Vec<Shape>) {
        let mut seed = 7;
        let mut shape = self.input;
        let mut layers = Vec::new();
        let mut shapes = Vec::new();
        let mut push = |layer: DnnLayer, s: Shape, shape: &mut Shape| {
            layers.push(layer);
            shapes.push(s);
            *shape = s;
        };
        for stage in &self.stages {
            match *stage {
                Stage::Conv {
                    out,
                    win,
                    bias,
                    pool,
                } => {
                    let window = win.window(false);
                    let Some(s) = fits(shape, &window, out) else {
                        continue;
                    };
                    let n = u64::from(out * shape.c * window.kernel[0] * window.kernel[1]);
                    let conv = DnnLayer::Conv2d {
                        out_channels: out,
                        window,
                        weights: weights(n, &mut seed),
                        bias: bias.then(|| weights(u64::from(out), &mut seed)),
                    };
                    push(conv, s, &mut shape);
                    if let Some(pool) = pool {
                        let window = pool.window(true);
                        if let Some(s) = fits(shape, &window, shape.c) {
                            push(DnnLayer::MaxPool { window }, s, &mut shape);
                        }
                    }
                    push(DnnLayer::Relu, shape, &mut shape);
                }
                Stage::MaxPool(win) | Stage::AvgPool(win) => {
                    let window = win.window(true);
                    let Some(s) = fits(shape, &window, shape.c) else {
                        continue;
                    };
                    let layer = if matches!(stage, Stage::MaxPool(_)) {
                        DnnLayer::MaxPool { window }
                    } else {
                        DnnLayer::AvgPool { window }
                    };
                    push(layer, s, &mut shape);
                }
                Stage::Flatten => {
                    let s = Shape::flat(shape.len() as u32);
                    push(DnnLayer::Flatten, s, &mut shape);
                }
                Stage::Dense { outputs, bias } => {
                    let dense = DnnLayer::Dense {
                        outputs,
                        weights: weights(shape.len() * u64::from(outputs), &mut seed),
                        bias: bias.then(|| weights(u64::from(outputs), &mut seed)),
                    };
                    push(dense, Shape::flat(outputs), &mut shape);
                    push(DnnLayer::Relu, shape, &mut shape);
                }
            }
        }
        if self.flatten_last {
            let s = Shape::flat(shape.len() as u32);
            push(DnnLayer::Flatten, s, &mut shape);
        }
        let out = DnnLayer::Dense {
            outputs: self.outputs,
            weights: weights(shape.len() * u64::from(self.outputs), &mut seed),
            bias: self
                .out_bias
                .then(|| weights(u64::from(self.outputs), &mut seed)),
        };
        push(out, Shape::flat(self.outputs), &mut shape);
        let dnn = Dnn::new(self.input, layers).expect("a well-formed stack must validate");
        (dnn, shapes)
    }
}
