//! `tdsnn train`: train LeNet-5 (or fine-tune a ReLU model) with `G`, save both models.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar};
use tdsnn::io::idx::Split;
use tdsnn::io::model_file::write_model;
use tdsnn::train::recipe::{train_models, Phase, Recipe};
use tdsnn::train::zoo::lenet5;
use tdsnn::train::TrainEvent;
use tdsnn_cli::fixtures::{self, load_split};

use super::output::{Input, Outputs};
use super::{bar_style, data_inputs, name_labels_file, parse_leak, read_model};

/// Train LeNet-5 on an IDX data set of 1x28x28 images (MNIST, Fashion-MNIST, ...): ReLU
/// first (or start from a ReLU model), then fine-tune with the staircase G(x) - 1 (a
/// straight-through gradient) and fold it into the DNN(G) that converts losslessly. Saves
/// `lenet5-relu.safetensors` and `lenet5-g-L{L}.safetensors`. The defaults regenerate the
/// shipped fixtures.
///
/// Every option, the labels and the output directory are checked before the first epoch;
/// the models are moved into place only once both are trained and written.
#[derive(Debug, Args)]
// A negative number is a value (rejected with its reason), not an unknown flag.
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// Directory of an IDX data set: train-/test-images-idx3-ubyte and -labels-idx1-ubyte
    /// (the test split is held out to measure the models).
    #[arg(long, default_value_os_t = fixtures::mnist_dir())]
    data: PathBuf,
    /// Where to write the models (created if missing).
    #[arg(long, default_value_os_t = fixtures::lenet_dir())]
    out_dir: PathBuf,
    /// Start from this ReLU model instead of training one.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Leak constant L of G.
    #[arg(long, default_value_t = Recipe::default().leak, value_parser = parse_leak)]
    leak: f64,
    /// Epochs of plain ReLU training.
    #[arg(long, default_value_t = Recipe::default().relu_epochs)]
    relu_epochs: usize,
    /// Learning rate of the ReLU phase (Adam), finite and > 0.
    #[arg(long, default_value_t = Recipe::default().relu_lr)]
    relu_lr: f64,
    /// Epochs of fine-tuning with G(x) - 1.
    #[arg(long, default_value_t = Recipe::default().g_epochs)]
    g_epochs: usize,
    /// Learning rate of the fine-tuning (Adam), finite and > 0.
    #[arg(long, default_value_t = Recipe::default().g_lr)]
    g_lr: f64,
    /// Mini-batch size, 1 to the number of training images.
    #[arg(long, default_value_t = Recipe::default().batch_size)]
    batch_size: usize,
    /// Seed of the initial weights and the shuffling.
    #[arg(long, default_value_t = Recipe::default().seed)]
    seed: u64,
}

pub fn run(args: TrainArgs) -> Result<()> {
    for (dir, option) in [(&args.data, "--data"), (&args.out_dir, "--out-dir")] {
        if let Some(message) = fixtures::gone(dir, option) {
            bail!(message);
        }
    }
    let recipe = Recipe {
        relu_epochs: args.relu_epochs,
        relu_lr: args.relu_lr,
        g_epochs: args.g_epochs,
        g_lr: args.g_lr,
        batch_size: args.batch_size,
        leak: args.leak,
        seed: args.seed,
    };
    // Before any work: the outputs against the inputs, the output directory, the data, the
    // recipe, the starting model.
    let mut inputs = data_inputs(&args.data);
    inputs.extend(args.from.iter().map(|p| Input::new("the --from model", p)));
    let mut outputs = Outputs::new(inputs);
    outputs.directory("--out-dir", &args.out_dir)?;
    let relu_path = args.out_dir.join("lenet5-relu.safetensors");
    let g_path = args
        .out_dir
        .join(format!("lenet5-g-L{}.safetensors", args.leak));
    let relu_temp = match args.from {
        None => Some(outputs.file("the ReLU model", &relu_path)?),
        Some(_) => None,
    };
    let g_temp = outputs.file("the DNN(G) model", &g_path)?;
    let train_set = load_split(&args.data, Split::Train)?;
    let test_set = load_split(&args.data, Split::Test)?;
    recipe
        .check(train_set.len())
        .context("checking --relu-lr, --g-lr, --batch-size and --leak")?;
    let start = match &args.from {
        Some(path) => Some(read_model(path)?.dnn),
        None => None,
    };
    println!(
        "training LeNet-5 on {} images of {} ({} held out), {recipe:?}",
        train_set.len(),
        tdsnn::io::images::Inputs::shape(&train_set),
        test_set.len()
    );
    let bars = MultiProgress::new();
    let mut bar: Option<ProgressBar> = None;
    let trained = train_models(
        &lenet5(),
        start,
        &train_set,
        &test_set,
        &recipe,
        |phase, event| {
            let name = match phase {
                Phase::Relu => "relu",
                Phase::G => "G(x)-1",
            };
            match event {
                TrainEvent::Batch { epoch, done, total } => {
                    let b = bar.get_or_insert_with(|| {
                        bars.add(
                            ProgressBar::new(total as u64)
                                .with_style(bar_style())
                                .with_message(format!("{name} epoch {epoch}")),
                        )
                    });
                    b.set_position(done as u64);
                }
                TrainEvent::Epoch(r) => {
                    if let Some(b) = bar.take() {
                        b.finish_and_clear();
                    }
                    bars.suspend(|| {
                        println!(
                            "{name} epoch {:>2}: loss {:.4}, training accuracy {:.2}%, {:.1} s",
                            r.epoch,
                            r.loss,
                            100.0 * r.train_accuracy,
                            r.seconds
                        )
                    });
                }
            }
        },
    )
    .map_err(|e| name_labels_file(e, &args.data))?;
    if let Some(temp) = &relu_temp {
        write_model(&trained.relu, temp)
            .with_context(|| format!("writing {}", relu_path.display()))?;
    }
    write_model(&trained.g, &g_temp).with_context(|| format!("writing {}", g_path.display()))?;
    outputs.commit()?;
    if relu_temp.is_some() {
        println!(
            "wrote {} (held-out accuracy {:.2}%)",
            relu_path.display(),
            100.0 * trained.relu_accuracy
        );
    }
    println!(
        "wrote {} (held-out accuracy of the DNN(G), f64 reference: {:.2}%)",
        g_path.display(),
        100.0 * trained.g_accuracy
    );
    Ok(())
}
