//! A property test of your own network: whatever its weights and inputs, every hidden neuron
//! fires exactly `T(A) = ceil(L ln(A + 1))` steps after its layer's release (equation (10)),
//! with `A` recomputed in f64 from the spike times that actually reached the layer.
//!
//! The network is a small multilayer perceptron built by hand as a `Dnn` (PyTorch layouts);
//! proptest draws its sizes, weights, biases, the leak constant and the input. Each case is
//! checked twice: by hand, with `audit::pre_activations` (the law itself, in a few lines), and
//! by `audit::audit`, which also checks releases, frame origins and logits. Proptest's
//! `TestRunner` is driven from `main`, so this runs as a plain program, and a failing case is
//! shrunk to a minimal one and reported in a panic.
//!
//! ```sh
//! cargo run --release --example property_test
//! ```

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tdsnn::engine::coding::{is_tie, spike_time, time_gain};
use tdsnn::prelude::*;

const CASES: u32 = 1000;

/// One drawn case: a network 'inputs -> hidden[0] -> hidden[1] -> classes', `L`, an input.
#[derive(Debug, Clone)]
struct Case {
    dnn: Dnn,
    leak: f64,
    input: Vec<f32>,
}

/// Random weights (PyTorch layout `[out][in]`) and biases for a dense layer.
fn dense(inputs: usize, outputs: usize) -> impl Strategy<Value = DnnLayer> {
    let weights = prop::collection::vec(-1.0f32..1.0, inputs * outputs);
    let bias = prop::option::of(prop::collection::vec(-0.5f32..0.5, outputs));
    (weights, bias).prop_map(move |(weights, bias)| DnnLayer::Dense {
        outputs: outputs as u32,
        weights,
        bias,
    })
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..10, 1usize..16, 1usize..16, 2usize..5).prop_flat_map(|(n, h0, h1, classes)| {
        let layers = (dense(n, h0), dense(h0, h1), dense(h1, classes));
        let input = prop::collection::vec(0.0f32..1.0, n);
        (layers, 1.0f64..8.0, input).prop_map(move |((a, b, c), leak, input)| {
            let layers = vec![a, DnnLayer::Relu, b, DnnLayer::Relu, c];
            let dnn = Dnn::new(Shape::flat(n as u32), layers).expect("the shapes are consistent");
            Case { dnn, leak, input }
        })
    })
}

fn main() {
    let (neurons, ties) = (Cell::new(0u64), Cell::new(0u64));
    // No failure persistence: an example has no source tree to save regressions in.
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(), |Case { dnn, leak, input }| {
        let graph = convert(&dnn, leak, TilPolicy::Dynamic).expect("an MLP with ReLUs converts");
        let plan = Plan::new(graph, TickMode::ClosedForm);
        let record = plan
            .simulator()
            .run(&input, &mut ())
            .expect("a finite input runs");
        let graph = plan.graph();

        // By hand: every hidden layer (all but the output, which does not fire).
        for k in 0..graph.layers().len() - 1 {
            let rec = &record.layers[k];
            let release = rec.release.expect("a dense layer releases");
            // What each input spike is worth: exp(t / L), t relative to the frame origin.
            let gains: Vec<f64> = record
                .spikes_of(graph.source(k))
                .iter()
                .map(|&t| time_gain(t - rec.frame_origin, leak))
                .collect();
            let sums = audit::pre_activations(graph, k, &[&gains]).expect("a dense layer");
            for (j, (&fired, &(a, _))) in rec.spikes.iter().zip(&sums).enumerate() {
                neurons.set(neurons.get() + 1);
                // Where L ln(A + 1) is within 1e-9 of a step, rounding may pick either side.
                if is_tie(a, leak, Tolerance::DEFAULT.tie_window) {
                    ties.set(ties.get() + 1);
                    continue;
                }
                let expected = release + spike_time(a, leak);
                prop_assert_eq!(fired, expected, "layer {} neuron {}: A = {}", k, j, a);
            }
        }

        // The audit checks the same and more (releases, frames, logits, the class).
        let report = audit::audit(graph, &input, &record, Tolerance::default())
            .expect("the record fits the graph");
        prop_assert!(report.passed(), "{:?}", report.mismatches);
        // And the class is the f64 reference DNN's, unless the top two logits tie.
        let reference = reference_forward(&dnn, &input, leak).expect("the same input");
        prop_assert!(report.class_tie || record.output.class == reference.class);
        Ok(())
    });
    if let Err(failure) = result {
        panic!("property failed: {failure}");
    }
    println!(
        "{CASES} cases passed: {} hidden neurons fired at T(A) after their release ({} ties skipped)",
        neurons.get(),
        ties.get()
    );
}
