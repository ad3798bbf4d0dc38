//! The recurrent head of the CRNN family: LSTM (d = 256) over the per-image features, then a
//! linear classifier at every time step.
//!
//! Paper A says "dropout in the LSTM" without saying where; Burn's `Lstm` has no dropout of its
//! own. The CNN unit already drops its output, which is the LSTM's input, so occlab applies the
//! LSTM dropout to the LSTM's outputs `h_t`, before the classifier (rate
//! `ModelConfig::lstm_dropout`).

use super::dropout::dropout;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, GateController, Linear, LinearConfig, Lstm, LstmConfig};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Tensor};

/// LSTM over the sequence of image features, dropout, linear layer at every step.
#[derive(Module, Debug)]
pub struct RecurrentHead {
    lstm: SequenceLstm,
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
            lstm: SequenceLstm::new(features, hidden, device),
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
        let x = self.lstm.forward(features); // [batch, T, hidden]
        let x = dropout(&self.dropout, x); // [batch, T, hidden]
        self.output.forward(x) // [batch, T, classes]
    }
}

/// A batch-first LSTM with the mathematics of `burn::nn::Lstm` (and PyTorch's): gates i, f, o
/// (sigmoid) and the candidate g (tanh), each `x_t W_x + b_x + h_{t−1} W_h + b_h`;
/// `c_t = f ⊙ c_{t−1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`, zero initial state.
///
/// Unlike Burn's `Lstm`, which multiplies each step's input by each gate's `W_x` inside the time
/// loop (4 gates × T small products, each streaming the whole 12,544 × 256 weight block), it
/// projects the inputs of all steps at once, one `[batch·T, c] × [c, d]` product per gate, and
/// keeps only the small recurrent `[batch, d] × [d, 4d]` product in the loop. Same work, far
/// fewer passes over the weights, in the backward pass too.
///
/// The parameters are Burn's `GateController`s under the same names (`input_gate`, `forget_gate`,
/// `output_gate`, `cell_gate`, each with `input_transform` and `hidden_transform`), so
/// checkpoints saved with `burn::nn::Lstm` load unchanged, and a seeded model starts from the
/// same weights as before.
#[derive(Module, Debug)]
pub struct SequenceLstm {
    input_gate: GateController,
    forget_gate: GateController,
    output_gate: GateController,
    cell_gate: GateController,
    d_hidden: usize,
}

impl SequenceLstm {
    /// An LSTM from `d_input` features to `d_hidden` units, with biases, initialised exactly as
    /// `LstmConfig::new(d_input, d_hidden, true).init(device)` (Xavier normal, same draw order).
    pub fn new(d_input: usize, d_hidden: usize, device: &Device) -> Self {
        Self::from_burn(LstmConfig::new(d_input, d_hidden, true).init(device))
    }

    /// Takes over the weights of a Burn LSTM (batch-first or not; uncoupled gates, default
    /// activations, no clipping: what `LstmConfig::new` builds).
    ///
    /// # Panics
    /// If `lstm` couples its input and forget gates (`input_forget`), which this LSTM does not
    /// implement.
    pub fn from_burn(lstm: Lstm) -> Self {
        let Lstm {
            input_gate,
            forget_gate,
            output_gate,
            cell_gate,
            d_hidden,
            ..
        } = lstm;
        Self {
            input_gate,
            forget_gate: forget_gate.expect("an LSTM with a separate forget gate"),
            output_gate,
            cell_gate,
            d_hidden,
        }
    }

    /// Hidden state of every step.
    ///
    /// # Shapes
    /// - `input`: `[batch, T, d_input]`
    /// - output: `[batch, T, d_hidden]`
    pub fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        let [batch, steps, d_input] = input.dims();
        let d = self.d_hidden;
        let gates = [
            &self.input_gate,
            &self.forget_gate,
            &self.output_gate,
            &self.cell_gate,
        ];
        let flat = input.reshape([batch * steps, d_input]); // [batch·T, c]
        // Input projection of every step, both biases included.
        let projected: Vec<Tensor<3>> = gates
            .iter()
            .map(|gate| {
                let p = gate.input_transform.forward(flat.clone()); // [batch·T, d]
                let p = match &gate.hidden_transform.bias {
                    Some(bias) => p + bias.val().unsqueeze::<2>(),
                    None => p,
                };
                p.reshape([batch, steps, d])
            })
            .collect();
        let projected = Tensor::cat(projected, 2); // [batch, T, 4d]: i, f, o, g
        let recurrent = Tensor::cat(
            gates
                .iter()
                .map(|gate| gate.hidden_transform.weight.val())
                .collect(),
            1,
        ); // [d, 4d]

