//! The teacher-forced check of a run against equation (10).
//!
//! For every layer, take the spike times that actually reached it (from the [`Record`]),
//! recompute each neuron's pre-activation `A_j` in f64, and compare the recorded spike time
//! with `T(A_j)`:
//! - a hidden synapse-based layer (weights delivered negated): `A_j = -(sum_i w_ji *
//!   exp(t_i / L) + w_bias_j * G(1))`, with `t_i` relative to the layer's frame origin; the
//!   neuron must fire `T(A_j)` steps after the release;
//! - the release must be the last pre-synaptic spike (dynamic `T_il`) or the fixed `T_il`;
//! - a max-pool unit fires at the latest spike time of its window; flatten passes spikes on;
//! - the output layer's rescaled logits must equal `A_j` (not negated) to a relative error.
//!
//! The sums are computed in gather form (each neuron over its receptive field),
//! independently of the kernel's scatter-form delivery. Floating point decides a spike time
//! differently from the f64 formula only at a step edge: where `L * ln(A_j + 1)` lies within
//! the [`Tolerance`]'s tie window of an integer the neuron is counted as a *tie*, never
//! hidden and never a pass (unless every term of its sum is zero: then `A_j = 0` exactly and
//! nothing can round).

use crate::coding::{self, spike_time};
use crate::error::{ErrorKind, Result};
use crate::graph::{Conv2d, Dense, Graph, Layer, Shape, Source, Synapses, TilPolicy, Window};
use crate::input::Input;
use crate::record::Record;

/// How close the audit calls close enough: the one place its tolerances are set.
///
/// # Example
/// ```
/// use tdsnn_engine::audit::Tolerance;
/// let strict = Tolerance { logit: 1e-12, ..Tolerance::default() };
/// assert_eq!(strict.tie_window, Tolerance::DEFAULT.tie_window);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// A hidden neuron whose `L * ln(A + 1)` lies within this of an integer is a tie: its
    /// spike may be one step off `T(A)` (floating point decides the edge). Two recomputed
    /// logits this close, relative to their terms, tie for the class.
    pub tie_window: f64,
    /// The largest relative error `|logit - A| / (sum |terms| + 1)` an output logit may have.
    pub logit: f64,
}

impl Tolerance {
    /// A tie window and a logit error of `1e-9` each: far above the f64 rounding of any
    /// network's sums (about `1e-16` relative per term), far below a step of `L ln(A + 1)`.
    pub const DEFAULT: Tolerance = Tolerance {
        tie_window: 1e-9,
        logit: 1e-9,
    };
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance::DEFAULT
    }
}

/// A neuron whose recorded spike time differs from `T(A)` outside the tie window.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Graph layer index; `None` for the input layer.
    pub layer: Option<usize>,
    /// Neuron index (channel-major).
    pub neuron: usize,
    /// The pre-activation recomputed in f64 (NaN for input, max-pool and flatten neurons).
    pub a: f64,
    /// The expected spike time: `T(A)` steps after the release for synapse-based layers,
    /// absolute for the input, max-pool and flatten layers.
    pub expected: u32,
    /// The recorded spike time, on the same scale.
    pub actual: u32,
}

/// Agreement counts of one layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerAudit {
    /// Neurons checked.
    pub neurons: u64,
    /// Neurons whose spike time equals `T(A)` and that are not at a tie (output neurons:
    /// whose rescaled logit is within the logit tolerance of `A`).
    pub exact: u64,
    /// Neurons within the tie window whose spike time is `T(A)` or one step off it (a tie
    /// any further off is a mismatch).
    pub ties: u64,
    /// Neurons at a tie whose spike time is one step off `T(A)`.
    pub tie_differences: u64,
    /// Whether the frame origin (the previous synapse-based layer's release, 0 for the
    /// first) and the release are the ones docs/semantics.md prescribes: the last pre-synaptic spike,
    /// bias included (dynamic `T_il`), or the origin plus the fixed `T_il`, covering every
    /// pre-synaptic spike.
    pub frame_ok: bool,
    /// Output layer: the largest `|logit - A| / (sum |terms| + 1)` (NaN if a logit is not a
    /// number).
    pub logit_error: f64,
}

