//! IDX files, the format of the MNIST database: a pair of files, images and labels, read
//! into a [`Dataset`] and written back.
//!
//! An IDX file is a big-endian header followed by the data, row-major:
//!
//! | bytes | field |
//! |---|---|
//! | 0..2 | zero |
//! | 2 | element type (`0x08` unsigned byte, the only one read here) |
//! | 3 | number of dimensions `d` (3 for images: count, rows, columns; 1 for labels) |
//! | 4..4+4d | each dimension, `u32` big-endian |
//! | 4+4d.. | the product of the dimensions, one byte each |
//!
//! The magic numbers are therefore `0x00000803` for images and `0x00000801` for labels.
//!
//! Files as distributed, gzip-compressed (`t10k-images-idx3-ubyte.gz`), are read as they
//! are: gzip data is recognised by its magic bytes `1f 8b`, whatever the file's name, and
//! inflated.
//!
//! Reading checks the whole header against the data's actual length before allocating
//! anything, so a hostile header cannot cause a large allocation: memory is bounded by the
//! bytes really present. A file is read through [`input::read_bounded`] (a pipe or a device
//! such as `/dev/zero` costs at most [`input::STREAM_LIMIT`] bytes); gzip data is inflated
//! through [`input::inflate`] to at most the length its header describes, so a small file
//! that inflates to gigabytes is an error after that many bytes. Every failure is an
//! [`IdxError`] naming the file (`<memory>` for [`Dataset::from_bytes`]), which of the pair
//! it is, and the byte offset. Labels are arbitrary bytes, as IDX allows;
//! [`Dataset::max_label`] and [`Dataset::classes`] report their range. Cost: one pass over
//! the bytes and one allocation per file (plus the compressed bytes, for gzip).
//!
//! A directory holding both splits of a data set, as MNIST is distributed, is read by
//! [`load_split`], which finds the files by their usual names ([`find_split`]).

mod directory;

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use directory::{find_split, load_split, split_files, Split};

use crate::input::{self, InputError, InputErrorKind};

/// Element type code of unsigned bytes, the only one supported.
pub const UNSIGNED_BYTE: u8 = 0x08;
/// Magic number of an images file: unsigned bytes, 3 dimensions.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of a labels file: unsigned bytes, 1 dimension.
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Path shown in errors for data read from memory.
const MEMORY: &str = "<memory>";

/// Which file of a pair an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileRole {
    /// The images file: 3 dimensions (count, rows, columns).
    Images,
    /// The labels file: 1 dimension (count).
    Labels,
}

impl FileRole {
    /// Number of dimensions this file must declare: 3 for images, 1 for labels.
    pub fn dimensions(self) -> u8 {
        match self {
            FileRole::Images => 3,
            FileRole::Labels => 1,
        }
    }

    /// Name of dimension `axis`: `count`, `rows` or `columns`.
    fn axis_name(axis: usize) -> &'static str {
        match axis {
            0 => "count",
            1 => "rows",
            _ => "columns",
        }
    }

    /// Length of this file's header in bytes: 16 for images, 8 for labels.
    fn header_len(self) -> usize {
        4 + 4 * usize::from(self.dimensions())
    }
}

impl fmt::Display for FileRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileRole::Images => "images",
            FileRole::Labels => "labels",
        })
    }
}

/// Name of an IDX element type code.
fn type_name(code: u8) -> &'static str {
    match code {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "short",
        0x0C => "int",
        0x0D => "float",
        0x0E => "double",
        _ => "not an idx type",
    }
}

/// Dimensions joined as `a x b x c`.
fn join(dims: &[u32]) -> String {
    dims.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" x ")
}

