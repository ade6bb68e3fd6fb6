//! A few training steps of LeNet-5 on 256 shipped digits (kept short for CI): training is
//! reproducible bit for bit, moves the weights, the staircase network folds into a DNN(G)
//! that converts, and model files round-trip and fail with typed errors.

use std::path::{Path, PathBuf};

use tdsnn_converter::staircase::fold_staircase;
use tdsnn_converter::{convert, Dnn, DnnLayer, TilPolicy};
use tdsnn_io::idx::{load_split, Split};
use tdsnn_io::model_file::{
    model_from_bytes, read_model, write_model, Model, ModelFileError, ModelInfo,
};
use tdsnn_train::recipe::pixels;
use tdsnn_train::zoo::lenet5;
use tdsnn_train::{self as train, Activation, Samples, TrainConfig, TrainEvent};

/// The repository's shipped fixtures.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("fixtures")
}

fn config(activation: Activation) -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch_size: 64,
        learning_rate: 1e-3,
        seed: 7,
        activation,
    }
}

fn steps(dnn: &Dnn, images: &[f32], labels: &[u8], activation: Activation) -> (Dnn, Vec<f64>) {
    let mut losses = Vec::new();
    let trained = train::train(dnn, Samples { images, labels }, &config(activation), |e| {
        if let TrainEvent::Epoch(r) = e {
            losses.push(r.loss);
        }
    })
    .unwrap();
    (trained, losses)
}

#[test]
fn a_few_steps_of_relu_then_staircase_training() {
    let mut data = load_split(&fixtures().join("mnist"), Split::Train).unwrap();
    data.images.truncate(256 * 784);
    data.labels.truncate(256);
    let images = pixels(&data);
    let init = train::init(&lenet5(), train::Init::Uniform, 2019).unwrap();
    assert_eq!(
        init,
        train::init(&lenet5(), train::Init::Uniform, 2019).unwrap(),
        "seeded init"
    );

    let (relu, losses) = steps(&init, &images, &data.labels, Activation::Relu);
    assert!(losses[0].is_finite() && losses[0] > 0.0);
    assert_ne!(relu, init, "four Adam steps move the weights");
    let (again, _) = steps(&init, &images, &data.labels, Activation::Relu);
    assert_eq!(relu, again, "training is reproducible bit for bit");

    let leak = 5.0;
    let (stair, _) = steps(&relu, &images, &data.labels, Activation::Staircase { leak });
    let g = fold_staircase(&stair).unwrap();
    let graph = convert(&g, leak, TilPolicy::Dynamic).unwrap();
    assert_eq!(graph.layers().len(), 7);
}

#[test]
fn model_files_round_trip_and_fail_with_typed_errors() {
    let model = read_model(fixtures().join("lenet/lenet5-g-L5.safetensors")).unwrap();
    let path = std::env::temp_dir().join(format!("tdsnn-test-{}.safetensors", std::process::id()));
    write_model(&model, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(model_from_bytes(&bytes, "copy").unwrap(), model);

    // Truncated anywhere: a typed error naming the file, never a panic.
    for cut in (0..bytes.len())
        .step_by(9973)
        .chain([1, 8, 100, bytes.len() - 1])
    {
        let err = model_from_bytes(&bytes[..cut], "cut").unwrap_err();
        assert!(err.to_string().starts_with("cut: "), "{err}");
    }
    // A missing file names its path.
    let err = read_model("/nonexistent/model.safetensors").unwrap_err();
    assert!(
        matches!(err, ModelFileError::Io { ref path, .. } if path == "/nonexistent/model.safetensors"),
        "{err}"
    );

    // A model whose tensors do not match its architecture: the tensor is named.
    let dnn = Dnn::new(
        tdsnn_converter::Shape::flat(3),
        vec![DnnLayer::Dense {
            outputs: 2,
            weights: vec![0.5; 6],
            bias: None,
        }],
    )
    .unwrap();
    let small = Model {
        dnn,
        info: ModelInfo {
            activation: "relu".into(),
            ..ModelInfo::default()
        },
    };
    let path = std::env::temp_dir().join(format!(
        "tdsnn-test-small-{}.safetensors",
        std::process::id()
    ));
    write_model(&small, &path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    // Claim 4 inputs in the architecture: the weight tensor no longer fits.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let at = text
        .find("\\\"input\\\":[3,1,1]")
        .expect("architecture in the metadata");
    bytes[at + 11] = b'4';
    let err = model_from_bytes(&bytes, "patched").unwrap_err();
    assert!(
        matches!(err, ModelFileError::Tensor { ref name, .. } if name == "layers.0.weight"),
        "{err}"
    );
}
