//! The training loop and the background job around it.
//!
//! Determinism: the model's initial weights come from `seed`; each epoch re-seeds the device with
//! `seed` and the epoch number (dropout masks) and shuffles the training sequences with a ChaCha8
//! stream of the same. So a run stopped after epoch k and resumed from its checkpoint replays
//! epochs k+1… exactly as an uninterrupted run would.
//!
//! Converged training: with `validation_fraction` > 0 a seeded share of the training sequences is
//! held out ([`hold_out`]) and scored after every epoch; the epoch with the best validation
//! accuracy (the first, on ties) is the run's result: its weights are kept at
//! [`RecordSink::best_model_path`], its test predictions are the ones written, and its test
//! accuracy is the one `Finished` reports. With `patience` the job stops once that many epochs
//! have passed without a better validation accuracy (`epochs` is then the most). A resumed job
//! finds the best epoch so far among its records, so early stopping resumes exactly too.
//!
//! Over 600 lines: the training loop is one function (epochs, steps, validation, checkpoints,
//! exact resuming) and the step read-back it depends on (results read back from the device every
//! few steps); scoring a model and loading checkpoints live in [`super::eval`].

use super::TrainConfig;
use super::adam::FusedAdam;
use super::backend::{BackendChoice, choose_device};
use super::batches::{SequenceData, floats, prefetch, to_tensors};
use super::clip_eval::{
    ClipEpochRecord, clip_cross_entropy, subsequence_logits, subsequence_predictions,
};
use super::eval::{EvalBatches, batch_predictions, load_optimizer, load_weights, score_split};
use super::records::{Begin, EpochRecord, LogLine, RecordSink, StepRecord};
use crate::data::Split;
use crate::metrics::Metrics;
use crate::model::{ModelConfig, Precision, sequence_cross_entropy};
use crate::occlusion::OcclusionSpec;
use crate::sequence::prepared::Prepared;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, unbounded};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to train: the model, the hyperparameters, and how the prepared sequences are occluded.
#[derive(Clone, Debug)]
pub struct TrainSpec {
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub occlusion: OcclusionSpec,
}

/// What the UI (or CLI) can tell a running job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    /// Stop after the current step; the last epoch checkpoint stays for `--resume`.
    Stop,
}

/// What a job reports, in order.
#[derive(Clone, Debug)]
pub enum TrainEvent {
    Started {
        run: String,
        backend: String,
        backend_reason: String,
        model: String,
        parameters: usize,
        train_sequences: usize,
        test_sequences: usize,
        first_epoch: usize,
        epochs: usize,
    },
    Step(StepRecord),
    Epoch(EpochRecord),
    /// Clip data only: subsequence and video accuracy of the epoch (sent before its `Epoch`).
    Clips(Box<ClipEpochRecord>),
    Checkpoint {
        epoch: usize,
        path: std::path::PathBuf,
    },
    Paused,
    Resumed,
    Finished {
        epochs: usize,
        test_accuracy: f64,
        wall_seconds: f64,
    },
    Stopped {
        after_epoch: usize,
    },
    Failed(String),
}

/// How a job ended.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainOutcome {
    Finished { test_accuracy: f64 },
    Stopped { after_epoch: usize },
}

pub use super::error::TrainError;

/// A training job on its own thread.
pub struct TrainJob {
    pub control: Sender<Control>,
    pub events: Receiver<TrainEvent>,
    pub handle: std::thread::JoinHandle<Result<TrainOutcome, String>>,
}

/// Starts [`train`] on a background thread. `notify` is called after every event (the GUI passes
/// the egui context's `request_repaint`).
pub fn train_in_background(
    spec: TrainSpec,
    prepared: Arc<Prepared>,
    records: impl RecordSink + Send + 'static,
    backend: BackendChoice,
    resume: bool,
    notify: Option<Arc<dyn Fn() + Send + Sync>>,
) -> TrainJob {
    spawn_job(notify, move |sink, control| {
        train(&spec, &prepared, &records, backend, resume, sink, control)
    })
}

