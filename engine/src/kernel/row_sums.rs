//! Row sums `S_j`: what every synapse of neuron `j` carries when all its inputs fire at the
//! frame origin.
//!
//! The kernel keeps each potential in frame-origin units, `U_j = V_j * exp((t - o) / L)`. A
//! spike at relative time `tau` is worth `G = exp(tau / L)` there, so the layer accumulates
//! `U_j = sum_i W_ji * exp(tau_i / L)`. Writing `exp(tau / L) = 1 + (exp(tau / L) - 1)`:
//!
//! `U_j = S_j + sum_i W_ji * expm1(tau_i / L)`, with `S_j = sum_i W_ji` (bias weight included).
//!
//! A spike at the frame origin (`tau = 0`, a value `<= 0`) adds exactly zero, so it need not be
//! delivered at all: only neurons with positive values cost work. `S_j` depends only on the
//! graph and is computed here once, in one fixed order, so every path of the engine starts
//! from the same bits:
//! - dense: `((W_0j + W_1j) + ...) + bias_j`, inputs in ascending order;
//! - conv: per kernel tap `K[ky][kx][co] = sum over ci` (ascending), then the real
//!   (non-padding) taps of the position's window summed in row-major tap order, then the bias;
//! - average pool: the same with `K = weight` and no bias.
//!
//! A conv or pool window depends on its position only through which taps are real, so the
//! sums are stored once per distinct (row taps, column taps) pattern, not per neuron.
//!
//! A join (a layer with further synapse groups) adds each group's sum after its own synapses'
//! and before the bias, groups in order: identity `w`, conv as above over the group's window,
//! dense as above. Its sums are stored per position.

use crate::graph::{Conv2d, Dense, Graph, Layer, Shape, Synapses, Window};

/// The row sums of one synapse-based layer.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowSums {
    /// One run of `group` sums per distinct window pattern (one pattern for dense layers).
    patterns: Vec<f64>,
    /// Sums per pattern: the conv's output channels; 1 for dense (all outputs in one run
    /// instead) and average pools (the same for every channel).
    group: usize,
    /// Pattern row index per output row, and column index per output column.
    row_class: Vec<u32>,
    col_class: Vec<u32>,
    cols: usize,
}

impl RowSums {
    /// The row sums of graph layer `k` (empty for max-pool and flatten layers).
    pub(crate) fn of(graph: &Graph, k: usize) -> RowSums {
        if graph.groups(k).is_empty() {
            Self::own(graph, k)
        } else {
            Self::join(graph, k)
        }
    }

    /// A join's sums, per position: its own synapses', each group's, the bias.
    fn join(graph: &Graph, k: usize) -> RowSums {
        let out = graph.output_shape(k);
        let layer = &graph.layers()[k];
        let own = Self::own_without_bias(graph, k);
        let mut sums: Vec<f64> = (0..out.len() as usize)
            .map(|j| own.of_neuron(j, out))
            .collect();
        for group in graph.groups(k) {
            let from = graph.shape_of(group.source);
            let part = match &group.synapses {
                Synapses::Identity { weight } => {
                    sums.iter_mut().for_each(|s| *s += f64::from(*weight));
                    continue;
                }
                Synapses::Conv2d(c) => conv_sums(c, from, out, None),
                Synapses::Dense(d) => dense_sums(d, None),
            };
            for (j, s) in sums.iter_mut().enumerate() {
                *s += part.of_neuron(j, out);
            }
        }
        if let Some(b) = layer.bias() {
            let plane = (out.h * out.w) as usize;
            for (j, s) in sums.iter_mut().enumerate() {
                *s += b[j / plane];
            }
        }
        // One pattern per position: channel-major sums regrouped channels-last for a conv.
        let cout = out.c as usize;
        let plane = (out.h * out.w) as usize;
        let (patterns, group) = match layer {
            Layer::Conv2d(_) => (
                (0..plane)
                    .flat_map(|p| (0..cout).map(move |c| (p, c)))
                    .map(|(p, c)| sums[c * plane + p])
                    .collect(),
                cout,
            ),
            _ => (sums, out.len() as usize),
        };
        RowSums {
            patterns,
            group,
            row_class: (0..out.h).collect(),
            col_class: (0..out.w).collect(),
            cols: out.w as usize,
        }
    }

    /// The layer's own synapses' sums without its bias.
    fn own_without_bias(graph: &Graph, k: usize) -> RowSums {
        let (inp, out) = (graph.input_shape_of(k), graph.output_shape(k));
        match &graph.layers()[k] {
            Layer::Dense(d) | Layer::Output(d) => dense_sums(d, None),
            Layer::Conv2d(c) => conv_sums(c, inp, out, None),
            _ => Self::own(graph, k),
        }
    }

