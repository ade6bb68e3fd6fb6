//! The package's exceptions, and the Rust errors they carry: each one's message is the Rust
//! error's, which names the file, the layer or the byte offset.

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use tdsnn_converter::{ConvertError, ModelError};
use tdsnn_evaluate::EvalError;
use tdsnn_io::idx::IdxError;
use tdsnn_io::load::LoadError;

create_exception!(
    tdsnn,
    FileError,
    PyOSError,
    "A file could not be opened, read or written (it is missing, a directory, unreadable)."
);
create_exception!(
    tdsnn,
    FormatError,
    PyValueError,
    "A file was read and is not what it must be: the message names the file and the layer, \
     node or byte offset."
);
create_exception!(
    tdsnn,
    NetworkError,
    PyValueError,
    "A network that cannot be built or converted: the message names the layer."
);
create_exception!(
    tdsnn,
    InputError,
    PyValueError,
    "Images, labels or arguments that do not fit the network: the message says which value \
     and where."
);
create_exception!(
    tdsnn,
    SimulationError,
    PyValueError,
    "The engine refused an image (a spike later than a fixed T_il, a clock overflow): the \
     message names the image and the layer."
);

/// Adds the exceptions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FileError", py.get_type::<FileError>())?;
    m.add("FormatError", py.get_type::<FormatError>())?;
    m.add("NetworkError", py.get_type::<NetworkError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("SimulationError", py.get_type::<SimulationError>())?;
    Ok(())
}

/// A file that could not be read ([`FileError`]) or was read and refused ([`FormatError`]).
pub fn load(e: LoadError) -> PyErr {
    if e.is_io() {
        FileError::new_err(e.to_string())
    } else {
        FormatError::new_err(e.to_string())
    }
}

/// An IDX data set that could not be read ([`FileError`]) or was read and refused
/// ([`FormatError`]).
pub fn idx(e: IdxError) -> PyErr {
    if e.is_io() {
        FileError::new_err(e.to_string())
    } else {
        FormatError::new_err(e.to_string())
    }
}

/// A network that cannot be built or converted.
pub fn model(e: ModelError) -> PyErr {
    NetworkError::new_err(e.to_string())
}

/// A network that cannot be converted.
pub fn convert(e: ConvertError) -> PyErr {
    NetworkError::new_err(e.to_string())
}

/// An engine error outside a simulation (a leak constant, a graph file written).
pub fn engine(e: tdsnn_engine::Error) -> PyErr {
    match e.kind() {
        tdsnn_engine::ErrorKind::Io { .. } => FileError::new_err(e.to_string()),
        _ => InputError::new_err(e.to_string()),
    }
}

/// The engine refused an image.
pub fn simulation(e: tdsnn_engine::Error) -> PyErr {
    SimulationError::new_err(e.to_string())
}

/// An evaluation that failed: images that do not fit ([`InputError`]) or an image the
/// engine refused ([`SimulationError`]).
pub fn eval(e: EvalError) -> PyErr {
    match e {
        EvalError::Image { .. } => SimulationError::new_err(e.to_string()),
        _ => InputError::new_err(e.to_string()),
    }
}

/// An argument that is not one of those accepted.
pub fn input(message: impl Into<String>) -> PyErr {
    InputError::new_err(message.into())
}
