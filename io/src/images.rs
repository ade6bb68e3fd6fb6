//! Inputs to evaluate: a labelled IDX data set ([`Dataset`]) or an NPY array of images
//! ([`Images`], `N x C x H x W` float32 in `[0, 1]`, labels optional), behind one trait
//! ([`Inputs`]).
//!
//! NPY files are read strictly and in bounded memory: the file through
//! [`input::read_bounded`], then its header checked before it is parsed (at most 10,000
//! bytes, as numpy's own reader; a shape whose element count overflows is an error, not a
//! wrapped count) and against the data, which must be exactly what the header describes.

use std::cmp::Ordering;
use std::path::Path;

use tdsnn_engine::Shape;

use crate::idx::Dataset;
use crate::input::{self, InputErrorKind};

/// Images the evaluation can run: how many, their shape, each one's values, each one's label.
pub trait Inputs: Sync {
    /// Number of images.
    fn count(&self) -> usize;
    /// Shape of one image (C, H, W).
    fn shape(&self) -> Shape;
    /// Image `i`'s values, channel-major, in `[0, 1]`. Panics if `i` is out of range.
    fn input(&self, i: usize) -> Vec<f32>;
    /// Image `i`'s values into `buffer` (replacing what it held), without allocating when
    /// the inputs hold them as they are. Panics if `i` is out of range.
    fn input_into(&self, i: usize, buffer: &mut Vec<f32>) {
        *buffer = self.input(i);
    }
    /// Image `i`'s label, if the inputs are labelled.
    fn label(&self, i: usize) -> Option<usize>;
}

impl Inputs for Dataset {
    fn count(&self) -> usize {
        self.len()
    }

    fn shape(&self) -> Shape {
        Shape::new(1, self.rows, self.cols)
    }

    fn input(&self, i: usize) -> Vec<f32> {
        self.pixels(i)
    }

    fn label(&self, i: usize) -> Option<usize> {
        self.labels.get(i).map(|&l| usize::from(l))
    }
}

/// An image whose label is not one of a network's classes ([`check_labels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "image {image}: label {label}, but the network has {classes} classes (labels 0 to {})",
    classes.saturating_sub(1)
)]
pub struct LabelError {
    /// Index of the image (the first with such a label).
    pub image: usize,
    /// Its label.
    pub label: usize,
    /// The network's number of classes.
    pub classes: usize,
}

/// Errors unless every label of `data` is one of `classes` classes (`0..classes`), naming
/// the first image whose label is not. Evaluating and training check this before they start.
///
/// # Example
/// ```
/// use tdsnn_io::idx::Dataset;
/// use tdsnn_io::images::{check_labels, LabelError};
/// let data = Dataset { images: vec![0; 3], labels: vec![1, 9, 2], rows: 1, cols: 1 };
/// assert_eq!(check_labels(&data, 10), Ok(()));
/// let err = check_labels(&data, 3).unwrap_err();
/// assert_eq!(err, LabelError { image: 1, label: 9, classes: 3 });
/// assert_eq!(err.to_string(), "image 1: label 9, but the network has 3 classes (labels 0 to 2)");
/// ```
pub fn check_labels(data: &impl Inputs, classes: usize) -> Result<(), LabelError> {
    match (0..data.count()).find_map(|i| data.label(i).filter(|&l| l >= classes).map(|l| (i, l))) {
        Some((image, label)) => Err(LabelError {
            image,
            label,
            classes,
        }),
        None => Ok(()),
    }
}

/// Accuracy: the fraction of images whose class, the argmax of a network's outputs, is their
/// label, from one `(class, label)` pair per image. An image without a class (its forward
/// pass failed) or without a label counts as wrong; no images give 0. Every accuracy tdsnn
/// reports is counted here: training's per epoch, the held-out ones, the evaluation's.
///
/// # Example
/// ```
/// use tdsnn_io::images::accuracy;
/// let classes = [3, 1, 4, 1];
/// let labels = [3, 1, 4, 0];
/// let pairs = classes.iter().zip(labels).map(|(&c, l)| (Some(c), Some(l)));
/// assert_eq!(accuracy(pairs), 0.75);
/// assert_eq!(accuracy([(None, Some(2)), (Some(2), None), (None, None)]), 0.0);
/// assert_eq!(accuracy([]), 0.0);
/// ```
pub fn accuracy(pairs: impl IntoIterator<Item = (Option<usize>, Option<usize>)>) -> f64 {
    let (mut correct, mut total) = (0usize, 0usize);
    for (class, label) in pairs {
        total += 1;
        correct += usize::from(class.is_some() && class == label);
    }
    correct as f64 / total.max(1) as f64
}

