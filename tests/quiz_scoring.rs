//! A trained run scored on exactly the images a quiz showed: a real (tiny) CNN is trained on the
//! embedded digits, a session is answered, and every prediction the scoring reports is checked
//! against the model applied to that one rendered image on its own. Then `occlab quiz-report`
//! runs on the same files.

use burn::tensor::{Device, Tensor, TensorData};
use occlab::experiment::dataset;
use occlab::experiment::preset::{ModelSpec, Preset};
use occlab::experiment::run::RunDir;
use occlab::experiment::training::train;
use occlab::model::ModelKind;
use occlab::quiz::analysis::{Who, analyze};
use occlab::quiz::config::{Group, QuizConfig};
use occlab::quiz::items::Stimuli;
use occlab::quiz::scoring::score_runs;
use occlab::quiz::session::{self, SessionRecord};
use occlab::quiz::trial::Trial;
use occlab::train::engine::EventSink;
use occlab::train::eval::load_model;
use occlab::train::{BackendChoice, TrainConfig, TrainOutcome};
use std::path::Path;
use std::time::Instant;

fn quiz_preset() -> Preset {
    Preset::parse(
        include_str!("../presets/quiz/digits-embedded.toml"),
        Path::new("digits-embedded.toml"),
    )
    .unwrap()
}

/// Trains a one-epoch CNN on 16 sequences of the embedded digits into `dir`.
fn tiny_run(dir: &Path) -> RunDir {
    let mut p = quiz_preset();
    p.name = "quiz-cnn".into();
    p.sequences.limit = Some(16);
    p.model = Some(ModelSpec::new(ModelKind::Cnn));
    p.train = Some(TrainConfig {
        epochs: 1,
        batch_size: 8,
        seed: 3,
        ..TrainConfig::default()
    });
    let run = RunDir::create(&dir.join("quiz-cnn"), &p).unwrap();
    let prepared = dataset::prepare(&p, None).unwrap();
    let (tx, _events) = crossbeam_channel::unbounded();
    let (_control, control_rx) = crossbeam_channel::unbounded();
    let sink = EventSink { tx, notify: None };
    let outcome = train(
        &prepared,
        &run,
        BackendChoice::Flex,
        false,
        &sink,
        &control_rx,
    )
    .unwrap();
    assert!(matches!(outcome, TrainOutcome::Finished { .. }));
    run
}

#[test]
fn a_run_scores_exactly_the_images_the_participants_saw() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_run(tmp.path());
    let quiz_dir = tmp.path().join("quiz");
    let mut c = QuizConfig::new("S1", Group::NonExpert, quiz_preset());
    c.patterned = 4;
    c.random = 4;
    c.practice = 1;
    let stimuli = Stimuli::load(&c, None).unwrap();
    let (mut s, _) = session::start(&quiz_dir, &c, &stimuli).unwrap();
    for k in 0..s.header().items.len() {
        let item = s.header().items[k].clone();
        let mut trial = Trial::new(k, item.len(), None, Instant::now());
        for (pos, &l) in item.labels.iter().enumerate() {
            // Every fourth image answered wrong.
            let a = if (k * 5 + pos) % 4 == 0 {
                (l + 1) % 10
            } else {
                l
            };
            trial.answer_selected(a, Instant::now());
        }
        s.append(trial.submit(Instant::now()).unwrap()).unwrap();
    }
    let record = SessionRecord::read(s.path()).unwrap();

    let models = score_runs(
        std::slice::from_ref(&record),
        &[run.path.as_path()],
        None,
        BackendChoice::Flex,
    )
    .unwrap();
    assert_eq!(models.len(), 1);
    let m = &models[0];
    assert_eq!((m.run.as_str(), m.model.as_str()), ("quiz-cnn", "CNN"));
    assert!(m.caveats.is_empty(), "{:?}", m.caveats);
    // Practice is not scored; every trial is.
    assert_eq!(m.predictions.len(), 8);
    assert!(!m.predictions.contains_key(&(0, 0)));

    // Each prediction is the model's class for that one rendered image (a CNN sees images alone).
    let device = Device::flex();
    let preset = run.preset().unwrap();
    let config = preset.model.as_ref().unwrap().config(1, 28, 28, 10);
    let model = load_model(&run.model_path(), &config, &device).unwrap();
    for (&(si, k), preds) in &m.predictions {
        assert_eq!(si, 0);
        let item = &record.header.items[k];
        assert_eq!(preds.len(), item.len());
        for (pos, &p) in preds.iter().enumerate() {
            let px: Vec<f32> = stimuli
                .render(item, pos)
                .iter()
                .map(|&v| v as f32 / 255.0)
                .collect();
            let x = Tensor::<5>::from_data(TensorData::new(px, [1, 1, 1, 28, 28]), &device);
            let logits: Vec<f32> = model.forward(x).into_data().try_to_vec::<f32>().unwrap();
            let best = (0..10)
                .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
                .unwrap() as u16;
            assert_eq!(p, best, "item {k}, image {pos}");
        }
    }

    let report = analyze(std::slice::from_ref(&record), &models);
    let row = report
        .rows
        .iter()
        .find(|r| matches!(r.who, Who::Model { .. }))
        .unwrap();
    assert_eq!(row.overall.unwrap().total, 40);
    let right: u64 = m
        .predictions
        .iter()
        .map(|(&(_, k), p)| {
            p.iter()
                .zip(&record.header.items[k].labels)
                .filter(|(a, b)| a == b)
                .count() as u64
        })
        .sum();
    assert_eq!(row.overall.unwrap().correct, right);
    let cmp = report
        .comparisons
        .iter()
        .find(|c| c.condition.is_none())
        .unwrap();
    assert_eq!(cmp.test.pairs, 40);
    assert_eq!(cmp.test.both_right + cmp.test.only_second, right);

    // The same through the command line.
    let csv = tmp.path().join("answers.csv");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_occlab"))
        .arg("quiz-report")
        .arg(&quiz_dir)
        .arg("--run")
        .arg(&run.path)
        .args(["--backend", "flex", "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Tables 4–5"), "{stdout}");
    assert!(stdout.contains("CNN (quiz-cnn)"), "{stdout}");
    assert!(stdout.contains("McNemar"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "pairs {:>5}  b {:>4}  c {:>4}",
            40, cmp.test.only_first, cmp.test.only_second
        )),
        "{stdout}"
    );
    // And as JSON.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_occlab"))
        .arg("quiz-report")
        .arg(record.path.as_path())
        .args(["--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["sessions"][0]["participant"], "S1");
    assert_eq!(json["rows"][0]["who"]["group"], "Non-expert");
    assert_eq!(json["table"]["columns"][0]["dataset"], "MNIST");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 1 + 9 * 5);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with("quiz-cnn_prediction,quiz-cnn_correct")
    );
}
