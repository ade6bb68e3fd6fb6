//! Operation counts of the DNN, the DNN side of the paper's table 2 (docs/semantics.md, "Operation
//! counts").
//!
//! Per synapse-based layer with `M` inputs per output and `N` outputs: `M * N`
//! multiplications and `(M - 1) * N` additions, the standard dot-product count; `M` is
//! `c_in * kh * kw` for a conv (padded taps included), the flattened input length for a
//! dense layer and `kh * kw` for an avg-pool. Bias additions (`N` for a layer with a bias)
//! are counted separately. A max-pool costs `kh * kw - 1` comparisons per output, counted as
//! additions. ReLU and flatten cost nothing here.
//!
//! Residual networks: a shortcut has its own entry. An identity shortcut costs `N`
//! additions (one per output, joining it to the layer's sum); a projection shortcut is a conv
//! with `M = c_in * kh * kw` over its earlier tensor, `M * N` multiplications and `M * N`
//! additions (its `M - 1` per output plus the join), and `N` bias additions if it has a bias.
//! A concat costs nothing: the layer after it counts the inputs of every part.
//!
//! # The paper's LeNet figures
//! Table 2 gives 2239k multiplications and 2235k additions for LeNet-5
//! (20c5-pool-50c5-pool-500-10 on 28x28). Those do not match that architecture: its conv and
//! dense layers hold 288,000 + 1,600,000 + 400,000 + 5,000 = 2,293,000 multiply-accumulates
//! (2239k looks like transposed digits). The additions are consistent with the wrong figure,
//! not the right one: 2,239,000 - 15,230 outputs + 11,040 pool comparisons = 2,234,810, about
//! 2235k, i.e. the paper counts no bias additions. This module gives 2,293,000
//! multiplications, 2,288,810 additions and 15,230 bias additions for LeNet-5.

use crate::model::{Dnn, DnnLayer, Source};

/// The multiply-accumulate counts of one DNN layer (its multiplications, additions and bias
/// additions; the simulation's per-layer counts are [`tdsnn_engine::counters::LayerOps`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LayerMacs {
    /// Index of the layer in [`Dnn::layers`].
    pub layer: usize,
    /// The layer's kind.
    pub kind: &'static str,
    /// Inputs per output `M` (window size for a max-pool, 1 for an identity shortcut).
    pub inputs_per_output: u64,
    /// Outputs `N`.
    pub outputs: u64,
    /// `M * N` (0 for a max-pool).
    pub multiplications: u64,
    /// `(M - 1) * N`; for a max-pool, its comparisons; for a shortcut, `M * N` (the join
    /// included).
    pub additions: u64,
    /// `N` for a layer with a bias, else 0.
    pub bias_additions: u64,
}

/// The operation counts of a whole DNN: one entry per conv, dense, avg-pool, max-pool and
/// shortcut layer, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpCounts {
    /// Per-layer counts (ReLU, flatten and concat layers are left out).
    pub layers: Vec<LayerMacs>,
}

impl OpCounts {
    /// Total multiplications.
    pub fn multiplications(&self) -> u64 {
        self.layers
            .iter()
            .fold(0u64, |t, l| t.saturating_add(l.multiplications))
    }

    /// Total additions, max-pool comparisons included, bias additions excluded.
    pub fn additions(&self) -> u64 {
        self.layers
            .iter()
            .fold(0u64, |t, l| t.saturating_add(l.additions))
    }

    /// Total bias additions.
    pub fn bias_additions(&self) -> u64 {
        self.layers
            .iter()
            .fold(0u64, |t, l| t.saturating_add(l.bias_additions))
    }

    /// Every operation: multiplications, additions and bias additions.
    pub fn total(&self) -> u64 {
        self.multiplications()
            .saturating_add(self.additions())
            .saturating_add(self.bias_additions())
    }
}

