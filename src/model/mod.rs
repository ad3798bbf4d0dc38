//! The six models of paper A as one Burn module.
//!
//! Every model takes a batch of image sequences `[batch, T, C, H, W]` and returns logits for every
//! image, `[batch, T, classes]`. The CNN family (CNN, CNN-2-S, CNN-4-S) classifies each image alone:
//! T is folded into the batch. The CRNN family runs the same CNN unit on `[batch·T, C, H, W]`,
//! unfolds the features to `[batch, T, c]` and classifies every step after an LSTM.
//!
//! ```no_run
//! use burn::tensor::{Device, Tensor};
//! use occlab::model::{ModelConfig, ModelKind};
//!
//! let device = Device::flex();
//! let model = ModelConfig::new(ModelKind::Crnn, 1, 28, 28, 10).init(&device);
//! let logits = model.forward(Tensor::zeros([32, 5, 1, 28, 28], &device));
//! assert_eq!(logits.dims(), [32, 5, 10]);
//! ```

pub mod baselines;
pub mod cnn;
pub mod conv;
pub mod crnn;
pub mod dropout;
mod flex_op;
pub mod gate_upgrade;
pub mod pool;
pub mod precision;
pub mod recurrence;
pub mod resnet;
pub mod rrn;
pub mod skip;

use std::fmt;
use std::str::FromStr;

use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use cnn::{CnnUnit, CnnUnitConfig, DenseHead, Downsampling};
use crnn::RecurrentHead;
pub use precision::Precision;
use resnet::StemKind;
use rrn::{ResNetModel, RrnConfigError, SkipPosition, SkipType};

/// Which of paper A's six models. Displays, parses and serializes as the paper's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModelKind {
    /// CNN unit with max pooling, per-image classifier.
    #[serde(rename = "CNN", alias = "Cnn")]
    Cnn,
    /// Stride 2 in both conv layers instead of pooling, per-image classifier.
    #[serde(rename = "CNN-2-S", alias = "Cnn2S")]
    Cnn2S,
    /// An extra stride-2 conv after each conv layer, per-image classifier.
    #[serde(rename = "CNN-4-S", alias = "Cnn4S")]
    Cnn4S,
    /// CNN unit with max pooling, LSTM, classifier at every step.
    #[serde(rename = "CRNN", alias = "Crnn")]
    Crnn,
    /// CNN-2-S unit, LSTM, classifier at every step.
    #[serde(rename = "CRNN-2-S", alias = "Crnn2S")]
    Crnn2S,
    /// CNN-4-S unit, LSTM, classifier at every step.
    #[serde(rename = "CRNN-4-S", alias = "Crnn4S")]
    Crnn4S,
    /// Paper B: a ResNet with batch norm classifying every frame alone (temporal context 1).
    #[serde(rename = "ResNet", alias = "Resnet")]
    ResNet,
    /// Paper B: recurrent residual network, a ResNet with temporal skip connections
    /// (`ModelConfig::skip`, `skip_position`, `temporal_context`).
    #[serde(rename = "RRN", alias = "Rrn")]
    Rrn,
    /// Paper B's baseline: frame features after block 2, 3 or 4 averaged over the clip
    /// (optionally z-normalised), linear classifier.
    #[serde(rename = "ResNet-Avg", alias = "ResNetAvg")]
    ResNetAvg,
    /// Paper B's baseline: a GRU (128 units) over the frame features after block 2, 3 or 4.
    #[serde(rename = "ResNet-GRU", alias = "ResNetGru")]
    ResNetGru,
}

impl ModelKind {
    /// Paper A's six, in the order of its tables (per-image models first).
    pub const ALL: [ModelKind; 6] = [
        ModelKind::Cnn2S,
        ModelKind::Cnn4S,
        ModelKind::Cnn,
        ModelKind::Crnn2S,
        ModelKind::Crnn4S,
        ModelKind::Crnn,
    ];

    /// Paper B's models (the residual family).
    pub const PAPER_B: [ModelKind; 4] = [
        ModelKind::ResNetAvg,
        ModelKind::ResNetGru,
        ModelKind::ResNet,
        ModelKind::Rrn,
    ];

