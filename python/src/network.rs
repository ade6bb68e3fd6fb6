//! Networks: loaded from a file or built, converted, run on numpy images with the GIL
//! released, evaluated into the report `tdsnn run --json` writes.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use tdsnn_converter::{convert, Dnn};
use tdsnn_engine::{format, Graph, Plan, TickMode, TilPolicy};
use tdsnn_evaluate::report::{ReluModel, Report, Setup};
use tdsnn_evaluate::timing::engine_speed;
use tdsnn_evaluate::{evaluate, evaluate_into, simulate, EvalConfig};
use tdsnn_io::dump::{Dump, DumpArrays};
use tdsnn_io::images::Inputs;
use tdsnn_io::load::{self as loader, is_onnx, shown};
use tdsnn_io::onnx::import_onnx;

use crate::{arrays, errors};

/// Where a network came from, as reports name it.
#[derive(Debug, Clone)]
struct Origin {
    /// The file (as given, relative to the current directory when inside it), or what built
    /// the network.
    name: String,
    /// An ONNX file: its own weights run without `G` give the DNN (ReLU) row when no ReLU
    /// network is given.
    onnx: bool,
}

/// A converted network: the engine's graph and, unless it was read from a graph file, the
/// DNN(G) it was converted from (the reference every spike is checked against).
///
/// Made by `load`, `load_graph`, `from_torch` or `Builder.build`; immutable, and safe to
/// share between Python threads (each call simulates with simulators of its own).
#[pyclass(module = "tdsnn", frozen)]
#[derive(Debug)]
pub struct Network {
    graph: Arc<Graph>,
    dnn: Option<Arc<Dnn>>,
    origin: Origin,
}

impl Network {
    /// Converts `dnn` with leak constant `leak` and `til`.
    pub fn convert(
        dnn: Dnn,
        leak: f64,
        til: TilPolicy,
        name: String,
        onnx: bool,
    ) -> PyResult<Self> {
        let leak = crate::laws::leak_constant(leak)?;
        let graph = convert(&dnn, leak, til).map_err(errors::convert)?;
        Ok(Network {
            graph: Arc::new(graph),
            dnn: Some(Arc::new(dnn)),
            origin: Origin { name, onnx },
        })
    }

    /// The DNN(G), or an error saying why a graph file's network has none.
    fn dnn(&self, what: &str) -> PyResult<&Dnn> {
        self.dnn.as_deref().ok_or_else(|| {
            errors::input(format!(
                "{} was read from a graph file, which holds no DNN to check against: {what}",
                self.origin.name
            ))
        })
    }
}

/// A tick mode by its name.
fn tick_mode(mode: &str) -> PyResult<TickMode> {
    match mode {
        "closed-form" => Ok(TickMode::ClosedForm),
        "explicit" => Ok(TickMode::Explicit),
        other => Err(errors::input(format!(
            "mode {other:?}: expected \"closed-form\" or \"explicit\""
        ))),
    }
}

/// A `T_il` policy as given: `"dynamic"` or a number of steps.
#[derive(Debug, Clone, FromPyObject)]
pub enum Til {
    /// A fixed number of steps.
    Steps(u32),
    /// A name: `"dynamic"` is the one there is.
    Name(String),
}

impl Til {
    /// The default, `"dynamic"`.
    pub fn dynamic() -> Til {
        Til::Name("dynamic".into())
    }

    /// The policy.
    pub fn policy(&self) -> PyResult<TilPolicy> {
        match self {
            Til::Steps(n) => Ok(TilPolicy::Fixed(*n)),
            Til::Name(s) if s == "dynamic" => Ok(TilPolicy::Dynamic),
            Til::Name(s) => Err(errors::input(format!(
                "til {s:?}: expected \"dynamic\" or a number of steps (0 to 2**32 - 1)"
            ))),
        }
    }
}

