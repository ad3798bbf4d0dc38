//! The LSTM's time loop as one autodiff step, its backward pass (backpropagation through time)
//! written out, on flex and on the GPU (Burn's `Cube` backend: WGPU, with or without fusion).
//!
//! Why: built from Burn's tensor operations, the loop costs the backward pass, per time step,
//! one `zeros` + `slice_assign` pair for every slice the forward pass took (the step's input
//! projection and its four gates: Burn's `slice` backward writes the gradient into a zero tensor
//! of the sliced tensor's shape) and the additions that gather the five gradients again. On a
//! GPU each is a kernel launch, and none of them fuses: on the H200 `slice_assign` (42) and
//! `full` (30) were among a CRNN step's most launched kernels (docs/PERFORMANCE.md). Here the
//! steps' rows are laid out time-major once (each step's rows are then a view), the input
//! projection's gradient is one concatenation of the steps' `∂z`, and the recurrent weights'
//! gradient is one matrix product over all steps instead of one per step. Each step's `∂z` is,
//! on the CPU and on a GPU without fusion, the four gate gradients side by side (slices and one
//! concatenation: the fewest operations); with Burn's kernel fusion (the `gpu-fusion` build),
//! one element-wise chain over `[batch, 4d]` (`Spread`), which fuses into a kernel or two.
//!
//! The mathematics are `SequenceLstm`'s (and PyTorch's, and `burn::nn::Lstm`'s): gate blocks
//! i, f, o (sigmoid) and g (tanh) of `z_t = p_t + h_{t−1} W`, `c_t = f ⊙ c_{t−1} + i ⊙ g`,
//! `h_t = o ⊙ tanh(c_t)`, `h_0 = c_0 = 0`. Backward, from `∂h_t` (the output's gradient plus
//! `∂z_{t+1} Wᵀ`) and `∂c_t` (carried from `t + 1` as `∂c_{t+1} ⊙ f_{t+1}`):
//! `∂o = ∂h ⊙ tanh c`, `∂c += ∂h ⊙ o ⊙ (1 − tanh² c)`, `∂i = ∂c ⊙ g`, `∂g = ∂c ⊙ i`,
//! `∂f = ∂c ⊙ c_{t−1}`, and `∂z` = each gate's gradient times its activation's derivative
//! (`s (1 − s)`, `1 − g²`); `∂p_t = ∂z_t`, `∂W = Σ_t h_{t−1}ᵀ ∂z_t`.
//!
//! Tested against the graph of Burn operations it replaces (values and both gradients), both
//! ways, on flex (this module's tests) and on WGPU (`tests/wgpu_parity.rs`).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, BackendTypes, Cube, DispatchKindConversion, DispatchTensor,
    Flex, TensorMetadata,
};
use burn::tensor::{
    DType, FloatDType, GradientCheckpointingStrategy, Shape, Slice, Tensor, TensorData,
};

/// The time loop as one autodiff step, where the tensors allow it: `f32`, on an autodiff device
/// of flex or of the GPU backend, gradient checkpointing off. `None` otherwise (the caller then
/// builds the loop from Burn's operations).
///
/// # Shapes
/// - `projected`: `[batch, T, 4d]`, every step's input projection (gate blocks i, f, o, g, both
///   biases included)
/// - `recurrent`: `[d, 4d]`
/// - output: `[batch, T, d]`, the hidden state of every step
pub fn lstm_recurrence(projected: &Tensor<3>, recurrent: &Tensor<2>) -> Option<Tensor<3>> {
    let device = projected.device();
    let usable = projected.dims()[1] > 0 // no steps: nothing to concatenate
        && projected.dtype() == DType::F32
        && recurrent.dtype() == DType::F32
        && device.is_autodiff()
        && device.gradient_checkpointing_strategy()
            == Some(GradientCheckpointingStrategy::Disabled);
    if !usable {
        return None;
    }
    // With Burn's kernel fusion (the `gpu-fusion` build) the gates are gathered and each step's
    // gradient is one element-wise chain, which fuse; on the CPU, and on a GPU without fusion,
    // where every operation is its own kernel, slices (views) and fewer operations.
    let fused = cfg!(feature = "gpu-fusion");
    on::<Flex>(projected, recurrent, false).or_else(|| on::<Cube>(projected, recurrent, fused))
}

