//! ONNX import: the files `torch.onnx.export` writes (the dynamo exporter, PyTorch's default,
//! opset 18 and up, weights in a `.onnx.data` file beside the model since PyTorch 2.9; the
//! legacy TorchScript exporter) and hand-written or older ones (default-domain operator sets
//! 7 to 25, [`OPSETS`]), read directly into a [`Dnn`] with no Python.
//!
//! The protobuf side is `prost` with hand-derived messages for the subset of `onnx.proto` the
//! importer reads ([`proto`]). The graph must be a chain from one data input, `(N, C, H, W)` or
//! `(N, F)` with a free batch axis, to one output, with the branches of residual networks
//! (see below); constants are initializers or `Constant` nodes (or an `Identity` of one),
//! their data inline or external ([`read_onnx`] finds the files in the model's
//! directory, [`import_onnx_with_data`] takes them from an [`ExternalData`] source such as
//! [`ExternalFiles`] in memory). Shape-only subgraphs, such as the `Shape -> Gather ->
//! Unsqueeze -> Concat` chain the legacy exporter writes for `x.view(x.size(0), -1)`, are
//! evaluated on the known shapes, the batch extent kept symbolic.
//!
//! | ONNX | becomes |
//! |---|---|
//! | `Conv` (strides, symmetric pads, dilation 1, group 1) | [`DnnLayer::Conv2d`](tdsnn_converter::DnnLayer::Conv2d) |
//! | `Gemm` (`transA = 0`, `transB` 0 or 1, any `alpha` and `beta`), `MatMul` + constant `Add` (either input order) | [`DnnLayer::Dense`](tdsnn_converter::DnnLayer::Dense) |
//! | `Relu` | [`DnnLayer::Relu`](tdsnn_converter::DnnLayer::Relu) |
//! | `MaxPool`, `AveragePool` (symmetric pads, `ceil_mode = 0`; padded average pools count the padding) | [`DnnLayer::MaxPool`](tdsnn_converter::DnnLayer::MaxPool), [`DnnLayer::AvgPool`](tdsnn_converter::DnnLayer::AvgPool) |
//! | `GlobalAveragePool`; `ReduceMean` over the two spatial axes (`axes` an attribute before opset 18, an input from 18; any order and sign; `keepdims` 0 or 1) | [`DnnLayer::AvgPool`](tdsnn_converter::DnnLayer::AvgPool), the window the whole plane (then [`DnnLayer::Flatten`](tdsnn_converter::DnnLayer::Flatten) if `keepdims = 0`) |
//! | `Flatten` (axis 1), `Reshape` to `(batch, features)`, its shape a constant or computed by `Shape`, `Gather`, `Unsqueeze` (`axes` an attribute before opset 13, an input from 13) and `Concat` | [`DnnLayer::Flatten`](tdsnn_converter::DnnLayer::Flatten) |
//! | `BatchNormalization` (inference; `spatial = 1` in opsets 7 and 8) | folded into the conv or dense layer before it |
//! | `Dropout`, `Identity` | dropped |
//! | `Add` of a `Conv` or `Gemm` output (with its BatchNorm) and an earlier activation, then `Relu` | [`DnnLayer::Shortcut`](tdsnn_converter::DnnLayer::Shortcut), identity |
//! | `Add` of a `Conv` or `Gemm` output and a `Conv` (+ `BatchNormalization`) of an earlier activation, then `Relu` | [`DnnLayer::Shortcut`](tdsnn_converter::DnnLayer::Shortcut) with that conv, BatchNorm folded, as its projection |
//! | `Concat` along channels (axis 1) of the current activation and earlier ones | [`DnnLayer::Concat`](tdsnn_converter::DnnLayer::Concat), one per earlier part |
//!
//! Residual networks (torchvision's `BasicBlock`, as both exporters write it) are linearised
//! into that chain: the data nodes are taken in topological order, each continuing the main
//! path from the tensor computed last, but for a projection shortcut's `Conv` (a `Conv` of a
//! tensor that branches, whose output reaches an `Add` through BatchNorm alone), kept aside
//! until its `Add`. An activation a shortcut or concat names must be one the spiking network
//! has neurons for: the input, a `Relu`'s output, or a pool or flatten of one. An `Add` not
//! followed by `Relu`, an `Add` of tensors neither of which is such an earlier activation of
//! the other's branch, a `Concat` on another axis, and any other branch are errors naming
//! the node.
//!
//! Every node with another operator is reported, all at once ([`OnnxErrorKind::Unsupported`]);
//! a node reading a tensor nothing provides, a cycle, or a graph that is not one chain gets
//! its own error naming the node and why; an attribute or constant the importer cannot honour
//! is named with its value as given ([`OnnxErrorKind::Node`]); external data that cannot be
//! read names the tensor and the file ([`OnnxErrorKind::ExternalData`]). Cost: linear in the
//! file size plus the external data's.

