//! Where a CRNN train step's time goes, op by op, with occlab's layers as the model uses them
//! (flex, autodiff on, the shapes of a batch of 32 sequences × T 5 = 160 images of 28×28).
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo run --example step_ops -- --repeats 9
//! ```
//!
//! For every op: the forward pass alone, and forward + backward (`(y · r).sum().backward()` with a
//! fixed random `r`, so the backward pass gets a dense output gradient as in training). Medians
//! in ms. A plain matrix product of conv2's im2col size is timed as a yardstick of what the
//! gemm reaches on this machine.

use std::time::Instant;

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::{DropoutConfig, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use occlab::model::conv::{Conv2dSpec, ConvPath};
use occlab::model::crnn::SequenceLstm;
use occlab::model::dropout::dropout as occlab_dropout;
use occlab::model::pool::max_pool_2x2;
use occlab::model::{ModelConfig, ModelKind, sequence_cross_entropy};

const BATCH: usize = 32;
const STEPS: usize = 5;
const N: usize = BATCH * STEPS;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repeats: usize = args
        .iter()
        .position(|a| a == "--repeats")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    println!(
        "step_ops: {} build, RAYON_NUM_THREADS = {:?}, load average {}",
        if cfg!(debug_assertions) {
            "dev-profile"
        } else {
            "release"
        },
        std::env::var("RAYON_NUM_THREADS").ok(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    occlab::train::memory::keep_freed_memory();
    let ad = Device::flex().autodiff();
    ad.seed(1);
    let same = |cin, cout| Conv2dSpec::new([cin, cout], [3, 3]).with_padding(PaddingConfig2d::Same);
    let conv1 = same(1, 32).init(&ad);
    let conv2 = same(32, 64).init(&ad);
    let lstm = SequenceLstm::new(12_544, 256, &ad);
    let linear = LinearConfig::new(256, 10).init(&ad);
    let dropout = DropoutConfig::new(0.25).init();

    let images = Tensor::<4>::random([N, 1, 28, 28], Distribution::Default, &ad);
    let a1 = Tensor::<4>::random([N, 32, 28, 28], Distribution::Default, &ad);
    let a2 = Tensor::<4>::random([N, 64, 28, 28], Distribution::Normal(0.0, 1.0), &ad);
    let pooled = Tensor::<4>::random([N, 64, 14, 14], Distribution::Default, &ad);
    let feats = Tensor::<3>::random([BATCH, STEPS, 12_544], Distribution::Default, &ad);
    let hidden = Tensor::<3>::random([BATCH, STEPS, 256], Distribution::Default, &ad);
    let logits = Tensor::<3>::random([BATCH, STEPS, 10], Distribution::Default, &ad);
    let labels: Vec<i64> = (0..N as i64).map(|i| i % 10).collect();
    let y = Tensor::<2, Int>::from_data(TensorData::new(labels, [BATCH, STEPS]), &ad);

    println!("\n{:<40} {:>10} {:>12}", "op", "fwd ms", "fwd+bwd ms");
    row(
        "conv1 1→32 (28×28, same)",
        &ad,
        repeats,
        images.clone(),
        |x| conv1.forward(x),
    );
    row("ReLU on [160, 32, 28, 28]", &ad, repeats, a1.clone(), relu);
    row(
        "conv2 32→64 (28×28, same)",
        &ad,
        repeats,
        a1.clone(),
        |x| conv2.forward(x),
    );
    // Without the input gradient (weights and bias only): the difference is the input gradient.
    let r2 = Tensor::<4>::random([N, 64, 28, 28], Distribution::Default, &ad).detach();
    let x2 = a1.clone().detach();
    let w_only = median_ms(repeats, &ad, || {
        let _ = (conv2.forward(x2.clone()) * r2.clone()).sum().backward();
    });
    println!(
        "{:<40} {:>10} {:>12.1}",
        "  conv2, no input gradient", "", w_only
    );
    for path in [ConvPath::FlexGemm, ConvPath::FlexWeightGemm] {
        row(
            &format!("  conv2 on {path:?}"),
            &ad,
            repeats,
            a1.clone(),
            |x| conv2.forward_with(x, path),
        );
    }
    row("max pool 2×2 (occlab)", &ad, repeats, a2.clone(), |x| {
        max_pool_2x2(x, |_| unreachable!("flex takes the fast path"))
    });
    let burn_pool = burn::nn::pool::MaxPool2dConfig::new([2, 2]).init();
    row("max pool 2×2 (Burn)", &ad, repeats, a2, |x| {
        burn_pool.forward(x)
    });
    row(
        "ReLU on [160, 64, 14, 14]",
        &ad,
        repeats,
        pooled.clone(),
        relu,
    );
    row("dropout 0.25 (occlab)", &ad, repeats, pooled.clone(), |x| {
        occlab_dropout(&dropout, x)
    });
    row("dropout 0.25 (Burn)", &ad, repeats, pooled, |x| {
        dropout.forward(x)
    });
    row(
        "LSTM 12,544 → 256, T 5, batch 32",
        &ad,
        repeats,
        feats,
        |x| lstm.forward(x),
    );
    // The same LSTM on 16 input features: what is left is the recurrence (the time loop's
    // small products and element-wise gate operations).
    let small_lstm = SequenceLstm::new(16, 256, &ad);
    let small_feats = Tensor::<3>::random([BATCH, STEPS, 16], Distribution::Default, &ad);
    row(
        "  LSTM recurrence alone (16 → 256)",
        &ad,
        repeats,
        small_feats,
        |x| small_lstm.forward(x),
    );
    row("linear 256 → 10 per step", &ad, repeats, hidden, |x| {
        linear.forward(x)
    });
    row("cross-entropy loss", &ad, repeats, logits, |x| {
        sequence_cross_entropy(x, y.clone()).reshape([1, 1, 1])
    });

    // Adam over the whole CRNN (13.1 M parameters): Burn's and occlab's fused one, each step
    // timed alone (a fresh backward pass before every step, untimed).
    let images5 = Tensor::<5>::random([BATCH, STEPS, 1, 28, 28], Distribution::Default, &ad);
    for (name, fused) in [
        ("Adam, whole CRNN (Burn)", false),
        ("Adam, whole CRNN (occlab)", true),
    ] {
        let mut optim = if fused {
            occlab::train::adam::FusedAdam::init(0.0)
        } else {
            burn::optim::AdamConfig::new().init()
        };
        let mut model = Some(ModelConfig::new(ModelKind::Crnn, 1, 28, 28, 10).init(&ad));
        let mut times = Vec::new();
        for _ in 0..repeats + 1 {
            let m = model.take().expect("put back after each step");
            let loss = sequence_cross_entropy(m.forward(images5.clone()), y.clone());
            let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &m);
            ad.sync().expect("sync");
            let t = Instant::now();
            model = Some(optim.step(1e-3, m, grads));
            ad.sync().expect("sync");
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.remove(0); // the first step allocates the moments
        times.sort_by(f64::total_cmp);
        println!("{name:<40} {:>10} {:>12.1}", "", times[times.len() / 2]);
    }

    // Yardstick: one product of conv2's im2col shape.
    let flex = Device::flex();
    let a = Tensor::<2>::random([N * 784, 288], Distribution::Default, &flex);
    let b = Tensor::<2>::random([288, 64], Distribution::Default, &flex);
    let ms = median_ms(repeats, &flex, || {
        let _ = a.clone().matmul(b.clone());
    });
    let gflop = 2.0 * (N * 784 * 288 * 64) as f64 / 1e9;
    println!(
        "\nmatmul [{}, 288] × [288, 64] ({gflop:.2} GFLOP): {ms:.1} ms = {:.0} GFLOP/s",
        N * 784,
        gflop / ms * 1e3
    );
    let _ = lstm.num_params();
}

/// Prints the forward and forward + backward medians of `f` on (a gradient-tracking copy of) `x`.
fn row<const D: usize, const E: usize>(
    name: &str,
    device: &Device,
    repeats: usize,
    x: Tensor<D>,
    f: impl Fn(Tensor<D>) -> Tensor<E>,
) {
    let x = x.detach().require_grad();
    let probe = f(x.clone());
    let r = Tensor::<E>::random(probe.dims(), Distribution::Default, device).detach();
    drop(probe);
    let fwd = median_ms(repeats, device, || {
        let _ = f(x.clone());
    });
    let both = median_ms(repeats, device, || {
        let _ = (f(x.clone()) * r.clone()).sum().backward();
    });
    println!("{name:<40} {fwd:>10.1} {both:>12.1}");
}

fn median_ms(repeats: usize, device: &Device, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            device.sync().expect("sync");
            let t = Instant::now();
            f();
            device.sync().expect("sync");
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
