//! Trained models on disk: safetensors weights plus a small architecture description.
//!
//! A model file is one safetensors file. Its tensors are named `layers.{k}.weight` and
//! `layers.{k}.bias` after the index `k` of the layer in the architecture, in PyTorch layouts
//! (conv `[c_out][c_in][kh][kw]`, dense `[out][in]`), little-endian `f32`. Its metadata holds
//! the architecture as JSON under `tdsnn.architecture` and what the weights mean under
//! `tdsnn.model` ([`ModelInfo`]: the activation they were trained for, `L`, free notes).
//!
//! ```json
//! {"input": [1, 28, 28], "layers": [
//!   {"type": "conv2d", "out_channels": 20, "kernel": [5, 5], "stride": [1, 1], "padding": [0, 0], "bias": true},
//!   {"type": "relu"}, {"type": "max_pool", "kernel": [2, 2], "stride": [2, 2], "padding": [0, 0]},
//!   {"type": "flatten"}, {"type": "dense", "outputs": 10, "bias": true}]}
//! ```

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use tdsnn_converter::{Dnn, ModelError};
use tdsnn_engine::{Shape, Window};

use crate::input::{self, InputError, InputErrorKind};

/// Metadata key of the architecture JSON.
pub const ARCHITECTURE_KEY: &str = "tdsnn.architecture";
/// Metadata key of the [`ModelInfo`] JSON.
pub const MODEL_KEY: &str = "tdsnn.model";

pub use tdsnn_converter::model::{Architecture, LayerSpec};

/// A layer of the architecture JSON: kind and geometry, no weights (the file format's
/// spelling of a [`LayerSpec`]).
///
/// An object whose `type` names the kind (`conv2d`, `dense`, `max_pool`, `avg_pool`,
/// `flatten`, `relu`), with exactly the kind's fields: an unknown field is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// Derived as associated functions, wrapped by the trait impls below: serde ignores
// `deny_unknown_fields` on the field-less kinds of an internally tagged enum, so they are
// checked by hand first.
#[serde(remote = "Self")]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum LayerJson {
    Conv2d {
        out_channels: u32,
        kernel: [u32; 2],
        stride: [u32; 2],
        padding: [u32; 2],
        bias: bool,
    },
    Dense {
        outputs: u32,
        bias: bool,
    },
    MaxPool {
        kernel: [u32; 2],
        stride: [u32; 2],
        padding: [u32; 2],
    },
    AvgPool {
        kernel: [u32; 2],
        stride: [u32; 2],
        padding: [u32; 2],
    },
    Flatten,
    Relu,
}

impl Serialize for LayerJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        LayerJson::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for LayerJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let kind = map.get("type").and_then(serde_json::Value::as_str);
        if let Some(kind @ ("flatten" | "relu")) = kind {
            if let Some(field) = map.keys().find(|k| *k != "type") {
                return Err(D::Error::custom(format!(
                    "unknown field `{field}`: a `{kind}` layer has no fields but `type`"
                )));
            }
        }
        LayerJson::deserialize(serde_json::Value::Object(map)).map_err(D::Error::custom)
    }
}

impl LayerJson {
    /// The file format's spelling of `spec`; `None` for a shortcut or concat, which model
    /// files do not hold (they hold chains).
    fn of(spec: &LayerSpec) -> Option<LayerJson> {
        Some(match *spec {
            LayerSpec::Conv2d {
                out_channels,
                window,
                bias,
                ..
            } => LayerJson::Conv2d {
                out_channels,
                kernel: window.kernel,
                stride: window.stride,
                padding: window.padding,
                bias: bias.is_some(),
            },
            LayerSpec::Dense { outputs, bias, .. } => LayerJson::Dense {
                outputs,
                bias: bias.is_some(),
            },
            LayerSpec::MaxPool { window } => LayerJson::MaxPool {
                kernel: window.kernel,
                stride: window.stride,
                padding: window.padding,
            },
            LayerSpec::AvgPool { window } => LayerJson::AvgPool {
                kernel: window.kernel,
                stride: window.stride,
                padding: window.padding,
            },
            LayerSpec::Flatten => LayerJson::Flatten,
            LayerSpec::Relu => LayerJson::Relu,
            LayerSpec::Shortcut { .. } | LayerSpec::Concat { .. } => return None,
        })
    }
}

