//! The fast path: the same spikes, releases, outputs and paper counts as
//! [`EventByEvent`](super::EventByEvent), bit for bit, layer by layer (only `EngineOps`, the
//! work done, differ).
//!
//! A layer's spikes depend only on the spikes of its sources, earlier layers, so the simulator
//! runs each layer's whole inhibitory period, release and active period before the next: it
//! sorts each part's incoming spikes (its own synapses', then each synapse group's) into
//! integer-time buckets after that part's source frame (`order.rs`), delivers the buckets in
//! time order, part by part within a step (each target sees its additions in the same order
//! as in the event-by-event path),
//! releases, and fires. Spikes at the frame origin are not delivered: they are worth exactly
//! zero beyond the row sums the potentials start from. In closed-form tick mode the firing
//! steps come from the exact threshold table (`ticking.rs`), counted level by level over a
//! block of neurons at once (`fire.rs`); in explicit mode the ticking neuron still visits
//! every waiting neuron at every step. Max-pool units take the latest input of each window
//! (`pool.rs`).
//!
//! The observer sees the input spikes, then each layer's release and spikes, layer by layer,
//! in time order within a layer.

mod deliver;
mod fire;
mod order;
mod pool;

use std::sync::Arc;

use hashbrown::HashMap;
use smallvec::SmallVec;

use self::fire::Firing;
use self::order::TimeOrder;
use self::pool::MaxPool;
use super::leak::LeakTable;
use super::tables::Tables;
use super::ticking::TickSchedule;
use super::{
    add_time, check_til, late_spike, output_record, tick_schedule, Plan, Simulate, TickMode,
};
use crate::counters::LayerOps;
use crate::error::Result;
use crate::graph::{Graph, Layer, Shape, Source, Synapses, TilPolicy};
use crate::input::Input;
use crate::observer::SpikeObserver;
use crate::record::{LayerRecord, Record};

/// Per-layer state, kept across runs so its buffers are reused.
#[derive(Debug, Default)]
struct LayerState {
    /// Absolute spike time of every neuron, channel-major.
    spikes: Vec<u32>,
    /// Frame-origin potentials, in slot order (channels-last for conv layers).
    u: Vec<f64>,
    /// Closed-form ticks: each neuron's firing step, in slot order.
    steps: Vec<u32>,
    /// Delivery scratch: the weight-run offsets of a time step or a conv group.
    rows: Vec<usize>,
    /// The frame origin: the latest frame of the layer's sources.
    origin: u32,
    /// The frame the layer's spikes are timed in: its release, or for a max-pool or flatten
    /// layer its source's frame.
    frame: u32,
    release: Option<u32>,
    /// Per part (its own synapses, then each group): how long its spikes wait.
    delays: Vec<u32>,
    ops: LayerOps,
}

/// Simulates a [`Plan`]'s graph, one input at a time, reusing its buffers across runs: the
/// engine for real work. Owns its run state; make one per thread from a shared [`Plan`].
///
/// # Example
/// ```
/// use tdsnn_engine::{GraphBuilder, Shape, Simulate, Simulator, TickMode};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = GraphBuilder::new(Shape::flat(3), 5.0)
///     .dense(2, vec![-1.0, 0.5, -0.25, -0.5, 1.0, 0.0], Some(vec![-0.1, 0.2]))
///     .output(2, vec![1.0, -1.0, 0.5, 0.5], None)
///     .build()?;
/// let mut sim = Simulator::new(graph, TickMode::ClosedForm);
/// let record = sim.run(&[0.1, 0.5, 0.9], &mut ())?;
/// let hidden = &record.layers[0];
/// println!("T_il = {:?}, spikes at {:?}", hidden.t_il(), hidden.spikes);
/// assert_eq!(record.output.logits.len(), 2);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Simulator {
    plan: Plan,
    arch: pulp::Arch,
    leak: LeakTable,
    /// Firing thresholds of the active period, one table per `T_il` value.
    schedules: HashMap<u32, TickSchedule>,
    input: Vec<u32>,
    layers: Vec<LayerState>,
    /// Sorts spikes for the observer.
    order: TimeOrder,
    /// The incoming spikes of each part of a layer (its own synapses, then each group).
    orders: Vec<TimeOrder>,
    /// Explicit ticks: (neuron, potential) of the neurons still waiting to fire.
    waiting: Vec<(u32, f64)>,
    /// Max-pool: the latest spike down each input column of a window row.
    column: Vec<u32>,
    /// The potentials at a release, channel-major, for an observer that wants them.
    potentials: Vec<f64>,
}