/// Threads: `given`, else every core (images are split across them first, threads beyond
/// one per image go into each image's layers).
fn thread_count(given: Option<usize>) -> PyResult<usize> {
    match given {
        Some(0) => Err(errors::input("threads = 0: give at least 1")),
        Some(t) => Ok(t),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Reads a model: the project's safetensors model file or an ONNX file (`.onnx`, its
/// external data beside it), converted with leak constant `leak` (default: the one the model
/// was trained for) and inhibition time policy `til` (`"dynamic"` or a number of steps).
///
/// Raises `FileError` (an OSError) if a file cannot be read, `FormatError` (a ValueError)
/// naming the file and the layer, node or offset if it is not a model tdsnn can convert.
#[pyfunction]
#[pyo3(signature = (path, leak=None, til=Til::dynamic()), text_signature = "(path, leak=None, til='dynamic')")]
pub fn load(py: Python<'_>, path: PathBuf, leak: Option<f64>, til: Til) -> PyResult<Network> {
    let til = til.policy()?;
    let model = py
        .detach(|| loader::load_model(&path))
        .map_err(errors::load)?;
    let leak = loader::leak_of(leak, &model, &path, "leak=").map_err(errors::load)?;
    Network::convert(model.dnn, leak, til, shown(&path), is_onnx(&path))
}

/// Reads an ONNX model from its bytes (what `torch.onnx.export` makes in memory), converted
/// with leak constant `leak` (an ONNX model carries none) and `til`; `name` names it in
/// errors and reports. Its tensors must all be inside (no external data).
#[pyfunction]
#[pyo3(
    signature = (data, name, leak, til=Til::dynamic()),
    text_signature = "(data, name, leak, til='dynamic')"
)]
pub fn load_onnx_bytes(data: &[u8], name: String, leak: f64, til: Til) -> PyResult<Network> {
    let til = til.policy()?;
    let model = import_onnx(data, &name).map_err(|e| errors::load(e.into()))?;
    Network::convert(model.dnn, leak, til, name, true)
}

/// Reads an engine graph file (what `tdsnn convert` writes). It holds no DNN, so its
/// networks run with `reference=False` only and cannot be evaluated.
#[pyfunction]
pub fn load_graph(py: Python<'_>, path: PathBuf) -> PyResult<Network> {
    let graph = py
        .detach(|| loader::load_graph(&path))
        .map_err(errors::load)?;
    Ok(Network {
        graph: Arc::new(graph),
        dnn: None,
        origin: Origin {
            name: shown(&path),
            onnx: false,
        },
    })
}

#[pymethods]
impl Network {
    /// The leak constant `L`.
    #[getter]
    fn leak(&self) -> f64 {
        self.graph.params().leak
    }

