//! Scoring a model: per-image predictions and metrics of a split (clip data per subsequence and
//! video), and loading trained weights from a checkpoint (a checkpoint that does not fit the
//! model is a typed error).

pub use super::batches::EvalBatches;
use super::batches::{SequenceData, floats, row_cross_entropy, to_tensors};
use super::clip_eval::{ClipMetrics, evaluate_clips};
use super::error::TrainError;
use crate::data::Split;
use crate::metrics::{ImagePrediction, Metrics};
use crate::model::{Model, ModelConfig, gate_upgrade};
use crate::occlusion::OcclusionSpec;
use crate::sequence::prepared::Prepared;
use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::{ModuleRecord, RecordError};
use burn::tensor::Device;
use burn_pack::Reader;
use std::path::Path;

/// Row-wise argmax and softmax probability of the argmax, from `[rows, classes]` logits.
fn argmax_rows(logits: &[f32], classes: usize) -> Vec<(u16, f32)> {
    logits
        .chunks(classes)
        .map(|row| {
            let (best, &max) =
                row.iter()
                    .enumerate()
                    .fold((0, &f32::NEG_INFINITY), |acc, (i, v)| {
                        if *v > *acc.1 { (i, v) } else { acc }
                    });
            let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
            (best as u16, 1.0 / sum)
        })
        .collect()
}

/// The per-image predictions of one batch: `values` are its `[batch·T, classes]` logits,
/// `batch_ids` the batch's sequences (indices into `data`), `set_ids` each of those sequences' index
/// in the sequence set (what predictions.csv names).
pub(super) fn batch_predictions(
    values: &[f32],
    classes: usize,
    data: &SequenceData,
    batch_ids: &[usize],
    set_ids: &[usize],
) -> Vec<ImagePrediction> {
    let t = data.t;
    argmax_rows(values, classes)
        .into_iter()
        .enumerate()
        .map(|(k, (predicted, probability))| {
            let (seq, step) = (batch_ids[k / t], k % t);
            ImagePrediction {
                sequence: set_ids[seq] as u32,
                position: step as u16,
                level: data.levels[seq * t + step],
                truth: data.labels[seq * t + step],
                predicted,
                probability,
            }
        })
        .collect()
}

/// Scores `model` on `data`; `ids` gives each sequence's index in the sequence set (for the CSV).
/// The loss is computed from the logits read back for the predictions (no second read).
pub fn evaluate(
    model: &Model,
    data: &SequenceData,
    ids: &[usize],
    device: &Device,
    batches: EvalBatches,
    num_classes: usize,
    num_levels: usize,
) -> Result<(Metrics, Vec<ImagePrediction>), TrainError> {
    let mut metrics = Metrics::new(num_classes, num_levels, data.t);
    let mut preds = Vec::with_capacity(data.n * data.t);
    let mut loss_sum = 0.0;
    for (chunk, rows) in batches.plan(data.n) {
        let chunk = chunk.as_slice();
        let batch = data.batch(&rows);
        let (x, _) = to_tensors(&batch, device);
        let mut values = floats(model.forward(x))?;
        values.truncate(chunk.len() * data.t * num_classes);
        for p in batch_predictions(&values, num_classes, data, chunk, ids) {
            metrics.add(&p);
            preds.push(p);
        }
        let first = preds.len() - chunk.len() * data.t;
        loss_sum += values
            .chunks(num_classes)
            .zip(&preds[first..])
            .map(|(row, p)| row_cross_entropy(row, p.truth as usize))
            .sum::<f64>();
    }
    metrics.loss = Some(loss_sum / (data.n * data.t).max(1) as f64);
    Ok((metrics, preds))
}

/// Loads trained weights (a checkpoint's model file) into the model `config` describes, on `device`.
pub fn load_model(path: &Path, config: &ModelConfig, device: &Device) -> Result<Model, TrainError> {
    load_weights(config.init(device), path)
}

