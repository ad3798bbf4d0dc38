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
    assert_eq!(form.t, 7);
    assert_eq!(form.ordering, OrderingSpec::Random);
    assert_eq!(form.sequence_seed, 42);
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
    assert_eq!(harness.state().train_panel.form.t, 7);
}