/// An IDX file that cannot be read or written. Every variant names the file (`<memory>`
/// for [`Dataset::from_bytes`]), which of the pair it is, and where in it the problem lies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdxError {
    /// Opening, reading or writing the file failed.
    #[error("{} ({role}): {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Which file of the pair.
        role: FileRole,
        /// The operating system's error kind.
        kind: io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// The file cannot be read within its limits (a pipe or device past
    /// [`input::STREAM_LIMIT`], a file past [`input::FILE_LIMIT`], a file that changes while
    /// read), or its gzip data is damaged or inflates past the length its header describes.
    #[error("{} ({role}): {}", error.path.display(), error.kind)]
    Input {
        /// Which file of the pair.
        role: FileRole,
        /// What happened, and the file.
        error: InputError,
    },
    /// A data set directory holds none of the file names looked for.
    #[error(
        "{}: no {role} file: looked for {}",
        dir.display(),
        looked_for.join(", ")
    )]
    Missing {
        /// The directory.
        dir: PathBuf,
        /// Which file of the pair is missing.
        role: FileRole,
        /// Every file name looked for, in order.
        looked_for: Vec<String>,
    },
    /// The first two bytes are not zero, so this is not an IDX file.
    #[error(
        "{} ({role}): bad magic {found:#010x} at byte 0: an idx file starts with two zero \
         bytes, the element type and the number of dimensions (expected {expected:#010x})",
        path.display()
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// Which file of the pair.
        role: FileRole,
        /// The first four bytes, big-endian.
        found: u32,
        /// The magic number this file should have.
        expected: u32,
    },
    /// The element type (byte 2) is not unsigned byte.
    #[error(
        "{} ({role}): unsupported element type {code:#04x} ({}) at byte 2: only unsigned \
         byte (0x08) is supported",
        path.display(),
        type_name(*code)
    )]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// Which file of the pair.
        role: FileRole,
        /// The element type code found.
        code: u8,
    },
    /// The number of dimensions (byte 3) is not 3 for images or 1 for labels.
    #[error(
        "{} ({role}): {found} dimension(s) at byte 3, an idx {role} file has {expected}",
        path.display()
    )]
    Dimensions {
        /// The file.
        path: PathBuf,
        /// Which file of the pair.
        role: FileRole,
        /// The number of dimensions found.
        found: u8,
        /// The number required.
        expected: u8,
    },
    /// A dimension is 0: an empty data set or an empty image.
    #[error(
        "{} ({role}): dimension {axis} ({}) at byte {} is 0",
        path.display(),
        FileRole::axis_name(*axis),
        4 + 4 * axis
    )]
    ZeroDimension {
        /// The file.
        path: PathBuf,
        /// Which file of the pair.
        role: FileRole,
        /// Index of the dimension: 0 count, 1 rows, 2 columns. Its field is at byte
        /// `4 + 4 * axis`.
        axis: usize,
    },
    /// The header's dimensions multiply to more bytes than a `u64` counts (gzip data is
    /// not inflated then: `actual` is its compressed length).
    #[error(
        "{} ({role}): the dimensions {} at bytes 4..{} need more than {} bytes of data; the \
         file holds {actual} bytes",
        path.display(),
        join(dims),
        4 + 4 * dims.len(),
        u64::MAX
    )]
    SizeOverflow {
        /// The file.
        path: PathBuf,
        /// Which file of the pair.
        role: FileRole,
        /// The dimensions in the header.
        dims: Vec<u32>,
        /// The file's actual length in bytes.
        actual: u64,
    },
    /// The file ends before its header or its data does.
    #[error(
        "{} ({role}): {part} truncated at byte {actual}: the file holds {actual} bytes, \
         expected {expected}",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Which file of the pair.
        role: FileRole,
        /// What is cut short: `header` or `data`.
        part: &'static str,
        /// The file length the header requires (for a cut header: the header's length).
        expected: u64,
        /// The file's actual length, which is also the offset where it ends.
        actual: u64,
    },
    /// The file goes on after the data the header describes.
    #[error(
        "{} ({role}): {} trailing byte(s) from byte {expected}: the header describes \
         {expected} bytes, the file holds {actual}",
        path.display(),
        actual.saturating_sub(*expected)
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Which file of the pair.
        role: FileRole,
        /// The file length the header requires; the trailing bytes start here.
        expected: u64,
        /// The file's actual length.
        actual: u64,
    },
    /// The images and labels files hold different numbers of items (each count is the
    /// `u32` at byte 4 of its file).
    #[error(
        "{} holds {images} images but {} holds {labels} labels (counts at byte 4)",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// The labels file.
        labels_path: PathBuf,
        /// Number of images.
        images: u32,
        /// Number of labels.
        labels: u32,
    },
    /// A [`Dataset`] to be written does not describe a valid IDX pair.
    #[error(
        "dataset cannot be written: {images} image bytes, {labels} labels of {rows}x{cols} \
         pixels (an idx pair needs 1 to {} labels, rows and cols >= 1, and labels * rows * \
         cols image bytes)",
        u32::MAX
    )]
    Inconsistent {
        /// Length of [`Dataset::images`].
        images: usize,
        /// Length of [`Dataset::labels`].
        labels: usize,
        /// [`Dataset::rows`].
        rows: u32,
        /// [`Dataset::cols`].
        cols: u32,
    },
}

