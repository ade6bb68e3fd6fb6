//! The ONNX graph as a chain: constants gathered (initializers and `Constant` nodes), every
//! node's inputs resolved, cycles found, shape-only subgraphs set apart, and the single path
//! from the graph's one data input to its one output walked, node by node.
//!
//! A shape-only node computes on tensor shapes, never on the data's values: `Shape`, and
//! `Gather`, `Unsqueeze` or `Concat` whose inputs are all constants or shape-only (the legacy
//! exporter's `x.view(x.size(0), -1)` is `Shape -> Gather -> Unsqueeze -> Concat ->
//! Reshape`). Such a node reading the data is no branch, and its result is no second data
//! path into the node it feeds; [`shapes`](super::shapes) evaluates it once the data's shape
//! there is known.
//!
//! Cost: linear in the number of nodes and edges (hash maps from tensor names to producers
//! and consumers).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::error::{NodeRef, OnnxErrorKind};
use super::proto::{attribute_type, GraphProto, NodeProto};
use super::tensor::{constant_node_value, TensorProtoRef};

/// The operators the importer maps (default domain); `Constant` nodes become constants.
pub(crate) const SUPPORTED: &[&str] = &[
    "Conv",
    "Gemm",
    "MatMul",
    "Add",
    "Relu",
    "MaxPool",
    "AveragePool",
    "Flatten",
    "Reshape",
    "BatchNormalization",
    "Dropout",
    "Identity",
    "GlobalAveragePool",
    "ReduceMean",
    "Shape",
    "Gather",
    "Unsqueeze",
    "Concat",
];

/// Operators that are shape-only when every input is a constant or shape-only (`Shape`
/// always is).
const SHAPE_OPS: &[&str] = &["Gather", "Unsqueeze", "Concat"];

/// How errors name node `index`.
pub(crate) fn node_ref(index: usize, node: &NodeProto) -> NodeRef {
    let name = if node.name.is_empty() {
        format!("#{index}")
    } else {
        node.name.clone()
    };
    let op_type = if is_default_domain(&node.domain) {
        node.op_type.clone()
    } else {
        format!("{}::{}", node.domain, node.op_type)
    };
    NodeRef { name, op_type }
}

/// Whether `domain` names the default ONNX operator set.
pub(crate) fn is_default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

/// The graph, checked to be a chain with shortcuts and concatenations: every data node on a
/// path from the input to the output, only Add and Concat joining tensors.
#[derive(Debug)]
pub(crate) struct Chain<'a> {
    /// Constant tensors by name: initializers and `Constant` node outputs.
    pub constants: HashMap<&'a str, TensorProtoRef<'a>>,
    /// The data input's name.
    pub input: &'a str,
    /// The data nodes, in a topological order, with their index.
    pub nodes: Vec<(usize, &'a NodeProto)>,
    /// The indices of the Conv nodes that are projection shortcuts: off the main path, their
    /// output reaching an Add.
    pub side: HashSet<usize>,
    /// The shape-only nodes by the name of their (first) output, with their index.
    pub shape_nodes: HashMap<&'a str, (usize, &'a NodeProto)>,
}