/// Runs a training job `job` (which calls [`train`]) on its own thread, with a control channel and
/// an event channel; a failure is also sent as [`TrainEvent::Failed`]. `notify` is called after
/// every event; a UI passes it, and then the job's thread gives the window the CPU first.
pub fn spawn_job<E: std::fmt::Display>(
    notify: Option<Arc<dyn Fn() + Send + Sync>>,
    job: impl FnOnce(&EventSink, &Receiver<Control>) -> Result<TrainOutcome, E> + Send + 'static,
) -> TrainJob {
    let (control_tx, control_rx) = unbounded();
    let (event_tx, event_rx) = unbounded();
    let handle = std::thread::Builder::new()
        .name("occlab-train".into())
        .spawn(move || {
            // Started from a UI (it passes `notify`): the window gets the CPU first.
            if notify.is_some() {
                super::priority::low_priority_compute_pool();
                let _ = super::priority::lower_this_thread();
            }
            let sink = EventSink {
                tx: event_tx,
                notify,
            };
            let result = job(&sink, &control_rx);
            match &result {
                Ok(_) => {}
                Err(e) => sink.send(TrainEvent::Failed(e.to_string())),
            }
            result.map_err(|e| e.to_string())
        })
        .expect("spawning the training thread");
    TrainJob {
        control: control_tx,
        events: event_rx,
        handle,
    }
}

