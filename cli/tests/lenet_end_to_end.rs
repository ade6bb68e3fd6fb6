//! The shipped LeNet-5 end to end, on the first images of the shipped MNIST test split: every
//! spike where equation (10) says, every class the reference DNN(G)'s (ties aside), the same
//! evaluation whatever the thread count, and the JSON report's documented keys. The whole
//! split is the main job (`cargo run --release`).

use std::sync::Arc;

use tdsnn::converter::convert;
use tdsnn::engine::{TickMode, TilPolicy};
use tdsnn::evaluate::report::{Report, Setup};
use tdsnn::evaluate::{evaluate, EvalConfig, EvalError};
use tdsnn::io::idx::{load_split, Dataset, Split};
use tdsnn::io::model_file::read_model;
use tdsnn_cli::fixtures;

const IMAGES: usize = 100;

fn first_test_images(n: usize) -> Dataset {
    let mut data = load_split(&fixtures::mnist_dir(), Split::Test).unwrap();
    data.images.truncate(n * 28 * 28);
    data.labels.truncate(n);
    data
}

#[test]
fn shipped_lenet_matches_its_reference_on_test_images() {
    let model = read_model(fixtures::lenet_g()).unwrap();
    let relu = read_model(fixtures::lenet_relu()).unwrap();
    assert_eq!(
        (model.info.activation.as_str(), model.info.leak),
        ("g", Some(5.0))
    );
    let graph = Arc::new(convert(&model.dnn, 5.0, TilPolicy::Dynamic).unwrap());
    let data = first_test_images(IMAGES);
    let one = EvalConfig {
        threads: 1,
        ..EvalConfig::default()
    };
    let eval = evaluate(&graph, &model.dnn, Some(&relu.dnn), &data, &one, |_| {}).unwrap();
    let (neurons, exact, ties, mismatches) = eval.neuron_totals();
    assert_eq!(mismatches, 0, "spikes off T(A)");
    assert_eq!(
        neurons,
        IMAGES as u64 * 19_710,
        "every neuron of every layer but the output, and 10 logits"
    );
    assert!(exact + ties == neurons);
    assert_eq!(
        eval.disagreements().1,
        0,
        "a class differs from the reference without a tie"
    );
    assert!(eval.agreements() >= IMAGES - eval.tied_images());
    assert!(
        eval.snn_accuracy() >= 0.97,
        "SNN accuracy {}",
        eval.snn_accuracy()
    );
    assert!(eval.dnn_relu_accuracy().unwrap() >= 0.97);

    // Bit-identical evaluation on two threads, and in explicit tick mode.
    let two = EvalConfig { threads: 2, ..one };
    assert_eq!(
        evaluate(&graph, &model.dnn, Some(&relu.dnn), &data, &two, |_| {}).unwrap(),
        eval
    );
    let explicit = EvalConfig {
        mode: TickMode::Explicit,
        ..two
    };
    let e = evaluate(
        &graph,
        &model.dnn,
        Some(&relu.dnn),
        &data,
        &explicit,
        |_| {},
    )
    .unwrap();
    for (a, b) in e.images.iter().zip(&eval.images) {
        assert_eq!((a.snn, a.exact, a.ties), (b.snn, b.exact, b.ties));
        for (la, lb) in a.layers.iter().zip(&b.layers) {
            assert_eq!(
                (la.t_il, la.spike_sum, la.spike_max),
                (lb.t_il, lb.spike_sum, lb.spike_max)
            );
            assert_eq!(la.ops.paper, lb.ops.paper);
        }
    }
}

#[test]
fn an_image_the_engine_rejects_is_an_error_naming_it() {
    let model = read_model(fixtures::lenet_g()).unwrap();
    // A fixed T_il of 3 is shorter than T(1) = 4, when the first layer's bias spikes.
    let graph = Arc::new(convert(&model.dnn, 5.0, TilPolicy::Fixed(3)).unwrap());
    let data = first_test_images(4);
    let two = EvalConfig {
        threads: 2,
        ..EvalConfig::default()
    };
    let err = evaluate(&graph, &model.dnn, None, &data, &two, |_| {}).unwrap_err();
    // The first failing image by index, whatever the thread count.
    let EvalError::Image { image: 0, error } = &err else {
        panic!("{err}")
    };
    assert!(
        matches!(
            error.kind(),
            tdsnn::engine::ErrorKind::LateSpike { layer: 0, .. }
        ),
        "{err}"
    );
}

