//! Random networks for the property tests: small DNNs (conv, max-pool, avg-pool, dense,
//! 2-5 synapse-based layers deep), converted to engine graphs, with random inputs.
#![allow(dead_code)] // each test file uses a different part of this module

use proptest::prelude::*;
use tdsnn_converter::{convert, Dnn, DnnLayer};
use tdsnn_engine::{Graph, Shape, TilPolicy, Window};

/// One hidden block of a random network, before it is fitted to the shapes it meets.
#[derive(Debug, Clone)]
pub enum Block {
    /// conv + ReLU
    Conv { out: u32, k: u32, stride: u32, pad: u32, bias: bool },
    /// max-pool
    MaxPool { k: u32, stride: u32, pad: u32 },
    /// avg-pool
    AvgPool { k: u32, stride: u32, pad: u32 },
    /// (flatten +) dense + ReLU
    Dense { out: u32, bias: bool },
}

fn block() -> impl Strategy<Value = Block> {
    prop_oneof![
        3 => (1u32..=4, 1u32..=3, 1u32..=2, 0u32..=2, any::<bool>())
            .prop_map(|(out, k, stride, pad, bias)| Block::Conv { out, k, stride, pad, bias }),
        1 => (2u32..=3, 1u32..=2, 0u32..=1).prop_map(|(k, stride, pad)| Block::MaxPool { k, stride, pad }),
        1 => (2u32..=3, 1u32..=2, 0u32..=1).prop_map(|(k, stride, pad)| Block::AvgPool { k, stride, pad }),
        2 => (1u32..=12, any::<bool>()).prop_map(|(out, bias)| Block::Dense { out, bias }),
    ]
}

/// A network's architecture without its weights.
#[derive(Debug, Clone)]
pub struct Arch {
    pub input: Shape,
    /// DNN layers with empty weight vectors: only kinds, sizes and geometry.
    pub layers: Vec<DnnLayer>,
    pub leak: f64,
}

impl Arch {
    /// Fits the blocks to the shapes they meet: kernels shrink to fit, pools that cannot fit
    /// are dropped, convs and pools after a dense layer become dense layers.
    fn new(input: Shape, blocks: &[Block], classes: u32, out_bias: bool, leak: f64) -> Arch {
        let mut layers = Vec::new();
        let (mut h, mut w, mut flat) = (input.h, input.w, false);
        let mut c = input.c;
        let mut push_dense = |layers: &mut Vec<DnnLayer>, flat: &mut bool, out: u32, bias: bool| {
            if !*flat {
                layers.push(DnnLayer::Flatten);
                *flat = true;
            }
            layers.push(DnnLayer::Dense { outputs: out, weights: Vec::new(), bias: bias.then(Vec::new) });
        };
        for b in blocks {
            match (*b, flat) {
                (Block::Conv { out, k, stride, pad, bias }, false) => {
                    let k = k.min(h + 2 * pad).min(w + 2 * pad);
                    let window = Window::square(k, stride, pad);
                    layers.push(DnnLayer::Conv2d { out_channels: out, window, weights: Vec::new(), bias: bias.then(Vec::new) });
                    layers.push(DnnLayer::Relu);
                    (c, h, w) = (out, window.out_extent(0, h).unwrap(), window.out_extent(1, w).unwrap());
                }
                (Block::MaxPool { k, stride, pad } | Block::AvgPool { k, stride, pad }, false) => {
                    let window = Window::square(k, stride, pad);
                    let (Some(oh), Some(ow)) = (window.out_extent(0, h), window.out_extent(1, w)) else {
                        continue;
                    };
                    layers.push(match b {
                        Block::MaxPool { .. } => DnnLayer::MaxPool { window },
                        _ => DnnLayer::AvgPool { window },
                    });
                    (h, w) = (oh, ow);
                }
                (Block::Conv { out, bias, .. } | Block::Dense { out, bias }, _) => {
                    push_dense(&mut layers, &mut flat, out, bias);
                    layers.push(DnnLayer::Relu);
                }
                (Block::MaxPool { .. } | Block::AvgPool { .. }, true) => {}
            }
        }
        let _ = c;
        push_dense(&mut layers, &mut flat, classes, out_bias);
        Arch { input, layers, leak }
    }

    /// Number of (weights, biases) to draw.
    fn sizes(&self) -> (usize, usize) {
        let skeleton = Dnn::new(self.input, self.with(&[], &[])).expect("architecture is valid");
        let mut n = (0, 0);
        for (k, l) in skeleton.layers().iter().enumerate() {
            let fan_in = skeleton.input_shape_of(k).len() as usize;
            match l {
                DnnLayer::Dense { outputs, bias, .. } => {
                    n.0 += fan_in * *outputs as usize;
                    n.1 += bias.as_ref().map_or(0, |_| *outputs as usize);
                }
                DnnLayer::Conv2d { out_channels, window, bias, .. } => {
                    let c_in = skeleton.input_shape_of(k).c as usize;
                    n.0 += c_in * (window.kernel[0] * window.kernel[1]) as usize * *out_channels as usize;
                    n.1 += bias.as_ref().map_or(0, |_| *out_channels as usize);
                }
                _ => {}
            }
        }
        n
    }

