//! `tdsnn run`: convert a model, simulate a labelled data set, report tables 1 and 2.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use tdsnn::converter::{convert, Dataset};
use tdsnn::dump::write_dump;
use tdsnn::engine::{Simulator, TilPolicy};
use tdsnn::evaluate::{evaluate, EvalConfig};
use tdsnn::fixtures::{self, Split};
use tdsnn::images::{Images, Inputs};
use tdsnn::plot;
use tdsnn::report::{Report, Setup};

use super::demo::Mode;
use super::{bar_style, is_onnx, leak_of, load_model, threads};

/// Convert a model trained with G, simulate every image of a labelled IDX data set in the
/// engine, check every spike against equation (10) and every class against the f64 reference
/// DNN, and print the paper's tables 1 and 2 for it. The defaults run the shipped LeNet-5 on
/// the shipped MNIST test split (the main job).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The model: safetensors with a tdsnn architecture, or an ONNX file (`.onnx`; give
    /// --leak). See README.
    #[arg(long, default_value_os_t = fixtures::lenet_g())]
    model: PathBuf,
    /// A plain ReLU model to compare with (the DNN(ReLU) column). Defaults to the shipped
    /// ReLU LeNet-5 when --model is the shipped one.
    #[arg(long)]
    relu_model: Option<PathBuf>,
    /// Directory with test-images-idx3-ubyte and test-labels-idx1-ubyte (or train-*).
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
    #[arg(long)]
    leak: Option<f64>,
    /// T_il policy: `dynamic`, or a fixed number of steps.
    #[arg(long, default_value = "dynamic", value_parser = parse_til)]
    til: TilPolicy,
    /// Tick mode.
    #[arg(long, value_enum, default_value_t = Mode::ClosedForm)]
    mode: Mode,
    /// Worker threads (default: every core). Results are identical for any count.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
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
    /// Which image the raster shows (index into the data set).
    #[arg(long, default_value_t = 0)]
    raster_image: usize,
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

fn load_data(args: &RunArgs) -> Result<(Images, PathBuf)> {
    let (mut data, path) = if let Some(npy) = &args.npy {
        let mut images = Images::read_npy(npy)?;
        if let Some(labels) = &args.npy_labels {
            images.read_npy_labels(labels)?;
        }
        (images, npy.clone())
    } else {
        let (images, labels) = match (&args.images, &args.labels) {
            (Some(i), Some(l)) => (i.clone(), l.clone()),
            _ => fixtures::split_files(
                &args.data,
                if args.train_split {
                    Split::Train
                } else {
                    Split::Test
                },
            ),
        };
        // Only the images `--limit` keeps are converted.
        let count = args
            .limit
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        (
            Images::from_dataset(&Dataset::read(&images, &labels)?, count),
            images,
        )
    };
    if let Some(n) = args.limit {
        let n = usize::try_from(n).unwrap_or(usize::MAX).min(data.count());
        data.values.truncate(n * data.shape.len() as usize);
        if let Some(labels) = &mut data.labels {
            labels.truncate(n);
        }
    }
    Ok((data, path))
}

pub fn run(args: RunArgs) -> Result<()> {
    let model = load_model(&args.model)?;
    let onnx = is_onnx(&args.model);
    let relu_path = args.relu_model.clone().or_else(|| {
        (args.model == fixtures::lenet_g())
            .then(fixtures::lenet_relu)
            .filter(|p| p.exists())
    });
    let relu = match &relu_path {
        // An imported ONNX network is the float ReLU network itself.
        None if onnx => Some(model.dnn.clone()),
        Some(p) => Some(load_model(p)?.dnn),
        None => None,
    };
    let leak = leak_of(args.leak, &model, &args.model)?;
    let (data, images_path) = load_data(&args)?;
    let graph = convert(&model.dnn, leak, args.til)?;
    let threads = threads(args.threads).min(data.count());
    let config = EvalConfig {
        mode: args.mode.into(),
        threads,
        keep: args.dump.is_some(),
        ..EvalConfig::default()
    };
    let bar = ProgressBar::new(data.count() as u64)
        .with_style(bar_style())
        .with_message("simulating");
    let eval = evaluate(&graph, &model.dnn, relu.as_ref(), &data, &config, |done| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let eval = eval.with_context(|| format!("evaluating on {}", images_path.display()))?;
    let report = Report::new(
        &eval,
        Setup {
            model: display(&args.model),
            relu_model: relu_path
                .as_deref()
                .map(display)
                .or_else(|| onnx.then(|| format!("{} (as a float network)", display(&args.model)))),
            data: display(&images_path),
            leak,
            til: format!("{:?}", args.til),
            tick_mode: format!("{:?}", config.mode),
            threads,
        },
    );
    print!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nreport written to {}", path.display());
    }
    if let Some(path) = &args.raster {
        let i = args.raster_image;
        if i >= data.count() {
            bail!(
                "--raster-image {i}: the data set has {} images",
                data.count()
            );
        }
        let record = Simulator::new(&graph, config.mode).run(&data.input(i), &mut ())?;
        let label = data.label(i).map_or("none".into(), |l| l.to_string());
        let title = format!(
            "image {i} (label {label}, SNN class {}), L = {leak}",
            record.output.class
        );
        plot::raster(&graph, &record, &title, path)?;
        println!("raster of image {i} written to {}", path.display());
    }
    if let Some(path) = &args.dump {
        let arrays = write_dump(path, &graph, &model.dnn, &data, &eval)?;
        println!(
            "dump of {} images ({arrays} arrays) written to {}",
            data.count(),
            path.display()
        );
    }
    if report.spike_times.mismatches > 0
        || report.spike_times.audit_failures > 0
        || report.ties.unexplained_disagreements > 0
    {
        bail!("spikes, frames or logits off SPEC, or classes off the reference without a tie: see above");
    }
    Ok(())
}

/// A path as printed in reports: relative to the current directory when inside it.
fn display(p: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    p.strip_prefix(&cwd).unwrap_or(p).display().to_string()
}
