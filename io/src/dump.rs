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

/// One array being collected: name, shape of one image's part, values.
struct Array<T> {
    name: String,
    item: Vec<u64>,
    values: Vec<T>,
}

impl<T> Array<T> {
    fn new(name: impl Into<String>, item: Vec<u64>) -> Self {
        Array {
            name: name.into(),
            item,
            values: Vec::new(),
        }
    }
}

impl<T: npyz::AutoSerialize + Copy> Array<T> {
    /// Its name and its NPY bytes, `n` images of shape `item`.
    fn npy(&self, n: u64) -> (&str, std::io::Result<Vec<u8>>) {
        (&self.name, npy(n, &self.item, &self.values))
    }
}

fn dims(shape: Shape) -> Vec<u64> {
    if shape.h == 1 && shape.w == 1 {
        vec![u64::from(shape.c)]
    } else {
        vec![u64::from(shape.c), u64::from(shape.h), u64::from(shape.w)]
    }
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
    let map = layer_map(dnn);
    let in_shape = inputs.shape();
    let image_dims = vec![
        u64::from(in_shape.c),
        u64::from(in_shape.h),
        u64::from(in_shape.w),
    ];
    let classes = dims(graph.output_shape(graph.layers().len() - 1));
    let mut f32s = [Array::<f32>::new("input", image_dims.clone())];
    let mut u32s = vec![Array::<u32>::new("input_spikes", image_dims)];
    let mut i64s = vec![
        Array::<i64>::new("classes_snn", vec![]),
        Array::<i64>::new("classes_dnn", vec![]),
    ];
    let mut f64s = vec![
        Array::<f64>::new("logits_snn", classes.clone()),
        Array::<f64>::new("logits_dnn", classes),
    ];
    let labelled = (0..inputs.count()).all(|i| inputs.label(i).is_some());
    if labelled {
        i64s.push(Array::new("labels", vec![]));
    }
    let last = graph.layers().len() - 1;
    for (k, layer) in graph.layers().iter().enumerate() {
        let shape = dims(graph.output_shape(k));
        if k != last {
            u32s.push(Array::new(format!("layer{k}_spikes"), shape.clone()));
        }
        u32s.push(Array::new(format!("layer{k}_frame_origin"), vec![]));
        if layer.is_synaptic() {
            u32s.push(Array::new(format!("layer{k}_release"), vec![]));
            f64s.push(Array::new(format!("layer{k}_pre_activation"), shape));
        }
        if !graph.groups(k).is_empty() {
            let parts = 1 + graph.groups(k).len() as u64;
            u32s.push(Array::new(format!("layer{k}_delays"), vec![parts]));
        }
    }
    for image in 0..inputs.count() {
        let (record, reference) = eval.recorded(image).ok_or(DumpError::NotKept { image })?;
        f32s[0].values.extend_from_slice(&inputs.input(image));
        let mut u = u32s.iter_mut();
        u.next().expect("input_spikes").values.extend(&record.input);
        let mut a = f64s.iter_mut();
        a.next()
            .expect("logits_snn")
            .values
            .extend(&record.output.logits);
        a.next()
            .expect("logits_dnn")
            .values
            .extend(&reference.logits);
        i64s[0].values.push(record.output.class as i64);
        i64s[1].values.push(reference.class as i64);
        if let Some(l) = i64s.get_mut(2) {
            l.values.push(inputs.label(image).map_or(-1, |l| l as i64));
        }
        // Layers in the order the arrays were declared above.
        for (k, (layer, l)) in graph.layers().iter().zip(&record.layers).enumerate() {
            if k != last {
                u.next().expect("spikes").values.extend(&l.spikes);
            }
            u.next().expect("frame origin").values.push(l.frame_origin);
            if layer.is_synaptic() {
                u.next()
                    .expect("release")
                    .values
                    .push(l.release.unwrap_or(0));
                let dnn_k = map.iter().position(|&g| g == Some(k)).expect("mapped");
                let pre = reference.layers[dnn_k].pre_activations().expect("synaptic");
                a.next().expect("pre-activation").values.extend(pre);
            }
            if !graph.groups(k).is_empty() {
                u.next().expect("delays").values.extend(&l.delays);
            }
        }
    }
    let fail = |message: String| DumpError::Write {
        path: path.display().to_string(),
        message,
    };
    let file = File::create(path).map_err(|e| fail(e.to_string()))?;
    let mut zip = zip::ZipWriter::new(file);
    let n = inputs.count() as u64;
    let mut count = 0;
    let mut add = |name: &str, npy: Vec<u8>| -> Result<(), DumpError> {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(npy.len() as u64 >= u64::from(u32::MAX));
        zip.start_file(format!("{name}.npy"), options)
            .map_err(|e| fail(e.to_string()))?;
        zip.write_all(&npy).map_err(|e| fail(e.to_string()))?;
        count += 1;
        Ok(())
    };
    // One array at a time, in the order declared: f32, u32, i64, f64.
    let encoded = (f32s.iter().map(|a| a.npy(n)))
        .chain(u32s.iter().map(|a| a.npy(n)))
        .chain(i64s.iter().map(|a| a.npy(n)))
        .chain(f64s.iter().map(|a| a.npy(n)));
    for (name, npy) in encoded {
        add(name, npy.map_err(|e| fail(e.to_string()))?)?;
    }
    zip.finish().map_err(|e| fail(e.to_string()))?;
    Ok(count)
}

/// One NPY file's bytes: shape `(n, item...)`, little-endian, C order.
fn npy<T: npyz::AutoSerialize + Copy>(
    n: u64,
    item: &[u64],
    values: &[T],
) -> std::io::Result<Vec<u8>> {
    let mut shape = vec![n];
    shape.extend_from_slice(item);
    let mut bytes = Vec::new();
    let mut writer = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(&shape)
        .writer(&mut bytes)
        .begin_nd()?;
    writer.extend(values.iter().copied())?;
    writer.finish()?;
    Ok(bytes)
}
