//! The residual backbone of paper B's models: a pre-activation ResNet with batch norm, run on every
//! frame with shared weights, its stages numbered Block1–Block4 as in the paper.
//!
//! Paper B writes a residual block as `y_t = σ(x_t * W) + x_t`: the block's output is its input
//! plus a residual branch with the non-linearity inside, and no activation after the sum. That is
//! the pre-activation residual unit (He et al., "Identity mappings in deep residual networks"):
//!
//! ```text
//! branch(x)   = conv3×3(ReLU(BN(conv3×3_stride(ReLU(BN(x))))))
//! shortcut(x) = x, or a 1×1 convolution (stride 2) where the unit changes the shape
//! y           = branch(x) + shortcut(x)  [+ a temporal skip of x_{t−1}, see `super::rrn`]
//! ```
//!
//! Four stages of `units[k]` such units, widths `widths[k]`; every stage after the first halves the
//! height and width in its first unit. Two stems:
//! - **small** (28×28 / 32×32 images): one 3×3 convolution at stride 1, so Block1 works at full
//!   resolution and Block4 at 1/8 (4×4 for 32×32 frames);
//! - **large** (frames of 64 px and more, e.g. action clips): ResNet-18/34's 7×7 stride-2 convolution
//!   and 3×3 stride-2 max pooling, so Block4 works at 1/32.
//!
//! `units = [2, 2, 2, 2]` is ResNet-18's layout, `[3, 4, 6, 3]` ResNet-34's (basic blocks; paper B
//! used ResNet-50's bottleneck blocks, which occlab does not build). After the last stage used:
//! BN → ReLU → global average pooling, one feature vector per frame.

use super::skip::{SkipType, TemporalSkip};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor};

/// Which stem the backbone starts with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StemKind {
    /// Small for images under 64 px on the shorter side, large otherwise.
    #[default]
    Auto,
    /// 3×3 convolution, stride 1 (CIFAR-style ResNets).
    Small,
    /// 7×7 convolution at stride 2, then 3×3 max pooling at stride 2 (ImageNet ResNets).
    Large,
}

impl StemKind {
    /// The stem for `height × width` images (resolves `Auto`).
    pub fn resolve(self, height: usize, width: usize) -> StemKind {
        match self {
            StemKind::Auto if height.min(width) >= 64 => StemKind::Large,
            StemKind::Auto => StemKind::Small,
            other => other,
        }
    }

    /// Height or width after the stem.
    pub fn output_side(self, n: usize) -> usize {
        match self {
            StemKind::Large => n.div_ceil(2).div_ceil(2),
            _ => n,
        }
    }
}

/// Shape of the backbone.
#[derive(Clone, Debug, PartialEq)]
pub struct ResNetConfig {
    pub in_channels: usize,
    /// Channels of Block1–Block4.
    pub widths: [usize; 4],
    /// Residual units in Block1–Block4.
    pub units: [usize; 4],
    /// Already resolved (not `Auto`), see [`StemKind::resolve`].
    pub stem: StemKind,
    /// Blocks built: 4 for the whole network, 2 or 3 for the baselines that take their features
    /// after an earlier block.
    pub depth: usize,
}

/// Where a unit sits: `block` 0–3 (Block1–Block4), `unit` within the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitIndex {
    pub block: usize,
    pub unit: usize,
}

impl ResNetConfig {
    /// Every unit the backbone builds, in the order the data flows through them.
    pub fn unit_indices(&self) -> Vec<UnitIndex> {
        (0..self.depth.min(4))
            .flat_map(|block| (0..self.units[block]).map(move |unit| UnitIndex { block, unit }))
            .collect()
    }

    /// Length of the feature vector per frame (the width of the last block built).
    pub fn feature_len(&self) -> usize {
        self.widths[self.depth.clamp(1, 4) - 1]
    }

