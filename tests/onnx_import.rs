//! Every good ONNX fixture (see fixtures/onnx/README.md: exported by torch, or hand-written
//! with the onnx package) imports; its float ReLU forward pass gives the logits PyTorch or
//! onnxruntime computed (to 1e-4 relative); converted, its SNN fires every neuron at `T(A)`
//! of the f64 reference (ties counted), and the teacher-forced audit passes. External data
//! imports as the same weights inline. BatchNorm folding is exact to 1e-5 against BatchNorm
//! computed unfolded.

use std::path::PathBuf;

use prost::Message;
use tdsnn::converter::{convert, layer_map, reference_forward, relu_forward, Dnn, DnnLayer, Shape};
use tdsnn::engine::audit::{self, Tolerance};
use tdsnn::engine::{coding, Simulate, Simulator, TickMode, TilPolicy};
use tdsnn::io::model_file::read_model;
use tdsnn::io::onnx::proto::*;
use tdsnn::io::onnx::{
    import_onnx, import_onnx_with_data, read_onnx, ExternalDataProblem, ExternalFiles,
    OnnxErrorKind,
};

const LEAK: f64 = 5.0;
/// Tie window, in steps: `L ln(A + 1)` this close to an integer may land on either step
/// (the engine's bias weights are `b / G(1)` rounded to f32).
const TIE_WINDOW: f64 = 1e-6;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/onnx")
}

/// An NPY file of f32 values: (shape, values).
fn npy(path: PathBuf) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(&path).unwrap();
    let file = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = file.shape().to_vec();
    (shape, file.into_vec::<f32>().unwrap())
}

const FIXTURES: [&str; 4] = [
    "lenet_bn_legacy",
    "lenet_bn_dynamo",
    "strided_dynamo",
    "avgpool_legacy",
];

/// The layer kinds of the hand-written patterns: the conv trunk, then the head.
const CHAIN: &[&str] = &[
    "conv2d", "relu", "max_pool", "conv2d", "relu", "flatten", "dense",
];
const POOLED: &[&str] = &[
    "conv2d", "relu", "max_pool", "conv2d", "relu", "avg_pool", "flatten", "dense",
];
const TWO_DENSE: &[&str] = &[
    "conv2d", "relu", "max_pool", "conv2d", "relu", "flatten", "dense", "relu", "dense",
];
const POOLS: &[&str] = &[
    "conv2d", "relu", "max_pool", "conv2d", "relu", "avg_pool", "flatten", "dense",
];

/// The hand-written export patterns (fixtures/onnx/make_onnx_patterns.py), each with the
/// layer kinds it must import as.
const PATTERNS: [(&str, &[&str]); 9] = [
    ("pattern_chain_opset9", CHAIN),
    ("pattern_chain_opset13", CHAIN),
    ("pattern_batchnorm_opset7", CHAIN),
    ("pattern_global_avgpool_opset8", POOLED),
    ("pattern_reducemean_opset13", POOLED),
    ("pattern_reducemean_opset18", POOLED),
    ("pattern_gemm_alpha_beta_opset11", TWO_DENSE),
    ("pattern_matmul_add_opset25", TWO_DENSE),
    ("pattern_pools_opset10", POOLS),
];

