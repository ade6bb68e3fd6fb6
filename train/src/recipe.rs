//! The paper's "DNN adjustment and re-training" for a whole data set: train with ReLU (or start
//! from a ReLU model), fine-tune with the staircase `G(x) - 1`, fold into the DNN(G), and
//! measure both on held-out data.

use tdsnn_converter::staircase::{check_foldable, fold_staircase};
use tdsnn_converter::{
    check_leak, reference_forward, relu_forward, Architecture, Dnn, FoldError, ModelError, Shape,
};
use tdsnn_io::idx::Dataset;
use tdsnn_io::images::{accuracy, check_labels, Inputs, LabelError};
use tdsnn_io::model_file::{Model, ModelInfo};

use crate::fit::{self as train, Samples, TrainConfig, TrainEvent};
use crate::{init, Activation, Init, TrainError};

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

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Relu => "ReLU",
            Phase::G => "G(x) - 1",
        })
    }
}

impl Recipe {
    /// Errors unless every setting can be trained with on `images` training images: the
    /// learning rates finite and > 0, the mini-batch size 1 to `images`, the leak constant
    /// one the engine accepts ([`check_leak`]). [`train_models`] checks this before the
    /// first epoch; call it earlier to fail before loading anything else.
    pub fn check(&self, images: usize) -> Result<(), TrainingError> {
        check_leak(self.leak).map_err(TrainingError::Leak)?;
        for (phase, rate) in [(Phase::Relu, self.relu_lr), (Phase::G, self.g_lr)] {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(TrainingError::LearningRate { phase, rate });
            }
        }
        if !(1..=images).contains(&self.batch_size) {
            return Err(TrainingError::BatchSize {
                size: self.batch_size,
                images,
            });
        }
        Ok(())
    }
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

/// Errors of a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The leak constant is not one the engine accepts: the engine's
    /// [`InvalidLeak`](tdsnn_engine::ErrorKind::InvalidLeak), from [`check_leak`].
    #[error(transparent)]
    Leak(tdsnn_engine::Error),
    /// A learning rate is not a finite number > 0.
    #[error("learning rate {rate:?} of the {phase} phase must be finite and > 0")]
    LearningRate {
        /// The phase it is for.
        phase: Phase,
        /// The rejected value.
        rate: f64,
    },
    /// The mini-batch size is 0 or larger than the training set.
    #[error("mini-batch size {size} must be 1 to the {images} training images")]
    BatchSize {
        /// The rejected size.
        size: usize,
        /// Images in the training set.
        images: usize,
    },
    /// A label is not one of the network's classes.
    #[error("the {} labels: {error}", if *held_out { "held-out" } else { "training" })]
    Labels {
        /// Whether they are the held-out set's (else the training set's).
        held_out: bool,
        /// The first image with such a label.
        error: LabelError,
    },
    /// The images are not of the shape the network takes.
    #[error("the {which} images are {found}, the network takes {expected}")]
    ImageShape {
        /// `training` or `held-out`.
        which: &'static str,
        /// Their shape.
        found: Shape,
        /// The network's input shape.
        expected: Shape,
    },
    /// The network cannot be folded into a DNN(G) (padded conv or average pool).
    #[error(transparent)]
    Fold(#[from] FoldError),
    /// The architecture is invalid.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// All images of a data set as `f32` pixels in `[0, 1]`, concatenated.
pub fn pixels(data: &Dataset) -> Vec<f32> {
    data.images.iter().map(|&b| f32::from(b) / 255.0).collect()
}

/// The [`accuracy`] of `dnn` on `test` by the f64 forward pass: the reference DNN with `G`
/// (`leak = Some(L)`) or the plain ReLU network (`None`).
pub fn dnn_accuracy(dnn: &Dnn, test: &Dataset, leak: Option<f64>) -> f64 {
    accuracy((0..test.len()).map(|i| {
        let x = test.pixels(i);
        let class = match leak {
            Some(l) => reference_forward(dnn, &x, l).map(|r| r.class),
            None => relu_forward(dnn, &x).map(|r| r.class),
        };
        (class.ok(), test.label(i).map(usize::from))
    }))
}

/// Trains `arch` on `train_set` (or fine-tunes `start`, a ReLU model), reporting progress:
/// the ReLU network, then the DNN(G) fine-tuned with `G(x) - 1` and folded, both measured on
/// `test_set` by the f64 forward pass ([`dnn_accuracy`]). `tdsnn train` runs this on LeNet-5
/// ([`zoo::lenet5`](crate::zoo::lenet5)).
///
/// # Errors
/// Before the first epoch: the recipe ([`Recipe::check`]), images of another shape than the
/// network's input, labels outside its classes, a network that cannot be folded (padded
/// convs, average pools). Then whatever training reports ([`TrainingError::Train`]).
///
/// # Example
/// ```
/// use tdsnn_io::idx::Dataset;
/// use tdsnn_converter::{Architecture, LayerSpec, Shape};
/// use tdsnn_train::recipe::{train_models, Recipe};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // 1x1x2 images: is the left pixel brighter?
/// let data = Dataset { images: vec![200, 10, 30, 250, 180, 40, 5, 90], labels: vec![0, 1, 0, 1], rows: 1, cols: 2 };
/// let arch = Architecture {
///     input: Shape::new(1, 1, 2),
///     layers: vec![LayerSpec::Flatten, LayerSpec::Dense { outputs: 2, weights: (), bias: Some(()) }],
/// };
/// let recipe = Recipe { relu_epochs: 20, g_epochs: 5, batch_size: 2, relu_lr: 0.05, ..Recipe::default() };
/// let trained = train_models(&arch, None, &data, &data, &recipe, |_, _| {})?;
/// assert_eq!(trained.g.info.activation, "g");
/// assert_eq!(trained.g.info.leak, Some(recipe.leak));
/// # Ok(()) }
/// ```
pub fn train_models(
    arch: &Architecture,
    start: Option<Dnn>,
    train_set: &Dataset,
    test_set: &Dataset,
    recipe: &Recipe,
    mut progress: impl FnMut(Phase, TrainEvent),
) -> Result<Trained, TrainingError> {
    // Fail before training, not after: the settings, the images' shape, and whether
    // G(x) - 1 will fold.
    recipe.check(train_set.len())?;
    // The ReLU network to fine-tune: given, or still to train from a seeded start.
    let (first, trained) = match start {
        Some(dnn) => (dnn, true),
        None => (init(arch, Init::Uniform, recipe.seed)?, false),
    };
    let expected = first.input_shape();
    let classes = first.final_shape().len() as usize;
    for (held_out, which, set) in [(false, "training", train_set), (true, "held-out", test_set)] {
        let found = Inputs::shape(set);
        if found != expected {
            return Err(TrainingError::ImageShape {
                which,
                found,
                expected,
            });
        }
        check_labels(set, classes).map_err(|error| TrainingError::Labels { held_out, error })?;
    }
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
    let relu_accuracy = dnn_accuracy(&relu, test_set, None);
    let g_accuracy = dnn_accuracy(&g, test_set, Some(recipe.leak));
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