    /// Every model occlab builds: paper A's six, then paper B's four.
    pub const EVERY: [ModelKind; 10] = {
        let mut every = [ModelKind::Cnn; 10];
        let mut i = 0;
        while i < every.len() {
            every[i] = if i < Self::ALL.len() {
                Self::ALL[i]
            } else {
                Self::PAPER_B[i - Self::ALL.len()]
            };
            i += 1;
        }
        every
    };

    /// Whether this is one of paper B's residual models.
    pub fn is_paper_b(self) -> bool {
        Self::PAPER_B.contains(&self)
    }

    /// Whether a step's output depends on other frames than its own (CRNN family, RRN, the
    /// clip-level baselines).
    pub fn uses_context(self) -> bool {
        self.is_recurrent()
            || matches!(
                self,
                ModelKind::Rrn | ModelKind::ResNetAvg | ModelKind::ResNetGru
            )
    }

    /// The paper's name: "CNN", "CNN-2-S", …, "CRNN-4-S", "ResNet", "RRN", "ResNet-Avg",
    /// "ResNet-GRU".
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Cnn => "CNN",
            ModelKind::Cnn2S => "CNN-2-S",
            ModelKind::Cnn4S => "CNN-4-S",
            ModelKind::Crnn => "CRNN",
            ModelKind::Crnn2S => "CRNN-2-S",
            ModelKind::Crnn4S => "CRNN-4-S",
            ModelKind::ResNet => "ResNet",
            ModelKind::Rrn => "RRN",
            ModelKind::ResNetAvg => "ResNet-Avg",
            ModelKind::ResNetGru => "ResNet-GRU",
        }
    }

    /// Whether the model has the LSTM (uses the context of the sequence).
    pub fn is_recurrent(self) -> bool {
        matches!(
            self,
            ModelKind::Crnn | ModelKind::Crnn2S | ModelKind::Crnn4S
        )
    }

    /// How its CNN unit downsamples (paper B's models have no CNN unit: `MaxPool`, unused).
    pub fn downsampling(self) -> Downsampling {
        match self {
            ModelKind::Cnn | ModelKind::Crnn => Downsampling::MaxPool,
            ModelKind::ResNet | ModelKind::Rrn | ModelKind::ResNetAvg | ModelKind::ResNetGru => {
                Downsampling::MaxPool
            }
            ModelKind::Cnn2S | ModelKind::Crnn2S => Downsampling::Strided,
            ModelKind::Cnn4S | ModelKind::Crnn4S => Downsampling::ExtraStridedConv,
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names none of the models.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown model {0:?}; expected one of CNN, CNN-2-S, CNN-4-S, CRNN, CRNN-2-S, CRNN-4-S, ResNet, RRN, ResNet-Avg, ResNet-GRU"
)]
pub struct ParseModelKindError(pub String);

impl FromStr for ModelKind {
    type Err = ParseModelKindError;

    /// Parses the paper's names, ignoring case, hyphens, underscores and spaces
    /// ("crnn-2-s", "CRNN2S", "Crnn2S" all work).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        ModelKind::EVERY
            .into_iter()
            .find(|kind| kind.name().replace('-', "").to_ascii_uppercase() == key)
            .ok_or_else(|| ParseModelKindError(s.to_string()))
    }
}