impl Simulator {
    /// A simulator of `graph` (moved in, or an `Arc` shared with the caller) in tick mode
    /// `mode`: shorthand for `Plan::new(graph, mode).simulator()`. To run on several threads,
    /// build the [`Plan`] once and call [`Plan::simulator`] on each.
    pub fn new(graph: impl Into<Arc<Graph>>, mode: TickMode) -> Self {
        Plan::new(graph, mode).simulator()
    }

    pub(super) fn from_plan(plan: Plan) -> Self {
        let graph = Arc::clone(plan.graph());
        Simulator {
            plan,
            arch: pulp::Arch::new(),
            leak: LeakTable::new(graph.params().leak),
            schedules: HashMap::new(),
            input: Vec::new(),
            layers: graph
                .layers()
                .iter()
                .map(|_| LayerState::default())
                .collect(),
            order: TimeOrder::default(),
            orders: Vec::new(),
            waiting: Vec::new(),
            column: Vec::new(),
            potentials: Vec::new(),
        }
    }
}

impl Simulate for Simulator {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Reports the input spikes, then for each layer its release and potentials, then its
    /// spikes in time order, layer by layer.
    fn run_into<'a, O: SpikeObserver + ?Sized>(
        &mut self,
        input: impl Into<Input<'a>>,
        observer: &mut O,
        record: &mut Record,
    ) -> Result<()> {
        let plan = self.plan.clone();
        let (graph, tables) = (&**plan.graph(), plan.tables());
        input.into().spike_times(graph, &mut self.input)?;
        if observer.wants_events() {
            self.order.sort(&self.input, 0, 1);
            for &i in self.order.all() {
                observer.input_spike(i, self.input[i as usize]);
            }
        }
        for k in 0..self.layers.len() {
            let (done, rest) = self.layers.split_at_mut(k);
            let input = &self.input;
            // The spikes a source gives, and the frame they are timed in.
            let spikes_of = |s: Source| -> &[u32] {
                match s {
                    Source::Input => input,
                    Source::Layer(j) => &done[j].spikes,
                }
            };
            let frame_of = |s: Source| match s {
                Source::Input => 0,
                Source::Layer(j) => done[j].frame,
            };
            let prev = spikes_of(graph.source(k));
            let st = &mut rest[0];
            st.origin = frame_of(graph.source(k));
            st.frame = st.origin;
            st.release = None;
            st.ops = LayerOps::default();
            st.delays.clear();
            match &graph.layers()[k] {
                Layer::MaxPool(p) => {
                    let (inp, out) = (graph.input_shape_of(k), graph.output_shape(k));
                    self.arch.dispatch(MaxPool {
                        window: &p.window,
                        inp,
                        out,
                        prev,
                        spikes: &mut st.spikes,
                        column: &mut self.column,
                    });
                    st.ops.paper.pool_comparisons = tables.synapses[k];
                    st.ops.engine.pool_comparisons = tables.synapses[k];
                }
                Layer::Flatten => {
                    st.spikes.clear();
                    st.spikes.extend_from_slice(prev);
                }
                layer => {
                    let ctx = Layerwise {
                        graph,
                        tables,
                        arch: self.arch,
                        k,
                    };
                    // The layer's own synapses, then each further group, each timed from
                    // its source's frame; the layer's frame is the latest of them.
                    let mut parts: SmallVec<[Part; 4]> = SmallVec::new();
                    parts.push(Part {
                        source: graph.source(k),
                        spikes: prev,
                        frame: st.origin,
                        inp: graph.input_shape_of(k),
                        conn: Conn::Own(layer, tables.row_runs[k].as_deref()),
                    });
                    for group in graph.groups(k) {
                        parts.push(Part {
                            source: group.source,
                            spikes: spikes_of(group.source),
                            frame: frame_of(group.source),
                            inp: graph.shape_of(group.source),
                            conn: Conn::Group(&group.synapses),
                        });
                    }
                    st.origin = parts.iter().map(|p| p.frame).max().unwrap_or(0);
                    st.delays.extend(parts.iter().map(|p| st.origin - p.frame));
                    let release = ctx.integrate(&parts, st, &mut self.orders, &mut self.leak)?;
                    let t_il = release - st.origin;
                    st.frame = release;
                    observer.release(k, release, t_il);
                    let scale = self.leak.factor(t_il);
                    if observer.wants_potentials() {
                        self.potentials.clear();
                        ctx.for_each_slot(|_, slot| self.potentials.push(st.u[slot] * scale));
                        observer.potentials(k, &self.potentials);
                    }
                    let neurons = graph.output_shape(k).len();
                    st.ops.engine.leak_mults += neurons;
                    if let Layer::Output(_) = graph.layers()[k] {
                        st.ops.paper.leak_mults += neurons * u64::from(t_il);
                        output_record(&st.u, scale, &mut record.output);
                        st.spikes.clear();
                        continue;
                    }
                    let schedule =
                        tick_schedule(&mut self.schedules, &self.leak, graph.params(), t_il);
                    match plan.mode() {
                        TickMode::ClosedForm => ctx.fire_closed_form(st, scale, schedule)?,
                        TickMode::Explicit => {
                            ctx.fire_explicit(st, scale, schedule, &mut self.waiting)?
                        }
                    }
                    // Each neuron leaks at every step from the frame origin until it fires:
                    // `T_il` steps to the release, then its firing step, and the firing steps
                    // of all the layer's neurons sum to its tick additions (one per waiting
                    // neuron per step, in either tick mode).
                    st.ops.paper.leak_mults += neurons * u64::from(t_il) + st.ops.paper.tick_adds;
                }
            }
            st.ops.engine.spikes += st.spikes.len() as u64;
            if observer.wants_events() {
                self.order.sort(&st.spikes, st.origin, 1);
                for &j in self.order.all() {
                    observer.spike(k, j, st.spikes[j as usize]);
                }
            }
        }
        self.record_into(record);
        Ok(())
    }
}

