//! The engine's one error type.
//!
//! Every failure says what went wrong and where: the layer (by index into
//! [`Graph::layers`](crate::Graph::layers)), the neuron, or the byte offset in a graph file.
//! The error is boxed so that `Result<T, Error>` stays one pointer wide.

use std::fmt;

/// What went wrong, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The leak constant is not a finite number in `[MIN_LEAK, MAX_LEAK]`.
    #[error("leak constant L = {leak:?} must be finite and in [{min:?}, {max:?}]")]
    InvalidLeak {
        /// The rejected value.
        leak: f64,
        /// The smallest accepted value.
        min: f64,
        /// The largest accepted value.
        max: f64,
    },
    /// The firing threshold is not finite or is positive (a positive threshold may never be
    /// reached by the ticking neuron).
    #[error("firing threshold {threshold:?} must be finite and <= 0")]
    InvalidThreshold {
        /// The rejected value.
        threshold: f64,
    },
    /// An inhibition time so long that `w_tick = (1 - e^{-1/L}) e^{-T_il/L}` would leave the
    /// range of normal f64 numbers (`T_il > 600 L`): potentials would underflow to zero.
    #[error(
        "{}T_il = {t_il} exceeds {max} = 600 L: w_tick = exp(-T_il/L) would underflow f64",
        layer.map_or(String::new(), |k| format!("layer {k}: "))
    )]
    TilTooLong {
        /// The layer whose release it was, or `None` for a fixed policy.
        layer: Option<usize>,
        /// The inhibition time.
        t_il: u32,
        /// The largest accepted, `floor(600 L)`.
        max: u32,
    },
    /// A layer's geometry or payload size does not fit its input.
    #[error("layer {layer} ({kind}): {what}")]
    Shape {
        /// Index of the layer in the graph.
        layer: usize,
        /// The layer's kind, e.g. `conv2d`.
        kind: &'static str,
        /// What does not fit.
        what: String,
    },
    /// A weight or bias is NaN or infinite.
    #[error("layer {layer} ({kind}): {tensor}[{index}] = {value:?} is not finite")]
    NonFinite {
        /// Index of the layer in the graph.
        layer: usize,
        /// The layer's kind.
        kind: &'static str,
        /// Which tensor: `weights` or `bias`.
        tensor: &'static str,
        /// Element index in that tensor.
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// The layer sequence is not one the engine can run.
    #[error("graph structure: {what}")]
    Structure {
        /// What is wrong.
        what: String,
    },
    /// An input value is NaN or infinite, or the input has the wrong length.
    #[error("input: {what}")]
    Input {
        /// What is wrong.
        what: String,
    },
    /// With a fixed `T_il`, a pre-synaptic spike arrived after the layer's release.
    #[error(
        "layer {layer}: pre-synaptic spike of {origin} at t = {time} arrives after the fixed \
         release at t = {release} (T_il = {t_il}); a fixed T_il must cover every spike"
    )]
    LateSpike {
        /// Index of the receiving layer in the graph.
        layer: usize,
        /// Which neuron spiked late: `neuron N` of the previous layer, or `bias`.
        origin: String,
        /// Absolute time of the late spike.
        time: u32,
        /// Absolute release time of the receiving layer.
        release: u32,
        /// The fixed inhibition time.
        t_il: u32,
    },
    /// A spike time does not fit the `u32` clock.
    #[error("layer {layer}: spike time {time} overflows the u32 clock")]
    ClockOverflow {
        /// Index of the layer in the graph.
        layer: usize,
        /// The time that did not fit.
        time: u64,
    },
    /// A graph file is malformed at a byte offset.
    #[error("graph file, byte {offset}: {what}")]
    Format {
        /// Byte offset where the problem was found.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// A graph file's checksum does not match its contents.
    #[error("graph file: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum {
        /// The checksum stored in the file.
        stored: u32,
        /// The checksum of the bytes read.
        computed: u32,
    },
    /// An input that is not a regular file (a pipe, a device) whose graph file header
    /// declares more bytes than are read from a stream
    /// ([`format::STREAM_LIMIT`](crate::format::STREAM_LIMIT)).
    #[error(
        "{path}: not a regular file (a pipe or a device), and its header declares {declared} \
         bytes, more than the {limit} read from a stream: save it to a regular file"
    )]
    StreamTooLong {
        /// The input.
        path: String,
        /// The file length its header declares (bytes 56..64).
        declared: u64,
        /// The most bytes read from a stream.
        limit: u64,
    },
    /// The operating system refused the threads a simulator asked for.
    #[error("could not start {threads} threads to share an image's layers: {reason}")]
    ThreadPool {
        /// The threads asked for.
        threads: usize,
        /// The operating system's message.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
}

/// The engine's error: an [`ErrorKind`] in a box.
#[derive(Clone, PartialEq)]
pub struct Error(Box<ErrorKind>);

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error(Box::new(kind))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
