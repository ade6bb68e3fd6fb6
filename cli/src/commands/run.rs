//! `tdsnn run`: convert a model, simulate a labelled data set, report tables 1 and 2.

use std::sync::Arc;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use tdsnn::converter::convert;
use tdsnn::engine::{Simulate, Simulator, TilPolicy};
use tdsnn::evaluate::report::{ReluModel, Report, Setup, Shard};
use tdsnn::evaluate::{evaluate_into, EvalConfig};
use tdsnn::io::dump::{Dump, DumpFile, Format};
use tdsnn::io::idx::Split;
use tdsnn::io::images::{check_labels, Images, Inputs};
use tdsnn_cli::fixtures::{self, find_split, read_dataset};
use tdsnn_cli::plot;
use tdsnn_cli::shard::{self, ShardSpec};

use super::demo::Mode;
use super::output::{Input, Outputs};
use super::{bar_style, is_onnx, leak_of, load_model_and_data, parse_leak, thread_count, threads};

/// Convert a model trained with G, simulate every image of a labelled IDX data set (or an NPY
/// array) in the engine, check every spike against equation (10) and every class against the
/// f64 reference DNN, and print the paper's tables 1 and 2 for it. The defaults run the
/// shipped LeNet-5 on the shipped MNIST test split (the main job).
///
/// Every option is checked before the simulation starts; no output may name an input or
/// another output. Outputs are written beside their destinations and moved into place at the
/// end: a run that fails with an error leaves none of them. (A run whose audit finds spikes
/// off equation (10) writes its outputs, which show it, and then exits with an error.)
#[derive(Debug, Args)]
// A negative number is a value (rejected with its reason), not an unknown flag.
#[command(allow_negative_numbers = true)]
pub struct RunArgs {
    /// The model: safetensors with a tdsnn architecture, or an ONNX file (`.onnx`; give
    /// --leak). See README. The default, the shipped LeNet-5, is built into this binary too
    /// and read from there when its source tree is gone.
    #[arg(long, default_value_os_t = fixtures::lenet_g())]
    model: PathBuf,
    /// A plain ReLU model to compare with (the DNN (ReLU) row), safetensors or ONNX: the
    /// network the model was fine-tuned from. Defaults to the shipped ReLU LeNet-5 when
    /// --model is the shipped one. Without it, an ONNX model's own weights are run without G
    /// and the row says so: weights fine-tuned with G are not a ReLU network's own.
    #[arg(long)]
    relu_model: Option<PathBuf>,
    /// Directory of an IDX data set (MNIST, Fashion-MNIST or any other of one channel):
    /// test-images-idx3-ubyte and test-labels-idx1-ubyte (or train-*). The default's test
    /// split is built into this binary too.
    #[arg(long, default_value_os_t = fixtures::mnist_dir())]
    data: PathBuf,
    /// Use the training split of --data instead of the test split.
    #[arg(long)]
    train_split: bool,
    /// An IDX images file (with --labels), instead of --data.
    #[arg(long, requires = "labels", conflicts_with = "npy")]
    images: Option<PathBuf>,
    /// An IDX labels file (with --images).
    #[arg(long, requires = "images")]
    labels: Option<PathBuf>,
    /// An NPY array of images, N x C x H x W float32 in [0, 1], instead of --data.
    #[arg(long)]
    npy: Option<PathBuf>,
    /// An NPY array of N integer labels for --npy (without it, no accuracy is reported).
    #[arg(long, requires = "npy")]
    npy_labels: Option<PathBuf>,
    /// Write every image's spike times, the reference pre-activations, logits and classes
    /// to this NPZ file (see README, "The dump").
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Leak constant L (default: the one the model was trained for).
    #[arg(long, value_parser = parse_leak)]
    leak: Option<f64>,
    /// T_il policy: `dynamic`, or a fixed number of steps.
    #[arg(long, default_value = "dynamic", value_parser = parse_til)]
    til: TilPolicy,
    /// Tick mode.
    #[arg(long, value_enum, default_value_t = Mode::ClosedForm)]
    mode: Mode,
    /// Threads, 1 to 1024 (default: every core): images are split across them first, and
    /// threads beyond one per image go into each image's layers (one large image gets them
    /// all). Results are identical for any count.
    #[arg(long, value_parser = thread_count())]
    threads: Option<u32>,
    /// Evaluate only the first N images.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Draw one image's spikes as a raster plot (SVG) to this file: a band per layer, each
    /// inhibitory period shaded, each release marked.
    #[arg(long)]
    raster: Option<PathBuf>,
    /// Which image the raster shows (index into the images evaluated, after --limit and
    /// --shard).
    #[arg(long, default_value_t = 0, requires = "raster")]
    raster_image: usize,
    /// Evaluate shard I of N (I from 0): the images [I n / N, (I + 1) n / N) of the n the
    /// data set holds (after --limit), the same whatever the machine or thread count. The
    /// --json report is then partial: it says what it covers and holds what `tdsnn merge`
    /// adds up into the whole run's report (and --dump holds the shard's images).
    #[arg(long, value_name = "I/N", requires = "json")]
    shard: Option<ShardSpec>,
}

