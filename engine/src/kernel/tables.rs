//! What the kernel needs to know about a graph, computed once per simulator: who takes
//! each layer's spikes,
//! the bias neuron's delay, max-pool window sizes, row sums, per-layer synapse counts, and
//! the conv weights reordered for row runs (a copy of every conv's weights).

use super::row_sums::RowSums;
use crate::coding;
use crate::graph::{AvgPool, Conv2d, Graph, Layer, MaxPool, Shape, Synapses, Window};

/// Graph facts both paths of the engine look up, computed once.
#[derive(Debug)]
pub(crate) struct Tables {
    /// Who takes the spikes of each source (index 0 the input, `j + 1` layer `j`): every
    /// (layer, part) fed by it, part 0 the layer's own synapses, `g + 1` its group `g`.
    pub(crate) consumers: Vec<Vec<(usize, usize)>>,
    /// `T(1)`: the bias neuron's spike time after the frame origin.
    pub(crate) bias_delay: u32,
    /// Max-pool: number of real inputs in each output position's window (per plane).
    pub(crate) pool_needs: Vec<Vec<u32>>,
    /// Synapse-based layers: `S_j` (see `row_sums.rs`).
    pub(crate) row_sums: Vec<RowSums>,
    /// Synapse-based layers: every synapse of the layer, bias synapses included (each
    /// pre-synaptic neuron fires once, so this is the paper's synaptic-event count). Max-pool
    /// layers: every window input (the paper's comparisons).
    pub(crate) synapses: Vec<u64>,
    /// Conv synapses of each (layer, part), part 0 the layer's own, `g + 1` its group `g`:
    /// the weights laid out for row runs ([`row_runs`]); `None` for other parts.
    pub(crate) row_runs: Vec<Vec<Option<Vec<f32>>>>,
}

impl Tables {
    pub(crate) fn new(graph: &Graph) -> Tables {
        let layers = graph.layers();
        let mut consumers = vec![Vec::new(); layers.len() + 1];
        for k in 0..layers.len() {
            for (part, source) in graph.part_sources(k).enumerate() {
                consumers[source.index()].push((k, part));
            }
        }
        let pool_needs: Vec<Vec<u32>> = (0..layers.len())
            .map(|k| match &layers[k] {
                Layer::MaxPool(p) => {
                    let (inp, out) = (graph.input_shape_of(k), graph.output_shape(k));
                    (0..out.h)
                        .flat_map(|oy| {
                            (0..out.w).map(move |ox| {
                                p.window.covered(0, oy, inp.h) * p.window.covered(1, ox, inp.w)
                            })
                        })
                        .collect()
                }
                _ => Vec::new(),
            })
            .collect();
        let synapses = (0..layers.len()).map(|k| synapse_count(graph, k)).collect();
        Tables {
            consumers,
            bias_delay: coding::spike_time(1.0, graph.params().leak),
            pool_needs,
            row_sums: (0..layers.len()).map(|k| RowSums::of(graph, k)).collect(),
            synapses,
            row_runs: (0..layers.len())
                .map(|k| {
                    let own = match &layers[k] {
                        Layer::Conv2d(c) => Some(row_runs(c)),
                        _ => None,
                    };
                    let groups = graph.groups(k).iter().map(|g| match &g.synapses {
                        Synapses::Conv2d(c) => Some(row_runs(c)),
                        _ => None,
                    });
                    std::iter::once(own).chain(groups).collect()
                })
                .collect(),
        }
    }
}

fn synapse_count(graph: &Graph, k: usize) -> u64 {
    let (inp, out) = (graph.input_shape_of(k), graph.output_shape(k));
    let layer = &graph.layers()[k];
    let bias = if layer.bias().is_some() { out.len() } else { 0 };
    // Real window positions summed over the output, from an input of shape `from`.
    let windows = |w: &Window, from: Shape| -> u64 {
        let rows: u64 = (0..out.h)
            .map(|oy| u64::from(w.covered(0, oy, from.h)))
            .sum();
        let cols: u64 = (0..out.w)
            .map(|ox| u64::from(w.covered(1, ox, from.w)))
            .sum();
        rows * cols
    };
    let conv = |c: &Conv2d, from: Shape| {
        windows(&c.window, from) * u64::from(from.c) * u64::from(c.out_channels)
    };
    let count = match layer {
        Layer::Dense(d) | Layer::Output(d) => inp.len() * u64::from(d.outputs),
        Layer::Conv2d(c) => conv(c, inp),
        Layer::AvgPool(AvgPool { window, .. }) | Layer::MaxPool(MaxPool { window }) => {
            windows(window, inp) * u64::from(out.c)
        }
        Layer::Flatten => 0,
    };
    let groups: u64 = graph
        .groups(k)
        .iter()
        .map(|g| {
            let from = graph.shape_of(g.source);
            match &g.synapses {
                Synapses::Identity { .. } => out.len(),
                Synapses::Conv2d(c) => conv(c, from),
                Synapses::Dense(d) => from.len() * u64::from(d.outputs),
            }
        })
        .sum();
    count.saturating_add(groups).saturating_add(bias)
}

/// Conv weights `[c_in][kh][kw][c_out]` laid out so that one spike's synapses along one
/// kernel row are a single contiguous run matching the channels-last potentials of
/// consecutive output columns: within each kernel row, the kernel columns of each residue
/// modulo the column stride together (residues ascending), each residue's columns
/// descending. An input column reaches output columns through the kernel columns of one
/// residue only, the later output columns through the earlier kernel columns. (A kernel no
/// wider than its column stride keeps its own layout; the copy keeps every conv alike.)
pub(crate) fn row_runs(c: &Conv2d) -> Vec<f32> {
    let (kw, stride, cout) = (
        c.window.kernel[1] as usize,
        c.window.stride[1] as usize,
        c.out_channels as usize,
    );
    let mut runs = Vec::with_capacity(c.weights.len());
    for row in c.weights.chunks_exact(kw * cout) {
        for residue in 0..stride {
            for kx in (residue..kw).step_by(stride).rev() {
                runs.extend_from_slice(&row[kx * cout..(kx + 1) * cout]);
            }
        }
    }
    runs
}
