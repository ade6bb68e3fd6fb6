//! # tdsnn-baseline
//!
//! The baselines a TDSNN engine is measured against, in the same process and run (a number
//! means something only next to one):
//!
//! - [`DenseForward`]: the DNN's dense f32 forward pass, im2col + GEMM (the `gemm` crate,
//!   one core, runtime SIMD dispatch), batch 1 or batched;
//! - [`calibration`]: an L2-resident streaming add, vectorised with the same runtime dispatch
//!   (`pulp`) as the engine.
//!
//! Depends on `tdsnn-converter` for the [`Dnn`](tdsnn_converter::Dnn) it runs; nothing
//! depends on it but the `tdsnn` facade. Its one `unsafe` block, the call into gemm's
//! raw-pointer API, sits in a private module behind bounds checks.
//!
//! # Example
//! ```
//! use tdsnn_baseline::DenseForward;
//! use tdsnn_converter::{Dnn, DnnLayer, Shape};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dnn = Dnn::new(Shape::flat(3), vec![
//!     DnnLayer::Dense { outputs: 2, weights: vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0], bias: None },
//! ])?;
//! let mut forward = DenseForward::new(&dnn, 1);
//! assert_eq!(forward.run(&[1.0, 2.0, 3.0])?, &[1.0, 5.0]);
//! # Ok(()) }
//! ```

// Every public item is documented; CI builds with -D warnings.
#![deny(missing_docs)]

pub mod calibration;
mod dense;
mod gemm;

pub use dense::{DenseForward, ForwardError};
