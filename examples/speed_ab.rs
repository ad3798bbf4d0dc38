//! A/B timings inside one process: occlab's CPU fast paths against what they replaced.
//!
//! ```text
//! cargo run --example speed_ab                 # everything (per-op, then train steps)
//! cargo run --example speed_ab -- ops          # per-op only
//! cargo run --example speed_ab -- train        # CRNN and CNN train steps only
//! cargo run --example speed_ab -- train --repeats 9
//! cargo run --example speed_ab -- train CRNN-2-S CNN-4-S   # other models
//! cargo run --example speed_ab -- pieces       # the steps of an im2col convolution, one by one
//! cargo run --example speed_ab -- lstm         # the LSTM rows of `ops` only
//! ```
//!
//! The machine this runs on is shared, so absolute times move with the load; what this reports is
//! the *ratio* new / old, taken from the two measured back to back, alternating which goes first,
//! several times. Each line shows the median of each side and the median of the per-repeat ratios.
//!
//! - per op (flex, CRNN step shapes: 160 images of 28×28, LSTM 12,544 → 256 over T = 5, batch 32):
//!   Burn's `conv2d` against occlab's convolution paths (`occlab::model::conv::ConvPath`),
//!   forward + backward; Burn's `nn::Lstm` against occlab's `SequenceLstm`.
//! - train steps: the model as it was before (Burn's `Conv2d` and `Lstm`, rebuilt below in
//!   `legacy`, the same code as `src/model` had) against `occlab::model::Model`, same batch,
//!   forward + backward + Adam, split into phases.

use std::time::{Duration, Instant};

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use occlab::model::conv::{Conv2dSpec, ConvPath};
use occlab::model::crnn::SequenceLstm;
use occlab::model::{ModelConfig, ModelKind, sequence_cross_entropy};

const BATCH: usize = 32;
const STEPS: usize = 5;
const IMAGES: usize = BATCH * STEPS;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repeats = args
        .iter()
        .position(|a| a == "--repeats")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let all = !args
        .iter()
        .any(|a| a == "ops" || a == "train" || a == "pieces" || a == "lstm");
    println!(
        "speed_ab: {} build, available_parallelism = {:?}, RAYON_NUM_THREADS = {:?}, repeats {repeats}",
        if cfg!(debug_assertions) {
            "dev-profile (occlab with debug assertions; dependencies optimised)"
        } else {
            "release"
        },
        std::thread::available_parallelism().map(|n| n.get()),
        std::env::var("RAYON_NUM_THREADS").ok(),
    );
    println!("load average at start: {}", load_average());
    let device = Device::flex();
    if all || args.iter().any(|a| a == "ops") {
        ops(&device, repeats);
    }
    if args.iter().any(|a| a == "lstm") {
        lstm_ops(&device, repeats);
    }
    if args.iter().any(|a| a == "pieces") {
        im2col_pieces(&device, repeats);
    }
    if all || args.iter().any(|a| a == "train") {
        let mut kinds: Vec<ModelKind> = args.iter().filter_map(|a| a.parse().ok()).collect();
        if kinds.is_empty() {
            kinds = vec![ModelKind::Crnn, ModelKind::Cnn];
        }
        for kind in kinds {
            train_steps(kind, &device.clone().autodiff(), repeats);
        }
    }
    println!("\nload average at end: {}", load_average());
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn sync(device: &Device) {
    device.sync().expect("device sync");
}

