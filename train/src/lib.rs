//! # tdsnn-train
//!
//! Training a DNN for conversion into a temporal-coding spiking network (TDSNN, Zhang et al.,
//! AAAI 2019): the paper's "DNN adjustment and re-training" on candle (CPU), and the networks
//! built in code.
//!
//! - [`fit`]: training with plain ReLU, with `G`, or with the staircase `G(x) - 1` under a
//!   straight-through gradient ([`train()`]; Adam, cross entropy, seeded mini-batches); fold a staircase-trained network into a DNN(G) with
//!   [`tdsnn_converter::staircase::fold_staircase`].
//! - [`mod@init`]: seeded initial weights, PyTorch's default or He ([`init()`], [`Init`]).
//! - [`recipe`]: the two phases `tdsnn train` runs on a data set: ReLU training (or a given
//!   ReLU model), fine-tuning with `G(x) - 1`, folding into the DNN(G), held-out accuracies
//!   ([`recipe::train_models`]).
//! - [`zoo`]: LeNet-5, AlexNet, VGG-16 and ResNet-18 as architectures, seeded random images.
//!
//! The one crate of tdsnn that depends on candle (and, through it, on tokenizers, rayon and
//! more: about 130 crates): converting and simulating a trained model needs none of it.
//! Depends on `tdsnn-converter` and `tdsnn-io` (architectures and data sets); nothing but the
//! `tdsnn` facade and the command-line tool depends on it.
//!
//! # Example
//! ```
//! use tdsnn_converter::staircase::fold_staircase;
//! use tdsnn_converter::{Dnn, DnnLayer, Shape};
//! use tdsnn_train::{train, Activation, Samples, TrainConfig};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Which of two inputs is larger, learned with the staircase G(x) - 1 for L = 5.
//! let dnn = Dnn::new(Shape::flat(2), vec![
//!     DnnLayer::Dense { outputs: 2, weights: vec![0.1, -0.2, 0.3, 0.1], bias: Some(vec![0.0; 2]) },
//! ])?;
//! let images = [0.9, 0.1, 0.2, 0.8, 0.7, 0.3, 0.1, 0.6];
//! let labels = [0, 1, 0, 1];
//! let config = TrainConfig {
//!     epochs: 50,
//!     batch_size: 4,
//!     learning_rate: 0.05,
//!     seed: 1,
//!     activation: Activation::Staircase { leak: 5.0 },
//! };
//! let trained = train(&dnn, Samples { images: &images, labels: &labels }, &config, |_| {})?;
//! let dnn_g = fold_staircase(&trained)?; // ready to convert with L = 5
//! assert_eq!(dnn_g.layers().len(), 1);
//! # Ok(()) }
//! ```

// Every public item is documented; CI builds with -D warnings.
#![deny(missing_docs)]

mod error;
pub mod fit;
pub mod init;
mod net;
pub mod recipe;
pub mod zoo;

pub use error::TrainError;
pub use fit::{train, EpochReport, Samples, TrainConfig, TrainEvent};
pub use init::{init, Init};
pub use net::Activation;
