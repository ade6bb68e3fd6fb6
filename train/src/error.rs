//! Why training fails.

use tdsnn_converter::ModelError;

/// Why training failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A layer candle cannot train here.
    #[error("layer {layer} ({kind}): training does not support {what}")]
    Unsupported {
        /// Index of the layer.
        layer: usize,
        /// The layer's kind.
        kind: &'static str,
        /// What is unsupported.
        what: String,
    },
    /// The samples do not fit the network.
    #[error("samples: {0}")]
    Samples(String),
    /// The trained weights do not form a valid network (for instance they diverged to NaN).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// candle failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
