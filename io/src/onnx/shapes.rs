//! Shape-only subgraphs, evaluated: constant folding of `Shape`, `Gather`, `Unsqueeze` and
//! `Concat` on the data's known shape, the batch extent kept symbolic.
//!
//! The legacy exporter writes `x.view(x.size(0), -1)` as `Shape(x) -> Gather(0) ->
//! Unsqueeze -> Concat([n, -1]) -> Reshape`: the target shape is `(batch, -1)`, whatever the
//! batch. Each value here is a small integer tensor whose elements are known integers or the
//! batch extent ([`Dim::Batch`]); a value is computed once, when a node on the data path
//! first needs it, by then the shape of every data tensor before that node is recorded.
//! Values are kept small ([`MAX_ELEMENTS`]), so that no graph can make the folding costly.

use std::collections::HashMap;

use super::error::OnnxErrorKind;
use super::graph::{int_attr, ints_attr, node_ref};
use super::proto::NodeProto;
use super::tensor::{ints, Constants};

/// The most elements (and axes) a shape-only value may have: shapes have a handful.
pub(crate) const MAX_ELEMENTS: usize = 1024;

/// One element of a shape-only value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dim {
    /// The data's batch extent, whatever it is at run time.
    Batch,
    /// A known integer.
    Known(i64),
}

/// A shape-only value: an integer tensor of shape `dims`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Value {
    /// Its shape (empty for a scalar).
    pub dims: Vec<usize>,
    /// Its elements, row-major.
    pub values: Vec<Dim>,
}

/// The shape-only nodes of a graph and what is known so far: the shape of each data tensor
/// the walk has passed, and the values computed.
#[derive(Debug)]
pub(crate) struct Shapes<'g> {
    nodes: &'g HashMap<&'g str, (usize, &'g NodeProto)>,
    opset: i64,
    data: HashMap<&'g str, Vec<Dim>>,
    values: HashMap<&'g str, Value>,
}

