//! The straightforward path: a global event queue, every spike delivered synapse by
//! synapse, the executable form of docs/semantics.md that the fast [`Simulator`](super::Simulator) must
//! match record for record (all but `EngineOps`, the work each path does).
//!
//! One run presents one input. Input neuron `i` spikes at `T(x_i)`. Each synapse-based layer
//! `k` (Algorithm 1 of the paper) then:
//! 1. integrates arriving spikes: a spike `tau` steps after the frame origin adds
//!    `W_ji * expm1(tau / L)` to the frame-origin potential `U_j`, which starts at the row sum
//!    `S_j` (`row_sums.rs`); the membrane potential is `V_j(t) = exp(-(t - o)/L) * U_j`, the
//!    lazy leak of every event since the frame origin `o` in one factor;
//! 2. receives its bias neuron's spike at `R_{k-1} + T(1)`;
//! 3. releases at `R_k`: the last pre-synaptic spike (dynamic `T_il`) or `R_{k-1} + T_il`
//!    (fixed; a later spike is [`ErrorKind::LateSpike`]); `V_j(R_k) = U_j * exp(-T_il/L)`
//!    and neurons with `V >= theta` fire at once;
//! 4. ticks: the ticking neuron adds `w_tick` (equation (9)) each step to every neuron not yet
//!    fired, which fires when it crosses threshold ([`TickMode::Explicit`]), or each firing
//!    step is found in closed form, with the same result bit for bit
//!    ([`TickMode::ClosedForm`], see `ticking.rs`).
//!
//! Max-pool units fire when the last input of their window fires; the output layer
//! accumulates until its release, its logits are `U_j` and its class `argmax U_j`.
//!
//! Events run in (time, layer, phase) order, phases deliver, release, tick, fire; spikes
//! fired at `t` reach the next layer at `t`, added in ascending position, then channel (the
//! bias last). Cost: one queue operation per (time, layer, phase) slot, one fused
//! multiply-add per synapse of every spike (`leak::add_spike`, the step the fast path takes
//! too; compiled here for the baseline target, it is a call to the platform's `fma` routine,
//! the same bits, slower), one multiplication per neuron at release, and in explicit mode one
//! multiplication and addition per not-yet-fired neuron per tick.

mod buckets;
mod delivery;
mod queue;

use std::sync::Arc;

use hashbrown::HashMap;
use smallvec::SmallVec;

use self::buckets::Buckets;
use self::queue::{EventQueue, Phase, Slot};
use super::fanout;
use super::leak::{add_spike, LeakTable};
use super::ticking::TickSchedule;
use super::{
    add_time, check_til, late_spike, output_record, tick_schedule, Plan, Simulate, TickMode,
};
use crate::counters::LayerOps;
use crate::error::{ErrorKind, Result};
use crate::graph::{Graph, Layer, Source, Synapses, TilPolicy};
use crate::input::Input;
use crate::observer::SpikeObserver;
use crate::record::{LayerRecord, OutputRecord, Record, NOT_FIRED};

/// Per-layer run state, kept across runs so its buffers are reused.
#[derive(Debug, Default)]
struct LayerState {
    /// Frame-origin potentials `U_j`, channel-major; after the release, `V_j`.
    u: Vec<f64>,
    /// Spike time of every neuron ([`NOT_FIRED`] until it fires).
    spikes: Vec<u32>,
    /// Max-pool: inputs seen per output unit.
    counts: Vec<u32>,
    /// Explicit ticks: neurons still waiting to fire, ascending.
    waiting: Vec<u32>,
    /// Per part (its own synapses, then each group): source neurons delivered at each time.
    inboxes: Vec<Buckets>,
    /// Per part: the frame its spikes are timed in, once known.
    part_frames: Vec<u32>,
    /// Parts whose frame is not known yet.
    frames_pending: usize,
    /// Whether the inhibitory period has begun (the frame origin is known).
    framed: bool,
    /// Spikes that arrived before the frame origin was known: (part, step after the part's
    /// frame, neurons).
    held: Vec<(usize, u32, Vec<u32>)>,
    /// Per part: how long its spikes wait, `origin - part frame`.
    delays: Vec<u32>,
    /// This layer's neurons that fire at each time.
    due: Buckets,
    /// The frame origin: for a synapse-based layer the latest frame of its parts, for a
    /// max-pool or flatten layer its source's frame (which its spikes stay in).
    origin: u32,
    release: Option<u32>,
    /// Dynamic `T_il`: pre-synaptic spikes (bias included) still to arrive.
    remaining: u64,
    bias_time: Option<u32>,
    ops: LayerOps,
}

