//! Every spike out: for each input image, every layer's spike times and the reference DNN's
//! pre-activations `A`, the logits and classes, written as one NPZ archive numpy reads
//! (`np.load(path)`).
//!
//! Arrays (N images; a layer of shape (C, H, W) stores (N, C, H, W), or (N, C) when
//! H = W = 1; `k` is the index of the layer in the engine graph, as `tdsnn inspect` prints):
//!
//! | name | shape | dtype | what |
//! |---|---|---|---|
//! | `input` | (N, C, H, W) | float32 | the images |
//! | `input_spikes` | (N, C, H, W) | uint32 | each pixel's spike time `T(p)` |
//! | `labels` | (N,) | int64 | the labels, when known |
//! | `classes_snn`, `classes_dnn` | (N,) | int64 | the SNN's class, the f64 reference DNN(G)'s |
//! | `logits_snn`, `logits_dnn` | (N, K) | float64 | the SNN's rescaled logits, the reference's `A` |
//! | `layer{k}_spikes` | (N, layer shape) | uint32 | absolute spike times (not the output layer) |
//! | `layer{k}_frame_origin` | (N,) | uint32 | the layer's frame origin `R_{k-1}` |
//! | `layer{k}_release` | (N,) | uint32 | the release `R_k` (synapse-based layers) |
//! | `layer{k}_pre_activation` | (N, layer shape) | float64 | the reference's `A` (synapse-based layers) |
//! | `layer{k}_delays` | (N, parts) | uint32 | a join's delays `o - o_g`, its own synapses first, then each further synapse group (joins only) |
//!
//! A hidden synapse-based neuron fires at `layer{k}_release + T(A)`; a max-pool or flatten
//! neuron at an absolute time in its input's frame. A join (a layer with further synapse
//! groups, docs/semantics.md "Branches and joins") delays each part's spikes by its
//! `layer{k}_delays` entry: the steps they wait in a buffer for the join's frame
//! `layer{k}_frame_origin`. Memory: everything is held until the
//! archive is written (about 207 kB per LeNet-5 image).

use std::fs::File;
use std::io::Write;
use std::path::Path;

use npyz::WriterBuilder;
use tdsnn_converter::{layer_map, Dnn, Reference};
use tdsnn_engine::{Graph, Record, Shape};

use crate::images::Inputs;

/// What a dump holds of each image besides its input: the engine's [`Record`] and the
/// reference DNN(G)'s values ([`Reference`]), in image order. The `tdsnn` facade's
/// evaluation implements it (with its `EvalConfig::keep`); so does a slice of pairs.
pub trait Recorded {
    /// Image `image`'s record and reference, or `None` if they were not kept.
    fn recorded(&self, image: usize) -> Option<(&Record, &Reference)>;
}

impl Recorded for [(Record, Reference)] {
    fn recorded(&self, image: usize) -> Option<(&Record, &Reference)> {
        self.get(image)
            .map(|(record, reference)| (record, reference))
    }
}

/// Why a dump could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// Writing the file failed.
    #[error("{path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// An image's record was not kept ([`Recorded::recorded`] gave `None`: for the facade's
    /// evaluation, `EvalConfig::keep` was off).
    #[error("image {image}: the evaluation kept no record to dump (EvalConfig::keep)")]
    NotKept {
        /// Index of the image.
        image: usize,
    },
}

/// The values of one dumped array, in its dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// `float32`: the images.
    F32(Vec<f32>),
    /// `uint32`: spike times, frame origins, releases, delays.
    U32(Vec<u32>),
    /// `int64`: classes and labels.
    I64(Vec<i64>),
    /// `float64`: logits and pre-activations.
    F64(Vec<f64>),
}

impl Values {
    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::U32(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No values of `dtype`, room made for `capacity`.
    fn with_capacity(dtype: Dtype, capacity: usize) -> Values {
        match dtype {
            Dtype::F32 => Values::F32(Vec::with_capacity(capacity)),
            Dtype::U32 => Values::U32(Vec::with_capacity(capacity)),
            Dtype::I64 => Values::I64(Vec::with_capacity(capacity)),
            Dtype::F64 => Values::F64(Vec::with_capacity(capacity)),
        }
    }

    /// Appends `other`'s values, of the same dtype.
    fn append(&mut self, other: &mut Values) {
        match (self, other) {
            (Values::F32(a), Values::F32(b)) => a.append(b),
            (Values::U32(a), Values::U32(b)) => a.append(b),
            (Values::I64(a), Values::I64(b)) => a.append(b),
            (Values::F64(a), Values::F64(b)) => a.append(b),
            _ => unreachable!("arrays of one dump layout share their dtypes"),
        }
    }

    /// One NPY file's bytes holding these values in `shape`.
    fn npy(&self, shape: &[u64]) -> std::io::Result<Vec<u8>> {
        match self {
            Values::F32(v) => npy(shape, v),
            Values::U32(v) => npy(shape, v),
            Values::I64(v) => npy(shape, v),
            Values::F64(v) => npy(shape, v),
        }
    }
}

/// One array of a dump: its name (without `.npy`), its shape (images first, C order) and its
/// values.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedArray {
    /// The name, as in the [module docs](self).
    pub name: String,
    /// The shape: the number of images, then one image's part.
    pub shape: Vec<usize>,
    /// The values, `shape.iter().product()` of them.
    pub values: Values,
}

