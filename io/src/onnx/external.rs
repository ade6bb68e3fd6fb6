//! External tensor data: the weights `torch.onnx.export` (PyTorch 2.9 and later, by default)
//! writes beside the model, `m.onnx` plus `m.onnx.data`.
//!
//! A tensor with `data_location = EXTERNAL` names its bytes with `external_data` entries:
//! `location`, a POSIX path relative to the model's directory; `offset`, where they start
//! (default 0; onnx_ir aligns tensors over 1 MB to 64 KiB); `length`, which when given must
//! equal the tensor's size (element count times element width; 0 reads as not given, as in
//! onnxruntime); `checksum`, ignored. Small tensors stay inline in the same model, so both
//! kinds meet in one file.
//!
//! Every external tensor is read into its `raw_data` before the graph is looked at, from an
//! [`ExternalData`] source: [`ModelDir`] (the files beside the model, what
//! [`read_onnx`](super::read_onnx) uses) or [`ExternalFiles`] (bytes held in memory). Before
//! anything is allocated, the location is checked (relative, no `..`), the length against
//! the tensor's dimensions, and `offset + length` against the file's size; the tensors
//! together may not claim more bytes than their files hold, so a small model cannot make
//! the importer allocate many times the size of its data. Cost: one read of each tensor's
//! bytes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use super::error::{ExternalDataProblem, OnnxErrorKind};
use super::proto::{attribute_type, ModelProto, TensorProto};
use super::tensor::{element_count, element_width};

/// `TensorProto.DataLocation`: the data inline.
const DEFAULT: i32 = 0;
/// `TensorProto.DataLocation`: the data in an external file.
const EXTERNAL: i32 = 1;

/// Where the importer finds the files that hold external tensor data.
///
/// `location` is always the tensor's location checked and normalised: relative, without
/// `..`, `.` or empty components, its components joined with `/`. The importer asks for a
/// file's size first and reads only bytes within it.
pub trait ExternalData {
    /// The size in bytes of the file at `location`.
    ///
    /// # Errors
    /// [`ExternalDataProblem::Missing`] if there is no such file,
    /// [`ExternalDataProblem::NotAFile`] if it is not a regular file,
    /// [`ExternalDataProblem::Io`] if it cannot be examined.
    fn size(&self, location: &str) -> Result<u64, ExternalDataProblem>;

    /// Fills `buf` with the bytes of the file at `location` from `offset` on (the importer
    /// has checked that they lie within the size [`size`](Self::size) gave).
    ///
    /// # Errors
    /// As [`size`](Self::size); [`ExternalDataProblem::Io`] if the bytes cannot be read.
    fn read_at(
        &self,
        location: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), ExternalDataProblem>;
}

/// External data held in memory: each location's bytes, supplied by the caller (for a model
/// received over the network, or a fuzz target: no file system involved).
///
/// # Example
/// ```
/// use tdsnn_io::onnx::{ExternalData, ExternalFiles};
/// let data = [1u8, 2, 3, 4];
/// let files = ExternalFiles::new().with("./weights/m.onnx.data", &data);
/// // Locations are normalised: `./weights/m.onnx.data` is `weights/m.onnx.data`.
/// assert_eq!(files.size("weights/m.onnx.data"), Ok(4));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ExternalFiles<'a> {
    files: HashMap<String, &'a [u8]>,
}

impl<'a> ExternalFiles<'a> {
    /// No files.
    pub fn new() -> ExternalFiles<'a> {
        ExternalFiles::default()
    }

    /// Supplies `bytes` as the file at `location` (as a tensor's `location` entry gives it;
    /// `.` components and repeated `/` do not matter), replacing any earlier one.
    pub fn insert(&mut self, location: &str, bytes: &'a [u8]) {
        let key = normalized(location).unwrap_or_else(|_| location.to_string());
        self.files.insert(key, bytes);
    }

    /// These files and `bytes` at `location` (see [`insert`](Self::insert)).
    pub fn with(mut self, location: &str, bytes: &'a [u8]) -> ExternalFiles<'a> {
        self.insert(location, bytes);
        self
    }

    fn file(&self, location: &str) -> Result<&'a [u8], ExternalDataProblem> {
        self.files
            .get(location)
            .copied()
            .ok_or(ExternalDataProblem::Missing)
    }
}

