//! ONNX operators import as the layers they mean: BatchNormalization folds into the conv
//! before it exactly (against BatchNorm computed unfolded), `MatMul` + `Add` imports as the
//! same dense layer as `Gemm`, and global average pooling is an average pool over the whole
//! plane, however the file says it.

mod support;

use prost::Message;
use support::onnx_builders::{float, ints, model as onnx_model, node, raw_tensor, value};
use support::onnx_fixtures;
use tdsnn_converter::{relu_forward, Dnn, DnnLayer, Shape};
use tdsnn_io::onnx::proto::{GraphProto, ModelProto, TensorProto};
use tdsnn_io::onnx::{import_onnx, read_onnx};

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
    let graph = GraphProto {
        node: vec![
            node(
                "Conv",
                "Conv_0",
                &["x", "w", "b"],
                "c",
                vec![ints("pads", &[1; 4])],
            ),
            node(
                "BatchNormalization",
                "BatchNormalization_0",
                &["c", "s", "sh", "m", "v"],
                "y",
                vec![float("epsilon", eps)],
            ),
        ],
        // raw_data, little-endian, to cover the raw path too
        initializer: vec![
            raw_tensor("w", &[co as i64, ci as i64, k as i64, k as i64], &w),
            raw_tensor("b", &[co as i64], &b),
            raw_tensor("s", &[co as i64], &scale),
            raw_tensor("sh", &[co as i64], &shift),
            raw_tensor("m", &[co as i64], &mean),
            raw_tensor("v", &[co as i64], &var),
        ],
        input: vec![value("x", &[1, ci as i64, 4, 5])],
        output: vec![value("y", &[1, co as i64, 4, 5])],
        ..GraphProto::default()
    };
    let model = onnx_model(8, 13, graph);
    let dnn = import_onnx(&model.encode_to_vec(), "bn.onnx").unwrap().dnn;
    assert_eq!(dnn.layers().len(), 1, "BN folded into the conv");
    // Unfolded: the conv alone (BN's inputs), then BN in f64.
    let DnnLayer::Conv2d { window, .. } = dnn.layers()[0].clone() else {
        panic!("not a conv")
    };
    let conv = Dnn::new(
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
    let path = onnx_fixtures().join("lenet_bn_dynamo.onnx");
    let gemm = read_onnx(&path).unwrap();
    let mut model = ModelProto::decode(&std::fs::read(&path).unwrap()[..]).unwrap();
    let graph = model.graph.as_mut().unwrap();
    let mut nodes = Vec::new();
    let mut rewritten = 0;
    for original in std::mem::take(&mut graph.node) {
        if original.op_type != "Gemm" {
            nodes.push(original);
            continue;
        }
        let (a, b, c) = (&original.input[0], &original.input[1], &original.input[2]);
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
        let product = format!("{}_product", original.name);
        nodes.push(node(
            "MatMul",
            &format!("{}_matmul", original.name),
            &[a, &name],
            &product,
            vec![],
        ));
        nodes.push(node(
            "Add",
            &format!("{}_add", original.name),
            &[&product, c],
            &original.output[0],
            vec![],
        ));
        rewritten += 1;
    }
    graph.node = nodes;
    assert_eq!(rewritten, 2);
    let matmul = import_onnx(&model.encode_to_vec(), "matmul_add.onnx").unwrap();
    assert_eq!(matmul.dnn, gemm.dnn);
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
        let dnn = read_onnx(onnx_fixtures().join(format!("{name}.onnx")))
            .unwrap()
            .dnn;
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