/// The result of [`audit`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Audit {
    /// One entry per graph layer.
    pub layers: Vec<LayerAudit>,
    /// Every neuron that disagrees outside the tie window (should be empty); input neurons
    /// whose spike time is not `T(x)` included.
    pub mismatches: Vec<Mismatch>,
    /// The output class by the recomputed logits.
    pub class: usize,
    /// The class the run recorded.
    pub record_class: usize,
    /// Whether the two largest recomputed logits are within the tie window of each other.
    pub class_tie: bool,
    /// The tolerances this audit was made with.
    pub tolerance: Tolerance,
}

impl Audit {
    /// Whether every spike time, frame and logit agrees (ties aside, logits within the
    /// tolerance), and the recorded class is the recomputed one (unless the top logits tie).
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
            && (self.record_class == self.class || self.class_tie)
            && self
                .layers
                .iter()
                .all(|l| l.frame_ok && l.logit_error <= self.tolerance.logit)
    }

    /// Total neurons at a tie.
    pub fn ties(&self) -> u64 {
        self.layers.iter().map(|l| l.ties).sum()
    }

    /// Total neurons checked.
    pub fn neurons(&self) -> u64 {
        self.layers.iter().map(|l| l.neurons).sum()
    }
}

/// Checks `record`, a run of `graph` on `input` (values or spike times), against equation
/// (10), layer by layer, with the tolerances `tolerance`.
///
/// Errors ([`ErrorKind::Input`]) if the record or the input does not fit the graph.
///
/// # Example
/// ```
/// use tdsnn_engine::audit::{self, Tolerance};
/// use tdsnn_engine::{GraphBuilder, Shape, Simulate, Simulator, TickMode};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
///     .dense(2, vec![-1.0, 0.5, -2.0, 0.25], Some(vec![0.3, -0.2]))
///     .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
///     .build()?;
/// let input = [0.4, 0.8];
/// let record = Simulator::new(graph.clone(), TickMode::Explicit).run(&input, &mut ())?;
/// let report = audit::audit(&graph, &input, &record, Tolerance::default())?;
/// assert!(report.passed(), "{report:?}");
/// # Ok(()) }
/// ```
pub fn audit<'a>(
    graph: &Graph,
    input: impl Into<Input<'a>>,
    record: &Record,
    tolerance: Tolerance,
) -> Result<Audit> {
    let mut input_times = Vec::new();
    input.into().spike_times(graph, &mut input_times)?;
    check_fits(graph, &input_times, record)?;
    let leak = graph.params().leak;
    let window = tolerance.tie_window;
    let mut report = Audit {
        record_class: record.output.class,
        tolerance,
        ..Audit::default()
    };
    for (i, (&expected, &actual)) in input_times.iter().zip(&record.input).enumerate() {
        if expected != actual {
            report.mismatches.push(Mismatch {
                layer: None,
                neuron: i,
                a: f64::NAN,
                expected,
                actual,
            });
        }
    }
    // The frame each layer's spikes are timed in: a synapse-based layer's release, a
    // max-pool or flatten layer's source's frame; derived here rather than read from the
    // record's frame origins.
    let mut frames: Vec<u32> = Vec::with_capacity(graph.layers().len());
    for (k, layer) in graph.layers().iter().enumerate() {
        let (inp, out) = (graph.input_shape_of(k), graph.output_shape(k));
        let rec = &record.layers[k];
        let frame_of = |s: Source| match s {
            Source::Input => 0,
            Source::Layer(j) => frames[j],
        };
        // Each part (its own synapses, then each group): its source's spikes and frame.
        let parts: Vec<(&[u32], u32)> = graph
            .part_sources(k)
            .map(|s| (record.spikes_of(s), frame_of(s)))
            .collect();
        let (incoming, own_frame) = parts[0];
        let frame = parts.iter().map(|p| p.1).max().unwrap_or(0);
        let delays: Vec<u32> = parts.iter().map(|p| frame - p.1).collect();
        let mut la = LayerAudit {
            neurons: out.len(),
            frame_ok: rec.frame_origin == frame,
            ..LayerAudit::default()
        };
        // Max-pool and flatten: integer spike times that must match exactly.
        let mut exact_times = |expected: &mut dyn Iterator<Item = u32>| {
            for (j, (&actual, expected)) in rec.spikes.iter().zip(expected).enumerate() {
                if expected == actual {
                    la.exact += 1;
                } else {
                    report.mismatches.push(Mismatch {
                        layer: Some(k),
                        neuron: j,
                        a: f64::NAN,
                        expected,
                        actual,
                    });
                }
            }
        };
        match layer {
            Layer::MaxPool(p) => {
                exact_times(
                    &mut (0..rec.spikes.len())
                        .map(|j| window_max(&p.window, inp, out, j, incoming)),
                );
                frames.push(own_frame);
            }
            Layer::Flatten => {
                exact_times(&mut incoming.iter().copied());
                frames.push(own_frame);
            }
            _ => {
                let gains: Vec<Vec<f64>> = parts
                    .iter()
                    .map(|&(spikes, f)| {
                        spikes
                            .iter()
                            .map(|&t| coding::time_gain(t.saturating_sub(f), leak))
                            .collect()
                    })
                    .collect();
                let gains: Vec<&[f64]> = gains.iter().map(Vec::as_slice).collect();
                let sums = pre_activations(graph, k, &gains).expect("synapse-based layer");
                let release = rec.release.unwrap_or(u32::MAX);
                // Every spike delivered after its delay, none before its own frame.
                let latest = parts
                    .iter()
                    .flat_map(|&(spikes, f)| spikes.iter().map(move |&t| (t, f)))
                    .map(|(t, f)| {
                        if t >= f {
                            u64::from(frame) + u64::from(t - f)
                        } else {
                            u64::MAX
                        }
                    })
                    .max();
                la.frame_ok &=
                    rec.delays == delays && release_ok(graph, layer, frame, latest, release);
                if let Layer::Output(_) = layer {
                    for (j, (s, scale)) in sums.iter().enumerate() {
                        let err = (record.output.logits[j] - s).abs() / (scale + 1.0);
                        if err.is_nan() || err > la.logit_error {
                            la.logit_error = err;
                        }
                        la.exact += u64::from(err <= tolerance.logit);
                    }
                    let logits: Vec<f64> = sums.iter().map(|s| s.0).collect();
                    report.class = crate::record::argmax(&logits);
                    report.class_tie = logits.iter().enumerate().any(|(j, &l)| {
                        j != report.class
                            && (logits[report.class] - l).abs()
                                <= window * (sums[j].1 + sums[report.class].1 + 1.0)
                    });
                } else {
                    for (j, &(a, scale)) in sums.iter().enumerate() {
                        let expected = spike_time(a, leak);
                        let before_release = rec.spikes[j] < release;
                        let actual = rec.spikes[j].wrapping_sub(release);
                        // A neuron with no nonzero term (a window of padding, no bias) has
                        // A = 0 exactly, with no rounding to tie on.
                        let tie = scale > 0.0 && coding::is_tie(a, leak, window);
                        let off = actual.abs_diff(expected);
                        match (tie, off) {
                            (false, 0) if !before_release => la.exact += 1,
                            (true, 0 | 1) if !before_release => {
                                la.ties += 1;
                                la.tie_differences += u64::from(off == 1);
                            }
                            _ => report.mismatches.push(Mismatch {
                                layer: Some(k),
                                neuron: j,
                                a,
                                expected,
                                actual,
                            }),
                        }
                    }
                }
                frames.push(release);
            }
        }
        report.layers.push(la);
    }
    Ok(report)
}

