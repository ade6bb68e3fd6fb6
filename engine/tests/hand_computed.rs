//! Named cases worked by hand through equations (7)-(10): the edges of the spike-time
//! function, a bias-only layer, a late spike under a fixed `T_il`, and exact operation counts.

use tdsnn_engine::coding::{decay, g, spike_time, tick_weight};
use tdsnn_engine::{
    ErrorKind, EventByEvent, GraphBuilder, Record, Shape, Simulate, Simulator, TickMode, TilPolicy,
};

const L: f64 = 5.0;
const MODES: [TickMode; 2] = [TickMode::Explicit, TickMode::ClosedForm];

/// One input neuron of value `x` (spiking at `T(x)`) into one hidden neuron with DNN weight
/// `w` and bias `b`, read out by one output neuron.
fn one_neuron(x: f32, w: f32, b: f32, mode: TickMode) -> Record {
    let graph = GraphBuilder::new(Shape::flat(1), L)
        .dense(1, vec![-w], Some(vec![-f64::from(b) / g(1.0, L)]))
        .output(1, vec![1.0], None)
        .build()
        .unwrap();
    Simulator::new(graph.clone(), mode)
        .run(&[x], &mut ())
        .unwrap()
}

fn relative_spike(r: &Record) -> u32 {
    r.layers[0].spikes[0] - r.layers[0].release.unwrap()
}

#[test]
fn negative_and_zero_activations_fire_at_release() {
    for mode in MODES {
        // A = w * G(0) + b = 1 - 3 < 0.
        let r = one_neuron(0.0, 1.0, -3.0, mode);
        assert_eq!(relative_spike(&r), 0, "A < 0, {mode:?}");
        // A = 0 exactly: two silent inputs (G(0) = 1) with DNN weights 1 and -1, no bias.
        let graph = GraphBuilder::new(Shape::flat(2), L)
            .dense(1, vec![-1.0, 1.0], None)
            .output(1, vec![1.0], None)
            .build()
            .unwrap();
        let r = Simulator::new(graph.clone(), mode)
            .run(&[0.0, 0.0], &mut ())
            .unwrap();
        assert_eq!(relative_spike(&r), 0, "A = 0, {mode:?}");
    }
}

#[test]
fn tiny_positive_activation_fires_at_step_one() {
    for mode in MODES {
        // G(0) = 1, so A = 1 + (-1 + 1e-6) = 1e-6 (to f32 rounding of the bias): T(A) = 1.
        let r = one_neuron(0.0, 1.0, -1.0 + 1e-6, mode);
        assert_eq!(relative_spike(&r), 1, "{mode:?}");
    }
}

#[test]
fn layer_driven_by_its_bias_alone() {
    for mode in MODES {
        // All weights zero: the hidden neurons' only input is the bias neuron, so A = b.
        let biases = [0.5f32, 2.0, -1.0, 7.0];
        let g1 = g(1.0, L);
        let graph = GraphBuilder::new(Shape::flat(3), L)
            .dense(
                4,
                vec![0.0; 12],
                Some(biases.iter().map(|&b| -f64::from(b) / g1).collect()),
            )
            .output(2, vec![1.0; 8], None)
            .build()
            .unwrap();
        let r = Simulator::new(graph.clone(), mode)
            .run(&[0.0, 0.0, 0.0], &mut ())
            .unwrap();
        let hidden = &r.layers[0];
        // Inputs spike at 0, the bias at T(1) = ceil(5 ln 2) = ceil(3.47) = 4: the release
        // is the bias spike.
        assert_eq!(hidden.release, Some(4));
        // T(b), by hand: ceil(5 ln 1.5) = ceil(2.03) = 3, ceil(5 ln 3) = ceil(5.49) = 6,
        // 0 for b <= 0, ceil(5 ln 8) = ceil(10.40) = 11.
        let relative: Vec<u32> = hidden.spikes.iter().map(|t| t - 4).collect();
        assert_eq!(relative, [3, 6, 0, 11], "{mode:?}");
    }
}

