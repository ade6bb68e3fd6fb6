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
//! On several threads ([`Simulator::set_threads`]) each layer's neurons are cut into shares,
//! one per thread (`share.rs`): every thread walks the same spikes in the same order and adds
//! only into its share (a conv share reads only the spikes of the input positions that reach
//! it), then fires its share in closed form; the sort and the transposes go by ranges of
//! positions and channels. Each potential's additions are those of one thread, in the same
//! order, so the record is too.
//!
//! The observer sees the input spikes, then each layer's release and spikes, layer by layer,
//! in time order within a layer.

mod deliver;
mod fire;
mod order;
mod pool;
mod share;

use std::cell::RefCell;
use std::sync::Arc;

use hashbrown::HashMap;
use rayon_core::{ThreadPool, ThreadPoolBuilder};
use smallvec::SmallVec;

use self::fire::Firing;
use self::order::TimeOrder;
use self::pool::MaxPool;
use self::share::{on_threads, ranges, split, Share};
use super::leak::LeakTable;
use super::tables::Tables;
use super::ticking::TickSchedule;
use super::{
    add_time, check_til, late_spike, output_record, tick_schedule, Plan, Simulate, TickMode,
};
use crate::counters::LayerOps;
use crate::error::{ErrorKind, Result};
use crate::graph::{Conv2d, Graph, Layer, Shape, Source, Synapses, TilPolicy};
use crate::input::Input;
use crate::observer::SpikeObserver;
use crate::record::{LayerRecord, Record};

