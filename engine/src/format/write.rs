//! Serialising a [`Graph`] to the file format.

use std::path::Path;

use super::{descriptor, group, group_kind, header, kind, sources_len, til};
use super::{
    DESCRIPTOR_LEN, GROUP_LEN, HEADER_LEN, MAGIC, PAYLOAD_ALIGN, TRAILER_LEN, TRAILER_TAG, VERSION,
};
use crate::error::{ErrorKind, Result};
use crate::graph::{Graph, Group, Layer, Synapses, TilPolicy, Weights, Window};

/// Serialises `graph` to the bytes of a graph file (see the [module docs](super)).
///
/// The output is deterministic: the same graph always gives the same bytes, and
/// [`from_bytes`](super::from_bytes) gives back an equal graph, every weight bit for bit.
///
/// # Panics
/// If the graph has `2^32` layers or more, which the format cannot count.
///
/// # Example
/// ```
/// use tdsnn_engine::{format, GraphBuilder, Shape};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
///     .output(1, vec![1.0, 2.0], Some(vec![0.5]))
///     .build()?;
/// let bytes = format::to_bytes(&graph);
/// assert_eq!(&bytes[..8], b"TDSNNGRF");
/// assert_eq!(format::from_bytes(&bytes)?, graph);
/// # Ok(()) }
/// ```
pub fn to_bytes(graph: &Graph) -> Vec<u8> {
    let layers = graph.layers();
    let count = u32::try_from(layers.len()).expect("a graph file holds fewer than 2^32 layers");
    let groups: Vec<(usize, &Group)> = (0..layers.len())
        .flat_map(|k| graph.groups(k).iter().map(move |g| (k, g)))
        .collect();
    let group_count = u32::try_from(groups.len()).expect("fewer than 2^32 synapse groups");

    // Lay out the link table (every layer's source, then the groups) after the descriptor
    // table, then the payloads: in layer order weights (f32) then bias (f64), then each
    // group's weights, each at a multiple of PAYLOAD_ALIGN.
    let sources_at = HEADER_LEN + DESCRIPTOR_LEN * layers.len();
    let groups_at = sources_at + sources_len(layers.len());
    let mut cursor = groups_at + GROUP_LEN * groups.len();
    let mut place = |len: Option<usize>, size: usize| {
        let len = len?;
        let offset = cursor.next_multiple_of(PAYLOAD_ALIGN);
        cursor = offset + size * len;
        Some(offset)
    };
    let offsets: Vec<[Option<usize>; 2]> = layers
        .iter()
        .map(|layer| {
            [
                place(layer.weights().map(|w| w.len()), 4),
                place(layer.bias().map(<[f64]>::len), 8),
            ]
        })
        .collect();
    let group_offsets: Vec<Option<usize>> = groups
        .iter()
        .map(|(_, g)| place(group_weights(g).map(|w| w.len()), 4))
        .collect();
    let total = cursor + TRAILER_LEN;

    let mut out = vec![0u8; total];
    let params = graph.params();
    let input = graph.input_shape();
    let (til_kind, til_fixed) = match params.til {
        TilPolicy::Dynamic => (til::DYNAMIC, 0),
        TilPolicy::Fixed(t) => (til::FIXED, t),
    };
    put(&mut out, header::MAGIC, &MAGIC);
    put(&mut out, header::VERSION, &VERSION.to_le_bytes());
    put(&mut out, header::LAYER_COUNT, &count.to_le_bytes());
    put(&mut out, header::LEAK, &params.leak.to_le_bytes());
    put(&mut out, header::THRESHOLD, &params.threshold.to_le_bytes());
    put(&mut out, header::TIL_KIND, &til_kind.to_le_bytes());
    put(&mut out, header::TIL_FIXED, &til_fixed.to_le_bytes());
    for (i, dim) in [input.c, input.h, input.w].into_iter().enumerate() {
        put(&mut out, header::INPUT + 4 * i, &dim.to_le_bytes());
    }
    put(&mut out, header::GROUPS, &group_count.to_le_bytes());
    put(&mut out, header::FILE_LEN, &(total as u64).to_le_bytes());

    for (i, (layer, placed)) in layers.iter().zip(&offsets).enumerate() {
        let base = HEADER_LEN + DESCRIPTOR_LEN * i;
        let (code, params) = describe(layer);
        put(&mut out, base + descriptor::KIND, &code.to_le_bytes());
        put_params(&mut out, base + descriptor::PARAMS, &params);
        if let (Some(w), Some(offset)) = (layer.weights(), placed[0]) {
            put_tensor(&mut out, base + descriptor::WEIGHTS, offset, w);
        }
        if let (Some(b), Some(offset)) = (layer.bias(), placed[1]) {
            put(
                &mut out,
                base + descriptor::BIAS,
                &(offset as u64).to_le_bytes(),
            );
            put(
                &mut out,
                base + descriptor::BIAS + 8,
                &(b.len() as u64).to_le_bytes(),
            );
            for (j, v) in b.iter().enumerate() {
                put(&mut out, offset + 8 * j, &v.to_le_bytes());
            }
        }
        let source = graph.source(i).index() as u32;
        put(&mut out, sources_at + 4 * i, &source.to_le_bytes());
    }
    for (n, ((k, g), offset)) in groups.iter().zip(&group_offsets).enumerate() {
        let base = groups_at + GROUP_LEN * n;
        let (code, params) = describe_group(g);
        put(&mut out, base + group::LAYER, &(*k as u32).to_le_bytes());
        put(
            &mut out,
            base + group::SOURCE,
            &(g.source.index() as u32).to_le_bytes(),
        );
        put(&mut out, base + group::KIND, &code.to_le_bytes());
        put_params(&mut out, base + group::PARAMS, &params);
        if let (Some(w), Some(offset)) = (group_weights(g), offset) {
            put_tensor(&mut out, base + group::WEIGHTS, *offset, w);
        }
    }

    let body = total - TRAILER_LEN;
    let crc = crc32fast::hash(&out[..body]);
    put(&mut out, body, &crc.to_le_bytes());
    put(&mut out, body + 4, &TRAILER_TAG);
    out
}

