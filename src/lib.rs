//! # tdsnn
//!
//! Convert deep networks into temporal-coding spiking networks (TDSNN, Zhang et al.,
//! AAAI 2019) and simulate them event by event, exactly.
//!
//! This crate is the facade: it re-exports the engine ([`engine`], `tdsnn-engine`) and the
//! converter ([`converter`], `tdsnn-converter`), and holds what the command-line tool runs:
//! evaluation on all cores ([`evaluate`]), reports, training, the leak study, inputs and the
//! dump, the benchmark ([`bench`](mod@bench)) and the demo network ([`demo`]).
//!
//! # Example
//! ```
//! use tdsnn::converter::{convert, reference_forward, Dnn, DnnLayer};
//! use tdsnn::engine::{audit, Shape, Simulator, TickMode, TilPolicy};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A trained DNN: 3 inputs -> dense 2 + ReLU -> dense 2 (the output).
//! let dnn = Dnn::new(Shape::flat(3), vec![
//!     DnnLayer::Dense { outputs: 2, weights: vec![0.5, -1.0, 0.25, 1.0, 0.5, -0.5], bias: Some(vec![0.1, -0.2]) },
//!     DnnLayer::Relu,
//!     DnnLayer::Dense { outputs: 2, weights: vec![1.0, -1.0, -0.5, 2.0], bias: None },
//! ])?;
//! let graph = convert(&dnn, 5.0, TilPolicy::Dynamic)?;
//! let input = [0.2, 0.9, 0.4];
//! let record = Simulator::new(&graph, TickMode::ClosedForm).run(&input, &mut ())?;
//! // Every spike lands where equation (10) says, and the class is the reference DNN's.
//! assert!(audit::audit(&graph, &input, &record, 1e-9)?.passed(1e-9));
//! assert_eq!(record.output.class, reference_forward(&dnn, &input, 5.0)?.class);
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod bench;
pub mod demo;
pub mod evaluate;
pub mod fixtures;
pub mod plot;
pub mod report;
pub mod sweep;

pub use tdsnn_baseline as baseline;
pub use tdsnn_converter as converter;
pub use tdsnn_engine as engine;
pub use tdsnn_io as io;
pub use tdsnn_train as train;