/// Times `old` and `new` back to back `repeats` times (after one warm-up of each), alternating
/// which runs first; prints medians and the median of the per-repeat ratios new / old.
fn ab(name: &str, device: &Device, repeats: usize, mut old: impl FnMut(), mut new: impl FnMut()) {
    let time = |f: &mut dyn FnMut()| {
        sync(device);
        let t0 = Instant::now();
        f();
        sync(device);
        t0.elapsed().as_secs_f64() * 1e3
    };
    time(&mut old);
    time(&mut new);
    let (mut olds, mut news, mut ratios) = (vec![], vec![], vec![]);
    for r in 0..repeats {
        let (a, b) = if r % 2 == 0 {
            let a = time(&mut old);
            (a, time(&mut new))
        } else {
            let b = time(&mut new);
            (time(&mut old), b)
        };
        olds.push(a);
        news.push(b);
        ratios.push(b / a);
    }
    println!(
        "  {name:<46} old {:8.1} ms  new {:8.1} ms  new/old {:5.2}",
        median(olds),
        median(news),
        median(ratios)
    );
}

fn ops(device: &Device, repeats: usize) {
    println!("\nper op on flex ({IMAGES} images of 28×28; median ms; ratio = median of new/old):");
    let ad = device.clone().autodiff();
    let n = IMAGES;
    let same = |cin, cout, s| {
        Conv2dSpec::new([cin, cout], [3, 3])
            .with_stride([s, s])
            .with_padding(burn::nn::PaddingConfig2d::Same)
    };
    for (name, spec, size, input_grad) in [
        ("conv1 1→32", same(1, 32, 1), 28, false),
        ("conv2 32→64", same(32, 64, 1), 28, true),
        ("conv 32→64 stride 2", same(32, 64, 2), 28, true),
        ("conv 64→64 stride 2 (14→7)", same(64, 64, 2), 14, true),
    ] {
        let [cin, _] = spec.channels;
        let conv = spec.init(&ad);
        let x = Tensor::<4>::random([n, cin, size, size], Distribution::Default, &ad);
        let x = if input_grad { x.require_grad() } else { x };
        let label = if input_grad {
            "fwd+bwd (weight, bias, input grads)"
        } else {
            "fwd+bwd (weight, bias grads)"
        };
        for path in [
            ConvPath::FlexWeightGemm,
            ConvPath::FlexGemm,
            ConvPath::Im2col,
        ] {
            ab(
                &format!("{name} {label}, {path:?}"),
                device,
                repeats,
                || {
                    let _ = conv
                        .forward_with(x.clone(), ConvPath::Native)
                        .sum()
                        .backward();
                },
                || {
                    let _ = conv.forward_with(x.clone(), path).sum().backward();
                },
            );
        }
    }

    lstm_ops(device, repeats);
}

/// LSTM 12,544 → 256, T = 5, batch 32: Burn's nn::Lstm against SequenceLstm, same weights, and
/// SequenceLstm against two ways of doing one input product for all four gates.
fn lstm_ops(device: &Device, repeats: usize) {
    let ad = device.clone().autodiff();
    let c = 14 * 14 * 64;
    let burn_lstm = burn::nn::LstmConfig::new(c, 256, true).init(&ad);
    let ours = SequenceLstm::from_burn(burn_lstm.clone());
    let x = Tensor::<3>::random([BATCH, STEPS, c], Distribution::Default, &ad);
    let (burn_valid, ours_valid) = (burn_lstm.valid(), ours.valid());
    let xv = x.clone().without_autodiff();
    ab(
        "LSTM 12544→256 T=5 forward",
        device,
        repeats,
        || {
            let _ = burn_valid.forward(xv.clone(), None).0.into_data();
        },
        || {
            let _ = ours_valid.forward(xv.clone()).into_data();
        },
    );
    ab(
        "LSTM fwd+bwd (weights and input grads)",
        device,
        repeats,
        || {
            let _ = burn_lstm
                .forward(x.clone().require_grad(), None)
                .0
                .sum()
                .backward();
        },
        || {
            let _ = ours.forward(x.clone().require_grad()).sum().backward();
        },
    );
    ab(
        "LSTM fwd+bwd: per gate (old) vs stored fused (new)",
        device,
        repeats,
        || {
            let _ = lstm_per_gate(&burn_lstm, x.clone().require_grad())
                .sum()
                .backward();
        },
        || {
            let _ = ours.forward(x.clone().require_grad()).sum().backward();
        },
    );
    ab(
        "LSTM fwd+bwd: per gate (old) vs concatenated per pass (new)",
        device,
        repeats,
        || {
            let _ = lstm_per_gate(&burn_lstm, x.clone().require_grad())
                .sum()
                .backward();
        },
        || {
            let _ = lstm_concatenated(&burn_lstm, x.clone().require_grad())
                .sum()
                .backward();
        },
    );
}