/// Sends events and wakes the UI.
pub struct EventSink {
    pub tx: Sender<TrainEvent>,
    pub notify: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl EventSink {
    pub fn send(&self, event: TrainEvent) {
        let _ = self.tx.send(event);
        if let Some(n) = &self.notify {
            n();
        }
    }
}

/// The epoch's batches: the sequences `0..n` shuffled by a ChaCha8 stream of `seed` and `epoch`,
/// in chunks of `batch`. With `same_shape` (training on a GPU), a last chunk shorter than `batch`
/// is topped up with the first sequences of the epoch's order, so that every step has one shape:
/// on a GPU a new shape means new kernels compiled and tuned in the middle of the epoch (the
/// H200's first epoch, docs/PERFORMANCE.md). Those few sequences train twice that epoch; the
/// epoch's figures count them once (`PendingStep::counted`).
fn order_for_epoch(
    n: usize,
    batch: usize,
    seed: u64,
    epoch: usize,
    same_shape: bool,
) -> Vec<Vec<usize>> {
    let batch = batch.max(1);
    let mut ids: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
        seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    ids.shuffle(&mut rng);
    let mut chunks: Vec<Vec<usize>> = ids.chunks(batch).map(<[usize]>::to_vec).collect();
    if same_shape
        && n >= batch
        && let Some(last) = chunks.last_mut()
    {
        let missing = batch - last.len();
        last.extend_from_slice(&ids[..missing]);
    }
    chunks
}

/// Waits out a pause; returns true when the job must stop.
fn check_control(control: &Receiver<Control>, sink: &EventSink) -> bool {
    loop {
        match control.try_recv() {
            Ok(Control::Stop) | Err(TryRecvError::Disconnected) => return true,
            Ok(Control::Resume) => {}
            Ok(Control::Pause) => {
                sink.send(TrainEvent::Paused);
                loop {
                    match control.recv_timeout(Duration::from_millis(200)) {
                        Ok(Control::Resume) => {
                            sink.send(TrainEvent::Resumed);
                            break;
                        }
                        Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => return true,
                        Ok(Control::Pause) | Err(RecvTimeoutError::Timeout) => {}
                    }
                }
            }
            Err(TryRecvError::Empty) => return false,
        }
    }
}

/// Trains the model `spec` describes on the prepared sequences, keeping records, checkpoints and
/// predictions in `run` and reporting to `sink`. With `resume`, continues from `run`'s last
/// complete checkpoint. Blocks until finished, stopped or failed.
pub fn train(
    spec: &TrainSpec,
    prepared: &Prepared,
    run: &dyn RecordSink,
    backend: BackendChoice,
    resume: bool,
    sink: &EventSink,
    control: &Receiver<Control>,
) -> Result<TrainOutcome, TrainError> {
    let wall = Instant::now();
    let cfg = &spec.train;
    let model_cfg = &spec.model;
    model_cfg.validate()?;
    let chosen = choose_device(backend).map_err(TrainError::Backend)?;
    let device = chosen.device.clone();
    let ad = device.clone().autodiff();

    let seqs = &prepared.sequences.sequences;
    let train_ids: Vec<usize> = (0..seqs.len())
        .filter(|&i| seqs[i].split == Split::Train)
        .collect();
    let test_ids: Vec<usize> = (0..seqs.len())
        .filter(|&i| seqs[i].split == Split::Test)
        .collect();
    let (train_ids, val_ids) = hold_out(train_ids, cfg);
    if train_ids.is_empty() {
        return Err(TrainError::NoData);
    }
    let occlusion = &spec.occlusion;
    let val_data =
        (!val_ids.is_empty()).then(|| SequenceData::render_prepared(prepared, &val_ids, occlusion));
    let train_data = Arc::new(SequenceData::render_prepared(
        prepared, &train_ids, occlusion,
    ));
    let test_data = SequenceData::render_prepared(prepared, &test_ids, occlusion);
    let clips = prepared.clips.as_deref();
    let classes = prepared.images.num_classes();
    let levels = occlusion.num_levels();

    cfg.precision.check(&device).map_err(TrainError::Backend)?;
    ad.seed(cfg.seed);
    let mut model = model_cfg
        .init(&ad)
        .with_precision(cfg.precision)
        .map_err(TrainError::Backend)?;
    let mut optim = FusedAdam::init_scaled(cfg.weight_decay, cfg.precision.loss_scale());
    let mut first_epoch = 1;
    if resume {
        // A commit that a crash interrupted is finished, an uncommitted one dropped.
        run.recover_checkpoint()?;
    }
    if resume && let Some(done) = run.checkpoint_epoch()? {
        if done > cfg.epochs {
            return Err(TrainError::Checkpoint {
                path: run.model_path(),
                message: format!(
                    "the checkpoint says epoch {done}, but the run has only {} epochs",
                    cfg.epochs
                ),
            });
        }
        model = load_weights(model, &run.model_path())?;
        optim = load_optimizer(optim, &run.optimizer_path())?;
        first_epoch = done + 1;
    }
    let sequences = prepared.sequences.fingerprint();
    if first_epoch > 1
        && let Some(recorded) = run.started_with()?
        && recorded != sequences
    {
        return Err(TrainError::SequencesChanged {
            run: run.name(),
            recorded,
            now: sequences,
        });
    }
    run.begin(&Begin {
        model: model_cfg,
        resume,
        first_epoch,
        backend: &chosen,
        data_dir: prepared.data_dir.as_deref(),
        sequences: &sequences,
    })?;
    sink.send(TrainEvent::Started {
        run: run.name(),
        backend: match cfg.precision {
            Precision::F32 => chosen.name.clone(),
            p => format!("{} · {p} precision (f16 products)", chosen.name),
        },
        backend_reason: chosen.reason.clone(),
        model: model_cfg.kind.to_string(),
        parameters: model.num_params(),
        train_sequences: train_ids.len(),
        test_sequences: test_ids.len(),
        first_epoch,
        epochs: cfg.epochs,
    });

    let steps_per_epoch = train_ids.len().div_ceil(cfg.batch_size.max(1));
    let on_gpu = chosen.adapter.is_some();
    let read_every = cfg
        .read_every
        .unwrap_or(if on_gpu { GPU_READ_EVERY } else { 1 })
        .max(1);
    let reader = StepReader {
        data: &train_data,
        ids: &train_ids,
        clips,
        classes,
        steps_per_epoch,
        run,
        sink,
        mixed: cfg.precision.is_mixed(),
    };
    let mut last_test = 0.0;
    // The best epoch so far: (epoch, validation accuracy, test accuracy).
    let mut best: Option<(usize, f64, f64)> = None;
    if val_data.is_some() && first_epoch > 1 {
        for e in run.epochs()?.iter().filter(|e| e.epoch < first_epoch) {
            if let Some(v) = &e.validation
                && best.is_none_or(|b| v.accuracy() > b.1)
            {
                best = Some((e.epoch, v.accuracy(), e.test.accuracy()));
            }
        }
    }
    let mut epochs_done = first_epoch - 1;
    for epoch in first_epoch..=cfg.epochs {
        if let (Some(patience), Some((best_epoch, ..))) = (cfg.patience, best)
            && epochs_done - best_epoch >= patience
        {
            break; // early stopping: no better validation accuracy for `patience` epochs
        }
        ad.seed(cfg.seed.wrapping_add(epoch as u64 * 1_000_003));
        let order = order_for_epoch(train_data.n, cfg.batch_size, cfg.seed, epoch, on_gpu);
        let batches = prefetch(train_data.clone(), order, 2);
        let mut tally = EpochTally::new(classes, levels, train_data.t);
        let epoch_start = Instant::now();
        let mut pending: Vec<PendingStep> = Vec::with_capacity(read_every);
        let mut group_start = Instant::now();
        for (step, batch) in batches.iter().enumerate() {
            if check_control(control, sink) {
                // The steps already run keep their records.
                read_back(&mut pending, &mut tally, &reader, epoch, group_start)?;
                sink.send(TrainEvent::Stopped {
                    after_epoch: epoch - 1,
                });
                return Ok(TrainOutcome::Stopped {
                    after_epoch: epoch - 1,
                });
            }
            if pending.is_empty() {
                group_start = Instant::now();
            }
            let (x, y) = to_tensors(&batch, &ad);
            let logits = model.forward(x);
            let loss = match clips {
                Some(c) => clip_cross_entropy(logits.clone(), y, c.output),
                None => sequence_cross_entropy(logits.clone(), y),
            };
            // What the records need stays on the device until it is read back (below).
            let outputs = match clips {
                Some(c) => {
                    let sub = subsequence_logits(logits.clone().detach(), c.output); // [batch, classes]
                    let [rows, k] = sub.dims();
                    sub.reshape([rows, 1, k])
                }
                None => logits.clone().detach(),
            };
            pending.push(PendingStep {
                step,
                ids: batch.ids.clone(),
                // The epoch's own sequences; the rest top up the last batch (`order_for_epoch`).
                counted: batch
                    .ids
                    .len()
                    .min(train_data.n - step * cfg.batch_size.max(1)),
                loss: loss.clone().detach(),
                outputs,
            });
            // Mixed precision: gradients scaled up on their way through the f16 products; Adam
            // takes them scaled (`FusedAdam::with_loss_scale`).
            let scaled = cfg.precision.scale_loss(loss);
            let grads = GradientsParams::from_grads(scaled.backward(), &model);
            model = optim.step(cfg.learning_rate, model, grads);
            if on_gpu {
                // Hand the step's work to the GPU now, without waiting for it, so that Burn's
                // kernel fusion cuts its queue at the step's end: 18 % more images/s for the CRNN
                // on an H200 (docs/PERFORMANCE.md, "GPU measured on an H200").
                ad.flush()
                    .map_err(|e| TrainError::Backend(format!("the GPU failed: {e:?}")))?;
            }
            crate::crashpoint::point("train-step");
            if pending.len() >= read_every {
                read_back(&mut pending, &mut tally, &reader, epoch, group_start)?;
            }
        }
        read_back(&mut pending, &mut tally, &reader, epoch, group_start)?;
        let EpochTally {
            metrics: mut train_metrics,
            clips: train_clips,
            loss_sum,
            images: images_done,
        } = tally;
        let train_seconds = epoch_start.elapsed().as_secs_f64();
        train_metrics.loss = Some(loss_sum / images_done.max(1) as f64);

        let eval_start = Instant::now();
        let valid = model.valid();
        let score = |data: &SequenceData, ids: &[usize]| {
            score_split(
                &valid,
                data,
                ids,
                clips,
                &device,
                EvalBatches {
                    size: cfg.eval_batch_size,
                    same_shape: on_gpu,
                },
                classes,
                levels,
            )
        };
        let (test_metrics, preds, clip_metrics) = score(&test_data, &test_ids)?;
        let validation = match &val_data {
            Some(v) => Some(Box::new(score(v, &val_ids)?.0)),
            None => None,
        };
        let eval_seconds = eval_start.elapsed().as_secs_f64();
        last_test = test_metrics.accuracy();

        // Checkpoint: model and optimizer where the sink stages them (a run directory:
        // checkpoint/next/), committed by mark_checkpoint after the epoch's log lines: a crash
        // anywhere keeps the last complete one.
        let (model_next, optim_next) = run.checkpoint_paths()?;
        model
            .clone()
            .save_file(model_next.clone())
            .map_err(|e| TrainError::Checkpoint {
                path: model_next.clone(),
                message: format!("{e}"),
            })?;
        crate::crashpoint::point("checkpoint-model");
        optim
            .save(optim_next.clone())
            .map_err(|e| TrainError::Checkpoint {
                path: optim_next.clone(),
                message: format!("{e}"),
            })?;
        // The best epoch (by validation accuracy) keeps its weights and its test predictions.
        let improved = validation
            .as_ref()
            .is_some_and(|v| best.is_none_or(|b| v.accuracy() > b.1));
        if improved {
            model
                .clone()
                .save_file(run.best_model_path())
                .map_err(|e| TrainError::Checkpoint {
                    path: run.best_model_path(),
                    message: format!("{e}"),
                })?;
            let v = validation.as_ref().map_or(0.0, |v| v.accuracy());
            best = Some((epoch, v, test_metrics.accuracy()));
        }
        if validation.is_none() || improved {
            run.predictions(&preds)?;
        }
        let record = EpochRecord {
            epoch,
            train: train_metrics,
            test: test_metrics,
            validation,
            train_seconds,
            eval_seconds,
            images_per_second: images_done as f64 / train_seconds.max(1e-9),
        };
        if let Some(test) = clip_metrics {
            let clip_record = ClipEpochRecord {
                epoch,
                train_subsequences: train_clips,
                test,
            };
            run.append(&LogLine::Clips(Box::new(clip_record.clone())))?;
            sink.send(TrainEvent::Clips(Box::new(clip_record)));
        }
        run.append(&LogLine::Epoch(Box::new(record.clone())))?;
        run.mark_checkpoint(epoch)?;
        epochs_done = epoch;
        sink.send(TrainEvent::Epoch(record));
        sink.send(TrainEvent::Checkpoint {
            epoch,
            path: run.model_path(),
        });
    }
    // With a validation split the run's result is its best epoch's (the test split never chose).
    if let Some((_, _, test)) = best {
        last_test = test;
    }
    let wall_seconds = wall.elapsed().as_secs_f64();
    run.append(&LogLine::Finished {
        epochs: epochs_done,
        test_accuracy: last_test,
        wall_seconds,
    })?;
    sink.send(TrainEvent::Finished {
        epochs: epochs_done,
        test_accuracy: last_test,
        wall_seconds,
    });
    Ok(TrainOutcome::Finished {
        test_accuracy: last_test,
    })
}

/// Steps between reads of the loss and predictions back to the host on a GPU (see
/// [`TrainConfig::read_every`]).
pub const GPU_READ_EVERY: usize = 8;

/// A training step whose loss and outputs are still on the device.
struct PendingStep {
    step: usize,
    /// The batch's sequences (indices into the training data).
    ids: Vec<usize>,
    /// How many of `ids`, from the first, the epoch's figures count: all but those that top up
    /// the last batch on a GPU (`order_for_epoch`).
    counted: usize,
    /// `[1]`, detached.
    loss: Tensor<1>,
    /// Logits `[batch, T, classes]`, or per subsequence `[batch, 1, classes]` for clip data.
    outputs: Tensor<3>,
}

/// The epoch's training figures so far.
struct EpochTally {
    metrics: Metrics,
    clips: crate::metrics::Tally,
    loss_sum: f64,
    images: usize,
}

impl EpochTally {
    fn new(classes: usize, levels: usize, t: usize) -> Self {
        EpochTally {
            metrics: Metrics::new(classes, levels, t),
            clips: crate::metrics::Tally::default(),
            loss_sum: 0.0,
            images: 0,
        }
    }
}

/// What turns read-back steps into records.
struct StepReader<'a> {
    data: &'a SequenceData,
    ids: &'a [usize],
    clips: Option<&'a crate::sequence::clip_data::ClipSequences>,
    classes: usize,
    steps_per_epoch: usize,
    run: &'a dyn RecordSink,
    sink: &'a EventSink,
    /// Training in mixed precision (a non-finite loss may then be an f16 overflow).
    mixed: bool,
}

