//! The DNN (ReLU) row of `tdsnn run` says which network it ran: a ReLU model of its own
//! (`--relu-model`, safetensors or ONNX), or the converted model's own weights without `G`.

mod cli_support;

use cli_support::{fixtures, tdsnn};

/// The Table 1 line of the DNN (ReLU) row.
fn relu_row(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.trim_start().starts_with("DNN (ReLU)"))
        .unwrap_or_else(|| panic!("no DNN (ReLU) row in:\n{stdout}"))
}

#[test]
fn an_onnx_model_alone_is_said_to_be_its_own_weights_without_g() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixtures().join("onnx/lenet_bn_dynamo.onnx");
    let run = tdsnn(
        dir.path(),
        &[
            "run",
            "--model",
            model.to_str().unwrap(),
            "--leak",
            "5",
            "--limit",
            "4",
            "--json",
            "r.json",
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    let row = relu_row(&run.stdout);
    assert!(row.contains("the same weights"), "{row}");
    assert!(row.contains("--relu-model"), "{row}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    let named = json["setup"]["relu_model"].as_str().unwrap();
    assert!(named.contains("the same weights"), "{named}");
}

#[test]
fn an_onnx_relu_model_is_its_own_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixtures().join("onnx/lenet_bn_dynamo.onnx");
    let relu = fixtures().join("onnx/lenet_bn_legacy.onnx");
    let run = tdsnn(
        dir.path(),
        &[
            "run",
            "--model",
            model.to_str().unwrap(),
            "--relu-model",
            relu.to_str().unwrap(),
            "--leak",
            "5",
            "--limit",
            "4",
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    let row = relu_row(&run.stdout);
    assert!(row.contains("its own weights"), "{row}");
    assert!(row.contains("lenet_bn_legacy.onnx"), "{row}");
    assert!(!row.contains("the same weights"), "{row}");
}

#[test]
fn the_shipped_model_is_compared_with_the_shipped_relu_model() {
    let dir = tempfile::tempdir().unwrap();
    let run = tdsnn(dir.path(), &["run", "--limit", "4"]);
    assert!(run.ok, "{}", run.stderr);
    let row = relu_row(&run.stdout);
    assert!(
        row.contains("its own weights") && row.contains("lenet5-relu.safetensors"),
        "{row}"
    );
    // The report speaks of images.
    assert!(run.stdout.contains("on 4 images of"), "{}", run.stdout);
}
