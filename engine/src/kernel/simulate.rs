//! The one interface of both simulation paths.

use super::Plan;
use crate::error::Result;
use crate::graph::Graph;
use crate::input::Input;
use crate::observer::SpikeObserver;
use crate::record::Record;

/// Runs inputs through a [`Plan`]'s graph: implemented by the fast [`Simulator`] and the
/// reference [`EventByEvent`], which give the same records bit for bit (all but the engine's
/// own work counts, `EngineOps`), so one test, harness or benchmark serves both.
///
/// [`Simulator`]: super::Simulator
/// [`EventByEvent`]: super::EventByEvent
///
/// # Example
/// ```
/// use tdsnn_engine::{GraphBuilder, Plan, Record, Shape, Simulate, TickMode};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// fn classes(sim: &mut impl Simulate, inputs: &[[f32; 2]]) -> Result<Vec<usize>, tdsnn_engine::Error> {
///     let mut record = Record::default(); // its buffers are reused by every run
///     inputs
///         .iter()
///         .map(|x| {
///             sim.run_into(x, &mut (), &mut record)?;
///             Ok(record.output.class)
///         })
///         .collect()
/// }
/// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
///     .dense(2, vec![-1.0, 0.0, 0.0, -1.0], None)
///     .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
///     .build()?;
/// let plan = Plan::new(graph, TickMode::Explicit);
/// let inputs = [[0.2, 0.9], [0.7, 0.1]];
/// assert_eq!(classes(&mut plan.simulator(), &inputs)?, [1, 0]);
/// assert_eq!(classes(&mut plan.event_by_event(), &inputs)?, [1, 0]);
/// # Ok(()) }
/// ```
pub trait Simulate {
    /// The plan being simulated.
    fn plan(&self) -> &Plan;

    /// The graph being simulated.
    fn graph(&self) -> &Graph {
        self.plan().graph()
    }

    /// Presents one input and runs every event to completion, writing what happened into
    /// `record`, reusing its buffers (its vectors are copied into, not allocated anew, once
    /// they have grown). Calls `observer` as the run goes (see [`SpikeObserver`] for
    /// the order each path keeps).
    ///
    /// On an error, `record` holds no meaningful result.
    fn run_into<'a, O: SpikeObserver + ?Sized>(
        &mut self,
        input: impl Into<Input<'a>>,
        observer: &mut O,
        record: &mut Record,
    ) -> Result<()>;

    /// [`run_into`](Simulate::run_into) a fresh [`Record`], returned.
    fn run<'a, O: SpikeObserver + ?Sized>(
        &mut self,
        input: impl Into<Input<'a>>,
        observer: &mut O,
    ) -> Result<Record> {
        let mut record = Record::default();
        self.run_into(input, observer, &mut record)?;
        Ok(record)
    }
}
