//! The showcase behind the Present panel, on two real (tiny) runs trained on the embedded digits:
//! every guess is a probability distribution, the guesses are the runs' own test predictions,
//! the order is seeded, and runs trained for other data are refused with a clear message.

use occlab::data::letters::{LetterConfig, generate_letters};
use occlab::data::source::DataSource;
use occlab::data::{ImageSet, embedded};
use occlab::experiment::dataset;
use occlab::experiment::preset::{OrderingSpec, Preset};
use occlab::experiment::run::RunDir;
use occlab::experiment::showcase::{
    self, Showcase, ShowcaseError, ShowcaseRequest, candidates, default_runs, presentation_order,
};
use occlab::experiment::tables;
use occlab::model::ModelKind;
use occlab::occlusion::OcclusionSpec;
use occlab::train::{BackendChoice, TrainConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

mod common;

/// Test sequences per run (the preset's limit).
const TEST_SEQUENCES: usize = 12;

fn preset(kind: ModelKind) -> Preset {
    let train = TrainConfig {
        epochs: 1,
        batch_size: 4,
        seed: 7,
        ..Default::default()
    };
    let name = format!("showcase-{kind}");
    let mut p = common::embedded_digits_preset(&name, kind, TEST_SEQUENCES, 3, train);
    p.model.as_mut().unwrap().lstm_hidden = 32;
    p
}

/// Trains one epoch of `kind` into `root/name` on the flex backend.
fn train_run(root: &Path, name: &str, kind: ModelKind) -> PathBuf {
    common::train_to_end(&preset(kind), &root.join(name)).path
}

/// A CNN and a CRNN run, trained once for all the tests of this file.
struct Runs {
    root: PathBuf,
    cnn: PathBuf,
    crnn: PathBuf,
}

fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("showcase-runs");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let cnn = train_run(&root, "cnn", ModelKind::Cnn);
        let crnn = train_run(&root, "crnn", ModelKind::Crnn);
        Runs { root, cnn, crnn }
    })
}

fn digits() -> Arc<ImageSet> {
    Arc::new(embedded::embedded_digits().unwrap())
}

fn request(runs: Vec<PathBuf>) -> ShowcaseRequest {
    ShowcaseRequest {
        runs,
        ordering: OrderingSpec::Patterned,
        shuffle_seed: None,
        count: 0,
        occlusion: None,
        backend: BackendChoice::Flex,
    }
}

/// The embedded digits scaled to 32×32 and repeated over three channels: same classes,
/// another image size.
fn digits_32_rgb() -> ImageSet {
    let d = embedded::embedded_digits().unwrap();
    let n = 600;
    let mut pixels = Vec::with_capacity(n * 32 * 32 * 3);
    for i in 0..n {
        let img = d.image(i);
        for y in 0..32 {
            for x in 0..32 {
                let v = img[(y * 28 / 32) * 28 + x * 28 / 32];
                pixels.extend([v, v, v]);
            }
        }
    }
    ImageSet::new(
        "digits 32×32 RGB",
        32,
        32,
        3,
        pixels,
        d.labels[..n].to_vec(),
        d.splits[..n].to_vec(),
        d.class_names.clone(),
        Path::new("test"),
    )
    .unwrap()
}

