//! The body of every fuzz target: one plain function per reader of tdsnn, fed the fuzzer's
//! bytes.
//!
//! Each target asserts only what must hold for any input: the reader returns (an error or a
//! value) without panicking and without an allocation beyond the fuzzer's memory limit, and
//! where the format has a writer, what was read writes back and reads back equal.
//!
//! | target | reader | input |
//! |---|---|---|
//! | [`graph_file`] | `tdsnn_engine::format::from_bytes` | a graph file, read as given and again with its length and checksum made to match |
//! | [`onnx`] | `tdsnn_io::onnx::import_onnx_with_data` | an ONNX model and its external data files, joined by [`SEPARATOR`] |
//! | [`model_file`] | `tdsnn_io::model_file::model_from_bytes` | a safetensors model file |
//! | [`idx`] | `tdsnn_io::idx::Dataset::from_bytes` | an images file and a labels file, joined by [`SEPARATOR`] |
//! | [`idx_gzip`] | the same | the same two files, each gzip-compressed by the target before reading |
//! | [`npy`] | `tdsnn_io::images::Images::from_npy_bytes`, `npy_labels_from_bytes` | an images NPY file and a labels NPY file, joined by [`SEPARATOR`] |
//! | [`convert`] | a model reader, then `tdsnn_converter::convert` and the graph file | [`ConvertHead`] (7 bytes: reader, `L`, `T_il`), then a model file, or an ONNX input as [`onnx`] takes it |
//!
//! This file is compiled twice: as the library of the fuzz crate, whose `fuzz_targets/` call
//! it under libFuzzer, and as a module of the regression test `tests/fuzz_regressions.rs`,
//! which replays the inputs committed under `tests/fuzz/<target>/` through the same functions
//! on stable Rust. It may therefore use only crates both see: `tdsnn-io`, `tdsnn-converter`,
//! `tdsnn-engine` and `crc32fast`.

use tdsnn_engine::graph::{max_t_il, MAX_LEAK, MIN_LEAK};
use tdsnn_engine::{format, Graph, TilPolicy};
use tdsnn_io::idx::Dataset;
use tdsnn_io::images::{Images, Inputs};
use tdsnn_io::model_file::{model_from_bytes, Model};
use tdsnn_io::onnx::{import_onnx_with_data, ExternalFiles, OnnxError};

/// A fuzz target: takes any bytes, panics only on a bug.
pub type Target = fn(&[u8]);

/// Every target by name: the name of its `fuzz_targets/` file, of its libFuzzer binary and of
/// its directory of regression inputs under `tests/fuzz/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("graph_file", graph_file),
    ("onnx", onnx),
    ("model_file", model_file),
    ("idx", idx),
    ("idx_gzip", idx_gzip),
    ("npy", npy),
    ("convert", convert),
];

/// Separates the files of an input that feeds a reader several files (IDX images and
/// labels, NPY images and labels). A separator rather than length prefixes, so that the
/// fuzzer's insertions and deletions in one file leave the others whole.
pub const SEPARATOR: &[u8] = b"\n==tdsnn-fuzz-file==\n";

/// The files of an input: its bytes split at every [`SEPARATOR`] (one file if there is
/// none).
pub fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut files = Vec::new();
    let mut rest = data;
    while let Some(at) = find_separator(rest) {
        files.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    files.push(rest);
    files
}

/// How far the search may move a window whose last byte is `b`: the distance from the last
/// occurrence of `b` in the separator (its last byte left out) to the separator's end.
const SHIFT: [usize; 256] = {
    let n = SEPARATOR.len();
    let mut shift = [n; 256];
    let mut i = 0;
    while i < n - 1 {
        shift[SEPARATOR[i] as usize] = n - 1 - i;
        i += 1;
    }
    shift
};

/// Where [`SEPARATOR`] first occurs in `bytes`, by Horspool's search: one window in about
/// every `SEPARATOR.len()` positions is compared. libFuzzer traces every comparison, and
/// comparing at every position took a third of the ONNX target's time.
fn find_separator(bytes: &[u8]) -> Option<usize> {
    let n = SEPARATOR.len();
    let mut at = 0;
    while let Some(window) = bytes.get(at..at + n) {
        if window.iter().zip(SEPARATOR).all(|(a, b)| a == b) {
            return Some(at);
        }
        at += SHIFT[usize::from(window[n - 1])];
    }
    None
}

/// One input made of `files`, the inverse of [`split`] (for files that do not contain the
/// separator).
pub fn join(files: &[&[u8]]) -> Vec<u8> {
    files.join(SEPARATOR)
}

