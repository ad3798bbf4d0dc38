//! Mixed precision on a GPU: the products that hold almost all of a CRNN's arithmetic with
//! half-precision (f16) operands, everything else in f32.
//!
//! Why: a GPU's tensor cores multiply f16 (or bf16, tf32) matrices, not f32 ones, and WGPU reaches
//! them only through Vulkan's cooperative matrices (Burn's `vulkan` feature, occlab's `spirv`),
//! which take f16 operands. In f32 the H200 ran occlab's convolutions and matrix products at about
//! 3 TFLOP/s (docs/PERFORMANCE.md, "GPU measured on an H200"). PyTorch's default lets cuDNN's
//! convolutions use TF32 tensor cores; [`Precision::Mixed`] is occlab's way to the same hardware.
//!
//! What runs in f16 ([`Precision::Mixed`]): the operands of the CNN unit's second convolution
//! (32 → 64 channels, as im2col and one product, [`super::conv::Conv2d::with_precision`]), of
//! the LSTM's input projection (`[batch·T, 12,544] × [12,544, 4·256]`,
//! [`super::crnn::SequenceLstm`]) and of the CNN's dense hidden layer, forward and backward: about
//! 98 % of a CRNN step's FLOP. The products accumulate in f32 and their results are cast back to
//! f32 before the bias is added; the weights, Adam's moments, conv1 (one input channel: a product
//! too thin for tensor cores), the LSTM's time loop, pooling, the classifiers and the loss stay
//! f32. Gradients reach the f16 products scaled by [`Precision::loss_scale`] (the loss is
//! multiplied by it before the backward pass), so that small gradients keep their digits instead
//! of falling below f16's smallest normal number (6.1e-5); Adam's update does not change under
//! that scaling when its ε and weight decay are scaled with it
//! (`train::adam::FusedAdam::with_loss_scale`, tested bit for bit).
//!
//! Paper B's residual models and the CPU backend train in f32 only: asking for mixed precision
//! there is an error, not a silent f32 run ([`Precision::check`]).

use burn::backend::DispatchDevice;
use burn::nn::Linear;
use burn::tensor::{DType, Device, FloatDType, Tensor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How the GPU computes the big products (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32 (the default, and the only choice on the CPU).
    #[default]
    F32,
    /// f16 operands for the convolutions and the LSTM's input projection, f32 elsewhere.
    Mixed,
}

impl Precision {
    /// The factor the loss is multiplied by before the backward pass (1 in f32). Static, 2¹⁰:
    /// the gradient of the mean cross-entropy at a logit is at most 1 / (batch·T), 7.8e-4 at
    /// 256 × 5 sequences, and the gradients the products see further down are smaller still,
    /// towards f16's smallest normal number (6.1e-5), below which digits are lost; ×1024 the
    /// logits' gradient is at most 0.8, and f16's largest number (65,504) leaves room for
    /// gradients 10⁴× larger than that (measured at 2 × 5: a scale of 65,536 gave the same step,
    /// docs/PERFORMANCE.md). A gradient that still overflows makes the weights non-finite, and
    /// the run stops at the next read (the trainer's NaN guard).
    pub fn loss_scale(self) -> f32 {
        match self {
            Precision::F32 => 1.0,
            Precision::Mixed => 1024.0,
        }
    }

    /// `loss` multiplied by [`Self::loss_scale`] (no operation in f32), to call `backward` on:
    /// what training and `bench` differentiate.
    pub fn scale_loss(self, loss: Tensor<1>) -> Tensor<1> {
        match self {
            Precision::F32 => loss,
            Precision::Mixed => loss * self.loss_scale(),
        }
    }

    /// Whether the products run with f16 operands.
    pub fn is_mixed(self) -> bool {
        self == Precision::Mixed
    }

    /// Refuses a precision `device` cannot run, naming why: mixed precision needs a GPU (WGPU)
    /// whose adapter has f16 arithmetic in shaders.
    pub fn check(self, device: &Device) -> Result<(), String> {
        if !self.is_mixed() {
            return Ok(());
        }
        if matches!(
            device.clone().without_autodiff().as_dispatch(),
            DispatchDevice::Flex(_)
        ) {
            return Err(
                "precision = \"mixed\" is for a GPU (--backend wgpu): on the CPU occlab \
                        trains in f32, which is faster there than f16"
                    .into(),
            );
        }
        if !device.supports_dtype(DType::F16) {
            return Err(
                "precision = \"mixed\": this GPU adapter has no f16 arithmetic in \
                        shaders; train with precision = \"f32\""
                    .into(),
            );
        }
        Ok(())
    }

    /// The name in presets and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Mixed => "mixed",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(Precision::F32),
            "mixed" => Ok(Precision::Mixed),
            other => Err(format!(
                "unknown precision {other:?}: \"f32\" or \"mixed\" (f16 products on a GPU)"
            )),
        }
    }
}

/// `x` with f16 elements (autodiff casts its gradient back).
pub(crate) fn half<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.cast(FloatDType::F16)
}

