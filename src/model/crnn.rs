//! The recurrent head of the CRNN family: LSTM (d = 256) over the per-image features, then a
//! linear classifier at every time step.
//!
//! Paper A says "dropout in the LSTM" without saying where; Burn's `Lstm` has no dropout of its
//! own. The CNN unit already drops its output, which is the LSTM's input, so occlab applies the
//! LSTM dropout to the LSTM's outputs `h_t`, before the classifier (rate
//! `ModelConfig::lstm_dropout`).

use super::dropout::dropout;
use super::precision::{self, Precision};
use burn::module::{Module, Param};
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
    /// The head computing its LSTM's input projection in `precision`.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.lstm = self.lstm.with_precision(precision);
        self
    }

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
/// projects the inputs of all steps and all four gates at once, one `[batch·T, c] × [c, 4d]`
/// product, and keeps only the small recurrent `[batch, d] × [d, 4d]` product in the loop. The
/// four gates' weights are stored side by side for that (`input`: `W_x` `[c, 4d]` and `b_x`
/// `[4d]`; `hidden`: `W_h` `[d, 4d]` and `b_h` `[4d]`; column blocks in the order i, f, o, g), so
/// no step concatenates them: one product instead of four (and one weight gradient, one input
/// gradient), on the GPU far fewer kernels; on the CPU 7–21 % less time for the LSTM's forward
/// and backward pass than four per-gate products (docs/PERFORMANCE.md).
///
/// Checkpoints written gate by gate (by occlab before 2026-12-03, or by `burn::nn::Lstm`) are
/// rewritten to this layout when read (`super::gate_upgrade`). The weights are drawn as Burn's
/// `Lstm` draws them, but when the model is built rather than at its first forward pass (Burn
/// draws lazily), so a seed gives other initial weights than it gave before 2026-12-03.
#[derive(Module, Debug)]
pub struct SequenceLstm {
    /// `x_t W_x + b_x` of the four gates: weight `[d_input, 4d]`, bias `[4d]`.
    input: Linear,
    /// `h_{t−1} W_h + b_h` of the four gates: weight `[d, 4d]`, bias `[4d]`.
    hidden: Linear,
    d_hidden: usize,
    /// f32, or f16 operands for the input projection on a GPU ([`Precision`]); set by
    /// [`SequenceLstm::with_precision`], not stored in checkpoints.
    #[module(skip)]
    precision: Precision,
}

impl SequenceLstm {
    /// An LSTM from `d_input` features to `d_hidden` units, with biases, initialised exactly as
    /// `LstmConfig::new(d_input, d_hidden, true).init(device)` (Xavier normal, same draw order).
    pub fn new(d_input: usize, d_hidden: usize, device: &Device) -> Self {
        Self::from_burn(LstmConfig::new(d_input, d_hidden, true).init(device))
    }

    /// Takes over the weights of a Burn LSTM (batch-first or not; uncoupled gates, default
    /// activations, no clipping: what `LstmConfig::new` builds), its four gates side by side.
    ///
    /// # Panics
    /// If `lstm` couples its input and forget gates (`input_forget`), which this LSTM does not
    /// implement, or if some of its gates have biases and others not.
    pub fn from_burn(lstm: Lstm) -> Self {
        let Lstm {
            input_gate,
            forget_gate,
            output_gate,
            cell_gate,
            d_hidden,
            ..
        } = lstm;
        let gates = [
            input_gate,
            forget_gate.expect("an LSTM with a separate forget gate"),
            output_gate,
            cell_gate,
        ];
        let fuse = |part: fn(&GateController) -> &Linear| {
            let weight = Tensor::cat(gates.iter().map(|g| part(g).weight.val()).collect(), 1);
            let biases: Option<Vec<Tensor<1>>> = gates
                .iter()
                .map(|g| part(g).bias.as_ref().map(|b| b.val()))
                .collect();
            assert!(
                biases.is_some() || gates.iter().all(|g| part(g).bias.is_none()),
                "an LSTM whose gates all have biases, or none"
            );
            // New leaves: on an autodiff device the concatenation is itself tracked.
            Linear {
                weight: Param::from_tensor(weight.detach()),
                bias: biases.map(|b| Param::from_tensor(Tensor::cat(b, 0).detach())),
            }
        };
        Self {
            input: fuse(|g| &g.input_transform),
            hidden: fuse(|g| &g.hidden_transform),
            d_hidden,
            precision: Precision::F32,
        }
    }

