//! Experiment presets: one TOML file says which images, which occluders, which sequences (and,
//! for training, which model and hyperparameters). The CLI, the GUI and `reproduce` read the same
//! files; a run directory stores the exact preset it ran.

use crate::data::source::DataSource;
use crate::model::resnet::StemKind;
use crate::model::rrn::{SkipPosition, SkipType};
use crate::model::{ModelConfig, ModelKind};
use crate::occlusion::OcclusionSpec;
use crate::sequence::builder::TestPatterns;
use crate::sequence::patterns::{
    MAX_T, Pattern, PatternError, PatternLibrary, ProgressionOptions, Wrap,
};
use crate::train::TrainConfig;
use std::path::Path;

/// The largest preset file read (the shipped ones are under 2 KiB).
pub const MAX_PRESET_BYTES: u64 = 1 << 20;

/// A whole experiment description.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub data: DataSource,
    #[serde(default)]
    pub occlusion: OcclusionSpec,
    pub sequences: SequenceSpec,
    /// The model to train (training presets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSpec>,
    /// Training hyperparameters (training presets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainConfig>,
}

/// Which model, with its options (the `[model]` section). Image size and class count come from the
/// data.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// "CNN", "CNN-2-S", "CNN-4-S", "CRNN", "CRNN-2-S" or "CRNN-4-S" (paper A); "ResNet", "RRN",
    /// "ResNet-Avg" or "ResNet-GRU" (paper B).
    pub kind: ModelKind,
    /// LSTM units d (paper: 256).
    #[serde(default = "default_lstm")]
    pub lstm_hidden: usize,
    /// Dropout at the end of the CNN unit.
    #[serde(default = "default_dropout")]
    pub cnn_dropout: f64,
    /// Dropout on the LSTM outputs.
    #[serde(default = "default_dropout")]
    pub lstm_dropout: f64,
    /// Paper B: channels of Block1–Block4.
    #[serde(default = "default_widths", skip_serializing_if = "is_default_widths")]
    pub widths: [usize; 4],
    /// Paper B: residual units in Block1–Block4.
    #[serde(default = "default_units", skip_serializing_if = "is_default_units")]
    pub units: [usize; 4],
    /// Paper B: "auto", "small" (3×3) or "large" (7×7 + pooling) stem.
    #[serde(default, skip_serializing_if = "is_default")]
    pub stem: StemKind,
    /// RRN: "none", "identity", "linear" or "non_linear".
    #[serde(default, skip_serializing_if = "is_default")]
    pub skip: SkipType,
    /// RRN: "block1", "block2", "mid_block4" or "block4".
    #[serde(default, skip_serializing_if = "is_default")]
    pub skip_position: SkipPosition,
    /// RRN: frames each output sees (T − 1 temporal skip connections).
    #[serde(
        default = "default_context",
        skip_serializing_if = "is_default_context"
    )]
    pub temporal_context: usize,
    /// ResNet-Avg / ResNet-GRU: features after block 2, 3 or 4.
    #[serde(default = "default_block", skip_serializing_if = "is_default_block")]
    pub feature_block: usize,
    /// ResNet-Avg / ResNet-GRU: z-normalise the frame features.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub z_norm: bool,
    /// ResNet-GRU: GRU units.
    #[serde(default = "default_gru", skip_serializing_if = "is_default_gru")]
    pub gru_hidden: usize,
    /// Paper B's models: dropout before the classifier.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub head_dropout: f64,
}

fn default_widths() -> [usize; 4] {
    [16, 32, 64, 128]
}
fn is_default_widths(w: &[usize; 4]) -> bool {
    *w == default_widths()
}
fn default_units() -> [usize; 4] {
    [2, 2, 2, 2]
}
fn is_default_units(u: &[usize; 4]) -> bool {
    *u == default_units()
}
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
fn default_context() -> usize {
    2
}
fn is_default_context(v: &usize) -> bool {
    *v == default_context()
}
fn default_block() -> usize {
    4
}
fn is_default_block(v: &usize) -> bool {
    *v == default_block()
}
fn is_true(v: &bool) -> bool {
    *v
}
fn default_gru() -> usize {
    128
}
fn is_default_gru(v: &usize) -> bool {
    *v == default_gru()
}
fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn default_lstm() -> usize {
    256
}
fn default_dropout() -> f64 {
    0.25
}

