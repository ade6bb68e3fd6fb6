//! Every spike out: for each input image, every layer's spike times and the reference DNN's
//! pre-activations `A`, the logits and classes, as numpy arrays: in memory ([`DumpArrays`]),
//! or streamed to disk as images finish ([`DumpFile`]) as one NPZ archive numpy reads
//! (`np.load(path)`) or a directory of NPY files it can memory-map
//! (`np.load(path / "input_spikes.npy", mmap_mode="r")`); the dumps of a data set's shards
//! joined into the dump of the whole ([`merge`]).
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
//! `layer{k}_frame_origin`.
//!
//! Memory: a [`DumpFile`] holds one image at a time (and the images finished out of order
//! ahead of it); its arrays go to disk as NPY files as images are pushed, in a directory
//! beside the archive that is packed into it at the end (so an NPZ needs its size twice on
//! disk for a moment). About 207 kB per LeNet-5 image.

mod file;
mod merge;

pub use file::{DumpFile, Format};
pub use merge::merge;

use tdsnn_converter::{layer_map, Dnn, Reference};
use tdsnn_engine::{Graph, Record, Shape};

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
    /// The reference's arrays are dumped and an image came without the reference's values.
    #[error("image {image}: no reference values to dump (the dump holds the reference's arrays)")]
    NoReference {
        /// Index of the image.
        image: usize,
    },
    /// More or fewer images than the dump was made for.
    #[error("{path}: made for {expected} images, {got} pushed")]
    Count {
        /// The file.
        path: String,
        /// The images it was made for.
        expected: usize,
        /// The images pushed.
        got: usize,
    },
    /// Reading a dump to merge failed, or the dumps do not fit together.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// What failed or does not fit.
        message: String,
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

    /// Appends one image's piece of this array.
    fn extend(&mut self, piece: Piece<'_>) {
        match (self, piece) {
            (Values::F32(v), Piece::F32(p)) => v.extend_from_slice(p),
            (Values::U32(v), Piece::U32(p)) => v.extend_from_slice(p),
            (Values::U32(v), Piece::U32One(x)) => v.push(x),
            (Values::I64(v), Piece::I64One(x)) => v.push(x),
            (Values::F64(v), Piece::F64(p)) => v.extend_from_slice(p),
            _ => unreachable!("each piece is of its array's dtype"),
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

/// The element type of an array.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dtype {
    F32,
    U32,
    I64,
    F64,
}

/// Where an array's values come from.
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

/// One image's values of one array, borrowed from its record, reference or input.
#[derive(Debug, Clone, Copy)]
enum Piece<'a> {
    F32(&'a [f32]),
    U32(&'a [u32]),
    U32One(u32),
    I64One(i64),
    F64(&'a [f64]),
}

/// One array of the layout: name, shape of one image's part, source, dtype.
#[derive(Debug, Clone, PartialEq)]
struct Column {
    name: String,
    item: Vec<usize>,
    field: Field,
    dtype: Dtype,
}

impl Column {
    /// Values per image.
    fn per_image(&self) -> usize {
        self.item.iter().product()
    }
}

fn dims(shape: Shape) -> Vec<usize> {
    if shape.h == 1 && shape.w == 1 {
        vec![shape.c as usize]
    } else {
        vec![shape.c as usize, shape.h as usize, shape.w as usize]
    }
}

/// Which arrays a dump holds, in the order they are written: those of the [module
/// docs](self) for a graph, for the engine alone or with the reference DNN(G), with labels
/// or without.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    columns: Vec<Column>,
}

impl Layout {
    /// The arrays for `graph`: with the reference's if `dnn` (the DNN(G) `graph` was
    /// converted from) is given, with `labels` if `labelled`.
    fn new(graph: &Graph, dnn: Option<&Dnn>, labelled: bool) -> Layout {
        let map = dnn.map(layer_map);
        let input = graph.input_shape();
        let image = vec![input.c as usize, input.h as usize, input.w as usize];
        let last = graph.layers().len() - 1;
        let classes = dims(graph.output_shape(last));
        let column = |name: String, item: Vec<usize>, field, dtype| Column {
            name,
            item,
            field,
            dtype,
        };
        let mut columns = vec![
            column("input".into(), image.clone(), Field::Input, Dtype::F32),
            column("input_spikes".into(), image, Field::InputSpikes, Dtype::U32),
        ];
        let mut i64s = vec![
            column("classes_snn".into(), vec![], Field::ClassSnn, Dtype::I64),
            column("classes_dnn".into(), vec![], Field::ClassDnn, Dtype::I64),
        ];
        let mut f64s = vec![
            column(
                "logits_snn".into(),
                classes.clone(),
                Field::LogitsSnn,
                Dtype::F64,
            ),
            column("logits_dnn".into(), classes, Field::LogitsDnn, Dtype::F64),
        ];
        if labelled {
            i64s.push(column("labels".into(), vec![], Field::Label, Dtype::I64));
        }
        for (k, layer) in graph.layers().iter().enumerate() {
            let shape = dims(graph.output_shape(k));
            if k != last {
                let name = format!("layer{k}_spikes");
                columns.push(column(name, shape.clone(), Field::Spikes(k), Dtype::U32));
            }
            let name = format!("layer{k}_frame_origin");
            columns.push(column(name, vec![], Field::FrameOrigin(k), Dtype::U32));
            if layer.is_synaptic() {
                let name = format!("layer{k}_release");
                columns.push(column(name, vec![], Field::Release(k), Dtype::U32));
                if let Some(map) = &map {
                    let dnn_k = map.iter().position(|&g| g == Some(k)).expect("mapped");
                    let name = format!("layer{k}_pre_activation");
                    let field = Field::PreActivation(k, dnn_k);
                    f64s.push(column(name, shape, field, Dtype::F64));
                }
            }
            if !graph.groups(k).is_empty() {
                let parts = 1 + graph.groups(k).len();
                let name = format!("layer{k}_delays");
                columns.push(column(name, vec![parts], Field::Delays(k), Dtype::U32));
            }
        }
        // In the order they are written: float32, uint32, int64, float64.
        let columns = columns
            .into_iter()
            .chain(i64s)
            .chain(f64s)
            .filter(|c| dnn.is_some() || !c.field.is_reference())
            .collect();
        Layout { columns }
    }

    /// Whether the reference's arrays are in it.
    fn needs_reference(&self) -> bool {
        self.columns.iter().any(|c| c.field.is_reference())
    }

    /// Image `image`'s piece of every array, in order: from its input values, the engine's
    /// record, the reference's values (needed if the layout holds the reference's arrays)
    /// and its label (`-1` if unknown).
    fn pieces<'a>(
        &'a self,
        image: usize,
        input: &'a [f32],
        record: &'a Record,
        reference: Option<&'a Reference>,
        label: Option<usize>,
    ) -> Result<impl Iterator<Item = Piece<'a>> + 'a, DumpError> {
        if reference.is_none() && self.needs_reference() {
            return Err(DumpError::NoReference { image });
        }
        let reference = move || reference.expect("checked above");
        Ok(self.columns.iter().map(move |c| match c.field {
            Field::Input => Piece::F32(input),
            Field::InputSpikes => Piece::U32(&record.input),
            Field::Spikes(k) => Piece::U32(&record.layers[k].spikes),
            Field::FrameOrigin(k) => Piece::U32One(record.layers[k].frame_origin),
            Field::Release(k) => Piece::U32One(record.layers[k].release.unwrap_or(0)),
            Field::Delays(k) => Piece::U32(&record.layers[k].delays),
            Field::ClassSnn => Piece::I64One(record.output.class as i64),
            Field::ClassDnn => Piece::I64One(reference().class as i64),
            Field::Label => Piece::I64One(label.map_or(-1, |l| l as i64)),
            Field::LogitsSnn => Piece::F64(&record.output.logits),
            Field::LogitsDnn => Piece::F64(&reference().logits),
            Field::PreActivation(_, dnn_k) => Piece::F64(
                reference().layers[dnn_k]
                    .pre_activations()
                    .expect("a synapse-based layer's"),
            ),
        }))
    }
}

/// Where a dump's images go, one after the other: memory ([`DumpArrays`]) or disk
/// ([`DumpFile`]).
pub trait Dump {
    /// Appends the next image: its input values, the engine's record of it, the reference's
    /// values (needed when the dump holds the reference's arrays) and its label (written
    /// when the dump holds labels; `-1` if unknown).
    ///
    /// # Errors
    /// [`DumpError::NoReference`] if the reference's arrays are dumped and `reference` is
    /// `None` (nothing is appended then); [`DumpError::Write`] if a file cannot be written.
    fn push(
        &mut self,
        input: &[f32],
        record: &Record,
        reference: Option<&Reference>,
        label: Option<usize>,
    ) -> Result<(), DumpError>;
}

/// The arrays of a dump in memory, filled image by image. Several threads fill one each for
/// consecutive shares of the images, then [`DumpArrays::append`] joins them in order.
///
/// # Example
/// ```
/// use tdsnn_converter::{convert, Dnn, DnnLayer, Shape, TilPolicy};
/// use tdsnn_engine::{Simulate, Simulator, TickMode};
/// use tdsnn_io::dump::{Dump, DumpArrays, Values};
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
    layout: Layout,
    values: Vec<Values>,
    images: usize,
}