/// The element type of a column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dtype {
    F32,
    U32,
    I64,
    F64,
}

/// Where a column's values come from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Input,
    InputSpikes,
    ClassSnn,
    ClassDnn,
    Label,
    LogitsSnn,
    LogitsDnn,
    Spikes(usize),
    FrameOrigin(usize),
    Release(usize),
    /// Graph layer, DNN layer.
    PreActivation(usize, usize),
    Delays(usize),
}

impl Field {
    /// Whether it is the reference DNN(G)'s.
    fn is_reference(self) -> bool {
        matches!(
            self,
            Field::ClassDnn | Field::LogitsDnn | Field::PreActivation(..)
        )
    }
}

/// One array: name, shape of one image's part, source, values of every image.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    item: Vec<usize>,
    field: Field,
    values: Values,
}

fn dims(shape: Shape) -> Vec<usize> {
    if shape.h == 1 && shape.w == 1 {
        vec![shape.c as usize]
    } else {
        vec![shape.c as usize, shape.h as usize, shape.w as usize]
    }
}

/// The arrays of a dump being filled image by image: those of the [module docs](self), for
/// the engine alone or with the reference DNN(G), with labels or without. Several threads
/// fill one each for consecutive shares of the images, then [`DumpArrays::append`] joins
/// them in order.
///
/// # Example
/// ```
/// use tdsnn_converter::{convert, Dnn, DnnLayer, Shape, TilPolicy};
/// use tdsnn_engine::{Simulate, Simulator, TickMode};
/// use tdsnn_io::dump::{DumpArrays, Values};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dnn = Dnn::new(Shape::flat(2), vec![
///     DnnLayer::Dense { outputs: 2, weights: vec![1.0, -1.0, -1.0, 1.0], bias: None },
/// ])?;
/// let graph = convert(&dnn, 5.0, TilPolicy::Dynamic)?;
/// // The engine's arrays alone, for two images without labels.
/// let mut dump = DumpArrays::new(&graph, None, 2, false);
/// let mut sim = Simulator::new(graph.clone(), TickMode::ClosedForm);
/// for x in [[0.2, 0.9], [0.7, 0.1]] {
///     dump.push(&x, &sim.run(&x, &mut ())?, None, None)?;
/// }
/// let arrays = dump.into_arrays();
/// let classes = arrays.iter().find(|a| a.name == "classes_snn").unwrap();
/// assert_eq!((classes.shape.as_slice(), &classes.values), (&[2][..], &Values::I64(vec![1, 0])));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DumpArrays {
    columns: Vec<Column>,
    images: usize,
}

