//! Input files read whole under a byte limit, and gzip data inflated under one.
//!
//! Every reader of this crate (model files, IDX data sets) reads its file through
//! [`read_bounded`], so no input can make it allocate more than it has checked:
//!
//! - a **regular file**'s size is taken from its metadata and refused if over the limit;
//!   exactly that many bytes are read, into one allocation of that size, and a file that
//!   grows or shrinks while being read is an error;
//! - anything else (a pipe, a device such as `/dev/zero`, `/dev/stdin`) has no size to
//!   check, so it is read into a buffer of at most [`STREAM_LIMIT`] bytes (or the limit
//!   given, if smaller) and refused past it: a stream without an end costs at most that much
//!   memory (measured: 32.4 MiB of peak memory for `/dev/zero`).
//!
//! [`inflate`] does the same for gzip data, recognised by its magic bytes
//! ([`GZIP_MAGIC`], [`is_gzip`]), never by a file name: it inflates at most the bytes asked
//! for and fails if the data inflates past them, so a small file that inflates to gigabytes
//! (a "gzip bomb") costs at most the limit. Concatenated gzip members are read as one stream,
//! as `gunzip` does.
//!
//! Every failure is an [`InputError`] naming the path and what happened.
//!
//! # Example
//! ```
//! use tdsnn_io::input::{self, InputErrorKind};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let path = std::env::temp_dir().join(format!("tdsnn-input-doc-{}", std::process::id()));
//! std::fs::write(&path, b"four")?;
//! assert_eq!(input::read_bounded(&path, 4)?, b"four");
//!
//! let err = input::read_bounded(&path, 3).unwrap_err();
//! assert_eq!(err.kind, InputErrorKind::TooLarge { size: 4, limit: 3 });
//! std::fs::remove_file(&path)?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// The most bytes read from an input that is not a regular file (a pipe, a device,
/// `/dev/stdin`): 32 MiB, the same as the engine's graph reader
/// ([`tdsnn_engine::format::STREAM_LIMIT`]). Save a larger input to a regular file.
pub const STREAM_LIMIT: u64 = tdsnn_engine::format::STREAM_LIMIT;

/// The largest regular file the readers of this crate accept: 4 GiB. The largest inputs in
/// use are well under it (VGG-16's model file is 553 MB, MNIST's training images 47 MB,
/// EMNIST's largest IDX file 547 MB); a larger size is more likely a sparse or damaged file
/// than a model, and is refused before any memory is allocated.
pub const FILE_LIMIT: u64 = 4 << 30;

/// The two bytes every gzip member starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The smallest step by which a buffer grows past [`STREAM_LIMIT`].
const CHUNK: usize = 64 << 10;

/// An input that cannot be read: which one, and what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct InputError {
    /// The file (`<memory>` for bytes held in memory).
    pub path: PathBuf,
    /// What happened.
    pub kind: InputErrorKind,
}

/// What went wrong reading an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputErrorKind {
    /// The operating system refused to open or read the file.
    #[error("{message}")]
    Io {
        /// The operating system's error kind.
        kind: io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// A regular file larger than the limit.
    #[error("the file is {}, more than the {} accepted", Bytes(*size), Bytes(*limit))]
    TooLarge {
        /// The file's size, from its metadata.
        size: u64,
        /// The most bytes accepted.
        limit: u64,
    },
    /// An input that is not a regular file (a pipe, a device) and goes on past the limit.
    #[error(
        "not a regular file (a pipe or a device) and longer than {}, the most read from a \
         stream: save it to a regular file",
        Bytes(*limit)
    )]
    StreamTooLong {
        /// The most bytes read from the stream.
        limit: u64,
    },
    /// A regular file that grew while it was read.
    #[error(
        "the file grew while being read (its size was {}): read it once it is complete",
        Bytes(*size)
    )]
    Grew {
        /// The file's size when it was opened.
        size: u64,
    },
    /// A regular file that shrank while it was read.
    #[error(
        "the file shrank while being read: it ended after {read} of its {}",
        Bytes(*size)
    )]
    Shrank {
        /// The file's size when it was opened.
        size: u64,
        /// The bytes there were.
        read: u64,
    },
    /// Gzip data that cannot be inflated: damaged, cut short, or followed by other bytes.
    #[error("damaged gzip data: {message}")]
    Gzip {
        /// The decoder's message.
        message: String,
    },
    /// Gzip data that inflates past the limit.
    #[error("the gzip data inflates to more than {}, the most expected", Bytes(*limit))]
    InflatesPast {
        /// The most bytes expected.
        limit: u64,
    },
}

