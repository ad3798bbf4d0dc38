//! Adam in one pass over memory on Burn's CPU backend (`flex`).
//!
//! Why: Burn's `Adam` updates a parameter with about a dozen whole-tensor operations (scale the
//! moments, square the gradient, add, square root, divide, scale, subtract), each one a pass over
//! memory. The CRNN's LSTM input weights alone are 12,544 × 1,024 floats (51 MB), so one Adam
//! step streams over a GB; measured, it took about a sixth of a CRNN train step on two cores
//! (docs/PERFORMANCE.md). [`FusedAdam`] reads the gradient and the two moments and writes the
//! parameter and the moments once, element by element, in parallel chunks, in place where the
//! buffers are not shared.
//!
//! It computes exactly what Burn's `Adam` computes, in the same order of floating-point
//! operations, so its results are bit-identical (tested), except that subnormal values (below
//! 1.2e-38) count as zero: x86 cores are 25–35× slower on them, and a long run makes many
//! (`occlab_kernels::adam_step` says why; docs/PERFORMANCE.md has the measurement). It keeps
//! Burn's optimizer state (`AdamState`): checkpoints written with `AdamConfig::init()` resume
//! with it and the other way round. Tensors that are not `f32` on flex (WGPU, or another dtype) go to Burn's `Adam`.

use burn::backend::{DispatchDevice, Flex, flex::FlexTensor};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::tensor::{DType, Device, Tensor};

/// Burn's `AdamConfig` defaults, which occlab trains with.
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-5;

/// Adam (Burn's defaults: β₁ 0.9, β₂ 0.999, ε 1e-5, optional L2 weight decay added to the
/// gradient), fused into one pass on flex. See the module documentation.
#[derive(Clone)]
pub struct FusedAdam {
    weight_decay: Option<f32>,
    /// ε (Burn's 1e-5, times the loss scale when the gradients come scaled).
    epsilon: f32,
    /// Burn's Adam with the same settings, for tensors the fused path does not take.
    fallback: Adam,
}

impl FusedAdam {
    /// Adam with an L2 penalty `weight_decay` added to the gradients (0 = none), as
    /// `AdamConfig::new().with_weight_decay(…)` builds it.
    pub fn new(weight_decay: f64) -> Self {
        Self::with_loss_scale(weight_decay, 1.0)
    }

    /// Adam for gradients that come multiplied by `loss_scale` (mixed precision multiplies the
    /// loss by it, `model::Precision::loss_scale`): ε and the weight decay are multiplied by it
    /// too, which leaves every update what it is for unscaled gradients — `m̂ / (√v̂ + ε)` and
    /// `g + λθ` scale alike — without a pass over the gradients to divide them. The moments kept
    /// in the optimizer state are `loss_scale` (m) and `loss_scale²` (v) times the unscaled ones.
    pub fn with_loss_scale(weight_decay: f64, loss_scale: f32) -> Self {
        let weight_decay = (weight_decay > 0.0).then_some(weight_decay as f32 * loss_scale);
        let epsilon = EPSILON * loss_scale;
        let config = AdamConfig::new()
            .with_beta_1(BETA_1)
            .with_beta_2(BETA_2)
            .with_epsilon(epsilon)
            .with_weight_decay(weight_decay.map(WeightDecayConfig::new));
        Self {
            weight_decay,
            epsilon,
            fallback: config.build(),
        }
    }

    /// The module optimizer occlab trains with (a drop-in for `AdamConfig::init()`).
    pub fn init(weight_decay: f64) -> ModuleOptimizer {
        ModuleOptimizer::from(Self::new(weight_decay))
    }

    /// [`Self::init`] for gradients multiplied by `loss_scale` ([`Self::with_loss_scale`]).
    pub fn init_scaled(weight_decay: f64, loss_scale: f32) -> ModuleOptimizer {
        ModuleOptimizer::from(Self::with_loss_scale(weight_decay, loss_scale))
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let fusable = on_flex_f32(&tensor)
            && on_flex_f32(&grad)
            && state.as_ref().is_none_or(|s| {
                s.momentum.max_moment_2.is_none()
                    && on_flex_f32(&s.momentum.moment_1)
                    && on_flex_f32(&s.momentum.moment_2)
            });
        if !fusable {
            return self.fallback.step(lr, tensor, grad, state);
        }
        #[cfg(test)]
        tests::FUSED_STEPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tensor, state) = self.fused_step(lr, tensor, grad, state);
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}