/// The file an error is about.
#[derive(Clone, Copy)]
struct Source<'a> {
    path: &'a Path,
    role: FileRole,
}

impl Source<'_> {
    fn io(self, e: &io::Error) -> IdxError {
        IdxError::Io {
            path: self.path.to_path_buf(),
            role: self.role,
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    /// An input error: the operating system's as [`IdxError::Io`], any other as
    /// [`IdxError::Input`].
    fn input(self, error: InputError) -> IdxError {
        match error.kind {
            InputErrorKind::Io { kind, message } => IdxError::Io {
                path: error.path,
                role: self.role,
                kind,
                message,
            },
            _ => IdxError::Input {
                role: self.role,
                error,
            },
        }
    }
}

/// A parsed header: the dimensions (count first), not yet checked against the data length.
struct Header {
    dims: Vec<u32>,
}

impl Header {
    /// Header length in bytes (8 or 16).
    fn len(&self) -> usize {
        4 + 4 * self.dims.len()
    }

    /// The whole file's length as the header describes it, if it fits a `u64`.
    fn file_len(&self) -> Option<u64> {
        self.dims
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(u64::from(d)))
            .and_then(|n| n.checked_add(self.len() as u64))
    }

    /// The error for dimensions whose product overflows, given the file's actual length.
    fn overflow(&self, actual: u64, src: Source<'_>) -> IdxError {
        IdxError::SizeOverflow {
            path: src.path.to_path_buf(),
            role: src.role,
            dims: self.dims.clone(),
            actual,
        }
    }

    /// Checks the data's length against the header, given the file's actual length.
    fn check_len(&self, actual: u64, src: Source<'_>) -> Result<(), IdxError> {
        let Some(expected) = self.file_len() else {
            return Err(self.overflow(actual, src));
        };
        match actual.cmp(&expected) {
            std::cmp::Ordering::Less => Err(IdxError::Truncated {
                path: src.path.to_path_buf(),
                role: src.role,
                part: "data",
                expected,
                actual,
            }),
            std::cmp::Ordering::Greater => Err(IdxError::TrailingBytes {
                path: src.path.to_path_buf(),
                role: src.role,
                expected,
                actual,
            }),
            std::cmp::Ordering::Equal => Ok(()),
        }
    }
}

/// Parses the header at the start of `bytes`, which may hold the whole file or only its
/// first bytes; a `bytes` shorter than the header means the file is that short.
fn parse_header(bytes: &[u8], src: Source<'_>) -> Result<Header, IdxError> {
    let path = || src.path.to_path_buf();
    let role = src.role;
    let truncated = |expected: usize| IdxError::Truncated {
        path: path(),
        role,
        part: "header",
        expected: expected as u64,
        actual: bytes.len() as u64,
    };
    let [b0, b1, code, ndims, ..] = *bytes else {
        return Err(truncated(4));
    };
    let expected_dims = role.dimensions();
    if b0 != 0 || b1 != 0 {
        return Err(IdxError::BadMagic {
            path: path(),
            role,
            found: u32::from_be_bytes([b0, b1, code, ndims]),
            expected: u32::from_be_bytes([0, 0, UNSIGNED_BYTE, expected_dims]),
        });
    }
    if code != UNSIGNED_BYTE {
        return Err(IdxError::UnsupportedType {
            path: path(),
            role,
            code,
        });
    }
    if ndims != expected_dims {
        return Err(IdxError::Dimensions {
            path: path(),
            role,
            found: ndims,
            expected: expected_dims,
        });
    }
    let header_len = role.header_len();
    let Some(fields) = bytes.get(4..header_len) else {
        return Err(truncated(header_len));
    };
    let dims: Vec<u32> = fields
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if let Some(axis) = dims.iter().position(|&d| d == 0) {
        return Err(IdxError::ZeroDimension {
            path: path(),
            role,
            axis,
        });
    }
    Ok(Header { dims })
}