/// Everything needed to build a model; saved beside the checkpoint (`Config::save`, JSON).
#[derive(Config, Debug)]
pub struct ModelConfig {
    /// Which of the six models.
    pub kind: ModelKind,
    /// Image channels (1 for MNIST / EMNIST, 3 for CIFAR-10).
    pub in_channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Number of classes (10 or 26).
    pub num_classes: usize,
    /// Filters of the two conv layers of the CNN unit (paper: 32, 64).
    #[config(default = "[32, 64]")]
    pub filters: [usize; 2],
    /// LSTM units d (paper: 256). CRNN family only.
    #[config(default = 256)]
    pub lstm_hidden: usize,
    /// Hidden dense layer of the per-image classifier, 0 for none (Keras-era default 128).
    /// CNN family only.
    #[config(default = 128)]
    pub dense_hidden: usize,
    /// Dropout at the end of the CNN unit (Keras-era 0.25).
    #[config(default = 0.25)]
    pub cnn_dropout: f64,
    /// Dropout on the LSTM outputs, before the classifier. CRNN family only.
    #[config(default = 0.25)]
    pub lstm_dropout: f64,
    /// Dropout after the hidden dense layer (Keras-era 0.5). CNN family only.
    #[config(default = 0.5)]
    pub dense_dropout: f64,
    /// Paper B: channels of the ResNet's Block1–Block4.
    #[config(default = "[16, 32, 64, 128]")]
    pub resnet_widths: [usize; 4],
    /// Paper B: residual units in Block1–Block4 (`[2, 2, 2, 2]`: ResNet-18's layout).
    #[config(default = "[2, 2, 2, 2]")]
    pub resnet_units: [usize; 4],
    /// Paper B: the ResNet's stem (small 3×3 for small images, ResNet-18's 7×7 + pooling for
    /// large frames; `Auto` picks by image size).
    #[config(default = "StemKind::Auto")]
    pub resnet_stem: StemKind,
    /// RRN: the temporal skip connection's type.
    #[config(default = "SkipType::Identity")]
    pub skip: SkipType,
    /// RRN: where the temporal skip connections end.
    #[config(default = "SkipPosition::Block4")]
    pub skip_position: SkipPosition,
    /// RRN: frames each output sees (T − 1 temporal skip connections).
    #[config(default = 2)]
    pub temporal_context: usize,
    /// ResNet-Avg / ResNet-GRU: the block (2, 3 or 4) after which the frame features are taken.
    #[config(default = 4)]
    pub feature_block: usize,
    /// ResNet-Avg / ResNet-GRU: z-normalise the frame features.
    #[config(default = true)]
    pub z_norm: bool,
    /// ResNet-GRU: GRU units (paper B: 128).
    #[config(default = 128)]
    pub gru_hidden: usize,
    /// Paper B's models: dropout before the classifier.
    #[config(default = 0.0)]
    pub head_dropout: f64,
}

impl ModelConfig {
    /// The CNN unit's configuration.
    pub fn cnn_unit(&self) -> CnnUnitConfig {
        CnnUnitConfig {
            in_channels: self.in_channels,
            filters: self.filters,
            downsampling: self.kind.downsampling(),
            dropout: self.cnn_dropout,
        }
    }

    /// Length c of the per-image feature vector the CNN unit (or, for paper B's models, the
    /// ResNet) produces.
    pub fn feature_len(&self) -> usize {
        if self.kind.is_paper_b() {
            return rrn::backbone_config(self).feature_len();
        }
        self.cnn_unit().output_len(self.height, self.width)
    }

    /// Checks the options that can be inconsistent (paper B's skip placement, feature block).
    pub fn validate(&self) -> Result<(), RrnConfigError> {
        rrn::validate(self)
    }

    /// Builds the model with freshly initialised weights on `device` (use an autodiff device,
    /// `device.autodiff()`, to train it). Paper B's options are used as far as they fit; call
    /// [`validate`](Self::validate) first to be told when they do not.
    pub fn init(&self, device: &Device) -> Model {
        if self.kind.is_paper_b() {
            return Model {
                unit: None,
                dense: None,
                recurrent: None,
                resnet: Some(ResNetModel::new(self, device)),
            };
        }
        let features = self.feature_len();
        let (dense, recurrent) = if self.kind.is_recurrent() {
            let head = RecurrentHead::new(
                features,
                self.lstm_hidden,
                self.lstm_dropout,
                self.num_classes,
                device,
            );
            (None, Some(head))
        } else {
            let head = DenseHead::new(
                features,
                self.dense_hidden,
                self.dense_dropout,
                self.num_classes,
                device,
            );
            (Some(head), None)
        };
        Model {
            unit: Some(self.cnn_unit().init(device)),
            dense,
            recurrent,
            resnet: None,
        }
    }
}

