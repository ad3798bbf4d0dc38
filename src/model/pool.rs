//! 2×2 max pooling with stride 2 on Burn's CPU backend (`flex`), as one pass forward and one
//! pass backward.
//!
//! Why: flex's general max pooling (any kernel, stride, padding, dilation, with an index tensor
//! of `i64` for the backward pass) took 80–105 ms forward + backward for the CRNN's
//! `[160, 64, 28, 28]` activation on two cores, three times PyTorch (docs/PERFORMANCE.md). The
//! CNN unit only ever pools 2×2 windows at stride 2, so this kernel reads each window once,
//! keeps the position of its maximum in one byte, and the backward pass writes every input
//! gradient once (the maximum gets the output gradient, the rest zero).
//!
//! Same function as `burn::nn::pool::MaxPool2d` with kernel and stride 2 and no padding (output
//! `⌊h/2⌋ × ⌊w/2⌋`; the first maximum in row-major window order wins a tie, and only it gets the
//! gradient); tested against it, values and gradients. Used through [`max_pool_2x2`], which
//! hands any tensor that is not `f32` on flex back to the caller for Burn's pooling.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::{Flex, TensorMetadata};

use super::flex_op::{autodiff_input, unary};
use burn::tensor::{DType, Shape, Tensor, TensorData};

/// 2×2 max pooling at stride 2 of `x` `[n, c, h, w]` → `[n, c, ⌊h/2⌋, ⌊w/2⌋]` on flex (with
/// or without autodiff); `fallback` pools a tensor that is not `f32` on flex (or with gradient
/// checkpointing on), normally Burn's `MaxPool2d` with the same kernel and stride.
pub fn max_pool_2x2(x: Tensor<4>, fallback: impl FnOnce(Tensor<4>) -> Tensor<4>) -> Tensor<4> {
    fast_max_pool_2x2(x).unwrap_or_else(fallback)
}

#[allow(clippy::result_large_err)] // private: hands the input back without a copy
fn fast_max_pool_2x2(x: Tensor<4>) -> Result<Tensor<4>, Tensor<4>> {
    let [_, _, h, w] = x.dims();
    if x.dtype() != DType::F32 || h < 2 || w < 2 {
        return Err(x);
    }
    if x.device().is_autodiff() {
        let Some(x_ad) = autodiff_input(&x) else {
            return Err(x);
        };
        Ok(unary(MaxPool2x2, x_ad, |input, tracked| {
            let (out, argmax) = forward(input, tracked);
            let dims = input.shape().dims::<4>();
            (out, tracked.then(|| (Arc::new(argmax), dims)))
        }))
    } else {
        match x.clone().try_into_primitive::<Flex>() {
            Ok(input) => Ok(Tensor::from_primitive::<Flex>(forward(&input, false).0)),
            Err(_) => Err(x),
        }
    }
}

/// The pooled tensor and, with `keep_argmax`, the window position (0–3, row-major) of every
/// output's maximum.
fn forward(x: &FlexTensor, keep_argmax: bool) -> (FlexTensor, Vec<u8>) {
    let x = x.to_contiguous();
    let [n, c, h, w] = x.shape().dims::<4>();
    let (out, argmax) = occlab_kernels::max_pool_2x2(x.storage(), n * c, h, w, keep_argmax);
    let out = FlexTensor::from_data(TensorData::new(out, [n, c, h / 2, w / 2]));
    (out, argmax)
}

/// The input gradient: each window's maximum gets the output gradient, every other input zero.
fn backward(grad: &FlexTensor, argmax: &[u8], dims: [usize; 4]) -> FlexTensor {
    let grad = grad.to_contiguous();
    let [n, c, h, w] = dims;
    let dx = occlab_kernels::max_pool_2x2_backward(grad.storage(), argmax, n * c, h, w);
    FlexTensor::from_data(TensorData::new(dx, Shape::new(dims)))
}

