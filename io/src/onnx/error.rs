//! Why an ONNX file cannot be imported. Every error names the file; node errors name the
//! node (its name, or `#index` when it has none) and its operator.

use std::fmt;

use tdsnn_converter::ModelError;

use crate::input::InputErrorKind;

/// One node of the ONNX graph, as errors name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeRef {
    /// The node's name, or `#index` (its position in the graph) when it has none.
    pub name: String,
    /// Its operator (`Conv`, `Gemm`, ...), with the domain when not the default one.
    pub op_type: String,
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node `{}` ({})", self.name, self.op_type)
    }
}

/// What is wrong with an ONNX file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxErrorKind {
    /// The file cannot be read, or is too large to be an ONNX model.
    #[error("{0}")]
    Read(InputErrorKind),
    /// The file is empty (0 bytes): not an ONNX model.
    #[error("the file is empty (0 bytes), not an ONNX model")]
    Empty,
    /// The bytes are not a protobuf `ModelProto` (a truncated file ends up here).
    #[error("not an ONNX model (protobuf decoding failed): {0}")]
    Decode(String),
    /// The model holds no graph.
    #[error("the model holds no graph")]
    NoGraph,
    /// The model imports no operator set of the default domain (`""` or `ai.onnx`); the
    /// domains it does import are listed (none at all is typical of bytes that are not an
    /// ONNX model but happen to decode as one).
    #[error("{}", no_default_opset(domains))]
    NoDefaultOpset {
        /// The operator set domains the model imports, in file order.
        domains: Vec<String>,
    },
    /// The default operator set's version is outside [`OPSETS`](super::OPSETS).
    #[error(
        "operator set version {version} is outside the supported {}..={}",
        super::OPSETS.start(),
        super::OPSETS.end()
    )]
    Opset {
        /// The version the model imports.
        version: i64,
    },
    /// Nodes whose operator (or operator domain) the importer does not support; every one
    /// of them is listed.
    #[error("{} unsupported node(s): {}", nodes.len(), list(nodes))]
    Unsupported {
        /// Every unsupported node, in graph order.
        nodes: Vec<NodeRef>,
    },
    /// A node reads a tensor that no node, initializer or graph input provides.
    #[error(
        "{node}: input `{input}` is produced by nothing (no node, initializer or graph input)"
    )]
    Dangling {
        /// The node.
        node: NodeRef,
        /// The missing tensor.
        input: String,
    },
    /// The graph has a cycle through this node.
    #[error("{node}: the graph has a cycle through this node")]
    Cycle {
        /// A node on the cycle.
        node: NodeRef,
    },
    /// The graph is not a chain of layers the engine can run: a branch, a join, extra inputs
    /// or outputs.
    #[error("not a chain of layers: {0}")]
    NotAChain(String),
    /// A node's attribute or constant input has a value the importer does not support.
    #[error("{node}: {what}")]
    Node {
        /// The node.
        node: NodeRef,
        /// What is wrong.
        what: String,
    },
    /// A constant tensor cannot be decoded: unsupported element type, or data that do not
    /// match its shape.
    #[error("tensor `{tensor}`: {what}")]
    Tensor {
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        what: String,
    },
    /// A constant tensor keeps its data in an external file that cannot be used: see
    /// [`ExternalDataProblem`] for each case.
    #[error("tensor `{tensor}` (external data{}): {problem}", in_file(location))]
    ExternalData {
        /// The tensor's name.
        tensor: String,
        /// The file, as the tensor's `location` gives it (relative to the model's directory).
        location: String,
        /// What is wrong.
        problem: ExternalDataProblem,
    },
    /// The imported layers do not form a valid network.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Why a tensor's external data cannot be read ([`OnnxErrorKind::ExternalData`]).