        let mut outputs = Vec::with_capacity(steps);
        let mut state: Option<(Tensor<2>, Tensor<2>)> = None; // (h, c)
        for t in 0..steps {
            let z = projected
                .clone()
                .slice([0..batch, t..t + 1, 0..4 * d])
                .reshape([batch, 4 * d]);
            // h_0 = 0: the first step has no recurrent term.
            let z = match &state {
                Some((h, _)) => z + h.clone().matmul(recurrent.clone()),
                None => z,
            };
            let i = sigmoid(z.clone().slice([0..batch, 0..d]));
            let f = sigmoid(z.clone().slice([0..batch, d..2 * d]));
            let o = sigmoid(z.clone().slice([0..batch, 2 * d..3 * d]));
            let g = tanh(z.slice([0..batch, 3 * d..4 * d]));
            let cell = match state {
                Some((_, cell)) => f * cell + i * g,
                None => i * g, // c_0 = 0
            };
            let h = o * tanh(cell.clone());
            outputs.push(h.clone());
            state = Some((h, cell));
        }
        Tensor::stack(outputs, 1) // [batch, T, d]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    /// |a − b| < max(1e-5 · |a + b|, 1e-5).
    fn assert_close<const D: usize>(actual: Tensor<D>, expected: Tensor<D>, what: &str) {
        assert_eq!(actual.dims(), expected.dims(), "{what}: shape");
        actual
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::rel_abs(1e-5, 1e-5));
    }

    /// Non-zero biases everywhere (Xavier initialisation draws them too, but make sure).
    fn burn_lstm(d_input: usize, d_hidden: usize, device: &Device) -> Lstm {
        LstmConfig::new(d_input, d_hidden, true).init(device)
    }

    #[test]
    fn forward_matches_burns_lstm() {
        let device = Device::flex();
        for (batch, steps, d_input, d_hidden) in [(3, 5, 7, 4), (1, 1, 3, 2), (2, 6, 40, 16)] {
            let burn = burn_lstm(d_input, d_hidden, &device);
            let ours = SequenceLstm::from_burn(burn.clone());
            let x = Tensor::<3>::random([batch, steps, d_input], Distribution::Default, &device);
            let (expected, _) = burn.forward(x.clone(), None);
            assert_close(ours.forward(x), expected, "forward");
        }
    }

    #[test]
    fn gradients_match_burns_lstm() {
        let device = Device::flex().autodiff();
        let (batch, steps, d_input, d_hidden) = (3, 5, 9, 6);
        let burn = burn_lstm(d_input, d_hidden, &device);
        let ours = SequenceLstm::from_burn(burn.clone());
        let x = Tensor::<3>::random([batch, steps, d_input], Distribution::Default, &device)
            .require_grad();
        // Non-uniform upstream gradient.
        let r = Tensor::<3>::random([batch, steps, d_hidden], Distribution::Default, &device);
        let burn_grads = (burn.forward(x.clone(), None).0 * r.clone())
            .sum()
            .backward();
        let our_grads = (ours.forward(x.clone()) * r).sum().backward();
        assert_close(
            x.grad(&our_grads).unwrap(),
            x.grad(&burn_grads).unwrap(),
            "input gradient",
        );
        let gate_pairs = [
            ("input", &ours.input_gate, &burn.input_gate),
            (
                "forget",
                &ours.forget_gate,
                burn.forget_gate.as_ref().unwrap(),
            ),
            ("output", &ours.output_gate, &burn.output_gate),
            ("cell", &ours.cell_gate, &burn.cell_gate),
        ];
        for (name, our_gate, burn_gate) in gate_pairs {
            for (which, a, b) in [
                (
                    "input",
                    &our_gate.input_transform,
                    &burn_gate.input_transform,
                ),
                (
                    "hidden",
                    &our_gate.hidden_transform,
                    &burn_gate.hidden_transform,
                ),
            ] {
                // The same parameters: `from_burn` moved them, so their gradients are keyed alike.
                let what = format!("{name} gate, {which} transform");
                assert_close(
                    a.weight.val().grad(&our_grads).unwrap(),
                    b.weight.val().grad(&burn_grads).unwrap(),
                    &format!("{what}: weight gradient"),
                );
                assert_close(
                    a.bias.as_ref().unwrap().val().grad(&our_grads).unwrap(),
                    b.bias.as_ref().unwrap().val().grad(&burn_grads).unwrap(),
                    &format!("{what}: bias gradient"),
                );
            }
        }
    }

    #[test]
    fn loads_checkpoints_written_with_burns_lstm() {
        // A checkpoint written by Burn's LSTM loads into ours (same tensor names) and computes
        // the same. (Seeded draws are not compared here: the backend's generator is shared by
        // the tests running in parallel.)
        let device = Device::flex();
        let burn = burn_lstm(6, 4, &device);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lstm.bpk");
        burn.clone().save_file(&path).unwrap();
        let loaded = SequenceLstm::new(6, 4, &device)
            .try_load_file(&path)
            .expect("load Burn's Lstm record");
        let x = Tensor::<3>::random([2, 5, 6], Distribution::Default, &device);
        assert_close(loaded.forward(x.clone()), burn.forward(x, None).0, "loaded");
    }

    /// The recurrent head as it was saved when it used `burn::nn::Lstm`.
    #[derive(Module, Debug)]
    struct BurnLstmHead {
        lstm: Lstm,
        dropout: Dropout,
        output: Linear,
    }

    #[test]
    fn head_loads_checkpoints_written_with_burns_lstm() {
        let device = Device::flex();
        let old = BurnLstmHead {
            lstm: burn_lstm(12, 8, &device),
            dropout: DropoutConfig::new(0.25).init(),
            output: LinearConfig::new(8, 3).init(&device),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("head.bpk");
        old.clone().save_file(&path).unwrap();
        let head = RecurrentHead::new(12, 8, 0.25, 3, &device)
            .try_load_file(&path)
            .expect("load the old head's record");
        // No autodiff: dropout is off on both.
        let x = Tensor::<3>::random([2, 5, 12], Distribution::Default, &device);
        let expected = old.output.forward(old.lstm.forward(x.clone(), None).0);
        assert_close(head.forward(x), expected, "head");
    }
}
