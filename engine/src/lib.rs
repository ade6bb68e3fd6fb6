//! # tdsnn-engine
//!
//! The event-queue engine of TDSNN (Zhang et al., AAAI 2019): temporal-coding spiking
//! networks converted from DNNs, simulated event by event, exactly.
//!
//! Each neuron fires one spike, a timestamped event at an integer time step. A synapse-based
//! layer integrates negated weights, leaking as `exp(-dt/L)` (applied lazily, once, at the
//! release: see [`kernel`]) until its release at `R_k` (the inhibition time `T_il` after its
//! frame origin); then a ticking neuron with
//! weight `w_tick` (equation (9)) drives every neuron to threshold, so that a neuron whose DNN
//! pre-activation is `A` fires exactly `T(A) = ceil(L ln(A + 1))` steps after the release
//! (equation (10)).
//!
//! - [`graph`]: the connection graph the engine consumes, validated on construction.
//! - [`format`](mod@format): the graph file format (little-endian, checksummed, read in place).
//! - [`kernel`]: a [`Plan`] (the graph and its tables, built once, shared by threads), the
//!   fast [`Simulator`] and the straightforward event-by-event path it is tested against,
//!   [`EventByEvent`], both behind one trait, [`Simulate`]; an [`Input`] is values or spike
//!   times.
//! - [`record`], [`counters`]: what a run produced and what it cost.
//! - [`audit`]: the teacher-forced check of every spike time against equation (10).
//! - [`coding`]: `T(x)`, `G(x)`, `w_tick` and the leak factors.
//!
//! # Example
//! ```
//! use tdsnn_engine::{GraphBuilder, Shape, Simulate, Simulator, TickMode};
//! # fn main() -> Result<(), tdsnn_engine::Error> {
//! // 2 inputs -> hidden dense (2 neurons, negated weights) -> output (2 classes).
//! let graph = GraphBuilder::new(Shape::flat(2), 5.0)
//!     .dense(2, vec![-1.0, 0.0, 0.0, -1.0], None)
//!     .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
//!     .build()?;
//! let mut sim = Simulator::new(graph, TickMode::ClosedForm);
//! let record = sim.run(&[0.2, 0.9], &mut ())?;
//! assert_eq!(record.output.class, 1);
//! # Ok(()) }
//! ```

// Every public item is documented; CI builds with -D warnings.
#![deny(missing_docs)]
// No unsafe code: the hot loops are bounds-checked (workspace lint `unsafe_code = "forbid"`).

pub mod audit;
pub mod coding;
pub mod counters;
mod error;
pub mod format;
pub mod graph;
mod input;
pub mod kernel;
pub mod observer;
pub mod record;

pub use error::{Error, ErrorKind, Result};
pub use graph::{
    AvgPool, Conv2d, Dense, Graph, GraphBuilder, Layer, MaxPool, Params, Shape, TilPolicy, Weights,
    Window,
};
pub use input::Input;
pub use kernel::{EventByEvent, Plan, Simulate, Simulator, TickMode};
pub use observer::SpikeObserver;
pub use record::Record;
