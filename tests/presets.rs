//! Every preset shipped in presets/ parses, names a valid pattern library for its data's classes,
//! and survives a TOML round trip.

use occlab::data::cifar::CIFAR10_CLASSES;
use occlab::data::source::DataSource;
use occlab::experiment::dataset;
use occlab::experiment::preset::{LibrarySpec, Preset};
use std::path::{Path, PathBuf};

fn presets(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            // Sweep files (a [sweep] table over a base preset) are checked by
            // `every_shipped_sweep_expands` below.
            if p.file_name().is_some_and(|n| n == "sweeps") {
                continue;
            }
            presets(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}

fn class_names(source: &DataSource) -> Vec<String> {
    match source {
        DataSource::Cifar10 { .. } => CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect(),
        DataSource::Letters { .. } => (b'A'..=b'Z').map(|c| (c as char).to_string()).collect(),
        DataSource::OcrLetters { .. } => (b'a'..=b'z').map(|c| (c as char).to_string()).collect(),
        _ => (0..10).map(|d| d.to_string()).collect(),
    }
}

#[test]
fn every_shipped_preset_parses_and_validates() {
    let mut files = Vec::new();
    presets(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("presets")
            .as_path(),
        &mut files,
    );
    assert!(
        files.len() >= 48 + 7,
        "expected the paper-a and data presets, found {}",
        files.len()
    );
    for f in &files {
        let p = Preset::load(f).unwrap_or_else(|e| panic!("{e}"));
        p.occlusion
            .validate()
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        if p.sequences.patterns == LibrarySpec::Words {
            // Real words come from the data (tested against the real files in tests/ocr.rs).
            assert!(
                matches!(p.data, DataSource::OcrLetters { .. }),
                "{}: real words need the OCR letters",
                f.display()
            );
        } else {
            let lib = p
                .library(&class_names(&p.data))
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert!(!lib.patterns.is_empty(), "{}", f.display());
        }
        let again = Preset::parse(&p.to_toml(), f).unwrap();
        assert_eq!(again, p, "{}: TOML round trip", f.display());
        let stem = f.file_stem().unwrap().to_string_lossy();
        assert_eq!(
            p.name,
            stem,
            "{}: the preset's name is its file name",
            f.display()
        );
    }
}

#[test]
fn a_preset_error_names_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("broken.toml");
    std::fs::write(&f, "name = \"x\"\n[data]\nsource = \"floppy-disk\"\n").unwrap();
    let e = Preset::load(&f).unwrap_err().to_string();
    assert!(
        e.contains("broken.toml") && e.contains("floppy-disk"),
        "{e}"
    );
    let f = dir.path().join("bad-pattern.toml");
    std::fs::write(
        &f,
        "name = \"bad-pattern\"\n[data]\nsource = \"embedded-digits\"\n[sequences]\nt = 5\n[sequences.patterns]\nlibrary = \"custom\"\npatterns = [\"0-1-2-3-4\", \"0-1-X-3-4\"]\n",
    )
    .unwrap();
    let p = Preset::load(&f).unwrap();
    let e = dataset::prepare(&p, None).unwrap_err().to_string();
    assert!(e.contains("0-1-X-3-4") && e.contains('X'), "{e}");
}

#[test]
fn the_offline_demo_preset_builds_from_the_embedded_digits() {
    let p = Preset::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/data/embedded-demo.toml"),
    )
    .unwrap();
    let prepared = dataset::prepare(&p, None).unwrap();
    let s = prepared.summary(&p);
    assert_eq!(s.images, 10_000);
    assert!(s.train_sequences > 1000 && s.test_sequences > 200, "{s}");
    assert!(s.plan_optimal);
    // Coverage grows with the level, for pixels and for ink.
    for w in s.coverage.windows(2) {
        assert!(
            w[1].pixels_hidden > w[0].pixels_hidden && w[1].ink_hidden > w[0].ink_hidden,
            "{:?}",
            s.coverage
        );
    }
}

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn dataset_summary_on_full_mnist_reaches_the_papers_count() {
    let Some(dir) = std::env::var_os("OCCLAB_DATA_DIR").map(PathBuf::from) else {
        eprintln!(
            "SKIPPED dataset_summary_on_full_mnist_reaches_the_papers_count: OCCLAB_DATA_DIR is not set"
        );
        return;
    };
    let p = Preset::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/data/mnist-patterned.toml"),
    )
    .unwrap();
    let prepared = dataset::prepare(&p, Some(&dir)).unwrap();
    let s = prepared.summary(&p);
    assert_eq!(s.images, 70_000);
    assert!(s.train_sequences + s.test_sequences >= 13_135, "{s}");
    let random =
        Preset::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/data/mnist-random.toml"))
            .unwrap();
    let r = dataset::prepare(&random, Some(&dir))
        .unwrap()
        .summary(&random);
    assert_eq!(
        (r.train_sequences, r.test_sequences),
        (s.train_sequences, s.test_sequences),
        "same images"
    );
}

#[test]
fn every_shipped_sweep_expands() {
    use occlab::experiment::sweep::SweepSpec;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/sweeps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the severity and length sweeps");
    for f in &files {
        let spec = SweepSpec::load(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let runs = spec
            .expand()
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(runs.len() >= 5, "{}: {} runs", f.display(), runs.len());
        for r in &runs {
            assert!(
                r.preset.model.is_some(),
                "{}: a training preset",
                f.display()
            );
        }
    }
    let severity = SweepSpec::load(&dir.join("occlusion-severity.toml")).unwrap();
    assert_eq!(
        severity.expand().unwrap().len(),
        12,
        "3 widths × CNN/CRNN × 2 seeds"
    );
    let length = SweepSpec::load(&dir.join("a3-length-mnist.toml")).unwrap();
    let ts: Vec<usize> = length
        .expand()
        .unwrap()
        .iter()
        .map(|r| r.preset.sequences.t)
        .collect();
    assert_eq!(
        ts,
        [5, 10, 15, 20, 25],
        "paper A's Table 3 lengths for MNIST"
    );
}

/// Converged-training settings a run cannot honour are refused when the preset is read, naming
/// the file and the key, instead of being ignored (early stopping without a validation split
/// would silently train every epoch).
#[test]
fn impossible_validation_settings_are_refused_with_the_file_named() {
    let path = Path::new("presets/train/demo-crnn-embedded.toml");
    let base = Preset::load(path).unwrap();
    let with = |fraction: f64, patience: Option<usize>| {
        let mut p = base.clone();
        let t = p.train.as_mut().unwrap();
        t.validation_fraction = fraction;
        t.patience = patience;
        Preset::parse(&p.to_toml(), path)
    };
    for (fraction, patience, says) in [
        (0.0, Some(3), "needs a validation split"),
        (0.1, Some(0), "train.patience = 0"),
        (1.0, None, "train.validation_fraction = 1"),
        (-0.1, None, "train.validation_fraction = -0.1"),
    ] {
        let e = with(fraction, patience).unwrap_err().to_string();
        assert!(e.contains(says), "{e}");
        assert!(e.contains("demo-crnn-embedded.toml"), "{e}");
    }
    let ok = with(0.1, Some(3)).unwrap().train.unwrap();
    assert_eq!((ok.validation_fraction, ok.patience), (0.1, Some(3)));
}