    /// The layers with weights and biases drawn from `w` and `b` (in order); empty slices
    /// give the bare architecture, which [`Dnn::new`] accepts only for shape inference.
    fn with(&self, w: &[f32], b: &[f32]) -> Vec<DnnLayer> {
        let (mut wi, mut bi) = (0, 0);
        let mut shape = self.input;
        let mut out = Vec::new();
        for l in &self.layers {
            let mut l = l.clone();
            match &mut l {
                DnnLayer::Dense { outputs, weights, bias } => {
                    let n = shape.len() as usize * *outputs as usize;
                    let scale = (3.0 / shape.len() as f32).sqrt() * 1.5;
                    if !w.is_empty() {
                        *weights = w[wi..wi + n].iter().map(|x| x * scale).collect();
                        wi += n;
                    } else {
                        *weights = vec![0.0; n];
                    }
                    if let Some(bias) = bias {
                        let m = *outputs as usize;
                        *bias = if b.is_empty() { vec![0.0; m] } else { b[bi..bi + m].to_vec() };
                        bi += m;
                    }
                    shape = Shape::flat(*outputs);
                }
                DnnLayer::Conv2d { out_channels, window, weights, bias } => {
                    let fan_in = shape.c * window.kernel[0] * window.kernel[1];
                    let n = (fan_in * *out_channels) as usize;
                    let scale = (3.0 / fan_in as f32).sqrt() * 1.5;
                    if !w.is_empty() {
                        *weights = w[wi..wi + n].iter().map(|x| x * scale).collect();
                        wi += n;
                    } else {
                        *weights = vec![0.0; n];
                    }
                    if let Some(bias) = bias {
                        let m = *out_channels as usize;
                        *bias = if b.is_empty() { vec![0.0; m] } else { b[bi..bi + m].to_vec() };
                        bi += m;
                    }
                    shape = Shape::new(*out_channels, window.out_extent(0, shape.h).unwrap(), window.out_extent(1, shape.w).unwrap());
                }
                DnnLayer::MaxPool { window } | DnnLayer::AvgPool { window } => {
                    shape = Shape::new(shape.c, window.out_extent(0, shape.h).unwrap(), window.out_extent(1, shape.w).unwrap());
                }
                DnnLayer::Flatten => shape = Shape::flat(shape.len() as u32),
                DnnLayer::Relu => {}
            }
            out.push(l);
        }
        out
    }
}

/// A random network with its weights and one input.
#[derive(Debug, Clone)]
pub struct Case {
    pub dnn: Dnn,
    pub leak: f64,
    pub input: Vec<f32>,
    /// Extra steps added to the largest dynamic `T_il` to make a valid fixed `T_il`.
    pub fixed_slack: u32,
}

impl Case {
    /// The engine graph under a `T_il` policy.
    pub fn graph(&self, til: TilPolicy) -> Graph {
        convert(&self.dnn, self.leak, til).expect("random networks convert")
    }
}

/// Random cases: input 1-3 channels of 4x4 to 9x9, 1-4 hidden blocks, 2-6 classes, L in [1, 8].
pub fn case() -> impl Strategy<Value = Case> {
    (
        (1u32..=3, 4u32..=9, 4u32..=9),
        prop::collection::vec(block(), 1..=4),
        2u32..=6,
        any::<bool>(),
        1.0f64..=8.0,
        0u32..=3,
    )
        .prop_flat_map(|((c, h, w), blocks, classes, out_bias, leak, fixed_slack)| {
            let arch = Arch::new(Shape::new(c, h, w), &blocks, classes, out_bias, leak);
            let (nw, nb) = arch.sizes();
            let pixel = prop_oneof![1 => Just(0.0f32), 4 => 0.0f32..=1.0];
            (
                Just(arch),
                prop::collection::vec(-1.0f32..=1.0, nw),
                prop::collection::vec(-1.0f32..=1.0, nb),
                prop::collection::vec(pixel, (c * h * w) as usize),
                Just(fixed_slack),
            )
        })
        .prop_map(|(arch, w, b, input, fixed_slack)| Case {
            dnn: Dnn::new(arch.input, arch.with(&w, &b)).expect("architecture is valid"),
            leak: arch.leak,
            input,
            fixed_slack,
        })
}
