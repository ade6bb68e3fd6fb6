//! Branches and joins on random residual graphs (proptest): blocks with identity and
//! projection shortcuts, joins after max-pools, concatenations, blocks in sequence. Every
//! spike lands at `T(A)` of its f64 pre-activation, each group timed from its own source's
//! frame and delayed to the join's (the audit); both paths and both tick modes give the same
//! record, under dynamic and fixed `T_il`, on any thread; joins do delay spikes.

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tdsnn_engine::audit::{self, Tolerance};
use tdsnn_engine::counters::LayerOps;
use tdsnn_engine::graph::{Conv2d, Dense, Group, MaxPool, Node, Source, Synapses};
use tdsnn_engine::record::LayerRecord;
use tdsnn_engine::{
    Graph, Layer, Params, Plan, Record, Shape, Simulate, TickMode, TilPolicy, Window,
};

const CASES: u32 = 192;

/// One residual block's shape: output channels, stride, a max-pool before it, a concatenation
/// after it.
#[derive(Debug, Clone)]
struct Block {
    channels: u32,
    stride: u32,
    pool_before: bool,
    concat_after: bool,
}

#[derive(Debug, Clone)]
struct Skeleton {
    input: Shape,
    stem: u32,
    blocks: Vec<Block>,
    bias: bool,
    leak: f64,
}

fn skeleton() -> impl Strategy<Value = Skeleton> {
    let block = (1u32..=4, 1u32..=2, any::<bool>(), any::<bool>()).prop_map(
        |(channels, stride, pool_before, concat_after)| Block {
            channels,
            stride,
            pool_before,
            concat_after,
        },
    );
    (
        (1u32..=2, 6u32..=10, 6u32..=10),
        1u32..=3,
        proptest::collection::vec(block, 1..=3),
        any::<bool>(),
        prop_oneof![Just(5.0), 2.0f64..12.0],
    )
        .prop_map(|((c, h, w), stem, blocks, bias, leak)| Skeleton {
            input: Shape::new(c, h, w),
            stem,
            blocks,
            bias,
            leak,
        })
}

/// `n` weights drawn from `next`.
fn draw(n: u64, next: &mut dyn FnMut() -> f32) -> Vec<f32> {
    (0..n).map(|_| next()).collect()
}

/// A conv of `channels` from `from`, its weights (and bias) drawn from `next`.
fn conv(
    from: Shape,
    channels: u32,
    window: Window,
    bias: bool,
    next: &mut dyn FnMut() -> f32,
) -> Conv2d {
    let n = u64::from(from.c * window.kernel[0] * window.kernel[1] * channels);
    Conv2d {
        out_channels: channels,
        window,
        weights: draw(n, next).into(),
        bias: bias.then(|| {
            draw(u64::from(channels), next)
                .into_iter()
                .map(f64::from)
                .collect()
        }),
    }
}