/// Reads the pending steps' losses and outputs back to the host (the first read waits for the
/// device to finish them), adds them to the epoch's figures and writes and sends their
/// [`StepRecord`]s, in order. Every record carries its own step's measured loss; its images/s is
/// that of the group read together (from `group_start`, the first one's start, to the end of the
/// read). A non-finite loss stops training with [`TrainError::NonFinite`], naming its step; the
/// steps before it keep their records.
fn read_back(
    pending: &mut Vec<PendingStep>,
    tally: &mut EpochTally,
    reader: &StepReader,
    epoch: usize,
    group_start: Instant,
) -> Result<(), TrainError> {
    if pending.is_empty() {
        return Ok(());
    }
    let steps: Vec<PendingStep> = std::mem::take(pending);
    let last_step = steps.last().map_or(0, |p| p.step);
    let mut read = Vec::with_capacity(steps.len());
    for p in &steps {
        let loss: f32 = p.loss.clone().into_scalar();
        read.push((loss, floats(p.outputs.clone())?));
    }
    let t = reader.data.t;
    let group_images: usize = steps.iter().map(|p| p.counted * t).sum();
    let images_per_second = group_images as f64 / group_start.elapsed().as_secs_f64().max(1e-9);
    for (p, (loss_value, mut values)) in steps.iter().zip(read) {
        // Only the counted sequences' rows (the outputs are row-major, one block per sequence).
        let ids = &p.ids[..p.counted];
        values.truncate(values.len() / p.ids.len().max(1) * p.counted);
        if !loss_value.is_finite() {
            return Err(TrainError::NonFinite {
                value: loss_value,
                epoch,
                step: p.step,
                stopped_at: last_step,
                mixed: reader.mixed,
            });
        }
        let preds = match reader.clips {
            Some(c) => {
                subsequence_predictions(
                    &values,
                    reader.classes,
                    reader.data,
                    ids,
                    reader.ids,
                    c.output,
                )
                .0
            }
            None => batch_predictions(&values, reader.classes, reader.data, ids, reader.ids),
        };
        let n_predictions = preds.len().max(1);
        let mut correct = 0usize;
        for pred in preds {
            correct += (pred.truth == pred.predicted) as usize;
            tally.clips.add(pred.truth == pred.predicted);
            tally.metrics.add(&pred);
        }
        let n_images = p.counted * t;
        tally.loss_sum += loss_value as f64 * n_images as f64;
        tally.images += n_images;
        let record = StepRecord {
            epoch,
            step: p.step,
            steps_per_epoch: reader.steps_per_epoch,
            global_step: (epoch - 1) * reader.steps_per_epoch + p.step,
            loss: loss_value as f64,
            accuracy: correct as f64 / n_predictions as f64,
            images_per_second,
        };
        reader.run.append(&LogLine::Step(record))?;
        reader.sink.send(TrainEvent::Step(record));
    }
    Ok(())
}