impl Simulator {
    /// Copies the run's spikes, frames and counts into `record` (the output readout is
    /// already there), reusing its buffers.
    fn record_into(&self, record: &mut Record) {
        // Every layer's `origin` is its frame origin: the latest frame of its sources (a
        // max-pool or flatten layer's spikes stay in the frame of the layer that fed it).
        record.input.clone_from(&self.input);
        record
            .layers
            .resize_with(self.layers.len(), LayerRecord::default);
        for (rec, st) in record.layers.iter_mut().zip(&self.layers) {
            rec.spikes.clone_from(&st.spikes);
            rec.frame_origin = st.origin;
            rec.release = st.release;
            rec.delays.clone_from(&st.delays);
            rec.ops = st.ops;
        }
    }
}

/// One synapse-based layer's inhibitory period and firing.
struct Layerwise<'a> {
    graph: &'a Graph,
    tables: &'a Tables,
    arch: pulp::Arch,
    k: usize,
}

impl Layerwise<'_> {
    /// Integrates the spikes of every part (and the bias neuron) into `st.u`, each part's
    /// timed from its own frame and delivered that many steps after `st.origin`; returns the
    /// release time.
    fn integrate(
        &self,
        parts: &[Part<'_>],
        st: &mut LayerState,
        orders: &mut Vec<TimeOrder>,
        leak: &mut LeakTable,
    ) -> Result<u32> {
        let (graph, k, origin) = (self.graph, self.k, st.origin);
        let layer = &graph.layers()[k];
        let out = graph.output_shape(k);
        if orders.len() < parts.len() {
            orders.resize_with(parts.len(), TimeOrder::default);
        }
        let mut last = 0;
        for (part, order) in parts.iter().zip(orders.iter_mut()) {
            last = last.max(order.sort(part.spikes, part.frame, part.inp.c as usize));
        }
        let orders = &orders[..parts.len()];
        let bias_at = layer.bias().map(|_| self.tables.bias_delay);
        let latest = last.max(bias_at.unwrap_or(0));
        let t_il = match graph.params().til {
            TilPolicy::Dynamic => latest,
            TilPolicy::Fixed(t_il) => {
                if latest > t_il {
                    return Err(self.late(parts, orders, bias_at, origin, t_il));
                }
                t_il
            }
        };
        let release = add_time(origin, t_il, k)?;
        check_til(k, t_il, graph.params().leak)?;
        leak.ensure(t_il);
        self.reset(&mut st.u);
        let leak = &*leak;
        let deliveries: SmallVec<[PartDelivery; 4]> = parts
            .iter()
            .zip(orders)
            .map(|(part, order)| PartDelivery {
                geometry: deliver::Positions::of(part.inp),
                conn: part.conn,
                inp: part.inp,
                order,
            })
            .collect();
        let delivered = self.arch.dispatch(Delivery {
            layer,
            parts: &deliveries,
            out,
            leak,
            u: &mut st.u,
            latest,
            bias_at,
            rows: &mut st.rows,
        });
        st.ops.engine.synaptic_adds += delivered;
        st.ops.paper.synaptic_adds += self.tables.synapses[k];
        st.release = Some(release);
        Ok(release)
    }

    /// The potentials at the frame origin: the row sums, in slot order.
    fn reset(&self, u: &mut Vec<f64>) {
        let (graph, k) = (self.graph, self.k);
        let out = graph.output_shape(k);
        let sums = &self.tables.row_sums[k];
        u.clear();
        match &graph.layers()[k] {
            Layer::Conv2d(c) => {
                let row = (out.w * c.out_channels) as usize;
                for oy in 0..out.h {
                    if oy > 0 && sums.same_rows(oy - 1, oy) {
                        u.extend_from_within(u.len() - row..);
                    } else {
                        for ox in 0..out.w {
                            u.extend_from_slice(sums.at(oy, ox));
                        }
                    }
                }
            }
            Layer::Dense(_) | Layer::Output(_) => u.extend_from_slice(sums.at(0, 0)),
            _ => u.extend((0..out.len() as usize).map(|j| sums.of_neuron(j, out))),
        }
    }

    /// The late-spike error for a fixed `T_il`: the first event after the release (of the
    /// first part with one at that step).
    fn late(
        &self,
        parts: &[Part<'_>],
        orders: &[TimeOrder],
        bias_at: Option<u32>,
        origin: u32,
        t_il: u32,
    ) -> crate::Error {
        let first_late = (t_il + 1..)
            .find(|&tau| orders.iter().any(|o| !o.at(tau).is_empty()) || Some(tau) == bias_at);
        let tau = first_late.expect("a later event exists");
        let first = parts
            .iter()
            .zip(orders)
            .find_map(|(p, o)| o.at(tau).first().map(|&i| (p.source, i)));
        late_spike(self.k, first, origin + tau, origin, origin + t_il)
    }

    /// Neuron `j`'s slot in `u`, visited in channel-major order by calling `f(j, slot)`.
    fn for_each_slot(&self, mut f: impl FnMut(usize, usize)) {
        let out = self.graph.output_shape(self.k);
        let n = out.len() as usize;
        match &self.graph.layers()[self.k] {
            Layer::Conv2d(c) => {
                let (plane, cout) = ((out.h * out.w) as usize, c.out_channels as usize);
                for j in 0..n {
                    f(j, (j % plane) * cout + j / plane);
                }
            }
            _ => (0..n).for_each(|j| f(j, j)),
        }
    }

    /// Closed-form ticks: each neuron's firing step from the threshold table.
    fn fire_closed_form(
        &self,
        st: &mut LayerState,
        scale: f64,
        schedule: &mut TickSchedule,
    ) -> Result<()> {
        let release = st.release.expect("released");
        let steps = &mut st.steps;
        steps.clear();
        steps.resize(st.u.len(), 0);
        let (latest, total) = self.arch.dispatch(Firing {
            v: &mut st.u,
            scale,
            schedule,
            steps,
        });
        st.ops.paper.tick_adds += total;
        add_time(release, latest, self.k)?;
        let spikes = &mut st.spikes;
        spikes.clear();
        match &self.graph.layers()[self.k] {
            Layer::Conv2d(c) => {
                let cout = c.out_channels as usize;
                let plane = steps.len() / cout;
                for co in 0..cout {
                    spikes.extend((0..plane).map(|pos| release + steps[pos * cout + co]));
                }
            }
            _ => spikes.extend(steps.iter().map(|&s| release + s)),
        }
        Ok(())
    }

    /// Explicit ticks: the ticking neuron visits every waiting neuron at every step.
    fn fire_explicit(
        &self,
        st: &mut LayerState,
        scale: f64,
        schedule: &TickSchedule,
        waiting: &mut Vec<(u32, f64)>,
    ) -> Result<()> {
        let release = st.release.expect("released");
        let threshold = self.graph.params().threshold;
        let (u, spikes) = (&st.u, &mut st.spikes);
        spikes.clear();
        spikes.resize(self.graph.output_shape(self.k).len() as usize, release);
        waiting.clear();
        self.for_each_slot(|j, slot| {
            let v = u[slot] * scale;
            if v < threshold {
                waiting.push((j as u32, v));
            }
        });
        let mut t = release;
        while !waiting.is_empty() {
            t = add_time(t, 1, self.k)?;
            let n = waiting.len() as u64;
            st.ops.paper.tick_adds += n;
            st.ops.engine.tick_adds += n;
            st.ops.engine.leak_mults += n;
            waiting.retain_mut(|(j, v)| {
                *v = schedule.step(*v);
                let fires = *v >= threshold;
                if fires {
                    spikes[*j as usize] = t;
                }
                !fires
            });
        }
        Ok(())
    }
}

/// One part of a synapse-based layer's input: its own synapses, or one further group.
struct Part<'a> {
    source: Source,
    /// The source's spike times, absolute.
    spikes: &'a [u32],
    /// The frame they are timed in.
    frame: u32,
    /// The source's shape.
    inp: Shape,
    conn: Conn<'a>,
}

