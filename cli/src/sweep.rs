//! The leak-constant study of the paper's figures 4 and 5: for each `L`, retrain with `G`
//! (fine-tuning a ReLU network with the staircase `G(x) - 1`), convert, simulate the held-out
//! data, and record accuracy and the DNN/SNN operation ratio.

use std::sync::Arc;

use std::fmt::Write as _;

use tdsnn::converter::{convert, ConvertError, Dnn, TilPolicy};
use tdsnn::evaluate::{evaluate, EvalConfig, EvalError};
use tdsnn::io::idx::Dataset;
use tdsnn::io::model_file::Architecture;
use tdsnn::train::recipe::{train_models, Phase, Recipe, TrainingError};
use tdsnn::train::TrainEvent;

use tdsnn::evaluate::report::{ReluModel, Report, Setup};

/// One point of the study.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// Leak constant `L`.
    pub leak: f64,
    /// The evaluation's report (accuracies, agreement, ties, operations).
    pub report: Report,
}

/// Why the study stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// A training run failed, or the recipe cannot train.
    #[error(transparent)]
    Training(#[from] TrainingError),
    /// A trained network does not convert.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// The engine rejected an image.
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// What a sweep is doing, for progress display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SweepEvent {
    /// Training for `leak`.
    Train(f64, Phase, TrainEvent),
    /// Simulating for `leak`: images done of total.
    Simulate(f64, usize, usize),
}

/// Runs the study for every `leak`, fine-tuning `relu` with `recipe` (its `leak` is replaced).
/// Every leak constant and the recipe are checked ([`Recipe::check`]) before the first
/// training starts.
pub fn sweep(
    relu: &Dnn,
    train_set: &Dataset,
    test_set: &Dataset,
    leaks: &[f64],
    recipe: &Recipe,
    config: &EvalConfig,
    progress: impl Fn(SweepEvent) + Sync,
) -> Result<Vec<SweepPoint>, SweepError> {
    check(leaks, recipe, train_set.len())?;
    let mut points = Vec::new();
    for &leak in leaks {
        let recipe = Recipe {
            leak,
            ..recipe.clone()
        };
        let trained = train_models(
            &Architecture::of(relu),
            Some(relu.clone()),
            train_set,
            test_set,
            &recipe,
            |p, e| progress(SweepEvent::Train(leak, p, e)),
        )?;
        let graph = Arc::new(convert(&trained.g.dnn, leak, TilPolicy::Dynamic)?);
        let n = test_set.len();
        let eval = evaluate(
            &graph,
            &trained.g.dnn,
            Some(relu),
            test_set,
            config,
            |done| progress(SweepEvent::Simulate(leak, done, n)),
        )?;
        let setup = Setup {
            model: format!("LeNet-5 fine-tuned with G, L = {leak}"),
            relu_model: Some(ReluModel::Own(
                "the ReLU network fine-tuned for each L".into(),
            )),
            data: "held-out split".into(),
            leak,
            til: "Dynamic".into(),
            tick_mode: format!("{:?}", config.mode),
            threads: Some(config.threads),
        };
        points.push(SweepPoint {
            leak,
            report: Report::new(&eval, setup),
        });
    }
    Ok(points)
}

/// Errors unless `recipe` with each of `leaks` can be trained with on `images` training
/// images ([`Recipe::check`]).
pub fn check(leaks: &[f64], recipe: &Recipe, images: usize) -> Result<(), TrainingError> {
    leaks.iter().try_for_each(|&leak| {
        Recipe {
            leak,
            ..recipe.clone()
        }
        .check(images)
    })
}

/// The study as CSV: one row per `L`.
pub fn csv(points: &[SweepPoint]) -> String {
    let mut s = String::from(
        "leak,dnn_relu_accuracy,dnn_g_accuracy,snn_accuracy,agreement,unexplained_disagreements,\
         dnn_mult,dnn_add,snn_mult,snn_add,ratio_mult,ratio_add,ratio_total,\
         engine_snn_mult,engine_snn_add,engine_ratio_total\n",
    );
    for p in points {
        let r = &p.report;
        let o = &r.ops;
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            p.leak,
            r.dnn_relu_accuracy.unwrap_or(f64::NAN),
            r.dnn_accuracy,
            r.snn_accuracy,
            r.agreement.fraction,
            r.ties.unexplained_disagreements,
            o.dnn.mult,
            o.dnn.add,
            o.snn_paper.mult,
            o.snn_paper.add,
            o.ratio_paper.mult,
            o.ratio_paper.add,
            o.ratio_paper.total,
            o.snn_engine.mult,
            o.snn_engine.add,
            o.ratio_engine.total
        );
    }
    s
}
