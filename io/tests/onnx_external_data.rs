//! External tensor data (`data_location = EXTERNAL`): tensors read at their offsets, mixed
//! with inline ones, from a directory or from memory; and every way the `external_data`
//! entries or the data file can be wrong is a typed error naming the tensor and the file,
//! raised before anything past the file's end is allocated. The shipped LeNet's export
//! with external data reads the same from memory as from its directory.

mod support;

use std::path::{Path, PathBuf};

use prost::Message;
use support::onnx_builders::{
    entry, float_tensor, int, model as onnx_model, node, raw_tensor, value,
};
use support::onnx_fixtures;
use tdsnn_converter::DnnLayer;
use tdsnn_io::onnx::proto::{GraphProto, ModelProto, TensorProto};
use tdsnn_io::onnx::{
    import_onnx, import_onnx_with_data, read_onnx, ExternalDataProblem, ExternalFiles, OnnxError,
    OnnxErrorKind,
};

/// `y = x W^T + b` on 4 features, 3 outputs: W (3 x 4) in a data file at `offset`, b inline.
const W: [f32; 12] = [
    0.5, -1.0, 0.25, 2.0, 1.5, 0.0, -0.75, 0.125, -2.5, 1.0, 0.5, -0.25,
];
const B: [f32; 3] = [0.1, -0.2, 0.3];

/// The weight tensor, its data external with these entries.
fn external(entries: &[(&str, &str)]) -> TensorProto {
    TensorProto {
        data_location: 1,
        external_data: entries.iter().map(|(k, v)| entry(k, v)).collect(),
        ..float_tensor("fc.weight", &[3, 4])
    }
}

/// The model with `weight` as its weight tensor (the bias inline).
fn model(weight: TensorProto) -> ModelProto {
    let bias = raw_tensor("fc.bias", &[3], &B);
    let fc = node(
        "Gemm",
        "fc",
        &["x", "fc.weight", "fc.bias"],
        "y",
        vec![int("transB", 1)],
    );
    let graph = GraphProto {
        node: vec![fc],
        initializer: vec![weight, bias],
        input: vec![value("x", &[1, 4])],
        output: vec![value("y", &[1, 3])],
        ..GraphProto::default()
    };
    onnx_model(10, 20, graph)
}

/// `W`'s bytes at `offset` in a file of junk (0xA5) bytes.
fn data_file(offset: usize) -> Vec<u8> {
    let mut bytes = vec![0xA5; offset];
    bytes.extend(W.iter().flat_map(|v| v.to_le_bytes()));
    bytes.extend([0xA5; 7]);
    bytes
}

/// A fresh directory for one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tdsnn-onnx-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `model` as `dir/sub/m.onnx` (a subdirectory, so that `..` has somewhere to go)
/// with `files` beside it, and reads it back.
fn read_in(dir: &Path, model: &ModelProto, files: &[(&str, &[u8])]) -> Result<DnnLayer, OnnxError> {
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    for (name, bytes) in files {
        std::fs::write(sub.join(name), bytes).unwrap();
    }
    let path = sub.join("m.onnx");
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    read_onnx(&path).map(|m| m.dnn.layers()[0].clone())
}

fn expected() -> DnnLayer {
    DnnLayer::Dense {
        outputs: 3,
        weights: W.to_vec(),
        bias: Some(B.to_vec()),
    }
}

/// The problem an import failed with; checks that the error names the weight tensor and
/// the location as given, and that the message holds `words`.
fn problem(
    result: Result<DnnLayer, OnnxError>,
    location: &str,
    words: &str,
) -> ExternalDataProblem {
    let err = result.expect_err("imported");
    let message = err.to_string();
    println!("{message}");
    assert!(message.contains(words), "{message}");
    assert!(message.contains("`fc.weight`"), "{message}");
    match err.into_kind() {
        OnnxErrorKind::ExternalData {
            tensor,
            location: given,
            problem,
        } => {
            assert_eq!(tensor, "fc.weight");
            assert_eq!(given, location);
            problem
        }
        other => panic!("not ExternalData: {other}"),
    }
}