/// Simulates a [`Plan`]'s graph event by event, one input at a time: the reference path.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use tdsnn_engine::{EventByEvent, GraphBuilder, Shape, Simulate, Simulator, TickMode};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = Arc::new(
///     GraphBuilder::new(Shape::flat(3), 5.0)
///         .dense(2, vec![-1.0, 0.5, -0.25, -0.5, 1.0, 0.0], Some(vec![-0.1, 0.2]))
///         .output(2, vec![1.0, -1.0, 0.5, 0.5], None)
///         .build()?,
/// );
/// let input = [0.1, 0.5, 0.9];
/// let record = EventByEvent::new(Arc::clone(&graph), TickMode::Explicit).run(&input, &mut ())?;
/// let hidden = &record.layers[0];
/// println!("T_il = {:?}, spikes at {:?}", hidden.t_il(), hidden.spikes);
/// // The fast path gives the same record.
/// let fast = Simulator::new(graph, TickMode::ClosedForm).run(&input, &mut ())?;
/// assert_eq!(fast.layers[0].spikes, hidden.spikes);
/// assert_eq!(fast.output, record.output);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct EventByEvent {
    plan: Plan,
    layers: Vec<LayerState>,
    input_spikes: Vec<u32>,
    input_due: Buckets,
    queue: EventQueue,
    leak: LeakTable,
    /// Firing thresholds of the active period, one table per `T_il` value.
    schedules: HashMap<u32, TickSchedule>,
    output: OutputRecord,
    /// The lowest layer's first late spike (fixed `T_il`), and that layer: the run's error.
    late: Option<(usize, crate::Error)>,
}

impl EventByEvent {
    /// An event-by-event simulator of `graph` (moved in, or an `Arc` shared with the caller)
    /// in tick mode `mode`: shorthand for `Plan::new(graph, mode).event_by_event()`.
    pub fn new(graph: impl Into<Arc<Graph>>, mode: TickMode) -> Self {
        Plan::new(graph, mode).event_by_event()
    }

    pub(super) fn from_plan(plan: Plan) -> Self {
        let graph = Arc::clone(plan.graph());
        EventByEvent {
            plan,
            layers: graph
                .layers()
                .iter()
                .map(|_| LayerState::default())
                .collect(),
            input_spikes: Vec::new(),
            input_due: Buckets::default(),
            queue: EventQueue::default(),
            leak: LeakTable::new(graph.params().leak),
            schedules: HashMap::new(),
            output: OutputRecord::default(),
            late: None,
        }
    }
}

impl Simulate for EventByEvent {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Reports each spike and release in event order, the potentials right after their
    /// release.
    fn run_into<'a, O: SpikeObserver + ?Sized>(
        &mut self,
        input: impl Into<Input<'a>>,
        observer: &mut O,
        record: &mut Record,
    ) -> Result<()> {
        // One handle on the graph for the whole run, lent to every step.
        let graph = Arc::clone(self.plan.graph());
        let graph = &*graph;
        self.start(graph, input.into())?;
        while let Some(slot) = self.queue.pop() {
            let t = slot.time;
            let k = (slot.stage as usize).wrapping_sub(1);
            let step = match slot.phase {
                _ if slot.stage == 0 => self.fire_input(t, observer),
                Phase::Deliver => self.deliver(graph, k, t),
                Phase::Release => self.release(graph, k, t, observer),
                Phase::Tick => self.tick(graph, k, t),
                Phase::Fire => self.fire(graph, k, t, observer),
            };
            if let Err(e) = step {
                return Err(self.late.take().map_or(e, |(_, late)| late));
            }
        }
        if let Some((_, late)) = self.late.take() {
            return Err(late);
        }
        self.finish(graph, record)
    }
}