/// Splits the training sequences into those that train and a validation split of
/// `validation_fraction` of them (at least one, and at least one left to train), chosen by a
/// ChaCha8 stream of `seed`; both keep their original order. No fraction: all train.
pub fn hold_out(train_ids: Vec<usize>, cfg: &TrainConfig) -> (Vec<usize>, Vec<usize>) {
    let n = train_ids.len();
    if !cfg.validates() || n < 2 {
        return (train_ids, Vec::new());
    }
    let k = ((n as f64 * cfg.validation_fraction).round() as usize).clamp(1, n - 1);
    let mut picked: Vec<usize> = (0..n).collect();
    picked.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(
        cfg.seed ^ 0x7661_6c69_6461_7465, // "validate"
    ));
    let mut held = vec![false; n];
    for &i in &picked[..k] {
        held[i] = true;
    }
    let (mut fit, mut val) = (Vec::with_capacity(n - k), Vec::with_capacity(k));
    for (i, id) in train_ids.into_iter().enumerate() {
        if held[i] { val.push(id) } else { fit.push(id) }
    }
    (fit, val)
}

#[cfg(test)]
mod tests {
    use super::order_for_epoch;

    /// On the CPU an epoch is every training sequence exactly once, the last batch shorter.
    #[test]
    fn on_the_cpu_an_epoch_is_each_sequence_once() {
        let order = order_for_epoch(70, 32, 7, 3, false);
        assert_eq!(order.iter().map(Vec::len).collect::<Vec<_>>(), [32, 32, 6]);
        let mut all: Vec<usize> = order.concat();
        all.sort_unstable();
        assert_eq!(all, (0..70).collect::<Vec<_>>());
    }