/// Loads the weights saved at `path` into `model`. Weights of other shapes than the model's are a
/// [`TrainError::CheckpointMisfit`]; a file that cannot be read, a [`TrainError::Checkpoint`].
pub(super) fn load_weights(model: Model, path: &Path) -> Result<Model, TrainError> {
    let error = |e: RecordError| match e {
        RecordError::Validation(message) => TrainError::CheckpointMisfit {
            path: path.to_path_buf(),
            message,
        },
        other => TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    };
    let record = read_model_record(path).map_err(error)?;
    model.try_load_record(record).map_err(error)
}

/// A model file's record; an LSTM stored gate by gate (runs trained before 2026-12-03) is
/// rewritten into today's layout on the way (`model::gate_upgrade`).
fn read_model_record(path: &Path) -> Result<ModuleRecord, RecordError> {
    let reader = Reader::from_file_exact(path)?;
    if !gate_upgrade::model_pack_is_per_gate(&reader) {
        return ModuleRecord::load(path);
    }
    let writer = gate_upgrade::upgrade_model_pack(reader).map_err(RecordError::Io)?;
    ModuleRecord::from_bytes(writer.into_bytes()?)
}

/// Loads the optimizer state saved at `path` into `optim`, the state of an LSTM stored gate by
/// gate rewritten into today's layout on the way (`model::gate_upgrade`).
pub(super) fn load_optimizer(
    optim: ModuleOptimizer,
    path: &Path,
) -> Result<ModuleOptimizer, TrainError> {
    let error = |message: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    let reader = Reader::from_file_exact(path).map_err(|e| error(e.to_string()))?;
    let record = if gate_upgrade::optimizer_pack_is_per_gate(&reader) {
        let writer = gate_upgrade::upgrade_optimizer_pack(reader).map_err(error)?;
        let bytes = writer.into_bytes().map_err(|e| error(e.to_string()))?;
        OptimizerRecord::from_bytes(bytes)
    } else {
        OptimizerRecord::load(path)
    };
    Ok(optim.load_record(record.map_err(|e| error(e.to_string()))?))
}

/// Scores `model` on one split's rendered sequences (clip data per subsequence and video).
#[allow(clippy::too_many_arguments)]
pub(super) fn score_split(
    model: &Model,
    data: &SequenceData,
    ids: &[usize],
    clips: Option<&crate::sequence::clip_data::ClipSequences>,
    device: &Device,
    batches: EvalBatches,
    classes: usize,
    levels: usize,
) -> Result<(Metrics, Vec<ImagePrediction>, Option<ClipMetrics>), TrainError> {
    match clips {
        Some(c) => {
            let e = evaluate_clips(model, data, ids, c, device, batches, classes, levels)?;
            Ok((e.metrics, e.predictions, Some(e.clip)))
        }
        None => {
            let (m, p) = evaluate(model, data, ids, device, batches, classes, levels)?;
            Ok((m, p, None))
        }
    }
}

/// What scoring a model on the test split gives.
#[derive(Clone, Debug)]
pub struct TestEvaluation {
    pub metrics: Metrics,
    pub predictions: Vec<ImagePrediction>,
    /// Clip data: subsequence and video accuracy.
    pub clips: Option<ClipMetrics>,
}

/// Scores `model` on the test split of `prepared`, occluded as `occlusion` says, in `batches`.
/// Image size and class count must match the model's.
pub fn evaluate_test_split(
    model: &Model,
    prepared: &Prepared,
    occlusion: &OcclusionSpec,
    batches: EvalBatches,
    device: &Device,
) -> Result<TestEvaluation, TrainError> {
    let seqs = &prepared.sequences.sequences;
    let ids: Vec<usize> = (0..seqs.len())
        .filter(|&i| seqs[i].split == Split::Test)
        .collect();
    let data = SequenceData::render_prepared(prepared, &ids, occlusion);
    let (classes, levels) = (prepared.images.num_classes(), occlusion.num_levels());
    let clips = prepared.clips.as_deref();
    let (metrics, predictions, clips) =
        score_split(model, &data, &ids, clips, device, batches, classes, levels)?;
    Ok(TestEvaluation {
        metrics,
        predictions,
        clips,
    })
}
