//! # tdsnn-evaluate
//!
//! Evaluating a converted network on a labelled data set: every image simulated by the
//! engine, checked neuron by neuron against equation (10) and image by image against the f64
//! reference DNN, on all cores; and the [`report`] of it, the paper's tables 1 and 2 as text
//! and as JSON (what `tdsnn run` prints and writes, and what the Python package returns).
//!
//! Work is spread over threads (scoped threads, each with its own simulator);
//! results are collected by image index and reduced in order, so the evaluation is the same,
//! bit for bit, whatever the thread count.

// Every public item is documented; CI builds with -D warnings.
#![deny(missing_docs)]

mod batch;
mod parallel;
pub mod report;
pub mod timing;
pub mod totals;

pub use batch::simulate;
pub use totals::{LayerInfo, LayerTotals, PartTotals, Totals};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tdsnn_converter::{reference_forward, relu_forward, Dnn, DnnLayer, OpCounts, Reference};
use tdsnn_engine::audit::{self, Tolerance};
use tdsnn_engine::counters::LayerOps;
use tdsnn_engine::graph::Source;
use tdsnn_engine::{coding, Graph, Plan, Record, Simulate, Simulator, TickMode};
use tdsnn_io::dump::Dump;
use tdsnn_io::images::{check_labels, Inputs, LabelError};

/// Whether a reference neuron lies so close to a step edge of `T` that the SNN, whose
/// synaptic weights are the reference's rounded to `f32`, may put its spike on the other step.
///
/// Conv and dense weights are the DNN's own `f32` values and bias weights `b / G(1)` are kept
/// in f64, so neither moves `A`; an average pool's weight `1 / (kh * kw)` in `f32` moves it by
/// at most `2^-24 A`; the engine's f64 sums add about `1e-12` relative. `L ln(A + 1)` moves
/// by `L dA / (A + 1)`: a neuron is a tie where its margin ([`coding::tie_margin`]) is within
/// twice that bound.
fn reference_tie(dnn: &Dnn, reference: &Reference, leak: f64) -> bool {
    let last = dnn.layers().len() - 1;
    dnn.layers()[..last].iter().enumerate().any(|(k, layer)| {
        let Some(a) = reference.layers[k].pre_activations() else {
            return false;
        };
        let pooled = matches!(layer, DnnLayer::AvgPool { .. });
        a.iter().any(|&aj| {
            let rounded = if pooled { aj.abs() } else { 0.0 };
            let shift = f64::from(f32::EPSILON) / 2.0 * rounded + 1e-12 * (1.0 + aj.abs());
            coding::tie_margin(aj, leak)
                .is_some_and(|m| m <= 2.0 * leak * shift / (1.0 + aj).max(1e-300))
        })
    })
}

/// How to evaluate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalConfig {
    /// Tick mode of the engine.
    pub mode: TickMode,
    /// Threads (at least 1): images are split across them first, and threads beyond one
    /// per image go into each image's layers (`Simulator::set_threads`).
    pub threads: usize,
    /// Tolerances of the teacher-forced audit: the tie window (`L ln(A + 1)` within it of an
    /// integer) and the logits' relative error.
    pub tolerance: Tolerance,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            mode: TickMode::ClosedForm,
            threads: 1,
            tolerance: Tolerance::DEFAULT,
        }
    }
}

/// What one image gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageResult {
    /// The true label, if the inputs are labelled.
    pub label: Option<usize>,
    /// The SNN's class.
    pub snn: usize,
    /// The reference DNN(G)'s class.
    pub dnn_g: usize,
    /// The plain ReLU network's class, if one was given.
    pub dnn_relu: Option<usize>,
    /// Neurons checked by the teacher-forced audit, exact, within the tie window, and off
    /// `T(A)` outside it.
    pub neurons: u64,
    /// Neurons whose spike time equals `T(A)`, away from ties.
    pub exact: u64,
    /// Neurons within the tie window.
    pub ties: u64,
    /// Neurons off `T(A)` outside the tie window (must be 0).
    pub mismatches: u64,
    /// Whether the audit passed as a whole: spike times, frame origins and releases, logits
    /// (to the configured [`Tolerance`]) and the recorded class.
    pub audit_passed: bool,
    /// Whether the image has a tie that can change its class: a tie in the audit whose spike
    /// landed on the other step, a reference neuron within `f32` rounding of a step edge, or
    /// a near tie between the reference's two largest logits.
    pub tied: bool,
    /// Per graph layer: `T_il` (synapse-based layers), sum and max of spike times relative to
    /// the release or frame origin, number of spikes, operation counts, a join's delays.
    pub layers: Vec<LayerSample>,
}

