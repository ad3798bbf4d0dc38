//! A training step on WGPU computes what the same step computes on flex (Burn's CPU backend with
//! occlab's own CPU kernels): same initial weights, same batch, dropout off (the two backends draw
//! their dropout masks from different generators). Loss, every parameter's gradient, the weights
//! after an Adam step and the loss of the second step agree within a stated tolerance: paper A's
//! CRNN and CNN, and paper B's RRN. Mixed precision (f16 products) on WGPU is compared with the
//! f32 step too, and each product it changes with the f32 one.
//!
//! On a machine without a GPU, WGPU runs on Mesa's lavapipe (`mesa-vulkan-drivers`, which
//! `.ci/run` installs). No usable adapter is a failure that says why, never a silent pass.
//!
//! Also: a run started from the Train panel on WGPU names the adapter it trains on and its speed.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use occlab::model::{Model, ModelConfig, ModelKind, Precision, sequence_cross_entropy};
use occlab::train::adam::FusedAdam;
use occlab::train::{BackendChoice, choose_device};

/// `|wgpu − flex| ≤ ABS + REL · |flex|` for every value. fp32 sums in another order (GPU
/// matmul tiles against gemm's blocks, over up to 12,544 products) differ in the last few bits.
/// On lavapipe (2026-12-02) the worst value used 0.4–0.6 % of this bound for the gradients and
/// 2 % for the weights after Adam (whose first step divides by |gradient|, so it magnifies tiny
/// differences of tiny gradients); `--nocapture` prints the figures.
const REL: f32 = 2e-3;
const ABS: f32 = 1e-5;

const BATCH: usize = 2;
const T: usize = 5;

/// Flex draws initial weights from one global generator: the two parity tests take turns, so that
/// each starts from the weights its seed gives (run in parallel, they drew each other's numbers
/// and each run compared other weights).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn wgpu_device() -> Device {
    match choose_device(BackendChoice::Wgpu) {
        Ok(chosen) => {
            eprintln!("{} [{}]", chosen.name, chosen.reason);
            chosen.device
        }
        Err(e) => panic!(
            "no usable WGPU adapter, so WGPU and flex cannot be compared: {e}\n\
             (without a GPU, install Mesa's lavapipe: apt-get install mesa-vulkan-drivers libvulkan1)"
        ),
    }
}

fn batch(device: &Device) -> (Tensor<5>, Tensor<2, Int>) {
    let n = BATCH * T;
    // Deterministic strokes: a pattern in [0, 1] that varies per image.
    let pixels: Vec<f32> = (0..n * 784)
        .map(|i| ((i.wrapping_mul(2_654_435_761)) % 255) as f32 / 255.0)
        .collect();
    let labels: Vec<i64> = (0..n as i64).map(|i| (i * 7) % 10).collect();
    (
        Tensor::from_data(TensorData::new(pixels, [BATCH, T, 1, 28, 28]), device),
        Tensor::from_data(TensorData::new(labels, [BATCH, T]), device),
    )
}

/// Every float parameter's value (and gradient, when `grads` is given), by its path.
struct Collect<'a> {
    path: Vec<String>,
    grads: Option<&'a burn::tensor::Gradients>,
    out: Vec<(String, Vec<f32>)>,
}

impl ModuleVisitor for Collect<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let tensor = match self.grads {
            Some(g) => match value.grad(g) {
                Some(grad) => grad,
                None => return,
            },
            None => value,
        };
        let values = tensor
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        self.out.push((self.path.join("."), values));
    }
}

fn collect(model: &Model, grads: Option<&burn::tensor::Gradients>) -> Vec<(String, Vec<f32>)> {
    let mut c = Collect {
        path: Vec::new(),
        grads,
        out: Vec::new(),
    };
    model.visit(&mut c);
    c.out
}

