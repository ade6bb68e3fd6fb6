//! The report of an evaluation, in the shape of the paper's tables 1 and 2: printed as a
//! table, or written as JSON (keys documented in README).

use serde::{Deserialize, Serialize};

use crate::totals::{LayerInfo, Totals};
use crate::{Evaluation, LayerStats, PartStats};
use tdsnn_engine::graph::Source;

/// Multiplications, additions and their total, per image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ops {
    /// Multiplications per image.
    pub mult: f64,
    /// Additions per image.
    pub add: f64,
    /// Both.
    pub total: f64,
}

impl Ops {
    /// `mult` multiplications and `add` additions.
    pub fn new(mult: f64, add: f64) -> Ops {
        Ops {
            mult,
            add,
            total: mult + add,
        }
    }

    /// The DNN's operations (table 2): multiplications; additions, bias additions and
    /// max-pool comparisons together.
    pub fn dnn(d: &tdsnn_converter::OpCounts) -> Ops {
        Ops::new(
            d.multiplications() as f64,
            (d.additions() + d.bias_additions()) as f64,
        )
    }

    /// The SNN's operations in the paper's accounting, `ops` summed over `n` images, per
    /// image.
    pub fn paper(ops: &tdsnn_engine::counters::LayerOps, n: f64) -> Ops {
        Ops::new(ops.paper.mults() as f64 / n, ops.paper.adds() as f64 / n)
    }

    /// The operations the engine actually performed, `ops` summed over `n` images, per image.
    pub fn engine(ops: &tdsnn_engine::counters::LayerOps, n: f64) -> Ops {
        Ops::new(ops.engine.mults() as f64 / n, ops.engine.adds() as f64 / n)
    }

    /// DNN / SNN ratios of each count.
    pub fn ratio(dnn: &Ops, snn: &Ops) -> Ops {
        let r = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        Ops {
            mult: r(dnn.mult, snn.mult),
            add: r(dnn.add, snn.add),
            total: r(dnn.total, snn.total),
        }
    }
}

/// Operation counts: the DNN's, the SNN's in both accountings, and DNN/SNN ratios.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpsReport {
    /// The DNN: `M*N` multiplications; `(M-1)*N` additions plus bias additions plus max-pool
    /// comparisons.
    pub dnn: Ops,
    /// The SNN in the paper's accounting (mean per image).
    pub snn_paper: Ops,
    /// The SNN as the engine actually ran it (mean per image).
    pub snn_engine: Ops,
    /// DNN / SNN (paper accounting).
    pub ratio_paper: Ops,
    /// DNN / SNN (engine's actual work).
    pub ratio_engine: Ops,
}

/// Agreement between the SNN and the reference DNN(G).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Agreement {
    /// Images whose SNN class equals the DNN(G)'s.
    pub count: usize,
    /// The same as a fraction of all images.
    pub fraction: f64,
}

/// Ties, counted, never hidden.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ties {
    /// Images with a tie that could change their class.
    pub images: usize,
    /// SNN/DNN(G) disagreements at such a tie.
    pub disagreements_at_ties: usize,
    /// Disagreements without a tie (must be 0).
    pub unexplained_disagreements: usize,
    /// Neurons within the audit's tie window.
    pub neurons: u64,
}

/// The per-neuron check of spike times against `T(A)` (teacher-forced).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpikeTimes {
    /// Neurons checked over all images.
    pub neurons: u64,
    /// Of those outside ties, whose spike time equals `T(A)`.
    pub exact: u64,
    /// Off `T(A)` outside the tie window (must be 0).
    pub mismatches: u64,
    /// Images whose audit failed as a whole: spike times, frame origins and releases,
    /// logits, class (must be 0).
    pub audit_failures: usize,
    /// `exact / (neurons - ties)`.
    pub agreement: f64,
}

