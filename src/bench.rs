//! Figures for `occlab bench`: the data pipeline (load, occlude, plan, build) and the training
//! step, measured with the same library calls the workbench uses. Median of repeated runs.

use crate::data::source::DataSource;
use crate::data::{DataError, ImageSet, Split};
use crate::model::{ModelConfig, ModelKind, Precision, sequence_cross_entropy};
use crate::occlusion::{OcclusionSpec, image_seed};
use crate::sequence::builder::{BuildConfig, build_patterned};
use crate::sequence::patterns::{PatternLibrary, ProgressionOptions};
use crate::sequence::planner::{PlanOptions, plan};
use crate::train::adam::FusedAdam;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::path::Path;
use std::time::{Duration, Instant};

/// One measured figure.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figure {
    pub name: String,
    /// Median over the repeats.
    pub median_ms: f64,
    pub min_ms: f64,
    pub repeats: usize,
    /// Items processed per second at the median, where that means something.
    pub per_second: Option<f64>,
    pub unit: String,
    /// GPU kernels launched per training step (counted by cubecl's launch observer over the
    /// steps run back to back); `None` on the CPU, where no kernel is launched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launches_per_step: Option<f64>,
    /// The kernels launched most often per step, by name (at most 12), with their launches per
    /// step: where a step's launches go.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top_kernels: Vec<(String, f64)>,
}