/// A byte count for messages: `1234 bytes`, with MiB added from 1 MiB on.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIB: u64 = 1 << 20;
        write!(f, "{} bytes", self.0)?;
        if self.0 >= MIB {
            write!(f, " ({:.1} MiB)", self.0 as f64 / MIB as f64)?;
        }
        Ok(())
    }
}

impl InputError {
    fn new(path: &Path, kind: InputErrorKind) -> InputError {
        InputError {
            path: path.to_path_buf(),
            kind,
        }
    }

    /// The operating system's error `e` reading `path`.
    pub fn io(path: &Path, e: &io::Error) -> InputError {
        InputError::new(
            path,
            InputErrorKind::Io {
                kind: e.kind(),
                message: e.to_string(),
            },
        )
    }

    fn gzip(path: &Path, e: &io::Error) -> InputError {
        InputError::new(
            path,
            InputErrorKind::Gzip {
                message: e.to_string(),
            },
        )
    }
}

/// Whether `bytes` start with the gzip magic ([`GZIP_MAGIC`]).
///
/// # Example
/// ```
/// assert!(tdsnn_io::input::is_gzip(&[0x1f, 0x8b, 8, 0]));
/// assert!(!tdsnn_io::input::is_gzip(&[0, 0, 8, 3]));
/// ```
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Reads the whole file at `path`, at most `limit` bytes of it.
///
/// A regular file larger than `limit` is refused before anything is read; otherwise it is
/// read into one allocation of its size. Any other input (pipe, device, `/dev/stdin`) is
/// read up to `limit` or [`STREAM_LIMIT`] bytes, whichever is smaller, and refused past
/// it. Memory: the bytes returned, never more than the smaller limit for a stream.
///
/// # Errors
/// [`InputErrorKind::Io`] if the file cannot be opened or read (or the memory cannot be
/// had: kind `OutOfMemory`), [`InputErrorKind::TooLarge`], [`InputErrorKind::StreamTooLong`],
/// [`InputErrorKind::Grew`] or [`InputErrorKind::Shrank`]; each names `path`.
///
/// # Example
/// ```
/// use tdsnn_io::input::{read_bounded, InputErrorKind, STREAM_LIMIT};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # if cfg!(unix) {
/// // A device without an end: refused after STREAM_LIMIT bytes, not read forever.
/// let err = read_bounded("/dev/zero", u64::MAX).unwrap_err();
/// assert_eq!(err.kind, InputErrorKind::StreamTooLong { limit: STREAM_LIMIT });
/// # }
/// # Ok(()) }
/// ```
pub fn read_bounded(path: impl AsRef<Path>, limit: u64) -> Result<Vec<u8>, InputError> {
    let path = path.as_ref();
    let io = |e: io::Error| InputError::io(path, &e);
    let mut file = File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_file() {
        let size = meta.len();
        let too_large = || InputError::new(path, InputErrorKind::TooLarge { size, limit });
        if size > limit {
            return Err(too_large());
        }
        let len = usize::try_from(size).map_err(|_| too_large())?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(len)
            .map_err(|e| io(out_of_memory(e)))?;
        read_up_to(&mut file, len, &mut bytes).map_err(io)?;
        if bytes.len() < len {
            let read = bytes.len() as u64;
            return Err(InputError::new(path, InputErrorKind::Shrank { size, read }));
        }
        if !at_end(&mut file).map_err(io)? {
            return Err(InputError::new(path, InputErrorKind::Grew { size }));
        }
        Ok(bytes)
    } else {
        let limit = limit.min(STREAM_LIMIT);
        // Fits: STREAM_LIMIT is 32 MiB.
        let max = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut bytes = Vec::new();
        read_up_to(&mut file, max, &mut bytes).map_err(io)?;
        if !at_end(&mut file).map_err(io)? {
            return Err(InputError::new(
                path,
                InputErrorKind::StreamTooLong { limit },
            ));
        }
        Ok(bytes)
    }
}

