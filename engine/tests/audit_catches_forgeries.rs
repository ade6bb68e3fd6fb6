//! The oracle can fail: the audit rejects a record that is wrong in any one way a kernel bug
//! could make it wrong (a spike a step late, an input timed off `T(x)`, a frame origin moved,
//! a release moved, a forged class, a NaN logit), while passing the true record.

use tdsnn_engine::audit::{self, Tolerance};
use tdsnn_engine::{GraphBuilder, Record, Shape, Simulate, Simulator, TickMode, Window};

fn run() -> (tdsnn_engine::Graph, Vec<f32>, Record) {
    let g1 = tdsnn_engine::coding::activation(1.0, 5.0) as f32;
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

#[test]
fn the_true_record_passes() {
    let (graph, input, record) = run();
    assert!(passes(&graph, &input, &record));
}

#[test]
fn every_forgery_fails() {
    let (graph, input, record) = run();
    type Forgery = (&'static str, fn(&mut Record));
    let forgeries: [Forgery; 8] = [
        ("a hidden spike one step late", |r| {
            r.layers[3].spikes[1] += 1
        }),
        ("a conv spike one step early", |r| {
            r.layers[0].spikes[5] -= 1
        }),
        ("an input spike off T(x)", |r| r.input[3] += 1),
        ("a max-pool spike moved", |r| r.layers[1].spikes[0] += 1),
        ("the output frame origin moved", |r| {
            r.layers[4].frame_origin -= 1
        }),
        ("a release moved", |r| {
            *r.layers[3].release.as_mut().unwrap() += 1
        }),
        ("the class forged", |r| r.output.class = 1 - r.output.class),
        ("a NaN logit", |r| r.output.logits[0] = f64::NAN),
    ];
    for (what, forge) in forgeries {
        let mut forged = record.clone();
        forge(&mut forged);
        assert!(!passes(&graph, &input, &forged), "the audit passed {what}");
    }
}

#[test]
fn a_record_of_another_graph_is_an_error() {
    let (graph, input, mut record) = run();
    record.layers.pop();
    assert!(audit::audit(&graph, &input, &record, Tolerance::DEFAULT).is_err());
    let (_, _, record) = run();
    assert!(audit::audit(&graph, &input[1..], &record, Tolerance::DEFAULT).is_err());
}
