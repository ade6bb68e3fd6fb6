//! Residual networks from ONNX: the shipped ResNet fixture (fixtures/resnet, both exporters)
//! imports as a chain with shortcuts whose plain forward pass gives onnxruntime's logits and
//! whose reference DNN (with `G`) gives PyTorch's float64 logits, and which converts (a model
//! file refuses it: model files hold chains); hand-built graphs for the
//! identity shortcut, the projection shortcut (BatchNorm folded into it), the concatenation,
//! and each pattern refused, by the node it names.

mod support;

use std::path::PathBuf;

use prost::Message;
use support::onnx_builders::{float, int, ints, model as onnx_model, node, raw_tensor, value};
use tdsnn_converter::{convert, reference_forward, relu_forward, DnnLayer, Source, TilPolicy};
use tdsnn_io::model_file::{write_model, Model, ModelFileError, ModelInfo};
use tdsnn_io::onnx::proto::{GraphProto, NodeProto};
use tdsnn_io::onnx::{import_onnx, read_onnx, OnnxErrorKind};

fn resnet(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/resnet")
        .join(name)
}

/// A little-endian `<f4` or `<f8` NPY array's values, as f64.
fn npy(name: &str) -> Vec<f64> {
    let bytes = std::fs::read(resnet(name)).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + len]).unwrap();
    let data = &bytes[start + len..];
    if header.contains("'<f4'") {
        data.chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
            .collect()
    } else {
        assert!(header.contains("'<f8'"), "{header}");
        data.chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }
}

/// The worst error of `got` against `want`, relative to `max(|want|, 1)`.
fn worst(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / w.abs().max(1.0))
        .fold(0.0, f64::max)
}

#[test]
fn resnet_fixture_imports_with_shortcuts() {
    let inputs: Vec<f32> = npy("resnet.inputs.npy").iter().map(|&v| v as f32).collect();
    let plain = npy("resnet-g.logits.npy");
    let with_g = npy("resnet-g.g-logits.npy");
    for file in ["resnet-g.onnx", "resnet-g-legacy.onnx"] {
        let dnn = read_onnx(resnet(file))
            .unwrap_or_else(|e| panic!("{e}"))
            .dnn;
        let kinds: Vec<_> = dnn.layers().iter().map(DnnLayer::kind).collect();
        assert_eq!(
            kinds,
            [
                "conv2d", "relu", // stem
                "conv2d", "relu", "conv2d", "shortcut", "relu", // layer1
                "conv2d", "relu", "conv2d", "shortcut", "relu", // layer2
                "conv2d", "relu", "conv2d", "shortcut", "relu", // layer3
                "avg_pool", "flatten", "dense",
            ],
            "{file}"
        );
        let from: Vec<_> = dnn
            .layers()
            .iter()
            .filter_map(|l| match l {
                DnnLayer::Shortcut { from, projection } => Some((*from, projection.is_some())),
                _ => None,
            })
            .collect();
        assert_eq!(
            from,
            [
                (Source::Layer(1), false),
                (Source::Layer(6), true),
                (Source::Layer(11), true)
            ],
            "{file}"
        );
        // PyTorch's 77,754 less BatchNorm's scale and shift (336 channels), plus the bias
        // each conv gains from its BatchNorm.
        assert_eq!(dnn.parameter_count(), 77_754 - 336, "{file}");
        // It converts: one group per shortcut, on the second conv of each block.
        let graph = convert(&dnn, 5.0, TilPolicy::Dynamic).unwrap();
        let groups: Vec<_> = (0..graph.layers().len())
            .map(|k| {
                graph
                    .groups(k)
                    .iter()
                    .map(|g| g.synapses.kind())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            groups,
            [
                vec![],
                vec![],
                vec!["identity"],
                vec![],
                vec!["conv2d"],
                vec![],
                vec!["conv2d"],
                vec![],
                vec![],
                vec![]
            ],
            "{file}"
        );
        // Model files hold chains.
        let model = Model {
            dnn: dnn.clone(),
            info: ModelInfo {
                activation: "g".into(),
                leak: Some(5.0),
                notes: vec![],
            },
        };
        let path =
            std::env::temp_dir().join(format!("tdsnn-resnet-{}.safetensors", std::process::id()));
        let err = write_model(&model, &path).unwrap_err();
        assert!(matches!(err, ModelFileError::Branches { .. }), "{err}");
        assert!(
            err.to_string().contains("export residual networks to ONNX"),
            "{err}"
        );
        assert!(!path.exists());
        let (mut plain_err, mut g_err) = (0.0f64, 0.0f64);
        for (i, image) in inputs.chunks_exact(784).enumerate() {
            let f = relu_forward(&dnn, image).unwrap();
            plain_err = plain_err.max(worst(&f.logits, &plain[i * 10..(i + 1) * 10]));
            let r = reference_forward(&dnn, image, 5.0).unwrap();
            g_err = g_err.max(worst(&r.logits, &with_g[i * 10..(i + 1) * 10]));
        }
        println!("{file}: relu_forward within {plain_err:.2e} of onnxruntime, reference_forward within {g_err:.2e} of torch f64");
        assert!(plain_err <= 1e-5, "{file}: {plain_err:e}");
        assert!(g_err <= 1e-9, "{file}: {g_err:e}");
    }
}

/// Deterministic weights in [-0.5, 0.5), distinct per seed.
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i + 1) * (seed * 2 + 7) * 37 % 101) as f32) / 101.0 - 0.5)
        .collect()
}