/// Images read from an NPY array, with optional labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// Shape of one image.
    pub shape: Shape,
    /// Every image's values, one after the other.
    pub values: Vec<f32>,
    /// One label per image, if known.
    pub labels: Option<Vec<u8>>,
}

/// An NPY file that cannot be read, or is not what it must be: `N x C x H x W` float32 in
/// `[0, 1]` for images, `N` integers in `0..=255` for labels.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct NpyError {
    /// The file (or the name given to [`Images::from_npy_bytes`]).
    pub path: String,
    /// What is wrong.
    pub kind: NpyErrorKind,
}

/// What is wrong with an NPY file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NpyErrorKind {
    /// The file cannot be read, or not within its limits (see [`input::read_bounded`]).
    #[error("{0}")]
    Input(InputErrorKind),
    /// Not an NPY file, or a header this reader cannot parse.
    #[error("not NPY: {what}")]
    NotNpy {
        /// What is wrong.
        what: String,
    },
    /// The file ends before its header or its data does.
    #[error(
        "{part} truncated at byte {actual}: the file holds {actual} bytes, expected {expected}"
    )]
    Truncated {
        /// What is cut short: `header` or `data`.
        part: &'static str,
        /// The file length the header requires (for a cut header: the header's end).
        expected: u64,
        /// The file's length, which is also where it ends.
        actual: u64,
    },
    /// The file goes on after the data its header describes.
    #[error(
        "{} trailing byte(s) from byte {expected}: the header describes {expected} bytes, the \
         file holds {actual}",
        actual.saturating_sub(*expected)
    )]
    TrailingBytes {
        /// The file length the header describes; the trailing bytes start here.
        expected: u64,
        /// The file's length.
        actual: u64,
    },
    /// The shape's element count (or its byte count) overflows a `u64`.
    #[error("shape {shape:?}: the element count overflows 64 bits")]
    SizeOverflow {
        /// The shape in the header.
        shape: Vec<u64>,
    },
    /// Another element type than the one expected.
    #[error("dtype {found}, expected {expected}")]
    Dtype {
        /// The header's `descr`.
        found: String,
        /// The types accepted.
        expected: &'static str,
    },
    /// Fortran (column-major) order.
    #[error("Fortran order; save a C-ordered array")]
    FortranOrder,
    /// Another shape than the one expected.
    #[error("shape {shape:?}, expected {expected}")]
    Shape {
        /// The shape in the header.
        shape: Vec<u64>,
        /// The shape expected.
        expected: String,
    },
    /// An image value outside `[0, 1]` (or NaN).
    #[error("value {value:?} at flat index {index} is outside [0, 1]")]
    OutOfRange {
        /// Index into the flattened array.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A label outside `0..=255`.
    #[error("label {value} at index {index} is outside 0..=255")]
    LabelOutOfRange {
        /// Index of the label.
        index: usize,
        /// The label.
        value: i64,
    },
}

/// The 6 bytes an NPY file starts with.
const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The longest NPY header read, in bytes: numpy's own reader refuses longer ones
/// (`max_header_size`) as a safety measure.
const MAX_HEADER: u64 = 10_000;

/// The deepest nesting of brackets accepted in a header: numpy writes at most 3 (a
/// structured dtype's list of tuples of shapes). The Python-literal parser backtracks
/// exponentially in the depth (a fuzzed header nesting 12 deep took over 3 s), so the bound is
/// what numpy writes and no more.
const MAX_NESTING: usize = 3;

impl Images {
    /// The first `count` images of an IDX data set (all, if fewer), with their labels, as
    /// [`Dataset::pixels`] gives them: only those are converted.
    pub fn from_dataset(data: &Dataset, count: usize) -> Images {
        let count = count.min(data.len());
        Images {
            shape: Inputs::shape(data),
            values: (0..count).flat_map(|i| data.pixels(i)).collect(),
            labels: Some(data.labels[..count].to_vec()),
        }
    }

