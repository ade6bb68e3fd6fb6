//! Per-operator mapping of the chain's nodes onto [`DnnLayer`]s, tracking the data tensor's
//! shape: rank 4 `(N, C, H, W)` or rank 2 `(N, F)`, the batch axis free.
//!
//! `BatchNormalization` is folded into the conv or dense layer right before it (in f64,
//! rounded to f32 once): with `s = scale / sqrt(var + epsilon)`, `W'[o] = s[o] W[o]` and
//! `b'[o] = s[o] (b[o] - mean[o]) + B[o]`. `Add` of a constant right after `MatMul` or `Gemm`
//! becomes the dense layer's bias. `Dropout` and `Identity` are dropped.

use tdsnn_engine::{Shape, Window};

use super::error::{NodeRef, OnnxErrorKind};
use super::graph::{float_attr, int_attr, ints_attr, string_attr, TensorProtoRef};
use super::proto::{NodeProto, TensorProto};
use super::tensor::{floats, ints};
use crate::convert::transpose_scaled;
use crate::model::{out_shape, DnnLayer};

/// The layers built so far and the current data shape.
#[derive(Debug)]
pub(crate) struct Builder {
    /// The layers.
    pub layers: Vec<DnnLayer>,
    /// The data tensor's shape without the batch axis.
    pub shape: Shape,
    /// Whether the data tensor has rank 2 (`(N, F)`) rather than 4.
    flat: bool,
    /// Whether the last mapped node produced the last conv or dense layer's output as is
    /// (a BatchNormalization or a bias Add may fold into it).
    foldable: bool,
}

/// A node with what errors need to name it.
pub(crate) struct Node<'a> {
    /// Its name and operator.
    pub name: NodeRef,
    /// The node.
    pub proto: &'a NodeProto,
}

/// Looks up a constant by name.
pub(crate) type Constants<'c> = dyn Fn(&str) -> Option<&'c TensorProtoRef<'c>> + 'c;

impl Builder {
    /// A builder for a data input of `shape` (rank 2 if `flat`).
    pub fn new(shape: Shape, flat: bool) -> Builder {
        Builder {
            layers: Vec::new(),
            shape,
            flat,
            foldable: false,
        }
    }

