//! Paper B's recurrent residual network (RRN): a ResNet run on every frame whose chosen residual
//! units also receive the previous frame's input through a **temporal skip connection**.
//!
//! With `x_t` a unit's input at frame `t` and `σ(x_t * W)` its residual branch
//! (see [`super::resnet`]):
//!
//! | skip type | unit output |
//! |---|---|
//! | none (plain ResNet) | `y_t = σ(x_t * W) + x_t` |
//! | identity | `y_t = σ(x_t * W) + x_t + x_{t−1}` |
//! | linear (1×1 convolution) | `y_t = σ(x_t * W) + x_t + x_{t−1} * W_s` |
//! | non-linear (1×1 convolution + ReLU) | `y_t = σ(x_t * W) + x_t + σ(x_{t−1} * W_s)` |
//!
//! The first frame of a clip has no predecessor: `x_{−1} = 0`, and every skip type maps 0 to 0
//! (the 1×1 convolutions have no bias). Where a unit changes the shape (the first unit of Block2–4:
//! stride 2, more channels), `x_{t−1}` goes through the unit's own 1×1 projection shortcut for the
//! identity type, and the skip convolution has the unit's stride for the other two.
//!
//! **Temporal context.** One skip connection lets frame `t` see frame `t−1`; a skip in the next
//! unit sees that unit's input at `t−1`, which already holds frame `t−2`, and so on: a context of
//! `T` frames takes `T − 1` connections, in the `T − 1` consecutive units that end at the chosen
//! position (counting backwards through the network). Positions, as in paper B's Table 2:
//! **Block1** / **Block2** / **Block4** = the last unit of that block, **Mid Block4** = the middle
//! unit of Block4 (unit `⌊(n−1)/2⌋` of its `n`, which needs `n ≥ 2`).
//!
//! The model outputs logits at every frame: `[batch, T, classes]`, frame `t` seeing frames
//! `t − context + 1 ..= t`.

use super::baselines::{AvgPoolHead, GruHead};
use super::dropout::dropout;
use super::resnet::{ResNet, ResNetConfig, UnitIndex};
use super::{ModelConfig, ModelKind};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use std::fmt;

/// The skip connection itself lives apart, as the ResNet's units hold one.
pub use super::skip::{SkipType, TemporalSkip};

/// Where the temporal skip connections end (paper B's Table 2).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SkipPosition {
    Block1,
    Block2,
    MidBlock4,
    #[default]
    Block4,
}

impl SkipPosition {
    pub const ALL: [SkipPosition; 4] = [
        SkipPosition::Block1,
        SkipPosition::Block2,
        SkipPosition::MidBlock4,
        SkipPosition::Block4,
    ];

    /// Paper B's wording.
    pub fn title(self) -> &'static str {
        match self {
            SkipPosition::Block1 => "Block1",
            SkipPosition::Block2 => "Block2",
            SkipPosition::MidBlock4 => "Mid Block4",
            SkipPosition::Block4 => "Block4",
        }
    }

    /// The unit the connections end in, for blocks of `units` units.
    pub fn anchor(self, units: [usize; 4]) -> UnitIndex {
        let last = |block: usize| UnitIndex {
            block,
            unit: units[block].saturating_sub(1),
        };
        match self {
            SkipPosition::Block1 => last(0),
            SkipPosition::Block2 => last(1),
            SkipPosition::MidBlock4 => UnitIndex {
                block: 3,
                unit: units[3].saturating_sub(1) / 2,
            },
            SkipPosition::Block4 => last(3),
        }
    }
}

impl fmt::Display for SkipPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// A paper-B model configuration that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RrnConfigError {
    #[error(
        "every block needs at least one residual unit and one channel (units {units:?}, widths {widths:?})"
    )]
    EmptyBlock {
        units: [usize; 4],
        widths: [usize; 4],
    },
    #[error("the temporal context must be at least 1 frame")]
    NoContext,
    #[error(
        "a temporal context of {context} frames needs {needed} temporal skip connections ending at {position}, \
         but only {available} residual units lead up to it (add units or move the position later)"
    )]
    TooFewUnits {
        context: usize,
        needed: usize,
        position: SkipPosition,
        available: usize,
    },
    #[error("Mid Block4 needs at least 2 residual units in Block4 (it has {0})")]
    MidBlock4(usize),
    #[error("features are taken after block 2, 3 or 4, not {0}")]
    FeatureBlock(usize),
    #[error("a temporal context of {0} frames needs a skip type other than none")]
    ContextWithoutSkip(usize),
}

/// The units that get a temporal skip for a context of `context` frames ending at `position`: the
/// `context − 1` consecutive units that end there, in network order.
pub fn temporal_units(
    units: [usize; 4],
    position: SkipPosition,
    context: usize,
) -> Result<Vec<UnitIndex>, RrnConfigError> {
    if context == 0 {
        return Err(RrnConfigError::NoContext);
    }
    if position == SkipPosition::MidBlock4 && units[3] < 2 {
        return Err(RrnConfigError::MidBlock4(units[3]));
    }
    let all: Vec<UnitIndex> = (0..4)
        .flat_map(|block| (0..units[block]).map(move |unit| UnitIndex { block, unit }))
        .collect();
    let anchor = position.anchor(units);
    let end = all.iter().position(|&u| u == anchor).map_or(0, |i| i + 1);
    let needed = context - 1;
    if needed > end {
        return Err(RrnConfigError::TooFewUnits {
            context,
            needed,
            position,
            available: end,
        });
    }
    Ok(all[end - needed..end].to_vec())
}

