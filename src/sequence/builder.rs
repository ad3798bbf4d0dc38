//! The sequence builder: image ids, occlusion levels and labels for every sequence of a set.
//!
//! [`build_patterned`] works on each split separately, so no image is in both: it
//! [plans](super::planner) how many sequences of each pattern the split's images allow, shuffles
//! each class's image ids of the split (seeded), and deals them out to the sequences in a seeded
//! random order of sequences, so that any prefix (see [`SequenceSet::limit`]) mixes the patterns.
//! No image is used twice. Occlusion levels follow `level_weights` exactly (largest-remainder
//! rounding over the split's images, then shuffled). Everything is deterministic from the seed;
//! the seed streams for order, images, levels and occluder seeds are independent, so changing
//! e.g. the level weights leaves the image assignment as it was.
//!
//! [`random_control`] is paper A's control: the *same* images with the *same* levels, shuffled
//! into random order and cut into sequences of the same length, per split.
//!
//! A [`SequenceSet`] holds only ids, labels and levels; pixels come from the [`ImageSet`] and the
//! occluder from the set's `occlusion_seed` and the image's id (see `crate::occlusion::image_seed`),
//! so an image is hidden the same way in the patterned set and in its random control.
//!
//! Over 600 lines: the sequence builder (dealing images to planned sequences, levels, the random
//! control), one algorithm.

use std::fmt;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::patterns::{PatternError, PatternLibrary};
use super::planner::{Plan, PlanError, PlanOptions, plan_among};
use crate::data::{ImageSet, Split};

/// Both splits, in the order sequence sets store them.
pub const SPLITS: [Split; 2] = [Split::Train, Split::Test];

/// One sequence: T images, their labels and occlusion levels.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sequence {
    /// Indices into the [`ImageSet`].
    pub images: Vec<u32>,
    /// Class of each image.
    pub labels: Vec<u16>,
    /// Occlusion level per image, 1..=L; 0 = unoccluded.
    pub levels: Vec<u8>,
    /// Index into [`SequenceSet::pattern_names`]; `None` for the random-order control.
    pub pattern: Option<u32>,
    /// The split all its images belong to.
    pub split: Split,
    /// Seeds the occluders of this sequence's images, together with each image's id. The builder
    /// gives every sequence of a set (and of its random control) the same value.
    pub occlusion_seed: u64,
}

/// 64-bit FNV-1a (a stable fingerprint, not for security): sequence fingerprints here, run
/// folder names from a config's text in `experiment::queue`.
pub struct Fnv1a(pub u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    /// Feeds `bytes` to the hash.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// How a set's sequences are ordered (a preset's `[sequences] ordering`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ordering {
    /// Each sequence spells a pattern (context).
    #[default]
    Patterned,
    /// The same images in random order (control).
    Random,
}

/// A built set of sequences: train sequences first, then test sequences.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SequenceSet {
    /// Sequence length.
    pub t: usize,
    /// The seed it was built from.
    pub seed: u64,
    /// Patterned or random order.
    pub ordering: Ordering,
    /// Names of the library's patterns ([`Sequence::pattern`] indexes this).
    pub pattern_names: Vec<String>,
    /// Class names of the image set.
    pub class_names: Vec<String>,
    /// The sequences.
    pub sequences: Vec<Sequence>,
}

/// How to build a patterned set.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct BuildConfig {
    /// Sequence length T (every pattern must have this length).
    pub t: usize,
    /// Seed of everything random (image assignment, order, levels, occluder seeds).
    pub seed: u64,
    /// Relative frequency of occlusion levels 1..=L (`[1, 1, 1, 1, 1]`: paper A's 1:1:1:1:1).
    /// Empty: every image unoccluded (level 0).
    pub level_weights: Vec<f64>,
    /// Planner options (per-pattern cap, balance floor, evening out).
    pub plan: PlanOptions,
    /// Which patterns the test split may use.
    pub test_patterns: TestPatterns,
}

impl Default for BuildConfig {
    /// T = 5, seed 0, five levels 1:1:1:1:1, default planner options, each split planned on its
    /// own.
    fn default() -> Self {
        BuildConfig {
            t: 5,
            seed: 0,
            level_weights: vec![1.0; 5],
            plan: PlanOptions::default(),
            test_patterns: TestPatterns::All,
        }
    }
}

/// Which patterns the test split's plan may use. Each split is planned on its own images, and
/// where the classes are unbalanced the two plans can favour different patterns: with the OCR
/// letters about a quarter of the test sequences (461 of 1,741) spell city names that get no
/// training sequences, names a CRNN never saw spelled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestPatterns {
    /// Every pattern of the library, whatever the training split got.
    #[default]
    All,
    /// Only the patterns the training split has sequences of, so every test sequence's pattern
    /// was seen in training, as when one plan is cut at random into train and test.
    Trained,
}