/// How a part's spikes reach the layer's potentials.
#[derive(Clone, Copy)]
enum Conn<'a> {
    /// The layer's own synapses, with its conv weights laid out for row runs (`tables.rs`)
    /// where the layer allows them.
    Own(&'a Layer, Option<&'a [f32]>),
    /// A further synapse group.
    Group(&'a Synapses),
}

/// A part's spikes sorted by step, and how they are delivered.
struct PartDelivery<'a> {
    conn: Conn<'a>,
    inp: Shape,
    /// The source's positions and channels, by multiplications (computed once per layer).
    geometry: deliver::Positions,
    order: &'a TimeOrder,
}

/// One layer's deliveries, run under [`pulp::Arch::dispatch`]: everything it calls is
/// inlined into the dispatched function, so the loops are compiled for the CPU's SIMD level.
struct Delivery<'a> {
    layer: &'a Layer,
    /// Its own synapses first, then each further group.
    parts: &'a [PartDelivery<'a>],
    out: Shape,
    leak: &'a LeakTable,
    u: &'a mut [f64],
    latest: u32,
    bias_at: Option<u32>,
    /// Weight-run offsets of one time step (dense) or one position's group (conv).
    rows: &'a mut Vec<usize>,
}

impl pulp::WithSimd for Delivery<'_> {
    type Output = u64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> u64 {
        // Register blocks as wide as the CPU's registers allow (a constant per SIMD level).
        if S::F64_LANES >= deliver::LANES {
            self.each_step::<{ deliver::WIDE_AVX512 }>()
        } else {
            self.each_step::<{ deliver::WIDE }>()
        }
    }
}