impl EventByEvent {
    fn start(&mut self, graph: &Graph, input: Input<'_>) -> Result<()> {
        input.spike_times(graph, &mut self.input_spikes)?;
        self.late = None;
        self.queue.clear();
        self.input_due.clear();
        for (i, &t) in self.input_spikes.iter().enumerate() {
            if self.input_due.push(t, i as u32) {
                self.queue.push(Slot {
                    time: t,
                    stage: 0,
                    phase: Phase::Fire,
                });
            }
        }
        for (k, st) in self.layers.iter_mut().enumerate() {
            let shape = graph.output_shape(k);
            let n = shape.len() as usize;
            st.u.clear();
            if graph.layers()[k].is_synaptic() {
                let sums = &self.plan.tables().row_sums[k];
                st.u.extend((0..n).map(|j| sums.of_neuron(j, shape)));
            }
            st.spikes.clear();
            st.spikes.resize(n, NOT_FIRED);
            st.counts.clear();
            if matches!(graph.layers()[k], Layer::MaxPool(_)) {
                st.counts.resize(n, 0);
            }
            st.waiting.clear();
            let parts = 1 + graph.groups(k).len();
            st.inboxes.resize_with(parts, Buckets::default);
            st.inboxes.iter_mut().for_each(Buckets::clear);
            st.part_frames.clear();
            st.part_frames.resize(parts, 0);
            st.frames_pending = parts;
            st.framed = false;
            st.held.clear();
            st.delays.clear();
            st.due.clear();
            st.origin = 0;
            st.release = None;
            st.remaining = 0;
            st.bias_time = None;
            st.ops = LayerOps::default();
        }
        // The input's spikes are timed from 0.
        self.frame_known(graph, Source::Input, 0)
    }

    /// The frame of `source`'s spikes is now known to be `frame`: every part it feeds learns
    /// it; a layer whose parts all know theirs begins its inhibitory period, a max-pool or
    /// flatten layer passes the frame on.
    fn frame_known(&mut self, graph: &Graph, source: Source, frame: u32) -> Result<()> {
        let plan = self.plan.clone();
        for &(k, part) in &plan.tables().consumers[source.index()] {
            if !graph.layers()[k].is_synaptic() {
                self.layers[k].origin = frame;
                self.layers[k].framed = true;
                self.frame_known(graph, Source::Layer(k), frame)?;
                continue;
            }
            let st = &mut self.layers[k];
            st.part_frames[part] = frame;
            st.frames_pending -= 1;
            if st.frames_pending == 0 {
                let origin = st.part_frames.iter().copied().max().unwrap_or(0);
                self.begin_frame(graph, k, origin)?;
            }
        }
        Ok(())
    }

    /// Layer `k`'s inhibitory period starts at `origin`: schedule its bias spike and, for a
    /// fixed `T_il`, its release.
    fn begin_frame(&mut self, graph: &Graph, k: usize, origin: u32) -> Result<()> {
        let layer = &graph.layers()[k];
        let st = &mut self.layers[k];
        st.origin = origin;
        st.framed = true;
        st.delays.clear();
        st.delays.extend(st.part_frames.iter().map(|&f| origin - f));
        st.remaining = graph.part_sources(k).map(|s| graph.shape_of(s).len()).sum();
        // Spikes that came before the frame was known wait their delay from here.
        for (part, tau, neurons) in std::mem::take(&mut st.held) {
            let t = add_time(origin, tau, k)?;
            st.inboxes[part].put(t, neurons);
            self.queue.push(Slot {
                time: t,
                stage: k as u32 + 1,
                phase: Phase::Deliver,
            });
        }
        let st = &mut self.layers[k];
        if layer.bias().is_some() {
            let t = add_time(origin, self.plan.tables().bias_delay, k)?;
            st.bias_time = Some(t);
            st.remaining += 1;
            self.queue.push(Slot {
                time: t,
                stage: k as u32 + 1,
                phase: Phase::Deliver,
            });
        }
        if let TilPolicy::Fixed(t_il) = graph.params().til {
            let t = add_time(origin, t_il, k)?;
            self.queue.push(Slot {
                time: t,
                stage: k as u32 + 1,
                phase: Phase::Release,
            });
        }
        Ok(())
    }

