//! Training on real digits (the embedded MNIST subset, so these run everywhere): every model's
//! loss falls, and a stopped-then-resumed run ends exactly like an uninterrupted one.

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use occlab::data::Split;
use occlab::experiment::dataset::{self, Prepared};
use occlab::experiment::preset::Preset;
use occlab::experiment::run::RunDir;
use occlab::experiment::training::train;
use occlab::model::{ModelKind, sequence_cross_entropy};
use occlab::train::batches::SequenceData;
use occlab::train::engine::EventSink;
use occlab::train::{BackendChoice, Control, TrainConfig, TrainEvent, TrainOutcome};
use std::sync::{Arc, Mutex};

mod common;

/// Burn's CPU backend seeds one global generator: training tests take turns so that each run's
/// dropout masks come from its own seed alone.
static SERIAL: Mutex<()> = Mutex::new(());

fn preset(kind: ModelKind, limit: usize, epochs: usize) -> Preset {
    let train = TrainConfig {
        epochs,
        batch_size: 8,
        learning_rate: 1e-3,
        seed: 11,
        ..Default::default()
    };
    let mut p = common::embedded_digits_preset(&format!("test-{kind}"), kind, limit, 3, train);
    p.model.as_mut().unwrap().lstm_hidden = 64;
    p
}

/// The sequences of one split of `p`, rendered (occluded) as the engine renders them, and how
/// many there are.
fn rendered(p: &Preset, split: Split) -> (SequenceData, usize) {
    let prepared = dataset::prepare(p, None).unwrap();
    let seqs: Vec<_> = prepared
        .sequences
        .sequences
        .iter()
        .filter(|s| s.split == split)
        .cloned()
        .collect();
    let data = SequenceData::render(&prepared.images, &seqs, &p.occlusion);
    (data, seqs.len())
}

#[test]
fn every_model_reduces_its_loss_on_real_digits() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex().autodiff();
    for kind in ModelKind::ALL {
        let p = preset(kind, 8, 1);
        let (data, n) = rendered(&p, Split::Train);
        assert_eq!(n, 8);
        let batch = data.batch(&(0..8).collect::<Vec<_>>());
        let x = Tensor::<5>::from_data(TensorData::new(batch.images.clone(), batch.shape), &device);
        let y =
            Tensor::<2, Int>::from_data(TensorData::new(batch.targets.clone(), [8, 5]), &device);
        device.seed(5);
        let config = p.model.as_ref().unwrap().config(1, 28, 28, 10);
        let mut model = config.init(&device);
        let mut optim = AdamConfig::new().init();
        let mut losses = Vec::new();
        // 20 steps: with 14, the slowest learner (CRNN-4-S) missed the bar below for 2 of 7 seeds
        // tried; with 20 every model clears it for seeds 1–7.
        for _ in 0..20 {
            let loss = sequence_cross_entropy(model.forward(x.clone()), y.clone());
            losses.push(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(2e-3, model, grads);
        }
        eprintln!("{kind}: loss {:?}", losses);
        assert!(losses.iter().all(|l| l.is_finite()), "{kind}: {losses:?}");
        // Dropout makes single steps noisy: compare the mean of the first and last three.
        let first = losses[..3].iter().sum::<f32>() / 3.0;
        let last = losses[losses.len() - 3..].iter().sum::<f32>() / 3.0;
        assert!(
            last < 0.8 * first,
            "{kind}: loss should fall clearly over 20 steps on one batch: {losses:?}"
        );
    }
}

