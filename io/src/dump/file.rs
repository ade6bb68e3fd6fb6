//! Dumps on disk: each array an NPY file written as images arrive, in a directory that is the
//! dump (a directory target) or is packed into an NPZ archive at the end (a `.npz` target).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use tdsnn_converter::{Dnn, Reference};
use tdsnn_engine::{Graph, Record};

use super::{Dtype, Dump, DumpError, Layout, Piece};

/// The error for a file that could not be written.
pub(super) fn write_error(path: &Path, e: impl std::fmt::Display) -> DumpError {
    DumpError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// How a dump is laid out on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One NPZ archive (`np.load(path)`), its arrays stored uncompressed.
    Npz,
    /// A directory of NPY files, one per array (`np.load(dir / "input.npy",
    /// mmap_mode="r")`).
    Directory,
}

impl Format {
    /// An NPZ archive if `path` ends in `.npz` (any case), else a directory.
    pub fn of(path: &Path) -> Format {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
        {
            Format::Npz
        } else {
            Format::Directory
        }
    }
}

/// Where a dump's NPY files are written: the target directory itself, or for an NPZ target a
/// directory beside it, packed into the archive and removed by [`Staging::finish`] (and
/// removed, unpacked, if the dump is dropped unfinished).
#[derive(Debug)]
pub(super) struct Staging {
    target: PathBuf,
    dir: PathBuf,
    npz: bool,
    finished: bool,
}

impl Staging {
    /// The staging directory for `target`, created (it must not exist yet).
    pub(super) fn new(target: &Path, format: Format) -> Result<Staging, DumpError> {
        let npz = format == Format::Npz;
        let dir = if npz {
            let name = target.file_name().unwrap_or_default().to_string_lossy();
            target.with_file_name(format!(".{name}.arrays"))
        } else {
            target.to_path_buf()
        };
        std::fs::create_dir(&dir).map_err(|e| write_error(&dir, e))?;
        Ok(Staging {
            target: target.to_path_buf(),
            dir,
            npz,
            finished: false,
        })
    }

    /// The NPY file of array `name`.
    pub(super) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.npy"))
    }

    /// Packs the arrays `names` (in order) into the NPZ target, stored uncompressed, and
    /// removes the staging directory; a directory target is left as it is.
    pub(super) fn finish(mut self, names: &[&str]) -> Result<(), DumpError> {
        if self.npz {
            let fail = |e: &dyn std::fmt::Display| write_error(&self.target, e);
            let file = File::create(&self.target).map_err(|e| fail(&e))?;
            let mut zip = zip::ZipWriter::new(BufWriter::new(file));
            for name in names {
                let path = self.file(name);
                let len = std::fs::metadata(&path).map_err(|e| fail(&e))?.len();
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored)
                    .large_file(len >= u64::from(u32::MAX));
                zip.start_file(format!("{name}.npy"), options)
                    .map_err(|e| fail(&e))?;
                let mut npy = File::open(&path).map_err(|e| fail(&e))?;
                std::io::copy(&mut npy, &mut zip).map_err(|e| fail(&e))?;
                // Each array's file goes as soon as it is packed: the disk holds the dump
                // twice over only for the array being copied.
                std::fs::remove_file(&path).map_err(|e| fail(&e))?;
            }
            zip.finish()
                .and_then(|mut w| w.flush().map_err(Into::into))
                .map_err(|e| fail(&e))?;
            std::fs::remove_dir(&self.dir).map_err(|e| write_error(&self.dir, e))?;
        }
        self.finished = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.npz && !self.finished {
            // Best effort: a failed dump leaves no half-written arrays behind.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One array's NPY file being written: its header first, then values as they come,
/// little-endian as the header says.
#[derive(Debug)]
struct Writer {
    file: BufWriter<File>,
    /// Values still to come, from the header's shape.
    left: u64,
}

impl Writer {
    /// An NPY file of `dtype` and `shape` at `path`, its header written.
    fn create(path: &Path, dtype: Dtype, shape: &[u64]) -> std::io::Result<Writer> {
        use npyz::AutoSerialize;
        let dtype = match dtype {
            Dtype::F32 => f32::default_dtype(),
            Dtype::U32 => u32::default_dtype(),
            Dtype::I64 => i64::default_dtype(),
            Dtype::F64 => f64::default_dtype(),
        };
        let file = npyz::WriteOptions::new_header_only()
            .dtype(dtype)
            .shape(shape)
            .writer(BufWriter::new(File::create(path)?))
            .write_header_only()?;
        Ok(Writer {
            file,
            left: shape.iter().product(),
        })
    }

    /// Appends one image's piece.
    fn write(&mut self, piece: Piece<'_>) -> std::io::Result<()> {
        let (count, result) = match piece {
            Piece::F32(p) => (p.len(), self.values(p, |v| v.to_le_bytes())),
            Piece::U32(p) => (p.len(), self.values(p, |v| v.to_le_bytes())),
            Piece::U32One(x) => (1, self.file.write_all(&x.to_le_bytes())),
            Piece::I64One(x) => (1, self.file.write_all(&x.to_le_bytes())),
            Piece::F64(p) => (p.len(), self.values(p, |v| v.to_le_bytes())),
        };
        self.left = self
            .left
            .checked_sub(count as u64)
            .ok_or_else(|| std::io::Error::other("more values than the header's shape holds"))?;
        result
    }

    /// Writes `values` as their little-endian bytes.
    fn values<T: Copy, const N: usize>(
        &mut self,
        values: &[T],
        bytes: impl Fn(T) -> [u8; N],
    ) -> std::io::Result<()> {
        for &v in values {
            self.file.write_all(&bytes(v))?;
        }
        Ok(())
    }

    /// Completes the file (its length checked against its header).
    fn finish(mut self) -> std::io::Result<()> {
        if self.left != 0 {
            return Err(std::io::Error::other(format!(
                "{} values short of the header's shape",
                self.left
            )));
        }
        self.file.flush()
    }
}

/// A dump streamed to disk as images are pushed ([`Dump::push`]): an NPZ archive or a
/// directory of NPY files, each array memory-mappable there ([`Format`]). It holds no image's values after pushing them; the archive is
/// complete once [`DumpFile::finish`] returns.
///
/// # Example
/// ```
/// use tdsnn_converter::{convert, Dnn, DnnLayer, Shape, TilPolicy};
/// use tdsnn_engine::{Simulate, Simulator, TickMode};
/// use tdsnn_io::dump::{Dump, DumpFile, Format};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dnn = Dnn::new(Shape::flat(2), vec![
///     DnnLayer::Dense { outputs: 2, weights: vec![1.0, -1.0, -1.0, 1.0], bias: None },
/// ])?;
/// let graph = convert(&dnn, 5.0, TilPolicy::Dynamic)?;
/// let dir = std::env::temp_dir().join(format!("tdsnn-dumpfile-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("out.npz");
/// let mut dump = DumpFile::create(&path, Format::Npz, &graph, None, 2, false)?;
/// let mut sim = Simulator::new(graph.clone(), TickMode::ClosedForm);
/// for x in [[0.2, 0.9], [0.7, 0.1]] {
///     dump.push(&x, &sim.run(&x, &mut ())?, None, None)?;
/// }
/// // input, input_spikes, the output layer's frame origin and release, classes_snn, logits_snn
/// assert_eq!(dump.finish()?, 6);
/// assert!(path.is_file());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DumpFile {
    layout: Layout,
    staging: Staging,
    writers: Vec<Writer>,
    images: usize,
    expected: usize,
}

