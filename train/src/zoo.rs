//! Networks built in code: the paper's LeNet-5 ([`lenet5`], the architecture `tdsnn train`
//! trains), and, for scale, AlexNet, VGG-16 and ResNet-18 on 3x224x224 inputs ([`alexnet`],
//! [`vgg16`], [`resnet18`]) with He-initialised random weights ([`Init::He`](crate::Init::He))
//! and seeded random images ([`random_image`]). Untrained, the big three measure what
//! simulating a network of that size costs (memory, time, events), which does not depend on
//! the weights being trained.
//!
//! The architectures are torchvision's (`alexnet`, `vgg16`, `resnet18`) without dropout
//! (inactive at inference) and, for AlexNet and VGG-16, without the adaptive average pool,
//! which is the identity on 224x224 inputs: the last max-pool already gives 256x6x6 (AlexNet)
//! and 512x7x7 (VGG-16), which the first dense layer flattens channel-major, as torchvision
//! does. ResNet-18's BatchNorms are folded into the convs before them (each conv gains a
//! bias), its adaptive average pool is an average pool over the whole 7x7 plane.
//! Multiply-accumulates ([`Dnn::op_counts`](tdsnn_converter::Dnn::op_counts)): AlexNet
//! 714,188,480 (0.71 G), VGG-16 15,470,264,320 (15.47 G), ResNet-18 1,814,098,432 (1.81 G).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Uniform};
use tdsnn_converter::{Architecture, LayerSpec, Projection, Shape, Source, Window};

/// A conv with bias, square kernel `k`, stride `s`, padding `p`.
fn conv(out_channels: u32, k: u32, s: u32, p: u32) -> LayerSpec {
    LayerSpec::Conv2d {
        out_channels,
        window: Window::square(k, s, p),
        weights: (),
        bias: Some(()),
    }
}

/// A max-pool, square kernel `k`, stride `s`.
fn max_pool(k: u32, s: u32) -> LayerSpec {
    LayerSpec::MaxPool {
        window: Window::square(k, s, 0),
    }
}

/// A dense layer with bias.
fn dense(outputs: u32) -> LayerSpec {
    LayerSpec::Dense {
        outputs,
        weights: (),
        bias: Some(()),
    }
}

/// The classifier AlexNet and VGG-16 end with: flatten, dense 4096, dense 4096, dense 1000.
fn classifier(layers: &mut Vec<LayerSpec>) {
    layers.extend([
        LayerSpec::Flatten,
        dense(4096),
        LayerSpec::Relu,
        dense(4096),
        LayerSpec::Relu,
        dense(1000),
    ]);
}

/// LeNet-5 as the paper uses it: conv 20@5x5, max-pool 2, conv 50@5x5, max-pool 2,
/// dense 500, dense 10, ReLU, on 1x28x28 (the shipped models' architecture). Defined once,
/// in the converter ([`Architecture::lenet5`]), whose operation counts are checked on it.
///
/// # Example
/// ```
/// use tdsnn_train::zoo::lenet5;
/// # fn main() -> Result<(), tdsnn_converter::ModelError> {
/// let dnn = tdsnn_train::init(&lenet5(), tdsnn_train::Init::Uniform, 2019)?;
/// assert_eq!(dnn.op_counts().multiplications(), 2_293_000);
/// # Ok(()) }
/// ```
pub fn lenet5() -> Architecture {
    Architecture::lenet5()
}

