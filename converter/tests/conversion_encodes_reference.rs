//! Law: the converted graph's weights, as the engine delivers them, encode the reference DNN.
//!
//! Teacher-forced, layer by layer: feed each synapse-based graph layer the gains `G(x)` of the
//! values the reference DNN gave its inputs, read its pre-activations back in DNN units
//! ([`audit::pre_activations`]: negation undone, the bias neuron worth `G(1)`), and they must
//! equal the reference's `A`. Tolerance: `1e-6` of the sum of the magnitudes of the terms
//! (the f32 rounding of `b / G(1)` and of `1 / (kh * kw)` is about `6e-8` relative); layouts,
//! signs and bias scaling are otherwise exact.

mod common;

use common::case;
use proptest::prelude::*;
use tdsnn_converter::{layer_map, reference_forward};
use tdsnn_engine::coding;
use tdsnn_engine::{audit, TilPolicy};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn graph_weights_encode_the_reference(case in case()) {
        let graph = case.graph(TilPolicy::Dynamic);
        let reference = reference_forward(&case.dnn, &case.input, case.leak)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let image: Vec<f64> = case.input.iter().map(|&v| f64::from(v)).collect();
        let map = layer_map(&case.dnn);
        let mut checked = 0;
        for (k, values) in reference.layers.iter().enumerate() {
            let Some(want) = values.pre_activations() else { continue };
            let x = if k == 0 { &image } else { &reference.layers[k - 1].values };
            let gains: Vec<f64> = x.iter().map(|&v| coding::g(v, case.leak)).collect();
            let g = map[k].expect("a synapse-based layer is kept");
            let got = audit::pre_activations(&graph, g, &[&gains]).expect("synapse-based");
            prop_assert_eq!(got.len(), want.len());
            for (j, (&(a, scale), &w)) in got.iter().zip(want).enumerate() {
                let tol = 1e-6 * scale + 1e-12;
                prop_assert!((a - w).abs() <= tol,
                    "layer {} ({}), neuron {}: graph {} vs reference {} (tolerance {})", k, values.kind, j, a, w, tol);
            }
            checked += 1;
        }
        prop_assert!(checked >= 1, "the output layer at least");
    }
}