impl DumpArrays {
    /// Empty arrays for `graph`, room made for `capacity` images: with the reference's
    /// arrays if `dnn` (the DNN(G) `graph` was converted from) is given, with `labels` if
    /// `labelled`.
    pub fn new(graph: &Graph, dnn: Option<&Dnn>, capacity: usize, labelled: bool) -> DumpArrays {
        let layout = Layout::new(graph, dnn, labelled);
        let values = (layout.columns.iter())
            .map(|c| Values::with_capacity(c.dtype, capacity.saturating_mul(c.per_image())))
            .collect();
        DumpArrays {
            layout,
            values,
            images: 0,
        }
    }

    /// The number of images pushed.
    pub fn images(&self) -> usize {
        self.images
    }

    /// Appends every image of `other`, made for the same graph in the same way, after this
    /// one's.
    pub fn append(&mut self, mut other: DumpArrays) {
        debug_assert_eq!(self.layout, other.layout);
        for (a, b) in self.values.iter_mut().zip(&mut other.values) {
            a.append(b);
        }
        self.images += other.images;
    }

    /// The arrays, in the order they are written.
    pub fn into_arrays(self) -> Vec<NamedArray> {
        let n = self.images;
        (self.layout.columns.into_iter().zip(self.values))
            .map(|(c, values)| NamedArray {
                name: c.name,
                shape: std::iter::once(n).chain(c.item).collect(),
                values,
            })
            .collect()
    }
}

impl Dump for DumpArrays {
    fn push(
        &mut self,
        input: &[f32],
        record: &Record,
        reference: Option<&Reference>,
        label: Option<usize>,
    ) -> Result<(), DumpError> {
        let pieces = self
            .layout
            .pieces(self.images, input, record, reference, label)?;
        for (values, piece) in self.values.iter_mut().zip(pieces) {
            values.extend(piece);
        }
        self.images += 1;
        Ok(())
    }
}
