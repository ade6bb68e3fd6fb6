//! One suite over every path of the engine, through the `Simulate` trait: a record run into
//! reused buffers is the record of a fresh run; an input given as spike times gives the record
//! of the values that encode to them; the potentials an observer sees at each release are
//! `-exp(-T_il / L) * A_j` (the output layer's `exp(-T_il / L) * A_j`), the same bits on both
//! paths; errors on inputs of the wrong kind.

mod common;

use common::case;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use tdsnn_engine::audit::pre_activations;
use tdsnn_engine::coding::{decay, time_gain};
use tdsnn_engine::record::NOT_FIRED;
use tdsnn_engine::{
    ErrorKind, Input, Layer, Plan, Record, Simulate, SpikeObserver, TickMode, TilPolicy,
};

/// Every callback in the order it came: releases and potentials, the first spike of each layer.
#[derive(Debug, Default, PartialEq)]
struct Journal {
    /// (layer, release time, potentials at the release).
    releases: Vec<(usize, u32, Vec<f64>)>,
    /// Whether a potentials callback ever came other than right after its own release.
    out_of_place: bool,
}

impl SpikeObserver for Journal {
    fn wants_potentials(&self) -> bool {
        true
    }

    fn release(&mut self, layer: usize, time: u32, _t_il: u32) {
        self.releases.push((layer, time, Vec::new()));
    }

    fn potentials(&mut self, layer: usize, potentials: &[f64]) {
        match self.releases.last_mut() {
            Some((k, _, v)) if *k == layer && v.is_empty() => v.extend_from_slice(potentials),
            _ => self.out_of_place = true,
        }
    }
}

/// The checks every path must pass on one case.
fn check_path(
    sim: &mut impl Simulate,
    input: &[f32],
    other: &[f32],
) -> Result<Journal, TestCaseError> {
    let fresh = sim.run(input, &mut ()).unwrap();
    // Buffers grown by another input first, then reused.
    let mut reused = Record::default();
    sim.run_into(other, &mut (), &mut reused).unwrap();
    sim.run_into(input, &mut (), &mut reused).unwrap();
    prop_assert_eq!(&reused, &fresh);
    // The same spikes given as times.
    let replayed = sim.run(Input::SpikeTimes(&fresh.input), &mut ()).unwrap();
    prop_assert_eq!(&replayed, &fresh);
    // The potentials at every release, against the f64 pre-activations.
    let mut journal = Journal::default();
    let observed = sim.run(input, &mut journal).unwrap();
    prop_assert_eq!(&observed, &fresh);
    prop_assert!(
        !journal.out_of_place,
        "potentials reported away from their release"
    );
    let graph = sim.graph();
    let leak = graph.params().leak;
    let synaptic = graph.layers().iter().filter(|l| l.is_synaptic()).count();
    prop_assert_eq!(journal.releases.len(), synaptic);
    for (k, release, v) in &journal.releases {
        let rec = &fresh.layers[*k];
        prop_assert_eq!(Some(*release), rec.release);
        let gains: Vec<f64> = fresh
            .spikes_of(graph.source(*k))
            .iter()
            .map(|&t| time_gain(t - rec.frame_origin, leak))
            .collect();
        let a = pre_activations(graph, *k, &[&gains]).unwrap();
        let scale = decay(rec.t_il().unwrap(), leak);
        let sign = if matches!(graph.layers()[*k], Layer::Output(_)) {
            1.0
        } else {
            -1.0
        };
        prop_assert_eq!(v.len(), a.len());
        for (j, (&v, &(a, terms))) in v.iter().zip(&a).enumerate() {
            let expected = sign * scale * a;
            prop_assert!(
                (v - expected).abs() <= 1e-9 * scale * (terms + 1.0),
                "layer {k} neuron {j}: potential {v}, expected {expected}"
            );
        }
        if *k == graph.layers().len() - 1 {
            prop_assert_eq!(v, &fresh.output.potentials);
        }
    }
    Ok(journal)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_path_obeys_the_same_contract(case in case()) {
        let other: Vec<f32> = case.input.iter().rev().copied().collect();
        // A fixed `T_il` that every layer's dynamic one fits under, for both inputs.
        let longest = [&case.input, &other]
            .iter()
            .map(|x| common::longest_t_il(case.graph(TilPolicy::Dynamic), x))
            .max()
            .unwrap();
        for til in [TilPolicy::Dynamic, TilPolicy::Fixed(longest + case.fixed_slack)] {
            for mode in [TickMode::Explicit, TickMode::ClosedForm] {
                let plan = Plan::new(case.graph(til), mode);
                let fast = check_path(&mut plan.simulator(), &case.input, &other)?;
                let slow = check_path(&mut plan.event_by_event(), &case.input, &other)?;
                // The same potentials, bit for bit, on both paths.
                prop_assert_eq!(fast, slow);
            }
        }
    }
}

#[test]
fn inputs_of_the_wrong_kind_are_refused_by_every_path() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let case = case().new_tree(&mut runner).unwrap().current();
    let plan = Plan::new(case.graph(TilPolicy::Dynamic), TickMode::ClosedForm);
    let n = case.input.len();
    let never = vec![NOT_FIRED; n];
    let short = vec![0u32; n - 1];
    let nan = vec![f32::NAN; n];
    fn refused(sim: &mut impl Simulate, input: Input<'_>) -> String {
        match sim.run(input, &mut ()).as_ref().map_err(|e| e.kind()) {
            Err(ErrorKind::Input { what }) => what.clone(),
            other => panic!("{input:?} gave {other:?}, not an input error"),
        }
    }
    for input in [
        Input::SpikeTimes(&never),
        Input::SpikeTimes(&short),
        Input::Values(&nan),
        Input::Values(&case.input[1..]),
    ] {
        let fast = refused(&mut plan.simulator(), input);
        let slow = refused(&mut plan.event_by_event(), input);
        assert_eq!(fast, slow);
    }
    let what = refused(&mut plan.simulator(), Input::SpikeTimes(&never));
    assert!(
        what.contains("index 0") && what.contains("never fired"),
        "{what}"
    );
    let what = refused(&mut plan.simulator(), Input::SpikeTimes(&short));
    assert!(
        what.contains(&format!("{} spike times given", n - 1)),
        "{what}"
    );
}