/// `x` with f32 elements.
pub(crate) fn single<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.cast(FloatDType::F32)
}

/// `x · w` (`[…, m, k] × […, k, n]`), with f16 operands when `precision` is mixed; f32 result.
/// An operand already in f16 is not cast again.
pub fn matmul<const D: usize>(x: Tensor<D>, w: Tensor<D>, precision: Precision) -> Tensor<D> {
    match precision {
        Precision::F32 => x.matmul(w),
        Precision::Mixed => single(half(x).matmul(half(w))),
    }
}

/// `layer.forward(x)` for `x` `[n, d_in]`, the product with f16 operands when `precision` is
/// mixed (the bias added in f32).
pub fn linear(layer: &Linear, x: Tensor<2>, precision: Precision) -> Tensor<2> {
    match precision {
        Precision::F32 => layer.forward(x),
        Precision::Mixed => plus_bias(matmul(x, layer.weight.val(), precision), layer),
    }
}

/// `y` `[n, d_out]` plus `layer`'s bias, if it has one.
fn plus_bias(y: Tensor<2>, layer: &Linear) -> Tensor<2> {
    match &layer.bias {
        Some(bias) => y + bias.val().unsqueeze::<2>(),
        None => y,
    }
}

/// [`linear`] with the product split along its depth into `splits` chunks, multiplied as one
/// batched product and summed ("split-K"): `x` `[m, k]` as `[splits, m, k / splits]` (a copy),
/// the weights `[k, n]` as `[splits, k / splits, n]` (a view), `[splits, m, n]` summed over the
/// chunks. The same result up to the order of the sums. Why: the LSTM's input projection at
/// 32 × 5 images is `[160, 12544] × [12544, 1024]`: a GPU kernel that gives each workgroup one
/// output tile has 16–48 tiles for 132 streaming multiprocessors (H200) and walks 12,544 deep in
/// each; split 8 ways it has 8× the tiles, 1,568 deep. Measured only by `occlab bench ops` so far
/// (a part of its own); training does not use it. `splits` that do not divide `k` give
/// [`linear`].
pub fn linear_split_k(
    layer: &Linear,
    x: Tensor<2>,
    precision: Precision,
    splits: usize,
) -> Tensor<2> {
    let [m, k] = x.dims();
    if splits <= 1 || k % splits != 0 {
        return linear(layer, x, precision);
    }
    let n = layer.weight.dims()[1];
    let depth = k / splits;
    let chunks = x.reshape([m, splits, depth]).swap_dims(0, 1); // [splits, m, depth]
    let weight = layer.weight.val().reshape([splits, depth, n]); // [splits, depth, n]
    let product = matmul(chunks, weight, precision); // [splits, m, n]
    plus_bias(product.sum_dim(0).reshape([m, n]), layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_parses_and_prints_its_preset_names() {
        for p in [Precision::F32, Precision::Mixed] {
            assert_eq!(p.to_string().parse::<Precision>(), Ok(p));
        }
        assert_eq!("MIXED".parse::<Precision>(), Ok(Precision::Mixed));
        let err = "f16".parse::<Precision>().unwrap_err();
        assert!(err.contains("\"f32\" or \"mixed\""), "{err}");
    }

    /// Split-K is the same product: value and both gradients, on flex.
    #[test]
    fn a_split_k_product_equals_the_plain_one() {
        use burn::nn::LinearConfig;
        use burn::tensor::{Distribution, Tolerance};
        let device = Device::flex().autodiff();
        let layer = LinearConfig::new(96, 20).init(&device);
        let x = Tensor::<2>::random([7, 96], Distribution::Default, &device).require_grad();
        let r = Tensor::<2>::random([7, 20], Distribution::Default, &device);
        let plain = linear(&layer, x.clone(), Precision::F32);
        let g_plain = (plain.clone() * r.clone()).sum().backward();
        for splits in [2, 8, 5] {
            let split = linear_split_k(&layer, x.clone(), Precision::F32, splits);
            let g_split = (split.clone() * r.clone()).sum().backward();
            let tol = Tolerance::<f32>::rel_abs(1e-5, 1e-5);
            split
                .into_data()
                .assert_approx_eq::<f32>(&plain.clone().into_data(), tol);
            x.grad(&g_split)
                .unwrap()
                .into_data()
                .assert_approx_eq::<f32>(&x.grad(&g_plain).unwrap().into_data(), tol);
            let w = |g| layer.weight.val().grad(g).unwrap().into_data();
            w(&g_split).assert_approx_eq::<f32>(&w(&g_plain), tol);
        }
    }

    #[test]
    fn mixed_precision_is_refused_on_the_cpu_with_the_reason() {
        let cpu = Device::flex();
        assert_eq!(Precision::F32.check(&cpu), Ok(()));
        let err = Precision::Mixed.check(&cpu).unwrap_err();
        assert!(err.contains("--backend wgpu"), "{err}");
    }
}
