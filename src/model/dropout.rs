//! Dropout on Burn's CPU backend (`flex`) in one pass, with a counter-based mask.
//!
//! Why: `burn::nn::Dropout` draws a Bernoulli tensor from the backend's random generator (one
//! sequential stream on flex), multiplies by it and then by `1 / keep`: 38 ms for the CNN unit's
//! `[160, 64, 14, 14]` activation in a CRNN train step on two cores, as long as conv1's forward
//! pass (docs/PERFORMANCE.md). Here one 64-bit seed is drawn from the same backend generator
//! (so a run's seed still decides every mask, and a resumed run draws what an uninterrupted one
//! draws), and element `i` is kept when its 16-bit lane of a SplitMix64 hash of `(seed, i / 4)`
//! falls below `keep · 2¹⁶` (`occlab_kernels::dropout`) — independent per element, so the mask
//! is made in parallel chunks, in the same pass that scales the kept values by `1 / keep`. The backward pass multiplies the output gradient by the
//! same mask.
//!
//! Same semantics as Burn's: identity outside training (no autodiff, the module's training flag
//! off) or at rate 0; each element kept with probability `1 − rate` and scaled by `1 / (1 − rate)`.
//! Tensors that are not `f32` on flex (WGPU) use Burn's dropout.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::{Flex, TensorMetadata};

use super::flex_op::{autodiff_input, unary};
use burn::nn::Dropout;
use burn::tensor::{Distribution, Tensor, TensorData};

/// `dropout.forward(x)`, on flex in one pass (see the module documentation).
pub fn dropout<const D: usize>(dropout: &Dropout, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if !dropout.training.is_enabled() || !device.is_autodiff() || dropout.prob == 0.0 {
        return x;
    }
    let Some(x_ad) = autodiff_input(&x) else {
        return dropout.forward(x);
    };
    let keep = 1.0 - dropout.prob;
    let seed = draw_seed(&device);
    unary(DropoutOp, x_ad, |input, tracked| {
        let (out, mask) = forward(input, seed, keep);
        (out, tracked.then(|| (Arc::new(mask), scale(keep))))
    })
}

/// One 64-bit seed from the backend's random generator (the stream `Device::seed` sets).
fn draw_seed(device: &burn::tensor::Device) -> u64 {
    let inner = device.clone().without_autodiff();
    let words = Tensor::<1>::random([2], Distribution::Uniform(0.0, 1.0), &inner)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    words.iter().fold(0u64, |acc, w| {
        (acc << 32) ^ u64::from((w * 4_294_967_296.0) as u32)
    })
}

/// Burn's scale for the kept elements: `1 / keep` as an `f32` scalar.
fn scale(keep: f64) -> f32 {
    (1.0 / keep) as f32
}

fn forward(x: &FlexTensor, seed: u64, keep: f64) -> (FlexTensor, Vec<u8>) {
    let x = x.to_contiguous();
    let (out, mask) = occlab_kernels::dropout(x.storage(), seed, keep, scale(keep));
    (FlexTensor::from_data(TensorData::new(out, x.shape())), mask)
}

#[derive(Debug)]
struct DropoutOp;

impl Backward<Flex, 1> for DropoutOp {
    /// The mask (1 = kept) and the scale of the kept elements.
    type State = (Arc<Vec<u8>>, f32);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let Some(node) = node else { return };
        let (mask, s) = ops.state;
        let grad = grad.to_contiguous();
        let dx = occlab_kernels::dropout_backward(grad.storage(), &mask, s);
        grads.register::<Flex>(
            node.id,
            FlexTensor::from_data(TensorData::new(dx, grad.shape())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::DropoutConfig;
    use burn::tensor::Device;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().expect("f32")
    }

    /// Kept elements are scaled by 1 / keep, the rest zero; the share kept is 1 − rate; the input
    /// gradient is the same mask times the scale.
    #[test]
    fn drops_at_the_rate_and_scales_the_rest() {
        let ad = Device::flex().autodiff();
        for rate in [0.25, 0.5] {
            let module = DropoutConfig::new(rate).init();
            let x = Tensor::<2>::ones([400, 1000], &ad)
                .mul_scalar(2.0)
                .require_grad();
            let y = dropout(&module, x.clone());
            let out = values(y.clone());
            let expected = 2.0 * (1.0 / (1.0 - rate)) as f32;
            let kept = out.iter().filter(|&&v| v != 0.0).count();
            assert!(
                out.iter().all(|&v| v == 0.0 || v == expected),
                "rate {rate}"
            );
            let share = kept as f64 / out.len() as f64;
            // 400,000 Bernoulli draws: the standard deviation of the share is < 0.001.
            assert!(
                (share - (1.0 - rate)).abs() < 0.005,
                "rate {rate}: kept {share}"
            );
            let grads = y.sum().backward();
            let dx = values(x.grad(&grads).expect("input gradient"));
            for (g, o) in dx.iter().zip(&out) {
                assert_eq!(*g, if *o == 0.0 { 0.0 } else { expected / 2.0 });
            }
        }
    }

    /// The seed decides the mask: the same seed gives the same mask, another seed another one;
    /// two calls in a row draw different seeds.
    #[test]
    fn the_seed_decides_the_mask() {
        let x = FlexTensor::from_data(TensorData::new(vec![1.0f32; 10_000], [10_000]));
        let mask = |seed| forward(&x, seed, 0.5).1;
        assert_eq!(mask(5), mask(5));
        assert_ne!(mask(5), mask(6));
        let ad = Device::flex().autodiff();
        let module = DropoutConfig::new(0.5).init();
        let ones = Tensor::<1>::ones([10_000], &ad);
        assert_ne!(
            values(dropout(&module, ones.clone())),
            values(dropout(&module, ones))
        );
    }

    /// Outside training (no autodiff) and at rate 0 it is the identity, as Burn's.
    #[test]
    fn identity_outside_training() {
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &Device::flex());
        let module = DropoutConfig::new(0.5).init();
        assert_eq!(values(dropout(&module, x.clone())), vec![1.0, 2.0, 3.0]);
        let ad = Device::flex().autodiff();
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &ad);
        let off = DropoutConfig::new(0.0).init();
        assert_eq!(values(dropout(&off, x)), vec![1.0, 2.0, 3.0]);
    }
}