impl ModelSpec {
    pub fn new(kind: ModelKind) -> Self {
        ModelSpec {
            kind,
            lstm_hidden: default_lstm(),
            cnn_dropout: default_dropout(),
            lstm_dropout: default_dropout(),
            widths: default_widths(),
            units: default_units(),
            stem: StemKind::Auto,
            skip: SkipType::default(),
            skip_position: SkipPosition::default(),
            temporal_context: default_context(),
            feature_block: default_block(),
            z_norm: true,
            gru_hidden: default_gru(),
            head_dropout: 0.0,
        }
    }

    /// The Burn model config for images of `channels`×`height`×`width` and `classes` classes.
    pub fn config(
        &self,
        channels: usize,
        height: usize,
        width: usize,
        classes: usize,
    ) -> ModelConfig {
        ModelConfig::new(self.kind, channels, height, width, classes)
            .with_lstm_hidden(self.lstm_hidden)
            .with_cnn_dropout(self.cnn_dropout)
            .with_lstm_dropout(self.lstm_dropout)
            .with_resnet_widths(self.widths)
            .with_resnet_units(self.units)
            .with_resnet_stem(self.stem)
            .with_skip(self.skip)
            .with_skip_position(self.skip_position)
            .with_temporal_context(self.temporal_context)
            .with_feature_block(self.feature_block)
            .with_z_norm(self.z_norm)
            .with_gru_hidden(self.gru_hidden)
            .with_head_dropout(self.head_dropout)
    }
}

/// Patterned sequences, or the same images in random order (the control): the sequence layer's
/// [`Ordering`](crate::sequence::builder::Ordering), under the name presets have always used.
pub use crate::sequence::builder::Ordering as OrderingSpec;
pub use crate::sequence::clip_data::ClipOutput;

/// Which patterns the sequences follow.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "library", rename_all = "kebab-case")]
pub enum LibrarySpec {
    /// Arithmetic progressions over the digits 0–9 (paper A's 0-1-2-3-4, 1-3-5-7-9 and kin).
    DigitProgressions {
        #[serde(default = "default_steps")]
        steps: Vec<usize>,
        #[serde(default = "yes")]
        ascending: bool,
        #[serde(default = "yes")]
        descending: bool,
        #[serde(default)]
        wrap: Wrap,
    },
    /// Progressions over the data set's own classes, named by class (CIFAR-10).
    LabelProgressions {
        #[serde(default = "default_steps")]
        steps: Vec<usize>,
        #[serde(default = "yes")]
        ascending: bool,
        #[serde(default = "yes")]
        descending: bool,
        #[serde(default)]
        wrap: Wrap,
    },
    /// Six-letter American and Canadian city names (T = 6; chains of names for T = 12, 18, …).
    Cities,
    /// Real handwritten words (OCR letters only): every sequence is a window of T consecutive
    /// letters of one word as its writer wrote it; the context is English spelling, not a designed
    /// pattern. See `crate::sequence::words`.
    Words,
    /// The user's own patterns, one string each ("0-1-2-3-4", "BOSTON", "cat,dog,cat,dog,cat").
    Custom { patterns: Vec<String> },
    /// Clip sources (video frame folders, motion clips): every sequence is a subsequence of T
    /// sampled frames of one video, labelled with the video's class at every step (paper B). See
    /// `crate::sequence::clip_data`.
    Clips {
        /// Subsequences per video (M), spread evenly over it; none: as many non-overlapping as fit.
        #[serde(default)]
        per_video: Option<usize>,
        /// Which of the model's per-frame outputs is the subsequence's.
        #[serde(default)]
        output: ClipOutput,
        /// Hide every video behind one occluder (level drawn from the occlusion level mix);
        /// false: unoccluded.
        #[serde(default = "yes")]
        occlude: bool,
    },
}

fn default_steps() -> Vec<usize> {
    vec![1, 2]
}
fn yes() -> bool {
    true
}

/// How the sequences are built.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceSpec {
    /// Sequence length T (5–30 in paper A).
    pub t: usize,
    #[serde(default)]
    pub ordering: OrderingSpec,
    pub patterns: LibrarySpec,
    /// Seeds the image assignment, the occlusion levels and the occluders.
    #[serde(default)]
    pub seed: u64,
    /// Largest number of sequences of any one pattern (per split).
    #[serde(default)]
    pub cap: Option<u32>,
    /// Balance floor: every buildable pattern gets at least this share of an even split of the
    /// sequences (0 = no floor, 1 = all patterns equal; see the planner).
    #[serde(default)]
    pub min_share: f64,
    /// Keep at most this many sequences of each split (train, test): quick runs on a subset.
    #[serde(default)]
    pub limit: Option<usize>,
    /// `"trained"`: the test split is planned over the patterns the training split was given
    /// (no test sequence of a pattern never trained); `"all"` (the default, left out of the
    /// file): each split planned on its own.
    #[serde(default, skip_serializing_if = "TestPatterns::is_all")]
    pub test_patterns: TestPatterns,
}