mod error;
mod external;
mod graph;
mod operators;
pub mod proto;
mod shapes;
mod tensor;

use std::path::{Path, PathBuf};

pub use error::{ExternalDataProblem, NodeRef, OnnxError, OnnxErrorKind};
pub use external::{ExternalData, ExternalFiles, ModelDir};

use tdsnn_converter::Dnn;
use tdsnn_engine::Shape;

use crate::input;
use crate::model_file::{Model, ModelInfo};

/// The largest ONNX file [`read_onnx`] reads: 2 GiB, protobuf's limit on one message (larger
/// models keep their weights in external data files, which do not count). A larger file, or
/// a device or pipe longer than [`input::STREAM_LIMIT`], is refused before it is read.
pub const MODEL_LIMIT: u64 = 2 << 30;

/// The oldest and newest default-domain operator set versions accepted.
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=25;

/// Reads an ONNX file into a [`Model`] (see the [module docs](self)). The model's
/// activation is `relu` (the positions of the ReLUs; give `L` when converting) and its notes
/// say where it came from. External data is read from the files beside it ([`ModelDir`]).
///
/// # Example
/// ```
/// use tdsnn_io::onnx::read_onnx;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // LeNet-5 as `torch.onnx.export` writes it by default: weights in `lenet_g_external.onnx.data`.
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/onnx/lenet_g_external.onnx");
/// let model = read_onnx(path)?;
/// assert_eq!(model.dnn.layers().len(), 10);
/// # Ok(()) }
/// ```
pub fn read_onnx(path: impl AsRef<Path>) -> Result<Model, OnnxError> {
    read_onnx_with_files(path).map(|(model, _)| model)
}

/// Reads an ONNX file as [`read_onnx`] does, and says which external data files it read:
/// each one's path, the model's directory joined with the tensor's `location`, once, in the
/// order first read. A tool that writes files can then refuse to write over any of them.
///
/// # Example
/// ```
/// use tdsnn_io::onnx::read_onnx_with_files;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/onnx");
/// let (_, files) = read_onnx_with_files(format!("{dir}/lenet_g_external.onnx"))?;
/// assert!(files.iter().all(|f| f.ends_with("lenet_g_external.onnx.data")));
/// assert_eq!(files.len(), 1);
/// # Ok(()) }
/// ```
pub fn read_onnx_with_files(path: impl AsRef<Path>) -> Result<(Model, Vec<PathBuf>), OnnxError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = input::read_bounded(path, MODEL_LIMIT)
        .map_err(|e| OnnxError::new(&name, OnnxErrorKind::Read(e.kind)))?;
    let dir = ModelDir::of_model(path);
    let recorder = external::Recorder::new(&dir);
    let model = import_onnx_with_data(&bytes, &name, &recorder)?;
    let files = recorder
        .into_locations()
        .iter()
        .map(|location| dir.dir().join(location))
        .collect();
    Ok((model, files))
}