    fn fire_input(&mut self, t: u32, observer: &mut (impl SpikeObserver + ?Sized)) -> Result<()> {
        let fired = self.input_due.take(t);
        for &i in &fired {
            observer.input_spike(i, t);
        }
        self.send(Source::Input, 0, t, fired)
    }

    /// Hands the spikes `source` fired at `t` (timed in its frame `frame`) to every part it
    /// feeds: delivered `origin + (t - frame)` into a layer whose frame origin is known, held
    /// until it is otherwise.
    fn send(&mut self, source: Source, frame: u32, t: u32, fired: Vec<u32>) -> Result<()> {
        let consumers = &self.plan.tables().consumers[source.index()];
        if fired.is_empty() || consumers.is_empty() {
            self.input_due.recycle(fired);
            return Ok(());
        }
        // Each consumer but the last takes a copy; the last takes the list itself.
        let mut fired = Some(fired);
        for (n, &(k, part)) in consumers.iter().enumerate() {
            let neurons = if n + 1 == consumers.len() {
                fired.take().expect("taken once, by the last consumer")
            } else {
                fired.clone().expect("not yet taken")
            };
            let st = &mut self.layers[k];
            let tau = t - frame;
            if !st.framed {
                st.held.push((part, tau, neurons));
                continue;
            }
            let at = add_time(st.origin, tau, k)?;
            st.inboxes[part].put(at, neurons);
            self.queue.push(Slot {
                time: at,
                stage: k as u32 + 1,
                phase: Phase::Deliver,
            });
        }
        Ok(())
    }

    /// Delivers what reaches layer `k` at `t`: each part's spikes in part order, then the
    /// bias.
    fn deliver(&mut self, graph: &Graph, k: usize, t: u32) -> Result<()> {
        let layer = &graph.layers()[k];
        let out = graph.output_shape(k);
        let synaptic = layer.is_synaptic();
        let st = &mut self.layers[k];
        // Per part: its source and the spikes arriving now.
        let mut arrived: SmallVec<[(Source, Vec<u32>); 4]> = SmallVec::new();
        for (source, inbox) in graph.part_sources(k).zip(&mut st.inboxes) {
            let mut sources = inbox.take(t);
            // The spikes of one time step are added in one fixed order, the same in every
            // path of the engine (max-pool units may complete in any order): part by part,
            // ascending position, then channel.
            let inp = graph.shape_of(source);
            let plane = u64::from(inp.h) * u64::from(inp.w);
            sources.sort_unstable_by_key(|&i| (u64::from(i) % plane, i));
            arrived.push((source, sources));
        }
        if synaptic {
            if let Some(release) = st.release {
                let first = arrived
                    .iter()
                    .find_map(|(source, a)| a.first().map(|&i| (*source, i)));
                // The run fails with the lowest layer's first late event, the one the
                // layer-by-layer path meets first; a later layer's (in layer order, even if
                // earlier in time) is dropped, and the run goes on without the late spikes.
                if self.late.as_ref().is_none_or(|(j, _)| k < *j) {
                    self.late = Some((k, late_spike(k, first, t, st.origin, release)));
                }
                for (inbox, (_, sources)) in st.inboxes.iter_mut().zip(arrived) {
                    inbox.recycle(sources);
                }
                return Ok(());
            }
            self.leak.ensure(t - st.origin);
        }
        let excess = if synaptic {
            self.leak.excess(t - st.origin)
        } else {
            0.0
        };
        let u = &mut st.u;
        let mut synapses = 0;
        let mut arrivals = 0;
        for (part, (source, sources)) in arrived.iter().enumerate() {
            arrivals += sources.len() as u64;
            let inp = graph.shape_of(*source);
            let conn = match part {
                0 => None,
                g => Some(&graph.groups(k)[g - 1].synapses),
            };
            match (conn, layer) {
                (Some(Synapses::Identity { weight }), _) => {
                    for &i in sources {
                        u[i as usize] = add_spike(u[i as usize], *weight, excess);
                    }
                    synapses += sources.len() as u64;
                }
                (Some(Synapses::Conv2d(c)), _) => {
                    for &i in sources {
                        synapses += delivery::conv(c, inp, out, i, excess, u);
                    }
                }
                (Some(Synapses::Dense(d)), _) | (None, Layer::Dense(d) | Layer::Output(d)) => {
                    for &i in sources {
                        synapses += delivery::dense(d, i, excess, u);
                    }
                }
                (None, Layer::Conv2d(c)) => {
                    for &i in sources {
                        synapses += delivery::conv(c, inp, out, i, excess, u);
                    }
                }
                (None, Layer::AvgPool(p)) => {
                    for &i in sources {
                        fanout::avg_pool(&p.window, inp, out, i, |at| {
                            u[at] = add_spike(u[at], p.weight, excess);
                            synapses += 1;
                        });
                    }
                }
                (None, Layer::MaxPool(p)) => {
                    let needs = &self.plan.tables().pool_needs[k];
                    let mut inputs = 0;
                    for &i in sources {
                        let (c, y, x) = inp.coords(i);
                        let (rows, cols) = fanout::reach(&p.window, y, x, out);
                        for &(oy, _) in &rows {
                            for &(ox, _) in &cols {
                                let pos = (oy * out.w + ox) as usize;
                                let j = out.index(c, oy, ox);
                                st.counts[j] += 1;
                                inputs += 1;
                                if st.counts[j] == needs[pos] {
                                    st.due.push(t, j as u32);
                                }
                            }
                        }
                    }
                    st.ops.paper.pool_comparisons += inputs;
                    st.ops.engine.pool_comparisons += inputs;
                }
                (None, Layer::Flatten) => {
                    for &i in sources {
                        st.due.push(t, i);
                    }
                }
            }
        }
        if synaptic {
            st.remaining -= arrivals;
            if st.bias_time == Some(t) {
                let b = layer.bias().expect("a bias time implies a bias");
                synapses += delivery::bias(b, out, excess, &mut st.u);
                st.remaining -= 1;
            }
            st.ops.paper.synaptic_adds += synapses;
            st.ops.engine.synaptic_adds += synapses;
            if st.remaining == 0 && graph.params().til == TilPolicy::Dynamic {
                self.queue.push(Slot {
                    time: t,
                    stage: k as u32 + 1,
                    phase: Phase::Release,
                });
            }
        } else {
            // Max-pool: units whose window completed now fire now; flatten passes spikes on.
            self.queue.push(Slot {
                time: t,
                stage: k as u32 + 1,
                phase: Phase::Fire,
            });
        }
        for (inbox, (_, sources)) in st.inboxes.iter_mut().zip(arrived) {
            inbox.recycle(sources);
        }
        Ok(())
    }