/// One part of a join in one image (its own synapses, or a further synapse group): how long
/// its spikes waited in a delay buffer for the join's frame, and how many waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartSample {
    /// `o - o_g`: the steps between the part's source's frame and the join's.
    pub delay: u32,
    /// The spikes that waited: the source's spike count if the delay is above 0, else 0.
    pub delayed_spikes: u64,
}

/// One layer of one image.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LayerSample {
    /// `T_il`, for synapse-based layers.
    pub t_il: Option<u32>,
    /// Sum of relative spike times.
    pub spike_sum: u64,
    /// Largest relative spike time.
    pub spike_max: u32,
    /// Number of spikes.
    pub spikes: u64,
    /// Operation counts.
    pub ops: LayerOps,
    /// A join's parts, its own synapses first, then each further group (empty for any
    /// other layer).
    pub parts: Vec<PartSample>,
}

/// One part of a join over a data set: where its spikes come from, and the delay buffer it
/// needs (docs/semantics.md, "Branches and joins").
#[derive(Debug, Clone, PartialEq)]
pub struct PartStats {
    /// The part's source: the layer's own source, or the group's.
    pub source: Source,
    /// `own` for the layer's own synapses, else the group's connection: `identity`,
    /// `conv2d` or `dense`.
    pub synapses: String,
    /// Mean and max over images of the delay `o - o_g`, in steps.
    pub delay: (f64, u32),
    /// Spikes that waited in the buffer per image (mean): the source's spike count in the
    /// images where the delay is above 0.
    pub delayed_spikes: f64,
}

/// Per-layer statistics over a data set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LayerStats {
    /// The layer's kind.
    pub kind: String,
    /// Output shape, as `CxHxW`.
    pub shape: String,
    /// Mean and max `T_il` (synapse-based layers).
    pub t_il: Option<(f64, u32)>,
    /// Mean and max spike time, relative to the release (synapse-based layers) or the frame
    /// origin (max-pool, flatten); `None` for the output layer, which does not fire.
    pub spike_time: Option<(f64, u32)>,
    /// Operation counts summed over all images (a join's include its delayed spikes).
    pub ops: LayerOps,
    /// Where the layer's own synapses take their spikes from, when the graph branches
    /// ([`Graph::branches`]); `None` in a chain, where it is always the layer before.
    pub source: Option<Source>,
    /// A join's parts (a layer with further synapse groups): its own synapses first, then
    /// each group, with their delays; empty for any other layer.
    pub parts: Vec<PartStats>,
}

impl LayerStats {
    /// The statistics of a layer `info` describes, from its totals over `images` images:
    /// means are sums divided by counts, so the totals of a data set's shards, added, give
    /// the whole data set's statistics bit for bit.
    pub fn new(info: &LayerInfo, totals: &LayerTotals, images: u64) -> LayerStats {
        let count = images.max(1) as f64;
        LayerStats {
            kind: info.kind.clone(),
            shape: info.shape.clone(),
            t_il: info
                .synaptic
                .then(|| (totals.t_il_sum as f64 / count, totals.t_il_max)),
            spike_time: (totals.spikes > 0).then(|| {
                (
                    totals.spike_sum as f64 / totals.spikes as f64,
                    totals.spike_max,
                )
            }),
            ops: totals.ops,
            source: info.source,
            parts: (info.parts.iter().zip(&totals.parts))
                .map(|(p, t)| PartStats {
                    source: p.source,
                    synapses: p.synapses.clone(),
                    delay: (t.delay_sum as f64 / count, t.delay_max),
                    delayed_spikes: t.delayed_spikes as f64 / count,
                })
                .collect(),
        }
    }

    /// Whether the layer joins branches (has further synapse groups).
    pub fn is_join(&self) -> bool {
        !self.parts.is_empty()
    }

