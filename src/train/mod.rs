//! The training engine: hyperparameters, backend choice, and a training job that runs on its own
//! thread, takes [`Control`] messages and reports [`TrainEvent`]s over crossbeam channels. The
//! engine trains what it is given (a model config, a [`TrainConfig`], prepared sequences) and writes
//! its records to a [`RecordSink`]; it knows nothing of presets or run folders
//! (`crate::experiment` does).

pub mod adam;
pub mod backend;
pub mod batches;
pub mod clip_eval;
pub mod engine;
pub mod error;
pub mod eval;
pub mod gpu_cache;
pub mod memory;
pub mod priority;
pub mod records;
pub mod series;

use crate::model::Precision;
pub use backend::{AdapterInfo, AdapterKind, BackendChoice, ChosenBackend, choose_device};
pub use engine::{
    Control, EventSink, TrainEvent, TrainJob, TrainOutcome, TrainSpec, spawn_job, train,
    train_in_background,
};
pub use records::{Begin, EpochRecord, LogLine, RecordSink, SinkError, StepRecord};

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
    /// Share of the training sequences held out as a validation split (seeded by `seed`), scored
    /// after every epoch to choose the best epoch; 0 = none (every training sequence trains).
    #[serde(skip_serializing_if = "is_zero")]
    pub validation_fraction: f64,
    /// Early stopping: stop once the validation accuracy has not improved for this many epochs
    /// (`epochs` is then the most). Needs `validation_fraction` > 0; none = train all `epochs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Steps between reads of the loss and the predictions back to the host. On a GPU each read
    /// waits until the device has finished everything queued, so reading every step stalls it;
    /// none = every step on the CPU (where reading costs nothing), every
    /// [`engine::GPU_READ_EVERY`] steps on a GPU. Every step's loss is still measured and
    /// recorded; a non-finite one stops the run at the next read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_every: Option<usize>,
    /// `"f32"` (default) or `"mixed"`: on a GPU, f16 operands for the convolutions and the big
    /// products, with a scaled loss (`model::precision`). Refused on the CPU and for paper B's
    /// models.
    #[serde(default, skip_serializing_if = "is_f32")]
    pub precision: Precision,
}

fn is_f32(p: &Precision) -> bool {
    *p == Precision::F32
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl TrainConfig {
    /// Whether the run holds out validation sequences (and keeps the best epoch's model).
    pub fn validates(&self) -> bool {
        self.validation_fraction > 0.0
    }

    /// Refuses converged-training settings a run cannot honour, naming the key: a validation
    /// share outside [0, 1), a patience of 0, or early stopping without a validation split (it
    /// would silently train every epoch).
    pub fn check(&self) -> Result<(), String> {
        let v = self.validation_fraction;
        if !(0.0..1.0).contains(&v) {
            return Err(format!(
                "train.validation_fraction = {v}: a share of the training sequences, at least 0 \
                 and below 1"
            ));
        }
        match self.patience {
            Some(0) => Err("train.patience = 0: at least 1 epoch".into()),
            Some(n) if !self.validates() => Err(format!(
                "train.patience = {n} needs a validation split (train.validation_fraction > 0): \
                 early stopping follows the validation accuracy"
            )),
            _ => Ok(()),
        }
    }
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
            validation_fraction: 0.0,
            patience: None,
            read_every: None,
            precision: Precision::F32,
        }
    }
}
