//! The fast path is an optimisation, not a second semantics: on the property-test networks
//! (conv with stride and padding, max- and average-pool, flatten, dense, random leaks and
//! thresholds, both `T_il` policies, both tick modes) [`Simulator`] gives the same record as
//! the straightforward [`EventByEvent`] path, bit for bit: every spike time, frame origin,
//! release, output potential, logit and class, and the paper's operation counts. Only the
//! engine's own work differs: the fast path delivers no spike that fires at its frame origin.

mod common;

use common::{assert_same, case, Case};
use proptest::prelude::*;
use tdsnn_engine::{EventByEvent, Params, Simulate, Simulator, SpikeObserver, TickMode, TilPolicy};

const MODES: [TickMode; 2] = [TickMode::Explicit, TickMode::ClosedForm];

/// Every spike and release an observer sees, per layer, in the order seen.
#[derive(Default)]
struct Log {
    input: Vec<(u32, u32)>,
    layers: Vec<Vec<(u32, u32)>>,
    releases: Vec<(usize, u32, u32)>,
}

impl SpikeObserver for Log {
    fn input_spike(&mut self, neuron: u32, time: u32) {
        self.input.push((neuron, time));
    }
    fn spike(&mut self, layer: usize, neuron: u32, time: u32) {
        if self.layers.len() <= layer {
            self.layers.resize(layer + 1, Vec::new());
        }
        self.layers[layer].push((neuron, time));
    }
    fn release(&mut self, layer: usize, time: u32, t_il: u32) {
        self.releases.push((layer, time, t_il));
    }
}

/// Both paths under `til` and `threshold`, the fast one cutting each layer across `threads`.
fn check(case: &Case, til: TilPolicy, threshold: f64, threads: usize) -> Result<(), TestCaseError> {
    let graph = case.graph(til);
    let params = Params {
        threshold,
        ..*graph.params()
    };
    let graph = graph.with_params(params).unwrap();
    for mode in MODES {
        let fast = Simulator::new(graph.clone(), mode)
            .with_threads(threads)
            .unwrap()
            .run(&case.input, &mut ());
        let slow = EventByEvent::new(graph.clone(), mode).run(&case.input, &mut ());
        match (fast, slow) {
            (Ok(f), Ok(s)) => assert_same(&f, &s)?,
            (Err(f), Err(s)) => prop_assert_eq!(f.to_string(), s.to_string()),
            (f, s) => prop_assert!(false, "{mode:?}: fast {f:?}, event by event {s:?}"),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn same_records_under_every_policy_mode_and_threshold(
        case in case(),
        threshold in prop_oneof![2 => Just(0.0), 1 => -0.5f64..0.0],
        short in 0u32..=2,
        threads in 1usize..=3,
    ) {
        check(&case, TilPolicy::Dynamic, threshold, threads)?;
        let longest = common::longest_t_il(case.graph(TilPolicy::Dynamic), &case.input);
        // A fixed T_il that covers every layer, and one that may be too short (both paths
        // must then fail alike).
        check(&case, TilPolicy::Fixed(longest + case.fixed_slack), threshold, threads)?;
        check(&case, TilPolicy::Fixed(longest.saturating_sub(short)), threshold, threads)?;
    }

    /// Both paths report every spike and release to an observer, in both tick modes: the same
    /// events, each layer's spikes in time order.
    #[test]
    fn observers_see_the_same_events(case in case()) {
        let graph = case.graph(TilPolicy::Dynamic);
        for mode in MODES {
        let (mut fast, mut slow) = (Log::default(), Log::default());
        Simulator::new(graph.clone(), mode).run(&case.input, &mut fast).unwrap();
        EventByEvent::new(graph.clone(), mode).run(&case.input, &mut slow).unwrap();
        prop_assert_eq!(&fast.releases, &slow.releases);
        let sorted = |mut v: Vec<(u32, u32)>| {
            v.sort_by_key(|&(n, t)| (t, n));
            v
        };
        prop_assert_eq!(&fast.input, &sorted(slow.input.clone()));
        prop_assert_eq!(fast.layers.len(), slow.layers.len());
        for (f, s) in fast.layers.iter().zip(&slow.layers) {
            prop_assert!(f.windows(2).all(|w| w[0].1 <= w[1].1), "fast: not in time order");
            prop_assert_eq!(f, &sorted(s.clone()));
        }
        }
    }
}