impl FusedAdam {
    fn fused_step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, AdamState<D>) {
        let mut param = owned_contiguous(flex(tensor));
        let grad = owned_contiguous(flex(grad));
        let (mut m, mut v, time) = match state {
            Some(state) => {
                let momentum = state.momentum;
                (
                    owned_contiguous(flex(momentum.moment_1)),
                    owned_contiguous(flex(momentum.moment_2)),
                    momentum.time + 1,
                )
            }
            // Zero moments make the first update's formulas Burn's first-step ones exactly
            // (β·0 + x = x).
            None => {
                let shape = param.layout().shape().clone();
                (
                    FlexTensor::zeros(shape.clone(), DType::F32),
                    FlexTensor::zeros(shape, DType::F32),
                    1,
                )
            }
        };

        // Burn's scalars, computed as Burn computes them.
        let time_i = time as i32;
        let bias_correction2_sqrt = (1.0 - BETA_2.powi(time_i)).sqrt();
        let combined_factor = bias_correction2_sqrt / (1.0 - BETA_1.powi(time_i));
        let eps = self.epsilon * bias_correction2_sqrt;

        occlab_kernels::adam_step(
            param.storage_mut(),
            m.storage_mut(),
            v.storage_mut(),
            grad.storage(),
            occlab_kernels::AdamStep {
                keep_1: BETA_1,
                take_1: 1.0 - BETA_1,
                keep_2: BETA_2,
                take_2: 1.0 - BETA_2,
                combined_factor,
                epsilon: eps,
                learning_rate: lr as f32,
                weight_decay: self.weight_decay,
            },
        );

        let state = AdamState::new(AdaptiveMomentumState::new(
            time,
            Tensor::from_primitive::<Flex>(m),
            Tensor::from_primitive::<Flex>(v),
        ));
        (Tensor::from_primitive::<Flex>(param), state)
    }
}

fn on_flex_f32<const D: usize>(tensor: &Tensor<D>) -> bool {
    tensor.dtype() == DType::F32 && matches!(tensor.device().as_dispatch(), DispatchDevice::Flex(_))
}

fn flex<const D: usize>(tensor: Tensor<D>) -> FlexTensor {
    tensor
        .try_into_primitive::<Flex>()
        .expect("checked by on_flex_f32: an f32 tensor on flex")
}

