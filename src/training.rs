//! The paper's "DNN adjustment and re-training" for a whole data set: train with ReLU (or start
//! from a ReLU model), fine-tune with the staircase `G(x) - 1`, fold into the DNN(G), and
//! measure both on held-out data.

use tdsnn_converter::model_file::{Architecture, Model, ModelInfo};
use tdsnn_converter::staircase::{check_foldable, fold_staircase};
use tdsnn_converter::train::{self, Activation, Samples, TrainConfig, TrainError, TrainEvent};
use tdsnn_converter::{reference_forward, relu_forward, Dataset, Dnn};

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    /// Epochs of plain ReLU training (ignored when starting from a ReLU model).
    pub relu_epochs: usize,
    /// Adam learning rate of the ReLU phase.
    pub relu_lr: f64,
    /// Epochs of fine-tuning with the staircase `G(x) - 1`.
    pub g_epochs: usize,
    /// Adam learning rate of the fine-tuning.
    pub g_lr: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Leak constant `L` of `G`.
    pub leak: f64,
    /// Seed of the initial weights and of the shuffling.
    pub seed: u64,
}

impl Default for Recipe {
    /// The recipe of the shipped LeNet-5 fixture.
    fn default() -> Self {
        Recipe {
            relu_epochs: 15,
            relu_lr: 1e-3,
            g_epochs: 5,
            g_lr: 1e-4,
            batch_size: 64,
            leak: 5.0,
            seed: 2019,
        }
    }
}

/// Which phase a progress event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Plain ReLU training.
    Relu,
    /// Fine-tuning with `G(x) - 1`.
    G,
}

/// Both trained models and their held-out accuracies.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The ReLU network.
    pub relu: Model,
    /// The DNN(G): fine-tuned with `G - 1`, folded.
    pub g: Model,
    /// Accuracy of the ReLU network on the held-out data (f64 forward pass).
    pub relu_accuracy: f64,
    /// Accuracy of the DNN(G) on the held-out data (the f64 reference DNN).
    pub g_accuracy: f64,
}

/// Errors of a training run (and of the sweep built on it).
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The leak constant is not one the engine accepts.
    #[error(
        "leak constant L = {0} must be finite and in [{min}, {max}]",
        min = tdsnn_engine::graph::MIN_LEAK,
        max = tdsnn_engine::graph::MAX_LEAK
    )]
    Leak(f64),
    /// The network cannot be folded into a DNN(G) (padded conv or average pool).
    #[error(transparent)]
    Fold(#[from] tdsnn_converter::FoldError),
    /// The architecture is invalid.
    #[error(transparent)]
    Model(#[from] tdsnn_converter::ModelError),
    /// The trained network does not convert.
    #[error(transparent)]
    Convert(#[from] tdsnn_converter::ConvertError),
    /// The engine rejected an image (sweep).
    #[error(transparent)]
    Eval(#[from] crate::evaluate::EvalError),
}

/// All images of a data set as `f32` pixels in `[0, 1]`, concatenated.
pub fn pixels(data: &Dataset) -> Vec<f32> {
    data.images.iter().map(|&b| f32::from(b) / 255.0).collect()
}

/// Fraction of `test` that `dnn` classifies correctly, by the f64 forward pass: the
/// reference DNN with `G` (`leak = Some(L)`) or the plain ReLU network (`None`).
pub fn accuracy(dnn: &Dnn, test: &Dataset, leak: Option<f64>) -> f64 {
    let correct = (0..test.len())
        .filter(|&i| {
            let x = test.pixels(i);
            let class = match leak {
                Some(l) => reference_forward(dnn, &x, l).map(|r| r.class),
                None => relu_forward(dnn, &x).map(|r| r.class),
            };
            class.ok() == test.label(i).map(usize::from)
        })
        .count();
    correct as f64 / test.len().max(1) as f64
}

/// Trains `arch` on `train_set` (or fine-tunes `start`, a ReLU model), reporting progress.
pub fn train_models(
    arch: &Architecture,
    start: Option<Dnn>,
    train_set: &Dataset,
    test_set: &Dataset,
    recipe: &Recipe,
    mut progress: impl FnMut(Phase, TrainEvent),
) -> Result<Trained, TrainingError> {
    // Fail before training, not after: the leak constant, and whether G(x) - 1 will fold.
    if !tdsnn_engine::graph::valid_leak(recipe.leak) {
        return Err(TrainingError::Leak(recipe.leak));
    }
    // The ReLU network to fine-tune: given, or still to train from a seeded start.
    let (first, trained) = match start {
        Some(dnn) => (dnn, true),
        None => (train::init(arch, recipe.seed)?, false),
    };
    check_foldable(&first)?;
    let images = pixels(train_set);
    let samples = Samples {
        images: &images,
        labels: &train_set.labels,
    };
    let mut notes = Vec::new();
    let relu = if trained {
        first
    } else {
        let config = TrainConfig {
            epochs: recipe.relu_epochs,
            batch_size: recipe.batch_size,
            learning_rate: recipe.relu_lr,
            seed: recipe.seed,
            activation: Activation::Relu,
        };
        notes.push(format!(
            "ReLU: {config:?}, initial weights from seed {}",
            recipe.seed
        ));
        train::train(&first, samples, &config, |e| progress(Phase::Relu, e))?
    };
    let config = TrainConfig {
        epochs: recipe.g_epochs,
        batch_size: recipe.batch_size,
        learning_rate: recipe.g_lr,
        seed: recipe.seed.wrapping_add(1),
        activation: Activation::Staircase { leak: recipe.leak },
    };
    let stair = train::train(&relu, samples, &config, |e| progress(Phase::G, e))?;
    let g = fold_staircase(&stair)?;
    let relu_accuracy = accuracy(&relu, test_set, None);
    let g_accuracy = accuracy(&g, test_set, Some(recipe.leak));
    let relu_info = ModelInfo {
        activation: "relu".into(),
        leak: None,
        notes: [
            notes.clone(),
            vec![format!("held-out accuracy {relu_accuracy:.4}")],
        ]
        .concat(),
    };
    notes.push(format!(
        "fine-tuned with the staircase G(x) - 1: {config:?}; biases folded into DNN(G)"
    ));
    notes.push(format!("held-out accuracy of the DNN(G) {g_accuracy:.4}"));
    let g_info = ModelInfo {
        activation: "g".into(),
        leak: Some(recipe.leak),
        notes,
    };
    Ok(Trained {
        relu: Model {
            dnn: relu,
            info: relu_info,
        },
        g: Model {
            dnn: g,
            info: g_info,
        },
        relu_accuracy,
        g_accuracy,
    })
}
