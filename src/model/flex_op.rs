//! The plumbing shared by occlab's one-input custom autodiff steps on `Autodiff<Flex>`
//! ([`super::pool`], [`super::dropout`]), through Burn's extension points
//! (`Tensor::try_into_primitive`, `burn_autodiff`'s `Backward`).

use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::ops::{Backward, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Flex};
use burn::tensor::{DType, GradientCheckpointingStrategy, Tensor};

pub(crate) type Ad = Autodiff<Flex>;

/// `x` as an autodiff flex primitive, when it is one that the custom steps take: `f32`, on
/// `Autodiff<Flex>`, without gradient checkpointing. `None` otherwise (the caller then uses
/// Burn's operation).
pub(crate) fn autodiff_input<const D: usize>(x: &Tensor<D>) -> Option<FloatTensor<Ad>> {
    let device = x.device();
    let usable = x.dtype() == DType::F32
        && device.is_autodiff()
        && device.gradient_checkpointing_strategy()
            == Some(GradientCheckpointingStrategy::Disabled);
    usable
        .then(|| x.clone().try_into_primitive::<Ad>().ok())
        .flatten()
}

/// Runs the custom step `op` on `x`: `forward(input, tracked)` computes the output and, when
/// the input takes part in a gradient (`tracked`), the state `op`'s backward pass receives.
pub(crate) fn unary<const D: usize, O>(
    op: O,
    x: FloatTensor<Ad>,
    forward: impl FnOnce(&FlexTensor, bool) -> (FlexTensor, Option<O::State>),
) -> Tensor<D>
where
    O: Backward<Flex, 1> + std::fmt::Debug + Send + 'static,
{
    let node = x.node();
    let input = Ad::inner(x);
    let output = match op
        .prepare::<NoCheckpointing>([node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, state) = forward(&input, true);
            prep.finish(state.expect("a tracked step keeps its state"), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(&input, false).0),
    };
    Tensor::from_primitive::<Ad>(output)
}