/// Burn's LSTM gates in the order of the fused blocks: i, f, o, g.
fn gates(lstm: &burn::nn::Lstm) -> [&burn::nn::GateController; 4] {
    [
        &lstm.input_gate,
        lstm.forget_gate.as_ref().expect("forget gate"),
        &lstm.output_gate,
        &lstm.cell_gate,
    ]
}

/// The four gates' `part` side by side: `[rows, 4d]`.
fn side_by_side(
    gates: &[&burn::nn::GateController; 4],
    part: impl Fn(&burn::nn::GateController) -> Tensor<2>,
) -> Tensor<2> {
    Tensor::cat(gates.iter().map(|g| part(g)).collect(), 1)
}

/// `SequenceLstm` as it was until 2026-12-03: the gates' weights stored one by one (Burn's
/// `GateController`s), one input product per gate, the recurrent weights concatenated on every
/// pass. For comparison only.
fn lstm_per_gate(lstm: &burn::nn::Lstm, input: Tensor<3>) -> Tensor<3> {
    let [batch, steps, c] = input.dims();
    let d = lstm.d_hidden;
    let gates = gates(lstm);
    let flat = input.reshape([batch * steps, c]);
    let projected: Vec<Tensor<3>> = gates
        .iter()
        .map(|gate| {
            let p = gate.input_transform.forward(flat.clone());
            let p = match &gate.hidden_transform.bias {
                Some(bias) => p + bias.val().unsqueeze::<2>(),
                None => p,
            };
            p.reshape([batch, steps, d])
        })
        .collect();
    let projected = Tensor::cat(projected, 2);
    let w_h = side_by_side(&gates, |g| g.hidden_transform.weight.val());
    SequenceLstm::recurrence(projected, w_h, d)
}

/// The per-gate LSTM with the four gates' input weights concatenated into one `[c, 4d]` matrix
/// on every forward pass (one product instead of four; costs the concatenation and its backward
/// split). For comparison only.
fn lstm_concatenated(lstm: &burn::nn::Lstm, input: Tensor<3>) -> Tensor<3> {
    let [batch, steps, c] = input.dims();
    let d = lstm.d_hidden;
    let gates = gates(lstm);
    let b = |l: &burn::nn::Linear| l.bias.as_ref().expect("bias").val();
    let w_x = side_by_side(&gates, |g| g.input_transform.weight.val());
    let bias = Tensor::cat(
        gates
            .iter()
            .map(|g| b(&g.input_transform) + b(&g.hidden_transform))
            .collect(),
        0,
    );
    let w_h = side_by_side(&gates, |g| g.hidden_transform.weight.val());
    let projected = (input.reshape([batch * steps, c]).matmul(w_x) + bias.unsqueeze::<2>())
        .reshape([batch, steps, 4 * d]);
    SequenceLstm::recurrence(projected, w_h, d)
}

fn batch(device: &Device) -> (Tensor<5>, Tensor<2, Int>) {
    let images = Tensor::random([BATCH, STEPS, 1, 28, 28], Distribution::Default, device);
    let labels: Vec<i64> = (0..IMAGES as i64).map(|i| (i * 7) % 10).collect();
    let targets = Tensor::from_data(TensorData::new(labels, [BATCH, STEPS]), device);
    (images, targets)
}