impl TestPatterns {
    /// The default ([`TestPatterns::All`]), which presets leave out.
    pub fn is_all(&self) -> bool {
        *self == TestPatterns::All
    }
}

/// The plan of each split.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitPlans {
    /// Plan of the training split.
    pub train: Plan,
    /// Plan of the test split.
    pub test: Plan,
}

impl SplitPlans {
    /// The plan of one split.
    pub fn get(&self, split: Split) -> &Plan {
        match split {
            Split::Train => &self.train,
            Split::Test => &self.test,
        }
    }
}

/// Why a set could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The library does not fit the classes or T.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// The planner failed.
    #[error("planning the {split:?} split: {source}")]
    Plan {
        /// The split.
        split: Split,
        /// The reason.
        #[source]
        source: PlanError,
    },
    /// Bad configuration (T, level weights).
    #[error("build config: {0}")]
    Config(String),
}

/// Why a set could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SetIoError {
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// Not valid JSON of a sequence set.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: serde_json::Error,
    },
    /// Valid JSON, but not a consistent sequence set.
    #[error("{}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// Identifies the file format of a saved set.
const FORMAT: &str = "occlab-sequence-set";
/// Version of the file format.
const VERSION: u32 = 1;

#[derive(serde::Serialize)]
struct FileOut<'a> {
    format: &'a str,
    version: u32,
    set: &'a SequenceSet,
}

#[derive(serde::Deserialize)]
struct FileIn {
    format: String,
    version: u32,
    set: SequenceSet,
}

/// Counts of a set for the CLI and GUI: sequences per pattern and split, images used.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SetSummary {
    /// Sequence length.
    pub t: usize,
    /// Patterned or random.
    pub ordering: Ordering,
    /// Sequences per pattern (empty for a random set).
    pub per_pattern: Vec<PatternCount>,
    /// One row per split.
    pub splits: Vec<SplitSummary>,
}

/// Sequences of one pattern, per split.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PatternCount {
    /// The pattern's name.
    pub pattern: String,
    /// Training sequences.
    pub train: usize,
    /// Test sequences.
    pub test: usize,
}

/// Totals of one split.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitSummary {
    /// The split.
    pub split: Split,
    /// Number of sequences.
    pub sequences: usize,
    /// Images in those sequences.
    pub images_used: usize,
    /// Images of the split in the image set.
    pub images_available: usize,
    /// images_used / images_available (0 when none are available).
    pub share: f64,
}

impl fmt::Display for SetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:?} sequences of length {}", self.ordering, self.t)?;
        if !self.per_pattern.is_empty() {
            let w = self
                .per_pattern
                .iter()
                .map(|p| p.pattern.len())
                .max()
                .unwrap_or(7)
                .max(7);
            writeln!(f, "  {:<w$}  {:>8}  {:>8}", "pattern", "train", "test")?;
            for p in &self.per_pattern {
                writeln!(f, "  {:<w$}  {:>8}  {:>8}", p.pattern, p.train, p.test)?;
            }
        }
        for s in &self.splits {
            writeln!(
                f,
                "  {:?}: {} sequences, {} of {} images used ({:.1} %)",
                s.split,
                s.sequences,
                s.images_used,
                s.images_available,
                100.0 * s.share
            )?;
        }
        Ok(())
    }
}

impl SequenceSet {
    /// A short fingerprint of exactly these sequences (each one's split, images, labels, levels
    /// and occluder seed, in order; 64-bit FNV-1a, hex). A run records it when it starts and
    /// refuses to resume on sequences that differ.
    pub fn fingerprint(&self) -> String {
        let mut h = Fnv1a::default();
        h.write(&(self.t as u64).to_le_bytes());
        h.write(&(self.sequences.len() as u64).to_le_bytes());
        for q in &self.sequences {
            h.write(&[q.split as u8]);
            h.write(&(q.images.len() as u64).to_le_bytes());
            for &i in &q.images {
                h.write(&i.to_le_bytes());
            }
            for &l in &q.labels {
                h.write(&l.to_le_bytes());
            }
            h.write(&q.levels);
            h.write(&q.occlusion_seed.to_le_bytes());
        }
        format!("{:016x}", h.0)
    }

