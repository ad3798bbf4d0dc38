//! Damaged runs (issue 16): a run directory whose files a crash or a hand damaged is shown as
//! damaged, with the file and the reason, and the other runs go on: `occlab reproduce
//! --report-only`, the Results panel's scan, and the Present panel's showcase.

mod common;

use occlab::data::embedded;
use occlab::experiment::preset::OrderingSpec;
use occlab::experiment::reproduce::{
    Budget, ReproduceOptions, RunOutcome, RunState, TableId, plan, reproduce,
};
use occlab::experiment::showcase::{ShowcaseRequest, build};
use occlab::experiment::tables;
use occlab::report::write_report;
use occlab::train::BackendChoice;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

#[test]
fn a_damaged_run_is_reported_with_its_reason_and_the_others_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let presets = tmp.path().join("presets");
    common::embedded_a1_presets(&presets, Some(1));
    let mut opts =
        ReproduceOptions::new(vec![TableId::A1], Budget::Smoke, tmp.path().join("report"));
    opts.presets = presets.clone();
    opts.backend = BackendChoice::Flex;
    opts.quiz_dir = Some(tmp.path().join("quiz"));
    let (_tx, rx) = crossbeam_channel::unbounded();
    let first = reproduce(&opts, write_report, &|_| {}, &rx).unwrap();
    assert!(
        first
            .runs
            .iter()
            .all(|r| matches!(r.1, RunOutcome::Finished { .. }))
    );
    let (good, bad) = (first.runs[0].0.dir.clone(), first.runs[1].0.dir.clone());

    // A line in the middle of the second run's metrics.jsonl is garbage.
    let metrics = bad.join("metrics.jsonl");
    let text = std::fs::read_to_string(&metrics).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[0] = "{\"kind\":\"step\", garbage";
    std::fs::write(&metrics, lines.join("\n") + "\n").unwrap();

    let planned = plan(&opts).unwrap();
    assert_eq!(planned[0].state, RunState::Reuse);
    assert_eq!(planned[1].state, RunState::Damaged);
    let damage = planned[1].damage.as_deref().unwrap();
    assert!(
        damage.contains("metrics.jsonl") && damage.contains("line 1"),
        "{damage}"
    );

    // The CLI: the report is written; the damaged run is listed with its reason.
    let o = Command::new(env!("CARGO_BIN_EXE_occlab"))
        .args([
            "reproduce",
            "--table",
            "A1",
            "--budget",
            "smoke",
            "--report-only",
        ])
        .arg("--presets")
        .arg(&presets)
        .arg("--out")
        .arg(tmp.path().join("report"))
        .arg("--quiz-dir")
        .arg(tmp.path().join("quiz"))
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(said.contains("1 damaged"), "{said}");
    let md = std::fs::read_to_string(tmp.path().join("report/index.md")).unwrap();
    assert!(
        md.contains("damaged run") && md.contains("metrics.jsonl"),
        "{md}"
    );
    assert!(md.contains("reused"), "the good run is in the report: {md}");

    // The Results panel's scan: one run, one error naming the file.
    let scan = tables::scan(&tmp.path().join("report/runs"));
    assert_eq!(scan.runs.len(), 1);
    assert_eq!(scan.runs[0].path, good);
    assert_eq!(scan.errors.len(), 1);
    assert!(
        scan.errors[0].contains("damaged run") && scan.errors[0].contains("metrics.jsonl"),
        "{:?}",
        scan.errors
    );

    // The Present panel's showcase: the bad run's metrics restored but its checkpoint cut in
    // half; the good run is shown, the other skipped with the file named.
    std::fs::write(&metrics, &text).unwrap();
    let model = bad.join("checkpoint/model.bpk");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let images = Arc::new(embedded::embedded_digits().unwrap());
    let request = |runs: Vec<PathBuf>| ShowcaseRequest {
        runs,
        ordering: OrderingSpec::Patterned,
        shuffle_seed: None,
        count: 4,
        occlusion: None,
        backend: BackendChoice::Flex,
    };
    let shown = build(&request(vec![bad.clone(), good.clone()]), images.clone()).unwrap();
    assert_eq!(shown.models.len(), 1);
    assert_eq!(shown.models[0].path, good);
    assert_eq!(shown.skipped.len(), 1);
    assert!(
        shown.skipped[0].contains("model.bpk"),
        "{:?}",
        shown.skipped
    );
    // With only the damaged run there is nothing to show: the error names the file.
    let e = build(&request(vec![bad.clone()]), images)
        .unwrap_err()
        .to_string();
    assert!(e.contains("model.bpk"), "{e}");
}