    /// Reads labels for these images from an NPY array of N integers (int64, int32 or
    /// uint8) in `0..=255`, read as [`Images::read_npy`] reads.
    ///
    /// # Errors
    /// As [`Images::npy_labels_from_bytes`], and [`NpyErrorKind::Input`] if the file cannot
    /// be read within its limits.
    pub fn read_npy_labels(&mut self, path: impl AsRef<Path>) -> Result<(), NpyError> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        self.npy_labels_from_bytes(&bytes, &path.display().to_string())
    }

    /// Sets the labels of these images from the bytes of an NPY array of N integers (int64,
    /// int32 or uint8, either byte order) in `0..=255`; `name` labels errors.
    ///
    /// # Errors
    /// An [`NpyError`] naming `name`: not NPY, the header's length against the data's, another
    /// dtype, a shape other than `(N,)`, a label out of range (naming its index).
    pub fn npy_labels_from_bytes(&mut self, bytes: &[u8], name: &str) -> Result<(), NpyError> {
        let fail = |kind| NpyError {
            path: name.to_string(),
            kind,
        };
        let (header, data) = parse_npy(bytes, name)?;
        let count = self.count();
        if header.shape() != [count as u64] {
            return Err(fail(NpyErrorKind::Shape {
                shape: header.shape().to_vec(),
                expected: format!("({count},) for {count} images"),
            }));
        }
        let dtype = header.dtype();
        let plain = match &dtype {
            npyz::DType::Plain(t) => Some((t.type_char(), t.size_field())),
            _ => None,
        };
        let file = npyz::NpyFile::with_header(header, data);
        let values: Vec<i64> = match plain {
            Some((npyz::TypeChar::Int, 8)) => file.into_vec::<i64>(),
            Some((npyz::TypeChar::Int, 4)) => file
                .into_vec::<i32>()
                .map(|v| v.into_iter().map(i64::from).collect()),
            Some((npyz::TypeChar::Uint, 1)) => file
                .into_vec::<u8>()
                .map(|v| v.into_iter().map(i64::from).collect()),
            _ => {
                return Err(fail(NpyErrorKind::Dtype {
                    found: dtype.descr(),
                    expected: "int64, int32 or uint8",
                }))
            }
        }
        .map_err(|e| {
            fail(NpyErrorKind::NotNpy {
                what: e.to_string(),
            })
        })?;
        let labels = values
            .iter()
            .enumerate()
            .map(|(index, &value)| {
                u8::try_from(value)
                    .map_err(|_| fail(NpyErrorKind::LabelOutOfRange { index, value }))
            })
            .collect::<Result<Vec<u8>, _>>()?;
        self.labels = Some(labels);
        Ok(())
    }

    /// Reads an NPY array of `N x C x H x W` little- or big-endian float32 values in
    /// `[0, 1]`, C order. The file is read whole through [`input::read_bounded`]: at most
    /// [`input::FILE_LIMIT`] bytes, a pipe or a device (such as `/dev/zero`) at most
    /// [`input::STREAM_LIMIT`]; then as [`Images::from_npy_bytes`].
    ///
    /// # Errors
    /// As [`Images::from_npy_bytes`], naming the file, and [`NpyErrorKind::Input`] if it
    /// cannot be read within its limits.
    pub fn read_npy(path: impl AsRef<Path>) -> Result<Images, NpyError> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        Images::from_npy_bytes(&bytes, &path.display().to_string())
    }

    /// Parses the bytes of an NPY file holding `N x C x H x W` little- or big-endian float32
    /// values in `[0, 1]`, C order; `name` labels errors.
    ///
    /// Strict: the header (at most 10,000 bytes, as numpy's own reader) must describe exactly
    /// the data that follows it, its element count must fit 64 bits, and nothing may follow
    /// the data. Memory: the values, never more than the bytes given hold.
    ///
    /// # Errors
    /// An [`NpyError`] naming `name`: not NPY, truncated, trailing bytes, a shape whose size
    /// overflows, another dtype, another rank, empty or huge images, Fortran order, a value
    /// out of range (naming its index).
    ///
    /// # Example
    /// ```
    /// use tdsnn_io::images::{Images, NpyErrorKind};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // numpy.save of np.array([[[[0.0, 0.5]]]], dtype='<f4'): one 1x1x2 image.
    /// let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 2), }";
    /// let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    /// let padded = format!("{header:<117}\n"); // the header ends a 64-byte block
    /// npy.extend((padded.len() as u16).to_le_bytes());
    /// npy.extend(padded.as_bytes());
    /// npy.extend([0.0f32, 0.5].iter().flat_map(|v| v.to_le_bytes()));
    ///
    /// let images = Images::from_npy_bytes(&npy, "one.npy")?;
    /// assert_eq!(images.values, [0.0, 0.5]);
    ///
    /// npy.push(0);
    /// let err = Images::from_npy_bytes(&npy, "one.npy").unwrap_err();
    /// assert!(matches!(err.kind, NpyErrorKind::TrailingBytes { expected: 136, actual: 137 }));
    /// # Ok(()) }
    /// ```
    pub fn from_npy_bytes(bytes: &[u8], name: &str) -> Result<Images, NpyError> {
        let fail = |kind| NpyError {
            path: name.to_string(),
            kind,
        };
        let (header, data) = parse_npy(bytes, name)?;
        let dims = header.shape().to_vec();
        let dtype = header.dtype();
        let is_f32 = matches!(&dtype, npyz::DType::Plain(t)
            if t.type_char() == npyz::TypeChar::Float && t.size_field() == 4);
        if !is_f32 {
            return Err(fail(NpyErrorKind::Dtype {
                found: dtype.descr(),
                expected: "float32",
            }));
        }
        if header.order() != npyz::Order::C {
            return Err(fail(NpyErrorKind::FortranOrder));
        }
        let [_, c, h, w] = dims[..] else {
            return Err(fail(NpyErrorKind::Shape {
                shape: dims,
                expected: "N x C x H x W".into(),
            }));
        };
        let extent = |d: u64| u32::try_from(d).ok().filter(|&d| d > 0);
        let (Some(c), Some(h), Some(w)) = (extent(c), extent(h), extent(w)) else {
            return Err(fail(NpyErrorKind::Shape {
                shape: dims,
                expected: format!("N x C x H x W with C, H, W in 1..={}", u32::MAX),
            }));
        };
        // The data's length was checked against the shape: this reads exactly the values.
        let values = npyz::NpyFile::with_header(header, data)
            .into_vec::<f32>()
            .map_err(|e| {
                fail(NpyErrorKind::NotNpy {
                    what: e.to_string(),
                })
            })?;
        if let Some(index) = values.iter().position(|v| !(0.0..=1.0).contains(v)) {
            return Err(fail(NpyErrorKind::OutOfRange {
                index,
                value: values[index],
            }));
        }
        Ok(Images {
            shape: Shape::new(c, h, w),
            values,
            labels: None,
        })
    }
}

