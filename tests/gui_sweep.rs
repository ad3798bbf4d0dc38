//! The Results panel's "Sweeps" section (issue 17), headless (egui_kittest): a real sweep of two
//! tiny runs, trained by local workers, is listed; opening it shows its table and chart (read
//! off the UI thread); the export writes the CSV and the PNG.

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use occlab::experiment::preset::Preset;
use occlab::experiment::sweep::local::{LocalOptions, run_local};
use occlab::experiment::sweep::{SweepSpec, plan};
use occlab::gui::PanelId;
use occlab::train::BackendChoice;
use std::path::Path;
use std::sync::atomic::AtomicBool;

mod gui_common;

#[test]
fn the_results_panel_shows_a_sweeps_table_and_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let sweeps = tmp.path().join("sweeps");
    let mut spec = SweepSpec::from_preset(
        Preset::load(Path::new("presets/train/demo-crnn-embedded.toml")).unwrap(),
    );
    spec.rename("gui-sweep").unwrap();
    for s in [
        "model.kind=CNN,CRNN",
        "train.epochs=1",
        "sequences.limit=30",
        "occlusion.level_widths[4]=0.2,0.3",
    ] {
        spec.set(s).unwrap();
    }
    let planned = plan::plan(&spec, &sweeps.join("gui-sweep")).unwrap();
    planned.write().unwrap();
    let opts = LocalOptions::settle(
        env!("CARGO_BIN_EXE_occlab").into(),
        Some(1),
        Some(1),
        Some(0),
        BackendChoice::Flex,
        None,
    )
    .unwrap();
    let summary = run_local(&planned, &opts, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(summary.trained, 4, "{:?}", summary.failed);
    let table = occlab::experiment::sweep::report::read(&planned.out).unwrap();

    let mut harness = gui_common::harness();
    harness.state_mut().results_panel.sweeps.folder = sweeps.display().to_string();
    harness
        .get_by_role_and_label(Role::Button, PanelId::Results.title())
        .click();
    // The runs folder's scan moves what is below it when it arrives: click only once it has.
    gui_common::settle(&mut harness);
    harness.get_by_label("Sweeps").click();
    gui_common::settle(&mut harness);
    // The folder's sweeps are listed; opening one reads it on a background task.
    harness.get_by_label("gui-sweep").click();
    gui_common::settle(&mut harness);
    harness.get_by_label(&format!(
        "Sweep gui-sweep: 4 runs (4 finished) in {}",
        planned.out.display()
    ));
    let shown = harness
        .state()
        .results_panel
        .sweeps
        .table()
        .unwrap()
        .clone();
    assert_eq!(shown, table, "the panel shows what the report reads");
    // One row per run: its swept value and its accuracy as the report has it.
    for row in &table.rows {
        let acc = format!("{:.2}", row.test_accuracy.unwrap());
        assert!(
            harness.query_all_by_label(&acc).next().is_some(),
            "accuracy {acc} of {} not shown",
            row.run
        );
    }
    // The chart: test accuracy against the level-5 border width, a line per model.
    harness.get_by_label("gui-sweep: test accuracy (%)");
    let chart = table.chart(&table.plot).unwrap();
    assert_eq!(chart.x_label, "occlusion.level_widths[4]");
    let names: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["kind = CNN", "kind = CRNN"]);
    assert!(chart.series.iter().all(|s| s.points.len() == 2));
    // Another metric from the chart's controls: accuracy at occlusion level 5.
    harness
        .get_by_role_and_label(Role::ComboBox, "Metric")
        .click();
    harness.run();
    harness.get_by_label("level5").click();
    harness.run();
    harness.get_by_label("gui-sweep: test accuracy at occlusion level 5 (%)");
    // Export: the CSV and the PNG, written on a background task.
    harness.get_by_label("Export CSV and PNG").click();
    gui_common::settle(&mut harness);
    let csv = planned.out.join("report/gui-sweep.csv");
    let png = planned.out.join("report/gui-sweep-level5.png");
    assert!(csv.is_file() && png.is_file());
    harness.get_by_label(&format!("Wrote {} and {}", csv.display(), png.display()));
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap().lines().count(),
        5,
        "a header and four runs"
    );
}
