//! `occlab reproduce`: every table on a tiny budget produces a report whose tables parse back;
//! a second call reuses every run; a stopped reproduction resumes where it stopped.

mod common;

use occlab::experiment::published::{PAPER_TABLE1, PAPER_TABLE2};
use occlab::experiment::reproduce::{
    Budget, ReproduceEvent, ReproduceOptions, RunOutcome, RunState, TableId, reproduce,
};
use occlab::report::{ParsedTable, cell_value, parse_tables, write_report};
use occlab::train::{BackendChoice, Control};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

fn table<'a>(tables: &'a [ParsedTable], id: &str) -> &'a ParsedTable {
    tables
        .iter()
        .find(|t| t.heading.starts_with(&format!("Table {id} ")))
        .unwrap_or_else(|| panic!("no table {id} in the report"))
}

fn percent(cell: &str) -> f64 {
    let v = cell_value(cell).unwrap_or_else(|| panic!("no number in {cell:?}"));
    assert!((0.0..=100.0).contains(&v), "{cell}");
    v
}

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn every_table_on_a_smoke_budget_gives_a_report_that_parses() {
    let Some(data) = common::data_dir("every_table_on_a_smoke_budget_gives_a_report_that_parses")
    else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let run = || {
        let o = Command::new(env!("CARGO_BIN_EXE_occlab"))
            .args([
                "reproduce",
                "--table",
                "all",
                "--budget",
                "smoke",
                "--backend",
                "flex",
            ])
            .arg("--data-dir")
            .arg(&data)
            .arg("--out")
            .arg(out.path())
            .arg("--quiz-dir")
            .arg(out.path().join("no-quiz"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{stdout}\n{stderr}");
        stdout
    };
    let first = run();
    let md = std::fs::read_to_string(out.path().join("index.md")).unwrap();
    let html = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(html.contains("<table>"));
    let tables = parse_tables(&md);

    // Tables 1 and 2: six models × four data sets (the two EMNIST stand-ins beside EMNIST's
    // published numbers), ours beside the paper's.
    let paper_column = [0, 1, 1, 2];
    for (id, paper) in [("A1", PAPER_TABLE1), ("A2", PAPER_TABLE2)] {
        let t = table(&tables, id);
        assert_eq!(
            t.header,
            [
                "model",
                "MNIST (ours)",
                "MNIST (paper)",
                "generated letters (EMNIST stand-in) (ours)",
                "generated letters (EMNIST stand-in) (paper)",
                "OCR letters (EMNIST stand-in) (ours)",
                "OCR letters (EMNIST stand-in) (paper)",
                "CIFAR-10 (ours)",
                "CIFAR-10 (paper)"
            ]
        );
        assert_eq!(t.rows.len(), 6, "{id}");
        for (r, row) in t.rows.iter().enumerate() {
            for d in 0..4 {
                percent(&row[1 + 2 * d]);
                assert_eq!(
                    cell_value(&row[2 + 2 * d]),
                    Some(paper[r][paper_column[d]]),
                    "{id} {row:?}"
                );
            }
        }
    }
    // Table 3: four data sets × five lengths, every cell filled.
    let t3 = table(&tables, "A3");
    assert_eq!(t3.rows.len(), 4);
    assert_eq!(t3.header.len(), 11);
    for row in &t3.rows {
        for c in 0..5 {
            percent(&row[1 + 2 * c]);
        }
    }
    // Tables 4–5: people (no sessions here) and the CRNN (ours filled).
    for id in ["A4", "A5"] {
        let t = table(&tables, id);
        let labels: Vec<&str> = t.rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(labels, ["Non-expert", "Expert", "CRNN"]);
        for d in 0..4 {
            percent(&t.rows[2][1 + 2 * d]);
            assert_eq!(cell_value(&t.rows[0][1 + 2 * d]), None, "no quiz sessions");
        }
    }
    // Paper B: error rates in 0–1, the stand-in said.
    for id in ["B1", "B2", "B3", "B4"] {
        let t = table(&tables, id);
        assert!(!t.rows.is_empty(), "{id}");
        for row in &t.rows {
            let e = cell_value(&row[2]).unwrap_or_else(|| panic!("{id}: {row:?}"));
            assert!((0.0..=1.0).contains(&e), "{id}: {row:?}");
        }
    }
    assert!(
        md.contains("generated letters") && md.contains("OCR letters"),
        "the EMNIST stand-ins are named"
    );
    // Table W1: CNN and CRNN on real words and on their random control.
    let w1 = table(&tables, "W1");
    assert_eq!(w1.rows.len(), 2);
    for row in &w1.rows {
        percent(&row[1]);
        percent(&row[3]);
    }
    assert!(md.contains("motion clips"), "the UCF-101 stand-in is named");
    assert!(
        md.matches("smoke budget").count() >= 10,
        "every table says its budget"
    );
    // Plots are real PNGs.
    let pngs: Vec<PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    assert!(pngs.len() >= 6, "{pngs:?}");
    for p in &pngs {
        assert!(md.contains(p.file_name().unwrap().to_str().unwrap()));
        image::open(p).unwrap();
    }
    assert!(first.contains(" new;"), "{first}");

    // Again: everything is reused, nothing is trained.
    let second = run();
    let planned = second.lines().next().unwrap();
    assert!(
        planned.contains("(reused), 0 to resume, 0 new"),
        "{planned}"
    );
}

/// Only one reproduction at a time in this file (they share the CPU).
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn a_stopped_reproduction_resumes_and_reuses_what_finished() {
    let _serial = SERIAL.lock().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    common::embedded_a1_presets(&tmp.path().join("presets"), Some(2));
    let mut opts =
        ReproduceOptions::new(vec![TableId::A1], Budget::Smoke, tmp.path().join("report"));
    opts.presets = tmp.path().join("presets");
    opts.backend = BackendChoice::Flex;
    opts.quiz_dir = Some(tmp.path().join("quiz"));

    // Stop as the second run starts (before its first step). `RunStarted` comes on the calling
    // thread before the run's job starts, so the Stop is queued before any step of that run
    // (a `Train` event arrives through the relay, and a tiny run could finish first).
    let (control_tx, control_rx) = crossbeam_channel::unbounded();
    let events = Mutex::new(Vec::new());
    let sink = |e: ReproduceEvent| {
        if let ReproduceEvent::RunStarted { index: 1, .. } = &e {
            let _ = control_tx.send(Control::Stop);
        }
        events.lock().unwrap().push(e);
    };
    let first = reproduce(&opts, write_report, &sink, &control_rx).unwrap();
    assert!(first.stopped);
    assert!(
        matches!(first.runs[0].1, RunOutcome::Finished { .. }),
        "{:?}",
        first.runs[0].1
    );
    assert_eq!(first.runs[1].1, RunOutcome::Stopped);
    let md = std::fs::read_to_string(&first.report).unwrap();
    assert!(md.contains("Stopped before all runs finished"), "{md}");
    assert!(
        !md.contains("training and validation accuracy"),
        "no validation chart for runs that do not validate"
    );
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, ReproduceEvent::Stopped))
    );

    // Again: the finished run is reused, the stopped one resumed and finished.
    let (_tx, rx) = crossbeam_channel::unbounded();
    let planned = Mutex::new(Vec::new());
    let sink = |e: ReproduceEvent| {
        if let ReproduceEvent::Planned { runs } = e {
            planned.lock().unwrap().extend(runs);
        }
    };
    let second = reproduce(&opts, write_report, &sink, &rx).unwrap();
    assert!(!second.stopped);
    let states: Vec<RunState> = planned.lock().unwrap().iter().map(|r| r.1).collect();
    assert_eq!(states, [RunState::Reuse, RunState::Resume]);
    assert_eq!(second.runs[0].1, RunOutcome::Reused);
    assert!(matches!(second.runs[1].1, RunOutcome::Finished { .. }));
    let md = std::fs::read_to_string(&second.report).unwrap();
    assert!(!md.contains("Stopped before"));
    let runs_dir = tmp.path().join("report/runs");
    assert_eq!(
        std::fs::read_dir(&runs_dir).unwrap().count(),
        2,
        "no run twice"
    );

    // A run still training elsewhere (its log has epochs but no end): `--report-only` keeps its
    // best-so-far out of the results table and lists it as unfinished, with its epochs.
    let crnn = &second.runs[1].0.dir;
    let log = crnn.join("metrics.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let unfinished: String = text
        .lines()
        .filter(|l| !l.contains("\"kind\":\"finished\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(unfinished, text, "the finished line was removed");
    std::fs::write(&log, unfinished).unwrap();
    let mut report_only = opts.clone();
    report_only.report_only = true;
    let third = reproduce(&report_only, write_report, &|_| {}, &rx).unwrap();
    assert_eq!(third.runs[0].1, RunOutcome::Reused);
    assert_eq!(third.runs[1].1, RunOutcome::NotRun);
    let md = std::fs::read_to_string(&third.report).unwrap();
    let tables = parse_tables(&md);
    let a1 = table(&tables, "A1");
    let ours = a1.header.iter().position(|h| h == "MNIST (ours)").unwrap();
    let cell = |model: &str| {
        a1.rows
            .iter()
            .find(|r| r[0] == model)
            .map(|r| r[ours].clone())
            .unwrap()
    };
    percent(&cell("CNN"));
    assert_eq!(cell("CRNN"), "—", "an unfinished run fills no cell");
    assert!(
        md.contains("**1 of 2 runs are not finished** (1 partly trained, 0 not started"),
        "{md}"
    );
    let row = md
        .lines()
        .find(|l| l.starts_with(&format!("| [{}]", second.runs[1].0.name())))
        .unwrap();
    assert!(row.contains("% so far"), "{row}");
    let epochs = text.matches("\"kind\":\"epoch\"").count();
    assert!(epochs >= 1);
    let so_far = format!(
        "**unfinished** ({epochs} epoch{} so far",
        if epochs == 1 { "" } else { "s" }
    );
    assert!(row.contains(&so_far), "{row}");
    assert!(
        !md.contains("? train"),
        "sequence counts come from a trained run"
    );
}

/// Runs that hold out validation sequences get a chart of training against validation accuracy
/// per epoch (how far each overfits before early stopping ends it), and the per-level chart is
/// of the epoch the tables report.
#[test]
fn runs_that_validate_get_a_training_against_validation_chart() {
    use occlab::experiment::preset::Preset;
    let _serial = SERIAL.lock().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let presets = tmp.path().join("presets");
    common::embedded_a1_presets(&presets, Some(2));
    for entry in std::fs::read_dir(presets.join("paper-a")).unwrap() {
        let path = entry.unwrap().path();
        let mut p = Preset::load(&path).unwrap();
        p.train.as_mut().unwrap().validation_fraction = 0.25;
        p.save(&path).unwrap();
    }
    let mut opts =
        ReproduceOptions::new(vec![TableId::A1], Budget::Smoke, tmp.path().join("report"));
    opts.presets = presets;
    opts.backend = BackendChoice::Flex;
    opts.quiz_dir = Some(tmp.path().join("quiz"));
    opts.epochs = Some(2);
    let (_tx, rx) = crossbeam_channel::unbounded();
    let done = reproduce(&opts, write_report, &|_| {}, &rx).unwrap();
    assert!(!done.stopped);
    let md = std::fs::read_to_string(&done.report).unwrap();
    let image = |title: &str| {
        let line = md
            .lines()
            .find(|l| l.starts_with("![") && l.contains(title))
            .unwrap_or_else(|| panic!("no chart {title:?} in {md}"));
        let file = line.rsplit_once('(').unwrap().1.trim_end_matches(')');
        let png = done.report.parent().unwrap().join(file);
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", png.display());
    };
    image("training and validation accuracy per epoch");
    image("test accuracy per occlusion level (each run's result epoch)");
}