/// Parses a `T_il` policy: `dynamic` or a number of steps.
pub fn parse_til(s: &str) -> Result<TilPolicy, String> {
    match s {
        "dynamic" => Ok(TilPolicy::Dynamic),
        n => n
            .parse()
            .map(TilPolicy::Fixed)
            .map_err(|_| format!("`{n}`: expected `dynamic` or a number of steps")),
    }
}

/// Where the images and labels come from.
enum Source {
    /// An IDX pair: from --data, or --images and --labels.
    Idx {
        images: PathBuf,
        labels: PathBuf,
        /// The options that named them.
        named: [&'static str; 2],
    },
    /// An NPY array, with labels or not.
    Npy {
        images: PathBuf,
        labels: Option<PathBuf>,
    },
}

impl Source {
    fn of(args: &RunArgs) -> Result<Source> {
        if let Some(npy) = &args.npy {
            return Ok(Source::Npy {
                images: npy.clone(),
                labels: args.npy_labels.clone(),
            });
        }
        Ok(match (&args.images, &args.labels) {
            (Some(images), Some(labels)) => Source::Idx {
                images: images.clone(),
                labels: labels.clone(),
                named: ["the --images file", "the --labels file"],
            },
            _ => {
                let split = if args.train_split {
                    Split::Train
                } else {
                    Split::Test
                };
                let (images, labels) = find_split(&args.data, split)?;
                Source::Idx {
                    images,
                    labels,
                    named: ["the images file of --data", "the labels file of --data"],
                }
            }
        })
    }

    /// The files read, as inputs no output may overwrite.
    fn inputs(&self) -> Vec<Input> {
        match self {
            Source::Idx {
                images,
                labels,
                named,
            } => vec![Input::new(named[0], images), Input::new(named[1], labels)],
            Source::Npy { images, labels } => std::iter::once(Input::new("the --npy file", images))
                .chain(
                    labels
                        .iter()
                        .map(|l| Input::new("the --npy-labels file", l)),
                )
                .collect(),
        }
    }

    /// The images file, as the report names the data.
    fn images(&self) -> &Path {
        match self {
            Source::Idx { images, .. } | Source::Npy { images, .. } => images,
        }
    }

    /// The labels file, if any.
    fn labels(&self) -> Option<&Path> {
        match self {
            Source::Idx { labels, .. } => Some(labels),
            Source::Npy { labels, .. } => labels.as_deref(),
        }
    }