/// File `i` of an input split by [`split`], or no bytes if it has fewer files.
fn file<'a>(files: &[&'a [u8]], i: usize) -> &'a [u8] {
    files.get(i).copied().unwrap_or_default()
}

/// Byte offset of a graph file's stored total length, a `u64` (see `tdsnn_engine::format`).
const GRAPH_FILE_LEN: usize = 56;

/// A graph file: read as given (the checksum and stored length see the mutations), then
/// sealed (stored length and trailer rewritten to match, so the structural checks behind
/// them see the mutations). A graph that reads must write back and read back equal.
pub fn graph_file(data: &[u8]) {
    read_graph(data);
    if let Some(sealed) = seal_graph(data) {
        read_graph(&sealed);
    }
}

/// `data` with its stored total length, CRC-32 and trailer tag rewritten to match its
/// bytes, or `None` if it is too short to hold a header and a trailer.
pub fn seal_graph(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < format::HEADER_LEN + format::TRAILER_LEN {
        return None;
    }
    let mut sealed = data.to_vec();
    let len = sealed.len();
    sealed[GRAPH_FILE_LEN..GRAPH_FILE_LEN + 8].copy_from_slice(&(len as u64).to_le_bytes());
    let body = len - format::TRAILER_LEN;
    let crc = crc32fast::hash(&sealed[..body]);
    sealed[body..body + 4].copy_from_slice(&crc.to_le_bytes());
    sealed[body + 4..].copy_from_slice(&format::TRAILER_TAG);
    Some(sealed)
}

fn read_graph(bytes: &[u8]) {
    if let Ok(graph) = format::from_bytes(bytes) {
        assert_graph_round_trip(&graph);
    }
}

/// A valid graph written with `to_bytes` reads back equal.
fn assert_graph_round_trip(graph: &Graph) {
    let bytes = format::to_bytes(graph);
    match format::from_bytes(&bytes) {
        Ok(back) => assert_eq!(&back, graph, "the graph read back differs"),
        Err(e) => panic!("a written graph does not read back: {e}"),
    }
}

/// An ONNX model, then the files holding its external tensor data, joined by [`SEPARATOR`]
/// (see [`onnx_input`]), imported from memory.
pub fn onnx(data: &[u8]) {
    let _ = import_onnx_files(&split(data));
}

/// Imports `files[0]` as an ONNX model whose external data files are `files[1..]`, each its
/// location, a newline, then its bytes.
fn import_onnx_files(files: &[&[u8]]) -> Result<Model, OnnxError> {
    let mut external = ExternalFiles::new();
    for data_file in &files[1..] {
        let (location, bytes) = match data_file.iter().position(|&b| b == b'\n') {
            Some(at) => (&data_file[..at], &data_file[at + 1..]),
            None => (&data_file[..], &[][..]),
        };
        external.insert(&String::from_utf8_lossy(location), bytes);
    }
    import_onnx_with_data(file(files, 0), "fuzz.onnx", &external)
}

/// The input of an ONNX model and its external data files, each `(location, bytes)`: what
/// [`onnx`] and [`convert`] take.
pub fn onnx_input(model: &[u8], data_files: &[(&str, &[u8])]) -> Vec<u8> {
    let named: Vec<Vec<u8>> = data_files
        .iter()
        .map(|(location, bytes)| [location.as_bytes(), b"\n", bytes].concat())
        .collect();
    let mut files = vec![model];
    files.extend(named.iter().map(Vec::as_slice));
    join(&files)
}

/// A safetensors model file, read from memory.
pub fn model_file(data: &[u8]) {
    let _ = model_from_bytes(data, "fuzz.safetensors");
}

/// An IDX pair, images then labels, as given: plain files, or anything else, gzip streams
/// included (an input starting with the gzip magic reaches the decompressor with hostile
/// compressed data). A data set that reads must write back and read back equal.
pub fn idx(data: &[u8]) {
    let files = split(data);
    read_idx(file(&files, 0), file(&files, 1));
}

/// An IDX pair, images then labels, each wrapped in a well-formed gzip stream by the target,
/// so that every mutation reaches the IDX parser behind the decompressor.
pub fn idx_gzip(data: &[u8]) {
    let files = split(data);
    read_idx(&gzip(file(&files, 0)), &gzip(file(&files, 1)));
}

