//! The built-in demo: a small LeNet-shaped network with seeded random weights, converted and
//! simulated on seeded random images, every spike checked against equation (10).
//!
//! It needs no fixture and no training: the spike-timing law it demonstrates does not depend
//! on the weights being trained.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tdsnn::converter::{convert, reference_forward, ConvertError, Dnn, DnnLayer};
use tdsnn::engine::audit::{self, Tolerance};
use tdsnn::engine::{Graph, Record, Shape, Simulate, Simulator, TickMode, TilPolicy, Window};

/// The demo network: conv 6@5x5 (pad 2) - max-pool 2 - conv 12@5x5 - avg-pool 2 - dense 32 -
/// dense 10, on 1x28x28 inputs, He-uniform weights from `seed`.
pub fn network(seed: u64) -> Dnn {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut he = |fan_in: u32, n: u32| -> Vec<f32> {
        let a = (6.0 / fan_in as f32).sqrt();
        (0..n).map(|_| rng.random_range(-a..=a)).collect()
    };
    let layers = vec![
        DnnLayer::Conv2d {
            out_channels: 6,
            window: Window::square(5, 1, 2),
            weights: he(25, 6 * 25),
            bias: Some(he(25, 6)),
        },
        DnnLayer::Relu,
        DnnLayer::MaxPool {
            window: Window::square(2, 2, 0),
        },
        DnnLayer::Conv2d {
            out_channels: 12,
            window: Window::square(5, 1, 0),
            weights: he(150, 12 * 150),
            bias: Some(he(150, 12)),
        },
        DnnLayer::Relu,
        DnnLayer::AvgPool {
            window: Window::square(2, 2, 0),
        },
        DnnLayer::Flatten,
        DnnLayer::Dense {
            outputs: 32,
            weights: he(300, 32 * 300),
            bias: Some(he(300, 32)),
        },
        DnnLayer::Relu,
        DnnLayer::Dense {
            outputs: 10,
            weights: he(32, 320),
            bias: Some(he(32, 10)),
        },
    ];
    Dnn::new(Shape::new(1, 28, 28), layers).expect("the demo network is well formed")
}

/// `n` seeded random images in `[0, 1]`, a third of their pixels exactly 0.
pub fn images(seed: u64, n: usize) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    (0..n)
        .map(|_| {
            (0..28 * 28)
                .map(|_| {
                    if rng.random_bool(1.0 / 3.0) {
                        0.0
                    } else {
                        rng.random_range(0.0..=1.0)
                    }
                })
                .collect()
        })
        .collect()
}

/// What the demo measured over all images.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Images simulated.
    pub images: usize,
    /// Neurons checked against equation (10).
    pub neurons: u64,
    /// Neurons whose spike time equals `T(A)` away from ties.
    pub exact: u64,
    /// Neurons within the tie window.
    pub ties: u64,
    /// Neurons off `T(A)` outside the tie window (must be 0).
    pub mismatches: u64,
    /// Images whose audit failed as a whole: spikes, frames, logits or class (must be 0).
    pub audit_failures: usize,
    /// Images whose SNN class equals the reference DNN's.
    pub class_agreements: usize,
    /// The last image's record, for the per-layer table.
    pub last: Option<Record>,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The network does not convert (for instance an invalid leak constant).
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// The engine rejected an image.
    #[error(transparent)]
    Engine(#[from] tdsnn::engine::Error),
    /// The reference DNN rejected an image.
    #[error(transparent)]
    Reference(#[from] tdsnn::converter::ReferenceError),
}

/// Converts the demo network with leak `leak` and runs `images` through it.
pub fn run(
    dnn: &Dnn,
    leak: f64,
    mode: TickMode,
    images: &[Vec<f32>],
    mut progress: impl FnMut(usize),
) -> Result<(Arc<Graph>, Summary), DemoError> {
    let graph = Arc::new(convert(dnn, leak, TilPolicy::Dynamic)?);
    let mut sim = Simulator::new(Arc::clone(&graph), mode);
    let mut summary = Summary {
        images: images.len(),
        ..Summary::default()
    };
    for (i, image) in images.iter().enumerate() {
        let record = sim.run(image, &mut ())?;
        let report = audit::audit(&graph, image, &record, Tolerance::DEFAULT)
            .expect("the record is of this graph");
        summary.neurons += report.neurons();
        summary.exact += report.layers.iter().map(|l| l.exact).sum::<u64>();
        summary.ties += report.ties();
        summary.mismatches += report.mismatches.len() as u64;
        summary.audit_failures += usize::from(!report.passed());
        let reference = reference_forward(dnn, image, leak)?;
        summary.class_agreements += usize::from(reference.class == record.output.class);
        summary.last = Some(record);
        progress(i + 1);
    }
    Ok((graph, summary))
}
