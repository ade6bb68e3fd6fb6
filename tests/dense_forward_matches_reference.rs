//! The dense f32 baseline computes the same network as the f64 ReLU reference
//! (`relu_forward`): logits within 1e-4 of the largest logit's magnitude, batch 1 and
//! batched, on the shipped LeNet and on a small net with padded, strided convs, both pools and
//! a bias-free layer.

use std::path::Path;

use tdsnn::baseline::{DenseForward, ForwardError};
use tdsnn::converter::{relu_forward, Dnn, DnnLayer, Shape, Window};
use tdsnn::io::idx::{load_split, Split};
use tdsnn::io::model_file::read_model;
use tdsnn::train::recipe::pixels;
use tdsnn::train::zoo::random_image;

/// Tolerance relative to the largest reference logit (f32 sums over up to 800 terms).
const TOLERANCE: f64 = 1e-4;

fn check(dnn: &Dnn, images: &[f32], batch: usize) {
    let per = dnn.input_shape().len() as usize;
    let classes = dnn.final_shape().len() as usize;
    let mut forward = DenseForward::new(dnn, batch);
    for (b, chunk) in images.chunks(batch * per).enumerate() {
        let logits = forward.run(chunk).expect("whole images").to_vec();
        assert_eq!(logits.len(), chunk.len() / per * classes);
        for (i, (x, got)) in chunk.chunks(per).zip(logits.chunks(classes)).enumerate() {
            let want = relu_forward(dnn, x).expect("valid input").logits;
            let scale = want.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
            for (j, (&g, &w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (f64::from(g) - w).abs() <= TOLERANCE * scale,
                    "batch {batch}, image {}, logit {j}: {g} vs {w}",
                    b * batch + i
                );
            }
        }
    }
}

/// The shipped LeNet-5 DNN(G) and the first `n` images of the shipped test split.
fn shipped_lenet(n: usize) -> (Dnn, Vec<f32>) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let dnn = read_model(fixtures.join("lenet/lenet5-g-L5.safetensors"))
        .expect("the shipped model")
        .dnn;
    let data = load_split(&fixtures.join("mnist"), Split::Test).expect("the shipped data");
    let mut images = pixels(&data);
    images.truncate(n * dnn.input_shape().len() as usize);
    (dnn, images)
}

#[test]
fn lenet_batch_1_and_batched() {
    let (dnn, images) = shipped_lenet(20);
    for batch in [1, 7, 20] {
        check(&dnn, &images, batch);
    }
}

#[test]
fn padded_strided_net_with_both_pools() {
    let weights = |n: usize, seed| {
        random_image(Shape::flat(n as u32), seed)
            .into_iter()
            .map(|v| v - 0.5)
            .collect::<Vec<f32>>()
    };
    let dnn = Dnn::new(
        Shape::new(2, 11, 9),
        vec![
            DnnLayer::Conv2d {
                out_channels: 4,
                window: Window {
                    kernel: [3, 2],
                    stride: [2, 1],
                    padding: [1, 2],
                },
                weights: weights(4 * 2 * 3 * 2, 1),
                bias: Some(weights(4, 2)),
            },
            DnnLayer::Relu,
            DnnLayer::MaxPool {
                window: Window::square(3, 2, 1),
            },
            DnnLayer::Conv2d {
                out_channels: 3,
                window: Window::square(3, 3, 2),
                weights: weights(3 * 4 * 9, 3),
                bias: None,
            },
            DnnLayer::Relu,
            DnnLayer::AvgPool {
                window: Window::square(2, 1, 1),
            },
            DnnLayer::Flatten,
            DnnLayer::Dense {
                outputs: 5,
                weights: weights(5 * 36, 4),
                bias: Some(weights(5, 5)),
            },
        ],
    )
    .expect("a valid network");
    assert_eq!(dnn.output_shape(5), Shape::new(3, 3, 4));
    let images: Vec<f32> = (0..5)
        .flat_map(|s| random_image(dnn.input_shape(), 10 + s))
        .collect();
    for batch in [1, 2, 5] {
        check(&dnn, &images, batch);
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let (dnn, images) = shipped_lenet(3);
    let mut forward = DenseForward::new(&dnn, 2);
    assert!(matches!(
        forward.run(&[]),
        Err(ForwardError::InputLength { .. })
    ));
    assert!(matches!(
        forward.run(&images[..100]),
        Err(ForwardError::InputLength { .. })
    ));
    assert!(matches!(
        forward.run(&images),
        Err(ForwardError::BatchTooLarge {
            images: 3,
            capacity: 2
        })
    ));
}