/// [`lstm_recurrence`] on `Autodiff<B>`, when both tensors are of that backend; `gather`: see
/// [`Columns`].
fn on<B: Backend>(projected: &Tensor<3>, recurrent: &Tensor<2>, gather: bool) -> Option<Tensor<3>>
where
    DispatchTensor: DispatchKindConversion<Autodiff<B>>,
{
    let p = projected.clone().try_into_primitive::<Autodiff<B>>().ok()?;
    let w = recurrent.clone().try_into_primitive::<Autodiff<B>>().ok()?;
    let nodes = [p.node(), w.node()];
    let p = Autodiff::<B>::inner(p);
    let w = Autodiff::<B>::inner(w);
    let output = match Recurrence
        .prepare::<NoCheckpointing>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, saved) = forward::<B>(p, w, true, gather);
            prep.finish(saved.expect("a tracked step keeps its state"), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward::<B>(p, w, false, gather).0),
    };
    Some(Tensor::from_primitive::<Autodiff<B>>(output))
}

/// What the backward pass needs of the forward pass.
#[derive(Clone, Debug)]
struct Saved<B: Backend> {
    /// The recurrent weights `W` `[d, 4d]`.
    recurrent: FloatTensor<B>,
    /// Per step: the gates' activations i, f, o, g, each `[batch, d]`.
    gates: Vec<[FloatTensor<B>; 4]>,
    /// Per step: the cell state `c_t` `[batch, d]`.
    cells: Vec<FloatTensor<B>>,
    /// Per step: `tanh(c_t)` `[batch, d]`.
    tanh_cells: Vec<FloatTensor<B>>,
    /// Per step: the hidden state `h_t` `[batch, d]`.
    hidden: Vec<FloatTensor<B>>,
    /// Whether the gates were gathered (on the GPU): the backward pass then builds each step's
    /// `∂z` as one element-wise chain ([`Spread`]).
    gather: bool,
}

#[derive(Debug)]
struct Recurrence;

/// How the loop takes a gate's block of columns out of a `[batch, 4d]` tensor.
enum Columns<B: Backend> {
    /// A slice (a view, free on the CPU).
    Slices { batch: usize, d: usize },
    /// A gather with the block's column numbers (`[batch, d]` each, i32): on the GPU, unlike a
    /// slice, it fuses with the element-wise operations around it into one kernel.
    Gather([IntTensor<B>; 4]),
}

impl<B: Backend> Columns<B> {
    fn new(gather: bool, batch: usize, d: usize, device: &<B as BackendTypes>::Device) -> Self {
        if !gather {
            return Columns::Slices { batch, d };
        }
        Columns::Gather(std::array::from_fn(|k| {
            let block: Vec<i32> = (0..batch)
                .flat_map(|_| (k * d..(k + 1) * d).map(|c| c as i32))
                .collect();
            B::int_from_data(TensorData::new(block, [batch, d]), device)
        }))
    }

    /// Gate `k` (0 = i, 1 = f, 2 = o, 3 = g) of `t` `[batch, 4d]`: `[batch, d]`.
    fn gate(&self, t: &FloatTensor<B>, k: usize) -> FloatTensor<B> {
        match self {
            Columns::Slices { batch, d } => B::float_slice(
                t.clone(),
                &[Slice::from(0..*batch), Slice::from(k * d..(k + 1) * d)],
            ),
            Columns::Gather(indices) => B::float_gather(1, t.clone(), indices[k].clone()),
        }
    }
}

