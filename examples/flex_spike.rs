//! How fast does Burn's pure-Rust CPU backend (`flex`) train paper A's models?
//!
//! ```text
//! cargo run --release --example flex_spike            # train steps: CRNN and CNN
//! cargo run --release --example flex_spike -- ops     # per-operation micro timings
//! cargo run --release --example flex_spike -- wgpu    # is there a usable WGPU adapter?
//! cargo run --release --example flex_spike -- all
//! ```
//!
//! A train step is one batch of 32 sequences × T = 5 images of 28×28×1 (160 images), 10 classes:
//! forward, mean cross-entropy over all steps, backward, Adam step. Reported: median of 5 steps
//! after 2 warm-up steps, split into forward / backward / optimizer step. Figures and
//! interpretation: `docs/BURN_NOTES.md`.

use std::time::{Duration, Instant};

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::module::{
    conv_transpose2d, conv2d, conv2d_weight_backward, max_pool2d_with_indices,
    max_pool2d_with_indices_backward,
};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions, MaxPoolOptions};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use occlab::model::{ModelConfig, ModelKind, sequence_cross_entropy};

const BATCH: usize = 32;
const STEPS: usize = 5;
const IMAGES: usize = BATCH * STEPS;
const WARMUP: usize = 2;
const MEASURED: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let want = |what: &str| args.iter().any(|a| a == what || a == "all");
    println!(
        "flex spike: {} build, available_parallelism = {:?}, RAYON_NUM_THREADS = {:?}",
        if cfg!(debug_assertions) {
            "debug-assertions (dev profile)"
        } else {
            "release"
        },
        std::thread::available_parallelism().map(|n| n.get()),
        std::env::var("RAYON_NUM_THREADS").ok(),
    );
    let kinds: Vec<ModelKind> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if args.is_empty() || want("train") || !kinds.is_empty() {
        let kinds = if kinds.is_empty() {
            vec![ModelKind::Crnn, ModelKind::Cnn]
        } else {
            kinds
        };
        for kind in kinds {
            train_steps(kind, &Device::flex().autodiff(), WARMUP, MEASURED);
        }
    }
    if want("ops") {
        ops(&Device::flex());
    }
    if want("wgpu") {
        wgpu_probe();
    }
}

/// CPU time (user + system, all threads) this process has used so far, from `/proc/self/stat`
/// (clock ticks of 10 ms). On a loaded machine wall time stretches; CPU time much less.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based).
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    match (ticks(14), ticks(15)) {
        (Some(user), Some(system)) => Duration::from_millis((user + system) * 10),
        _ => Duration::ZERO,
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:8.1} ms", d.as_secs_f64() * 1e3)
}

fn sync(device: &Device) {
    device.sync().expect("device sync");
}

fn batch(device: &Device) -> (Tensor<5>, Tensor<2, Int>) {
    let images = Tensor::random([BATCH, STEPS, 1, 28, 28], Distribution::Default, device);
    let labels: Vec<i64> = (0..IMAGES as i64).map(|i| (i * 7) % 10).collect();
    let targets = Tensor::from_data(TensorData::new(labels, [BATCH, STEPS]), device);
    (images, targets)
}

