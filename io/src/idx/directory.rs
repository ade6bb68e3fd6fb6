//! IDX data set directories as MNIST and Fashion-MNIST are distributed: a training and a
//! test split ([`Split`]), each an images file and a labels file found by name
//! (`train-images-idx3-ubyte`, `t10k-labels-idx1-ubyte.gz`, ...), plain or gzip-compressed.

use std::path::{Path, PathBuf};

use super::{Dataset, FileRole, IdxError};

/// Which split of an IDX data set directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`.
    Train,
    /// `test-images-idx3-ubyte`, `test-labels-idx1-ubyte`, or MNIST's own names
    /// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`.
    Test,
}

impl Split {
    /// The file name prefixes of this split, in the order they are looked for: `train`;
    /// `test`, then `t10k` (MNIST's and Fashion-MNIST's name for the test split).
    pub fn prefixes(self) -> &'static [&'static str] {
        match self {
            Split::Train => &["train"],
            Split::Test => &["test", "t10k"],
        }
    }
}

/// The file names of images or labels with `prefix`, in the order they are looked for:
/// plain, then gzip-compressed (`t10k-images-idx3-ubyte.gz`, as MNIST is distributed).
fn names(prefix: &str, role: FileRole) -> [String; 2] {
    let tail = match role {
        FileRole::Images => "images-idx3-ubyte",
        FileRole::Labels => "labels-idx1-ubyte",
    };
    [format!("{prefix}-{tail}"), format!("{prefix}-{tail}.gz")]
}

/// The image and label files of `split` in an MNIST-style directory: those of the first of
/// [`Split::prefixes`] that has both, each `{prefix}-images-idx3-ubyte` or, if absent,
/// `{prefix}-images-idx3-ubyte.gz` (labels alike). Images and labels always share a prefix.
/// [`Dataset::read`] reads plain and gzip-compressed files alike.
///
/// # Errors
/// [`IdxError::Missing`] naming every file name looked for, if no prefix has both files: the
/// images' names if there are no images, else the labels' names beside the images.
///
/// # Example
/// ```
/// use tdsnn_io::idx::{find_split, Dataset, Split};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("tdsnn-split-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let one = Dataset { images: vec![0, 255], labels: vec![1], rows: 1, cols: 2 };
/// one.write(dir.join("t10k-images-idx3-ubyte"), dir.join("t10k-labels-idx1-ubyte"))?;
/// let (images, _) = find_split(&dir, Split::Test)?;
/// assert!(images.ends_with("t10k-images-idx3-ubyte"));
/// std::fs::remove_dir_all(&dir)?;
///
/// let err = find_split(&std::env::temp_dir().join("no such dir"), Split::Test).unwrap_err();
/// assert!(err.to_string().contains("t10k-images-idx3-ubyte.gz"));
/// # Ok(()) }
/// ```
pub fn find_split(dir: &Path, split: Split) -> Result<(PathBuf, PathBuf), IdxError> {
    let find = |prefix: &str, role| {
        names(prefix, role)
            .into_iter()
            .map(|name| dir.join(name))
            .find(|path| path.is_file())
    };
    let prefixes = split.prefixes();
    for prefix in prefixes {
        if let (Some(images), Some(labels)) = (
            find(prefix, FileRole::Images),
            find(prefix, FileRole::Labels),
        ) {
            return Ok((images, labels));
        }
    }
    let (role, looked_for) = match prefixes
        .iter()
        .find(|p| find(p, FileRole::Images).is_some())
    {
        Some(prefix) => (FileRole::Labels, names(prefix, FileRole::Labels).to_vec()),
        None => (
            FileRole::Images,
            prefixes
                .iter()
                .flat_map(|p| names(p, FileRole::Images))
                .collect(),
        ),
    };
    Err(IdxError::Missing {
        dir: dir.to_path_buf(),
        role,
        looked_for,
    })
}

/// The image and label files of `split` in an MNIST-style directory, as [`find_split`]
/// finds them; if it finds none, the plain names of the split's first prefix
/// (`train-images-idx3-ubyte`, `test-images-idx3-ubyte`), which reading then reports as
/// missing. Prefer [`find_split`], whose error names every file looked for.
pub fn split_files(dir: &Path, split: Split) -> (PathBuf, PathBuf) {
    find_split(dir, split).unwrap_or_else(|_| {
        let first = |role| dir.join(&names(split.prefixes()[0], role)[0]);
        (first(FileRole::Images), first(FileRole::Labels))
    })
}

/// Loads `split` from an MNIST-style directory of IDX files, plain or gzip-compressed (see
/// [`find_split`]).
///
/// # Errors
/// [`IdxError::Missing`] naming every file looked for; any other [`IdxError`] if the files
/// cannot be read as an IDX pair.
pub fn load_split(dir: &Path, split: Split) -> Result<Dataset, IdxError> {
    let (images, labels) = find_split(dir, split)?;
    Dataset::read(images, labels)
}