/// `[batch, T, k]` as time-major rows `[T·batch, k]` (row `t·batch + b` = step `t` of sequence
/// `b`), contiguous.
fn time_major<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    let dims = x.shape();
    let (batch, steps, k) = (dims[0], dims[1], dims[2]);
    B::float_reshape(B::float_swap_dims(x, 0, 1), Shape::new([steps * batch, k]))
}

/// Rows `range` of a 2-axis tensor (a view).
fn rows<B: Backend>(x: &FloatTensor<B>, range: std::ops::Range<usize>) -> FloatTensor<B> {
    let columns = x.shape()[1];
    B::float_slice(x.clone(), &[Slice::from(range), Slice::from(0..columns)])
}

/// `1 − x`.
fn one_minus<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::float_add_scalar(B::float_neg(x), 1.0f32.into())
}

/// The loop; with `keep`, also what the backward pass needs. `gather`: take the gates out with
/// gathers rather than slices (see [`Columns`]).
fn forward<B: Backend>(
    projected: FloatTensor<B>,
    recurrent: FloatTensor<B>,
    keep: bool,
    gather: bool,
) -> (FloatTensor<B>, Option<Saved<B>>) {
    let dims = projected.shape();
    let (batch, steps, four_d) = (dims[0], dims[1], dims[2]);
    let d = four_d / 4;
    let columns = Columns::<B>::new(gather, batch, d, &projected.device());
    let mut saved = Saved::<B> {
        recurrent: recurrent.clone(),
        gates: Vec::with_capacity(steps),
        cells: Vec::with_capacity(steps),
        tanh_cells: Vec::with_capacity(steps),
        hidden: Vec::with_capacity(steps),
        gather,
    };
    // Time-major rows (one copy): each step's inputs are then a block of whole rows, a view
    // that needs no copy of its own.
    let projected = time_major::<B>(projected);
    let mut outputs = Vec::with_capacity(steps);
    let mut state: Option<(FloatTensor<B>, FloatTensor<B>)> = None; // (h, c)
    for t in 0..steps {
        let z = rows::<B>(&projected, t * batch..(t + 1) * batch);
        let z = match &state {
            Some((h, _)) => B::float_add(z, B::float_matmul(h.clone(), recurrent.clone())),
            None => z,
        };
        let [i, f, o] = [0, 1, 2].map(|k| B::sigmoid(columns.gate(&z, k)));
        let g = B::float_tanh(columns.gate(&z, 3));
        let ig = B::float_mul(i.clone(), g.clone());
        let cell = match state {
            Some((_, c)) => B::float_add(B::float_mul(f.clone(), c), ig),
            None => ig,
        };
        let tanh_cell = B::float_tanh(cell.clone());
        let h = B::float_mul(o.clone(), tanh_cell.clone());
        outputs.push(B::float_reshape(h.clone(), Shape::new([batch, 1, d])));
        if keep {
            saved.gates.push([i, f, o, g]);
            saved.cells.push(cell.clone());
            saved.tanh_cells.push(tanh_cell);
            saved.hidden.push(h.clone());
        }
        state = Some((h, cell));
    }
    (B::float_cat(outputs, 1), keep.then_some(saved))
}

impl<B: Backend> Backward<B, 2> for Recurrence {
    type State = Saved<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [projected_node, recurrent_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node); // [batch, T, d]
        if projected_node.is_none() && recurrent_node.is_none() {
            return;
        }
        let saved = ops.state;
        let dims = grad.shape();
        let (batch, steps, d) = (dims[0], dims[1], dims[2]);
        let device = grad.device();
        let recurrent_t = B::float_transpose(saved.recurrent.clone()); // [4d, d]
        let grad = time_major::<B>(grad); // [T·batch, d]
        let spread = saved.gather.then(|| Spread::<B>::new(batch, d, &device));

