//! The `tdsnn` subcommands, one module each, and what they share: reading models, the
//! checks of shared options, and the outputs ([`output`]).

pub mod bench;
pub mod convert;
pub mod demo;
pub mod inspect;
pub mod output;
pub mod run;
pub mod sweep;
pub mod train;

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use indicatif::ProgressStyle;
use tdsnn::converter::model_file::{self, Model};
use tdsnn::converter::onnx::read_onnx;
use tdsnn::engine::format;
use tdsnn::fixtures::{self, Split};
use tdsnn::training::TrainingError;

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
        fixtures::split_files(dir, Split::Train),
        fixtures::split_files(dir, Split::Test),
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
            let file = fixtures::split_files(data, split).1;
            anyhow::Error::new(e).context(file.display().to_string())
        }
        _ => e.into(),
    }
}

/// Whether `path` names an ONNX file (extension `.onnx`).
pub fn is_onnx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// What a file's first bytes say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// An engine graph file ([`format::is_graph_file`]: it starts with [`format::MAGIC`]).
    Graph,
    /// A safetensors file, the project's model file ([`model_file::is_model_file`]: an
    /// 8-byte header length, then the JSON header's `{`).
    Safetensors,
    /// Neither.
    Other {
        /// Its first bytes (at most 8).
        head: Vec<u8>,
    },
}

/// Reads the first bytes of `path` and says which kind of file it is.
pub fn sniff(path: &Path) -> Result<FileKind> {
    let mut head = Vec::with_capacity(9);
    std::fs::File::open(path)
        .and_then(|f| f.take(9).read_to_end(&mut head))
        .with_context(|| format!("{}", path.display()))?;
    Ok(if format::is_graph_file(&head) {
        FileKind::Graph
    } else if model_file::is_model_file(&head) {
        FileKind::Safetensors
    } else {
        head.truncate(8);
        FileKind::Other { head }
    })
}

/// Reads a model file: ONNX (`.onnx`) or the project's safetensors model file. A graph file
/// is refused with a hint (it is `tdsnn convert`'s output, not a model).
pub fn load_model(path: &Path) -> Result<Model> {
    if is_onnx(path) {
        return Ok(read_onnx(path)?);
    }
    if sniff(path)? == FileKind::Graph {
        bail!(
            "{} is an engine graph file (what `tdsnn convert` writes), not a model: give the \
             model file (safetensors or .onnx) it was converted from",
            path.display()
        );
    }
    read_model(path)
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

/// Parses a leak constant `L` (`--leak`, `--leaks`): a number the engine accepts
/// ([`tdsnn::training::check_leak`]).
pub fn parse_leak(s: &str) -> Result<f64, String> {
    let leak: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: expected a number"))?;
    tdsnn::training::check_leak(leak).map_err(|e| e.to_string())?;
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
