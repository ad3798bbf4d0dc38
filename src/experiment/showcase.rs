//! A showcase: trained runs' predictions on test sequences, for presenting in class (paper A's
//! Fig. 3: each occluded image with every model's guess and confidence above it).
//!
//! [`build`] takes the data set in use and one or more run directories. It refuses runs whose
//! model was trained for other data ([`check_fit`]: classes, image size, and then the checkpoint's
//! tensor shapes), loads each run's model from its checkpoint, builds the sequences the first run
//! was tested on (its preset's patterns, length and seed on the current images; patterned or the
//! random-order control), picks test sequences in a seeded order ([`presentation_order`]), and
//! returns per image the truth, the occlusion level, the occluded and the unoccluded pixels, which
//! pixels the occluder hides, and every model's full class distribution ([`Guess`]).
//!
//! The GUI's Present panel calls [`build`] on a background thread and only draws the result.
//!
//! Over 600 lines with its tests: building a showcase is one pipeline (check the fit, open the
//! runs, pick the sequences, predict).

use super::dataset::{self, PrepareError};
use super::preset::{OrderingSpec, Preset};
use super::run::{RunDir, RunError};
use super::tables::{self, Dataset, RunSummary, Scan, class_names_for};
use super::trained::{OpenError, TrainedModel};
use crate::data::source::DataSource;
use crate::data::{ImageSet, Split};
use crate::model::{Model, ModelKind};
use crate::occlusion::{OcclusionSpec, image_seed};
use crate::sequence::builder::SequenceSet;
use crate::sequence::render::level_color;
use crate::train::batches::SequenceData;
use crate::train::{BackendChoice, choose_device};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sequences per forward pass.
const BATCH: usize = 64;

/// Why a showcase cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ShowcaseError {
    #[error("no run chosen: choose at least one trained run to show")]
    NoRuns,
    /// The run's model was trained for other data than the data set in use.
    #[error("{}: refused: {message}", path.display())]
    Misfit { path: PathBuf, message: String },
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{}: {source}", path.display())]
    Model {
        path: PathBuf,
        #[source]
        source: OpenError,
    },
    #[error("preparing the sequences: {0}")]
    Prepare(#[from] PrepareError),
    #[error("backend: {0}")]
    Backend(String),
    #[error("the test split has no sequences to show")]
    NoTestSequences,
    #[error("sequence {index} is not a test sequence of the set ({count} sequences)")]
    NotATestSequence { index: usize, count: usize },
    #[error("reading the model's output: {0}")]
    Tensor(String),
}

/// What to show.
#[derive(Clone, Debug, PartialEq)]
pub struct ShowcaseRequest {
    /// Run directories, in the order their guesses are listed above each image.
    pub runs: Vec<PathBuf>,
    /// Patterned sequences, or the same images in random order (the control).
    pub ordering: OrderingSpec,
    /// Seeds the order the test sequences are shown in; `None`: the set's own order.
    pub shuffle_seed: Option<u64>,
    /// Most sequences to prepare (0: every test sequence).
    pub count: usize,
    /// The occluders: `None` as the first run was trained with, else this spec.
    pub occlusion: Option<OcclusionSpec>,
    pub backend: BackendChoice,
}

/// One model shown.
#[derive(Clone, Debug, PartialEq)]
pub struct ShownModel {
    /// What the guess lines say: the model's name ("CNN"), with the run's name where two runs
    /// of the same model are shown.
    pub label: String,
    pub run: String,
    pub path: PathBuf,
    pub kind: ModelKind,
    /// Test accuracy of the run's last epoch (0–1), from its log.
    pub test_accuracy: Option<f64>,
}

/// One model's guess for one image.
#[derive(Clone, Debug, PartialEq)]
pub struct Guess {
    /// The class with the highest probability.
    pub predicted: u16,
    /// Its probability.
    pub probability: f32,
    /// Softmax over the classes (sums to 1).
    pub probabilities: Vec<f32>,
}

impl Guess {
    /// From one image's logits: softmax, argmax (the first of equal maxima), computed like the
    /// probabilities in a run's `predictions.csv`.
    pub fn from_logits(logits: &[f32]) -> Guess {
        let (best, max) = logits
            .iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |acc, (i, &v)| {
                    if v > acc.1 { (i, v) } else { acc }
                },
            );
        let exps: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = exps.iter().sum();
        Guess {
            predicted: best as u16,
            probability: 1.0 / sum,
            probabilities: exps.iter().map(|e| e / sum).collect(),
        }
    }

    pub fn is_right(&self, truth: u16) -> bool {
        self.predicted == truth
    }
}

