//! Residual networks end to end (proptest over random residual DNNs: a stem, blocks with
//! identity and projection shortcuts, joins after max-pools, concatenations): converted and
//! simulated on both paths, both tick modes, dynamic and fixed `T_il`, every hidden neuron
//! fires `T(A)` steps after its release, `A` the f64 reference DNN's pre-activation with `G`
//! on every synapse group (the shortcut's too); the SNN's class is the reference's; the audit
//! passes. Ties (`L ln(A + 1)` within 1e-9 of a step) are counted and bounded.

mod common;

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tdsnn_converter::{layer_map, reference_forward};
use tdsnn_engine::audit::{self, Tolerance};
use tdsnn_engine::coding::{is_tie, spike_time};
use tdsnn_engine::{Layer, Plan, Record, Simulate, TickMode, TilPolicy};

const CASES: u32 = 128;

#[test]
fn residual_networks_fire_at_t_of_the_reference() {
    let (cases, neurons, ties, joins) = (
        Cell::new(0u32),
        Cell::new(0u64),
        Cell::new(0u64),
        Cell::new(0u64),
    );
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        ..Config::default()
    });
    runner
        .run(&common::residual_case(), |case| {
            cases.set(cases.get() + 1);
            let reference = reference_forward(&case.dnn, &case.input, case.leak).unwrap();
            let map = layer_map(&case.dnn);
            let longest = common::longest_t_il(case.graph(TilPolicy::Dynamic), &case.input);
            for til in [
                TilPolicy::Dynamic,
                TilPolicy::Fixed(longest + case.fixed_slack),
            ] {
                let graph = case.graph(til);
                joins.set(
                    joins.get()
                        + (0..graph.layers().len())
                            .filter(|&k| !graph.groups(k).is_empty())
                            .count() as u64,
                );
                let mut first: Option<Record> = None;
                for mode in [TickMode::Explicit, TickMode::ClosedForm] {
                    let plan = Plan::new(graph.clone(), mode);
                    let fast = plan.simulator().run(&case.input, &mut ()).unwrap();
                    let slow = plan.event_by_event().run(&case.input, &mut ()).unwrap();
                    common::assert_same(&fast, &slow)?;
                    // Each layer cut across three threads: the same record.
                    let cut = plan
                        .simulator()
                        .with_threads(3)
                        .unwrap()
                        .run(&case.input, &mut ())
                        .unwrap();
                    prop_assert_eq!(&cut, &fast);
                    let report =
                        audit::audit(&graph, &case.input, &fast, Tolerance::DEFAULT).unwrap();
                    prop_assert!(report.passed(), "{mode:?} {til:?}: {report:#?}");
                    if let Some(f) = &first {
                        prop_assert_eq!(f.digest(), fast.digest());
                    }
                    first = Some(fast);
                }
                let record = first.unwrap();
                // Against the reference DNN: T(A) after the release, in network order; once
                // a neuron ties, what it feeds may follow either side, so stop there.
                let mut tied = false;
                for (k, g) in map.iter().enumerate() {
                    let (Some(g), Some(a)) = (*g, reference.layers[k].pre_activations()) else {
                        continue;
                    };
                    if matches!(graph.layers()[g], Layer::Output(_)) {
                        continue;
                    }
                    let rec = &record.layers[g];
                    let release = rec.release.unwrap();
                    for (j, &aj) in a.iter().enumerate() {
                        neurons.set(neurons.get() + 1);
                        if is_tie(aj, case.leak, Tolerance::DEFAULT.tie_window) {
                            ties.set(ties.get() + 1);
                            tied = true;
                            continue;
                        }
                        if !tied {
                            prop_assert_eq!(
                                rec.spikes[j] - release,
                                spike_time(aj, case.leak),
                                "DNN layer {} (graph {}), neuron {}, A = {}",
                                k,
                                g,
                                j,
                                aj
                            );
                        }
                    }
                }
                if !tied {
                    prop_assert_eq!(record.output.class, reference.class);
                }
            }
            Ok(())
        })
        .unwrap();
    println!(
        "{} cases, {} neurons against the reference, {} ties, {} joins",
        cases.get(),
        neurons.get(),
        ties.get(),
        joins.get()
    );
    assert_eq!(cases.get(), CASES);
    assert!(
        joins.get() >= 2 * u64::from(CASES),
        "every graph (two policies per case) joins at least once"
    );
    assert!(
        ties.get() * 1000 <= neurons.get(),
        "{} ties among {} neurons",
        ties.get(),
        neurons.get()
    );
}