/// AlexNet as torchvision builds it, on 3x224x224: conv 64@11x11 stride 4 pad 2,
/// max-pool 3/2, conv 192@5x5 pad 2, max-pool 3/2, conv 384, 256, 256 @3x3 pad 1,
/// max-pool 3/2 (256x6x6), dense 4096, 4096, 1000; ReLU after every conv and hidden dense.
///
/// # Example
/// ```
/// use tdsnn_train::zoo::alexnet;
/// use tdsnn_train::{init, Init};
/// # fn main() -> Result<(), tdsnn_converter::ModelError> {
/// let dnn = init(&alexnet(), Init::He, 1)?;
/// assert_eq!(dnn.op_counts().multiplications(), 714_188_480);
/// # Ok(()) }
/// ```
pub fn alexnet() -> Architecture {
    let mut layers = vec![
        conv(64, 11, 4, 2),
        LayerSpec::Relu,
        max_pool(3, 2),
        conv(192, 5, 1, 2),
        LayerSpec::Relu,
        max_pool(3, 2),
        conv(384, 3, 1, 1),
        LayerSpec::Relu,
        conv(256, 3, 1, 1),
        LayerSpec::Relu,
        conv(256, 3, 1, 1),
        LayerSpec::Relu,
        max_pool(3, 2),
    ];
    classifier(&mut layers);
    Architecture {
        input: Shape::new(3, 224, 224),
        layers,
    }
}

/// VGG-16 (configuration D) on 3x224x224: 13 convs 3x3 pad 1 in five blocks of 64, 64 |
/// 128, 128 | 256 x3 | 512 x3 | 512 x3 channels, each block closed by a max-pool 2/2
/// (512x7x7 after the fifth), then dense 4096, 4096, 1000; ReLU after every conv and
/// hidden dense.
pub fn vgg16() -> Architecture {
    let blocks: [&[u32]; 5] = [
        &[64, 64],
        &[128, 128],
        &[256, 256, 256],
        &[512, 512, 512],
        &[512, 512, 512],
    ];
    let mut layers = Vec::new();
    for block in blocks {
        for &c in block {
            layers.extend([conv(c, 3, 1, 1), LayerSpec::Relu]);
        }
        layers.push(max_pool(2, 2));
    }
    classifier(&mut layers);
    Architecture {
        input: Shape::new(3, 224, 224),
        layers,
    }
}

/// ResNet-18 as torchvision builds it, on 3x224x224, each BatchNorm folded into the conv
/// before it (a conv bias): conv 64@7x7 stride 2 pad 3, ReLU, max-pool 3/2 pad 1 (64x56x56),
/// then four stages of two basic blocks of 64, 128, 256, 512 channels (56, 28, 14, 7 wide),
/// average pool over the whole 7x7 plane, flatten, dense 1000.
///
/// A basic block is conv 3x3 pad 1, ReLU, conv 3x3 pad 1, a [`Shortcut`](LayerSpec::Shortcut)
/// adding the block's input (a spiking tensor: the max-pool's output or the previous block's
/// ReLU), ReLU. The first block of stages 2 to 4 has stride 2 in its first conv and a
/// projection shortcut (a 1x1 stride-2 conv with bias, torchvision's `downsample` with its
/// BatchNorm folded); every other shortcut is the identity. 21 convs (3 of them projections),
/// 8 joins.
///
/// # Example
/// ```
/// use tdsnn_converter::Shape;
/// use tdsnn_train::zoo::resnet18;
/// use tdsnn_train::{init, Init};
/// # fn main() -> Result<(), tdsnn_converter::ModelError> {
/// let dnn = init(&resnet18(), Init::He, 1)?;
/// assert_eq!(dnn.final_shape(), Shape::flat(1000));
/// assert_eq!(dnn.op_counts().multiplications(), 1_814_098_432);
/// # Ok(()) }
/// ```
pub fn resnet18() -> Architecture {
    let mut layers = vec![
        conv(64, 7, 2, 3),
        LayerSpec::Relu,
        LayerSpec::MaxPool {
            window: Window::square(3, 2, 1),
        },
    ];
    let mut channels = 64;
    for (stage, c) in [64, 128, 256, 512].into_iter().enumerate() {
        for block in 0..2 {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            // The block's input: the last layer so far (a ReLU, or the stem's max-pool).
            let from = Source::Layer(layers.len() - 1);
            let projection = (stride != 1 || c != channels).then_some(Projection {
                window: Window::square(1, stride, 0),
                weights: (),
                bias: Some(()),
            });
            layers.extend([
                conv(c, 3, stride, 1),
                LayerSpec::Relu,
                conv(c, 3, 1, 1),
                LayerSpec::Shortcut { from, projection },
                LayerSpec::Relu,
            ]);
            channels = c;
        }
    }
    layers.extend([
        LayerSpec::AvgPool {
            window: Window::square(7, 7, 0),
        },
        LayerSpec::Flatten,
        dense(1000),
    ]);
    Architecture {
        input: Shape::new(3, 224, 224),
        layers,
    }
}

