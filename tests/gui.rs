//! The real workbench app in a headless egui_kittest harness (no GPU, no window): widgets are
//! found and driven through their AccessKit names, as a screen reader would.

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use occlab::gui::{LISTED_PANELS, OcclabApp, PanelId, Session};
use occlab::occlusion::OcclusionSpec;
use std::collections::HashMap;
use std::time::Duration;

mod gui_common;

use gui_common::{harness, settle, step_until, wait_until_loaded};

fn open_panel(harness: &mut Harness<'static, OcclabApp>, panel: PanelId) {
    harness
        .get_by_role_and_label(Role::Button, panel.title())
        .click();
    // Some panels start background work when first shown (the Patterns panel builds its default
    // plan, with a spinner): step frames instead of waiting for the UI to settle.
    harness.run_steps(3);
    // Coverage, listings and scans arrive from background threads.
    settle(harness);
    assert_eq!(harness.state().panel(), panel);
}

/// The text of the coverage line of `level` ("Level 3: 21.4 % pixels, 35.0 % ink").
fn coverage_line(harness: &Harness<'static, OcclabApp>, level: usize) -> String {
    let prefix = format!("Level {level}: ");
    let node = harness.get_by(|node| {
        node.role() == Role::Label
            && node
                .value()
                .is_some_and(|v| v.starts_with(&prefix) && v.ends_with("% ink"))
    });
    node.value().expect("a label has a value")
}

#[test]
fn every_listed_panel_opens_with_its_heading() {
    let mut harness = harness();
    let expected = [
        (PanelId::Data, "Images per class"),
        (PanelId::Occlusion, "Measured coverage"),
        (PanelId::Patterns, "Plan"),
        (PanelId::Train, "Batch size"),
        (PanelId::Results, "Table 1 — with regular patterns"),
        (PanelId::Quiz, "Stimuli"),
        (PanelId::Present, "Keys"),
    ];
    for (panel, section) in expected {
        open_panel(&mut harness, panel);
        // The heading is the panel's title; a label the panel alone shows proves it is drawn.
        assert!(
            harness
                .query_all_by_label(panel.title())
                .any(|n| n.accesskit_node().role() == Role::Label),
            "no heading {:?}",
            panel.title()
        );
        let mut found = false;
        for _ in 0..200 {
            if harness.query_by_label(section).is_some() {
                found = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            harness.step();
        }
        assert!(found, "panel {:?} shows no {section:?}", panel.title());
    }
    // Every listed panel is checked above, and the side bar offers exactly the listed ones.
    let checked: Vec<PanelId> = expected.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        checked, LISTED_PANELS,
        "a listed panel without a check here"
    );
    let offered: Vec<PanelId> = PanelId::ALL
        .into_iter()
        .filter(|p| {
            harness
                .query_all_by_role_and_label(Role::Button, p.title())
                .next()
                .is_some()
        })
        .collect();
    assert_eq!(offered, LISTED_PANELS);
}

#[test]
fn data_panel_shows_the_embedded_digits() {
    let mut harness = harness();
    open_panel(&mut harness, PanelId::Data);
    let set = &harness.state().workbench.data.as_ref().expect("loaded").set;
    assert_eq!(set.len(), 10_000);
    let (train, test) = (
        set.class_counts(Some(occlab::data::Split::Train))
            .iter()
            .sum::<usize>(),
        set.class_counts(Some(occlab::data::Split::Test))
            .iter()
            .sum::<usize>(),
    );
    harness.get_by_label("10000");
    harness.get_by_label(&train.to_string());
    harness.get_by_label(&test.to_string());
    harness.get_by_label_contains("10000 images");
}

/// On the Data panel, starts loading generated letters, `per_class` of each.
fn start_letters_load(harness: &mut Harness<'static, OcclabApp>, per_class: f64) {
    open_panel(harness, PanelId::Data);
    harness.get_by_label("Generated letters").click();
    settle(harness);
    harness
        .get_by_label("Letters per class")
        .set_value_accesskit(per_class);
    settle(harness);
    harness.get_by_role_and_label(Role::Button, "Load").click();
    harness.step();
}

#[test]
fn generated_letters_load_in_the_background() {
    let mut harness = harness();
    start_letters_load(&mut harness, 5.0);
    wait_until_loaded(&mut harness);
    let set = &harness.state().workbench.data.as_ref().expect("loaded").set;
    assert_eq!(set.num_classes(), 26);
    assert_eq!(set.len(), 26 * 5);
    harness.get_by_label("130");
    // 26 classes; with one test image per class the test split shows 26 too.
    assert!(harness.query_all_by_label("26").count() >= 1);
}