/// A preset file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a valid preset: {message}", path.display())]
    Parse {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("preset {name}: {source}")]
    Patterns {
        name: String,
        #[source]
        source: PatternError,
    },
}

impl Preset {
    /// Reads a preset TOML file. A relative path that does not exist but names one of the
    /// presets built into occlab (`presets/quiz/mnist.toml`, see [`super::builtin`]) reads that
    /// one, so the shipped presets work from any folder.
    pub fn load(path: &Path) -> Result<Self, PresetError> {
        let text = match crate::data::read_bounded_text(path, MAX_PRESET_BYTES) {
            Ok(text) => text,
            Err(source) => {
                let builtin = (source.kind() == std::io::ErrorKind::NotFound)
                    .then(|| super::builtin::lookup(path))
                    .flatten();
                match builtin.map(std::str::from_utf8) {
                    Some(Ok(text)) => return Self::parse(text, path),
                    _ => {
                        return Err(PresetError::Io {
                            path: path.into(),
                            source,
                        });
                    }
                }
            }
        };
        Self::parse(&text, path)
    }

    /// Parses preset TOML; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, PresetError> {
        let preset: Preset = toml::from_str(text).map_err(|e| PresetError::Parse {
            path: origin.into(),
            message: e.to_string(),
        })?;
        // What the rest of occlab sizes its buffers by: checked here, with the file named.
        let t = preset.sequences.t;
        if !(1..=MAX_T).contains(&t) {
            return Err(PresetError::Parse {
                path: origin.into(),
                message: format!("sequences.t = {t} is outside 1–{MAX_T}"),
            });
        }
        if let Some(train) = &preset.train {
            train.check().map_err(|message| PresetError::Parse {
                path: origin.into(),
                message,
            })?;
        }
        Ok(preset)
    }

    /// The preset as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a preset always serialises")
    }

    /// Writes the preset as TOML.
    pub fn save(&self, path: &Path) -> Result<(), PresetError> {
        std::fs::write(path, self.to_toml()).map_err(|source| PresetError::Io {
            path: path.into(),
            source,
        })
    }

    /// The pattern library the preset names, for a data set with `class_names`.
    pub fn library(&self, class_names: &[String]) -> Result<PatternLibrary, PresetError> {
        let t = self.sequences.t;
        let wrap_err = |source| PresetError::Patterns {
            name: self.name.clone(),
            source,
        };
        let opts = |steps: &Vec<usize>, ascending: bool, descending: bool, wrap: Wrap| {
            ProgressionOptions {
                t,
                steps: steps.clone(),
                ascending,
                descending,
                wrap,
            }
        };
        let lib = match &self.sequences.patterns {
            LibrarySpec::DigitProgressions {
                steps,
                ascending,
                descending,
                wrap,
            } => PatternLibrary::digits(&opts(steps, *ascending, *descending, *wrap))
                .map_err(wrap_err)?,
            LibrarySpec::LabelProgressions {
                steps,
                ascending,
                descending,
                wrap,
            } => PatternLibrary::label_progressions(
                "label progressions",
                class_names,
                &opts(steps, *ascending, *descending, *wrap),
            )
            .map_err(wrap_err)?,
            LibrarySpec::Cities => PatternLibrary::cities_for_length(t).map_err(wrap_err)?,
            LibrarySpec::Words => {
                return Err(wrap_err(PatternError::FromData {
                    library: "real words".into(),
                }));
            }
            LibrarySpec::Custom { patterns } => {
                PatternLibrary::parse("custom", &patterns.join("\n")).map_err(wrap_err)?
            }
            LibrarySpec::Clips { .. } => {
                // Clip data: the videos are the sequences' sources, and a subsequence carries its
                // video's class at every step: one constant pattern per class.
                return Ok(PatternLibrary {
                    name: format!("video clips T={t}"),
                    kind: crate::sequence::patterns::LibraryKind::UserDefined,
                    patterns: class_names
                        .iter()
                        .map(|c| Pattern::named(format!("{c} ×{t}"), vec![c.clone(); t]))
                        .collect(),
                });
            }
        };
        lib.validate(class_names, t).map_err(wrap_err)?;
        Ok(lib)
    }
}