impl From<LayerJson> for LayerSpec {
    fn from(json: LayerJson) -> Self {
        let has = |bias: bool| bias.then_some(());
        match json {
            LayerJson::Conv2d {
                out_channels,
                kernel,
                stride,
                padding,
                bias,
            } => LayerSpec::Conv2d {
                out_channels,
                window: Window {
                    kernel,
                    stride,
                    padding,
                },
                weights: (),
                bias: has(bias),
            },
            LayerJson::Dense { outputs, bias } => LayerSpec::Dense {
                outputs,
                weights: (),
                bias: has(bias),
            },
            LayerJson::MaxPool {
                kernel,
                stride,
                padding,
            } => LayerSpec::MaxPool {
                window: Window {
                    kernel,
                    stride,
                    padding,
                },
            },
            LayerJson::AvgPool {
                kernel,
                stride,
                padding,
            } => LayerSpec::AvgPool {
                window: Window {
                    kernel,
                    stride,
                    padding,
                },
            },
            LayerJson::Flatten => LayerSpec::Flatten,
            LayerJson::Relu => LayerSpec::Relu,
        }
    }
}

/// The architecture JSON under [`ARCHITECTURE_KEY`]: input shape (C, H, W) and layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchitectureJson {
    input: [u32; 3],
    layers: Vec<LayerJson>,
}

impl ArchitectureJson {
    /// The file format's spelling of `arch`; `None` if it joins branches.
    fn of(arch: &Architecture) -> Option<ArchitectureJson> {
        let s = arch.input;
        Some(ArchitectureJson {
            input: [s.c, s.h, s.w],
            layers: arch
                .layers
                .iter()
                .map(LayerJson::of)
                .collect::<Option<_>>()?,
        })
    }
}

impl From<ArchitectureJson> for Architecture {
    fn from(json: ArchitectureJson) -> Self {
        let [c, h, w] = json.input;
        Architecture {
            input: Shape::new(c, h, w),
            layers: json.layers.into_iter().map(LayerSpec::from).collect(),
        }
    }
}

/// The activations a model file's weights may be trained for ([`ModelInfo::activation`]):
/// `relu`, and `g`, the DNN(G) of the paper.
pub const ACTIVATIONS: [&str; 2] = ["relu", "g"];

/// What a model file's weights mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// The activation the weights were trained for: `relu`, or `g` (the DNN(G) of the paper,
    /// `G` in front of every synapse-based layer, ready to convert); one of [`ACTIVATIONS`].
    /// Reading and writing refuse any other.
    pub activation: String,
    /// The leak constant `L` the weights were trained for (`g` models).
    pub leak: Option<f64>,
    /// Free-form notes: how the model was made, its accuracy.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A model file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelFileError {
    /// Reading or writing the file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The file is not valid safetensors.
    #[error("{path}: not a safetensors file: {message}")]
    Safetensors {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// The metadata lacks the architecture or model description, or it is not valid JSON.
    #[error("{path}: metadata `{key}`: {message}")]
    Metadata {
        /// The file.
        path: String,
        /// The metadata key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The file cannot be read within its limits: larger than [`input::FILE_LIMIT`], a pipe
    /// or device past [`input::STREAM_LIMIT`], or changing while read.
    #[error(transparent)]
    Input(InputError),
    /// The model description names an activation other than those in [`ACTIVATIONS`].
    #[error(
        "{path}: metadata `{MODEL_KEY}`: activation {found:?} is not one of {}",
        ACTIVATIONS.map(|a| format!("{a:?}")).join(", ")
    )]
    Activation {
        /// The file.
        path: String,
        /// The activation given.
        found: String,
    },
    /// A tensor the architecture needs is missing, has the wrong dtype or shape.
    #[error("{path}: tensor `{name}`: {message}")]
    Tensor {
        /// The file.
        path: String,
        /// The tensor's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The network joins branches (a shortcut or concat, a residual network): model files
    /// hold chains.
    #[error("{path}: model files hold chains; export residual networks to ONNX")]
    Branches {
        /// The file.
        path: String,
    },
    /// The weights do not form a valid network.
    #[error("{path}: {error}")]
    Model {
        /// The file.
        path: String,
        /// The model error, naming the layer.
        error: ModelError,
    },
}

/// A DNN with what its weights mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The network.
    pub dnn: Dnn,
    /// What the weights mean.
    pub info: ModelInfo,
}

