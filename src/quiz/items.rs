//! Which sequences a quiz shows, and in which order; the images that show them.
//!
//! [`select_items`] builds the preset's patterned sequence set and its random-order control
//! exactly as training does ([`prepare_with`], [`random_control`]), then draws
//!
//! * the trials from the **test split** (the images no model was trained on): `patterned`
//!   patterned sequences, then `random` random-order sequences that share no image with the
//!   chosen patterned ones (nobody sees an image twice);
//! * the practice sequences from the **training split**, alternating patterned and random.
//!
//! Which sequences: a ChaCha8 shuffle seeded by `item_seed` (the same for every participant by
//! default), taken in that order, or — with `balance_levels` — picked greedily in that order so
//! that the chosen images' occlusion levels follow the preset's level mix as closely as possible.
//! In which order: shuffled with the participant's `order_seed` (see [`TrialOrder`]). Practice
//! comes first.
//!
//! An item stores its image ids, labels, levels and occluder seed, so it renders exactly the same
//! whenever it is shown or scored; [`Stimuli`] does the rendering.

use super::QuizError;
use super::config::{QuizConfig, TrialOrder};
use crate::data::{ImageSet, Split};
use crate::experiment::dataset::prepare_with;
use crate::experiment::preset::OrderingSpec;
use crate::sequence::builder::{Sequence, SequenceSet, level_counts, random_control};
use crate::sequence::render::render_image;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// With regular patterns (context) or in random order (the control).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Patterned,
    Random,
}

impl Condition {
    pub const ALL: [Condition; 2] = [Condition::Patterned, Condition::Random];

    /// "with patterns" / "without patterns" (the paper's column headings).
    pub fn label(self) -> &'static str {
        match self {
            Condition::Patterned => "with patterns",
            Condition::Random => "without patterns",
        }
    }

    /// "patterned" / "random" (CSV values, file names).
    pub fn slug(self) -> &'static str {
        match self {
            Condition::Patterned => "patterned",
            Condition::Random => "random",
        }
    }
}

/// One sequence of a quiz.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuizItem {
    /// Practice items get feedback and are not analysed.
    pub practice: bool,
    pub condition: Condition,
    pub split: Split,
    /// Index of the sequence in the patterned set or in its random-order control.
    pub source_index: usize,
    /// The pattern's name (patterned items).
    pub pattern: Option<String>,
    /// Image ids in the image set.
    pub images: Vec<u32>,
    /// True class per image.
    pub labels: Vec<u16>,
    /// Occlusion level per image (never shown to the participant).
    pub levels: Vec<u8>,
    /// With the image id, fixes each image's occluder.
    pub occlusion_seed: u64,
}

impl QuizItem {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The item as a sequence (for rendering and scoring).
    pub fn sequence(&self) -> Sequence {
        Sequence {
            images: self.images.clone(),
            labels: self.labels.clone(),
            levels: self.levels.clone(),
            pattern: None,
            split: self.split,
            occlusion_seed: self.occlusion_seed,
        }
    }

    /// Identifies the stimulus: the same images, levels and occluders in the same condition are
    /// the same item, whoever was shown it.
    pub fn key(&self) -> (Condition, Vec<u32>, Vec<u8>, u64) {
        (
            self.condition,
            self.images.clone(),
            self.levels.clone(),
            self.occlusion_seed,
        )
    }

    fn from_sequence(
        seq: &Sequence,
        set: &SequenceSet,
        index: usize,
        condition: Condition,
        practice: bool,
    ) -> Self {
        QuizItem {
            practice,
            condition,
            split: seq.split,
            source_index: index,
            pattern: seq
                .pattern
                .and_then(|p| set.pattern_names.get(p as usize).cloned()),
            images: seq.images.clone(),
            labels: seq.labels.clone(),
            levels: seq.levels.clone(),
            occlusion_seed: seq.occlusion_seed,
        }
    }
}

/// The quiz's images, loaded, with the occluders of its preset.
#[derive(Clone, Debug)]
pub struct Stimuli {
    pub images: Arc<ImageSet>,
    pub config: QuizConfig,
    mean: Vec<u8>,
}

/// How long loading and selecting took.
#[derive(Clone, Copy, Debug, Default)]
pub struct SelectTiming {
    pub load: Duration,
    pub build: Duration,
}

impl Stimuli {
    /// Loads the config's images (relative paths against `data_dir`).
    pub fn load(config: &QuizConfig, data_dir: Option<&Path>) -> Result<Self, QuizError> {
        let images = Arc::new(config.preset.data.load(data_dir)?);
        Ok(Self::with_images(config, images))
    }

    /// Stimuli over images already loaded.
    pub fn with_images(config: &QuizConfig, images: Arc<ImageSet>) -> Self {
        let mean = images.channel_means();
        Stimuli {
            images,
            config: config.clone(),
            mean,
        }
    }

