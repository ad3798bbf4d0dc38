//! The CNN unit (applied to every image) and the per-image classifier of the CNN family.
//!
//! Paper A's CNN unit: Conv2D(3×3, 32) → ReLU → Conv2D(3×3, 64) → ReLU → MaxPool(2×2) → dropout,
//! zero ("same") padding. The `-2-S` variants put stride 2 in both conv layers instead of the
//! pooling; the `-4-S` variants follow each of the two conv layers with an extra stride-2 conv
//! layer of the same width, again without pooling. "Same" padding follows Keras: the output of a
//! stride-`s` layer is `ceil(n / s)` wide.

use burn::module::Module;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor};

use super::conv::{Conv2d, Conv2dSpec};
use super::dropout::dropout;
use super::pool::max_pool_2x2;
use super::precision::{self, Precision};

/// How the CNN unit halves the image size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Downsampling {
    /// Both convs at stride 1, then 2×2 max pooling (CNN, CRNN): output `H/2 × W/2`.
    MaxPool,
    /// Both convs at stride 2, no pooling (`-2-S`): output `⌈⌈H/2⌉/2⌉ × …`.
    Strided,
    /// Each conv followed by an extra stride-2 conv, no pooling (`-4-S`): output as `Strided`.
    ExtraStridedConv,
}

/// Hyper-parameters of the CNN unit.
#[derive(Clone, Debug)]
pub struct CnnUnitConfig {
    /// Channels of the input images (1 for MNIST, 3 for CIFAR-10).
    pub in_channels: usize,
    /// Filters of the first and second conv layer (paper: 32, 64).
    pub filters: [usize; 2],
    /// How the unit downsamples.
    pub downsampling: Downsampling,
    /// Dropout rate applied to the unit's output.
    pub dropout: f64,
}