/// Any of the models: paper A's CNN unit and either a per-image or a recurrent head, or one of
/// paper B's residual models.
#[derive(Module, Debug)]
pub struct Model {
    /// Paper A's models.
    unit: Option<CnnUnit>,
    /// CNN family.
    dense: Option<DenseHead>,
    /// CRNN family.
    recurrent: Option<RecurrentHead>,
    /// Paper B's models.
    resnet: Option<ResNetModel>,
}

impl Model {
    /// The model computing its convolutions and big products in `precision` (see
    /// [`precision`]); the weights are the same. Refuses mixed precision for paper B's residual
    /// models, which occlab trains in f32 only (their convolutions are Burn's layers).
    pub fn with_precision(self, precision: Precision) -> Result<Self, String> {
        if precision.is_mixed() && self.resnet.is_some() {
            return Err(format!(
                "precision = \"{precision}\" covers paper A's models (CNN, CRNN and their \
                 variants); paper B's residual models train in f32"
            ));
        }
        Ok(Self {
            unit: self.unit.map(|u| u.with_precision(precision)),
            dense: self.dense.map(|d| d.with_precision(precision)),
            recurrent: self.recurrent.map(|r| r.with_precision(precision)),
            resnet: self.resnet,
        })
    }

    /// Logits for every image of every sequence.
    ///
    /// # Shapes
    /// - `images`: `[batch, T, channels, height, width]`
    /// - output: `[batch, T, classes]`
    pub fn forward(&self, images: Tensor<5>) -> Tensor<3> {
        if let Some(resnet) = &self.resnet {
            return resnet.forward(images); // [batch, T, classes]
        }
        let Some(unit) = &self.unit else {
            unreachable!("ModelConfig::init always builds a CNN unit or a ResNet")
        };
        let [batch, steps, channels, height, width] = images.dims();
        let x = images.reshape([batch * steps, channels, height, width]); // [batch·T, C, H, W]
        let features = unit.forward(x); // [batch·T, c]
        match (&self.recurrent, &self.dense) {
            (Some(recurrent), _) => {
                let [_, c] = features.dims();
                let x = features.reshape([batch, steps, c]); // [batch, T, c]
                recurrent.forward(x) // [batch, T, classes]
            }
            (None, Some(dense)) => {
                let logits = dense.forward(features); // [batch·T, classes]
                let [_, classes] = logits.dims();
                logits.reshape([batch, steps, classes]) // [batch, T, classes]
            }
            (None, None) => unreachable!("ModelConfig::init always builds one head"),
        }
    }

    /// Whether this model has the LSTM.
    pub fn is_recurrent(&self) -> bool {
        self.recurrent.is_some()
    }

    /// Paper B's residual model, if this is one.
    pub fn resnet(&self) -> Option<&ResNetModel> {
        self.resnet.as_ref()
    }
}

/// Mean cross-entropy over every image of every sequence (the paper's loss: softmax at every
/// time step, averaged).
///
/// # Shapes
/// - `logits`: `[batch, T, classes]`
/// - `targets`: `[batch, T]` class indices
/// - output: `[1]`
pub fn sequence_cross_entropy(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
    let [batch, steps, classes] = logits.dims();
    let loss = CrossEntropyLossConfig::new().init(&logits.device());
    loss.forward(
        logits.reshape([batch * steps, classes]), // [batch·T, classes]
        targets.reshape([batch * steps]),         // [batch·T]
    )
}

