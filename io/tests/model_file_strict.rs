//! Model files are read strictly: every tensor must have exactly the shape its layer needs
//! (a transposed weight with the right element count is refused, not used transposed), the
//! architecture and model description must hold only the documented fields, and the
//! activation must be one the converter knows. Each refusal names the tensor, field or value.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};
use tdsnn_converter::{Dnn, DnnLayer, Shape, Window};
use tdsnn_io::model_file::{
    model_from_bytes, read_model, write_model, Model, ModelFileError, ModelInfo, ACTIVATIONS,
    ARCHITECTURE_KEY, MODEL_KEY,
};

/// A shipped LeNet-5 model file.
fn lenet(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("fixtures/lenet")
        .join(name)
}

/// A safetensors file split into its JSON header and its data.
fn split(bytes: &[u8]) -> (Value, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (header, bytes[8 + n..].to_vec())
}

/// The file again from a header and data (offsets in the header are relative to the data).
fn join(header: &Value, data: &[u8]) -> Vec<u8> {
    let text = header.to_string();
    let mut b = (text.len() as u64).to_le_bytes().to_vec();
    b.extend(text.as_bytes());
    b.extend(data);
    b
}

/// `bytes` with the JSON held as a string under metadata `key` edited by `edit`.
fn edit_metadata(bytes: &[u8], key: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let (mut header, data) = split(bytes);
    let text = header["__metadata__"][key].as_str().unwrap();
    let mut value: Value = serde_json::from_str(text).unwrap();
    edit(&mut value);
    header["__metadata__"][key] = Value::String(value.to_string());
    join(&header, &data)
}

/// `bytes` with tensor `name` declared of `shape` (its data unchanged).
fn reshape(bytes: &[u8], name: &str, shape: &[usize]) -> Vec<u8> {
    let (mut header, data) = split(bytes);
    header[name]["shape"] = json!(shape);
    join(&header, &data)
}

/// conv 2@3x3 pad 0 on 1x4x4 (weights [2, 1, 3, 3]), ReLU, flatten (8), dense 3 ([3, 8]).
fn small_model() -> Model {
    let dnn = Dnn::new(
        Shape::new(1, 4, 4),
        vec![
            DnnLayer::Conv2d {
                out_channels: 2,
                window: Window::square(3, 1, 0),
                weights: (0..18).map(|i| i as f32 / 18.0).collect(),
                bias: Some(vec![0.1, -0.1]),
            },
            DnnLayer::Relu,
            DnnLayer::Flatten,
            DnnLayer::Dense {
                outputs: 3,
                weights: (0..24).map(|i| i as f32 / 24.0 - 0.5).collect(),
                bias: None,
            },
        ],
    )
    .unwrap();
    Model {
        dnn,
        info: ModelInfo {
            activation: "g".into(),
            leak: Some(5.0),
            notes: vec!["test".into()],
        },
    }
}

/// A temporary path of its own for every call: tests run in parallel threads of one process.
fn temp(name: &str) -> std::path::PathBuf {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("tdsnn-strict-{}-{call}-{name}", std::process::id()))
}