    /// The inhibition time policy: `"dynamic"`, or a fixed number of steps.
    #[getter]
    fn til(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self.graph.params().til {
            TilPolicy::Dynamic => "dynamic".into_pyobject(py)?.into_any().unbind(),
            TilPolicy::Fixed(n) => n.into_pyobject(py)?.into_any().unbind(),
        })
    }

    /// The shape `(C, H, W)` of one input image.
    #[getter]
    fn input_shape(&self) -> (u32, u32, u32) {
        let s = self.graph.input_shape();
        (s.c, s.h, s.w)
    }

    /// The number of classes (output neurons).
    #[getter]
    fn classes(&self) -> u64 {
        let last = self.graph.layers().len() - 1;
        self.graph.output_shape(last).len()
    }

    /// The engine graph's layers, in order (the `k` of `spikes(k)` and of the arrays
    /// `layer{k}_*`): each a `(kind, (C, H, W))` pair.
    #[getter]
    fn layers(&self) -> Vec<(&'static str, (u32, u32, u32))> {
        (self.graph.layers().iter().enumerate())
            .map(|(k, layer)| {
                let s = self.graph.output_shape(k);
                (layer.kind(), (s.c, s.h, s.w))
            })
            .collect()
    }

    /// Whether the network holds the DNN(G) it was converted from (not a graph file's).
    #[getter]
    fn has_reference(&self) -> bool {
        self.dnn.is_some()
    }

    /// The file the network was read from, or what made it.
    #[getter]
    fn name(&self) -> &str {
        &self.origin.name
    }

    /// Writes the engine graph to a graph file (`tdsnn inspect` and `load_graph` read it).
    fn save_graph(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| format::write(&self.graph, &path))
            .map_err(errors::engine)
    }

    /// Simulates every image: `images` an array-like `(N, C, H, W)` of floats in `[0, 1]`
    /// (float32; other floats are converted). Returns a `RunResult` whose `arrays` are
    /// exactly those `tdsnn run --dump` writes, same names, shapes and dtypes, over the
    /// engine's own buffers (no copy). With `reference=True` (the default) the f64
    /// reference DNN(G) runs too and every spike is audited against equation (10); with
    /// `reference=False` the engine runs alone and its arrays alone are returned.
    /// `labels` (N integers) adds the `labels` array. `threads` (default: every core) never
    /// changes a result: images are split across them first, and threads beyond one per
    /// image go into each image's layers (one large image gets them all). The GIL is released while the images are simulated.
    #[pyo3(signature = (images, *, mode="closed-form", threads=None, reference=true, labels=None))]
    fn run(
        &self,
        py: Python<'_>,
        images: &Bound<'_, PyAny>,
        mode: &str,
        threads: Option<usize>,
        reference: bool,
        labels: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<RunResult> {
        let mode = tick_mode(mode)?;
        let data = arrays::images(images, labels, self.graph.input_shape())?;
        let threads = thread_count(threads)?;
        if !reference {
            let dump = py
                .detach(|| simulate(&self.graph, &data, mode, threads, |_| {}))
                .map_err(errors::eval)?;
            let arrays = arrays::to_dict(py, dump.into_arrays())?;
            return Ok(RunResult::new(arrays.unbind(), None));
        }
        let dnn = self.dnn("run it with reference=False")?;
        let config = EvalConfig {
            mode,
            threads,
            ..EvalConfig::default()
        };
        let labelled = data.labels.is_some();
        let mut dump = DumpArrays::new(&self.graph, Some(dnn), data.count(), labelled);
        let eval = py
            .detach(|| {
                let sink: &mut (dyn Dump + Send) = &mut dump;
                evaluate_into(&self.graph, dnn, None, &data, &config, |_| {}, Some(sink))
            })
            .map_err(errors::eval)?;
        let dumped = dump.into_arrays();
        let (neurons, exact, ties, mismatches) = eval.neuron_totals();
        let audit = Audit {
            neurons,
            exact,
            ties,
            mismatches,
            audit_failures: eval.audit_failures() as u64,
            unexplained_disagreements: eval.disagreements().1 as u64,
        };
        let arrays = arrays::to_dict(py, dumped)?;
        Ok(RunResult::new(arrays.unbind(), Some(audit)))
    }

    /// Evaluates the network on labelled images as `tdsnn run` does, every spike checked
    /// against equation (10) and every class against the reference DNN(G): the report as a
    /// dict with exactly the keys and values of `tdsnn run --json`. `relu` is the plain ReLU
    /// network of the DNN (ReLU) row (default: none, or for an ONNX model its own weights
    /// without G, as the command does); `data_name` is how `setup.data` names the images
    /// (default: their shape). The GIL is released while the images are simulated.
    #[pyo3(signature = (images, labels, *, threads=None, mode="closed-form", relu=None, data_name=None))]
    #[allow(clippy::too_many_arguments)] // the Python signature
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        labels: &Bound<'py, PyAny>,
        threads: Option<usize>,
        mode: &str,
        relu: Option<PyRef<'py, Network>>,
        data_name: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let dnn = self.dnn("it cannot be evaluated")?;
        let mode = tick_mode(mode)?;
        let data = arrays::images(images, Some(labels), self.graph.input_shape())?;
        let threads = thread_count(threads)?;
        let relu: Option<(&Dnn, ReluModel)> = match &relu {
            Some(r) => Some((
                r.dnn("it cannot give the DNN (ReLU) row")?,
                ReluModel::Own(r.origin.name.clone()),
            )),
            None if self.origin.onnx => {
                Some((dnn, ReluModel::SameWeights(self.origin.name.clone())))
            }
            None => None,
        };
        let config = EvalConfig {
            mode,
            threads,
            ..EvalConfig::default()
        };
        let relu_dnn = relu.as_ref().map(|r| r.0);
        let eval = py
            .detach(|| evaluate(&self.graph, dnn, relu_dnn, &data, &config, |_| {}))
            .map_err(errors::eval)?;
        let shape = data.shape;
        let setup = Setup {
            model: self.origin.name.clone(),
            relu_model: relu.map(|r| r.1),
            data: data_name.unwrap_or_else(|| {
                format!(
                    "array of shape ({}, {}, {}, {})",
                    data.count(),
                    shape.c,
                    shape.h,
                    shape.w
                )
            }),
            leak: self.leak(),
            til: format!("{:?}", self.graph.params().til),
            tick_mode: format!("{:?}", mode),
            threads: Some(threads),
        };
        let json = serde_json::to_string(&Report::new(&eval, setup))
            .map_err(|e| errors::input(e.to_string()))?;
        py.import("json")?.call_method1("loads", (json,))
    }

    /// Times the engine alone on `images` as `tdsnn bench` does: each image run into the same
    /// record, its layers cut across `threads` threads (default 1), the median of `repeats`
    /// passes after one untimed pass. Returns
    /// `seconds_per_image`, `delivered_events_per_image` (synaptic events the engine
    /// delivered), `paper_events_per_image` (every synapse of every spike, bias events
    /// included) and `delivered_events_per_second`. The GIL is released while timing.
    #[pyo3(signature = (images, *, mode="closed-form", repeats=5, threads=1))]
    fn bench<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        mode: &str,
        repeats: usize,
        threads: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let threads = thread_count(Some(threads))?;
        let mode = tick_mode(mode)?;
        let data = arrays::images(images, None, self.graph.input_shape())?;
        let plan = Plan::new(Arc::clone(&self.graph), mode);
        let speed = py
            .detach(|| engine_speed(&plan, &data.values, repeats.max(1), threads))
            .map_err(errors::simulation)?;
        let dict = PyDict::new(py);
        dict.set_item("images", speed.images)?;
        dict.set_item("seconds_per_image", speed.seconds_per_image)?;
        dict.set_item(
            "delivered_events_per_image",
            speed.delivered_events_per_image,
        )?;
        dict.set_item("paper_events_per_image", speed.paper_events_per_image)?;
        dict.set_item(
            "delivered_events_per_second",
            speed.delivered_events_per_image / speed.seconds_per_image,
        )?;
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        let s = self.graph.input_shape();
        format!(
            "Network({:?}, {} layers, input ({}, {}, {}), {} classes, L = {}, T_il {:?}{})",
            self.origin.name,
            self.graph.layers().len(),
            s.c,
            s.h,
            s.w,
            self.classes(),
            self.leak(),
            self.graph.params().til,
            if self.dnn.is_some() {
                ""
            } else {
                ", no reference"
            }
        )
    }
}

