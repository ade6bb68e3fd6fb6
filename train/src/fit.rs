//! Fitting a DNN's weights: the paper's "DNN adjustment and re-training", on candle (CPU).
//!
//! A network is trained with plain ReLU, or with the retraining activation in front of every
//! synapse-based layer under a straight-through gradient: `G(x)` itself
//! ([`Activation::G`]), or the staircase ReLU `G(x) - 1` ([`Activation::Staircase`]), which
//! converges far better and folds exactly into a DNN(G) ([`tdsnn_converter::staircase`]). Adam, cross
//! entropy, mini-batches in a seeded shuffled order; initial weights come seeded from
//! [`init`](crate::init()), so a run is reproducible.
//!
//! Cost per epoch: one forward and one backward pass over the data (about 12-20 s for LeNet-5
//! on 8,000 MNIST digits on one 2-core machine).

use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tdsnn_converter::Dnn;
use tdsnn_io::images::accuracy;

use crate::error::TrainError;
use crate::net::{Activation, Net};

/// How to train.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    /// Passes over the data.
    pub epochs: usize,
    /// Samples per mini-batch.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Seed of the shuffling order.
    pub seed: u64,
    /// The activation to train for.
    pub activation: Activation,
}

/// Labelled samples: `labels.len()` images of `C * H * W` values each, concatenated.
#[derive(Debug, Clone, Copy)]
pub struct Samples<'a> {
    /// The images, channel-major, one after another.
    pub images: &'a [f32],
    /// One label per image.
    pub labels: &'a [u8],
}

/// Progress of a training run, reported as it goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrainEvent {
    /// A mini-batch of an epoch is done.
    Batch {
        /// Epoch number, from 1.
        epoch: usize,
        /// Batches done in this epoch.
        done: usize,
        /// Batches per epoch.
        total: usize,
    },
    /// An epoch is done.
    Epoch(EpochReport),
}

/// What one epoch achieved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean cross-entropy loss over the epoch.
    pub loss: f64,
    /// Fraction of training samples classified correctly during the epoch.
    pub train_accuracy: f64,
    /// Wall-clock seconds the epoch took.
    pub seconds: f64,
}

fn check(dnn: &Dnn, data: Samples) -> Result<usize, TrainError> {
    let per = dnn.input_shape().len() as usize;
    if data.images.len() != data.labels.len() * per {
        return Err(TrainError::Samples(format!(
            "{} values for {} labels; the network takes {per} per image",
            data.images.len(),
            data.labels.len()
        )));
    }
    let classes = dnn.final_shape().len();
    if let Some(l) = data.labels.iter().find(|&&l| u64::from(l) >= classes) {
        return Err(TrainError::Samples(format!(
            "label {l} but the network has {classes} outputs"
        )));
    }
    Ok(per)
}

/// A batch as tensors: images `(n, C, H, W)` and labels `(n,)`.
fn batch(dnn: &Dnn, data: Samples, indices: &[usize]) -> Result<(Tensor, Tensor), TrainError> {
    let s = dnn.input_shape();
    let per = s.len() as usize;
    let mut images = Vec::with_capacity(indices.len() * per);
    for &i in indices {
        images.extend_from_slice(&data.images[i * per..(i + 1) * per]);
    }
    let labels: Vec<u32> = indices.iter().map(|&i| u32::from(data.labels[i])).collect();
    let shape = (indices.len(), s.c as usize, s.h as usize, s.w as usize);
    Ok((
        Tensor::from_vec(images, shape, &Device::Cpu)?,
        Tensor::from_vec(labels, indices.len(), &Device::Cpu)?,
    ))
}

/// Trains `dnn` on `data`; calls `progress` after every batch and every epoch. Returns the trained network
/// (for [`Activation::Staircase`], still to be folded).
///
/// # Example
/// ```
/// use tdsnn_train::{train, Activation, Samples, TrainConfig};
/// use tdsnn_converter::{Dnn, DnnLayer, Shape};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Learn which of two inputs is larger.
/// let dnn = Dnn::new(Shape::flat(2), vec![
///     DnnLayer::Dense { outputs: 2, weights: vec![0.1, -0.2, 0.3, 0.1], bias: None },
/// ])?;
/// let images = [0.9, 0.1, 0.2, 0.8, 0.7, 0.3, 0.1, 0.6];
/// let labels = [0, 1, 0, 1];
/// let config = TrainConfig { epochs: 200, batch_size: 4, learning_rate: 0.05, seed: 1, activation: Activation::Relu };
/// let trained = train(&dnn, Samples { images: &images, labels: &labels }, &config, |_| {})?;
/// # let _ = trained;
/// # Ok(()) }
/// ```
pub fn train(
    dnn: &Dnn,
    data: Samples,
    config: &TrainConfig,
    mut progress: impl FnMut(TrainEvent),
) -> Result<Dnn, TrainError> {
    check(dnn, data)?;
    let net = Net::new(dnn)?;
    let params = ParamsAdamW {
        lr: config.learning_rate,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut optimizer = AdamW::new(net.vars(), params)?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..data.labels.len()).collect();
    for epoch in 1..=config.epochs {
        let start = Instant::now();
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        // (class, label) of every sample, as the epoch classified it.
        let mut outcomes = Vec::with_capacity(order.len());
        let batch_size = config.batch_size.max(1);
        let total = order.len().div_ceil(batch_size);
        for (done, chunk) in order.chunks(batch_size).enumerate() {
            let (x, y) = batch(dnn, data, chunk)?;
            let logits = net.forward(&x, config.activation)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            optimizer.backward_step(&loss)?;
            loss_sum += f64::from(loss.to_scalar::<f32>()?) * chunk.len() as f64;
            let classes = Net::classes(&logits)?;
            outcomes.extend(
                (classes.into_iter().zip(chunk))
                    .map(|(c, &i)| (Some(c), Some(usize::from(data.labels[i])))),
            );
            progress(TrainEvent::Batch {
                epoch,
                done: done + 1,
                total,
            });
        }
        let n = data.labels.len().max(1) as f64;
        progress(TrainEvent::Epoch(EpochReport {
            epoch,
            loss: loss_sum / n,
            train_accuracy: accuracy(outcomes),
            seconds: start.elapsed().as_secs_f64(),
        }));
    }
    net.to_dnn()
}