/// Parses a whole file, plain or gzip-compressed: its header and its data. Plain bytes
/// given owned are not copied (the header is cut off in place).
fn decode(bytes: Cow<'_, [u8]>, src: Source<'_>) -> Result<(Header, Vec<u8>), IdxError> {
    if input::is_gzip(&bytes) {
        // The header first, to know how much the data may inflate to.
        let head = input::inflate_prefix(&bytes, src.role.header_len(), src.path)
            .map_err(|e| src.input(e))?;
        let header = parse_header(&head, src)?;
        let Some(expected) = header.file_len() else {
            return Err(header.overflow(bytes.len() as u64, src));
        };
        let plain = input::inflate(&bytes, expected.min(input::FILE_LIMIT), src.path)
            .map_err(|e| src.input(e))?;
        return decode(Cow::Owned(plain), src);
    }
    let header = parse_header(&bytes, src)?;
    header.check_len(bytes.len() as u64, src)?;
    // Both checks passed: the header's length is within `bytes`.
    let data = match bytes {
        Cow::Borrowed(b) => b.get(header.len()..).unwrap_or_default().to_vec(),
        Cow::Owned(mut b) => {
            b.drain(..header.len());
            b
        }
    };
    Ok((header, data))
}

/// Reads a file (at most [`input::FILE_LIMIT`] bytes, a stream at most
/// [`input::STREAM_LIMIT`]) and decodes it.
fn read_file(path: &Path, role: FileRole) -> Result<(Header, Vec<u8>), IdxError> {
    let src = Source { path, role };
    let bytes = input::read_bounded(path, input::FILE_LIMIT).map_err(|e| src.input(e))?;
    decode(Cow::Owned(bytes), src)
}

/// Images and labels of one IDX pair, for instance the MNIST training set.
///
/// [`Dataset::read`] and [`Dataset::from_bytes`] guarantee `rows >= 1`, `cols >= 1`,
/// `labels.len() >= 1` and `images.len() == labels.len() * rows * cols`; keep it so when
/// building one by hand ([`Dataset::write`] checks it).
///
/// # Example
/// ```
/// use tdsnn_io::idx::{Dataset, IdxError};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let two = Dataset {
///     images: vec![0, 255, 51, 1, 9, 8, 7, 6],
///     labels: vec![7, 3],
///     rows: 2,
///     cols: 2,
/// };
/// let (images, labels) = two.to_bytes()?;
/// assert_eq!(images[..4], [0, 0, 0x08, 3]); // magic 0x00000803
///
/// let back = Dataset::from_bytes(&images, &labels)?;
/// assert_eq!(back, two);
/// assert_eq!((back.len(), back.classes()), (2, 8));
/// assert_eq!(back.image(1), &[9, 8, 7, 6]);
/// assert_eq!(back.pixels(0), [0.0, 1.0, 0.2, 1.0 / 255.0]);
///
/// let err = Dataset::from_bytes(&images[..images.len() - 1], &labels).unwrap_err();
/// assert!(matches!(err, IdxError::Truncated { expected: 24, actual: 23, .. }));
/// assert_eq!(
///     err.to_string(),
///     "<memory> (images): data truncated at byte 23: the file holds 23 bytes, expected 24"
/// );
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Every image, row-major, one after the other: `len() * rows * cols` bytes.
    pub images: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
    /// Rows of each image.
    pub rows: u32,
    /// Columns of each image.
    pub cols: u32,
}

impl fmt::Debug for Dataset {
    /// A summary, not the bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("len", &self.len())
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("image_bytes", &self.images.len())
            .field("max_label", &self.max_label())
            .finish()
    }
}