impl Inputs for Images {
    fn count(&self) -> usize {
        self.values.len() / (self.shape.len() as usize).max(1)
    }

    fn shape(&self) -> Shape {
        self.shape
    }

    fn input(&self, i: usize) -> Vec<f32> {
        let per = self.shape.len() as usize;
        self.values[i * per..(i + 1) * per].to_vec()
    }

    fn input_into(&self, i: usize, buffer: &mut Vec<f32>) {
        let per = self.shape.len() as usize;
        buffer.clear();
        buffer.extend_from_slice(&self.values[i * per..(i + 1) * per]);
    }

    fn label(&self, i: usize) -> Option<usize> {
        self.labels.as_ref()?.get(i).map(|&l| usize::from(l))
    }
}

/// Reads an NPY file whole, within the limits of [`input::read_bounded`].
fn read_file(path: &Path) -> Result<Vec<u8>, NpyError> {
    input::read_bounded(path, input::FILE_LIMIT).map_err(|e| NpyError {
        path: path.display().to_string(),
        kind: NpyErrorKind::Input(e.kind),
    })
}

/// Checks an NPY file's structure and returns its header and its data, whose length is
/// exactly what the header describes.
///
/// The header is checked before npyz parses it: its length against the bytes present, its
/// nesting depth, and its shape's element count against overflow (npyz multiplies the
/// dimensions unchecked).
fn parse_npy<'b>(bytes: &'b [u8], name: &str) -> Result<(npyz::NpyHeader, &'b [u8]), NpyError> {
    let fail = |kind| NpyError {
        path: name.to_string(),
        kind,
    };
    let not_npy = |what: String| fail(NpyErrorKind::NotNpy { what });
    let truncated = |expected: u64| {
        fail(NpyErrorKind::Truncated {
            part: "header",
            expected,
            actual: bytes.len() as u64,
        })
    };
    if !bytes.starts_with(NPY_MAGIC) {
        let n = bytes.len().min(NPY_MAGIC.len());
        return Err(if bytes[..n] == NPY_MAGIC[..n] {
            truncated(NPY_MAGIC.len() as u64 + 4)
        } else {
            not_npy(format!(
                "the file starts with \"{}\", not the NPY magic \"\\x93NUMPY\"",
                bytes[..n].escape_ascii()
            ))
        });
    }
    // The version, then the header's length: 2 bytes in version 1, 4 in versions 2 and 3.
    let field = |at: usize, n: usize| {
        bytes
            .get(at..at + n)
            .ok_or_else(|| truncated((at + n) as u64))
    };
    let version = field(6, 2)?;
    let (len, start) = match (version[0], version[1]) {
        (1, 0) => {
            let b = field(8, 2)?;
            (u64::from(u16::from_le_bytes([b[0], b[1]])), 10)
        }
        (2 | 3, 0) => {
            let b = field(8, 4)?;
            (u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])), 12)
        }
        (major, minor) => {
            return Err(not_npy(format!(
                "format version {major}.{minor} at byte 6 (1.0, 2.0 and 3.0 are read)"
            )))
        }
    };
    if len > MAX_HEADER {
        return Err(not_npy(format!(
            "a header of {len} bytes (length at byte 8), longer than the {MAX_HEADER} numpy reads"
        )));
    }
    // Fits: len <= MAX_HEADER.
    let end = start + len as usize;
    let text = bytes.get(start..end).ok_or_else(|| truncated(end as u64))?;
    let shape = header_shape(text).map_err(not_npy)?;
    let Some(count) = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d.max(1))) else {
        return Err(fail(NpyErrorKind::SizeOverflow { shape }));
    };
    let count = if shape.contains(&0) { 0 } else { count };

    let file = npyz::NpyFile::new(bytes).map_err(|e| not_npy(e.to_string()))?;
    let header = file.header().clone();
    let data = file.into_inner();
    let Some(item) = header.dtype().num_bytes() else {
        return Err(fail(NpyErrorKind::Dtype {
            found: header.dtype().descr(),
            expected: "a fixed-size type",
        }));
    };
    let Some(expected) = count
        .checked_mul(item as u64)
        .and_then(|n| n.checked_add(end as u64))
    else {
        return Err(fail(NpyErrorKind::SizeOverflow { shape }));
    };
    let actual = bytes.len() as u64;
    match actual.cmp(&expected) {
        Ordering::Less => Err(fail(NpyErrorKind::Truncated {
            part: "data",
            expected,
            actual,
        })),
        Ordering::Greater => Err(fail(NpyErrorKind::TrailingBytes { expected, actual })),
        Ordering::Equal => Ok((header, data)),
    }
}

/// The `shape` of an NPY header's text (a Python dict literal), its nesting bounded.
fn header_shape(text: &[u8]) -> Result<Vec<u64>, String> {
    let mut depth = 0usize;
    for &b in text {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "the header nests brackets more than {MAX_NESTING} deep"
                    ));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let text = std::str::from_utf8(text).map_err(|_| "the header is not UTF-8".to_string())?;
    let value: py_literal::Value = text
        .trim_end()
        .parse()
        .map_err(|e| format!("the header is not a Python literal: {e}"))?;
    let shape = value
        .as_dict()
        .and_then(|entries| {
            entries
                .iter()
                .find(|(k, _)| k.as_string().is_some_and(|k| k == "shape"))
        })
        .map(|(_, v)| v)
        .ok_or_else(|| "the header has no 'shape'".to_string())?;
    let dims = shape
        .as_tuple()
        .or_else(|| shape.as_list())
        .ok_or_else(|| format!("the header's shape {shape} is not a tuple"))?;
    dims.iter()
        .map(|d| {
            d.as_integer()
                .and_then(|d| d.to_string().parse::<u64>().ok())
                .ok_or_else(|| format!("the header's shape {shape} holds {d}, not a dimension"))
        })
        .collect()
}
