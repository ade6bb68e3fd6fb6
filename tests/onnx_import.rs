//! Every good ONNX fixture (see fixtures/onnx/README.md: exported by torch, or hand-written
//! with the onnx package) imports; its float ReLU forward pass gives the logits PyTorch or
//! onnxruntime computed (to 1e-4 relative); converted, its SNN fires every neuron at `T(A)`
//! of the f64 reference (ties counted), and the teacher-forced audit passes. External data
//! imports as the same weights inline. (What the importer promises on its own, without the
//! engine, is tested in `io/tests/`: operators in `onnx_operators.rs`, external data in
//! `onnx_external_data.rs`.)

use std::path::PathBuf;

use tdsnn::converter::{convert, layer_map, reference_forward, relu_forward, Dnn, DnnLayer};
use tdsnn::engine::audit::{self, Tolerance};
use tdsnn::engine::{coding, Simulate, Simulator, TickMode, TilPolicy};
use tdsnn::io::model_file::read_model;
use tdsnn::io::onnx::read_onnx;

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