fn tensor_name(k: usize, what: &str) -> String {
    format!("layers.{k}.{what}")
}

/// Writes `model` to `path` (see the [module docs](self)).
///
/// # Example
/// ```
/// use tdsnn_io::model_file::{read_model, write_model, Model, ModelInfo};
/// use tdsnn_converter::{Dnn, DnnLayer, Shape};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dnn = Dnn::new(Shape::flat(2), vec![
///     DnnLayer::Dense { outputs: 1, weights: vec![0.5, -1.5], bias: Some(vec![0.25]) },
/// ])?;
/// let info = ModelInfo { activation: "relu".into(), ..ModelInfo::default() };
/// let path = std::env::temp_dir().join(format!("tdsnn-doc-{}.safetensors", std::process::id()));
/// write_model(&Model { dnn: dnn.clone(), info }, &path)?;
/// assert_eq!(read_model(&path)?.dnn, dnn);
/// # std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
pub fn write_model(model: &Model, path: impl AsRef<Path>) -> Result<(), ModelFileError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    // Never write a file that reading refuses.
    check_activation(&model.info.activation, &name)?;
    let architecture = ArchitectureJson::of(&Architecture::of(&model.dnn))
        .ok_or(ModelFileError::Branches { path: name.clone() })?;
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (k, layer) in model.dnn.layers().iter().enumerate() {
        // Every tensor of the layer in order (weight, then bias), in PyTorch's layout.
        let shape_of = |_| Shape::flat(1); // a chain refers to no earlier tensor
        let listed = layer.try_map(
            model.dnn.input_shape_of(k),
            &shape_of,
            |what, shape, values| {
                let bytes = values.iter().flat_map(|x| x.to_le_bytes()).collect();
                let shape = shape.iter().map(|&d| d as usize).collect();
                tensors.push((tensor_name(k, what), shape, bytes));
                Ok::<_, std::convert::Infallible>(())
            },
        );
        if let Err(never) = listed {
            match never {}
        }
    }
    let json = |v: serde_json::Result<String>| v.expect("plain structs serialise");
    let metadata = HashMap::from([
        (
            ARCHITECTURE_KEY.to_string(),
            json(serde_json::to_string(&architecture)),
        ),
        (
            MODEL_KEY.to_string(),
            json(serde_json::to_string(&model.info)),
        ),
    ]);
    let views = tensors.iter().map(|(n, shape, data)| {
        let view = TensorView::new(Dtype::F32, shape.clone(), data).expect("sizes match shapes");
        (n.clone(), view)
    });
    // Serialised in memory and written with `fs::write`, so the file gets the permissions
    // `File::create` gives (0666 less the umask): safetensors' own `serialize_to_file` moves
    // a 0600 temporary file into place.
    let bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| ModelFileError::Safetensors {
            path: name.clone(),
            message: e.to_string(),
        })?;
    std::fs::write(path, bytes).map_err(|error| ModelFileError::Io { path: name, error })
}

/// Whether `prefix`, the first bytes of a file, can start a model file: a safetensors file
/// starts with its JSON header's length (`u64`, little-endian), then the header's `{`. Nine
/// bytes decide it; a graph file ([`tdsnn_engine::format::is_graph_file`]) never starts so.
///
/// # Example
/// ```
/// use tdsnn_io::model_file::is_model_file;
/// assert!(is_model_file(b"\x58\x01\0\0\0\0\0\0{\"__metadata__\""));
/// assert!(!is_model_file(b"TDSNNGRF\x01\0\0\0"));
/// ```
pub fn is_model_file(prefix: &[u8]) -> bool {
    prefix.len() > 8 && prefix[8] == b'{'
}

