//! What a training job records, and where it writes it.
//!
//! The engine sends every record twice: as a [`TrainEvent`](super::TrainEvent) to whoever watches
//! (the GUI, the CLI), and to a [`RecordSink`] that keeps it (a run directory: `metrics.jsonl`,
//! the checkpoint, `predictions.csv`; see `crate::experiment::run`).

use super::backend::ChosenBackend;
use super::clip_eval::ClipEpochRecord;
pub use super::error::SinkError;
use crate::metrics::{ImagePrediction, Metrics};
use crate::model::ModelConfig;
use std::path::{Path, PathBuf};

/// One epoch's results, as written to `metrics.jsonl` and sent to the GUI.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// Metrics of the training predictions made during the epoch (dropout active).
    pub train: Metrics,
    /// Metrics on the test split after the epoch.
    pub test: Metrics,
    /// Metrics on the validation split (held out of the training sequences) after the epoch, when
    /// the run has one: it chooses the best epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Box<Metrics>>,
    /// Wall time of the epoch's training steps, seconds.
    pub train_seconds: f64,
    /// Wall time of the evaluation, seconds.
    pub eval_seconds: f64,
    /// Training throughput over the epoch.
    pub images_per_second: f64,
}

/// The epoch with the best validation accuracy (the first, on ties), when any epoch has one.
pub fn best_by_validation(epochs: &[EpochRecord]) -> Option<&EpochRecord> {
    epochs
        .iter()
        .filter_map(|e| Some((e, e.validation.as_ref()?.accuracy())))
        .fold(
            None,
            |best: Option<(&EpochRecord, f64)>, (e, a)| match best {
                Some((_, b)) if b >= a => best,
                _ => Some((e, a)),
            },
        )
        .map(|(e, _)| e)
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
    /// Mean cross-entropy of the batch, measured for every step (on a GPU read back with the
    /// other steps of its group, `TrainConfig::read_every`).
    pub loss: f64,
    /// Share of the batch's images classified right.
    pub accuracy: f64,
    /// Images per second of this step; with `read_every` > 1, that of the group of steps read
    /// back together (their images over the time from the group's first step to the read).
    pub images_per_second: f64,
}

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogLine {
    Step(StepRecord),
    Epoch(Box<EpochRecord>),
    /// Clip data: subsequence and video accuracy of an epoch (written before its `epoch` line).
    Clips(Box<ClipEpochRecord>),
    Finished {
        epochs: usize,
        test_accuracy: f64,
        wall_seconds: f64,
    },
}

impl LogLine {
    /// The epoch the line belongs to (none for `finished`).
    pub fn epoch(&self) -> Option<usize> {
        match self {
            LogLine::Step(s) => Some(s.epoch),
            LogLine::Epoch(e) => Some(e.epoch),
            LogLine::Clips(c) => Some(c.epoch),
            LogLine::Finished { .. } => None,
        }
    }
}

/// How a job starts, for its sink.
#[derive(Clone, Copy, Debug)]
pub struct Begin<'a> {
    /// The model trained (a run keeps it, to be rebuilt without the data set that made it).
    pub model: &'a ModelConfig,
    /// Continuing an earlier job of the same run: records of epochs from `first_epoch` on are
    /// dropped, so that the log reads as if it had never stopped.
    pub resume: bool,
    /// 1-based; above 1 when resuming from a checkpoint.
    pub first_epoch: usize,
    pub backend: &'a ChosenBackend,
    /// The data folder the prepared sequences were loaded from, if any.
    pub data_dir: Option<&'a Path>,
    /// The fingerprint of the sequences trained and tested on
    /// ([`SequenceSet::fingerprint`](crate::sequence::builder::SequenceSet::fingerprint)).
    pub sequences: &'a str,
}

/// Where a training job keeps what it produces. The engine calls, per epoch, in this order: the
/// model and optimizer saved to the [`checkpoint_paths`](Self::checkpoint_paths),
/// [`predictions`](Self::predictions), the epoch's [`append`](Self::append)s, then
/// [`mark_checkpoint`](Self::mark_checkpoint), so that a checkpoint marked complete always has its
/// records. Resuming, it calls [`recover_checkpoint`](Self::recover_checkpoint) first, then loads
/// [`model_path`](Self::model_path) and [`optimizer_path`](Self::optimizer_path).
pub trait RecordSink {
    /// The run's name, shown in events.
    fn name(&self) -> String;
    /// Where the model's weights are saved (and resumed from).
    fn model_path(&self) -> PathBuf;
    /// Where the optimizer's state is saved (and resumed from).
    fn optimizer_path(&self) -> PathBuf;
    /// Where the weights of the best epoch (by validation accuracy) are kept, when the run
    /// validates.
    fn best_model_path(&self) -> PathBuf;
    /// The epoch records kept so far (a resumed job finds its best epoch among them).
    fn epochs(&self) -> Result<Vec<EpochRecord>, SinkError>;
    /// The epoch of the last complete checkpoint, if any.
    fn checkpoint_epoch(&self) -> Result<Option<usize>, SinkError>;
    /// Where the next checkpoint's model and optimizer are to be written (model, optimizer): a
    /// staging place that [`mark_checkpoint`](Self::mark_checkpoint) commits, so that a crash
    /// never leaves a half-written checkpoint where one is loaded.
    fn checkpoint_paths(&self) -> Result<(PathBuf, PathBuf), SinkError>;
    /// Commits the checkpoint written to [`checkpoint_paths`](Self::checkpoint_paths) as the
    /// state after `epoch`.
    fn mark_checkpoint(&self, epoch: usize) -> Result<(), SinkError>;
    /// Finishes a checkpoint commit that a crash interrupted, or drops an uncommitted one
    /// (called before resuming).
    fn recover_checkpoint(&self) -> Result<(), SinkError>;
    /// The fingerprint of the sequences the run started with, if it recorded one (a resumed job
    /// must train on the same).
    fn started_with(&self) -> Result<Option<String>, SinkError>;
    /// The job starts (fresh, or resumed).
    fn begin(&self, begin: &Begin<'_>) -> Result<(), SinkError>;
    /// Keeps one record.
    fn append(&self, line: &LogLine) -> Result<(), SinkError>;
    /// Keeps the per-image test predictions of the latest epoch.
    fn predictions(&self, predictions: &[ImagePrediction]) -> Result<(), SinkError>;
}
