//! `tdsnn convert`: a trained model into an engine graph file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use tdsnn::converter::convert;
use tdsnn::engine::{format, TilPolicy};
use tdsnn::io::model_file::write_model;

use super::inspect::print_graph;
use super::output::{Input, Outputs};
use super::run::parse_til;
use super::{leak_of, load_model_and_data, parse_leak};

/// Convert a trained model (safetensors with a tdsnn architecture, or an ONNX file written by
/// `torch.onnx.export`) into the connection graph the engine runs: negated weights, bias
/// neurons worth -b/G(1), max-pool units, L and the T_il policy. Writes the graph file and
/// prints its layers. No output may name the model file or the other output; both are
/// moved into place only once everything succeeded.
#[derive(Debug, Args)]
// A negative number is a value (rejected with its reason), not an unknown flag.
#[command(allow_negative_numbers = true)]
pub struct ConvertArgs {
    /// The model file: safetensors with a tdsnn architecture, or `.onnx`.
    model: PathBuf,
    /// Also write the imported DNN as the project's model file (safetensors), e.g. to keep
    /// an ONNX import (BatchNorm folded) with its L.
    #[arg(long)]
    save_model: Option<PathBuf>,
    /// The graph file to write (default: the model's path with extension .tdsnn).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Leak constant L (default: the one the model was trained for).
    #[arg(long, value_parser = parse_leak)]
    leak: Option<f64>,
    /// T_il policy: `dynamic`, or a fixed number of steps.
    #[arg(long, default_value = "dynamic", value_parser = parse_til)]
    til: TilPolicy,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    let (output, what) = match &args.output {
        Some(path) => (path.clone(), "--output"),
        None => (
            args.model.with_extension("tdsnn"),
            "the graph file (the model's path with extension .tdsnn: give -o)",
        ),
    };
    let (mut model, data) = load_model_and_data(&args.model)?;
    let mut inputs = vec![Input::new("the model file", &args.model)];
    inputs.extend(
        data.iter()
            .map(|p| Input::new("an external data file of the model", p)),
    );
    let mut outputs = Outputs::new(inputs);
    let graph_temp = outputs.file(what, &output)?;
    let model_temp = outputs.optional("--save-model", args.save_model.as_deref())?;
    let leak = leak_of(args.leak, &model, &args.model)?;
    let graph = convert(&model.dnn, leak, args.til)
        .with_context(|| format!("converting {}", args.model.display()))?;
    if let (Some(temp), Some(path)) = (&model_temp, &args.save_model) {
        model.info.leak = Some(leak);
        write_model(&model, temp).with_context(|| format!("writing {}", path.display()))?;
    }
    format::write(&graph, &graph_temp).with_context(|| format!("writing {}", output.display()))?;
    outputs.commit()?;
    print_graph(&graph);
    if let Some(path) = &args.save_model {
        println!("model written to {}", path.display());
    }
    println!("graph written to {}", output.display());
    Ok(())
}
