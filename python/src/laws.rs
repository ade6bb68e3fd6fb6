//! The coding laws, vectorised over numpy arrays: the engine's own functions, value by
//! value, so a Python reference built on them is bit-identical to the engine.

use numpy::{Element, IntoPyArray};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tdsnn_engine::coding;

use crate::{arrays, errors};

/// `leak` if the engine accepts it as a leak constant `L`.
pub fn leak_constant(leak: f64) -> PyResult<f64> {
    tdsnn_engine::graph::check_leak(leak).map_err(errors::engine)?;
    Ok(leak)
}

/// `array` itself, or its one value (a numpy scalar) if it has no dimensions: a scalar in,
/// a scalar out.
fn scalar_if_0d(array: Bound<'_, PyAny>) -> PyResult<Bound<'_, PyAny>> {
    let ndim: usize = array.getattr("ndim")?.extract()?;
    if ndim == 0 {
        array.get_item(PyTuple::empty(array.py()))
    } else {
        Ok(array)
    }
}

/// `law(x, L)` for every value of `x` (any array-like of numbers, read as float64): an array
/// of its shape, or a scalar for a scalar.
fn elementwise<'py, T: Element>(
    x: &Bound<'py, PyAny>,
    leak: f64,
    law: impl Fn(f64, f64) -> T,
) -> PyResult<Bound<'py, PyAny>> {
    let leak = leak_constant(leak)?;
    let x = arrays::float64(x)?;
    let y = x.as_array().mapv(|v| law(v, leak));
    scalar_if_0d(y.into_pyarray(x.py()).into_any())
}

/// The spike time `T(x) = ceil(L ln(x + 1))` of equation (10), in steps after the frame
/// origin; 0 for `x <= 0` (and NaN); saturating at 2**32 - 1. `x` is any array-like of
/// numbers (read as float64); the result is a uint32 array of its shape (a scalar for a
/// scalar), bit for bit the engine's.
#[pyfunction]
pub fn spike_time<'py>(x: Bound<'py, PyAny>, leak: f64) -> PyResult<Bound<'py, PyAny>> {
    elementwise(&x, leak, coding::spike_time)
}

/// The retraining activation `G(x) = exp(T(x) / L)` of equation (11); 1 for `x <= 0`. `x` is
/// any array-like of numbers (read as float64); the result is a float64 array of its shape
/// (a scalar for a scalar), bit for bit the engine's.
#[pyfunction]
pub fn g<'py>(x: Bound<'py, PyAny>, leak: f64) -> PyResult<Bound<'py, PyAny>> {
    elementwise(&x, leak, coding::g)
}

/// The ticking neuron's weight `w_tick = (1 - exp(-1/L)) exp(-T_il/L)` of equation (9), for
/// inhibition times `t_il` (any array-like of non-negative integers below 2**32); a float64
/// array of its shape (a scalar for a scalar), bit for bit the engine's.
#[pyfunction]
pub fn w_tick<'py>(
    py: Python<'py>,
    t_il: Bound<'py, PyAny>,
    leak: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let leak = leak_constant(leak)?;
    let t_il = arrays::integers(&t_il, "t_il")?;
    let t = t_il.as_array();
    if let Some((i, &bad)) = t
        .iter()
        .enumerate()
        .find(|(_, &v)| u32::try_from(v).is_err())
    {
        return Err(errors::input(format!(
            "t_il (flat index {i}) = {bad} is not an inhibition time in 0..2**32"
        )));
    }
    scalar_if_0d(
        t.mapv(|v| coding::tick_weight(v as u32, leak))
            .into_pyarray(py)
            .into_any(),
    )
}
