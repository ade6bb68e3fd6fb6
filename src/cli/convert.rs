//! `tdsnn convert`: a trained model into an engine graph file.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use tdsnn::converter::convert;
use tdsnn::converter::model_file::read_model;
use tdsnn::engine::{format, TilPolicy};

use super::inspect::print_graph;
use super::run::parse_til;

/// Convert a trained model (safetensors with a tdsnn architecture) into the connection graph
/// the engine runs: negated weights, bias neurons worth -b/G(1), max-pool units, L and the
/// T_il policy. Writes the graph file and prints its layers.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The model file.
    model: PathBuf,
    /// The graph file to write (default: the model's path with extension .tdsnn).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Leak constant L (default: the one the model was trained for).
    #[arg(long)]
    leak: Option<f64>,
    /// T_il policy: `dynamic`, or a fixed number of steps.
    #[arg(long, default_value = "dynamic", value_parser = parse_til)]
    til: TilPolicy,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    let model =
        read_model(&args.model).with_context(|| format!("loading {}", args.model.display()))?;
    let Some(leak) = args.leak.or(model.info.leak) else {
        bail!(
            "{} does not say which L it was trained for: give --leak",
            args.model.display()
        );
    };
    let graph = convert(&model.dnn, leak, args.til)
        .with_context(|| format!("converting {}", args.model.display()))?;
    let output = args
        .output
        .unwrap_or_else(|| args.model.with_extension("tdsnn"));
    format::write(&graph, &output).with_context(|| format!("writing {}", output.display()))?;
    print_graph(&graph);
    println!("graph written to {}", output.display());
    Ok(())
}
