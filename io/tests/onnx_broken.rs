//! Broken ONNX files give typed errors naming what is wrong, never a panic: the broken
//! fixtures (unknown operators, a dangling input, a cycle, a truncated file), every good
//! fixture truncated at many offsets, edits of a good model that are not chains, and one
//! test per message: each names the node and shows the offending value as given.

mod support;

use prost::Message;
use support::onnx_builders::{float, int, ints};
use support::onnx_fixtures;
use tdsnn_io::input::InputErrorKind;
use tdsnn_io::onnx::proto::{
    data_type, AttributeProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
};
use tdsnn_io::onnx::{import_onnx, read_onnx, OnnxErrorKind};

const GOOD: [&str; 4] = [
    "lenet_bn_legacy",
    "lenet_bn_dynamo",
    "strided_dynamo",
    "avgpool_legacy",
];

/// The error of a broken fixture; its message starts with the file's path.
fn broken(name: &str) -> OnnxErrorKind {
    let path = onnx_fixtures().join("broken").join(name);
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
        let bytes = std::fs::read(onnx_fixtures().join(format!("{name}.onnx"))).unwrap();
        assert!(import_onnx(&bytes, name).is_ok());
        let offsets = (0..64).chain((64..bytes.len()).step_by(97));
        for at in offsets {
            let err = import_onnx(&bytes[..at], name)
                .expect_err(&format!("{name} truncated at {at} imported"));
            // Cut inside a message, the bytes do not decode; cut between the fields of the
            // model, they decode without the operator sets that come last in the exports.
            assert!(
                match err.kind() {
                    OnnxErrorKind::Empty => at == 0,
                    OnnxErrorKind::Decode(_) | OnnxErrorKind::NoDefaultOpset { .. } => at > 0,
                    _ => false,
                },
                "{name} truncated at {at}: {err}"
            );
            tried += 1;
        }
    }
    println!("{tried} truncations, all errors");
}

fn lenet() -> ModelProto {
    let bytes = std::fs::read(onnx_fixtures().join("lenet_bn_legacy.onnx")).unwrap();
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
    // A branch that goes nowhere: a node off the path also reads the first conv's output.
    let mut m = lenet();
    let g = m.graph.as_mut().unwrap();
    let mut extra = g.node[2].clone(); // a Relu
    extra.name = "side_relu".into();
    extra.output = vec!["side".into()];
    g.node.push(extra);
    assert!(
        matches!(import(&m), OnnxErrorKind::NotAChain(why) if why.contains("`side` (of node `side_relu` (Relu)) is used by no node"))
    );

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

    // External data with inline data too.
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
    assert!(matches!(import(&m), OnnxErrorKind::NoDefaultOpset { domains } if domains.is_empty()));
}

fn fixture(name: &str) -> ModelProto {
    let bytes = std::fs::read(onnx_fixtures().join(format!("{name}.onnx"))).unwrap();
    ModelProto::decode(&bytes[..]).unwrap()
}

/// The first node of `op_type`.
fn node<'a>(m: &'a mut ModelProto, op_type: &str) -> &'a mut NodeProto {
    let g = m.graph.as_mut().unwrap();
    g.node.iter_mut().find(|n| n.op_type == op_type).unwrap()
}

/// Sets an attribute of `node` (replacing one of the same name).
fn set(node: &mut NodeProto, attribute: AttributeProto) {
    node.attribute.retain(|a| a.name != attribute.name);
    node.attribute.push(attribute);
}

/// The error of a node: checks its operator and that the message holds every word.
fn node_error(m: &ModelProto, op_type: &str, words: &[&str]) -> String {
    match import(m) {
        OnnxErrorKind::Node { node, what } => {
            assert_eq!(node.op_type, op_type, "{what}");
            for w in words {
                assert!(what.contains(w), "`{w}` missing from: {what}");
            }
            what
        }
        other => panic!("not a Node error: {other}"),
    }
}

#[test]
fn strides_out_of_range_are_not_called_negative() {
    let mut m = lenet();
    set(node(&mut m, "Conv"), ints("strides", &[i64::MAX, 1]));
    let what = node_error(&m, "Conv", &["9223372036854775807", "out of range"]);
    assert!(!what.contains("non-negative"), "{what}");
    let mut m = lenet();
    set(node(&mut m, "MaxPool"), ints("strides", &[2, -3]));
    node_error(&m, "MaxPool", &["[2, -3]", "-3 is negative"]);
}

#[test]
fn ceil_mode_is_reported_with_its_value() {
    for value in [1, 2, -1] {
        let mut m = lenet();
        set(node(&mut m, "MaxPool"), int("ceil_mode", value));
        node_error(&m, "MaxPool", &[&format!("`ceil_mode` = {value}")]);
    }
}