    fn release(
        &mut self,
        graph: &Graph,
        k: usize,
        t: u32,
        observer: &mut (impl SpikeObserver + ?Sized),
    ) -> Result<()> {
        let params = *graph.params();
        let st = &mut self.layers[k];
        st.release = Some(t);
        let t_il = t - st.origin;
        check_til(k, t_il, params.leak)?;
        self.leak.ensure(t_il);
        let scale = self.leak.factor(t_il);
        let n = st.u.len();
        st.ops.engine.leak_mults += n as u64;
        observer.release(k, t, t_il);
        if let Layer::Output(_) = graph.layers()[k] {
            st.ops.paper.leak_mults += n as u64 * u64::from(t_il);
            output_record(&st.u, scale, &mut self.output);
            if observer.wants_potentials() {
                observer.potentials(k, &self.output.potentials);
            }
            return Ok(());
        }
        st.u.iter_mut().for_each(|u| *u *= scale);
        if observer.wants_potentials() {
            observer.potentials(k, &st.u);
        }
        let schedule = tick_schedule(&mut self.schedules, &self.leak, &params, t_il);
        let stage = k as u32 + 1;
        for j in 0..n {
            let v = st.u[j];
            match self.plan.mode() {
                TickMode::ClosedForm => {
                    let s = schedule.firing_step(v);
                    st.ops.paper.tick_adds += u64::from(s);
                    let at = add_time(t, s, k)?;
                    if st.due.push(at, j as u32) {
                        self.queue.push(Slot {
                            time: at,
                            stage,
                            phase: Phase::Fire,
                        });
                    }
                }
                TickMode::Explicit if v >= params.threshold => {
                    if st.due.push(t, j as u32) {
                        self.queue.push(Slot {
                            time: t,
                            stage,
                            phase: Phase::Fire,
                        });
                    }
                }
                TickMode::Explicit => st.waiting.push(j as u32),
            }
        }
        if !st.waiting.is_empty() {
            self.queue.push(Slot {
                time: add_time(t, 1, k)?,
                stage,
                phase: Phase::Tick,
            });
        }
        // The layer's spikes are timed from its release.
        self.frame_known(graph, Source::Layer(k), t)
    }

