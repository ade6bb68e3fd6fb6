//! Per-operator mapping of the chain's nodes onto [`DnnLayer`]s, tracking the data tensor's
//! shape: rank 4 `(N, C, H, W)` or rank 2 `(N, F)`, the batch axis free.
//!
//! `BatchNormalization` is folded into the conv or dense layer right before it (in f64,
//! rounded to f32 once): with `s = scale / sqrt(var + epsilon)`, `W'[o] = s[o] W[o]` and
//! `b'[o] = s[o] (b[o] - mean[o]) + B[o]`. `Add` of a constant right after `MatMul` or `Gemm`
//! becomes the dense layer's bias. `GlobalAveragePool`, and `ReduceMean` over the two
//! spatial axes, become an average pool whose window is the whole plane. `Dropout` and
//! `Identity` are dropped.
//!
//! Attributes and constant inputs follow the operator set the model imports: `Unsqueeze`
//! and `ReduceMean` take their axes as an attribute before opsets 13 and 18 and as an input
//! from then on; `BatchNormalization` has a `spatial` attribute in opsets 7 and 8.

use std::collections::HashMap;
use tdsnn_converter::convert::transpose_scaled;

use tdsnn_converter::{DnnLayer, Projection, Source};
use tdsnn_engine::{Shape, Window};

use super::error::{NodeRef, OnnxErrorKind};
use super::graph::{float_attr, int_attr, ints_attr, string_attr};
use super::proto::{data_type, NodeProto, TensorProto};
use super::shapes::{known, Dim, Shapes};
use super::tensor::{floats, Constants};

/// The layers built so far and the current data shape.
#[derive(Debug)]
pub(crate) struct Builder {
    /// The layers.
    pub layers: Vec<DnnLayer>,
    /// Each layer's output shape.
    shapes: Vec<Shape>,
    /// The data input's shape.
    input: Shape,
    /// Whether each layer's output is a spiking tensor (one a shortcut or concat may name).
    spiking: Vec<bool>,
    /// The DNN tensor each data tensor is, by name (aliases included).
    tensors: HashMap<String, Source>,
    /// The name of the current data tensor: the last layer's output, or the input.
    current: String,
    /// Projection shortcuts built so far, by the name of their (side-branch) output.
    sides: HashMap<String, Side>,
    /// An Add (a shortcut) waiting for its Relu.
    pending_add: Option<NodeRef>,
    /// A Concat whose parts the file orders otherwise than the DNN (the current tensor
    /// first), waiting for the conv or dense layer after it.
    reorder: Option<Reorder>,
    /// The data tensor's shape without the batch axis.
    pub shape: Shape,
    /// Whether the data tensor has rank 2 (`(N, F)`) rather than 4.
    flat: bool,
    /// Whether the last mapped node produced the last conv or dense layer's output as is
    /// (a BatchNormalization or a bias Add may fold into it).
    foldable: bool,
    /// The batch extent, if the graph input fixes it.
    batch: Option<i64>,
    /// The default-domain operator set the model imports.
    opset: i64,
}

/// A node with what errors need to name it.
pub(crate) struct Node<'a> {
    /// Its name and operator.
    pub name: NodeRef,
    /// The node.
    pub proto: &'a NodeProto,
}

impl Builder {
    /// A builder for a data input `name` of `shape` (rank 2 if `flat`; its batch extent
    /// fixed to `batch`, if given) in a model importing operator set `opset`.
    pub fn new(name: &str, shape: Shape, flat: bool, batch: Option<i64>, opset: i64) -> Builder {
        Builder {
            layers: Vec::new(),
            shapes: Vec::new(),
            input: shape,
            spiking: Vec::new(),
            tensors: HashMap::from([(name.to_string(), Source::Input)]),
            current: name.to_string(),
            sides: HashMap::new(),
            pending_add: None,
            reorder: None,
            shape,
            flat,
            foldable: false,
            batch,
            opset,
        }
    }