        // ∂z of every step, latest first.
        let mut dz_rev: Vec<FloatTensor<B>> = Vec::with_capacity(steps);
        let mut carried: Option<(FloatTensor<B>, FloatTensor<B>)> = None; // (∂h, ∂c) from t + 1
        for t in (0..steps).rev() {
            let dh = rows::<B>(&grad, t * batch..(t + 1) * batch);
            let (dh, dc_next) = match carried.take() {
                Some((dh_next, dc_next)) => (B::float_add(dh, dh_next), Some(dc_next)),
                None => (dh, None),
            };
            let [i, f, o, g] = saved.gates[t].clone();
            let tanh_cell = saved.tanh_cells[t].clone();
            if let Some(spread) = &spread {
                let c_prev = t.checked_sub(1).map(|p| saved.cells[p].clone());
                let (dz, dc) = spread.dz([i, f.clone(), o, g], tanh_cell, c_prev, dh, dc_next);
                if t > 0 {
                    let dh_prev = B::float_matmul(dz.clone(), recurrent_t.clone());
                    carried = Some((dh_prev, B::float_mul(dc, f)));
                }
                dz_rev.push(dz);
                continue;
            }

            let d_o = B::float_mul(dh.clone(), tanh_cell.clone());
            let tanh_slope = one_minus::<B>(B::float_mul(tanh_cell.clone(), tanh_cell));
            let dc = B::float_mul(B::float_mul(dh, o.clone()), tanh_slope);
            let dc = match dc_next {
                Some(dc_next) => B::float_add(dc, dc_next),
                None => dc,
            };
            let d_i = B::float_mul(dc.clone(), g.clone());
            let d_g = B::float_mul(dc.clone(), i.clone());
            // c_{t−1} = 0 at the first step: no gradient reaches its forget gate.
            let dz_f = match t {
                0 => B::float_zeros(Shape::new([batch, d]), &device, FloatDType::F32),
                _ => {
                    let d_f = B::float_mul(dc.clone(), saved.cells[t - 1].clone());
                    B::float_mul(d_f, sigmoid_slope::<B>(f.clone()))
                }
            };
            let dz_i = B::float_mul(d_i, sigmoid_slope::<B>(i));
            let dz_o = B::float_mul(d_o, sigmoid_slope::<B>(o));
            let dz_g = B::float_mul(d_g, one_minus::<B>(B::float_mul(g.clone(), g)));
            // Every element-wise operation of the step before the concatenation and the
            // product: on the GPU they fuse into one kernel.
            let dc_prev = (t > 0).then(|| B::float_mul(dc, f));
            let dz = B::float_cat(vec![dz_i, dz_f, dz_o, dz_g], 1); // [batch, 4d]
            if let Some(dc_prev) = dc_prev {
                let dh_prev = B::float_matmul(dz.clone(), recurrent_t.clone());
                carried = Some((dh_prev, dc_prev));
            }
            dz_rev.push(dz);
        }
        dz_rev.reverse();
        let dz = B::float_cat(dz_rev, 0); // [T·batch, 4d], time-major

        // ∂W = Σ_{t ≥ 1} h_{t−1}ᵀ ∂z_t: the steps stacked, one product. With one step `W` takes
        // no part, and gets no gradient (as from Burn's autodiff: the optimizer leaves it be).
        if let Some(node) = recurrent_node.filter(|_| steps > 1) {
            let previous = B::float_cat(saved.hidden[..steps - 1].to_vec(), 0); // [(T−1)·batch, d]
            let later = rows::<B>(&dz, batch..steps * batch); // [(T−1)·batch, 4d]
            let dw = B::float_matmul(B::float_transpose(previous), later);
            grads.register::<B>(node.id, dw);
        }
        if let Some(node) = projected_node {
            let dp = B::float_reshape(dz, Shape::new([steps, batch, 4 * d]));
            grads.register::<B>(node.id, B::float_swap_dims(dp, 0, 1)); // [batch, T, 4d]
        }
    }
}