/// A graph under construction: nodes and their initializers.
#[derive(Default)]
struct Net {
    graph: GraphProto,
    seed: usize,
}

impl Net {
    /// The first node of operator `op`, to alter.
    fn node(&mut self, op: &str) -> &mut NodeProto {
        self.graph
            .node
            .iter_mut()
            .find(|n| n.op_type == op)
            .expect("the net has that operator")
    }

    fn tensor(&mut self, name: &str, dims: &[i64]) {
        self.seed += 1;
        let n = dims.iter().product::<i64>() as usize;
        let v = if name.ends_with("var") {
            values(n, self.seed).iter().map(|v| v + 1.0).collect()
        } else {
            values(n, self.seed)
        };
        self.graph.initializer.push(raw_tensor(name, dims, &v));
    }

    /// Conv `name` from `c_in` to `c_out` channels, kernel `k`, stride `s`, padding `p`,
    /// with a bias.
    fn conv(
        &mut self,
        name: &str,
        x: &str,
        y: &str,
        (c_in, c_out, k, s, p): (i64, i64, i64, i64, i64),
    ) {
        self.tensor(&format!("{name}.w"), &[c_out, c_in, k, k]);
        self.tensor(&format!("{name}.b"), &[c_out]);
        let attrs = vec![ints("strides", &[s, s]), ints("pads", &[p; 4])];
        let (w, b) = (format!("{name}.w"), format!("{name}.b"));
        self.graph
            .node
            .push(node("Conv", name, &[x, &w, &b], y, attrs));
    }

    fn bn(&mut self, name: &str, x: &str, y: &str, c: i64) {
        let parts = ["scale", "shift", "mean", "var"].map(|p| format!("{name}.{p}"));
        for p in &parts {
            self.tensor(p, &[c]);
        }
        let inputs: Vec<&str> = std::iter::once(x)
            .chain(parts.iter().map(String::as_str))
            .collect();
        self.graph.node.push(node(
            "BatchNormalization",
            name,
            &inputs,
            y,
            vec![float("epsilon", 1e-5)],
        ));
    }

    fn op(&mut self, op: &str, name: &str, inputs: &[&str], y: &str) {
        self.graph.node.push(node(op, name, inputs, y, vec![]));
    }

    /// Global average pool, flatten and a Gemm to 3 logits, from `c` channels.
    fn head(&mut self, x: &str, c: i64) {
        self.op("GlobalAveragePool", "gap", &[x], "pooled");
        self.op("Flatten", "flatten", &["pooled"], "flat");
        self.tensor("fc.w", &[3, c]);
        self.tensor("fc.b", &[3]);
        self.graph.node.push(node(
            "Gemm",
            "fc",
            &["flat", "fc.w", "fc.b"],
            "logits",
            vec![int("transB", 1)],
        ));
    }

