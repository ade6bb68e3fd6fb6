//! Watching a run as it happens.
//!
//! The kernel calls a [`SpikeObserver`] for every spike and every release, and, if it asks,
//! with the membrane potentials at each release. `EventByEvent` calls it in event order,
//! ascending (time, layer, phase); `Simulator` reports the input spikes, then layer by layer
//! the release, the potentials and then the spikes in time order. The potentials always come
//! right after their release. Within one time step the order is unspecified. `()` is the
//! no-op observer, and costs nothing.

/// Callbacks for the events of one run. Every method has a no-op default.
///
/// # Example
/// ```
/// use tdsnn_engine::{GraphBuilder, Shape, Simulate, Simulator, SpikeObserver, TickMode};
/// struct Count(usize);
/// impl SpikeObserver for Count {
///     fn spike(&mut self, _layer: usize, _neuron: u32, _time: u32) {
///         self.0 += 1;
///     }
/// }
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
///     .dense(3, vec![-0.5; 6], Some(vec![0.1; 3]))
///     .output(2, vec![1.0; 6], None)
///     .build()?;
/// let mut count = Count(0);
/// Simulator::new(graph, TickMode::Explicit).run(&[0.3, 0.7], &mut count)?;
/// assert_eq!(count.0, 3); // every hidden neuron fires exactly once
/// # Ok(()) }
/// ```
pub trait SpikeObserver {
    /// Whether this observer wants the spike and release callbacks at all; the no-op `()`
    /// says no, which spares the simulator from ordering spikes for it.
    fn wants_events(&self) -> bool {
        true
    }

    /// An input neuron fired at `time`.
    fn input_spike(&mut self, neuron: u32, time: u32) {
        let _ = (neuron, time);
    }

    /// Neuron `neuron` of graph layer `layer` fired at absolute `time`.
    fn spike(&mut self, layer: usize, neuron: u32, time: u32) {
        let _ = (layer, neuron, time);
    }

    /// Synapse-based layer `layer` ended its inhibitory period at `time`, `t_il` steps after
    /// its frame origin.
    fn release(&mut self, layer: usize, time: u32, t_il: u32) {
        let _ = (layer, time, t_il);
    }

    /// Whether this observer wants [`potentials`](SpikeObserver::potentials); no by default,
    /// which spares the simulator from gathering them.
    fn wants_potentials(&self) -> bool {
        false
    }

    /// Synapse-based layer `layer` has just released: `potentials` are its neurons' membrane
    /// potentials `V_j(R) = exp(-T_il / L) * U_j` at the release, channel-major, after the
    /// leak of the inhibitory period and before the first tick. A hidden layer's are
    /// `-exp(-T_il / L) * A_j` (its weights are delivered negated), the output layer's the
    /// record's `output.potentials`. Called only if
    /// [`wants_potentials`](SpikeObserver::wants_potentials) says yes.
    ///
    /// # Example
    /// ```
    /// use tdsnn_engine::{GraphBuilder, Shape, Simulate, Simulator, SpikeObserver, TickMode};
    /// /// The lowest potential of each layer at its release.
    /// #[derive(Default)]
    /// struct Lowest(Vec<(usize, f64)>);
    /// impl SpikeObserver for Lowest {
    ///     fn wants_events(&self) -> bool {
    ///         false
    ///     }
    ///     fn wants_potentials(&self) -> bool {
    ///         true
    ///     }
    ///     fn potentials(&mut self, layer: usize, v: &[f64]) {
    ///         self.0.push((layer, v.iter().copied().fold(f64::INFINITY, f64::min)));
    ///     }
    /// }
    /// # fn main() -> Result<(), tdsnn_engine::Error> {
    /// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
    ///     .dense(2, vec![-1.0, 0.0, 0.0, -1.0], None)
    ///     .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
    ///     .build()?;
    /// let mut lowest = Lowest::default();
    /// Simulator::new(graph, TickMode::ClosedForm).run(&[0.2, 0.9], &mut lowest)?;
    /// assert_eq!(lowest.0.len(), 2);
    /// assert!(lowest.0[0].1 < 0.0); // inhibited below rest until the ticks drive it up
    /// # Ok(()) }
    /// ```
    fn potentials(&mut self, layer: usize, potentials: &[f64]) {
        let _ = (layer, potentials);
    }

    /// Graph layer `layer` is finished: its spikes are final and reported. The
    /// [`Simulator`](crate::Simulator) runs one layer after another and calls this after
    /// each, whatever [`wants_events`](SpikeObserver::wants_events) says, so the time between
    /// calls is the layer's (the per-layer profile of `tdsnn bench`). The
    /// [`EventByEvent`](crate::EventByEvent) path interleaves layers in time and does not
    /// call it.
    ///
    /// # Example
    /// ```
    /// use std::time::Instant;
    /// use tdsnn_engine::{GraphBuilder, Shape, Simulate, Simulator, SpikeObserver, TickMode};
    /// /// When each layer finished.
    /// struct Clock(Vec<(usize, Instant)>);
    /// impl SpikeObserver for Clock {
    ///     fn wants_events(&self) -> bool {
    ///         false
    ///     }
    ///     fn layer_done(&mut self, layer: usize) {
    ///         self.0.push((layer, Instant::now()));
    ///     }
    /// }
    /// # fn main() -> Result<(), tdsnn_engine::Error> {
    /// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
    ///     .dense(2, vec![-1.0, 0.0, 0.0, -1.0], None)
    ///     .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
    ///     .build()?;
    /// let mut clock = Clock(Vec::new());
    /// Simulator::new(graph, TickMode::ClosedForm).run(&[0.2, 0.9], &mut clock)?;
    /// let layers: Vec<usize> = clock.0.iter().map(|(k, _)| *k).collect();
    /// assert_eq!(layers, [0, 1]);
    /// # Ok(()) }
    /// ```
    fn layer_done(&mut self, layer: usize) {
        let _ = layer;
    }
}

impl SpikeObserver for () {
    fn wants_events(&self) -> bool {
        false
    }
}