/// One layer's statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerReport {
    /// Layer kind.
    pub kind: String,
    /// Output shape.
    pub shape: String,
    /// Mean `T_il` over images (synapse-based layers).
    pub t_il_mean: Option<f64>,
    /// Largest `T_il`.
    pub t_il_max: Option<u32>,
    /// Mean spike time after the release (or frame origin), over neurons and images.
    pub spike_time_mean: Option<f64>,
    /// Largest spike time after the release (or frame origin).
    pub spike_time_max: Option<u32>,
    /// The layer's SNN operations per image, paper accounting.
    pub snn_paper: Ops,
    /// The layer's SNN operations per image, engine's actual work.
    pub snn_engine: Ops,
    /// Where the layer's own synapses take their spikes from (`input` or `layer k`), when
    /// the graph branches; absent from a chain's JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A join's parts (its own synapses, then each further synapse group) and their delay
    /// buffers; absent for any other layer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub join_parts: Vec<JoinPart>,
    /// A join's spikes that waited in its delay buffers per image (mean), all parts
    /// together; absent for any other layer. The operation counts include them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delayed_spikes: Option<f64>,
}

/// One part of a join and its delay buffer: how long its spikes wait for the join's frame
/// (`o - o_g`, docs/semantics.md, "Branches and joins").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinPart {
    /// Where its spikes come from: `input` or `layer k`.
    pub source: String,
    /// `own` for the layer's own synapses, else the group's connection: `identity`,
    /// `conv2d` or `dense`.
    pub synapses: String,
    /// Mean delay over images, in steps.
    pub delay_mean: f64,
    /// Largest delay.
    pub delay_max: u32,
    /// Spikes that waited per image (mean).
    pub delayed_spikes: f64,
}

impl JoinPart {
    fn new(p: &PartStats) -> JoinPart {
        JoinPart {
            source: source_name(p.source),
            synapses: p.synapses.clone(),
            delay_mean: p.delay.0,
            delay_max: p.delay.1,
            delayed_spikes: p.delayed_spikes,
        }
    }

    /// `identity from layer 2 (delay mean 6.20, max 9)`, or `(delay 0)` for a part that
    /// never waits.
    fn describe(&self) -> String {
        let delay = if self.delay_max == 0 {
            "delay 0".to_string()
        } else {
            format!("delay mean {:.2}, max {}", self.delay_mean, self.delay_max)
        };
        format!("{} from {} ({delay})", self.synapses, spoken(&self.source))
    }
}

/// A source as the report names it: `input`, or `layer k`.
fn source_name(source: Source) -> String {
    match source {
        Source::Input => "input".into(),
        Source::Layer(k) => format!("layer {k}"),
    }
}

impl LayerReport {
    fn new(l: &LayerStats, n: f64) -> LayerReport {
        LayerReport {
            kind: l.kind.clone(),
            shape: l.shape.clone(),
            t_il_mean: l.t_il.map(|t| t.0),
            t_il_max: l.t_il.map(|t| t.1),
            spike_time_mean: l.spike_time.map(|t| t.0),
            spike_time_max: l.spike_time.map(|t| t.1),
            snn_paper: Ops::paper(&l.ops, n),
            snn_engine: Ops::engine(&l.ops, n),
            source: l.source.map(source_name),
            join_parts: l.parts.iter().map(JoinPart::new).collect(),
            delayed_spikes: l.is_join().then(|| l.delayed_spikes()),
        }
    }

    /// The line of the joins table for layer `k`: its parts and delays for a join, its
    /// source if that is not the layer before; `None` otherwise.
    fn links_line(&self, k: usize) -> Option<String> {
        if !self.join_parts.is_empty() {
            let parts: Vec<String> = self.join_parts.iter().map(JoinPart::describe).collect();
            return Some(format!(
                "layer {k} joins: {}; delayed spikes {:.1} per image",
                parts.join(", "),
                self.delayed_spikes.unwrap_or(0.0)
            ));
        }
        let source = self.source.as_deref()?;
        let before = if k == 0 {
            "input".to_string()
        } else {
            format!("layer {}", k - 1)
        };
        (source != before).then(|| format!("layer {k} takes its spikes from {}", spoken(source)))
    }
}

/// A source's name as a sentence says it: `the input`, `layer k`.
fn spoken(name: &str) -> &str {
    if name == "input" {
        "the input"
    } else {
        name
    }
}

/// The paper's LeNet row (tables 1 and 2), for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PaperRow {
    /// DNN error (%).
    pub dnn_error: f64,
    /// SNN error (%).
    pub snn_error: f64,
    /// DNN multiplications and additions, SNN multiplications and additions.
    pub dnn: Ops,
    /// SNN operations.
    pub snn: Ops,
}

