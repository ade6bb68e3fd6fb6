//! `tdsnn bench`: the engine's speed next to baselines measured in the same process and run.
//!
//! - **LeNet** (the shipped `lenet5-g-L5`, `L = 5`, dynamic `T_il`, images of the shipped
//!   MNIST test split): the engine per image in both tick modes on one thread; the dense f32
//!   forward pass of the same network (im2col + GEMM, one core) at batch 1 and batched; the
//!   event counts of the records: *paper-equivalent* synaptic events (every synapse of every
//!   spike, bias events included: `ops.paper.synaptic_adds`) and *delivered* ones (what the
//!   kernel actually added: `ops.engine.synaptic_adds`), their ratio `alpha`, and the DNN's
//!   multiply-accumulates for comparison.
//! - **Calibration**: the L2-resident streaming-add rate of one core, vectorised with the
//!   engine's runtime dispatch; event rates are divided by it.
//! - **Thread scaling**: the engine over the test split with 1 and with `threads` threads
//!   (static partition, one simulator each), images per second and whether every record is
//!   the same (by [`Record::digest`](tdsnn::engine::Record::digest)).
//! - **AlexNet, VGG-16 and ResNet-18** ([`tdsnn::train::zoo`], He-initialised, one seeded
//!   3x224x224 image): converted, one image simulated in closed form, timed next to the dense
//!   forward pass of the same network, with events and peak memory; for a residual network,
//!   its joins' delay buffers (the spikes that waited, the largest delay).
//!
//! [`run`] measures everything and returns a [`BenchReport`]; [`BenchReport::table`] prints
//! it, `serde_json` writes it (keys documented on the structs and in README). Nothing here
//! asserts a speed: timings depend on the machine and its load.

pub mod measure;
mod table;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tdsnn::baseline::calibration::L2_VALUES;
use tdsnn::baseline::DenseForward;
use tdsnn::converter::{convert, ConvertError, Dnn, ModelError};
use tdsnn::engine::counters::LayerOps;
use tdsnn::engine::{Graph, Plan, Record, Simulate, TickMode, TilPolicy};
use tdsnn::evaluate::timing::{engine_pass, total_ops};
use tdsnn::io::idx::{IdxError, Split};
use tdsnn::io::model_file::{Architecture, ModelFileError};
use tdsnn::train::recipe::pixels;
use tdsnn::train::zoo::{alexnet, random_image, resnet18, vgg16};
use tdsnn::train::{init, Init};

use crate::fixtures;
use tdsnn::evaluate::report::Ops;

/// The leak constant of every benchmarked network (the shipped LeNet's, the paper's best).
pub const LEAK: f64 = 5.0;

