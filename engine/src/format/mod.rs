//! The graph file format: little-endian, checksummed, read in place.
//!
//! A graph file holds one [`Graph`](crate::Graph): a fixed header, one fixed-size descriptor
//! per layer, the link table (each layer's source and the synapse groups of joins), the
//! payloads (`f32` weights, `f64` biases), and a trailer. All integers and floats are
//! little-endian.
//!
//! | bytes          | field                                                              |
//! |----------------|--------------------------------------------------------------------|
//! | `0..8`         | magic `b"TDSNNGRF"`                                                |
//! | `8..12`        | version, `u32` = 2 (1 is still read: see below)                    |
//! | `12..16`       | layer count, `u32`                                                 |
//! | `16..24`       | leak constant `L`, `f64`                                           |
//! | `24..32`       | firing threshold, `f64`                                            |
//! | `32..36`       | `T_il` kind, `u32`: 0 dynamic, 1 fixed                             |
//! | `36..40`       | fixed `T_il`, `u32` (0 when dynamic)                               |
//! | `40..52`       | input shape `c`, `h`, `w`, 3 × `u32`                               |
//! | `52..56`       | synapse group count, `u32`                                         |
//! | `56..64`       | total file length, `u64`                                           |
//! | `64..`         | `layer count` descriptors of 64 bytes each                         |
//! | …              | each layer's source, `layer count` × `u32`, padded to 8 bytes      |
//! | …              | `group count` group entries of 64 bytes each                       |
//! | …              | payloads, each at a multiple of 64, zero padding between           |
//! | last 8         | CRC-32 of every preceding byte, `u32`; then `b"TDSE"`              |
//!
//! A layer descriptor is: kind `u32` (0 dense, 1 conv2d, 2 avg_pool, 3 max_pool, 4 flatten,
//! 5 output); seven `u32` parameters; then weights offset, weights length, bias offset, bias
//! length, four `u64`. Offsets are in bytes from the start of the file, lengths in elements
//! (weights `f32`, biases `f64`: a bias neuron's weight `-b / G(1)` is kept unrounded);
//! offset 0 with length 0 means the tensor is absent.
//!
//! A layer's source is 0 for the input, `j + 1` for layer `j` (in a chain, layer `k`'s is
//! `k`). A group entry is: the layer it belongs to `u32`, its source `u32` (coded alike), its
//! kind `u32` (0 identity, 1 conv2d, 2 dense), seven `u32` parameters (identity: the weight's
//! `f32` bits; conv2d: as a conv2d layer's; dense: outputs), 8 zero bytes, then its weights'
//! offset and length, two `u64`. Entries come in layer order, a layer's in its group order.
//!
//! | kind            | parameters                                                    |
//! |-----------------|---------------------------------------------------------------|
//! | dense, output   | outputs                                                       |
//! | conv2d          | out_channels, kh, kw, sh, sw, ph, pw                          |
//! | avg_pool        | kh, kw, sh, sw, ph, pw, per-synapse weight (`f32` bits)       |
//! | max_pool        | kh, kw, sh, sw, ph, pw                                        |
//! | flatten         | —                                                             |
//!
//! Unused parameter slots, and the tensor fields of layers without tensors, are 0. Payloads
//! follow the link table in layer order, weights then bias, then the groups' weights in
//! order, without overlapping.
//!
//! Version 1 files (written before graphs could branch) have no link table, `f32` biases and
//! 0 at byte 52; they read as chains, every bias widened to `f64` exactly.
//!
//! # Reading in place
//!
//! [`read`] reads the file once into one 4-byte-aligned shared buffer, and every weight
//! tensor of the returned graph is a [`Weights`](crate::Weights) view into that buffer: no
//! tensor is copied. [`from_bytes`] makes the one copy of its input into such a buffer.
//!
//! [`read`] reads the header first and allocates only the length it stores, once that length
//! equals the file's size; an input that is not a regular file (a pipe, a device) is read up
//! to [`STREAM_LIMIT`] bytes. Anything that is not a graph file is refused at its magic,
//! after 8 bytes: `read("/dev/zero")` returns at once.
//!
//! # Validation
//!
//! The reader checks the file's structure (sizes, magic, version, trailer, checksum, stored
//! length, layer count, every descriptor field and every payload range) before it allocates
//! anything per layer, and reports a problem as [`ErrorKind::Format`](crate::ErrorKind::Format)
//! with the byte offset of the offending field, or [`ErrorKind::Checksum`](crate::ErrorKind::Checksum).
//! Everything about the graph itself (shapes, payload sizes, finite weights, `L`, the
//! threshold) is left to [`Graph::new`](crate::Graph::new), which names the offending layer. No input makes the
//! reader panic.