    fn import(mut self, input: &[i64]) -> Result<tdsnn_converter::Dnn, OnnxErrorKind> {
        self.graph.input = vec![value("x", input)];
        self.graph.output = vec![value("logits", &[1, 3])];
        let bytes = onnx_model(8, 13, self.graph).encode_to_vec();
        import_onnx(&bytes, "block.onnx")
            .map(|m| m.dnn)
            .map_err(|e| {
                println!("{e}");
                e.into_kind()
            })
    }
}

/// stem conv + relu, then a block: conv, relu, conv, `Add` with the stem's relu, relu.
fn identity_block(relu_after_add: bool) -> Net {
    let mut net = Net::default();
    net.conv("stem", "x", "s", (1, 2, 3, 1, 1));
    net.op("Relu", "stem_relu", &["s"], "r0");
    net.conv("conv1", "r0", "c1", (2, 2, 3, 1, 1));
    net.op("Relu", "relu1", &["c1"], "r1");
    net.conv("conv2", "r1", "c2", (2, 2, 3, 1, 1));
    net.op("Add", "add", &["c2", "r0"], "sum");
    if relu_after_add {
        net.op("Relu", "relu2", &["sum"], "out");
        net.head("out", 2);
    } else {
        net.head("sum", 2);
    }
    net
}

#[test]
fn identity_shortcut() {
    let dnn = identity_block(true).import(&[1, 1, 4, 4]).unwrap();
    let kinds: Vec<_> = dnn.layers().iter().map(DnnLayer::kind).collect();
    assert_eq!(
        kinds,
        [
            "conv2d", "relu", "conv2d", "relu", "conv2d", "shortcut", "relu", "avg_pool",
            "flatten", "dense"
        ]
    );
    assert_eq!(
        dnn.layers()[5],
        DnnLayer::Shortcut {
            from: Source::Layer(1),
            projection: None
        }
    );
    // Either operand order.
    let mut net = identity_block(true);
    let add = net.node("Add");
    add.input.reverse();
    assert_eq!(net.import(&[1, 1, 4, 4]).unwrap(), dnn);
}

#[test]
fn projection_shortcut_folds_its_batchnorm() {
    let mut net = Net::default();
    net.conv("stem", "x", "s", (1, 2, 3, 1, 1));
    net.op("Relu", "stem_relu", &["s"], "r0");
    net.conv("conv1", "r0", "c1", (2, 4, 3, 2, 1));
    net.bn("bn1", "c1", "b1", 4);
    net.op("Relu", "relu1", &["b1"], "r1");
    net.conv("conv2", "r1", "c2", (4, 4, 3, 1, 1));
    net.bn("bn2", "c2", "b2", 4);
    net.conv("shortcut", "r0", "sc", (2, 4, 1, 2, 0));
    net.bn("shortcut_bn", "sc", "scb", 4);
    net.op("Add", "add", &["b2", "scb"], "sum");
    net.op("Relu", "relu2", &["sum"], "out");
    net.head("out", 4);
    let init = |name: &str| -> Vec<f32> {
        let t = net
            .graph
            .initializer
            .iter()
            .find(|t| t.name == name)
            .unwrap();
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    };
    let (w, b) = (init("shortcut.w"), init("shortcut.b"));
    let [scale, shift, mean, var] =
        ["scale", "shift", "mean", "var"].map(|p| init(&format!("shortcut_bn.{p}")));
    let dnn = net.import(&[1, 1, 6, 6]).unwrap();
    let kinds: Vec<_> = dnn.layers().iter().map(DnnLayer::kind).collect();
    assert_eq!(
        kinds,
        [
            "conv2d", "relu", "conv2d", "relu", "conv2d", "shortcut", "relu", "avg_pool",
            "flatten", "dense"
        ]
    );
    let DnnLayer::Shortcut {
        from: Source::Layer(1),
        projection: Some(p),
    } = &dnn.layers()[5]
    else {
        panic!("{:?}", dnn.layers()[5])
    };
    assert_eq!(p.window.stride, [2, 2]);
    for o in 0..4 {
        let s = f64::from(scale[o]) / (f64::from(var[o]) + 1e-5f32 as f64).sqrt();
        for i in 0..2 {
            let want = (s * f64::from(w[o * 2 + i])) as f32;
            assert_eq!(p.weights[o * 2 + i], want, "weight {o} {i}");
        }
        let want = (s * (f64::from(b[o]) - f64::from(mean[o])) + f64::from(shift[o])) as f32;
        assert_eq!(p.bias.as_ref().unwrap()[o], want, "bias {o}");
    }
}