/// On a GPU the last evaluation batch is filled up to the batch's shape and the extra rows are
/// ignored: the figures are those of plain batches (both ways run on flex here), and the loss,
/// now computed from the logits read back for the predictions, is the model's cross-entropy.
#[test]
fn evaluation_scores_the_same_whether_the_last_batch_is_filled_up_or_not() {
    use occlab::train::eval::{EvalBatches, evaluate};
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = preset(ModelKind::Crnn, 13, 1);
    let (data, n) = rendered(&p, Split::Test);
    assert_eq!(n, 13);
    let device = Device::flex();
    let model = p
        .model
        .as_ref()
        .unwrap()
        .config(1, 28, 28, 10)
        .init(&device);
    let ids: Vec<usize> = (100..113).collect();
    let score = |size, same_shape| {
        let batches = EvalBatches { size, same_shape };
        evaluate(&model, &data, &ids, &device, batches, 10, 5).unwrap()
    };
    let (plain, plain_preds) = score(4, false); // batches of 4, 4, 4, 1
    let (filled, filled_preds) = score(4, true); // the last one filled up to 4
    assert_eq!(plain_preds.len(), 13 * 5);
    assert_eq!(filled_preds.len(), 13 * 5);
    for (a, b) in plain_preds.iter().zip(&filled_preds) {
        assert_eq!(
            (a.sequence, a.position, a.truth),
            (b.sequence, b.position, b.truth)
        );
        assert_eq!(a.predicted, b.predicted);
        assert!((a.probability - b.probability).abs() < 1e-5, "{a:?} {b:?}");
    }
    assert_eq!(plain.overall.total, 65);
    assert_eq!(plain.overall.correct, filled.overall.correct);
    let (l_plain, l_filled) = (plain.loss.unwrap(), filled.loss.unwrap());
    assert!((l_plain - l_filled).abs() < 1e-5, "{l_plain} {l_filled}");
    // The model's own loss on all 13 sequences at once.
    let all = data.batch(&(0..13).collect::<Vec<_>>());
    let x = Tensor::<5>::from_data(TensorData::new(all.images.clone(), all.shape), &device);
    let y = Tensor::<2, Int>::from_data(TensorData::new(all.targets.clone(), [13, 5]), &device);
    let burn_loss = sequence_cross_entropy(model.forward(x), y).into_scalar::<f32>() as f64;
    assert!((l_plain - burn_loss).abs() < 1e-4, "{l_plain} {burn_loss}");
}

fn run_job(
    prepared: &Prepared,
    run: &RunDir,
    resume: bool,
    stop_after_epoch: Option<usize>,
) -> TrainOutcome {
    try_job(prepared, run, resume, stop_after_epoch).unwrap()
}

/// [`run_job`] with the job's error returned rather than unwrapped.
fn try_job(
    prepared: &Prepared,
    run: &RunDir,
    resume: bool,
    stop_after_epoch: Option<usize>,
) -> Result<TrainOutcome, occlab::experiment::training::RunTrainError> {
    let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
    let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
    // Ask for a stop as soon as the chosen epoch's checkpoint is reported, like a user pressing
    // Stop in the GUI (the job honours it before its next step).
    let watcher = std::thread::spawn(move || {
        for ev in ev_rx.iter() {
            if let (TrainEvent::Checkpoint { epoch, .. }, Some(stop)) = (&ev, stop_after_epoch)
                && *epoch == stop
            {
                let _ = ctl_tx.send(Control::Stop);
            }
        }
    });
    let sink = EventSink {
        tx: ev_tx,
        notify: None,
    };
    let outcome = train(prepared, run, BackendChoice::Flex, resume, &sink, &ctl_rx);
    drop(sink);
    watcher.join().unwrap();
    outcome
}

#[test]
fn a_stopped_and_resumed_run_ends_like_an_uninterrupted_one() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let p = preset(ModelKind::Crnn, 24, 3);
    let prepared = dataset::prepare(&p, None).unwrap();

    let straight = RunDir::create(&dir.path().join("straight"), &p).unwrap();
    assert!(matches!(
        run_job(&prepared, &straight, false, None),
        TrainOutcome::Finished { .. }
    ));

    let interrupted = RunDir::create(&dir.path().join("interrupted"), &p).unwrap();
    let first = run_job(&prepared, &interrupted, false, Some(1));
    assert_eq!(first, TrainOutcome::Stopped { after_epoch: 1 });
    assert_eq!(interrupted.checkpoint_epoch().unwrap(), Some(1));
    assert!(!interrupted.is_finished().unwrap());
    let second = run_job(&prepared, &interrupted, true, None);
    assert!(matches!(second, TrainOutcome::Finished { .. }));

    common::assert_same_records(&straight, &interrupted, 3, "stopped after epoch 1");
}

