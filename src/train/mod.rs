//! The training engine: hyperparameters, backend choice, and a training job that runs on its own
//! thread, takes [`Control`] messages and reports [`TrainEvent`]s over crossbeam channels.

pub mod adam;
pub mod backend;
pub mod batches;
pub mod clip_eval;
pub mod engine;
pub mod memory;
pub mod priority;
pub mod series;

pub use backend::{BackendChoice, ChosenBackend, choose_device};
pub use engine::{Control, TrainEvent, TrainJob, TrainOutcome, train, train_in_background};

use crate::metrics::Metrics;

/// Hyperparameters of a training run (the `[train]` section of a preset).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    /// Sequences per batch (paper-era Keras default: 32).
    pub batch_size: usize,
    pub learning_rate: f64,
    /// L2 penalty added to the gradients by Adam (0 = none).
    pub weight_decay: f64,
    /// Seeds the model's initial weights, the batch order and dropout.
    pub seed: u64,
    /// Sequences per evaluation batch.
    pub eval_batch_size: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 32,
            learning_rate: 1e-3,
            weight_decay: 0.0,
            seed: 1,
            eval_batch_size: 64,
        }
    }
}

/// One epoch's results, as written to `metrics.jsonl` and sent to the GUI.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// Metrics of the training predictions made during the epoch (dropout active).
    pub train: Metrics,
    /// Metrics on the test split after the epoch.
    pub test: Metrics,
    /// Wall time of the epoch's training steps, seconds.
    pub train_seconds: f64,
    /// Wall time of the evaluation, seconds.
    pub eval_seconds: f64,
    /// Training throughput over the epoch.
    pub images_per_second: f64,
}

/// One training step's figures.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// 0-based step within the epoch.
    pub step: usize,
    pub steps_per_epoch: usize,
    /// Step counted from the start of training (for plots).
    pub global_step: usize,
    /// Mean cross-entropy of the batch.
    pub loss: f64,
    /// Share of the batch's images classified right.
    pub accuracy: f64,
    /// Images per second of this step.
    pub images_per_second: f64,
}
