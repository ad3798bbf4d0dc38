//! Sequence data staged for training: occluded pixels rendered once, batches cut into `f32`
//! `[batch, T, C, H, W]` on a separate thread so the next batch is ready when a step ends.

use super::error::TrainError;
use crate::data::ImageSet;
use crate::occlusion::OcclusionSpec;
use crate::sequence::builder::Sequence;
use crate::sequence::clip_data::render_clip_sequences;
use crate::sequence::prepared::Prepared;
use crate::sequence::render::render_all;
use burn::tensor::{Device, Int, Tensor, TensorData};
use crossbeam_channel::{Receiver, bounded};
use std::sync::Arc;

/// Rendered sequences of one split.
#[derive(Clone, Debug)]
pub struct SequenceData {
    /// `[n, T, H, W, C]` occluded pixels.
    pub pixels: Vec<u8>,
    /// `[n, T]` classes.
    pub labels: Vec<u16>,
    /// `[n, T]` occlusion levels.
    pub levels: Vec<u8>,
    pub n: usize,
    pub t: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

/// One batch, ready to become tensors.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Which sequences (indices into the [`SequenceData`]).
    pub ids: Vec<usize>,
    /// `[batch, T, C, H, W]`, pixels scaled to 0–1.
    pub images: Vec<f32>,
    /// `[batch, T]` classes.
    pub targets: Vec<i64>,
    pub shape: [usize; 5],
}

impl SequenceData {
    /// Renders the occluded pixels of `sequences`.
    pub fn render(set: &ImageSet, sequences: &[Sequence], spec: &OcclusionSpec) -> Self {
        let t = sequences.first().map_or(0, |s| s.images.len());
        SequenceData {
            pixels: render_all(set, sequences, spec),
            labels: sequences
                .iter()
                .flat_map(|s| s.labels.iter().copied())
                .collect(),
            levels: sequences
                .iter()
                .flat_map(|s| s.levels.iter().copied())
                .collect(),
            n: sequences.len(),
            t,
            height: set.height,
            width: set.width,
            channels: set.channels,
        }
    }

    /// Renders the sequences `ids` (indices into the prepared sequence set); clip data shows every
    /// video behind its one occluder (see `crate::sequence::clip_data`).
    pub fn render_prepared(prepared: &Prepared, ids: &[usize], spec: &OcclusionSpec) -> Self {
        let seqs = &prepared.sequences.sequences;
        let set = &prepared.images;
        let picked: Vec<Sequence> = ids.iter().map(|&i| seqs[i].clone()).collect();
        match &prepared.clips {
            None => Self::render(set, &picked, spec),
            Some(clips) => SequenceData {
                pixels: render_clip_sequences(set, seqs, clips, ids, spec),
                labels: picked
                    .iter()
                    .flat_map(|s| s.labels.iter().copied())
                    .collect(),
                levels: picked
                    .iter()
                    .flat_map(|s| s.levels.iter().copied())
                    .collect(),
                n: picked.len(),
                t: picked.first().map_or(0, |s| s.images.len()),
                height: set.height,
                width: set.width,
                channels: set.channels,
            },
        }
    }

    /// Cuts the batch of sequences `ids`: HWC bytes become CHW floats in 0–1.
    pub fn batch(&self, ids: &[usize]) -> Batch {
        let (t, h, w, c) = (self.t, self.height, self.width, self.channels);
        let per_image = h * w * c;
        let mut images = vec![0f32; ids.len() * t * per_image];
        let mut targets = Vec::with_capacity(ids.len() * t);
        for (b, &id) in ids.iter().enumerate() {
            for step in 0..t {
                let src =
                    &self.pixels[(id * t + step) * per_image..(id * t + step + 1) * per_image];
                let dst = &mut images[(b * t + step) * per_image..(b * t + step + 1) * per_image];
                for ch in 0..c {
                    for p in 0..h * w {
                        dst[ch * h * w + p] = src[p * c + ch] as f32 * (1.0 / 255.0);
                    }
                }
                targets.push(self.labels[id * t + step] as i64);
            }
        }
        Batch {
            ids: ids.to_vec(),
            images,
            targets,
            shape: [ids.len(), t, c, h, w],
        }
    }
}

/// Cuts the batches of `order` on a background thread, at most `depth` ahead of the consumer.
/// Dropping the receiver stops the thread.
pub fn prefetch(data: Arc<SequenceData>, order: Vec<Vec<usize>>, depth: usize) -> Receiver<Batch> {
    let (tx, rx) = bounded(depth.max(1));
    std::thread::Builder::new()
        .name("occlab-batches".into())
        .spawn(move || {
            for ids in order {
                if tx.send(data.batch(&ids)).is_err() {
                    return;
                }
            }
        })
        .expect("spawning the batch thread");
    rx
}

/// The batch as tensors: images `[batch, T, C, H, W]`, targets `[batch, T]`.
pub(crate) fn to_tensors(batch: &Batch, device: &Device) -> (Tensor<5>, Tensor<2, Int>) {
    let x = Tensor::<5>::from_data(TensorData::new(batch.images.clone(), batch.shape), device);
    let y = Tensor::<2, Int>::from_data(
        TensorData::new(batch.targets.clone(), [batch.shape[0], batch.shape[1]]),
        device,
    );
    (x, y)
}

/// The values of a float tensor, read back from the device.
pub(crate) fn floats(t: Tensor<3>) -> Result<Vec<f32>, TrainError> {
    let data = t.into_data();
    data.as_slice::<f32>()
        .map(<[f32]>::to_vec)
        .map_err(|e| TrainError::Tensor(format!("{e:?}")))
}

/// Cross-entropy of one row of logits against its true class: log Σ exp(row) − row[truth].
pub(super) fn row_cross_entropy(row: &[f32], truth: usize) -> f64 {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
    max + sum.ln() - row[truth] as f64
}

/// How evaluation (`eval::evaluate`, `clip_eval::evaluate_clips`) cuts a split into batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalBatches {
    /// Sequences per batch.
    pub size: usize,
    /// On a GPU: a last batch shorter than `size` is filled up (with its first sequence, whose
    /// extra copies are then ignored) so that every batch has one shape; a new shape would
    /// cost new kernels and a new round of autotuning in the middle of the evaluation.
    pub same_shape: bool,
}

impl EvalBatches {
    /// The batches of a split of `n` sequences, in order: each batch's sequences, and the rows
    /// to run for it (the same, or on a GPU the last batch filled up with its first sequence).
    pub fn plan(&self, n: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
        let size = self.size.max(1);
        let all: Vec<usize> = (0..n).collect();
        all.chunks(size)
            .map(|chunk| {
                let mut rows = chunk.to_vec();
                if self.same_shape && n > size {
                    rows.resize(size, chunk[0]);
                }
                (chunk.to_vec(), rows)
            })
            .collect()
    }
}