/// What the audit of a run found, summed over its images.
#[derive(Debug, Clone, Copy)]
struct Audit {
    neurons: u64,
    exact: u64,
    ties: u64,
    mismatches: u64,
    audit_failures: u64,
    unexplained_disagreements: u64,
}

/// What `Network.run` returns: `arrays`, the dict of every array `tdsnn run --dump` writes
/// (same names, shapes and dtypes), and accessors for the common ones.
#[pyclass(module = "tdsnn", frozen)]
#[derive(Debug)]
pub struct RunResult {
    arrays: Py<PyDict>,
    audit: Option<Audit>,
}

impl RunResult {
    fn new(arrays: Py<PyDict>, audit: Option<Audit>) -> Self {
        RunResult { arrays, audit }
    }

    /// The array `name`, or an error naming what there is.
    fn array<'py>(&self, py: Python<'py>, name: &str, what: &str) -> PyResult<Bound<'py, PyAny>> {
        self.arrays
            .bind(py)
            .get_item(name)?
            .ok_or_else(|| errors::input(format!("this result holds no `{name}` array ({what})")))
    }
}

#[pymethods]
impl RunResult {
    /// Every array, by name: those `tdsnn run --dump` writes (see README, "The dump").
    #[getter]
    fn arrays(&self, py: Python<'_>) -> Py<PyDict> {
        self.arrays.clone_ref(py)
    }