impl ExternalData for ExternalFiles<'_> {
    fn size(&self, location: &str) -> Result<u64, ExternalDataProblem> {
        Ok(self.file(location)?.len() as u64)
    }

    fn read_at(
        &self,
        location: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), ExternalDataProblem> {
        let file = self.file(location)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let bytes = start
            .checked_add(buf.len())
            .and_then(|end| file.get(start..end))
            .ok_or(ExternalDataProblem::PastEnd {
                offset,
                length: buf.len() as u64,
                size: file.len() as u64,
            })?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// External data in the files of a directory: the model's own, where the ONNX
/// specification puts them.
///
/// Only regular files are read (a device or a pipe is refused by its metadata before it is
/// opened); a symbolic link is followed.
#[derive(Debug, Clone)]
pub struct ModelDir {
    dir: PathBuf,
}

impl ModelDir {
    /// The files in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> ModelDir {
        ModelDir { dir: dir.into() }
    }

    /// The directory of the model file at `model` (the current one for a bare file name).
    pub fn of_model(model: &Path) -> ModelDir {
        ModelDir::new(model.parent().unwrap_or(Path::new("")))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl ExternalData for ModelDir {
    fn size(&self, location: &str) -> Result<u64, ExternalDataProblem> {
        let meta = std::fs::metadata(self.dir.join(location)).map_err(io_problem)?;
        if !meta.is_file() {
            return Err(ExternalDataProblem::NotAFile);
        }
        Ok(meta.len())
    }

    fn read_at(
        &self,
        location: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), ExternalDataProblem> {
        // Checked again through the open file, in case it was replaced since `size`.
        self.size(location)?;
        let mut file = File::open(self.dir.join(location)).map_err(io_problem)?;
        let size = file.metadata().map_err(io_problem)?.len();
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > size) {
            return Err(ExternalDataProblem::PastEnd {
                offset,
                length: buf.len() as u64,
                size,
            });
        }
        file.seek(SeekFrom::Start(offset)).map_err(io_problem)?;
        file.read_exact(buf).map_err(io_problem)
    }
}

/// A source that remembers which files it was asked about, in the order first asked.
#[derive(Debug)]
pub(crate) struct Recorder<'a, D: ExternalData> {
    inner: &'a D,
    seen: RefCell<Vec<String>>,
}

impl<'a, D: ExternalData> Recorder<'a, D> {
    /// A recorder in front of `inner`.
    pub fn new(inner: &'a D) -> Recorder<'a, D> {
        Recorder {
            inner,
            seen: RefCell::new(Vec::new()),
        }
    }

    /// The locations asked about.
    pub fn into_locations(self) -> Vec<String> {
        self.seen.into_inner()
    }
}

impl<D: ExternalData> ExternalData for Recorder<'_, D> {
    fn size(&self, location: &str) -> Result<u64, ExternalDataProblem> {
        let mut seen = self.seen.borrow_mut();
        if !seen.iter().any(|l| l == location) {
            seen.push(location.to_string());
        }
        self.inner.size(location)
    }

    fn read_at(
        &self,
        location: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), ExternalDataProblem> {
        self.inner.read_at(location, offset, buf)
    }
}

/// The source for bytes given with no directory: every external tensor is an error.
#[derive(Debug)]
pub(crate) struct NoDirectory;

impl ExternalData for NoDirectory {
    fn size(&self, _: &str) -> Result<u64, ExternalDataProblem> {
        Err(ExternalDataProblem::NoDirectory)
    }

