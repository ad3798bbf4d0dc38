//! Paper B's residual models: output shapes for every skip type and position and for the
//! baselines, the identity skip's exact arithmetic, the number of temporal skip connections a
//! temporal context needs, and the reach of an output back in time.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use occlab::experiment::preset::Preset;
use occlab::model::resnet::{ResidualUnit, previous_frames};
use occlab::model::rrn::{RrnConfigError, SkipPosition, SkipType, temporal_units};
use occlab::model::{ModelConfig, ModelKind};
use std::path::Path;

fn device() -> Device {
    Device::flex()
}

/// A small RRN-family config (widths 4–16, two units per block).
fn small(kind: ModelKind, channels: usize, h: usize, w: usize) -> ModelConfig {
    ModelConfig::new(kind, channels, h, w, 5)
        .with_resnet_widths([4, 8, 8, 16])
        .with_resnet_units([2, 2, 2, 2])
}

fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

#[test]
fn every_skip_type_and_position_gives_logits_per_frame() {
    let device = device();
    let images = Tensor::<5>::random([2, 3, 1, 32, 32], Distribution::Default, &device);
    for skip in SkipType::ALL {
        for position in SkipPosition::ALL {
            for context in [1, 2, 3] {
                if skip == SkipType::None && context > 1 {
                    continue;
                }
                let config = small(ModelKind::Rrn, 1, 32, 32)
                    .with_skip(skip)
                    .with_skip_position(position)
                    .with_temporal_context(context);
                config.validate().unwrap();
                let model = config.init(&device);
                let logits = model.forward(images.clone());
                assert_eq!(
                    logits.dims(),
                    [2, 3, 5],
                    "{skip} at {position}, context {context}"
                );
                let expected = if skip == SkipType::None {
                    0
                } else {
                    context - 1
                };
                let backbone = model.resnet().unwrap().backbone();
                assert_eq!(backbone.temporal_connections(), expected);
            }
        }
    }
}

#[test]
fn baselines_and_large_frames_give_logits_per_frame() {
    let device = device();
    let small_images = Tensor::<5>::random([2, 4, 1, 32, 32], Distribution::Default, &device);
    for kind in [ModelKind::ResNetAvg, ModelKind::ResNetGru] {
        for block in [2, 3, 4] {
            for z_norm in [true, false] {
                let config = small(kind, 1, 32, 32)
                    .with_feature_block(block)
                    .with_z_norm(z_norm)
                    .with_gru_hidden(16);
                config.validate().unwrap();
                assert_eq!(config.feature_len(), [4, 8, 8, 16][block - 1]);
                let logits = config.init(&device).forward(small_images.clone());
                assert_eq!(logits.dims(), [2, 4, 5], "{kind} block {block} z {z_norm}");
            }
        }
    }
    // The average-pooling baseline gives the clip's logits at every step.
    let avg = small(ModelKind::ResNetAvg, 1, 32, 32).init(&device).valid();
    let logits = avg.forward(small_images.clone());
    let first = logits.clone().narrow(1, 0, 1).repeat_dim(1, 4);
    let diff = (logits - first).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-6, "{diff}");
    // Action-clip frames (60×80 RGB) take the large stem.
    let frames = Tensor::<5>::random([1, 2, 3, 60, 80], Distribution::Default, &device);
    for kind in ModelKind::PAPER_B {
        let logits = small(kind, 3, 60, 80).init(&device).forward(frames.clone());
        assert_eq!(logits.dims(), [1, 2, 5], "{kind}");
    }
}

