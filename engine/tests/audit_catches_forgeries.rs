//! The oracle can fail: the audit rejects a record that is wrong in any one way a kernel bug
//! could make it wrong (a spike a step late, an input timed off `T(x)`, a frame origin moved,
//! a release moved, a forged class, a NaN logit), while passing the true record; and it
//! rejects each one for its own reason: the first thing it finds wrong is the forged one.

use tdsnn_engine::audit::{self, Audit, Tolerance};
use tdsnn_engine::{ErrorKind, GraphBuilder, Record, Shape, Simulate, Simulator, TickMode, Window};

fn run() -> (tdsnn_engine::Graph, Vec<f32>, Record) {
    let g1 = tdsnn_engine::coding::g(1.0, 5.0);
    let graph = GraphBuilder::new(Shape::new(1, 4, 4), 5.0)
        .conv2d(
            2,
            Window::square(3, 1, 1),
            (0..18).map(|i| (i as f32 - 8.0) / 10.0).collect(),
            Some(vec![0.2 / g1, -0.4 / g1]),
        )
        .max_pool(Window::square(2, 2, 0))
        .flatten()
        .dense(
            3,
            (0..24)
                .map(|i| ((i * 7) % 11) as f32 / 10.0 - 0.5)
                .collect(),
            None,
        )
        .output(
            2,
            vec![1.0, -0.5, 0.25, 0.75, -1.0, 0.5],
            Some(vec![0.1, 0.0]),
        )
        .build()
        .unwrap();
    let input: Vec<f32> = (0..16).map(|i| ((i * 5) % 9) as f32 / 8.0).collect();
    let record = Simulator::new(graph.clone(), TickMode::Explicit)
        .run(&input, &mut ())
        .unwrap();
    (graph, input, record)
}

fn passes(graph: &tdsnn_engine::Graph, input: &[f32], record: &Record) -> bool {
    audit::audit(graph, input, record, Tolerance::DEFAULT)
        .unwrap()
        .passed()
}

/// The first thing an audit found wrong, in the order a run makes its spikes: the input, then
/// layer by layer (within a layer its frame first: a moved release shifts every spike timed
/// from it), then the class. What comes after it is the fallout of the first error.
#[derive(Debug, PartialEq)]
enum Failure {
    /// A spike off `T(A)` ([`audit::Mismatch`] without the recomputed `A`).
    Spike {
        layer: Option<usize>,
        neuron: usize,
        expected: u32,
        actual: u32,
    },
    /// The frame origin or the release of a layer is not the prescribed one.
    Frame { layer: usize },
    /// An output logit off the recomputed `A` (or not a number).
    Logit { layer: usize },
    /// The recorded class is not the recomputed one, and the top logits do not tie.
    Class { recorded: usize, recomputed: usize },
}

fn first_failure(report: &Audit) -> Option<Failure> {
    let spike = |m: &audit::Mismatch| Failure::Spike {
        layer: m.layer,
        neuron: m.neuron,
        expected: m.expected,
        actual: m.actual,
    };
    if let Some(m) = report.mismatches.iter().find(|m| m.layer.is_none()) {
        return Some(spike(m));
    }
    for (k, layer) in report.layers.iter().enumerate() {
        if !layer.frame_ok {
            return Some(Failure::Frame { layer: k });
        }
        if let Some(m) = report.mismatches.iter().find(|m| m.layer == Some(k)) {
            return Some(spike(m));
        }
        if layer.logit_error.is_nan() || layer.logit_error > report.tolerance.logit {
            return Some(Failure::Logit { layer: k });
        }
    }
    (report.record_class != report.class && !report.class_tie).then_some(Failure::Class {
        recorded: report.record_class,
        recomputed: report.class,
    })
}

/// The recorded spike time of hidden neuron `j` of layer `k`, relative to its release.
fn relative(record: &Record, k: usize, j: usize) -> u32 {
    record.layers[k].spikes[j] - record.layers[k].release.unwrap()
}

