//! Serialising a [`Graph`] to the file format.

use std::path::Path;

use super::{descriptor, header, kind, til};
use super::{DESCRIPTOR_LEN, HEADER_LEN, MAGIC, PAYLOAD_ALIGN, TRAILER_LEN, TRAILER_TAG, VERSION};
use crate::error::{ErrorKind, Result};
use crate::graph::{Graph, Layer, TilPolicy, Weights, Window};

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
/// let bytes = format::to_bytes(&graph)?;
/// assert_eq!(&bytes[..8], b"TDSNNGRF");
/// assert_eq!(format::from_bytes(&bytes)?, graph);
/// # Ok(()) }
/// ```
pub fn to_bytes(graph: &Graph) -> Result<Vec<u8>> {
    if graph.branches() {
        return Err(ErrorKind::Structure {
            what: "graph files hold chains: this graph branches or joins, which the file \
                   format (version 1) cannot record; keep the model (ONNX) and convert it \
                   where it runs"
                .into(),
        }
        .into());
    }
    let layers = graph.layers();
    let count = u32::try_from(layers.len()).expect("a graph file holds fewer than 2^32 layers");

    // Lay out the payloads: after the descriptor table, in layer order, weights then bias,
    // each at a multiple of PAYLOAD_ALIGN.
    let table_end = HEADER_LEN + DESCRIPTOR_LEN * layers.len();
    let mut cursor = table_end;
    let mut place = |w: Option<&Weights>| {
        let w = w?;
        let offset = cursor.next_multiple_of(PAYLOAD_ALIGN);
        cursor = offset + 4 * w.len();
        Some(offset)
    };
    let offsets: Vec<[Option<usize>; 2]> = layers
        .iter()
        .map(|layer| [place(layer.weights()), place(layer.bias())])
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
    // header::RESERVED stays 0.
    put(&mut out, header::FILE_LEN, &(total as u64).to_le_bytes());

    for (i, (layer, placed)) in layers.iter().zip(&offsets).enumerate() {
        let base = HEADER_LEN + DESCRIPTOR_LEN * i;
        let (code, params) = describe(layer);
        put(&mut out, base + descriptor::KIND, &code.to_le_bytes());
        for (j, p) in params.iter().enumerate() {
            put(
                &mut out,
                base + descriptor::PARAMS + 4 * j,
                &p.to_le_bytes(),
            );
        }
        let tensors = [
            (descriptor::WEIGHTS, layer.weights(), placed[0]),
            (descriptor::BIAS, layer.bias(), placed[1]),
        ];
        for (field, tensor, offset) in tensors {
            let (Some(values), Some(offset)) = (tensor, offset) else {
                continue;
            };
            put(&mut out, base + field, &(offset as u64).to_le_bytes());
            put(
                &mut out,
                base + field + 8,
                &(values.len() as u64).to_le_bytes(),
            );
            let dst = &mut out[offset..offset + 4 * values.len()];
            for (d, v) in dst.chunks_exact_mut(4).zip(values.iter()) {
                d.copy_from_slice(&v.to_le_bytes());
            }
        }
    }

    let body = total - TRAILER_LEN;
    let crc = crc32fast::hash(&out[..body]);
    put(&mut out, body, &crc.to_le_bytes());
    put(&mut out, body + 4, &TRAILER_TAG);
    Ok(out)
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
    std::fs::write(path, to_bytes(graph)?).map_err(|e| {
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

/// Copies `bytes` into `out` at `offset` (the layout is computed so that it fits).
fn put(out: &mut [u8], offset: usize, bytes: &[u8]) {
    out[offset..offset + bytes.len()].copy_from_slice(bytes);
}