#[test]
fn external_and_inline_tensors_mixed_at_any_offset() {
    let dir = temp_dir("mixed");
    for offset in [0usize, 3, 64, 65536] {
        let data = data_file(offset);
        let off = offset.to_string();
        // With and without `length`, with `./` and a checksum entry (ignored).
        for entries in [
            vec![
                ("location", "m.onnx.data"),
                ("offset", &off),
                ("length", "48"),
            ],
            vec![
                ("location", "./m.onnx.data"),
                ("offset", &off),
                ("checksum", "x"),
            ],
        ] {
            let m = model(external(&entries));
            let from_dir = read_in(&dir, &m, &[("m.onnx.data", &data)]).unwrap();
            assert_eq!(from_dir, expected(), "offset {offset}");
            let files = ExternalFiles::new().with("m.onnx.data", &data);
            let bytes = m.encode_to_vec();
            let memory = import_onnx_with_data(&bytes, "m.onnx", &files).unwrap();
            assert_eq!(memory.dnn.layers()[0], expected(), "offset {offset}");
        }
    }
    // No offset entry: 0. A file in a subdirectory.
    let m = model(external(&[("location", "weights/w.bin")]));
    std::fs::create_dir_all(dir.join("sub/weights")).unwrap();
    std::fs::write(dir.join("sub/weights/w.bin"), data_file(0)).unwrap();
    assert_eq!(read_in(&dir, &m, &[]).unwrap(), expected());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bytes_alone_cannot_find_the_data() {
    let m = model(external(&[("location", "m.onnx.data")]));
    let result = import_onnx(&m.encode_to_vec(), "m.onnx").map(|m| m.dnn.layers()[0].clone());
    assert_eq!(
        problem(result, "m.onnx.data", "no directory"),
        ExternalDataProblem::NoDirectory
    );
}

#[test]
fn absolute_locations_are_refused() {
    let dir = temp_dir("absolute");
    // Even one naming a real file holding the right bytes.
    let real = dir.join("real.data");
    std::fs::write(&real, data_file(0)).unwrap();
    let real = real.display().to_string();
    for location in [real.as_str(), "/etc/passwd", "//m.onnx.data"] {
        let m = model(external(&[("location", location)]));
        let result = read_in(&dir, &m, &[("m.onnx.data", &data_file(0))]);
        assert_eq!(
            problem(result, location, "absolute"),
            ExternalDataProblem::Absolute
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn parent_directory_escapes_are_refused() {
    let dir = temp_dir("escape");
    // `dir/m.onnx.data` exists, one level above the model: still refused.
    std::fs::write(dir.join("m.onnx.data"), data_file(0)).unwrap();
    for location in [
        "../m.onnx.data",
        "w/../../m.onnx.data",
        "w/../m.onnx.data",
        "..\\m.onnx.data",
    ] {
        let m = model(external(&[("location", location)]));
        let result = read_in(&dir, &m, &[("m.onnx.data", &data_file(0))]);
        assert_eq!(
            problem(result, location, "`..`"),
            ExternalDataProblem::Escapes
        );
        // The same from memory, the file supplied under the very name.
        let data = data_file(0);
        let files = ExternalFiles::new().with(location, &data);
        let bytes = m.encode_to_vec();
        let result =
            import_onnx_with_data(&bytes, "m.onnx", &files).map(|m| m.dnn.layers()[0].clone());
        assert_eq!(
            problem(result, location, "`..`"),
            ExternalDataProblem::Escapes
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_data_file() {
    let dir = temp_dir("missing");
    let m = model(external(&[("location", "gone.data")]));
    assert_eq!(
        problem(read_in(&dir, &m, &[]), "gone.data", "does not exist"),
        ExternalDataProblem::Missing
    );
    let bytes = m.encode_to_vec();
    let result = import_onnx_with_data(&bytes, "m.onnx", &ExternalFiles::new())
        .map(|m| m.dnn.layers()[0].clone());
    assert_eq!(
        problem(result, "gone.data", "does not exist"),
        ExternalDataProblem::Missing
    );
    // No location at all.
    let m = model(external(&[("offset", "0")]));
    assert_eq!(
        problem(read_in(&dir, &m, &[]), "", "no `location`"),
        ExternalDataProblem::NoLocation
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn offsets_and_lengths_past_the_end_of_the_file() {
    let dir = temp_dir("past-end");
    let data = data_file(0); // 48 bytes of W, then 7
    let size = data.len() as u64;
    for (offset, length) in [
        ("8", None),
        ("55", Some("48")),
        ("56", None),
        ("1000000000000", None),
        ("18446744073709551615", Some("48")),
    ] {
        let mut entries = vec![("location", "m.onnx.data"), ("offset", offset)];
        entries.extend(length.map(|l| ("length", l)));
        let m = model(external(&entries));
        let want = ExternalDataProblem::PastEnd {
            offset: offset.parse().unwrap(),
            length: 48,
            size,
        };
        let result = read_in(&dir, &m, &[("m.onnx.data", &data)]);
        assert_eq!(problem(result, "m.onnx.data", "past the end"), want);
        let files = ExternalFiles::new().with("m.onnx.data", &data);
        let bytes = m.encode_to_vec();
        let result =
            import_onnx_with_data(&bytes, "m.onnx", &files).map(|m| m.dnn.layers()[0].clone());
        assert_eq!(problem(result, "m.onnx.data", "past the end"), want);
    }
    // A tensor whose dimensions claim a petabyte: refused by the file's size, not by an
    // allocation failure.
    let mut huge = external(&[("location", "m.onnx.data")]);
    huge.dims = vec![1 << 24, 1 << 24];
    let mut m = model(huge);
    m.graph.as_mut().unwrap().input = vec![value("x", &[1, 1 << 24])];
    let result = read_in(&dir, &m, &[("m.onnx.data", &data)]);
    assert!(matches!(
        problem(result, "m.onnx.data", "past the end"),
        ExternalDataProblem::PastEnd { length, .. } if length == 1 << 50
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lengths_that_do_not_match_the_dimensions() {
    let dir = temp_dir("length");
    let data = data_file(0);
    // 0 reads as "not given", as onnxruntime reads it: the tensor's own size.
    let m = model(external(&[("location", "m.onnx.data"), ("length", "0")]));
    assert_eq!(
        read_in(&dir, &m, &[("m.onnx.data", &data)]).unwrap(),
        expected()
    );
    for length in ["44", "52", "96"] {
        let m = model(external(&[("location", "m.onnx.data"), ("length", length)]));
        let result = read_in(&dir, &m, &[("m.onnx.data", &data)]);
        assert_eq!(
            problem(result, "m.onnx.data", "dimensions need 48"),
            ExternalDataProblem::Length {
                length: length.parse().unwrap(),
                expected: 48
            }
        );
    }
    for (key, bad) in [("offset", "-8"), ("length", "48 bytes"), ("offset", "0x10")] {
        let m = model(external(&[("location", "m.onnx.data"), (key, bad)]));
        let result = read_in(&dir, &m, &[("m.onnx.data", &data)]);
        assert_eq!(
            problem(result, "m.onnx.data", bad),
            ExternalDataProblem::BadNumber {
                key: key.into(),
                value: bad.into()
            }
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn data_files_that_are_not_regular_files() {
    let dir = temp_dir("not-a-file");
    let sub = dir.join("sub");
    std::fs::create_dir_all(sub.join("a_directory")).unwrap();
    let mut locations = vec!["a_directory"];
    #[cfg(unix)]
    {
        // A device with no end, and a pipe no one writes to: both refused by their
        // metadata, before they are opened (opening the pipe would block).
        std::os::unix::fs::symlink("/dev/zero", sub.join("zero")).unwrap();
        locations.push("zero");
        let fifo = std::process::Command::new("mkfifo")
            .arg(sub.join("pipe"))
            .status();
        if fifo.is_ok_and(|s| s.success()) {
            locations.push("pipe");
        } else {
            println!("mkfifo unavailable: the pipe case is skipped");
        }
    }
    for location in locations {
        let m = model(external(&[("location", location)]));
        assert_eq!(
            problem(read_in(&dir, &m, &[]), location, "not a regular file"),
            ExternalDataProblem::NotAFile
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inconsistent_locations_and_overlapping_tensors() {
    let data = data_file(0);
    let files = ExternalFiles::new().with("m.onnx.data", &data);
    let import = |m: &ModelProto| {
        let bytes = m.encode_to_vec();
        import_onnx_with_data(&bytes, "m.onnx", &files).map(|m| m.dnn.layers()[0].clone())
    };
    // External entries on a tensor marked inline, and inline data on one marked external.
    let mut t = external(&[("location", "m.onnx.data")]);
    t.data_location = 0;
    assert!(matches!(
        problem(import(&model(t)), "m.onnx.data", "DEFAULT"),
        ExternalDataProblem::Conflict(_)
    ));
    let mut t = external(&[("location", "m.onnx.data")]);
    t.float_data = W.to_vec();
    assert!(matches!(
        problem(import(&model(t)), "m.onnx.data", "inline data"),
        ExternalDataProblem::Conflict(_)
    ));
    // Two tensors claiming the same 48 bytes of a 55-byte file: more than the file holds.
    let mut m = model(external(&[("location", "m.onnx.data")]));
    let g = m.graph.as_mut().unwrap();
    let mut twin = external(&[("location", "m.onnx.data")]);
    twin.name = "fc.weight".into();
    g.initializer.insert(0, twin);
    let got = problem(import(&m), "m.onnx.data", "overlapping");
    assert_eq!(
        got,
        ExternalDataProblem::Overlap {
            claimed: 96,
            available: 55
        }
    );
}

/// The in-memory entry point reads what the directory one reads, given the same bytes; the
/// bytes alone fail, naming the tensor and the file.
#[test]
fn external_data_from_memory_equals_from_the_directory() {
    let path = onnx_fixtures().join("lenet_g_external.onnx");
    let bytes = std::fs::read(&path).unwrap();
    let data = std::fs::read(onnx_fixtures().join("lenet_g_external.onnx.data")).unwrap();
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
