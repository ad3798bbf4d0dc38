//! Clip data as sequences: every video is cut into subsequences of T sampled frames (paper B's M
//! subsequences per video), each one a [`Sequence`] labelled with the video's class at every step,
//! so that clip data trains in the same engine as paper A's image sequences.
//!
//! - **Occlusion**: each video is hidden behind *one* occluder that stays put while the action (or
//!   the digit) moves behind it, as an object passes behind a fence. Its level is drawn per video
//!   from the occlusion level mix (exact proportions per split, seeded), its geometry from the set's
//!   occlusion seed and the video's id, so every subsequence of a video shows the same occluder.
//!   `occlude = false` leaves the frames as they are (level 0).
//! - **Order**: subsequences are stored train first, then test, each split in a seeded random order
//!   (so a `limit` keeps a random subset of every class). The `random` ordering is the control: the
//!   frames of every subsequence are shuffled (seeded), which destroys the motion but keeps every
//!   frame.
//! - **Video prediction**: [`ClipSequences::video_of`] names each subsequence's video; evaluation
//!   averages the class probabilities of a video's subsequences (see `crate::train::clip_eval`).

use super::builder::{Ordering, SPLITS, Sequence, SequenceSet, level_counts};
use crate::data::clips::{VideoClip, subsequence_starts};
use crate::data::{ImageSet, Split};
use crate::occlusion::{OcclusionSpec, image_seed};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// How a subsequence's logits are read from a model's per-frame logits `[batch, T, classes]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipOutput {
    /// The last frame's (it sees the whole temporal context).
    #[default]
    Last,
    /// The mean over the frames.
    Mean,
}

/// How the clip sequences were cut, and which video each came from.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClipSequences {
    /// Every video of the source (index = video id).
    pub videos: Vec<VideoClip>,
    /// Occlusion level of each video.
    pub levels: Vec<u8>,
    /// The video of each sequence of the [`SequenceSet`], in its order.
    pub video_of: Vec<u32>,
    /// The first sampled frame of each sequence within its video.
    pub starts: Vec<u32>,
    /// Which per-frame output is the subsequence's.
    pub output: ClipOutput,
    /// Videos too short for one subsequence of T frames (left out).
    pub too_short: usize,
}

/// What to cut.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipCut {
    pub t: usize,
    pub per_video: Option<usize>,
    pub output: ClipOutput,
    pub occlude: bool,
    pub ordering: Ordering,
    pub seed: u64,
    /// Relative frequency of occlusion levels 1..=L.
    pub level_weights: Vec<f64>,
    /// Keep at most this many subsequences per split.
    pub limit: Option<usize>,
}

/// Seed streams, so that changing one choice leaves the others as they were.
const LEVEL_STREAM: u64 = 0x4C45_5645_4C53; // "LEVELS"
const ORDER_STREAM: u64 = 0x004F_5244_4552; // "ORDER"
const SHUFFLE_STREAM: u64 = 0x5348_5546; // "SHUF"

/// Cuts the videos into sequences (see the module docs).
pub fn build_clip_sequences(
    videos: Vec<VideoClip>,
    class_names: &[String],
    cut: &ClipCut,
) -> (SequenceSet, ClipSequences) {
    let mut levels = vec![0u8; videos.len()];
    if cut.occlude && !cut.level_weights.is_empty() {
        let mut rng = ChaCha8Rng::seed_from_u64(cut.seed ^ LEVEL_STREAM);
        for split in SPLITS {
            let ids: Vec<usize> = (0..videos.len())
                .filter(|&v| videos[v].split == split)
                .collect();
            let mut pool: Vec<u8> = level_counts(ids.len(), &cut.level_weights)
                .iter()
                .enumerate()
                .flat_map(|(l, &n)| std::iter::repeat_n(l as u8 + 1, n))
                .collect();
            pool.shuffle(&mut rng);
            for (v, l) in ids.into_iter().zip(pool) {
                levels[v] = l;
            }
        }
    }
    let occlusion_seed = image_seed(cut.seed, usize::MAX >> 1);
    let mut order_rng = ChaCha8Rng::seed_from_u64(cut.seed ^ ORDER_STREAM);
    let mut shuffle_rng = ChaCha8Rng::seed_from_u64(cut.seed ^ SHUFFLE_STREAM);
    let (mut sequences, mut video_of, mut starts) = (Vec::new(), Vec::new(), Vec::new());
    let mut too_short = 0;
    for split in SPLITS {
        let mut windows: Vec<(usize, usize)> = Vec::new();
        for (v, video) in videos.iter().enumerate().filter(|(_, v)| v.split == split) {
            let s = subsequence_starts(video.frames.len(), cut.t, cut.per_video);
            if s.is_empty() {
                too_short += 1;
            }
            windows.extend(s.into_iter().map(|start| (v, start)));
        }
        windows.shuffle(&mut order_rng);
        if let Some(limit) = cut.limit {
            windows.truncate(limit);
        }
        for (v, start) in windows {
            let video = &videos[v];
            let mut images: Vec<u32> = video.frames[start..start + cut.t].to_vec();
            if cut.ordering == Ordering::Random {
                images.shuffle(&mut shuffle_rng);
            }
            sequences.push(Sequence {
                images,
                labels: vec![video.class; cut.t],
                levels: vec![levels[v]; cut.t],
                pattern: None,
                split,
                occlusion_seed,
            });
            video_of.push(v as u32);
            starts.push(start as u32);
        }
    }
    let set = SequenceSet {
        t: cut.t,
        seed: cut.seed,
        ordering: cut.ordering,
        pattern_names: Vec::new(),
        class_names: class_names.to_vec(),
        sequences,
    };
    let clips = ClipSequences {
        videos,
        levels,
        video_of,
        starts,
        output: cut.output,
        too_short,
    };
    (set, clips)
}