fn build(request: &ShowcaseRequest, images: Arc<ImageSet>) -> Showcase {
    showcase::build(request, images).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn guesses_are_distributions_and_equal_the_runs_predictions() {
    let runs = runs();
    let s = build(
        &request(vec![runs.cnn.clone(), runs.crnn.clone()]),
        digits(),
    );
    let labels: Vec<&str> = s.models.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(labels, ["CNN", "CRNN"]);
    assert_eq!(s.test_sequences, TEST_SEQUENCES);
    assert_eq!(s.sequences.len(), TEST_SEQUENCES, "count 0 shows every one");
    assert!(s.occlusion_as_trained);
    assert_eq!((s.height, s.width, s.channels, s.t), (28, 28, 1, 5));

    for (m, path) in [&runs.cnn, &runs.crnn].into_iter().enumerate() {
        let csv: HashMap<(u32, u16), _> = RunDir::open(path)
            .unwrap()
            .predictions()
            .unwrap()
            .into_iter()
            .map(|p| ((p.sequence, p.position), p))
            .collect();
        assert_eq!(csv.len(), TEST_SEQUENCES * 5);
        let mut compared = 0;
        for seq in &s.sequences {
            assert_eq!(seq.images.len(), 5);
            assert!(
                seq.pattern.is_some(),
                "patterned sequences name their pattern"
            );
            for (pos, im) in seq.images.iter().enumerate() {
                assert_eq!(im.guesses.len(), 2);
                let g = &im.guesses[m];
                assert_eq!(g.probabilities.len(), 10);
                let sum: f32 = g.probabilities.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "probabilities sum to {sum}");
                assert!(g.probabilities.iter().all(|&p| (0.0..=1.0).contains(&p)));
                let argmax = g
                    .probabilities
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .unwrap()
                    .0;
                assert_eq!(g.predicted as usize, argmax);
                assert_eq!(g.probability, g.probabilities[argmax]);

                let row = &csv[&(seq.index as u32, pos as u16)];
                assert_eq!(im.truth, row.truth);
                assert_eq!(im.level, row.level);
                assert_eq!(
                    g.predicted, row.predicted,
                    "{}: sequence {} position {pos}",
                    s.models[m].label, seq.index
                );
                assert!(
                    (g.probability - row.probability).abs() < 2e-4,
                    "{} vs {} in predictions.csv",
                    g.probability,
                    row.probability
                );
                compared += 1;

                // The occluded pixels are the clean ones, blacked out exactly where hidden.
                assert_eq!(im.clean.len(), 28 * 28);
                assert_eq!(im.hidden.len(), 28 * 28);
                for k in 0..28 * 28 {
                    let want = if im.hidden[k] { 0 } else { im.clean[k] };
                    assert_eq!(im.occluded[k], want);
                }
                assert_eq!(im.level > 0, im.hidden.iter().any(|&h| h));
            }
        }
        assert_eq!(compared, TEST_SEQUENCES * 5);
    }
}

#[test]
fn the_order_is_seeded_and_the_count_is_kept() {
    let runs = runs();
    let prepared = dataset::prepare(&preset(ModelKind::Cnn), None).unwrap();
    let in_order = presentation_order(&prepared.sequences, None);
    assert_eq!(in_order.len(), TEST_SEQUENCES);
    assert!(in_order.windows(2).all(|w| w[0] < w[1]));
    let a = presentation_order(&prepared.sequences, Some(5));
    assert_eq!(a, presentation_order(&prepared.sequences, Some(5)));
    assert_ne!(a, in_order);
    assert_ne!(a, presentation_order(&prepared.sequences, Some(6)));
    let mut sorted = a.clone();
    sorted.sort();
    assert_eq!(sorted, in_order, "a permutation of the test sequences");

    let mut r = request(vec![runs.crnn.clone()]);
    r.shuffle_seed = Some(5);
    r.count = 4;
    let s = build(&r, digits());
    assert_eq!(s.shuffle_seed, Some(5));
    let shown: Vec<usize> = s.sequences.iter().map(|q| q.index).collect();
    assert_eq!(shown, a[..4]);

    // The random-order control: test images in random order, no pattern.
    r.ordering = OrderingSpec::Random;
    r.count = 0;
    let images = digits();
    let control = build(&r, images.clone());
    assert_eq!(control.ordering, OrderingSpec::Random);
    assert_eq!(control.sequences.len(), TEST_SEQUENCES);
    assert!(control.sequences.iter().all(|q| q.pattern.is_none()));
    assert!(control.sequences.iter().flat_map(|q| &q.images).all(|i| {
        images.splits[i.image_id as usize] == occlab::data::Split::Test
            && images.labels[i.image_id as usize] == i.truth
    }));

    // Occluders of another spec (here: thicker frames) are drawn when asked for.
    let mut r = request(vec![runs.cnn.clone()]);
    let mut thick = OcclusionSpec::paper_default();
    thick.level_widths = vec![0.45; 5];
    r.occlusion = Some(thick.clone());
    let s = build(&r, digits());
    assert!(!s.occlusion_as_trained);
    assert_eq!(s.occlusion, thick);
    let hidden = |s: &Showcase| {
        s.sequences
            .iter()
            .flat_map(|q| &q.images)
            .map(|i| i.hidden.iter().filter(|&&h| h).count())
            .sum::<usize>()
    };
    let as_trained = build(&request(vec![runs.cnn.clone()]), digits());
    assert!(hidden(&s) > hidden(&as_trained));
}

