//! Reading a graph file: structural validation, then the graph built in place.
//!
//! [`parse`] checks the file's bytes and returns a [`Layout`]: the header values and, per layer,
//! its parameters and the element ranges of its tensors. Nothing is allocated per layer
//! before the layer count has been checked against the file length. [`Layout::build`] then
//! makes every tensor a view into the one aligned buffer and hands the layers to
//! [`Graph::new`], which validates the graph itself.

use std::fs::File;
use std::io::{ErrorKind as IoErrorKind, Read};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::{descriptor, group, group_kind, header, kind, sources_len, til};
use super::{
    DESCRIPTOR_LEN, GROUP_LEN, HEADER_LEN, LINKS_VERSION, MAGIC, PAYLOAD_ALIGN, STREAM_LIMIT,
    TRAILER_LEN, TRAILER_TAG, VERSION,
};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{
    AvgPool, Bias, Conv2d, Dense, Graph, Group, Layer, MaxPool, Node, Params, Shape, Source,
    Synapses, TilPolicy, Weights, Window,
};

/// The smallest possible file: a header and a trailer.
const MIN_LEN: usize = HEADER_LEN + TRAILER_LEN;

/// Reads a graph from the bytes of a graph file (see the [module docs](super)).
///
/// The bytes are copied once, into the aligned buffer every weight tensor of the returned
/// graph views.
///
/// # Errors
/// [`ErrorKind::Format`] with the byte offset of the offending field, or
/// [`ErrorKind::Checksum`], if the file is malformed; any error of [`Graph::new`] if the
/// graph it holds is not valid.
///
/// # Example
/// ```
/// use tdsnn_engine::{format, ErrorKind, GraphBuilder, Shape};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
///     .dense(2, vec![-1.0, 0.0, 0.0, -1.0], None)
///     .output(2, vec![1.0, 0.0, 0.0, 1.0], Some(vec![0.0, 0.25]))
///     .build()?;
/// let bytes = format::to_bytes(&graph);
/// assert_eq!(format::from_bytes(&bytes)?, graph);
///
/// // A truncated file is an error, never a panic.
/// let err = format::from_bytes(&bytes[..40]).unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::Format { offset: 40, .. }));
/// # Ok(()) }
/// ```
pub fn from_bytes(bytes: &[u8]) -> Result<Graph> {
    let layout = parse(bytes)?;
    // One allocation, filled in place: `Arc<[f32]>: FromIterator` writes an exact-size
    // iterator straight into the shared allocation. Decoding little-endian words here makes
    // the buffer native on any target.
    let words: Arc<[f32]> = bytes
        .chunks(4)
        .map(|c| {
            let mut word = [0u8; 4];
            word[..c.len()].copy_from_slice(c);
            f32::from_le_bytes(word)
        })
        .collect();
    layout.build(&words)
}