/// Checks `dnn` against the logits in `{logits}.logits.npy` (computed by PyTorch or
/// onnxruntime on `inputs.npy`), to 1e-4 relative; then converts it at `L = 5` and checks
/// that every neuron fires at `T(A)` of the f64 reference (ties counted) and that the
/// teacher-forced audit passes.
fn matches_and_fires_at_t_of_a(name: &str, dnn: &Dnn, logits: &str) {
    let (shape, inputs) = npy(dir().join("inputs.npy"));
    assert_eq!(shape, [16, 1, 28, 28]);
    let per = 28 * 28;
    let (lshape, logits) = npy(dir().join(format!("{logits}.logits.npy")));
    assert_eq!(lshape, [16, 10], "{name}");
    // The float forward pass against the expected logits.
    let mut worst: f64 = 0.0;
    for (x, want) in inputs.chunks_exact(per).zip(logits.chunks_exact(10)) {
        let got = relu_forward(dnn, x).unwrap().logits;
        let scale = want.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
        for (g, &w) in got.iter().zip(want) {
            worst = worst.max((g - f64::from(w)).abs() / scale.max(1e-6));
        }
    }
    assert!(
        worst <= 1e-4,
        "{name}: logits off the expected ones by {worst:e} relative"
    );
    // The SNN against the f64 reference and the audit.
    let graph = convert(dnn, LEAK, TilPolicy::Dynamic).unwrap();
    let map = layer_map(dnn);
    let mut sim = Simulator::new(graph.clone(), TickMode::ClosedForm);
    let (mut checked, mut ties) = (0u64, 0u64);
    for x in inputs.chunks_exact(per) {
        let record = sim.run(x, &mut ()).unwrap();
        let reference = reference_forward(dnn, x, LEAK).unwrap();
        for (k, layer) in dnn.layers().iter().enumerate() {
            let (Some(a), Some(g)) = (reference.layers[k].pre_activations(), map[k]) else {
                continue;
            };
            let l = &record.layers[g];
            let Some(release) = l.release.filter(|_| !l.spikes.is_empty()) else {
                continue; // the output layer does not fire
            };
            for (j, (&t, &aj)) in l.spikes.iter().zip(a).enumerate() {
                checked += 1;
                if coding::is_tie(aj, LEAK, TIE_WINDOW) {
                    ties += 1;
                } else {
                    assert_eq!(
                        t - release,
                        coding::spike_time(aj, LEAK),
                        "{name}: layer {k} ({}) neuron {j}, A = {aj}",
                        layer.kind()
                    );
                }
            }
        }
        let report = audit::audit(&graph, x, &record, Tolerance::DEFAULT).unwrap();
        assert!(report.passed(), "{name}: audit failed");
    }
    println!("{name}: {checked} spikes = T(A) ({ties} ties), logits within {worst:.2e}");
    assert!(checked > 0);
}

#[test]
fn fixtures_match_pytorch_and_fire_at_t_of_a() {
    for name in FIXTURES {
        let model = read_onnx(dir().join(format!("{name}.onnx"))).unwrap();
        matches_and_fires_at_t_of_a(name, &model.dnn, name);
    }
}

/// Every export pattern (operator sets 7 to 25, the `(N, -1)` flatten chain, global average
/// pooling, `ReduceMean`, `Gemm` with `alpha` and `beta`, `MatMul` + `Add` either way round,
/// padded pools) imports as the layers it means and computes what onnxruntime computes.
#[test]
fn export_patterns_match_onnxruntime_and_fire_at_t_of_a() {
    for (name, kinds) in PATTERNS {
        let model = read_onnx(dir().join(format!("{name}.onnx"))).unwrap();
        let got: Vec<&str> = model.dnn.layers().iter().map(DnnLayer::kind).collect();
        assert_eq!(got, kinds, "{name}");
        matches_and_fires_at_t_of_a(name, &model.dnn, name);
    }
}

/// Global average pooling is an average pool whose window is the whole plane (5 x 5 here),
/// however the file says it: `GlobalAveragePool`, or `ReduceMean` over axes `[-1, -2]` or
/// `[3, 2]`, keeping the axes or not.
#[test]
fn global_average_pools_cover_the_plane() {
    for name in [
        "pattern_global_avgpool_opset8",
        "pattern_reducemean_opset13",
        "pattern_reducemean_opset18",
    ] {
        let dnn = read_onnx(dir().join(format!("{name}.onnx"))).unwrap().dnn;
        let k = 5;
        let DnnLayer::AvgPool { window } = dnn.layers()[k] else {
            panic!("{name}: layer {k} is not an average pool")
        };
        assert_eq!(dnn.input_shape_of(k), Shape::new(8, 5, 5), "{name}");
        assert_eq!(window.kernel, [5, 5], "{name}");
        assert_eq!(window.padding, [0, 0], "{name}");
        assert_eq!(dnn.output_shape(k), Shape::new(8, 1, 1), "{name}");
    }
}

