//! The Quiz panel's "Class session" in a headless egui_kittest harness: started from the panel
//! (the server runs on its own thread), the projector view shows the join address and code, and
//! updates live as a participant joins and answers over HTTP; the per-answer CSV is exported;
//! the session stops.

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use occlab::gui::quiz_panel::QuizTab;
use occlab::gui::{OcclabApp, PanelId};
use occlab::quiz::session::SessionRecord;
use std::time::Duration;

mod class_common;
mod gui_common;

use gui_common::shows;

use class_common::{Client, PRESET, submission};

fn step_until(
    h: &mut Harness<'static, OcclabApp>,
    what: &str,
    done: impl FnMut(&Harness<'static, OcclabApp>) -> bool,
) {
    gui_common::step_until(h, Duration::from_secs(120), what, done);
    h.step();
}

#[test]
fn a_class_session_runs_from_the_quiz_panel_with_live_results() {
    let dir = tempfile::tempdir().unwrap();
    let class_dir = dir.path().join("class");
    let mut h = gui_common::harness();
    h.get_by_role_and_label(Role::Button, PanelId::Quiz.title())
        .click();
    h.run();
    {
        let panel = &mut h.state_mut().quiz_panel;
        panel.form.preset_path = PRESET.into();
        panel.form.patterned = 1;
        panel.form.random = 1;
        panel.form.practice = 1;
        panel.class.folder = class_dir.display().to_string();
        // A free port: tests run in parallel.
        panel.class.port = class_common::free_port();
    }
    h.run();
    h.get_by_label("Class session").click();
    h.run();
    assert_eq!(h.state().quiz_panel.tab, QuizTab::Class);
    h.get_by_label("Start class session").click();
    step_until(&mut h, "the server to start", |h| {
        h.state().quiz_panel.class.join_url().is_some()
    });

    let url = h.state().quiz_panel.class.join_url().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let code = url.split("#code=").nth(1).unwrap().to_string();
    assert!(shows(&h, &code), "the join code is on the projector");
    let teacher = h
        .state()
        .quiz_panel
        .class
        .teacher_url()
        .unwrap()
        .to_string();
    let teacher_token = teacher.split('#').nth(1).unwrap().to_string();
    assert!(
        !shows(&h, &teacher_token),
        "the teacher token is never drawn on the projector"
    );
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let c = Client::new(addr);
    let token = c.join(&code, "Ada");
    step_until(&mut h, "the participant to appear", |h| {
        h.state()
            .quiz_panel
            .class
            .view()
            .is_some_and(|v| v.participants.len() == 1)
    });
    assert!(shows(&h, "1 joined · 0 finished"));
    assert!(shows(&h, "Ada"));

    // Practice, then the two trials: the class row appears with its scores.
    for item in 0..3 {
        let r = c.post_json("/api/submit", Some(&token), &submission(item, 5, 1));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    step_until(&mut h, "the participant to finish", |h| {
        h.state()
            .quiz_panel
            .class
            .view()
            .is_some_and(|v| v.finished() == 1)
    });
    assert!(shows(&h, "1 joined · 1 finished"));
    let view = h.state().quiz_panel.class.view().unwrap().clone();
    let row = &view.report.rows[0];
    assert_eq!(row.overall.unwrap().total, 10, "two trials of five images");
    assert!(shows(&h, &row.overall.unwrap().describe()));

    h.get_by_label("Export CSV").click();
    step_until(&mut h, "the CSV", |h| {
        h.state().quiz_panel.class.exported().is_some()
    });
    let csv_path = h
        .state()
        .quiz_panel
        .class
        .exported()
        .unwrap()
        .clone()
        .unwrap();
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 15,
        "a header and one row per image answer (practice included, marked)"
    );

    h.get_by_label("Stop class session").click();
    h.run();
    assert!(h.state().quiz_panel.class.join_url().is_none());
    let _ = h.get_by_label("Start class session");
    let rec = SessionRecord::read(&class_dir.join("P001-digits-embedded.jsonl")).unwrap();
    assert_eq!(rec.responses.len(), 3);
}