/// A run records which sequences it started on; resumed on other sequences (say, a new occlab
/// that plans the same preset differently) it stops with a clear message instead of training and
/// testing on other data.
#[test]
fn a_run_resumes_only_on_the_sequences_it_started_with() {
    use occlab::experiment::training::RunTrainError;
    use occlab::train::error::TrainError;
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let p = preset(ModelKind::Cnn, 16, 2);
    let prepared = dataset::prepare(&p, None).unwrap();
    let run = RunDir::create(&dir.path().join("run"), &p).unwrap();
    let first = run_job(&prepared, &run, false, Some(1));
    assert_eq!(first, TrainOutcome::Stopped { after_epoch: 1 });
    let recorded = run.info().unwrap().sequences;
    assert_eq!(recorded, Some(prepared.sequences.fingerprint()));

    let mut other = p.clone();
    other.sequences.seed += 1;
    let other = dataset::prepare(&other, None).unwrap();
    assert_ne!(
        other.sequences.fingerprint(),
        prepared.sequences.fingerprint()
    );
    let err = try_job(&other, &run, true, None).unwrap_err();
    assert!(
        matches!(
            &err,
            RunTrainError::Train(TrainError::SequencesChanged { .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("not the ones the run started with"),
        "{err}"
    );
    // Nothing was written: the run resumes on its own sequences and finishes.
    assert_eq!(run.checkpoint_epoch().unwrap(), Some(1));
    assert!(matches!(
        run_job(&prepared, &run, true, None),
        TrainOutcome::Finished { .. }
    ));

    // A run from before fingerprints (none in its run.json) resumes, and records the sequences
    // it resumed on, so that the next resume is checked.
    let old = RunDir::create(&dir.path().join("old"), &p).unwrap();
    let first = run_job(&prepared, &old, false, Some(1));
    assert_eq!(first, TrainOutcome::Stopped { after_epoch: 1 });
    let mut info = old.info().unwrap();
    info.sequences = None;
    old.write_info(&info).unwrap();
    assert!(matches!(
        run_job(&prepared, &old, true, None),
        TrainOutcome::Finished { .. }
    ));
    assert_eq!(
        old.info().unwrap().sequences,
        Some(prepared.sequences.fingerprint())
    );
}

#[test]
fn runs_record_config_metrics_checkpoint_and_predictions() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let p = preset(ModelKind::Cnn, 16, 1);
    let prepared = Arc::new(dataset::prepare(&p, None).unwrap());
    let run = RunDir::create(&dir.path().join("cnn"), &p).unwrap();
    assert!(
        RunDir::create(&dir.path().join("cnn"), &p).is_err(),
        "an existing run is never overwritten"
    );
    let job = occlab::experiment::training::train_in_background(
        prepared.clone(),
        run.clone(),
        BackendChoice::Flex,
        false,
        None,
    );
    let events: Vec<TrainEvent> = job.events.iter().collect();
    assert!(job.handle.join().unwrap().is_ok());
    assert!(matches!(events.first(), Some(TrainEvent::Started { .. })));
    assert!(events.iter().any(|e| matches!(e, TrainEvent::Step(_))));
    assert!(matches!(
        events.last(),
        Some(TrainEvent::Finished { epochs: 1, .. })
    ));
    assert_eq!(
        run.preset().unwrap(),
        p,
        "config.toml holds the exact preset"
    );
    assert!(run.model_path().is_file());
    let preds = run.predictions().unwrap();
    assert_eq!(preds.len(), 16 * 5, "one prediction per test image");
    let epochs = run.epochs().unwrap();
    assert_eq!(epochs[0].test.overall.total, 80);
    // Evaluating the saved checkpoint reproduces the recorded test predictions.
    let report =
        occlab::experiment::training::evaluate_run(&run, &prepared, &p, BackendChoice::Flex)
            .unwrap();
    assert_eq!(
        report
            .predictions
            .iter()
            .map(|q| q.predicted)
            .collect::<Vec<_>>(),
        preds.iter().map(|q| q.predicted).collect::<Vec<_>>()
    );
}

#[test]
fn a_diverging_run_stops_with_a_clear_message() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut p = preset(ModelKind::Cnn, 16, 2);
    p.train.as_mut().unwrap().learning_rate = 1e12;
    let prepared = dataset::prepare(&p, None).unwrap();
    let run = RunDir::create(&dir.path().join("nan"), &p).unwrap();
    let (_ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
    let (ev_tx, _ev_rx) = crossbeam_channel::unbounded();
    let err = train(
        &prepared,
        &run,
        BackendChoice::Flex,
        false,
        &EventSink {
            tx: ev_tx,
            notify: None,
        },
        &ctl_rx,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("loss became") && err.contains("learning rate"),
        "{err}"
    );
}

/// Trains `p` on flex in `dir` and returns the result and the step records it sent.
fn train_collecting_steps(
    p: &Preset,
    dir: &std::path::Path,
) -> (Result<TrainOutcome, String>, Vec<occlab::train::StepRecord>) {
    train_collecting_steps_on(p, dir, BackendChoice::Flex)
}

fn train_collecting_steps_on(
    p: &Preset,
    dir: &std::path::Path,
    backend: BackendChoice,
) -> (Result<TrainOutcome, String>, Vec<occlab::train::StepRecord>) {
    let prepared = dataset::prepare(p, None).unwrap();
    let run = RunDir::create(dir, p).unwrap();
    let (_ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
    let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
    let sink = EventSink {
        tx: ev_tx,
        notify: None,
    };
    let result = train(&prepared, &run, backend, false, &sink, &ctl_rx).map_err(|e| e.to_string());
    drop(sink);
    let steps = ev_rx
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step(s) => Some(s),
            _ => None,
        })
        .collect();
    (result, steps)
}

#[test]
fn reading_the_loss_back_every_few_steps_records_every_step_as_reading_each_does() {
    // On a GPU the engine reads losses and predictions back every few steps (so the device's
    // queue is not drained every step); the records must be those of reading every step.
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for every in [1, 3] {
        let mut p = preset(ModelKind::Cnn, 20, 1);
        let t = p.train.as_mut().unwrap();
        t.batch_size = 4; // 5 steps: read in groups of 3 and 2
        t.read_every = Some(every);
        let (result, steps) = train_collecting_steps(&p, &dir.path().join(format!("every{every}")));
        let TrainOutcome::Finished { test_accuracy } = result.unwrap() else {
            panic!("not finished")
        };
        let figures: Vec<_> = steps
            .iter()
            .map(|s| (s.epoch, s.step, s.global_step, s.loss, s.accuracy))
            .collect();
        assert!(steps.iter().all(|s| s.images_per_second > 0.0));
        runs.push((figures, test_accuracy));
    }
    assert_eq!(runs[0].0.len(), 5);
    assert_eq!(runs[0], runs[1]);
}

/// On a GPU every training step has one shape (a new one would be compiled and tuned anew):
/// the epoch's last, short batch is topped up with sequences trained earlier in the epoch. The
/// epoch still counts each training sequence once, in its figures and in its steps' records.
/// Runs on WGPU (Mesa's lavapipe in CI); skipped, saying so, where WGPU is not usable.
#[test]
fn on_a_gpu_the_short_last_batch_is_topped_up_but_counted_once() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = occlab::train::choose_device(BackendChoice::Wgpu) {
        eprintln!("SKIPPED on_a_gpu_the_short_last_batch_is_topped_up_but_counted_once: {e}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut p = preset(ModelKind::Cnn, 18, 1);
    p.train.as_mut().unwrap().batch_size = 8;
    let (result, steps) =
        train_collecting_steps_on(&p, &dir.path().join("gpu"), BackendChoice::Wgpu);
    result.unwrap();
    let n = 18; // the limit: 18 training sequences of 5 images, 2 × 8 + 2
    assert_eq!(steps.len(), 3);
    let run = RunDir::open(&dir.path().join("gpu")).unwrap();
    let epoch = &run.epochs().unwrap()[0];
    assert_eq!(epoch.train.overall.total as usize, n * 5);
    assert_eq!(
        epoch
            .train
            .per_position
            .iter()
            .map(|t| t.total)
            .collect::<Vec<_>>(),
        [n as u64; 5]
    );
}

#[test]
fn a_run_that_reads_its_loss_every_few_steps_stops_within_those_steps_when_it_diverges() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut p = preset(ModelKind::Cnn, 48, 1);
    let t = p.train.as_mut().unwrap();
    t.learning_rate = 1e12;
    t.batch_size = 4; // 12 steps
    t.read_every = Some(4);
    let (result, steps) = train_collecting_steps(&p, &dir.path().join("nan"));
    let err = result.unwrap_err();
    // "the loss became NaN at epoch 1, step S: training stopped (after step X) …"
    let number_after = |key: &str| -> usize {
        let rest = &err[err.find(key).unwrap_or_else(|| panic!("{err}")) + key.len()..];
        rest.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    let (bad, stopped) = (number_after("step "), number_after("after step "));
    assert!(
        bad <= stopped && stopped - bad < 4 && stopped < 11,
        "stopped at {stopped}, {} steps after the loss went wrong at {bad}: {err}",
        stopped - bad
    );
    // The steps before the bad one were recorded, with finite losses; none after.
    assert_eq!(steps.len(), bad, "{err}");
    assert!(steps.iter().all(|s| s.loss.is_finite()));
    assert!(err.contains("learning rate"), "{err}");
}

#[test]
fn backend_choice_never_panics_and_reports_why() {
    // Whatever this machine has (no GPU, a software Vulkan, a real GPU), `auto` gives a device that
    // computes, with a reason; `wgpu` either works or says why not.
    let auto = occlab::train::choose_device(BackendChoice::Auto).unwrap();
    assert!(!auto.reason.is_empty());
    let sum: f32 = Tensor::<1>::ones([3], &auto.device).sum().into_scalar();
    assert_eq!(sum, 3.0);
    match occlab::train::choose_device(BackendChoice::Wgpu) {
        Ok(w) => assert!(w.name.starts_with("wgpu")),
        Err(e) => assert!(e.contains("WGPU"), "{e}"),
    }
    assert_eq!(
        occlab::train::choose_device(BackendChoice::Flex)
            .unwrap()
            .name,
        "flex (CPU)"
    );
}

#[test]
fn the_validation_split_is_held_out_of_training_seeded_and_disjoint() {
    use occlab::train::engine::hold_out;
    let cfg = |fraction: f64, seed: u64| TrainConfig {
        validation_fraction: fraction,
        seed,
        ..Default::default()
    };
    let ids: Vec<usize> = (100..140).collect();
    let (fit, val) = hold_out(ids.clone(), &cfg(0.25, 11));
    assert_eq!((fit.len(), val.len()), (30, 10));
    let mut all = [fit.clone(), val.clone()].concat();
    all.sort_unstable();
    assert_eq!(all, ids, "every training sequence in exactly one part");
    assert!(fit.windows(2).all(|w| w[0] < w[1]) && val.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        hold_out(ids.clone(), &cfg(0.25, 11)),
        (fit, val.clone()),
        "seeded"
    );
    assert_ne!(
        hold_out(ids.clone(), &cfg(0.25, 12)).1,
        val,
        "another seed, another split"
    );
    assert_eq!(hold_out(ids.clone(), &cfg(0.0, 11)).1, Vec::<usize>::new());
    // At least one sequence validates and one trains.
    assert_eq!(hold_out(vec![1, 2], &cfg(0.01, 1)).1.len(), 1);
    assert_eq!(hold_out(vec![1, 2], &cfg(0.99, 1)).0.len(), 1);
}

#[test]
fn early_stopping_scores_the_best_epoch_and_resumes_exactly() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut p = preset(ModelKind::Cnn, 40, 8);
    let train_cfg = p.train.as_mut().unwrap();
    train_cfg.validation_fraction = 0.25;
    train_cfg.patience = Some(1);
    let prepared = Arc::new(dataset::prepare(&p, None).unwrap());

    let straight = RunDir::create(&dir.path().join("straight"), &p).unwrap();
    let TrainOutcome::Finished { test_accuracy } = run_job(&prepared, &straight, false, None)
    else {
        panic!("not finished")
    };
    let epochs = straight.epochs().unwrap();
    for e in &epochs {
        let v = e.validation.as_ref().expect("every epoch is validated");
        assert_eq!(
            v.overall.total,
            10 * 5,
            "10 of the 40 training sequences validate"
        );
        assert_eq!(e.train.overall.total, 30 * 5, "the other 30 train");
        assert_eq!(e.test.overall.total, 40 * 5);
    }
    // The best epoch by validation accuracy (the first on ties) is the run's result.
    let best = occlab::experiment::tables::best_by_validation(&epochs).unwrap();
    let best_val = best.validation.as_ref().unwrap().accuracy();
    assert!(
        epochs
            .iter()
            .all(|e| e.validation.as_ref().unwrap().accuracy() <= best_val)
    );
    assert_eq!(test_accuracy, best.test.accuracy());
    let n = epochs.len();
    eprintln!("trained {n} of at most 8 epochs; best epoch {}", best.epoch);
    assert!(n <= 8);
    if n < 8 {
        assert_eq!(
            n - best.epoch,
            1,
            "stopped one epoch (the patience) after the best"
        );
    }
    let summary = occlab::experiment::tables::summarize(&straight).unwrap();
    assert_eq!(summary.best_epoch, Some(best.epoch));
    assert_eq!(summary.epochs, n);
    assert_eq!(
        summary.test_accuracy_percent(),
        Some(best.test.accuracy() * 100.0)
    );
    // The best epoch's weights are kept and its test predictions written; the run is scored
    // with them.
    assert!(straight.best_model_path().is_file());
    let preds = straight.predictions().unwrap();
    let right = preds.iter().filter(|q| q.truth == q.predicted).count();
    assert_eq!(right as f64 / preds.len() as f64, best.test.accuracy());
    let report =
        occlab::experiment::training::evaluate_run(&straight, &prepared, &p, BackendChoice::Flex)
            .unwrap();
    assert_eq!(report.metrics.overall, best.test.overall);

    // Stopped after epoch 1 and resumed: the same epochs, the same best, the same predictions.
    let resumed = RunDir::create(&dir.path().join("resumed"), &p).unwrap();
    assert_eq!(
        run_job(&prepared, &resumed, false, Some(1)),
        TrainOutcome::Stopped { after_epoch: 1 }
    );
    assert_eq!(
        run_job(&prepared, &resumed, true, None),
        TrainOutcome::Finished { test_accuracy }
    );
    let again = resumed.epochs().unwrap();
    assert_eq!(again.len(), n);
    for (x, y) in epochs.iter().zip(&again) {
        assert_eq!(x.validation, y.validation, "epoch {}", x.epoch);
        assert_eq!(x.test.confusion, y.test.confusion, "epoch {}", x.epoch);
    }
    assert_eq!(resumed.predictions().unwrap(), preds);
}

/// `occlab train` on the demo preset (embedded digits, no data folder) on flex, with `args`.
fn occlab_train_demo(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_occlab"))
        .args([
            "train",
            "--preset",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/presets/train/demo-crnn-embedded.toml"
            ),
            "--backend",
            "flex",
        ])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn occlab_train_batch_overrides_the_presets_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let limits = ["--epochs", "1", "--limit-sequences", "12"];
        occlab_train_demo(&[&limits[..], extra].concat())
    };
    let out = dir.path().join("run");
    let o = run(&["--batch", "4", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("batch_size = 4"), "{config}");
    let steps: Vec<_> = RunDir::open(&out)
        .unwrap()
        .read_log()
        .unwrap()
        .lines
        .into_iter()
        .filter_map(|l| match l {
            occlab::train::LogLine::Step(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(steps.len(), 3, "12 sequences in batches of 4");
    assert!(steps.iter().all(|s| s.steps_per_epoch == 3));

    let o = run(&[
        "--batch",
        "0",
        "--out",
        dir.path().join("zero").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--batch must be at least 1"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn occlab_train_validation_and_patience_override_the_preset() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let limits = ["--epochs", "2", "--limit-sequences", "16", "--batch", "4"];
        occlab_train_demo(&[&limits[..], extra].concat())
    };
    let out = dir.path().join("run");
    let o = run(&[
        "--validation",
        "0.25",
        "--patience",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run_dir = RunDir::open(&out).unwrap();
    let train = run_dir.preset().unwrap().train.unwrap();
    assert_eq!((train.validation_fraction, train.patience), (0.25, Some(3)));
    let epochs = run_dir.epochs().unwrap();
    assert_eq!(epochs.len(), 2);
    // 16 sequences, a quarter held out: 4 validation sequences of 5 images each epoch.
    for e in &epochs {
        let v = e
            .validation
            .as_ref()
            .expect("a validation score every epoch");
        assert_eq!(v.overall.total, 4 * 5, "epoch {}", e.epoch);
    }

    let o = run(&[
        "--patience",
        "3",
        "--out",
        dir.path().join("no-split").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("needs a validation split"), "{err}");
    assert!(!dir.path().join("no-split").exists(), "nothing started");
}

#[test]
fn resuming_a_finished_run_trains_nothing_and_keeps_its_record() {
    // `occlab train --resume` on a finished run used to "finish" it again with a test accuracy
    // of 0 (no epoch left to run), overwriting its record.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = occlab_train_demo(&[
        "--epochs",
        "1",
        "--limit-sequences",
        "8",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let files = [
        "metrics.jsonl",
        "predictions.csv",
        "run.json",
        "checkpoint/model.bpk",
    ];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();

    let resume = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_occlab"))
            .args([
                "train",
                "--resume",
                "--out",
                out.to_str().unwrap(),
                "--backend",
                "flex",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = resume(&[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("finished already, nothing to train"),
        "{said}"
    );
    for (file, bytes) in files.iter().zip(&before) {
        assert_eq!(
            &std::fs::read(out.join(file)).unwrap(),
            bytes,
            "{file} changed"
        );
    }

    // Settings of a new run are refused on a resumed one, not silently ignored.
    for flag in [["--epochs", "3"], ["--limit-sequences", "4"]] {
        let o = resume(&flag);
        assert!(!o.status.success(), "{flag:?} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("apply to a new run"), "{flag:?}: {err}");
    }
}

/// `precision = "mixed"` (f16 products on a GPU): refused on the CPU with the reason, before
/// anything trains; on WGPU (lavapipe in CI; skipped, saying so, where WGPU is not usable) a
/// CRNN run trains with it and records it in its config, and a diverging run's message names
/// f16 overflow as a possible cause.
#[test]
fn mixed_precision_trains_on_wgpu_is_recorded_and_is_refused_on_the_cpu() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut p = preset(ModelKind::Crnn, 8, 1);
    let t = p.train.as_mut().unwrap();
    t.batch_size = 4;
    t.precision = occlab::model::Precision::Mixed;
    let (result, steps) = train_collecting_steps(&p, &dir.path().join("cpu"));
    let err = result.unwrap_err();
    assert!(err.contains("precision = \"mixed\" is for a GPU"), "{err}");
    assert!(steps.is_empty(), "nothing trains");

    if let Err(e) = occlab::train::choose_device(BackendChoice::Wgpu) {
        eprintln!("SKIPPED mixed precision on WGPU: {e}");
        return;
    }
    let out = dir.path().join("gpu");
    let (result, steps) = train_collecting_steps_on(&p, &out, BackendChoice::Wgpu);
    let TrainOutcome::Finished { test_accuracy } = result.unwrap() else {
        panic!("not finished")
    };
    assert!((0.0..=1.0).contains(&test_accuracy));
    assert_eq!(steps.len(), 2, "8 sequences in batches of 4");
    assert!(steps.iter().all(|s| s.loss.is_finite()), "{steps:?}");
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("precision = \"mixed\""), "{config}");

    // A diverging mixed-precision run says that an f16 overflow is a possible cause too.
    let mut diverging = preset(ModelKind::Cnn, 16, 1);
    let t = diverging.train.as_mut().unwrap();
    t.learning_rate = 1e12;
    t.batch_size = 4;
    t.precision = occlab::model::Precision::Mixed;
    let (result, _) =
        train_collecting_steps_on(&diverging, &dir.path().join("nan"), BackendChoice::Wgpu);
    let err = result.unwrap_err();
    assert!(
        err.contains("loss became") && err.contains("an f16 gradient can also overflow"),
        "{err}"
    );
}