    /// Maps one node.
    pub fn apply(
        &mut self,
        node: &Node<'_>,
        constants: &Constants<'_>,
    ) -> Result<(), OnnxErrorKind> {
        let fail = |what: String| OnnxErrorKind::Node {
            node: node.name.clone(),
            what,
        };
        let n = node.proto;
        let constant = |i: usize, what: &str| -> Result<Option<&TensorProto>, OnnxErrorKind> {
            match n.input.get(i).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(name) => constants(name)
                    .map(|t| Some(t.get()))
                    .ok_or_else(|| fail(format!("input {i} ({what}) `{name}` must be a constant"))),
            }
        };
        let required = |i: usize, what: &str| -> Result<&TensorProto, OnnxErrorKind> {
            constant(i, what)?.ok_or_else(|| fail(format!("input {i} ({what}) is missing")))
        };
        let rank = |want_flat: bool| -> Result<(), OnnxErrorKind> {
            if self.flat != want_flat {
                return Err(fail(format!(
                    "needs a rank-{} input, the data here has rank {} (shape {})",
                    if want_flat { 2 } else { 4 },
                    if self.flat { 2 } else { 4 },
                    self.shape
                )));
            }
            Ok(())
        };
        match n.op_type.as_str() {
            "Conv" => {
                rank(false)?;
                let w = required(1, "weights")?;
                let [co, ci, kh, kw] = dims4(w).ok_or_else(|| {
                    fail(format!("weights must have 4 dimensions, not {:?}", w.dims))
                })?;
                if ci != self.shape.c {
                    return Err(fail(format!(
                        "weights {:?} expect {ci} input channels, the data has {}",
                        w.dims, self.shape.c
                    )));
                }
                if int_attr(n, "group", 1).map_err(fail)? != 1 {
                    return Err(fail(
                        "grouped convolution (group != 1) is not supported".into(),
                    ));
                }
                if let Some(k) = ints_attr(n, "kernel_shape").map_err(fail)? {
                    if k != [i64::from(kh), i64::from(kw)] {
                        return Err(fail(format!(
                            "kernel_shape {k:?} does not match the weights {:?}",
                            w.dims
                        )));
                    }
                }
                let window = window(n, [kh, kw]).map_err(fail)?;
                let bias = constant(2, "bias")?.map(floats).transpose()?;
                self.push(
                    node,
                    DnnLayer::Conv2d {
                        out_channels: co,
                        window,
                        weights: floats(w)?,
                        bias,
                    },
                    true,
                )
            }
            "Gemm" | "MatMul" => {
                rank(true)?;
                let gemm = n.op_type == "Gemm";
                if gemm && int_attr(n, "transA", 0).map_err(fail)? != 0 {
                    return Err(fail("transA = 1 is not supported".into()));
                }
                let b = required(1, "weights")?;
                let [rows, cols] = b.dims[..] else {
                    return Err(fail(format!(
                        "weights must have 2 dimensions, not {:?}",
                        b.dims
                    )));
                };
                let trans_b = gemm && int_attr(n, "transB", 0).map_err(fail)? != 0;
                // PyTorch's layout is [out][in]: B^T when transB = 0.
                let (outputs, inputs) = if trans_b { (rows, cols) } else { (cols, rows) };
                if u64::try_from(inputs).ok() != Some(self.shape.len()) {
                    return Err(fail(format!(
                        "weights {:?} (transB = {}) take {inputs} inputs, the data has {}",
                        b.dims,
                        u8::from(trans_b),
                        self.shape.len()
                    )));
                }
                let outputs = u32::try_from(outputs)
                    .map_err(|_| fail(format!("invalid weight dimensions {:?}", b.dims)))?;
                let values = floats(b)?;
                let alpha = if gemm {
                    f64::from(float_attr(n, "alpha", 1.0).map_err(fail)?)
                } else {
                    1.0
                };
                // PyTorch's `[out][in]`: B as given with transB = 1, else its transpose. Alpha
                // is an f32, so each f32 product is the f64 one rounded once.
                let weights = if trans_b {
                    values
                        .iter()
                        .map(|&v| (alpha * f64::from(v)) as f32)
                        .collect()
                } else {
                    let inputs = (values.len() / outputs.max(1) as usize) as u32;
                    transpose_scaled(&values, inputs, alpha)
                };
                let bias = match constant(2, "bias")?.filter(|_| gemm) {
                    None => None,
                    Some(c) => {
                        let beta = f64::from(float_attr(n, "beta", 1.0).map_err(fail)?);
                        let c = broadcast(c, outputs).map_err(fail)?;
                        Some(c.iter().map(|&v| (beta * f64::from(v)) as f32).collect())
                    }
                };
                self.push(
                    node,
                    DnnLayer::Dense {
                        outputs,
                        weights,
                        bias,
                    },
                    true,
                )
            }
            "Add" => {
                let data = n.input.iter().position(|s| constants(s).is_none());
                let c = match data {
                    Some(0) => required(1, "addend")?,
                    Some(_) => required(0, "addend")?,
                    None => return Err(fail("adds two constants".into())),
                };
                let last = self.layers.last_mut();
                let Some(DnnLayer::Dense { outputs, bias, .. }) = last.filter(|_| self.foldable)
                else {
                    return Err(fail(
                        "only a constant bias right after MatMul or Gemm is supported".into(),
                    ));
                };
                let add = broadcast(c, *outputs).map_err(fail)?;
                let old = bias.take().unwrap_or_else(|| vec![0.0; add.len()]);
                *bias = Some(old.iter().zip(&add).map(|(a, b)| a + b).collect());
                Ok(())
            }
            "BatchNormalization" => {
                if int_attr(n, "training_mode", 0).map_err(fail)? != 0 {
                    return Err(fail("training_mode = 1 is not supported".into()));
                }
                let epsilon = f64::from(float_attr(n, "epsilon", 1e-5).map_err(fail)?);
                let [scale, shift, mean, var] = [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")]
                    .map(|(i, what)| required(i, what).and_then(floats));
                let (scale, shift, mean, var) = (scale?, shift?, mean?, var?);
                let foldable = self.foldable;
                let Some((count, weights, bias)) = self
                    .layers
                    .last_mut()
                    .filter(|_| foldable)
                    .and_then(DnnLayer::parameters_mut)
                else {
                    return Err(fail(
                        "BatchNormalization must directly follow a Conv, Gemm or MatMul to be \
                         folded into it"
                            .into(),
                    ));
                };
                let count = count as usize;
                if [&scale, &shift, &mean, &var]
                    .iter()
                    .any(|v| v.len() != count)
                {
                    return Err(fail(format!(
                        "scale, B, mean and var must hold {count} values (one per channel)"
                    )));
                }
                let row = weights.len() / count.max(1);
                let old_bias = bias.take().unwrap_or_else(|| vec![0.0; count]);
                let mut new_bias = Vec::with_capacity(count);
                for o in 0..count {
                    let s = f64::from(scale[o]) / (f64::from(var[o]) + epsilon).sqrt();
                    for w in &mut weights[o * row..(o + 1) * row] {
                        *w = (s * f64::from(*w)) as f32;
                    }
                    let b = s * (f64::from(old_bias[o]) - f64::from(mean[o])) + f64::from(shift[o]);
                    new_bias.push(b as f32);
                }
                *bias = Some(new_bias);
                Ok(())
            }
            "Relu" => self.push(node, DnnLayer::Relu, false),
            "MaxPool" | "AveragePool" => {
                rank(false)?;
                if int_attr(n, "ceil_mode", 0).map_err(fail)? != 0 {
                    return Err(fail("ceil_mode = 1 is not supported".into()));
                }
                let kernel = ints_attr(n, "kernel_shape")
                    .map_err(fail)?
                    .and_then(|k| match k {
                        [h, w] => Some([u32::try_from(*h).ok()?, u32::try_from(*w).ok()?]),
                        _ => None,
                    })
                    .ok_or_else(|| fail("kernel_shape must hold 2 positive extents".into()))?;
                let window = window(n, kernel).map_err(fail)?;
                let layer = if n.op_type == "MaxPool" {
                    DnnLayer::MaxPool { window }
                } else {
                    let padded = window.padding != [0, 0];
                    if padded && int_attr(n, "count_include_pad", 0).map_err(fail)? == 0 {
                        return Err(fail(
                            "padded average pooling must count the padding \
                             (count_include_pad = 1, PyTorch's default)"
                                .into(),
                        ));
                    }
                    DnnLayer::AvgPool { window }
                };
                self.push(node, layer, false)
            }
            "Flatten" => {
                let axis = int_attr(n, "axis", 1).map_err(fail)?;
                let rank_now = if self.flat { 2 } else { 4 };
                if axis != 1 && axis != 1 - rank_now {
                    return Err(fail(format!(
                        "only axis 1 (keep the batch axis) is supported, not {axis}"
                    )));
                }
                self.flatten(node)
            }
            "Reshape" => {
                let target = ints(required(1, "shape")?)?;
                let features = i64::try_from(self.shape.len()).unwrap_or(i64::MAX);
                let allowzero = int_attr(n, "allowzero", 0).map_err(fail)? != 0;
                // (batch, features): the batch extent as exported, 0 (copy, unless
                // allowzero) or -1 (inferred, then the features must be given).
                let ok = match target[..] {
                    [batch, f] => {
                        let batch_ok = batch > 0 || batch == 0 && !allowzero || batch == -1;
                        batch_ok && (f == features || f == -1 && batch != -1)
                    }
                    _ => false,
                };
                if !ok {
                    return Err(fail(format!(
                        "only a reshape to (batch, {features}) is supported, not {target:?}"
                    )));
                }
                self.flatten(node)
            }
            "Dropout" | "Identity" => Ok(()),
            other => Err(fail(format!("operator {other} is not supported"))),
        }
    }

