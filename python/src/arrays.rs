//! numpy in and out: images and labels taken from any array-like, checked with the index of
//! the first value that does not fit; the dump's arrays handed to numpy without a copy.

use numpy::{
    IntoPyArray, PyArrayMethods, PyReadonlyArray4, PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyDict};
use std::path::PathBuf;
use tdsnn_engine::Shape;
use tdsnn_io::dump::{NamedArray, Values};

use tdsnn_io::idx::{load_split, Split};
use tdsnn_io::images::{Images, Inputs};

use crate::errors;

/// `obj` as a numpy array (`numpy.asarray`, no copy when it already is one).
fn as_array<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    obj.py().import("numpy")?.call_method1("asarray", (obj,))
}

/// `array` in `dtype` (itself if it is already).
fn astype<'py>(array: &Bound<'py, PyAny>, dtype: &str) -> PyResult<Bound<'py, PyAny>> {
    let copy = [("copy", false)].into_py_dict(array.py())?;
    array.call_method("astype", (dtype,), Some(&copy))
}

/// The numpy dtype's kind character (`f`, `i`, `u`, `b`, ...) and its name.
fn dtype_of(array: &Bound<'_, PyAny>) -> PyResult<(String, String)> {
    let dtype = array.getattr("dtype")?;
    Ok((
        dtype.getattr("kind")?.extract()?,
        dtype.getattr("name")?.extract()?,
    ))
}

/// A numpy index `[i, j, ...]` of flat position `flat` in C order of `shape`.
fn index_of(mut flat: usize, shape: &[usize]) -> String {
    let mut index = vec![0; shape.len()];
    for (d, &extent) in shape.iter().enumerate().rev() {
        index[d] = flat % extent.max(1);
        flat /= extent.max(1);
    }
    let parts: Vec<String> = index.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// Images for a network taking `shape`: an array-like of `(N, C, H, W)` floats in `[0, 1]`
/// (float32 as is, other floats converted to float32), copied out of Python so that the GIL
/// can be released while they are simulated; with `labels`, an array-like of N integers.
pub fn images(
    obj: &Bound<'_, PyAny>,
    labels: Option<&Bound<'_, PyAny>>,
    shape: Shape,
) -> PyResult<Images> {
    let array = as_array(obj)?;
    let (kind, name) = dtype_of(&array)?;
    let array = match kind.as_str() {
        "f" => astype(&array, "float32")?,
        "i" | "u" | "b" => {
            return Err(errors::input(format!(
                "images are {name}: give float32 values in [0, 1] (8-bit pixels: images / 255)"
            )))
        }
        _ => return Err(errors::input(format!("images are {name}, not numbers"))),
    };
    let ndim: usize = array.getattr("ndim")?.extract()?;
    let dims: Vec<usize> = array.getattr("shape")?.extract()?;
    let want = [shape.c, shape.h, shape.w].map(|d| d as usize);
    if ndim != 4 || dims[1..] != want {
        let hint = if ndim == 3 {
            " (one image? add the batch axis: images[None])"
        } else {
            ""
        };
        return Err(errors::input(format!(
            "images have shape {dims:?}; the network takes (N, {}, {}, {}){hint}",
            want[0], want[1], want[2]
        )));
    }
    let array: PyReadonlyArray4<f32> = array
        .py()
        .import("numpy")?
        .call_method1("ascontiguousarray", (array,))?
        .extract()?;
    let values = array.as_slice().map_err(|e| errors::input(e.to_string()))?;
    if let Some(flat) = values.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(errors::input(format!(
            "images{} = {:?} is outside [0, 1]",
            index_of(flat, array.shape()),
            values[flat]
        )));
    }
    let labels = labels.map(|l| self::labels(l, dims[0])).transpose()?;
    Ok(Images {
        shape,
        values: values.to_vec(),
        labels,
    })
}

/// `obj` as a float64 numpy array (converted from any array-like of numbers).
pub fn float64<'py>(obj: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArrayDyn<'py, f64>> {
    let array = as_array(obj)?;
    let (kind, name) = dtype_of(&array)?;
    if !matches!(kind.as_str(), "f" | "i" | "u" | "b") {
        return Err(errors::input(format!("values are {name}, not numbers")));
    }
    astype(&array, "float64")?.extract()
}

