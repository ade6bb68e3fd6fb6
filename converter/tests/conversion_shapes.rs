//! Law: the converter's shape inference agrees with the engine's. For random stacks, every
//! DNN layer that survives conversion (all but ReLU) has the same input and output shape as
//! its graph layer, the kinds line up, and the reference DNN gives one finite logit per class.

mod common;

use common::{problem, Architecture, Problem, Stage};
use proptest::prelude::*;
use tdsnn_converter::{convert, layer_map, reference_forward, DnnLayer};
use tdsnn_engine::{Shape, TilPolicy, Window};

fn check(problem: &Problem) -> Result<(), TestCaseError> {
    let (_, oracle) = problem.skeleton();
    let (nw, nb) = problem.sizes();
    let dnn = problem.dnn(&vec![0.5; nw], &vec![0.1; nb]);
    prop_assert_eq!(dnn.output_shapes(), &oracle[..]);
    let graph = convert(&dnn, problem.leak, TilPolicy::Dynamic)
        .map_err(|e| TestCaseError::fail(format!("conversion failed: {e}")))?;
    prop_assert_eq!(graph.input_shape(), dnn.input_shape());
    let map = layer_map(&dnn);
    prop_assert_eq!(map.iter().flatten().count(), graph.layers().len());
    for (k, g) in map.iter().enumerate() {
        let layer = &dnn.layers()[k];
        let Some(g) = *g else {
            prop_assert!(matches!(layer, DnnLayer::Relu));
            continue;
        };
        prop_assert_eq!(graph.output_shape(g), dnn.output_shape(k), "layer {}", k);
        prop_assert_eq!(graph.input_shape_of(g), dnn.input_shape_of(k));
        let want = if k + 1 == dnn.layers().len() {
            "output"
        } else {
            layer.kind()
        };
        prop_assert_eq!(graph.layers()[g].kind(), want);
    }
    let input: Vec<f32> = (0..dnn.input_shape().len())
        .map(|i| (i % 11) as f32 / 10.0)
        .collect();
    let r = reference_forward(&dnn, &input, problem.leak)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(r.logits.len(), problem.outputs as usize);
    prop_assert!(r.logits.iter().all(|v| v.is_finite()));
    for (k, values) in r.layers.iter().enumerate() {
        prop_assert_eq!(values.values.len() as u64, dnn.output_shape(k).len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dnn_shapes_match_engine_graph(problem in problem()) {
        check(&problem)?;
    }
}

/// A pinned case: strided, padded, non-square conv into a padded max-pool, then an avg-pool,
/// a flatten and a dense layer.
#[test]
fn pinned_strided_padded_stack() {
    let w = |k: [u32; 2], s: [u32; 2], p: [u32; 2]| Window {
        kernel: k,
        stride: s,
        padding: p,
    };
    let problem = Problem {
        input: Shape::new(2, 9, 7),
        stages: vec![
            Stage::Conv {
                out: 3,
                window: w([3, 2], [2, 1], [2, 1]),
                bias: true,
                pool: Some(w([2, 3], [2, 1], [1, 1])),
            },
            Stage::AvgPool(w([2, 2], [1, 1], [1, 0])),
            Stage::Flatten,
            Stage::Dense {
                outputs: 4,
                bias: false,
            },
        ],
        outputs: 3,
        out_bias: true,
        leak: 2.5,
    };
    check(&problem).unwrap();
    let (_, shapes) = problem.skeleton();
    // conv: (9 + 4 - 3) / 2 + 1 = 6, (7 + 2 - 2) / 1 + 1 = 8; pool: (6 + 2 - 2) / 2 + 1 = 4,
    // (8 + 2 - 3) / 1 + 1 = 8; avg: (4 + 2 - 2) + 1 = 5, 8 - 2 + 1 = 7.
    assert_eq!(shapes[0], Shape::new(3, 6, 8));
    assert_eq!(shapes[1], Shape::new(3, 4, 8));
    assert_eq!(shapes[3], Shape::new(3, 5, 7));
    assert_eq!(shapes[4], Shape::flat(105));
}
