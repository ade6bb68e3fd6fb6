//! Constant tensors: initializers and `Constant` node values ([`TensorProtoRef`]), looked up
//! by name ([`Constants`]); their values decoded from `raw_data` (little-endian, possibly
//! unaligned, so decoded byte by byte with `from_le_bytes`) or from the typed repeated
//! fields, checked against the tensor's dimensions before anything is allocated. External
//! data has been read into `raw_data` by then ([`external`](super::external)).

use super::error::OnnxErrorKind;
use super::proto::{attribute_type, data_type, NodeProto, TensorProto};

/// A constant tensor: borrowed from the file, or built from a `Constant` node's scalar or
/// list attribute.
#[derive(Debug)]
pub(crate) enum TensorProtoRef<'a> {
    /// An initializer or a `Constant` node's `value`.
    Borrowed(&'a TensorProto),
    /// Built from `value_float(s)` or `value_int(s)`.
    Owned(TensorProto),
}

impl TensorProtoRef<'_> {
    /// The tensor.
    pub fn get(&self) -> &TensorProto {
        match self {
            TensorProtoRef::Borrowed(t) => t,
            TensorProtoRef::Owned(t) => t,
        }
    }
}

/// Looks up a constant by name.
pub(crate) type Constants<'c> = dyn Fn(&str) -> Option<&'c TensorProtoRef<'c>> + 'c;

/// The number of elements `dims` describe (1 for a scalar); errors on a negative extent or
/// an overflow.
pub(crate) fn element_count(t: &TensorProto) -> Result<usize, OnnxErrorKind> {
    t.dims.iter().try_fold(1usize, |n, &d| {
        usize::try_from(d)
            .ok()
            .and_then(|d| n.checked_mul(d))
            .ok_or_else(|| tensor_error(t, format!("invalid dimensions {:?}", t.dims)))
    })
}

fn tensor_error(t: &TensorProto, what: String) -> OnnxErrorKind {
    OnnxErrorKind::Tensor {
        tensor: t.name.clone(),
        what,
    }
}

/// The width in bytes of one element of `data_type`, for the types the importer reads.
pub(crate) fn element_width(data_type: i32) -> Option<u64> {
    match data_type {
        data_type::FLOAT | data_type::INT32 => Some(4),
        data_type::INT64 | data_type::DOUBLE => Some(8),
        _ => None,
    }
}

/// Decodes `n` values of `WIDTH` bytes from `raw`, or takes `typed` (which must then hold
/// exactly `n` values).
fn values<T: Copy, const WIDTH: usize>(
    t: &TensorProto,
    n: usize,
    typed: &[T],
    decode: impl Fn([u8; WIDTH]) -> T,
) -> Result<Vec<T>, OnnxErrorKind> {
    if !t.raw_data.is_empty() {
        if t.raw_data.len() / WIDTH != n || !t.raw_data.len().is_multiple_of(WIDTH) {
            return Err(tensor_error(
                t,
                format!(
                    "raw_data holds {} bytes, dimensions {:?} need {}",
                    t.raw_data.len(),
                    t.dims,
                    n.saturating_mul(WIDTH)
                ),
            ));
        }
        return Ok(t
            .raw_data
            .chunks_exact(WIDTH)
            .map(|b| decode(b.try_into().expect("chunks of WIDTH bytes")))
            .collect());
    }
    if typed.len() != n {
        return Err(tensor_error(
            t,
            format!(
                "holds {} values, dimensions {:?} need {n}",
                typed.len(),
                t.dims
            ),
        ));
    }
    Ok(typed.to_vec())
}

/// The values of a `FLOAT` tensor.
pub(crate) fn floats(t: &TensorProto) -> Result<Vec<f32>, OnnxErrorKind> {
    let n = element_count(t)?;
    if t.data_type != data_type::FLOAT {
        return Err(tensor_error(
            t,
            format!("element type {} is not FLOAT (1)", t.data_type),
        ));
    }
    values(t, n, &t.float_data, f32::from_le_bytes)
}

/// The values of an `INT64` or `INT32` tensor.
pub(crate) fn ints(t: &TensorProto) -> Result<Vec<i64>, OnnxErrorKind> {
    let n = element_count(t)?;
    match t.data_type {
        data_type::INT64 => values(t, n, &t.int64_data, i64::from_le_bytes),
        data_type::INT32 => {
            let wide: Vec<i64> = t.int32_data.iter().map(|&v| i64::from(v)).collect();
            values(t, n, &wide, |b| i64::from(i32::from_le_bytes(b)))
        }
        other => Err(tensor_error(
            t,
            format!("element type {other} is not INT64 (7) or INT32 (6)"),
        )),
    }
}

/// The tensor a `Constant` node produces: its `value` attribute, or a tensor built from
/// `value_float`, `value_floats`, `value_int` or `value_ints`.
pub(crate) fn constant_node_value(node: &NodeProto) -> Result<TensorProtoRef<'_>, String> {
    let name = node.output.first().cloned().unwrap_or_default();
    let owned = |dims: Vec<i64>, data_type, float_data, int64_data| {
        TensorProtoRef::Owned(TensorProto {
            name: name.clone(),
            dims,
            data_type,
            float_data,
            int64_data,
            ..TensorProto::default()
        })
    };
    let [a] = &node.attribute[..] else {
        return Err(format!(
            "a Constant node needs exactly one attribute, it has {}",
            node.attribute.len()
        ));
    };
    match (a.name.as_str(), a.r#type) {
        ("value", attribute_type::TENSOR) => match &a.t {
            Some(t) => Ok(TensorProtoRef::Borrowed(t)),
            None => Err("attribute `value` holds no tensor".into()),
        },
        ("value_float", attribute_type::FLOAT) => {
            Ok(owned(vec![], data_type::FLOAT, vec![a.f], vec![]))
        }
        ("value_floats", attribute_type::FLOATS) => Ok(owned(
            vec![a.floats.len() as i64],
            data_type::FLOAT,
            a.floats.clone(),
            vec![],
        )),
        ("value_int", attribute_type::INT) => {
            Ok(owned(vec![], data_type::INT64, vec![], vec![a.i]))
        }
        ("value_ints", attribute_type::INTS) => Ok(owned(
            vec![a.ints.len() as i64],
            data_type::INT64,
            vec![],
            a.ints.clone(),
        )),
        (other, ty) => Err(format!(
            "Constant attribute `{other}` (type {ty}) is not supported"
        )),
    }
}