    /// On a GPU every batch has the configured size: the last is topped up with the epoch's
    /// first sequences, the rest of the order is the CPU's, and the counted part of each batch
    /// (what the engine tallies) is every sequence once.
    #[test]
    fn on_a_gpu_every_batch_has_one_shape() {
        let (n, batch) = (70, 32);
        let cpu = order_for_epoch(n, batch, 7, 3, false);
        let gpu = order_for_epoch(n, batch, 7, 3, true);
        assert!(gpu.iter().all(|b| b.len() == batch), "{gpu:?}");
        assert_eq!(gpu[..2], cpu[..2]);
        assert_eq!(gpu[2][..6], cpu[2][..]);
        assert_eq!(gpu[2][6..], cpu[0][..26]);
        let mut counted: Vec<usize> = gpu
            .iter()
            .enumerate()
            .flat_map(|(step, b)| b[..b.len().min(n - step * batch)].to_vec())
            .collect();
        counted.sort_unstable();
        assert_eq!(counted, (0..n).collect::<Vec<_>>());
        // A whole number of batches, or fewer sequences than one batch: nothing to top up.
        assert_eq!(
            order_for_epoch(64, 32, 7, 3, true),
            order_for_epoch(64, 32, 7, 3, false)
        );
        assert_eq!(
            order_for_epoch(20, 32, 7, 3, true),
            order_for_epoch(20, 32, 7, 3, false)
        );
    }
}
