//! "Reproduce the papers" in the Results panel: choose a table and a budget, start, watch the
//! runs arrive, and find the report and the runs in the tables afterwards (headless, egui_kittest).

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use occlab::gui::PanelId;
use std::time::Duration;

mod common;
mod gui_common;

#[test]
fn reproduce_from_the_results_panel() {
    let tmp = tempfile::tempdir().unwrap();
    common::embedded_a1_presets(&tmp.path().join("presets"), None);
    let out = tmp.path().join("report");
    let mut harness = gui_common::harness();
    {
        let section = &mut harness.state_mut().results_panel.reproduce;
        section.presets = tmp.path().join("presets");
        section.out = out.display().to_string();
    }
    harness
        .get_by_role_and_label(Role::Button, PanelId::Results.title())
        .click();
    // The runs folder is listed in the background; once it has arrived the layout holds still
    // (a click aims at where the widget was drawn last).
    gui_common::settle(&mut harness);
    harness.get_by_label("Reproduce the papers").click();
    gui_common::settle(&mut harness);
    // Only Table A1 (A2 and A3 are chosen by default), on the smoke budget.
    for label in ["A2", "A3", "smoke"] {
        harness.get_by_label(label).click();
        gui_common::settle(&mut harness);
    }
    {
        let section = &harness.state().results_panel.reproduce;
        assert_eq!(section.chosen[..3], [true, false, false], "A1 only");
        assert_eq!(section.budget, occlab::experiment::reproduce::Budget::Smoke);
    }
    harness.get_by_label("Start reproduction").click();
    harness.run();
    let section = &harness.state().results_panel.reproduce;
    assert!(
        section.is_running(),
        "the reproduction ended at once: {:?}",
        section.error()
    );

    gui_common::step_until(
        &mut harness,
        Duration::from_secs(300),
        "the reproduction to end",
        |h| !h.state().results_panel.reproduce.is_running(),
    );
    harness.run();
    // The runs folder is read again off the UI thread.
    gui_common::settle(&mut harness);
    harness.get_by_label("2 of 2 runs (0 reused)");
    harness.get_by_role_and_label(Role::Button, "Open report");
    let md = std::fs::read_to_string(out.join("index.md")).unwrap();
    assert!(md.contains("## Table A1"), "{md}");
    // The tables above now read the reproduction's runs.
    assert_eq!(
        harness.state().workbench.runs_root,
        out.join("runs").display().to_string()
    );
    assert!(
        harness
            .query_all_by(|n| n.value().is_some_and(|v| v.starts_with("2 runs in")))
            .next()
            .is_some()
    );
}