/// One train step of `model`, timed per phase: (forward incl. loss, backward, Adam) in ms.
fn step<M: Module>(
    model: &mut Option<M>,
    optim: &mut ModuleOptimizer,
    forward: impl Fn(&M, Tensor<5>) -> Tensor<3>,
    images: &Tensor<5>,
    targets: &Tensor<2, Int>,
    device: &Device,
) -> [f64; 3] {
    let m = model.take().expect("model");
    sync(device);
    let t0 = Instant::now();
    let loss = sequence_cross_entropy(forward(&m, images.clone()), targets.clone());
    let _ = loss.clone().into_scalar::<f32>();
    sync(device);
    let t1 = Instant::now();
    let grads = GradientsParams::from_grads(loss.backward(), &m);
    sync(device);
    let t2 = Instant::now();
    *model = Some(optim.step(1e-3, m, grads));
    sync(device);
    let t3 = Instant::now();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    [ms(t1 - t0), ms(t2 - t1), ms(t3 - t2)]
}

fn train_steps(kind: ModelKind, device: &Device, repeats: usize) {
    let config = ModelConfig::new(kind, 1, 28, 28, 10);
    device.seed(1);
    let mut old = Some(legacy::Model::new(&config, device));
    device.seed(1);
    let mut new = Some(config.init(device));
    let (mut old_optim, mut new_optim) = (AdamConfig::new().init(), AdamConfig::new().init());
    let (images, targets) = batch(device);
    println!(
        "\n{kind} train step on flex, {BATCH}×{STEPS} = {IMAGES} images (old: Burn's Conv2d + Lstm; new: occlab's):"
    );
    let (mut o, mut n, mut ratios) = (vec![], vec![], vec![]);
    for r in 0..repeats + 1 {
        let run_old = |old: &mut Option<legacy::Model>, optim: &mut ModuleOptimizer| {
            step(old, optim, |m, x| m.forward(x), &images, &targets, device)
        };
        let run_new = |new: &mut Option<occlab::model::Model>, optim: &mut ModuleOptimizer| {
            step(new, optim, |m, x| m.forward(x), &images, &targets, device)
        };
        let (a, b) = if r % 2 == 0 {
            let a = run_old(&mut old, &mut old_optim);
            (a, run_new(&mut new, &mut new_optim))
        } else {
            let b = run_new(&mut new, &mut new_optim);
            (run_old(&mut old, &mut old_optim), b)
        };
        if r == 0 {
            continue; // warm-up
        }
        ratios.push(b.iter().sum::<f64>() / a.iter().sum::<f64>());
        o.push(a);
        n.push(b);
    }
    let phase = |v: &[[f64; 3]], i: usize| median(v.iter().map(|p| p[i]).collect());
    let total = |v: &[[f64; 3]]| median(v.iter().map(|p| p.iter().sum()).collect());
    for (name, v) in [("old", &o), ("new", &n)] {
        println!(
            "  {name}: forward {:7.1}  backward {:7.1}  adam {:6.1}  total {:7.1} ms  => {:6.1} images/s",
            phase(v, 0),
            phase(v, 1),
            phase(v, 2),
            total(v),
            IMAGES as f64 / total(v) * 1e3
        );
    }
    println!(
        "  new/old: forward {:.2}  backward {:.2}  adam {:.2}  total (median of per-step ratios) {:.2}",
        phase(&n, 0) / phase(&o, 0),
        phase(&n, 1) / phase(&o, 1),
        phase(&n, 2) / phase(&o, 2),
        median(ratios)
    );
}

/// The models as `src/model` built them before the fast paths: Burn's `Conv2d` and `Lstm`, the
/// rest unchanged (the same layers, the same order of random draws).
mod legacy {
    use burn::module::Module;
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
    use burn::nn::{
        Dropout, DropoutConfig, Linear, LinearConfig, Lstm, LstmConfig, PaddingConfig2d, Relu,
    };
    use burn::tensor::{Device, Tensor};
    use occlab::model::ModelConfig;
    use occlab::model::cnn::Downsampling;