    /// The data tensor's shape, batch axis first.
    pub fn dims(&self) -> Vec<Dim> {
        let s = self.shape;
        let extents: &[u32] = if self.flat { &[s.c] } else { &[s.c, s.h, s.w] };
        std::iter::once(Dim::Batch)
            .chain(extents.iter().map(|&e| Dim::Known(i64::from(e))))
            .collect()
    }

    /// Maps one data node (in topological order); `side` says it is a projection
    /// shortcut's conv ([`Chain::side`](super::graph::Chain::side)); `shapes` evaluates the
    /// shape-only values it reads. Returns whether the node continued the main path (so its
    /// output is the current tensor, whose shape `shapes` may need).
    pub fn apply(
        &mut self,
        node: &Node<'_>,
        constants: &Constants<'_>,
        shapes: &mut Shapes<'_>,
        side: bool,
    ) -> Result<bool, OnnxErrorKind> {
        let fail = |what: String| OnnxErrorKind::Node {
            node: node.name.clone(),
            what,
        };
        let n = node.proto;
        let op = n.op_type.as_str();
        let out = n.output.first().cloned().unwrap_or_default();
        let data: Vec<&str> = n
            .input
            .iter()
            .map(String::as_str)
            .filter(|s| self.tensors.contains_key(*s) || self.sides.contains_key(*s))
            .collect();
        if let Some(add) = &self.pending_add {
            if op != "Relu" && !(op == "Add" && data.len() == 2) && !side {
                return Err(unrelued(add));
            }
        }
        if side {
            self.side_conv(node, constants)?;
            return Ok(false);
        }
        if let Some(&branch) = data.iter().find(|s| self.sides.contains_key(**s)) {
            match op {
                "BatchNormalization" | "Identity" | "Dropout" => {
                    self.apply_main(node, constants, shapes)?;
                    let projection = self.sides.remove(branch).expect("a side branch");
                    self.sides.insert(out, projection);
                    return Ok(false);
                }
                "Add" => {}
                _ => {
                    return Err(fail(format!(
                        "reads `{branch}`, a shortcut's projection: only BatchNormalization \
                         may stand between its Conv and its Add"
                    )))
                }
            }
        }
        match op {
            "Add" if data.len() == 2 => self.join(node, &data)?,
            "Concat" => self.concat(node, &data)?,
            _ => {
                if let Some(other) = data.iter().find(|s| **s != self.current) {
                    return Err(fail(format!(
                        "reads `{other}`, not the current tensor `{}`: a branch must end in \
                         an Add (a shortcut, its projection a Conv) or a Concat",
                        self.current
                    )));
                }
                if op == "Relu" {
                    self.pending_add = None;
                }
                self.apply_main(node, constants, shapes)?;
            }
        }
        let here = match self.layers.len() {
            0 => Source::Input,
            k => Source::Layer(k - 1),
        };
        self.tensors.insert(out.clone(), here);
        self.current = out;
        Ok(true)
    }

    /// Errors if an Add waits for its Relu when the graph ends.
    pub fn finish(&self) -> Result<(), OnnxErrorKind> {
        match &self.pending_add {
            Some(add) => Err(unrelued(add)),
            None => Ok(()),
        }
    }

    /// Whether `name` is a spiking tensor (the input, a ReLU's output, a pool or flatten of
    /// one), and which.
    fn spiking_source(&self, name: &str) -> Option<Source> {
        match *self.tensors.get(name)? {
            Source::Input => Some(Source::Input),
            Source::Layer(j) => {
                let concat = matches!(self.layers[j], DnnLayer::Concat { .. });
                (self.spiking[j] && !concat).then_some(Source::Layer(j))
            }
        }
    }

