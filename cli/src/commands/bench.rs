//! `tdsnn bench`: the engine's speed next to same-run baselines (see `tdsnn_cli::bench`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use tdsnn::io::idx::{split_files, Split};
use tdsnn_cli::bench::{self, BenchConfig, Progress};
use tdsnn_cli::fixtures;

use super::output::{Input, Outputs};
use super::{bar_style, thread_count};

/// Measure the engine on the shipped LeNet (per image, both tick modes, one core) next to a
/// dense f32 forward pass (im2col + GEMM, batch 1 and batched) and an L2 streaming-add
/// calibration, all in this process; thread scaling on the test split; ResNet-18, AlexNet and
/// VGG-16 (random He weights) on one image each; an operation table in the paper's table-2
/// format.
#[derive(Debug, Args)]
// A negative number is a value (rejected with its reason), not an unknown flag.
#[command(allow_negative_numbers = true)]
pub struct BenchArgs {
    /// LeNet test images timed per image.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    images: u32,
    /// Timed repetitions of each LeNet measurement (the median is reported).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    repetitions: u32,
    /// Batch size of the batched dense forward pass.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Threads of the scaling run, compared with 1 (1 to 1024).
    #[arg(long, default_value_t = 2, value_parser = thread_count())]
    threads: u32,
    /// Images of the scaling run (default: the whole test split).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    scaling_images: Option<u32>,
    /// Run ResNet-18, AlexNet and VGG-16 (the default).
    #[arg(long, overrides_with = "skip_big")]
    big: bool,
    /// Skip ResNet-18, AlexNet and VGG-16.
    #[arg(long)]
    skip_big: bool,
    /// Also write the measurements as JSON to this file (keys: see README).
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    // Before any work: the JSON must not overwrite a fixture the bench reads.
    let (images, labels) = split_files(&fixtures::mnist_dir(), Split::Test);
    let mut outputs = Outputs::new(vec![
        Input::new("the shipped LeNet-5", fixtures::lenet_g()),
        Input::new("the shipped test images", images),
        Input::new("the shipped test labels", labels),
    ]);
    let json = outputs.optional("--json", args.json.as_deref())?;
    let config = BenchConfig {
        images: args.images as usize,
        repetitions: args.repetitions as usize,
        batch: args.batch as usize,
        threads: args.threads as usize,
        scaling_images: args.scaling_images.map(|n| n as usize),
        calibration_budget: Duration::from_millis(200),
        big: args.big || !args.skip_big,
    };
    let mut bar: Option<(&'static str, ProgressBar)> = None;
    let report = bench::run(&config, &mut |p: Progress| {
        if bar.as_ref().is_none_or(|(stage, _)| *stage != p.stage) {
            if let Some((_, old)) = bar.take() {
                old.finish_and_clear();
            }
            let b = ProgressBar::new(p.total)
                .with_style(bar_style())
                .with_message(p.stage);
            bar = Some((p.stage, b));
        }
        if let Some((_, b)) = &bar {
            b.set_position(p.done);
        }
    });
    if let Some((_, b)) = bar {
        b.finish_and_clear();
    }
    let report = report.context("benchmarking")?;
    print!("{}", report.table());
    if let (Some(temp), Some(path)) = (&json, &args.json) {
        std::fs::write(temp, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing --json {}", path.display()))?;
    }
    outputs.commit()?;
    if let Some(path) = &args.json {
        println!("\nmeasurements written to {}", path.display());
    }
    Ok(())
}