/// Forward + backward + Adam on one fixed batch, timed per phase (median of `measured` steps
/// after `warmup` steps).
fn train_steps(kind: ModelKind, device: &Device, warmup: usize, measured: usize) {
    let config = ModelConfig::new(kind, 1, 28, 28, 10);
    let mut model = config.init(device);
    let mut optim = AdamConfig::new().init();
    let (images, targets) = batch(device);
    println!(
        "\n{kind}: {} parameters, feature length c = {}, batch {BATCH}×T={STEPS} = {IMAGES} images",
        model.num_params(),
        config.feature_len()
    );
    let (mut fwd, mut bwd, mut step, mut total) = (vec![], vec![], vec![], vec![]);
    let mut cpu = vec![];
    for i in 0..warmup + measured {
        sync(device);
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        let loss = sequence_cross_entropy(model.forward(images.clone()), targets.clone());
        let loss_value = loss.clone().into_scalar::<f32>();
        sync(device);
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        sync(device);
        let t2 = Instant::now();
        model = optim.step(1e-3, model, grads);
        sync(device);
        let t3 = Instant::now();
        let cpu_step = cpu_time().saturating_sub(cpu0);
        println!(
            "  step {i}{}: forward {} backward {} adam {} total {} cpu {}  loss {loss_value:.4}",
            if i < warmup { " (warm-up)" } else { "" },
            ms(t1 - t0),
            ms(t2 - t1),
            ms(t3 - t2),
            ms(t3 - t0),
            ms(cpu_step)
        );
        if i >= warmup {
            cpu.push(cpu_step);
            fwd.push(t1 - t0);
            bwd.push(t2 - t1);
            step.push(t3 - t2);
            total.push(t3 - t0);
        }
    }
    let total = median(total);
    println!(
        "  median: forward {} backward {} adam {} total {} (cpu {})  => {:.1} images/s",
        ms(median(fwd)),
        ms(median(bwd)),
        ms(median(step)),
        ms(total),
        ms(median(cpu)),
        IMAGES as f64 / total.as_secs_f64()
    );

    // Inference (no autodiff, dropout off): what evaluation costs.
    let eval = model.valid();
    let images = images.without_autodiff();
    let inner = device.clone().without_autodiff();
    let mut samples = vec![];
    for _ in 0..warmup + measured {
        sync(&inner);
        let t0 = Instant::now();
        let logits = eval.forward(images.clone());
        let _ = logits.into_data();
        samples.push(t0.elapsed());
    }
    let d = median(samples[warmup..].to_vec());
    println!(
        "  inference forward: {}  => {:.1} images/s",
        ms(d),
        IMAGES as f64 / d.as_secs_f64()
    );
}

/// Median wall time of `f` over `MEASURED` runs after `WARMUP` runs.
fn time(device: &Device, mut f: impl FnMut()) -> Duration {
    let mut samples = vec![];
    for _ in 0..WARMUP + MEASURED {
        sync(device);
        let t0 = Instant::now();
        f();
        sync(device);
        samples.push(t0.elapsed());
    }
    median(samples[WARMUP..].to_vec())
}

fn report(name: &str, d: Duration, flops: f64) {
    if flops > 0.0 {
        println!(
            "  {name:<52} {}  {:6.1} GFLOP/s",
            ms(d),
            flops / d.as_secs_f64() / 1e9
        );
    } else {
        println!("  {name:<52} {}", ms(d));
    }
}

