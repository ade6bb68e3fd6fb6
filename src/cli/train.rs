//! `tdsnn train`: train LeNet-5 (or fine-tune a ReLU model) with `G`, save both models.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar};
use tdsnn::converter::model_file::{write_model, Architecture};
use tdsnn::converter::train::TrainEvent;
use tdsnn::fixtures::{self, Split};
use tdsnn::training::{train_models, Phase, Recipe};

use super::{bar_style, read_model};

/// Train LeNet-5 on an MNIST-style data set: ReLU first (or start from a ReLU model), then
/// fine-tune with the staircase G(x) - 1 (a straight-through gradient) and fold it into the
/// DNN(G) that converts losslessly. Saves `lenet5-relu.safetensors` and
/// `lenet5-g-L{L}.safetensors`. The defaults regenerate the shipped fixtures.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Directory with train-/test-images-idx3-ubyte and -labels-idx1-ubyte.
    #[arg(long, default_value_os_t = fixtures::mnist_dir())]
    data: PathBuf,
    /// Where to write the models.
    #[arg(long, default_value_os_t = fixtures::lenet_dir())]
    out_dir: PathBuf,
    /// Start from this ReLU model instead of training one.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Leak constant L of G.
    #[arg(long, default_value_t = Recipe::default().leak)]
    leak: f64,
    /// Epochs of plain ReLU training.
    #[arg(long, default_value_t = Recipe::default().relu_epochs)]
    relu_epochs: usize,
    /// Learning rate of the ReLU phase (Adam).
    #[arg(long, default_value_t = Recipe::default().relu_lr)]
    relu_lr: f64,
    /// Epochs of fine-tuning with G(x) - 1.
    #[arg(long, default_value_t = Recipe::default().g_epochs)]
    g_epochs: usize,
    /// Learning rate of the fine-tuning (Adam).
    #[arg(long, default_value_t = Recipe::default().g_lr)]
    g_lr: f64,
    /// Mini-batch size.
    #[arg(long, default_value_t = Recipe::default().batch_size)]
    batch_size: usize,
    /// Seed of the initial weights and the shuffling.
    #[arg(long, default_value_t = Recipe::default().seed)]
    seed: u64,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let train_set = fixtures::load_split(&args.data, Split::Train)?;
    let test_set = fixtures::load_split(&args.data, Split::Test)?;
    let start = match &args.from {
        Some(path) => Some(read_model(path)?.dnn),
        None => None,
    };
    let recipe = Recipe {
        relu_epochs: args.relu_epochs,
        relu_lr: args.relu_lr,
        g_epochs: args.g_epochs,
        g_lr: args.g_lr,
        batch_size: args.batch_size,
        leak: args.leak,
        seed: args.seed,
    };
    println!(
        "training LeNet-5 on {} digits ({} held out), {recipe:?}",
        train_set.len(),
        test_set.len()
    );
    let bars = MultiProgress::new();
    let mut bar: Option<ProgressBar> = None;
    let trained = train_models(
        &Architecture::lenet5(),
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
                            "{name} epoch {:>2}: loss {:.4}, train accuracy {:.2}%, {:.1} s",
                            r.epoch,
                            r.loss,
                            100.0 * r.train_accuracy,
                            r.seconds
                        )
                    });
                }
            }
        },
    )?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    let relu_path = args.out_dir.join("lenet5-relu.safetensors");
    let g_path = args
        .out_dir
        .join(format!("lenet5-g-L{}.safetensors", args.leak));
    if args.from.is_none() {
        write_model(&trained.relu, &relu_path)?;
        println!(
            "wrote {} (held-out accuracy {:.2}%)",
            relu_path.display(),
            100.0 * trained.relu_accuracy
        );
    }
    write_model(&trained.g, &g_path)?;
    println!(
        "wrote {} (held-out accuracy of the DNN(G), f64 reference: {:.2}%)",
        g_path.display(),
        100.0 * trained.g_accuracy
    );
    Ok(())
}