/// The largest `|a − b| / (ABS + REL·|b|)` and where; ≤ 1 passes.
fn worst(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> (f32, String) {
    assert_eq!(a.len(), b.len(), "the two models have different parameters");
    let mut worst = (0.0f32, String::new());
    for ((name_a, va), (name_b, vb)) in a.iter().zip(b) {
        assert_eq!(name_a, name_b);
        assert_eq!(va.len(), vb.len(), "{name_a}: sizes differ");
        for (i, (x, y)) in va.iter().zip(vb).enumerate() {
            assert!(x.is_finite(), "{name_a}[{i}] is {x} on WGPU");
            let ratio = (x - y).abs() / (ABS + REL * y.abs());
            if ratio > worst.0 {
                worst = (ratio, format!("{name_a}[{i}]: wgpu {x} vs flex {y}"));
            }
        }
    }
    worst
}

/// One step's results on one device: loss, gradients, weights after Adam, loss of step two.
struct StepResult {
    loss: f32,
    grads: Vec<(String, Vec<f32>)>,
    updated: Vec<(String, Vec<f32>)>,
    second_loss: f32,
}

fn train_two_steps(model: Model, device: &Device) -> StepResult {
    train_two_steps_in(model, device, Precision::F32)
}

/// [`train_two_steps`] in `precision`, the loss scaled as training scales it; the gradients
/// returned are unscaled.
fn train_two_steps_in(model: Model, device: &Device, precision: Precision) -> StepResult {
    let model = model.with_precision(precision).unwrap();
    let scale = precision.loss_scale();
    let (x, y) = batch(device);
    let mut optim = FusedAdam::init_scaled(0.0, scale);
    let loss = sequence_cross_entropy(model.forward(x.clone()), y.clone());
    let loss_value: f32 = loss.clone().into_scalar();
    let raw = precision.scale_loss(loss).backward();
    let mut grads = collect(&model, Some(&raw));
    for (_, g) in &mut grads {
        g.iter_mut().for_each(|v| *v /= scale);
    }
    let params = GradientsParams::from_grads(raw, &model);
    let model = optim.step(1e-3, model, params);
    let updated = collect(&model, None);
    let second = sequence_cross_entropy(model.forward(x), y);
    StepResult {
        loss: loss_value,
        grads,
        updated,
        second_loss: second.into_scalar(),
    }
}

/// Paper A's `kind` for MNIST-sized digits, dropout off (the backends draw other masks).
fn without_dropout(kind: ModelKind) -> ModelConfig {
    ModelConfig::new(kind, 1, 28, 28, 10)
        .with_cnn_dropout(0.0)
        .with_lstm_dropout(0.0)
        .with_dense_dropout(0.0)
}

fn step_agrees(kind: ModelKind) {
    step_agrees_with(without_dropout(kind));
}

fn step_agrees_with(config: ModelConfig) {
    let kind = config.kind;
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let wgpu = wgpu_device().autodiff();
    let flex = Device::flex().autodiff();
    flex.seed(3);
    let on_flex = config.init(&flex);
    // The same weights on WGPU (a trainable copy, not a view of the flex tensors).
    let on_wgpu = on_flex.clone().fork(&wgpu);
    let start_flex = collect(&on_flex, None);
    let start_wgpu = collect(&on_wgpu, None);
    assert_eq!(worst(&start_wgpu, &start_flex).0, 0.0, "the copy differs");

    let f = train_two_steps(on_flex, &flex);
    let w = train_two_steps(on_wgpu, &wgpu);

    let close = |a: f32, b: f32| (a - b).abs() <= ABS + REL * b.abs();
    assert!(
        close(w.loss, f.loss),
        "{kind}: loss wgpu {} vs flex {}",
        w.loss,
        f.loss
    );
    assert!(!f.grads.is_empty());
    if !kind.is_paper_b() {
        // (Paper B's batch norms keep running statistics: parameters without gradients.)
        assert_eq!(
            f.grads.len(),
            f.updated.len(),
            "{kind}: a parameter without gradient"
        );
    }
    let (g, at) = worst(&w.grads, &f.grads);
    assert!(
        g <= 1.0,
        "{kind}: gradients differ ({g:.2}× tolerance) at {at}"
    );
    // The trained weights (batch norm's running statistics are read as last synced, which
    // depends on when Burn syncs them, not on the arithmetic).
    let trained = |updated: &[(String, Vec<f32>)]| -> Vec<(String, Vec<f32>)> {
        updated
            .iter()
            .filter(|(name, _)| f.grads.iter().any(|(g, _)| g == name))
            .cloned()
            .collect()
    };
    let (u, at) = worst(&trained(&w.updated), &trained(&f.updated));
    assert!(
        u <= 1.0,
        "{kind}: weights after Adam differ ({u:.2}× tolerance) at {at}"
    );
    assert!(
        close(w.second_loss, f.second_loss),
        "{kind}: second loss wgpu {} vs flex {}",
        w.second_loss,
        f.second_loss
    );
    assert!(
        f.second_loss < f.loss,
        "{kind}: the step did not lower the loss"
    );
    eprintln!(
        "{kind}: loss {} / {}, second loss {} / {} (wgpu / flex); worst gradient {g:.3}×, weight {u:.3}× tolerance",
        w.loss, f.loss, w.second_loss, f.second_loss
    );
}

#[test]
fn a_crnn_training_step_on_wgpu_equals_the_flex_one() {
    step_agrees(ModelKind::Crnn);
}

#[test]
fn a_cnn_training_step_on_wgpu_equals_the_flex_one() {
    step_agrees(ModelKind::Cnn);
}

/// Paper B's recurrent residual network (small widths; batch norm, the temporal skip connection
/// with its linear map): its GPU path uses other Burn operations than paper A's models (batch
/// norm, strided convolutions, the skip), and a wrong gradient there would go unnoticed in
/// training figures. (Burn 0.22.1's `select` backward is wrong on WGPU for large index counts,
/// docs/PERFORMANCE.md; none of occlab's models uses it on a GPU.)
#[test]
fn an_rrn_training_step_on_wgpu_equals_the_flex_one() {
    use occlab::model::rrn::SkipType;
    step_agrees_with(
        ModelConfig::new(ModelKind::Rrn, 1, 28, 28, 10)
            .with_resnet_widths([4, 8, 8, 8])
            .with_resnet_units([1, 1, 1, 1])
            .with_skip(SkipType::Linear)
            .with_head_dropout(0.0),
    );
}

/// `‖a − b‖ / ‖b‖` of every parameter, the worst and where: how far f16 rounding moves a
/// whole tensor (element by element, values near zero would make any rounding look large).
fn worst_relative_norm(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> (f32, String) {
    assert_eq!(a.len(), b.len(), "the two models have different parameters");
    let mut worst = (0.0f32, String::new());
    for ((name, va), (_, vb)) in a.iter().zip(b) {
        assert!(va.iter().all(|v| v.is_finite()), "{name}: not finite");
        let diff: f32 = va.iter().zip(vb).map(|(x, y)| (x - y).powi(2)).sum();
        let norm: f32 = vb.iter().map(|y| y * y).sum();
        let ratio = (diff / norm.max(1e-30)).sqrt();
        if ratio > worst.0 {
            worst = (ratio, name.clone());
        }
    }
    worst
}

/// Mixed precision on WGPU (f16 operands for conv2, the LSTM's input projection and the dense
/// hidden layer; the loss scaled and Adam's ε with it) against the f32 step on flex, measured as
/// `‖mixed − f32‖ / ‖f32‖` per tensor. The loss agrees within f16's rounding (f16 keeps 11
/// significant bits: 4.9e-4 relative per operand; the products accumulate in f32). The
/// gradients agree less closely than each product does (see the next test): the forward pass's
/// rounding can move values across ReLU's zero and max-pooling's ties, which routes their
/// gradients elsewhere; on lavapipe the CNN unit's gradients moved 1.6–3.6 % in relative norm,
/// the LSTM's and the classifiers' ≤ 0.12 %. On lavapipe (no tensor cores) the f16 arithmetic is
/// real: operands are stored and read as f16.
fn mixed_step_agrees(kind: ModelKind) {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let wgpu = wgpu_device().autodiff();
    if !wgpu.supports_dtype(burn::tensor::DType::F16) {
        eprintln!("SKIPPED {kind} mixed precision: this WGPU adapter has no f16 arithmetic");
        return;
    }
    let flex = Device::flex().autodiff();
    let config = without_dropout(kind);
    flex.seed(5);
    let on_flex = config.init(&flex);
    let on_wgpu = on_flex.clone().fork(&wgpu);
    let f = train_two_steps(on_flex, &flex);
    let m = train_two_steps_in(on_wgpu, &wgpu, Precision::Mixed);
    let relative = |a: f32, b: f32| (a - b).abs() / b.abs();
    let (g, g_at) = worst_relative_norm(&m.grads, &f.grads);
    let (u, u_at) = worst_relative_norm(&m.updated, &f.updated);
    eprintln!(
        "{kind} mixed: loss {} / {}, second loss {} / {} (mixed / f32); worst gradient \
         {g:.2e} ({g_at}), weights after Adam {u:.2e} ({u_at}), relative norm",
        m.loss, f.loss, m.second_loss, f.second_loss
    );
    assert!(
        relative(m.loss, f.loss) < 2e-3,
        "{kind}: loss {} vs {}",
        m.loss,
        f.loss
    );
    assert!(
        g < 6e-2,
        "{kind}: gradient of {g_at} {g:.2e} off in relative norm"
    );
    assert!(u < 2e-2, "{kind}: weights of {u_at} {u:.2e} off after Adam");
    assert!(
        relative(m.second_loss, f.second_loss) < 5e-3,
        "{kind}: second loss {} vs {}",
        m.second_loss,
        f.second_loss
    );
    assert!(
        m.second_loss < m.loss,
        "{kind}: the mixed step did not lower the loss"
    );
}

#[test]
fn a_mixed_precision_crnn_step_on_wgpu_agrees_with_the_f32_step() {
    mixed_step_agrees(ModelKind::Crnn);
}

#[test]
fn a_mixed_precision_cnn_step_on_wgpu_agrees_with_the_f32_step() {
    mixed_step_agrees(ModelKind::Cnn);
}

/// Each product mixed precision changes, alone, on WGPU: the convolution (im2col of shifted
/// views with f16 operands, `occlab::model::conv::ConvPath::Shifted`; in f32 it equals Burn's
/// `conv2d` within 1e-5) against Burn's f32 `conv2d`, and the input projection
/// against the f32 product — value, input gradient and weight gradient within 2e-3 in relative
/// norm (measured on lavapipe: 3.5e-4, 5.9e-4 and 3.6e-4 for conv 32 → 64, f16's rounding).
#[test]
fn each_mixed_precision_product_on_wgpu_is_f16_rounding_away_from_f32() {
    use burn::tensor::Distribution;
    use occlab::model::conv::{Conv2dSpec, ConvPath};
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let device = wgpu_device().autodiff();
    if !device.supports_dtype(burn::tensor::DType::F16) {
        eprintln!("SKIPPED mixed-precision products: this WGPU adapter has no f16 arithmetic");
        return;
    }
    let rel = |a: Tensor<2>, b: Tensor<2>| -> f32 {
        let d: f32 = (a - b.clone()).powi_scalar(2).sum().sqrt().into_scalar();
        let norm: f32 = b.powi_scalar(2).sum().sqrt().into_scalar();
        d / norm
    };
    let flat = |t: Tensor<4>| t.flatten::<2>(1, 3);
    let check = |what: &str, figures: [f32; 3]| {
        eprintln!(
            "{what}: value {:.1e}, input gradient {:.1e}, weight gradient {:.1e}",
            figures[0], figures[1], figures[2]
        );
        assert!(figures.iter().all(|&f| f < 2e-3), "{what}: {figures:?}");
    };
    // conv2 of the CNN unit (32 → 64, 3×3, "same"), 10 images of 28×28.
    let conv = Conv2dSpec::new([32, 64], [3, 3])
        .with_padding(burn::nn::PaddingConfig2d::Same)
        .init(&device);
    let x = Tensor::<4>::random([10, 32, 28, 28], Distribution::Normal(0.0, 1.0), &device)
        .require_grad();
    let r = Tensor::<4>::random([10, 64, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let f32_y = conv.forward_with(x.clone(), ConvPath::Native);
    let f32_g = (f32_y.clone() * r.clone()).sum().backward();
    // The same im2col in f32 (`ConvPath::Shifted`) is Burn's convolution up to the order of sums.
    let s_y = conv.forward_with(x.clone(), ConvPath::Shifted);
    let s_g = (s_y.clone() * r.clone()).sum().backward();
    let shifted = [
        rel(flat(s_y), flat(f32_y.clone())),
        rel(flat(x.grad(&s_g).unwrap()), flat(x.grad(&f32_g).unwrap())),
        rel(
            flat(conv.weight.val().grad(&s_g).unwrap()),
            flat(conv.weight.val().grad(&f32_g).unwrap()),
        ),
    ];
    eprintln!("conv 32 → 64, shifted views in f32: {shifted:?}");
    assert!(
        shifted.iter().all(|&f| f < 1e-5),
        "shifted views in f32: {shifted:?}"
    );
    let mixed = conv.clone().with_precision(Precision::Mixed);
    let m_y = mixed.forward(x.clone());
    let m_g = (m_y.clone() * r).sum().backward();
    check(
        "conv 32 → 64",
        [
            rel(flat(m_y), flat(f32_y)),
            rel(flat(x.grad(&m_g).unwrap()), flat(x.grad(&f32_g).unwrap())),
            rel(
                flat(mixed.weight.val().grad(&m_g).unwrap()),
                flat(conv.weight.val().grad(&f32_g).unwrap()),
            ),
        ],
    );
    // The LSTM's input projection, [10, 12544] × [12544, 1024] (+ bias).
    let layer = burn::nn::LinearConfig::new(12_544, 1_024).init(&device);
    let x =
        Tensor::<2>::random([10, 12_544], Distribution::Normal(0.0, 1.0), &device).require_grad();
    let r = Tensor::<2>::random([10, 1_024], Distribution::Normal(0.0, 1.0), &device);
    let f32_y = layer.forward(x.clone());
    let f32_g = (f32_y.clone() * r.clone()).sum().backward();
    let m_y = occlab::model::precision::linear(&layer, x.clone(), Precision::Mixed);
    let r2 = r.clone();
    let m_g = (m_y.clone() * r).sum().backward();
    let weight = |g| layer.weight.val().grad(g).unwrap();
    check(
        "input projection",
        [
            rel(m_y, f32_y.clone()),
            rel(x.grad(&m_g).unwrap(), x.grad(&f32_g).unwrap()),
            rel(weight(&m_g), weight(&f32_g)),
        ],
    );
    // Split 8 ways along its depth (`linear_split_k`, a `bench ops` candidate), f32 and mixed.
    for precision in [Precision::F32, Precision::Mixed] {
        let y = occlab::model::precision::linear_split_k(&layer, x.clone(), precision, 8);
        let g = (y.clone() * r2.clone()).sum().backward();
        check(
            &format!("input projection, split-K ×8, {precision}"),
            [
                rel(y, f32_y.clone()),
                rel(x.grad(&g).unwrap(), x.grad(&f32_g).unwrap()),
                rel(layer.weight.val().grad(&g).unwrap(), weight(&f32_g)),
            ],
        );
    }
}

/// The LSTM's time loop written out as one autodiff step (`occlab::model::recurrence`, what
/// training uses on a GPU) gives on WGPU the values and gradients that Burn's autodiff derives
/// there from the loop of tensor operations it replaces.
#[test]
fn the_lstm_loop_step_on_wgpu_equals_burns_autodiff_of_the_loop() {
    use burn::tensor::Distribution;
    use occlab::model::crnn::SequenceLstm;
    use occlab::model::recurrence::lstm_recurrence;

    let device = wgpu_device().autodiff();
    let flex = Device::flex();
    // Inputs drawn on flex (one generator, fixed by the seed) and moved over.
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    flex.seed(11);
    for (batch, steps, d) in [(3, 5, 8), (2, 1, 4), (32, 5, 32)] {
        let draw = |dims: Vec<usize>, scale: f32| {
            Tensor::<1>::random(
                [dims.iter().product::<usize>()],
                Distribution::Default,
                &flex,
            )
            .mul_scalar(scale)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map(|v| TensorData::new(v, dims))
            .expect("f32 values")
        };
        let p =
            Tensor::<3>::from_data(draw(vec![batch, steps, 4 * d], 2.0), &device).require_grad();
        let w = Tensor::<2>::from_data(draw(vec![d, 4 * d], 1.0), &device).require_grad();
        let r = Tensor::<3>::from_data(draw(vec![batch, steps, d], 1.0), &device);
        let ours = lstm_recurrence(&p, &w).expect("the written-out step is used on WGPU");
        let reference = SequenceLstm::recurrence_graph(p.clone(), w.clone(), d);
        close(ours.clone(), reference.clone(), "hidden states");
        let ours = (ours * r.clone()).sum().backward();
        let reference = (reference * r).sum().backward();
        let what = format!("batch {batch}, T {steps}, d {d}");
        close(
            p.grad(&ours).expect("a projection gradient"),
            p.grad(&reference).expect("a projection gradient"),
            &format!("{what}: projection gradient"),
        );
        match w.grad(&reference) {
            Some(expected) => close(
                w.grad(&ours).expect("a weight gradient"),
                expected,
                &format!("{what}: weight gradient"),
            ),
            // One step: the recurrent weights take no part.
            None => assert!(w.grad(&ours).is_none(), "{what}: no weight gradient"),
        }
    }
}

/// Same device, same inputs, only the order of the sums differs: |a − b| ≤ 1e-5 + 1e-4·|b|.
fn close<const D: usize>(actual: Tensor<D>, expected: Tensor<D>, what: &str) {
    use burn::tensor::Tolerance;
    assert_eq!(actual.dims(), expected.dims(), "{what}: shape");
    actual
        .into_data()
        .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::rel_abs(1e-4, 1e-5));
    eprintln!("{what}: within tolerance");
}

mod gui_common;

#[test]
fn the_train_panel_names_the_wgpu_adapter_and_shows_images_per_second() {
    let adapter = wgpu_device_name();
    let root = tempfile::tempdir().unwrap();
    let mut harness = gui_common::harness();
    harness
        .get_by_role_and_label(Role::Button, occlab::gui::PanelId::Train.title())
        .click();
    gui_common::settle(&mut harness);
    {
        let form = &mut harness.state_mut().train_panel.form;
        form.config.batch_size = 4;
        form.config.epochs = 1;
        form.backend = BackendChoice::Wgpu;
        form.select_only(&[ModelKind::Cnn]);
        harness.state_mut().workbench.sequences.limit = Some(8);
    }
    harness.state_mut().workbench.runs_root = root.path().display().to_string();
    // The new runs folder is listed in the background: click once the panel has settled.
    gui_common::settle(&mut harness);
    harness.get_by_role_and_label(Role::Button, "Start").click();
    let label = |h: &egui_kittest::Harness<'static, occlab::gui::OcclabApp>, prefix: &str| {
        h.query_by(|n| n.role() == Role::Label && n.value().is_some_and(|v| v.starts_with(prefix)))
            .and_then(|n| n.value())
    };
    // Shader compilation on lavapipe makes the first step slow.
    gui_common::step_until(
        &mut harness,
        std::time::Duration::from_secs(300),
        "a training step on WGPU",
        |h| label(h, "steps: ").is_some_and(|v| v != "steps: 0"),
    );
    let shown = label(&harness, "wgpu (").expect("the Backend row names the WGPU adapter");
    assert_eq!(shown, adapter);
    assert!(shown.contains(" · "), "{shown}");
    let speed = harness
        .query_by(|n| {
            n.role() == Role::Label && n.value().is_some_and(|v| v.ends_with(" images/s"))
        })
        .and_then(|n| n.value());
    assert!(speed.is_some(), "no images/s shown");
    // The run records the adapter and the GPU features its kernels came from.
    let run = std::fs::read_dir(root.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("run.json").is_file())
        .expect("the run's folder with its run.json");
    let info: occlab::experiment::run::RunInfo =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(info.backend, adapter);
    assert_eq!(info.gpu_features, occlab::train::backend::gpu_features());
    assert!(info.gpu_features.iter().any(|f| f == "wgpu"));
    harness.get_by_role_and_label(Role::Button, "Stop").click();
    harness.step();
}

/// What the run's backend is called: "wgpu (<adapter> · <API> · <kind>)".
fn wgpu_device_name() -> String {
    match choose_device(BackendChoice::Wgpu) {
        Ok(chosen) => chosen.name,
        Err(e) => panic!("no usable WGPU adapter: {e}"),
    }
}