    fn read_at(&self, _: &str, _: u64, _: &mut [u8]) -> Result<(), ExternalDataProblem> {
        Err(ExternalDataProblem::NoDirectory)
    }
}

fn io_problem(e: io::Error) -> ExternalDataProblem {
    match e.kind() {
        io::ErrorKind::NotFound => ExternalDataProblem::Missing,
        kind => ExternalDataProblem::Io {
            kind,
            message: e.to_string(),
        },
    }
}

/// `location` checked and normalised: not empty, not absolute, no `..` component (with `/`
/// or `\` as the separator, so that no platform can leave the directory); `.` and empty
/// components dropped, the rest joined with `/`.
fn normalized(location: &str) -> Result<String, ExternalDataProblem> {
    if location.starts_with(['/', '\\']) || Path::new(location).has_root() {
        return Err(ExternalDataProblem::Absolute);
    }
    if location.split(['/', '\\']).any(|c| c == "..") {
        return Err(ExternalDataProblem::Escapes);
    }
    let parts: Vec<&str> = location
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.is_empty() {
        return Err(ExternalDataProblem::NoLocation);
    }
    let joined = parts.join("/");
    // A Windows drive prefix (`C:x`) is a component of its own.
    if !Path::new(&joined)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(ExternalDataProblem::Absolute);
    }
    Ok(joined)
}