/// The paper's LeNet figures: table 1 (errors on MNIST) and table 2 (operations, `L = 5`).
pub const PAPER_LENET: PaperRow = PaperRow {
    dnn_error: 0.84,
    snn_error: 0.92,
    dnn: Ops {
        mult: 2_239_000.0,
        add: 2_235_000.0,
        total: 4_474_000.0,
    },
    snn: Ops {
        mult: 1_920_000.0,
        add: 3_194_000.0,
        total: 5_114_000.0,
    },
};

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// What was evaluated: model, data, settings.
    pub setup: Setup,
    /// Images evaluated.
    pub images: usize,
    /// Whether the images are labelled (without labels the accuracies mean nothing and the
    /// table leaves them out).
    pub labelled: bool,
    /// Accuracy of the reference DNN(G), the network the SNN must equal.
    pub dnn_accuracy: f64,
    /// Accuracy of the plain ReLU network, if one was given.
    pub dnn_relu_accuracy: Option<f64>,
    /// Accuracy of the SNN.
    pub snn_accuracy: f64,
    /// SNN vs DNN(G) class agreement.
    pub agreement: Agreement,
    /// Ties.
    pub ties: Ties,
    /// Spike times against `T(A)`.
    pub spike_times: SpikeTimes,
    /// Per layer.
    pub layers: Vec<LayerReport>,
    /// Operation counts.
    pub ops: OpsReport,
    /// The paper's LeNet row.
    pub paper_lenet: PaperRow,
    /// What part of a data set a partial report covers (`tdsnn run --shard`), with what
    /// `tdsnn merge` needs to add it up; absent from a whole run's report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

/// What a partial report covers, and its totals: the shards of one run agree on everything
/// here but the index, the image range and the totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shard {
    /// The shard's index, from 0.
    pub index: usize,
    /// The number of shards.
    pub count: usize,
    /// The images it covers: `[first, end)` in the data set.
    pub images: [usize; 2],
    /// The images of the whole data set.
    pub data_images: usize,
    /// SHA-256 of the model file's bytes (with an ONNX model's external data).
    pub model_digest: String,
    /// SHA-256 of the converted graph as a graph file.
    pub graph_digest: String,
    /// SHA-256 of the whole data set: its shape, every image's values and the labels.
    pub data_digest: String,
    /// SHA-256 of the plain ReLU network's file, if one ran.
    pub relu_digest: Option<String>,
    /// The shard's dump, relative to the report's directory (absolute when elsewhere).
    pub dump: Option<String>,
    /// What the report's figures are computed from.
    pub totals: Totals,
    /// What each layer is.
    pub layers: Vec<LayerInfo>,
}

/// What was evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    /// The converted model.
    pub model: String,
    /// The plain ReLU network of the DNN (ReLU) row, if any.
    pub relu_model: Option<ReluModel>,
    /// The images file.
    pub data: String,
    /// Leak constant `L`.
    pub leak: f64,
    /// `T_il` policy.
    pub til: String,
    /// Tick mode.
    pub tick_mode: String,
    /// Worker threads (`None` in a report merged from shards, which each had their own).
    pub threads: Option<usize>,
}

/// Which plain ReLU network the DNN (ReLU) row ran.
///
/// In the JSON report (`setup.relu_model`) it is a string: the name, followed for
/// [`ReluModel::SameWeights`] by what the row is.
#[derive(Debug, Clone, PartialEq)]
pub enum ReluModel {
    /// A ReLU model of its own, by name: for instance the network the DNN(G) was fine-tuned
    /// from (`--relu-model`).
    Own(String),
    /// The converted model's own weights, by name, run as a plain float ReLU network (an
    /// imported ONNX file without `--relu-model`). Weights fine-tuned with `G` are not the
    /// ReLU network they were fine-tuned from: their error without `G` can be far from it.
    SameWeights(String),
}

impl ReluModel {
    /// The table's label of the row.
    fn row(&self) -> &'static str {
        match self {
            ReluModel::Own(_) => "DNN (ReLU), its own weights",
            ReluModel::SameWeights(_) => "DNN (ReLU), the same weights",
        }
    }

    /// The table's note after the row.
    fn note(&self) -> String {
        match self {
            ReluModel::Own(name) => format!("({name})"),
            ReluModel::SameWeights(name) => format!(
                "({name} without G; for a model fine-tuned with G, give --relu-model the ReLU \
                 network it came from)"
            ),
        }
    }
}