    /// The LSTM computing its input projection in `precision` (see [`super::precision`]).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Hidden state of every step.
    ///
    /// # Shapes
    /// - `input`: `[batch, T, d_input]`
    /// - output: `[batch, T, d_hidden]`
    pub fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        let [batch, steps, d_input] = input.dims();
        let d = self.d_hidden;
        // Input projection of every step and every gate, both biases included.
        let rows = input.reshape([batch * steps, d_input]); // [batch·T, d_input]
        let projected = precision::linear(&self.input, rows, self.precision); // [batch·T, 4d]
        let projected = match &self.hidden.bias {
            Some(bias) => projected + bias.val().unsqueeze::<2>(),
            None => projected,
        };
        let projected = projected.reshape([batch, steps, 4 * d]); // i, f, o, g
        Self::recurrence(projected, self.hidden.weight.val(), d)
    }

    /// The time loop, given every step's input projection: `projected` `[batch, T, 4d]` (gate
    /// blocks i, f, o, g, both biases included) and the recurrent weights `[d, 4d]`; returns the
    /// hidden state of every step, `[batch, T, d]`.
    ///
    /// While training (f32 on an autodiff device of flex or the GPU) the loop is one autodiff
    /// step with its backward pass written out (`super::recurrence`), elsewhere
    /// [`Self::recurrence_graph`].
    pub fn recurrence(projected: Tensor<3>, recurrent: Tensor<2>, d: usize) -> Tensor<3> {
        debug_assert_eq!(projected.dims()[2], 4 * d);
        debug_assert_eq!(recurrent.dims(), [d, 4 * d]);
        super::recurrence::lstm_recurrence(&projected, &recurrent)
            .unwrap_or_else(|| Self::recurrence_graph(projected, recurrent, d))
    }

    /// [`Self::recurrence`] built from Burn's tensor operations, whose autodiff derives the
    /// backward pass (the reference the written-out backward pass is tested against).
    pub fn recurrence_graph(projected: Tensor<3>, recurrent: Tensor<2>, d: usize) -> Tensor<3> {
        let [batch, steps, _] = projected.dims();
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
pub(crate) mod tests {
    use super::*;
    use crate::model::gate_upgrade;
    use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, OptimizerRecord};
    use burn::store::ModuleRecord;
    use burn::tensor::{Distribution, Tolerance};

    /// |a − b| < max(1e-5 · |a + b|, 1e-5).
    pub(crate) fn assert_close<const D: usize>(actual: Tensor<D>, expected: Tensor<D>, what: &str) {
        assert_eq!(actual.dims(), expected.dims(), "{what}: shape");
        actual
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::rel_abs(1e-5, 1e-5));
    }

    /// Non-zero biases everywhere (Xavier initialisation draws them too, but make sure).
    fn burn_lstm(d_input: usize, d_hidden: usize, device: &Device) -> Lstm {
        LstmConfig::new(d_input, d_hidden, true).init(device)
    }

    /// Burn's gates in the order of the fused blocks.
    fn gates(lstm: &Lstm) -> [&GateController; 4] {
        [
            &lstm.input_gate,
            lstm.forget_gate.as_ref().unwrap(),
            &lstm.output_gate,
            &lstm.cell_gate,
        ]
    }

    /// `f` of the four gates side by side along the last axis, as the fused layout keeps them.
    fn side_by_side<const D: usize>(
        lstm: &Lstm,
        f: impl Fn(&GateController) -> Tensor<D>,
    ) -> Tensor<D> {
        Tensor::cat(gates(lstm).into_iter().map(f).collect(), D - 1)
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
        // Each fused parameter's gradient is the four gates' gradients side by side.
        type Part = fn(&GateController) -> &Linear;
        let parts: [(&str, &Linear, Part); 2] = [
            ("input", &ours.input, |g| &g.input_transform),
            ("hidden", &ours.hidden, |g| &g.hidden_transform),
        ];
        for (which, fused, part) in parts {
            assert_close(
                fused.weight.val().grad(&our_grads).unwrap(),
                side_by_side(&burn, |g| part(g).weight.val().grad(&burn_grads).unwrap()),
                &format!("{which} transform: weight gradient"),
            );
            assert_close(
                fused.bias.as_ref().unwrap().val().grad(&our_grads).unwrap(),
                side_by_side(&burn, |g| {
                    part(g)
                        .bias
                        .as_ref()
                        .unwrap()
                        .val()
                        .grad(&burn_grads)
                        .unwrap()
                }),
                &format!("{which} transform: bias gradient"),
            );
        }
    }

    /// What [`crate::train`] does with a model file: rewrite gate-by-gate LSTMs, then load.
    fn read_upgraded(path: &std::path::Path) -> ModuleRecord {
        let reader = burn_pack::Reader::from_file_exact(path).unwrap();
        assert!(gate_upgrade::model_pack_is_per_gate(&reader));
        let writer = gate_upgrade::upgrade_model_pack(reader).expect("upgrade");
        ModuleRecord::from_bytes(writer.into_bytes().unwrap()).unwrap()
    }

    #[test]
    fn loads_checkpoints_written_with_burns_lstm() {
        // A checkpoint written by Burn's LSTM (the layout occlab's own LSTM saved until
        // 2026-12-03) loads into ours once upgraded, and computes the same.
        let device = Device::flex();
        let burn = burn_lstm(6, 4, &device);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lstm.bpk");
        burn.clone().save_file(&path).unwrap();
        assert!(
            SequenceLstm::new(6, 4, &device)
                .try_load_file(&path)
                .is_err(),
            "a per-gate record does not fit the fused layout as it is"
        );
        let loaded = SequenceLstm::new(6, 4, &device)
            .try_load_record(read_upgraded(&path))
            .expect("load the upgraded record");
        let x = Tensor::<3>::random([2, 5, 6], Distribution::Default, &device);
        assert_close(loaded.forward(x.clone()), burn.forward(x, None).0, "loaded");
    }

    /// The recurrent head as it was saved when it used `burn::nn::Lstm` (and, with the same
    /// parameter names, occlab's per-gate LSTM until 2026-12-03).
    #[derive(Module, Debug)]
    struct BurnLstmHead {
        lstm: Lstm,
        dropout: Dropout,
        output: Linear,
    }

    impl BurnLstmHead {
        fn new(device: &Device) -> Self {
            Self {
                lstm: burn_lstm(12, 8, device),
                dropout: DropoutConfig::new(0.25).init(),
                output: LinearConfig::new(8, 3).init(device),
            }
        }

        /// No dropout: these tests run without autodiff's training mode, where it is off.
        fn forward(&self, x: Tensor<3>) -> Tensor<3> {
            self.output.forward(self.lstm.forward(x, None).0)
        }
    }

    #[test]
    fn head_loads_checkpoints_written_with_burns_lstm() {
        let device = Device::flex();
        let old = BurnLstmHead::new(&device);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("head.bpk");
        old.clone().save_file(&path).unwrap();
        let head = RecurrentHead::new(12, 8, 0.25, 3, &device)
            .try_load_record(read_upgraded(&path))
            .expect("load the old head's upgraded record");
        // No autodiff: dropout is off on both.
        let x = Tensor::<3>::random([2, 5, 12], Distribution::Default, &device);
        assert_close(head.forward(x.clone()), old.forward(x), "head");
    }

    /// One Adam step of `loss` on `model`, returning the model and the optimizer.
    fn adam_step<M: Module>(
        model: M,
        mut optim: ModuleOptimizer,
        loss: impl Fn(&M) -> Tensor<1>,
    ) -> (M, ModuleOptimizer) {
        let grads = GradientsParams::from_grads(loss(&model).backward(), &model);
        let model = optim.step(1e-2, model, grads);
        (model, optim)
    }

    #[test]
    fn a_run_saved_gate_by_gate_resumes_where_it_stopped() {
        // Train the old layout two Adam steps, save model and optimizer after the first, resume
        // the fused head from those files (both upgraded) for the second step: the same weights
        // as the old layout's second step, so Adam's moments came across block for block.
        let device = Device::flex().autodiff();
        let x = Tensor::<3>::random([2, 5, 12], Distribution::Default, &device);
        let r = Tensor::<3>::random([2, 5, 3], Distribution::Default, &device);
        let old_loss = |m: &BurnLstmHead| (m.forward(x.clone()) * r.clone()).sum();
        let new_loss = |m: &RecurrentHead| (m.forward(x.clone()) * r.clone()).sum();

        let old = BurnLstmHead::new(&device);
        let (old, old_optim) = adam_step(old, AdamConfig::new().init(), old_loss);
        let dir = tempfile::tempdir().unwrap();
        let (model_path, optim_path) = (dir.path().join("model.bpk"), dir.path().join("optim.bpk"));
        old.clone().save_file(&model_path).unwrap();
        old_optim.save(&optim_path).unwrap();
        let (old, _) = adam_step(old, old_optim, old_loss);

        let head = RecurrentHead::new(12, 8, 0.0, 3, &device)
            .try_load_record(read_upgraded(&model_path))
            .expect("upgraded model");
        let reader = burn_pack::Reader::from_file_exact(&optim_path).unwrap();
        assert!(gate_upgrade::optimizer_pack_is_per_gate(&reader));
        let writer = gate_upgrade::upgrade_optimizer_pack(reader).expect("upgrade");
        let record = OptimizerRecord::from_bytes(writer.into_bytes().unwrap()).unwrap();
        let optim = AdamConfig::new().init().load_record(record);
        let (head, _) = adam_step(head, optim, new_loss);

        let old_lstm = &old.lstm;
        assert_close(
            head.lstm.input.weight.val(),
            side_by_side(old_lstm, |g| g.input_transform.weight.val()),
            "input weights after the resumed step",
        );
        assert_close(
            head.lstm.hidden.bias.as_ref().unwrap().val(),
            side_by_side(old_lstm, |g| {
                g.hidden_transform.bias.as_ref().unwrap().val()
            }),
            "hidden biases after the resumed step",
        );
        assert_close(
            head.output.weight.val(),
            old.output.weight.val(),
            "classifier after the resumed step",
        );
    }
}