/// Reads every external tensor of `model` (initializers and `Constant` node values) from
/// `data` into its `raw_data`, leaving it an ordinary inline tensor.
pub(crate) fn load(model: &mut ModelProto, data: &dyn ExternalData) -> Result<(), OnnxErrorKind> {
    let Some(graph) = model.graph.as_mut() else {
        return Ok(());
    };
    let mut budget = Budget::default();
    let constants = graph
        .node
        .iter_mut()
        .flat_map(|n| n.attribute.iter_mut())
        .filter(|a| a.r#type == attribute_type::TENSOR)
        .filter_map(|a| a.t.as_mut());
    for t in graph.initializer.iter_mut().chain(constants) {
        load_tensor(t, data, &mut budget)?;
    }
    Ok(())
}

/// The bytes the external tensors read so far claim, the sizes of their files, and the
/// sum of those sizes.
#[derive(Debug, Default)]
struct Budget {
    claimed: u64,
    sizes: HashMap<String, u64>,
    available: u64,
}

fn load_tensor(
    t: &mut TensorProto,
    data: &dyn ExternalData,
    budget: &mut Budget,
) -> Result<(), OnnxErrorKind> {
    match t.data_location {
        DEFAULT if t.external_data.is_empty() => return Ok(()),
        DEFAULT | EXTERNAL => {}
        other => {
            return Err(OnnxErrorKind::Tensor {
                tensor: t.name.clone(),
                what: format!("data_location {other} is neither DEFAULT (0) nor EXTERNAL (1)"),
            })
        }
    }
    let entry = |key: &str| {
        t.external_data
            .iter()
            .rev()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    };
    let given = entry("location").unwrap_or("").to_string();
    let fail = |problem| OnnxErrorKind::ExternalData {
        tensor: t.name.clone(),
        location: given.clone(),
        problem,
    };
    if t.data_location == DEFAULT {
        return Err(fail(ExternalDataProblem::Conflict(
            "it lists `external_data` entries, but its `data_location` is DEFAULT (0), not \
             EXTERNAL (1)",
        )));
    }
    let inline = !t.raw_data.is_empty()
        || !t.float_data.is_empty()
        || !t.int32_data.is_empty()
        || !t.int64_data.is_empty()
        || !t.double_data.is_empty();
    if inline {
        return Err(fail(ExternalDataProblem::Conflict(
            "its `data_location` is EXTERNAL (1), but it also holds inline data",
        )));
    }
    let location = normalized(&given).map_err(fail)?;
    let number = |key: &str| -> Result<Option<u64>, OnnxErrorKind> {
        entry(key)
            .map(|value| {
                value.parse::<u64>().map_err(|_| {
                    fail(ExternalDataProblem::BadNumber {
                        key: key.into(),
                        value: value.into(),
                    })
                })
            })
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    let given_length = number("length")?;
    let width = element_width(t.data_type).ok_or_else(|| OnnxErrorKind::Tensor {
        tensor: t.name.clone(),
        what: format!(
            "element type {} is not supported (FLOAT, DOUBLE, INT32 or INT64)",
            t.data_type
        ),
    })?;
    let expected = (element_count(t)? as u64).checked_mul(width);
    let expected = expected.ok_or_else(|| OnnxErrorKind::Tensor {
        tensor: t.name.clone(),
        what: format!("invalid dimensions {:?}", t.dims),
    })?;
    // A length of 0 means "not given", as onnxruntime reads it.
    let length = given_length.filter(|&n| n != 0).unwrap_or(expected);
    if length != expected {
        return Err(fail(ExternalDataProblem::Length { length, expected }));
    }
    let size = match budget.sizes.get(&location) {
        Some(&size) => size,
        None => {
            let size = data.size(&location).map_err(fail)?;
            budget.sizes.insert(location.clone(), size);
            budget.available = budget.available.saturating_add(size);
            size
        }
    };
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(fail(ExternalDataProblem::PastEnd {
            offset,
            length,
            size,
        }));
    }
    budget.claimed = budget.claimed.saturating_add(length);
    if budget.claimed > budget.available {
        return Err(fail(ExternalDataProblem::Overlap {
            claimed: budget.claimed,
            available: budget.available,
        }));
    }
    // At most the file's size, which the file system (or the caller's memory) holds.
    let len = usize::try_from(length).map_err(|_| {
        fail(ExternalDataProblem::Io {
            kind: io::ErrorKind::OutOfMemory,
            message: format!("{length} bytes do not fit in memory"),
        })
    })?;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(len).map_err(|e| {
        fail(ExternalDataProblem::Io {
            kind: io::ErrorKind::OutOfMemory,
            message: e.to_string(),
        })
    })?;
    bytes.resize(len, 0);
    data.read_at(&location, offset, &mut bytes).map_err(fail)?;
    t.raw_data = bytes;
    t.external_data.clear();
    t.data_location = DEFAULT;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_normalised_or_refused() {
        assert_eq!(normalized("m.onnx.data").unwrap(), "m.onnx.data");
        assert_eq!(normalized("./w//m.data").unwrap(), "w/m.data");
        assert_eq!(
            normalized("/etc/passwd"),
            Err(ExternalDataProblem::Absolute)
        );
        assert_eq!(
            normalized("\\\\server\\x"),
            Err(ExternalDataProblem::Absolute)
        );
        for escape in ["../m.data", "w/../../m.data", "w/..", "..\\m.data"] {
            assert_eq!(
                normalized(escape),
                Err(ExternalDataProblem::Escapes),
                "{escape}"
            );
        }
        for empty in ["", ".", "./", "//"] {
            let want = if empty.starts_with('/') {
                ExternalDataProblem::Absolute
            } else {
                ExternalDataProblem::NoLocation
            };
            assert_eq!(normalized(empty), Err(want), "{empty:?}");
        }
    }

    #[test]
    fn memory_reads_stay_in_bounds() {
        let data = [1u8, 2, 3, 4, 5];
        let files = ExternalFiles::new().with("a", &data);
        let mut buf = [0u8; 2];
        files.read_at("a", 3, &mut buf).unwrap();
        assert_eq!(buf, [4, 5]);
        assert!(matches!(
            files.read_at("a", 4, &mut buf),
            Err(ExternalDataProblem::PastEnd { offset: 4, .. })
        ));
        assert!(matches!(
            files.read_at("a", u64::MAX, &mut buf),
            Err(ExternalDataProblem::PastEnd { .. })
        ));
        assert_eq!(files.size("b"), Err(ExternalDataProblem::Missing));
    }
}