///
/// The `external_data` entries of a tensor are `location` (a path relative to the model's
/// directory), `offset` (default 0) and `length` (default: the tensor's size in bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExternalDataProblem {
    /// The model was given as bytes, with nothing to find its data files in.
    #[error(
        "the model was given as bytes, with no directory to find the file in: read it from \
         its path (`read_onnx`), or supply the file (`import_onnx_with_data`)"
    )]
    NoDirectory,
    /// The tensor's `external_data` has no `location` (or an empty one).
    #[error("its `external_data` gives no `location`")]
    NoLocation,
    /// `location` is an absolute path; the ONNX specification requires one relative to the
    /// model's directory.
    #[error("the location is an absolute path; it must be relative to the model's directory")]
    Absolute,
    /// `location` has a `..` component: it would leave the model's directory.
    #[error("the location has a `..` component, which would leave the model's directory")]
    Escapes,
    /// An `offset` or `length` entry that is not a byte count.
    #[error("`{key}` = `{value}` is not a byte count")]
    BadNumber {
        /// The entry's key.
        key: String,
        /// Its value, as given.
        value: String,
    },
    /// The tensor lists `external_data` entries but its `data_location` is not `EXTERNAL`,
    /// or it is `EXTERNAL` and also holds inline data.
    #[error("{0}")]
    Conflict(&'static str),
    /// `length` differs from the size the tensor's dimensions and element type give.
    #[error("`length` = {length} bytes, but its dimensions need {expected}")]
    Length {
        /// The `length` entry.
        length: u64,
        /// The tensor's size in bytes.
        expected: u64,
    },
    /// No such file beside the model (or, in memory, none supplied under that location).
    #[error("the file does not exist")]
    Missing,
    /// The file is not a regular file (a directory, a device or a pipe).
    #[error("not a regular file (a directory, a device or a pipe)")]
    NotAFile,
    /// The tensor's bytes lie past the end of the file.
    #[error(
        "`offset` = {offset} with `length` = {length} lies past the end of the file \
         ({size} bytes)"
    )]
    PastEnd {
        /// Where the tensor starts.
        offset: u64,
        /// Its length in bytes.
        length: u64,
        /// The file's size.
        size: u64,
    },
    /// The tensors with external data claim more bytes together than their files hold
    /// (they overlap): refused, so that a small file cannot make the importer allocate many
    /// times its size.
    #[error(
        "the tensors with external data claim {claimed} bytes together, more than the \
         {available} bytes of their files (overlapping tensors)"
    )]
    Overlap {
        /// The bytes claimed up to and including this tensor.
        claimed: u64,
        /// The total size of the data files.
        available: u64,
    },
    /// The file cannot be read.
    #[error("{message}")]
    Io {
        /// The operating system's error kind.
        kind: std::io::ErrorKind,
        /// Its message.
        message: String,
    },
}

/// An ONNX file that cannot be imported: the file, and what is wrong (boxed, so that a
/// `Result` stays small).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct OnnxError {
    path: String,
    kind: Box<OnnxErrorKind>,
}

impl OnnxError {
    /// An error about the file `path`.
    pub fn new(path: impl Into<String>, kind: OnnxErrorKind) -> OnnxError {
        OnnxError {
            path: path.into(),
            kind: Box::new(kind),
        }
    }

    /// The file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    pub fn kind(&self) -> &OnnxErrorKind {
        &self.kind
    }

    /// What is wrong, taken out of the error.
    pub fn into_kind(self) -> OnnxErrorKind {
        *self.kind
    }
}

fn in_file(location: &str) -> String {
    if location.is_empty() {
        String::new()
    } else {
        format!(" in `{location}`")
    }
}

fn no_default_opset(domains: &[String]) -> String {
    if domains.is_empty() {
        return "the model imports no operator set at all (is it an ONNX model?)".into();
    }
    let quoted: Vec<String> = domains.iter().map(|d| format!("`{d}`")).collect();
    format!(
        "the model imports no default-domain operator set (`` or `ai.onnx`), only {}",
        quoted.join(", ")
    )
}

fn list(nodes: &[NodeRef]) -> String {
    nodes
        .iter()
        .map(NodeRef::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