/// Builds the graph, drawing each weight from `next` (in `[-1, 1]`).
fn build(s: &Skeleton, next: &mut impl FnMut() -> f32, til: TilPolicy) -> Graph {
    let mut nodes: Vec<Node> = Vec::new();
    let mut shapes: Vec<Shape> = Vec::new();
    let shape_of = |shapes: &[Shape], src: Source| match src {
        Source::Input => s.input,
        Source::Layer(j) => shapes[j],
    };
    let push = |nodes: &mut Vec<Node>, shapes: &mut Vec<Shape>, node: Node, shape: Shape| {
        nodes.push(node);
        shapes.push(shape);
        Source::Layer(nodes.len() - 1)
    };
    let out_of = |from: Shape, c: u32, w: &Window| {
        w.output_shape(from, c, false).expect("a window that fits")
    };
    // Stem.
    let w3 = Window::square(3, 1, 1);
    let c = conv(s.input, s.stem, w3, s.bias, next);
    let shape = out_of(s.input, s.stem, &w3);
    let mut x = push(
        &mut nodes,
        &mut shapes,
        Node::new(Layer::Conv2d(c), Source::Input),
        shape,
    );
    for b in &s.blocks {
        if b.pool_before && shape_of(&shapes, x).h >= 4 && shape_of(&shapes, x).w >= 4 {
            let from = shape_of(&shapes, x);
            let window = Window::square(2, 2, 0);
            let out = window.output_shape(from, from.c, true).expect("fits");
            x = push(
                &mut nodes,
                &mut shapes,
                Node::new(Layer::MaxPool(MaxPool { window }), x),
                out,
            );
        }
        let from = shape_of(&shapes, x);
        let stride = if from.h >= 4 && from.w >= 4 {
            b.stride
        } else {
            1
        };
        let w1 = Window::square(3, stride, 1);
        let c1 = conv(from, b.channels, w1, s.bias, next);
        let mid = out_of(from, b.channels, &w1);
        let a = push(
            &mut nodes,
            &mut shapes,
            Node::new(Layer::Conv2d(c1), x),
            mid,
        );
        let c2 = conv(mid, b.channels, w3, s.bias, next);
        // The shortcut: identity where the shapes agree, else a 1x1 strided projection.
        let synapses = if from == mid {
            Synapses::Identity { weight: -1.0 }
        } else {
            let wp = Window::square(1, stride, 0);
            Synapses::Conv2d(conv(from, b.channels, wp, false, next))
        };
        let join = Node {
            layer: Layer::Conv2d(c2),
            source: a,
            groups: vec![Group {
                source: x,
                synapses,
            }],
        };
        x = push(&mut nodes, &mut shapes, join, mid);
        if b.concat_after {
            // A conv over [this block's output, its first conv's output].
            let c3 = conv(mid, b.channels, w3, s.bias, next);
            let part = conv(mid, b.channels, w3, false, next);
            let node = Node {
                layer: Layer::Conv2d(c3),
                source: x,
                groups: vec![Group {
                    source: a,
                    synapses: Synapses::Conv2d(part),
                }],
            };
            x = push(&mut nodes, &mut shapes, node, mid);
        }
    }
    // Read out from the last block, with a dense shortcut from the stem.
    let from = shape_of(&shapes, x);
    let classes = 3;
    let dense = |n_in: u64, next: &mut dyn FnMut() -> f32, bias: bool| Dense {
        outputs: classes,
        weights: (0..n_in * u64::from(classes))
            .map(|_| next())
            .collect::<Vec<f32>>()
            .into(),
        bias: bias.then(|| (0..classes).map(|_| f64::from(next())).collect()),
    };
    let own = dense(from.len(), next, s.bias);
    let stem = dense(shapes[0].len(), next, false);
    nodes.push(Node {
        layer: Layer::Output(own),
        source: x,
        groups: vec![Group {
            source: Source::Layer(0),
            synapses: Synapses::Dense(stem),
        }],
    });
    let params = Params {
        til,
        ..Params::new(s.leak)
    };
    Graph::from_nodes(s.input, nodes, params).expect("a valid residual graph")
}

/// A random residual network with its weights and one input.
#[derive(Debug, Clone)]
struct Case {
    skeleton: Skeleton,
    weights: Vec<f32>,
    input: Vec<f32>,
}

impl Case {
    fn graph(&self, til: TilPolicy) -> Graph {
        let mut w = self.weights.iter().copied().cycle();
        build(&self.skeleton, &mut || w.next().expect("cycled"), til)
    }
}

fn case() -> impl Strategy<Value = Case> {
    skeleton().prop_flat_map(|skeleton| {
        let n = skeleton.input.len() as usize;
        let pixel = prop_oneof![1 => Just(0.0f32), 4 => 0.0f32..=1.0];
        (
            Just(skeleton),
            proptest::collection::vec(-0.6f32..=0.6, 64..=256),
            proptest::collection::vec(pixel, n),
        )
            .prop_map(|(skeleton, weights, input)| Case {
                skeleton,
                weights,
                input,
            })
    })
}

/// What the runs counted, to bound it.
#[derive(Default)]
struct Tally {
    cases: Cell<u32>,
    neurons: Cell<u64>,
    ties: Cell<u64>,
    joins: Cell<u64>,
    delayed: Cell<u64>,
}

/// Every layer's record with the engine's own work counts left out.
fn paper(record: &Record) -> Vec<LayerRecord> {
    record
        .layers
        .iter()
        .map(|l| LayerRecord {
            ops: LayerOps {
                engine: Default::default(),
                ..l.ops
            },
            ..l.clone()
        })
        .collect()
}

