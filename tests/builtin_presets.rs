//! The presets built into the binary (issue 16): every file under presets/ is in it, byte for
//! byte; `occlab presets list|export` show and copy them; and the CLI's defaults work when the
//! binary runs from an empty folder with no checkout around it.

use occlab::experiment::builtin;
use occlab::experiment::preset::Preset;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::output_text as text;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every file under presets/, as (path relative to presets/ with `/`, bytes), sorted.
fn files_on_disk() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut out: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap();
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            (rel.join("/"), std::fs::read(p).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn occlab_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_occlab"))
        .args(args)
        .current_dir(dir)
        .env_remove("OCCLAB_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("occlab runs")
}

#[test]
fn every_file_under_presets_is_built_in_byte_for_byte() {
    let disk = files_on_disk();
    let mut built: Vec<(String, Vec<u8>)> = builtin::files()
        .iter()
        .map(|(n, b)| (n.to_string(), b.to_vec()))
        .collect();
    built.sort();
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&built),
        names(&disk),
        "built-in list differs from presets/"
    );
    for ((name, a), (_, b)) in built.iter().zip(&disk) {
        assert!(a == b, "{name}: the built-in bytes differ from the file");
    }
    // Every built-in .toml loads by its `presets/…` name from a folder without such a file.
    for (name, _) in &built {
        if name.starts_with("sweeps/") {
            // A sweep file (checked in tests/presets.rs and below, from an empty folder).
            continue;
        } else if name.ends_with(".toml") {
            let p = PathBuf::from("presets").join(name);
            let from_disk = Preset::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(&p)).unwrap();
            assert_eq!(
                builtin::lookup(&p).map(<[u8]>::len),
                Some(
                    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(&p))
                        .unwrap()
                        .len()
                )
            );
            let built_in = Preset::parse(
                std::str::from_utf8(builtin::lookup(&p).unwrap()).unwrap(),
                &p,
            )
            .unwrap();
            assert_eq!(from_disk, built_in, "{name}");
        }
    }
}

#[test]
fn presets_list_and_export_work_from_an_empty_folder() {
    let empty = tempfile::tempdir().unwrap();
    let o = occlab_in(empty.path(), &["presets", "list"]);
    assert!(o.status.success(), "{}", text(&o));
    let listed = String::from_utf8_lossy(&o.stdout);
    let disk = files_on_disk();
    assert_eq!(listed.lines().count(), disk.len(), "{listed}");
    assert!(
        listed.contains("presets/quiz/digits-embedded.toml"),
        "{listed}"
    );

    let o = occlab_in(empty.path(), &["presets", "export", "copy"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("wrote {0} of the {0} built-in", disk.len())),
        "{}",
        text(&o)
    );
    for (name, bytes) in &disk {
        let got = std::fs::read(empty.path().join("copy").join(name)).unwrap();
        assert!(got == *bytes, "{name} exported differently");
    }
    // Again: nothing to write. An edited copy is never overwritten.
    let o = occlab_in(empty.path(), &["presets", "export", "copy"]);
    assert!(text(&o).contains("wrote 0 of"), "{}", text(&o));
    let edited = empty.path().join("copy/quiz/mnist.toml");
    std::fs::write(&edited, "# mine\n").unwrap();
    let o = occlab_in(empty.path(), &["presets", "export", "copy"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("quiz/mnist.toml") && text(&o).contains("not overwritten"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "# mine\n");
}

#[test]
fn a_preset_file_on_disk_wins_over_the_built_in_one_of_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    let quiz = dir.path().join("presets/quiz");
    std::fs::create_dir_all(&quiz).unwrap();
    let mut p = Preset::load(Path::new("presets/quiz/digits-embedded.toml")).unwrap();
    p.name = "my-digits".into();
    p.save(&quiz.join("digits-embedded.toml")).unwrap();
    // `occlab dataset` on that relative path, run from that folder, reads the edited file.
    let o = occlab_in(
        dir.path(),
        &[
            "dataset",
            "--preset",
            "presets/quiz/digits-embedded.toml",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("my-digits"), "{}", text(&o));
    // And a path that names neither a file nor a built-in preset says so, naming it.
    let o = occlab_in(
        dir.path(),
        &["dataset", "--preset", "presets/quiz/nope.toml"],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("presets/quiz/nope.toml"), "{}", text(&o));
}

#[test]
fn occlab_quiz_with_its_default_preset_runs_from_an_empty_folder() {
    let empty = tempfile::tempdir().unwrap();
    // No answers on stdin: the session starts, is saved, and pauses at the end of the input.
    let o = occlab_in(
        empty.path(),
        &[
            "quiz",
            "--participant",
            "E2",
            "--no-images",
            "--patterned",
            "1",
            "--random",
            "1",
            "--practice",
            "0",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("You will see 2 sequences"),
        "{}",
        text(&o)
    );
    assert!(empty.path().join("quiz/E2-digits-embedded.jsonl").is_file());
}

#[test]
fn a_built_in_sweep_plans_from_an_empty_folder() {
    let empty = tempfile::tempdir().unwrap();
    let o = occlab_in(
        empty.path(),
        &[
            "sweep",
            "--preset",
            "presets/sweeps/occlusion-severity.toml",
            "--plan",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("12 runs (12 new"), "{out}");
    assert!(out.contains("model.kind = \"CRNN\""), "{out}");
    // --plan creates nothing.
    assert!(!empty.path().join("sweeps").exists());
}