/// Reads the graph file at `path`.
///
/// The header is read first: the magic, then the file length it stores, which must equal a
/// regular file's size. Only then is the one 4-byte-aligned shared buffer allocated, of that
/// length, and the file read into it; every weight tensor of the returned graph is a view
/// into it: no tensor is copied. An input that is not a regular file (a pipe, a device,
/// `/dev/stdin`) is read the same way, up to [`STREAM_LIMIT`] bytes: a stream that is not a
/// graph file is refused after 8 bytes, and one that never ends costs at most that much
/// memory.
///
/// # Errors
/// [`ErrorKind::Io`] naming `path` if the file cannot be read, or grows or shrinks while
/// read; [`ErrorKind::StreamTooLong`] for a stream that declares more than
/// [`STREAM_LIMIT`] bytes; otherwise as [`from_bytes`].
///
/// # Example
/// ```
/// use tdsnn_engine::{format, ErrorKind, GraphBuilder, Shape};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = GraphBuilder::new(Shape::flat(3), 5.0)
///     .output(2, vec![0.5; 6], None)
///     .build()?;
/// let path = std::env::temp_dir().join(format!("tdsnn-doc-read-{}.grf", std::process::id()));
/// format::write(&graph, &path)?;
/// assert_eq!(format::read(&path)?, graph);
/// std::fs::remove_file(&path).ok();
///
/// let err = format::read(&path).unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::Io { .. }));
/// # if cfg!(unix) {
/// // Not a graph file: refused at its first byte, however long it is.
/// let err = format::read("/dev/zero").unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::Format { offset: 0, .. }));
/// # }
/// # Ok(()) }
/// ```
pub fn read(path: impl AsRef<Path>) -> Result<Graph> {
    let path = path.as_ref();
    let io = |message: String| -> Error {
        ErrorKind::Io {
            path: path.display().to_string(),
            message,
        }
        .into()
    };
    let mut file = File::open(path).map_err(|e| io(e.to_string()))?;
    let meta = file.metadata().map_err(|e| io(e.to_string()))?;
    let regular = meta.is_file().then_some(meta.len());

    // The header: the magic, then the length it declares.
    let mut head = [0u8; HEADER_LEN];
    let got = read_full(&mut file, &mut head).map_err(|e| io(e.to_string()))?;
    let head = &head[..got];
    // The same checks, in the same order, as parse(): a file read from disk gets the error
    // its bytes get from from_bytes().
    check_magic(head)?;
    if got < HEADER_LEN || regular.is_some_and(|size| size < MIN_LEN as u64) {
        // Too short for a header and a trailer, which parse() reports.
        let mut all = head.to_vec();
        file.take(MIN_LEN as u64)
            .read_to_end(&mut all)
            .map_err(|e| io(e.to_string()))?;
        return from_bytes(&all);
    }
    check_version(head)?;
    let declared = u64_at(head, header::FILE_LEN)?;
    match regular {
        Some(size) => check_file_len(declared, size)?,
        None if declared > STREAM_LIMIT => {
            return Err(ErrorKind::StreamTooLong {
                path: path.display().to_string(),
                declared,
                limit: STREAM_LIMIT,
            }
            .into())
        }
        None => {}
    }
    if declared < MIN_LEN as u64 {
        return Err(format_error(
            header::FILE_LEN,
            format!(
                "stored file length {declared} is shorter than a {MIN_LEN}-byte header and \
                 trailer"
            ),
        ));
    }
    let len = usize::try_from(declared)
        .ok()
        .filter(|&n| n <= isize::MAX as usize - 3)
        .ok_or_else(|| io(format!("a file of {declared} bytes does not fit in memory")))?;

    // The one buffer: zeroed words, then the file's bytes read straight into them.
    let mut words: Arc<[f32]> = std::iter::repeat_n(0.0f32, len.div_ceil(4)).collect();
    let Some(unique) = Arc::get_mut(&mut words) else {
        return Err(io("internal error: the fresh read buffer is shared".into()));
    };
    let dst = &mut bytemuck::cast_slice_mut::<f32, u8>(unique)[..len];
    dst[..HEADER_LEN].copy_from_slice(head);
    let rest = read_full(&mut file, &mut dst[HEADER_LEN..]).map_err(|e| io(e.to_string()))?;
    let end = HEADER_LEN + rest;
    let more = !at_end(&mut file).map_err(|e| io(e.to_string()))?;
    match regular {
        Some(size) if end < len || more => {
            let how = if more { "grew" } else { "shrank" };
            return Err(io(format!(
                "the file {how} while being read (its size was {size} bytes)"
            )));
        }
        None if more => {
            return Err(format_error(
                len,
                format!(
                    "the stream goes on past byte {len}, the end its stored file length declares"
                ),
            ))
        }
        // Cut short: the error these bytes get from from_bytes().
        None if end < len => {
            return from_bytes(&bytemuck::cast_slice::<f32, u8>(&words)[..end]);
        }
        _ => {}
    }

    let layout = parse(&bytemuck::cast_slice::<f32, u8>(&words)[..len])?;
    #[cfg(target_endian = "big")]
    {
        // The words hold little-endian bytes: make them native before anything views them.
        let Some(unique) = Arc::get_mut(&mut words) else {
            return Err(io("internal error: the read buffer is shared".into()));
        };
        for w in unique {
            *w = f32::from_bits(u32::from_le(w.to_bits()));
        }
    }
    layout.build(&words)
}