#[test]
fn late_spike_with_fixed_t_il_is_an_error() {
    // x = 0.9 spikes at T(0.9) = ceil(5 ln 1.9) = 4; a fixed T_il of 3 releases before it.
    assert_eq!(spike_time(0.9, L), 4);
    let graph = GraphBuilder::new(Shape::flat(2), L)
        .dense(1, vec![-1.0, -1.0], None)
        .output(1, vec![1.0], None)
        .til(TilPolicy::Fixed(3))
        .build()
        .unwrap();
    for mode in MODES {
        let err = Simulator::new(graph.clone(), mode)
            .run(&[0.1, 0.9], &mut ())
            .unwrap_err();
        match err.kind() {
            ErrorKind::LateSpike {
                layer,
                time,
                release,
                t_il,
                origin,
            } => {
                assert_eq!((*layer, *time, *release, *t_il), (0, 4, 3, 3));
                assert_eq!(origin, "input neuron 1");
            }
            other => panic!("expected a late spike, got {other:?}"),
        }
    }
    // A fixed T_il that covers every spike gives the same spike times relative to each
    // release as the dynamic policy.
    let params = tdsnn_engine::Params {
        til: TilPolicy::Dynamic,
        ..*graph.params()
    };
    let dyn_graph = graph.clone().with_params(params).unwrap();
    let d = Simulator::new(dyn_graph.clone(), TickMode::Explicit)
        .run(&[0.1, 0.9], &mut ())
        .unwrap();
    let params = tdsnn_engine::Params {
        til: TilPolicy::Fixed(20),
        ..*graph.params()
    };
    let fixed_graph = graph.with_params(params).unwrap();
    let f = Simulator::new(fixed_graph.clone(), TickMode::Explicit)
        .run(&[0.1, 0.9], &mut ())
        .unwrap();
    assert_eq!(f.layers[0].release, Some(20));
    assert_eq!(f.layers[1].release, Some(40));
    assert_eq!(relative_spike(&f), relative_spike(&d));
}

#[test]
fn late_bias_with_fixed_t_il_is_an_error() {
    // The bias neuron spikes at T(1) = 4 > 2.
    let graph = GraphBuilder::new(Shape::flat(1), L)
        .dense(1, vec![-1.0], Some(vec![0.1]))
        .output(1, vec![1.0], None)
        .til(TilPolicy::Fixed(2))
        .build()
        .unwrap();
    let err = Simulator::new(graph.clone(), TickMode::ClosedForm)
        .run(&[0.0], &mut ())
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::LateSpike { origin, .. } if origin == "the bias neuron"),
        "{err}"
    );
}

/// Two inputs x = (1, 0) -> one hidden neuron (W = (0.5, 2), b = 0.3) -> two outputs
/// (W = (1, -1), b = (0, 0.5)), L = 5, worked through equations (7)-(9) by hand.
fn two_layer() -> tdsnn_engine::Graph {
    let g1 = g(1.0, L);
    GraphBuilder::new(Shape::flat(2), L)
        .dense(1, vec![-0.5, -2.0], Some(vec![-0.3 / g1]))
        .output(2, vec![1.0, -1.0], Some(vec![0.0, 0.5 / g1]))
        .build()
        .unwrap()
}

#[test]
fn two_layer_example_through_equations_7_to_9() {
    // Input spikes: T(1) = ceil(5 ln 2) = ceil(3.47) = 4, T(0) = 0. Bias at T(1) = 4.
    // Dynamic release: R_1 = max(4, 0, 4) = 4, so T_il = 4.
    let (r1, t_il) = (4u32, 4u32);
    let g1 = g(1.0, L);
    let (w, b) = (0.5f32 as f64, 2.0f64);
    let bias_w = f64::from(-0.3 / g1 as f32);
    // Potential at release, equation (4): P = sum_i -W_i exp(-(T_il - t_i)/L) + bias.
    let p = -w * decay(r1 - 4, L) - b * decay(r1, L) + bias_w * decay(r1 - 4, L);
    // Equation (8): -P = A exp(-T_il/L), with A = 0.5 G(1) + 2 G(0) + 0.3 = 3.41277...
    let a = 0.5 * g1 + 2.0 + 0.3;
    assert!((-p - a * decay(t_il, L)).abs() < 1e-6, "P = {p}, A = {a}");
    // Equations (7) and (9): T_o = ceil(L ln(-P (1 - e^{-1/L}) / w_tick + 1)) = T(A) = 8.
    let w_tick = tick_weight(t_il, L);
    let t_o = (L * ((-p) * (1.0 - decay(1, L)) / w_tick + 1.0).ln()).ceil() as u32;
    assert_eq!(t_o, 8);
    assert_eq!(spike_time(a, L), 8);
    for mode in MODES {
        let r = Simulator::new(two_layer(), mode)
            .run(&[1.0, 0.0], &mut ())
            .unwrap();
        assert_eq!(r.input, vec![4, 0]);
        assert_eq!(r.layers[0].release, Some(4));
        assert_eq!(r.layers[0].spikes, vec![12]);
        // Output: origin 4, inputs at 12 (relative 8), bias at 8: R_out = 12, T_il = 8.
        assert_eq!(r.layers[1].frame_origin, 4);
        assert_eq!(r.layers[1].release, Some(12));
        let gh = g(a, L); // = exp(8/5)
        let expected = [gh, -gh + 0.5];
        for (l, e) in r.output.logits.iter().zip(expected) {
            assert!(
                (l - e).abs() < 1e-6,
                "logits {:?} vs {expected:?}",
                r.output.logits
            );
        }
        assert_eq!(r.output.class, 0);
    }
}

