//! Reading whatever a user names: an engine graph file, the project's safetensors model file
//! or an ONNX file, told apart by their first bytes (graph and model files) or their `.onnx`
//! extension, each read by its own reader.
//!
//! A regular file's first bytes are peeked at and the file read by its own reader; a pipe or
//! a device (`/dev/stdin`) can be read only once, so it is read whole (bounded, see
//! [`input::read_bounded`]) and its bytes decoded.
//!
//! # Example
//! ```
//! use tdsnn_converter::{Dnn, DnnLayer, Shape};
//! use tdsnn_io::load::{load_model, read_contents, Contents};
//! use tdsnn_io::model_file::{write_model, Model, ModelInfo};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dnn = Dnn::new(Shape::flat(2), vec![
//!     DnnLayer::Dense { outputs: 2, weights: vec![1.0, 0.0, 0.0, 1.0], bias: None },
//! ])?;
//! let model = Model { dnn, info: ModelInfo { activation: "g".into(), leak: Some(5.0), notes: vec![] } };
//! let dir = std::env::temp_dir().join(format!("tdsnn-load-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! // Whatever its name, a model file is read as one.
//! let path = dir.join("model.bin");
//! write_model(&model, &path)?;
//! assert!(matches!(read_contents(&path)?, Contents::Model(_)));
//! assert_eq!(load_model(&path)?.info.leak, Some(5.0));
//! // A file that is neither is refused, naming what it starts with.
//! std::fs::write(&path, b"hello, world")?;
//! assert!(load_model(&path).unwrap_err().to_string().contains("starts with \"hello, w\""));
//! std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use tdsnn_engine::{format, ErrorKind, Graph};

use crate::input::{self, InputError, InputErrorKind};
use crate::model_file::{self, Model, ModelFileError};
use crate::onnx::{read_onnx_with_files, ExternalDataProblem, OnnxError, OnnxErrorKind};

/// What a graph, model or ONNX file holds.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // read once per file
pub enum Contents {
    /// An engine graph file ([`format::is_graph_file`]: it starts with [`format::MAGIC`]).
    Graph(Graph),
    /// A model: the project's safetensors model file ([`model_file::is_model_file`]: an
    /// 8-byte header length, then the JSON header's `{`), or an ONNX file (`.onnx`).
    Model(Model),
}

/// Why a file could not be read as a graph or a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read at all.
    #[error(transparent)]
    Read(#[from] InputError),
    /// A graph file that is malformed or cannot be read.
    #[error("reading {path}: {error}")]
    Graph {
        /// The file.
        path: String,
        /// The engine's error (with the byte offset of a malformed file).
        error: tdsnn_engine::Error,
    },
    /// A safetensors model file that is malformed or cannot be read.
    #[error(transparent)]
    ModelFile(#[from] ModelFileError),
    /// An ONNX file that is malformed, cannot be read or cannot be imported.
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    /// A file that is neither a graph file nor a model file.
    #[error(
        "{path} is neither a graph file (it would start with \"{}\") nor a model file \
         (safetensors: an 8-byte header length, then a JSON header); it starts with \"{}\"",
        format::MAGIC.escape_ascii(),
        head.escape_ascii()
    )]
    Neither {
        /// The file.
        path: String,
        /// Its first bytes (at most 8).
        head: Vec<u8>,
    },
    /// A graph file where a model was asked for.
    #[error(
        "{path} is an engine graph file (what `tdsnn convert` writes), not a model: give the \
         model file (safetensors or .onnx) it was converted from"
    )]
    GraphNotModel {
        /// The file.
        path: String,
    },
    /// A model or ONNX file where a graph file was asked for.
    #[error(
        "{path} is a model, not an engine graph file: load it as a model (it is converted \
         when loaded)"
    )]
    ModelNotGraph {
        /// The file.
        path: String,
    },
    /// No leak constant was given and the model does not say which one it was trained for.
    #[error(
        "{path} does not say which L it was trained for ({}): give {option}",
        activation.as_deref().map_or("ONNX files carry no L".to_string(), |a| format!("{a} model"))
    )]
    NoLeak {
        /// The file.
        path: String,
        /// The activation a model file names; `None` for an ONNX model.
        activation: Option<String>,
        /// How the caller gives a leak constant (`--leak`, `leak=`).
        option: &'static str,
    },
}

