//! Every input committed under `tests/fuzz/<target>/` replayed through its fuzz target, on
//! stable Rust and without the fuzzer: the seeds each campaign starts from, and every crash
//! a campaign found, minimized, once the reader is fixed. A target that panics on any of its
//! inputs fails the test, naming the files.
//!
//! The targets are the functions of `fuzz/src/lib.rs`, included here as they are, so the
//! fuzzer and this test run one copy of each target's logic (`fuzz/README.md` tells how to
//! run a campaign). Inputs under `tests/fuzz/pending/<target>/` are crashes found but not
//! yet fixed: they are kept, not replayed.
//!
//! The seeds are written by the ignored test `write_seeds` (`cargo test --test
//! fuzz_regressions -- --ignored write_seeds`): small valid files of every format.

/// The ONNX message builders of `tdsnn-io`'s tests, one copy for both.
#[path = "../io/tests/support/onnx_builders.rs"]
mod onnx_builders;
#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use onnx_builders::{entry, float_tensor, int, ints, model as onnx_model, node, value};
use proptest::prelude::*;
use prost::Message;
use targets::{gzip, join, onnx_input, ConvertHead, SEPARATOR, TARGETS};
use tdsnn_converter::{convert, Dnn, DnnLayer};
use tdsnn_engine::graph::{Conv2d, Dense, Group, Node, Source, Synapses};
use tdsnn_engine::{format, Graph, GraphBuilder, Layer, Params, Shape, TilPolicy, Weights, Window};
use tdsnn_io::idx::Dataset;
use tdsnn_io::images::Images;
use tdsnn_io::model_file::{model_from_bytes, write_model, Model, ModelInfo};
use tdsnn_io::onnx::proto::*;
use tdsnn_io::onnx::{import_onnx, import_onnx_with_data, ExternalFiles};

/// The directory of regression inputs, `tests/fuzz`.
fn inputs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// The directory holding crashes not yet fixed, which is not replayed.
const PENDING: &str = "pending";

/// The files of `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (every target needs its inputs)", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_input_replays_without_a_panic() {
    let mut panicked = Vec::new();
    for &(name, target) in TARGETS {
        let files = files(&inputs().join(name));
        assert!(!files.is_empty(), "tests/fuzz/{name} holds no inputs");
        for path in files {
            let bytes = std::fs::read(&path).expect("a readable input");
            if catch_unwind(AssertUnwindSafe(|| target(&bytes))).is_err() {
                panicked.push(path.display().to_string());
            }
        }
    }
    assert!(
        panicked.is_empty(),
        "these inputs make their target panic:\n{}",
        panicked.join("\n")
    );
}

