//! A fresh install can demo at once: in the Quiz panel's class session view, "Train the demo
//! models" trains the demo CNN + CRNN pair on the embedded digits in the background (through the
//! run launcher, progress shown), after which the class view has both ticked and the Present
//! panel shows both. Shortened here to one epoch on a few sequences.

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use occlab::experiment::run::RunDir;
use occlab::gui::{OcclabApp, PanelId};
use std::time::{Duration, Instant};

mod gui_common;

fn step_until(
    h: &mut Harness<'static, OcclabApp>,
    what: &str,
    mut done: impl FnMut(&Harness<'static, OcclabApp>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done(h) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; error: {:?}",
            h.state().workbench.demo.error()
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
}

#[test]
fn the_demo_pair_trains_in_the_background_and_both_views_use_it() {
    let runs = tempfile::tempdir().unwrap();
    let mut h = gui_common::harness();
    {
        let wb = &mut h.state_mut().workbench;
        wb.runs_root = runs.path().display().to_string();
        wb.demo.epochs = Some(1);
        wb.demo.limit_sequences = Some(48);
    }
    h.get_by_role_and_label(Role::Button, PanelId::Quiz.title())
        .click();
    h.run();
    h.get_by_label("Class session").click();
    h.run();
    h.get_by_label("Train the demo models (CNN + CRNN on the embedded digits)")
        .click();
    step_until(&mut h, "training to start", |h| {
        h.state().workbench.demo.is_busy()
    });
    step_until(&mut h, "the demo pair", |h| {
        h.state().workbench.demo.ready().is_some() || h.state().workbench.demo.error().is_some()
    });
    assert_eq!(h.state().workbench.demo.error(), None);
    let dirs = h.state().workbench.demo.ready().unwrap().1.to_vec();
    assert_eq!(dirs.len(), 2);
    for d in &dirs {
        let run = RunDir::open(d).unwrap();
        assert!(run.is_finished().unwrap(), "{} finished", d.display());
    }
    step_until(&mut h, "the class view to tick the pair", |h| {
        h.state().quiz_panel.class.chosen_runs().len() == 2
    });
    let mut chosen = h.state().quiz_panel.class.chosen_runs();
    chosen.sort();
    let mut expected = dirs.clone();
    expected.sort();
    assert_eq!(chosen, expected);

    h.get_by_role_and_label(Role::Button, PanelId::Present.title())
        .click();
    step_until(&mut h, "the Present panel to show the pair", |h| {
        let mut c = h.state().present_panel.chosen().to_vec();
        c.sort();
        c == expected
    });
    // A second click trains nothing: both runs are found finished and reused.
    h.get_by_role_and_label(Role::Button, PanelId::Quiz.title())
        .click();
    h.run();
    h.get_by_label("Train the demo models (CNN + CRNN on the embedded digits)")
        .click();
    step_until(&mut h, "the reused pair", |h| {
        h.state()
            .workbench
            .demo
            .ready()
            .is_some_and(|(generation, _)| generation == 2)
    });
}