impl LoadError {
    /// Whether the operating system failed to open or read a file (it is missing, a
    /// directory, unreadable), as opposed to a file that was read and found wrong.
    pub fn is_io(&self) -> bool {
        let input = |k: &InputErrorKind| matches!(k, InputErrorKind::Io { .. });
        match self {
            LoadError::Read(e) => input(&e.kind),
            LoadError::Graph { error, .. } => matches!(error.kind(), ErrorKind::Io { .. }),
            LoadError::ModelFile(ModelFileError::Io { .. }) => true,
            LoadError::ModelFile(ModelFileError::Input(e)) => input(&e.kind),
            LoadError::Onnx(e) => match e.kind() {
                OnnxErrorKind::Read(k) => input(k),
                OnnxErrorKind::ExternalData { problem, .. } => matches!(
                    problem,
                    ExternalDataProblem::Missing | ExternalDataProblem::Io { .. }
                ),
                _ => false,
            },
            _ => false,
        }
    }
}

/// A path as reports show it: relative to the current directory when inside it, else as
/// given.
pub fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Whether `path` names an ONNX file (extension `.onnx`, any case).
pub fn is_onnx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// Reads a graph file, a model file or an ONNX file (by its `.onnx` extension). Graph and
/// model files are told apart by their first bytes, whatever their names.
///
/// # Errors
/// [`LoadError`]: the file cannot be read, is neither kind, or its reader refuses it.
pub fn read_contents(path: &Path) -> Result<Contents, LoadError> {
    if is_onnx(path) {
        return Ok(Contents::Model(read_onnx_with_files(path)?.0));
    }
    let name = path.display().to_string();
    let graph_error = |error| LoadError::Graph {
        path: name.clone(),
        error,
    };
    if std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        let mut head = Vec::with_capacity(9);
        std::fs::File::open(path)
            .and_then(|f| f.take(9).read_to_end(&mut head))
            .map_err(|e| InputError::io(path, &e))?;
        return if format::is_graph_file(&head) {
            Ok(Contents::Graph(format::read(path).map_err(graph_error)?))
        } else if model_file::is_model_file(&head) {
            Ok(Contents::Model(model_file::read_model(path)?))
        } else {
            Err(neither(name, &head))
        };
    }
    let bytes = input::read_bounded(path, input::FILE_LIMIT)?;
    if format::is_graph_file(&bytes) {
        Ok(Contents::Graph(
            format::from_bytes(&bytes).map_err(graph_error)?,
        ))
    } else if model_file::is_model_file(&bytes) {
        Ok(Contents::Model(model_file::model_from_bytes(
            &bytes, &name,
        )?))
    } else {
        Err(neither(name, &bytes))
    }
}

/// The error for a file that is neither a graph file nor a model file.
fn neither(path: String, bytes: &[u8]) -> LoadError {
    LoadError::Neither {
        path,
        head: bytes[..bytes.len().min(8)].to_vec(),
    }
}

/// Reads a model: an ONNX file (`.onnx`) or the project's safetensors model file. A graph
/// file is refused with a hint (it is `tdsnn convert`'s output, not a model).
///
/// # Errors
/// As [`read_contents`]; [`LoadError::GraphNotModel`] for a graph file.
pub fn load_model(path: &Path) -> Result<Model, LoadError> {
    match read_contents(path)? {
        Contents::Model(model) => Ok(model),
        Contents::Graph(_) => Err(LoadError::GraphNotModel {
            path: path.display().to_string(),
        }),
    }
}