#[test]
fn pads_are_shown_as_given() {
    let mut m = lenet();
    set(node(&mut m, "Conv"), ints("pads", &[-1, -1, -1, -1]));
    node_error(&m, "Conv", &["[-1, -1, -1, -1]", "negative"]);
    let mut m = lenet();
    set(node(&mut m, "MaxPool"), ints("pads", &[0, 1, 0, 2]));
    node_error(&m, "MaxPool", &["[0, 1, 0, 2]", "asymmetric"]);
}

/// A bad BatchNormalization epsilon or variance is the BatchNormalization's fault, not the
/// weights' of the conv it folds into.
#[test]
fn batchnorm_epsilon_and_variance_blame_the_batchnorm() {
    for (eps, shown) in [(f32::NAN, "NaN"), (-1e-3, "-0.001"), (f32::INFINITY, "inf")] {
        let mut m = lenet();
        set(node(&mut m, "BatchNormalization"), float("epsilon", eps));
        node_error(&m, "BatchNormalization", &["epsilon", shown]);
    }
    // The variance: one channel's replaced.
    let with_var = |v: f32, eps: f32| {
        let mut m = lenet();
        set(node(&mut m, "BatchNormalization"), float("epsilon", eps));
        let g = m.graph.as_mut().unwrap();
        let var = g
            .initializer
            .iter_mut()
            .find(|t| t.name == "1.running_var")
            .unwrap();
        var.raw_data[8..12].copy_from_slice(&v.to_le_bytes());
        m
    };
    node_error(
        &with_var(-1.0, 1e-5),
        "BatchNormalization",
        &["var[2] + epsilon", "-0.99"],
    );
    node_error(
        &with_var(-1e-5, 1e-5),
        "BatchNormalization",
        &["var[2] + epsilon", "positive"],
    );
    node_error(
        &with_var(0.0, 0.0),
        "BatchNormalization",
        &["var[2] + epsilon = 0.0"],
    );
    node_error(
        &with_var(f32::NAN, 1e-5),
        "BatchNormalization",
        &["var[2] = NaN", "not finite"],
    );
    // A tiny variance and a huge scale: the folded weights overflow.
    let mut m = with_var(1e-45, 0.0);
    let g = m.graph.as_mut().unwrap();
    let scale = g
        .initializer
        .iter_mut()
        .find(|t| t.name == "1.weight")
        .unwrap();
    scale.raw_data[8..12].copy_from_slice(&1e30f32.to_le_bytes());
    node_error(&m, "BatchNormalization", &["channel 2", "overflows"]);
    // Opsets 7 and 8: per-activation statistics (spatial = 0) are not per channel.
    let mut m = fixture("pattern_batchnorm_opset7");
    set(node(&mut m, "BatchNormalization"), int("spatial", 0));
    node_error(&m, "BatchNormalization", &["`spatial` = 0"]);
}

#[test]
fn empty_file_is_not_an_onnx_model() {
    let err = import_onnx(&[], "empty.onnx").unwrap_err();
    println!("{err}");
    assert!(matches!(err.kind(), OnnxErrorKind::Empty));
    assert!(err
        .to_string()
        .contains("empty (0 bytes), not an ONNX model"));
    let path = std::env::temp_dir().join(format!("tdsnn-empty-{}.onnx", std::process::id()));
    std::fs::write(&path, b"").unwrap();
    let err = read_onnx(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(err.kind(), OnnxErrorKind::Empty), "{err}");
}

#[test]
fn no_default_opset_is_said_distinctly() {
    let mut m = lenet();
    m.opset_import = vec![OperatorSetIdProto {
        domain: "com.microsoft".into(),
        version: 1,
    }];
    let err = import(&m);
    let message = err.to_string();
    assert!(
        message.contains("no default-domain operator set"),
        "{message}"
    );
    assert!(message.contains("com.microsoft"), "{message}");
    assert!(
        matches!(err, OnnxErrorKind::NoDefaultOpset { domains } if domains == ["com.microsoft"])
    );
    // None at all: what bytes that happen to decode as an empty ModelProto give.
    let err = import_onnx(&[0x08, 0x07], "ir-only.onnx").unwrap_err();
    assert!(
        matches!(err.kind(), OnnxErrorKind::NoDefaultOpset { domains } if domains.is_empty()),
        "{err}"
    );
    assert!(err.to_string().contains("no operator set at all"), "{err}");
    // Out of range, both ends.
    for version in [6, 26] {
        let mut m = lenet();
        m.opset_import[0].version = version;
        assert!(matches!(import(&m), OnnxErrorKind::Opset { version: v } if v == version));
    }
}

#[test]
fn gemm_transpositions_are_checked_by_value() {
    for value in [2, -1] {
        let mut m = lenet();
        set(node(&mut m, "Gemm"), int("transB", value));
        node_error(&m, "Gemm", &[&format!("`transB` = {value}"), "0 or 1"]);
    }
    let mut m = lenet();
    set(node(&mut m, "Gemm"), int("transA", 1));
    node_error(&m, "Gemm", &["`transA` = 1", "not supported"]);
}

