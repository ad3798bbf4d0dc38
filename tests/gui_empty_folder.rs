//! The workbench started from an empty folder, with no checkout around it (issue 16): the Quiz
//! panel's default preset (built into the binary), a run trained from the Train panel's defaults
//! into `./runs` (the workbench's default runs folder), and the Present panel showing it. The CLI side is in
//! tests/presets.rs (`occlab quiz` and `occlab presets` run from an empty folder).

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use occlab::gui::quiz_panel::{DEFAULT_PRESET, QuizScreen};
use occlab::gui::{OcclabApp, PanelId};
use occlab::model::ModelKind;
use occlab::train::BackendChoice;
use occlab::train::series::RunState;
use std::time::Duration;

mod gui_common;

fn step_until(
    h: &mut Harness<'static, OcclabApp>,
    what: &str,
    done: impl FnMut(&Harness<'static, OcclabApp>) -> bool,
) {
    gui_common::step_until(h, Duration::from_secs(180), what, done);
    h.run();
}

#[test]
fn the_workbench_defaults_work_from_an_empty_folder() {
    let empty = tempfile::tempdir().unwrap();
    // This file's only test: no other thread depends on the working directory.
    std::env::set_current_dir(empty.path()).unwrap();
    assert!(!empty.path().join("presets").exists());
    let mut h = gui_common::harness();

    // Quiz: the default preset path is relative and no such file exists here; it is built in.
    h.get_by_role_and_label(Role::Button, PanelId::Quiz.title())
        .click();
    h.run();
    assert_eq!(h.state().quiz_panel.form.preset_path, DEFAULT_PRESET);
    {
        let form = &mut h.state_mut().quiz_panel.form;
        form.patterned = 1;
        form.random = 1;
        form.practice = 0;
    }
    h.get_by_label("Participant ID").focus();
    h.run();
    h.get_by_label("Participant ID").type_text("E1");
    h.run();
    h.get_by_role_and_label(Role::Button, "Start session")
        .click();
    h.step();
    step_until(&mut h, "the quiz instructions", |h| {
        h.state().quiz_panel.screen() == QuizScreen::Instructions
    });
    let sessions: Vec<_> = std::fs::read_dir(empty.path().join("quiz"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(sessions, ["E1-digits-embedded.jsonl"]);

    // Train: the defaults, made small (one epoch of a CNN on 10 sequences), into ./runs.
    h.get_by_role_and_label(Role::Button, PanelId::Train.title())
        .click();
    h.run();
    assert_eq!(h.state().workbench.runs_root, "runs");
    {
        let form = &mut h.state_mut().train_panel.form;
        form.config.batch_size = 5;
        form.config.epochs = 1;
        form.backend = BackendChoice::Flex;
        form.select_only(&[ModelKind::Cnn]);
        h.state_mut().workbench.sequences.limit = Some(10);
    }
    h.step();
    h.get_by_role_and_label(Role::Button, "Start").click();
    h.step();
    step_until(&mut h, "the training run to finish", |h| {
        h.state()
            .train_panel
            .series()
            .last()
            .is_some_and(|s| matches!(s.state, RunState::Finished { .. }))
    });
    let runs: Vec<_> = std::fs::read_dir(empty.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].join("checkpoint/model.bpk").is_file());

    // Present: its default folder (./runs) lists that run, and it is shown.
    h.state_mut().present_panel.backend = BackendChoice::Flex;
    h.get_by_role_and_label(Role::Button, PanelId::Present.title())
        .click();
    h.step();
    step_until(&mut h, "the showcase", |h| {
        let p = &h.state().present_panel;
        assert!(p.error().is_none(), "{:?}", p.error());
        p.showcase().is_some()
    });
    assert_eq!(h.state().present_panel.chosen().len(), 1);
}
