//! Same graph and input, the same record bit for bit: across repeated runs of one simulator
//! (its buffers reused), across fresh simulators, simulators of one shared plan on another
//! thread, simulators cutting each layer across 2 to 5 threads, and in both tick modes.

mod common;

use common::case;
use proptest::prelude::*;
use tdsnn_engine::{Plan, Simulate, TickMode, TilPolicy};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn records_are_bit_identical_across_runs(case in case(), threads in 2usize..=5) {
        let plan = Plan::new(case.graph(TilPolicy::Dynamic), TickMode::Explicit);
        for mode in [TickMode::Explicit, TickMode::ClosedForm] {
            let plan = plan.with_mode(mode);
            let mut sim = plan.simulator();
            let first = sim.run(&case.input, &mut ()).unwrap();
            // Run another input through the same simulator in between, then repeat.
            let other: Vec<f32> = case.input.iter().rev().copied().collect();
            sim.run(&other, &mut ()).unwrap();
            let again = sim.run(&case.input, &mut ()).unwrap();
            let fresh = plan.simulator().run(&case.input, &mut ()).unwrap();
            let forked = std::thread::scope(|s| {
                s.spawn(|| plan.simulator().run(&case.input, &mut ())).join().unwrap()
            })
            .unwrap();
            let cut = plan.simulator().with_threads(threads).unwrap().run(&case.input, &mut ()).unwrap();
            prop_assert_eq!(first.digest(), again.digest());
            prop_assert_eq!(&first, &cut);
            prop_assert_eq!(&first, &again);
            prop_assert_eq!(&first, &fresh);
            prop_assert_eq!(&first, &forked);
        }
    }
}