/// Checks `graph` and orders its data nodes from its data input to its output.
///
/// Errors, in this order: every node with an unsupported operator (all listed together);
/// a node input nothing provides; a cycle; a graph that is not a chain with shortcuts (more
/// or fewer than one data input or output, a node other than Add or Concat joining data
/// paths, a node off the paths from the input to the output, a tensor used by nothing).
/// Which branches are shortcuts or concatenations the importer can linearise, the layers
/// decide ([`operators`](super::operators)).
pub(crate) fn chain(graph: &GraphProto) -> Result<Chain<'_>, OnnxErrorKind> {
    let unsupported: Vec<NodeRef> = graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            !(is_default_domain(&n.domain)
                && (n.op_type == "Constant" || SUPPORTED.contains(&n.op_type.as_str())))
        })
        .map(|(i, n)| node_ref(i, n))
        .collect();
    if !unsupported.is_empty() {
        return Err(OnnxErrorKind::Unsupported { nodes: unsupported });
    }
    if let Some(t) = graph.sparse_initializer.first() {
        let tensor = t.values.as_ref().map_or("?", |v| v.name.as_str());
        return Err(OnnxErrorKind::Tensor {
            tensor: tensor.to_string(),
            what: "sparse initializers are not supported".into(),
        });
    }

    let mut constants: HashMap<&str, TensorProtoRef<'_>> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), TensorProtoRef::Borrowed(t)))
        .collect();
    // Producers of every tensor, constants included.
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        for out in node.output.iter().filter(|o| !o.is_empty()) {
            if producer.insert(out, i).is_some() || constants.contains_key(out.as_str()) {
                return Err(OnnxErrorKind::NotAChain(format!(
                    "tensor `{out}` is produced twice (the second time by {})",
                    node_ref(i, node)
                )));
            }
        }
        if node.op_type == "Constant" {
            let value = constant_node_value(node).map_err(|what| OnnxErrorKind::Node {
                node: node_ref(i, node),
                what,
            })?;
            if let Some(out) = node.output.first() {
                constants.insert(out, value);
            }
        }
    }
    let graph_inputs: HashSet<&str> = graph.input.iter().map(|v| v.name.as_str()).collect();
    // Dangling inputs.
    for (i, node) in graph.node.iter().enumerate() {
        for input in node.input.iter().filter(|s| !s.is_empty()) {
            let known = producer.contains_key(input.as_str())
                || constants.contains_key(input.as_str())
                || graph_inputs.contains(input.as_str());
            if !known {
                return Err(OnnxErrorKind::Dangling {
                    node: node_ref(i, node),
                    input: input.clone(),
                });
            }
        }
    }
    let order = topological_order(graph, &producer)?;
    // An Identity of a constant is that constant (the legacy exporter aliases equal
    // initializers so); in topological order, so that aliases of aliases resolve.
    let mut aliases: HashSet<usize> = HashSet::new();
    for &i in &order {
        let node = &graph.node[i];
        if node.op_type != "Identity" || !is_default_domain(&node.domain) {
            continue;
        }
        let (Some(from), Some(out)) = (node.input.first(), node.output.first()) else {
            continue;
        };
        let value = match constants.get(from.as_str()) {
            Some(TensorProtoRef::Borrowed(t)) => TensorProtoRef::Borrowed(t),
            Some(TensorProtoRef::Owned(t)) => TensorProtoRef::Owned(t.clone()),
            None => continue,
        };
        constants.insert(out, value);
        aliases.insert(i);
    }
    let shape_nodes = shape_only(graph, &order, &constants);
    let computed = |name: &str| !constants.contains_key(name) && !shape_nodes.contains_key(name);

    let data_inputs: Vec<&str> = graph
        .input
        .iter()
        .map(|v| v.name.as_str())
        .filter(|n| !constants.contains_key(n))
        .collect();
    let [input] = data_inputs[..] else {
        return Err(OnnxErrorKind::NotAChain(format!(
            "the graph has {} data inputs ({}); exactly one is supported",
            data_inputs.len(),
            data_inputs.join(", ")
        )));
    };
    let outputs: Vec<&str> = graph.output.iter().map(|v| v.name.as_str()).collect();
    let [output] = outputs[..] else {
        return Err(OnnxErrorKind::NotAChain(format!(
            "the graph has {} outputs ({}); exactly one is supported",
            outputs.len(),
            outputs.join(", ")
        )));
    };
    // Consumers of every computed tensor, shape-only nodes left out (they read the data's
    // shape, not its values).
    let shape_indices: HashSet<usize> = shape_nodes.values().map(|&(i, _)| i).collect();
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        if shape_indices.contains(&i) {
            continue;
        }
        for input in node.input.iter().filter(|s| !s.is_empty()) {
            if computed(input) {
                consumers.entry(input).or_default().push(i);
            }
        }
    }
    // The data nodes, in topological order (the file's order when it is one, as ONNX
    // requires): each reads data tensors computed before it.
    let data_nodes: Vec<(usize, &NodeProto)> = order
        .iter()
        .map(|&i| (i, &graph.node[i]))
        .filter(|(i, n)| {
            n.op_type != "Constant" && !shape_indices.contains(i) && !aliases.contains(i)
        })
        .collect();
    let mut reached: HashSet<&str> = HashSet::from([input]);
    for &(i, node) in &data_nodes {
        let data: Vec<&String> = node
            .input
            .iter()
            .filter(|s| !s.is_empty() && computed(s))
            .collect();
        if data.is_empty() || data.iter().any(|s| !reached.contains(s.as_str())) {
            return Err(OnnxErrorKind::NotAChain(format!(
                "{} is not on a path from the input `{input}` to the output `{output}`",
                node_ref(i, node)
            )));
        }
        if data.len() > 1 && !matches!(node.op_type.as_str(), "Add" | "Concat") {
            return Err(OnnxErrorKind::NotAChain(format!(
                "{} joins {} computed tensors; only Add (a shortcut) and Concat may join \
                 branches",
                node_ref(i, node),
                data.len()
            )));
        }
        if let Some(extra) = node
            .output
            .iter()
            .skip(1)
            .find(|o| !o.is_empty() && (consumers.contains_key(o.as_str()) || *o == output))
        {
            return Err(OnnxErrorKind::NotAChain(format!(
                "{}: its extra output `{extra}` is used; only the first output of a node may be",
                node_ref(i, node)
            )));
        }
        if data.iter().any(|s| *s == output) {
            return Err(OnnxErrorKind::NotAChain(format!(
                "the graph output `{output}` also feeds {}",
                node_ref(i, node)
            )));
        }
        if let Some(out) = node.output.first().filter(|o| !o.is_empty()) {
            if !consumers.contains_key(out.as_str()) && out != output {
                return Err(OnnxErrorKind::NotAChain(format!(
                    "tensor `{out}` (of {}) is used by no node and is not the graph output \
                     `{output}`",
                    node_ref(i, node)
                )));
            }
            reached.insert(out);
        }
    }
    if !reached.contains(output) {
        return Err(OnnxErrorKind::NotAChain(format!(
            "the graph output `{output}` is not computed from the input `{input}`"
        )));
    }
    // Projection shortcuts: a Conv off the main path, reading a tensor that branches, whose
    // output reaches an Add through BatchNormalization, Identity or Dropout nodes alone.
    let single = |name: &str| match consumers.get(name).map(Vec::as_slice) {
        Some(&[j]) => Some(j),
        _ => None,
    };
    let side: HashSet<usize> = data_nodes
        .iter()
        .filter(|(_, n)| n.op_type == "Conv")
        .filter(|(_, n)| {
            let branches = n.input.first().and_then(|s| consumers.get(s.as_str()));
            branches.is_some_and(|c| c.len() > 1)
        })
        .filter(|(_, n)| {
            let mut at = n.output.first().map_or("", String::as_str);
            // Each step moves one node on; a chain of them is at most the graph long.
            for _ in 0..graph.node.len() {
                let Some(j) = single(at) else { return false };
                let next = &graph.node[j];
                match next.op_type.as_str() {
                    "Add" => return true,
                    "BatchNormalization" | "Identity" | "Dropout" => {
                        at = next.output.first().map_or("", String::as_str);
                    }
                    _ => return false,
                }
            }
            false
        })
        .map(|&(i, _)| i)
        .collect();
    let nodes = data_nodes;
    Ok(Chain {
        constants,
        input,
        nodes,
        shape_nodes,
        side,
    })
}

