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