impl ClipSequences {
    /// Number of videos of a split that have at least one subsequence.
    pub fn videos_used(&self, set: &SequenceSet, split: Split) -> usize {
        let mut seen = vec![false; self.videos.len()];
        for (s, &v) in set.sequences.iter().zip(&self.video_of) {
            if s.split == split {
                seen[v as usize] = true;
            }
        }
        seen.into_iter().filter(|s| *s).count()
    }

    /// The occluder seed of a video (the same for all its frames and subsequences).
    pub fn occluder_seed(&self, sequence: &Sequence, video: u32) -> u64 {
        image_seed(sequence.occlusion_seed, video as usize)
    }
}

/// The occluded pixels of the sequences `ids` (indices into `sequences`), `[n, T, H, W, C]`: every
/// frame of a video behind the video's one occluder.
pub fn render_clip_sequences(
    set: &ImageSet,
    sequences: &[Sequence],
    clips: &ClipSequences,
    ids: &[usize],
    spec: &OcclusionSpec,
) -> Vec<u8> {
    let mean = set.channel_means();
    let t = ids.first().map_or(0, |&i| sequences[i].images.len());
    let per = set.image_len();
    let mut out = vec![0u8; ids.len() * t * per];
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = ids.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (ids, dst) in ids.chunks(chunk).zip(out.chunks_mut(chunk * t * per)) {
            let mean = &mean;
            s.spawn(move || {
                for (&i, dst) in ids.iter().zip(dst.chunks_mut(t * per)) {
                    let seq = &sequences[i];
                    let seed = clips.occluder_seed(seq, clips.video_of[i]);
                    for (pos, d) in dst.chunks_mut(per).enumerate() {
                        d.copy_from_slice(set.image(seq.images[pos] as usize));
                        spec.occlude_seeded(
                            d,
                            (set.height, set.width, set.channels),
                            seq.levels[pos],
                            mean,
                            seed,
                        );
                    }
                }
            });
        }
    });
    out
}

/// A contact sheet of the sequences `ids`: one row each, every frame behind its video's one
/// occluder, scaled ×`scale`, a bar under each frame in its level's colour (as
/// `crate::sequence::render::contact_sheet` draws image sequences); with `tint_occluders` the
/// hidden pixels are tinted in the level's colour.
pub fn clip_contact_sheet(
    set: &ImageSet,
    sequences: &[Sequence],
    clips: &ClipSequences,
    ids: &[usize],
    spec: &OcclusionSpec,
    scale: u32,
    tint_occluders: bool,
) -> image::RgbImage {
    let rows: Vec<(&Sequence, Vec<u64>)> = ids
        .iter()
        .map(|&i| {
            let seq = &sequences[i];
            // One occluder per video: every frame of it gets the same seed.
            let seed = clips.occluder_seed(seq, clips.video_of[i]);
            (seq, vec![seed; seq.images.len()])
        })
        .collect();
    crate::sequence::render::sheet(set, &rows, spec, scale, tint_occluders)
}
