//! Training a run: a preset turned into what the engine takes ([`TrainSpec`]), the run directory as
//! the engine's [`RecordSink`], a trained run scored again, and a run's plot series read back.
//!
//! The engine (`crate::train`) knows nothing of presets or run folders; this is where the two meet.
//! A run directory describes itself: [`train`] reads the run's own `config.toml`, so a resumed run
//! trains exactly what it started with.

use super::dataset::Prepared;
use super::preset::Preset;
use super::run::{LogLine, RunDir, RunError, RunInfo};
use super::trained::{OpenError, TrainedModel};
use crate::metrics::{ImagePrediction, Metrics};
use crate::model::ModelConfig;
use crate::train::clip_eval::ClipMetrics;
use crate::train::engine::{
    Control, EventSink, TrainError, TrainJob, TrainOutcome, TrainSpec, spawn_job,
};
use crate::train::eval::{EvalBatches, evaluate_test_split};
use crate::train::series::RunSeries;
use crate::train::{BackendChoice, Begin, EpochRecord, RecordSink, SinkError, choose_device};
use crossbeam_channel::Receiver;
use std::path::PathBuf;
use std::sync::Arc;

/// Why a run could not be trained or scored.
#[derive(Debug, thiserror::Error)]
pub enum RunTrainError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("the preset has no [model] section: nothing to train")]
    NoModel,
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// The model config `preset` describes for the prepared images (their size and class count).
pub fn model_config(preset: &Preset, prepared: &Prepared) -> Result<ModelConfig, RunTrainError> {
    let spec = preset.model.as_ref().ok_or(RunTrainError::NoModel)?;
    let im = &prepared.images;
    let config = spec.config(im.channels, im.height, im.width, im.num_classes());
    config.validate().map_err(TrainError::from)?;
    Ok(config)
}

/// What the engine trains for `preset` on `prepared`.
pub fn train_spec(preset: &Preset, prepared: &Prepared) -> Result<TrainSpec, RunTrainError> {
    Ok(TrainSpec {
        model: model_config(preset, prepared)?,
        train: preset.train.clone().unwrap_or_default(),
        occlusion: preset.occlusion.clone(),
    })
}

/// Trains the run in `run` (as its `config.toml` says) on `prepared`, writing everything into the
/// run directory; with `resume`, from its last complete checkpoint. Blocks until finished, stopped
/// or failed.
pub fn train(
    prepared: &Prepared,
    run: &RunDir,
    backend: BackendChoice,
    resume: bool,
    events: &EventSink,
    control: &Receiver<Control>,
) -> Result<TrainOutcome, RunTrainError> {
    let spec = train_spec(&run.preset()?, prepared)?;
    Ok(crate::train::train(
        &spec, prepared, run, backend, resume, events, control,
    )?)
}

/// Starts [`train`] on a background thread; `notify` is called after every event (the GUI passes
/// the egui context's `request_repaint`).
pub fn train_in_background(
    prepared: Arc<Prepared>,
    run: RunDir,
    backend: BackendChoice,
    resume: bool,
    notify: Option<Arc<dyn Fn() + Send + Sync>>,
) -> TrainJob {
    spawn_job(notify, move |events, control| {
        train(&prepared, &run, backend, resume, events, control)
    })
}

impl RecordSink for RunDir {
    fn name(&self) -> String {
        RunDir::name(self)
    }
    fn model_path(&self) -> PathBuf {
        RunDir::model_path(self)
    }
    fn optimizer_path(&self) -> PathBuf {
        RunDir::optimizer_path(self)
    }
    fn best_model_path(&self) -> PathBuf {
        RunDir::best_model_path(self)
    }
    fn epochs(&self) -> Result<Vec<EpochRecord>, SinkError> {
        Ok(RunDir::epochs(self)?)
    }
    fn checkpoint_epoch(&self) -> Result<Option<usize>, SinkError> {
        Ok(RunDir::checkpoint_epoch(self)?)
    }
    fn checkpoint_paths(&self) -> Result<(PathBuf, PathBuf), SinkError> {
        let next = self.begin_checkpoint()?;
        Ok((
            next.join(super::run::CHECKPOINT_FILES[0]),
            next.join(super::run::CHECKPOINT_FILES[1]),
        ))
    }
    fn mark_checkpoint(&self, epoch: usize) -> Result<(), SinkError> {
        Ok(RunDir::mark_checkpoint(self, epoch)?)
    }
    fn recover_checkpoint(&self) -> Result<(), SinkError> {
        Ok(RunDir::recover_checkpoint(self)?)
    }
    fn begin(&self, begin: &Begin<'_>) -> Result<(), SinkError> {
        self.write_model_config(begin.model)?;
        if begin.resume {
            self.truncate_log_after(begin.first_epoch - 1)?;
        }
        if !begin.resume || begin.first_epoch == 1 {
            self.write_info(&RunInfo {
                occlab_version: env!("CARGO_PKG_VERSION").into(),
                backend: begin.backend.name.clone(),
                backend_reason: begin.backend.reason.clone(),
                data_dir: begin.data_dir.map(Into::into),
                started_unix: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                threads: rayon::current_num_threads(),
                host: super::run::host_name(),
                slurm_job: super::run::slurm_job(),
                gpu_features: match begin.backend.adapter {
                    Some(_) => crate::train::backend::gpu_features()
                        .into_iter()
                        .map(Into::into)
                        .collect(),
                    None => Vec::new(),
                },
                sequences: Some(begin.sequences.to_string()),
            })?;
        } else if let Some(mut info) = self.info_if_any()?
            && info.sequences.is_none()
        {
            // A run from before fingerprints: the sequences it resumes on from now on are checked.
            info.sequences = Some(begin.sequences.to_string());
            self.write_info(&info)?;
        }
        Ok(())
    }
    fn started_with(&self) -> Result<Option<String>, SinkError> {
        Ok(self.info_if_any()?.and_then(|info| info.sequences))
    }
    fn append(&self, line: &LogLine) -> Result<(), SinkError> {
        Ok(RunDir::append(self, line)?)
    }
    fn predictions(&self, predictions: &[ImagePrediction]) -> Result<(), SinkError> {
        Ok(self.write_predictions(predictions)?)
    }
}