#[test]
fn the_best_cnn_and_crnn_are_the_defaults() {
    let runs = runs();
    let scan = tables::scan(&runs.root);
    let listed = candidates(&scan, &digits());
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|c| c.fit.is_ok()));
    assert_eq!(
        default_runs(&listed),
        vec![runs.cnn.clone(), runs.crnn.clone()]
    );
}

#[test]
fn runs_trained_for_other_data_are_refused() {
    let runs = runs();
    let err = |r: Result<Showcase, ShowcaseError>| match r {
        Ok(_) => panic!("a run for other data was accepted"),
        Err(e) => e,
    };

    // Another image size: refused from the run's files, before the checkpoint is read.
    let rgb = Arc::new(digits_32_rgb());
    let e = err(showcase::build(
        &request(vec![runs.cnn.clone()]),
        rgb.clone(),
    ));
    let text = e.to_string();
    println!("{text}");
    assert!(matches!(e, ShowcaseError::Misfit { .. }), "{e:?}");
    assert!(
        text.contains("cnn") && text.contains("28×28×1") && text.contains("32×32×3"),
        "{text}"
    );
    let listed = candidates(&tables::scan(&runs.root), &rgb);
    assert!(listed.iter().all(|c| c.fit.is_err()));
    assert!(
        default_runs(&listed).is_empty(),
        "no default that does not fit"
    );

    // Other classes: 26 letters.
    let letters = Arc::new(
        generate_letters(&LetterConfig {
            per_class: 3,
            ..LetterConfig::default()
        })
        .unwrap(),
    );
    let text = err(showcase::build(&request(vec![runs.crnn.clone()]), letters)).to_string();
    assert!(
        text.contains("crnn") && text.contains("10 classes") && text.contains("26"),
        "{text}"
    );

    // A run whose files do not tell the image size (an image folder): the checkpoint's shapes
    // decide.
    // (Outside the runs folder: the other tests list it.)
    let copy = runs
        .root
        .with_file_name("showcase-misfit")
        .join("cnn-folder");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(copy.join("checkpoint")).unwrap();
    for f in [
        "metrics.jsonl",
        "checkpoint/model.bpk",
        "checkpoint/epoch.json",
    ] {
        std::fs::copy(runs.cnn.join(f), copy.join(f)).unwrap();
    }
    let mut p = preset(ModelKind::Cnn);
    p.data = DataSource::Folder {
        path: "some-folder".into(),
        options: Default::default(),
    };
    p.save(&copy.join("config.toml")).unwrap();
    let e = err(showcase::build(&request(vec![copy.clone()]), rgb));
    let text = e.to_string();
    println!("{text}");
    assert!(matches!(e, ShowcaseError::Misfit { .. }), "{e:?}");
    assert!(
        text.contains("cnn-folder") && text.contains("checkpoint does not fit"),
        "{text}"
    );
    std::fs::remove_dir_all(&copy).unwrap();

    // No run at all.
    assert!(matches!(
        showcase::build(&request(Vec::new()), digits()),
        Err(ShowcaseError::NoRuns)
    ));
}