    /// Flattens the data to rank 2 (nothing to do if it is already).
    fn flatten(&mut self, node: &Node<'_>) -> Result<(), OnnxErrorKind> {
        if self.flat {
            return Ok(());
        }
        self.flat = true;
        self.push(node, DnnLayer::Flatten, false)
    }

    fn push(
        &mut self,
        node: &Node<'_>,
        layer: DnnLayer,
        foldable: bool,
    ) -> Result<(), OnnxErrorKind> {
        self.shape =
            out_shape(self.layers.len(), &layer, self.shape).map_err(|e| OnnxErrorKind::Node {
                node: node.name.clone(),
                what: e.to_string(),
            })?;
        self.layers.push(layer);
        self.foldable = foldable;
        Ok(())
    }
}

/// The four dimensions of a conv weight tensor, each a positive `u32`.
fn dims4(t: &TensorProto) -> Option<[u32; 4]> {
    let [a, b, c, d] = t.dims[..] else {
        return None;
    };
    let u = |v: i64| u32::try_from(v).ok().filter(|&v| v > 0);
    Some([u(a)?, u(b)?, u(c)?, u(d)?])
}

/// `values` of a bias-like constant: `n` values (shape `[n]` or `[1, n]`), or one broadcast.
fn broadcast(t: &TensorProto, n: u32) -> Result<Vec<f32>, String> {
    let v = floats(t).map_err(|e| e.to_string())?;
    match v.len() {
        1 => Ok(vec![v[0]; n as usize]),
        len if len == n as usize => Ok(v),
        len => Err(format!(
            "constant `{}` holds {len} values, expected {n} (or 1)",
            t.name
        )),
    }
}