    /// Builds the backbone; `temporal(index)` says which units get a temporal skip of which type.
    pub fn init(&self, device: &Device, temporal: impl Fn(UnitIndex) -> SkipType) -> ResNet {
        let stem = match self.stem {
            StemKind::Large => Stem {
                conv: Conv2dConfig::new([self.in_channels, self.widths[0]], [7, 7])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(3, 3, 3, 3))
                    .with_bias(false)
                    .init(device),
                pool: Some(
                    MaxPool2dConfig::new([3, 3])
                        .with_strides([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(),
                ),
            },
            _ => Stem {
                conv: conv3x3(self.in_channels, self.widths[0], 1, device),
                pool: None,
            },
        };
        let mut units = Vec::new();
        let mut channels = self.widths[0];
        for index in self.unit_indices() {
            let out = self.widths[index.block];
            let stride = if index.block > 0 && index.unit == 0 {
                2
            } else {
                1
            };
            units.push(ResidualUnit::new(
                channels,
                out,
                stride,
                temporal(index),
                device,
            ));
            channels = out;
        }
        ResNet {
            stem,
            units,
            final_norm: BatchNormConfig::new(channels).init(device),
            activation: Relu::new(),
        }
    }
}

fn conv3x3(in_channels: usize, out: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([in_channels, out], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
}

/// The first layer(s), before Block1.
#[derive(Module, Debug)]
pub struct Stem {
    conv: Conv2d,
    /// Large stem only.
    pool: Option<MaxPool2d>,
}

/// One pre-activation residual unit, optionally with a temporal skip connection.
#[derive(Module, Debug)]
pub struct ResidualUnit {
    norm1: BatchNorm,
    conv1: Conv2d,
    norm2: BatchNorm,
    conv2: Conv2d,
    /// 1×1 convolution where the unit changes channels or size; identity otherwise.
    projection: Option<Conv2d>,
    /// Paper B's temporal skip connection from the previous frame, if this unit has one.
    temporal: Option<TemporalSkip>,
    activation: Relu,
}

impl ResidualUnit {
    /// A unit from `in_channels` to `out` channels at `stride`, with a temporal skip of `skip`.
    pub fn new(
        in_channels: usize,
        out: usize,
        stride: usize,
        skip: SkipType,
        device: &Device,
    ) -> Self {
        let projection = (stride != 1 || in_channels != out).then(|| {
            Conv2dConfig::new([in_channels, out], [1, 1])
                .with_stride([stride, stride])
                .with_bias(false)
                .init(device)
        });
        ResidualUnit {
            norm1: BatchNormConfig::new(in_channels).init(device),
            conv1: conv3x3(in_channels, out, stride, device),
            norm2: BatchNormConfig::new(out).init(device),
            conv2: conv3x3(out, out, 1, device),
            projection,
            temporal: TemporalSkip::new(skip, in_channels, out, stride, device),
            activation: Relu::new(),
        }
    }

    /// Whether this unit has a temporal skip connection.
    pub fn has_temporal_skip(&self) -> bool {
        self.temporal.is_some()
    }

    /// The unit's shortcut: identity or the 1×1 projection.
    pub fn shortcut(&self, x: Tensor<4>) -> Tensor<4> {
        match &self.projection {
            Some(conv) => conv.forward(x),
            None => x,
        }
    }

    /// `σ(x * W) + x`: the unit without its temporal skip.
    ///
    /// # Shapes
    /// - `x`: `[n, in_channels, h, w]`
    /// - output: `[n, out, ⌈h/stride⌉, ⌈w/stride⌉]`
    pub fn forward_spatial(&self, x: Tensor<4>) -> Tensor<4> {
        let branch = self.activation.forward(self.norm1.forward(x.clone())); // [n, in, h, w]
        let branch = self.conv1.forward(branch); // [n, out, h', w']
        let branch = self.activation.forward(self.norm2.forward(branch));
        let branch = self.conv2.forward(branch); // [n, out, h', w']
        branch + self.shortcut(x)
    }

    /// The unit on the frames of `batch` clips of `steps` frames each, folded into the first axis
    /// (clip-major: frame `t` of clip `b` at `b·steps + t`): `σ(x_t * W) + x_t + S(x_{t−1})`, with
    /// `x_{−1} = 0` (the first frame has no predecessor; every skip type maps 0 to 0).
    ///
    /// # Shapes
    /// - `x`: `[batch·steps, in_channels, h, w]`
    /// - output: `[batch·steps, out, ⌈h/stride⌉, ⌈w/stride⌉]`
    pub fn forward(&self, x: Tensor<4>, steps: usize) -> Tensor<4> {
        match &self.temporal {
            None => self.forward_spatial(x),
            Some(skip) => {
                let previous = previous_frames(x.clone(), steps); // [batch·steps, in, h, w]
                let temporal = skip.forward(previous, |p| self.shortcut(p)); // [batch·steps, out, h', w']
                self.forward_spatial(x) + temporal
            }
        }
    }
}

/// For every frame, the same tensor of the frame before it in its clip; zeros for the first frame.
///
/// # Shapes
/// - `x`: `[batch·steps, c, h, w]`, clip-major
/// - output: `[batch·steps, c, h, w]`
pub fn previous_frames(x: Tensor<4>, steps: usize) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let steps = steps.max(1);
    let batch = n / steps;
    let zeros = Tensor::<5>::zeros([batch, 1, c, h, w], &x.device());
    if steps == 1 {
        return zeros.reshape([n, c, h, w]);
    }
    let x = x.reshape([batch, steps, c, h, w]); // [batch, T, c, h, w]
    let earlier = x.narrow(1, 0, steps - 1); // [batch, T−1, c, h, w]: frames 0..T−2
    Tensor::cat(vec![zeros, earlier], 1).reshape([n, c, h, w]) // frame t holds x_{t−1}
}

/// The backbone: stem, residual units, final BN → ReLU → global average pooling.
#[derive(Module, Debug)]
pub struct ResNet {
    stem: Stem,
    units: Vec<ResidualUnit>,
    final_norm: BatchNorm,
    activation: Relu,
}

impl ResNet {
    /// The residual units in order.
    pub fn units(&self) -> &[ResidualUnit] {
        &self.units
    }

    /// How many units have a temporal skip connection.
    pub fn temporal_connections(&self) -> usize {
        self.units.iter().filter(|u| u.has_temporal_skip()).count()
    }

    /// The stem's output.
    ///
    /// # Shapes
    /// - `frames`: `[n, channels, height, width]`
    /// - output: `[n, widths[0], h0, w0]`
    pub fn stem(&self, frames: Tensor<4>) -> Tensor<4> {
        let x = self.stem.conv.forward(frames);
        match &self.stem.pool {
            Some(pool) => pool.forward(x),
            None => x,
        }
    }

    /// One feature vector per frame.
    ///
    /// # Shapes
    /// - `frames`: `[batch·steps, channels, height, width]`, clip-major
    /// - output: `[batch·steps, c]` with `c` the width of the last block built
    pub fn forward(&self, frames: Tensor<4>, steps: usize) -> Tensor<2> {
        let mut x = self.stem(frames); // [n, w0, h0, w0]
        for unit in &self.units {
            x = unit.forward(x, steps); // [n, w_k, h_k, w_k]
        }
        let x = self.activation.forward(self.final_norm.forward(x)); // [n, c, h', w']
        let [n, c, _, _] = x.dims();
        x.mean_dim(2).mean_dim(3).reshape([n, c]) // [n, c]
    }
}