/// Counts the GPU kernels launched (on every thread), by kernel name, while it is installed.
#[derive(Default)]
struct LaunchCount(std::sync::Mutex<std::collections::HashMap<&'static str, u64>>);

impl cubecl_runtime::logging::LaunchObserver for LaunchCount {
    fn launched(&self, kernel: &'static str) {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(kernel).or_default() += 1;
    }
}

/// Runs `f`, counting the GPU kernels it launches by name (none on the CPU), most launched first.
pub fn count_launches<R>(f: impl FnOnce() -> R) -> (R, Vec<(&'static str, u64)>) {
    let count = std::sync::Arc::new(LaunchCount::default());
    let watching = cubecl_runtime::logging::LaunchObservation::new(count.clone());
    let out = f();
    drop(watching);
    let mut counts: Vec<(&'static str, u64)> = count
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain()
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    (out, counts)
}

fn measure(name: &str, repeats: usize, items: Option<(f64, &str)>, mut f: impl FnMut()) -> Figure {
    let mut times: Vec<Duration> = (0..repeats.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2].as_secs_f64();
    Figure {
        name: name.into(),
        median_ms: median * 1e3,
        min_ms: times[0].as_secs_f64() * 1e3,
        repeats: times.len(),
        per_second: items.map(|(n, _)| n / median),
        unit: items.map_or(String::new(), |(_, u)| u.into()),
        launches_per_step: None,
        top_kernels: Vec::new(),
    }
}

/// Full MNIST load, occluding all 70,000 images, planning and building the digit sequences.
pub fn foundation(data_dir: &Path, repeats: usize) -> Result<Vec<Figure>, DataError> {
    let source = DataSource::mnist();
    let mut set: Option<ImageSet> = None;
    let mut out = Vec::new();
    let mut err = None;
    out.push(measure(
        "load full MNIST (4 gzipped IDX files)",
        repeats,
        Some((70_000.0, "images/s")),
        || match source.load(Some(data_dir)) {
            Ok(s) => set = Some(s),
            Err(e) => err = Some(e),
        },
    ));
    if let Some(e) = err {
        return Err(e);
    }
    let set = set.expect("loaded");
    let spec = OcclusionSpec::paper_default();
    let mean = set.channel_means();
    out.push(measure(
        "occlude 70,000 images (levels 1-5 in turn)",
        repeats,
        Some((set.len() as f64, "images/s")),
        || {
            let mut px = set.pixels.clone();
            let n = set.image_len();
            for (i, img) in px.chunks_mut(n).enumerate() {
                spec.occlude_seeded(img, (28, 28, 1), (i % 5 + 1) as u8, &mean, image_seed(7, i));
            }
            std::hint::black_box(px);
        },
    ));
    let lib = PatternLibrary::digits(&ProgressionOptions::with_t(5)).expect("digit patterns");
    let counts = lib.class_counts(&set.class_names).expect("counts");
    let available: Vec<u32> = set.class_counts(None).iter().map(|&c| c as u32).collect();
    out.push(measure(
        "plan digit sequences (integer program, 16 patterns)",
        repeats,
        None,
        || {
            std::hint::black_box(plan(&counts, &available, &PlanOptions::default()).expect("plan"));
        },
    ));
    let cfg = BuildConfig {
        t: 5,
        seed: 1,
        level_weights: vec![1.0; 5],
        ..BuildConfig::default()
    };
    let mut total = 0;
    out.push(measure(
        "plan + build sequences per split",
        repeats,
        None,
        || {
            let (s, _) = build_patterned(&set, &lib, &cfg).expect("build");
            total = s.len(Split::Train) + s.len(Split::Test);
        },
    ));
    out.last_mut().expect("one").name = format!("plan + build {total} sequences (both splits)");
    Ok(out)
}

/// Training throughput of one model: forward + backward + Adam on batches of `batch` sequences
/// of `t` images, after two warm-up steps. The first figure is the whole step, each step waiting
/// for the device (the loss read back, then a sync); three more split it into its phases (medians
/// of their own, so they need not add up exactly): forward pass with the loss, backward pass,
/// optimizer step. The last runs `steps` steps back to back with one sync at the end, as training
/// does on a GPU (it reads the loss back only every few steps), so that the GPU's queue never
/// runs dry between steps (the CPU trains with a read every step: `TrainConfig::read_every`).
/// On a GPU (`gpu`) it does so twice: handing each step's work to the device (`Device::flush`,
/// as training does) and not; each after warm-up steps of its own, counting the kernels
/// launched. With mixed `precision` (a GPU's f16 products, `model::precision`) the loss is
/// scaled as training scales it.
pub fn train_step(
    kind: ModelKind,
    device: &Device,
    (batch, t): (usize, usize),
    steps: usize,
    gpu: bool,
    precision: Precision,
) -> Result<Vec<Figure>, String> {
    precision.check(device)?;
    let ad = device.clone().autodiff();
    ad.seed(1);
    let model_cfg = ModelConfig::new(kind, 1, 28, 28, 10);
    let mut model = Some(model_cfg.init(&ad).with_precision(precision)?);
    let mut optim = FusedAdam::init_scaled(0.0, precision.loss_scale());
    let kind = format!("{kind}{}", in_precision(precision));
    let n = batch * t;
    let pixels: Vec<f32> = (0..n * 784)
        .map(|i| ((i * 2_654_435_761) % 255) as f32 / 255.0)
        .collect();
    let labels: Vec<i64> = (0..n as i64).map(|i| i % 10).collect();
    let x = Tensor::<5>::from_data(TensorData::new(pixels, [batch, t, 1, 28, 28]), &ad);
    let y = Tensor::<2, Int>::from_data(TensorData::new(labels, [batch, t]), &ad);
    let mut phases: [Vec<Duration>; 3] = Default::default();
    let mut step = || {
        // Moved through the step, not cloned: a clone would share the parameters' buffers
        // and make Adam copy them instead of updating them in place (as training does).
        let current = model
            .take()
            .expect("the model is put back after every step");
        let t0 = Instant::now();
        let loss = sequence_cross_entropy(current.forward(x.clone()), y.clone());
        let _: f32 = loss.clone().into_scalar();
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(precision.scale_loss(loss).backward(), &current);
        let t2 = Instant::now();
        model = Some(optim.step(1e-3, current, grads));
        let _ = ad.sync();
        let t3 = Instant::now();
        for (phase, d) in phases.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2]) {
            phase.push(d);
        }
    };
    step();
    step();
    let whole = measure(
        &format!("{kind} train step, {batch}×{t} images of 28×28"),
        steps,
        Some((n as f64, "images/s")),
        step,
    );
    // Steps back to back, one sync at the end, as training runs on a GPU. `flush` hands each
    // step's work to the device at the step's end (a no-op on the CPU); Burn's kernel fusion
    // otherwise keeps queueing across steps and builds other fused kernels (docs/PERFORMANCE.md).
    let mut back_to_back = |steps: usize, flush: bool| {
        let t0 = Instant::now();
        let ((), kernels) = count_launches(|| {
            for _ in 0..steps {
                let current = model
                    .take()
                    .expect("the model is put back after every step");
                let loss = sequence_cross_entropy(current.forward(x.clone()), y.clone());
                let grads =
                    GradientsParams::from_grads(precision.scale_loss(loss).backward(), &current);
                model = Some(optim.step(1e-3, current, grads));
                if flush {
                    let _ = ad.flush();
                }
            }
            let _ = ad.sync();
        });
        (t0.elapsed().as_secs_f64() / steps as f64, kernels)
    };
    let steps = steps.max(1);
    let variants: &[(bool, &str)] = if gpu {
        &[(true, "flushed each step"), (false, "not flushed")]
    } else {
        &[(true, "")]
    };
    let mut pipelined = Vec::new();
    for &(flush, label) in variants {
        // Warm-up: the kernels this way of queueing builds are compiled (and tuned) once. On a
        // GPU with Burn's fusion that takes several steps: on an H200, 5 steps measured after 2
        // warm-up steps ran at a fifth of the speed of 40 (docs/PERFORMANCE.md). So on a GPU as
        // many warm-up steps as measured ones, 2 to 10.
        back_to_back(if gpu { steps.clamp(2, 10) } else { 2 }, flush);
        let (mean, kernels) = back_to_back(steps, flush);
        let per_step = |count: u64| count as f64 / steps as f64;
        let launches: u64 = kernels.iter().map(|(_, c)| c).sum();
        let label = if label.is_empty() {
            String::new()
        } else {
            format!(" {label},")
        };
        pipelined.push(Figure {
            name: format!(
                "  {kind} {batch}×{t}: {steps} steps back to back,{label} one sync (mean)"
            ),
            median_ms: mean * 1e3,
            min_ms: mean * 1e3,
            repeats: steps,
            per_second: Some(n as f64 / mean),
            unit: "images/s".into(),
            // The CPU backend launches no kernels: nothing to count there.
            launches_per_step: (launches > 0).then(|| per_step(launches)),
            top_kernels: kernels
                .iter()
                .take(12)
                .map(|(name, count)| (name.chars().take(120).collect(), per_step(*count)))
                .collect(),
        });
    }
    let mut figures = vec![whole];
    for (name, mut times) in ["forward + loss", "backward", "Adam"]
        .into_iter()
        .zip(phases)
    {
        times.drain(..2); // the warm-up steps
        times.sort();
        figures.push(Figure {
            name: format!("  {kind} {name}"),
            median_ms: times[times.len() / 2].as_secs_f64() * 1e3,
            min_ms: times[0].as_secs_f64() * 1e3,
            repeats: times.len(),
            per_second: None,
            unit: String::new(),
            launches_per_step: None,
            top_kernels: Vec::new(),
        });
    }
    figures.extend(pipelined);
    Ok(figures)
}

/// What figures' names add for `precision`: nothing in f32, " (mixed precision)" otherwise.
fn in_precision(precision: Precision) -> String {
    match precision {
        Precision::F32 => String::new(),
        p => format!(" ({p} precision)"),
    }
}

/// Where a CRNN training step's GPU time and kernel launches go, part by part, on `device`
/// (`occlab bench ops`): each part's forward and backward pass (with a dense upstream gradient),
/// timed synced, its kernels counted, and for the matrix products and convolutions the rate in
/// TFLOP/s they reach. Batches of `batch` sequences of 5 MNIST-sized images, as in training.
///
/// The parts: the CNN unit (two 3×3 convolutions, pooling, ReLU; dropout off); its conv2 alone
/// (32 → 64 at 28×28, input gradient included) two ways, Burn's `conv2d` and im2col of shifted
/// views with one product (`ConvPath::Shifted`: how mixed precision convolves, and in f32 a
/// candidate to beat Burn's kernels on a GPU); the LSTM's input
/// projection (`[batch·5, 12544] × [12544, 1024]`), the LSTM's time loop as training runs it (the
/// written-out step, `model::recurrence`) and the same loop left to Burn's autodiff (what it
/// replaced), the classifier with the loss; and the input projection split 8 ways along its
/// depth (`model::precision::linear_split_k`, a candidate for small batches on a GPU). Steps of
/// `repeats` after as many warm-up runs (GPU kernels are compiled and tuned at their first runs).
/// With mixed `precision` the CNN unit, the shifted-view conv2 and the input projection (both
/// ways) take f16 operands (`model::precision`); the other parts are f32 either way.
pub fn crnn_parts(
    device: &Device,
    batch: usize,
    repeats: usize,
    precision: Precision,
) -> Result<Vec<Figure>, String> {
    use crate::model::cnn::{CnnUnitConfig, Downsampling};
    use crate::model::conv::{Conv2dSpec, ConvPath};
    use crate::model::crnn::SequenceLstm;
    use burn::nn::{LinearConfig, PaddingConfig2d};
    use burn::tensor::Distribution;

    precision.check(device)?;

    const T: usize = 5;
    const FEATURES: usize = 12_544; // 64 channels × 14 × 14
    const D: usize = 256;
    let ad = device.clone().autodiff();
    ad.seed(1);
    let n = batch * T;
    fn random<const D: usize>(dims: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::random(dims, Distribution::Default, device)
    }
    // Upstream gradients: a fixed random tensor dotted with the output, summed.
    let cnn = CnnUnitConfig {
        in_channels: 1,
        filters: [32, 64],
        downsampling: Downsampling::MaxPool,
        dropout: 0.0,
    }
    .init(&ad)
    .with_precision(precision);
    let images = random([n, 1, 28, 28], &ad); // untracked, as in training
    let conv2 = Conv2dSpec::new([32, 64], [3, 3])
        .with_padding(PaddingConfig2d::Same)
        .init(&ad)
        .with_precision(precision);
    let conv2_in: Tensor<4> = random([n, 32, 28, 28], &ad).require_grad();
    let conv2_r: Tensor<4> = random([n, 64, 28, 28], &ad);
    let cnn_r: Tensor<2> = random([n, FEATURES], &ad);
    let features: Tensor<2> = random([n, FEATURES], &ad).require_grad();
    let projection = LinearConfig::new(FEATURES, 4 * D).init(&ad);
    let proj_r: Tensor<2> = random([n, 4 * D], &ad);
    let projected: Tensor<3> = random([batch, T, 4 * D], &ad).require_grad();
    let recurrent: Tensor<2> = random([D, 4 * D], &ad).mul_scalar(0.05).require_grad();
    let loop_r: Tensor<3> = random([batch, T, D], &ad);
    let hidden: Tensor<3> = random([batch, T, D], &ad).require_grad();
    let classifier = LinearConfig::new(D, 10).init(&ad);
    let labels = Tensor::<2, Int>::from_data(
        TensorData::new((0..n as i64).map(|i| i % 10).collect(), [batch, T]),
        &ad,
    );

    // FLOP of forward + backward (the backward pass of a product is two products of its size).
    // conv1's input gradient is not computed (the images are not tracked, as in training).
    let pixels = n as f64 * 28.0 * 28.0;
    let conv_flop = 2.0 * pixels * (2.0 * 32.0 * 9.0 + 3.0 * 64.0 * 32.0 * 9.0);
    let conv2_flop = 3.0 * 2.0 * pixels * 64.0 * 32.0 * 9.0;
    let proj_flop = 3.0 * 2.0 * n as f64 * FEATURES as f64 * (4 * D) as f64;
    let loop_flop = 3.0 * 2.0 * (batch * (T - 1)) as f64 * D as f64 * (4 * D) as f64;
    let in_precision = in_precision(precision);
    let cnn_name = format!("CNN unit (conv 1→32, conv 32→64, pool){in_precision}");
    let proj_name = format!("LSTM input projection [n, 12544]×[12544, 1024]{in_precision}");
    let shifted_name = format!("conv2 32→64 alone, im2col of shifted views{in_precision}");
    let split_name = format!("LSTM input projection, split-K ×8{in_precision}");
    type Part<'a> = (&'a str, Option<f64>, Box<dyn Fn() + 'a>);
    let parts: Vec<Part> = vec![
        (
            cnn_name.as_str(),
            Some(conv_flop),
            Box::new(|| {
                let y = cnn.forward(images.clone());
                let _ = (y * cnn_r.clone()).sum().backward();
            }),
        ),
        (
            "conv2 32→64 alone, Burn's conv2d (f32)",
            Some(conv2_flop),
            Box::new(|| {
                let y = conv2.forward_with(conv2_in.clone(), ConvPath::Native);
                let _ = (y * conv2_r.clone()).sum().backward();
            }),
        ),
        (
            shifted_name.as_str(),
            Some(conv2_flop),
            Box::new(|| {
                let y = conv2.forward_with(conv2_in.clone(), ConvPath::Shifted);
                let _ = (y * conv2_r.clone()).sum().backward();
            }),
        ),
        (
            proj_name.as_str(),
            Some(proj_flop),
            Box::new(|| {
                let y = crate::model::precision::linear(&projection, features.clone(), precision);
                let _ = (y * proj_r.clone()).sum().backward();
            }),
        ),
        (
            split_name.as_str(),
            Some(proj_flop),
            Box::new(|| {
                let y = crate::model::precision::linear_split_k(
                    &projection,
                    features.clone(),
                    precision,
                    8,
                );
                let _ = (y * proj_r.clone()).sum().backward();
            }),
        ),
        (
            "LSTM loop, written out (as training runs it)",
            Some(loop_flop),
            Box::new(|| {
                let y = SequenceLstm::recurrence(projected.clone(), recurrent.clone(), D);
                let _ = (y * loop_r.clone()).sum().backward();
            }),
        ),
        (
            "LSTM loop, Burn's autodiff (replaced)",
            Some(loop_flop),
            Box::new(|| {
                let y = SequenceLstm::recurrence_graph(projected.clone(), recurrent.clone(), D);
                let _ = (y * loop_r.clone()).sum().backward();
            }),
        ),
        (
            "classifier 256→10 + cross-entropy",
            None,
            Box::new(|| {
                let logits = classifier.forward(hidden.clone());
                let _ = sequence_cross_entropy(logits, labels.clone()).backward();
            }),
        ),
    ];
    let repeats = repeats.max(1);
    let mut figures = Vec::new();
    for (name, flop, run) in parts {
        let synced = || {
            run();
            let _ = ad.sync();
        };
        for _ in 0..repeats.clamp(2, 10) {
            synced();
        }
        let mut figure = measure(
            &format!("  {name}, {batch}×{T}, forward + backward"),
            repeats,
            flop.map(|f| (f / 1e12, "TFLOP/s")),
            synced,
        );
        let ((), kernels) = count_launches(synced);
        let launches: u64 = kernels.iter().map(|(_, c)| c).sum();
        figure.launches_per_step = (launches > 0).then_some(launches as f64);
        figure.top_kernels = kernels
            .iter()
            .take(12)
            .map(|(name, count)| (name.chars().take(120).collect(), *count as f64))
            .collect();
        figures.push(figure);
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bench ops` on the CPU: every part timed once per repeat, a rate for the parts whose FLOP
    /// are counted, no GPU launches (flex launches none).
    #[test]
    fn the_parts_of_a_crnn_step_are_timed_on_the_cpu() {
        let figures = crnn_parts(&Device::flex(), 1, 2, Precision::F32).unwrap();
        let names: Vec<&str> = figures.iter().map(|f| f.name.trim()).collect();
        assert_eq!(figures.len(), 8, "{names:?}");
        for (figure, part) in figures.iter().zip([
            "CNN unit",
            "conv2 32→64 alone, Burn's",
            "conv2 32→64 alone, im2col",
            "LSTM input projection [",
            "LSTM input projection, split-K",
            "LSTM loop, written out",
            "LSTM loop, Burn's autodiff",
            "classifier",
        ]) {
            assert!(figure.name.trim().starts_with(part), "{}", figure.name);
            assert!(figure.name.contains("1×5"), "{}", figure.name);
            assert_eq!(figure.repeats, 2);
            assert!(figure.median_ms > 0.0 && figure.min_ms <= figure.median_ms);
            assert_eq!(figure.launches_per_step, None, "flex launches no kernels");
            match part {
                "classifier" => assert_eq!(figure.per_second, None),
                _ => {
                    assert_eq!(figure.unit, "TFLOP/s");
                    assert!(figure.per_second.is_some_and(|r| r > 0.0 && r < 1e3));
                }
            }
        }
    }
}
