//! Paper B's baselines on per-frame ResNet features (its Table 1): the frame features taken after
//! block 2, 3 or 4 (global average pooling of that block's output), optionally z-normalised, then
//! - **ResNet-Avg**: averaged over the clip, and a linear classifier;
//! - **ResNet-GRU**: a GRU (128 units in the paper) over the frames, and a linear classifier at
//!   every step.
//!
//! Paper B extracted the features from a ResNet trained on single frames and trained the
//! classifier on top; occlab trains backbone and head together, end to end, on the clips, so the
//! baselines are trained like every other model in the engine. **Z-normalisation** subtracts each
//! feature's mean and divides by its standard deviation, estimated on the training frames: a batch
//! norm layer over the features (batch statistics while training, running statistics from the
//! training data at test time; its learned scale and shift are absorbed by the linear layer that
//! follows).

use super::dropout::dropout;
use burn::module::Module;
use burn::nn::gru::{Gru, GruConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// Z-normalises every frame's features (see the module docs).
///
/// # Shapes
/// - `features`: `[batch, T, c]`
/// - output: `[batch, T, c]`
fn z_normalise(norm: &Option<BatchNorm>, features: Tensor<3>) -> Tensor<3> {
    match norm {
        Some(norm) => {
            let [batch, steps, c] = features.dims();
            norm.forward(features.reshape([batch * steps, c])) // [batch·T, c]
                .reshape([batch, steps, c])
        }
        None => features,
    }
}

/// Clip average of the frame features, then a linear classifier; the clip's logits are repeated
/// at every step so that the output has the shape of every other model's.
#[derive(Module, Debug)]
pub struct AvgPoolHead {
    norm: Option<BatchNorm>,
    dropout: Dropout,
    output: Linear,
}

impl AvgPoolHead {
    pub fn new(
        features: usize,
        z_norm: bool,
        dropout: f64,
        classes: usize,
        device: &Device,
    ) -> Self {
        AvgPoolHead {
            norm: z_norm.then(|| BatchNormConfig::new(features).init(device)),
            dropout: DropoutConfig::new(dropout).init(),
            output: LinearConfig::new(features, classes).init(device),
        }
    }

    /// Whether the features are z-normalised.
    pub fn z_norm(&self) -> bool {
        self.norm.is_some()
    }

    /// # Shapes
    /// - `features`: `[batch, T, c]`
    /// - output: `[batch, T, classes]`, the same logits at every step
    pub fn forward(&self, features: Tensor<3>) -> Tensor<3> {
        let [batch, steps, c] = features.dims();
        let x = z_normalise(&self.norm, features); // [batch, T, c]
        let mean = x.mean_dim(1).reshape([batch, c]); // [batch, c]
        let logits = self.output.forward(dropout(&self.dropout, mean)); // [batch, classes]
        let [_, classes] = logits.dims();
        logits
            .reshape([batch, 1, classes]) // [batch, 1, classes]
            .repeat_dim(1, steps) // [batch, T, classes]
    }
}

/// A GRU over the frame features and a linear classifier at every step.
#[derive(Module, Debug)]
pub struct GruHead {
    norm: Option<BatchNorm>,
    gru: Gru,
    dropout: Dropout,
    output: Linear,
}

impl GruHead {
    pub fn new(
        features: usize,
        z_norm: bool,
        hidden: usize,
        dropout: f64,
        classes: usize,
        device: &Device,
    ) -> Self {
        GruHead {
            norm: z_norm.then(|| BatchNormConfig::new(features).init(device)),
            gru: GruConfig::new(features, hidden.max(1), true).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            output: LinearConfig::new(hidden.max(1), classes).init(device),
        }
    }

    /// # Shapes
    /// - `features`: `[batch, T, c]`
    /// - output: `[batch, T, classes]`, step `t` seeing frames `0..=t`
    pub fn forward(&self, features: Tensor<3>) -> Tensor<3> {
        let x = z_normalise(&self.norm, features); // [batch, T, c]
        let h = self.gru.forward(x, None); // [batch, T, hidden]
        self.output.forward(dropout(&self.dropout, h)) // [batch, T, classes]
    }
}