impl Dnn {
    /// Counts the network's operations for one input (see the [module docs](crate::ops)).
    ///
    /// # Example
    /// ```
    /// use tdsnn_converter::{Dnn, DnnLayer, Shape};
    /// # fn main() -> Result<(), tdsnn_converter::ModelError> {
    /// let dnn = Dnn::new(
    ///     Shape::flat(3),
    ///     vec![DnnLayer::Dense { outputs: 2, weights: vec![0.0; 6], bias: Some(vec![0.0; 2]) }],
    /// )?;
    /// let ops = dnn.op_counts();
    /// assert_eq!(ops.multiplications(), 6);
    /// assert_eq!(ops.additions(), 4);
    /// assert_eq!(ops.bias_additions(), 2);
    /// # Ok(()) }
    /// ```
    pub fn op_counts(&self) -> OpCounts {
        let mut layers = Vec::new();
        for (k, layer) in self.layers().iter().enumerate() {
            let from = self.input_shape_of(k);
            let n = self.output_shape(k).len();
            let area = |w: &tdsnn_engine::Window| u64::from(w.kernel[0]) * u64::from(w.kernel[1]);
            // Counts saturate at u64::MAX (only absurd geometries get there).
            let times = |a: u64, b: u64| a.saturating_mul(b);
            let (m, mults, adds, bias) = match layer {
                DnnLayer::Conv2d { window, bias, .. } => {
                    let m = times(u64::from(from.c), area(window));
                    (m, times(m, n), times(m - 1, n), bias.is_some())
                }
                DnnLayer::Dense { bias, .. } => {
                    let m = from.len();
                    (m, times(m, n), times(m - 1, n), bias.is_some())
                }
                DnnLayer::AvgPool { window } => {
                    let m = area(window);
                    (m, times(m, n), times(m - 1, n), false)
                }
                DnnLayer::MaxPool { window } => {
                    let m = area(window);
                    (m, 0, times(m - 1, n), false)
                }
                // Joining a shortcut costs one addition per output; a projection is a conv.
                DnnLayer::Shortcut {
                    projection: None, ..
                } => (1, 0, n, false),
                DnnLayer::Shortcut {
                    from,
                    projection: Some(p),
                } => {
                    let c = match from {
                        Source::Input => self.input_shape().c,
                        Source::Layer(j) => self.output_shape(*j).c,
                    };
                    let m = times(u64::from(c), area(&p.window));
                    (m, times(m, n), times(m, n), p.bias.is_some())
                }
                // A concat moves nothing; the layer after it counts every part's inputs.
                DnnLayer::Flatten | DnnLayer::Relu | DnnLayer::Concat { .. } => continue,
            };
            layers.push(LayerMacs {
                layer: k,
                kind: layer.kind(),
                inputs_per_output: m,
                outputs: n,
                multiplications: mults,
                additions: adds,
                bias_additions: if bias { n } else { 0 },
            });
        }
        OpCounts { layers }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::tests::lenet_layers;
    use crate::{Dnn, DnnLayer, Shape, Window};

    #[test]
    fn lenet5_macs() {
        let dnn = Dnn::new(Shape::new(1, 28, 28), lenet_layers()).unwrap();
        let ops = dnn.op_counts();
        assert_eq!(ops.multiplications(), 2_293_000);
        let per_layer: Vec<_> = ops
            .layers
            .iter()
            .map(|l| (l.layer, l.kind, l.multiplications))
            .collect();
        assert_eq!(
            per_layer,
            [
                (0, "conv2d", 288_000),
                (2, "max_pool", 0),
                (3, "conv2d", 1_600_000),
                (5, "max_pool", 0),
                (7, "dense", 400_000),
                (9, "dense", 5_000),
            ]
        );
        // 11,520 + 3,200 + 500 + 10 outputs with a bias; 8,640 + 2,400 pool comparisons.
        assert_eq!(ops.bias_additions(), 15_230);
        assert_eq!(ops.additions(), 2_293_000 - 15_230 + 11_040);
        assert_eq!(ops.layers[1].additions, 8_640);
        assert_eq!(ops.total(), 2_293_000 + 2_288_810 + 15_230);
    }

    #[test]
    fn avg_pool_counts() {
        let dnn = Dnn::new(
            Shape::new(2, 4, 4),
            vec![DnnLayer::AvgPool {
                window: Window::square(2, 2, 1),
            }],
        )
        .unwrap();
        let ops = dnn.op_counts();
        // Output 2x3x3 = 18, M = 4 (padded taps counted).
        assert_eq!(ops.layers[0].outputs, 18);
        assert_eq!(ops.multiplications(), 72);
        assert_eq!(ops.additions(), 54);
        assert_eq!(ops.bias_additions(), 0);
    }
}