/// The tensor with its data starting at offset 0 and laid out contiguously, so that its storage
/// is exactly its elements in order.
fn owned_contiguous(tensor: FlexTensor) -> FlexTensor {
    let n = tensor.layout().shape().num_elements();
    let plain =
        tensor.layout().contiguous_offsets() == Some((0, n)) && tensor.storage::<f32>().len() == n;
    if plain {
        tensor
    } else {
        tensor.to_contiguous()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::TensorData;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Parameter updates the fused path made (the tests check that it, not the fallback, ran).
    pub(super) static FUSED_STEPS: AtomicUsize = AtomicUsize::new(0);

    #[derive(Module, Debug)]
    struct Net {
        a: Linear,
        b: Linear,
    }

    impl Net {
        fn new(device: &Device) -> Self {
            Self {
                a: LinearConfig::new(37, 70_000 / 37).init(device),
                b: LinearConfig::new(70_000 / 37, 3).init(device),
            }
        }
        fn loss(&self, x: Tensor<2>) -> Tensor<1> {
            let h = burn::tensor::activation::tanh(self.a.forward(x));
            self.b.forward(h).powi_scalar(2).mean()
        }
    }

    fn train(
        net: Net,
        optim: &mut ModuleOptimizer,
        steps: std::ops::Range<u64>,
        device: &Device,
    ) -> Net {
        train_scaled(net, optim, steps, device, 1.0)
    }

    /// [`train`] with the loss multiplied by `scale` before the backward pass.
    fn train_scaled(
        mut net: Net,
        optim: &mut ModuleOptimizer,
        steps: std::ops::Range<u64>,
        device: &Device,
        scale: f32,
    ) -> Net {
        for step in steps {
            // Inputs from a formula, not the global RNG that tests running in parallel share.
            let values: Vec<f32> = (0..8 * 37u64)
                .map(|i| (((i + 1) * (step + 3) * 2_654_435_761) % 1000) as f32 / 500.0 - 1.0)
                .collect();
            let x = Tensor::<2>::from_data(TensorData::new(values, [8, 37]), device);
            let loss = net.loss(x);
            let loss = if scale == 1.0 { loss } else { loss * scale };
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(1e-2, net, grads);
        }
        net
    }

    fn params(net: Net) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        for t in [
            net.a.weight.val().flatten::<1>(0, 1),
            net.b.weight.val().flatten(0, 1),
        ] {
            out.push(t.into_data().try_into_vec::<f32>().expect("f32"));
        }
        for b in [net.a.bias, net.b.bias].into_iter().flatten() {
            out.push(b.val().into_data().try_into_vec::<f32>().expect("f32"));
        }
        out
    }

    /// Bit-identical to Burn's Adam over several steps (parameters large enough to be split
    /// across threads), with and without weight decay.
    #[test]
    fn equals_burns_adam_bit_for_bit() {
        let device = Device::flex().autodiff();
        for decay in [0.0, 1e-3] {
            let mut burn_optim = if decay > 0.0 {
                AdamConfig::new()
                    .with_weight_decay(Some(WeightDecayConfig::new(decay as f32)))
                    .init()
            } else {
                AdamConfig::new().init()
            };
            let mut fused = FusedAdam::init(decay);
            let start = Net::new(&device);
            let theirs = train(start.clone(), &mut burn_optim, 0..4, &device);
            let before = FUSED_STEPS.load(Ordering::Relaxed);
            let ours = train(start, &mut fused, 0..4, &device);
            assert!(
                FUSED_STEPS.load(Ordering::Relaxed) >= before + 16,
                "4 steps × 4 parameters through the fused path"
            );
            assert_eq!(params(ours), params(theirs), "weight decay {decay}");
        }
    }

    /// Mixed precision's loss scaling leaves Adam's updates as they are: gradients of a loss
    /// multiplied by 1024 through an Adam whose ε and weight decay are scaled alike give the
    /// weights of unscaled training, bit for bit (a power of two scales every rounding alike),
    /// on the fused path (flex) and through Burn's Adam (the path on a GPU).
    #[test]
    fn a_scaled_loss_with_the_scaled_adam_trains_as_the_unscaled_one() {
        let device = Device::flex().autodiff();
        let scale = 1024.0;
        for decay in [0.0, 1e-3] {
            let start = Net::new(&device);
            let reference = train(start.clone(), &mut FusedAdam::init(decay), 0..4, &device);
            let fused = train_scaled(
                start.clone(),
                &mut FusedAdam::init_scaled(decay, scale),
                0..4,
                &device,
                scale,
            );
            assert_eq!(
                params(fused),
                params(reference.clone()),
                "fused, decay {decay}"
            );
            let burns = FusedAdam::with_loss_scale(decay, scale).fallback;
            let through_burn = train_scaled(
                start.clone(),
                &mut ModuleOptimizer::from(burns),
                0..4,
                &device,
                scale,
            );
            let unscaled_burn = train(
                start,
                &mut ModuleOptimizer::from(FusedAdam::new(decay).fallback),
                0..4,
                &device,
            );
            assert_eq!(
                params(through_burn),
                params(unscaled_burn),
                "Burn's, decay {decay}"
            );
        }
    }

    /// The optimizer state is Burn's: a run checkpointed with Burn's Adam resumes with the fused
    /// one (and the other way round) exactly as if it had not changed optimizer.
    #[test]
    fn resumes_from_burns_adam_state_and_back() {
        let device = Device::flex().autodiff();
        let dir = std::env::temp_dir().join(format!("occlab-adam-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("optim.bpk");

        let start = Net::new(&device);
        let mut burn_optim = AdamConfig::new().init();
        let reference = train(start.clone(), &mut burn_optim, 0..5, &device);

        let mut first = AdamConfig::new().init();
        let half = train(start, &mut first, 0..2, &device);
        first.save(&path).expect("save Burn's state");
        let mut fused = FusedAdam::init(0.0)
            .load(&path)
            .expect("load into the fused Adam");
        let later = train(half, &mut fused, 2..3, &device);
        fused.save(&path).expect("save the fused state");
        let mut back = AdamConfig::new()
            .init()
            .load(&path)
            .expect("load into Burn's Adam");
        let done = train(later, &mut back, 3..5, &device);

        assert_eq!(params(done), params(reference));
        std::fs::remove_dir_all(&dir).ok();
    }
}