    /// The sequences of one split, in order.
    pub fn sequences_in(&self, split: Split) -> impl Iterator<Item = &Sequence> + '_ {
        self.sequences.iter().filter(move |s| s.split == split)
    }

    /// Number of sequences in one split.
    pub fn len(&self, split: Split) -> usize {
        self.sequences_in(split).count()
    }

    /// True when the set holds no sequences at all.
    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }

    /// Sequences per pattern in one split (`pattern_names.len()` entries; all zero for a random
    /// set).
    pub fn counts_per_pattern(&self, split: Split) -> Vec<u32> {
        let mut counts = vec![0u32; self.pattern_names.len()];
        for s in self.sequences_in(split) {
            if let Some(c) = s.pattern.and_then(|p| counts.get_mut(p as usize)) {
                *c += 1;
            }
        }
        counts
    }

    /// The first `n` sequences of each split (for quick runs). Patterns stay mixed because
    /// sequences are stored in a random order.
    pub fn limit(&self, n: usize) -> SequenceSet {
        let mut out = SequenceSet {
            sequences: Vec::new(),
            ..self.clone_header()
        };
        for split in SPLITS {
            out.sequences
                .extend(self.sequences_in(split).take(n).cloned());
        }
        out
    }

    /// Counts for display; `images` is the image set the sequences index.
    pub fn summary(&self, images: &ImageSet) -> SetSummary {
        let per_pattern = if self.ordering == Ordering::Patterned {
            let train = self.counts_per_pattern(Split::Train);
            let test = self.counts_per_pattern(Split::Test);
            self.pattern_names
                .iter()
                .enumerate()
                .map(|(i, name)| PatternCount {
                    pattern: name.clone(),
                    train: train[i] as usize,
                    test: test[i] as usize,
                })
                .collect()
        } else {
            Vec::new()
        };
        let splits = SPLITS
            .iter()
            .map(|&split| {
                let sequences = self.len(split);
                let images_used = sequences * self.t;
                let images_available = images.splits.iter().filter(|&&s| s == split).count();
                SplitSummary {
                    split,
                    sequences,
                    images_used,
                    images_available,
                    share: if images_available == 0 {
                        0.0
                    } else {
                        images_used as f64 / images_available as f64
                    },
                }
            })
            .collect();
        SetSummary {
            t: self.t,
            ordering: self.ordering,
            per_pattern,
            splits,
        }
    }

    /// Checks that every sequence has T images, labels and levels and a valid pattern index.
    pub fn check(&self) -> Result<(), String> {
        for (i, s) in self.sequences.iter().enumerate() {
            let lens = [s.images.len(), s.labels.len(), s.levels.len()];
            if lens.iter().any(|&l| l != self.t) {
                return Err(format!(
                    "sequence {i}: {} images, {} labels, {} levels; expected {} each",
                    lens[0], lens[1], lens[2], self.t
                ));
            }
            if let Some(p) = s
                .pattern
                .filter(|&p| p as usize >= self.pattern_names.len())
            {
                return Err(format!(
                    "sequence {i}: pattern {p} is out of range for {} patterns",
                    self.pattern_names.len()
                ));
            }
            if let Some(l) = s
                .labels
                .iter()
                .find(|&&l| l as usize >= self.class_names.len())
            {
                return Err(format!(
                    "sequence {i}: label {l} is out of range for {} classes",
                    self.class_names.len()
                ));
            }
        }
        Ok(())
    }

    /// Writes the set as JSON (`{"format", "version", "set"}`); [`load`](Self::load) reads it back
    /// exactly.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), SetIoError> {
        let path = path.as_ref();
        let io = |source| SetIoError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::create(path).map_err(io)?;
        let mut w = std::io::BufWriter::new(file);
        let out = FileOut {
            format: FORMAT,
            version: VERSION,
            set: self,
        };
        serde_json::to_writer(&mut w, &out).map_err(|source| SetIoError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        use std::io::Write;
        w.flush().map_err(io)
    }

    /// Reads a set written by [`save`](Self::save) and checks it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SetIoError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| SetIoError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file_in: FileIn =
            serde_json::from_reader(std::io::BufReader::new(file)).map_err(|source| {
                SetIoError::Json {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        let invalid = |problem: String| SetIoError::Invalid {
            path: path.to_path_buf(),
            problem,
        };
        if file_in.format != FORMAT || file_in.version != VERSION {
            return Err(invalid(format!(
                "format \"{}\" version {} is not {FORMAT} version {VERSION}",
                file_in.format, file_in.version
            )));
        }
        file_in.set.check().map_err(invalid)?;
        Ok(file_in.set)
    }

    fn clone_header(&self) -> SequenceSet {
        SequenceSet {
            t: self.t,
            seed: self.seed,
            ordering: self.ordering,
            pattern_names: self.pattern_names.clone(),
            class_names: self.class_names.clone(),
            sequences: Vec::new(),
        }
    }
}

/// Builds the patterned sequence set: per split, plan, then deal out images (see the module docs).
pub fn build_patterned(
    images: &ImageSet,
    library: &PatternLibrary,
    cfg: &BuildConfig,
) -> Result<(SequenceSet, SplitPlans), BuildError> {
    if cfg.t == 0 {
        return Err(BuildError::Config("T must be at least 1".into()));
    }
    check_weights(&cfg.level_weights)?;
    library.validate(&images.class_names, cfg.t)?;
    let labels = library.labels(&images.class_names)?;
    let counts = library.class_counts(&images.class_names)?;

    let mut set = SequenceSet {
        t: cfg.t,
        seed: cfg.seed,
        ordering: Ordering::Patterned,
        pattern_names: library.names(),
        class_names: images.class_names.clone(),
        sequences: Vec::new(),
    };
    let mut plans: Vec<Plan> = Vec::new();
    for split in SPLITS {
        let available: Vec<u32> = images
            .class_counts(Some(split))
            .iter()
            .map(|&c| c.min(u32::MAX as usize) as u32)
            .collect();
        // Patterns the training split was given (SPLITS puts it first).
        let trained: Option<Vec<bool>> = match (split, cfg.test_patterns, plans.first()) {
            (Split::Test, TestPatterns::Trained, Some(train)) => {
                Some(train.counts.iter().map(|&n| n > 0).collect())
            }
            _ => None,
        };
        let p = plan_among(&counts, &available, &cfg.plan, trained.as_deref())
            .map_err(|source| BuildError::Plan { split, source })?;
        set.sequences
            .extend(deal(images, &labels, &p.counts, split, cfg));
        plans.push(p);
    }
    let test = plans.pop().expect("two plans");
    let train = plans.pop().expect("two plans");
    Ok((set, SplitPlans { train, test }))
}

/// The random-order control of a patterned set: per split, exactly its images with their levels,
/// shuffled (seeded) and cut into sequences of the same T. `images` must be the set `patterned`
/// was built from; labels are taken from `patterned`.
pub fn random_control(images: &ImageSet, patterned: &SequenceSet, seed: u64) -> SequenceSet {
    let mut out = SequenceSet {
        seed,
        ordering: Ordering::Random,
        ..patterned.clone_header()
    };
    for split in SPLITS {
        let mut items: Vec<(u32, u16, u8)> = patterned
            .sequences_in(split)
            .flat_map(|s| {
                s.images
                    .iter()
                    .zip(&s.labels)
                    .zip(&s.levels)
                    .map(|((&i, &l), &v)| (i, l, v))
            })
            .collect();
        debug_assert!(
            items
                .iter()
                .all(|&(i, l, _)| images.labels.get(i as usize) == Some(&l)),
            "random_control: the image set is not the one the sequences were built from"
        );
        items.shuffle(&mut stream(seed, split, Stream::Control));
        // The control keeps the patterned set's occluder seed: occluders are keyed by image id,
        // so every image is hidden exactly as in the patterned condition.
        let occlusion_seed = patterned
            .sequences
            .first()
            .map_or(seed, |s| s.occlusion_seed);
        for chunk in items.chunks(patterned.t.max(1)) {
            out.sequences.push(Sequence {
                images: chunk.iter().map(|c| c.0).collect(),
                labels: chunk.iter().map(|c| c.1).collect(),
                levels: chunk.iter().map(|c| c.2).collect(),
                pattern: None,
                split,
                occlusion_seed,
            });
        }
    }
    out
}

/// How many images get each level: `n` split in the ratio of `weights` by largest-remainder
/// rounding (ties go to the lower level). Entry i is the count of level i+1; each count is
/// within 1 of its exact share and they sum to `n`.
pub fn level_counts(n: usize, weights: &[f64]) -> Vec<usize> {
    let total: f64 = weights.iter().sum();
    if weights.is_empty() || total <= 0.0 {
        return vec![0; weights.len()];
    }
    let quotas: Vec<f64> = weights.iter().map(|w| n as f64 * w / total).collect();
    let mut counts: Vec<usize> = quotas.iter().map(|q| q.floor() as usize).collect();
    let assigned: usize = counts.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let fa = quotas[a] - quotas[a].floor();
        let fb = quotas[b] - quotas[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &i in order.iter().take(n.saturating_sub(assigned)) {
        counts[i] += 1;
    }
    counts
}

fn check_weights(weights: &[f64]) -> Result<(), BuildError> {
    if weights.len() > u8::MAX as usize {
        return Err(BuildError::Config(format!(
            "{} occlusion levels; at most {} are possible",
            weights.len(),
            u8::MAX
        )));
    }
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(BuildError::Config(format!(
            "level weights {weights:?} must be finite and ≥ 0"
        )));
    }
    if !weights.is_empty() && weights.iter().sum::<f64>() <= 0.0 {
        return Err(BuildError::Config("level weights are all zero".into()));
    }
    Ok(())
}

/// Independent random streams of a build.
#[derive(Clone, Copy)]
enum Stream {
    Order = 1,
    Images = 2,
    Levels = 3,
    Occluders = 4,
    Control = 5,
}

/// A ChaCha8 generator for one (seed, split, purpose), seeded through SplitMix64.
fn stream(seed: u64, split: Split, purpose: Stream) -> ChaCha8Rng {
    let split_tag = match split {
        Split::Train => 0u64,
        Split::Test => 1,
    };
    let mixed = splitmix64(splitmix64(seed) ^ (split_tag << 8 | purpose as u64));
    ChaCha8Rng::seed_from_u64(mixed)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Occlusion levels for the `n` images of a split's sequences: the exact ratio of `weights`
/// ([`level_counts`]), shuffled by the set's seed (all 0 without weights).
pub(super) fn split_levels(n: usize, weights: &[f64], seed: u64, split: Split) -> Vec<u8> {
    let mut levels: Vec<u8> = if weights.is_empty() {
        vec![0; n]
    } else {
        level_counts(n, weights)
            .iter()
            .enumerate()
            .flat_map(|(i, &c)| std::iter::repeat_n(i as u8 + 1, c))
            .collect()
    };
    levels.shuffle(&mut stream(seed, split, Stream::Levels));
    levels
}

/// One occluder seed for a whole set: with the image id it fixes each image's occluder.
pub(super) fn set_occlusion_seed(seed: u64) -> u64 {
    stream(seed, Split::Train, Stream::Occluders).random()
}

/// Shuffles a split's sequence order with the set's seed (the stream the patterned builder uses).
pub(super) fn shuffle_order<T>(items: &mut [T], seed: u64, split: Split) {
    items.shuffle(&mut stream(seed, split, Stream::Order));
}

/// Checks the level weights of a build.
pub(super) fn check_level_weights(weights: &[f64]) -> Result<(), BuildError> {
    check_weights(weights)
}

/// Deals the split's images out to `counts[p]` sequences of each pattern.
fn deal(
    images: &ImageSet,
    labels: &[Vec<u16>],
    counts: &[u32],
    split: Split,
    cfg: &BuildConfig,
) -> Vec<Sequence> {
    // The order of sequences: pattern indices with multiplicity, shuffled.
    let mut order: Vec<u32> = counts
        .iter()
        .enumerate()
        .flat_map(|(p, &n)| std::iter::repeat_n(p as u32, n as usize))
        .collect();
    order.shuffle(&mut stream(cfg.seed, split, Stream::Order));

    // Per class, the split's image ids in a seeded random order.
    let mut pools: Vec<Vec<u32>> = vec![Vec::new(); images.num_classes()];
    for (i, (&l, &s)) in images.labels.iter().zip(&images.splits).enumerate() {
        if s == split {
            pools[l as usize].push(i as u32);
        }
    }
    let mut rng = stream(cfg.seed, split, Stream::Images);
    for pool in &mut pools {
        pool.shuffle(&mut rng);
    }
    let mut next = vec![0usize; pools.len()];

    // Levels for every image of the split, in the exact ratio, shuffled.
    let levels = split_levels(order.len() * cfg.t, &cfg.level_weights, cfg.seed, split);
    let occlusion_seed = set_occlusion_seed(cfg.seed);
    order
        .iter()
        .enumerate()
        .map(|(j, &p)| {
            let seq_labels = labels[p as usize].clone();
            let ids = seq_labels
                .iter()
                .map(|&l| {
                    let k = l as usize;
                    let id = pools[k][next[k]];
                    next[k] += 1;
                    id
                })
                .collect();
            Sequence {
                images: ids,
                labels: seq_labels,
                levels: levels[j * cfg.t..(j + 1) * cfg.t].to_vec(),
                pattern: Some(p),
                split,
                occlusion_seed,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_counts_are_exact() {
        assert_eq!(level_counts(10, &[1.0; 5]), vec![2; 5]);
        assert_eq!(level_counts(7, &[1.0; 5]), vec![2, 2, 1, 1, 1]);
        assert_eq!(level_counts(9, &[2.0, 1.0]), vec![6, 3]);
        assert_eq!(level_counts(0, &[1.0, 1.0]), vec![0, 0]);
    }
}
