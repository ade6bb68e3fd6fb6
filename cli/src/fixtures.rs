//! The shipped fixtures: where they are (read them with `tdsnn::io`).
//!
//! Paths are absolute, fixed at compile time from the source tree this tool was built from,
//! so the commands find the fixtures from any working directory.

use std::path::{Path, PathBuf};

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