/// Micro timings of the operations of a CRNN train step, at the spike's shapes.
fn ops(device: &Device) {
    println!("\nper-op timings on flex (no autodiff unless noted), {IMAGES} images of 28×28:");
    let n = IMAGES;
    let same = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    let rand4 = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Default, device);

    // Conv layers of the CNN unit: conv1 1→32, conv2 32→64, both 3×3 same, 28×28.
    for (name, cin, cout) in [("conv1 1→32", 1, 32), ("conv2 32→64", 32, 64)] {
        let x = rand4([n, cin, 28, 28]);
        let w = rand4([cout, cin, 3, 3]);
        let grad = rand4([n, cout, 28, 28]);
        let flops = 2.0 * (n * cout * 28 * 28 * cin * 9) as f64;
        let d = time(device, || {
            let _ = conv2d(x.clone(), w.clone(), None, same.clone());
        });
        report(&format!("{name} forward"), d, flops);
        let d = time(device, || {
            let _ = conv_transpose2d(
                grad.clone(),
                w.clone(),
                None,
                ConvTransposeOptions::new([1, 1], [1, 1], [0, 0], [1, 1], 1),
            );
        });
        report(
            &format!("{name} backward input (conv_transpose2d)"),
            d,
            flops,
        );
        let d = time(device, || {
            let _ = conv2d_weight_backward(x.clone(), w.clone(), grad.clone(), same.clone());
        });
        report(&format!("{name} backward weight"), d, flops);
    }

    // Stride-2 conv (the -2-S / -4-S layers): 32→64, 28×28 → 14×14.
    {
        let x = rand4([n, 32, 28, 28]);
        let w = rand4([64, 32, 3, 3]);
        let strided = ConvOptions::new_with_padding([2, 2], [(0, 1), (0, 1)], [1, 1], 1);
        let flops = 2.0 * (n * 64 * 14 * 14 * 32 * 9) as f64;
        let d = time(device, || {
            let _ = conv2d(x.clone(), w.clone(), None, strided.clone());
        });
        report("conv 32→64 stride 2 forward", d, flops);
        let grad = rand4([n, 64, 14, 14]);
        let d = time(device, || {
            let _ = conv2d_weight_backward(x.clone(), w.clone(), grad.clone(), strided.clone());
        });
        report("conv 32→64 stride 2 backward weight", d, flops);
    }

    // Max pooling 2×2 and ReLU on the conv2 output.
    {
        let x = rand4([n, 64, 28, 28]);
        let options = MaxPoolOptions::new([2, 2]);
        let d = time(device, || {
            let _ = max_pool2d_with_indices(x.clone(), options.clone());
        });
        report("max_pool2d 2×2 forward (with indices)", d, 0.0);
        let (_, indices) = max_pool2d_with_indices(x.clone(), options.clone());
        let grad = rand4([n, 64, 14, 14]);
        let d = time(device, || {
            let _ = max_pool2d_with_indices_backward(
                x.clone(),
                [2, 2],
                [2, 2],
                [0, 0],
                [1, 1],
                false,
                grad.clone(),
                indices.clone(),
            );
        });
        report("max_pool2d 2×2 backward", d, 0.0);
        let d = time(device, || {
            let _ = burn::tensor::activation::relu(x.clone());
        });
        report("relu [160, 64, 28, 28]", d, 0.0);
    }

    // LSTM (d = 256) on c = 14·14·64 features, forward and forward+backward with autodiff.
    {
        use burn::nn::LstmConfig;
        let ad = device.clone().autodiff();
        let c = 14 * 14 * 64;
        let lstm = LstmConfig::new(c, 256, true).init(&ad);
        let x = Tensor::<3>::random([BATCH, STEPS, c], Distribution::Default, &ad);
        let flops = 2.0 * (IMAGES * 4 * 256 * (c + 256)) as f64;
        let lstm_valid = lstm.valid();
        let xv = x.clone().without_autodiff();
        let d = time(device, || {
            let _ = lstm_valid.forward(xv.clone(), None).0.into_data();
        });
        report("LSTM 12544→256, T=5, forward", d, flops);
        let d = time(device, || {
            let (h, _) = lstm.forward(x.clone().require_grad(), None);
            let _ = h.sum().backward();
        });
        report(
            "LSTM forward+backward (autodiff, input grad)",
            d,
            3.0 * flops,
        );
        // An LSTM that projects the inputs of all steps at once: one [160, c] × [c, 1024] matmul
        // instead of 4 gates × 5 steps of [32, c] × [c, 256].
        let w_x = Tensor::<2>::random([c, 1024], Distribution::Default, &ad).require_grad();
        let w_h = Tensor::<2>::random([256, 1024], Distribution::Default, &ad).require_grad();
        let d = time(device, || {
            let h = hoisted_lstm(x.clone().require_grad(), w_x.clone(), w_h.clone());
            let _ = h.sum().backward();
        });
        report("hoisted-projection LSTM forward+backward", d, 3.0 * flops);
        // The same input projection as one matmul [160, c] × [c, 1024].
        let a = Tensor::<2>::random([IMAGES, c], Distribution::Default, device);
        let b = Tensor::<2>::random([c, 1024], Distribution::Default, device);
        let d = time(device, || {
            let _ = a.clone().matmul(b.clone());
        });
        report(
            "matmul [160, 12544] × [12544, 1024]",
            d,
            2.0 * (IMAGES * c * 1024) as f64,
        );
    }

    // The CNN unit of CRNN (conv1, conv2, pool, dropout, flatten) as autodiff would run it.
    {
        let ad = device.clone().autodiff();
        let config = ModelConfig::new(ModelKind::Crnn, 1, 28, 28, 10);
        let unit = config.cnn_unit().init(&ad);
        let x = Tensor::<4>::random([n, 1, 28, 28], Distribution::Default, &ad);
        let d_fwd = time(device, || {
            let _ = unit.forward(x.clone()).into_data();
        });
        report("CNN unit forward (autodiff)", d_fwd, 0.0);
        let d = time(device, || {
            let _ = unit.forward(x.clone()).sum().backward();
        });
        report("CNN unit forward+backward (autodiff)", d, 0.0);
    }
}

