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
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::ProgressStyle;
use tdsnn::engine::{format, Graph};
use tdsnn::io::idx::{split_files, Split};
use tdsnn::io::input;
use tdsnn::io::model_file::{self, Model};
use tdsnn::io::onnx::{read_onnx, read_onnx_with_files};
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

/// Whether `path` names an ONNX file (extension `.onnx`).
pub fn is_onnx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// What a graph, model or ONNX file holds, read once.
#[derive(Debug)]
pub enum Contents {
    /// An engine graph file ([`format::is_graph_file`]: it starts with [`format::MAGIC`]).
    Graph(Graph),
    /// A model: the project's safetensors model file ([`model_file::is_model_file`]: an
    /// 8-byte header length, then the JSON header's `{`), or an ONNX file (`.onnx`).
    Model(Model),
}

/// Reads a graph file, a model file or an ONNX file (by its `.onnx` extension). Graph and
/// model files are told apart by their first bytes, whatever their names. A regular file's
/// first bytes are peeked at and the file read by its own reader; a pipe or device
/// (`/dev/stdin`) can be read only once, so it is read whole (bounded, see
/// [`input::read_bounded`]) and its bytes decoded.
pub fn read_contents(path: &Path) -> Result<Contents> {
    if fixtures::built_in(path).is_some() {
        return Ok(Contents::Model(read_model(path)?));
    }
    if is_onnx(path) {
        return Ok(Contents::Model(read_onnx(path)?));
    }
    let name = path.display().to_string();
    if std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        let mut head = Vec::with_capacity(9);
        std::fs::File::open(path)
            .and_then(|f| f.take(9).read_to_end(&mut head))
            .with_context(|| name.clone())?;
        return if format::is_graph_file(&head) {
            let graph = format::read(path).with_context(|| format!("reading {name}"))?;
            Ok(Contents::Graph(graph))
        } else if model_file::is_model_file(&head) {
            Ok(Contents::Model(read_model(path)?))
        } else {
            Err(neither(&name, &head))
        };
    }
    let bytes = input::read_bounded(path, input::FILE_LIMIT)?;
    if format::is_graph_file(&bytes) {
        let graph = format::from_bytes(&bytes).with_context(|| format!("reading {name}"))?;
        Ok(Contents::Graph(graph))
    } else if model_file::is_model_file(&bytes) {
        let model = model_file::model_from_bytes(&bytes, &name)
            .with_context(|| format!("loading {name}"))?;
        Ok(Contents::Model(model))
    } else {
        Err(neither(&name, &bytes))
    }
}

/// The error for a file that is neither a graph file nor a model file.
fn neither(name: &str, bytes: &[u8]) -> anyhow::Error {
    anyhow::anyhow!(
        "{name} is neither a graph file (it would start with \"{}\") nor a model file \
         (safetensors: an 8-byte header length, then a JSON header); it starts with \"{}\"",
        format::MAGIC.escape_ascii(),
        bytes[..bytes.len().min(8)].escape_ascii()
    )
}

/// Reads a model file: ONNX (`.onnx`) or the project's safetensors model file. A graph file
/// is refused with a hint (it is `tdsnn convert`'s output, not a model).
pub fn load_model(path: &Path) -> Result<Model> {
    match read_contents(path)? {
        Contents::Model(model) => Ok(model),
        Contents::Graph(_) => bail!(
            "{} is an engine graph file (what `tdsnn convert` writes), not a model: give the \
             model file (safetensors or .onnx) it was converted from",
            path.display()
        ),
    }
}

/// Reads a model as [`load_model`] does, with the other files it was read from: an ONNX
/// model's external data files (none for a model file), which no output may overwrite.
pub fn load_model_and_data(path: &Path) -> Result<(Model, Vec<PathBuf>)> {
    if is_onnx(path) {
        return Ok(read_onnx_with_files(path)?);
    }
    Ok((load_model(path)?, Vec::new()))
}

/// Reads the project's safetensors model file.
pub fn read_model(path: &Path) -> Result<Model> {
    fixtures::read_model(path).with_context(|| format!("loading {}", path.display()))
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
