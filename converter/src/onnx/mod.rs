//! ONNX import: the file `torch.onnx.export` writes (legacy TorchScript exporter, opset 13 and
//! up, or the dynamo exporter, opset 18 and up), read directly into a [`Dnn`] with no Python.
//!
//! The protobuf side is `prost` with hand-derived messages for the subset of `onnx.proto` the
//! importer reads ([`proto`]). The graph must be a chain from one data input, `(N, C, H, W)` or
//! `(N, F)` with a free batch axis, to one output; constants are initializers (inline data)
//! or `Constant` nodes.
//!
//! | ONNX | becomes |
//! |---|---|
//! | `Conv` (strides, symmetric pads, dilation 1, group 1) | [`DnnLayer::Conv2d`](crate::DnnLayer::Conv2d) |
//! | `Gemm` (`transA = 0`, `transB`, `alpha`, `beta`), `MatMul` (+ constant `Add`) | [`DnnLayer::Dense`](crate::DnnLayer::Dense) |
//! | `Relu` | [`DnnLayer::Relu`](crate::DnnLayer::Relu) |
//! | `MaxPool`, `AveragePool` (symmetric pads, `ceil_mode = 0`) | [`DnnLayer::MaxPool`](crate::DnnLayer::MaxPool), [`DnnLayer::AvgPool`](crate::DnnLayer::AvgPool) |
//! | `Flatten` (axis 1), `Reshape` to `(batch, features)` | [`DnnLayer::Flatten`](crate::DnnLayer::Flatten) |
//! | `BatchNormalization` (inference) | folded into the conv or dense layer before it |
//! | `Dropout`, `Identity` | dropped |
//!
//! Every node with another operator is reported, all at once ([`OnnxErrorKind::Unsupported`]);
//! a node reading a tensor nothing provides, a cycle, or a graph that is not one chain gets
//! its own error naming the node and why. Cost: linear in the file size.

mod error;
mod graph;
mod ops;
pub mod proto;
mod tensor;

use std::path::Path;

pub use error::{NodeRef, OnnxError, OnnxErrorKind};

use crate::model::Dnn;
use crate::model_file::{Model, ModelInfo};
use tdsnn_engine::Shape;

/// The oldest and newest default-domain operator set versions accepted.
pub const OPSETS: std::ops::RangeInclusive<i64> = 9..=25;

/// Reads an ONNX file into a [`Model`] (see the [module docs](self)). The model's
/// activation is `relu` (the positions of the ReLUs; give `L` when converting) and its notes
/// say where it came from.
pub fn read_onnx(path: impl AsRef<Path>) -> Result<Model, OnnxError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| OnnxError::new(&name, OnnxErrorKind::Io(e)))?;
    import_onnx(&bytes, &name)
}

/// Imports the bytes of an ONNX file; `name` labels errors and the model's notes.
///
/// # Example
/// ```
/// use prost::Message;
/// use tdsnn_converter::onnx::{import_onnx, proto::*};
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
    import(bytes, name).map_err(|kind| OnnxError::new(name, kind))
}

fn import(bytes: &[u8], name: &str) -> Result<Model, OnnxErrorKind> {
    let model = proto::decode(bytes).map_err(|e| OnnxErrorKind::Decode(e.to_string()))?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| graph::is_default_domain(&o.domain))
        .map(|o| o.version)
        .ok_or_else(|| OnnxErrorKind::Opset("the model imports no default operator set".into()))?;
    if !OPSETS.contains(&opset) {
        return Err(OnnxErrorKind::Opset(format!(
            "operator set version {opset} is outside the supported {}..={}",
            OPSETS.start(),
            OPSETS.end()
        )));
    }
    let g = model.graph.as_ref().ok_or(OnnxErrorKind::NoGraph)?;
    let chain = graph::chain(g)?;
    let (shape, flat) = input_shape(g, chain.input)?;
    let mut builder = ops::Builder::new(shape, flat);
    let constants = |n: &str| chain.constants.get(n);
    for &(index, node) in &chain.nodes {
        let node = ops::Node {
            name: graph::node_ref(index, node),
            proto: node,
        };
        builder.apply(&node, &constants)?;
    }
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
/// a rank-2 one.
fn input_shape(g: &proto::GraphProto, input: &str) -> Result<(Shape, bool), OnnxErrorKind> {
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
    match (dims.len(), extents.as_deref()) {
        (4, Some(&[c, h, w])) => Ok((Shape::new(c, h, w), false)),
        (2, Some(&[f])) => Ok((Shape::flat(f), true)),
        _ => Err(fail(format!(
            "must have shape (batch, C, H, W) or (batch, features) with fixed extents after \
             the batch axis; it has {} axes",
            dims.len()
        ))),
    }
}