impl DumpFile {
    /// A dump of `images` images of `graph` at `path`, laid out as `format` (a directory
    /// must not exist yet; an archive is written over): with the reference's arrays if `dnn`
    /// (the DNN(G) `graph` was converted from) is given, with `labels` if `labelled`.
    ///
    /// # Errors
    /// [`DumpError::Write`] if a file or directory cannot be created.
    pub fn create(
        path: &Path,
        format: Format,
        graph: &Graph,
        dnn: Option<&Dnn>,
        images: usize,
        labelled: bool,
    ) -> Result<DumpFile, DumpError> {
        let layout = Layout::new(graph, dnn, labelled);
        let staging = Staging::new(path, format)?;
        let writers = (layout.columns.iter())
            .map(|c| {
                let file = staging.file(&c.name);
                let shape: Vec<u64> = std::iter::once(images)
                    .chain(c.item.iter().copied())
                    .map(|d| d as u64)
                    .collect();
                Writer::create(&file, c.dtype, &shape).map_err(|e| write_error(&file, e))
            })
            .collect::<Result<Vec<Writer>, DumpError>>()?;
        Ok(DumpFile {
            layout,
            staging,
            writers,
            images: 0,
            expected: images,
        })
    }

    /// Completes the dump: every array's file, then the archive. Returns the number of
    /// arrays.
    ///
    /// # Errors
    /// [`DumpError::Count`] if another number of images than announced was pushed;
    /// [`DumpError::Write`] if a file cannot be written. The staging files of an NPZ
    /// archive are removed either way.
    pub fn finish(self) -> Result<usize, DumpError> {
        if self.images != self.expected {
            return Err(DumpError::Count {
                path: self.staging.target.display().to_string(),
                expected: self.expected,
                got: self.images,
            });
        }
        for (writer, column) in self.writers.into_iter().zip(&self.layout.columns) {
            let file = self.staging.file(&column.name);
            writer.finish().map_err(|e| write_error(&file, e))?;
        }
        let names: Vec<&str> = self
            .layout
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        self.staging.finish(&names)?;
        Ok(names.len())
    }
}

impl Dump for DumpFile {
    fn push(
        &mut self,
        input: &[f32],
        record: &Record,
        reference: Option<&Reference>,
        label: Option<usize>,
    ) -> Result<(), DumpError> {
        if self.images == self.expected {
            return Err(DumpError::Count {
                path: self.staging.target.display().to_string(),
                expected: self.expected,
                got: self.images + 1,
            });
        }
        let pieces = self
            .layout
            .pieces(self.images, input, record, reference, label)?;
        for ((writer, piece), column) in self
            .writers
            .iter_mut()
            .zip(pieces)
            .zip(&self.layout.columns)
        {
            writer
                .write(piece)
                .map_err(|e| write_error(&self.staging.file(&column.name), e))?;
        }
        self.images += 1;
        Ok(())
    }
}