/// Names of the entries of `dir` with extension `ext` (all entries if `None`), without it.
fn names(dir: &Path, ext: Option<&str>) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| ext.is_none_or(|ext| p.extension().is_some_and(|e| e == ext)))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The fuzz crate's targets, the directories of inputs and the list this test replays all
/// name the same targets: an input in a misnamed directory would never be replayed, a target
/// missing from the list never tested.
#[test]
fn targets_directories_and_binaries_agree() {
    let listed: BTreeSet<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    assert_eq!(names(&fuzz.join("fuzz_targets"), Some("rs")), listed);
    let mut dirs = names(&inputs(), None);
    dirs.remove(PENDING);
    assert_eq!(dirs, listed);
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
    for name in &listed {
        let bin = format!("name = \"{name}\"\npath = \"fuzz_targets/{name}.rs\"");
        assert!(
            manifest.contains(&bin),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
    }
}

#[test]
fn split_undoes_join() {
    let files: [&[u8]; 3] = [b"images", b"", b"labels"];
    assert_eq!(targets::split(&join(&files)), files);
    assert_eq!(targets::split(b"one file"), [b"one file"]);
    assert_eq!(targets::split(SEPARATOR), [b"", b""]);
    // A separator missing its first byte, then a whole one.
    let near = [&SEPARATOR[1..], SEPARATOR, b"x"].concat();
    assert_eq!(targets::split(&near), [&SEPARATOR[1..], b"x"]);
    // Missing its last byte, it makes a whole one with the next separator's first byte.
    let ambiguous = [&SEPARATOR[..SEPARATOR.len() - 1], SEPARATOR].concat();
    assert_eq!(targets::split(&ambiguous), [&b""[..], &SEPARATOR[1..]]);
}

proptest! {
    /// Files made of the separator's own bytes (the hardest case for the search) come back
    /// whole.
    #[test]
    fn split_undoes_join_of_any_files(
        files in prop::collection::vec(
            prop::collection::vec(prop::sample::select(b"\n=tdsn-fuzile.".to_vec()), 0..60),
            1..5,
        )
    ) {
        prop_assume!(files.iter().all(|f| targets::split(f).len() == 1));
        let files: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
        let joined = join(&files);
        prop_assert_eq!(targets::split(&joined), files);
    }
}

#[test]
fn convert_head_reads_what_it_writes() {
    for til in [
        TilPolicy::Dynamic,
        TilPolicy::Fixed(0),
        TilPolicy::Fixed(25),
    ] {
        let head = ConvertHead {
            onnx: true,
            leak: 5.0,
            til,
        };
        let input = head.input(b"model");
        assert_eq!(input.len(), ConvertHead::LEN + 5);
        assert_eq!(ConvertHead::parse(&input), Some((head, &b"model"[..])));
    }
    // Out-of-range values are brought into range, never rejected.
    let (head, _) = ConvertHead::parse(&[0, 0, 0, 0xff, 0xff, 0xff, 0xff]).unwrap();
    assert_eq!(head.leak, tdsnn_engine::graph::MIN_LEAK);
    let max = tdsnn_engine::graph::max_t_il(head.leak);
    assert!(matches!(head.til, TilPolicy::Fixed(t) if t <= max));
    assert_eq!(ConvertHead::parse(&[1; 6]), None);
}

#[test]
fn gzip_stream_is_well_formed() {
    let stream = gzip(b"abc");
    assert_eq!(&stream[..3], &[0x1f, 0x8b, 8]);
    assert_eq!(
        &stream[10..15],
        &[1, 3, 0, !3, 0xff],
        "one final stored block of 3 bytes"
    );
    assert_eq!(&stream[15..18], b"abc");
    assert_eq!(&stream[18..22], &crc32fast::hash(b"abc").to_le_bytes());
    assert_eq!(&stream[22..], &3u32.to_le_bytes());
    // Longer than one stored block: two blocks, only the second final.
    let long = vec![7u8; 70_000];
    let stream = gzip(&long);
    assert_eq!(stream[10], 0);
    assert_eq!(stream[10 + 5 + 65_535], 1);
    assert_eq!(stream.len(), 10 + 2 * 5 + 70_000 + 8);
}

// The seeds: small valid files of every format.

/// A graph with every layer kind: 1x4x4 -conv(2, 3x3 pad 1)-> 2x4x4 -avg(2x2 s2)-> 2x2x2
/// -max(1x1)-> 2x2x2 -flatten-> 8 -dense(3)-> 3 -output(2)-> 2.
fn seed_graph(til: TilPolicy) -> Vec<u8> {
    let ramp = |n: usize, scale: f32| (0..n).map(|i| (i as f32 - 3.0) * scale).collect();
    let graph = GraphBuilder::new(Shape::new(1, 4, 4), 5.0)
        .til(til)
        .conv2d(
            2,
            Window::square(3, 1, 1),
            ramp(18, -0.05),
            Some(vec![0.1, -0.2]),
        )
        .avg_pool(Window::square(2, 2, 0), -0.25)
        .max_pool(Window::square(1, 1, 0))
        .flatten()
        .dense(3, ramp(24, 0.01), Some(vec![0.0, -0.1, 0.2]))
        .output(2, ramp(6, 0.5), None)
        .build()
        .expect("the seed graph is valid");
    let bytes = format::to_bytes(&graph);
    assert_eq!(format::from_bytes(&bytes).unwrap(), graph);
    bytes
}

/// A graph that branches and joins, so that campaigns reach the link table of version 2:
/// 1x4x4 -conv(2, 3x3 pad 1)-> 2x4x4 -conv(2, 3x3 pad 1) + identity from the first conv + a
/// 1x1 conv from the input-> 2x4x4 -output(2), with a dense group from the first conv.
fn seed_join_graph() -> Vec<u8> {
    let ramp = |n: usize, scale: f32| -> Weights {
        (0..n)
            .map(|i| (i as f32 - 3.0) * scale)
            .collect::<Vec<f32>>()
            .into()
    };
    let conv = |c_in: usize, k: u32, bias: bool| Conv2d {
        out_channels: 2,
        window: Window::square(k, 1, k / 2),
        weights: ramp(c_in * (k * k) as usize * 2, -0.05),
        bias: bias.then(|| vec![0.1, -0.2].into()),
    };
    let dense = |n_in: usize| Dense {
        outputs: 2,
        weights: ramp(n_in * 2, 0.5),
        bias: None,
    };
    let nodes = vec![
        Node::new(Layer::Conv2d(conv(1, 3, true)), Source::Input),
        Node {
            layer: Layer::Conv2d(conv(2, 3, true)),
            source: Source::Layer(0),
            groups: vec![
                Group {
                    source: Source::Layer(0),
                    synapses: Synapses::Identity { weight: -1.0 },
                },
                Group {
                    source: Source::Input,
                    synapses: Synapses::Conv2d(conv(1, 1, false)),
                },
            ],
        },
        Node {
            layer: Layer::Output(dense(32)),
            source: Source::Layer(1),
            groups: vec![Group {
                source: Source::Layer(0),
                synapses: Synapses::Dense(dense(32)),
            }],
        },
    ];
    let graph = Graph::from_nodes(Shape::new(1, 4, 4), nodes, Params::new(5.0))
        .expect("the seed graph is valid");
    let bytes = format::to_bytes(&graph);
    assert_eq!(format::from_bytes(&bytes).unwrap(), graph);
    bytes
}

/// A model with every layer kind a model file holds, on 1x4x4 inputs.
fn seed_model() -> Vec<u8> {
    let ramp = |n: usize| (0..n).map(|i| (i as f32 - 4.0) / 8.0).collect();
    let dnn = Dnn::new(
        Shape::new(1, 4, 4),
        vec![
            DnnLayer::Conv2d {
                out_channels: 2,
                window: Window::square(3, 1, 1),
                weights: ramp(18),
                bias: Some(vec![0.1, -0.1]),
            },
            DnnLayer::Relu,
            DnnLayer::AvgPool {
                window: Window::square(2, 2, 0),
            },
            DnnLayer::MaxPool {
                window: Window::square(1, 1, 0),
            },
            DnnLayer::Flatten,
            DnnLayer::Dense {
                outputs: 3,
                weights: ramp(24),
                bias: None,
            },
        ],
    )
    .expect("the seed model is valid");
    let info = ModelInfo {
        activation: "relu".into(),
        leak: None,
        notes: vec!["fuzz seed".into()],
    };
    let path = std::env::temp_dir().join(format!("tdsnn-seed-{}.safetensors", std::process::id()));
    write_model(&Model { dnn, info }, &path).expect("the seed model writes");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    bytes
}

/// The name of the external data file of [`seed_onnx`].
const ONNX_DATA: &str = "seed.onnx.data";

/// A small ONNX model with most supported operators: Conv (padded) -> BatchNormalization ->
/// Relu -> AveragePool -> MaxPool -> Flatten -> Gemm (`transB = 1`), on (N, 1, 4, 4); with
/// `external`, the weights of Conv and Gemm are kept in the data file [`ONNX_DATA`], returned
/// beside the model (empty otherwise).
fn seed_onnx(external: bool) -> (Vec<u8>, Vec<u8>) {
    let mut data = Vec::new();
    let mut tensor = |name: &str, dims: &[i64], v: Vec<f32>| {
        let mut t = float_tensor(name, dims);
        if external && name.starts_with('w') {
            let offset = data.len();
            data.extend(v.iter().flat_map(|x| x.to_le_bytes()));
            t.data_location = 1;
            t.external_data = vec![
                entry("location", ONNX_DATA),
                entry("offset", &offset.to_string()),
                entry("length", &(data.len() - offset).to_string()),
            ];
        } else {
            t.float_data = v;
        }
        t
    };
    let node = |op: &str, inputs: &[&str], output: &str, attribute| {
        node(op, &format!("/{op}"), inputs, output, attribute)
    };
    let ramp = |n: usize| (0..n).map(|i| (i as f32 - 4.0) / 8.0).collect();
    let pool = || vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])];
    let graph = GraphProto {
        node: vec![
            node(
                "Conv",
                &["x", "w1", "b1"],
                "c",
                vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])],
            ),
            node(
                "BatchNormalization",
                &["c", "scale", "shift", "mean", "var"],
                "n",
                vec![],
            ),
            node("Relu", &["n"], "r", vec![]),
            node("AveragePool", &["r"], "a", pool()),
            node("MaxPool", &["a"], "m", vec![ints("kernel_shape", &[1, 1])]),
            node("Flatten", &["m"], "f", vec![int("axis", 1)]),
            node("Gemm", &["f", "w2", "b2"], "y", vec![int("transB", 1)]),
        ],
        name: "seed".into(),
        initializer: vec![
            tensor("w1", &[2, 1, 3, 3], ramp(18)),
            tensor("b1", &[2], vec![0.1, -0.1]),
            tensor("scale", &[2], vec![1.5, 0.5]),
            tensor("shift", &[2], vec![0.0, 0.25]),
            tensor("mean", &[2], vec![0.1, 0.2]),
            tensor("var", &[2], vec![1.0, 4.0]),
            tensor("w2", &[3, 8], ramp(24)),
            tensor("b2", &[3], vec![0.0, 0.5, -0.5]),
        ],
        input: vec![value("x", &[1, 1, 4, 4])],
        output: vec![value("y", &[1, 3])],
        ..GraphProto::default()
    };
    let model = ModelProto {
        producer_name: "tdsnn fuzz seed".into(),
        ..onnx_model(8, 13, graph)
    };
    (model.encode_to_vec(), data)
}