fn small_bytes() -> Vec<u8> {
    let path = temp("small.safetensors");
    write_model(&small_model(), &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    bytes
}

#[test]
fn the_small_model_round_trips() {
    assert_eq!(
        model_from_bytes(&small_bytes(), "small").unwrap(),
        small_model()
    );
}

#[track_caller]
fn tensor_error(bytes: &[u8], tensor: &str, found: &str, expected: &str) {
    let err = model_from_bytes(bytes, "m.safetensors").unwrap_err();
    match &err {
        ModelFileError::Tensor {
            path,
            name,
            message,
        } => {
            assert_eq!((path.as_str(), name.as_str()), ("m.safetensors", tensor));
            assert!(
                message.contains(&format!("shape {found}, expected {expected}")),
                "{message}"
            );
        }
        other => panic!("expected a tensor error for {tensor}, got {other}"),
    }
}

#[test]
fn a_transposed_dense_weight_is_refused() {
    let bytes = reshape(&small_bytes(), "layers.3.weight", &[8, 3]);
    tensor_error(&bytes, "layers.3.weight", "[8, 3]", "[3, 8]");

    // LeNet-5's first dense layer stored [800, 500] where [500, 800] belongs.
    let lenet = std::fs::read(lenet("lenet5-g-L5.safetensors")).unwrap();
    assert!(model_from_bytes(&lenet, "lenet").is_ok());
    let bytes = reshape(&lenet, "layers.7.weight", &[800, 500]);
    tensor_error(&bytes, "layers.7.weight", "[800, 500]", "[500, 800]");
    let err = model_from_bytes(&bytes, "lenet").unwrap_err().to_string();
    assert!(err.contains("[outputs, inputs]"), "{err}");
}

#[test]
fn conv_weights_and_biases_of_another_shape_are_refused() {
    let small = small_bytes();
    // The same 18 values, the kernel flattened.
    tensor_error(
        &reshape(&small, "layers.0.weight", &[2, 9]),
        "layers.0.weight",
        "[2, 9]",
        "[2, 1, 3, 3]",
    );
    // Kernel height and width swapped with the channels.
    tensor_error(
        &reshape(&small, "layers.0.weight", &[2, 3, 3, 1]),
        "layers.0.weight",
        "[2, 3, 3, 1]",
        "[2, 1, 3, 3]",
    );
    tensor_error(
        &reshape(&small, "layers.0.bias", &[1, 2]),
        "layers.0.bias",
        "[1, 2]",
        "[2]",
    );
}

#[test]
fn a_tensor_claiming_2_to_the_40_values_is_refused_without_allocating() {
    // The header claims [2^20, 2^20] for the dense weight; the data holds 24 values.
    let bytes = reshape(&small_bytes(), "layers.3.weight", &[1 << 20, 1 << 20]);
    let err = model_from_bytes(&bytes, "m").unwrap_err();
    // The safetensors parser checks the shape against the data before we see the tensor.
    assert!(
        matches!(&err, ModelFileError::Safetensors { path, .. } if path == "m"),
        "{err:?}"
    );
}

#[track_caller]
fn metadata_error(bytes: &[u8], key: &str, words: &str) {
    match model_from_bytes(bytes, "m").unwrap_err() {
        ModelFileError::Metadata {
            key: k, message, ..
        } => {
            assert_eq!(k, key);
            assert!(message.contains(words), "{message}");
        }
        other => panic!("expected a metadata error under {key}, got {other}"),
    }
}

#[test]
fn unknown_fields_in_the_architecture_are_refused() {
    let small = small_bytes();
    // In a layer with fields, in layers without (ReLU, flatten), and at the top.
    let cases: [(usize, &str, Value); 3] = [
        (0, "dilation", json!([1, 1])),
        (1, "inplace", json!(true)),
        (2, "start_dim", json!(1)),
    ];
    for (layer, field, value) in cases {
        let bytes = edit_metadata(&small, ARCHITECTURE_KEY, |arch| {
            arch["layers"][layer][field] = value;
        });
        metadata_error(
            &bytes,
            ARCHITECTURE_KEY,
            &format!("unknown field `{field}`"),
        );
    }
    let bytes = edit_metadata(&small, ARCHITECTURE_KEY, |arch| {
        arch["name"] = json!("lenet");
    });
    metadata_error(&bytes, ARCHITECTURE_KEY, "unknown field `name`");
    // An unknown layer type.
    let bytes = edit_metadata(&small, ARCHITECTURE_KEY, |arch| {
        arch["layers"][1]["type"] = json!("sigmoid");
    });
    metadata_error(&bytes, ARCHITECTURE_KEY, "unknown variant `sigmoid`");
}

#[test]
fn unknown_fields_in_the_model_description_are_refused() {
    let bytes = edit_metadata(&small_bytes(), MODEL_KEY, |info| {
        info["epochs"] = json!(5);
    });
    metadata_error(&bytes, MODEL_KEY, "unknown field `epochs`");
}

#[test]
fn an_unknown_activation_is_refused_naming_the_accepted_ones() {
    assert_eq!(ACTIVATIONS, ["relu", "g"]);
    let bytes = edit_metadata(&small_bytes(), MODEL_KEY, |info| {
        info["activation"] = json!("sigmoid");
    });
    let err = model_from_bytes(&bytes, "m.safetensors").unwrap_err();
    assert!(
        matches!(&err, ModelFileError::Activation { path, found } if path == "m.safetensors" && found == "sigmoid"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "m.safetensors: metadata `tdsnn.model`: activation \"sigmoid\" is not one of \"relu\", \"g\""
    );
    // The case matters: the codebase writes lower case.
    let bytes = edit_metadata(&small_bytes(), MODEL_KEY, |info| {
        info["activation"] = json!("G");
    });
    assert!(matches!(
        model_from_bytes(&bytes, "m").unwrap_err(),
        ModelFileError::Activation { .. }
    ));

    // Nor is such a file written.
    let mut model = small_model();
    model.info.activation = "sigmoid".into();
    let path = temp("sigmoid.safetensors");
    let err = write_model(&model, &path).unwrap_err();
    assert!(matches!(err, ModelFileError::Activation { .. }), "{err}");
    assert!(!path.exists());
}

#[test]
fn the_shipped_models_are_strictly_valid() {
    for path in [
        lenet("lenet5-relu.safetensors"),
        lenet("lenet5-g-L5.safetensors"),
    ] {
        let model = read_model(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(ACTIVATIONS.contains(&model.info.activation.as_str()));
    }
}

#[test]
#[cfg(unix)]
fn a_model_file_gets_the_permissions_file_create_gives() {
    use std::os::unix::fs::PermissionsExt;
    let (model, plain) = (temp("m.safetensors"), temp("plain"));
    write_model(&small_model(), &model).unwrap();
    std::fs::File::create(&plain).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let (got, want) = (mode(&model), mode(&plain));
    std::fs::remove_file(&model).unwrap();
    std::fs::remove_file(&plain).unwrap();
    // 0666 less the umask (0644 under the usual 022), not a temporary file's 0600.
    assert_eq!(got, want);
}