/// Reads into `buf` until it is full or the input ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == IoErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Whether `reader` has nothing more to give (reads at most one byte).
fn at_end(reader: &mut impl Read) -> std::io::Result<bool> {
    let mut probe = [0u8; 1];
    read_full(reader, &mut probe).map(|n| n == 0)
}

/// Checks the magic against the first bytes: all 8, or as many as a shorter input holds,
/// so that anything that is not a graph file is called so, however short.
fn check_magic(bytes: &[u8]) -> Result<()> {
    let n = bytes.len().min(MAGIC.len());
    if bytes[..n] == MAGIC[..n] {
        return Ok(());
    }
    Err(format_error(
        header::MAGIC,
        format!(
            "magic is \"{}\", expected \"{}\": not a TDSNN graph file",
            bytes[..n].escape_ascii(),
            MAGIC.escape_ascii()
        ),
    ))
}

/// Checks the format version: 1 (chains, `f32` biases) or 2 (links, `f64` biases).
fn check_version(bytes: &[u8]) -> Result<u32> {
    let version = u32_at(bytes, header::VERSION)?;
    if (1..=VERSION).contains(&version) {
        return Ok(version);
    }
    Err(format_error(
        header::VERSION,
        format!(
            "format version {version} is not supported (this reader reads versions 1 to \
             {VERSION}; a newer tdsnn wrote it)"
        ),
    ))
}

/// Checks the file length stored at [`header::FILE_LEN`] against the actual one.
fn check_file_len(stored: u64, actual: u64) -> Result<()> {
    if stored == actual {
        return Ok(());
    }
    Err(format_error(
        header::FILE_LEN,
        format!("stored file length {stored} differs from the actual length {actual}"),
    ))
}

/// What the file says, checked for structure; tensors as word ranges in the file.
#[derive(Debug)]
struct Layout {
    input: Shape,
    params: Params,
    layers: Vec<LayerLayout>,
    /// Every layer's source, coded (0 the input, `j + 1` layer `j`).
    sources: Vec<u32>,
    groups: Vec<GroupLayout>,
}

/// One layer descriptor, decoded.
#[derive(Debug)]
struct LayerLayout {
    kind: u32,
    params: [u32; descriptor::PARAM_SLOTS],
    weights: Option<Range<usize>>,
    /// The bias's words and the size of one value in bytes (8, or 4 in a version 1 file).
    bias: Option<(Range<usize>, usize)>,
}

/// One synapse group entry, decoded.
#[derive(Debug)]
struct GroupLayout {
    layer: usize,
    source: u32,
    kind: u32,
    params: [u32; descriptor::PARAM_SLOTS],
    weights: Option<Range<usize>>,
}

/// A window from six parameter slots.
fn window([kh, kw, sh, sw, ph, pw]: [u32; 6]) -> Window {
    Window {
        kernel: [kh, kw],
        stride: [sh, sw],
        padding: [ph, pw],
    }
}