#[test]
fn networks_and_data_that_do_not_fit_are_errors() {
    let model = read_model(fixtures::lenet_g()).unwrap();
    let graph = Arc::new(convert(&model.dnn, 5.0, TilPolicy::Dynamic).unwrap());
    let config = EvalConfig::default();
    // No image.
    let empty = first_test_images(0);
    let err = evaluate(&graph, &model.dnn, None, &empty, &config, |_| {}).unwrap_err();
    assert!(
        matches!(&err, EvalError::Mismatch(m) if m == "the data set holds no image"),
        "{err}"
    );
    // A ReLU network of another input shape.
    let other = tdsnn::converter::Dnn::new(
        tdsnn::engine::Shape::flat(10),
        vec![tdsnn::converter::DnnLayer::Dense {
            outputs: 10,
            weights: vec![0.0; 100],
            bias: None,
        }],
    )
    .unwrap();
    let data = first_test_images(2);
    let err = evaluate(&graph, &model.dnn, Some(&other), &data, &config, |_| {}).unwrap_err();
    assert!(
        matches!(&err, EvalError::Mismatch(m) if m.starts_with("the ReLU network takes ")),
        "{err}"
    );
    // Images of another shape, even with as many pixels (784 = 1x14x56).
    let mut wide = first_test_images(2);
    (wide.rows, wide.cols) = (14, 56);
    let err = evaluate(&graph, &model.dnn, None, &wide, &config, |_| {}).unwrap_err();
    assert!(
        matches!(&err, EvalError::Mismatch(m) if m.starts_with("the images are 1x14x56,")),
        "{err}"
    );
}

#[test]
fn json_report_has_the_documented_keys() {
    let model = read_model(fixtures::lenet_g()).unwrap();
    let graph = Arc::new(convert(&model.dnn, 5.0, TilPolicy::Dynamic).unwrap());
    let data = first_test_images(8);
    let eval = evaluate(
        &graph,
        &model.dnn,
        None,
        &data,
        &EvalConfig::default(),
        |_| {},
    )
    .unwrap();
    let setup = Setup {
        model: "lenet".into(),
        relu_model: None,
        data: "test".into(),
        leak: 5.0,
        til: "Dynamic".into(),
        tick_mode: "ClosedForm".into(),
        threads: Some(1),
    };
    let json: serde_json::Value = serde_json::to_value(Report::new(&eval, setup)).unwrap();
    // Exactly the keys README documents, and their documented sub-keys.
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let sorted = |ks: &[&str]| {
        let mut k: Vec<String> = ks.iter().map(|s| s.to_string()).collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&json),
        sorted(&[
            "images",
            "dnn_accuracy",
            "dnn_relu_accuracy",
            "snn_accuracy",
            "agreement",
            "ties",
            "spike_times",
            "layers",
            "ops",
            "paper_lenet",
            "labelled",
            "setup",
        ])
    );
    assert_eq!(keys(&json["agreement"]), sorted(&["count", "fraction"]));
    assert_eq!(
        keys(&json["ties"]),
        sorted(&[
            "images",
            "disagreements_at_ties",
            "unexplained_disagreements",
            "neurons"
        ])
    );
    assert_eq!(
        keys(&json["spike_times"]),
        sorted(&[
            "neurons",
            "exact",
            "mismatches",
            "agreement",
            "audit_failures"
        ])
    );
    assert_eq!(
        keys(&json["layers"][0]),
        sorted(&[
            "kind",
            "shape",
            "t_il_mean",
            "t_il_max",
            "spike_time_mean",
            "spike_time_max",
            "snn_paper",
            "snn_engine"
        ])
    );
    assert_eq!(
        keys(&json["ops"]),
        sorted(&[
            "dnn",
            "snn_paper",
            "snn_engine",
            "ratio_paper",
            "ratio_engine"
        ])
    );
    assert_eq!(
        keys(&json["setup"]),
        sorted(&[
            "model",
            "relu_model",
            "data",
            "leak",
            "til",
            "tick_mode",
            "threads"
        ])
    );
    assert_eq!(json["images"], 8);
    assert_eq!(json["ops"]["dnn"]["mult"], 2_293_000.0);
    assert!(json["ops"]["snn_paper"]["add"].as_f64().unwrap() > 0.0);
    assert_eq!(
        json["layers"].as_array().unwrap().len(),
        graph.layers().len()
    );
}