#[test]
fn the_true_record_passes() {
    let (graph, input, record) = run();
    assert!(passes(&graph, &input, &record));
    let report = audit::audit(&graph, &input, &record, Tolerance::DEFAULT).unwrap();
    assert_eq!(first_failure(&report), None, "{report:#?}");
    // The forgeries below rely on these: conv neuron 5 fires at its release, conv neuron 7
    // and dense neuron 1 after it.
    assert_eq!(relative(&record, 0, 5), 0);
    assert!(relative(&record, 0, 7) > 0);
    assert!(relative(&record, 3, 1) > 0);
}

#[test]
fn every_forgery_fails_for_its_own_reason() {
    let (graph, input, record) = run();
    // Layers: 0 conv, 1 max pool, 2 flatten, 3 dense, 4 output.
    type Forgery = (&'static str, fn(&mut Record), fn(&Record) -> Failure);
    let forgeries: [Forgery; 9] = [
        (
            "a hidden spike one step late",
            |r| r.layers[3].spikes[1] += 1,
            |r| Failure::Spike {
                layer: Some(3),
                neuron: 1,
                expected: relative(r, 3, 1),
                actual: relative(r, 3, 1) + 1,
            },
        ),
        (
            "a conv spike one step early",
            |r| r.layers[0].spikes[7] -= 1,
            |r| Failure::Spike {
                layer: Some(0),
                neuron: 7,
                expected: relative(r, 0, 7),
                actual: relative(r, 0, 7) - 1,
            },
        ),
        (
            "a conv spike before its release",
            |r| r.layers[0].spikes[5] -= 1,
            // The audit reports a spike before the release as relative time -1 mod 2^32.
            |_| Failure::Spike {
                layer: Some(0),
                neuron: 5,
                expected: 0,
                actual: u32::MAX,
            },
        ),
        (
            "an input spike off T(x)",
            |r| r.input[3] += 1,
            |r| Failure::Spike {
                layer: None,
                neuron: 3,
                expected: r.input[3],
                actual: r.input[3] + 1,
            },
        ),
        (
            "a max-pool spike moved",
            |r| r.layers[1].spikes[0] += 1,
            |r| Failure::Spike {
                layer: Some(1),
                neuron: 0,
                expected: r.layers[1].spikes[0],
                actual: r.layers[1].spikes[0] + 1,
            },
        ),
        (
            "the output frame origin moved",
            |r| r.layers[4].frame_origin -= 1,
            |_| Failure::Frame { layer: 4 },
        ),
        (
            "a release moved",
            |r| *r.layers[3].release.as_mut().unwrap() += 1,
            |_| Failure::Frame { layer: 3 },
        ),
        (
            "the class forged",
            |r| r.output.class = 1 - r.output.class,
            |r| Failure::Class {
                recorded: 1 - r.output.class,
                recomputed: r.output.class,
            },
        ),
        (
            "a NaN logit",
            |r| r.output.logits[0] = f64::NAN,
            |_| Failure::Logit { layer: 4 },
        ),
    ];
    for (what, forge, expected) in forgeries {
        let mut forged = record.clone();
        forge(&mut forged);
        assert!(!passes(&graph, &input, &forged), "the audit passed {what}");
        let report = audit::audit(&graph, &input, &forged, Tolerance::DEFAULT).unwrap();
        assert_eq!(
            first_failure(&report),
            Some(expected(&record)),
            "{what}: {report:#?}"
        );
    }
}

#[test]
fn a_record_of_another_graph_is_an_error() {
    let (graph, input, mut record) = run();
    record.layers.pop();
    let err = audit::audit(&graph, &input, &record, Tolerance::DEFAULT).unwrap_err();
    let ErrorKind::Input { what } = err.kind() else {
        panic!("not an input error: {err:?}");
    };
    assert_eq!(what, "audit: the record has 4 layers, the graph 5");
    let (_, _, record) = run();
    let err = audit::audit(&graph, &input[1..], &record, Tolerance::DEFAULT).unwrap_err();
    let ErrorKind::Input { what } = err.kind() else {
        panic!("not an input error: {err:?}");
    };
    assert_eq!(what, "15 values given, the input layer 1x4x4 takes 16");
}