impl Layout {
    /// The graph, every weight tensor a view into `words` (the whole file, native-endian
    /// words), biases decoded to `f64`.
    fn build(self, words: &Arc<[f32]>) -> Result<Graph> {
        let view = |r: Option<Range<usize>>| r.map(|r| Weights::view(words.clone(), r));
        let bias = |b: Option<(Range<usize>, usize)>| -> Option<Bias> {
            let (r, size) = b?;
            let w = &words[r];
            Some(if size == 8 {
                w.chunks_exact(2)
                    .map(|p| {
                        f64::from_bits(u64::from(p[0].to_bits()) | u64::from(p[1].to_bits()) << 32)
                    })
                    .collect()
            } else {
                w.iter().map(|&v| f64::from(v)).collect()
            })
        };
        let mut nodes: Vec<Node> = self
            .layers
            .into_iter()
            .zip(&self.sources)
            .map(|(l, &code)| {
                let [p0, p1, p2, p3, p4, p5, p6] = l.params;
                // A missing weight tensor becomes an empty one: Graph::new reports its size.
                let weights = view(l.weights).unwrap_or_else(|| Weights::from(Vec::new()));
                let bias = bias(l.bias);
                let layer = match l.kind {
                    kind::DENSE => Layer::Dense(Dense {
                        outputs: p0,
                        weights,
                        bias,
                    }),
                    kind::OUTPUT => Layer::Output(Dense {
                        outputs: p0,
                        weights,
                        bias,
                    }),
                    kind::CONV2D => Layer::Conv2d(Conv2d {
                        out_channels: p0,
                        window: window([p1, p2, p3, p4, p5, p6]),
                        weights,
                        bias,
                    }),
                    kind::AVG_POOL => Layer::AvgPool(AvgPool {
                        window: window([p0, p1, p2, p3, p4, p5]),
                        weight: f32::from_bits(p6),
                    }),
                    kind::MAX_POOL => Layer::MaxPool(MaxPool {
                        window: window([p0, p1, p2, p3, p4, p5]),
                    }),
                    // parse() admits no other kind.
                    _ => Layer::Flatten,
                };
                Node::new(layer, Source::from_index(code as usize))
            })
            .collect();
        for g in self.groups {
            let [p0, p1, p2, p3, p4, p5, p6] = g.params;
            let weights = view(g.weights).unwrap_or_else(|| Weights::from(Vec::new()));
            let synapses = match g.kind {
                group_kind::IDENTITY => Synapses::Identity {
                    weight: f32::from_bits(p0),
                },
                group_kind::CONV2D => Synapses::Conv2d(Conv2d {
                    out_channels: p0,
                    window: window([p1, p2, p3, p4, p5, p6]),
                    weights,
                    bias: None,
                }),
                // parse() admits no other kind.
                _ => Synapses::Dense(Dense {
                    outputs: p0,
                    weights,
                    bias: None,
                }),
            };
            nodes[g.layer].groups.push(Group {
                source: Source::from_index(g.source as usize),
                synapses,
            });
        }
        Graph::from_nodes(self.input, nodes, self.params)
    }
}

/// A [`ErrorKind::Format`] error at byte `offset`.
fn format_error(offset: usize, what: String) -> Error {
    ErrorKind::Format {
        offset: offset as u64,
        what,
    }
    .into()
}

/// The `N` bytes at `offset`, or a format error if the file ends first.
fn field<const N: usize>(bytes: &[u8], offset: usize) -> Result<[u8; N]> {
    offset
        .checked_add(N)
        .and_then(|end| bytes.get(offset..end))
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| format_error(offset, format!("file ends inside a {N}-byte field")))
}

fn u32_at(bytes: &[u8], offset: usize) -> Result<u32> {
    field(bytes, offset).map(u32::from_le_bytes)
}

fn u64_at(bytes: &[u8], offset: usize) -> Result<u64> {
    field(bytes, offset).map(u64::from_le_bytes)
}

fn f64_at(bytes: &[u8], offset: usize) -> Result<f64> {
    field(bytes, offset).map(f64::from_le_bytes)
}

/// The name of a layer kind code, for messages.
fn kind_name(code: u32) -> &'static str {
    match code {
        kind::DENSE => "dense",
        kind::CONV2D => "conv2d",
        kind::AVG_POOL => "avg_pool",
        kind::MAX_POOL => "max_pool",
        kind::FLATTEN => "flatten",
        kind::OUTPUT => "output",
        _ => "unknown",
    }
}

