//! ONNX messages built by hand, for tests that write a model node by node: value infos,
//! tensors, nodes, attributes and the model around a graph. Used by the ONNX tests of
//! `tdsnn-io` (through `mod support;`) and by the root crate's fuzz seed writer
//! (`tests/fuzz_regressions.rs`, through `#[path]`), so that there is one copy.
#![allow(dead_code)] // each test binary uses a different part of this module

use tdsnn_io::onnx::proto::{
    attribute_type, data_type, AttributeProto, Dimension, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TensorTypeProto,
    TypeProto, ValueInfoProto,
};

/// A graph input or output: a float tensor `name` of fixed extents `dims`.
pub fn value(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            dim_value: d,
                            ..Dimension::default()
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

/// A float tensor `name` of shape `dims` holding no data yet.
pub fn float_tensor(name: &str, dims: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        ..TensorProto::default()
    }
}

/// A float tensor with `values` in `raw_data`, little-endian (the path PyTorch exports take).
pub fn raw_tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..float_tensor(name, dims)
    }
}

/// Node `name` applying `op` to `inputs`, with one output.
pub fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    output: &str,
    attribute: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: name.into(),
        op_type: op.into(),
        attribute,
        ..NodeProto::default()
    }
}

/// An `INT` attribute.
pub fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INT,
        i,
        ..AttributeProto::default()
    }
}

/// An `INTS` attribute.
pub fn ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INTS,
        ints: ints.to_vec(),
        ..AttributeProto::default()
    }
}

/// A `FLOAT` attribute.
pub fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::FLOAT,
        f,
        ..AttributeProto::default()
    }
}

/// An entry of a tensor's `external_data`.
pub fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: key.into(),
        value: value.into(),
    }
}

/// A model of `graph`, of IR version `ir_version`, importing the default operator set at
/// `opset`.
pub fn model(ir_version: i64, opset: i64, graph: GraphProto) -> ModelProto {
    ModelProto {
        ir_version,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(graph),
        ..ModelProto::default()
    }
}
