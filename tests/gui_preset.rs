//! The session saved as / loaded from a preset TOML (the side bar's "Open preset…" and
//! "Save preset…" buttons call these after their file dialogs): the same files the CLI reads.

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use occlab::experiment::preset::{OrderingSpec, Preset};
use occlab::model::ModelKind;
use std::path::Path;

mod gui_common;

#[test]
fn a_preset_fills_the_session_and_the_session_saves_as_a_preset() {
    let mut harness = gui_common::harness();
    // The side bar offers both.
    harness.get_by_role_and_label(Role::Button, "Open preset…");
    harness.get_by_role_and_label(Role::Button, "Save preset…");

    let mut preset = Preset::load(Path::new("presets/train/demo-crnn-embedded.toml")).unwrap();
    preset.occlusion.level_widths = vec![0.05, 0.1, 0.2];
    preset.occlusion.level_mix = vec![1.0, 2.0, 1.0];
    preset.sequences.t = 7;
    preset.sequences.ordering = OrderingSpec::Random;
    preset.sequences.seed = 42;
    preset.model.as_mut().unwrap().kind = ModelKind::Crnn4S;
    preset.train.as_mut().unwrap().learning_rate = 0.0005;
    preset.train.as_mut().unwrap().epochs = 7;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    preset.save(&path).unwrap();

    let ctx = harness.ctx.clone();
    let opened = harness.state_mut().open_preset(&path, &ctx).unwrap();
    assert_eq!(opened, preset);
    harness.run();
    let app = harness.state();
    assert_eq!(app.workbench.spec, preset.occlusion);
    let form = &app.train_panel.form;
    let sequences = &app.workbench.sequences;
    assert_eq!(sequences.t, 7);
    assert_eq!(sequences.ordering, OrderingSpec::Random);
    assert_eq!(sequences.seed, 42);
    assert_eq!(form.models(), [ModelKind::Crnn4S]);
    assert_eq!(form.config.learning_rate, 0.0005);

    // Saved again, it is the same experiment (only the name and description differ).
    let out = dir.path().join("session.toml");
    harness.state().save_preset(&out).unwrap();
    let mut saved = Preset::load(&out).unwrap();
    assert_eq!(saved.name, "workbench-session");
    saved.name = preset.name.clone();
    saved.description = preset.description.clone();
    assert_eq!(saved, preset);

    // A broken file is refused with its name, the session unchanged.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = 3\n").unwrap();
    let err = harness.state_mut().open_preset(&bad, &ctx).unwrap_err();
    assert!(err.contains("bad.toml"), "{err}");
    assert_eq!(harness.state().workbench.sequences.t, 7);
}

#[test]
fn custom_patterns_travel_between_a_preset_the_patterns_panel_and_the_train_panel() {
    use occlab::experiment::preset::LibrarySpec;
    use occlab::gui::workbench::LibraryChoice;
    let mut harness = gui_common::harness();
    let mut preset = Preset::load(Path::new("presets/train/demo-crnn-embedded.toml")).unwrap();
    preset.sequences.patterns = LibrarySpec::Custom {
        patterns: vec!["0-1-2-3-4".into(), "2-4-6-8-0".into(), "9-7-5-3-1".into()],
    };
    preset.sequences.seed = 3;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.toml");
    preset.save(&path).unwrap();
    let ctx = harness.ctx.clone();
    harness.state_mut().open_preset(&path, &ctx).unwrap();
    harness.run();
    let app = harness.state();
    let sequences = &app.workbench.sequences;
    assert_eq!(sequences.library, Some(LibraryChoice::Custom));
    assert_eq!(sequences.custom, "0-1-2-3-4\n2-4-6-8-0\n9-7-5-3-1\n");
    let classes = &app.workbench.data.as_ref().unwrap().set.class_names;
    assert!(sequences.designed(classes));
    // The Train panel shows where its patterns come from.
    harness
        .get_by_role_and_label(Role::Button, occlab::gui::PanelId::Train.title())
        .click();
    harness.run();
    harness.get_by_label("3 custom patterns — T = 5, seed 3 (from the Patterns panel)");
    // Saved again: the same custom list.
    let out = dir.path().join("again.toml");
    harness.state().save_preset(&out).unwrap();
    let saved = Preset::load(&out).unwrap();
    assert_eq!(saved.sequences, preset.sequences);
}