/// Checks the structure of a graph file and decodes its header and descriptors.
fn parse(bytes: &[u8]) -> Result<Layout> {
    let len = bytes.len();
    check_magic(bytes)?;
    if len < MIN_LEN {
        return Err(format_error(
            len,
            format!("the file is {len} bytes, shorter than a {MIN_LEN}-byte header and trailer"),
        ));
    }
    let version = check_version(bytes)?;
    let links = version >= LINKS_VERSION;
    check_file_len(u64_at(bytes, header::FILE_LEN)?, len as u64)?;
    let body = len - TRAILER_LEN;
    let tag: [u8; 4] = field(bytes, body + 4)?;
    if tag != TRAILER_TAG {
        return Err(format_error(
            body + 4,
            format!(
                "trailer tag is \"{}\", expected \"{}\": the file is truncated or damaged",
                tag.escape_ascii(),
                TRAILER_TAG.escape_ascii()
            ),
        ));
    }
    let stored = u32_at(bytes, body)?;
    let computed = crc32fast::hash(&bytes[..body]);
    if stored != computed {
        return Err(ErrorKind::Checksum { stored, computed }.into());
    }
    let count = u32_at(bytes, header::LAYER_COUNT)?;
    let room = (len - MIN_LEN) as u64;
    if u64::from(count) * DESCRIPTOR_LEN as u64 > room {
        return Err(format_error(
            header::LAYER_COUNT,
            format!(
                "{count} layer descriptors of {DESCRIPTOR_LEN} bytes do not fit in a \
                 {len}-byte file"
            ),
        ));
    }
    // Fits: count * DESCRIPTOR_LEN <= len.
    let count = count as usize;
    let group_count = u32_at(bytes, header::GROUPS)?;
    if !links && group_count != 0 {
        return Err(format_error(
            header::GROUPS,
            format!("reserved field is {group_count}, must be 0 in a version {version} file"),
        ));
    }
    let sources_at = HEADER_LEN + DESCRIPTOR_LEN * count;
    let groups_at = sources_at + if links { sources_len(count) } else { 0 };
    let links_end = u64::from(group_count)
        .checked_mul(GROUP_LEN as u64)
        .and_then(|n| n.checked_add(groups_at as u64))
        .filter(|&end| end <= body as u64)
        .ok_or_else(|| {
            format_error(
                header::GROUPS,
                format!(
                    "{count} layers' sources and {group_count} synapse group entries of \
                     {GROUP_LEN} bytes do not fit in a {len}-byte file"
                ),
            )
        })? as usize;

    let til_kind = u32_at(bytes, header::TIL_KIND)?;
    let til_fixed = u32_at(bytes, header::TIL_FIXED)?;
    let til = match til_kind {
        til::DYNAMIC if til_fixed != 0 => {
            return Err(format_error(
                header::TIL_FIXED,
                format!("fixed T_il is {til_fixed} but the T_il kind is dynamic; must be 0"),
            ))
        }
        til::DYNAMIC => TilPolicy::Dynamic,
        til::FIXED => TilPolicy::Fixed(til_fixed),
        other => {
            return Err(format_error(
                header::TIL_KIND,
                format!("unknown T_il kind {other} (0 dynamic, 1 fixed)"),
            ))
        }
    };
    let params = Params {
        leak: f64_at(bytes, header::LEAK)?,
        threshold: f64_at(bytes, header::THRESHOLD)?,
        til,
    };
    let input = Shape::new(
        u32_at(bytes, header::INPUT)?,
        u32_at(bytes, header::INPUT + 4)?,
        u32_at(bytes, header::INPUT + 8)?,
    );

    let mut area = PayloadArea {
        start: links_end,
        next: links_end,
        end: body,
    };
    let bias_size = if links { 8 } else { 4 };
    let mut layers = Vec::with_capacity(count);
    for i in 0..count {
        layers.push(parse_descriptor(bytes, i, bias_size, &mut area)?);
    }
    let mut sources = Vec::with_capacity(count);
    for k in 0..count {
        let code = if links {
            source_at(
                bytes,
                sources_at + 4 * k,
                count,
                &format!("layer {k}'s source"),
            )?
        } else {
            // A chain: layer k takes layer k - 1's spikes (the input's for k = 0).
            k as u32
        };
        sources.push(code);
    }
    if links {
        let pad = sources_at + 4 * count;
        if let Some(at) = (pad..groups_at).find(|&at| bytes[at] != 0) {
            return Err(format_error(
                at,
                "padding after the sources must be 0".into(),
            ));
        }
    }
    let mut groups = Vec::with_capacity(group_count as usize);
    for n in 0..group_count as usize {
        let entry = parse_group(bytes, groups_at + GROUP_LEN * n, n, count, &mut area)?;
        if let Some(prev) = groups.last().map(|g: &GroupLayout| g.layer) {
            if entry.layer < prev {
                return Err(format_error(
                    groups_at + GROUP_LEN * n + group::LAYER,
                    format!(
                        "group {n} belongs to layer {}, after a group of layer {prev}: entries \
                         come in layer order",
                        entry.layer
                    ),
                ));
            }
        }
        groups.push(entry);
    }
    Ok(Layout {
        input,
        params,
        layers,
        sources,
        groups,
    })
}