/// Writes `graph` to the file at `path` (created or truncated) in the graph file format.
///
/// # Errors
/// [`ErrorKind::Io`] naming `path` if the file cannot be written.
///
/// # Example
/// ```
/// use tdsnn_engine::{format, GraphBuilder, Shape};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
///     .output(1, vec![1.0, 2.0], None)
///     .build()?;
/// let path = std::env::temp_dir().join(format!("tdsnn-doc-write-{}.grf", std::process::id()));
/// format::write(&graph, &path)?;
/// assert_eq!(format::read(&path)?, graph);
/// # std::fs::remove_file(&path).ok();
/// # Ok(()) }
/// ```
pub fn write(graph: &Graph, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, to_bytes(graph)).map_err(|e| {
        ErrorKind::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
        .into()
    })
}

/// The descriptor's kind code and parameter slots for `layer`.
fn describe(layer: &Layer) -> (u32, [u32; descriptor::PARAM_SLOTS]) {
    let geometry = |w: &Window| {
        [
            w.kernel[0],
            w.kernel[1],
            w.stride[0],
            w.stride[1],
            w.padding[0],
            w.padding[1],
        ]
    };
    match layer {
        Layer::Dense(d) => (kind::DENSE, [d.outputs, 0, 0, 0, 0, 0, 0]),
        Layer::Output(d) => (kind::OUTPUT, [d.outputs, 0, 0, 0, 0, 0, 0]),
        Layer::Conv2d(c) => {
            let [kh, kw, sh, sw, ph, pw] = geometry(&c.window);
            (kind::CONV2D, [c.out_channels, kh, kw, sh, sw, ph, pw])
        }
        Layer::AvgPool(p) => {
            let [kh, kw, sh, sw, ph, pw] = geometry(&p.window);
            (kind::AVG_POOL, [kh, kw, sh, sw, ph, pw, p.weight.to_bits()])
        }
        Layer::MaxPool(p) => {
            let [kh, kw, sh, sw, ph, pw] = geometry(&p.window);
            (kind::MAX_POOL, [kh, kw, sh, sw, ph, pw, 0])
        }
        Layer::Flatten => (kind::FLATTEN, [0; descriptor::PARAM_SLOTS]),
    }
}

/// The parameter slots `params`, from `at`.
fn put_params(out: &mut [u8], at: usize, params: &[u32; descriptor::PARAM_SLOTS]) {
    for (j, p) in params.iter().enumerate() {
        put(out, at + 4 * j, &p.to_le_bytes());
    }
}

/// An f32 tensor's (offset, length) fields at `field`, and its values at `offset`.
fn put_tensor(out: &mut [u8], field: usize, offset: usize, values: &Weights) {
    put(out, field, &(offset as u64).to_le_bytes());
    put(out, field + 8, &(values.len() as u64).to_le_bytes());
    for (j, v) in values.iter().enumerate() {
        put(out, offset + 4 * j, &v.to_le_bytes());
    }
}

/// The kind code and parameter slots of a synapse group.
fn describe_group(group: &Group) -> (u32, [u32; descriptor::PARAM_SLOTS]) {
    match &group.synapses {
        Synapses::Identity { weight } => {
            (group_kind::IDENTITY, [weight.to_bits(), 0, 0, 0, 0, 0, 0])
        }
        Synapses::Conv2d(c) => (group_kind::CONV2D, describe(&Layer::Conv2d(c.clone())).1),
        Synapses::Dense(d) => (group_kind::DENSE, [d.outputs, 0, 0, 0, 0, 0, 0]),
    }
}

/// A group's weight tensor (none for an identity).
fn group_weights(group: &Group) -> Option<&Weights> {
    match &group.synapses {
        Synapses::Identity { .. } => None,
        Synapses::Conv2d(c) => Some(&c.weights),
        Synapses::Dense(d) => Some(&d.weights),
    }
}

/// Copies `bytes` into `out` at `offset` (the layout is computed so that it fits).
fn put(out: &mut [u8], offset: usize, bytes: &[u8]) {
    out[offset..offset + bytes.len()].copy_from_slice(bytes);
}
