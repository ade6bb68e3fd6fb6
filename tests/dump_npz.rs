//! `tdsnn run --dump`: the NPZ archive holds the documented arrays with the documented
//! shapes and dtypes and no other, and its values are the engine's (every image, every layer)
//! and the reference's; a residual network's joins add their delays, and no other layer
//! does. NPY inputs of the wrong kind are typed errors naming the file.

use std::io::Read;
use std::path::PathBuf;

use npyz::WriterBuilder;
use tdsnn::converter::{convert, reference_forward};
use tdsnn::engine::{coding, Layer, Simulate, Simulator, TickMode, TilPolicy};
use tdsnn::evaluate::{evaluate_into, EvalConfig};
use tdsnn::io::dump::{Dump, DumpError, DumpFile, Format};
use tdsnn::io::images::{Images, Inputs, NpyErrorKind};
use tdsnn::io::onnx::read_onnx;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/onnx")
}

/// Evaluates every image of `images` on two threads, dumping them to `path` as `tdsnn run
/// --dump` does; the number of arrays.
fn dump(
    path: &std::path::Path,
    graph: &std::sync::Arc<tdsnn::engine::Graph>,
    dnn: &tdsnn::converter::Dnn,
    images: &Images,
) -> usize {
    let mut file =
        DumpFile::create(path, Format::Npz, graph, Some(dnn), images.count(), false).unwrap();
    let config = EvalConfig {
        threads: 2,
        ..EvalConfig::default()
    };
    evaluate_into(graph, dnn, None, images, &config, |_| {}, Some(&mut file)).unwrap();
    file.finish().unwrap()
}

fn array(zip: &mut zip::ZipArchive<std::fs::File>, name: &str) -> (Vec<u64>, String, Vec<u8>) {
    let mut bytes = Vec::new();
    zip.by_name(&format!("{name}.npy"))
        .unwrap_or_else(|_| panic!("no array {name}"))
        .read_to_end(&mut bytes)
        .unwrap();
    let file = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = file.shape().to_vec();
    let descr = file.dtype().descr().trim_matches('\'').to_string();
    (shape, descr, bytes)
}

