//! The shipped fixtures, the commands' defaults: the two LeNet-5 model files and the MNIST
//! digits in `fixtures/` of the source tree this tool was built from.
//!
//! A default is read from that tree while it is there (absolute paths, fixed at build time),
//! so the commands find it from any working directory and a model retrained by `tdsnn train`
//! is the one the next `tdsnn run` reads. A tool whose source tree is gone (installed with
//! `cargo install --path cli` and the checkout removed, or copied to another machine) still
//! runs `tdsnn run` and `tdsnn bench` as shipped: the two model files and the MNIST test
//! split are built into the binary (5.0 MB, read by [`read_model`] and [`load_split`] when
//! their files are missing). The training split (6.3 MB) is not: `tdsnn train` and
//! `tdsnn sweep` then ask for `--data`.

use std::path::{Path, PathBuf};

use tdsnn::io::idx::{self, Dataset, IdxError, Split};
use tdsnn::io::model_file::{self, Model, ModelFileError};

/// The repository this tool was built from: the workspace root above `cli/`.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ sits in the workspace root")
}

/// `fixtures/mnist`: 8,000 training and 2,000 test digits as IDX files (see its README).
pub fn mnist_dir() -> PathBuf {
    root().join("fixtures/mnist")
}

/// `fixtures/lenet`: the trained LeNet-5 models (see its README).
pub fn lenet_dir() -> PathBuf {
    root().join("fixtures/lenet")
}

/// The shipped LeNet-5 trained with plain ReLU.
pub fn lenet_relu() -> PathBuf {
    lenet_dir().join("lenet5-relu.safetensors")
}

/// The shipped LeNet-5 retrained with `G` for `L = 5` (the DNN(G) that converts losslessly).
pub fn lenet_g() -> PathBuf {
    lenet_dir().join("lenet5-g-L5.safetensors")
}

/// The shipped MNIST test split's images and labels files.
fn test_split() -> (PathBuf, PathBuf) {
    let dir = mnist_dir();
    (
        dir.join("test-images-idx3-ubyte"),
        dir.join("test-labels-idx1-ubyte"),
    )
}

/// The copy built into this binary of the shipped file at `path`, if `path` is one of the
/// files built in and is missing on disk.
///
/// # Example
/// ```
/// use tdsnn_cli::fixtures::{built_in, lenet_g};
/// // Within the source tree, the file itself is read.
/// assert_eq!(built_in(&lenet_g()), None);
/// ```
pub fn built_in(path: &Path) -> Option<&'static [u8]> {
    if path.exists() {
        return None;
    }
    let (images, labels) = test_split();
    let files: [(PathBuf, &'static [u8]); 4] = [
        (
            lenet_g(),
            include_bytes!("../../fixtures/lenet/lenet5-g-L5.safetensors"),
        ),
        (
            lenet_relu(),
            include_bytes!("../../fixtures/lenet/lenet5-relu.safetensors"),
        ),
        (
            images,
            include_bytes!("../../fixtures/mnist/test-images-idx3-ubyte"),
        ),
        (
            labels,
            include_bytes!("../../fixtures/mnist/test-labels-idx1-ubyte"),
        ),
    ];
    files
        .into_iter()
        .find(|(file, _)| file == path)
        .map(|(_, bytes)| bytes)
}

/// Whether `path` can be read: a file on disk, or a shipped file built in.
pub fn available(path: &Path) -> bool {
    path.exists() || built_in(path).is_some()
}

/// Reads a model file ([`model_file::read_model`]), or the copy built in of a shipped one
/// that is missing.
///
/// # Errors
/// As [`model_file::read_model`].
pub fn read_model(path: &Path) -> Result<Model, ModelFileError> {
    match built_in(path) {
        Some(bytes) => model_file::model_from_bytes(bytes, &path.display().to_string()),
        None => model_file::read_model(path),
    }
}

/// The image and label files of `split` in `dir`, as [`idx::find_split`] finds them; in
/// the shipped directory whose files are missing, the test split built in.
///
/// # Errors
/// As [`idx::find_split`]; for the shipped directory's training split, missing, an error
/// that says to give `--data`.
pub fn find_split(dir: &Path, split: Split) -> Result<(PathBuf, PathBuf), IdxError> {
    idx::find_split(dir, split).or_else(|error| {
        let shipped = test_split();
        let built_in = split == Split::Test && dir == mnist_dir() && built_in(&shipped.0).is_some();
        if built_in {
            Ok(shipped)
        } else {
            Err(error)
        }
    })
}

/// Reads an IDX pair ([`Dataset::read`]), or the copies built in of the shipped test split
/// when its files are missing.
///
/// # Errors
/// As [`Dataset::read`].
pub fn read_dataset(images: &Path, labels: &Path) -> Result<Dataset, IdxError> {
    match (built_in(images), built_in(labels)) {
        (Some(images), Some(labels)) => Dataset::from_bytes(images, labels),
        _ => Dataset::read(images, labels),
    }
}

/// Loads `split` from `dir` ([`idx::load_split`]), the shipped test split from the copy built
/// in if its files are missing.
///
/// # Errors
/// As [`idx::load_split`].
pub fn load_split(dir: &Path, split: Split) -> Result<Dataset, IdxError> {
    let (images, labels) = find_split(dir, split)?;
    read_dataset(&images, &labels)
}

/// Why `dir`, the value of `option`, cannot be used: it is a shipped fixtures directory
/// whose source tree is gone (the MNIST directory, of which only the test split is built in;
/// the model directory `tdsnn train` writes by default), or `None`. The message says what
/// to give instead.
///
/// # Example
/// ```
/// use tdsnn_cli::fixtures::{gone, mnist_dir};
/// assert_eq!(gone(&mnist_dir(), "--data"), None); // within the source tree
/// ```
pub fn gone(dir: &Path, option: &str) -> Option<String> {
    let (what, give) = if dir == mnist_dir() {
        (
            "the shipped MNIST directory (only its test split is built into this binary)",
            "a directory holding train-images-idx3-ubyte and train-labels-idx1-ubyte, and \
             test-* or t10k-* images and labels, each plain or .gz",
        )
    } else if dir == lenet_dir() {
        ("the shipped model directory", "the directory to write to")
    } else {
        return None;
    };
    (!dir.exists()).then(|| {
        format!(
            "{option} {}: {what} is gone, as is the source tree this tdsnn was built from: give \
             {option} DIR, {give}",
            dir.display()
        )
    })
}