#[test]
fn an_identity_skip_adds_exactly_the_previous_frame() {
    let device = device();
    let (batch, steps, c, h, w) = (2, 4, 6, 5, 7);
    let x = Tensor::<4>::random([batch * steps, c, h, w], Distribution::Default, &device);
    // previous_frames: frame t of clip b holds frame t − 1, the first frame zeros.
    let prev = previous_frames(x.clone(), steps);
    let x5 = x.clone().reshape([batch, steps, c, h, w]);
    let p5 = prev.clone().reshape([batch, steps, c, h, w]);
    let zeros = p5.clone().narrow(1, 0, 1).abs().max().into_scalar::<f32>();
    assert_eq!(zeros, 0.0);
    let shifted = (p5.narrow(1, 1, steps - 1) - x5.narrow(1, 0, steps - 1))
        .abs()
        .max()
        .into_scalar::<f32>();
    assert_eq!(shifted, 0.0);

    // y_t = σ(x_t * W) + x_t + x_{t−1}: the unit with the skip minus the same unit without it.
    let unit = ResidualUnit::new(c, c, 1, SkipType::Identity, &device);
    assert!(unit.has_temporal_skip());
    let with = unit.forward(x.clone(), steps);
    let without = unit.forward_spatial(x.clone());
    assert!(max_abs_diff(with - without, prev.clone()) < 1e-5);
    // Where the unit changes the shape, x_{t−1} goes through the unit's own projection.
    let down = ResidualUnit::new(c, 2 * c, 2, SkipType::Identity, &device);
    let diff = down.forward(x.clone(), steps) - down.forward_spatial(x.clone());
    assert_eq!(diff.dims(), [batch * steps, 2 * c, 3, 4]);
    assert!(max_abs_diff(diff, down.shortcut(prev.clone())) < 1e-5);
    // A plain unit adds nothing; linear and non-linear skips add something else than x_{t−1},
    // and nothing at the first frame (no bias).
    let plain = ResidualUnit::new(c, c, 1, SkipType::None, &device);
    assert!(
        max_abs_diff(
            plain.forward(x.clone(), steps),
            plain.forward_spatial(x.clone())
        ) == 0.0
    );
    for skip in [SkipType::Linear, SkipType::NonLinear] {
        let unit = ResidualUnit::new(c, c, 1, skip, &device);
        let added = unit.forward(x.clone(), steps) - unit.forward_spatial(x.clone());
        assert!(max_abs_diff(added.clone(), prev.clone()) > 1e-3, "{skip}");
        let first = added
            .reshape([batch, steps, c, h, w])
            .narrow(1, 0, 1)
            .abs()
            .max()
            .into_scalar::<f32>();
        assert_eq!(first, 0.0, "{skip} adds nothing at the first frame");
        if skip == SkipType::NonLinear {
            let min = unit.forward(x.clone(), steps) - unit.forward_spatial(x.clone());
            assert!(min.min().into_scalar::<f32>() >= 0.0, "ReLU of the skip");
        }
    }
}

#[test]
fn a_context_of_t_frames_takes_t_minus_one_connections() {
    let units = [2, 2, 2, 2];
    for context in 1..=8 {
        let list = temporal_units(units, SkipPosition::Block4, context).unwrap();
        assert_eq!(list.len(), context - 1, "context {context}");
        if let Some(last) = list.last() {
            assert_eq!(
                (last.block, last.unit),
                (3, 1),
                "ends at Block4's last unit"
            );
        }
        for w in list.windows(2) {
            let next = if w[0].unit + 1 < units[w[0].block] {
                (w[0].block, w[0].unit + 1)
            } else {
                (w[0].block + 1, 0)
            };
            assert_eq!((w[1].block, w[1].unit), next, "consecutive units");
        }
    }
    let mid = temporal_units(units, SkipPosition::MidBlock4, 2).unwrap();
    assert_eq!((mid[0].block, mid[0].unit), (3, 0));
    let b1 = temporal_units(units, SkipPosition::Block1, 3).unwrap();
    assert_eq!(b1.len(), 2);
    assert_eq!(
        temporal_units(units, SkipPosition::Block1, 4),
        Err(RrnConfigError::TooFewUnits {
            context: 4,
            needed: 3,
            position: SkipPosition::Block1,
            available: 2,
        })
    );
    assert_eq!(
        temporal_units([1, 1, 1, 1], SkipPosition::MidBlock4, 2),
        Err(RrnConfigError::MidBlock4(1))
    );
    // The config says so too, and in words.
    let bad = small(ModelKind::Rrn, 1, 32, 32)
        .with_skip_position(SkipPosition::Block2)
        .with_temporal_context(6);
    let message = bad.validate().unwrap_err().to_string();
    assert!(message.contains("5 temporal skip connections"), "{message}");
    let none = small(ModelKind::Rrn, 1, 32, 32)
        .with_skip(SkipType::None)
        .with_temporal_context(3);
    assert_eq!(none.validate(), Err(RrnConfigError::ContextWithoutSkip(3)));
    let block = small(ModelKind::ResNetAvg, 1, 32, 32).with_feature_block(1);
    assert_eq!(block.validate(), Err(RrnConfigError::FeatureBlock(1)));
}