    /// The occluded pixels (H×W×C) of one image of an item, exactly as the participant sees it.
    pub fn render(&self, item: &QuizItem, position: usize) -> Vec<u8> {
        render_image(
            &self.images,
            &item.sequence(),
            position,
            &self.config.preset.occlusion,
            &self.mean,
        )
    }

    /// Checks that `items` fit these images (ids in range, labels agree): a session file read
    /// with other data than it was recorded on is refused instead of showing wrong images.
    pub fn check(&self, items: &[QuizItem]) -> Result<(), String> {
        for (k, item) in items.iter().enumerate() {
            if item.labels.len() != item.images.len() || item.levels.len() != item.images.len() {
                return Err(format!(
                    "item {k}: {} images, {} labels, {} levels",
                    item.images.len(),
                    item.labels.len(),
                    item.levels.len()
                ));
            }
            for (&id, &label) in item.images.iter().zip(&item.labels) {
                match self.images.labels.get(id as usize) {
                    None => {
                        return Err(format!(
                            "item {k}: image {id} is not in {} ({} images)",
                            self.images.name,
                            self.images.len()
                        ));
                    }
                    Some(&l) if l != label => {
                        return Err(format!(
                            "item {k}: image {id} is class {} in {}, the session recorded class {}: \
                             not the data the session was recorded with",
                            l, self.images.name, label
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }
}

/// Builds the config's item list (practice first, then the trials in the participant's order).
pub fn select_items(
    config: &QuizConfig,
    images: Arc<ImageSet>,
) -> Result<Vec<QuizItem>, QuizError> {
    Ok(select_pool(config, images)?.ordered(config.order, config.order_seed))
}

/// The sequences a quiz draws, before they are put in a participant's order: everything
/// [`select_items`] decides from the item seed (not from the participant or the order seed). A
/// class session selects it once and orders it for each participant ([`ItemPool::ordered`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ItemPool {
    pub practice: Vec<QuizItem>,
    pub patterned: Vec<QuizItem>,
    pub random: Vec<QuizItem>,
}

impl ItemPool {
    /// Practice first, then the trials in the order `order` and `order_seed` give (exactly
    /// what [`select_items`] returns for a config with these settings).
    pub fn ordered(&self, order: TrialOrder, order_seed: u64) -> Vec<QuizItem> {
        let mut pat_items = self.patterned.clone();
        let mut rnd_items = self.random.clone();
        let mut order_rng = rng(order_seed, 5);
        let trials = match order {
            TrialOrder::Interleaved => {
                let mut all = pat_items;
                all.append(&mut rnd_items);
                all.shuffle(&mut order_rng);
                all
            }
            TrialOrder::Blocked => {
                pat_items.shuffle(&mut order_rng);
                rnd_items.shuffle(&mut order_rng);
                if order_seed.is_multiple_of(2) {
                    pat_items.append(&mut rnd_items);
                    pat_items
                } else {
                    rnd_items.append(&mut pat_items);
                    rnd_items
                }
            }
        };
        let mut items = self.practice.clone();
        items.extend(trials);
        items
    }
}

/// Selects the config's practice, patterned and random sequences (see the module docs).
pub fn select_pool(config: &QuizConfig, images: Arc<ImageSet>) -> Result<ItemPool, QuizError> {
    config.validate()?;
    let mut preset = config.preset.clone();
    preset.sequences.ordering = OrderingSpec::Patterned;
    preset.sequences.limit = None;
    let prepared = prepare_with(&preset, images.clone(), Duration::ZERO)?;
    let patterned = prepared.sequences;
    let random = random_control(&images, &patterned, preset.sequences.seed);
    let weights = &preset.occlusion.level_mix;
    let t = preset.sequences.t;

    // Trials: test split.
    let candidates = |set: &SequenceSet, split: Split, tag: u64| -> Vec<usize> {
        let mut ids: Vec<usize> = (0..set.sequences.len())
            .filter(|&i| set.sequences[i].split == split)
            .collect();
        ids.shuffle(&mut rng(config.item_seed, tag));
        ids
    };
    let pat_pool = candidates(&patterned, Split::Test, 1);
    if pat_pool.len() < config.patterned {
        return Err(QuizError::Config(format!(
            "preset {}: the test split has {} patterned sequences; {} asked for",
            preset.name,
            pat_pool.len(),
            config.patterned
        )));
    }
    let pat_chosen = choose(
        &patterned,
        &pat_pool,
        config.patterned,
        config.balance_levels,
        weights,
        t,
    );
    let used: HashSet<u32> = pat_chosen
        .iter()
        .flat_map(|&i| patterned.sequences[i].images.iter().copied())
        .collect();
    let rnd_pool: Vec<usize> = candidates(&random, Split::Test, 2)
        .into_iter()
        .filter(|&i| {
            random.sequences[i]
                .images
                .iter()
                .all(|id| !used.contains(id))
        })
        .collect();
    if rnd_pool.len() < config.random {
        return Err(QuizError::Config(format!(
            "preset {}: only {} random-order test sequences share no image with the {} patterned \
             ones chosen; {} asked for",
            preset.name,
            rnd_pool.len(),
            config.patterned,
            config.random
        )));
    }
    let rnd_chosen = choose(
        &random,
        &rnd_pool,
        config.random,
        config.balance_levels,
        weights,
        t,
    );

    // Practice: training split, alternating patterned and random.
    let mut practice = Vec::new();
    if config.practice > 0 {
        let pat_train = candidates(&patterned, Split::Train, 3);
        let rnd_train = candidates(&random, Split::Train, 4);
        let (mut p, mut r) = (pat_train.iter(), rnd_train.iter());
        for k in 0..config.practice {
            let pick = if k % 2 == 0 {
                p.next()
                    .map(|&i| (&patterned, i, Condition::Patterned))
                    .or_else(|| r.next().map(|&i| (&random, i, Condition::Random)))
            } else {
                r.next()
                    .map(|&i| (&random, i, Condition::Random))
                    .or_else(|| p.next().map(|&i| (&patterned, i, Condition::Patterned)))
            };
            let Some((set, i, condition)) = pick else {
                return Err(QuizError::Config(format!(
                    "preset {}: the training split has too few sequences for {} practice sequences",
                    preset.name, config.practice
                )));
            };
            practice.push(QuizItem::from_sequence(
                &set.sequences[i],
                set,
                i,
                condition,
                true,
            ));
        }
    }

    let make = |set: &SequenceSet, ids: &[usize], condition| -> Vec<QuizItem> {
        ids.iter()
            .map(|&i| QuizItem::from_sequence(&set.sequences[i], set, i, condition, false))
            .collect()
    };
    Ok(ItemPool {
        practice,
        patterned: make(&patterned, &pat_chosen, Condition::Patterned),
        random: make(&random, &rnd_chosen, Condition::Random),
    })
}

/// Images per occlusion level (index = level; 0 = unoccluded) of the analysed items.
pub fn level_histogram(items: &[QuizItem], condition: Option<Condition>) -> Vec<usize> {
    let mut h = Vec::new();
    for item in items
        .iter()
        .filter(|i| !i.practice && condition.is_none_or(|c| i.condition == c))
    {
        for &l in &item.levels {
            if h.len() <= l as usize {
                h.resize(l as usize + 1, 0);
            }
            h[l as usize] += 1;
        }
    }
    h
}

/// `n` sequences from `pool` (in its order): the first `n`, or with `balance` a greedy pick that
/// keeps the level counts closest to the mix `weights` (ties: the earliest in the pool).
fn choose(
    set: &SequenceSet,
    pool: &[usize],
    n: usize,
    balance: bool,
    weights: &[f64],
    t: usize,
) -> Vec<usize> {
    if !balance || weights.is_empty() {
        return pool.iter().take(n).copied().collect();
    }
    let target: Vec<f64> = level_counts(n * t, weights)
        .into_iter()
        .map(|c| c as f64)
        .collect();
    let levels = target.len();
    let mut counts = vec![0f64; levels];
    let mut taken = vec![false; pool.len()];
    let mut out = Vec::with_capacity(n);
    for step in 0..n {
        // The target share of what has been picked so far plus one sequence.
        let scale = (step + 1) as f64 / n as f64;
        let mut best: Option<(f64, usize)> = None;
        for (k, &i) in pool.iter().enumerate() {
            if taken[k] {
                continue;
            }
            let mut c = counts.clone();
            for &l in &set.sequences[i].levels {
                if l >= 1 && (l as usize) <= levels {
                    c[l as usize - 1] += 1.0;
                }
            }
            let cost: f64 = c
                .iter()
                .zip(&target)
                .map(|(x, t)| (x - t * scale).powi(2))
                .sum();
            if best.is_none_or(|(b, _)| cost < b) {
                best = Some((cost, k));
            }
        }
        let Some((_, k)) = best else { break };
        taken[k] = true;
        let i = pool[k];
        for &l in &set.sequences[i].levels {
            if l >= 1 && (l as usize) <= levels {
                counts[l as usize - 1] += 1.0;
            }
        }
        out.push(i);
    }
    out
}

/// A ChaCha8 stream for one purpose of one seed.
fn rng(seed: u64, tag: u64) -> ChaCha8Rng {
    let mut z = seed ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}
