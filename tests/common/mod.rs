//! Shared test helpers: where the real data lives.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared data folder from `OCCLAB_DATA_DIR`. Tests that read it are `#[ignore]`d with that
/// reason (so `cargo test` lists them as ignored) and run with `--ignored` (`.ci/run` does when
/// the folder exists). `None` (and a SKIPPED line) when the variable is unset; a panic when it is
/// set but the folder does not exist, so a wrong setting fails instead of silently skipping.
pub fn data_dir(test: &str) -> Option<PathBuf> {
    match std::env::var_os("OCCLAB_DATA_DIR") {
        None => {
            eprintln!(
                "SKIPPED {test}: OCCLAB_DATA_DIR is not set (point it at the shared data folder)"
            );
            None
        }
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.is_dir(),
                "OCCLAB_DATA_DIR={} is not a folder",
                dir.display()
            );
            Some(dir)
        }
    }
}

/// A presets folder (`root/paper-a/`) whose Table A1 is two tiny runs on the embedded digits, a
/// CNN and a CRNN (no data folder needed); `epochs` overrides the demo preset's.
pub fn embedded_a1_presets(root: &Path, epochs: Option<usize>) {
    use occlab::experiment::preset::Preset;
    let dir = root.join("paper-a");
    std::fs::create_dir_all(&dir).unwrap();
    let base = Preset::load(Path::new("presets/train/demo-crnn-embedded.toml")).unwrap();
    for (name, kind) in [("a1-embedded-cnn", "CNN"), ("a1-embedded-crnn", "CRNN")] {
        let mut p = base.clone();
        p.name = name.into();
        p.model.as_mut().unwrap().kind = kind.parse().unwrap();
        if let Some(e) = epochs {
            p.train.as_mut().unwrap().epochs = e;
        }
        p.save(&dir.join(format!("{name}.toml"))).unwrap();
    }
}

/// A small run's preset on the embedded digits (no data folder needed): digit progressions
/// (steps 1 and 2, both ways) of T = 5 seeded with `seed`, the paper's occlusion, at most `limit`
/// sequences per split, a `kind` model and `train`.
pub fn embedded_digits_preset(
    name: &str,
    kind: occlab::model::ModelKind,
    limit: usize,
    seed: u64,
    train: occlab::train::TrainConfig,
) -> occlab::experiment::preset::Preset {
    use occlab::experiment::preset::{LibrarySpec, ModelSpec, OrderingSpec, Preset, SequenceSpec};
    Preset {
        name: name.into(),
        description: String::new(),
        data: occlab::data::source::DataSource::EmbeddedDigits,
        occlusion: occlab::occlusion::OcclusionSpec::paper_default(),
        sequences: SequenceSpec {
            t: 5,
            ordering: OrderingSpec::Patterned,
            patterns: LibrarySpec::DigitProgressions {
                steps: vec![1, 2],
                ascending: true,
                descending: true,
                wrap: Default::default(),
            },
            seed,
            cap: None,
            min_share: 0.0,
            limit: Some(limit),
            test_patterns: Default::default(),
        },
        model: Some(ModelSpec::new(kind)),
        train: Some(train),
    }
}

/// Trains `preset` into the new run folder `dir` on the CPU backend, to its last epoch.
pub fn train_to_end(
    preset: &occlab::experiment::preset::Preset,
    dir: &Path,
) -> occlab::experiment::run::RunDir {
    train_to_end_with(preset, dir, None)
}

/// [`train_to_end`] for a preset whose data are read from the folder `data_dir`.
pub fn train_to_end_with(
    preset: &occlab::experiment::preset::Preset,
    dir: &Path,
    data_dir: Option<&Path>,
) -> occlab::experiment::run::RunDir {
    use occlab::train::engine::EventSink;
    use occlab::train::{BackendChoice, TrainOutcome};
    let prepared = occlab::experiment::dataset::prepare(preset, data_dir).unwrap();
    let run = occlab::experiment::run::RunDir::create(dir, preset).unwrap();
    let (_ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
    let (ev_tx, _ev_rx) = crossbeam_channel::unbounded();
    let sink = EventSink {
        tx: ev_tx,
        notify: None,
    };
    let outcome = occlab::experiment::training::train(
        &prepared,
        &run,
        BackendChoice::Flex,
        false,
        &sink,
        &ctl_rx,
    )
    .unwrap();
    assert!(
        matches!(outcome, TrainOutcome::Finished { .. }),
        "{outcome:?}"
    );
    run
}

/// Asserts that `run` recorded the same training as the uninterrupted `straight`: `epochs`
/// epochs, each once, with the same test confusion, losses and training accuracy; as many step
/// lines; the same test predictions. `what` names the case in a failure.
pub fn assert_same_records(
    straight: &occlab::experiment::run::RunDir,
    run: &occlab::experiment::run::RunDir,
    epochs: usize,
    what: &str,
) {
    use occlab::experiment::run::{LogLine, RunDir};
    let (a, b) = (straight.epochs().unwrap(), run.epochs().unwrap());
    assert_eq!(a.len(), epochs, "{what}: epochs of the uninterrupted run");
    assert_eq!(b.len(), epochs, "{what}: each epoch once in the log");
    for (x, y) in a.iter().zip(&b) {
        let e = x.epoch;
        assert_eq!(x.test.confusion, y.test.confusion, "{what}: epoch {e}");
        assert_eq!(x.test.loss, y.test.loss, "{what}: epoch {e}: test loss");
        assert_eq!(x.train.loss, y.train.loss, "{what}: epoch {e}: train loss");
        assert_eq!(x.train.overall, y.train.overall, "{what}: epoch {e}");
    }
    let steps = |r: &RunDir| {
        r.log()
            .unwrap()
            .iter()
            .filter(|l| matches!(l, LogLine::Step(_)))
            .count()
    };
    assert_eq!(steps(straight), steps(run), "{what}: step lines");
    assert_eq!(
        straight.predictions().unwrap(),
        run.predictions().unwrap(),
        "{what}: predictions"
    );
}

/// A finished command's stdout then stderr, as text (for assertion messages).
pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A CSV file as (header, rows) of strings.
pub fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}
