//! The `tdsnn` subcommands, one module each.

pub mod bench;
pub mod convert;
pub mod demo;
pub mod inspect;
pub mod run;
pub mod sweep;
pub mod train;

use std::path::Path;

use anyhow::{Context, Result};
use indicatif::ProgressStyle;
use tdsnn::converter::model_file::{self, Model};
use tdsnn::converter::onnx::read_onnx;

/// Whether `path` names an ONNX file (extension `.onnx`).
pub fn is_onnx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// Reads a model file: ONNX (`.onnx`) or the project's safetensors model file.
pub fn load_model(path: &Path) -> Result<Model> {
    if is_onnx(path) {
        Ok(read_onnx(path)?)
    } else {
        read_model(path)
    }
}

/// Reads the project's safetensors model file.
pub fn read_model(path: &Path) -> Result<Model> {
    model_file::read_model(path).with_context(|| format!("loading {}", path.display()))
}

/// The leak constant `L`: `given` (`--leak`), else the one the model was trained for.
pub fn leak_of(given: Option<f64>, model: &Model, path: &Path) -> Result<f64> {
    match given.or(model.info.leak) {
        Some(leak) => Ok(leak),
        None => anyhow::bail!(
            "{} does not say which L it was trained for ({} model): give --leak",
            path.display(),
            model.info.activation
        ),
    }
}

/// Worker threads: `given` (`--threads`), else every core.
pub fn threads(given: Option<u32>) -> usize {
    given.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |t| t as usize,
    )
}

/// The progress bar style of every long command.
pub fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:>14} {bar:40} {pos}/{len} {per_sec:>12} eta {eta}")
        .expect("a valid template")
}