/// stem conv (3 channels) + relu, conv (2 channels) + relu, `Concat` of the two along
/// channels (axis `axis`), conv, relu, head.
fn concat_net(axis: i64) -> Net {
    let mut net = Net::default();
    net.conv("stem", "x", "s", (1, 3, 3, 1, 1));
    net.op("Relu", "stem_relu", &["s"], "r0");
    net.conv("conv1", "r0", "c1", (3, 2, 3, 1, 1));
    net.op("Relu", "relu1", &["c1"], "r1");
    net.graph.node.push(node(
        "Concat",
        "cat",
        &["r1", "r0"],
        "cat",
        vec![int("axis", axis)],
    ));
    net.conv("conv2", "cat", "c2", (5, 2, 1, 1, 0));
    net.op("Relu", "relu2", &["c2"], "out");
    net.head("out", 2);
    net
}

#[test]
fn concat_of_activations() {
    let dnn = concat_net(1).import(&[1, 1, 4, 4]).unwrap();
    let kinds: Vec<_> = dnn.layers().iter().map(DnnLayer::kind).collect();
    assert_eq!(
        kinds,
        [
            "conv2d", "relu", "conv2d", "relu", "concat", "conv2d", "relu", "avg_pool", "flatten",
            "dense"
        ]
    );
    assert_eq!(
        dnn.layers()[4],
        DnnLayer::Concat {
            from: Source::Layer(1)
        }
    );
    assert_eq!(dnn.output_shape(4).c, 5);
    assert_eq!(concat_net(-3).import(&[1, 1, 4, 4]).unwrap(), dnn);
}

fn node_error(kind: OnnxErrorKind, name: &str, what: &str) {
    match kind {
        OnnxErrorKind::Node { node, what: w } => {
            assert_eq!(node.name, name, "{w}");
            assert!(w.contains(what), "{w}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn add_without_relu_is_refused() {
    let err = identity_block(false).import(&[1, 1, 4, 4]).unwrap_err();
    node_error(err, "add", "not followed by a Relu");
}

#[test]
fn add_of_no_earlier_activation_is_refused() {
    // conv2's output plus conv1's (a pre-activation, not a spiking tensor).
    let mut net = identity_block(true);
    let add = net.node("Add");
    add.input[1] = "c1".into();
    let err = net.import(&[1, 1, 4, 4]).unwrap_err();
    node_error(
        err,
        "add",
        "neither of which is an earlier spiking activation",
    );
}

#[test]
fn concat_on_another_axis_is_refused() {
    let err = concat_net(2).import(&[1, 1, 4, 4]).unwrap_err();
    node_error(err, "cat", "only the channel axis (1)");
}

/// `torch.cat([earlier, current])`: the file puts the earlier activation first; the import
/// puts the current one first and reorders the next conv's input channels to match.
#[test]
fn concat_with_the_earlier_activation_first() {
    let want = concat_net(1).import(&[1, 1, 4, 4]).unwrap();
    let mut net = concat_net(1);
    let cat = net.node("Concat");
    cat.input.reverse();
    let w = net
        .graph
        .initializer
        .iter_mut()
        .find(|t| t.name == "conv2.w")
        .unwrap();
    // [2][5] (1x1 kernels): r1's 2 channels then r0's 3, to r0's then r1's.
    let values: Vec<[u8; 4]> = w
        .raw_data
        .chunks_exact(4)
        .map(|b| b.try_into().unwrap())
        .collect();
    w.raw_data = values
        .chunks_exact(5)
        .flat_map(|row| {
            row[2..]
                .iter()
                .chain(&row[..2])
                .flatten()
                .copied()
                .collect::<Vec<u8>>()
        })
        .collect();
    assert_eq!(net.import(&[1, 1, 4, 4]).unwrap(), want);
}
