//! A graph made ready to simulate, shared by every simulator of it.

use std::sync::Arc;

use super::tables::Tables;
use super::{EventByEvent, Simulator, TickMode};
use crate::graph::Graph;

/// A graph made ready to simulate: the graph, the per-graph tables both paths look up (row
/// sums, bias delay, max-pool window sizes, synapse counts, the conv weights reordered for
/// row runs), built once, and the tick mode.
///
/// A plan owns nothing per run and is cheap to clone (two reference counts), `Send` and
/// `Sync`: build it once, keep it in a struct or a static, and make a [`Simulator`] (or an
/// [`EventByEvent`]) from it for each thread. A simulator holds the per-run state and reuses
/// its buffers across runs; simulators made from one plan give the same records, bit for bit.
///
/// # Example
/// ```
/// use tdsnn_engine::{GraphBuilder, Plan, Shape, Simulate, TickMode};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
///     .dense(2, vec![-1.0, 0.0, 0.0, -1.0], None)
///     .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
///     .build()?;
/// let plan = Plan::new(graph, TickMode::ClosedForm);
/// let inputs = [[0.2, 0.9], [0.7, 0.1]];
/// let classes: Vec<usize> = std::thread::scope(|s| {
///     let workers: Vec<_> = inputs
///         .iter()
///         .map(|x| {
///             let plan = &plan;
///             s.spawn(move || plan.simulator().run(x, &mut ()).map(|r| r.output.class))
///         })
///         .collect();
///     workers.into_iter().map(|w| w.join().unwrap()).collect::<Result<_, _>>()
/// })?;
/// assert_eq!(classes, [1, 0]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Plan {
    graph: Arc<Graph>,
    tables: Arc<Tables>,
    mode: TickMode,
}

impl Plan {
    /// A plan for `graph` (moved in, or an `Arc` shared with the caller) in tick mode `mode`.
    pub fn new(graph: impl Into<Arc<Graph>>, mode: TickMode) -> Plan {
        let graph = graph.into();
        let tables = Arc::new(Tables::new(&graph));
        Plan {
            graph,
            tables,
            mode,
        }
    }

    /// The graph. `Arc::clone(plan.graph())` shares it.
    pub fn graph(&self) -> &Arc<Graph> {
        &self.graph
    }

    /// The tick mode.
    pub fn mode(&self) -> TickMode {
        self.mode
    }

    /// The same graph and tables in another tick mode (nothing is rebuilt).
    ///
    /// # Example
    /// ```
    /// use tdsnn_engine::{GraphBuilder, Plan, Shape, Simulate, TickMode};
    /// # fn main() -> Result<(), tdsnn_engine::Error> {
    /// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
    ///     .dense(2, vec![-1.0, 0.5, 0.25, -1.0], Some(vec![0.1, 0.0]))
    ///     .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
    ///     .build()?;
    /// let closed = Plan::new(graph, TickMode::ClosedForm);
    /// let explicit = closed.with_mode(TickMode::Explicit);
    /// let x = [0.3, 0.6];
    /// assert_eq!(
    ///     closed.simulator().run(&x, &mut ())?.digest(),
    ///     explicit.simulator().run(&x, &mut ())?.digest()
    /// );
    /// # Ok(()) }
    /// ```
    pub fn with_mode(&self, mode: TickMode) -> Plan {
        Plan {
            mode,
            ..self.clone()
        }
    }

    /// A fast simulator of this plan, with its own run state.
    pub fn simulator(&self) -> Simulator {
        Simulator::from_plan(self.clone())
    }

    /// An event-by-event simulator of this plan (the reference path), with its own run state.
    pub fn event_by_event(&self) -> EventByEvent {
        EventByEvent::from_plan(self.clone())
    }

    pub(crate) fn tables(&self) -> &Tables {
        &self.tables
    }
}