/// Errors unless `record` has the layers and sizes of a run of `graph` on an input that
/// encodes to `input_times`.
fn check_fits(graph: &Graph, input_times: &[u32], record: &Record) -> Result<()> {
    let unfit = |what: String| {
        Err(ErrorKind::Input {
            what: format!("audit: {what}"),
        }
        .into())
    };
    if record.input.len() != input_times.len() {
        return unfit(format!(
            "the record has {} input spikes for an input layer of {}",
            record.input.len(),
            graph.input_shape()
        ));
    }
    if record.layers.len() != graph.layers().len() {
        return unfit(format!(
            "the record has {} layers, the graph {}",
            record.layers.len(),
            graph.layers().len()
        ));
    }
    for (k, (layer, rec)) in graph.layers().iter().zip(&record.layers).enumerate() {
        let n = if matches!(layer, Layer::Output(_)) {
            0
        } else {
            graph.output_shape(k).len()
        };
        if rec.spikes.len() as u64 != n {
            return unfit(format!(
                "layer {k} records {} spikes for {n} neurons",
                rec.spikes.len()
            ));
        }
    }
    let classes = graph.output_shape(graph.layers().len() - 1).len();
    if record.output.logits.len() as u64 != classes {
        return unfit(format!(
            "{} logits for {classes} output neurons",
            record.output.logits.len()
        ));
    }
    Ok(())
}