#[test]
fn dump_round_trip() {
    let model = read_onnx(fixtures().join("avgpool_legacy.onnx")).unwrap();
    let graph = std::sync::Arc::new(convert(&model.dnn, 5.0, TilPolicy::Dynamic).unwrap());
    let mut images = Images::read_npy(fixtures().join("inputs.npy")).unwrap();
    images.values.truncate(4 * 784);
    let path = std::env::temp_dir().join(format!("tdsnn-dump-{}.npz", std::process::id()));
    // A dump holding the reference's arrays refuses an image without them; one finished
    // short of the images it was made for is an error, and leaves no half-written arrays.
    let mut short =
        DumpFile::create(&path, Format::Npz, &graph, Some(&model.dnn), 4, false).unwrap();
    let x = images.input(0);
    let record = Simulator::new(graph.clone(), TickMode::ClosedForm)
        .run(&x, &mut ())
        .unwrap();
    let err = short.push(&x, &record, None, None).unwrap_err();
    assert!(matches!(err, DumpError::NoReference { image: 0 }), "{err}");
    let err = short.finish().unwrap_err();
    assert!(
        matches!(
            err,
            DumpError::Count {
                expected: 4,
                got: 0,
                ..
            }
        ),
        "{err}"
    );
    let staging = path.with_file_name(format!(
        ".{}.arrays",
        path.file_name().unwrap().to_string_lossy()
    ));
    assert!(!staging.exists(), "no staging directory left");
    let arrays = dump(&path, &graph, &model.dnn, &images);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    // Exactly the arrays README documents: spikes for every layer but the output, a frame
    // origin for every layer, release and pre-activations for the synapse-based ones.
    let mut documented: Vec<String> = [
        "input",
        "input_spikes",
        "classes_snn",
        "classes_dnn",
        "logits_snn",
        "logits_dnn",
    ]
    .map(String::from)
    .to_vec();
    for (k, layer) in graph.layers().iter().enumerate() {
        if !matches!(layer, Layer::Output(_)) {
            documented.push(format!("layer{k}_spikes"));
        }
        documented.push(format!("layer{k}_frame_origin"));
        if layer.is_synaptic() {
            documented.push(format!("layer{k}_release"));
            documented.push(format!("layer{k}_pre_activation"));
        }
    }
    documented.sort();
    let mut written: Vec<String> = (0..zip.len())
        .map(|i| {
            let file = zip.by_index(i).unwrap();
            let name = file.name().unwrap();
            name.trim_end_matches(".npy").to_string()
        })
        .collect();
    written.sort();
    assert_eq!(written, documented);
    assert_eq!(arrays, documented.len());
    // Graph: conv, avg-pool, conv, avg-pool, flatten, output.
    let expect: [(&str, &[u64], &str); 12] = [
        ("input", &[4, 1, 28, 28], "<f4"),
        ("input_spikes", &[4, 1, 28, 28], "<u4"),
        ("classes_snn", &[4], "<i8"),
        ("classes_dnn", &[4], "<i8"),
        ("logits_snn", &[4, 10], "<f8"),
        ("logits_dnn", &[4, 10], "<f8"),
        ("layer0_spikes", &[4, 8, 24, 24], "<u4"),
        ("layer0_release", &[4], "<u4"),
        ("layer0_pre_activation", &[4, 8, 24, 24], "<f8"),
        ("layer1_pre_activation", &[4, 8, 12, 12], "<f8"),
        ("layer4_spikes", &[4, 400], "<u4"),
        ("layer5_frame_origin", &[4], "<u4"),
    ];
    for (name, shape, dtype) in expect {
        let (s, d, _) = array(&mut zip, name);
        assert_eq!((s.as_slice(), d.as_str()), (shape, dtype), "{name}");
    }
    for (absent, why) in [
        ("labels.npy", "no labels given"),
        ("layer5_spikes.npy", "the output does not fire"),
    ] {
        assert!(
            matches!(
                zip.by_name(absent),
                Err(zip::result::ZipError::FileNotFound)
            ),
            "{absent}: {why}"
        );
    }

    // Values: image 2's spikes of layer 0 are its release plus T(A).
    let x = images.input(2);
    let record = Simulator::new(graph.clone(), TickMode::ClosedForm)
        .run(&x, &mut ())
        .unwrap();
    let reference = reference_forward(&model.dnn, &x, 5.0).unwrap();
    let (_, _, bytes) = array(&mut zip, "layer0_spikes");
    let spikes: Vec<u32> = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap();
    let per = 8 * 24 * 24;
    assert_eq!(&spikes[2 * per..3 * per], &record.layers[0].spikes[..]);
    let (_, _, bytes) = array(&mut zip, "layer0_pre_activation");
    let a: Vec<f64> = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap();
    let release = record.layers[0].release.unwrap();
    for (j, &aj) in a[2 * per..3 * per].iter().enumerate() {
        assert_eq!(aj, reference.layers[0].values[j]);
        assert_eq!(spikes[2 * per + j] - release, coding::spike_time(aj, 5.0));
    }
    let (_, _, bytes) = array(&mut zip, "classes_dnn");
    let classes: Vec<i64> = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap();
    assert_eq!(classes[2], reference.class as i64);

    // Every image: each layer's spikes, frame origin and release, and the SNN's logits and
    // class, are the engine's record.
    let u32s = |zip: &mut zip::ZipArchive<std::fs::File>, name: &str| -> Vec<u32> {
        let (_, _, bytes) = array(zip, name);
        npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap()
    };
    let (_, _, bytes) = array(&mut zip, "logits_snn");
    let logits: Vec<f64> = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap();
    let (_, _, bytes) = array(&mut zip, "classes_snn");
    let classes_snn: Vec<i64> = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap();
    let mut sim = Simulator::new(graph.clone(), TickMode::ClosedForm);
    for i in 0..4 {
        let record = sim.run(&images.input(i), &mut ()).unwrap();
        assert_eq!(
            &logits[i * 10..(i + 1) * 10],
            &record.output.logits[..],
            "image {i}"
        );
        assert_eq!(classes_snn[i], record.output.class as i64, "image {i}");
        for (k, l) in record.layers.iter().enumerate() {
            let origins = u32s(&mut zip, &format!("layer{k}_frame_origin"));
            assert_eq!(origins[i], l.frame_origin, "image {i} layer {k}");
            if let Some(r) = l.release {
                assert_eq!(u32s(&mut zip, &format!("layer{k}_release"))[i], r);
            }
            if !l.spikes.is_empty() {
                let n = l.spikes.len();
                let spikes = u32s(&mut zip, &format!("layer{k}_spikes"));
                assert_eq!(
                    &spikes[i * n..(i + 1) * n],
                    &l.spikes[..],
                    "image {i} layer {k}"
                );
            }
        }
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_join_dumps_its_delays() {
    let resnet = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/resnet");
    let model = read_onnx(resnet.join("resnet-g.onnx")).unwrap();
    let graph = std::sync::Arc::new(convert(&model.dnn, 5.0, TilPolicy::Dynamic).unwrap());
    let mut images = Images::read_npy(resnet.join("resnet.inputs.npy")).unwrap();
    images.values.truncate(3 * 784);
    let path = std::env::temp_dir().join(format!("tdsnn-dump-joins-{}.npz", std::process::id()));
    let arrays = dump(&path, &graph, &model.dnn, &images);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    assert_eq!(arrays, names.len());
    let mut delays: Vec<&str> = names
        .iter()
        .filter(|n| n.ends_with("_delays.npy"))
        .map(String::as_str)
        .collect();
    delays.sort();
    // The three blocks' second convs join (identity, then two projections), nothing else.
    let joins: Vec<usize> = (0..graph.layers().len())
        .filter(|&k| !graph.groups(k).is_empty())
        .collect();
    assert_eq!(joins, [2, 4, 6]);
    assert_eq!(
        delays,
        [
            "layer2_delays.npy",
            "layer4_delays.npy",
            "layer6_delays.npy"
        ]
    );
    for k in joins {
        let (shape, dtype, bytes) = array(&mut zip, &format!("layer{k}_delays"));
        let parts = 1 + graph.groups(k).len() as u64;
        assert_eq!((shape.as_slice(), dtype.as_str()), (&[3, parts][..], "<u4"));
        let values: Vec<u32> = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap();
        let mut sim = Simulator::new(graph.clone(), TickMode::ClosedForm);
        for i in 0..images.count() {
            let record = &sim.run(&images.input(i), &mut ()).unwrap();
            let p = parts as usize;
            assert_eq!(&values[i * p..(i + 1) * p], &record.layers[k].delays[..]);
            // The shortcut waits for the block's first conv: its T_il.
            assert_eq!(values[i * p], 0);
            assert_eq!(values[i * p + 1], record.layers[k - 1].t_il().unwrap());
        }
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn npy_inputs_of_the_wrong_kind_are_errors() {
    let dir = std::env::temp_dir();
    let write = |name: &str, bytes: Vec<u8>| {
        let path = dir.join(format!("tdsnn-{}-{name}.npy", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let npy = |shape: &[u64], values: &[f32]| {
        let mut out = Vec::new();
        let mut w = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut out)
            .begin_nd()
            .unwrap();
        w.extend(values.iter().copied()).unwrap();
        w.finish().unwrap();
        out
    };
    type Kind = fn(&NpyErrorKind) -> bool;
    let cases: [(_, _, _, Kind); 3] = [
        (
            "rank",
            npy(&[2, 4], &[0.5; 8]),
            "expected N x C x H x W",
            |k| matches!(k, NpyErrorKind::Shape { shape, .. } if *shape == [2, 4]),
        ),
        (
            "range",
            npy(&[1, 1, 2, 2], &[0.0, 0.5, 1.5, 1.0]),
            "index 2",
            |k| {
                *k == NpyErrorKind::OutOfRange {
                    index: 2,
                    value: 1.5,
                }
            },
        ),
        ("junk", b"not an npy file".to_vec(), "not NPY", |k| {
            matches!(k, NpyErrorKind::NotNpy { .. })
        }),
    ];
    for (name, bytes, what, kind) in cases {
        let path = write(name, bytes);
        let err = Images::read_npy(&path).unwrap_err();
        assert!(kind(&err.kind), "{name}: {err:?}");
        assert_eq!(err.path, path.display().to_string());
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert!(err.to_string().contains(what), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