/// Reads a model file (see the [module docs](self)); every failure names the file, and the
/// tensor, metadata key or layer.
///
/// The file is read whole through [`input::read_bounded`]: at most [`input::FILE_LIMIT`]
/// bytes, a pipe or a device (such as `/dev/zero`) at most [`input::STREAM_LIMIT`].
///
/// # Errors
/// [`ModelFileError::Io`] if the file cannot be read, [`ModelFileError::Input`] if it is over
/// its limit or changes while read; otherwise as [`model_from_bytes`].
///
/// # Example
/// ```
/// use tdsnn_io::model_file::{read_model, ModelFileError};
/// # if cfg!(unix) {
/// // A device without an end: refused after 32 MiB, not read until memory runs out.
/// let err = read_model("/dev/zero").unwrap_err();
/// assert!(matches!(err, ModelFileError::Input(_)));
/// assert!(err.to_string().starts_with("/dev/zero: not a regular file"));
/// # }
/// ```
pub fn read_model(path: impl AsRef<Path>) -> Result<Model, ModelFileError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = input::read_bounded(path, input::FILE_LIMIT).map_err(|e| match e.kind {
        InputErrorKind::Io { kind, message } => ModelFileError::Io {
            path: name.clone(),
            error: std::io::Error::new(kind, message),
        },
        _ => ModelFileError::Input(e),
    })?;
    model_from_bytes(&bytes, &name)
}

/// Checks that `activation` is one of [`ACTIVATIONS`].
fn check_activation(activation: &str, name: &str) -> Result<(), ModelFileError> {
    if ACTIVATIONS.contains(&activation) {
        return Ok(());
    }
    Err(ModelFileError::Activation {
        path: name.to_string(),
        found: activation.to_string(),
    })
}

/// Reads a model from the bytes of a model file; `name` labels errors.
///
/// Strict: the architecture and the model description must hold exactly the documented
/// fields (an unknown one is an error, not ignored), the activation must be one of
/// [`ACTIVATIONS`], and every tensor must have exactly the shape its layer needs in PyTorch's
/// layout (a dense weight stored `[800, 500]` where `[500, 800]` belongs is refused, not
/// read transposed).
///
/// # Errors
/// [`ModelFileError::Safetensors`] if the bytes are not safetensors,
/// [`ModelFileError::Metadata`] or [`ModelFileError::Activation`] for the metadata,
/// [`ModelFileError::Tensor`] for a tensor missing or of the wrong dtype or shape,
/// [`ModelFileError::Model`] if the layers do not fit together.
pub fn model_from_bytes(bytes: &[u8], name: &str) -> Result<Model, ModelFileError> {
    let st_error = |e: safetensors::SafeTensorError| ModelFileError::Safetensors {
        path: name.to_string(),
        message: e.to_string(),
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(st_error)?;
    let tensors = SafeTensors::deserialize(bytes).map_err(st_error)?;
    let empty = HashMap::new();
    let meta = header.metadata().as_ref().unwrap_or(&empty);
    let field = |key: &'static str| {
        meta.get(key).ok_or_else(|| ModelFileError::Metadata {
            path: name.to_string(),
            key,
            message: "missing".into(),
        })
    };
    let meta_error = |key, e: serde_json::Error| ModelFileError::Metadata {
        path: name.to_string(),
        key,
        message: e.to_string(),
    };
    let arch: ArchitectureJson = serde_json::from_str(field(ARCHITECTURE_KEY)?)
        .map_err(|e| meta_error(ARCHITECTURE_KEY, e))?;
    let arch = Architecture::from(arch);
    let info: ModelInfo =
        serde_json::from_str(field(MODEL_KEY)?).map_err(|e| meta_error(MODEL_KEY, e))?;
    check_activation(&info.activation, name)?;
    let dnn = arch
        .build(|k, what, shape| {
            let tname = tensor_name(k, what);
            let fail = |message: String| ModelFileError::Tensor {
                path: name.to_string(),
                name: tname.clone(),
                message,
            };
            let view = tensors.tensor(&tname).map_err(|e| fail(e.to_string()))?;
            if view.dtype() != Dtype::F32 {
                return Err(fail(format!("dtype {:?}, expected F32", view.dtype())));
            }
            if !view
                .shape()
                .iter()
                .map(|&d| d as u64)
                .eq(shape.iter().copied())
            {
                return Err(fail(format!(
                    "shape {:?}, expected {shape:?} (PyTorch's layout: {})",
                    view.shape(),
                    if what == "bias" {
                        "[outputs]"
                    } else if shape.len() == 4 {
                        "[out_channels, in_channels, kh, kw]"
                    } else {
                        "[outputs, inputs]"
                    }
                )));
            }
            // safetensors data may be unaligned: decode rather than cast.
            Ok(view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        })?
        .map_err(|error| ModelFileError::Model {
            path: name.to_string(),
            error,
        })?;
    Ok(Model { dnn, info })
}
