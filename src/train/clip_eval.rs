//! Training and scoring on clip data (paper B): one output per subsequence, one prediction per
//! video.
//!
//! A model gives logits at every frame, `[batch, T, classes]`; a subsequence's logits are the last
//! frame's (which sees the whole temporal context) or the mean over its frames
//! ([`ClipOutput`]). Training minimises the cross-entropy of the subsequences' logits against their
//! videos' classes. At test time the class probabilities of all subsequences of a video are
//! averaged into the video's prediction ([`average_video_probabilities`]); [`ClipMetrics`] counts
//! both levels.

use super::batches::{EvalBatches, SequenceData, floats, row_cross_entropy, to_tensors};
use super::error::TrainError;
use crate::data::clips::average_video_probabilities;
use crate::metrics::{ImagePrediction, Metrics, Tally};
use crate::model::Model;
use crate::sequence::clip_data::{ClipOutput, ClipSequences};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Int, Tensor};

/// The logits of every subsequence.
///
/// # Shapes
/// - `logits`: `[batch, T, classes]`
/// - output: `[batch, classes]`
pub fn subsequence_logits(logits: Tensor<3>, output: ClipOutput) -> Tensor<2> {
    let [batch, steps, classes] = logits.dims();
    match output {
        ClipOutput::Last => logits.narrow(1, steps - 1, 1).reshape([batch, classes]),
        ClipOutput::Mean => logits.mean_dim(1).reshape([batch, classes]),
    }
}

/// Mean cross-entropy of the subsequences' logits against the classes of `targets`' first step
/// (every step of a clip sequence holds the video's class).
///
/// # Shapes
/// - `logits`: `[batch, T, classes]`
/// - `targets`: `[batch, T]`
/// - output: `[1]`
pub fn clip_cross_entropy(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    output: ClipOutput,
) -> Tensor<1> {
    let [batch, _, _] = logits.dims();
    let loss = CrossEntropyLossConfig::new().init(&logits.device());
    loss.forward(
        subsequence_logits(logits, output),       // [batch, classes]
        targets.narrow(1, 0, 1).reshape([batch]), // [batch]
    )
}

/// Softmax of every row of `[rows, classes]` logits.
pub fn softmax_rows(logits: &[f32], classes: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks(classes.max(1)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        out.extend(exp.iter().map(|e| e / sum));
    }
    out
}

fn argmax(row: &[f32]) -> (u16, f32) {
    let (i, v) =
        row.iter().enumerate().fold(
            (0, f32::NEG_INFINITY),
            |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
        );
    (i as u16, v)
}

/// One subsequence's prediction per row of `[batch, classes]` subsequence logits, in the form of
/// the per-image predictions (`position` = the step whose output is read: T−1 for `Last`, 0 for
/// `Mean`), with the rows' probabilities.
pub fn subsequence_predictions(
    values: &[f32],
    classes: usize,
    data: &SequenceData,
    batch_ids: &[usize],
    set_ids: &[usize],
    output: ClipOutput,
) -> (Vec<ImagePrediction>, Vec<f32>) {
    let probabilities = softmax_rows(values, classes);
    let t = data.t;
    let position = match output {
        ClipOutput::Last => t.saturating_sub(1),
        ClipOutput::Mean => 0,
    };
    let preds = probabilities
        .chunks(classes.max(1))
        .zip(batch_ids)
        .map(|(row, &seq)| {
            let (predicted, probability) = argmax(row);
            ImagePrediction {
                sequence: set_ids[seq] as u32,
                position: position as u16,
                level: data.levels[seq * t + position],
                truth: data.labels[seq * t],
                predicted,
                probability,
            }
        })
        .collect();
    (preds, probabilities)
}

/// One video's prediction.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VideoPrediction {
    /// Index into [`ClipSequences::videos`].
    pub video: u32,
    pub truth: u16,
    pub predicted: u16,
    /// Averaged probability of the predicted class.
    pub probability: f32,
    /// Subsequences averaged.
    pub subsequences: u32,
    /// The video's occlusion level.
    pub level: u8,
}

/// Accuracy per subsequence and per video.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClipMetrics {
    pub subsequences: Tally,
    pub videos: Tally,
    /// Index = true class.
    pub video_per_class: Vec<Tally>,
    /// Index = occlusion level.
    pub video_per_level: Vec<Tally>,
    /// `video_confusion[truth][predicted]`.
    pub video_confusion: Vec<Vec<u64>>,
}

impl ClipMetrics {
    /// Error rate per video (paper B's measure), 1 when empty.
    pub fn video_error(&self) -> f64 {
        1.0 - self.videos.accuracy().unwrap_or(0.0)
    }
}