/// One image of a shown sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct ShownImage {
    /// Index into the image set.
    pub image_id: u32,
    pub truth: u16,
    /// Occlusion level (0 = unoccluded).
    pub level: u8,
    /// H×W×C pixels as the models saw them.
    pub occluded: Vec<u8>,
    /// H×W×C pixels without the occluder.
    pub clean: Vec<u8>,
    /// H×W: which pixels the occluder hides.
    pub hidden: Vec<bool>,
    /// One per model, in [`Showcase::models`] order.
    pub guesses: Vec<Guess>,
}

impl ShownImage {
    /// The unoccluded image as RGB, the pixels the occluder hides tinted in the level's colour:
    /// "what was hidden".
    pub fn revealed_rgb(&self, channels: usize) -> Vec<u8> {
        let tint = level_color(self.level);
        let c = channels.max(1);
        self.clean
            .chunks(c)
            .zip(&self.hidden)
            .flat_map(|(px, &hidden)| {
                let rgb = if c >= 3 {
                    [px[0], px[1], px[2]]
                } else {
                    [px[0]; 3]
                };
                if hidden {
                    [0, 1, 2].map(|k| ((rgb[k] as u16 * 2 + tint[k] as u16) / 3) as u8)
                } else {
                    rgb
                }
            })
            .collect()
    }
}

/// One shown sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct ShownSequence {
    /// Index in the sequence set (what `predictions.csv` calls `sequence`).
    pub index: usize,
    /// The pattern it spells (`None` in the random-order control).
    pub pattern: Option<String>,
    pub images: Vec<ShownImage>,
}

impl ShownSequence {
    /// How many of its images model `m` classified right.
    pub fn right(&self, m: usize) -> usize {
        self.images
            .iter()
            .filter(|im| im.guesses.get(m).is_some_and(|g| g.is_right(im.truth)))
            .count()
    }
}

/// Trained runs' guesses on test sequences, ready to draw.
#[derive(Clone, Debug)]
pub struct Showcase {
    pub models: Vec<ShownModel>,
    pub sequences: Vec<ShownSequence>,
    pub class_names: Vec<String>,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub ordering: OrderingSpec,
    /// Sequence length.
    pub t: usize,
    /// Seed the sequences were built from (the first run's).
    pub sequence_seed: u64,
    /// Seed of the order shown (`None`: the set's order).
    pub shuffle_seed: Option<u64>,
    /// The occluders drawn.
    pub occlusion: OcclusionSpec,
    /// Whether those are the first run's own occluders.
    pub occlusion_as_trained: bool,
    /// Test sequences in the set (the showcase holds the first `sequences.len()` of its order).
    pub test_sequences: usize,
    /// The backend the models ran on.
    pub backend: String,
    /// Wall time of [`build`].
    pub elapsed: Duration,
    /// Chosen runs that could not be loaded (a damaged run: the file and the reason); the
    /// others are shown.
    pub skipped: Vec<String>,
}

impl Showcase {
    /// The name of class `class`, or its number.
    pub fn class_name(&self, class: u16) -> String {
        self.class_names
            .get(class as usize)
            .cloned()
            .unwrap_or_else(|| class.to_string())
    }
}

/// A trained model loaded for showing.
pub struct LoadedRun {
    pub shown: ShownModel,
    pub preset: Preset,
    model: Model,
}

/// Image size a data source's images always have, where the source alone tells.
fn known_shape(source: &DataSource) -> Option<[usize; 3]> {
    match source {
        DataSource::EmbeddedDigits => Some([28, 28, 1]),
        DataSource::Cifar10 { .. } => Some([32, 32, 3]),
        DataSource::Letters { config } => Some([config.size, config.size, 1]),
        DataSource::OcrLetters { options, .. } => Some([options.size, options.size, 1]),
        DataSource::Idx { .. }
        | DataSource::Folder { .. }
        | DataSource::Clips { .. }
        | DataSource::Motion { .. } => None,
    }
}

/// Describes a data set in use for messages: "MNIST (28×28×1, 10 classes)".
fn describe(images: &ImageSet) -> String {
    format!(
        "{} ({}×{}×{}, {} classes)",
        images.name,
        images.height,
        images.width,
        images.channels,
        images.num_classes()
    )
}