impl DumpArrays {
    /// Empty arrays for `graph`, room made for `capacity` images: with the reference's
    /// arrays if `dnn` (the DNN(G) `graph` was converted from) is given, with `labels` if
    /// `labelled`.
    pub fn new(graph: &Graph, dnn: Option<&Dnn>, capacity: usize, labelled: bool) -> DumpArrays {
        let map = dnn.map(layer_map);
        let input = graph.input_shape();
        let image = vec![input.c as usize, input.h as usize, input.w as usize];
        let last = graph.layers().len() - 1;
        let classes = dims(graph.output_shape(last));
        let mut columns = vec![
            ("input".to_string(), image.clone(), Field::Input, Dtype::F32),
            (
                "input_spikes".to_string(),
                image,
                Field::InputSpikes,
                Dtype::U32,
            ),
        ];
        let mut i64s = vec![
            (
                "classes_snn".to_string(),
                vec![],
                Field::ClassSnn,
                Dtype::I64,
            ),
            (
                "classes_dnn".to_string(),
                vec![],
                Field::ClassDnn,
                Dtype::I64,
            ),
        ];
        let mut f64s = vec![
            (
                "logits_snn".to_string(),
                classes.clone(),
                Field::LogitsSnn,
                Dtype::F64,
            ),
            (
                "logits_dnn".to_string(),
                classes,
                Field::LogitsDnn,
                Dtype::F64,
            ),
        ];
        if labelled {
            i64s.push(("labels".to_string(), vec![], Field::Label, Dtype::I64));
        }
        for (k, layer) in graph.layers().iter().enumerate() {
            let shape = dims(graph.output_shape(k));
            if k != last {
                let name = format!("layer{k}_spikes");
                columns.push((name, shape.clone(), Field::Spikes(k), Dtype::U32));
            }
            let name = format!("layer{k}_frame_origin");
            columns.push((name, vec![], Field::FrameOrigin(k), Dtype::U32));
            if layer.is_synaptic() {
                let name = format!("layer{k}_release");
                columns.push((name, vec![], Field::Release(k), Dtype::U32));
                if let Some(map) = &map {
                    let dnn_k = map.iter().position(|&g| g == Some(k)).expect("mapped");
                    let name = format!("layer{k}_pre_activation");
                    f64s.push((name, shape, Field::PreActivation(k, dnn_k), Dtype::F64));
                }
            }
            if !graph.groups(k).is_empty() {
                let parts = 1 + graph.groups(k).len();
                let name = format!("layer{k}_delays");
                columns.push((name, vec![parts], Field::Delays(k), Dtype::U32));
            }
        }
        // In the order they are written: float32, uint32, int64, float64.
        let columns = columns
            .into_iter()
            .chain(i64s)
            .chain(f64s)
            .filter(|c| dnn.is_some() || !c.2.is_reference())
            .map(|(name, item, field, dtype)| {
                let len = capacity.saturating_mul(item.iter().product());
                Column {
                    name,
                    item,
                    field,
                    values: Values::with_capacity(dtype, len),
                }
            })
            .collect();
        DumpArrays { columns, images: 0 }
    }

    /// The number of images pushed.
    pub fn images(&self) -> usize {
        self.images
    }

    /// Appends one image: its input values, the engine's record of it, the reference's
    /// values (needed when made with a DNN) and its label (written when made `labelled`;
    /// `-1` if unknown).
    ///
    /// # Errors
    /// [`DumpError::NotKept`] if the reference's arrays are dumped and `reference` is `None`;
    /// nothing is appended then.
    pub fn push(
        &mut self,
        input: &[f32],
        record: &Record,
        reference: Option<&Reference>,
        label: Option<usize>,
    ) -> Result<(), DumpError> {
        let image = self.images;
        let needs_reference = self.columns.iter().any(|c| c.field.is_reference());
        let reference = match reference {
            Some(r) => Some(r),
            None if needs_reference => return Err(DumpError::NotKept { image }),
            None => None,
        };
        let reference = || reference.expect("checked above");
        for column in &mut self.columns {
            match (&mut column.values, column.field) {
                (Values::F32(v), Field::Input) => v.extend_from_slice(input),
                (Values::U32(v), Field::InputSpikes) => v.extend_from_slice(&record.input),
                (Values::U32(v), Field::Spikes(k)) => v.extend_from_slice(&record.layers[k].spikes),
                (Values::U32(v), Field::FrameOrigin(k)) => v.push(record.layers[k].frame_origin),
                (Values::U32(v), Field::Release(k)) => {
                    v.push(record.layers[k].release.unwrap_or(0))
                }
                (Values::U32(v), Field::Delays(k)) => v.extend_from_slice(&record.layers[k].delays),
                (Values::I64(v), Field::ClassSnn) => v.push(record.output.class as i64),
                (Values::I64(v), Field::ClassDnn) => v.push(reference().class as i64),
                (Values::I64(v), Field::Label) => v.push(label.map_or(-1, |l| l as i64)),
                (Values::F64(v), Field::LogitsSnn) => v.extend_from_slice(&record.output.logits),
                (Values::F64(v), Field::LogitsDnn) => v.extend_from_slice(&reference().logits),
                (Values::F64(v), Field::PreActivation(_, dnn_k)) => v.extend_from_slice(
                    reference().layers[dnn_k]
                        .pre_activations()
                        .expect("a synapse-based layer's"),
                ),
                _ => unreachable!("each source is of its column's dtype"),
            }
        }
        self.images += 1;
        Ok(())
    }

    /// Appends every image of `other`, made for the same graph in the same way, after this
    /// one's.
    pub fn append(&mut self, mut other: DumpArrays) {
        for (a, b) in self.columns.iter_mut().zip(&mut other.columns) {
            debug_assert_eq!(a.name, b.name);
            a.values.append(&mut b.values);
        }
        self.images += other.images;
    }

    /// The arrays, in the order they are written.
    pub fn into_arrays(self) -> Vec<NamedArray> {
        let n = self.images;
        self.columns
            .into_iter()
            .map(|c| NamedArray {
                name: c.name,
                shape: std::iter::once(n).chain(c.item).collect(),
                values: c.values,
            })
            .collect()
    }
}