#[test]
fn moving_a_level_width_changes_the_measured_coverage() {
    let mut harness = harness();
    open_panel(&mut harness, PanelId::Occlusion);
    let before = coverage_line(&harness, 3);
    harness
        .get_by_role_and_label(Role::Slider, "Level 3 width")
        .set_value_accesskit(0.45);
    settle(&mut harness);
    assert!((harness.state().workbench.spec.level_widths[2] - 0.45).abs() < 1e-6);
    let after = coverage_line(&harness, 3);
    assert_ne!(before, after, "coverage text did not change");
    // Wider borders hide more: compare the pixel percentages.
    let pixels = |line: &str| -> f64 {
        line.split(": ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(pixels(&after) > pixels(&before), "{before} → {after}");

    // Reset restores the paper default and its numbers.
    harness.get_by_label("Reset to paper default").click();
    settle(&mut harness);
    assert_eq!(
        harness.state().workbench.spec,
        OcclusionSpec::paper_default()
    );
    assert_eq!(coverage_line(&harness, 3), before);
}

#[test]
fn adding_and_removing_levels_keeps_widths_and_weights_together() {
    let mut harness = harness();
    open_panel(&mut harness, PanelId::Occlusion);
    harness.get_by_label("Add level").click();
    settle(&mut harness);
    let spec = harness.state().workbench.spec.clone();
    assert_eq!(spec.level_widths.len(), 6);
    assert_eq!(spec.level_mix.len(), 6);
    harness.get_by_role_and_label(Role::Slider, "Level 6 width");
    coverage_line(&harness, 6);
    harness.get_by_label("Remove level").click();
    settle(&mut harness);
    harness.get_by_label("Remove level").click();
    settle(&mut harness);
    assert_eq!(harness.state().workbench.spec.num_levels(), 4);
    assert!(harness.query_by_label("Level 5 width").is_none());
    assert!(harness.state().workbench.spec.validate().is_ok());
}

#[test]
fn a_weight_can_be_typed_through_accesskit() {
    let mut harness = harness();
    open_panel(&mut harness, PanelId::Occlusion);
    harness
        .get_by_label("Level 2 weight")
        .set_value_accesskit(3.0);
    settle(&mut harness);
    assert_eq!(harness.state().workbench.spec.level_mix[1], 3.0);
}

#[test]
fn an_invalid_spec_shows_the_validation_message() {
    let mut harness = harness();
    open_panel(&mut harness, PanelId::Occlusion);
    assert!(
        harness
            .query_by_label_contains("Invalid occlusion spec")
            .is_none()
    );
    harness
        .get_by_role_and_label(Role::Slider, "Box min")
        .set_value_accesskit(0.99);
    settle(&mut harness);
    let message = harness
        .get_by_label_contains("Invalid occlusion spec")
        .value()
        .unwrap();
    assert!(
        message.contains("must satisfy 0 < min ≤ max ≤ 1"),
        "{message}"
    );
    // No coverage numbers for an invalid spec.
    assert!(
        harness
            .query_by(|n| n.role() == Role::Label && n.value().is_some_and(|v| v.ends_with("% ink")))
            .is_none()
    );
    harness
        .get_by_role_and_label(Role::Slider, "Box max")
        .set_value_accesskit(1.0);
    settle(&mut harness);
    assert!(
        harness
            .query_by_label_contains("Invalid occlusion spec")
            .is_none()
    );
    // Measured off the UI thread.
    settle(&mut harness);
    coverage_line(&harness, 1);
}

#[test]
fn reseed_changes_the_preview_seed() {
    let mut harness = harness();
    open_panel(&mut harness, PanelId::Occlusion);
    let seed = harness.state().workbench.preview_seed;
    harness.get_by_label("Reseed").click();
    settle(&mut harness);
    assert_ne!(harness.state().workbench.preview_seed, seed);
    harness.get_by_label(&format!("Seed {}", harness.state().workbench.preview_seed));
}

#[test]
fn a_missing_folder_shows_the_error_in_place() {
    let mut harness = harness();
    open_panel(&mut harness, PanelId::Data);
    harness.get_by_label("IDX folder (MNIST-style)").click();
    settle(&mut harness);
    harness.get_by_label("Folder path").focus();
    settle(&mut harness);
    harness
        .get_by_label("Folder path")
        .type_text("/nonexistent/occlab-test-folder");
    settle(&mut harness);
    harness.get_by_role_and_label(Role::Button, "Load").click();
    harness.step();
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the load to fail",
        |h| !h.state().is_loading(),
    );
    settle(&mut harness);
    let error = harness
        .get_by_label_contains("Could not load")
        .value()
        .unwrap();
    assert!(error.contains("/nonexistent/occlab-test-folder"), "{error}");
    // The previous data set stays in use.
    assert_eq!(
        harness.state().workbench.data.as_ref().unwrap().set.len(),
        10_000
    );
}

#[test]
fn a_running_load_can_be_cancelled() {
    let mut harness = harness();
    start_letters_load(&mut harness, 300.0);
    harness.step();
    assert!(harness.state().is_loading());
    // The panel and the status bar both say so.
    assert_eq!(
        harness
            .query_all_by_label_contains("Loading generated letters")
            .count(),
        2
    );
    harness
        .get_by_role_and_label(Role::Button, "Cancel")
        .click();
    harness.step();
    harness.step();
    assert!(!harness.state().is_loading());
    settle(&mut harness);
    let data = harness.state().workbench.data.as_ref().unwrap();
    assert_eq!(data.set.len(), 10_000, "the digits stay in use");
    assert_eq!(
        harness.state().session().source,
        occlab::data::source::DataSource::EmbeddedDigits
    );
}

#[derive(Default)]
struct MemoryStorage(HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn the_session_survives_a_restart() {
    let mut harness = harness();
    open_panel(&mut harness, PanelId::Occlusion);
    harness.get_by_label("Projector scale").click();
    settle(&mut harness);
    harness
        .get_by_role_and_label(Role::Slider, "Level 1 width")
        .set_value_accesskit(0.1);
    settle(&mut harness);
    let mut storage = MemoryStorage::default();
    eframe::App::save(harness.state_mut(), &mut storage);

    let ctx = egui::Context::default();
    let restored = OcclabApp::new(&ctx, Some(&storage), None);
    let session: Session = restored.session();
    assert_eq!(session.panel, PanelId::Occlusion);
    assert_eq!(session.zoom, occlab::gui::app::PROJECTOR_ZOOM);
    assert!((session.spec.level_widths[0] - 0.1).abs() < 1e-6);
    assert_eq!(
        session.source,
        occlab::data::source::DataSource::EmbeddedDigits
    );
}