    /// Reads the images (the first `limit` of them) and their labels.
    fn load(&self, limit: Option<u64>) -> Result<Images> {
        let count = limit.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        match self {
            Source::Npy { images, labels } => {
                let mut data = Images::read_npy(images)?;
                if let Some(labels) = labels {
                    data.read_npy_labels(labels)?;
                }
                let n = count.min(data.count());
                data.values.truncate(n * data.shape.len() as usize);
                if let Some(labels) = &mut data.labels {
                    labels.truncate(n);
                }
                Ok(data)
            }
            // Only the images kept are converted.
            Source::Idx { images, labels, .. } => {
                Ok(Images::from_dataset(&read_dataset(images, labels)?, count))
            }
        }
    }
}

pub fn run(args: RunArgs) -> Result<()> {
    let source = Source::of(&args)?;
    let onnx = is_onnx(&args.model);
    let relu_path = args.relu_model.clone().or_else(|| {
        (args.model == fixtures::lenet_g())
            .then(fixtures::lenet_relu)
            .filter(|p| fixtures::available(p))
    });
    let (model, model_data) = load_model_and_data(&args.model)?;
    let relu_model = relu_path.as_deref().map(load_model_and_data).transpose()?;
    // Before any work: no output may overwrite an input (the models' external data files
    // included) or another output, and each one's directory must take a file.
    let mut inputs = vec![Input::new("the --model file", &args.model)];
    inputs.extend(
        model_data
            .iter()
            .map(|p| Input::new("an external data file of --model", p)),
    );
    inputs.extend(
        relu_path
            .iter()
            .map(|p| Input::new("the --relu-model file", p)),
    );
    inputs.extend(relu_model.iter().flat_map(|(_, data)| {
        data.iter()
            .map(|p| Input::new("an external data file of --relu-model", p))
    }));
    inputs.extend(source.inputs());
    let mut outputs = Outputs::new(inputs);
    let json = outputs.optional("--json", args.json.as_deref())?;
    let raster = outputs.optional("--raster", args.raster.as_deref())?;
    let dump = outputs.optional("--dump", args.dump.as_deref())?;

    let relu = match relu_model.zip(relu_path.as_ref()) {
        Some(((relu, _), p)) => Some((relu.dnn, ReluModel::Own(display(p)))),
        // An imported ONNX network, run as a plain float network, and said to be so.
        None if onnx => Some((
            model.dnn.clone(),
            ReluModel::SameWeights(display(&args.model)),
        )),
        None => None,
    };
    let leak = leak_of(args.leak, &model, &args.model)?;
    let data = source.load(args.limit)?;
    // Every range check before the simulation.
    if args.raster.is_some() && args.raster_image >= data.count() {
        bail!(
            "--raster-image {}: there are {} images to evaluate (indices 0 to {})",
            args.raster_image,
            data.count(),
            data.count().saturating_sub(1)
        );
    }
    let classes = model.dnn.final_shape().len() as usize;
    if let Some(labels) = source.labels() {
        check_labels(&data, classes).with_context(|| format!("{}", labels.display()))?;
    }
    let graph = convert(&model.dnn, leak, args.til)
        .map(Arc::new)
        .with_context(|| format!("converting {}", args.model.display()))?;
    let whole = data.count();
    let shard_digests = args
        .shard
        .map(|_| digests(&args, &model_data, relu_path.as_deref(), &graph, &data))
        .transpose()?;
    let (data, range) = match args.shard {
        Some(spec) => {
            let range = spec.range(whole);
            (shard::select(&data, range.clone()), range)
        }
        None => (data, 0..whole),
    };
    if data.count() == 0 {
        bail!(
            "--shard {}: no image falls in it (the data set holds {whole}); use fewer shards",
            args.shard.expect("only a shard can be empty")
        );
    }
    let threads = threads(args.threads);
    let config = EvalConfig {
        mode: args.mode.into(),
        threads,
        ..EvalConfig::default()
    };
    let labelled = (0..data.count()).all(|i| data.label(i).is_some());
    let mut dump_file = dump
        .as_deref()
        .map(|temp| {
            DumpFile::create(
                temp,
                Format::Npz,
                &graph,
                Some(&model.dnn),
                data.count(),
                labelled,
            )
        })
        .transpose()
        .with_context(|| {
            format!(
                "writing --dump {}",
                args.dump.as_deref().unwrap_or(Path::new("")).display()
            )
        })?;
    let bar = ProgressBar::new(data.count() as u64)
        .with_style(bar_style())
        .with_message("simulating");
    let eval = evaluate_into(
        &graph,
        &model.dnn,
        relu.as_ref().map(|r| &r.0),
        &data,
        &config,
        |done| bar.set_position(done as u64),
        dump_file.as_mut().map(|d| d as &mut (dyn Dump + Send)),
    );
    bar.finish_and_clear();
    let eval = eval.with_context(|| format!("evaluating on {}", source.images().display()))?;
    let mut report = Report::new(
        &eval,
        Setup {
            model: display(&args.model),
            relu_model: relu.map(|r| r.1),
            data: display(source.images()),
            leak,
            til: format!("{:?}", args.til),
            tick_mode: format!("{:?}", config.mode),
            threads: Some(threads),
        },
    );
    if let (Some(spec), Some(d)) = (args.shard, shard_digests) {
        report.shard = Some(Shard {
            index: spec.index,
            count: spec.count,
            images: [range.start, range.end],
            data_images: whole,
            model_digest: d.model,
            graph_digest: d.graph,
            data_digest: d.data,
            relu_digest: d.relu,
            dump: args
                .dump
                .as_deref()
                .map(|p| relative_to_report(p, args.json.as_deref())),
            totals: eval.totals.clone(),
            layers: eval.infos.clone(),
        });
    }
    print!("{}", report.table());
    let mut written = Vec::new();
    if let (Some(temp), Some(path)) = (&json, &args.json) {
        std::fs::write(temp, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing --json {}", path.display()))?;
        written.push(format!("report written to {}", path.display()));
    }
    if let (Some(temp), Some(path)) = (&raster, &args.raster) {
        let i = args.raster_image;
        let record =
            Simulator::new(Arc::clone(&graph), config.mode).run(&data.input(i), &mut ())?;
        let label = data.label(i).map_or("none".into(), |l| l.to_string());
        let title = format!(
            "image {i} (label {label}, SNN class {}), L = {leak}",
            record.output.class
        );
        plot::raster(&graph, &record, &title, temp)
            .with_context(|| format!("writing --raster {}", path.display()))?;
        written.push(format!("raster of image {i} written to {}", path.display()));
    }
    if let (Some(file), Some(path)) = (dump_file, &args.dump) {
        let arrays = file
            .finish()
            .with_context(|| format!("writing --dump {}", path.display()))?;
        written.push(format!(
            "dump of {} images ({arrays} arrays) written to {}",
            data.count(),
            path.display()
        ));
    }
    outputs.commit()?;
    if !written.is_empty() {
        println!();
    }
    for line in written {
        println!("{line}");
    }
    if report.spike_times.mismatches > 0
        || report.spike_times.audit_failures > 0
        || report.ties.unexplained_disagreements > 0
    {
        bail!(
            "spikes, frames or logits off equation (10), or classes off the reference DNN(G) \
             without a tie: see the table above"
        );
    }
    Ok(())
}

/// A path as printed in reports: relative to the current directory when inside it; a
/// shipped file read from the copy built into the binary says so.
fn display(p: &Path) -> String {
    let shown = tdsnn::io::load::shown(p);
    match fixtures::built_in(p) {
        Some(_) => format!("{shown} (built in)"),
        None => shown,
    }
}

/// The digests a partial report records, which `tdsnn merge` compares across shards.
struct Digests {
    model: String,
    graph: String,
    data: String,
    relu: Option<String>,
}

/// The digests of this run: the model file (with its external data; a shipped model from
/// the copy built in when its file is gone), the graph, the whole data set, the ReLU model.
fn digests(
    args: &RunArgs,
    model_data: &[PathBuf],
    relu: Option<&Path>,
    graph: &tdsnn::engine::Graph,
    data: &Images,
) -> Result<Digests> {
    let file = |path: &Path, extra: &[PathBuf]| -> Result<String> {
        if let Some(bytes) = fixtures::built_in(path) {
            return Ok(shard::files_digest([bytes]));
        }
        let mut paths = vec![path];
        paths.extend(extra.iter().map(PathBuf::as_path));
        shard::paths_digest(&paths).with_context(|| format!("reading {}", path.display()))
    };
    Ok(Digests {
        model: file(&args.model, model_data)?,
        graph: shard::graph_digest(graph),
        data: shard::data_digest(data),
        relu: relu.map(|p| file(p, &[])).transpose()?,
    })
}

/// Where `dump` is, as the report at `report` records it: relative to the report's directory
/// when it lies below it, else absolute.
fn relative_to_report(dump: &Path, report: Option<&Path>) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let dump = absolute(dump);
    let dir = report
        .map(absolute)
        .and_then(|r| r.parent().map(Path::to_path_buf));
    match dir.as_deref().and_then(|d| dump.strip_prefix(d).ok()) {
        Some(relative) => relative.display().to_string(),
        None => dump.display().to_string(),
    }
}