/// On the GPU: a step's `∂z` `[batch, 4d]` as one chain of element-wise operations over the
/// gate axis, every `[batch, d]` input spread over the four gate blocks with one gather and the
/// blocks told apart by 0/1 masks, rather than four per-gate chains and a concatenation. Burn's
/// fusion (0.22) gives up on the per-gate version: its search meets the limit of independent
/// blocks and runs the segment unfused (docs/PERFORMANCE.md).
struct Spread<B: Backend> {
    /// `[batch, 4d]`: column `k·d + j` reads column `j`.
    index: IntTensor<B>,
    /// `[1, 4d]`: 1 on gate block k (i, f, o, g), else 0.
    masks: [FloatTensor<B>; 4],
    /// `[1, 4d]`: 1 on the sigmoid gates' blocks (i, f, o), 0 on g's.
    sigmoid_gates: FloatTensor<B>,
}

impl<B: Backend> Spread<B> {
    fn new(batch: usize, d: usize, device: &<B as BackendTypes>::Device) -> Self {
        let index: Vec<i32> = (0..batch)
            .flat_map(|_| (0..4 * d).map(|c| (c % d) as i32))
            .collect();
        let mask = |on: &dyn Fn(usize) -> bool| {
            let mask: Vec<f32> = (0..4 * d)
                .map(|c| if on(c / d) { 1.0 } else { 0.0 })
                .collect();
            B::float_from_data(TensorData::new(mask, [1, 4 * d]), device)
        };
        Spread {
            index: B::int_from_data(TensorData::new(index, [batch, 4 * d]), device),
            masks: std::array::from_fn(|k| mask(&|gate| gate == k)),
            sigmoid_gates: mask(&|gate| gate < 3),
        }
    }

    /// `x` `[batch, d]` repeated over the four gate blocks: `[batch, 4d]`.
    fn wide(&self, x: FloatTensor<B>) -> FloatTensor<B> {
        B::float_gather(1, x, self.index.clone())
    }

    /// Σ_k `parts[k]` (each `[batch, d]`, or none) on gate block k.
    fn blocks(&self, parts: [Option<FloatTensor<B>>; 4]) -> FloatTensor<B> {
        parts
            .into_iter()
            .zip(&self.masks)
            .filter_map(|(part, mask)| part.map(|x| B::float_mul(self.wide(x), mask.clone())))
            .reduce(B::float_add)
            .expect("at least one gate block")
    }

    /// `(∂z, ∂c)` of a step from its gates, `tanh(c_t)`, `c_{t−1}` (none at the first step), the
    /// gradient reaching `h_t` and the one carried to `c_t` from the step after.
    fn dz(
        &self,
        [i, f, o, g]: [FloatTensor<B>; 4],
        tanh_cell: FloatTensor<B>,
        c_prev: Option<FloatTensor<B>>,
        dh: FloatTensor<B>,
        dc_next: Option<FloatTensor<B>>,
    ) -> (FloatTensor<B>, FloatTensor<B>) {
        let tanh_slope = one_minus::<B>(B::float_mul(tanh_cell.clone(), tanh_cell.clone()));
        let dc = B::float_mul(B::float_mul(dh.clone(), o.clone()), tanh_slope);
        let dc = match dc_next {
            Some(dc_next) => B::float_add(dc, dc_next),
            None => dc,
        };
        // What multiplies each gate's gradient: ∂c, except ∂h for the output gate.
        let carrier = self.blocks([
            Some(dc.clone()),
            Some(dc.clone()),
            Some(dh),
            Some(dc.clone()),
        ]);
        // ∂gate / ∂carrier: g for i, c_{t−1} for f, tanh(c_t) for o, i for g.
        let partner = self.blocks([Some(g.clone()), c_prev, Some(tanh_cell), Some(i.clone())]);
        // The activations' slopes: s − s² for the sigmoid gates, 1 − g² for g.
        let act = self.blocks([Some(i), Some(f), Some(o), Some(g)]);
        let sigmoid_part = B::float_mul(act.clone(), self.sigmoid_gates.clone());
        let slope = B::float_sub(
            B::float_add(sigmoid_part, self.masks[3].clone()),
            B::float_mul(act.clone(), act),
        );
        let dz = B::float_mul(B::float_mul(carrier, partner), slope);
        (dz, dc)
    }
}