impl<'g> Shapes<'g> {
    /// The shape-only `nodes` (by output name) of a graph importing `opset`.
    pub fn new(nodes: &'g HashMap<&'g str, (usize, &'g NodeProto)>, opset: i64) -> Shapes<'g> {
        Shapes {
            nodes,
            opset,
            data: HashMap::new(),
            values: HashMap::new(),
        }
    }

    /// Records the shape of the data tensor `name` (batch axis first).
    pub fn record(&mut self, name: &'g str, dims: Vec<Dim>) {
        self.data.insert(name, dims);
    }

    /// The elements of the integer tensor `name`, if it is a constant or a shape-only value
    /// (`None` if it is neither: a data tensor).
    pub fn ints(
        &mut self,
        name: &str,
        constants: &Constants<'_>,
    ) -> Result<Option<Value>, OnnxErrorKind> {
        if let Some(t) = constants(name) {
            return constant(t.get()).map(Some);
        }
        let Some((&key, _)) = self.nodes.get_key_value(name) else {
            return Ok(None);
        };
        // Depth first with an explicit stack: a long chain of shape nodes cannot overflow
        // the call stack.
        let mut stack = vec![key];
        while let Some(&top) = stack.last() {
            if self.values.contains_key(top) {
                stack.pop();
                continue;
            }
            let (index, node) = self.nodes[top];
            let pending = node.input.iter().find_map(|s| {
                let (&k, _) = self.nodes.get_key_value(s.as_str())?;
                (!self.values.contains_key(k) && constants(k).is_none()).then_some(k)
            });
            if let Some(input) = pending {
                stack.push(input);
                continue;
            }
            let value = self
                .eval(node, constants)
                .map_err(|what| OnnxErrorKind::Node {
                    node: node_ref(index, node),
                    what,
                })?;
            self.values.insert(top, value);
            stack.pop();
        }
        Ok(self.values.get(key).cloned())
    }

    /// The value `node` computes, its shape-only inputs computed already.
    fn eval(&self, node: &NodeProto, constants: &Constants<'_>) -> Result<Value, String> {
        let input = |i: usize| -> Result<Value, String> {
            let name = node
                .input
                .get(i)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("input {i} is missing"))?;
            if let Some(t) = constants(name) {
                return constant(t.get()).map_err(|e| e.to_string());
            }
            self.values
                .get(name.as_str())
                .cloned()
                .ok_or_else(|| format!("input `{name}` is not a shape or a constant"))
        };
        let value = match node.op_type.as_str() {
            "Shape" => {
                let name = node.input.first().map_or("", String::as_str);
                let dims: Vec<Dim> = if let Some(d) = self.data.get(name) {
                    d.clone()
                } else if let Some(t) = constants(name) {
                    t.get().dims.iter().map(|&d| Dim::Known(d)).collect()
                } else if let Some(v) = self.values.get(name) {
                    v.dims.iter().map(|&d| Dim::Known(d as i64)).collect()
                } else {
                    return Err(format!("the shape of `{name}` is not known here"));
                };
                let rank = dims.len() as i64;
                let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
                let start = clamp(int_attr(node, "start", 0)?);
                let end = clamp(int_attr(node, "end", rank)?);
                let values = dims[start..end.max(start)].to_vec();
                Value {
                    dims: vec![values.len()],
                    values,
                }
            }
            "Gather" => {
                let data = input(0)?;
                let indices = input(1)?;
                let n = data.values.len() as i64;
                let axis = int_attr(node, "axis", 0)?;
                if data.dims.len() != 1 || (axis != 0 && axis != -1) {
                    return Err(format!(
                        "gathers along axis {axis} of a shape value of shape {:?}; only a \
                         rank-1 shape value along axis 0 is supported",
                        data.dims
                    ));
                }
                let values = indices
                    .values
                    .iter()
                    .map(|&i| match i {
                        Dim::Known(i) if (-n..n).contains(&i) => {
                            Ok(data.values[(if i < 0 { i + n } else { i }) as usize])
                        }
                        Dim::Known(i) => Err(format!("index {i} is out of range for {n} values")),
                        Dim::Batch => Err("an index is the batch extent".to_string()),
                    })
                    .collect::<Result<_, _>>()?;
                Value {
                    dims: indices.dims,
                    values,
                }
            }
            "Unsqueeze" => {
                let data = input(0)?;
                let attr = ints_attr(node, "axes")?;
                let given = node.input.get(1).is_some_and(|s| !s.is_empty());
                let axes: Vec<i64> = match (self.opset < 13, attr, given) {
                    (true, Some(a), false) => a.to_vec(),
                    (false, None, true) => known(&input(1)?.values, "axes")?,
                    (true, _, _) => {
                        return Err(format!(
                            "operator set {} gives Unsqueeze its axes as the attribute \
                             `axes`, not an input",
                            self.opset
                        ))
                    }
                    (false, ..) => {
                        return Err(format!(
                            "operator set {} gives Unsqueeze its axes as input 1, not an \
                             attribute",
                            self.opset
                        ))
                    }
                };
                let rank = data.dims.len() + axes.len();
                if rank > MAX_ELEMENTS {
                    return Err(format!("unsqueezes to {rank} axes"));
                }
                let mut ones = vec![false; rank];
                for &a in &axes {
                    let r = rank as i64;
                    let at = if a < 0 { a + r } else { a };
                    if !(0..r).contains(&at) || std::mem::replace(&mut ones[at as usize], true) {
                        return Err(format!(
                            "axes {axes:?} are out of range or repeated for an output of \
                             rank {rank}"
                        ));
                    }
                }
                let mut rest = data.dims.iter();
                let dims = ones
                    .iter()
                    .map(|&one| if one { 1 } else { *rest.next().unwrap_or(&1) })
                    .collect();
                Value {
                    dims,
                    values: data.values,
                }
            }
            "Concat" => {
                let axis = int_attr(node, "axis", i64::MIN)?;
                if axis != 0 && axis != -1 {
                    return Err(format!(
                        "concatenates shape values along axis {}; only axis 0 of rank-1 \
                         values is supported",
                        if axis == i64::MIN {
                            "(none given)".to_string()
                        } else {
                            axis.to_string()
                        }
                    ));
                }
                let mut values = Vec::new();
                for i in 0..node.input.len() {
                    let v = input(i)?;
                    if v.dims.len() != 1 {
                        return Err(format!(
                            "input {i} has shape {:?}; only rank-1 shape values can be \
                             concatenated",
                            v.dims
                        ));
                    }
                    values.extend(v.values);
                    if values.len() > MAX_ELEMENTS {
                        break;
                    }
                }
                Value {
                    dims: vec![values.len()],
                    values,
                }
            }
            other => return Err(format!("operator {other} is not a shape operator")),
        };
        if value.values.len() > MAX_ELEMENTS {
            return Err(format!(
                "computes a shape value of {} or more elements (at most {MAX_ELEMENTS})",
                value.values.len()
            ));
        }
        Ok(value)
    }
}

/// An integer constant as a shape value.
fn constant(t: &super::proto::TensorProto) -> Result<Value, OnnxErrorKind> {
    let values: Vec<Dim> = ints(t)?.into_iter().map(Dim::Known).collect();
    let dims = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    Ok(Value { dims, values })
}

/// The elements of a shape value that must all be known (`what` names it in errors).
pub(crate) fn known(values: &[Dim], what: &str) -> Result<Vec<i64>, String> {
    values
        .iter()
        .map(|d| match d {
            Dim::Known(v) => Ok(*v),
            Dim::Batch => Err(format!("{what} depend on the batch extent")),
        })
        .collect()
}
