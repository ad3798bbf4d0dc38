//! A fresh install can demo at once: in the Quiz panel's class session view, "Train the demo
//! models" trains the demo CNN + CRNN pair on the embedded digits in the background (through the
//! run launcher, progress shown), after which the class view has both ticked and the Present
//! panel shows both; a class session started then shows the class against both on the same
//! images. Shortened here to one epoch on a few sequences.

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use occlab::experiment::run::RunDir;
use occlab::gui::{OcclabApp, PanelId};
use std::time::Duration;

mod class_common;
mod gui_common;

fn step_until(
    h: &mut Harness<'static, OcclabApp>,
    what: &str,
    done: impl FnMut(&Harness<'static, OcclabApp>) -> bool,
) {
    gui_common::step_until(h, Duration::from_secs(600), what, done);
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

    // A class session against the pair: the class and both models on the same images.
    {
        let panel = &mut h.state_mut().quiz_panel;
        panel.form.preset_path = class_common::PRESET.into();
        panel.form.patterned = 1;
        panel.form.random = 1;
        panel.form.practice = 0;
        panel.class.folder = runs.path().join("class").display().to_string();
        panel.class.port = class_common::free_port();
    }
    h.run();
    h.get_by_label("Start class session").click();
    step_until(&mut h, "the server to start", |h| {
        h.state().quiz_panel.class.join_url().is_some()
            || h.state().quiz_panel.class.error().is_some()
    });
    let url = h.state().quiz_panel.class.join_url().unwrap().to_string();
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let c = class_common::Client::new(addr);
    let token = c.join(url.split("#code=").nth(1).unwrap(), "Ada");
    for item in 0..2 {
        let r = c.post_json(
            "/api/submit",
            Some(&token),
            &class_common::submission(item, 5, 4),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    step_until(&mut h, "the class against the models", |h| {
        h.state()
            .quiz_panel
            .class
            .view()
            .is_some_and(|v| v.finished() == 1)
    });
    let view = h.state().quiz_panel.class.view().unwrap().clone();
    let who: Vec<String> = view.report.rows.iter().map(|r| r.who.label()).collect();
    assert_eq!(
        view.report.rows.len(),
        3,
        "the class and two models: {who:?}"
    );
    for row in &view.report.rows {
        assert_eq!(
            row.overall.unwrap().total,
            10,
            "{}: the same 10 images",
            row.who.label()
        );
    }
    h.get_by_label("Stop class session").click();
    h.run();

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