    fn tick(&mut self, graph: &Graph, k: usize, t: u32) -> Result<()> {
        let threshold = graph.params().threshold;
        let st = &mut self.layers[k];
        let release = st.release.expect("ticks follow the release");
        let schedule = &self.schedules[&(release - st.origin)];
        let waiting = st.waiting.len() as u64;
        st.ops.paper.tick_adds += waiting;
        st.ops.engine.tick_adds += waiting;
        st.ops.engine.leak_mults += waiting;
        let (v, due) = (&mut st.u, &mut st.due);
        let mut fired = false;
        st.waiting.retain(|&j| {
            let j = j as usize;
            v[j] = schedule.step(v[j]);
            let fires = v[j] >= threshold;
            if fires {
                due.push(t, j as u32);
                fired = true;
            }
            !fires
        });
        let stage = k as u32 + 1;
        if fired {
            self.queue.push(Slot {
                time: t,
                stage,
                phase: Phase::Fire,
            });
        }
        if !st.waiting.is_empty() {
            self.queue.push(Slot {
                time: add_time(t, 1, k)?,
                stage,
                phase: Phase::Tick,
            });
        }
        Ok(())
    }

    fn fire(
        &mut self,
        graph: &Graph,
        k: usize,
        t: u32,
        observer: &mut (impl SpikeObserver + ?Sized),
    ) -> Result<()> {
        let synaptic = graph.layers()[k].is_synaptic();
        let st = &mut self.layers[k];
        let fired = st.due.take(t);
        for &j in &fired {
            debug_assert_eq!(
                st.spikes[j as usize], NOT_FIRED,
                "layer {k} neuron {j} fired twice"
            );
            st.spikes[j as usize] = t;
            observer.spike(k, j, t);
        }
        st.ops.engine.spikes += fired.len() as u64;
        if synaptic {
            st.ops.paper.leak_mults += fired.len() as u64 * u64::from(t - st.origin);
        }
        // Its spikes are timed from its release, or, for a max-pool or flatten layer, from
        // its source's frame.
        let frame = st.release.unwrap_or(st.origin);
        self.send(Source::Layer(k), frame, t, fired)
    }

    /// Checks that every neuron fired and every synapse-based layer released, and copies the
    /// run into `record`, reusing its buffers.
    fn finish(&mut self, graph: &Graph, record: &mut Record) -> Result<()> {
        record.input.clone_from(&self.input_spikes);
        record
            .layers
            .resize_with(self.layers.len(), LayerRecord::default);
        for (k, (st, rec)) in self.layers.iter().zip(&mut record.layers).enumerate() {
            let is_output = matches!(graph.layers()[k], Layer::Output(_));
            if let Some(j) = st
                .spikes
                .iter()
                .position(|&t| t == NOT_FIRED)
                .filter(|_| !is_output)
            {
                return Err(ErrorKind::Structure {
                    what: format!("internal: layer {k} neuron {j} never fired"),
                }
                .into());
            }
            if graph.layers()[k].is_synaptic() && st.release.is_none() {
                return Err(ErrorKind::Structure {
                    what: format!("internal: layer {k} was never released"),
                }
                .into());
            }
            if is_output {
                rec.spikes.clear();
            } else {
                rec.spikes.clone_from(&st.spikes);
            }
            // A max-pool or flatten layer's spikes stay in the frame of the layer that fed it.
            rec.frame_origin = st.origin;
            rec.release = st.release;
            rec.delays.clone_from(&st.delays);
            rec.ops = st.ops;
        }
        std::mem::swap(&mut record.output, &mut self.output);
        Ok(())
    }
}