fn preview(names: &[String]) -> String {
    let mut s = names.iter().take(4).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 4 {
        s.push_str(", …");
    }
    s
}

/// Whether a run's model can be shown on `images`, from what the run's files say without
/// loading its checkpoint: a model, a checkpoint, the classes (count, and names where the run's
/// data source tells them) and the image size (where the source tells it). `Err` says why not.
/// Loading the checkpoint ([`LoadedRun::load`]) also checks every tensor's shape.
pub fn check_fit(summary: &RunSummary, images: &ImageSet) -> Result<(), String> {
    if summary.model.is_none() {
        return Err("not a training run (its preset has no [model])".into());
    }
    if !summary.run().model_path().is_file() {
        return Err("no checkpoint yet (no epoch finished)".into());
    }
    let classes = images.num_classes();
    let trained = summary
        .result
        .as_ref()
        .map(|e| e.test.confusion.len().max(e.test.per_class.len()))
        .filter(|&n| n > 0);
    if let Some(n) = trained
        && n != classes
    {
        return Err(format!(
            "trained on {n} classes, the current data set {} has {classes}",
            describe(images)
        ));
    }
    if Dataset::of(&summary.data).is_some() {
        let names = class_names_for(&summary.data, trained.unwrap_or(classes));
        let same = names.len() == images.class_names.len()
            && names
                .iter()
                .zip(&images.class_names)
                .all(|(a, b)| a.trim().eq_ignore_ascii_case(b.trim()));
        if !same {
            return Err(format!(
                "trained on {} (classes {}), the current data set's classes are {}",
                summary.data.describe(),
                preview(&names),
                preview(&images.class_names)
            ));
        }
    }
    if let Some([h, w, c]) = known_shape(&summary.data)
        && [h, w, c] != [images.height, images.width, images.channels]
    {
        return Err(format!(
            "trained on {h}×{w}×{c} images ({}), the current data set is {}",
            summary.data.describe(),
            describe(images)
        ));
    }
    Ok(())
}

/// A finished run on disk and whether it can be shown on the data set in use.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub summary: RunSummary,
    /// `Err`: why it cannot be shown (see [`check_fit`]).
    pub fit: Result<(), String>,
}

/// The runs under a runs folder that hold a trained model, each with whether it fits `images`,
/// sorted by name.
pub fn candidates(scan: &Scan, images: &ImageSet) -> Vec<Candidate> {
    scan.runs
        .iter()
        .filter(|r| r.model.is_some() && r.result.is_some())
        .map(|r| Candidate {
            summary: r.clone(),
            fit: check_fit(r, images),
        })
        .collect()
}

/// The runs shown unless the user chooses others: the best-scoring run of the CNN family and
/// the best of the CRNN family among those that fit (ties: the later name), CNN first.
pub fn default_runs(candidates: &[Candidate]) -> Vec<PathBuf> {
    let best = |recurrent: bool| {
        candidates
            .iter()
            .filter(|c| c.fit.is_ok())
            .filter(|c| {
                c.summary
                    .model
                    .is_some_and(|k| k.is_recurrent() == recurrent)
            })
            .max_by(|a, b| {
                let acc = |c: &Candidate| c.summary.test_accuracy_percent().unwrap_or(-1.0);
                acc(a)
                    .total_cmp(&acc(b))
                    .then_with(|| a.summary.name.cmp(&b.summary.name))
            })
            .map(|c| c.summary.path.clone())
    };
    [best(false), best(true)].into_iter().flatten().collect()
}

/// The test sequences of `set` (indices into it), in the order they are shown: the set's order,
/// or shuffled by a ChaCha8 stream seeded with `shuffle_seed`.
pub fn presentation_order(set: &SequenceSet, shuffle_seed: Option<u64>) -> Vec<usize> {
    let mut ids: Vec<usize> = set
        .sequences
        .iter()
        .enumerate()
        .filter(|(_, s)| s.split == Split::Test)
        .map(|(i, _)| i)
        .collect();
    if let Some(seed) = shuffle_seed {
        ids.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    }
    ids
}

/// Labels that tell the models apart: the model's name, with the run's name where two runs of
/// the same model are shown.
fn labels(runs: &[(ModelKind, String)]) -> Vec<String> {
    runs.iter()
        .map(|(kind, name)| {
            if runs.iter().filter(|(k, _)| k == kind).count() > 1 {
                format!("{kind} ({name})")
            } else {
                kind.to_string()
            }
        })
        .collect()
}

