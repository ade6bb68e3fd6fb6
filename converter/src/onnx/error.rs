//! Why an ONNX file cannot be imported. Every error names the file; node errors name the
//! node (its name, or `#index` when it has none) and its operator.

use std::fmt;

use crate::error::ModelError;

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
    /// The file cannot be read.
    #[error(transparent)]
    Io(std::io::Error),
    /// The bytes are not a protobuf `ModelProto` (a truncated file ends up here).
    #[error("not an ONNX model (protobuf decoding failed): {0}")]
    Decode(String),
    /// The model holds no graph.
    #[error("the model holds no graph")]
    NoGraph,
    /// The model does not import the default operator set, or a version outside the
    /// supported range.
    #[error("{0}")]
    Opset(String),
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
    /// A constant tensor cannot be decoded: unsupported element type, data that do not match
    /// its shape, or data stored in an external file.
    #[error("tensor `{tensor}`: {what}")]
    Tensor {
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        what: String,
    },
    /// A constant tensor keeps its data in an external file, which is not supported.
    #[error(
        "tensor `{tensor}` keeps its data in an external file; export with the weights \
         inside the model (models under 2 GB)"
    )]
    ExternalData {
        /// The tensor's name.
        tensor: String,
    },
    /// The imported layers do not form a valid network.
    #[error(transparent)]
    Model(#[from] ModelError),
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

fn list(nodes: &[NodeRef]) -> String {
    nodes
        .iter()
        .map(NodeRef::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