/// A seeded random image of `shape`, pixels uniform in `[0, 1]`.
///
/// # Example
/// ```
/// use tdsnn_converter::Shape;
/// use tdsnn_train::zoo::random_image;
/// let image = random_image(Shape::new(3, 224, 224), 1);
/// assert_eq!(image.len(), 3 * 224 * 224);
/// assert!(image.iter().all(|p| (0.0..=1.0).contains(p)));
/// ```
pub fn random_image(shape: Shape, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pixel = Uniform::new_inclusive(0.0f32, 1.0).expect("a valid range");
    (0..shape.len()).map(|_| pixel.sample(&mut rng)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{init, Init};
    use tdsnn_converter::Dnn;

    /// Shapes and MAC counts from the architectures alone (zero weights, no initialisation).
    fn skeleton(arch: &Architecture) -> Dnn {
        arch.build(|_, _, shape| Ok::<_, ()>(vec![0.0; shape.iter().product::<u64>() as usize]))
            .unwrap()
            .unwrap()
    }

    fn conv_and_pool_shapes(dnn: &Dnn) -> Vec<String> {
        dnn.layers()
            .iter()
            .zip(dnn.output_shapes())
            .filter(|(l, _)| l.window().is_some())
            .map(|(l, s)| format!("{} {s}", l.kind()))
            .collect()
    }

    #[test]
    fn alexnet_is_torchvisions() {
        let dnn = skeleton(&alexnet());
        assert_eq!(
            conv_and_pool_shapes(&dnn),
            [
                "conv2d 64x55x55",
                "max_pool 64x27x27",
                "conv2d 192x27x27",
                "max_pool 192x13x13",
                "conv2d 384x13x13",
                "conv2d 256x13x13",
                "conv2d 256x13x13",
                "max_pool 256x6x6",
            ]
        );
        assert_eq!(dnn.final_shape(), Shape::flat(1000));
        let ops = dnn.op_counts();
        let macs: Vec<u64> = ops.layers.iter().map(|l| l.multiplications).collect();
        assert_eq!(
            macs,
            [
                70_276_800,
                0,
                223_948_800,
                0,
                112_140_288,
                149_520_384,
                99_680_256,
                0,
                37_748_736,
                16_777_216,
                4_096_000
            ]
        );
        assert_eq!(ops.multiplications(), 714_188_480); // torchvision: 0.71 GMACs
        assert_eq!(dnn.parameter_count(), 61_100_840); // torchvision's AlexNet
    }

    #[test]
    fn vgg16_is_torchvisions() {
        let dnn = skeleton(&vgg16());
        let shapes = conv_and_pool_shapes(&dnn);
        assert_eq!(shapes.len(), 13 + 5);
        assert_eq!(shapes[0], "conv2d 64x224x224");
        assert_eq!(shapes[2], "max_pool 64x112x112");
        assert_eq!(shapes[17], "max_pool 512x7x7");
        assert_eq!(
            dnn.input_shape_of(dnn.layers().len() - 6),
            Shape::new(512, 7, 7)
        ); // into flatten
        assert_eq!(dnn.final_shape(), Shape::flat(1000));
        let ops = dnn.op_counts();
        assert_eq!(ops.layers.iter().filter(|l| l.kind == "conv2d").count(), 13);
        assert_eq!(ops.multiplications(), 15_470_264_320); // 15.47 GMACs
    }

    #[test]
    fn resnet18_is_torchvisions() {
        let dnn = skeleton(&resnet18());
        let shapes = conv_and_pool_shapes(&dnn);
        // The stem, 16 block convs, 3 projections, the average pool.
        assert_eq!(shapes.len(), 2 + 16 + 3 + 1);
        assert_eq!(shapes[..2], ["conv2d 64x112x112", "max_pool 64x56x56"]);
        let projections: Vec<&str> = shapes
            .iter()
            .filter(|s| s.starts_with("shortcut"))
            .map(String::as_str)
            .collect();
        assert_eq!(
            projections,
            [
                "shortcut 128x28x28",
                "shortcut 256x14x14",
                "shortcut 512x7x7"
            ]
        );
        assert_eq!(shapes[shapes.len() - 1], "avg_pool 512x1x1");
        assert_eq!(dnn.final_shape(), Shape::flat(1000));
        // Every block: 3x3 conv, ReLU, 3x3 conv, a shortcut from the block's input, ReLU.
        let joins: Vec<(usize, Option<Source>, bool)> = dnn
            .layers()
            .iter()
            .enumerate()
            .filter_map(|(k, l)| match l {
                tdsnn_converter::DnnLayer::Shortcut { from, projection } => {
                    Some((k, Some(*from), projection.is_some()))
                }
                _ => None,
            })
            .collect();
        let block = |k: usize, j: usize, p| (k, Some(Source::Layer(j)), p);
        assert_eq!(
            joins,
            [
                block(6, 2, false),
                block(11, 7, false),
                block(16, 12, true),
                block(21, 17, false),
                block(26, 22, true),
                block(31, 27, false),
                block(36, 32, true),
                block(41, 37, false),
            ]
        );
        let ops = dnn.op_counts();
        // The stem's conv: 3 * 7 * 7 inputs per output, 64 x 112 x 112 outputs.
        assert_eq!(ops.layers[0].multiplications, 118_013_952);
        // torchvision's ResNet-18: 1.81 G multiply-accumulates, 1,814,073,344 in its convs,
        // projections and fc; ours adds the average pool's 25,088 (512 x 49), counted as
        // multiplications.
        let pool = ops.layers.iter().find(|l| l.kind == "avg_pool").unwrap();
        assert_eq!(pool.multiplications, 25_088);
        assert_eq!(ops.multiplications(), 1_814_073_344 + 25_088);
        // torchvision counts 11,689,512 parameters: conv and fc weights, the fc bias, and a
        // weight and bias per channel of each of the 20 BatchNorms (4,800 channels; the
        // running statistics are buffers, not parameters). Folded, each BatchNorm becomes
        // one bias per channel of its conv: 4,800 fewer.
        assert_eq!(dnn.parameter_count(), 11_689_512 - 4_800);
    }

    #[test]
    fn he_init_fills_resnet18s_projections() {
        let dnn = init(&resnet18(), Init::He, 5).unwrap();
        let tdsnn_converter::DnnLayer::Shortcut {
            projection: Some(p),
            ..
        } = &dnn.layers()[16]
        else {
            panic!("layer 16 is stage 2's projection shortcut");
        };
        // 128 x 64 weights, fan-in 64: variance 2 / 64 within 5%.
        let n = p.weights.len() as f64;
        let var = p.weights.iter().map(|&w| f64::from(w).powi(2)).sum::<f64>() / n;
        assert_eq!(p.weights.len(), 128 * 64);
        assert!((var / (2.0 / 64.0) - 1.0).abs() < 0.05, "{var}");
        assert!(p.bias.as_ref().unwrap().iter().all(|&b| b == 0.0));
    }

    #[test]
    fn he_init_has_the_right_spread() {
        let dnn = init(&lenet5(), Init::He, 3).unwrap();
        let tdsnn_converter::DnnLayer::Dense { weights, bias, .. } = &dnn.layers()[7] else {
            panic!("layer 7 is LeNet's first dense layer");
        };
        let n = weights.len() as f64;
        let mean = weights.iter().map(|&w| f64::from(w)).sum::<f64>() / n;
        let var = weights
            .iter()
            .map(|&w| (f64::from(w) - mean).powi(2))
            .sum::<f64>()
            / n;
        // fan_in 800: variance 2 / 800 within 2% (400,000 draws).
        assert!(mean.abs() < 1e-3, "{mean}");
        assert!((var / (2.0 / 800.0) - 1.0).abs() < 0.02, "{var}");
        assert!(bias.as_ref().unwrap().iter().all(|&b| b == 0.0));
    }
}