    /// An Add of two data tensors: a shortcut onto the current tensor, a conv or dense
    /// layer's output (with its BatchNorm), of an earlier spiking tensor or a projection of
    /// one.
    fn join(&mut self, node: &Node<'_>, data: &[&str]) -> Result<(), OnnxErrorKind> {
        let fail = |what: String| OnnxErrorKind::Node {
            node: node.name.clone(),
            what,
        };
        let [a, b] = data[..] else {
            unreachable!("two data inputs")
        };
        let neither = || {
            fail(format!(
                "adds `{a}` and `{b}`, neither of which is an earlier spiking activation (the \
                 input, a Relu's output, or a pool of one; or a Conv of one) of the other's \
                 branch, which must end in a Conv or Gemm: not a shortcut"
            ))
        };
        let other = match (a == self.current, b == self.current) {
            (true, false) => b,
            (false, true) => a,
            _ => return Err(neither()),
        };
        if !matches!(
            self.layers.last(),
            Some(DnnLayer::Conv2d { .. } | DnnLayer::Dense { .. } | DnnLayer::Shortcut { .. })
        ) {
            return Err(neither());
        }
        let layer = if let Some(side) = self.sides.remove(other) {
            DnnLayer::Shortcut {
                from: side.from,
                projection: Some(side.projection),
            }
        } else {
            let from = self.spiking_source(other).ok_or_else(neither)?;
            DnnLayer::Shortcut {
                from,
                projection: None,
            }
        };
        self.push(node, layer, false)?;
        self.pending_add = Some(node.name.clone());
        Ok(())
    }

