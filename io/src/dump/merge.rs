//! The dumps of a data set's shards joined into the dump of the whole, array by array, each
//! part's values copied as they are read (nothing is held in memory but a copy buffer).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;

use super::file::{write_error, Format, Staging};
use super::DumpError;

/// One part's dump: an NPZ archive or a directory of NPY files.
enum Part {
    Npz(zip::ZipArchive<BufReader<File>>),
    Dir(PathBuf),
}

/// A part's error.
fn read_error(path: &Path, message: impl std::fmt::Display) -> DumpError {
    DumpError::Read {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

impl Part {
    fn open(path: &Path) -> Result<Part, DumpError> {
        if path.is_file() {
            let file = File::open(path).map_err(|e| read_error(path, e))?;
            let zip =
                zip::ZipArchive::new(BufReader::new(file)).map_err(|e| read_error(path, e))?;
            Ok(Part::Npz(zip))
        } else if path.is_dir() {
            Ok(Part::Dir(path.to_path_buf()))
        } else {
            Err(read_error(
                path,
                "neither an NPZ archive nor a directory of NPY files",
            ))
        }
    }

    /// Its arrays' names, in the archive's order (a directory's, sorted).
    fn names(&self, path: &Path) -> Result<Vec<String>, DumpError> {
        let strip = |n: &str| n.strip_suffix(".npy").map(str::to_string);
        match self {
            Part::Npz(zip) => {
                let mut names = Vec::new();
                for name in zip.file_names() {
                    names.extend(strip(&name.map_err(|e| read_error(path, e))?));
                }
                Ok(names)
            }
            Part::Dir(dir) => {
                let mut names = Vec::new();
                for entry in std::fs::read_dir(dir).map_err(|e| read_error(path, e))? {
                    let entry = entry.map_err(|e| read_error(path, e))?;
                    names.extend(strip(&entry.file_name().to_string_lossy()));
                }
                names.sort();
                Ok(names)
            }
        }
    }

    /// Array `name`'s NPY bytes.
    fn array(&mut self, name: &str) -> std::io::Result<Box<dyn Read + '_>> {
        match self {
            Part::Npz(zip) => Ok(Box::new(zip.by_name(&format!("{name}.npy"))?)),
            Part::Dir(dir) => Ok(Box::new(BufReader::new(File::open(
                dir.join(format!("{name}.npy")),
            )?))),
        }
    }
}

/// An array's header in one part: images, the shape of one image's part, dtype.
struct Header {
    images: u64,
    item: Vec<u64>,
    dtype: npyz::DType,
}

impl Header {
    /// The bytes of its values.
    fn data_bytes(&self) -> u64 {
        let size = match &self.dtype {
            npyz::DType::Plain(t) => t.size_field(),
            _ => 0,
        };
        self.images * self.item.iter().product::<u64>() * size
    }
}

/// Joins the dumps `parts` (NPZ archives or directories of NPY files, in image order) into
/// one at `out`, laid out as `format` (a directory must not exist yet): every array the
/// parts hold, their images one part after the other. Returns the number of arrays.
///
/// # Errors
/// [`DumpError::Read`] naming the part if a part cannot be read, holds other arrays than the
/// first, or an array of another dtype or image shape, or is cut short;
/// [`DumpError::Write`] if `out` cannot be written. Nothing is left at `out` for an NPZ
/// target then.
pub fn merge(parts: &[PathBuf], out: &Path, format: Format) -> Result<usize, DumpError> {
    let mut opened = parts
        .iter()
        .map(|p| Part::open(p))
        .collect::<Result<Vec<Part>, DumpError>>()?;
    let (Some(first_path), Some(first)) = (parts.first(), opened.first()) else {
        return Err(read_error(out, "no dump to merge"));
    };
    let names = first.names(first_path)?;
    for (part, path) in opened.iter().zip(parts) {
        let mut theirs = part.names(path)?;
        let mut ours = names.clone();
        theirs.sort();
        ours.sort();
        if theirs != ours {
            return Err(read_error(
                path,
                format!(
                    "holds the arrays {theirs:?}, {} holds {ours:?}",
                    first_path.display()
                ),
            ));
        }
    }
    let staging = Staging::new(out, format)?;
    for name in &names {
        let mut headers = Vec::with_capacity(parts.len());
        for (part, path) in opened.iter_mut().zip(parts) {
            let fail = |e: &dyn std::fmt::Display| read_error(path, format!("{name}.npy: {e}"));
            let npy = npyz::NpyFile::new(part.array(name).map_err(|e| fail(&e))?)
                .map_err(|e| fail(&e))?;
            let (&images, item) = npy
                .shape()
                .split_first()
                .ok_or_else(|| fail(&"no image axis"))?;
            headers.push(Header {
                images,
                item: item.to_vec(),
                dtype: npy.dtype(),
            });
        }
        let head = &headers[0];
        for (h, path) in headers.iter().zip(parts) {
            if h.item != head.item || h.dtype != head.dtype {
                return Err(read_error(
                    path,
                    format!(
                        "{name}.npy is {} of {:?} per image, {} holds {} of {:?}",
                        h.dtype.descr(),
                        h.item,
                        first_path.display(),
                        head.dtype.descr(),
                        head.item
                    ),
                ));
            }
        }
        let total: u64 = headers.iter().map(|h| h.images).sum();
        let target = staging.file(name);
        let shape: Vec<u64> = std::iter::once(total)
            .chain(head.item.iter().copied())
            .collect();
        let file = File::create(&target).map_err(|e| write_error(&target, e))?;
        let mut writer = npyz::WriteOptions::new_header_only()
            .dtype(head.dtype.clone())
            .shape(&shape)
            .writer(BufWriter::new(file))
            .write_header_only()
            .map_err(|e| write_error(&target, e))?;
        for ((part, path), h) in opened.iter_mut().zip(parts).zip(&headers) {
            let fail = |e: &dyn std::fmt::Display| read_error(path, format!("{name}.npy: {e}"));
            let npy = npyz::NpyFile::new(part.array(name).map_err(|e| fail(&e))?)
                .map_err(|e| fail(&e))?;
            let mut data = npy.into_inner();
            let copied = std::io::copy(&mut data, &mut writer).map_err(|e| fail(&e))?;
            if copied != h.data_bytes() {
                return Err(fail(&format!(
                    "holds {copied} bytes of values, its header describes {}",
                    h.data_bytes()
                )));
            }
        }
        writer.flush().map_err(|e| write_error(&target, e))?;
    }
    let order: Vec<&str> = names.iter().map(String::as_str).collect();
    staging.finish(&order)?;
    Ok(names.len())
}