mod read;
mod write;

pub use read::{from_bytes, read};
pub use write::{to_bytes, write};

/// The 8 bytes every graph file starts with.
pub const MAGIC: [u8; 8] = *b"TDSNNGRF";

/// Whether `prefix`, the first bytes of a file, is the start of a graph file: whether it
/// begins with [`MAGIC`]. Eight bytes decide it; a model file (safetensors, which starts with
/// its header's length) never begins so.
///
/// # Example
/// ```
/// use tdsnn_engine::format::is_graph_file;
/// assert!(is_graph_file(b"TDSNNGRF\x01\0\0\0"));
/// assert!(!is_graph_file(b"TDSNNGR")); // too short to tell
/// assert!(!is_graph_file(&[0x58, 0x01, 0, 0, 0, 0, 0, 0, b'{']));
/// ```
pub fn is_graph_file(prefix: &[u8]) -> bool {
    prefix.starts_with(&MAGIC)
}

/// The format version this crate writes (and the newest it reads).
pub const VERSION: u32 = 2;

/// The first version whose files hold links and `f64` biases; older ones (1) are chains.
pub const LINKS_VERSION: u32 = 2;

/// Size of one synapse group entry in bytes.
pub const GROUP_LEN: usize = 64;

/// The 4 bytes every graph file ends with.
pub const TRAILER_TAG: [u8; 4] = *b"TDSE";

/// Size of the file header in bytes.
pub const HEADER_LEN: usize = 64;

/// The most bytes read from an input that is not a regular file (a pipe, a device,
/// `/dev/stdin`): 32 MiB. A regular file's size is known before it is read; a stream's is
/// not, so a stream without an end costs at most this much memory before it is refused.
/// LeNet-5's graph file is 1.7 MB; a larger one is read from a regular file.
pub const STREAM_LIMIT: u64 = 32 << 20;

/// Size of one layer descriptor in bytes.
pub const DESCRIPTOR_LEN: usize = 64;

/// Size of the trailer (CRC-32, then [`TRAILER_TAG`]) in bytes.
pub const TRAILER_LEN: usize = 8;

/// Every payload starts at a byte offset that is a multiple of this.
pub const PAYLOAD_ALIGN: usize = 64;

/// Byte offsets of the header fields.
mod header {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 8;
    pub const LAYER_COUNT: usize = 12;
    pub const LEAK: usize = 16;
    pub const THRESHOLD: usize = 24;
    pub const TIL_KIND: usize = 32;
    pub const TIL_FIXED: usize = 36;
    pub const INPUT: usize = 40;
    pub const GROUPS: usize = 52;
    pub const FILE_LEN: usize = 56;
}

/// Byte offsets of the fields within a layer descriptor.
mod descriptor {
    pub const KIND: usize = 0;
    pub const PARAMS: usize = 4;
    pub const WEIGHTS: usize = 32;
    pub const BIAS: usize = 48;
    /// Number of `u32` parameter slots.
    pub const PARAM_SLOTS: usize = 7;
}

/// Byte offsets of the fields within a synapse group entry.
mod group {
    pub const LAYER: usize = 0;
    pub const SOURCE: usize = 4;
    pub const KIND: usize = 8;
    pub const PARAMS: usize = 12;
    pub const ZERO: usize = 40;
    pub const WEIGHTS: usize = 48;
}

/// Synapse group kind codes.
mod group_kind {
    pub const IDENTITY: u32 = 0;
    pub const CONV2D: u32 = 1;
    pub const DENSE: u32 = 2;
}

/// Bytes of the sources table of `count` layers: 4 each, padded to 8.
fn sources_len(count: usize) -> usize {
    (4 * count).next_multiple_of(8)
}

/// `T_il` kinds in the header.
mod til {
    pub const DYNAMIC: u32 = 0;
    pub const FIXED: u32 = 1;
}

/// Layer kind codes in a descriptor.
mod kind {
    pub const DENSE: u32 = 0;
    pub const CONV2D: u32 = 1;
    pub const AVG_POOL: u32 = 2;
    pub const MAX_POOL: u32 = 3;
    pub const FLATTEN: u32 = 4;
    pub const OUTPUT: u32 = 5;
}