/// The arrays of the dump described in the [module docs](self): every image of `inputs`,
/// as `eval` recorded it (the engine running `graph`, converted from `dnn`, and the reference
/// DNN(G) `dnn`).
///
/// # Errors
/// [`DumpError::NotKept`] naming the first image `eval` holds no record of.
pub fn dump_arrays(
    graph: &Graph,
    dnn: &Dnn,
    inputs: &impl Inputs,
    eval: &(impl Recorded + ?Sized),
) -> Result<Vec<NamedArray>, DumpError> {
    let labelled = (0..inputs.count()).all(|i| inputs.label(i).is_some());
    let mut dump = DumpArrays::new(graph, Some(dnn), inputs.count(), labelled);
    for image in 0..inputs.count() {
        let (record, reference) = eval.recorded(image).ok_or(DumpError::NotKept { image })?;
        dump.push(
            &inputs.input(image),
            record,
            Some(reference),
            inputs.label(image),
        )?;
    }
    Ok(dump.into_arrays())
}

/// Writes the NPZ archive described in the [module docs](self) to `path`: every image of
/// `inputs`, as `eval` recorded it (the engine running `graph`, converted from `dnn`, and
/// the reference DNN(G) `dnn`). Returns the number of arrays.
///
/// # Errors
/// [`DumpError::NotKept`] naming the first image `eval` holds no record of, before anything
/// is written; [`DumpError::Write`] if the file cannot be written.
///
/// # Example
/// ```
/// use tdsnn_converter::{convert, reference_forward, Dnn, DnnLayer, Shape, TilPolicy};
/// use tdsnn_engine::{Simulate, Simulator, TickMode};
/// use tdsnn_io::dump::write_dump;
/// use tdsnn_io::images::{Images, Inputs};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dnn = Dnn::new(Shape::flat(2), vec![
///     DnnLayer::Dense { outputs: 2, weights: vec![1.0, -1.0, -1.0, 1.0], bias: None },
/// ])?;
/// let graph = convert(&dnn, 5.0, TilPolicy::Dynamic)?;
/// let images = Images { shape: Shape::flat(2), values: vec![0.2, 0.9, 0.7, 0.1], labels: None };
/// let mut sim = Simulator::new(graph.clone(), TickMode::ClosedForm);
/// let mut records = Vec::new();
/// for i in 0..images.count() {
///     let x = images.input(i);
///     records.push((sim.run(&x, &mut ())?, reference_forward(&dnn, &x, 5.0)?));
/// }
/// let path = std::env::temp_dir().join(format!("tdsnn-dump-doc-{}.npz", std::process::id()));
/// // input, input_spikes, classes_snn, classes_dnn, logits_snn, logits_dnn, and the output
/// // layer's frame origin, release and pre-activations
/// assert_eq!(write_dump(&path, &graph, &dnn, &images, records.as_slice())?, 9);
/// std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
pub fn write_dump(
    path: &Path,
    graph: &Graph,
    dnn: &Dnn,
    inputs: &impl Inputs,
    eval: &(impl Recorded + ?Sized),
) -> Result<usize, DumpError> {
    write_npz(path, &dump_arrays(graph, dnn, inputs, eval)?)
}

/// Writes `arrays` to `path` as an NPZ archive (each `{name}.npy`, stored uncompressed, in
/// order). Returns the number of arrays.
///
/// # Errors
/// [`DumpError::Write`] if the file cannot be written.
pub fn write_npz(path: &Path, arrays: &[NamedArray]) -> Result<usize, DumpError> {
    let fail = |message: String| DumpError::Write {
        path: path.display().to_string(),
        message,
    };
    let file = File::create(path).map_err(|e| fail(e.to_string()))?;
    let mut zip = zip::ZipWriter::new(file);
    for array in arrays {
        let shape: Vec<u64> = array.shape.iter().map(|&d| d as u64).collect();
        let npy = array.values.npy(&shape).map_err(|e| fail(e.to_string()))?;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(npy.len() as u64 >= u64::from(u32::MAX));
        zip.start_file(format!("{}.npy", array.name), options)
            .map_err(|e| fail(e.to_string()))?;
        zip.write_all(&npy).map_err(|e| fail(e.to_string()))?;
    }
    zip.finish().map_err(|e| fail(e.to_string()))?;
    Ok(arrays.len())
}

/// One NPY file's bytes: `shape`, little-endian, C order.
fn npy<T: npyz::AutoSerialize + Copy>(shape: &[u64], values: &[T]) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut writer = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut bytes)
        .begin_nd()?;
    writer.extend(values.iter().copied())?;
    writer.finish()?;
    Ok(bytes)
}
