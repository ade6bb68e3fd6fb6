//! Law: training with the staircase `H(x) = G(x) - 1` is exactly training a DNN(G) whose
//! biases are folded (`b_j - sum_i W_ji`). On random networks without padded convs or average
//! pools, the staircase network and the folded DNN(G) give the same logits (to the `f32`
//! rounding of the folded biases), and every layer's values agree.
//!
//! Tolerance: `1e-5` relative to the logits' scale. Where the folded network's rounding moves
//! a value across a step edge of `G` (an intermediate `L ln(A + 1)` within `1e-4` of an
//! integer), the case is counted as a tie and not compared.

mod common;

use std::cell::Cell;

use common::{case_of, problem, Stage};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tdsnn_converter::staircase::fold_staircase;
use tdsnn_converter::{reference_forward, staircase_forward, DnnLayer, Shape, Window};
use tdsnn_engine::coding;

/// The architectures folding accepts: no average pool, no padded conv.
fn foldable() -> impl Strategy<Value = common::Problem> {
    problem().prop_map(|mut p| {
        p.stages.retain(|s| !matches!(s, Stage::AvgPool(_)));
        for s in &mut p.stages {
            if let Stage::Conv { window, .. } = s {
                window.padding = [0, 0];
            }
        }
        p
    })
}

#[test]
fn staircase_network_equals_folded_dnn_g() {
    let (compared, tied) = (Cell::new(0u32), Cell::new(0u32));
    TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    })
    .run(&case_of(foldable()), |case| {
        let folded = fold_staircase(&case.dnn).expect("foldable architectures fold");
        let h = staircase_forward(&case.dnn, &case.input, case.leak).unwrap();
        let g = reference_forward(&folded, &case.input, case.leak).unwrap();
        let near_edge = g.layers[..g.layers.len() - 1]
            .iter()
            .filter_map(|l| l.pre_activations())
            .flatten()
            .any(|&a| coding::is_tie(a, case.leak, 1e-4));
        if near_edge {
            tied.set(tied.get() + 1);
            return Ok(());
        }
        let scale = 1.0 + h.logits.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (a, b) in h.logits.iter().zip(&g.logits) {
            prop_assert!(
                (a - b).abs() <= 1e-5 * scale,
                "staircase {:?} vs folded {:?}",
                h.logits,
                g.logits
            );
        }
        compared.set(compared.get() + 1);
        Ok(())
    })
    .unwrap();
    println!(
        "fold: {} cases equal, {} at a step edge",
        compared.get(),
        tied.get()
    );
    assert!(tied.get() * 10 < compared.get(), "ties should be rare");
}

#[test]
fn folding_refuses_padded_convs_and_average_pools() {
    let conv = |padding| DnnLayer::Conv2d {
        out_channels: 1,
        window: Window {
            kernel: [3, 3],
            stride: [1, 1],
            padding,
        },
        weights: vec![0.1; 9],
        bias: None,
    };
    let tail = |n: usize| {
        vec![
            DnnLayer::Relu,
            DnnLayer::Flatten,
            DnnLayer::Dense {
                outputs: 2,
                weights: vec![0.1; 2 * n],
                bias: None,
            },
        ]
    };
    let padded =
        tdsnn_converter::Dnn::new(Shape::new(1, 4, 4), [vec![conv([1, 1])], tail(16)].concat())
            .unwrap();
    let err = fold_staircase(&padded).unwrap_err();
    assert_eq!((err.layer, err.kind), (0, "conv2d"), "{err}");
    let pooled = tdsnn_converter::Dnn::new(
        Shape::new(1, 4, 4),
        [
            vec![DnnLayer::AvgPool {
                window: Window::square(2, 2, 0),
            }],
            tail(4),
        ]
        .concat(),
    )
    .unwrap();
    let err = fold_staircase(&pooled).unwrap_err();
    assert_eq!((err.layer, err.kind), (0, "avg_pool"), "{err}");
}

#[test]
fn a_folded_bias_beyond_f32_is_an_error_not_a_panic() {
    let dnn = tdsnn_converter::Dnn::new(
        Shape::flat(2),
        vec![DnnLayer::Dense {
            outputs: 1,
            weights: vec![3e38, 3e38],
            bias: Some(vec![-3e38]),
        }],
    )
    .unwrap();
    let err = fold_staircase(&dnn).unwrap_err();
    assert_eq!((err.layer, err.kind), (0, "dense"), "{err}");
    assert!(err.why.contains("overflows"), "{err}");
}
