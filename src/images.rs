//! Inputs to evaluate: a labelled IDX data set ([`Dataset`]) or an NPY array of images
//! ([`Images`], `N x C x H x W` float32 in `[0, 1]`, labels optional), behind one trait
//! ([`Inputs`]).

use std::path::Path;

use tdsnn_converter::Dataset;
use tdsnn_engine::Shape;

/// Images the evaluation can run: how many, their shape, each one's values, each one's label.
pub trait Inputs: Sync {
    /// Number of images.
    fn count(&self) -> usize;
    /// Shape of one image (C, H, W).
    fn shape(&self) -> Shape;
    /// Image `i`'s values, channel-major, in `[0, 1]`. Panics if `i` is out of range.
    fn input(&self, i: usize) -> Vec<f32>;
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

/// An NPY file that is not `N x C x H x W` float32 in `[0, 1]`.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}")]
pub struct NpyError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub what: String,
}

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
    /// uint8) in `0..=255`.
    pub fn read_npy_labels(&mut self, path: impl AsRef<Path>) -> Result<(), NpyError> {
        let path = path.as_ref();
        let fail = |what: String| npy_error(path, what);
        let file = open_npy(path)?;
        if file.shape() != [self.count() as u64] {
            return Err(fail(format!(
                "shape {:?}, expected ({},) for {} images",
                file.shape(),
                self.count(),
                self.count()
            )));
        }
        let descr = file.dtype().descr();
        let values: Vec<i64> = match descr
            .trim_matches('\'')
            .trim_start_matches(['<', '>', '|', '='])
        {
            "i8" => file.into_vec::<i64>(),
            "i4" => file
                .into_vec::<i32>()
                .map(|v| v.into_iter().map(i64::from).collect()),
            "u1" => file
                .into_vec::<u8>()
                .map(|v| v.into_iter().map(i64::from).collect()),
            _ => {
                return Err(fail(format!(
                    "dtype {descr}, expected int64, int32 or uint8"
                )))
            }
        }
        .map_err(|e| fail(e.to_string()))?;
        let labels = values
            .iter()
            .map(|&v| u8::try_from(v))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| fail("a label is outside 0..=255".into()))?;
        self.labels = Some(labels);
        Ok(())
    }

    /// Reads an NPY array of `N x C x H x W` little- or big-endian float32 values in
    /// `[0, 1]`, C order. Errors name the file and what is wrong (not NPY, another dtype,
    /// another rank, Fortran order, a value out of range, naming its index).
    pub fn read_npy(path: impl AsRef<Path>) -> Result<Images, NpyError> {
        let path = path.as_ref();
        let fail = |what: String| npy_error(path, what);
        let file = open_npy(path)?;
        let dims = file.shape().to_vec();
        let dtype = file.dtype();
        let is_f32 = matches!(&dtype, npyz::DType::Plain(t)
            if t.type_char() == npyz::TypeChar::Float && t.size_field() == 4);
        if !is_f32 {
            return Err(fail(format!("dtype {}, expected float32", dtype.descr())));
        }
        if file.order() != npyz::Order::C {
            return Err(fail("Fortran order; save a C-ordered array".into()));
        }
        let [n, c, h, w] = dims[..] else {
            return Err(fail(format!("shape {dims:?}, expected N x C x H x W")));
        };
        let extent = |d: u64| u32::try_from(d).ok().filter(|&d| d > 0);
        let (Some(c), Some(h), Some(w)) = (extent(c), extent(h), extent(w)) else {
            return Err(fail(format!("shape {dims:?}: empty or huge images")));
        };
        let values = file.into_vec::<f32>().map_err(|e| fail(e.to_string()))?;
        if let Some(i) = values.iter().position(|v| !(0.0..=1.0).contains(v)) {
            return Err(fail(format!(
                "value {} at flat index {i} is outside [0, 1]",
                values[i]
            )));
        }
        debug_assert_eq!(
            values.len() as u64,
            n * u64::from(c) * u64::from(h) * u64::from(w)
        );
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

    fn label(&self, i: usize) -> Option<usize> {
        self.labels.as_ref()?.get(i).map(|&l| usize::from(l))
    }
}

fn npy_error(path: &Path, what: String) -> NpyError {
    NpyError {
        path: path.display().to_string(),
        what,
    }
}

/// Reads an NPY file whole and parses its header.
fn open_npy(path: &Path) -> Result<npyz::NpyFile<std::io::Cursor<Vec<u8>>>, NpyError> {
    let bytes = std::fs::read(path).map_err(|e| npy_error(path, e.to_string()))?;
    npyz::NpyFile::new(std::io::Cursor::new(bytes))
        .map_err(|e| npy_error(path, format!("not NPY: {e}")))
}