/// `Unsqueeze` and `ReduceMean` take their axes in the form the operator set says.
#[test]
fn axes_follow_the_operator_set() {
    // Opset 13's chain given opset 12: Unsqueeze's axes as an input is refused.
    let mut m = fixture("pattern_chain_opset13");
    m.opset_import[0].version = 12;
    node_error(&m, "Unsqueeze", &["operator set 12", "attribute `axes`"]);
    // Opset 9's chain given opset 13: the attribute is refused.
    let mut m = fixture("pattern_chain_opset9");
    m.opset_import[0].version = 13;
    node_error(&m, "Unsqueeze", &["operator set 13", "input 1"]);
    // ReduceMean's axes as an attribute at opset 18.
    let mut m = fixture("pattern_reducemean_opset18");
    let mean = node(&mut m, "ReduceMean");
    mean.input.truncate(1);
    set(mean, ints("axes", &[2, 3]));
    node_error(&m, "ReduceMean", &["operator set 18", "input 1"]);
}

#[test]
fn reduce_mean_over_other_axes_is_refused() {
    for axes in [&[1, 2][..], &[2], &[2, 3, 3], &[0, 2, 3], &[-3, -1]] {
        let mut m = fixture("pattern_reducemean_opset13");
        set(node(&mut m, "ReduceMean"), ints("axes", axes));
        node_error(
            &m,
            "ReduceMean",
            &[&format!("{axes:?}"), "two spatial axes"],
        );
    }
    // No axes: every axis.
    let mut m = fixture("pattern_reducemean_opset13");
    node(&mut m, "ReduceMean")
        .attribute
        .retain(|a| a.name != "axes");
    node_error(&m, "ReduceMean", &["every axis"]);
    // noop_with_empty_axes = 1 and no axes: an identity.
    let mut m = fixture("pattern_reducemean_opset18");
    let mean = node(&mut m, "ReduceMean");
    mean.input.truncate(1);
    set(mean, int("noop_with_empty_axes", 1));
    node_error(&m, "ReduceMean", &["noop_with_empty_axes = 1", "identity"]);
    let mut m = fixture("pattern_reducemean_opset18");
    set(node(&mut m, "ReduceMean"), int("keepdims", 2));
    node_error(&m, "ReduceMean", &["`keepdims` = 2"]);
}

/// A shape chain that computes anything but `(batch, -1)`, or shape operators on the data.
#[test]
fn shape_chains_must_compute_batch_and_features() {
    // Gather index 1: the channel count, not the batch.
    let mut m = fixture("pattern_chain_opset13");
    let g = m.graph.as_mut().unwrap();
    let index = g.initializer.iter_mut().find(|t| t.name == "c4").unwrap();
    index.raw_data = 1i64.to_le_bytes().to_vec();
    node_error(&m, "Reshape", &["(batch, 200)", "[8, -1]"]);
    // Index 4 of a 4-axis shape.
    let g = m.graph.as_mut().unwrap();
    let index = g.initializer.iter_mut().find(|t| t.name == "c4").unwrap();
    index.raw_data = 4i64.to_le_bytes().to_vec();
    node_error(&m, "Gather", &["index 4 is out of range"]);
    // A Gather reading the data itself.
    let mut m = fixture("pattern_chain_opset13");
    let g = m.graph.as_mut().unwrap();
    let gather = g.node.iter_mut().find(|n| n.op_type == "Gather").unwrap();
    gather.input[0] = "relu_5".into();
    assert!(
        matches!(import(&m), OnnxErrorKind::NotAChain(why) if why.contains("(Reshape) joins 2 computed tensors"))
    );
}

#[test]
fn dev_zero_is_refused_without_reading_it_all() {
    if !std::path::Path::new("/dev/zero").exists() {
        return;
    }
    let start = std::time::Instant::now();
    let err = read_onnx("/dev/zero").unwrap_err();
    println!("{err} ({:?})", start.elapsed());
    assert!(
        matches!(
            err.kind(),
            OnnxErrorKind::Read(InputErrorKind::StreamTooLong { .. })
        ),
        "{err}"
    );
}

/// A Dropout told to train (opset 12 on: its `training_mode` input) would drop at random:
/// refused; told not to, dropped.
#[test]
fn dropout_in_training_mode_is_refused() {
    for (on, imports) in [(1u8, false), (0, true)] {
        let mut m = fixture("pattern_batchnorm_opset7");
        m.opset_import[0].version = 13;
        let dropout = node(&mut m, "Dropout");
        dropout.attribute.clear();
        dropout.input.extend(["".into(), "training".into()]);
        let g = m.graph.as_mut().unwrap();
        g.initializer.push(TensorProto {
            name: "training".into(),
            data_type: data_type::BOOL,
            raw_data: vec![on],
            ..TensorProto::default()
        });
        if imports {
            let dnn = import_onnx(&m.encode_to_vec(), "eval.onnx").unwrap().dnn;
            assert_eq!(dnn.layers().len(), 7);
        } else {
            node_error(&m, "Dropout", &["training_mode = true", "at random"]);
        }
    }
}