    #[derive(Module, Debug)]
    pub struct Model {
        conv1: Conv2d,
        conv1_down: Option<Conv2d>,
        conv2: Conv2d,
        conv2_down: Option<Conv2d>,
        pool: Option<MaxPool2d>,
        activation: Relu,
        dropout: Dropout,
        // CNN family
        hidden: Option<Linear>,
        dense_dropout: Dropout,
        // CRNN family
        lstm: Option<Lstm>,
        lstm_dropout: Dropout,
        output: Linear,
    }

    impl Model {
        pub fn new(config: &ModelConfig, device: &Device) -> Self {
            let unit = config.cnn_unit();
            let stride = match unit.downsampling {
                Downsampling::Strided => 2,
                _ => 1,
            };
            let conv = |channels: [usize; 2], stride: usize| {
                Conv2dConfig::new(channels, [3, 3])
                    .with_stride([stride, stride])
                    .with_padding(PaddingConfig2d::Same)
                    .init(device)
            };
            let [f1, f2] = unit.filters;
            let extra = unit.downsampling == Downsampling::ExtraStridedConv;
            // The same order of construction as ModelConfig::init: head first, then the unit.
            let features = config.feature_len();
            let (hidden, lstm, output) = if config.kind.is_recurrent() {
                let lstm = LstmConfig::new(features, config.lstm_hidden, true).init(device);
                let output = LinearConfig::new(config.lstm_hidden, config.num_classes).init(device);
                (None, Some(lstm), output)
            } else {
                let hidden = LinearConfig::new(features, config.dense_hidden).init(device);
                let output =
                    LinearConfig::new(config.dense_hidden, config.num_classes).init(device);
                (Some(hidden), None, output)
            };
            Self {
                conv1: conv([unit.in_channels, f1], stride),
                conv1_down: extra.then(|| conv([f1, f1], 2)),
                conv2: conv([f1, f2], stride),
                conv2_down: extra.then(|| conv([f2, f2], 2)),
                pool: (unit.downsampling == Downsampling::MaxPool)
                    .then(|| MaxPool2dConfig::new([2, 2]).init()),
                activation: Relu::new(),
                dropout: DropoutConfig::new(unit.dropout).init(),
                hidden,
                dense_dropout: DropoutConfig::new(config.dense_dropout).init(),
                lstm,
                lstm_dropout: DropoutConfig::new(config.lstm_dropout).init(),
                output,
            }
        }

        pub fn forward(&self, images: Tensor<5>) -> Tensor<3> {
            let [batch, steps, c, h, w] = images.dims();
            let x = images.reshape([batch * steps, c, h, w]);
            let x = self.activation.forward(self.conv1.forward(x));
            let x = match &self.conv1_down {
                Some(conv) => self.activation.forward(conv.forward(x)),
                None => x,
            };
            let x = self.activation.forward(self.conv2.forward(x));
            let x = match &self.conv2_down {
                Some(conv) => self.activation.forward(conv.forward(x)),
                None => x,
            };
            let x = match &self.pool {
                Some(pool) => pool.forward(x),
                None => x,
            };
            let features: Tensor<2> = self.dropout.forward(x).flatten(1, 3);
            let [_, c] = features.dims();
            match (&self.lstm, &self.hidden) {
                (Some(lstm), _) => {
                    let (x, _) = lstm.forward(features.reshape([batch, steps, c]), None);
                    self.output.forward(self.lstm_dropout.forward(x))
                }
                (None, Some(hidden)) => {
                    let x = self.activation.forward(hidden.forward(features));
                    let logits = self.output.forward(self.dense_dropout.forward(x));
                    let [_, classes] = logits.dims();
                    logits.reshape([batch, steps, classes])
                }
                (None, None) => unreachable!("one head"),
            }
        }
    }
}

