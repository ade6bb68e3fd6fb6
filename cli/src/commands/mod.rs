//! The `tdsnn` subcommands, one module each, and what they share: reading models, the
//! checks of shared options, and the outputs ([`output`]).

pub mod bench;
pub mod convert;
pub mod demo;
pub mod inspect;
pub mod merge;
pub mod output;
pub mod run;
pub mod sweep;
pub mod train;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::ProgressStyle;
use tdsnn::io::idx::{split_files, Split};
use tdsnn::io::load;
use tdsnn::io::model_file::Model;
use tdsnn::train::recipe::TrainingError;
use tdsnn_cli::fixtures;

use self::output::Input;

/// The most worker threads a command accepts: far beyond any core count, low enough that
/// asking for billions fails at once instead of while spawning them.
pub const MAX_THREADS: u32 = 1024;

/// The parser of every `--threads`: 1 to [`MAX_THREADS`].
pub fn thread_count() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=i64::from(MAX_THREADS))
}

/// The four files of an IDX data set directory (both splits' images and labels), as inputs
/// no output may overwrite.
pub fn data_inputs(dir: &Path) -> Vec<Input> {
    let (train, test) = (
        split_files(dir, Split::Train),
        split_files(dir, Split::Test),
    );
    vec![
        Input::new("the training images of --data", train.0),
        Input::new("the training labels of --data", train.1),
        Input::new("the held-out images of --data", test.0),
        Input::new("the held-out labels of --data", test.1),
    ]
}

/// A training error, naming the labels file of `data` when a label is out of range.
pub fn name_labels_file(e: TrainingError, data: &Path) -> anyhow::Error {
    match &e {
        TrainingError::Labels { held_out, .. } => {
            let split = if *held_out { Split::Test } else { Split::Train };
            let file = split_files(data, split).1;
            anyhow::Error::new(e).context(file.display().to_string())
        }
        _ => e.into(),
    }
}

pub use tdsnn::io::load::{is_onnx, Contents};

/// Reads a graph file, a model file or an ONNX file ([`load::read_contents`]); a shipped
/// model file whose source tree is gone is read from the copy built into the binary.
pub fn read_contents(path: &Path) -> Result<Contents> {
    if fixtures::built_in(path).is_some() {
        return Ok(Contents::Model(read_model(path)?));
    }
    Ok(load::read_contents(path)?)
}

/// Reads a model file: ONNX (`.onnx`) or the project's safetensors model file
/// ([`load::load_model`]); a shipped model file whose source tree is gone is read from the
/// copy built into the binary.
pub fn load_model(path: &Path) -> Result<Model> {
    if fixtures::built_in(path).is_some() {
        return read_model(path);
    }
    Ok(load::load_model(path)?)
}

/// Reads a model as [`load_model`] does, with the other files it was read from: an ONNX
/// model's external data files (none for a model file), which no output may overwrite.
pub fn load_model_and_data(path: &Path) -> Result<(Model, Vec<PathBuf>)> {
    if is_onnx(path) {
        return Ok(load::load_model_and_data(path)?);
    }
    Ok((load_model(path)?, Vec::new()))
}

/// Reads the project's safetensors model file.
pub fn read_model(path: &Path) -> Result<Model> {
    fixtures::read_model(path).with_context(|| format!("loading {}", path.display()))
}

/// The leak constant `L`: `given` (`--leak`), else the one the model was trained for.
pub fn leak_of(given: Option<f64>, model: &Model, path: &Path) -> Result<f64> {
    Ok(load::leak_of(given, model, path, "--leak")?)
}

/// Parses a leak constant `L` (`--leak`, `--leaks`): a number the engine accepts
/// ([`tdsnn::converter::check_leak`]).
pub fn parse_leak(s: &str) -> Result<f64, String> {
    let leak: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: expected a number"))?;
    tdsnn::converter::check_leak(leak).map_err(|e| e.to_string())?;
    Ok(leak)
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
