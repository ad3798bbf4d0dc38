//! The Present panel in a headless egui_kittest harness, on a CNN and a CRNN trained here (one
//! epoch on the embedded digits): both models' guesses with probabilities above the images, and
//! the keys: Space reveals the truth, O lifts the occluders, Right / Left step through the
//! sequences, H hides the controls (and the workbench around them), F / Escape full screen.

use egui::Key;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use occlab::gui::{OcclabApp, PanelId, Session};
use occlab::model::ModelKind;
use occlab::train::{BackendChoice, TrainConfig};
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
mod gui_common;

/// One epoch of `kind` on 10 + 10 sequences of the embedded digits, into `root/name`.
fn train_run(root: &Path, name: &str, kind: ModelKind) {
    let train = TrainConfig {
        epochs: 1,
        batch_size: 5,
        ..Default::default()
    };
    let mut p = common::embedded_digits_preset(name, kind, 10, 1, train);
    p.model.as_mut().unwrap().lstm_hidden = 32;
    common::train_to_end(&p, &root.join(name));
}

fn labels_starting(harness: &Harness<'static, OcclabApp>, prefix: &str) -> Vec<String> {
    harness
        .query_all_by(|n| {
            n.role() == Role::Label && n.value().is_some_and(|v| v.starts_with(prefix))
        })
        .filter_map(|n| n.value())
        .collect()
}

fn has_label(harness: &Harness<'static, OcclabApp>, text: &str) -> bool {
    harness.query_by_label(text).is_some()
}

fn press(harness: &mut Harness<'static, OcclabApp>, key: Key) {
    harness.key_press(key);
    harness.step();
    harness.step();
}