/// The logits of the last frame, after changing frame `changed` of every clip.
fn last_logits_after_changing(
    model: &occlab::model::Model,
    images: &Tensor<5>,
    changed: usize,
) -> Vec<f32> {
    let [b, t, c, h, w] = images.dims();
    let mut data: Vec<f32> = images.clone().into_data().try_into_vec::<f32>().unwrap();
    let per = c * h * w;
    for clip in 0..b {
        let start = (clip * t + changed) * per;
        for v in &mut data[start..start + per] {
            *v = 1.0 - *v;
        }
    }
    let device = images.device();
    let changed = Tensor::<5>::from_data(TensorData::new(data, [b, t, c, h, w]), &device);
    model
        .forward(changed)
        .narrow(1, t - 1, 1)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap()
}

#[test]
fn an_output_sees_exactly_its_temporal_context() {
    let device = device();
    let steps = 6;
    let images = Tensor::<5>::random([2, steps, 1, 16, 16], Distribution::Default, &device);
    for (kind, context) in [
        (ModelKind::ResNet, 1),
        (ModelKind::Rrn, 2),
        (ModelKind::Rrn, 3),
        (ModelKind::Rrn, 5),
    ] {
        for skip in [SkipType::Identity, SkipType::Linear, SkipType::NonLinear] {
            let config = small(kind, 1, 16, 16)
                .with_skip(if kind == ModelKind::ResNet {
                    SkipType::None
                } else {
                    skip
                })
                .with_temporal_context(context);
            // Inference mode: batch norm uses its running statistics, so frames do not mix
            // through the batch statistics.
            let model = config.init(&device).valid();
            let base: Vec<f32> = model
                .forward(images.clone())
                .narrow(1, steps - 1, 1)
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            for changed in 0..steps {
                let after = last_logits_after_changing(&model, &images, changed);
                let moved = base
                    .iter()
                    .zip(&after)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                let seen = changed + context >= steps;
                assert_eq!(
                    moved > 0.0,
                    seen,
                    "{kind} {skip} context {context}: frame {changed} moved the last output by {moved}"
                );
            }
            if kind == ModelKind::ResNet {
                break;
            }
        }
    }
}

#[test]
fn names_parse_and_old_configs_load() {
    for kind in ModelKind::EVERY {
        assert_eq!(kind.to_string().parse::<ModelKind>(), Ok(kind));
    }
    assert_eq!("resnet-gru".parse::<ModelKind>(), Ok(ModelKind::ResNetGru));
    assert_eq!("rrn".parse::<ModelKind>(), Ok(ModelKind::Rrn));
    assert!(ModelKind::Rrn.is_paper_b() && !ModelKind::Crnn.is_paper_b());
    // Presets and run configs written before paper B's options existed still load, with the
    // defaults, and still serialise without them.
    for path in [
        "presets/paper-a/a1-mnist-patterned-crnn.toml",
        "presets/train/demo-crnn-embedded.toml",
    ] {
        let preset = Preset::load(Path::new(path)).unwrap();
        let spec = preset.model.clone().unwrap();
        assert_eq!(spec.skip, SkipType::Identity);
        assert_eq!(spec.temporal_context, 2);
        assert_eq!(spec.units, [2, 2, 2, 2]);
        let config = spec.config(1, 28, 28, 10);
        assert_eq!(config.kind, ModelKind::Crnn);
        assert_eq!(config.resnet_widths, [16, 32, 64, 128]);
        let text = preset.to_toml();
        assert!(
            !text.contains("\nskip") && !text.contains("\nwidths"),
            "{text}"
        );
        assert_eq!(Preset::parse(&text, Path::new(path)).unwrap(), preset);
    }
    // A paper-B model section round-trips.
    let b = Preset::load(Path::new("presets/paper-b/b2-rrn-linear-midblock4.toml")).unwrap();
    let spec = b.model.clone().unwrap();
    assert_eq!(
        (spec.kind, spec.skip, spec.skip_position),
        (ModelKind::Rrn, SkipType::Linear, SkipPosition::MidBlock4)
    );
    assert_eq!(Preset::parse(&b.to_toml(), Path::new("b")).unwrap(), b);
}