fn run(graph: Graph, mode: TickMode, input: &[f32]) -> (Record, Record) {
    let plan = Plan::new(graph, mode);
    let fast = plan.simulator().run(input, &mut ()).unwrap();
    let slow = plan.event_by_event().run(input, &mut ()).unwrap();
    (fast, slow)
}

#[test]
fn joins_obey_the_laws() {
    let tally = Tally::default();
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        ..Config::default()
    });
    runner
        .run(&case(), |case| {
            tally.cases.set(tally.cases.get() + 1);
            let dynamic = case.graph(TilPolicy::Dynamic);
            let longest = run(dynamic, TickMode::ClosedForm, &case.input)
                .0
                .layers
                .iter()
                .filter_map(|l| l.t_il())
                .max()
                .unwrap();
            for til in [TilPolicy::Dynamic, TilPolicy::Fixed(longest + 1)] {
                let graph = case.graph(til);
                let mut records = Vec::new();
                for mode in [TickMode::Explicit, TickMode::ClosedForm] {
                    let (fast, slow) = run(graph.clone(), mode, &case.input);
                    // All but the engine's own work counts (the fast path skips what is
                    // worth nothing).
                    prop_assert_eq!(paper(&fast), paper(&slow), "{:?} {:?}", mode, til);
                    prop_assert_eq!(&fast.output, &slow.output);
                    prop_assert_eq!(&fast.input, &slow.input);
                    let report =
                        audit::audit(&graph, &case.input, &fast, Tolerance::DEFAULT).unwrap();
                    prop_assert!(report.passed(), "{mode:?} {til:?}: {report:#?}");
                    tally.neurons.set(tally.neurons.get() + report.neurons());
                    tally.ties.set(tally.ties.get() + report.ties());
                    records.push(fast);
                }
                // Both tick modes: the same spikes and readout.
                prop_assert_eq!(records[0].digest(), records[1].digest());
                for (k, l) in records[0].layers.iter().enumerate() {
                    if !graph.groups(k).is_empty() {
                        tally.joins.set(tally.joins.get() + 1);
                        let delayed = l.delays.iter().any(|&d| d > 0);
                        tally.delayed.set(tally.delayed.get() + u64::from(delayed));
                    }
                }
                // On another thread, the same record.
                let plan = Plan::new(graph, TickMode::ClosedForm);
                let there = std::thread::scope(|s| {
                    s.spawn(|| plan.simulator().run(&case.input, &mut ()).unwrap())
                        .join()
                        .unwrap()
                });
                prop_assert_eq!(&there, &records[1]);
            }
            Ok(())
        })
        .unwrap();
    let (neurons, ties) = (tally.neurons.get(), tally.ties.get());
    let (joins, delayed) = (tally.joins.get(), tally.delayed.get());
    println!(
        "{} cases, {neurons} neurons checked, {ties} ties, {delayed} of {joins} joins delayed",
        tally.cases.get()
    );
    assert_eq!(tally.cases.get(), CASES);
    assert!(
        ties * 1000 <= neurons,
        "{ties} ties among {neurons} neurons"
    );
    // Nearly every join waits for a branch: measured 1,545 of 1,556 (99 %).
    assert!(
        delayed * 10 >= joins * 9,
        "only {delayed} of {joins} joins delayed a spike"
    );
}

#[test]
fn the_audit_catches_a_join_timed_from_the_wrong_frame() {
    let mut runner = TestRunner::deterministic();
    let mut caught = 0;
    for _ in 0..32 {
        let case = case().new_tree(&mut runner).unwrap().current();
        let graph = case.graph(TilPolicy::Dynamic);
        let record = run(graph.clone(), TickMode::ClosedForm, &case.input).0;
        let Some(k) =
            (0..graph.layers().len()).find(|&k| record.layers[k].delays.iter().any(|&d| d > 0))
        else {
            continue;
        };
        // A join that did not wait: its delays forged to zero.
        let mut forged = record.clone();
        forged.layers[k].delays.iter_mut().for_each(|d| *d = 0);
        let report = audit::audit(&graph, &case.input, &forged, Tolerance::DEFAULT).unwrap();
        assert!(
            !report.layers[k].frame_ok,
            "layer {k}: forged delays passed"
        );
        // A join whose frame origin is its own synapses' source's, not the latest.
        let mut forged = record.clone();
        forged.layers[k].frame_origin -= record.layers[k].delays.iter().max().unwrap();
        let report = audit::audit(&graph, &case.input, &forged, Tolerance::DEFAULT).unwrap();
        assert!(!report.passed(), "layer {k}: a forged frame origin passed");
        caught += 1;
    }
    assert!(caught >= 24, "only {caught} cases had a delayed join");
}