impl Dataset {
    /// Reads an images file and a labels file, e.g. `train-images-idx3-ubyte` and
    /// `train-labels-idx1-ubyte`, each plain or gzip-compressed as distributed
    /// (`t10k-images-idx3-ubyte.gz`: recognised by its magic bytes, whatever its name). Each
    /// file is read whole, at most [`input::FILE_LIMIT`] bytes (a pipe or a device at most
    /// [`input::STREAM_LIMIT`]), and its header checked against its length; then the two
    /// counts must agree.
    ///
    /// # Errors
    /// [`IdxError::Io`] if a file cannot be read; [`IdxError::Input`] if it is over its
    /// limit, changes while read, or holds damaged gzip data or gzip data that inflates past
    /// the length its header describes; a format error naming the file and byte offset if
    /// either is malformed; [`IdxError::CountMismatch`] if the counts differ.
    ///
    /// # Example
    /// ```
    /// use tdsnn_io::idx::{Dataset, IdxError};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = std::env::temp_dir().join(format!("tdsnn-idx-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let (images, labels) = (dir.join("images-idx3-ubyte"), dir.join("labels-idx1-ubyte"));
    ///
    /// let one = Dataset { images: vec![0, 128, 255], labels: vec![4], rows: 1, cols: 3 };
    /// one.write(&images, &labels)?;
    /// assert_eq!(Dataset::read(&images, &labels)?, one);
    ///
    /// let err = Dataset::read(&images, dir.join("missing")).unwrap_err();
    /// assert!(matches!(err, IdxError::Io { kind: std::io::ErrorKind::NotFound, .. }));
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok(()) }
    /// ```
    pub fn read(
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
    ) -> Result<Dataset, IdxError> {
        let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
        let (image_header, images) = read_file(images_path, FileRole::Images)?;
        let (label_header, labels) = read_file(labels_path, FileRole::Labels)?;
        Dataset::assemble(
            images_path,
            labels_path,
            (&image_header, images),
            (&label_header, labels),
        )
    }

    /// Parses an images file and a labels file held in memory, each plain or
    /// gzip-compressed. Errors name the path `<memory>`; otherwise as [`Dataset::read`].
    /// Memory: the data, plus for gzip at most the length its header describes while
    /// inflating (a header claiming more than the data holds costs nothing more).
    ///
    /// # Errors
    /// As [`Dataset::read`], less [`IdxError::Io`].
    pub fn from_bytes(images: &[u8], labels: &[u8]) -> Result<Dataset, IdxError> {
        let memory = Path::new(MEMORY);
        let source = |role| Source { path: memory, role };
        let images = decode(Cow::Borrowed(images), source(FileRole::Images))?;
        let labels = decode(Cow::Borrowed(labels), source(FileRole::Labels))?;
        Dataset::assemble(memory, memory, (&images.0, images.1), (&labels.0, labels.1))
    }

    /// Builds the data set from two checked files.
    fn assemble(
        images_path: &Path,
        labels_path: &Path,
        (image_header, images): (&Header, Vec<u8>),
        (label_header, labels): (&Header, Vec<u8>),
    ) -> Result<Dataset, IdxError> {
        let (n_images, n_labels) = (image_header.dims[0], label_header.dims[0]);
        if n_images != n_labels {
            return Err(IdxError::CountMismatch {
                images_path: images_path.to_path_buf(),
                labels_path: labels_path.to_path_buf(),
                images: n_images,
                labels: n_labels,
            });
        }
        Ok(Dataset {
            images,
            labels,
            rows: image_header.dims[1],
            cols: image_header.dims[2],
        })
    }

    /// The two files' bytes: images (magic `0x00000803`) and labels (magic `0x00000801`).
    ///
    /// # Errors
    /// [`IdxError::Inconsistent`] unless `rows >= 1`, `cols >= 1`, there are 1 to
    /// `u32::MAX` labels, and `images.len() == labels.len() * rows * cols`.
    pub fn to_bytes(&self) -> Result<(Vec<u8>, Vec<u8>), IdxError> {
        let inconsistent = || IdxError::Inconsistent {
            images: self.images.len(),
            labels: self.labels.len(),
            rows: self.rows,
            cols: self.cols,
        };
        let count = u32::try_from(self.labels.len()).map_err(|_| inconsistent())?;
        let needed = (self.pixels_per_image())
            .and_then(|px| px.checked_mul(self.labels.len()))
            .ok_or_else(inconsistent)?;
        if count == 0 || self.rows == 0 || self.cols == 0 || self.images.len() != needed {
            return Err(inconsistent());
        }
        let mut images = Vec::with_capacity(16 + self.images.len());
        images.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
        for dim in [count, self.rows, self.cols] {
            images.extend_from_slice(&dim.to_be_bytes());
        }
        images.extend_from_slice(&self.images);
        let mut labels = Vec::with_capacity(8 + self.labels.len());
        labels.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
        labels.extend_from_slice(&count.to_be_bytes());
        labels.extend_from_slice(&self.labels);
        Ok((images, labels))
    }

    /// Writes the images and labels files (see [`Dataset::to_bytes`]), replacing any
    /// existing files.
    ///
    /// # Errors
    /// [`IdxError::Inconsistent`] as [`Dataset::to_bytes`]; [`IdxError::Io`] naming the file
    /// that could not be written.
    pub fn write(
        &self,
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
    ) -> Result<(), IdxError> {
        let (images, labels) = self.to_bytes()?;
        for (path, role, bytes) in [
            (images_path.as_ref(), FileRole::Images, images),
            (labels_path.as_ref(), FileRole::Labels, labels),
        ] {
            std::fs::write(path, bytes).map_err(|e| Source { path, role }.io(&e))?;
        }
        Ok(())
    }

    /// Number of images (and labels).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images. Never true for a data set read from IDX files.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `rows * cols`, if it fits a `usize`.
    fn pixels_per_image(&self) -> Option<usize> {
        usize::try_from(self.rows)
            .ok()?
            .checked_mul(usize::try_from(self.cols).ok()?)
    }

    /// Image `i`'s bytes (`rows * cols`, row-major), or `None` if `i >= len()` or the
    /// images do not extend that far.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len() {
            return None;
        }
        let px = self.pixels_per_image()?;
        let start = i.checked_mul(px)?;
        self.images.get(start..start.checked_add(px)?)
    }

    /// Image `i`'s bytes (`rows * cols`, row-major).
    ///
    /// # Panics
    /// If `i >= len()`, like slice indexing (see [`Dataset::get`] for the checked form).
    pub fn image(&self, i: usize) -> &[u8] {
        match self.get(i) {
            Some(image) => image,
            None => panic!("image {i} is out of range for a data set of {}", self.len()),
        }
    }

    /// Image `i` as network input: each byte divided by 255 (correctly rounded `f32`
    /// division, as `torchvision`'s `ToTensor`), so 0 is `0.0` and 255 is `1.0`.
    ///
    /// # Panics
    /// If `i >= len()`, as [`Dataset::image`].
    pub fn pixels(&self, i: usize) -> Vec<f32> {
        self.image(i)
            .iter()
            .map(|&b| f32::from(b) / 255.0)
            .collect()
    }

    /// The label of image `i`, or `None` if `i >= len()`.
    pub fn label(&self, i: usize) -> Option<u8> {
        self.labels.get(i).copied()
    }

    /// The largest label, or `None` for an empty data set. IDX labels are arbitrary bytes;
    /// for MNIST this is 9.
    pub fn max_label(&self) -> Option<u8> {
        self.labels.iter().copied().max()
    }

    /// Number of classes: the largest label plus 1 (0 for an empty data set).
    pub fn classes(&self) -> usize {
        self.max_label().map_or(0, |m| usize::from(m) + 1)
    }

    /// How many images carry each label, indexed by label (`classes()` entries).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes()];
        for &label in &self.labels {
            counts[usize::from(label)] += 1;
        }
        counts
    }
}

impl IdxError {
    /// Whether the operating system failed to open or read a file, or a data set directory
    /// lacks one (as opposed to a file that was read and found wrong).
    pub fn is_io(&self) -> bool {
        match self {
            IdxError::Io { .. } | IdxError::Missing { .. } => true,
            IdxError::Input { error, .. } => matches!(error.kind, InputErrorKind::Io { .. }),
            _ => false,
        }
    }
}
