//! Law: the converted graph's weights, as the engine delivers them, encode the reference DNN.
//!
//! Teacher-forced, layer by layer: feed each synapse-based graph layer `G` of the values the
//! reference DNN gave its DNN layer, undo the negation of hidden layers, count the bias neuron
//! as one spike at `T(1)` worth `G(1)`, and the result must equal the reference's
//! pre-activations `A`. Tolerance: `1e-6` of the sum of the magnitudes of the terms (the
//! f32 rounding of `b / G(1)` and of `1 / (kh * kw)` is about `6e-8` relative); layouts,
//! signs and bias scaling are otherwise exact.

mod common;

use common::Problem;
use proptest::prelude::*;
use tdsnn_converter::{convert, layer_map, reference_forward, Shape, TilPolicy};
use tdsnn_engine::coding::activation;
use tdsnn_engine::{Layer, Window};

/// `(A, magnitude)` of a synapse-based graph layer in DNN units, from its delivered weights.
fn graph_pre_activations(
    layer: &Layer,
    from: Shape,
    to: Shape,
    x: &[f64],
    leak: f64,
) -> (Vec<f64>, Vec<f64>) {
    let g: Vec<f64> = x.iter().map(|&v| activation(v, leak)).collect();
    let g1 = activation(1.0, leak);
    let n = to.len() as usize;
    let (mut a, mut mag) = (vec![0.0; n], vec![0.0; n]);
    let mut add = |j: usize, term: f64| {
        a[j] += term;
        mag[j] += term.abs();
    };
    // Input position of output `o` at kernel offset `k`, if it is not padding.
    let at = |w: &Window, axis: usize, o: u32, k: u32, extent: u32| {
        let p =
            i64::from(o) * i64::from(w.stride[axis]) + i64::from(k) - i64::from(w.padding[axis]);
        (0..i64::from(extent)).contains(&p).then_some(p as u32)
    };
    let sign = match layer {
        Layer::Dense(d) | Layer::Output(d) => {
            let outs = d.outputs as usize;
            for (i, gi) in g.iter().enumerate() {
                for j in 0..outs {
                    add(j, f64::from(d.weights[i * outs + j]) * gi);
                }
            }
            if let Some(b) = &d.bias {
                for j in 0..outs {
                    add(j, f64::from(b[j]) * g1);
                }
            }
            if matches!(layer, Layer::Output(_)) {
                1.0
            } else {
                -1.0
            }
        }
        Layer::Conv2d(c) => {
            let w = &c.window;
            let [kh, kw] = w.kernel;
            for co in 0..to.c {
                for oy in 0..to.h {
                    for ox in 0..to.w {
                        let j = to.index(co, oy, ox);
                        for ci in 0..from.c {
                            for ky in 0..kh {
                                let Some(iy) = at(w, 0, oy, ky, from.h) else {
                                    continue;
                                };
                                for kx in 0..kw {
                                    let Some(ix) = at(w, 1, ox, kx, from.w) else {
                                        continue;
                                    };
                                    let widx = (((ci * kh + ky) * kw + kx) * to.c + co) as usize;
                                    add(j, f64::from(c.weights[widx]) * g[from.index(ci, iy, ix)]);
                                }
                            }
                        }
                        if let Some(b) = &c.bias {
                            add(j, f64::from(b[co as usize]) * g1);
                        }
                    }
                }
            }
            -1.0
        }
        Layer::AvgPool(p) => {
            let w = &p.window;
            for c in 0..to.c {
                for oy in 0..to.h {
                    for ox in 0..to.w {
                        for ky in 0..w.kernel[0] {
                            let Some(iy) = at(w, 0, oy, ky, from.h) else {
                                continue;
                            };
                            for kx in 0..w.kernel[1] {
                                if let Some(ix) = at(w, 1, ox, kx, from.w) {
                                    let term = f64::from(p.weight) * g[from.index(c, iy, ix)];
                                    add(to.index(c, oy, ox), term);
                                }
                            }
                        }
                    }
                }
            }
            -1.0
        }
        other => panic!("{} is not synapse-based", other.kind()),
    };
    (a.into_iter().map(|v| sign * v).collect(), mag)
}

/// Pixels in [0, 1], about a quarter of them exactly 0.
fn pixels(n: u64, mut seed: u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let v = (seed >> 40) as f32 / (1u64 << 24) as f32;
            if v < 0.25 {
                0.0
            } else {
                (v - 0.25) / 0.75
            }
        })
        .collect()
}

fn check(problem: &Problem, seed: u64) -> Result<(), TestCaseError> {
    let (dnn, _) = problem.build();
    let graph = convert(&dnn, problem.leak, TilPolicy::Dynamic)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let input = pixels(dnn.input_shape().len(), seed);
    let reference = reference_forward(&dnn, &input, problem.leak)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let image: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
    let map = layer_map(&dnn);
    let mut checked = 0;
    for (k, values) in reference.layers.iter().enumerate() {
        let Some(want) = values.pre_activations() else {
            continue;
        };
        let x = if k == 0 {
            &image
        } else {
            &reference.layers[k - 1].values
        };
        let gk = map[k].expect("a synapse-based layer is kept");
        let (got, mag) = graph_pre_activations(
            &graph.layers()[gk],
            graph.input_shape_of(gk),
            graph.output_shape(gk),
            x,
            problem.leak,
        );
        prop_assert_eq!(got.len(), want.len());
        for j in 0..got.len() {
            let tol = 1e-6 * mag[j] + 1e-12;
            prop_assert!(
                (got[j] - want[j]).abs() <= tol,
                "layer {} ({}), neuron {}: graph {} vs reference {} (tolerance {})",
                k,
                values.kind,
                j,
                got[j],
                want[j],
                tol
            );
        }
        checked += 1;
    }
    prop_assert!(checked >= 1, "the output layer at least");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn graph_weights_encode_reference(problem in any::<Problem>(), seed in any::<u64>()) {
        check(&problem, seed)?;
    }
}
