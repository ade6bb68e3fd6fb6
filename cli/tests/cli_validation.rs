//! The command-line tool checks its arguments before it works, and says what is wrong:
//! training options, leak constants, labels outside the model's classes, the raster's image
//! index, files that are neither graph files nor model files.

mod cli_support;

use std::path::Path;

use cli_support::{inputs_npy, lenet_g, listing, tdsnn, tdsnn_with_stdin};
use npyz::WriterBuilder;
use tdsnn::io::idx::Dataset;

/// Writes an IDX pair of `labels.len()` blank `rows x cols` images under `prefix` in `dir`.
fn idx(dir: &Path, prefix: &str, rows: u32, cols: u32, labels: Vec<u8>) {
    Dataset {
        images: vec![0; labels.len() * (rows * cols) as usize],
        labels,
        rows,
        cols,
    }
    .write(
        dir.join(format!("{prefix}-images-idx3-ubyte")),
        dir.join(format!("{prefix}-labels-idx1-ubyte")),
    )
    .unwrap();
}

#[test]
fn train_checks_its_options_before_the_first_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (args, message) in [
        (
            &["--relu-lr", "nan"][..],
            "learning rate NaN of the ReLU phase",
        ),
        (
            &["--g-lr", "-1"],
            "learning rate -1.0 of the G(x) - 1 phase",
        ),
        (
            &["--batch-size", "0"],
            "mini-batch size 0 must be 1 to the 8000",
        ),
        (
            &["--batch-size", "4294967295"],
            "mini-batch size 4294967295 must be 1 to the 8000",
        ),
    ] {
        let run = tdsnn(d, &[&["train", "--out-dir", "out"][..], args].concat());
        assert!(!run.ok, "{args:?} was accepted");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert!(
            !run.stdout.contains("loss"),
            "{args:?} trained: {}",
            run.stdout
        );
    }
    assert!(listing(d).is_empty(), "left behind: {:?}", listing(d));
    // An output directory that is a file.
    std::fs::write(d.join("file"), b"").unwrap();
    let run = tdsnn(d, &["train", "--out-dir", "file"]);
    run.assert_refused(&["--out-dir file: not a directory"]);
    assert!(!run.stdout.contains("loss"));
}

#[test]
fn sweep_checks_its_options_before_the_first_training() {
    let dir = tempfile::tempdir().unwrap();
    let run = tdsnn(dir.path(), &["sweep", "--g-lr", "inf", "--out-dir", "s"]);
    run.assert_refused(&["learning rate inf of the G(x) - 1 phase"]);
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn a_leak_out_of_range_is_named_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let model = lenet_g();
    let model = model.to_str().unwrap();
    for args in [
        &["run", "--leak", "-1"][..],
        &["convert", model, "--leak", "-1"],
        &["train", "--leak", "-1"],
        &["demo", "--leak", "-1"],
        &["sweep", "--leaks", "1,-1"],
    ] {
        let run = tdsnn(dir.path(), args);
        assert!(!run.ok, "{args:?} was accepted");
        assert!(
            run.stderr
                .contains("leak constant L = -1.0 must be finite and in [0.01, 1000.0]"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn npy_labels_outside_the_classes_are_refused_before_simulating() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut labels = vec![0i64; 16];
    labels[3] = 12;
    let mut bytes = Vec::new();
    let mut w = npyz::WriteOptions::<i64>::new()
        .default_dtype()
        .shape(&[16])
        .writer(&mut bytes)
        .begin_nd()
        .unwrap();
    w.extend(labels).unwrap();
    w.finish().unwrap();
    std::fs::write(d.join("labels.npy"), bytes).unwrap();
    let npy = inputs_npy();
    let run = tdsnn(
        d,
        &[
            "run",
            "--npy",
            npy.to_str().unwrap(),
            "--npy-labels",
            "labels.npy",
            "--json",
            "j.json",
        ],
    );
    run.assert_refused(&[
        "labels.npy",
        "image 3: label 12, but the network has 10 classes",
    ]);
    assert!(run.stdout.is_empty(), "it simulated: {}", run.stdout);
    assert_eq!(listing(d), ["labels.npy"]);
}

#[test]
fn idx_labels_outside_the_classes_are_refused_before_simulating_or_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    idx(d, "test", 28, 28, vec![1, 2, 3, 4, 5, 10, 0, 0]);
    idx(d, "train", 28, 28, vec![1, 2, 3, 4, 5, 6, 7, 250]);
    let run = tdsnn(d, &["run", "--data", "."]);
    run.assert_refused(&[
        "test-labels-idx1-ubyte",
        "image 5: label 10, but the network has 10 classes",
    ]);
    assert!(run.stdout.is_empty(), "it simulated: {}", run.stdout);
    let run = tdsnn(
        d,
        &[
            "train",
            "--data",
            ".",
            "--out-dir",
            "out",
            "--batch-size",
            "4",
        ],
    );
    run.assert_refused(&[
        "train-labels-idx1-ubyte",
        "image 7: label 250, but the network has 10 classes",
    ]);
    assert!(!run.stdout.contains("loss"), "it trained: {}", run.stdout);
    assert!(!d.join("out").exists());
}

#[test]
fn train_names_images_of_another_shape() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    idx(d, "test", 32, 32, vec![1, 2]);
    idx(d, "train", 32, 32, vec![1, 2, 3, 4]);
    let run = tdsnn(
        d,
        &[
            "train",
            "--data",
            ".",
            "--out-dir",
            "out",
            "--batch-size",
            "2",
        ],
    );
    run.assert_refused(&["the training images are 1x32x32, the network takes 1x28x28"]);
}

#[test]
fn the_raster_image_is_checked_before_simulating() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npy = inputs_npy();
    let run = tdsnn(
        d,
        &[
            "run",
            "--npy",
            npy.to_str().unwrap(),
            "--json",
            "j.json",
            "--raster",
            "r.svg",
            "--raster-image",
            "16",
        ],
    );
    run.assert_refused(&["--raster-image 16: there are 16 images to evaluate"]);
    assert!(run.stdout.is_empty(), "it simulated: {}", run.stdout);
    assert!(listing(d).is_empty(), "left behind: {:?}", listing(d));
}

