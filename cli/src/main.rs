//! `tdsnn`: the command-line tool.

mod commands;

use anyhow::Result;
use clap::{Parser, Subcommand};

// candle's training spends seconds in glibc's malloc trimming; mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Convert deep networks into temporal-coding spiking networks (TDSNN) and simulate them,
/// event by event, exactly.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert and simulate a demo network (random weights) on random images.
    Demo(commands::demo::DemoArgs),
    /// Convert a model and simulate a data set: tables 1 and 2 (the default: the shipped
    /// LeNet-5 on the shipped MNIST test split).
    Run(commands::run::RunArgs),
    /// Add up the partial reports (and dumps) of a sharded run (`run --shard I/N`) into the
    /// whole run's.
    Merge(commands::merge::MergeArgs),
    /// The leak-constant study: retrain, convert and simulate for several L.
    Sweep(commands::sweep::SweepArgs),
    /// Train LeNet-5 with G and save the models.
    Train(commands::train::TrainArgs),
    /// Convert a trained model into an engine graph file.
    Convert(commands::convert::ConvertArgs),
    /// Print a graph file's or model file's layers.
    Inspect(commands::inspect::InspectArgs),
    /// Time the engine next to a dense forward pass and a streaming add, in one run.
    Bench(commands::bench::BenchArgs),
}

fn main() -> Result<()> {
    // Output piped into `head` and closed early ends the process quietly, as for any Unix
    // tool, instead of a panic in `println!`.
    sigpipe::reset();
    // No subcommand: the main job, with its defaults.
    let command = match Cli::parse().command {
        Some(command) => command,
        None => Cli::parse_from(["tdsnn", "run"])
            .command
            .expect("`run` parses"),
    };
    match command {
        Command::Demo(args) => commands::demo::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Merge(args) => commands::merge::merge(args),
        Command::Sweep(args) => commands::sweep::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Convert(args) => commands::convert::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Bench(args) => commands::bench::run(args),
    }
}