/// Median ms of `f` over `repeats` runs after one warm-up.
fn time(device: &Device, repeats: usize, mut f: impl FnMut()) -> f64 {
    let mut v = vec![];
    for _ in 0..repeats + 1 {
        sync(device);
        let t0 = Instant::now();
        f();
        sync(device);
        v.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    median(v[1..].to_vec())
}

/// The steps of the im2col convolution one by one (conv2 of CRNN: 160 × 32 × 28 × 28 → 64,
/// 3×3 same), plain tensors, to see which one costs what.
fn im2col_pieces(device: &Device, repeats: usize) {
    let (n, c, h, w, o) = (IMAGES, 32, 28, 28, 64);
    println!("\nim2col pieces, conv2 shapes (median ms):");
    let x = Tensor::<4>::random([n, c, h, w], Distribution::Default, device);
    let report = |name: &str, ms: f64| println!("  {name:<60} {ms:8.1} ms");
    {
        // 2×2 max pooling of the conv2 output, fwd + bwd with autodiff: Burn's max_pool2d
        // against a reshape + max_dim formulation and four strided slices + max_pair.
        let ad = device.clone().autodiff();
        let x = Tensor::<4>::random([n, o, h, w], Distribution::Default, &ad).require_grad();
        let pool = burn::nn::pool::MaxPool2dConfig::new([2, 2]).init();
        report(
            "max_pool2d 2×2 fwd+bwd, Burn",
            time(device, repeats, || {
                let _ = pool.forward(x.clone()).sum().backward();
            }),
        );
        report(
            "max pool 2×2 fwd+bwd, reshape [n,c,h/2,2,w/2,2] + max_dim ×2",
            time(device, repeats, || {
                let y = x
                    .clone()
                    .reshape([n, o, h / 2, 2, w / 2, 2])
                    .max_dim(5)
                    .max_dim(3)
                    .reshape([n, o, h / 2, w / 2]);
                let _ = y.sum().backward();
            }),
        );
        {
            use burn::tensor::module::{max_pool2d, max_pool2d_with_indices};
            use burn::tensor::ops::MaxPoolOptions;
            let xp = x.clone().inner();
            let options = MaxPoolOptions::new([2, 2]);
            report(
                "max_pool2d 2×2 forward only, plain tensors, Burn",
                time(device, repeats, || {
                    let _ = max_pool2d(xp.clone(), options.clone());
                }),
            );
            report(
                "max_pool2d_with_indices forward, plain tensors, Burn",
                time(device, repeats, || {
                    let _ = max_pool2d_with_indices(xp.clone(), options.clone());
                }),
            );
            let q =
                |dy: usize, dx: usize| xp.clone().slice(burn::tensor::s![.., .., dy..h;2, dx..w;2]);
            report(
                "4 strided quadrant views + 3 max_pair, plain tensors",
                time(device, repeats, || {
                    let _ = q(0, 0)
                        .max_pair(q(0, 1))
                        .max_pair(q(1, 0).max_pair(q(1, 1)));
                }),
            );
        }
        report(
            "max pool 2×2 fwd+bwd, 4 strided slices + max_pair",
            time(device, repeats, || {
                let q = |dy: usize, dx: usize| {
                    x.clone().slice(burn::tensor::s![.., .., dy..h;2, dx..w;2])
                };
                let y = q(0, 0)
                    .max_pair(q(0, 1))
                    .max_pair(q(1, 0).max_pair(q(1, 1)));
                let _ = y.sum().backward();
            }),
        );
    }
    {
        // Weight gradient by shifted windows over channel-major padded rows: 9 gemms
        // [o, L] × [L, c] with L = n·(h+2)·(w+2), no im2col matrix.
        let l = n * (h + 2) * (w + 2);
        let xf = Tensor::<2>::random([c, l + 2 * (w + 2) + 2], Distribution::Default, device);
        let dyf = Tensor::<2>::random([o, l], Distribution::Default, device);
        report(
            "shifted-window weight grad: 9 × [64, L] × [L, 32]",
            time(device, repeats, || {
                for k in 0..9 {
                    let off = (k / 3) * (w + 2) + k % 3;
                    let _ = dyf
                        .clone()
                        .matmul(xf.clone().slice([0..c, off..off + l]).transpose());
                }
            }),
        );
        let half = l / 2;
        report(
            "same, each split in 2 along L (2 gemms per tap)",
            time(device, repeats, || {
                for k in 0..9 {
                    let off = (k / 3) * (w + 2) + k % 3;
                    for part in 0..2 {
                        let _ = dyf
                            .clone()
                            .slice([0..o, part * half..(part + 1) * half])
                            .matmul(
                                xf.clone()
                                    .slice([0..c, off + part * half..off + (part + 1) * half])
                                    .transpose(),
                            );
                    }
                }
            }),
        );
        let x4 = Tensor::<4>::random([n, c, h, w], Distribution::Default, device);
        report(
            "x NCHW → padded channel-major [c, n, h+2, w+2] (copy)",
            time(device, repeats, || {
                let _ = x4
                    .clone()
                    .swap_dims(0, 1)
                    .pad((1, 1, 1, 1), burn::tensor::ops::PadMode::Constant(0.0))
                    .into_data();
            }),
        );
    }
    report(
        "to NHWC rows: permute + cat zero image + reshape",
        time(device, repeats, || {
            let rows = Tensor::cat(
                vec![
                    x.clone().permute([0, 2, 3, 1]),
                    Tensor::zeros([1, h, w, c], device),
                ],
                0,
            );
            let _ = rows.reshape([(n + 1) * h * w, c]).into_data();
        }),
    );
    let index_vec = || {
        let mut index = Vec::with_capacity(n * h * w * 9);
        let zero = (n * h * w) as i64;
        for b in 0..n {
            for y in 0..h {
                for xx in 0..w {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (iy, ix) = ((y + ky) as i64 - 1, (xx + kx) as i64 - 1);
                            index.push(if iy < 0 || ix < 0 || iy >= h as i64 || ix >= w as i64 {
                                zero
                            } else {
                                ((b * h) as i64 + iy) * w as i64 + ix
                            });
                        }
                    }
                }
            }
        }
        index
    };
    report(
        "patch index in the example (release-like deps, dev occlab)",
        time(device, repeats, || {
            std::hint::black_box(index_vec());
        }),
    );
    let iv = index_vec();
    report(
        "index upload (Tensor<1, Int>::from_data)",
        time(device, repeats, || {
            let _ = Tensor::<1, Int>::from_data(TensorData::new(iv.clone(), [iv.len()]), device);
        }),
    );
    let rows = Tensor::cat(
        vec![
            x.clone().permute([0, 2, 3, 1]),
            Tensor::zeros([1, h, w, c], device),
        ],
        0,
    )
    .reshape([(n + 1) * h * w, c]);
    let index = Tensor::<1, Int>::from_data(TensorData::new(iv.clone(), [iv.len()]), device);
    report(
        "select (gather) → cols [125440, 288]",
        time(device, repeats, || {
            let _ = rows.clone().select(0, index.clone());
        }),
    );
    let cols = rows
        .clone()
        .select(0, index.clone())
        .reshape([n * h * w, 9 * c]);
    let wt = Tensor::<2>::random([9 * c, o], Distribution::Default, device);
    report(
        "matmul cols × W [125440, 288] × [288, 64]",
        time(device, repeats, || {
            let _ = cols.clone().matmul(wt.clone());
        }),
    );
    let y = cols.clone().matmul(wt.clone());
    let bias = Tensor::<2>::random([1, o], Distribution::Default, device);
    report(
        "bias add [125440, 64] + [1, 64]",
        time(device, repeats, || {
            let _ = y.clone() + bias.clone();
        }),
    );
    report(
        "output NHWC → NCHW copy (into_data of the view)",
        time(device, repeats, || {
            let _ = y
                .clone()
                .reshape([n, h, w, o])
                .permute([0, 3, 1, 2])
                .into_data();
        }),
    );
    report(
        "2-D Wᵀ-side product W [64, 288] × colsᵀ [288, 125440] → [64, n·h·w]",
        time(device, repeats, || {
            let _ = wt.clone().transpose().matmul(cols.clone().transpose());
        }),
    );
    report(
        "  + [64, n, h·w] → NCHW copy",
        time(device, repeats, || {
            let _ = wt
                .clone()
                .transpose()
                .matmul(cols.clone().transpose())
                .reshape([o, n, h * w])
                .swap_dims(0, 1)
                .into_data();
        }),
    );
    let cols3 = cols.clone().reshape([n, h * w, 9 * c]);
    let w3 = wt.clone().transpose().unsqueeze::<3>(); // [1, 64, 288]
    report(
        "batched W × colsᵀ [1,64,288] × [160,288,784] → NCHW",
        time(device, repeats, || {
            let _ = w3.clone().matmul(cols3.clone().swap_dims(1, 2));
        }),
    );
    let dy3 = Tensor::<3>::random([n, o, h * w], Distribution::Default, device);
    report(
        "batched dy × cols [160,64,784] × [160,784,288] + sum over n",
        time(device, repeats, || {
            let _ = dy3.clone().matmul(cols3.clone()).sum_dim(0);
        }),
    );
    {
        use burn::tensor::module::{conv_transpose2d, conv2d};
        use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
        let w4 = Tensor::<4>::random([o, c, 3, 3], Distribution::Default, device);
        let dy4 = Tensor::<4>::random([n, o, h, w], Distribution::Default, device);
        report(
            "native conv2d forward (reference)",
            time(device, repeats, || {
                let _ = conv2d(
                    x.clone(),
                    w4.clone(),
                    None,
                    ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
                );
            }),
        );
        report(
            "native input grad conv_transpose2d (reference)",
            time(device, repeats, || {
                let _ = conv_transpose2d(
                    dy4.clone(),
                    w4.clone(),
                    None,
                    ConvTransposeOptions::new([1, 1], [1, 1], [0, 0], [1, 1], 1),
                );
            }),
        );
    }
    let dy = Tensor::<2>::random([n * h * w, o], Distribution::Default, device);
    report(
        "weight grad colsᵀ × dy [288, 125440] × [125440, 64]",
        time(device, repeats, || {
            let _ = cols.clone().transpose().matmul(dy.clone());
        }),
    );
    report(
        "cols grad dy × Wᵀ [125440, 64] × [64, 288]",
        time(device, repeats, || {
            let _ = dy.clone().matmul(wt.clone().transpose());
        }),
    );
    let dcols = dy
        .clone()
        .matmul(wt.clone().transpose())
        .reshape([n * h * w * 9, c]);
    report(
        "zeros + select_add (col2im) → [(n+1)·h·w, 32]",
        time(device, repeats, || {
            let z = Tensor::<2>::zeros([(n + 1) * h * w, c], device);
            let _ = z.select_assign(
                0,
                index.clone(),
                dcols.clone(),
                burn::tensor::IndexingUpdateOp::Add,
            );
        }),
    );
    report(
        "bias grad: sum over rows of dy",
        time(device, repeats, || {
            let _ = dy.clone().sum_dim(0);
        }),
    );
    let xg = Tensor::<4>::random([n, o, h, w], Distribution::Default, device);
    report(
        "dy NCHW → NHWC rows (reshape of permuted view = copy)",
        time(device, repeats, || {
            let _ = xg.clone().permute([0, 2, 3, 1]).reshape([n * h * w, o]);
        }),
    );
}
