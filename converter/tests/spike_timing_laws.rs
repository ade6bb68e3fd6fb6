//! The laws of docs/semantics.md on random networks (proptest, 256 cases each): every spike lands where
//! equation (10) says, given the spikes that reached its layer, under both `T_il` policies and
//! both tick modes; and the SNN's class is the reference DNN's.
//!
//! Tie window: a neuron whose `L * ln(A + 1)` lies within 1e-9 of an integer is a float tie,
//! counted and reported (run with `--nocapture` to see the tallies), never a pass or a fail.

mod common;

use std::cell::Cell;

use common::{case, Case};
use proptest::prelude::{prop_assert, prop_assert_eq};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tdsnn_converter::reference_forward;
use tdsnn_engine::audit::{self, Tolerance};
use tdsnn_engine::{ErrorKind, Params, Record, Simulate, Simulator, TickMode, TilPolicy};

const CASES: u32 = 256;

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        ..Config::default()
    })
}

/// The dynamic-policy run of `case`, and its longest `T_il`.
fn dynamic_run(case: &Case, mode: TickMode) -> (Record, u32) {
    let graph = case.graph(TilPolicy::Dynamic);
    let record = Simulator::new(graph.clone(), mode)
        .run(&case.input, &mut ())
        .unwrap();
    let longest = record.layers.iter().filter_map(|l| l.t_il()).max().unwrap();
    (record, longest)
}

/// Runs `case` under the dynamic policy, then under a fixed `T_il` that covers every layer.
fn runs(case: &Case, mode: TickMode) -> Vec<(TilPolicy, Record)> {
    let (dynamic, longest) = dynamic_run(case, mode);
    let fixed = TilPolicy::Fixed(longest + case.fixed_slack);
    let graph = case.graph(fixed);
    let record = Simulator::new(graph.clone(), mode)
        .run(&case.input, &mut ())
        .unwrap();
    vec![(TilPolicy::Dynamic, dynamic), (fixed, record)]
}

#[test]
fn every_spike_lands_where_equation_10_says() {
    let (neurons, ties, differing) = (Cell::new(0u64), Cell::new(0u64), Cell::new(0u64));
    runner()
        .run(&case(), |case| {
            for mode in [TickMode::Explicit, TickMode::ClosedForm] {
                for (til, record) in runs(&case, mode) {
                    let report =
                        audit::audit(&case.graph(til), &case.input, &record, Tolerance::DEFAULT)
                            .unwrap();
                    prop_assert!(report.passed(), "{mode:?} {til:?}: {report:#?}");
                    neurons.set(neurons.get() + report.neurons());
                    ties.set(ties.get() + report.ties());
                    differing.set(
                        differing.get()
                            + report.layers.iter().map(|l| l.tie_differences).sum::<u64>(),
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    println!(
        "equation (10): {} neurons checked, {} within the tie window ({} of them off by a step)",
        neurons.get(),
        ties.get(),
        differing.get()
    );
}

#[test]
fn tick_modes_give_identical_records() {
    runner()
        .run(&(case(), -1e-3f64..=0.0), |(case, threshold)| {
            // Another firing threshold (the laws' is 0): the modes must still agree.
            let graph = case.graph(TilPolicy::Dynamic);
            let graph = graph
                .clone()
                .with_params(Params {
                    threshold,
                    ..*graph.params()
                })
                .unwrap();
            let e = Simulator::new(graph.clone(), TickMode::Explicit)
                .run(&case.input, &mut ())
                .unwrap();
            let c = Simulator::new(graph.clone(), TickMode::ClosedForm)
                .run(&case.input, &mut ())
                .unwrap();
            prop_assert_eq!(e.digest(), c.digest(), "threshold {}", threshold);
            let explicit = runs(&case, TickMode::Explicit);
            let closed = runs(&case, TickMode::ClosedForm);
            for ((til, e), (_, c)) in explicit.iter().zip(&closed) {
                prop_assert_eq!(&e.input, &c.input);
                prop_assert_eq!(
                    e.output
                        .potentials
                        .iter()
                        .map(|v| v.to_bits())
                        .collect::<Vec<_>>(),
                    c.output
                        .potentials
                        .iter()
                        .map(|v| v.to_bits())
                        .collect::<Vec<_>>()
                );
                for (k, (le, lc)) in e.layers.iter().zip(&c.layers).enumerate() {
                    prop_assert_eq!(&le.spikes, &lc.spikes, "layer {} under {:?}", k, til);
                    prop_assert_eq!(le.release, lc.release);
                    prop_assert_eq!(le.ops.paper, lc.ops.paper, "paper counts, layer {}", k);
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_fixed_t_il_shorter_than_needed_is_a_late_spike_error() {
    runner()
        .run(&case(), |case| {
            let (_, longest) = dynamic_run(&case, TickMode::ClosedForm);
            if longest == 0 {
                return Ok(());
            }
            let short = case.graph(TilPolicy::Fixed(longest - 1));
            for mode in [TickMode::Explicit, TickMode::ClosedForm] {
                let err = Simulator::new(short.clone(), mode)
                    .run(&case.input, &mut ())
                    .unwrap_err();
                prop_assert!(
                    matches!(err.kind(), ErrorKind::LateSpike { .. }),
                    "{:?}: {}",
                    mode,
                    err
                );
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn output_class_matches_the_reference_dnn() {
    let (agree, tied) = (Cell::new(0u32), Cell::new(0u32));
    runner()
        .run(&case(), |case| {
            let reference = reference_forward(&case.dnn, &case.input, case.leak)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for (til, record) in runs(&case, TickMode::ClosedForm) {
                let report =
                    audit::audit(&case.graph(til), &case.input, &record, Tolerance::DEFAULT)
                        .unwrap();
                let tie_upstream = report.layers.iter().any(|l| l.tie_differences > 0);
                if record.output.class == reference.class {
                    agree.set(agree.get() + 1);
                } else {
                    prop_assert!(
                        tie_upstream || report.class_tie,
                        "class {} != reference {} with no tie; logits {:?} vs {:?}",
                        record.output.class,
                        reference.class,
                        record.output.logits,
                        reference.logits
                    );
                    tied.set(tied.get() + 1);
                }
            }
            Ok(())
        })
        .unwrap();
    println!(
        "argmax: {} runs agree with the reference DNN, {} differ at a tie",
        agree.get(),
        tied.get()
    );
}
