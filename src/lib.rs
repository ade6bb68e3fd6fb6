//! # tdsnn
//!
//! Convert deep networks into temporal-coding spiking networks (TDSNN, Zhang et al.,
//! AAAI 2019) and simulate them event by event, exactly.
//!
//! This crate is the facade: one dependency for the whole library, each part re-exported
//! under its own name, and the common items in [`prelude`].
//!
//! | module | crate | what |
//! |---|---|---|
//! | [`engine`] | `tdsnn-engine` | the connection graph and its file format, the event-driven simulator, records, operation counts, the audit against equation (10) |
//! | [`converter`] | `tdsnn-converter` | the DNN, the f64 reference DNN, conversion into the engine's graph, DNN operation counts, the staircase fold |
//! | [`io`] | `tdsnn-io` | files: ONNX import, safetensors model files, IDX and NPY data, the NPZ dump |
//! | [`evaluate`] | `tdsnn-evaluate` | evaluating a converted network on a data set on all cores, every spike audited; the report (tables 1 and 2, text and JSON) |
//! | [`train`] | `tdsnn-train` | training with `G` on candle, the two-phase recipe, LeNet-5, AlexNet and VGG-16 |
//! | [`baseline`] | `tdsnn-baseline` | the dense f32 forward pass and the streaming-add calibration |
//!
//! Converting and simulating needs only `tdsnn-converter` and `tdsnn-engine` (and
//! `tdsnn-io` for files), which do not build candle; depend on them directly to compile
//! nothing else. The command-line tool `tdsnn` is the `tdsnn-cli` package (`cli/`).
//!
//! # Example
//! ```
//! use tdsnn::prelude::*;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A trained DNN: 3 inputs -> dense 2 + ReLU -> dense 2 (the output).
//! let dnn = Dnn::new(Shape::flat(3), vec![
//!     DnnLayer::Dense { outputs: 2, weights: vec![0.5, -1.0, 0.25, 1.0, 0.5, -0.5], bias: Some(vec![0.1, -0.2]) },
//!     DnnLayer::Relu,
//!     DnnLayer::Dense { outputs: 2, weights: vec![1.0, -1.0, -0.5, 2.0], bias: None },
//! ])?;
//! let graph = convert(&dnn, 5.0, TilPolicy::Dynamic)?;
//! let input = [0.2, 0.9, 0.4];
//! let record = Simulator::new(graph.clone(), TickMode::ClosedForm).run(&input, &mut ())?;
//! // Every spike lands where equation (10) says, and the class is the reference DNN's.
//! assert!(audit::audit(&graph, &input, &record, Tolerance::default())?.passed());
//! assert_eq!(record.output.class, reference_forward(&dnn, &input, 5.0)?.class);
//! # Ok(()) }
//! ```

// Every public item is documented; CI builds with -D warnings.
#![deny(missing_docs)]

pub use tdsnn_baseline as baseline;
pub use tdsnn_converter as converter;
pub use tdsnn_engine as engine;
pub use tdsnn_evaluate as evaluate;
pub use tdsnn_io as io;
pub use tdsnn_train as train;

/// The items most programs use: `use tdsnn::prelude::*;`.
pub mod prelude {
    pub use crate::evaluate::{evaluate, EvalConfig, Evaluation};
    pub use tdsnn_converter::{convert, reference_forward, relu_forward, Dnn, DnnLayer};
    pub use tdsnn_engine::audit::{self, Tolerance};
    pub use tdsnn_engine::{
        EventByEvent, Graph, GraphBuilder, Input, Plan, Record, Shape, Simulate, Simulator,
        SpikeObserver, TickMode, TilPolicy, Window,
    };
    pub use tdsnn_io::idx::Dataset;
    pub use tdsnn_io::images::{Images, Inputs};
    pub use tdsnn_io::model_file::{read_model, write_model, Model};
    pub use tdsnn_io::onnx::read_onnx;
}