/// Seed of the big networks' weights and image.
pub const SEED: u64 = 2019;

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// LeNet images timed per image (from the start of the test split).
    pub images: usize,
    /// Timed repetitions of each per-image measurement (the median is reported).
    pub repetitions: usize,
    /// Batch size of the batched dense forward pass.
    pub batch: usize,
    /// Threads of the scaling run (compared with 1).
    pub threads: usize,
    /// Images of the scaling run (`None`: the whole test split).
    pub scaling_images: Option<usize>,
    /// Time budget of one calibration run.
    pub calibration_budget: Duration,
    /// Whether to build and run AlexNet, VGG-16 and ResNet-18.
    pub big: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            images: 200,
            repetitions: 5,
            batch: 64,
            threads: 2,
            scaling_images: None,
            calibration_budget: Duration::from_millis(200),
            big: true,
        }
    }
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The shipped model could not be read.
    #[error("the shipped LeNet: {0}")]
    Model(#[from] ModelFileError),
    /// The shipped test split could not be read.
    #[error("the shipped MNIST test split: {0}")]
    Data(#[from] IdxError),
    /// A big network could not be built.
    #[error("building a network: {0}")]
    Build(#[from] ModelError),
    /// A network could not be converted.
    #[error("converting a network: {0}")]
    Convert(#[from] ConvertError),
    /// The engine rejected an input.
    #[error("simulating: {0}")]
    Engine(#[from] tdsnn::engine::Error),
}

/// The shipped LeNet, converted, with images of the shipped test split: the set-up shared by
/// `tdsnn bench` and the criterion benches.
#[derive(Debug)]
pub struct Lenet {
    /// The DNN(G).
    pub dnn: Dnn,
    /// Its conversion (`L = 5`, dynamic `T_il`), planned for closed-form ticks.
    pub plan: Plan,
    /// The images, back to back, pixels in `[0, 1]`.
    pub images: Vec<f32>,
}

impl Lenet {
    /// Loads the shipped LeNet and the first `images` images of the shipped test split (all
    /// of them if fewer).
    pub fn load(images: usize) -> Result<Lenet, BenchError> {
        let dnn = fixtures::read_model(&fixtures::lenet_g())?.dnn;
        let graph = convert(&dnn, LEAK, TilPolicy::Dynamic)?;
        let data = fixtures::load_split(&fixtures::mnist_dir(), Split::Test)?;
        let mut pixels = pixels(&data);
        pixels.truncate(images.min(data.len()) * graph.input_shape().len() as usize);
        Ok(Lenet {
            dnn,
            plan: Plan::new(graph, TickMode::ClosedForm),
            images: pixels,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len() / self.plan.graph().input_shape().len() as usize
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}

/// Synaptic events per image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Events {
    /// Paper-equivalent events: every synapse of every spike, bias events included
    /// (`ops.paper.synaptic_adds` summed over layers).
    pub paper: f64,
    /// Events the kernel actually delivered (`ops.engine.synaptic_adds`).
    pub delivered: f64,
    /// `delivered / paper`.
    pub alpha: f64,
    /// The DNN's multiply-accumulates (table 2's multiplications). Differs from `paper` by
    /// the bias events (`+` one per biased neuron) and by padded taps, which a DNN multiplies
    /// and an SNN never sees (`-`).
    pub dnn_macs: f64,
}

impl Events {
    /// Mean events per image of operation counts `total` summed over `n` images.
    pub fn of(total: &LayerOps, n: usize, dnn: &Dnn) -> Events {
        let n = n.max(1) as f64;
        let paper = total.paper.synaptic_adds as f64 / n;
        let delivered = total.engine.synaptic_adds as f64 / n;
        Events {
            paper,
            delivered,
            alpha: delivered / paper,
            dnn_macs: dnn.op_counts().multiplications() as f64,
        }
    }
}

/// The engine's speed on one network, one thread.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EngineTiming {
    /// Tick mode: `closed_form` or `explicit`.
    pub mode: &'static str,
    /// Nanoseconds per image.
    pub ns_per_image: f64,
    /// Images per second.
    pub images_per_s: f64,
    /// Paper-equivalent synaptic events per second.
    pub paper_events_per_s: f64,
    /// Delivered synaptic events per second.
    pub delivered_events_per_s: f64,
    /// Nanoseconds per paper-equivalent event.
    pub ns_per_paper_event: f64,
    /// Nanoseconds per delivered event.
    pub ns_per_delivered_event: f64,
}

impl EngineTiming {
    fn new(mode: TickMode, per_image: Duration, events: &Events) -> EngineTiming {
        let s = per_image.as_secs_f64();
        EngineTiming {
            mode: mode_name(mode),
            ns_per_image: s * 1e9,
            images_per_s: 1.0 / s,
            paper_events_per_s: events.paper / s,
            delivered_events_per_s: events.delivered / s,
            ns_per_paper_event: s * 1e9 / events.paper,
            ns_per_delivered_event: s * 1e9 / events.delivered,
        }
    }
}

fn mode_name(mode: TickMode) -> &'static str {
    match mode {
        TickMode::ClosedForm => "closed_form",
        TickMode::Explicit => "explicit",
    }
}

/// The dense forward pass's speed, one core.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DenseTiming {
    /// Images per GEMM call.
    pub batch: usize,
    /// Nanoseconds per image.
    pub ns_per_image: f64,
    /// Images per second.
    pub images_per_s: f64,
    /// The DNN's multiply-accumulates per second.
    pub macs_per_s: f64,
}

impl DenseTiming {
    fn new(batch: usize, per_image: Duration, macs: f64) -> DenseTiming {
        let s = per_image.as_secs_f64();
        DenseTiming {
            batch,
            ns_per_image: s * 1e9,
            images_per_s: 1.0 / s,
            macs_per_s: macs / s,
        }
    }
}

/// The LeNet measurements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LenetBench {
    /// Images timed.
    pub images: usize,
    /// Timed repetitions (medians reported).
    pub repetitions: usize,
    /// Events per image.
    pub events: Events,
    /// The engine, closed-form ticks.
    pub closed_form: EngineTiming,
    /// The engine, explicit ticks.
    pub explicit: EngineTiming,
    /// The dense forward pass, batch 1.
    pub dense_batch1: DenseTiming,
    /// The dense forward pass, batched.
    pub dense_batched: DenseTiming,
    /// Operations per image, table-2 format.
    pub ops: OpRow,
}

/// The calibration kernel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CalibrationBench {
    /// `f32` values per array (two arrays).
    pub values: usize,
    /// Additions per second, one core.
    pub adds_per_s: f64,
    /// Nanoseconds per addition.
    pub ns_per_add: f64,
}

/// The thread-scaling run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThreadScaling {
    /// Threads compared with 1.
    pub threads: usize,
    /// Images simulated (closed form), each run.
    pub images: usize,
    /// Images per second, 1 thread.
    pub images_per_s_1: f64,
    /// Images per second, `threads` threads.
    pub images_per_s_n: f64,
    /// `images_per_s_n / images_per_s_1`.
    pub speedup: f64,
    /// Whether every image's record digest is the same in both runs.
    pub records_identical: bool,
}

