//! # tdsnn-converter
//!
//! Turns a trained DNN into the connection graph of a temporal-coding spiking network
//! (TDSNN, Zhang et al., AAAI 2019), and holds the f64 reference DNN.

// Every public item is documented; CI builds with -D warnings.
#![deny(missing_docs)]

pub mod convert;
mod error;
pub mod model;
pub mod reference;

pub use convert::{convert, layer_map};
pub use error::{ConvertError, LayerProblem, ModelError, Problem, ReferenceError};
pub use model::{Dnn, DnnLayer};
pub use reference::{reference_forward, relu_forward, Forward, LayerValues, Reference};
pub use tdsnn_engine::{Shape, TilPolicy, Window};