/// The videos' predictions from the subsequences' probabilities (`probabilities`: one row per
/// subsequence, `set_ids`: each row's sequence index in the sequence set).
pub fn video_predictions(
    probabilities: &[f32],
    classes: usize,
    set_ids: &[usize],
    clips: &ClipSequences,
) -> Vec<VideoPrediction> {
    let video_of: Vec<u32> = set_ids.iter().map(|&i| clips.video_of[i]).collect();
    let mut counts = vec![0u32; clips.videos.len()];
    for &v in &video_of {
        counts[v as usize] += 1;
    }
    average_video_probabilities(probabilities, classes, &video_of, clips.videos.len())
        .into_iter()
        .enumerate()
        .filter_map(|(v, row)| {
            let row = row?;
            let (predicted, probability) = argmax(&row);
            Some(VideoPrediction {
                video: v as u32,
                truth: clips.videos[v].class,
                predicted,
                probability,
                subsequences: counts[v],
                level: clips.levels[v],
            })
        })
        .collect()
}

/// Counts subsequence and video predictions.
pub fn clip_metrics(
    subsequences: &[ImagePrediction],
    videos: &[VideoPrediction],
    classes: usize,
    levels: usize,
) -> ClipMetrics {
    let mut m = ClipMetrics {
        video_per_class: vec![Tally::default(); classes],
        video_per_level: vec![Tally::default(); levels + 1],
        video_confusion: vec![vec![0; classes]; classes],
        ..ClipMetrics::default()
    };
    for p in subsequences {
        m.subsequences.add(p.truth == p.predicted);
    }
    for v in videos {
        let ok = v.truth == v.predicted;
        m.videos.add(ok);
        if let Some(t) = m.video_per_class.get_mut(v.truth as usize) {
            t.add(ok);
        }
        if let Some(t) = m.video_per_level.get_mut(v.level as usize) {
            t.add(ok);
        }
        if let Some(row) = m.video_confusion.get_mut(v.truth as usize)
            && let Some(c) = row.get_mut(v.predicted as usize)
        {
            *c += 1;
        }
    }
    m
}

/// What scoring clip data gives.
#[derive(Clone, Debug)]
pub struct ClipEvaluation {
    /// Metrics of the subsequences (one prediction each).
    pub metrics: Metrics,
    pub predictions: Vec<ImagePrediction>,
    pub videos: Vec<VideoPrediction>,
    pub clip: ClipMetrics,
}

/// Scores `model` on the clip sequences `data` (`ids`: each one's index in the sequence set), in
/// `batches` (on a GPU the last batch filled up to one shape, its extra rows ignored). The loss
/// is the clip loss (`clip_cross_entropy`'s), computed from the subsequence logits read back for
/// the predictions.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_clips(
    model: &Model,
    data: &SequenceData,
    ids: &[usize],
    clips: &ClipSequences,
    device: &Device,
    batches: EvalBatches,
    num_classes: usize,
    num_levels: usize,
) -> Result<ClipEvaluation, TrainError> {
    let mut metrics = Metrics::new(num_classes, num_levels, data.t);
    let mut predictions = Vec::with_capacity(data.n);
    let mut probabilities = Vec::with_capacity(data.n * num_classes);
    let mut loss_sum = 0.0;
    for (chunk, rows) in batches.plan(data.n) {
        let chunk = chunk.as_slice();
        let batch = data.batch(&rows);
        let (x, _) = to_tensors(&batch, device);
        let sub = subsequence_logits(model.forward(x), clips.output); // [rows, classes]
        let [n_rows, classes] = sub.dims();
        let mut values = floats(sub.reshape([n_rows, 1, classes]))?;
        values.truncate(chunk.len() * classes);
        loss_sum += values
            .chunks(classes.max(1))
            .zip(chunk)
            .map(|(row, &seq)| row_cross_entropy(row, data.labels[seq * data.t] as usize))
            .sum::<f64>();
        let (preds, probs) =
            subsequence_predictions(&values, num_classes, data, chunk, ids, clips.output);
        for p in &preds {
            metrics.add(p);
        }
        predictions.extend(preds);
        probabilities.extend(probs);
    }
    metrics.loss = Some(loss_sum / data.n.max(1) as f64);
    let set_ids: Vec<usize> = (0..data.n).map(|k| ids[k]).collect();
    let videos = video_predictions(&probabilities, num_classes, &set_ids, clips);
    let clip = clip_metrics(&predictions, &videos, num_classes, num_levels);
    Ok(ClipEvaluation {
        metrics,
        predictions,
        videos,
        clip,
    })
}

/// One epoch's clip figures, as written to `metrics.jsonl` (`{"kind":"clips",…}`) after the
/// epoch's line.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClipEpochRecord {
    pub epoch: usize,
    /// Subsequences right while training (dropout active).
    pub train_subsequences: Tally,
    /// Test subsequences and videos.
    pub test: ClipMetrics,
}