/// `s (1 − s)`: the slope of the sigmoid whose output is `s`.
fn sigmoid_slope<B: Backend>(s: FloatTensor<B>) -> FloatTensor<B> {
    B::float_mul(s.clone(), one_minus::<B>(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::crnn::SequenceLstm;
    use crate::model::crnn::tests::assert_close as close;
    use burn::tensor::{Device, Distribution};

    /// The written-out step gives the values and both gradients that Burn's autodiff derives
    /// from the loop of tensor operations, for one step, a few and many; and on a device
    /// without autodiff it is not used.
    #[test]
    fn matches_the_loop_of_burn_operations_forward_and_backward() {
        let ad = Device::flex().autodiff();
        ad.seed(7);
        for (batch, steps, d) in [(3, 5, 4), (1, 1, 2), (2, 2, 3), (4, 9, 8)] {
            let p = Tensor::<3>::random([batch, steps, 4 * d], Distribution::Default, &ad)
                .mul_scalar(2.0)
                .require_grad();
            let w = Tensor::<2>::random([d, 4 * d], Distribution::Default, &ad).require_grad();
            let r = Tensor::<3>::random([batch, steps, d], Distribution::Default, &ad);
            // Both ways of taking the gates out: slices (the CPU's) and gathers (the GPU's).
            for gather in [false, true] {
                let ours = match gather {
                    false => lstm_recurrence(&p, &w).expect("used on flex with autodiff"),
                    true => on::<Flex>(&p, &w, true).expect("flex tensors"),
                };
                let reference = SequenceLstm::recurrence_graph(p.clone(), w.clone(), d);
                close(ours.clone(), reference.clone(), "hidden states");
                let ours = (ours * r.clone()).sum().backward();
                let reference = (reference * r.clone()).sum().backward();
                let what = format!("batch {batch}, T {steps}, d {d}, gather {gather}");
                close(
                    p.grad(&ours).unwrap(),
                    p.grad(&reference).unwrap(),
                    &format!("{what}: projection gradient"),
                );
                match w.grad(&reference) {
                    Some(expected) => close(
                        w.grad(&ours).expect("a recurrent weight gradient"),
                        expected,
                        &format!("{what}: recurrent weight gradient"),
                    ),
                    // One step: the weights take no part.
                    None => assert!(w.grad(&ours).is_none(), "{what}: no weight gradient"),
                }
            }
        }
        let plain = Device::flex();
        let p = Tensor::<3>::zeros([1, 2, 8], &plain);
        let w = Tensor::<2>::zeros([2, 8], &plain);
        assert!(lstm_recurrence(&p, &w).is_none(), "no autodiff, no step");
    }

    /// Only the recurrent weights tracked (the projection a constant): the projection gets no
    /// gradient, the weights the right one; with nothing tracked the forward pass is the same.
    #[test]
    fn one_tracked_input_gets_its_gradient() {
        let ad = Device::flex().autodiff();
        ad.seed(3);
        let (batch, steps, d) = (2, 4, 3);
        let p = Tensor::<3>::random([batch, steps, 4 * d], Distribution::Default, &ad);
        let w = Tensor::<2>::random([d, 4 * d], Distribution::Default, &ad).require_grad();
        let ours = lstm_recurrence(&p, &w).unwrap().sum().backward();
        let reference = SequenceLstm::recurrence_graph(p.clone(), w.clone(), d)
            .sum()
            .backward();
        assert!(p.grad(&ours).is_none(), "a constant gets no gradient");
        close(
            w.grad(&ours).unwrap(),
            w.grad(&reference).unwrap(),
            "recurrent weight gradient",
        );
        let w = w.detach();
        close(
            lstm_recurrence(&p, &w).unwrap(),
            SequenceLstm::recurrence_graph(p, w, d),
            "untracked forward",
        );
    }
}