/// Decodes and checks descriptor `index`; its tensors must lie in `area`.
fn parse_descriptor(
    bytes: &[u8],
    index: usize,
    bias_size: usize,
    area: &mut PayloadArea,
) -> Result<LayerLayout> {
    let base = HEADER_LEN + DESCRIPTOR_LEN * index;
    let code = u32_at(bytes, base + descriptor::KIND)?;
    // How many parameter slots the kind uses, and whether it stores tensors.
    let (used, tensors) = match code {
        kind::DENSE | kind::OUTPUT => (1, true),
        kind::CONV2D => (7, true),
        kind::AVG_POOL => (7, false),
        kind::MAX_POOL => (6, false),
        kind::FLATTEN => (0, false),
        other => {
            return Err(format_error(
                base + descriptor::KIND,
                format!(
                    "layer {index}: unknown layer kind {other} (0 dense, 1 conv2d, 2 avg_pool, \
                     3 max_pool, 4 flatten, 5 output)"
                ),
            ))
        }
    };
    let name = kind_name(code);
    let mut params = [0u32; descriptor::PARAM_SLOTS];
    for (slot, p) in params.iter_mut().enumerate() {
        let at = base + descriptor::PARAMS + 4 * slot;
        *p = u32_at(bytes, at)?;
        if slot >= used && *p != 0 {
            return Err(format_error(
                at,
                format!(
                    "layer {index} ({name}): parameter slot {slot} is unused and must be 0, \
                     found {p}"
                ),
            ));
        }
    }
    let (weights, bias) = if tensors {
        (
            area.tensor(bytes, base + descriptor::WEIGHTS, 4, &|| {
                format!("layer {index} ({name}) weights")
            })?,
            area.tensor(bytes, base + descriptor::BIAS, bias_size, &|| {
                format!("layer {index} ({name}) bias")
            })?,
        )
    } else {
        for at in (base + descriptor::WEIGHTS..base + DESCRIPTOR_LEN).step_by(8) {
            let value = u64_at(bytes, at)?;
            if value != 0 {
                return Err(format_error(
                    at,
                    format!(
                        "layer {index} ({name}) stores no tensors; its tensor fields must be 0, \
                         found {value}"
                    ),
                ));
            }
        }
        (None, None)
    };
    Ok(LayerLayout {
        kind: code,
        params,
        weights,
        bias: bias.map(|r| (r, bias_size)),
    })
}

/// The source code at `at` (0 the input, `j + 1` layer `j`), at most `count`.
fn source_at(bytes: &[u8], at: usize, count: usize, what: &str) -> Result<u32> {
    let code = u32_at(bytes, at)?;
    if code as usize > count {
        return Err(format_error(
            at,
            format!("{what} is {code}, past the {count} layers (0 is the input, j + 1 layer j)"),
        ));
    }
    Ok(code)
}

