//! Shared by the GUI tests: the real app in a headless egui_kittest harness with its data loaded.
#![allow(dead_code)]

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use occlab::gui::OcclabApp;
use std::time::{Duration, Instant};

/// A harness around a fresh app (embedded digits, paper-default occlusion), with the data loaded.
pub fn harness() -> Harness<'static, OcclabApp> {
    // The start-panel variable would override what the tests select.
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::remove_var("OCCLAB_START_PANEL") };
    let mut harness = Harness::builder()
        .with_size([1500.0, 1100.0])
        .build_eframe(|cc| OcclabApp::for_test(&cc.egui_ctx));
    wait_until_loaded(&mut harness);
    harness
}

/// Steps the UI until the background load has arrived (the UI thread never blocks on it).
pub fn wait_until_loaded(harness: &mut Harness<'static, OcclabApp>) {
    step_until(
        harness,
        Duration::from_secs(60),
        "the data set to load",
        |h| !h.state().is_loading(),
    );
    harness.run();
    assert!(
        harness.state().workbench.load_error.is_none(),
        "load failed: {:?}",
        harness.state().workbench.load_error
    );
}

/// Steps the UI until the one-shot background work the panels wait for (listings, scans,
/// measurements: never on the UI thread) has arrived and been drawn.
pub fn settle(harness: &mut Harness<'static, OcclabApp>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    harness.step();
    while harness.state().background_pending() {
        assert!(
            Instant::now() < deadline,
            "background work did not finish within 60 s"
        );
        std::thread::sleep(Duration::from_millis(5));
        harness.step();
    }
    // Let the UI settle as `Harness::run` does, without failing where a spinner keeps it busy.
    let _ = harness.run_ok();
}

/// Steps frames (with small sleeps: background work runs on its own threads) until `done`; past
/// `timeout`, fails naming `what` and the labels shown.
pub fn step_until(
    harness: &mut Harness<'static, OcclabApp>,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&Harness<'static, OcclabApp>) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !done(harness) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; labels: {:?}",
            harness
                .query_all_by(|n| n.role() == Role::Label)
                .filter_map(|n| n.value())
                .collect::<Vec<_>>()
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether some node's label or value contains `needle`.
pub fn shows(h: &Harness<'static, OcclabApp>, needle: &str) -> bool {
    h.query_all_by(|n| {
        n.label().is_some_and(|l| l.contains(needle))
            || n.value().is_some_and(|v| v.contains(needle))
    })
    .next()
    .is_some()
}

/// The folder names of the runs the Present panel has chosen to show.
pub fn chosen_run_names(h: &Harness<'static, OcclabApp>) -> Vec<String> {
    h.state()
        .present_panel
        .chosen()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The answers given to the Quiz panel's sequence on screen; panics while one is still missing.
pub fn answers_given(h: &Harness<'static, OcclabApp>) -> Vec<u16> {
    h.state()
        .quiz_panel
        .current_answers()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect()
}