#[test]
fn operation_counts_of_the_two_layer_example() {
    let explicit = Simulator::new(two_layer(), TickMode::Explicit)
        .run(&[1.0, 0.0], &mut ())
        .unwrap();
    let closed = Simulator::new(two_layer(), TickMode::ClosedForm)
        .run(&[1.0, 0.0], &mut ())
        .unwrap();
    for r in [&explicit, &closed] {
        let (h, o) = (&r.layers[0].ops.paper, &r.layers[1].ops.paper);
        // Hidden: 2 input synapses + 1 bias; 8 ticks; leak from 0 until it fires at 12.
        assert_eq!(
            (
                h.synaptic_adds,
                h.tick_adds,
                h.pool_comparisons,
                h.leak_mults
            ),
            (3, 8, 0, 12)
        );
        // Output: 1 spike x 2 synapses + 2 bias; no ticks; 2 neurons x T_il = 8 steps.
        assert_eq!(
            (
                o.synaptic_adds,
                o.tick_adds,
                o.pool_comparisons,
                o.leak_mults
            ),
            (4, 0, 0, 16)
        );
    }
    // The engine's own work. Hidden neuron: input 0 spikes at 4 (delivered), input 1 at the
    // frame origin (worth exactly zero beyond the row sum: the fast path skips it, the
    // event-by-event path delivers it), the bias at 4; one multiplication at the release,
    // then one per explicit tick.
    let e = explicit.layers[0].ops.engine;
    assert_eq!(
        (e.synaptic_adds, e.tick_adds, e.leak_mults, e.spikes),
        (2, 8, 9, 1)
    );
    let c = closed.layers[0].ops.engine;
    assert_eq!(
        (c.synaptic_adds, c.tick_adds, c.leak_mults, c.spikes),
        (2, 0, 1, 1)
    );
    for mode in MODES {
        let r = EventByEvent::new(two_layer(), mode)
            .run(&[1.0, 0.0], &mut ())
            .unwrap();
        assert_eq!(r.layers[0].ops.engine.synaptic_adds, 3, "{mode:?}");
        assert_eq!(
            r.layers[0].ops.paper, closed.layers[0].ops.paper,
            "{mode:?}"
        );
    }
    // Output neurons: the spike at 12 and the bias at 8, then one multiplication each at the
    // release.
    for r in [&explicit, &closed] {
        let o = r.layers[1].ops.engine;
        assert_eq!(
            (o.synaptic_adds, o.tick_adds, o.leak_mults, o.spikes),
            (4, 0, 2, 0)
        );
    }
}

#[test]
fn an_inhibition_time_beyond_600_l_is_an_error_not_an_underflow() {
    // Fixed: rejected when the graph is built (w_tick = e^{-T_il/L} would underflow).
    let err = GraphBuilder::new(Shape::flat(1), L)
        .dense(1, vec![-1.0], None)
        .output(1, vec![1.0], None)
        .til(TilPolicy::Fixed(3001))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::TilTooLong {
                layer: None,
                t_il: 3001,
                max: 3000
            }
        ),
        "{err}"
    );
    // Dynamic: a chain of 1 -> 1 dense layers with DNN weight 3e38, L = 1, input f32::MAX
    // (spike at T = 89). Each layer adds about 88 to the next spike time: the releases are
    // at 89, 177, 265, 353, 441, 529 steps after their origins, and the output layer's
    // would be about 620 > 600.
    let mut b = GraphBuilder::new(Shape::flat(1), 1.0);
    for _ in 0..6 {
        b = b.dense(1, vec![-3e38], None);
    }
    let graph = b.output(1, vec![1.0], None).build().unwrap();
    for mode in MODES {
        let err = Simulator::new(graph.clone(), mode)
            .run(&[f32::MAX], &mut ())
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::TilTooLong { layer: Some(6), t_il, max: 600 } if *t_il > 600),
            "{mode:?}: {err}"
        );
    }
}

/// With a fixed `T_il` too short for several layers, both paths name the same late spike: the
/// lowest layer's first (here layer 0's bias neuron at `T(1) = 4`), though a later layer's
/// (the output's, fed by layer 0's spikes from step 1) comes earlier in time.
#[test]
fn the_lowest_layers_late_spike_is_the_error_on_both_paths() {
    let graph = GraphBuilder::new(Shape::flat(2), L)
        // At the release (step 0, the bias not yet in) A = 0.15: T(0.15) = 1.
        .dense(2, vec![-0.05; 4], Some(vec![-0.05, -0.05]))
        .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
        .til(TilPolicy::Fixed(0))
        .build()
        .unwrap();
    for mode in MODES {
        let fast = Simulator::new(graph.clone(), mode)
            .run(&[0.0, 0.0], &mut ())
            .unwrap_err();
        let slow = EventByEvent::new(graph.clone(), mode)
            .run(&[0.0, 0.0], &mut ())
            .unwrap_err();
        assert_eq!(fast.kind(), slow.kind(), "{mode:?}");
        assert!(
            matches!(
                fast.kind(),
                ErrorKind::LateSpike { layer: 0, origin, time: 4, .. } if origin == "the bias neuron"
            ),
            "{fast}"
        );
    }
}