impl CnnUnitConfig {
    /// Builds the unit on `device`.
    pub fn init(&self, device: &Device) -> CnnUnit {
        let stride = match self.downsampling {
            Downsampling::Strided => 2,
            Downsampling::MaxPool | Downsampling::ExtraStridedConv => 1,
        };
        let conv = |channels: [usize; 2], stride: usize| {
            Conv2dSpec::new(channels, [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        let [f1, f2] = self.filters;
        let extra = self.downsampling == Downsampling::ExtraStridedConv;
        CnnUnit {
            conv1: conv([self.in_channels, f1], stride),
            conv1_down: extra.then(|| conv([f1, f1], 2)),
            conv2: conv([f1, f2], stride),
            conv2_down: extra.then(|| conv([f2, f2], 2)),
            pool: (self.downsampling == Downsampling::MaxPool)
                .then(|| MaxPool2dConfig::new([2, 2]).init()),
            activation: Relu::new(),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }

    /// Spatial size `[height, width]` of the unit's output for `height × width` images.
    pub fn output_size(&self, height: usize, width: usize) -> [usize; 2] {
        let down = |n: usize| match self.downsampling {
            Downsampling::MaxPool => n / 2,
            Downsampling::Strided | Downsampling::ExtraStridedConv => n.div_ceil(2).div_ceil(2),
        };
        [down(height), down(width)]
    }

    /// Length `c` of the flattened feature vector per image.
    pub fn output_len(&self, height: usize, width: usize) -> usize {
        let [h, w] = self.output_size(height, width);
        h * w * self.filters[1]
    }
}

/// The CNN unit: two (or four) 3×3 conv layers with ReLU, downsampling, dropout and flatten.
#[derive(Module, Debug)]
pub struct CnnUnit {
    conv1: Conv2d,
    /// `-4-S` only: the extra stride-2 conv after `conv1`.
    conv1_down: Option<Conv2d>,
    conv2: Conv2d,
    /// `-4-S` only: the extra stride-2 conv after `conv2`.
    conv2_down: Option<Conv2d>,
    /// CNN / CRNN only.
    pool: Option<MaxPool2d>,
    activation: Relu,
    dropout: Dropout,
}

impl CnnUnit {
    /// The unit computing its convolutions in `precision` (see [`super::precision`]).
    pub fn with_precision(self, precision: Precision) -> Self {
        let set = |conv: Conv2d| conv.with_precision(precision);
        Self {
            conv1: set(self.conv1),
            conv1_down: self.conv1_down.map(set),
            conv2: set(self.conv2),
            conv2_down: self.conv2_down.map(set),
            ..self
        }
    }

    /// Runs the unit on a batch of images and flattens the result.
    ///
    /// # Shapes
    /// - `images`: `[n, channels, height, width]`
    /// - output: `[n, c]` with `c = h' · w' · filters[1]` (see [`CnnUnitConfig::output_len`])
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.activation.forward(self.conv1.forward(images)); // [n, f1, H/s, W/s]
        let x = match &self.conv1_down {
            Some(conv) => self.activation.forward(conv.forward(x)), // [n, f1, ⌈H/2⌉, ⌈W/2⌉]
            None => x,
        };
        let x = self.conv2.forward(x); // [n, f2, …]
        let x = match (&self.pool, &self.conv2_down) {
            // ReLU after the pooling instead of before: the same function (ReLU is monotone, so
            // it commutes with max) and the same gradients, on a quarter of the elements.
            (Some(pool), _) => {
                let pooled = max_pool_2x2(x, |x| pool.forward(x));
                self.activation.forward(pooled) // [n, f2, H/2, W/2]
            }
            (None, Some(conv)) => {
                let x = self.activation.forward(x);
                self.activation.forward(conv.forward(x)) // [n, f2, ⌈H/4⌉, ⌈W/4⌉]
            }
            (None, None) => self.activation.forward(x),
        };
        let x = dropout(&self.dropout, x); // [n, f2, h', w']
        x.flatten(1, 3) // [n, c]
    }
}

/// The per-image classifier of the CNN family: optional hidden dense layer, then logits.
///
/// Keras' MNIST CNN of the paper's time (the same Conv(32) → Conv(64) → MaxPool → Dropout(0.25)
/// stack) ends in Flatten → Dense(128, ReLU) → Dropout(0.5) → Dense(classes); occlab keeps that
/// hidden layer by default (`ModelConfig::dense_hidden`, 0 removes it).
#[derive(Module, Debug)]
pub struct DenseHead {
    hidden: Option<Linear>,
    activation: Relu,
    dropout: Dropout,
    output: Linear,
    /// f32, or f16 operands for the hidden layer's product on a GPU ([`Precision`]).
    #[module(skip)]
    precision: Precision,
}

impl DenseHead {
    /// The head computing its hidden layer in `precision` (the small output layer stays f32).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// A head from `features` inputs to `classes` logits with an optional hidden layer.
    pub fn new(
        features: usize,
        hidden: usize,
        dropout: f64,
        classes: usize,
        device: &Device,
    ) -> Self {
        let (hidden_layer, out_in) = match hidden {
            0 => (None, features),
            h => (Some(LinearConfig::new(features, h).init(device)), h),
        };
        Self {
            hidden: hidden_layer,
            activation: Relu::new(),
            dropout: DropoutConfig::new(dropout).init(),
            output: LinearConfig::new(out_in, classes).init(device),
            precision: Precision::F32,
        }
    }

    /// Classifies each feature vector alone.
    ///
    /// # Shapes
    /// - `features`: `[n, c]`
    /// - output: `[n, classes]` (logits)
    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        let x = match &self.hidden {
            Some(hidden) => {
                let x = precision::linear(hidden, features, self.precision); // [n, hidden]
                let x = self.activation.forward(x); // [n, hidden]
                dropout(&self.dropout, x) // [n, hidden]
            }
            None => features, // [n, c]
        };
        self.output.forward(x) // [n, classes]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::{Conv2d as BurnConv2d, Conv2dConfig};
    use burn::tensor::{Distribution, Tolerance};

    /// The CNN unit's parameters as they were saved when it used `burn::nn::conv::Conv2d`.
    #[derive(Module, Debug)]
    struct BurnConvUnit {
        conv1: BurnConv2d,
        conv1_down: Option<BurnConv2d>,
        conv2: BurnConv2d,
        conv2_down: Option<BurnConv2d>,
    }

    #[test]
    fn loads_checkpoints_written_with_burns_conv2d() {
        let device = Device::flex();
        let dir = tempfile::tempdir().unwrap();
        for downsampling in [
            Downsampling::MaxPool,
            Downsampling::Strided,
            Downsampling::ExtraStridedConv,
        ] {
            let config = CnnUnitConfig {
                in_channels: 2,
                filters: [3, 4],
                downsampling,
                dropout: 0.0,
            };
            let stride = if downsampling == Downsampling::Strided {
                2
            } else {
                1
            };
            let conv = |channels: [usize; 2], stride: usize| {
                Conv2dConfig::new(channels, [3, 3])
                    .with_stride([stride, stride])
                    .with_padding(PaddingConfig2d::Same)
                    .init(&device)
            };
            let extra = downsampling == Downsampling::ExtraStridedConv;
            let old = BurnConvUnit {
                conv1: conv([2, 3], stride),
                conv1_down: extra.then(|| conv([3, 3], 2)),
                conv2: conv([3, 4], stride),
                conv2_down: extra.then(|| conv([4, 4], 2)),
            };
            let path = dir.path().join(format!("{downsampling:?}.bpk"));
            old.clone().save_file(&path).unwrap();
            let unit = config
                .init(&device)
                .try_load_file(&path)
                .unwrap_or_else(|e| panic!("{downsampling:?}: {e}"));

            // The old unit's computation, with Burn's layers.
            let images = Tensor::<4>::random([2, 2, 9, 9], Distribution::Default, &device);
            let relu = Relu::new();
            let mut x = relu.forward(old.conv1.forward(images.clone()));
            if let Some(c) = &old.conv1_down {
                x = relu.forward(c.forward(x));
            }
            x = relu.forward(old.conv2.forward(x));
            if let Some(c) = &old.conv2_down {
                x = relu.forward(c.forward(x));
            }
            if downsampling == Downsampling::MaxPool {
                x = MaxPool2dConfig::new([2, 2]).init().forward(x);
            }
            let expected = x.flatten::<2>(1, 3);
            let actual = unit.forward(images);
            assert_eq!(actual.dims(), expected.dims(), "{downsampling:?}");
            actual
                .into_data()
                .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::rel_abs(1e-5, 1e-5));
        }
    }
}