impl std::fmt::Display for ReluModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReluModel::Own(name) => f.write_str(name),
            ReluModel::SameWeights(name) => write!(f, "{name}{SAME_WEIGHTS}"),
        }
    }
}

/// What [`ReluModel`]'s string says after the name of [`ReluModel::SameWeights`].
const SAME_WEIGHTS: &str = " (the same weights, as a plain float ReLU network)";

impl Serialize for ReluModel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReluModel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(match text.strip_suffix(SAME_WEIGHTS) {
            Some(name) => ReluModel::SameWeights(name.to_string()),
            None => ReluModel::Own(text),
        })
    }
}

impl Report {
    /// The report of an evaluation.
    pub fn new(eval: &Evaluation, setup: Setup) -> Report {
        Report::from_totals(&eval.totals, &eval.infos, Ops::dnn(&eval.dnn_ops), setup)
    }

    /// The report of an evaluation whose counts are `totals`, of a graph whose layers are
    /// `infos` and a DNN of `dnn` operations per image: every figure is computed from these
    /// alone, so a merge of shards' totals gives the whole run's report bit for bit.
    pub fn from_totals(totals: &Totals, infos: &[LayerInfo], dnn: Ops, setup: Setup) -> Report {
        let images = totals.images;
        let n = images.max(1) as f64;
        let layers: Vec<LayerStats> = (infos.iter().zip(&totals.layers))
            .map(|(info, t)| LayerStats::new(info, t, images))
            .collect();
        let snn: tdsnn_engine::counters::LayerOps = totals.layers.iter().map(|l| &l.ops).sum();
        let (snn_paper, snn_engine) = (Ops::paper(&snn, n), Ops::engine(&snn, n));
        Report {
            setup,
            images: images as usize,
            labelled: totals.labelled == totals.images,
            dnn_accuracy: totals.share(totals.dnn_g_correct),
            dnn_relu_accuracy: totals.dnn_relu_correct.map(|c| totals.share(c)),
            snn_accuracy: totals.share(totals.snn_correct),
            agreement: Agreement {
                count: totals.agreements as usize,
                fraction: totals.agreements as f64 / n,
            },
            ties: Ties {
                images: totals.tied_images as usize,
                disagreements_at_ties: totals.disagreements_at_ties as usize,
                unexplained_disagreements: totals.unexplained_disagreements as usize,
                neurons: totals.ties,
            },
            spike_times: SpikeTimes {
                neurons: totals.neurons,
                exact: totals.exact,
                mismatches: totals.mismatches,
                audit_failures: totals.audit_failures as usize,
                agreement: totals.exact as f64 / (totals.neurons - totals.ties).max(1) as f64,
            },
            layers: layers.iter().map(|l| LayerReport::new(l, n)).collect(),
            ops: OpsReport {
                ratio_paper: Ops::ratio(&dnn, &snn_paper),
                ratio_engine: Ops::ratio(&dnn, &snn_engine),
                dnn,
                snn_paper,
                snn_engine,
            },
            paper_lenet: PAPER_LENET,
            shard: None,
        }
    }