/// The shipped LeNet exported with PyTorch's defaults (weights in
/// `lenet_g_external.onnx.data`, small tensors inline), exported inline, and saved with
/// 64 KiB-aligned offsets all import as the same network, weight for weight the model
/// file's (the export copies the f32 values), which converted fires every spike at `T(A)`.
#[test]
fn external_data_imports_as_inline_and_as_the_model_file() {
    let shipped = read_model(dir().join("../lenet/lenet5-g-L5.safetensors"))
        .unwrap()
        .dnn;
    let inline = read_onnx(dir().join("lenet_g_inline.onnx")).unwrap().dnn;
    for name in ["lenet_g_external", "lenet_g_aligned"] {
        let external = read_onnx(dir().join(format!("{name}.onnx"))).unwrap().dnn;
        assert_eq!(external.layers().len(), inline.layers().len(), "{name}");
        for (k, (e, i)) in external.layers().iter().zip(inline.layers()).enumerate() {
            assert_eq!(e, i, "{name}: layer {k} differs from the inline export's");
        }
        assert_eq!(external, shipped, "{name}: not the model file's network");
    }
    // The weights really are external: the model file holds under 1% of their bytes.
    let bytes = std::fs::read(dir().join("lenet_g_external.onnx")).unwrap();
    assert!((bytes.len() as u64) * 100 < 4 * shipped.parameter_count());
    matches_and_fires_at_t_of_a("lenet_g_external", &shipped, "lenet_g");
}

/// The in-memory entry point reads what the directory one reads, given the same bytes; the
/// bytes alone fail, naming the tensor and the file.
#[test]
fn external_data_from_memory_equals_from_the_directory() {
    let path = dir().join("lenet_g_external.onnx");
    let bytes = std::fs::read(&path).unwrap();
    let data = std::fs::read(dir().join("lenet_g_external.onnx.data")).unwrap();
    let files = ExternalFiles::new().with("lenet_g_external.onnx.data", &data);
    let memory = import_onnx_with_data(&bytes, "lenet_g_external.onnx", &files).unwrap();
    assert_eq!(memory.dnn, read_onnx(&path).unwrap().dnn);
    let err = import_onnx(&bytes, "lenet_g_external.onnx").unwrap_err();
    println!("{err}");
    let OnnxErrorKind::ExternalData {
        tensor,
        location,
        problem,
    } = err.kind()
    else {
        panic!("not ExternalData: {err}")
    };
    assert_eq!(tensor, "layers.0.weight");
    assert_eq!(location, "lenet_g_external.onnx.data");
    assert_eq!(*problem, ExternalDataProblem::NoDirectory);
}

/// A conv followed by BatchNormalization, as ONNX nodes: the folded layer against BN
/// computed unfolded, in f64.
#[test]
fn batchnorm_folds_exactly() {
    let (co, ci, k) = (3usize, 2usize, 3usize);
    let w: Vec<f32> = (0..co * ci * k * k)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 9.0)
        .collect();
    let b = [0.1f32, -0.4, 0.25];
    let scale = [1.5f32, 0.25, -0.8];
    let shift = [0.3f32, -0.2, 0.05];
    let mean = [0.7f32, -1.1, 0.2];
    let var = [0.5f32, 2.0, 0.01];
    let eps = 1e-3f32;
    let t = |name: &str, dims: &[i64], v: &[f32]| TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        // raw_data, little-endian, to cover the raw path too
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..TensorProto::default()
    };
    let node = |op: &str, inputs: &[&str], out: &str, attrs: Vec<AttributeProto>| NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![out.into()],
        name: format!("{op}_0"),
        op_type: op.into(),
        attribute: attrs,
        ..NodeProto::default()
    };
    let value = |name: &str, dims: &[i64]| ValueInfoProto {
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
    };
    let pads = AttributeProto {
        name: "pads".into(),
        r#type: attribute_type::INTS,
        ints: vec![1, 1, 1, 1],
        ..AttributeProto::default()
    };
    let epsilon = AttributeProto {
        name: "epsilon".into(),
        r#type: attribute_type::FLOAT,
        f: eps,
        ..AttributeProto::default()
    };
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(GraphProto {
            node: vec![
                node("Conv", &["x", "w", "b"], "c", vec![pads]),
                node(
                    "BatchNormalization",
                    &["c", "s", "sh", "m", "v"],
                    "y",
                    vec![epsilon],
                ),
            ],
            initializer: vec![
                t("w", &[co as i64, ci as i64, k as i64, k as i64], &w),
                t("b", &[co as i64], &b),
                t("s", &[co as i64], &scale),
                t("sh", &[co as i64], &shift),
                t("m", &[co as i64], &mean),
                t("v", &[co as i64], &var),
            ],
            input: vec![value("x", &[1, ci as i64, 4, 5])],
            output: vec![value("y", &[1, co as i64, 4, 5])],
            ..GraphProto::default()
        }),
        ..ModelProto::default()
    };
    let dnn = import_onnx(&model.encode_to_vec(), "bn.onnx").unwrap().dnn;
    assert_eq!(dnn.layers().len(), 1, "BN folded into the conv");
    // Unfolded: the conv alone (BN's inputs), then BN in f64.
    let DnnLayer::Conv2d { window, .. } = dnn.layers()[0].clone() else {
        panic!("not a conv")
    };
    let conv = tdsnn::converter::Dnn::new(
        dnn.input_shape(),
        vec![DnnLayer::Conv2d {
            out_channels: co as u32,
            window,
            weights: w.clone(),
            bias: Some(b.to_vec()),
        }],
    )
    .unwrap();
    let input: Vec<f32> = (0..ci * 20)
        .map(|i| ((i * 13 % 11) as f32) / 10.0)
        .collect();
    let plane = 20;
    let unfolded: Vec<f64> = relu_forward(&conv, &input)
        .unwrap()
        .logits
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let o = i / plane;
            (c - f64::from(mean[o])) / (f64::from(var[o]) + f64::from(eps)).sqrt()
                * f64::from(scale[o])
                + f64::from(shift[o])
        })
        .collect();
    let folded = relu_forward(&dnn, &input).unwrap().logits;
    let worst = folded
        .iter()
        .zip(&unfolded)
        .map(|(f, u)| (f - u).abs() / u.abs().max(1.0))
        .fold(0.0, f64::max);
    println!("BatchNorm fold: worst error {worst:.2e}");
    assert!(worst <= 1e-5, "fold off by {worst:e}");
}