impl Delivery<'_> {
    /// Every time step's deliveries, `WIDE` potentials held in registers at a time: at each
    /// step the parts in order, the bias last.
    #[inline(always)]
    fn each_step<const WIDE: usize>(self) -> u64 {
        let Delivery {
            layer,
            parts,
            out,
            leak,
            u,
            latest,
            bias_at,
            rows,
        } = self;
        let mut synapses = 0;
        let channels_last = matches!(layer, Layer::Conv2d(_));
        for tau in 1..=latest {
            let excess = leak.excess(tau);
            for part in parts {
                let sources = part.order.at(tau);
                if sources.is_empty() {
                    continue;
                }
                let inp = part.inp;
                synapses += match part.conn {
                    Conn::Own(layer, flipped) => own::<WIDE>(
                        layer,
                        flipped,
                        inp,
                        &part.geometry,
                        out,
                        sources,
                        excess,
                        u,
                        rows,
                    ),
                    Conn::Group(Synapses::Identity { weight }) => {
                        deliver::identity(*weight, out, channels_last, sources, excess, u)
                    }
                    Conn::Group(Synapses::Conv2d(c)) => sources
                        .iter()
                        .map(|&i| deliver::conv(c, inp, out, i, excess, u))
                        .sum(),
                    Conn::Group(Synapses::Dense(d)) => {
                        deliver::dense::<WIDE>(d, sources, excess, u, rows)
                    }
                };
            }
            if let (Some(b), Some(at)) = (layer.bias(), bias_at) {
                if at == tau {
                    synapses += deliver::bias(b, out, channels_last, excess, u);
                }
            }
        }
        synapses
    }
}