thread_local! {
    /// Delivery scratch (the weight-run offsets of a time step or a conv group), one per
    /// thread, allocated by the thread that writes it: buffers kept side by side for every
    /// share would share cache lines, written by two threads, which cost a third of the run
    /// (measured on ResNet-18).
    static ROWS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Per-layer state, kept across runs so its buffers are reused.
#[derive(Debug, Default)]
struct LayerState {
    /// Absolute spike time of every neuron, channel-major.
    spikes: Vec<u32>,
    /// Frame-origin potentials, in slot order (channels-last for conv layers).
    u: Vec<f64>,
    /// Closed-form ticks: each neuron's firing step, in slot order.
    steps: Vec<u32>,
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
    /// Threads one image's layers are cut across (`share.rs`).
    threads: usize,
    /// The threads beside the calling one that take shares, if more than one.
    pool: Option<Arc<ThreadPool>>,
    /// Per share: the firing thresholds of the active period, one table per `T_il` value.
    schedules: Vec<HashMap<u32, TickSchedule>>,
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

    /// This simulator, cutting each layer of an image across `threads` threads (at least 1):
    /// see [`Simulator::set_threads`].
    ///
    /// # Example
    /// ```
    /// use tdsnn_engine::{GraphBuilder, Shape, Simulate, Simulator, TickMode};
    /// # fn main() -> Result<(), tdsnn_engine::Error> {
    /// let graph = GraphBuilder::new(Shape::flat(3), 5.0)
    ///     .dense(130, vec![-0.01; 390], None)
    ///     .output(2, vec![0.5; 260], None)
    ///     .build()?;
    /// let input = [0.2, 0.6, 0.9];
    /// let one = Simulator::new(graph.clone(), TickMode::ClosedForm).run(&input, &mut ())?;
    /// let two = Simulator::new(graph, TickMode::ClosedForm)
    ///     .with_threads(2)?
    ///     .run(&input, &mut ())?;
    /// assert_eq!(one, two); // the same record, bit for bit
    /// # Ok(()) }
    /// ```
    pub fn with_threads(mut self, threads: usize) -> Result<Self> {
        self.set_threads(threads)?;
        Ok(self)
    }

    /// Cuts each synapse-based layer of an image across `threads` threads (at least 1): each
    /// thread delivers every spike to its own share of the layer's neurons (whole output
    /// positions of a conv layer, whole vectors of outputs of a dense one, whole channels of a pooling
    /// one) and fires them in closed form, so the records are bit for bit those of one
    /// thread. Worth it for images whose layers take milliseconds (threads are started per
    /// layer); for many small images, run one simulator per thread instead.
    ///
    /// # Errors
    /// [`ErrorKind::ThreadPool`](crate::ErrorKind::ThreadPool) if the operating system
    /// refuses the threads.
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        let threads = threads.max(1);
        self.pool = match threads {
            1 => None,
            _ => Some(Arc::new(
                ThreadPoolBuilder::new()
                    .num_threads(threads - 1)
                    .thread_name(|i| format!("tdsnn-share-{}", i + 1))
                    .build()
                    .map_err(|e| ErrorKind::ThreadPool {
                        threads,
                        reason: e.to_string(),
                    })?,
            )),
        };
        self.threads = threads;
        self.schedules.resize_with(self.threads, HashMap::new);
        Ok(())
    }

    /// The threads each layer of an image is cut across.
    pub fn threads(&self) -> usize {
        self.threads
    }

    pub(super) fn from_plan(plan: Plan) -> Self {
        let graph = Arc::clone(plan.graph());
        Simulator {
            plan,
            arch: pulp::Arch::new(),
            leak: LeakTable::new(graph.params().leak),
            threads: 1,
            pool: None,
            schedules: vec![HashMap::new()],
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
            self.order.sort(&self.input, 0, 1, None, 1);
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
                        threads: self.threads,
                        pool: self.pool.as_deref(),
                    };
                    // The layer's own synapses, then each further group, each timed from
                    // its source's frame; the layer's frame is the latest of them.
                    let mut parts: SmallVec<[Part; 4]> = SmallVec::new();
                    parts.push(Part {
                        source: graph.source(k),
                        spikes: prev,
                        frame: st.origin,
                        inp: graph.input_shape_of(k),
                        conn: Conn::Own(layer),
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
                        observer.layer_done(k);
                        continue;
                    }
                    match plan.mode() {
                        TickMode::ClosedForm => {
                            ctx.fire_closed_form(st, scale, t_il, &mut self.schedules, &self.leak)?
                        }
                        TickMode::Explicit => {
                            let schedule = tick_schedule(
                                &mut self.schedules[0],
                                &self.leak,
                                graph.params(),
                                t_il,
                            );
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
                self.order.sort(&st.spikes, st.origin, 1, None, 1);
                for &j in self.order.all() {
                    observer.spike(k, j, st.spikes[j as usize]);
                }
            }
            observer.layer_done(k);
        }
        self.record_into(record);
        Ok(())
    }
}

impl Simulator {
    /// Moves the run's spikes into `record` (swapping buffers: the simulator takes the
    /// record's old ones, which every run overwrites, so a record reused across runs costs
    /// no copy and no allocation) and copies its frames and counts (the output readout is
    /// already there).
    fn record_into(&mut self, record: &mut Record) {
        // Every layer's `origin` is its frame origin: the latest frame of its sources (a
        // max-pool or flatten layer's spikes stay in the frame of the layer that fed it).
        record.input.clone_from(&self.input);
        record
            .layers
            .resize_with(self.layers.len(), LayerRecord::default);
        for (rec, st) in record.layers.iter_mut().zip(&mut self.layers) {
            std::mem::swap(&mut rec.spikes, &mut st.spikes);
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
    threads: usize,
    pool: Option<&'a ThreadPool>,
}

impl Layerwise<'_> {
    /// The layer's slots cut into one contiguous range per thread, each of whole output
    /// positions (conv, channels-last), whole vectors (dense) or whole channels (the rest).
    fn shares(&self, len: usize) -> SmallVec<[std::ops::Range<usize>; 8]> {
        let out = self.graph.output_shape(self.k);
        let unit = match &self.graph.layers()[self.k] {
            Layer::Conv2d(c) => c.out_channels as usize,
            Layer::Dense(_) | Layer::Output(_) => deliver::LANES,
            _ => (out.h * out.w) as usize,
        };
        ranges(len, unit, self.threads)
    }

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
            let channels = part.inp.c as usize;
            let tau = order.sort(part.spikes, part.frame, channels, self.pool, self.threads);
            last = last.max(tau);
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
        st.u.resize(out.len() as usize, 0.0);
        let leak = &*leak;
        let runs = &self.tables.row_runs[k];
        let deliveries: SmallVec<[PartDelivery; 4]> = parts
            .iter()
            .zip(orders)
            .enumerate()
            .map(|(p, (part, order))| PartDelivery {
                geometry: deliver::Positions::of(part.inp),
                conn: part.conn,
                runs: runs[p].as_deref(),
                inp: part.inp,
                order,
            })
            .collect();
        let cuts = self.shares(st.u.len());
        let shares = split(&mut st.u, &cuts).into_iter().zip(&cuts);
        let arch = self.arch;
        let delivered = on_threads(self.pool, shares, |(u, range)| {
            self.reset(u, range.start);
            ROWS.with_borrow_mut(|rows| {
                arch.dispatch(Delivery {
                    layer,
                    parts: &deliveries,
                    out,
                    leak,
                    share: Share::new(u, range.start),
                    latest,
                    bias_at,
                    rows,
                })
            })
        });
        st.ops.engine.synaptic_adds += delivered.iter().sum::<u64>();
        st.ops.paper.synaptic_adds += self.tables.synapses[k];
        st.release = Some(release);
        Ok(release)
    }

    /// The potentials at the frame origin, the row sums, of the slots `lo..lo + u.len()`
    /// (whole output positions of a conv layer).
    fn reset(&self, u: &mut [f64], lo: usize) {
        let (graph, k) = (self.graph, self.k);
        let out = graph.output_shape(k);
        let sums = &self.tables.row_sums[k];
        match &graph.layers()[k] {
            Layer::Conv2d(c) => {
                let cout = c.out_channels as usize;
                for (pos, slots) in (lo / cout.max(1)..).zip(u.chunks_exact_mut(cout)) {
                    let (oy, ox) = (pos / out.w as usize, pos % out.w as usize);
                    slots.copy_from_slice(sums.at(oy as u32, ox as u32));
                }
            }
            Layer::Dense(_) | Layer::Output(_) => {
                u.copy_from_slice(&sums.at(0, 0)[lo..lo + u.len()]);
            }
            _ => {
                for (j, u) in (lo..).zip(u) {
                    *u = sums.of_neuron(j, out);
                }
            }
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

    /// Closed-form ticks: each neuron's firing step from the threshold table (of `T_il`
    /// steps, from the share's own cache in `schedules`), share by share.
    fn fire_closed_form(
        &self,
        st: &mut LayerState,
        scale: f64,
        t_il: u32,
        schedules: &mut [HashMap<u32, TickSchedule>],
        leak: &LeakTable,
    ) -> Result<()> {
        let release = st.release.expect("released");
        let steps = &mut st.steps;
        // Every step is written, by the thread of its share: only a change of length fills.
        steps.resize(st.u.len(), 0);
        let cuts = self.shares(st.u.len());
        let (arch, params) = (self.arch, self.graph.params());
        let shares = split(&mut st.u, &cuts)
            .into_iter()
            .zip(split(steps, &cuts))
            .zip(schedules);
        let fired = on_threads(self.pool, shares, |((v, steps), schedules)| {
            arch.dispatch(Firing {
                v,
                scale,
                schedule: tick_schedule(schedules, leak, params, t_il),
                steps,
            })
        });
        let latest = fired.iter().map(|f| f.0).max().unwrap_or(0);
        st.ops.paper.tick_adds += fired.iter().map(|f| f.1).sum::<u64>();
        add_time(release, latest, self.k)?;
        let spikes = &mut st.spikes;
        match &self.graph.layers()[self.k] {
            Layer::Conv2d(c) => {
                // Channel-major, a share of whole channels per thread, each spike written.
                let (n, cout) = (steps.len(), c.out_channels as usize);
                let plane = (n / cout.max(1)).max(1);
                spikes.resize(n, 0);
                let cuts = ranges(n, plane, self.threads);
                let steps = &*steps;
                on_threads(
                    self.pool,
                    split(spikes, &cuts).into_iter().zip(&cuts),
                    |(spikes, range)| {
                        let first = range.start / plane;
                        order::channel_major(steps, cout, first, spikes, |s| release + s);
                    },
                );
            }
            _ => {
                spikes.clear();
                spikes.extend(steps.iter().map(|&s| release + s));
            }
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
    /// The layer's own synapses.
    Own(&'a Layer),
    /// A further synapse group.
    Group(&'a Synapses),
}

/// A part's spikes sorted by step, and how they are delivered.
struct PartDelivery<'a> {
    conn: Conn<'a>,
    /// Conv synapses: their weights laid out for row runs (`tables.rs`).
    runs: Option<&'a [f32]>,
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
    /// The potentials this thread delivers to.
    share: Share<'a>,
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
            mut share,
            latest,
            bias_at,
            rows,
        } = self;
        let mut synapses = 0;
        let channels_last = matches!(layer, Layer::Conv2d(_));
        // A conv layer's share of some of its output rows needs only the spikes at the input
        // positions that reach them: each part's range of those, found once here.
        let rows_held = match layer {
            Layer::Conv2d(c) if share.all().len() < out.len() as usize => {
                let (lo, width) = (share.lo(), (out.w * c.out_channels) as usize);
                let hi = lo + share.all().len();
                Some((lo / width) as u32..hi.div_ceil(width) as u32)
            }
            _ => None,
        };
        let reaching: SmallVec<[Option<std::ops::Range<u32>>; 4]> = parts
            .iter()
            .map(|part| part.positions_reaching(rows_held.clone()?))
            .collect();
        for tau in 1..=latest {
            let excess = leak.excess(tau);
            for (part, reaching) in parts.iter().zip(&reaching) {
                let mut sources = part.order.at(tau);
                if let Some(positions) = reaching {
                    sources = part.at_positions(sources, positions.clone());
                }
                if sources.is_empty() {
                    continue;
                }
                synapses += match part.conn {
                    Conn::Own(layer) => {
                        own::<WIDE>(layer, part, out, sources, excess, &mut share, rows)
                    }
                    Conn::Group(Synapses::Identity { weight }) => {
                        deliver::identity(*weight, out, channels_last, sources, excess, &mut share)
                    }
                    Conn::Group(Synapses::Conv2d(c)) => {
                        conv::<WIDE>(c, part, out, sources, excess, &mut share, rows)
                    }
                    Conn::Group(Synapses::Dense(d)) => {
                        deliver::dense::<WIDE>(d, sources, excess, &mut share, rows)
                    }
                };
            }
            if let (Some(b), Some(at)) = (layer.bias(), bias_at) {
                if at == tau {
                    synapses += deliver::bias(b, out, channels_last, excess, &mut share);
                }
            }
        }
        synapses
    }
}

impl PartDelivery<'_> {
    /// The input positions whose spikes reach output `rows` of a conv layer through this part
    /// (its window, or an identity), or `None` for a part whose every spike may (dense
    /// synapses).
    fn positions_reaching(&self, rows: std::ops::Range<u32>) -> Option<std::ops::Range<u32>> {
        let (inp, [r0, r1]) = (self.inp, [rows.start, rows.end].map(i64::from));
        let (y0, y1) = match self.conn {
            Conn::Own(Layer::Conv2d(Conv2d { window, .. }))
            | Conn::Group(Synapses::Conv2d(Conv2d { window, .. })) => {
                let ([kh, _], [sy, _], [py, _]) = (
                    window.kernel.map(i64::from),
                    window.stride.map(i64::from),
                    window.padding.map(i64::from),
                );
                (r0 * sy - py, (r1 - 1) * sy - py + kh)
            }
            Conn::Group(Synapses::Identity { .. }) => (r0, r1),
            _ => return None,
        };
        let clip = |y: i64| (y.clamp(0, i64::from(inp.h)) as u32) * inp.w;
        Some(clip(y0)..clip(y1))
    }

    /// The spikes of `sources` (one step's, ascending positions) at `positions`.
    #[inline(always)]
    fn at_positions<'s>(&self, sources: &'s [u32], positions: std::ops::Range<u32>) -> &'s [u32] {
        let geometry = &self.geometry;
        let a = sources.partition_point(|&i| geometry.position(i) < positions.start);
        let b = a + sources[a..].partition_point(|&i| geometry.position(i) < positions.end);
        &sources[a..b]
    }
}

/// One step's spikes `sources` through the layer's own synapses (`part`).
#[inline(always)]
fn own<const WIDE: usize>(
    layer: &Layer,
    part: &PartDelivery<'_>,
    out: Shape,
    sources: &[u32],
    excess: f64,
    share: &mut Share<'_>,
    rows: &mut Vec<usize>,
) -> u64 {
    match layer {
        Layer::Dense(d) | Layer::Output(d) => {
            deliver::dense::<WIDE>(d, sources, excess, share, rows)
        }
        Layer::Conv2d(c) => conv::<WIDE>(c, part, out, sources, excess, share, rows),
        Layer::AvgPool(p) => {
            // Loops, not closures: a closure is compiled apart from the SIMD level of the
            // dispatch unless inlined, and `inline(always)` cannot be put on one.
            let mut synapses = 0;
            for &i in sources {
                synapses += deliver::avg_pool(p, part.inp, out, i, excess, share);
            }
            synapses
        }
        Layer::MaxPool(_) | Layer::Flatten => 0,
    }
}

/// One step's spikes `sources` through conv synapses `c` (of `part`): the spikes come position
/// by position (channels-last), and each position's channels share their targets.
#[inline(always)]
fn conv<const WIDE: usize>(
    c: &Conv2d,
    part: &PartDelivery<'_>,
    out: Shape,
    sources: &[u32],
    excess: f64,
    share: &mut Share<'_>,
    rows: &mut Vec<usize>,
) -> u64 {
    let runs = part.runs.expect("conv synapses have row runs");
    let geometry = &part.geometry;
    let same = |&a: &u32, &b: &u32| geometry.position(a) == geometry.position(b);
    let mut synapses = 0;
    for group in sources.chunk_by(same) {
        synapses += deliver::conv_rows::<WIDE>(c, runs, geometry, out, group, excess, share, rows);
    }
    synapses
}