    /// The report as a table, for a terminal.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let pct = |x: f64| format!("{:.2}%", 100.0 * x);
        let labelled = self.labelled;
        let err = |x: f64| {
            if labelled {
                format!("{:.2}%", 100.0 * (1.0 - x))
            } else {
                "no labels".into()
            }
        };
        let st = &self.setup;
        s += &format!(
            "TDSNN: {} on {} images of {}\nL = {}, T_il {}, {} ticks, {} thread(s)\n\n",
            st.model,
            self.images,
            st.data,
            st.leak,
            st.til,
            st.tick_mode,
            st.threads.map_or("shards'".to_string(), |t| t.to_string())
        );
        s += "Table 1: error                       this run     paper (LeNet, MNIST)\n";
        if let Some(a) = self.dnn_relu_accuracy {
            let (row, note) = st
                .relu_model
                .as_ref()
                .map_or(("DNN (ReLU)", String::new()), |r| (r.row(), r.note()));
            let line = format!(
                "  {row:<32} {:>9}     {:.2}%     {note}",
                err(a),
                self.paper_lenet.dnn_error
            );
            s += line.trim_end();
            s += "\n";
        }
        s += &format!(
            "  DNN (G), the reference           {:>9}\n",
            err(self.dnn_accuracy)
        );
        s += &format!(
            "  SNN                              {:>9}     {:.2}%\n",
            err(self.snn_accuracy),
            self.paper_lenet.snn_error
        );
        s += &format!(
            "  SNN = DNN(G) class                {:>9}     ({} of {} images; {} disagree at a tie, {} without)\n",
            pct(self.agreement.fraction),
            self.agreement.count,
            self.images,
            self.ties.disagreements_at_ties,
            self.ties.unexplained_disagreements
        );
        s += &format!(
            "  spike time = T(A), per neuron     {:>9}     ({} neurons; {} within the tie window, {} off)\n",
            format!("{:.4}%", 100.0 * self.spike_times.agreement),
            self.spike_times.neurons,
            self.ties.neurons,
            self.spike_times.mismatches
        );
        s += &format!(
            "  images failing the audit         {:>9}     (frames, releases, logits, class)\n",
            self.spike_times.audit_failures
        );
        s += &format!(
            "  images with a tie                {:>9}\n\n",
            self.ties.images
        );
        s += "Per layer (mean over images; spike times after the release or frame origin)\n";
        // A branching graph's layers are numbered, for the joins below the table.
        let branches = self.layers.iter().any(|l| l.source.is_some());
        let width = if branches { 12 } else { 9 };
        s += &format!(
            "  {:<width$} {:>10} {:>7} {:>6} {:>8} {:>6} {:>11} {:>11} {:>11} {:>11}\n",
            "layer",
            "shape",
            "T_il",
            "max",
            "spike t",
            "max",
            "paper mul",
            "paper add",
            "engine mul",
            "engine add"
        );
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let optu = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
        for (k, l) in self.layers.iter().enumerate() {
            let name = if branches {
                format!("{k} {}", l.kind)
            } else {
                l.kind.to_string()
            };
            s += &format!(
                "  {:<width$} {:>10} {:>7} {:>6} {:>8} {:>6} {:>11.0} {:>11.0} {:>11.0} {:>11.0}\n",
                name,
                l.shape,
                opt(l.t_il_mean),
                optu(l.t_il_max),
                opt(l.spike_time_mean),
                optu(l.spike_time_max),
                l.snn_paper.mult,
                l.snn_paper.add,
                l.snn_engine.mult,
                l.snn_engine.add
            );
        }
        if branches {
            s += &self.joins_table();
        }
        let o = &self.ops;
        let p = &self.paper_lenet;
        s += "\n";
        s += TABLE2_HEADER;
        let row = table2_row;
        s += &row("this run, paper accounting", &o.dnn, &o.snn_paper);
        s += &row("this run, engine's actual work", &o.dnn, &o.snn_engine);
        s += &row("paper, LeNet (L = 5)", &p.dnn, &p.snn);
        s
    }
}

impl Report {
    /// The lines under the per-layer table of a branching graph: each join's parts with
    /// their delay buffers, each layer fed by another than the layer before.
    fn joins_table(&self) -> String {
        let mut s = String::from(
            "\nJoins (delay o - o_g: steps a part's spikes wait for the join's frame, over \
             images; op counts include delayed spikes)\n",
        );
        for (k, l) in self.layers.iter().enumerate() {
            if let Some(line) = l.links_line(k) {
                s += &format!("  {line}\n");
            }
        }
        s
    }
}

/// The header of a table in the paper's table-2 format; rows by [`table2_row`].
pub const TABLE2_HEADER: &str = "Table 2: operations per image      DNN mult    DNN add   SNN mult    SNN add  mult x  add x  total x\n";

/// One row of a table in the paper's table-2 format: DNN and SNN operations per image, in
/// thousands, and the DNN/SNN ratios.
pub fn table2_row(name: &str, dnn: &Ops, snn: &Ops) -> String {
    let r = Ops::ratio(dnn, snn);
    format!(
        "  {name:<30} {:>10} {:>10} {:>10} {:>10} {:>7.2} {:>6.2} {:>8.3}\n",
        k(dnn.mult),
        k(dnn.add),
        k(snn.mult),
        k(snn.add),
        r.mult,
        r.add,
        r.total
    )
}

/// A count in thousands, as the paper prints it.
fn k(x: f64) -> String {
    format!("{:.0}k", x / 1000.0)
}