/// Whether `release` is the one a synapse-based layer must have: the latest delivered
/// spike `latest` (`u64::MAX` if a spike came before its own frame), the bias included
/// (dynamic), or origin + the fixed `T_il`, at or after every delivered spike.
fn release_ok(
    graph: &Graph,
    layer: &Layer,
    origin: u32,
    latest: Option<u64>,
    release: u32,
) -> bool {
    let bias = layer
        .bias()
        .map(|_| u64::from(origin) + u64::from(spike_time(1.0, graph.params().leak)));
    let latest = latest
        .into_iter()
        .chain(bias)
        .max()
        .unwrap_or(u64::from(origin));
    match graph.params().til {
        TilPolicy::Fixed(t) => {
            u64::from(release) == u64::from(origin) + u64::from(t) && latest <= u64::from(release)
        }
        TilPolicy::Dynamic => u64::from(release) == latest,
    }
}

/// The latest spike in max-pool unit `j`'s window.
fn window_max(window: &Window, inp: Shape, out: Shape, j: usize, incoming: &[u32]) -> u32 {
    let (c, oy, ox) = out.coords(j as u32);
    let mut latest = 0;
    for_window(window, inp, oy, ox, |y, x, _, _| {
        latest = latest.max(incoming[inp.index(c, y, x)]);
    });
    latest
}

/// Calls `f(y, x, ky, kx)` for every real input position of the window at (oy, ox).
fn for_window(
    window: &Window,
    inp: Shape,
    oy: u32,
    ox: u32,
    mut f: impl FnMut(u32, u32, u32, u32),
) {
    // Modulo 2^32, exact once a real tap is added.
    let origin = |axis: usize, o: u32| {
        o.wrapping_mul(window.stride[axis])
            .wrapping_sub(window.padding[axis])
    };
    for ky in window.taps(0, oy, inp.h) {
        let y = origin(0, oy).wrapping_add(ky);
        for kx in window.taps(1, ox, inp.w) {
            f(y, origin(1, ox).wrapping_add(kx), ky, kx);
        }
    }
}