/// A bias-free LSTM whose input projection is one matmul over all steps (for timing only).
///
/// # Shapes
/// - `x`: `[batch, T, c]`, `w_x`: `[c, 4d]`, `w_h`: `[d, 4d]`
/// - output: `[batch, T, d]`
fn hoisted_lstm(x: Tensor<3>, w_x: Tensor<2>, w_h: Tensor<2>) -> Tensor<3> {
    use burn::tensor::activation::{sigmoid, tanh};
    let [batch, steps, c] = x.dims();
    let [d, _] = w_h.dims();
    let projected = x.reshape([batch * steps, c]).matmul(w_x); // [batch·T, 4d]
    let projected = projected.reshape([batch, steps, 4 * d]); // [batch, T, 4d]
    let device = projected.device();
    let mut h = Tensor::<2>::zeros([batch, d], &device);
    let mut cell = Tensor::<2>::zeros([batch, d], &device);
    let mut outputs = Vec::with_capacity(steps);
    for t in 0..steps {
        let gates = projected.clone().slice([0..batch, t..t + 1, 0..4 * d]);
        let gates = gates.reshape([batch, 4 * d]) + h.matmul(w_h.clone()); // [batch, 4d]
        let i = sigmoid(gates.clone().slice([0..batch, 0..d]));
        let f = sigmoid(gates.clone().slice([0..batch, d..2 * d]));
        let o = sigmoid(gates.clone().slice([0..batch, 2 * d..3 * d]));
        let g = tanh(gates.slice([0..batch, 3 * d..4 * d]));
        cell = f * cell + i * g;
        h = o * tanh(cell.clone());
        outputs.push(h.clone().unsqueeze_dim(1)); // [batch, 1, d]
    }
    Tensor::cat(outputs, 1) // [batch, T, d]
}

fn wgpu_probe() {
    use burn::tensor::{DeviceKind, DeviceType};
    println!("\nWGPU:");
    let t0 = Instant::now();
    let listed = std::panic::catch_unwind(|| Device::enumerate(DeviceType::Wgpu).into_vec());
    match &listed {
        Ok(devices) => println!(
            "  Device::enumerate(DeviceType::Wgpu) -> {devices:?} ({:.2} s)",
            t0.elapsed().as_secs_f64()
        ),
        Err(_) => println!("  Device::enumerate(DeviceType::Wgpu) panicked"),
    }
    let t0 = Instant::now();
    let cards = Device::enumerate_physical();
    println!(
        "  Device::enumerate_physical() -> {} card(s) {:?} ({:.2} s)",
        cards.len(),
        cards.iter().map(|c| &c.name).collect::<Vec<_>>(),
        t0.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    match Device::wgpu_options().init() {
        Ok(device) => {
            println!(
                "  Device::wgpu_options().init() -> Ok({device:?}) ({:.2} s)",
                t0.elapsed().as_secs_f64()
            );
            println!("  identity: {:?}", device.identity());
        }
        Err(err) => println!(
            "  Device::wgpu_options().init() -> Err({err}) ({:.2} s)",
            t0.elapsed().as_secs_f64()
        ),
    }
    let t0 = Instant::now();
    let used = std::panic::catch_unwind(|| {
        let device = Device::wgpu(DeviceKind::DefaultDevice);
        let x = Tensor::<2>::ones([4, 4], &device);
        x.sum().into_scalar::<f32>()
    });
    match used {
        Ok(v) => {
            println!(
                "  Device::wgpu(DefaultDevice): sum of ones(4×4) = {v} ({:.2} s)",
                t0.elapsed().as_secs_f64()
            );
            train_steps(
                ModelKind::Crnn,
                &Device::wgpu(DeviceKind::DefaultDevice).autodiff(),
                1,
                2,
            );
        }
        Err(_) => println!(
            "  Device::wgpu(DefaultDevice) panicked on first use ({:.2} s)",
            t0.elapsed().as_secs_f64()
        ),
    }
}