#[derive(Debug)]
struct MaxPool2x2;

impl Backward<Flex, 1> for MaxPool2x2 {
    /// Window position of every output's maximum, input dims.
    type State = (Arc<Vec<u8>>, [usize; 4]);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node {
            let (argmax, dims) = ops.state;
            grads.register::<Flex>(node.id, backward(&grad, &argmax, dims));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::{Device, Distribution};

    fn burn_pool(x: Tensor<4>) -> Tensor<4> {
        MaxPool2dConfig::new([2, 2]).init().forward(x)
    }

    /// Values and input gradients equal Burn's `MaxPool2d` (kernel 2, stride 2) exactly, on even
    /// and odd sizes (the odd last row / column is dropped), with and without autodiff.
    #[test]
    fn equals_burns_max_pool_values_and_gradients() {
        let ad = Device::flex().autodiff();
        for dims in [[3, 4, 8, 8], [2, 3, 7, 9], [1, 1, 2, 2], [5, 2, 6, 3]] {
            ad.seed(7);
            let x = Tensor::<4>::random(dims, Distribution::Normal(0.0, 1.0), &ad);
            let weights = Tensor::<4>::random(
                [dims[0], dims[1], dims[2] / 2, dims[3] / 2],
                Distribution::Normal(0.0, 1.0),
                &ad,
            );
            let ours_x = x.clone().detach().require_grad();
            let burn_x = x.detach().require_grad();
            let ours =
                fast_max_pool_2x2(ours_x.clone()).expect("flex autodiff takes the fast path");
            let theirs = burn_pool(burn_x.clone());
            assert_eq!(ours.dims(), theirs.dims(), "{dims:?}");
            ours.clone()
                .into_data()
                .assert_eq(&theirs.clone().into_data(), true);
            let g_ours = (ours * weights.clone()).sum().backward();
            let g_theirs = (theirs * weights).sum().backward();
            let dx_ours = ours_x.grad(&g_ours).expect("input gradient");
            let dx_theirs = burn_x.grad(&g_theirs).expect("input gradient");
            dx_ours.into_data().assert_eq(&dx_theirs.into_data(), true);

            // Inference (no autodiff): the same values.
            let plain = Tensor::<4>::random(dims, Distribution::Default, &Device::flex());
            let ours = fast_max_pool_2x2(plain.clone()).expect("flex takes the fast path");
            ours.into_data()
                .assert_eq(&burn_pool(plain).into_data(), true);
        }
    }

    /// ReLU after the pooling equals ReLU before it, values and gradients: what the CNN unit now
    /// does (including windows whose every element is negative).
    #[test]
    fn relu_commutes_with_the_pooling() {
        use burn::tensor::activation::relu;
        let ad = Device::flex().autodiff();
        ad.seed(3);
        let x = Tensor::<4>::random([2, 3, 6, 6], Distribution::Normal(-0.3, 1.0), &ad);
        let w = Tensor::<4>::random([2, 3, 3, 3], Distribution::Default, &ad);
        let a = x.clone().detach().require_grad();
        let b = x.detach().require_grad();
        let after = relu(fast_max_pool_2x2(a.clone()).expect("fast path"));
        let before = burn_pool(relu(b.clone()));
        after
            .clone()
            .into_data()
            .assert_eq(&before.clone().into_data(), true);
        let ga = (after * w.clone()).sum().backward();
        let gb = (before * w).sum().backward();
        a.grad(&ga)
            .expect("gradient")
            .into_data()
            .assert_eq(&b.grad(&gb).expect("gradient").into_data(), true);
    }

    /// Tensors the kernel does not take come back untouched for Burn's pooling.
    #[test]
    fn hands_back_what_it_does_not_take() {
        let x = Tensor::<4>::ones([1, 1, 1, 4], &Device::flex());
        assert!(
            fast_max_pool_2x2(x).is_err(),
            "a single row cannot be pooled 2×2"
        );
    }
}
