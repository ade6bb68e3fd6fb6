//! # tdsnn-converter
//!
//! Turns a trained DNN into the connection graph of a temporal-coding spiking network
//! (TDSNN, Zhang et al., AAAI 2019), and holds the f64 reference DNN the spiking network must
//! equal.
//!
//! - [`model`]: the DNN as PyTorch describes it ([`Dnn`], [`DnnLayer`]), validated, with every
//!   layer's shape inferred; architectures without weights ([`Architecture`], [`LayerSpec`]),
//!   the paper's LeNet-5 among them. Residual networks are chains with shortcuts
//!   ([`DnnLayer::Shortcut`], identity or [`Projection`]) and concatenations
//!   ([`DnnLayer::Concat`]) naming earlier tensors ([`Source`]).
//! - [`reference`](mod@reference): the reference DNN with the activation `G(x) = exp(T(x) / L)` of
//!   equation (11) in front of every synapse-based layer ([`reference_forward`]), and the
//!   plain ReLU network ([`relu_forward`]).
//! - [`convert`](mod@convert): the conversion to a [`tdsnn_engine::Graph`] ([`convert()`]):
//!   negated, re-laid-out weights, bias neurons worth `b / G(1)`, ReLU layers dropped,
//!   shortcuts and concatenated parts as further synapse groups of a join.
//! - [`ops`]: the DNN's operation counts (table 2 of the paper), per layer [`LayerMacs`].
//! - [`window`]: window geometry and the pooling loops the reference shares with the dense
//!   f32 baseline.
//! - [`staircase`]: folds a network trained with the staircase `G(x) - 1` (`tdsnn-train`)
//!   into a DNN(G).
//!
//! Depends on `tdsnn-engine` for shapes, the graph and the temporal code, and on nothing
//! heavy: files (safetensors, ONNX, IDX, NPY) are `tdsnn-io`'s, training is `tdsnn-train`'s.
//!
//! # Example
//! ```
//! use tdsnn_converter::{convert, reference_forward, Dnn, DnnLayer, Shape, TilPolicy, Window};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dnn = Dnn::new(
//!     Shape::new(1, 4, 4),
//!     vec![
//!         DnnLayer::Conv2d {
//!             out_channels: 2,
//!             window: Window::square(3, 1, 1),
//!             weights: vec![0.1; 2 * 1 * 3 * 3],
//!             bias: Some(vec![0.0, -0.2]),
//!         },
//!         DnnLayer::Relu,
//!         DnnLayer::MaxPool { window: Window::square(2, 2, 0) },
//!         DnnLayer::Flatten,
//!         DnnLayer::Dense { outputs: 3, weights: vec![0.05; 3 * 8], bias: None },
//!     ],
//! )?;
//! let reference = reference_forward(&dnn, &[0.5; 16], 5.0)?;
//! assert_eq!(reference.logits.len(), 3);
//! let graph = convert(&dnn, 5.0, TilPolicy::Dynamic)?;
//! assert_eq!(graph.layers().len(), 4); // ReLU dropped
//! # Ok(()) }
//! ```

// Every public item is documented; CI builds with -D warnings.
#![deny(missing_docs)]

pub mod convert;
mod error;
pub mod model;
pub mod ops;
pub mod reference;
pub mod staircase;
pub mod window;

pub use convert::{convert, layer_map};
pub use error::{ConvertError, FoldError, LayerProblem, ModelError, Problem, ReferenceError};
pub use model::{Architecture, Dnn, DnnLayer, LayerSpec, Projection, Source};
pub use ops::{LayerMacs, OpCounts};
pub use reference::{
    reference_forward, relu_forward, staircase_forward, Forward, LayerValues, Reference,
};
pub use tdsnn_engine::graph::check_leak;
pub use tdsnn_engine::{Shape, TilPolicy, Window};