/// The pre-activations `A_j` of synapse-based layer `k`, in DNN units, from the gains
/// `g_i = exp(tau_i / L) = G(x_i)` of its inputs (channel-major, `tau_i` after the frame of
/// their source), one slice per part: its own synapses' source first, then each further
/// group's. Gathered over each neuron's receptive field: `(A_j, sum of |terms|)`, the second
/// a scale for tolerances.
///
/// The delivered weights are read back into DNN terms: a hidden layer's are negated, so
/// `A_j = -(sum_groups sum_i w_ji g_i + w_bias_j G(1))`; the output layer's are not. `None`
/// if layer `k` is a max-pool or flatten layer, or if `gains` does not hold one gain per
/// neuron of each part's source.
///
/// # Example
/// ```
/// use tdsnn_engine::{audit, coding, GraphBuilder, Shape};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
///     .dense(1, vec![-1.0, -2.0], None) // DNN weights (1, 2), negated
///     .output(1, vec![1.0], None)
///     .build()?;
/// let a = audit::pre_activations(&graph, 0, &[&[1.0, 3.0]]).unwrap();
/// assert_eq!(a[0], (7.0, 7.0)); // 1 * 1 + 2 * 3
/// # Ok(()) }
/// ```
pub fn pre_activations(graph: &Graph, k: usize, gains: &[&[f64]]) -> Option<Vec<(f64, f64)>> {
    let layer = graph.layers().get(k)?;
    let out = graph.output_shape(k);
    let groups = graph.groups(k);
    let sources = graph.part_sources(k);
    if gains.len() != 1 + groups.len()
        || sources
            .zip(gains)
            .any(|(s, g)| g.len() as u64 != graph.shape_of(s).len())
    {
        return None;
    }
    let bias_gain = coding::g(1.0, graph.params().leak);
    let mut sums = vec![(0.0, 0.0); out.len() as usize];
    let mut add = |j: usize, term: f64| {
        sums[j].0 += term;
        sums[j].1 += term.abs();
    };
    let (inp, g) = (graph.input_shape_of(k), gains[0]);
    match layer {
        Layer::Dense(d) | Layer::Output(d) => dense_terms(d, g, &mut add),
        Layer::Conv2d(c) => conv_terms(c, inp, out, g, &mut add),
        Layer::AvgPool(p) => {
            for c in 0..out.c {
                for oy in 0..out.h {
                    for ox in 0..out.w {
                        let j = out.index(c, oy, ox);
                        for_window(&p.window, inp, oy, ox, |y, x, _, _| {
                            add(j, f64::from(p.weight) * g[inp.index(c, y, x)]);
                        });
                    }
                }
            }
        }
        Layer::MaxPool(_) | Layer::Flatten => return None,
    }
    for (group, g) in groups.iter().zip(&gains[1..]) {
        let from = graph.shape_of(group.source);
        match &group.synapses {
            Synapses::Identity { weight } => {
                for (j, gj) in g.iter().enumerate() {
                    add(j, f64::from(*weight) * gj);
                }
            }
            Synapses::Conv2d(c) => conv_terms(c, from, out, g, &mut add),
            Synapses::Dense(d) => dense_terms(d, g, &mut add),
        }
    }
    if let Some(b) = layer.bias() {
        let plane = (out.h * out.w) as usize;
        for (j, s) in sums.iter_mut().enumerate() {
            let term = b[j / plane] * bias_gain;
            s.0 += term;
            s.1 += term.abs();
        }
    }
    if !matches!(layer, Layer::Output(_)) {
        sums.iter_mut().for_each(|s| s.0 = -s.0);
    }
    Some(sums)
}

/// A dense connection's terms `w_ji g_i`, gathered per output `j`.
fn dense_terms(d: &Dense, g: &[f64], add: &mut impl FnMut(usize, f64)) {
    let n = d.outputs as usize;
    for j in 0..n {
        for (i, gi) in g.iter().enumerate() {
            add(j, f64::from(d.weights[i * n + j]) * gi);
        }
    }
}

/// A conv's terms from an input of shape `inp`, gathered over each output's window.
fn conv_terms(c: &Conv2d, inp: Shape, out: Shape, g: &[f64], add: &mut impl FnMut(usize, f64)) {
    let [kh, kw] = c.window.kernel;
    let cout = c.out_channels;
    for co in 0..cout {
        for oy in 0..out.h {
            for ox in 0..out.w {
                let j = out.index(co, oy, ox);
                for ci in 0..inp.c {
                    for_window(&c.window, inp, oy, ox, |y, x, ky, kx| {
                        let w = c.weights[(((ci * kh + ky) * kw + kx) * cout + co) as usize];
                        add(j, f64::from(w) * g[inp.index(ci, y, x)]);
                    });
                }
            }
        }
    }
}
