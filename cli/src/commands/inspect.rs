//! `tdsnn inspect`: a graph file's or model file's layers, shapes and parameters.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use tdsnn::io::model_file::Model;

use super::{read_contents, Contents};
use tdsnn::converter::{convert, DnnLayer};
use tdsnn::engine::{Graph, TilPolicy};
use tdsnn_cli::layers;

/// Print a graph file's or a model file's layers, shapes and parameters.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A graph file (.tdsnn), a model file (.safetensors) or an ONNX file (.onnx); graph and
    /// model files are told apart by their first bytes, whatever their names.
    path: PathBuf,
}

pub fn run(args: InspectArgs) -> Result<()> {
    match read_contents(&args.path)? {
        Contents::Graph(graph) => print_graph(&graph),
        Contents::Model(model) => print_model(&model),
    }
    Ok(())
}

fn print_model(model: &Model) {
    let dnn = &model.dnn;
    let info = &model.info;
    println!("model: activation {}, L {:?}", info.activation, info.leak);
    for note in &info.notes {
        println!("  {note}");
    }
    println!("input {}", dnn.input_shape());
    for (k, layer) in dnn.layers().iter().enumerate() {
        let detail = match layer {
            DnnLayer::Conv2d {
                window,
                weights,
                bias,
                ..
            } => {
                format!(
                    "{window:?}, {} weights, bias {}",
                    weights.len(),
                    bias.is_some()
                )
            }
            DnnLayer::Dense { weights, bias, .. } => {
                format!("{} weights, bias {}", weights.len(), bias.is_some())
            }
            DnnLayer::MaxPool { window } | DnnLayer::AvgPool { window } => format!("{window:?}"),
            DnnLayer::Flatten | DnnLayer::Relu => String::new(),
            DnnLayer::Shortcut { from, projection } => match projection {
                None => format!("identity from {from}"),
                Some(p) => format!(
                    "projection from {from}, {:?}, {} weights, bias {}",
                    p.window,
                    p.weights.len(),
                    p.bias.is_some()
                ),
            },
            DnnLayer::Concat { from } => format!("channels of {from} appended"),
        };
        println!(
            "{k:>3} {:<9} -> {:<10} {detail}",
            layer.kind(),
            dnn.output_shape(k).to_string()
        );
    }
    let ops = dnn.op_counts();
    println!(
        "DNN operations per input: {} multiplications, {} additions, {} bias additions",
        ops.multiplications(),
        ops.additions(),
        ops.bias_additions()
    );
    let branches = dnn.layers().iter().any(|l| l.source().is_some());
    if branches {
        // The layers of the engine graph are what `tdsnn run` reports joins by; they do not
        // depend on L.
        match convert(dnn, info.leak.unwrap_or(5.0), TilPolicy::Dynamic) {
            Ok(graph) => {
                println!("engine graph (the layers `tdsnn run` numbers its joins by):");
                print!("{}", layers::layer_lines(&graph));
            }
            Err(e) => println!("engine graph: does not convert: {e}"),
        }
    }
}

/// Prints a graph's parameters and layers (with each layer's source and synapse groups when
/// the graph branches).
pub fn print_graph(graph: &Graph) {
    print!("{}", layers::graph_text(graph));
}