/// Imports the bytes of an ONNX file; `name` labels errors and the model's notes. A tensor
/// keeping its data in an external file is an error
/// ([`ExternalDataProblem::NoDirectory`]): use [`read_onnx`], or
/// [`import_onnx_with_data`] with the files.
///
/// # Example
/// ```
/// use prost::Message;
/// use tdsnn_io::onnx::{import_onnx, proto::*};
/// use tdsnn_converter::DnnLayer;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // y = x W^T + b on 2 features (what torch.nn.Linear(2, 1) exports, transB = 1).
/// let value = |name: &str, dims: &[i64]| ValueInfoProto {
///     name: name.into(),
///     r#type: Some(TypeProto { tensor_type: Some(TensorTypeProto {
///         elem_type: data_type::FLOAT,
///         shape: Some(TensorShapeProto { dim: dims.iter().map(|&d| Dimension {
///             dim_value: d, ..Dimension::default() }).collect() }),
///     }) }),
/// };
/// let tensor = |name: &str, dims: &[i64], v: &[f32]| TensorProto {
///     name: name.into(), dims: dims.to_vec(), data_type: data_type::FLOAT,
///     float_data: v.to_vec(), ..TensorProto::default()
/// };
/// let model = ModelProto {
///     ir_version: 8,
///     opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
///     graph: Some(GraphProto {
///         node: vec![NodeProto {
///             input: vec!["x".into(), "w".into(), "b".into()],
///             output: vec!["y".into()],
///             name: "fc".into(),
///             op_type: "Gemm".into(),
///             attribute: vec![AttributeProto {
///                 name: "transB".into(), r#type: attribute_type::INT, i: 1,
///                 ..AttributeProto::default()
///             }],
///             ..NodeProto::default()
///         }],
///         initializer: vec![tensor("w", &[1, 2], &[0.5, -1.0]), tensor("b", &[1], &[0.25])],
///         input: vec![value("x", &[1, 2])],
///         output: vec![value("y", &[1, 1])],
///         ..GraphProto::default()
///     }),
///     ..ModelProto::default()
/// };
/// let imported = import_onnx(&model.encode_to_vec(), "linear.onnx")?;
/// assert_eq!(
///     imported.dnn.layers(),
///     &[DnnLayer::Dense { outputs: 1, weights: vec![0.5, -1.0], bias: Some(vec![0.25]) }]
/// );
/// # Ok(()) }
/// ```
pub fn import_onnx(bytes: &[u8], name: &str) -> Result<Model, OnnxError> {
    import_onnx_with_data(bytes, name, &external::NoDirectory)
}

/// Imports the bytes of an ONNX file whose tensors may keep their data in external files,
/// found in `data`: [`ExternalFiles`] for bytes held in memory, [`ModelDir`] for a
/// directory. `name` labels errors and the model's notes. No file system is touched unless
/// `data` touches it.
///
/// # Example
/// ```
/// use prost::Message;
/// use tdsnn_io::onnx::{import_onnx, import_onnx_with_data, proto::*, ExternalFiles};
/// use tdsnn_io::onnx::{ExternalDataProblem, OnnxErrorKind};
/// use tdsnn_converter::DnnLayer;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // y = x W^T on 2 features, W kept in `linear.onnx.data` at offset 8.
/// let entry = |key: &str, value: &str| StringStringEntryProto {
///     key: key.into(), value: value.into(),
/// };
/// let value = |name: &str, dims: &[i64]| ValueInfoProto {
///     name: name.into(),
///     r#type: Some(TypeProto { tensor_type: Some(TensorTypeProto {
///         elem_type: data_type::FLOAT,
///         shape: Some(TensorShapeProto { dim: dims.iter().map(|&d| Dimension {
///             dim_value: d, ..Dimension::default() }).collect() }),
///     }) }),
/// };
/// let model = ModelProto {
///     ir_version: 8,
///     opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 20 }],
///     graph: Some(GraphProto {
///         node: vec![NodeProto {
///             input: vec!["x".into(), "w".into()],
///             output: vec!["y".into()],
///             name: "fc".into(),
///             op_type: "Gemm".into(),
///             attribute: vec![AttributeProto {
///                 name: "transB".into(), r#type: attribute_type::INT, i: 1,
///                 ..AttributeProto::default()
///             }],
///             ..NodeProto::default()
///         }],
///         initializer: vec![TensorProto {
///             name: "w".into(), dims: vec![1, 2], data_type: data_type::FLOAT,
///             data_location: 1,
///             external_data: vec![
///                 entry("location", "linear.onnx.data"), entry("offset", "8"),
///                 entry("length", "8"),
///             ],
///             ..TensorProto::default()
///         }],
///         input: vec![value("x", &[1, 2])],
///         output: vec![value("y", &[1, 1])],
///         ..GraphProto::default()
///     }),
///     ..ModelProto::default()
/// };
/// let bytes = model.encode_to_vec();
/// let mut data = vec![0u8; 8];
/// data.extend([0.5f32, -1.0].iter().flat_map(|v| v.to_le_bytes()));
/// let files = ExternalFiles::new().with("linear.onnx.data", &data);
/// let imported = import_onnx_with_data(&bytes, "linear.onnx", &files)?;
/// assert_eq!(
///     imported.dnn.layers(),
///     &[DnnLayer::Dense { outputs: 1, weights: vec![0.5, -1.0], bias: None }]
/// );
/// // The bytes alone do not say where the data file is.
/// let err = import_onnx(&bytes, "linear.onnx").unwrap_err();
/// assert!(matches!(
///     err.kind(),
///     OnnxErrorKind::ExternalData { problem: ExternalDataProblem::NoDirectory, .. }
/// ));
/// # Ok(()) }
/// ```
pub fn import_onnx_with_data(
    bytes: &[u8],
    name: &str,
    data: &dyn ExternalData,
) -> Result<Model, OnnxError> {
    import(bytes, name, data).map_err(|kind| OnnxError::new(name, kind))
}