    /// A Concat of data tensors along channels: the current tensor first, then earlier
    /// spiking tensors.
    fn concat(&mut self, node: &Node<'_>, data: &[&str]) -> Result<(), OnnxErrorKind> {
        let fail = |what: String| OnnxErrorKind::Node {
            node: node.name.clone(),
            what,
        };
        let n = node.proto;
        let rank = if self.flat { 2 } else { 4 };
        let axis = int_attr(n, "axis", i64::MIN).map_err(fail)?;
        if axis != 1 && axis != 1 - rank {
            return Err(fail(format!(
                "concatenates along axis {}; only the channel axis (1) is supported",
                if axis == i64::MIN {
                    "(none given)".to_string()
                } else {
                    axis.to_string()
                }
            )));
        }
        if data.len() != n.input.len() {
            return Err(fail("concatenates a constant with the data".into()));
        }
        let Some(first) = data.iter().position(|s| *s == self.current) else {
            return Err(fail(format!(
                "none of its inputs is the current tensor `{}` (the one computed last); a \
                 Concat joins it and earlier activations",
                self.current
            )));
        };
        if self.spiking.last().is_some_and(|s| !s) {
            return Err(fail(format!(
                "concatenates `{}`, which is not a spiking activation (a Relu's output or a \
                 pool of one)",
                self.current
            )));
        }
        // The DNN puts the current tensor first: the layer after takes its weights in that
        // order (`reorder`), the parts' channels as the file gives them.
        let mut channels = Vec::with_capacity(data.len());
        for &part in data {
            channels.push(match self.tensors[part] {
                Source::Input => self.input.c,
                Source::Layer(j) => self.shapes[j].c,
            });
        }
        let mut order: Vec<usize> = vec![first];
        order.extend((0..data.len()).filter(|&i| i != first));
        if first != 0 {
            self.reorder = Some(Reorder { channels, order });
        }
        for &part in data
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != first)
            .map(|(_, p)| p)
        {
            let from = self.spiking_source(part).ok_or_else(|| {
                fail(format!(
                    "concatenates `{part}`, which is not an earlier spiking activation (the \
                     input, a Relu's output, or a pool of one)"
                ))
            })?;
            self.push(node, DnnLayer::Concat { from }, false)?;
        }
        Ok(())
    }

    /// A projection shortcut's Conv, off the main path: kept until its Add.
    fn side_conv(
        &mut self,
        node: &Node<'_>,
        constants: &Constants<'_>,
    ) -> Result<(), OnnxErrorKind> {
        let fail = |what: String| OnnxErrorKind::Node {
            node: node.name.clone(),
            what,
        };
        let n = node.proto;
        let name = n.input.first().map_or("", String::as_str);
        let from = self.spiking_source(name).ok_or_else(|| {
            fail(format!(
                "a shortcut's projection of `{name}`, which is not an earlier spiking \
                 activation (the input, a Relu's output, or a pool of one)"
            ))
        })?;
        let shape = match from {
            Source::Input => self.input,
            Source::Layer(j) => self.shapes[j],
        };
        let DnnLayer::Conv2d {
            out_channels,
            window,
            weights,
            bias,
        } = conv_layer(n, constants, shape, &fail)?
        else {
            unreachable!("conv_layer makes a conv")
        };
        let out = n.output.first().cloned().unwrap_or_default();
        self.sides.insert(
            out,
            Side {
                from,
                out_channels,
                projection: Projection {
                    window,
                    weights,
                    bias,
                },
            },
        );
        Ok(())
    }

    /// Maps one node of the main path.
    fn apply_main(
        &mut self,
        node: &Node<'_>,
        constants: &Constants<'_>,
        shapes: &mut Shapes<'_>,
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
        // An integer input: a constant or a shape-only value.
        let mut int_input = |i: usize, what: &str| -> Result<Option<Vec<Dim>>, OnnxErrorKind> {
            let Some(name) = n.input.get(i).filter(|s| !s.is_empty()) else {
                return Ok(None);
            };
            match shapes.ints(name, constants)? {
                Some(v) => Ok(Some(v.values)),
                None => Err(fail(format!(
                    "input {i} ({what}) `{name}` must be a constant or computed from shapes"
                ))),
            }
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
                let mut layer = conv_layer(n, constants, self.shape, &fail)?;
                if let (
                    Some(r),
                    DnnLayer::Conv2d {
                        out_channels,
                        window,
                        weights,
                        ..
                    },
                ) = (self.reorder.take(), &mut layer)
                {
                    let taps = window.kernel[0] as usize * window.kernel[1] as usize;
                    r.apply(weights, *out_channels as usize, taps);
                }
                self.push(node, layer, true)
            }
            "Gemm" | "MatMul" => {
                rank(true)?;
                let gemm = n.op_type == "Gemm";
                let trans_a = if gemm {
                    int_attr(n, "transA", 0).map_err(fail)?
                } else {
                    0
                };
                if trans_a != 0 {
                    return Err(fail(format!(
                        "attribute `transA` = {trans_a} is not supported (only 0)"
                    )));
                }
                let trans_b = if gemm {
                    int_attr(n, "transB", 0).map_err(fail)?
                } else {
                    0
                };
                if trans_b != 0 && trans_b != 1 {
                    return Err(fail(format!(
                        "attribute `transB` = {trans_b} is invalid (0 or 1)"
                    )));
                }
                let trans_b = trans_b == 1;
                let [alpha, beta] = if gemm {
                    ["alpha", "beta"].map(|a| float_attr(n, a, 1.0).map_err(fail))
                } else {
                    [Ok(1.0), Ok(1.0)]
                };
                let (alpha, beta) = (alpha?, beta?);
                for (name, v) in [("alpha", alpha), ("beta", beta)] {
                    if !v.is_finite() {
                        return Err(fail(format!("attribute `{name}` = {v:?} is not finite")));
                    }
                }
                let (alpha, beta) = (f64::from(alpha), f64::from(beta));
                let b = required(1, "weights")?;
                let [rows, cols] = b.dims[..] else {
                    return Err(fail(format!(
                        "weights must have 2 dimensions, not {:?}",
                        b.dims
                    )));
                };
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
                // PyTorch's `[out][in]`: B as given with transB = 1, else its transpose. Alpha
                // is an f32, so each f32 product is the f64 one rounded once.
                let mut weights = if trans_b {
                    values
                        .iter()
                        .map(|&v| (alpha * f64::from(v)) as f32)
                        .collect()
                } else {
                    let inputs = (values.len() / outputs.max(1) as usize) as u32;
                    transpose_scaled(&values, inputs, alpha)
                };
                if let Some(r) = self.reorder.take() {
                    let plane = self.shape.h as usize * self.shape.w as usize;
                    r.apply(&mut weights, outputs as usize, plane);
                }
                let bias = match constant(2, "bias")?.filter(|_| gemm) {
                    None => None,
                    Some(c) => {
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
                let spatial = int_attr(n, "spatial", 1).map_err(fail)?;
                if spatial != 1 {
                    return Err(fail(format!(
                        "attribute `spatial` = {spatial} is not supported (only 1: one \
                         mean and variance per channel)"
                    )));
                }
                let epsilon = float_attr(n, "epsilon", 1e-5).map_err(fail)?;
                if !(epsilon >= 0.0 && epsilon.is_finite()) {
                    return Err(fail(format!(
                        "epsilon = {epsilon:?} must be finite and non-negative"
                    )));
                }
                let (shown, epsilon) = (epsilon, f64::from(epsilon));
                let [scale, shift, mean, var] = [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")]
                    .map(|(i, what)| required(i, what).and_then(floats));
                let (scale, shift, mean, var) = (scale?, shift?, mean?, var?);
                let foldable = self.foldable;
                // Into a projection shortcut's conv, or the main path's conv or dense layer.
                let target = match n.input.first().and_then(|s| self.sides.get_mut(s)) {
                    Some(side) => Some((
                        side.out_channels,
                        &mut side.projection.weights,
                        &mut side.projection.bias,
                    )),
                    None => self
                        .layers
                        .last_mut()
                        .filter(|_| foldable)
                        .and_then(DnnLayer::parameters_mut),
                };
                let Some((count, weights, bias)) = target else {
                    return Err(fail(
                        "BatchNormalization must directly follow a Conv, Gemm or MatMul to be \
                         folded into it"
                            .into(),
                    ));
                };
                let count = count as usize;
                let named = [
                    ("scale", &scale),
                    ("B", &shift),
                    ("mean", &mean),
                    ("var", &var),
                ];
                for (what, v) in named {
                    if v.len() != count {
                        return Err(fail(format!(
                            "{what} holds {} values, expected {count} (one per channel)",
                            v.len()
                        )));
                    }
                    if let Some(o) = v.iter().position(|x| !x.is_finite()) {
                        return Err(fail(format!("{what}[{o}] = {:?} is not finite", v[o])));
                    }
                }
                // Checked before anything changes, so that an error leaves the layer as is.
                let mut factors = Vec::with_capacity(count);
                for o in 0..count {
                    let denominator = f64::from(var[o]) + epsilon;
                    if denominator <= 0.0 {
                        return Err(fail(format!(
                            "var[{o}] + epsilon = {denominator:?} (var {:?}, epsilon \
                             {shown:?}) must be positive",
                            var[o]
                        )));
                    }
                    factors.push(f64::from(scale[o]) / denominator.sqrt());
                }
                let row = weights.len() / count.max(1);
                let old_bias = bias.as_ref().map_or(&[][..], Vec::as_slice);
                let new_bias: Vec<f32> = (0..count)
                    .map(|o| {
                        let b = old_bias.get(o).map_or(0.0, |&b| f64::from(b));
                        (factors[o] * (b - f64::from(mean[o])) + f64::from(shift[o])) as f32
                    })
                    .collect();
                let new_weights: Vec<f32> = weights
                    .iter()
                    .enumerate()
                    .map(|(i, &w)| (factors[i / row.max(1)] * f64::from(w)) as f32)
                    .collect();
                let overflow = new_weights
                    .iter()
                    .position(|w| !w.is_finite())
                    .map(|i| i / row.max(1))
                    .or_else(|| new_bias.iter().position(|b| !b.is_finite()));
                if let Some(o) = overflow {
                    return Err(fail(format!(
                        "folding channel {o} overflows f32: scale / sqrt(var + epsilon) = \
                         {:?} (scale {:?}, var {:?}, epsilon {shown:?})",
                        factors[o], scale[o], var[o]
                    )));
                }
                *weights = new_weights;
                *bias = Some(new_bias);
                Ok(())
            }
            "Relu" => self.push(node, DnnLayer::Relu, false),
            "MaxPool" | "AveragePool" => {
                rank(false)?;
                let ceil_mode = int_attr(n, "ceil_mode", 0).map_err(fail)?;
                if ceil_mode != 0 {
                    return Err(fail(format!(
                        "attribute `ceil_mode` = {ceil_mode} is not supported (only 0)"
                    )));
                }
                let kernel = ints_attr(n, "kernel_shape").map_err(fail)?;
                let kernel = kernel
                    .and_then(|k| match k {
                        [h, w] => Some([u32::try_from(*h).ok()?, u32::try_from(*w).ok()?]),
                        _ => None,
                    })
                    .ok_or_else(|| {
                        fail(format!(
                            "kernel_shape must hold 2 positive extents, not {}",
                            kernel.map_or("none".into(), |k| format!("{k:?}"))
                        ))
                    })?;
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
            "GlobalAveragePool" => {
                rank(false)?;
                self.global_average(node)
            }
            "ReduceMean" => {
                rank(false)?;
                let keepdims = int_attr(n, "keepdims", 1).map_err(fail)?;
                let noop = int_attr(n, "noop_with_empty_axes", 0).map_err(fail)?;
                let attr = ints_attr(n, "axes").map_err(fail)?;
                let given = n.input.get(1).is_some_and(|s| !s.is_empty());
                let axes: Vec<i64> = match (self.opset < 18, attr, given) {
                    (true, Some(a), false) => a.to_vec(),
                    (true, None, false) => vec![],
                    (false, None, true) => {
                        let v = int_input(1, "axes")?.unwrap_or_default();
                        known(&v, "axes").map_err(fail)?
                    }
                    (false, None, false) => vec![],
                    (true, _, true) => {
                        return Err(fail(format!(
                            "operator set {} gives ReduceMean its axes as the attribute \
                             `axes`, not an input",
                            self.opset
                        )))
                    }
                    (false, Some(_), _) => {
                        return Err(fail(format!(
                            "operator set {} gives ReduceMean its axes as input 1, not an \
                             attribute",
                            self.opset
                        )))
                    }
                };
                if axes.is_empty() && noop != 0 {
                    return Err(fail(
                        "noop_with_empty_axes = 1 with no axes makes ReduceMean an identity; \
                         only a mean over the two spatial axes is supported"
                            .into(),
                    ));
                }
                let mut normalized: Vec<i64> = axes
                    .iter()
                    .map(|&a| if a < 0 { a + 4 } else { a })
                    .collect();
                normalized.sort_unstable();
                if normalized != [2, 3] {
                    return Err(fail(format!(
                        "only a mean over the two spatial axes (2 and 3, or -2 and -1) is \
                         supported, not over axes {}",
                        if axes.is_empty() {
                            "(none given: every axis)".to_string()
                        } else {
                            format!("{axes:?}")
                        }
                    )));
                }
                match keepdims {
                    1 => self.global_average(node),
                    0 => {
                        self.global_average(node)?;
                        self.flatten(node)
                    }
                    other => Err(fail(format!(
                        "attribute `keepdims` = {other} is invalid (0 or 1)"
                    ))),
                }
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
                let target = int_input(1, "shape")?
                    .ok_or_else(|| fail("input 1 (shape) is missing".into()))?;
                let features = i64::try_from(self.shape.len()).unwrap_or(i64::MAX);
                let allowzero = int_attr(n, "allowzero", 0).map_err(fail)? != 0;
                // (batch, features). The batch: the batch extent itself (a shape-only
                // value), 0 (copied, unless allowzero), -1 (inferred, the features given),
                // or a number: with the features given, any other number than the batch
                // fails at run time; with them inferred (-1), only the input's fixed batch
                // extent keeps the batch axis.
                let ok = match target[..] {
                    [batch, Dim::Known(f)] => match batch {
                        Dim::Batch => f == features || f == -1,
                        Dim::Known(0) if !allowzero => f == features || f == -1,
                        Dim::Known(-1) => f == features,
                        Dim::Known(b) if b > 0 => f == features || f == -1 && self.batch == Some(b),
                        Dim::Known(_) => false,
                    },
                    _ => false,
                };
                if !ok {
                    let batch = self.batch.map_or("batch".into(), |b| b.to_string());
                    return Err(fail(format!(
                        "only a reshape to ({batch}, {features}) is supported, not {}",
                        show(&target)
                    )));
                }
                self.flatten(node)
            }
            "Shape" | "Gather" | "Unsqueeze" => Err(fail(format!(
                "{} is supported on shapes only (as in Shape -> Gather -> Unsqueeze -> \
                 Concat -> Reshape), not on the data",
                n.op_type
            ))),
            "Dropout" => {
                // Opset 12 on: an optional `training_mode` input; true drops at random.
                if let Some(t) = constant(2, "training_mode")? {
                    let on = match t.data_type {
                        data_type::BOOL => {
                            t.raw_data.iter().any(|&b| b != 0)
                                || t.int32_data.iter().any(|&v| v != 0)
                        }
                        other => {
                            return Err(fail(format!(
                                "input 2 (training_mode) has element type {other}, not BOOL (9)"
                            )))
                        }
                    };
                    if on {
                        return Err(fail(
                            "training_mode = true makes Dropout drop units at random; export \
                             the model in eval mode"
                                .into(),
                        ));
                    }
                }
                Ok(())
            }
            "Identity" => Ok(()),
            other => Err(fail(format!("operator {other} is not supported"))),
        }
    }

    /// An average pool over the whole plane: `(C, H, W)` to `(C, 1, 1)`.
    fn global_average(&mut self, node: &Node<'_>) -> Result<(), OnnxErrorKind> {
        let plane = [self.shape.h, self.shape.w];
        let window = Window {
            kernel: plane,
            stride: plane,
            padding: [0, 0],
        };
        self.push(node, DnnLayer::AvgPool { window }, false)
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
        let earlier = |s: Source| match s {
            Source::Input => Some(self.input),
            Source::Layer(j) => self.shapes.get(j).copied(),
        };
        self.shape = layer
            .output_shape(self.layers.len(), self.shape, &earlier)
            .map_err(|e| OnnxErrorKind::Node {
                node: node.name.clone(),
                what: e.to_string(),
            })?;
        let spiking = self.spiking.last().is_none_or(|&s| s);
        self.spiking.push(layer.output_spiking(spiking));
        self.layers.push(layer);
        self.shapes.push(self.shape);
        self.foldable = foldable;
        Ok(())
    }
}

/// A `Conv` node reading data of shape `input` as a conv layer: 4-D weights whose input
/// channels match, no groups, the kernel shape (if given) the weights'.
fn conv_layer(
    n: &NodeProto,
    constants: &Constants<'_>,
    input: Shape,
    fail: &dyn Fn(String) -> OnnxErrorKind,
) -> Result<DnnLayer, OnnxErrorKind> {
    let constant = |i: usize, what: &str| -> Result<Option<&TensorProto>, OnnxErrorKind> {
        match n.input.get(i).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(name) => constants(name)
                .map(|t| Some(t.get()))
                .ok_or_else(|| fail(format!("input {i} ({what}) `{name}` must be a constant"))),
        }
    };
    let w = constant(1, "weights")?.ok_or_else(|| fail("input 1 (weights) is missing".into()))?;
    let [co, ci, kh, kw] = dims4(w)
        .ok_or_else(|| fail(format!("weights must have 4 dimensions, not {:?}", w.dims)))?;
    if ci != input.c {
        return Err(fail(format!(
            "weights {:?} expect {ci} input channels, the data has {}",
            w.dims, input.c
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
    Ok(DnnLayer::Conv2d {
        out_channels: co,
        window,
        weights: floats(w)?,
        bias,
    })
}

/// The parts of a concatenation in the file's order and the DNN's.
#[derive(Debug)]
struct Reorder {
    /// Each part's channels, in the file's order.
    channels: Vec<u32>,
    /// The file's parts in the DNN's order (the current tensor first).
    order: Vec<usize>,
}

impl Reorder {
    /// Reorders the input columns of `rows` rows of weights (PyTorch layouts, one row per
    /// output) from the file's part order to the DNN's; each channel spans `per_channel`
    /// columns (`kh * kw` for a conv, `h * w` for a dense layer on a flattened tensor).
    fn apply(&self, weights: &mut Vec<f32>, rows: usize, per_channel: usize) {
        let widths: Vec<usize> = self
            .channels
            .iter()
            .map(|&c| c as usize * per_channel)
            .collect();
        let starts: Vec<usize> = widths
            .iter()
            .scan(0, |at, w| {
                *at += w;
                Some(*at - w)
            })
            .collect();
        let row = weights.len() / rows.max(1);
        let mut out = Vec::with_capacity(weights.len());
        for r in weights.chunks_exact(row) {
            for &p in &self.order {
                out.extend_from_slice(&r[starts[p]..starts[p] + widths[p]]);
            }
        }
        *weights = out;
    }
}

/// A projection shortcut's conv, waiting for its Add.
#[derive(Debug)]
struct Side {
    /// The tensor it reads.
    from: Source,
    /// Its output channels.
    out_channels: u32,
    /// Its window, weights and bias (BatchNorm folded in).
    projection: Projection<Vec<f32>>,
}

/// The error for an Add whose output goes elsewhere than into a Relu.
fn unrelued(add: &NodeRef) -> OnnxErrorKind {
    OnnxErrorKind::Node {
        node: add.clone(),
        what: "is not followed by a Relu: a join needs neurons of its own, so an Add of two \
               tensors (a shortcut) must feed a Relu"
            .into(),
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
/// `dilations` all 1, `auto_pad` unset or `VALID`. Values are shown as given.
fn window(n: &NodeProto, kernel: [u32; 2]) -> Result<Window, String> {
    // Each of `values` as a u32, or an error showing the list as given.
    let extents = |name: &str, values: &[i64]| -> Result<Vec<u32>, String> {
        values
            .iter()
            .map(|&v| {
                u32::try_from(v).map_err(|_| {
                    let why = if v < 0 {
                        format!("{v} is negative")
                    } else {
                        format!("{v} is out of range (at most {})", u32::MAX)
                    };
                    format!("`{name}` {values:?}: {why}")
                })
            })
            .collect()
    };
    let stride = match ints_attr(n, "strides")? {
        None => [1, 1],
        Some(s) => match extents("strides", s)?[..] {
            [a, b] => [a, b],
            _ => return Err(format!("`strides` {s:?} must hold 2 values (2-D only)")),
        },
    };
    let padding = match ints_attr(n, "pads")? {
        None => [0, 0],
        Some(p) => match extents("pads", p)?[..] {
            [top, left, bottom, right] if top == bottom && left == right => [top, left],
            [_, _, _, _] => {
                return Err(format!(
                    "asymmetric pads {p:?} (top, left, bottom, right) are not supported"
                ))
            }
            _ => return Err(format!("`pads` {p:?} must hold 4 values (2-D only)")),
        },
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

/// A shape value for messages: `[batch, -1]`.
fn show(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| match d {
            Dim::Batch => "batch".to_string(),
            Dim::Known(v) => v.to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}