/// Weights or a bias: any array-like of numbers, read as float32 in C order; its shape and
/// values. `what` names it in errors.
pub fn float32(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<(Vec<usize>, Vec<f32>)> {
    let array = as_array(obj)?;
    let (kind, name) = dtype_of(&array)?;
    if !matches!(kind.as_str(), "f" | "i" | "u") {
        return Err(errors::input(format!("{what} are {name}, not numbers")));
    }
    let array: PyReadonlyArrayDyn<f32> = astype(&array, "float32")?.extract()?;
    let values = array.as_slice().map_err(|e| errors::input(e.to_string()))?;
    Ok((array.shape().to_vec(), values.to_vec()))
}

/// `obj` as an int64 numpy array: any array-like of integers; `what` names it in errors.
pub fn integers<'py>(
    obj: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, i64>> {
    let array = as_array(obj)?;
    let (kind, name) = dtype_of(&array)?;
    if !matches!(kind.as_str(), "i" | "u") {
        return Err(errors::input(format!("{what} are {name}, not integers")));
    }
    astype(&array, "int64")?.extract()
}

/// Labels: an array-like of `count` integers in `0..=255`.
fn labels(obj: &Bound<'_, PyAny>, count: usize) -> PyResult<Vec<u8>> {
    let array = integers(obj, "labels")?;
    if array.shape() != [count] {
        return Err(errors::input(format!(
            "labels have shape {:?}, expected ({count},) for {count} images",
            array.shape()
        )));
    }
    array
        .as_slice()
        .map_err(|e| errors::input(e.to_string()))?
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            u8::try_from(l)
                .map_err(|_| errors::input(format!("labels[{i}] = {l} is outside 0..=255")))
        })
        .collect()
}

/// The first `limit` images (all by default) of the `split` (`"test"` or `"train"`) of the IDX
/// data set in `directory` (MNIST's files, plain or gzip-compressed, by their usual names),
/// as `tdsnn run --data` reads them: `(images, labels)`, float32 `(N, 1, H, W)` in `[0, 1]`
/// (each byte divided by 255) and int64 `(N,)`.
#[pyfunction]
#[pyo3(signature = (directory, split="test", limit=None))]
pub fn load_idx<'py>(
    py: Python<'py>,
    directory: PathBuf,
    split: &str,
    limit: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let split = match split {
        "test" => Split::Test,
        "train" => Split::Train,
        other => {
            return Err(errors::input(format!(
                "split {other:?}: expected \"test\" or \"train\""
            )))
        }
    };
    let data = py
        .detach(|| load_split(&directory, split))
        .map_err(errors::idx)?;
    let images = Images::from_dataset(&data, limit.unwrap_or(usize::MAX));
    let n = images.count();
    let s = images.shape;
    let labels: Vec<i64> = (0..n)
        .map(|i| images.label(i).map_or(-1, |l| l as i64))
        .collect();
    let shape = [n, s.c as usize, s.h as usize, s.w as usize];
    Ok((
        images.values.into_pyarray(py).reshape(shape)?.into_any(),
        labels.into_pyarray(py).into_any(),
    ))
}

/// The arrays as a dict of numpy arrays, each over the buffer the engine filled (moved to
/// numpy, not copied), in their order.
pub fn to_dict<'py>(py: Python<'py>, arrays: Vec<NamedArray>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for array in arrays {
        let shape = array.shape;
        let value = match array.values {
            Values::F32(v) => v.into_pyarray(py).reshape(shape)?.into_any(),
            Values::U32(v) => v.into_pyarray(py).reshape(shape)?.into_any(),
            Values::I64(v) => v.into_pyarray(py).reshape(shape)?.into_any(),
            Values::F64(v) => v.into_pyarray(py).reshape(shape)?.into_any(),
        };
        dict.set_item(array.name, value)?;
    }
    Ok(dict)
}