    /// The SNN's class of every image (`classes_snn`, int64).
    #[getter]
    fn classes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "classes_snn", "")
    }

    /// The SNN's rescaled logits (`logits_snn`, float64, images by classes).
    #[getter]
    fn logits<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "logits_snn", "")
    }

    /// Graph layer `k`'s absolute spike times (`layer{k}_spikes`, uint32, images first); `-1`
    /// for the input's (`input_spikes`). The output layer's neurons do not spike.
    fn spikes<'py>(&self, py: Python<'py>, k: i64) -> PyResult<Bound<'py, PyAny>> {
        if k == -1 {
            return self.array(py, "input_spikes", "");
        }
        self.array(
            py,
            &format!("layer{k}_spikes"),
            "the output layer has no spikes; -1 is the input",
        )
    }

    /// Graph layer `k`'s release `R_k` of every image (`layer{k}_release`, uint32): a hidden
    /// neuron of it fires at its release plus `T(A)`.
    fn releases<'py>(&self, py: Python<'py>, k: usize) -> PyResult<Bound<'py, PyAny>> {
        self.array(
            py,
            &format!("layer{k}_release"),
            "only synapse-based layers release",
        )
    }

    /// Graph layer `k`'s frame origin of every image (`layer{k}_frame_origin`, uint32).
    fn frame_origins<'py>(&self, py: Python<'py>, k: usize) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, &format!("layer{k}_frame_origin"), "")
    }

    /// What the audit against equation (10) found, summed over the images (`None` for a run
    /// with `reference=False`): `neurons` checked, `exact` (spike time equal to `T(A)`),
    /// `ties` (within the tie window), `mismatches` (off `T(A)` outside ties: must be 0),
    /// `audit_failures` (images whose audit failed: must be 0) and
    /// `unexplained_disagreements` (classes off the reference without a tie: must be 0).
    #[getter]
    fn audit<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(a) = self.audit else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        dict.set_item("neurons", a.neurons)?;
        dict.set_item("exact", a.exact)?;
        dict.set_item("ties", a.ties)?;
        dict.set_item("mismatches", a.mismatches)?;
        dict.set_item("audit_failures", a.audit_failures)?;
        dict.set_item("unexplained_disagreements", a.unexplained_disagreements)?;
        Ok(Some(dict))
    }

    /// Whether the audit passed: no spike off `T(A)` outside ties, no failed image, no
    /// unexplained disagreement (`None` without a reference).
    #[getter]
    fn passed(&self) -> Option<bool> {
        self.audit
            .map(|a| a.mismatches == 0 && a.audit_failures == 0 && a.unexplained_disagreements == 0)
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let classes = self.array(py, "classes_snn", "")?;
        classes.len()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let names: Vec<String> = self.arrays.bind(py).keys().extract()?;
        Ok(format!(
            "RunResult({} images, {} arrays{})",
            self.__len__(py)?,
            names.len(),
            match self.passed() {
                Some(true) => ", audit passed",
                Some(false) => ", AUDIT FAILED",
                None => "",
            }
        ))
    }
}