/// A linear classifier on every frame's features (ResNet, RRN).
#[derive(Module, Debug)]
pub struct FrameHead {
    dropout: Dropout,
    output: Linear,
}

impl FrameHead {
    /// # Shapes
    /// - `features`: `[n, c]`
    /// - output: `[n, classes]`
    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        self.output.forward(dropout(&self.dropout, features))
    }
}

/// Any of paper B's models: the shared backbone and one head.
#[derive(Module, Debug)]
pub struct ResNetModel {
    backbone: ResNet,
    /// ResNet and RRN: a classifier per frame.
    frame: Option<FrameHead>,
    /// ResNet-Avg: clip average of the frame features.
    average: Option<AvgPoolHead>,
    /// ResNet-GRU.
    gru: Option<GruHead>,
}

/// The backbone's shape for a model config.
pub fn backbone_config(config: &ModelConfig) -> ResNetConfig {
    let depth = match config.kind {
        ModelKind::ResNetAvg | ModelKind::ResNetGru => config.feature_block.clamp(1, 4),
        _ => 4,
    };
    ResNetConfig {
        in_channels: config.in_channels,
        widths: config.resnet_widths,
        units: config.resnet_units,
        stem: config.resnet_stem.resolve(config.height, config.width),
        depth,
    }
}

/// The units with a temporal skip, as built (RRN only; best effort where the config is invalid,
/// see [`validate`]).
pub fn planned_skips(config: &ModelConfig) -> Vec<UnitIndex> {
    if config.kind != ModelKind::Rrn || config.skip == SkipType::None {
        return Vec::new();
    }
    let units = config.resnet_units;
    match temporal_units(units, config.skip_position, config.temporal_context) {
        Ok(list) => list,
        Err(_) => {
            // As many as fit, ending at the position.
            let context = config.temporal_context.max(1);
            (1..context)
                .rev()
                .find_map(|c| temporal_units(units, config.skip_position, c).ok())
                .unwrap_or_default()
        }
    }
}

/// Checks a paper-B model config (the other kinds always pass).
pub fn validate(config: &ModelConfig) -> Result<(), RrnConfigError> {
    if !config.kind.is_paper_b() {
        return Ok(());
    }
    if config.resnet_units.contains(&0) || config.resnet_widths.contains(&0) {
        return Err(RrnConfigError::EmptyBlock {
            units: config.resnet_units,
            widths: config.resnet_widths,
        });
    }
    match config.kind {
        ModelKind::Rrn => {
            if config.skip == SkipType::None && config.temporal_context > 1 {
                return Err(RrnConfigError::ContextWithoutSkip(config.temporal_context));
            }
            if config.skip != SkipType::None {
                temporal_units(
                    config.resnet_units,
                    config.skip_position,
                    config.temporal_context,
                )?;
            }
        }
        ModelKind::ResNetAvg | ModelKind::ResNetGru if !(2..=4).contains(&config.feature_block) => {
            return Err(RrnConfigError::FeatureBlock(config.feature_block));
        }
        _ => {}
    }
    Ok(())
}

impl ResNetModel {
    /// Builds a paper-B model (`config.kind` one of [`ModelKind::PAPER_B`]).
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        let shape = backbone_config(config);
        let skips = planned_skips(config);
        let backbone = shape.init(device, |index| {
            if skips.contains(&index) {
                config.skip
            } else {
                SkipType::None
            }
        });
        let features = shape.feature_len();
        let classes = config.num_classes;
        let (mut frame, mut average, mut gru) = (None, None, None);
        match config.kind {
            ModelKind::ResNetAvg => {
                average = Some(AvgPoolHead::new(
                    features,
                    config.z_norm,
                    config.head_dropout,
                    classes,
                    device,
                ))
            }
            ModelKind::ResNetGru => {
                gru = Some(GruHead::new(
                    features,
                    config.z_norm,
                    config.gru_hidden,
                    config.head_dropout,
                    classes,
                    device,
                ))
            }
            _ => {
                frame = Some(FrameHead {
                    dropout: DropoutConfig::new(config.head_dropout).init(),
                    output: LinearConfig::new(features, classes).init(device),
                })
            }
        }
        ResNetModel {
            backbone,
            frame,
            average,
            gru,
        }
    }

    /// The backbone (to inspect its units and temporal skips).
    pub fn backbone(&self) -> &ResNet {
        &self.backbone
    }

    /// Logits for every frame of every clip.
    ///
    /// # Shapes
    /// - `images`: `[batch, T, channels, height, width]`
    /// - output: `[batch, T, classes]`
    pub fn forward(&self, images: Tensor<5>) -> Tensor<3> {
        let [batch, steps, channels, height, width] = images.dims();
        let frames = images.reshape([batch * steps, channels, height, width]); // [batch·T, C, H, W]
        let features = self.backbone.forward(frames, steps); // [batch·T, c]
        let [_, c] = features.dims();
        if let Some(head) = &self.frame {
            let logits = head.forward(features); // [batch·T, classes]
            let [_, classes] = logits.dims();
            return logits.reshape([batch, steps, classes]); // [batch, T, classes]
        }
        let features = features.reshape([batch, steps, c]); // [batch, T, c]
        match (&self.average, &self.gru) {
            (Some(head), _) => head.forward(features), // [batch, T, classes]
            (None, Some(head)) => head.forward(features), // [batch, T, classes]
            (None, None) => unreachable!("ResNetModel::new always builds one head"),
        }
    }
}
