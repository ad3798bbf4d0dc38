//! Paper B's temporal skip connection: its types (Table 3) and the module a residual unit holds
//! (see [`super::rrn`] for what it does in the network, [`super::resnet`] for the units).

use burn::module::Module;
use burn::nn::Relu;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Tensor};
use std::fmt;

/// Paper B's temporal skip connection types (Table 3).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SkipType {
    /// No temporal skip: a plain ResNet.
    None,
    /// `+ x_{t−1}` (paper B's best on UCF-101).
    #[default]
    Identity,
    /// `+ x_{t−1} * W_s` (1×1 convolution).
    Linear,
    /// `+ σ(x_{t−1} * W_s)` (1×1 convolution and ReLU).
    #[serde(alias = "nonlinear", alias = "non-linear")]
    NonLinear,
}

impl SkipType {
    pub const ALL: [SkipType; 4] = [
        SkipType::None,
        SkipType::Identity,
        SkipType::Linear,
        SkipType::NonLinear,
    ];

    /// Paper B's wording.
    pub fn title(self) -> &'static str {
        match self {
            SkipType::None => "none",
            SkipType::Identity => "identity",
            SkipType::Linear => "conv linear",
            SkipType::NonLinear => "conv non-linear",
        }
    }
}

impl fmt::Display for SkipType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// The temporal skip connection of one residual unit.
#[derive(Module, Debug)]
pub struct TemporalSkip {
    /// Linear and non-linear types: the 1×1 convolution `W_s` (no bias). Identity: none.
    conv: Option<Conv2d>,
    /// Non-linear type only.
    activation: Option<Relu>,
}

impl TemporalSkip {
    /// The skip of type `skip` for a unit from `in_channels` to `out` channels at `stride`; `None`
    /// for [`SkipType::None`].
    pub fn new(
        skip: SkipType,
        in_channels: usize,
        out: usize,
        stride: usize,
        device: &Device,
    ) -> Option<Self> {
        let conv = || {
            Conv2dConfig::new([in_channels, out], [1, 1])
                .with_stride([stride, stride])
                .with_bias(false)
                .init(device)
        };
        match skip {
            SkipType::None => None,
            SkipType::Identity => Some(TemporalSkip {
                conv: None,
                activation: None,
            }),
            SkipType::Linear => Some(TemporalSkip {
                conv: Some(conv()),
                activation: None,
            }),
            SkipType::NonLinear => Some(TemporalSkip {
                conv: Some(conv()),
                activation: Some(Relu::new()),
            }),
        }
    }

    /// The skip's type.
    pub fn kind(&self) -> SkipType {
        match (&self.conv, &self.activation) {
            (None, _) => SkipType::Identity,
            (Some(_), None) => SkipType::Linear,
            (Some(_), Some(_)) => SkipType::NonLinear,
        }
    }

    /// What the skip adds to the unit's output; `shortcut` is the unit's own shortcut (identity or
    /// projection), used by the identity type.
    ///
    /// # Shapes
    /// - `previous`: `[n, in_channels, h, w]` (`x_{t−1}` for every frame)
    /// - output: `[n, out, h', w']`
    pub fn forward(
        &self,
        previous: Tensor<4>,
        shortcut: impl FnOnce(Tensor<4>) -> Tensor<4>,
    ) -> Tensor<4> {
        match (&self.conv, &self.activation) {
            (None, _) => shortcut(previous),
            (Some(conv), None) => conv.forward(previous),
            (Some(conv), Some(relu)) => relu.forward(conv.forward(previous)),
        }
    }
}
