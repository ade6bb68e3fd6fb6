//! Law: the converter's shape inference agrees with the engine's. For random small stacks of
//! conv, pool, flatten and dense layers, every DNN layer that survives conversion has the
//! same output shape as its graph layer (exact), and the reference DNN produces one finite
//! logit per output.

mod common;

use common::{Problem, Stage, Win};
use proptest::prelude::*;
use tdsnn_converter::{convert, layer_map, reference_forward, DnnLayer, Shape};
use tdsnn_engine::{Layer, TilPolicy};

/// Exact agreement: DNN shapes == oracle shapes == graph shapes layer by layer.
fn check(problem: &Problem) -> Result<(), TestCaseError> {
    let (dnn, oracle) = problem.build();
    prop_assert_eq!(dnn.output_shapes(), &oracle[..]);
    let graph = convert(&dnn, problem.leak, TilPolicy::Dynamic)
        .map_err(|e| TestCaseError::fail(format!("conversion failed: {e}")))?;
    prop_assert_eq!(graph.input_shape(), dnn.input_shape());
    let map = layer_map(&dnn);
    prop_assert_eq!(map.iter().flatten().count(), graph.layers().len());
    for (k, g) in map.iter().enumerate() {
        match (g, &dnn.layers()[k]) {
            (None, layer) => prop_assert!(matches!(layer, DnnLayer::Relu)),
            (Some(g), layer) => {
                prop_assert_eq!(graph.output_shape(*g), dnn.output_shape(k), "layer {}", k);
                prop_assert_eq!(graph.input_shape_of(*g), dnn.input_shape_of(k));
                let kind = graph.layers()[*g].kind();
                let want = if k + 1 == dnn.layers().len() {
                    "output"
                } else {
                    layer.kind()
                };
                prop_assert_eq!(kind, want);
            }
        }
    }
    prop_assert!(matches!(graph.layers().last(), Some(Layer::Output(_))));

    let input: Vec<f32> = (0..dnn.input_shape().len())
        .map(|i| (i % 11) as f32 / 10.0)
        .collect();
    let r = reference_forward(&dnn, &input, problem.leak)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(r.logits.len(), problem.outputs as usize);
    prop_assert!(r.logits.iter().all(|v| v.is_finite()));
    prop_assert!(r.class < problem.outputs as usize);
    for (k, values) in r.layers.iter().enumerate() {
        prop_assert_eq!(values.values.len() as u64, dnn.output_shape(k).len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dnn_shapes_match_engine_graph(problem in any::<Problem>()) {
        check(&problem)?;
    }
}

/// A pinned case: strided, padded, non-square conv into a padded max-pool, then dense.
#[test]
fn pinned_strided_padded_stack() {
    let problem = Problem {
        input: Shape::new(2, 9, 7),
        stages: vec![
            Stage::Conv {
                out: 3,
                win: Win {
                    kernel: [3, 2],
                    stride: [2, 3],
                    padding: [2, 1],
                },
                bias: true,
                pool: Some(Win {
                    kernel: [2, 3],
                    stride: [2, 1],
                    padding: [1, 1],
                }),
            },
            Stage::AvgPool(Win {
                kernel: [2, 2],
                stride: [1, 1],
                padding: [1, 0],
            }),
        ],
        flatten_last: true,
        outputs: 4,
        out_bias: true,
        leak: 5.0,
    };
    check(&problem).unwrap();
    let (dnn, _) = problem.build();
    // conv: h = (9 + 4 - 3) / 2 + 1 = 6, w = (7 + 2 - 2) / 3 + 1 = 3
    // pool: h = (6 + 2 - 2) / 2 + 1 = 4, w = (3 + 2 - 3) / 1 + 1 = 3
    // avg:  h = (4 + 2 - 2) / 1 + 1 = 5, w = (3 - 2) / 1 + 1 = 2
    assert_eq!(
        dnn.output_shapes(),
        &[
            Shape::new(3, 6, 3),
            Shape::new(3, 4, 3),
            Shape::new(3, 4, 3),
            Shape::new(3, 5, 2),
            Shape::flat(30),
            Shape::flat(4),
        ]
    );
}