/// The shape-only nodes (see the module docs), by the name of their first output: decided
/// in topological order, so that a node's inputs are decided before it.
fn shape_only<'a>(
    graph: &'a GraphProto,
    order: &[usize],
    constants: &HashMap<&str, TensorProtoRef<'_>>,
) -> HashMap<&'a str, (usize, &'a NodeProto)> {
    let mut shape_nodes: HashMap<&str, (usize, &NodeProto)> = HashMap::new();
    for &i in order {
        let node = &graph.node[i];
        if !is_default_domain(&node.domain) {
            continue;
        }
        let op = node.op_type.as_str();
        let shape_only = op == "Shape"
            || SHAPE_OPS.contains(&op)
                && node.input.iter().filter(|s| !s.is_empty()).all(|s| {
                    constants.contains_key(s.as_str()) || shape_nodes.contains_key(s.as_str())
                });
        if shape_only {
            if let Some(out) = node.output.first().filter(|o| !o.is_empty()) {
                shape_nodes.insert(out, (i, node));
            }
        }
    }
    shape_nodes
}

/// The nodes in a topological order, or an error with a node on a cycle if the graph has one
/// (Kahn's algorithm; from a node left over, predecessors are followed until one repeats).
fn topological_order(
    graph: &GraphProto,
    producer: &HashMap<&str, usize>,
) -> Result<Vec<usize>, OnnxErrorKind> {
    let n = graph.node.len();
    let preds: Vec<Vec<usize>> = graph
        .node
        .iter()
        .map(|node| {
            node.input
                .iter()
                .filter_map(|s| producer.get(s.as_str()).copied())
                .collect()
        })
        .collect();
    let mut indegree: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, p) in preds.iter().enumerate() {
        for &j in p {
            succs[j].push(i);
        }
    }
    // Ready nodes in file order: a file already in topological order keeps its order.
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        done[i] = true;
        order.push(i);
        for &s in &succs[i] {
            indegree[s] -= 1;
            if indegree[s] == 0 {
                ready.push(Reverse(s));
            }
        }
    }
    let Some(mut at) = done.iter().position(|d| !d) else {
        return Ok(order);
    };
    // Every node left over has a predecessor left over; n steps back land on a cycle.
    for _ in 0..n {
        at = preds[at].iter().copied().find(|&p| !done[p]).unwrap_or(at);
    }
    Err(OnnxErrorKind::Cycle {
        node: node_ref(at, &graph.node[at]),
    })
}