#[test]
fn the_present_panel_shows_both_models_and_obeys_the_keys() {
    // `OCCLAB_START_PANEL=present` opens the panel (checked first: the harness below clears it).
    // SAFETY: this file's only test; no other thread reads the environment yet.
    unsafe { std::env::set_var("OCCLAB_START_PANEL", "present") };
    let ctx = egui::Context::default();
    let app = OcclabApp::from_session(&ctx, Session::default(), None);
    assert_eq!(app.panel(), PanelId::Present);
    drop(app);

    let root = tempfile::tempdir().unwrap();
    train_run(root.path(), "tiny-cnn", ModelKind::Cnn);
    train_run(root.path(), "tiny-crnn", ModelKind::Crnn);

    let mut harness = gui_common::harness();
    {
        harness.state_mut().present_panel.backend = BackendChoice::Flex;
        // The workbench's one runs folder.
        harness.state_mut().workbench.runs_root = root.path().display().to_string();
    }
    harness
        .get_by_role_and_label(Role::Button, PanelId::Present.title())
        .click();
    let t0 = Instant::now();
    harness.step();
    let first_frame = t0.elapsed();
    assert_eq!(harness.state().panel(), PanelId::Present);
    // The runs folder is read off the UI thread.
    gui_common::step_until(
        &mut harness,
        Duration::from_secs(60),
        "the runs folder",
        |h| !h.state().present_panel.is_scanning(),
    );
    // The best CNN and the best CRNN are chosen by default and load on their own, off the UI
    // thread.
    assert_eq!(
        gui_common::chosen_run_names(&harness),
        ["tiny-cnn", "tiny-crnn"]
    );
    let mut frames = 0;
    gui_common::step_until(
        &mut harness,
        Duration::from_secs(120),
        "the showcase",
        |h| {
            let panel = &h.state().present_panel;
            assert!(panel.error().is_none(), "{:?}", panel.error());
            frames += 1;
            panel.showcase().is_some()
        },
    );
    println!(
        "first Present frame {:.1} ms; showcase ready after {frames} more frames",
        first_frame.as_secs_f64() * 1e3
    );
    harness.step();

    let showcase = harness.state().present_panel.showcase().unwrap().clone();
    let n = showcase.sequences.len();
    assert_eq!(n, 10, "the runs' 10 test sequences");
    assert!(has_label(&harness, &format!("Sequence 1 of {n}")));
    assert!(has_label(&harness, "truth hidden") && has_label(&harness, "occluders on"));

    // Above every image: each model's guess with its probability.
    let first = &showcase.sequences[0];
    let guess = |m: usize, pos: usize| {
        let g = &first.images[pos].guesses[m];
        format!(
            "{}: {} ({:.0} %)",
            showcase.models[m].label,
            showcase.class_name(g.predicted),
            g.probability * 100.0
        )
    };
    let cnn = labels_starting(&harness, "CNN: ");
    let crnn = labels_starting(&harness, "CRNN: ");
    assert_eq!(cnn.len(), 5, "{cnn:?}");
    assert_eq!(crnn.len(), 5, "{crnn:?}");
    for pos in 0..5 {
        assert!(
            cnn.contains(&guess(0, pos)),
            "{cnn:?} lacks {}",
            guess(0, pos)
        );
        assert!(
            crnn.contains(&guess(1, pos)),
            "{crnn:?} lacks {}",
            guess(1, pos)
        );
    }
    assert!(cnn.iter().chain(&crnn).all(|l| l.ends_with(" %)")));
    assert_eq!(labels_starting(&harness, "truth ?").len(), 5);

    // Space: the truth, and each guess marked right or wrong.
    press(&mut harness, Key::Space);
    assert!(harness.state().present_panel.truth_shown());
    assert!(has_label(&harness, "truth shown"));
    assert!(labels_starting(&harness, "truth ?").is_empty());
    let truths = labels_starting(&harness, "truth ");
    for im in &first.images {
        let want = format!("truth {}", showcase.class_name(im.truth));
        assert!(truths.contains(&want), "{truths:?} lacks {want}");
    }
    for (m, model) in showcase.models.iter().enumerate() {
        let right = first.right(m);
        let marked = labels_starting(&harness, &format!("{}: ", model.label));
        assert_eq!(
            marked.iter().filter(|l| l.ends_with(", right")).count(),
            right
        );
        assert_eq!(
            marked.iter().filter(|l| l.ends_with(", wrong")).count(),
            5 - right
        );
        harness.get_by_label_contains(&format!("{} {right} of 5 right", model.label));
    }

    // O: the occluders lifted.
    press(&mut harness, Key::O);
    assert!(!harness.state().present_panel.occluders_shown());
    assert!(has_label(&harness, "occluders off"));
    harness.get_by_role_and_label(Role::Button, "Put the occluders back");

    // Right: the next sequence, truth hidden and occluders back on.
    press(&mut harness, Key::ArrowRight);
    assert_eq!(harness.state().present_panel.current(), 1);
    assert!(has_label(&harness, &format!("Sequence 2 of {n}")));
    assert!(has_label(&harness, "truth hidden") && has_label(&harness, "occluders on"));
    press(&mut harness, Key::ArrowLeft);
    assert!(has_label(&harness, &format!("Sequence 1 of {n}")));
    press(&mut harness, Key::ArrowRight);

    // H: only the images remain (no side bar, no controls); H again brings them back.
    assert!(has_label(&harness, "Keys"));
    press(&mut harness, Key::H);
    assert!(harness.state().present_panel.hides_workbench());
    assert!(harness.query_by_label("Keys").is_none());
    assert!(
        harness
            .query_by_role_and_label(Role::Button, PanelId::Data.title())
            .is_none()
    );
    assert!(has_label(&harness, &format!("Sequence 2 of {n}")));
    assert_eq!(labels_starting(&harness, "CNN: ").len(), 5);
    press(&mut harness, Key::H);
    assert!(has_label(&harness, "Keys"));
    harness.get_by_role_and_label(Role::Button, PanelId::Data.title());

    // F asks for full screen, Escape leaves it.
    harness.get_by_role_and_label(Role::Button, "Full screen");
    press(&mut harness, Key::F);
    harness.get_by_role_and_label(Role::Button, "Leave full screen");
    press(&mut harness, Key::Escape);
    harness.get_by_role_and_label(Role::Button, "Full screen");
}