impl LoadedRun {
    /// Loads a run's model for `images` on `device`; refuses a run trained for other data.
    pub fn load(
        path: &Path,
        images: &ImageSet,
        device: &Device,
    ) -> Result<LoadedRun, ShowcaseError> {
        let run = RunDir::open(path)?;
        let summary = tables::summarize(&run)?;
        let misfit = |message: String| ShowcaseError::Misfit {
            path: path.to_path_buf(),
            message,
        };
        check_fit(&summary, images).map_err(misfit)?;
        let trained = TrainedModel::open(&run, images, device).map_err(|e| match e {
            OpenError::NoModel { .. } => misfit("no [model]".into()),
            e if e.is_misfit() => misfit(format!(
                "its checkpoint does not fit the current data set {}: {e}",
                describe(images)
            )),
            OpenError::Run(e) => ShowcaseError::Run(e),
            e => ShowcaseError::Model {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
        let kind = trained.config.kind;
        Ok(LoadedRun {
            shown: ShownModel {
                label: kind.to_string(),
                run: summary.name.clone(),
                path: path.to_path_buf(),
                kind,
                test_accuracy: summary.result.as_ref().map(|e| e.test.accuracy()),
            },
            preset: trained.preset,
            model: trained.model,
        })
    }
}

/// Every model's guess for every image of the sequences `ids` of `set` (test sequences), with
/// the images' pixels, occluded by `spec`.
pub fn predict(
    runs: &[LoadedRun],
    images: &ImageSet,
    set: &SequenceSet,
    spec: &OcclusionSpec,
    ids: &[usize],
    device: &Device,
) -> Result<Vec<ShownSequence>, ShowcaseError> {
    let picked = ids
        .iter()
        .map(|&i| match set.sequences.get(i) {
            Some(s) if s.split == Split::Test => Ok(s.clone()),
            _ => Err(ShowcaseError::NotATestSequence {
                index: i,
                count: set.sequences.len(),
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let data = SequenceData::render(images, &picked, spec);
    let classes = images.num_classes();
    let per_image = images.image_len();
    let mean = images.channel_means();
    let dims = (images.height, images.width, images.channels);

    // guesses[m][k]: model m's guess for image k of the concatenated sequences.
    let mut guesses: Vec<Vec<Guess>> = vec![Vec::with_capacity(data.n * data.t); runs.len()];
    let all: Vec<usize> = (0..data.n).collect();
    for chunk in all.chunks(BATCH) {
        let batch = data.batch(chunk);
        let x = Tensor::<5>::from_data(TensorData::new(batch.images, batch.shape), device);
        for (m, run) in runs.iter().enumerate() {
            let logits = run.model.forward(x.clone()).into_data();
            let values = logits
                .as_slice::<f32>()
                .map_err(|e| ShowcaseError::Tensor(format!("{e:?}")))?;
            guesses[m].extend(values.chunks(classes).map(Guess::from_logits));
        }
    }

    let mut out = Vec::with_capacity(picked.len());
    for (s, seq) in picked.iter().enumerate() {
        let mut shown = Vec::with_capacity(seq.images.len());
        for pos in 0..seq.images.len() {
            let k = s * data.t + pos;
            let clean = images.image(seq.images[pos] as usize).to_vec();
            let mut occluded = clean.clone();
            let hidden = spec.occlude_seeded(
                &mut occluded,
                dims,
                seq.levels[pos],
                &mean,
                image_seed(seq.occlusion_seed, seq.images[pos] as usize),
            );
            debug_assert_eq!(occluded, data.pixels[k * per_image..(k + 1) * per_image]);
            shown.push(ShownImage {
                image_id: seq.images[pos],
                truth: seq.labels[pos],
                level: seq.levels[pos],
                occluded,
                clean,
                hidden,
                guesses: guesses.iter().map(|g| g[k].clone()).collect(),
            });
        }
        out.push(ShownSequence {
            index: ids[s],
            pattern: seq
                .pattern
                .and_then(|p| set.pattern_names.get(p as usize).cloned()),
            images: shown,
        });
    }
    Ok(out)
}

/// Builds the showcase `request` asks for on `images` (the data set in use). Blocks: loading
/// and predicting take a while; the GUI runs it on a background thread.
pub fn build(request: &ShowcaseRequest, images: Arc<ImageSet>) -> Result<Showcase, ShowcaseError> {
    let started = Instant::now();
    if request.runs.is_empty() {
        return Err(ShowcaseError::NoRuns);
    }
    let chosen = choose_device(request.backend).map_err(ShowcaseError::Backend)?;
    // A run that cannot be loaded (damaged, or trained for other data) is skipped with its
    // reason, and the others are shown; with none left, the first reason is the error.
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    let mut first_error = None;
    for p in &request.runs {
        match LoadedRun::load(p, &images, &chosen.device) {
            Ok(run) => runs.push(run),
            Err(e) => {
                skipped.push(format!("skipped {}: {e}", p.display()));
                first_error.get_or_insert(e);
            }
        }
    }
    if runs.is_empty()
        && let Some(e) = first_error
    {
        return Err(e);
    }

    // The sequences the first run was tested on, on the current images.
    let mut preset = runs[0].preset.clone();
    preset.sequences.ordering = request.ordering;
    let occlusion_as_trained = request
        .occlusion
        .as_ref()
        .is_none_or(|spec| *spec == preset.occlusion);
    if let Some(spec) = &request.occlusion {
        preset.occlusion = spec.clone();
    }
    let prepared = dataset::prepare_with(&preset, images.clone(), Duration::ZERO)?;
    let mut order = presentation_order(&prepared.sequences, request.shuffle_seed);
    let test_sequences = order.len();
    if test_sequences == 0 {
        return Err(ShowcaseError::NoTestSequences);
    }
    if request.count > 0 {
        order.truncate(request.count);
    }
    let sequences = predict(
        &runs,
        &images,
        &prepared.sequences,
        &preset.occlusion,
        &order,
        &chosen.device,
    )?;

    let names: Vec<(ModelKind, String)> = runs
        .iter()
        .map(|r| (r.shown.kind, r.shown.run.clone()))
        .collect();
    let models = runs
        .into_iter()
        .zip(labels(&names))
        .map(|(r, label)| ShownModel { label, ..r.shown })
        .collect();
    Ok(Showcase {
        models,
        sequences,
        class_names: images.class_names.clone(),
        height: images.height,
        width: images.width,
        channels: images.channels,
        ordering: request.ordering,
        t: prepared.sequences.t,
        sequence_seed: prepared.sequences.seed,
        shuffle_seed: request.shuffle_seed,
        occlusion: preset.occlusion,
        occlusion_as_trained,
        test_sequences,
        backend: chosen.name,
        elapsed: started.elapsed(),
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guess_is_the_softmax_and_its_argmax() {
        let g = Guess::from_logits(&[1.0, 3.0, 0.5, 3.0]);
        assert_eq!(g.predicted, 1, "the first of equal maxima");
        let sum: f32 = g.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6);
        assert_eq!(g.probability, g.probabilities[1]);
        assert!((g.probabilities[1] - g.probabilities[3]).abs() < 1e-7);
        // e^1 / (e^1 + 2 e^3 + e^0.5)
        let e = |x: f32| x.exp();
        assert!((g.probabilities[0] - e(1.0) / (e(1.0) + 2.0 * e(3.0) + e(0.5))).abs() < 1e-6);
        assert!(g.is_right(1) && !g.is_right(3));
    }

    #[test]
    fn labels_name_the_run_only_where_a_model_repeats() {
        let l = labels(&[
            (ModelKind::Cnn, "a".into()),
            (ModelKind::Crnn, "b".into()),
            (ModelKind::Crnn, "c".into()),
        ]);
        assert_eq!(l, ["CNN", "CRNN (b)", "CRNN (c)"]);
    }

    #[test]
    fn revealed_pixels_are_tinted_only_where_hidden() {
        let im = ShownImage {
            image_id: 0,
            truth: 0,
            level: 3,
            occluded: vec![0, 0],
            clean: vec![90, 200],
            hidden: vec![true, false],
            guesses: Vec::new(),
        };
        let rgb = im.revealed_rgb(1);
        let tint = level_color(3);
        assert_eq!(&rgb[3..], &[200, 200, 200]);
        assert_eq!(
            &rgb[..3],
            &[0, 1, 2].map(|k| ((90u16 * 2 + tint[k] as u16) / 3) as u8)
        );
    }
}
