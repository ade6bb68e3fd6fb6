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

use super::{descriptor, header, kind, til};
use super::{
    DESCRIPTOR_LEN, HEADER_LEN, MAGIC, PAYLOAD_ALIGN, STREAM_LIMIT, TRAILER_LEN, TRAILER_TAG,
    VERSION,
};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{
    AvgPool, Conv2d, Dense, Graph, Layer, MaxPool, Params, Shape, TilPolicy, Weights, Window,
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
/// let bytes = format::to_bytes(&graph)?;
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

/// Checks the format version.
fn check_version(bytes: &[u8]) -> Result<()> {
    let version = u32_at(bytes, header::VERSION)?;
    if version == VERSION {
        return Ok(());
    }
    Err(format_error(
        header::VERSION,
        format!("format version {version} is not supported (this reader reads {VERSION})"),
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

/// What the file says, checked for structure; tensors as element ranges in the file.
#[derive(Debug)]
struct Layout {
    input: Shape,
    params: Params,
    layers: Vec<LayerLayout>,
}

/// One layer descriptor, decoded.
#[derive(Debug)]
struct LayerLayout {
    kind: u32,
    params: [u32; descriptor::PARAM_SLOTS],
    weights: Option<Range<usize>>,
    bias: Option<Range<usize>>,
}

impl Layout {
    /// The graph, every tensor a view into `words` (the whole file, native-endian words).
    fn build(self, words: &Arc<[f32]>) -> Result<Graph> {
        let view = |r: Option<Range<usize>>| r.map(|r| Weights::view(words.clone(), r));
        let layers = self
            .layers
            .into_iter()
            .map(|l| {
                let [p0, p1, p2, p3, p4, p5, p6] = l.params;
                let window = |[kh, kw, sh, sw, ph, pw]: [u32; 6]| Window {
                    kernel: [kh, kw],
                    stride: [sh, sw],
                    padding: [ph, pw],
                };
                // A missing weight tensor becomes an empty one: Graph::new reports its size.
                let weights = view(l.weights).unwrap_or_else(|| Weights::from(Vec::new()));
                let bias = view(l.bias);
                match l.kind {
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
                }
            })
            .collect();
        Graph::new(self.input, layers, self.params)
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
    check_version(bytes)?;
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
    let reserved = u32_at(bytes, header::RESERVED)?;
    if reserved != 0 {
        return Err(format_error(
            header::RESERVED,
            format!("reserved field is {reserved}, must be 0"),
        ));
    }
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
        start: HEADER_LEN + DESCRIPTOR_LEN * count,
        next: HEADER_LEN + DESCRIPTOR_LEN * count,
        end: body,
    };
    let mut layers = Vec::with_capacity(count);
    for i in 0..count {
        layers.push(parse_descriptor(bytes, i, &mut area)?);
    }
    Ok(Layout {
        input,
        params,
        layers,
    })
}

/// Decodes and checks descriptor `index`; its tensors must lie in `area`.
fn parse_descriptor(bytes: &[u8], index: usize, area: &mut PayloadArea) -> Result<LayerLayout> {
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
            area.tensor(bytes, base + descriptor::WEIGHTS, index, name, "weights")?,
            area.tensor(bytes, base + descriptor::BIAS, index, name, "bias")?,
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
        bias,
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
        layer: usize,
        name: &str,
        tensor: &str,
    ) -> Result<Option<Range<usize>>> {
        let offset = u64_at(bytes, at)?;
        let count = u64_at(bytes, at + 8)?;
        if offset == 0 && count == 0 {
            return Ok(None);
        }
        let what = |problem: String| format!("layer {layer} ({name}) {tensor}: {problem}");
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
        let end = match count.checked_mul(4).and_then(|n| offset.checked_add(n)) {
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
        Ok(Some(offset / 4..end / 4))
    }
}