fn read_idx(images: &[u8], labels: &[u8]) {
    let Ok(set) = Dataset::from_bytes(images, labels) else {
        return;
    };
    let (images, labels) = match set.to_bytes() {
        Ok(files) => files,
        Err(e) => panic!("a data set that was read cannot be written: {e}"),
    };
    match Dataset::from_bytes(&images, &labels) {
        Ok(back) => assert_eq!(back, set, "the data set read back differs"),
        Err(e) => panic!("a written data set does not read back: {e}"),
    }
    assert!(
        (0..set.len()).all(|i| set.get(i).is_some()),
        "an image of the data set is out of range"
    );
    assert_eq!(Images::from_dataset(&set, set.len()).count(), set.len());
}

/// `bytes` as one gzip member (RFC 1952) of stored deflate blocks (RFC 1951, block type 0):
/// every decompressor reads it, and no compressor is needed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    // Magic, deflate, no flags, no modification time, no extra flags, unknown OS.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut blocks = bytes.chunks(usize::from(u16::MAX)).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = u8::from(blocks.peek().is_none());
        let len = block.len() as u16;
        out.push(last);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32fast::hash(bytes).to_le_bytes());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out
}

/// An NPY images file, then optionally an NPY labels file for those images, joined by
/// [`SEPARATOR`]. Images that read are `N x C x H x W` values in `[0, 1]`; labels that read
/// are one per image.
pub fn npy(data: &[u8]) {
    let files = split(data);
    let Ok(mut images) = Images::from_npy_bytes(file(&files, 0), "fuzz.npy") else {
        return;
    };
    let per = images.shape.len() as usize;
    assert!(per > 0, "an image of no values");
    assert_eq!(images.values.len() % per, 0, "a partial image");
    assert!(
        images.values.iter().all(|v| (0.0..=1.0).contains(v)),
        "a value outside [0, 1]"
    );
    if files.len() > 1
        && images
            .npy_labels_from_bytes(file(&files, 1), "fuzz-labels.npy")
            .is_ok()
    {
        let labels = images.labels.as_ref().map(Vec::len);
        assert_eq!(labels, Some(images.count()), "not one label per image");
    }
}

/// The 7 bytes a [`convert`] input starts with: which reader reads the model, `L` and `T_il`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvertHead {
    /// Byte 0: odd for ONNX, even for a safetensors model file.
    pub onnx: bool,
    /// Bytes 1..3, `u16` little-endian: `L` in 64ths, clamped to the engine's
    /// `[MIN_LEAK, MAX_LEAK]`.
    pub leak: f64,
    /// Bytes 3..7, `u32` little-endian: 0 for dynamic, `t + 1` for `Fixed(t)`, `t` taken
    /// modulo `max_t_il(L) + 1`.
    pub til: TilPolicy,
}

impl ConvertHead {
    /// Length of the head in bytes.
    pub const LEN: usize = 7;

    /// Reads the head off an input: the head, and the model file after it.
    pub fn parse(data: &[u8]) -> Option<(ConvertHead, &[u8])> {
        let (head, model) = data.split_first_chunk::<{ ConvertHead::LEN }>()?;
        let leak =
            (f64::from(u16::from_le_bytes([head[1], head[2]])) / 64.0).clamp(MIN_LEAK, MAX_LEAK);
        let til = match u32::from_le_bytes([head[3], head[4], head[5], head[6]]) {
            0 => TilPolicy::Dynamic,
            t => TilPolicy::Fixed((t - 1) % max_t_il(leak).saturating_add(1)),
        };
        let head = ConvertHead {
            onnx: head[0] % 2 == 1,
            leak,
            til,
        };
        Some((head, model))
    }

    /// The input made of this head and `model` (`L` rounded to 64ths).
    pub fn input(&self, model: &[u8]) -> Vec<u8> {
        let leak = (self.leak * 64.0).round() as u16;
        let til = match self.til {
            TilPolicy::Dynamic => 0,
            TilPolicy::Fixed(t) => t.saturating_add(1),
        };
        let mut input = vec![u8::from(self.onnx)];
        input.extend_from_slice(&leak.to_le_bytes());
        input.extend_from_slice(&til.to_le_bytes());
        input.extend_from_slice(model);
        input
    }
}

/// The whole model-to-graph path: a model file (the reader [`ConvertHead`] picks), converted
/// with its `L` and `T_il`, the graph written as a graph file and read back equal.
pub fn convert(data: &[u8]) {
    let Some((head, bytes)) = ConvertHead::parse(data) else {
        return;
    };
    let model: Option<Model> = if head.onnx {
        import_onnx_files(&split(bytes)).ok()
    } else {
        model_from_bytes(bytes, "fuzz.safetensors").ok()
    };
    let Some(model) = model else {
        return;
    };
    if let Ok(graph) = tdsnn_converter::convert(&model.dnn, head.leak, head.til) {
        assert_graph_round_trip(&graph);
    }
}