/// `MatMul` followed by `Add` imports as the same dense layer as `Gemm`: the dynamo LeNet
/// with each `Gemm(A, B, C, transB = 1)` rewritten as `Add(MatMul(A, B^T), C)` gives the same
/// network, weight for weight, and so PyTorch's logits.
#[test]
fn matmul_and_add_import_like_gemm() {
    let path = dir().join("lenet_bn_dynamo.onnx");
    let gemm = read_onnx(&path).unwrap();
    let mut model = ModelProto::decode(&std::fs::read(&path).unwrap()[..]).unwrap();
    let graph = model.graph.as_mut().unwrap();
    let mut nodes = Vec::new();
    let mut rewritten = 0;
    for node in std::mem::take(&mut graph.node) {
        if node.op_type != "Gemm" {
            nodes.push(node);
            continue;
        }
        let (a, b, c) = (&node.input[0], &node.input[1], &node.input[2]);
        let weight = graph
            .initializer
            .iter()
            .find(|t| &t.name == b)
            .unwrap()
            .clone();
        let [rows, cols] = [weight.dims[0] as usize, weight.dims[1] as usize];
        let values: Vec<f32> = weight
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        // B is (out, in) with transB = 1; MatMul wants (in, out).
        let transposed: Vec<u8> = (0..cols)
            .flat_map(|i| (0..rows).map(move |o| (i, o)))
            .flat_map(|(i, o)| values[o * cols + i].to_le_bytes())
            .collect();
        let name = format!("{b}_t");
        graph.initializer.push(TensorProto {
            name: name.clone(),
            dims: vec![cols as i64, rows as i64],
            raw_data: transposed,
            ..weight
        });
        let product = format!("{}_product", node.name);
        nodes.push(NodeProto {
            input: vec![a.clone(), name],
            output: vec![product.clone()],
            name: format!("{}_matmul", node.name),
            op_type: "MatMul".into(),
            ..Default::default()
        });
        nodes.push(NodeProto {
            input: vec![product, c.clone()],
            output: node.output.clone(),
            name: format!("{}_add", node.name),
            op_type: "Add".into(),
            ..Default::default()
        });
        rewritten += 1;
    }
    graph.node = nodes;
    assert_eq!(rewritten, 2);
    let matmul = import_onnx(&model.encode_to_vec(), "matmul_add.onnx").unwrap();
    assert_eq!(matmul.dnn, gemm.dnn);
}
