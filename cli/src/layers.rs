//! A graph's layers as the commands print them: the layer list of `tdsnn inspect` and
//! `tdsnn convert`, and the per-layer table of one record (`tdsnn demo`). When the graph
//! branches, each layer's source and further synapse groups are printed too, and each join's
//! delays (docs/semantics.md, "Branches and joins"); a chain's text is the same as before
//! graphs could branch.

use tdsnn::engine::graph::{Group, Source, Synapses};
use tdsnn::engine::{Graph, Layer, Record};

/// A graph's parameters and layers, one line each (`tdsnn inspect`, `tdsnn convert`). When
/// the graph branches, each layer is followed by a line naming its source and any further
/// synapse groups.
///
/// # Example
/// ```
/// use tdsnn::engine::{GraphBuilder, Shape};
/// # fn main() -> Result<(), tdsnn::engine::Error> {
/// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
///     .output(1, vec![1.0, 2.0], None)
///     .build()?;
/// let text = tdsnn_cli::layers::graph_text(&graph);
/// assert!(text.contains("0 output    -> 1x1x1"));
/// # Ok(()) }
/// ```
pub fn graph_text(graph: &Graph) -> String {
    let p = graph.params();
    let mut s = format!(
        "input {}  L = {}  threshold = {}  T_il {:?}\n",
        graph.input_shape(),
        p.leak,
        p.threshold,
        p.til
    );
    s += &layer_lines(graph);
    s
}

/// A graph's layers, one line each (as [`graph_text`], without the parameters).
pub fn layer_lines(graph: &Graph) -> String {
    let mut s = String::new();
    let branches = graph.branches();
    for (k, layer) in graph.layers().iter().enumerate() {
        let detail = match layer {
            Layer::Dense(d) | Layer::Output(d) => {
                format!("{} weights, bias {}", d.weights.len(), d.bias.is_some())
            }
            Layer::Conv2d(c) => format!(
                "{:?}, {} weights, bias {}",
                c.window,
                c.weights.len(),
                c.bias.is_some()
            ),
            Layer::AvgPool(a) => format!("{:?}, weight {}", a.window, a.weight),
            Layer::MaxPool(m) => format!("{:?}", m.window),
            Layer::Flatten => String::new(),
        };
        s += &format!(
            "{k:>3} {:<9} -> {:<10} {detail}\n",
            layer.kind(),
            graph.output_shape(k).to_string()
        );
        if branches {
            s += &format!("      {}\n", links(graph, k));
        }
    }
    s
}

/// Layer `k`'s connections: `from layer 4`, then `+ identity from layer 2 (weight -1)` for
/// each further synapse group.
pub fn links(graph: &Graph, k: usize) -> String {
    let mut s = format!("from {}", graph.source(k));
    for group in graph.groups(k) {
        s += &format!(", + {}", group_text(group));
    }
    s
}

/// A further synapse group: its connection, its source and its size.
fn group_text(group: &Group) -> String {
    let detail = match &group.synapses {
        Synapses::Identity { weight } => format!("weight {weight}"),
        Synapses::Conv2d(c) => format!("{:?}, {} weights", c.window, c.weights.len()),
        Synapses::Dense(d) => format!("{} weights", d.weights.len()),
    };
    format!("{} from {} ({detail})", group.synapses.kind(), group.source)
}

/// Layer `k`'s parts in one record, if it is a join: `own from layer 4 (delay 0), identity
/// from layer 2 (delay 6); 1568 delayed spikes`.
pub fn record_join(graph: &Graph, record: &Record, k: usize) -> Option<String> {
    if graph.groups(k).is_empty() {
        return None;
    }
    let kinds = std::iter::once("own").chain(graph.groups(k).iter().map(|g| g.synapses.kind()));
    let mut delayed = 0;
    let parts: Vec<String> = record
        .join_parts(graph, k)
        .zip(kinds)
        .map(|(part, kind)| {
            delayed += part.delayed_spikes;
            format!("{kind} from {} (delay {})", part.source, part.delay)
        })
        .collect();
    Some(format!("{}; {delayed} delayed spikes", parts.join(", ")))
}

/// One record's per-layer table (`tdsnn demo`'s last image): `T_il`, the release, spike
/// times after it (or the frame origin), operation counts, and a total. When the graph
/// branches, each join's parts and delays follow the table.
pub fn record_table(graph: &Graph, record: &Record) -> String {
    let row = |cells: [&str; 11]| {
        format!(
            "{:>3} {:<9} {:>9} {:>5} {:>7} {:>9} {:>8} {:>11} {:>11} {:>11} {:>11}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            cells[7],
            cells[8],
            cells[9],
            cells[10]
        )
    };
    let mut s = String::from("last image, per layer:\n");
    s += &row([
        "k",
        "layer",
        "shape",
        "T_il",
        "release",
        "mean t",
        "max t",
        "paper add",
        "paper mul",
        "engine add",
        "engine mul",
    ]);
    for (k, (layer, l)) in graph.layers().iter().zip(&record.layers).enumerate() {
        // Spike times relative to the release (synapse-based layers) or the frame origin.
        let rel: Vec<u32> = l
            .spikes
            .iter()
            .map(|&t| t - l.release.unwrap_or(l.frame_origin))
            .collect();
        let mean = (!rel.is_empty())
            .then(|| rel.iter().map(|&t| f64::from(t)).sum::<f64>() / rel.len() as f64)
            .map_or("-".into(), |m| format!("{m:.2}"));
        let max = rel.iter().max().map_or("-".into(), |m| m.to_string());
        let (p, e) = (l.ops.paper, l.ops.engine);
        s += &row([
            &k.to_string(),
            layer.kind(),
            &graph.output_shape(k).to_string(),
            &l.t_il().map_or("-".into(), |t| t.to_string()),
            &l.release.map_or("-".into(), |t| t.to_string()),
            &mean,
            &max,
            &p.adds().to_string(),
            &p.mults().to_string(),
            &e.adds().to_string(),
            &e.mults().to_string(),
        ]);
    }
    let t = record.total_ops();
    s += &row([
        "",
        "total",
        "",
        "",
        "",
        "",
        "",
        &t.paper.adds().to_string(),
        &t.paper.mults().to_string(),
        &t.engine.adds().to_string(),
        &t.engine.mults().to_string(),
    ]);
    if graph.branches() {
        s += "joins (delay o - o_g: the steps a part's spikes wait for the join's frame):\n";
        for k in 0..graph.layers().len() {
            if let Some(join) = record_join(graph, record, k) {
                s += &format!("  layer {k} joins: {join}\n");
            } else if !from_before(graph, k) {
                s += &format!("  layer {k} takes its spikes from {}\n", graph.source(k));
            }
        }
    }
    s
}

/// Whether layer `k` takes its spikes from the layer before it (or the input, for layer 0),
/// as in a chain.
fn from_before(graph: &Graph, k: usize) -> bool {
    graph.source(k)
        == match k {
            0 => Source::Input,
            _ => Source::Layer(k - 1),
        }
}