#[test]
fn a_delayed_spike_past_a_fixed_release_is_a_late_spike() {
    let mut runner = TestRunner::deterministic();
    let mut checked = 0;
    for _ in 0..64 {
        let case = case().new_tree(&mut runner).unwrap().current();
        let dynamic = case.graph(TilPolicy::Dynamic);
        let record = run(dynamic, TickMode::ClosedForm, &case.input).0;
        let longest = record.layers.iter().filter_map(|l| l.t_il()).max().unwrap();
        if longest == 0 {
            continue;
        }
        let short = case.graph(TilPolicy::Fixed(longest - 1));
        for mode in [TickMode::Explicit, TickMode::ClosedForm] {
            let plan = Plan::new(short.clone(), mode);
            let fast = plan.simulator().run(&case.input, &mut ()).unwrap_err();
            let slow = plan.event_by_event().run(&case.input, &mut ()).unwrap_err();
            assert!(
                matches!(fast.kind(), tdsnn_engine::ErrorKind::LateSpike { .. }),
                "{fast}"
            );
            assert_eq!(fast.kind(), slow.kind());
        }
        checked += 1;
    }
    assert!(checked >= 48, "only {checked} cases had a T_il to shorten");
}

use proptest::strategy::ValueTree;

#[test]
fn branching_graphs_round_trip_through_graph_files() {
    use tdsnn_engine::format::{from_bytes, to_bytes, DESCRIPTOR_LEN, HEADER_LEN};
    let mut runner = TestRunner::deterministic();
    for _ in 0..32 {
        let case = case().new_tree(&mut runner).unwrap().current();
        let graph = case.graph(TilPolicy::Dynamic);
        let bytes = to_bytes(&graph);
        let back = from_bytes(&bytes).unwrap();
        assert_eq!(back, graph);
        assert_eq!(to_bytes(&back), bytes);
        // The records of the graph read back are the records of the graph.
        let (a, _) = run(graph.clone(), TickMode::ClosedForm, &case.input);
        let (b, _) = run(back, TickMode::ClosedForm, &case.input);
        assert_eq!(a, b);
        // A damaged group entry is a typed error at its offset, never a panic.
        let n = graph.layers().len();
        let groups_at = HEADER_LEN + DESCRIPTOR_LEN * n + (4 * n).next_multiple_of(8);
        for (field, value) in [(0usize, u32::MAX), (4, u32::MAX), (8, 7)] {
            let mut b = bytes.clone();
            b[groups_at + field..groups_at + field + 4].copy_from_slice(&value.to_le_bytes());
            let body = b.len() - 8;
            let crc = crc32fast::hash(&b[..body]);
            b[body..body + 4].copy_from_slice(&crc.to_le_bytes());
            match from_bytes(&b).unwrap_err().kind() {
                tdsnn_engine::ErrorKind::Format { offset, .. } => {
                    assert_eq!(*offset as usize, groups_at + field)
                }
                other => panic!("not a format error: {other:?}"),
            }
        }
    }
}

#[test]
fn a_group_from_a_later_layer_is_an_error_not_a_panic() {
    let dense = |outputs, n_in: usize| Dense {
        outputs,
        weights: vec![-0.5; n_in * outputs as usize].into(),
        bias: None,
    };
    let nodes = vec![
        Node {
            layer: Layer::Dense(dense(2, 2)),
            source: Source::Input,
            groups: vec![Group {
                source: Source::Layer(1),
                synapses: Synapses::Identity { weight: -1.0 },
            }],
        },
        Node::new(Layer::Output(dense(1, 2)), Source::Layer(0)),
    ];
    let err = Graph::from_nodes(Shape::flat(2), nodes, Params::new(5.0)).unwrap_err();
    let tdsnn_engine::ErrorKind::Shape { layer, what, .. } = err.kind() else {
        panic!("not a shape error: {err}");
    };
    assert_eq!(*layer, 0);
    assert!(
        what.contains("layer 1, which is not an earlier layer"),
        "{what}"
    );
}