    /// The sums of layer `k`'s own synapses and its bias.
    fn own(graph: &Graph, k: usize) -> RowSums {
        let (inp, out) = (graph.input_shape_of(k), graph.output_shape(k));
        match &graph.layers()[k] {
            Layer::Dense(d) | Layer::Output(d) => dense_sums(d, d.bias.as_deref()),
            Layer::Conv2d(c) => conv_sums(c, inp, out, c.bias.as_deref()),
            Layer::AvgPool(p) => {
                let [kh, kw] = p.window.kernel.map(|k| k as usize);
                let taps = vec![f64::from(p.weight); kh * kw];
                windowed(&p.window, inp, out, &taps, 1, None)
            }
            Layer::MaxPool(_) | Layer::Flatten => RowSums::default(),
        }
    }

    /// The sums of the conv group (or pool position) at output position (`oy`, `ox`); for a
    /// dense layer, every output's sum.
    #[inline]
    pub(crate) fn at(&self, oy: u32, ox: u32) -> &[f64] {
        let p =
            self.row_class[oy as usize] as usize * self.cols + self.col_class[ox as usize] as usize;
        &self.patterns[p * self.group..(p + 1) * self.group]
    }

    /// `S_j` of channel-major neuron `j` of a layer with output shape `out`.
    pub(crate) fn of_neuron(&self, j: usize, out: Shape) -> f64 {
        let (c, oy, ox) = out.coords(j as u32);
        // A conv's run holds its channels, a dense layer's all its outputs (`c = j`, its
        // output shape being flat), an average pool's one sum for every channel.
        self.at(oy, ox)[c as usize % self.group]
    }
}

/// A dense connection's sums: inputs in ascending order, then `bias`.
fn dense_sums(d: &Dense, bias: Option<&[f64]>) -> RowSums {
    let n = d.outputs as usize;
    let mut sums = vec![0.0f64; n];
    for row in d.weights.chunks_exact(n) {
        sums.iter_mut()
            .zip(row)
            .for_each(|(s, &w)| *s += f64::from(w));
    }
    add_bias(&mut sums, bias);
    RowSums {
        patterns: sums,
        group: n,
        row_class: vec![0],
        col_class: vec![0],
        cols: 1,
    }
}

/// A conv's sums per window pattern: per kernel tap over input channels, the real taps in
/// row-major order, then `bias`.
fn conv_sums(c: &Conv2d, inp: Shape, out: Shape, bias: Option<&[f64]>) -> RowSums {
    let cout = c.out_channels as usize;
    let [kh, kw] = c.window.kernel.map(|k| k as usize);
    // K[ky][kx][co]: the tap's weights summed over input channels.
    let mut taps = vec![0.0f64; kh * kw * cout];
    for ci_block in c.weights.chunks_exact(kh * kw * cout) {
        taps.iter_mut()
            .zip(ci_block)
            .for_each(|(s, &w)| *s += f64::from(w));
    }
    windowed(&c.window, inp, out, &taps, cout, bias)
}

fn add_bias(sums: &mut [f64], bias: Option<&[f64]>) {
    if let Some(b) = bias {
        sums.iter_mut().zip(b).for_each(|(s, &b)| *s += b);
    }
}

/// Distinct tap ranges along one axis, and the class of each output position.
fn classes(window: &Window, axis: usize, outputs: u32, input: u32) -> (Vec<(u32, u32)>, Vec<u32>) {
    let mut distinct: Vec<(u32, u32)> = Vec::new();
    let class = (0..outputs)
        .map(|o| {
            let r = window.taps(axis, o, input);
            let key = (r.start, r.end);
            let i = distinct.iter().position(|&d| d == key).unwrap_or_else(|| {
                distinct.push(key);
                distinct.len() - 1
            });
            i as u32
        })
        .collect();
    (distinct, class)
}

fn windowed(
    window: &Window,
    inp: Shape,
    out: Shape,
    taps: &[f64],
    group: usize,
    bias: Option<&[f64]>,
) -> RowSums {
    let kw = window.kernel[1] as usize;
    let (rows, row_class) = classes(window, 0, out.h, inp.h);
    let (cols, col_class) = classes(window, 1, out.w, inp.w);
    let mut patterns = Vec::with_capacity(rows.len() * cols.len() * group);
    for &(r0, r1) in &rows {
        for &(c0, c1) in &cols {
            let mut sums = vec![0.0f64; group];
            for ky in r0 as usize..r1 as usize {
                for kx in c0 as usize..c1 as usize {
                    let tap = &taps[(ky * kw + kx) * group..(ky * kw + kx + 1) * group];
                    sums.iter_mut().zip(tap).for_each(|(s, &w)| *s += w);
                }
            }
            add_bias(&mut sums, bias);
            patterns.extend_from_slice(&sums);
        }
    }
    RowSums {
        patterns,
        group,
        row_class,
        col_class,
        cols: cols.len(),
    }
}