#[test]
fn inspect_names_both_formats_when_neither_magic_matches() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = tdsnn(
        d,
        &["convert", lenet_g().to_str().unwrap(), "-o", "g.tdsnn"],
    );
    assert!(run.ok, "{}", run.stderr);
    let mut bytes = std::fs::read(d.join("g.tdsnn")).unwrap();
    bytes[7] ^= 0x20; // TDSNNGRF -> TDSNNGRf
    std::fs::write(d.join("damaged.tdsnn"), bytes).unwrap();
    let run = tdsnn(d, &["inspect", "damaged.tdsnn"]);
    run.assert_refused(&["neither a graph file", "nor a model file", "TDSNNGRf"]);
    // The intact file is a graph file whatever its name, and a model file is not taken
    // for a graph file.
    std::fs::rename(d.join("g.tdsnn"), d.join("g.safetensors")).unwrap();
    let run = tdsnn(d, &["inspect", "g.safetensors"]);
    assert!(run.ok && run.stdout.contains("T_il"), "{}", run.stderr);
    let run = tdsnn(d, &["inspect", lenet_g().to_str().unwrap()]);
    assert!(
        run.ok && run.stdout.contains("activation g"),
        "{}",
        run.stderr
    );
    // A graph file given as a model says what it is.
    let run = tdsnn(d, &["run", "--model", "g.safetensors"]);
    run.assert_refused(&["is an engine graph file"]);
}

#[test]
fn negative_and_huge_counts_are_refused_with_their_range() {
    let dir = tempfile::tempdir().unwrap();
    for (args, message) in [
        (
            &["run", "--til", "-3"][..],
            "expected `dynamic` or a number of steps",
        ),
        (&["run", "--threads", "-1"], "-1 is not in 1..=1024"),
        (&["run", "--threads", "4294967295"], "is not in 1..=1024"),
        (&["bench", "--threads", "0"], "0 is not in 1..=1024"),
        (&["sweep", "--threads", "2000"], "2000 is not in 1..=1024"),
    ] {
        let run = tdsnn(dir.path(), args);
        assert!(!run.ok, "{args:?} was accepted");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} worked: {}", run.stdout);
    }
}

#[test]
#[cfg(unix)]
fn a_model_or_graph_file_piped_in_reads_as_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let graph = dir.path().join("lenet.tdsnn");
    let convert = tdsnn(
        dir.path(),
        &["convert", lenet_g().to_str().unwrap(), "-o", "lenet.tdsnn"],
    );
    assert!(convert.ok, "{}", convert.stderr);
    for (file, shows) in [
        (&lenet_g(), "model: activation g"),
        (&graph, "T_il Dynamic"),
    ] {
        let direct = tdsnn(dir.path(), &["inspect", file.to_str().unwrap()]);
        // A pipe can be read only once: the first bytes that tell the kind are not lost.
        let piped = tdsnn_with_stdin(dir.path(), file, &["inspect", "/dev/stdin"]);
        assert!(piped.ok, "{}: {}", file.display(), piped.stderr);
        assert!(piped.stdout.contains(shows), "{}", piped.stdout);
        assert_eq!(piped.stdout, direct.stdout);
    }
    let run = tdsnn_with_stdin(
        dir.path(),
        &lenet_g(),
        &["run", "--model", "/dev/stdin", "--limit", "4"],
    );
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stdout.contains("Table 1"), "{}", run.stdout);
}