/// A trained run scored on some prepared sequences.
#[derive(Clone, Debug)]
pub struct EvalReport {
    pub model: String,
    pub backend: String,
    pub metrics: Metrics,
    pub predictions: Vec<ImagePrediction>,
    /// Clip data: subsequence and video accuracy.
    pub clips: Option<ClipMetrics>,
}

/// Scores the trained model of `run` on the test split of `prepared` (built from `preset`, which
/// may differ from the run's own, e.g. the random-order control). Image size and class count must
/// match the run's.
pub fn evaluate_run(
    run: &RunDir,
    prepared: &Prepared,
    preset: &Preset,
    backend: BackendChoice,
) -> Result<EvalReport, RunTrainError> {
    let chosen = choose_device(backend).map_err(TrainError::Backend)?;
    let trained = TrainedModel::open(run, &prepared.images, &chosen.device)?;
    let batch = preset.train.as_ref().map_or(64, |t| t.eval_batch_size);
    let batches = EvalBatches {
        size: batch,
        same_shape: chosen.adapter.is_some(),
    };
    let e = evaluate_test_split(
        &trained.model,
        prepared,
        &preset.occlusion,
        batches,
        &chosen.device,
    )?;
    Ok(EvalReport {
        model: trained.config.kind.to_string(),
        backend: chosen.name,
        metrics: e.metrics,
        predictions: e.predictions,
        clips: e.clips,
    })
}

/// The empty plot series of the run `name` of `preset`, about to start.
pub fn new_series(name: &str, preset: &Preset) -> RunSeries {
    let train = preset.train.clone().unwrap_or_default();
    let model = preset
        .model
        .as_ref()
        .map_or_else(|| "?".to_string(), |m| m.kind.to_string());
    RunSeries::new(
        name,
        model,
        train.epochs,
        train.batch_size * preset.sequences.t,
    )
}

/// The plot series of a run directory, from its config and `metrics.jsonl`. A log without a
/// `finished` line reads as stopped after its last epoch.
pub fn run_series(run: &RunDir) -> Result<RunSeries, RunError> {
    let mut series = new_series(&run.name(), &run.preset()?);
    series.backend = run.info().ok().map(|i| i.backend);
    series.load_log(&run.log()?);
    Ok(series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::series::RunState;
    use crate::train::series::tests::{epoch, step};

    #[test]
    fn the_log_of_a_run_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let preset = Preset::parse(
            include_str!("../../presets/train/demo-crnn-embedded.toml"),
            std::path::Path::new("demo"),
        )
        .unwrap();
        let run = RunDir::create(&dir.path().join("demo"), &preset).unwrap();
        run.append(&LogLine::Step(step(1, 0, 1, 2.3, 50.0)))
            .unwrap();
        run.append(&LogLine::Epoch(Box::new(epoch(1, (1, 2), (1, 4), 0.1))))
            .unwrap();
        let s = run_series(&run).unwrap();
        assert_eq!(s.name, "demo");
        assert_eq!(s.model, "CRNN");
        assert_eq!(s.images_per_step, 32 * 5);
        assert_eq!(s.state, RunState::Stopped { after_epoch: 1 });
        run.append(&LogLine::Finished {
            epochs: 1,
            test_accuracy: 0.25,
            wall_seconds: 2.0,
        })
        .unwrap();
        let s = run_series(&run).unwrap();
        assert_eq!(s.state.word(), "finished");
        assert_eq!(s.loss_points(), vec![[0.0, 2.3]]);
    }
}
