//! # tdsnn-python
//!
//! The native part of the `tdsnn` Python package (`tdsnn._native`): networks loaded from
//! model, ONNX and graph files or built from numpy weights, run on numpy images with the GIL
//! released, every array the command-line tool dumps returned as numpy arrays over the
//! buffers the engine filled, and the coding laws vectorised. The Python package
//! (`python/tdsnn`) re-exports it and adds the PyTorch bridge.
//!
//! Built by maturin (`pip install ./python`); tested from Python (`python/tests`).

// Every public item is documented; CI builds with -D warnings.
#![deny(missing_docs)]

mod arrays;
mod builder;
mod errors;
mod laws;
mod network;

use pyo3::prelude::*;

// The arrays handed to numpy are freed by this allocator when numpy drops them; mimalloc
// keeps those pages for the next run instead of returning them to the system, so a loop of
// runs does not fault in fresh zeroed memory for every array.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The native module: what `tdsnn` re-exports.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<network::Network>()?;
    m.add_class::<network::RunResult>()?;
    m.add_class::<builder::Builder>()?;
    m.add_function(wrap_pyfunction!(network::load, m)?)?;
    m.add_function(wrap_pyfunction!(network::load_graph, m)?)?;
    m.add_function(wrap_pyfunction!(network::load_onnx_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(arrays::load_idx, m)?)?;
    m.add_function(wrap_pyfunction!(laws::spike_time, m)?)?;
    m.add_function(wrap_pyfunction!(laws::g, m)?)?;
    m.add_function(wrap_pyfunction!(laws::w_tick, m)?)?;
    Ok(())
}
