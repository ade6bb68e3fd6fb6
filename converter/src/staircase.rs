//! Training with the staircase ReLU `H(x) = G(x) - 1`, and folding it into a DNN(G).
//!
//! `G(x) >= 1` puts a constant offset into every layer's input, which makes training with `G`
//! from scratch fail; `H = G - 1` (a staircase ReLU, `H(x) = 0` for `x <= 0`) trains like a
//! ReLU. The two are exactly equivalent: for a layer without padding,
//! `sum_i W_ji H(x_i) + b'_j = sum_i W_ji G(x_i) + (b'_j - sum_i W_ji)`, so a network trained
//! with `H` is the DNN(G) whose biases are `b_j = b'_j - sum_i W_ji` ([`fold_staircase`]).
//! Max-pool commutes with the `+ 1`; ReLU and flatten do not care.
//!
//! Two layer kinds break the identity, and folding refuses them: a padded conv (a padded
//! position contributes 0 under both, not `H + 1 = G`, so the fold would differ per output
//! position) and an average pool (it feeds `avg(H) + 1` forward, and `G(y + 1) != H(y) + 1`).
//! Folding also refuses a shortcut (its `-1` would belong in the bias of the layer before
//! it; residual networks are fine-tuned with `G` itself, docs/pytorch.md).

use crate::error::FoldError;
use crate::model::{Dnn, DnnLayer};

/// The DNN(G) equivalent to `dnn` trained with the staircase `H = G - 1`: every conv and
/// dense bias `b_j` becomes `b_j - sum_i W_ji` (added where the layer had none). Exact up to
/// `f32` rounding of the new biases.
///
/// # Example
/// ```
/// use tdsnn_converter::{reference_forward, staircase::fold_staircase, staircase_forward};
/// use tdsnn_converter::{Dnn, DnnLayer, Shape};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let trained = Dnn::new(Shape::flat(2), vec![
///     DnnLayer::Dense { outputs: 1, weights: vec![0.5, -2.0], bias: Some(vec![0.25]) },
/// ])?;
/// let folded = fold_staircase(&trained)?;
/// let (h, g) = (staircase_forward(&trained, &[0.3, 0.8], 5.0)?, reference_forward(&folded, &[0.3, 0.8], 5.0)?);
/// assert!((h.logits[0] - g.logits[0]).abs() < 1e-6);
/// # Ok(()) }
/// ```
pub fn fold_staircase(dnn: &Dnn) -> Result<Dnn, FoldError> {
    check_foldable(dnn)?;
    let mut layers = dnn.layers().to_vec();
    for (k, layer) in layers.iter_mut().enumerate() {
        let refuse = |why| FoldError {
            layer: k,
            kind: dnn.layers()[k].kind(),
            why,
        };
        let Some((outputs, weights, bias)) = layer.parameters_mut() else {
            continue;
        };
        // PyTorch layouts: each output's weights are one contiguous row.
        let row = weights.len() / outputs as usize;
        let b = bias.get_or_insert_with(|| vec![0.0; outputs as usize]);
        for (bj, w) in b.iter_mut().zip(weights.chunks_exact(row)) {
            let sum: f64 = w.iter().map(|&x| f64::from(x)).sum();
            *bj = (f64::from(*bj) - sum) as f32;
            if !bj.is_finite() {
                return Err(refuse("a folded bias b - sum(W) overflows f32"));
            }
        }
    }
    // Only biases changed, all finite: the network is as valid as the one given.
    Ok(Dnn::new(dnn.input_shape(), layers).expect("folding changes finite biases only"))
}

/// Whether a network's structure allows the fold (no average pool, no padded conv, no
/// shortcut), checked
/// without copying it; [`fold_staircase`] may still refuse a bias that overflows.
pub fn check_foldable(dnn: &Dnn) -> Result<(), FoldError> {
    for (k, layer) in dnn.layers().iter().enumerate() {
        let why = match layer {
            DnnLayer::AvgPool { .. } => {
                "an average pool feeds avg(H) + 1 forward, and G(y + 1) != H(y) + 1"
            }
            DnnLayer::Shortcut { .. } => {
                "a shortcut adds H(y) = G(y) - 1 of its earlier tensor, whose -1 is not folded \
                 here (train residual networks with G)"
            }
            DnnLayer::Conv2d { window, .. } if window.padding != [0, 0] => {
                "a padded position contributes 0, not H + 1 = G"
            }
            _ => continue,
        };
        return Err(FoldError {
            layer: k,
            kind: layer.kind(),
            why,
        });
    }
    Ok(())
}