/// The predicted class of every image.
///
/// # Shapes
/// - `logits`: `[batch, T, classes]`
/// - output: `[batch, T]`
pub fn predictions(logits: Tensor<3>) -> Tensor<2, Int> {
    let [batch, steps, _] = logits.dims();
    logits.argmax(2).reshape([batch, steps])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::{Distribution, TensorData};

    fn device() -> Device {
        Device::flex()
    }

    #[test]
    fn every_kind_gives_logits_per_step() {
        let device = device();
        for kind in ModelKind::ALL {
            for (channels, size, classes) in [(1, 28, 10), (3, 32, 10)] {
                let model = ModelConfig::new(kind, channels, size, size, classes)
                    .with_lstm_hidden(32)
                    .init(&device);
                assert_eq!(model.is_recurrent(), kind.is_recurrent());
                for steps in [5, 6, 30] {
                    let images = Tensor::random(
                        [2, steps, channels, size, size],
                        Distribution::Default,
                        &device,
                    );
                    let logits = model.forward(images);
                    assert_eq!(logits.dims(), [2, steps, classes], "{kind} T={steps}");
                }
            }
        }
    }

    #[test]
    fn feature_lengths_follow_the_paper() {
        let len = |kind| ModelConfig::new(kind, 1, 28, 28, 10).feature_len();
        assert_eq!(len(ModelKind::Crnn), 14 * 14 * 64);
        assert_eq!(len(ModelKind::Crnn2S), 7 * 7 * 64);
        assert_eq!(len(ModelKind::Crnn4S), 7 * 7 * 64);
        let len = |kind| ModelConfig::new(kind, 3, 32, 32, 10).feature_len();
        assert_eq!(len(ModelKind::Cnn), 16 * 16 * 64);
        assert_eq!(len(ModelKind::Cnn2S), 8 * 8 * 64);
        assert_eq!(len(ModelKind::Cnn4S), 8 * 8 * 64);
    }

    #[test]
    fn names_display_parse_and_serialize() {
        for kind in ModelKind::ALL {
            assert_eq!(kind.to_string().parse::<ModelKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<ModelKind>(&json).unwrap(), kind);
        }
        assert_eq!("crnn-2-s".parse::<ModelKind>(), Ok(ModelKind::Crnn2S));
        assert_eq!("Cnn4S".parse::<ModelKind>(), Ok(ModelKind::Cnn4S));
        assert!("RNN".parse::<ModelKind>().is_err());
        assert_eq!(ModelKind::Crnn4S.to_string(), "CRNN-4-S");
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = ModelConfig::new(ModelKind::Crnn4S, 3, 32, 32, 10).with_lstm_dropout(0.1);
        let json = serde_json::to_string(&config).unwrap();
        let back: ModelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.kind, ModelKind::Crnn4S);
        assert_eq!(back.lstm_dropout, 0.1);
        assert_eq!(back.filters, [32, 64]);
    }

    fn tiny(kind: ModelKind) -> ModelConfig {
        ModelConfig::new(kind, 1, 8, 8, 3)
            .with_filters([4, 8])
            .with_lstm_hidden(8)
            .with_dense_hidden(8)
    }

    #[test]
    fn checkpoint_round_trips() {
        let device = device();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bpk");
        let config = tiny(ModelKind::Crnn);
        let model = config.init(&device);
        let images = Tensor::<5>::random([2, 5, 1, 8, 8], Distribution::Default, &device);
        let before = model.valid().forward(images.clone()).into_data();
        model.save_file(&path).unwrap();
        let loaded = config.init(&device).load_file(&path);
        let after = loaded.valid().forward(images).into_data();
        after.assert_eq(&before, true);
    }

    #[test]
    fn one_adam_step_lowers_the_loss_on_a_fixed_batch() {
        let device = device().autodiff();
        for kind in [ModelKind::Cnn, ModelKind::Crnn4S] {
            let mut model = tiny(kind)
                .with_cnn_dropout(0.0)
                .with_lstm_dropout(0.0)
                .with_dense_dropout(0.0)
                .init(&device);
            let mut optim = AdamConfig::new().init();
            let images = Tensor::<5>::random([4, 5, 1, 8, 8], Distribution::Default, &device);
            let labels: Vec<i64> = (0..20).map(|i| i % 3).collect();
            let targets = Tensor::<2, Int>::from_data(TensorData::new(labels, [4, 5]), &device);
            let mut losses = Vec::new();
            for _ in 0..5 {
                let loss = sequence_cross_entropy(model.forward(images.clone()), targets.clone());
                losses.push(loss.clone().into_scalar::<f32>());
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-2, model, grads);
            }
            assert!(losses[4] < losses[0], "{kind}: {losses:?}");
        }
    }
}
