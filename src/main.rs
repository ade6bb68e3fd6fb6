//! `tdsnn`: the command-line tool.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tdsnn::demo;
use tdsnn::engine::{format, Graph, Layer, Record, TickMode};

/// Convert deep networks into temporal-coding spiking networks (TDSNN) and simulate them,
/// event by event, exactly.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert and simulate the built-in demo network on seeded random images, check every
    /// spike against equation (10), and print a per-layer table (the default command).
    Demo {
        /// Number of images.
        #[arg(long, default_value_t = 200)]
        images: usize,
        /// Leak constant L.
        #[arg(long, default_value_t = 5.0)]
        leak: f64,
        /// Tick mode.
        #[arg(long, value_enum, default_value_t = Mode::ClosedForm)]
        mode: Mode,
        /// Seed of the weights and images.
        #[arg(long, default_value_t = 2019)]
        seed: u64,
        /// Also write the converted graph to this file.
        #[arg(long)]
        save_graph: Option<PathBuf>,
    },
    /// Print a graph file's layers, shapes and parameters.
    Inspect {
        /// The graph file.
        path: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Demo {
        images: 200,
        leak: 5.0,
        mode: Mode::ClosedForm,
        seed: 2019,
        save_graph: None,
    }) {
        Command::Demo {
            images,
            leak,
            mode,
            seed,
            save_graph,
        } => run_demo(images, leak, mode.into(), seed, save_graph),
        Command::Inspect { path } => {
            let graph =
                format::read(&path).with_context(|| format!("reading {}", path.display()))?;
            print_graph(&graph);
            Ok(())
        }
    }
}

fn run_demo(
    n: usize,
    leak: f64,
    mode: TickMode,
    seed: u64,
    save_graph: Option<PathBuf>,
) -> Result<()> {
    let dnn = demo::network(seed);
    let images = demo::images(seed, n);
    let bar = ProgressBar::new(n as u64).with_style(ProgressStyle::with_template(
        "simulating {bar:40} {pos}/{len} images, {per_sec}, eta {eta}",
    )?);
    let (graph, summary) = demo::run(&dnn, leak, mode, &images, |i| bar.set_position(i as u64))?;
    bar.finish_and_clear();
    if let Some(path) = save_graph {
        format::write(&graph, &path).with_context(|| format!("writing {}", path.display()))?;
        println!("graph written to {}", path.display());
    }
    println!(
        "tdsnn demo: seeded random LeNet-shaped network, L = {leak}, {mode:?} ticks, {} images\n",
        summary.images
    );
    if let Some(record) = &summary.last {
        print_layers(&graph, record);
    }
    println!(
        "\nequation (10): {} neurons checked, {} exact, {} within the 1e-9 tie window, {} mismatches",
        summary.neurons, summary.exact, summary.ties, summary.mismatches
    );
    println!(
        "class agreement with the f64 reference DNN: {}/{}",
        summary.class_agreements, summary.images
    );
    anyhow::ensure!(
        summary.mismatches == 0,
        "{} spikes off equation (10)",
        summary.mismatches
    );
    Ok(())
}

fn print_layers(graph: &Graph, record: &Record) {
    println!("last image, per layer:");
    println!(
        "{:>3} {:<9} {:>9} {:>5} {:>7} {:>9} {:>8} {:>11} {:>11} {:>11} {:>11}",
        "k",
        "layer",
        "shape",
        "T_il",
        "release",
        "mean t",
        "max t",
        "paper add",
        "paper mul",
        "engine add",
        "engine mul"
    );
    for (k, (layer, l)) in graph.layers().iter().zip(&record.layers).enumerate() {
        // Spike times relative to the release (synapse-based layers) or the frame origin.
        let rel: Vec<u32> = l
            .spikes
            .iter()
            .map(|&t| t - l.release.unwrap_or(l.frame_origin))
            .collect();
        let mean = (!rel.is_empty())
            .then(|| rel.iter().map(|&t| f64::from(t)).sum::<f64>() / rel.len() as f64)
            .map_or("-".into(), |m| format!("{m:.2}"));
        let max = rel.iter().max().map_or("-".into(), |m| m.to_string());
        let (p, e) = (l.ops.paper, l.ops.engine);
        println!(
            "{:>3} {:<9} {:>9} {:>5} {:>7} {:>9} {:>8} {:>11} {:>11} {:>11} {:>11}",
            k,
            layer.kind(),
            graph.output_shape(k).to_string(),
            l.t_il().map_or("-".into(), |t| t.to_string()),
            l.release.map_or("-".into(), |t| t.to_string()),
            mean,
            max,
            p.adds(),
            p.mults(),
            e.synaptic_adds + e.tick_adds + e.pool_comparisons,
            e.leak_mults
        );
    }
    let t = record.total_ops();
    println!(
        "{:>3} {:<9} {:>9} {:>5} {:>7} {:>9} {:>8} {:>11} {:>11} {:>11} {:>11}",
        "",
        "total",
        "",
        "",
        "",
        "",
        "",
        t.paper.adds(),
        t.paper.mults(),
        t.engine.synaptic_adds + t.engine.tick_adds + t.engine.pool_comparisons,
        t.engine.leak_mults
    );
}

fn print_graph(graph: &Graph) {
    let p = graph.params();
    println!(
        "input {}  L = {}  threshold = {}  T_il {:?}",
        graph.input_shape(),
        p.leak,
        p.threshold,
        p.til
    );
    for (k, layer) in graph.layers().iter().enumerate() {
        let detail = match layer {
            Layer::Dense(d) | Layer::Output(d) => {
                format!("{} weights, bias {}", d.weights.len(), d.bias.is_some())
            }
            Layer::Conv2d(c) => format!(
                "{:?}, {} weights, bias {}",
                c.window,
                c.weights.len(),
                c.bias.is_some()
            ),
            Layer::AvgPool(a) => format!("{:?}, weight {}", a.window, a.weight),
            Layer::MaxPool(m) => format!("{:?}", m.window),
            Layer::Flatten => String::new(),
        };
        println!(
            "{k:>3} {:<9} -> {:<10} {detail}",
            layer.kind(),
            graph.output_shape(k).to_string()
        );
    }
}