/// The window of a conv or pool node: `strides` (default 1), symmetric `pads` (default 0),
/// `dilations` all 1, `auto_pad` unset or `VALID`.
fn window(n: &NodeProto, kernel: [u32; 2]) -> Result<Window, String> {
    let pair = |name: &str, v: &[i64]| -> Result<[u32; 2], String> {
        match v {
            [a, b] => match (u32::try_from(*a), u32::try_from(*b)) {
                (Ok(a), Ok(b)) => Ok([a, b]),
                _ => Err(format!("`{name}` {v:?} must be non-negative")),
            },
            _ => Err(format!("`{name}` {v:?} must hold 2 values (2-D only)")),
        }
    };
    let stride = match ints_attr(n, "strides")? {
        Some(s) => pair("strides", s)?,
        None => [1, 1],
    };
    let padding = match ints_attr(n, "pads")? {
        None => [0, 0],
        Some(p @ [top, left, bottom, right]) => {
            if top != bottom || left != right {
                return Err(format!(
                    "asymmetric pads {p:?} (top, left, bottom, right) are not supported"
                ));
            }
            pair("pads", &[*top, *left])?
        }
        Some(p) => return Err(format!("`pads` {p:?} must hold 4 values (2-D only)")),
    };
    if let Some(d) = ints_attr(n, "dilations")? {
        if d.iter().any(|&v| v != 1) {
            return Err(format!("dilations {d:?} are not supported (only 1)"));
        }
    }
    match string_attr(n, "auto_pad")?.as_deref() {
        None | Some("NOTSET") => {}
        Some("VALID") if padding == [0, 0] => {}
        Some(other) => {
            return Err(format!(
                "auto_pad {other} is not supported (give explicit pads)"
            ))
        }
    }
    Ok(Window {
        kernel,
        stride,
        padding,
    })
}