/// One row of the operation table (paper's table 2 format), per image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpRow {
    /// The network.
    pub net: String,
    /// DNN operations (`mult`: multiply-accumulates; `add`: additions, bias additions and
    /// max-pool comparisons).
    pub dnn: Ops,
    /// SNN operations in the paper's accounting.
    pub snn: Ops,
    /// DNN / SNN.
    pub ratio: Ops,
}

impl OpRow {
    fn new(net: &str, dnn: &Dnn, total: &LayerOps, n: usize) -> OpRow {
        let dnn = Ops::dnn(&dnn.op_counts());
        let snn = Ops::paper(total, n.max(1) as f64);
        OpRow {
            net: net.to_string(),
            ratio: Ops::ratio(&dnn, &snn),
            dnn,
            snn,
        }
    }
}

/// A big network, one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetBench {
    /// `alexnet`, `vgg16` or `resnet18`.
    pub net: String,
    /// Neurons of the converted graph (every layer's outputs).
    pub neurons: u64,
    /// Weights and biases.
    pub parameters: u64,
    /// Events of the image.
    pub events: Events,
    /// Seconds to build (He init) the network.
    pub build_s: f64,
    /// Seconds to convert it.
    pub convert_s: f64,
    /// Seconds the engine took for the image, closed form, one thread (median of
    /// [`NET_REPETITIONS`] runs, a record reused across them).
    pub snn_s: f64,
    /// Threads of the second timing of the same image (`--threads`).
    pub threads: usize,
    /// Seconds the engine took for the image on `threads` threads (each layer cut across
    /// them; median of [`NET_REPETITIONS`] runs, interleaved with the one-thread runs).
    pub snn_threads_s: f64,
    /// `snn_s / snn_threads_s`.
    pub thread_speedup: f64,
    /// Whether the `threads`-thread record equals the one-thread record, bit for bit.
    pub records_identical: bool,
    /// Where the engine's time goes, layer by layer.
    pub layers: Vec<LayerTime>,
    /// Seconds of the dense forward pass, batch 1, one core (after one warm-up run).
    pub dense_s: f64,
    /// `snn_s / dense_s`.
    pub snn_vs_dense_latency_ratio: f64,
    /// Paper-equivalent events per second in the engine.
    pub paper_events_per_s: f64,
    /// Peak resident memory in bytes while this network was built, converted and run
    /// (`VmHWM`, reset before it where Linux allows; `null` off Linux).
    pub peak_memory_bytes: Option<u64>,
    /// Resident memory in bytes when the peak was reset, before this network (`VmRSS`;
    /// `null` off Linux): what the peak includes of the process and of memory the allocator
    /// kept from the networks before.
    pub resident_at_start_bytes: Option<u64>,
    /// Operations, table-2 format.
    pub ops: OpRow,
    /// Layers of the converted graph that join branches (a residual add or a concat: further
    /// synapse groups); 0 for a chain.
    pub joins: usize,
    /// Spikes that waited in a join's delay buffer: for every part of every join (its own
    /// synapses, then each further group) whose delay `o - o_g` is above 0, its source's spike
    /// count (`LayerRecord::delays`; 0 for a chain).
    pub delayed_spikes: u64,
    /// The largest delay `o - o_g` of any join part, in steps (0 for a chain).
    pub max_delay: u32,
}

