//! `tdsnn sweep`: the leak-constant study (figures 4 and 5 of the paper).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use tdsnn::evaluate::EvalConfig;
use tdsnn::io::idx::Split;
use tdsnn::train::recipe::{Phase, Recipe};
use tdsnn::train::TrainEvent;
use tdsnn_cli::fixtures::{self, load_split};
use tdsnn_cli::plot;
use tdsnn_cli::sweep::{check, csv, sweep, SweepError, SweepEvent};

use super::output::{Input, Outputs};
use super::{
    bar_style, data_inputs, name_labels_file, parse_leak, read_model, thread_count, threads,
};

/// For each leak constant L: fine-tune a ReLU LeNet-5 with G(x) - 1, fold, convert, simulate
/// the held-out images; write a CSV and a plot of accuracy and DNN/SNN operation ratio
/// against L (the paper's figures 4 and 5). Every option, the labels and the output
/// directory are checked before the first training; the CSV and the plot are moved into
/// place only once the whole study succeeded.
#[derive(Debug, Args)]
// A negative number is a value (rejected with its reason), not an unknown flag.
#[command(allow_negative_numbers = true)]
pub struct SweepArgs {
    /// The leak constants, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1.0, 2.0, 3.0, 4.0, 5.0],
          value_parser = parse_leak)]
    leaks: Vec<f64>,
    /// The ReLU model to fine-tune for each L.
    #[arg(long, default_value_os_t = fixtures::lenet_relu())]
    from: PathBuf,
    /// Directory of an IDX data set: train-/test-images-idx3-ubyte and -labels-idx1-ubyte.
    #[arg(long, default_value_os_t = fixtures::mnist_dir())]
    data: PathBuf,
    /// Epochs of fine-tuning with G(x) - 1 per L.
    #[arg(long, default_value_t = Recipe::default().g_epochs)]
    g_epochs: usize,
    /// Learning rate of the fine-tuning (Adam), finite and > 0.
    #[arg(long, default_value_t = Recipe::default().g_lr)]
    g_lr: f64,
    /// Seed of the shuffling.
    #[arg(long, default_value_t = Recipe::default().seed)]
    seed: u64,
    /// Worker threads for the simulation, 1 to 1024 (default: every core).
    #[arg(long, value_parser = thread_count())]
    threads: Option<u32>,
    /// Where to write sweep.csv and sweep.svg (created if missing).
    #[arg(long, default_value = "sweep")]
    out_dir: PathBuf,
}

pub fn run(args: SweepArgs) -> Result<()> {
    if let Some(message) = fixtures::gone(&args.data, "--data") {
        bail!(message);
    }
    // Before any work: the outputs against the inputs, the output directory, the data, the
    // recipe for every L (sweep checks it again), the model.
    let mut inputs = data_inputs(&args.data);
    inputs.push(Input::new("the --from model", &args.from));
    let mut outputs = Outputs::new(inputs);
    outputs.directory("--out-dir", &args.out_dir)?;
    let csv_path = args.out_dir.join("sweep.csv");
    let svg = args.out_dir.join("sweep.svg");
    let csv_temp = outputs.file("the CSV", &csv_path)?;
    let svg_temp = outputs.file("the plot", &svg)?;
    let train_set = load_split(&args.data, Split::Train)?;
    let test_set = load_split(&args.data, Split::Test)?;
    let recipe = Recipe {
        g_epochs: args.g_epochs,
        g_lr: args.g_lr,
        seed: args.seed,
        ..Recipe::default()
    };
    check(&args.leaks, &recipe, train_set.len()).context("checking --g-lr and --leaks")?;
    let relu = read_model(&args.from)?.dnn;
    let threads = threads(args.threads);
    let config = EvalConfig {
        threads,
        ..EvalConfig::default()
    };
    let bar = ProgressBar::new(0).with_style(bar_style());
    let points = sweep(
        &relu,
        &train_set,
        &test_set,
        &args.leaks,
        &recipe,
        &config,
        |event| match event {
            SweepEvent::Train(
                leak,
                Phase::G | Phase::Relu,
                TrainEvent::Batch { epoch, done, total },
            ) => {
                bar.set_length(total as u64);
                bar.set_message(format!("L={leak} epoch {epoch}"));
                bar.set_position(done as u64);
            }
            SweepEvent::Train(leak, _, TrainEvent::Epoch(r)) => bar.suspend(|| {
                println!(
                    "L = {leak}: G(x)-1 epoch {}: loss {:.4}, training accuracy {:.2}%",
                    r.epoch,
                    r.loss,
                    100.0 * r.train_accuracy
                )
            }),
            SweepEvent::Simulate(leak, done, total) => {
                bar.set_length(total as u64);
                bar.set_message(format!("L={leak} simulate"));
                bar.set_position(done as u64);
            }
        },
    );
    bar.finish_and_clear();
    let points = points.map_err(|e| match e {
        SweepError::Training(e) => name_labels_file(e, &args.data),
        e => e.into(),
    })?;
    std::fs::write(&csv_temp, csv(&points))
        .with_context(|| format!("writing {}", csv_path.display()))?;
    println!("\n    L   DNN(G) acc   SNN acc   agreement   DNN/SNN mult   add   total (paper accounting)");
    for p in &points {
        let r = &p.report;
        println!(
            "{:>5}   {:>9.2}%  {:>7.2}%   {:>8.2}%   {:>12.2} {:>5.2} {:>7.3}",
            p.leak,
            100.0 * r.dnn_accuracy,
            100.0 * r.snn_accuracy,
            100.0 * r.agreement.fraction,
            r.ops.ratio_paper.mult,
            r.ops.ratio_paper.add,
            r.ops.ratio_paper.total
        );
    }
    let series = |f: &dyn Fn(&tdsnn::evaluate::report::Report) -> f64| -> Vec<(f64, f64)> {
        points.iter().map(|p| (p.leak, f(&p.report))).collect()
    };
    plot::lines(
        "TDSNN LeNet-5 on MNIST: the leak constant L (figures 4 and 5)",
        "leak constant L",
        &[
            (
                "accuracy (held-out split)",
                "accuracy (%)",
                vec![
                    ("DNN(G)".into(), series(&|r| 100.0 * r.dnn_accuracy)),
                    ("SNN".into(), series(&|r| 100.0 * r.snn_accuracy)),
                ],
            ),
            (
                "DNN / SNN operations (paper accounting)",
                "ratio",
                vec![
                    ("mult".into(), series(&|r| r.ops.ratio_paper.mult)),
                    ("add".into(), series(&|r| r.ops.ratio_paper.add)),
                    ("total".into(), series(&|r| r.ops.ratio_paper.total)),
                ],
            ),
        ],
        &svg_temp,
    )
    .with_context(|| format!("writing {}", svg.display()))?;
    outputs.commit()?;
    println!("\nwrote {} and {}", csv_path.display(), svg.display());
    Ok(())
}