/// Reads a model as [`load_model`] does, with the other files it was read from: an ONNX
/// model's external data files (none for a model file).
///
/// # Errors
/// As [`load_model`].
pub fn load_model_and_data(path: &Path) -> Result<(Model, Vec<PathBuf>), LoadError> {
    if is_onnx(path) {
        return Ok(read_onnx_with_files(path)?);
    }
    Ok((load_model(path)?, Vec::new()))
}

/// Reads an engine graph file. A model file is refused with a hint.
///
/// # Errors
/// As [`read_contents`]; [`LoadError::ModelNotGraph`] for a model.
pub fn load_graph(path: &Path) -> Result<Graph, LoadError> {
    match read_contents(path)? {
        Contents::Graph(graph) => Ok(graph),
        Contents::Model(_) => Err(LoadError::ModelNotGraph {
            path: path.display().to_string(),
        }),
    }
}

/// The leak constant `L` to convert `model` (read from `path`; an ONNX file if its name
/// ends in `.onnx`) with: `given`, else the one it was trained for. `option` says how a
/// caller gives one (`--leak`, `leak=`).
///
/// # Errors
/// [`LoadError::NoLeak`] if neither says.
pub fn leak_of(
    given: Option<f64>,
    model: &Model,
    path: &Path,
    option: &'static str,
) -> Result<f64, LoadError> {
    given.or(model.info.leak).ok_or_else(|| LoadError::NoLeak {
        path: path.display().to_string(),
        activation: (!is_onnx(path)).then(|| model.info.activation.clone()),
        option,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_file::{write_model, ModelInfo};
    use tdsnn_converter::{convert, Dnn, DnnLayer, Shape, TilPolicy};

    fn model() -> Model {
        let dnn = Dnn::new(
            Shape::flat(2),
            vec![DnnLayer::Dense {
                outputs: 2,
                weights: vec![1.0, 0.0, 0.0, 1.0],
                bias: None,
            }],
        )
        .unwrap();
        Model {
            dnn,
            info: ModelInfo {
                activation: "relu".into(),
                leak: None,
                notes: vec![],
            },
        }
    }

    /// Each kind of file is told apart, each misuse is a typed error, and only a file the
    /// operating system could not read counts as an I/O failure.
    #[test]
    fn files_are_told_apart_and_errors_say_whose_fault() {
        let dir = std::env::temp_dir().join(format!("tdsnn-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (model_path, graph_path) = (dir.join("m"), dir.join("g"));
        let model = model();
        write_model(&model, &model_path).unwrap();
        let graph = convert(&model.dnn, 5.0, TilPolicy::Dynamic).unwrap();
        format::write(&graph, &graph_path).unwrap();

        assert_eq!(load_model(&model_path).unwrap(), model);
        assert_eq!(load_graph(&graph_path).unwrap(), graph);
        let e = load_model(&graph_path).unwrap_err();
        assert!(
            matches!(e, LoadError::GraphNotModel { .. }) && !e.is_io(),
            "{e}"
        );
        let e = load_graph(&model_path).unwrap_err();
        assert!(
            matches!(e, LoadError::ModelNotGraph { .. }) && !e.is_io(),
            "{e}"
        );
        let missing = dir.join("missing");
        assert!(load_model(&missing).unwrap_err().is_io());
        assert!(load_model(&dir.join("missing.onnx")).unwrap_err().is_io());
        let garbage = dir.join("garbage");
        std::fs::write(&garbage, b"\x00\x01 neither").unwrap();
        let e = load_model(&garbage).unwrap_err();
        assert!(matches!(e, LoadError::Neither { .. }) && !e.is_io(), "{e}");
        // A ReLU model names no leak constant: one must be given.
        let e = leak_of(None, &model, &model_path, "leak=").unwrap_err();
        assert!(e.to_string().ends_with("(relu model): give leak="), "{e}");
        let e = leak_of(None, &model, &dir.join("m.onnx"), "--leak").unwrap_err();
        assert!(
            e.to_string()
                .ends_with("(ONNX files carry no L): give --leak"),
            "{e}"
        );
        assert_eq!(
            leak_of(Some(3.0), &model, &model_path, "leak=").unwrap(),
            3.0
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
