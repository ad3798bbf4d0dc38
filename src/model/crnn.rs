//! The recurrent head of the CRNN family: LSTM (d = 256) over the per-image features, then a
//! linear classifier at every time step.
//!
//! Paper A says "dropout in the LSTM" without saying where; Burn's `Lstm` has no dropout of its
//! own. The CNN unit already drops its output, which is the LSTM's input, so occlab applies the
//! LSTM dropout to the LSTM's outputs `h_t`, before the classifier (rate
//! `ModelConfig::lstm_dropout`).

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, Lstm, LstmConfig};
use burn::tensor::{Device, Tensor};

/// LSTM over the sequence of image features, dropout, linear layer at every step.
#[derive(Module, Debug)]
pub struct RecurrentHead {
    lstm: Lstm,
    dropout: Dropout,
    output: Linear,
}

impl RecurrentHead {
    /// A head from `features`-long vectors through `hidden` LSTM units to `classes` logits.
    pub fn new(
        features: usize,
        hidden: usize,
        dropout: f64,
        classes: usize,
        device: &Device,
    ) -> Self {
        Self {
            // batch_first (the default): input [batch, T, features].
            lstm: LstmConfig::new(features, hidden, true).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            output: LinearConfig::new(hidden, classes).init(device),
        }
    }

    /// Classifies every step of every sequence, each in the context of the steps before it.
    ///
    /// # Shapes
    /// - `features`: `[batch, T, c]`
    /// - output: `[batch, T, classes]` (logits)
    pub fn forward(&self, features: Tensor<3>) -> Tensor<3> {
        let (x, _state) = self.lstm.forward(features, None); // [batch, T, hidden]
        let x = self.dropout.forward(x); // [batch, T, hidden]
        self.output.forward(x) // [batch, T, classes]
    }
}