/// One graph layer's share of a big network's engine time (medians of [`NET_REPETITIONS`]
/// profiled runs, the time from the end of the layer before to the end of this one:
/// sorting its input spikes, delivering them, releasing and firing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerTime {
    /// Index of the layer in the graph.
    pub layer: usize,
    /// Its kind (`conv2d`, `dense`, `max_pool`, ...).
    pub kind: &'static str,
    /// Its output shape, channels, height, width.
    pub shape: [u32; 3],
    /// Synaptic events the engine delivered into it.
    pub delivered: u64,
    /// Seconds on one thread.
    pub s: f64,
    /// Seconds on the network's `threads` threads.
    pub threads_s: f64,
}

/// Timed runs of each big network, on one thread and on `--threads` (the median is reported).
pub const NET_REPETITIONS: usize = 3;

/// Everything `tdsnn bench` measured (its JSON; keys documented in README).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// LeNet closed-form engine time per image over the dense batch-1 time per image.
    pub snn_vs_dense_latency_ratio: f64,
    /// The same with explicit ticks.
    pub snn_vs_dense_latency_ratio_explicit: f64,
    /// LeNet closed-form engine time per image over the batched dense time per image.
    pub snn_vs_dense_batched_latency_ratio: f64,
    /// LeNet closed-form paper-equivalent event rate over the calibration add rate.
    pub event_rate_vs_add_rate: f64,
    /// LeNet closed-form delivered event rate over the calibration add rate.
    pub delivered_rate_vs_add_rate: f64,
    /// LeNet delivered / paper-equivalent events.
    pub alpha: f64,
    /// The thread-scaling run.
    pub thread_scaling: ThreadScaling,
    /// The LeNet measurements.
    pub lenet: LenetBench,
    /// The calibration kernel.
    pub calibration: CalibrationBench,
    /// AlexNet, VGG-16 and ResNet-18 (empty when skipped).
    pub nets: Vec<NetBench>,
    /// The operation table: LeNet, then the big networks.
    pub op_table: Vec<OpRow>,
    /// Host facts: `threads_available`, `simd` (the instruction set gemm and pulp dispatch
    /// to).
    pub host: Host,
}

/// The machine, as far as it matters here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Host {
    /// Hardware threads available to the process.
    pub threads_available: usize,
    /// The widest SIMD instruction set detected at run time.
    pub simd: &'static str,
}

impl Host {
    fn detect() -> Host {
        Host {
            threads_available: std::thread::available_parallelism().map_or(1, |n| n.get()),
            simd: simd(),
        }
    }
}

/// The SIMD level `pulp` dispatches the engine's loops to (the level it detects, not merely
/// one feature flag).
#[cfg(target_arch = "x86_64")]
fn simd() -> &'static str {
    if pulp::x86::V4::try_new().is_some() {
        "avx512"
    } else if pulp::x86::V3::try_new().is_some() {
        "avx2+fma"
    } else {
        "sse2"
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn simd() -> &'static str {
    std::env::consts::ARCH
}

/// Where a measurement is: its stage and how far, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Stage name (`lenet`, `calibration`, `scaling`, `alexnet`, `vgg16`, `resnet18`).
    pub stage: &'static str,
    /// Steps done.
    pub done: u64,
    /// Steps in the stage.
    pub total: u64,
}

