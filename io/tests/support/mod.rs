//! What the integration tests of `tdsnn-io` share: the fixtures' directory and the ONNX
//! message builders.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod onnx_builders;

use std::path::{Path, PathBuf};

/// The ONNX fixtures, `fixtures/onnx` at the workspace root.
pub fn onnx_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("fixtures/onnx")
}