fn import(bytes: &[u8], name: &str, data: &dyn ExternalData) -> Result<Model, OnnxErrorKind> {
    if bytes.is_empty() {
        return Err(OnnxErrorKind::Empty);
    }
    let mut model = proto::decode(bytes).map_err(|e| OnnxErrorKind::Decode(e.to_string()))?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| graph::is_default_domain(&o.domain))
        .map(|o| o.version)
        .ok_or_else(|| OnnxErrorKind::NoDefaultOpset {
            domains: model
                .opset_import
                .iter()
                .map(|o| o.domain.clone())
                .collect(),
        })?;
    if !OPSETS.contains(&opset) {
        return Err(OnnxErrorKind::Opset { version: opset });
    }
    if model.graph.is_none() {
        return Err(OnnxErrorKind::NoGraph);
    }
    external::load(&mut model, data)?;
    let g = model.graph.as_ref().ok_or(OnnxErrorKind::NoGraph)?;
    let chain = graph::chain(g)?;
    let (shape, flat, batch) = input_shape(g, chain.input)?;
    let mut builder = operators::Builder::new(chain.input, shape, flat, batch, opset);
    let mut shapes = shapes::Shapes::new(&chain.shape_nodes, opset);
    shapes.record(chain.input, builder.dims());
    let constants = |n: &str| chain.constants.get(n);
    for &(index, node) in &chain.nodes {
        let node = operators::Node {
            name: graph::node_ref(index, node),
            proto: node,
        };
        let side = chain.side.contains(&index);
        if builder.apply(&node, &constants, &mut shapes, side)? {
            if let Some(out) = node.proto.output.first() {
                shapes.record(out, builder.dims());
            }
        }
    }
    builder.finish()?;
    let dnn = Dnn::new(shape, builder.layers)?;
    let producer = format!("{} {}", model.producer_name, model.producer_version);
    Ok(Model {
        dnn,
        info: ModelInfo {
            activation: "relu".into(),
            leak: None,
            notes: vec![format!(
                "imported from {name} (ONNX IR {}, opset {opset}, written by {})",
                model.ir_version,
                producer.trim()
            )],
        },
    })
}

/// The data input's shape without the batch axis: `(C, H, W)` for a rank-4 input, `(F)` for
/// a rank-2 one; whether it is rank 2; its batch extent if fixed.
fn input_shape(
    g: &proto::GraphProto,
    input: &str,
) -> Result<(Shape, bool, Option<i64>), OnnxErrorKind> {
    let fail = |what: String| OnnxErrorKind::NotAChain(format!("the input `{input}` {what}"));
    let dims: Vec<&proto::Dimension> = g
        .input
        .iter()
        .find(|v| v.name == input)
        .and_then(|v| v.r#type.as_ref()?.tensor_type.as_ref()?.shape.as_ref())
        .map(|s| s.dim.iter().collect())
        .ok_or_else(|| fail("has no tensor shape".into()))?;
    let fixed = |d: &proto::Dimension| u32::try_from(d.dim_value).ok().filter(|&v| v > 0);
    let extents: Option<Vec<u32>> = dims.iter().skip(1).map(|d| fixed(d)).collect();
    let batch = dims.first().map(|d| d.dim_value).filter(|&b| b > 0);
    match (dims.len(), extents.as_deref()) {
        (4, Some(&[c, h, w])) => Ok((Shape::new(c, h, w), false, batch)),
        (2, Some(&[f])) => Ok((Shape::flat(f), true, batch)),
        _ => Err(fail(format!(
            "must have shape (batch, C, H, W) or (batch, features) with fixed extents after \
             the batch axis; it has {} axes",
            dims.len()
        ))),
    }
}
