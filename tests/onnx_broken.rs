//! Broken ONNX files give typed errors naming what is wrong, never a panic: the broken
//! fixtures (unknown operators, a dangling input, a cycle, a truncated file), every good
//! fixture truncated at many offsets, and edits of a good model that are not chains.

use std::path::PathBuf;

use prost::Message;
use tdsnn::converter::onnx::proto::ModelProto;
use tdsnn::converter::onnx::{import_onnx, read_onnx, OnnxErrorKind};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/onnx")
}

const GOOD: [&str; 4] = [
    "lenet_bn_legacy",
    "lenet_bn_dynamo",
    "strided_dynamo",
    "avgpool_legacy",
];

/// The error of a broken fixture; its message starts with the file's path.
fn broken(name: &str) -> OnnxErrorKind {
    let path = dir().join("broken").join(name);
    let err = read_onnx(&path).unwrap_err();
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
    println!("{err}");
    err.into_kind()
}

#[test]
fn unknown_operators_are_all_listed_with_their_nodes() {
    let OnnxErrorKind::Unsupported { nodes } = broken("unknown_op.onnx") else {
        panic!("not Unsupported")
    };
    let ops: Vec<&str> = nodes.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(ops, ["Softplus", "NoSuchOp"]);
    assert!(nodes.iter().all(|n| !n.name.is_empty()));
}

#[test]
fn dangling_input_names_node_and_tensor() {
    let OnnxErrorKind::Dangling { node, input } = broken("dangling_input.onnx") else {
        panic!("not Dangling")
    };
    assert_eq!(input, "missing_tensor");
    assert_eq!(node.op_type, "Relu");
}

#[test]
fn cycle_names_a_node_on_it() {
    let OnnxErrorKind::Cycle { node } = broken("cyclic.onnx") else {
        panic!("not Cycle")
    };
    // The cycle runs through the first ReLU, the max-pool, the conv, the BatchNorm and the
    // second ReLU.
    assert!(
        ["Relu", "MaxPool", "Conv", "BatchNormalization"].contains(&node.op_type.as_str()),
        "{node}"
    );
}

#[test]
fn truncated_fixture_does_not_decode() {
    assert!(matches!(broken("truncated.onnx"), OnnxErrorKind::Decode(_)));
}

#[test]
fn every_truncation_of_every_good_fixture_is_an_error() {
    let mut tried = 0;
    for name in GOOD {
        let bytes = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
        assert!(import_onnx(&bytes, name).is_ok());
        let offsets = (0..64).chain((64..bytes.len()).step_by(97));
        for at in offsets {
            let result = import_onnx(&bytes[..at], name);
            assert!(result.is_err(), "{name} truncated at {at} imported");
            tried += 1;
        }
    }
    println!("{tried} truncations, all errors");
}

fn lenet() -> ModelProto {
    let bytes = std::fs::read(dir().join("lenet_bn_legacy.onnx")).unwrap();
    ModelProto::decode(&bytes[..]).unwrap()
}

fn import(model: &ModelProto) -> OnnxErrorKind {
    let Err(err) = import_onnx(&model.encode_to_vec(), "edited.onnx") else {
        panic!("the edited model imported")
    };
    println!("{err}");
    err.into_kind()
}

#[test]
fn graphs_that_are_not_chains() {
    // A branch: a node off the path also reads the first conv's output.
    let mut m = lenet();
    let g = m.graph.as_mut().unwrap();
    let mut extra = g.node[2].clone(); // a Relu
    extra.name = "side_relu".into();
    extra.output = vec!["side".into()];
    g.node.push(extra);
    assert!(matches!(import(&m), OnnxErrorKind::NotAChain(why) if why.contains("feeds 2 nodes")));

    // Two outputs.
    let mut m = lenet();
    let g = m.graph.as_mut().unwrap();
    let out = g.output[0].clone();
    g.output.push(out);
    assert!(matches!(import(&m), OnnxErrorKind::NotAChain(why) if why.contains("2 outputs")));

    // A second data input.
    let mut m = lenet();
    let g = m.graph.as_mut().unwrap();
    let mut input = g.input[0].clone();
    input.name = "other".into();
    g.input.push(input);
    assert!(matches!(import(&m), OnnxErrorKind::NotAChain(why) if why.contains("2 data inputs")));

    // External data.
    let mut m = lenet();
    let g = m.graph.as_mut().unwrap();
    g.initializer[0].data_location = 1;
    assert!(matches!(import(&m), OnnxErrorKind::ExternalData { .. }));

    // A grouped convolution.
    let mut m = lenet();
    let g = m.graph.as_mut().unwrap();
    let conv = g.node.iter_mut().find(|n| n.op_type == "Conv").unwrap();
    let mut group = conv.attribute[0].clone();
    group.name = "group".into();
    group.r#type = 2;
    group.i = 2;
    group.ints.clear();
    conv.attribute.retain(|a| a.name != "group");
    conv.attribute.push(group);
    assert!(
        matches!(import(&m), OnnxErrorKind::Node { node, what } if node.op_type == "Conv" && what.contains("group"))
    );

    // No graph, no opset.
    let mut m = lenet();
    m.graph = None;
    assert!(matches!(import(&m), OnnxErrorKind::NoGraph));
    let mut m = lenet();
    m.opset_import.clear();
    assert!(matches!(import(&m), OnnxErrorKind::Opset(_)));
}
