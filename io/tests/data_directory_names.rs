//! A data directory's split is found under the names MNIST and Fashion-MNIST are distributed
//! with (`t10k-images-idx3-ubyte.gz`, ...) as well as the plain `test-*` and `train-*`
//! names; a directory holding none of them is an error naming every file looked for.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use tdsnn_io::idx::{find_split, load_split, split_files, FileRole, IdxError, Split};

/// The shipped MNIST directory.
fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("fixtures/mnist")
}

/// A fresh, empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tdsnn-datadir-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// Copies the shipped file `from` to `dir/to`, gzip-compressed if `to` ends in `.gz`.
fn copy(from: &str, dir: &Path, to: &str) {
    let bytes = std::fs::read(mnist_dir().join(from)).unwrap();
    let bytes = if to.ends_with(".gz") {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&bytes).unwrap();
        gz.finish().unwrap()
    } else {
        bytes
    };
    std::fs::write(dir.join(to), bytes).unwrap();
}

#[test]
fn mnist_as_distributed_loads_as_the_plain_files() {
    let plain = load_split(&mnist_dir(), Split::Test).unwrap();
    let dir = TempDir::new("t10k");
    copy(
        "test-images-idx3-ubyte",
        &dir.0,
        "t10k-images-idx3-ubyte.gz",
    );
    copy(
        "test-labels-idx1-ubyte",
        &dir.0,
        "t10k-labels-idx1-ubyte.gz",
    );
    assert_eq!(
        find_split(&dir.0, Split::Test).unwrap(),
        (
            dir.0.join("t10k-images-idx3-ubyte.gz"),
            dir.0.join("t10k-labels-idx1-ubyte.gz")
        )
    );
    assert_eq!(load_split(&dir.0, Split::Test).unwrap(), plain);
    // split_files finds the same.
    assert_eq!(
        split_files(&dir.0, Split::Test),
        find_split(&dir.0, Split::Test).unwrap()
    );
}

#[test]
fn plain_names_come_first_and_images_and_labels_share_a_prefix() {
    let dir = TempDir::new("order");
    copy("test-images-idx3-ubyte", &dir.0, "t10k-images-idx3-ubyte");
    copy("test-labels-idx1-ubyte", &dir.0, "t10k-labels-idx1-ubyte");
    copy(
        "test-labels-idx1-ubyte",
        &dir.0,
        "t10k-labels-idx1-ubyte.gz",
    );
    // test-* images alone: the t10k pair is taken, not test images with t10k labels.
    copy("test-images-idx3-ubyte", &dir.0, "test-images-idx3-ubyte");
    assert_eq!(
        find_split(&dir.0, Split::Test).unwrap(),
        (
            dir.0.join("t10k-images-idx3-ubyte"),
            dir.0.join("t10k-labels-idx1-ubyte")
        )
    );
    // One half compressed, the other not.
    copy(
        "train-images-idx3-ubyte",
        &dir.0,
        "train-images-idx3-ubyte.gz",
    );
    copy("train-labels-idx1-ubyte", &dir.0, "train-labels-idx1-ubyte");
    let train = load_split(&dir.0, Split::Train).unwrap();
    assert_eq!(train, load_split(&mnist_dir(), Split::Train).unwrap());
}

#[test]
fn a_directory_without_the_split_names_every_file_looked_for() {
    let dir = TempDir::new("empty");
    let err = load_split(&dir.0, Split::Test).unwrap_err();
    let names = [
        "test-images-idx3-ubyte",
        "test-images-idx3-ubyte.gz",
        "t10k-images-idx3-ubyte",
        "t10k-images-idx3-ubyte.gz",
    ];
    assert!(
        matches!(&err, IdxError::Missing { dir: d, role: FileRole::Images, looked_for }
            if *d == dir.0 && *looked_for == names),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no images file: looked for {}",
            dir.0.display(),
            names.join(", ")
        )
    );
    let err = find_split(&dir.0, Split::Train).unwrap_err();
    assert!(
        matches!(&err, IdxError::Missing { looked_for, .. }
            if *looked_for == ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"]),
        "{err:?}"
    );
    // split_files falls back to the plain names, which reading reports as missing.
    assert_eq!(
        split_files(&dir.0, Split::Test).0,
        dir.0.join("test-images-idx3-ubyte")
    );

    // Images without labels: the labels' names beside the images.
    copy(
        "test-images-idx3-ubyte",
        &dir.0,
        "t10k-images-idx3-ubyte.gz",
    );
    let err = find_split(&dir.0, Split::Test).unwrap_err();
    assert!(
        matches!(&err, IdxError::Missing { role: FileRole::Labels, looked_for, .. }
            if *looked_for == ["t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz"]),
        "{err:?}"
    );
}