/// An NPY file (version 1.0) of a C-order array: `descr` and `shape` in the header, then
/// `data`.
fn npy_file(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let comma = if shape.len() == 1 { "," } else { "" };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}{comma}), }}",
        dims.join(", ")
    );
    // The magic, version and length take 10 bytes; the header ends in a newline at a
    // multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut file = b"\x93NUMPY\x01\x00".to_vec();
    file.extend_from_slice(&(header.len() as u16).to_le_bytes());
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(data);
    file
}

/// Writes the seeds of every target into `tests/fuzz/<target>/seed-*`. Run it after a
/// format changes: `cargo test --test fuzz_regressions -- --ignored write_seeds`. The model
/// file seeds differ from run to run in the order of their metadata keys only.
#[test]
#[ignore = "writes the committed seeds"]
fn write_seeds() {
    let fixture = |path: &str| {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("a fixture")
    };
    let set = Dataset {
        images: (0..12).map(|i| i * 20).collect(),
        labels: vec![3, 9],
        rows: 2,
        cols: 3,
    };
    let (images, labels) = set.to_bytes().unwrap();
    let pixels: Vec<f32> = [0.0, 0.25, 0.5, 1.0, 1.0, 0.75, 0.0, 0.125].to_vec();
    let le: Vec<u8> = pixels.iter().flat_map(|v| v.to_le_bytes()).collect();
    let be: Vec<u8> = pixels.iter().flat_map(|v| v.to_be_bytes()).collect();
    let images_npy = npy_file("<f4", &[2, 1, 2, 2], &le);
    let labels_i64: Vec<u8> = [7i64, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
    let labels_npy = npy_file("<i8", &[2], &labels_i64);
    let model = seed_model();
    let (onnx, _) = seed_onnx(false);
    let (onnx_model, onnx_data) = seed_onnx(true);
    let onnx_external = onnx_input(&onnx_model, &[(ONNX_DATA, &onnx_data)]);
    // Every seed is a file its reader accepts, so that campaigns start deep in the reader.
    let mut read = Images::from_npy_bytes(&images_npy, "seed").expect("the NPY seed reads");
    read.npy_labels_from_bytes(&labels_npy, "seed")
        .expect("the NPY labels seed reads");
    assert_eq!(read.labels, Some(vec![7, 1]));
    for dnn in [
        model_from_bytes(&model, "seed")
            .expect("the model seed reads")
            .dnn,
        import_onnx(&onnx, "seed")
            .expect("the ONNX seed imports")
            .dnn,
        import_onnx_with_data(
            &onnx_model,
            "seed",
            &ExternalFiles::new().with(ONNX_DATA, &onnx_data),
        )
        .expect("the ONNX seed with external data imports")
        .dnn,
    ] {
        convert(&dnn, 5.0, TilPolicy::Dynamic).expect("the seed models convert");
    }
    let head = |onnx, til| ConvertHead {
        onnx,
        leak: 5.0,
        til,
    };
    let seeds: Vec<(&str, &str, Vec<u8>)> = vec![
        ("graph_file", "every-layer", seed_graph(TilPolicy::Dynamic)),
        ("graph_file", "fixed-til", seed_graph(TilPolicy::Fixed(20))),
        ("graph_file", "joins", seed_join_graph()),
        ("onnx", "every-op", onnx.clone()),
        ("onnx", "external-data", onnx_external.clone()),
        (
            "onnx",
            "avgpool_legacy",
            fixture("fixtures/onnx/avgpool_legacy.onnx"),
        ),
        ("model_file", "every-layer", model.clone()),
        ("idx", "pair", join(&[&images, &labels])),
        ("idx", "pair-gzip", join(&[&gzip(&images), &gzip(&labels)])),
        ("idx_gzip", "pair", join(&[&images, &labels])),
        ("npy", "images", images_npy.clone()),
        (
            "npy",
            "images-big-endian",
            npy_file(">f4", &[2, 1, 2, 2], &be),
        ),
        ("npy", "images-labels", join(&[&images_npy, &labels_npy])),
        (
            "npy",
            "images-labels-u1",
            join(&[&images_npy, &npy_file("|u1", &[2], &[4, 2])]),
        ),
        (
            "convert",
            "model",
            head(false, TilPolicy::Dynamic).input(&model),
        ),
        (
            "convert",
            "model-fixed-til",
            head(false, TilPolicy::Fixed(30)).input(&model),
        ),
        (
            "convert",
            "onnx",
            head(true, TilPolicy::Dynamic).input(&onnx),
        ),
        (
            "convert",
            "onnx-external-data",
            head(true, TilPolicy::Fixed(40)).input(&onnx_external),
        ),
    ];
    for (target, name, bytes) in seeds {
        let dir = inputs().join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    }
}
