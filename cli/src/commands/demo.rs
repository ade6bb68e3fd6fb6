//! `tdsnn demo`: the built-in demo network, every spike checked.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use tdsnn::engine::audit::Tolerance;
use tdsnn::engine::{format, Graph, Record, TickMode};
use tdsnn_cli::{demo, layers};

use super::output::Outputs;
use super::{bar_style, parse_leak};

/// The tick mode, as a command-line value.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    /// One tick event per step (the paper's mechanism).
    Explicit,
    /// Firing steps computed at release (same spike times).
    ClosedForm,
}

impl From<Mode> for TickMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Explicit => TickMode::Explicit,
            Mode::ClosedForm => TickMode::ClosedForm,
        }
    }
}

/// Convert and simulate the built-in demo network (LeNet-shaped, seeded random weights) on
/// seeded random images, check every spike against equation (10), print a per-layer table.
#[derive(Debug, Args)]
// A negative number is a value (rejected with its reason), not an unknown flag.
#[command(allow_negative_numbers = true)]
pub struct DemoArgs {
    /// Number of images (at least 1).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    images: u32,
    /// Leak constant L.
    #[arg(long, default_value_t = 5.0, value_parser = parse_leak)]
    leak: f64,
    /// Tick mode.
    #[arg(long, value_enum, default_value_t = Mode::ClosedForm)]
    mode: Mode,
    /// Seed of the weights and images.
    #[arg(long, default_value_t = 2019)]
    seed: u64,
    /// Also write the converted graph to this file (moved into place once every spike is
    /// checked).
    #[arg(long)]
    save_graph: Option<PathBuf>,
}

pub fn run(args: DemoArgs) -> Result<()> {
    run_demo(
        args.images as usize,
        args.leak,
        args.mode.into(),
        args.seed,
        args.save_graph,
    )
}

fn run_demo(
    n: usize,
    leak: f64,
    mode: TickMode,
    seed: u64,
    save_graph: Option<PathBuf>,
) -> Result<()> {
    let mut outputs = Outputs::new(Vec::new());
    let graph_temp = outputs.optional("--save-graph", save_graph.as_deref())?;
    let dnn = demo::network(seed);
    let images = demo::images(seed, n);
    let bar = ProgressBar::new(n as u64)
        .with_style(bar_style())
        .with_message("simulating");
    let (graph, summary) = demo::run(&dnn, leak, mode, &images, |i| bar.set_position(i as u64))?;
    bar.finish_and_clear();
    if let (Some(temp), Some(path)) = (&graph_temp, &save_graph) {
        format::write(&graph, temp).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "tdsnn demo: seeded random LeNet-shaped network, L = {leak}, {mode:?} ticks, {} images\n",
        summary.images
    );
    if let Some(record) = &summary.last {
        print_layers(&graph, record);
    }
    println!(
        "\nequation (10): {} neurons checked, {} exact, {} within the {:e} tie window, {} mismatches",
        summary.neurons,
        summary.exact,
        summary.ties,
        Tolerance::DEFAULT.tie_window,
        summary.mismatches
    );
    println!(
        "class agreement with the f64 reference DNN: {}/{}",
        summary.class_agreements, summary.images
    );
    // The graph is complete whatever the audit found.
    outputs.commit()?;
    if let Some(path) = &save_graph {
        println!("graph written to {}", path.display());
    }
    anyhow::ensure!(
        summary.mismatches == 0 && summary.audit_failures == 0,
        "{} spikes off equation (10), {} images failing the audit",
        summary.mismatches,
        summary.audit_failures
    );
    Ok(())
}

fn print_layers(graph: &Graph, record: &Record) {
    print!("{}", layers::record_table(graph, record));
}
