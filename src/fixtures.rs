//! The shipped fixtures: where they are, and how to load them.
//!
//! Paths are absolute, fixed at compile time from this crate's directory, so the commands
//! find the fixtures from any working directory.

use std::path::{Path, PathBuf};

use tdsnn_converter::{Dataset, IdxError};

/// The crate's own directory.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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

/// Which split of an IDX data set directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`.
    Train,
    /// `test-images-idx3-ubyte`, `test-labels-idx1-ubyte`.
    Test,
}

/// The image and label files of `split` in an MNIST-style directory.
pub fn split_files(dir: &Path, split: Split) -> (PathBuf, PathBuf) {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "test",
    };
    (
        dir.join(format!("{prefix}-images-idx3-ubyte")),
        dir.join(format!("{prefix}-labels-idx1-ubyte")),
    )
}

/// Loads `split` from an MNIST-style directory of IDX files.
pub fn load_split(dir: &Path, split: Split) -> Result<Dataset, IdxError> {
    let (images, labels) = split_files(dir, split);
    Dataset::read(images, labels)
}