/// An attribute of `node` by name.
pub(crate) fn attribute<'a>(
    node: &'a NodeProto,
    name: &str,
) -> Option<&'a super::proto::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// An attribute of `node` by name, if present; errors if present with another type than
/// `expected` (one of [`attribute_type`], named `kind` in the message).
fn typed_attr<'a>(
    node: &'a NodeProto,
    name: &str,
    expected: i32,
    kind: &str,
) -> Result<Option<&'a super::proto::AttributeProto>, String> {
    match attribute(node, name) {
        Some(a) if a.r#type != expected => Err(format!(
            "attribute `{name}` has type {}, expected {kind}",
            a.r#type
        )),
        found => Ok(found),
    }
}

/// An integer attribute, or `default`; errors if present with another type.
pub(crate) fn int_attr(node: &NodeProto, name: &str, default: i64) -> Result<i64, String> {
    Ok(typed_attr(node, name, attribute_type::INT, "INT")?.map_or(default, |a| a.i))
}

/// A float attribute, or `default`; errors if present with another type.
pub(crate) fn float_attr(node: &NodeProto, name: &str, default: f32) -> Result<f32, String> {
    Ok(typed_attr(node, name, attribute_type::FLOAT, "FLOAT")?.map_or(default, |a| a.f))
}

/// An integer list attribute, if present; errors if present with another type.
pub(crate) fn ints_attr<'a>(node: &'a NodeProto, name: &str) -> Result<Option<&'a [i64]>, String> {
    Ok(typed_attr(node, name, attribute_type::INTS, "INTS")?.map(|a| &a.ints[..]))
}

/// A string attribute, if present; errors if present with another type.
pub(crate) fn string_attr(node: &NodeProto, name: &str) -> Result<Option<String>, String> {
    let found = typed_attr(node, name, attribute_type::STRING, "STRING")?;
    Ok(found.map(|a| String::from_utf8_lossy(&a.s).into_owned()))
}