    /// Spikes that waited in the layer's delay buffers per image (mean), all parts together.
    pub fn delayed_spikes(&self) -> f64 {
        self.parts.iter().map(|p| p.delayed_spikes).sum()
    }
}

/// The evaluation of a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Leak constant `L`.
    pub leak: f64,
    /// Every image's result, in data set order.
    pub images: Vec<ImageResult>,
    /// What every figure is computed from: counts, sums and maxima over the images.
    pub totals: Totals,
    /// What each layer is.
    pub infos: Vec<LayerInfo>,
    /// The DNN's operation counts per image.
    pub dnn_ops: OpCounts,
}

impl Evaluation {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether no image was evaluated.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Whether every image is labelled (else the accuracies count unlabelled images as
    /// wrong and mean nothing).
    pub fn labelled(&self) -> bool {
        self.totals.labelled == self.totals.images
    }

    /// Accuracy of the SNN.
    pub fn snn_accuracy(&self) -> f64 {
        self.totals.share(self.totals.snn_correct)
    }

    /// Accuracy of the reference DNN(G).
    pub fn dnn_g_accuracy(&self) -> f64 {
        self.totals.share(self.totals.dnn_g_correct)
    }

    /// Accuracy of the ReLU network, if one was given.
    pub fn dnn_relu_accuracy(&self) -> Option<f64> {
        Some(self.totals.share(self.totals.dnn_relu_correct?))
    }

    /// Images whose SNN class equals the DNN(G)'s.
    pub fn agreements(&self) -> usize {
        self.totals.agreements as usize
    }

    /// Disagreements explained by a tie, and unexplained ones (which must be 0).
    pub fn disagreements(&self) -> (usize, usize) {
        (
            self.totals.disagreements_at_ties as usize,
            self.totals.unexplained_disagreements as usize,
        )
    }

    /// Images with a tie that can change their class.
    pub fn tied_images(&self) -> usize {
        self.totals.tied_images as usize
    }

    /// Totals of the neuron audit: (neurons, exact, ties, mismatches).
    pub fn neuron_totals(&self) -> (u64, u64, u64, u64) {
        let t = &self.totals;
        (t.neurons, t.exact, t.ties, t.mismatches)
    }

    /// Images whose audit failed (spike times, frames, logits or class; must be 0).
    pub fn audit_failures(&self) -> usize {
        self.totals.audit_failures as usize
    }

    /// Per-layer statistics, from the totals.
    pub fn layers(&self) -> Vec<LayerStats> {
        (self.infos.iter().zip(&self.totals.layers))
            .map(|(info, t)| LayerStats::new(info, t, self.totals.images))
            .collect()
    }

    /// SNN operations summed over layers and images: (paper, engine).
    pub fn snn_ops(&self) -> LayerOps {
        self.totals.layers.iter().map(|l| &l.ops).sum()
    }
}

impl ImageResult {
    /// This one image's totals: what [`Totals::add`] adds up over a data set.
    fn totals(&self) -> Totals {
        let one = |yes: bool| u64::from(yes);
        let correct = |class: Option<usize>| one(self.label.is_some() && class == self.label);
        let differs = self.snn != self.dnn_g;
        Totals {
            images: 1,
            labelled: one(self.label.is_some()),
            snn_correct: correct(Some(self.snn)),
            dnn_g_correct: correct(Some(self.dnn_g)),
            dnn_relu_correct: self.dnn_relu.map(|c| correct(Some(c))),
            agreements: one(!differs),
            tied_images: one(self.tied),
            disagreements_at_ties: one(differs && self.tied),
            unexplained_disagreements: one(differs && !self.tied),
            neurons: self.neurons,
            exact: self.exact,
            ties: self.ties,
            mismatches: self.mismatches,
            audit_failures: one(!self.audit_passed),
            layers: (self.layers.iter())
                .map(|s| LayerTotals {
                    t_il_sum: s.t_il.map_or(0, u64::from),
                    t_il_max: s.t_il.unwrap_or(0),
                    spike_sum: s.spike_sum,
                    spike_max: s.spike_max,
                    spikes: s.spikes,
                    ops: s.ops,
                    parts: (s.parts.iter())
                        .map(|p| PartTotals {
                            delay_sum: u64::from(p.delay),
                            delay_max: p.delay,
                            delayed_spikes: p.delayed_spikes,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Why a data set could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The engine rejected an image (for instance a spike later than a fixed `T_il`).
    #[error("image {image}: {error}")]
    Image {
        /// Index of the image in the data set (the first that failed, whatever the thread
        /// count).
        image: usize,
        /// The engine's error.
        error: tdsnn_engine::Error,
    },
    /// The networks or the data do not fit together.
    #[error("{0}")]
    Mismatch(String),
    /// An image's label is not one of the network's classes ([`check_labels`]).
    #[error(transparent)]
    Label(#[from] LabelError),
    /// The dump the images went to failed.
    #[error("dump: {0}")]
    Dump(String),
}

/// Errors unless the graph, the networks and the data fit together.
fn check_fit(
    graph: &Graph,
    dnn_g: &Dnn,
    relu: Option<&Dnn>,
    data: &impl Inputs,
) -> Result<(), EvalError> {
    let input = graph.input_shape();
    let classes = graph.output_shape(graph.layers().len() - 1);
    let fits = |dnn: &Dnn| dnn.input_shape() == input && dnn.final_shape() == classes;
    if !fits(dnn_g) {
        return Err(EvalError::Mismatch(format!(
            "the DNN(G) takes {} to {}, the graph {input} to {classes}",
            dnn_g.input_shape(),
            dnn_g.final_shape()
        )));
    }
    if let Some(r) = relu.filter(|r| !fits(r)) {
        return Err(EvalError::Mismatch(format!(
            "the ReLU network takes {} to {}, the graph {input} to {classes}",
            r.input_shape(),
            r.final_shape()
        )));
    }
    check_data(graph, data)
}

/// Errors unless `data` holds images of the graph's input shape, labelled (if at all) with
/// its classes.
fn check_data(graph: &Graph, data: &impl Inputs) -> Result<(), EvalError> {
    let input = graph.input_shape();
    let classes = graph.output_shape(graph.layers().len() - 1);
    if data.count() == 0 {
        return Err(EvalError::Mismatch("the data set holds no image".into()));
    }
    if data.shape() != input {
        return Err(EvalError::Mismatch(format!(
            "the images are {}, the network takes {input}",
            data.shape()
        )));
    }
    Ok(check_labels(data, classes.len() as usize)?)
}

/// Everything one image needs computed.
fn evaluate_image(
    sim: &mut Simulator,
    dnn_g: &Dnn,
    relu: Option<&Dnn>,
    x: &[f32],
    label: Option<usize>,
    config: &EvalConfig,
) -> Result<(ImageResult, Record, Reference), tdsnn_engine::Error> {
    let graph = Arc::clone(sim.plan().graph());
    let leak = graph.params().leak;
    let record = sim.run(x, &mut ())?;
    let report =
        audit::audit(&graph, x, &record, config.tolerance).expect("the record is of this graph");
    // The engine accepted the input, so it has the right length and finite values.
    let reference = reference_forward(dnn_g, x, leak).expect("an input the engine accepts");
    let near_edge = reference_tie(dnn_g, &reference, leak);
    let logit_tie = top_two_close(&reference.logits);
    let (mut exact, mut ties, mut differing) = (0, 0, 0);
    for l in &report.layers {
        exact += l.exact;
        ties += l.ties;
        differing += l.tie_differences;
    }
    let result = ImageResult {
        label,
        snn: record.output.class,
        dnn_g: reference.class,
        dnn_relu: relu.map(|r| relu_forward(r, x).expect("valid input").class),
        neurons: report.neurons(),
        exact,
        ties,
        mismatches: report.mismatches.len() as u64,
        audit_passed: report.passed(),
        tied: differing > 0 || near_edge || logit_tie || report.class_tie,
        layers: samples(&graph, &record),
    };
    Ok((result, record, reference))
}

fn top_two_close(logits: &[f64]) -> bool {
    let mut sorted = logits.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    sorted.len() > 1 && (sorted[0] - sorted[1]).abs() <= 1e-6 * (1.0 + sorted[0].abs())
}

fn samples(graph: &Graph, record: &Record) -> Vec<LayerSample> {
    record
        .layers
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let base = l.release.unwrap_or(l.frame_origin);
            LayerSample {
                t_il: l.t_il(),
                spike_sum: l.spikes.iter().map(|&t| u64::from(t - base)).sum(),
                spike_max: l.spikes.iter().map(|&t| t - base).max().unwrap_or(0),
                spikes: l.spikes.len() as u64,
                ops: l.ops,
                parts: part_samples(graph, record, k),
            }
        })
        .collect()
}

/// Layer `k`'s parts in `record`, if it is a join (else none).
fn part_samples(graph: &Graph, record: &Record, k: usize) -> Vec<PartSample> {
    record
        .join_parts(graph, k)
        .map(|p| PartSample {
            delay: p.delay,
            delayed_spikes: p.delayed_spikes,
        })
        .collect()
}

/// Evaluates `graph` (converted from `dnn_g`) on every image of `data`; `relu` is the plain
/// ReLU network to compare with, if any. Calls `progress` with the number of images done.
///
/// Errors if the networks, the graph and the images do not fit together (the images must be
/// of the graph's input shape), if there is no image, or with the
/// first image (by index, whatever the thread count) the engine rejects.
pub fn evaluate(
    graph: &Arc<Graph>,
    dnn_g: &Dnn,
    relu: Option<&Dnn>,
    data: &impl Inputs,
    config: &EvalConfig,
    progress: impl Fn(usize) + Sync,
) -> Result<Evaluation, EvalError> {
    evaluate_into(graph, dnn_g, relu, data, config, progress, None)
}

/// [`evaluate`], every image also pushed, in data set order, to `dump` (its input, the
/// engine's record, the reference's values and its label) as soon as it and every image
/// before it are done: images finished ahead of their turn wait, so the dump holds the
/// images in order and the evaluation never more than a few records at a time.
///
/// # Errors
/// As [`evaluate`]; [`EvalError::Dump`] if the dump fails (the evaluation stops there).
pub fn evaluate_into(
    graph: &Arc<Graph>,
    dnn_g: &Dnn,
    relu: Option<&Dnn>,
    data: &impl Inputs,
    config: &EvalConfig,
    progress: impl Fn(usize) + Sync,
    dump: Option<&mut (dyn Dump + Send)>,
) -> Result<Evaluation, EvalError> {
    check_fit(graph, dnn_g, relu, data)?;
    let done = AtomicUsize::new(0);
    let order = dump.map(|dump| Mutex::new(InOrder::new(dump)));
    // One simulator per worker, all sharing the graph and its tables (each cutting its
    // image's layers across the threads left over, `parallel::simulators`).
    let plan = Plan::new(Arc::clone(graph), config.mode);
    let (workers, simulator) = parallel::simulators(&plan, config.threads, data.count());
    let images = parallel::map_in_order(data.count(), workers, simulator, |sim, i| {
        let sim = sim.as_mut().map_err(|error| EvalError::Image {
            image: i,
            error: error.clone(),
        })?;
        let x = data.input(i);
        let label = data.label(i);
        let (result, record, reference) = evaluate_image(sim, dnn_g, relu, &x, label, config)
            .map_err(|error| EvalError::Image { image: i, error })?;
        if let Some(order) = &order {
            let finished = Finished {
                input: x,
                record,
                reference,
                label,
            };
            order
                .lock()
                .expect("no worker panics")
                .arrive(i, finished)?;
        }
        progress(done.fetch_add(1, Ordering::Relaxed) + 1);
        Ok(result)
    })
    .into_iter()
    .collect::<Result<Vec<ImageResult>, EvalError>>()?;
    let mut totals = Totals::default();
    for image in &images {
        totals.add(&image.totals());
    }
    Ok(Evaluation {
        leak: graph.params().leak,
        images,
        totals,
        infos: LayerInfo::of(graph),
        dnn_ops: dnn_g.op_counts(),
    })
}

/// One image done, waiting for its turn in the dump.
struct Finished {
    input: Vec<f32>,
    record: Record,
    reference: Reference,
    label: Option<usize>,
}

/// Images arriving in any order, pushed to a dump in data set order.
struct InOrder<'d> {
    dump: &'d mut (dyn Dump + Send),
    next: usize,
    waiting: BTreeMap<usize, Finished>,
}

impl<'d> InOrder<'d> {
    fn new(dump: &'d mut (dyn Dump + Send)) -> Self {
        InOrder {
            dump,
            next: 0,
            waiting: BTreeMap::new(),
        }
    }

    /// Image `i` is done: it and every image after it that waited go to the dump, in order.
    fn arrive(&mut self, i: usize, finished: Finished) -> Result<(), EvalError> {
        self.waiting.insert(i, finished);
        while let Some(f) = self.waiting.remove(&self.next) {
            (self.dump)
                .push(&f.input, &f.record, Some(&f.reference), f.label)
                .map_err(|e| EvalError::Dump(e.to_string()))?;
            self.next += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tdsnn_converter::{convert, Source as DnnSource};
    use tdsnn_engine::{Shape, TilPolicy, Window};
    use tdsnn_io::images::Images;

    /// `n` values in `[-a, a]` from a fixed sequence.
    fn values(seed: u32, n: usize, a: f32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(12_345);
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                a * ((x >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0)
            })
            .collect()
    }

    /// conv - relu - conv - relu - conv + identity from the first relu - relu - flatten -
    /// dense: graph layers 0, 1, 2 (the join: own from layer 1, identity from layer 0), 3
    /// (flatten), 4 (output).
    fn residual() -> Dnn {
        let conv = |seed| DnnLayer::Conv2d {
            out_channels: 2,
            window: Window::square(3, 1, 1),
            weights: values(seed, 2 * 2 * 9, 0.4),
            bias: Some(values(seed + 100, 2, 0.2)),
        };
        let first = DnnLayer::Conv2d {
            out_channels: 2,
            window: Window::square(3, 1, 1),
            weights: values(7, 2 * 9, 0.6),
            bias: Some(values(8, 2, 0.2)),
        };
        Dnn::new(
            Shape::new(1, 5, 5),
            vec![
                first,
                DnnLayer::Relu,
                conv(1),
                DnnLayer::Relu,
                conv(2),
                DnnLayer::Shortcut {
                    from: DnnSource::Layer(1),
                    projection: None,
                },
                DnnLayer::Relu,
                DnnLayer::Flatten,
                DnnLayer::Dense {
                    outputs: 3,
                    weights: values(3, 3 * 50, 0.3),
                    bias: None,
                },
            ],
        )
        .expect("a valid residual network")
    }

    fn images(n: usize) -> Images {
        Images {
            shape: Shape::new(1, 5, 5),
            values: values(99, n * 25, 1.0).iter().map(|v| v.abs()).collect(),
            labels: None,
        }
    }

    /// The engine alone gives the evaluation's own engine arrays (every spike, frame,
    /// release, delay, logit and class, with labels), the same for any thread count.
    #[test]
    fn simulate_gives_the_engines_arrays_whatever_the_thread_count() {
        use tdsnn_io::dump::DumpArrays;
        let dnn = residual();
        let graph = Arc::new(convert(&dnn, 5.0, TilPolicy::Dynamic).unwrap());
        let mut data = images(37);
        data.labels = Some((0..37).map(|i| (i % 3) as u8).collect());
        let config = EvalConfig {
            threads: 3,
            ..EvalConfig::default()
        };
        // The evaluation's dump, images pushed in order whatever thread finished them.
        let mut dump = DumpArrays::new(&graph, Some(&dnn), 37, true);
        evaluate_into(&graph, &dnn, None, &data, &config, |_| {}, Some(&mut dump)).unwrap();
        let full = dump.into_arrays();
        let alone = simulate(&graph, &data, TickMode::ClosedForm, 1, |_| {})
            .unwrap()
            .into_arrays();
        // The reference's arrays are all the engine-only run leaves out.
        let engine: Vec<_> = full
            .iter()
            .filter(|a| !a.name.ends_with("_dnn") && !a.name.ends_with("_pre_activation"))
            .cloned()
            .collect();
        assert_eq!(alone, engine);
        assert!(alone.iter().any(|a| a.name == "layer2_delays"));
        assert!(alone.iter().any(|a| a.name == "labels"));
        // 100 threads over 37 images: 37 workers, each image's layers cut across 2 threads.
        for (mode, threads) in [
            (TickMode::Explicit, 2),
            (TickMode::Explicit, 3),
            (TickMode::Explicit, 8),
            (TickMode::Explicit, 100),
            (TickMode::ClosedForm, 100),
        ] {
            let done = AtomicUsize::new(0);
            let arrays = simulate(&graph, &data, mode, threads, |_| {
                done.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap()
            .into_arrays();
            assert_eq!(arrays, alone, "{threads} threads, {mode:?}");
            assert_eq!(done.into_inner(), 37, "progress reported once per image");
        }
        // Images of another shape are refused before anything runs.
        let wrong = Images {
            shape: Shape::new(1, 4, 4),
            values: vec![0.5; 16],
            labels: None,
        };
        let err = simulate(&graph, &wrong, TickMode::ClosedForm, 1, |_| {}).unwrap_err();
        assert!(err.to_string().contains("the network takes"), "{err}");
    }

    #[test]
    fn a_join_reports_its_delays_and_delayed_spikes() {
        let dnn = residual();
        let graph = Arc::new(convert(&dnn, 5.0, TilPolicy::Dynamic).unwrap());
        assert!(graph.branches());
        assert_eq!(graph.groups(2).len(), 1, "layer 2 joins");
        let data = images(5);
        let eval = evaluate(&graph, &dnn, None, &data, &EvalConfig::default(), |_| {}).unwrap();
        assert_eq!(eval.audit_failures(), 0);
        // Every layer names its source; only the join has parts.
        let sources: Vec<Option<Source>> = eval.layers().iter().map(|l| l.source).collect();
        let layer = |k| Some(Source::Layer(k));
        let expect = [Some(Source::Input), layer(0), layer(1), layer(2), layer(3)];
        assert_eq!(sources, expect);
        let joins: Vec<usize> = (0..5).filter(|&k| eval.layers()[k].is_join()).collect();
        assert_eq!(joins, [2]);
        // The parts against the records: own synapses from layer 1, the identity from 0.
        let layers = eval.layers();
        let join = &layers[2];
        let mut sim = Simulator::new(Arc::clone(&graph), TickMode::ClosedForm);
        let records: Vec<Record> = (0..5)
            .map(|i| sim.run(&data.input(i), &mut ()).unwrap())
            .collect();
        let delays = |p: usize| records.iter().map(move |r| r.layers[2].delays[p]);
        assert_eq!(join.parts.len(), 2);
        for (p, (part, (source, synapses))) in join
            .parts
            .iter()
            .zip([(Source::Layer(1), "own"), (Source::Layer(0), "identity")])
            .enumerate()
        {
            assert_eq!((part.source, part.synapses.as_str()), (source, synapses));
            let sum: u32 = delays(p).sum();
            assert_eq!(part.delay.0, f64::from(sum) / 5.0);
            assert_eq!(part.delay.1, delays(p).max().unwrap());
            let waited = delays(p).filter(|&d| d > 0).count() as f64 * 50.0;
            assert_eq!(part.delayed_spikes, waited / 5.0);
        }
        // The own synapses come from the latest frame; the shortcut waits for layer 1's
        // inhibitory period, its T_il.
        assert_eq!(join.parts[0].delay.1, 0);
        for r in &records {
            assert_eq!(r.layers[2].delays[1], r.layers[1].t_il().unwrap());
        }
        assert!(join.parts[1].delay.0 > 0.0);
        assert_eq!(join.delayed_spikes(), join.parts[1].delayed_spikes);
        assert_eq!(
            join.delayed_spikes(),
            50.0,
            "all 50 neurons of layer 0 wait"
        );
    }

    #[test]
    fn a_chain_has_no_sources_and_no_parts() {
        let dnn = Dnn::new(
            Shape::new(1, 5, 5),
            vec![
                DnnLayer::Conv2d {
                    out_channels: 2,
                    window: Window::square(3, 1, 1),
                    weights: values(7, 2 * 9, 0.6),
                    bias: None,
                },
                DnnLayer::Relu,
                DnnLayer::Dense {
                    outputs: 3,
                    weights: values(3, 3 * 50, 0.3),
                    bias: None,
                },
            ],
        )
        .unwrap();
        let graph = Arc::new(convert(&dnn, 5.0, TilPolicy::Dynamic).unwrap());
        let eval = evaluate(
            &graph,
            &dnn,
            None,
            &images(2),
            &EvalConfig::default(),
            |_| {},
        );
        for l in &eval.unwrap().layers() {
            assert_eq!(
                (l.source, l.parts.len(), l.delayed_spikes()),
                (None, 0, 0.0)
            );
        }
    }
}