/// Measures everything `config` asks for; `progress` hears of every step.
pub fn run(
    config: &BenchConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<BenchReport, BenchError> {
    let reps = config.repetitions.max(1);
    // Loaded once for both the timed images and the (usually larger) scaling run.
    let scaling_images = config.scaling_images.unwrap_or(usize::MAX).max(1);
    let lenet = Lenet::load(config.images.max(scaling_images).max(1))?;
    let per = lenet.plan.graph().input_shape().len() as usize;
    let timed = &lenet.images[..config.images.max(1).min(lenet.len()) * per];
    let mut step = |stage, done, total| {
        progress(Progress { stage, done, total });
    };
    // LeNet: the untimed records pass, then the four timed passes together.
    step("lenet", 0, 2);
    let (total, n) = total_ops(&mut lenet.plan.simulator(), timed)?;
    let events = Events::of(&total, n, &lenet.dnn);
    step("lenet", 1, 2);
    // The four passes timed in turn, repetition after repetition.
    let (mut closed, mut explicit) = (
        lenet.plan.simulator(),
        lenet.plan.with_mode(TickMode::Explicit).simulator(),
    );
    let batch = config.batch.max(1);
    let (mut single, mut batched) = (
        DenseForward::new(&lenet.dnn, 1),
        DenseForward::new(&lenet.dnn, batch),
    );
    let times = measure::medians_interleaved(
        reps,
        &mut [
            &mut engine_pass(&mut closed, timed),
            &mut engine_pass(&mut explicit, timed),
            &mut measure::dense_pass(&mut single, timed),
            &mut measure::dense_pass(&mut batched, timed),
        ],
    );
    let per_image = |i: usize| times[i] / (timed.len() / per) as u32;
    let closed_form = EngineTiming::new(TickMode::ClosedForm, per_image(0), &events);
    let explicit = EngineTiming::new(TickMode::Explicit, per_image(1), &events);
    let dense_batch1 = DenseTiming::new(1, per_image(2), events.dnn_macs);
    let dense_batched = DenseTiming::new(batch, per_image(3), events.dnn_macs);
    step("lenet", 2, 2);
    step("calibration", 0, 1);
    let adds_per_s = measure::add_rate(L2_VALUES, config.calibration_budget, reps);
    step("calibration", 1, 1);
    let calibration = CalibrationBench {
        values: L2_VALUES,
        adds_per_s,
        ns_per_add: 1e9 / adds_per_s,
    };
    let thread_scaling = scaling(&lenet, scaling_images, config.threads, &mut step)?;
    let images = timed.len() / per;
    let lenet_ops = OpRow::new("LeNet-5 (shipped, MNIST)", &lenet.dnn, &total, n);
    drop(lenet);
    let mut nets = Vec::new();
    if config.big {
        // ResNet-18 runs first, while the process is small: the allocator keeps much of the
        // memory a network frees (the resident size does not fall back), so after VGG-16 it
        // would read about VGG-16's peak. Reported after the two chains, as added.
        let resnet = net(
            "resnet18",
            "ResNet-18 (He init, 1 image)",
            &resnet18(),
            config.threads,
            progress,
        )?;
        for (name, label, arch) in [
            ("alexnet", "AlexNet (He init, 1 image)", alexnet()),
            ("vgg16", "VGG-16 (He init, 1 image)", vgg16()),
        ] {
            nets.push(net(name, label, &arch, config.threads, progress)?);
        }
        nets.push(resnet);
    }
    let mut op_table = vec![lenet_ops.clone()];
    op_table.extend(nets.iter().map(|n| n.ops.clone()));
    let lenet = LenetBench {
        images,
        repetitions: reps,
        events,
        closed_form,
        explicit,
        dense_batch1,
        dense_batched,
        ops: lenet_ops,
    };
    Ok(BenchReport {
        snn_vs_dense_latency_ratio: closed_form.ns_per_image / dense_batch1.ns_per_image,
        snn_vs_dense_latency_ratio_explicit: explicit.ns_per_image / dense_batch1.ns_per_image,
        snn_vs_dense_batched_latency_ratio: closed_form.ns_per_image / dense_batched.ns_per_image,
        event_rate_vs_add_rate: closed_form.paper_events_per_s / adds_per_s,
        delivered_rate_vs_add_rate: closed_form.delivered_events_per_s / adds_per_s,
        alpha: events.alpha,
        thread_scaling,
        lenet,
        calibration,
        nets,
        op_table,
        host: Host::detect(),
    })
}

/// The engine over the first `images` of `lenet`'s images (all, if fewer) with 1 thread,
/// then `threads`.
fn scaling(
    lenet: &Lenet,
    images: usize,
    threads: usize,
    step: &mut impl FnMut(&'static str, u64, u64),
) -> Result<ThreadScaling, BenchError> {
    let n = images.min(lenet.len());
    let set = &lenet.images[..n * lenet.plan.graph().input_shape().len() as usize];
    let threads = threads.max(1);
    step("scaling", 0, 2);
    let (t1, d1) = measure::simulate_split(&lenet.plan, set, 1)?;
    step("scaling", 1, 2);
    let (tn, dn) = measure::simulate_split(&lenet.plan, set, threads)?;
    step("scaling", 2, 2);
    let (r1, rn) = (n as f64 / t1.as_secs_f64(), n as f64 / tn.as_secs_f64());
    Ok(ThreadScaling {
        threads,
        images: n,
        images_per_s_1: r1,
        images_per_s_n: rn,
        speedup: rn / r1,
        records_identical: d1 == dn,
    })
}

/// Builds `arch` with He-initialised weights (seed [`SEED`]), converts it, runs one seeded
/// random image in closed form on one thread and on `threads` threads (each layer cut across
/// them), then the dense forward pass of the same network: what `tdsnn bench` measures of
/// AlexNet, VGG-16 and ResNet-18, with `stage` as the network's key (`net`) and progress
/// stage, `label` as its operation-table row.
pub fn net(
    stage: &'static str,
    label: &str,
    arch: &Architecture,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<NetBench, BenchError> {
    let mut step = |done, total| progress(Progress { stage, done, total });
    step(0, 4);
    measure::reset_peak_memory();
    let resident_at_start_bytes = measure::resident_memory();
    let start = Instant::now();
    let dnn = init(arch, Init::He, SEED)?;
    let build_s = start.elapsed().as_secs_f64();
    let image = random_image(dnn.input_shape(), SEED);
    step(1, 4);
    let start = Instant::now();
    let graph = Arc::new(convert(&dnn, LEAK, TilPolicy::Dynamic)?);
    let convert_s = start.elapsed().as_secs_f64();
    step(2, 4);
    // Like the dense pass: set-up (the simulator's per-graph plan, its threads) outside the
    // timer, one warm-up run each (the one-thread record is kept), then timed runs of one
    // thread and of `threads` in turn, each into a record reused across its runs.
    let plan = Plan::new(Arc::clone(&graph), TickMode::ClosedForm);
    let (mut one, mut many) = (plan.simulator(), plan.simulator().with_threads(threads)?);
    let mut record = one.run(&image, &mut ())?;
    let mut cut = many.run(&image, &mut ())?;
    let records_identical = cut == record;
    let times = measure::medians_interleaved(
        NET_REPETITIONS,
        &mut [
            &mut || {
                one.run_into(&image[..], &mut (), &mut record)
                    .expect("as the warm-up run");
            },
            &mut || {
                many.run_into(&image[..], &mut (), &mut cut)
                    .expect("as the warm-up run");
            },
        ],
    );
    let (snn_s, snn_threads_s) = (times[0].as_secs_f64(), times[1].as_secs_f64());
    let (per_layer, per_layer_n) = (
        measure::layer_times(&mut one, &image, NET_REPETITIONS)?,
        measure::layer_times(&mut many, &image, NET_REPETITIONS)?,
    );
    drop((one, many, cut));
    let layers = (0..graph.layers().len())
        .map(|k| {
            let shape = graph.output_shape(k);
            LayerTime {
                layer: k,
                kind: graph.layers()[k].kind(),
                shape: [shape.c, shape.h, shape.w],
                delivered: record.layers[k].ops.engine.synaptic_adds,
                s: per_layer[k],
                threads_s: per_layer_n[k],
            }
        })
        .collect();
    let (joins, delayed_spikes, max_delay) = delay_buffers(&graph, &record);
    step(3, 4);
    let neurons = (0..graph.layers().len())
        .map(|k| graph.output_shape(k).len())
        .sum();
    drop(graph);
    let dense_s = {
        let mut forward = DenseForward::new(&dnn, 1);
        measure::median_of(NET_REPETITIONS, || {
            std::hint::black_box(forward.run(&image).expect("one whole image"));
        })
        .as_secs_f64()
    };
    step(4, 4);
    let total = record.total_ops();
    let events = Events::of(&total, 1, &dnn);
    Ok(NetBench {
        net: stage.to_string(),
        neurons,
        parameters: dnn.parameter_count(),
        snn_vs_dense_latency_ratio: snn_s / dense_s,
        paper_events_per_s: events.paper / snn_s,
        events,
        build_s,
        convert_s,
        snn_s,
        threads,
        snn_threads_s,
        thread_speedup: snn_s / snn_threads_s,
        records_identical,
        layers,
        dense_s,
        peak_memory_bytes: measure::peak_memory(),
        resident_at_start_bytes,
        ops: OpRow::new(label, &dnn, &total, 1),
        joins,
        delayed_spikes,
        max_delay,
    })
}

/// A record's delay buffers: the number of joins of `graph`, the spikes that waited (for
/// each part of each join with a delay above 0, its source's spike count, as
/// `tdsnn run` reports them) and the largest delay.
fn delay_buffers(graph: &Graph, record: &Record) -> (usize, u64, u32) {
    let (mut joins, mut delayed, mut max) = (0, 0, 0);
    for k in 0..graph.layers().len() {
        if graph.groups(k).is_empty() {
            continue;
        }
        joins += 1;
        for part in record.join_parts(graph, k) {
            delayed += part.delayed_spikes;
            max = max.max(part.delay);
        }
    }
    (joins, delayed, max)
}