/// One step's spikes `sources` through the layer's own synapses.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn own<const WIDE: usize>(
    layer: &Layer,
    flipped: Option<&[f32]>,
    inp: Shape,
    geometry: &deliver::Positions,
    out: Shape,
    sources: &[u32],
    excess: f64,
    u: &mut [f64],
    rows: &mut Vec<usize>,
) -> u64 {
    let mut synapses = 0;
    match layer {
        Layer::Dense(d) | Layer::Output(d) => {
            synapses += deliver::dense::<WIDE>(d, sources, excess, u, rows);
        }
        Layer::Conv2d(c) => match flipped {
            Some(f) => {
                // Sources come position by position (channels-last): each position's
                // channels share their targets.
                let same = |&a: &u32, &b: &u32| geometry.position(a) == geometry.position(b);
                for group in sources.chunk_by(same) {
                    synapses +=
                        deliver::conv_rows::<WIDE>(c, f, geometry, out, group, excess, u, rows);
                }
            }
            None => {
                for &i in sources {
                    synapses += deliver::conv(c, inp, out, i, excess, u);
                }
            }
        },
        Layer::AvgPool(p) => {
            for &i in sources {
                synapses += super::fanout::avg_pool(&p.window, p.weight, inp, out, i, excess, u);
            }
        }
        Layer::MaxPool(_) | Layer::Flatten => {}
    }
    synapses
}