/// Decodes and checks synapse group entry `n` at `base`; its weights must lie in `area`.
fn parse_group(
    bytes: &[u8],
    base: usize,
    n: usize,
    count: usize,
    area: &mut PayloadArea,
) -> Result<GroupLayout> {
    let layer = u32_at(bytes, base + group::LAYER)? as usize;
    if layer >= count {
        return Err(format_error(
            base + group::LAYER,
            format!("group {n} belongs to layer {layer}, past the {count} layers"),
        ));
    }
    let source = source_at(
        bytes,
        base + group::SOURCE,
        count,
        &format!("group {n}'s source"),
    )?;
    let code = u32_at(bytes, base + group::KIND)?;
    let (used, tensor) = match code {
        group_kind::IDENTITY => (1, false),
        group_kind::CONV2D => (7, true),
        group_kind::DENSE => (1, true),
        other => {
            return Err(format_error(
                base + group::KIND,
                format!("group {n}: unknown group kind {other} (0 identity, 1 conv2d, 2 dense)"),
            ))
        }
    };
    let mut params = [0u32; descriptor::PARAM_SLOTS];
    for (slot, p) in params.iter_mut().enumerate() {
        let at = base + group::PARAMS + 4 * slot;
        *p = u32_at(bytes, at)?;
        if slot >= used && *p != 0 {
            return Err(format_error(
                at,
                format!("group {n}: parameter slot {slot} is unused and must be 0, found {p}"),
            ));
        }
    }
    let zero = u64_at(bytes, base + group::ZERO)?;
    let weights = area.tensor(bytes, base + group::WEIGHTS, 4, &|| {
        format!("group {n} weights")
    })?;
    if zero != 0 || tensor != weights.is_some() {
        let at = if zero != 0 {
            base + group::ZERO
        } else {
            base + group::WEIGHTS
        };
        return Err(format_error(
            at,
            format!(
                "group {n}: {}",
                if zero != 0 {
                    "bytes 40..48 of a group entry must be 0".to_string()
                } else if tensor {
                    "a conv2d or dense group stores its weights".to_string()
                } else {
                    "an identity group stores no weights".to_string()
                }
            ),
        ));
    }
    Ok(GroupLayout {
        layer,
        source,
        kind: code,
        params,
        weights,
    })
}

/// The bytes payloads may occupy, `start..end`, and where the next one may begin.
#[derive(Debug)]
struct PayloadArea {
    /// First byte after the descriptor table.
    start: usize,
    /// First byte after the previous tensor: tensors are stored in order, never overlapping.
    next: usize,
    /// First byte of the trailer.
    end: usize,
}

impl PayloadArea {
    /// Checks the (offset, length) fields at `at` and returns the tensor's element range, or
    /// `None` if both are 0 (no tensor).
    fn tensor(
        &mut self,
        bytes: &[u8],
        at: usize,
        size: usize,
        name: &dyn Fn() -> String,
    ) -> Result<Option<Range<usize>>> {
        let offset = u64_at(bytes, at)?;
        let count = u64_at(bytes, at + 8)?;
        if offset == 0 && count == 0 {
            return Ok(None);
        }
        let what = |problem: String| format!("{}: {problem}", name());
        if offset % PAYLOAD_ALIGN as u64 != 0 {
            return Err(format_error(
                at,
                what(format!(
                    "offset {offset} is not a multiple of {PAYLOAD_ALIGN}"
                )),
            ));
        }
        if offset < self.start as u64 {
            return Err(format_error(
                at,
                what(format!(
                    "offset {offset} lies in the header or descriptor table (payloads start at \
                     byte {})",
                    self.start
                )),
            ));
        }
        if offset < self.next as u64 {
            return Err(format_error(
                at,
                what(format!(
                    "offset {offset} overlaps the previous tensor, which ends at byte {}; \
                     tensors are stored in layer order",
                    self.next
                )),
            ));
        }
        let end = match count
            .checked_mul(size as u64)
            .and_then(|n| offset.checked_add(n))
        {
            Some(end) if end <= self.end as u64 => end,
            Some(end) => {
                return Err(format_error(
                    at + 8,
                    what(format!(
                        "{count} elements at byte {offset} end at byte {end}, past the payload \
                         area, which ends at byte {}",
                        self.end
                    )),
                ))
            }
            None => {
                return Err(format_error(
                    at + 8,
                    what(format!(
                        "{count} elements at byte {offset} overflow the addressable range"
                    )),
                ))
            }
        };
        // Both fit in usize: end <= self.end, a usize.
        let (offset, end) = (offset as usize, end as usize);
        self.next = end;
        // In 4-byte words of the file.
        Ok(Some(offset / 4..end / 4))
    }
}