/// Inflates gzip `bytes` (one or more members), at most `limit` bytes of output; `path`
/// names the input in errors (`<memory>` for bytes held in memory).
///
/// Memory: at most `limit` bytes, written only as the data actually inflates (a limit larger
/// than the data costs nothing more).
///
/// # Errors
/// [`InputErrorKind::InflatesPast`] if the data inflates to more than `limit` bytes,
/// [`InputErrorKind::Gzip`] if it is not gzip, damaged or cut short.
///
/// # Example
/// ```
/// use std::io::Write;
/// use std::path::Path;
/// use flate2::{write::GzEncoder, Compression};
/// use tdsnn_io::input::{inflate, is_gzip, InputErrorKind};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut gz = GzEncoder::new(Vec::new(), Compression::default());
/// gz.write_all(&[7; 1000])?;
/// let gz = gz.finish()?;
/// assert!(is_gzip(&gz));
///
/// assert_eq!(inflate(&gz, 1000, Path::new("<memory>"))?, [7; 1000]);
/// let err = inflate(&gz, 999, Path::new("<memory>")).unwrap_err();
/// assert_eq!(err.kind, InputErrorKind::InflatesPast { limit: 999 });
/// # Ok(()) }
/// ```
pub fn inflate(bytes: &[u8], limit: u64, path: &Path) -> Result<Vec<u8>, InputError> {
    let max = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut decoder = MultiGzDecoder::new(bytes);
    let mut out = Vec::new();
    read_up_to(&mut decoder, max, &mut out).map_err(|e| InputError::gzip(path, &e))?;
    if !at_end(&mut decoder).map_err(|e| InputError::gzip(path, &e))? {
        return Err(InputError::new(
            path,
            InputErrorKind::InflatesPast { limit },
        ));
    }
    Ok(out)
}

/// The first `len` bytes gzip `bytes` inflate to (fewer if the data is shorter), for
/// reading a header before deciding how much of the rest to accept; `path` names the input
/// in errors.
///
/// # Errors
/// [`InputErrorKind::Gzip`] if the data is not gzip or is damaged within those bytes.
pub fn inflate_prefix(bytes: &[u8], len: usize, path: &Path) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::new();
    read_up_to(&mut MultiGzDecoder::new(bytes), len, &mut out)
        .map_err(|e| InputError::gzip(path, &e))?;
    Ok(out)
}

/// Reads the file at `path` (as [`read_bounded`], at most `file_limit` bytes) and, if it is
/// gzip data (by its magic, whatever its name), inflates it (as [`inflate`], at most
/// `limit` bytes); a plain file must itself hold at most `limit` bytes.
///
/// # Errors
/// As [`read_bounded`] and [`inflate`]; [`InputErrorKind::TooLarge`] for a plain file over
/// `limit`.
pub fn read_decompressed(
    path: impl AsRef<Path>,
    file_limit: u64,
    limit: u64,
) -> Result<Vec<u8>, InputError> {
    let path = path.as_ref();
    let bytes = read_bounded(path, file_limit)?;
    if is_gzip(&bytes) {
        inflate(&bytes, limit, path)
    } else if bytes.len() as u64 > limit {
        Err(InputError::new(
            path,
            InputErrorKind::TooLarge {
                size: bytes.len() as u64,
                limit,
            },
        ))
    } else {
        Ok(bytes)
    }
}

/// Appends from `reader` to `bytes` until the reader ends or `bytes` holds `max` bytes.
///
/// Reads straight into `bytes`' spare capacity. The capacity is reserved once, up to
/// [`STREAM_LIMIT`], before reading: reserved pages that are never written cost no memory, and
/// growing by doubling instead would hold both the old and the new buffer at each step (and
/// some allocators keep the old ones). Past that it grows by doubling, never beyond `max`.
fn read_up_to(reader: &mut impl Read, max: usize, bytes: &mut Vec<u8>) -> io::Result<()> {
    let first = max.min(STREAM_LIMIT as usize).saturating_sub(bytes.len());
    bytes.try_reserve_exact(first).map_err(out_of_memory)?;
    loop {
        let room = max - bytes.len();
        if room == 0 {
            return Ok(());
        }
        if bytes.capacity() == bytes.len() {
            let grow = bytes.len().max(CHUNK).min(room);
            bytes.try_reserve_exact(grow).map_err(out_of_memory)?;
        }
        let want = (bytes.capacity() - bytes.len()).min(room);
        let before = bytes.len();
        reader.by_ref().take(want as u64).read_to_end(bytes)?;
        if bytes.len() - before < want {
            // The reader ended: give back a reservation mostly unused.
            if bytes.len() < bytes.capacity() / 2 {
                bytes.shrink_to_fit();
            }
            return Ok(());
        }
    }
}

/// Whether `reader` has nothing more to give (reads at most one byte).
fn at_end(reader: &mut impl Read) -> io::Result<bool> {
    let mut probe = [0u8; 1];
    loop {
        match reader.read(&mut probe) {
            Ok(n) => return Ok(n == 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

fn out_of_memory(e: std::collections::TryReserveError) -> io::Error {
    io::Error::new(io::ErrorKind::OutOfMemory, e.to_string())
}
