//! `tdsnn sweep`: the leak-constant study (figures 4 and 5 of the paper).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use tdsnn::converter::train::TrainEvent;
use tdsnn::evaluate::EvalConfig;
use tdsnn::fixtures::{self, Split};
use tdsnn::plot;
use tdsnn::sweep::{csv, sweep, SweepEvent};
use tdsnn::training::{Phase, Recipe};

use super::{bar_style, read_model, threads};

/// For each leak constant L: fine-tune a ReLU LeNet-5 with G(x) - 1, fold, convert, simulate
/// the held-out split; write a CSV and a plot of accuracy and DNN/SNN operation ratio
/// against L (the paper's figures 4 and 5).
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The leak constants, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1.0, 2.0, 3.0, 4.0, 5.0])]
    leaks: Vec<f64>,
    /// The ReLU model to fine-tune for each L.
    #[arg(long, default_value_os_t = fixtures::lenet_relu())]
    from: PathBuf,
    /// Directory with the MNIST-style IDX files.
    #[arg(long, default_value_os_t = fixtures::mnist_dir())]
    data: PathBuf,
    /// Epochs of fine-tuning with G(x) - 1 per L.
    #[arg(long, default_value_t = Recipe::default().g_epochs)]
    g_epochs: usize,
    /// Learning rate of the fine-tuning.
    #[arg(long, default_value_t = Recipe::default().g_lr)]
    g_lr: f64,
    /// Seed of the shuffling.
    #[arg(long, default_value_t = Recipe::default().seed)]
    seed: u64,
    /// Worker threads for the simulation (default: every core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// Where to write sweep.csv and sweep.svg.
    #[arg(long, default_value = "sweep")]
    out_dir: PathBuf,
}

pub fn run(args: SweepArgs) -> Result<()> {
    let relu = read_model(&args.from)?.dnn;
    let train_set = fixtures::load_split(&args.data, Split::Train)?;
    let test_set = fixtures::load_split(&args.data, Split::Test)?;
    let recipe = Recipe {
        g_epochs: args.g_epochs,
        g_lr: args.g_lr,
        seed: args.seed,
        ..Recipe::default()
    };
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
                    "L = {leak}: G(x)-1 epoch {}: loss {:.4}, train accuracy {:.2}%",
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
    )?;
    bar.finish_and_clear();
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    let csv_path = args.out_dir.join("sweep.csv");
    std::fs::write(&csv_path, csv(&points))
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
    let series = |f: &dyn Fn(&tdsnn::report::Report) -> f64| -> Vec<(f64, f64)> {
        points.iter().map(|p| (p.leak, f(&p.report))).collect()
    };
    let svg = args.out_dir.join("sweep.svg");
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
        &svg,
    )?;
    println!("\nwrote {} and {}", csv_path.display(), svg.display());
    Ok(())
}
