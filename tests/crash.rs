//! Runs survive `kill -9`: `occlab train` is killed with SIGKILL at named moments (during a step,
//! while a checkpoint is written or committed, half-way through a metrics line; see
//! `occlab::crashpoint`), then `--resume` finishes it. The finished run must equal an
//! uninterrupted one, no half-written checkpoint may ever be loaded, and a torn metrics line is
//! dropped with a message.

#![cfg(unix)]

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Device, Tensor, TensorData};
use occlab::experiment::preset::{ModelSpec, Preset};
use occlab::experiment::run::RunDir;
use occlab::model::ModelKind;
use occlab::train::TrainConfig;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::output_text as text;

/// Three epochs of two steps (16 training sequences, batches of 8): small enough to train
/// eleven times in a test.
fn preset() -> Preset {
    let train = TrainConfig {
        epochs: 3,
        batch_size: 8,
        learning_rate: 1e-3,
        seed: 11,
        ..Default::default()
    };
    common::embedded_digits_preset("crash", ModelKind::Cnn, 16, 3, train)
}

fn occlab(args: &[&str], crash_at: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_occlab"));
    cmd.args(args).args(["--backend", "flex"]);
    cmd.env_remove(occlab::crashpoint::ENV);
    if let Some(point) = crash_at {
        cmd.env(occlab::crashpoint::ENV, point);
    }
    cmd.output().expect("occlab runs")
}

fn train(preset: &Path, out: &Path, crash_at: Option<&str>) -> Output {
    occlab(
        &[
            "train",
            "--preset",
            preset.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        crash_at,
    )
}

fn resume(out: &Path) -> Output {
    let o = occlab(&["train", "--resume", "--out", out.to_str().unwrap()], None);
    assert!(o.status.success(), "resume failed: {}", text(&o));
    o
}

/// The finished run equals the uninterrupted one: every epoch's test confusion, losses and
/// train accuracy, the number of step lines, the predictions.
fn assert_same_run(straight: &RunDir, run: &RunDir, what: &str) {
    assert!(run.is_finished().unwrap(), "{what}: not finished");
    common::assert_same_records(straight, run, 3, what);
    assert_eq!(
        outputs(&straight.model_path()),
        outputs(&run.model_path()),
        "{what}: final model"
    );
}

/// What the model in a checkpoint file computes on a fixed input: equal outputs, equal weights
/// (the files themselves differ: Burn stores a random id per parameter). Panics when the file
/// does not load (half written).
fn outputs(model_file: &Path) -> Vec<f32> {
    let device = Device::flex();
    let config = ModelSpec::new(ModelKind::Cnn).config(1, 28, 28, 10);
    let record =
        ModuleRecord::load(model_file).unwrap_or_else(|e| panic!("{}: {e}", model_file.display()));
    let model = config
        .init(&device)
        .try_load_record(record)
        .unwrap_or_else(|e| panic!("{}: {e}", model_file.display()));
    let pixels: Vec<f32> = (0..5 * 28 * 28)
        .map(|i| ((i * 37) % 256) as f32 / 255.0)
        .collect();
    let x = Tensor::<5>::from_data(TensorData::new(pixels, [1, 5, 1, 28, 28]), &device);
    model
        .forward(x)
        .into_data()
        .as_slice::<f32>()
        .unwrap()
        .to_vec()
}

#[test]
fn a_run_killed_at_any_of_its_writes_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let preset_path = dir.path().join("crash.toml");
    preset().save(&preset_path).unwrap();

    let straight_dir = dir.path().join("straight");
    let o = train(&preset_path, &straight_dir, None);
    assert!(o.status.success(), "{}", text(&o));
    let straight = RunDir::open(&straight_dir).unwrap();

    // What the epoch-1 checkpoint of a run killed during epoch 2's first step computes: the
    // reference for "the last complete checkpoint" below (training is deterministic).
    let mut epoch1_model: Option<Vec<f32>> = None;

    // (crash point, what the run directory must hold right after the kill)
    let cases = [
        // Epoch 2, first step: the optimizer stepped, its metrics line not yet written.
        ("train-step:3", 1, "during a step"),
        // Epoch 2's first step line, cut half-way.
        ("metrics-append:4", 1, "while a step line is appended"),
        // Epoch 2's model written into checkpoint/next/, the optimizer not yet: not committed.
        ("checkpoint-model:2", 1, "while the checkpoint is written"),
        // Epoch 2's epoch line, cut half-way (checkpoint written, not committed).
        ("metrics-append:6", 1, "while the epoch line is appended"),
        // Epoch 2's checkpoint committed (next/ renamed ready/), its files not yet moved.
        (
            "checkpoint-ready:2",
            2,
            "right after the checkpoint is committed",
        ),
        // Epoch 2's model moved into place, its optimizer and marker not yet.
        (
            "checkpoint-moved:2",
            2,
            "while the committed checkpoint is moved into place",
        ),
    ];
    for (point, resume_after, what) in cases {
        let out = dir.path().join(point.replace(':', "-"));
        let o = train(&preset_path, &out, Some(point));
        assert_eq!(
            o.status.signal(),
            Some(9),
            "{point}: expected a SIGKILL, got {:?}: {}",
            o.status,
            text(&o)
        );
        let run = RunDir::open(&out).unwrap();
        let log = run.read_log().unwrap();
        if point.starts_with("metrics-append") {
            let note = log
                .torn
                .as_deref()
                .unwrap_or_else(|| panic!("{point}: no torn line"));
            assert!(
                note.contains("metrics.jsonl") && note.contains("torn"),
                "{note}"
            );
        } else {
            assert!(log.torn.is_none(), "{point}: {:?}", log.torn);
        }
        // Before any recovery the marker names epoch 1, and checkpoint/model.bpk loads and is
        // epoch 1's complete model, never the half-written epoch 2 (which sits in next/ or
        // ready/).
        let model = outputs(&run.model_path());
        match (&epoch1_model, point) {
            (None, "train-step:3") => epoch1_model = Some(model.clone()),
            (Some(m), _) if !point.starts_with("checkpoint-moved") => {
                assert!(
                    *m == model,
                    "{point}: checkpoint/model.bpk is not epoch 1's"
                )
            }
            _ => {}
        }
        if point.starts_with("checkpoint-moved") {
            assert_ne!(
                epoch1_model.as_deref(),
                Some(&model[..]),
                "{point}: the model moved should be epoch 2's"
            );
        }
        assert_eq!(run.checkpoint_epoch().unwrap(), Some(1), "{point}");

        let o = resume(&out);
        let said = text(&o);
        assert!(
            said.contains(&format!("epochs {}..=3", resume_after + 1)),
            "{point} ({what}): should continue after epoch {resume_after}: {said}"
        );
        assert_eq!(
            said.contains("dropped a torn last line"),
            point.starts_with("metrics-append"),
            "{point}: {said}"
        );
        let checkpoint = out.join("checkpoint");
        assert!(!checkpoint.join("next").exists() && !checkpoint.join("ready").exists());
        assert_same_run(&straight, &run, &format!("{point} ({what})"));
        assert!(
            run.read_log().unwrap().torn.is_none(),
            "{point}: log rewritten"
        );
    }
}
