//! The reproduction report: `index.md` and `index.html` with every table ours vs published, the
//! settings behind it, plots, hardware, people's accuracy from the quiz sessions, and links to the
//! run directories. It combines runs (`crate::experiment`) and sessions (`crate::quiz`), so it
//! stands above both; `occlab reproduce` is handed [`write_report`] to call when its runs are done.
//!
//! The Markdown is the source; the HTML is the same document rendered with `pulldown-cmark`.
//! Every table of ours is a plain pipe table whose first column is the row label and whose other
//! columns come in pairs `<column> (ours)` / `<column> (paper)`, so scripts (and the tests) can
//! parse it back.
//!
//! Over 600 lines: one document (the reproduction report) and its parser for the tests.

use crate::experiment::plots::{self, LineChart, Series};
use crate::experiment::preset::{OrderingSpec, SequenceSpec};
use crate::experiment::published::{self, PAPER_PEOPLE};
use crate::experiment::reproduce::{Budget, PlannedRun, ReproduceOptions, RunOutcome, TableId};
use crate::experiment::run::{RunDir, RunInfo};
use crate::experiment::tables::{self, Dataset, ResultsTable, RunSummary, TableKind};
use crate::model::ModelKind;
use crate::sequence::builder::TestPatterns;
use crate::train::EpochRecord;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One planned run with what is on disk for it.
struct Row<'a> {
    run: &'a PlannedRun,
    outcome: &'a RunOutcome,
    summary: Option<RunSummary>,
    epochs: Vec<EpochRecord>,
    info: Option<RunInfo>,
    /// Clip data: the last epoch's per-video figures.
    clips: Option<crate::train::clip_eval::ClipEpochRecord>,
}

impl Row<'_> {
    fn link(&self) -> String {
        format!("runs/{}/", self.run.name())
    }
    /// The run's summary where its result is final (its log ends with `finished`: reused, or
    /// trained to its end now); an unfinished run's best-so-far is shown in the runs table
    /// only, marked as such, never in a results table.
    fn result(&self) -> Option<&RunSummary> {
        self.summary.as_ref().filter(|s| s.finished)
    }
    fn finished(&self) -> bool {
        self.result().is_some()
    }
    fn wall_seconds(&self) -> f64 {
        self.epochs
            .iter()
            .map(|e| e.train_seconds + e.eval_seconds)
            .sum()
    }
    fn model(&self) -> String {
        self.run
            .preset
            .model
            .as_ref()
            .map_or_else(|| "—".into(), |m| m.kind.to_string())
    }
}

/// Writes `<out>/index.md`, `<out>/index.html` and the plots; returns the two documents' paths.
pub fn write_report(
    opts: &ReproduceOptions,
    results: &[(PlannedRun, RunOutcome)],
    stopped: bool,
) -> Result<(PathBuf, PathBuf), String> {
    let rows: Vec<Row> = results
        .iter()
        .map(|(run, outcome)| {
            let dir = RunDir {
                path: run.dir.clone(),
            };
            // One read of the log per run (summary, epochs and clip records alike).
            let exists = dir.config_path().exists();
            let records = exists.then(|| tables::read_run(&dir).ok()).flatten();
            let info = exists.then(|| dir.info().ok()).flatten();
            let (summary, epochs, clips) = match records {
                Some(r) => (Some(r.summary), r.epochs, r.clips.into_iter().last()),
                None => (None, Vec::new(), None),
            };
            Row {
                run,
                outcome,
                summary,
                epochs,
                info,
                clips,
            }
        })
        .collect();

    let mut md = String::new();
    let _ = writeln!(md, "# occlab reproduction report\n");
    let _ = writeln!(
        md,
        "Tables: {}. Budget: `{}`{}. Written by occlab {} on {}.\n",
        opts.tables
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", "),
        opts.budget.name(),
        opts.epochs
            .map(|e| format!(", epochs overridden to {e}"))
            .unwrap_or_default(),
        env!("CARGO_PKG_VERSION"),
        today(),
    );
    if stopped {
        let _ = writeln!(
            md,
            "> **Stopped before all runs finished.** Run the same command again to resume: \
             finished runs are reused, the interrupted one continues from its last checkpoint.\n"
        );
    }
    let not_run: Vec<&Row> = rows
        .iter()
        .filter(|r| *r.outcome == RunOutcome::NotRun)
        .collect();
    if !not_run.is_empty() {
        let started = not_run.iter().filter(|r| !r.epochs.is_empty()).count();
        let _ = writeln!(
            md,
            "> **{} of {} runs are not finished** ({started} partly trained, {} not started; \
             report only): the tables use finished runs only, so their cells show —. Each run is \
             listed with its status under its table.\n",
            not_run.len(),
            results.len(),
            not_run.len() - started
        );
    }
    let _ = writeln!(md, "{}\n", opts.budget.describe());
    if let Some(e) = opts.epochs {
        let _ = writeln!(
            md,
            "**Epochs overridden: {e} epoch{} for every run** (`--epochs {e}`), not the presets' \
             own; the paper trained to convergence, so our numbers are lower bounds where the \
             curves still rise.\n",
            if e == 1 { "" } else { "s" }
        );
    }
    hardware(&mut md, &rows);

    for &table in &opts.tables {
        let in_table: Vec<&Row> = rows
            .iter()
            .filter(|r| r.run.tables.contains(&table))
            .collect();
        let _ = writeln!(md, "## Table {} — {}\n", table.name(), table.title());
        if let Some(e) = opts.epochs {
            let _ = writeln!(
                md,
                "*{} budget, {e} epoch{} per run (`--epochs {e}`).*\n",
                opts.budget.name(),
                if e == 1 { "" } else { "s" }
            );
        } else if opts.budget != Budget::Full {
            let _ = writeln!(
                md,
                "*{} budget: data subsets, few epochs — not comparable with the published \
                 numbers (see the top of this report).*\n",
                opts.budget.name()
            );
        }
        match table {
            TableId::A1 | TableId::A2 | TableId::A3 => {
                let kind = match table {
                    TableId::A1 => TableKind::Patterned,
                    TableId::A2 => TableKind::Random,
                    _ => TableKind::ByLength,
                };
                let summaries: Vec<RunSummary> = in_table
                    .iter()
                    .filter_map(|r| r.result().cloned())
                    .collect();
                let t = tables::table(&summaries, kind);
                write_results_table(&mut md, &t);
                stand_ins_paper_a(&mut md, &in_table);
            }
            TableId::A4 | TableId::A5 => {
                people_table(&mut md, table, &in_table, opts);
            }
            TableId::B1 | TableId::B2 | TableId::B3 | TableId::B4 => {
                paper_b_table(&mut md, &in_table);
            }
            TableId::W1 => words_table(&mut md, &in_table),
        }
        settings(&mut md, &in_table);
        plots_for(&mut md, &opts.out, table, &in_table)?;
        runs_table(&mut md, &in_table);
    }

    let md_path = opts.out.join("index.md");
    std::fs::write(&md_path, &md).map_err(|e| format!("{}: {e}", md_path.display()))?;
    let html_path = opts.out.join("index.html");
    std::fs::write(&html_path, to_html(&md))
        .map_err(|e| format!("{}: {e}", html_path.display()))?;
    Ok((md_path, html_path))
}

fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn hardware(md: &mut String, rows: &[Row]) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown".into(),
            |kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0),
        );
    let backends: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| r.info.as_ref())
        .map(|i| format!("{} ({})", i.backend, i.backend_reason))
        .collect();
    let _ = writeln!(md, "## Hardware and backend\n");
    let _ = writeln!(
        md,
        "- Machine writing this report: {cpu}, {threads} threads, {mem} memory, {} {}.",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    if backends.is_empty() {
        let _ = writeln!(md, "- Backend: no run has started yet.");
    }
    for b in backends {
        let _ = writeln!(md, "- Backend of the runs: {b}.");
    }
    let _ = writeln!(
        md,
        "- Each run's own `run.json` records the backend, threads and data folder it used.\n"
    );
}

fn write_results_table(md: &mut String, t: &ResultsTable) {
    let first = if t.kind == TableKind::ByLength {
        "data set"
    } else {
        "model"
    };
    let mut header = format!("| {first} |");
    let mut rule = String::from("|---|");
    for c in &t.column_labels {
        let _ = write!(header, " {c} (ours) | {c} (paper) |");
        rule.push_str("---:|---:|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for (label, row) in t.row_labels.iter().zip(&t.cells) {
        let mut line = format!("| {label} |");
        for cell in row {
            let ours = cell.ours.as_ref().map_or_else(
                || "—".to_string(),
                |o| format!("[{:.2}](runs/{}/)", o.accuracy, o.run),
            );
            let paper = cell
                .paper
                .map_or_else(|| "—".to_string(), |p| format!("{p:.2}"));
            let _ = write!(line, " {ours} | {paper} |");
        }
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(md, "\nTest accuracy in % per image; — = no finished run.\n");
}

fn stand_ins_paper_a(md: &mut String, rows: &[&Row]) {
    use crate::data::source::DataSource;
    let letters = rows
        .iter()
        .any(|r| matches!(r.run.preset.data, DataSource::Letters { .. }));
    let ocr = rows
        .iter()
        .any(|r| matches!(r.run.preset.data, DataSource::OcrLetters { .. }));
    if letters {
        let _ = writeln!(
            md,
            "**Stand-in:** the *generated letters* column uses occlab's generated handwritten-style \
             letters (26 classes, 28×28, six OFL handwriting fonts with random rotation, shear, \
             stroke and elastic distortion): no EMNIST letters images can be obtained offline. \
             Sequences are six-letter city names, as in the paper; the paper's numbers beside it \
             are EMNIST's.\n"
        );
    }
    if ocr {
        let _ = writeln!(
            md,
            "**Stand-in:** the *OCR letters* column uses 52,152 real handwritten lower-case \
             letters (Kassel / Taskar et al., about 150 writers; 16×8 binary glyphs fitted into \
             24×24 inside 28×28 as EMNIST was prepared), split by the data set's folds (0–7 \
             train, 8–9 test) so no word is split. Its classes are very unbalanced (j 189 … \
             n 5,024), so the integer program plans fewer city names than the paper's 14,611 \
             on EMNIST. The paper's numbers beside it are EMNIST's.\n"
        );
    }
}

/// Table W1: real words against the same letters in random order, per model (no published
/// numbers: the question is paper A's, the data are not).
fn words_table(md: &mut String, rows: &[&Row]) {
    let models: BTreeSet<String> = rows.iter().map(|r| r.model()).collect();
    let _ = writeln!(
        md,
        "| model | real words (ours) | real words (paper) | random order (ours) | random order (paper) |\n|---|---:|---:|---:|---:|"
    );
    for model in &models {
        let cell = |ordering: OrderingSpec| {
            rows.iter()
                .filter(|r| &r.model() == model && r.run.preset.sequences.ordering == ordering)
                .find_map(|r| {
                    let s = r.result()?;
                    let a = s.test_accuracy_percent()?;
                    Some(format!("[{a:.2}]({})", r.link()))
                })
                .unwrap_or_else(|| "—".into())
        };
        let _ = writeln!(
            md,
            "| {model} | {} | — | {} | — |",
            cell(OrderingSpec::Patterned),
            cell(OrderingSpec::Random)
        );
    }
    let _ = writeln!(
        md,
        "\nTest accuracy in % per letter. Each sequence is 6 consecutive letters of one real \
         handwritten word as its writer wrote them (OCR letters, folds 8–9 test); the control is \
         the same letters, with the same occluders, in random order. Not in the papers (— in the \
         paper columns): it asks paper A's question with English spelling as the context.\n"
    );
}

fn people_table(md: &mut String, table: TableId, rows: &[&Row], opts: &ReproduceOptions) {
    let patterned = table == TableId::A4;
    let quiz_dir = opts
        .quiz_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("quiz"));
    // The published rows (Tables 4–5 of paper A), MNIST / EMNIST / CIFAR-10; the CRNN's are
    // Tables 1–2's.
    let crnn = |kind| {
        [Dataset::Mnist, Dataset::Emnist, Dataset::Cifar10]
            .map(|d| tables::published(kind, ModelKind::Crnn, d).unwrap_or(0.0))
    };
    let [non_expert, expert] = PAPER_PEOPLE;
    let paper: [(&str, [f64; 3], [f64; 3]); 3] = [
        ("Non-expert", non_expert[0], non_expert[1]),
        ("Expert", expert[0], expert[1]),
        ("CRNN", crnn(TableKind::Patterned), crnn(TableKind::Random)),
    ];
    let people = people_accuracy(&quiz_dir, patterned);
    let columns = Dataset::columns(rows.iter().any(|r| {
        r.summary
            .as_ref()
            .is_some_and(|s| s.dataset == Some(Dataset::Emnist))
    }));
    let mut header = String::from("| who |");
    let mut rule = String::from("|---|");
    for d in &columns {
        let _ = write!(header, " {0} (ours) | {0} (paper) |", d.title());
        rule.push_str("---:|---:|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for (who, pat, rand) in paper {
        let published = if patterned { pat } else { rand };
        let mut line = format!("| {who} |");
        for d in &columns {
            let ours = if who == "CRNN" {
                rows.iter()
                    .filter_map(|r| r.result())
                    .find(|s| s.dataset == Some(*d))
                    .and_then(|s| {
                        s.test_accuracy_percent()
                            .map(|a| format!("[{a:.2}](runs/{}/)", s.name))
                    })
            } else {
                people
                    .iter()
                    .find(|p| p.group.eq_ignore_ascii_case(who) && p.dataset == Some(*d))
                    .map(|p| format!("{:.2} (n = {})", p.accuracy * 100.0, p.answers))
            };
            let _ = write!(
                line,
                " {} | {:.2} |",
                ours.unwrap_or_else(|| "—".into()),
                published[d.paper_column()]
            );
        }
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(
        md,
        "\nPeople: accuracy per image answer from the quiz sessions in `{}` ({}). CRNN: the \
         {} run of this report. — = no sessions or no finished run.\n",
        quiz_dir.display(),
        if people.is_empty() {
            "none found: run sessions in the Quiz panel or `occlab quiz`".to_string()
        } else {
            format!("{} group × data set cells", people.len())
        },
        if patterned {
            "patterned"
        } else {
            "random-order"
        }
    );
}

fn paper_b_table(md: &mut String, rows: &[&Row]) {
    let _ = writeln!(
        md,
        "| setting | model | error (ours) | error (paper) | subsequence error (ours) | frame error (ours) |\n|---|---|---:|---:|---:|---:|"
    );
    for r in rows {
        // Paper B's measure: the error per video, after averaging the class probabilities of
        // its subsequences; non-clip data has no videos, so its error is per image.
        let video = r.clips.as_ref().filter(|_| r.finished()).and_then(|c| {
            c.test
                .videos
                .accuracy()
                .map(|a| format!("[{:.3}]({})", 1.0 - a, r.link()))
        });
        let subsequences = r
            .clips
            .as_ref()
            .and_then(|c| c.test.subsequences.accuracy())
            .map_or_else(|| "—".to_string(), |a| format!("{:.3}", 1.0 - a));
        let frames = r
            .result()
            .and_then(|s| s.test_accuracy_percent())
            .map(|a| 1.0 - a / 100.0);
        let ours = video.unwrap_or_else(|| {
            frames.map_or_else(|| "—".to_string(), |e| format!("[{e:.3}]({})", r.link()))
        });
        let paper = published::paper_b_error(&r.run.preset)
            .map_or_else(|| "—".to_string(), |e| format!("{e:.3}"));
        let _ = writeln!(
            md,
            "| {} | {} | {ours} | {paper} | {subsequences} | {} |",
            r.run.preset.description.replace('|', "/"),
            r.model(),
            frames.map_or_else(|| "—".to_string(), |e| format!("{e:.3}")),
        );
    }
    let _ = writeln!(
        md,
        "\nError = 1 − accuracy on the test videos, each video's prediction the average of its \
         subsequences' class probabilities (paper B's measure); per subsequence and per frame \
         beside it. **Stand-in:** paper B's numbers are on UCF-101 (101 classes, real videos), \
         which cannot be obtained offline; ours are on occlab's generated motion clips, whose \
         classes are defined by motion alone, so the comparison is of which way each effect \
         points, not of the values.\n"
    );
}

/// People's accuracy in one group on one data set (from quiz sessions).
struct PeopleCell {
    group: String,
    dataset: Option<Dataset>,
    accuracy: f64,
    answers: u64,
}

/// Each group's accuracy on each data set, in one condition, from the quiz sessions in `dir`
/// (unreadable files are skipped; `occlab quiz-report` names them).
fn people_accuracy(dir: &Path, patterned: bool) -> Vec<PeopleCell> {
    use crate::quiz::analysis::{Who, analyze};
    use crate::quiz::{Condition, session::list_sessions};
    let sessions: Vec<_> = list_sessions(dir)
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    if sessions.is_empty() {
        return Vec::new();
    }
    let condition = if patterned {
        Condition::Patterned
    } else {
        Condition::Random
    };
    analyze(&sessions, &[])
        .rows
        .into_iter()
        .filter_map(|row| {
            let Who::Group { group } = &row.who else {
                return None;
            };
            let score = row.condition(condition)?.score?;
            Some(PeopleCell {
                group: group.label().to_string(),
                dataset: Dataset::ALL.into_iter().find(|d| d.title() == row.dataset),
                accuracy: score.accuracy,
                answers: score.total,
            })
        })
        .collect()
}

/// The planner options that differ from the defaults, as a clause ending in ", " (or nothing).
fn planner_options(s: &SequenceSpec) -> String {
    let mut parts = Vec::new();
    if let Some(cap) = s.cap {
        parts.push(format!("at most {cap} sequences per pattern"));
    }
    if s.min_share > 0.0 {
        parts.push(format!("balance floor {}", s.min_share));
    }
    if s.test_patterns == TestPatterns::Trained {
        parts.push("test split planned over the patterns the training split got".to_string());
    }
    parts.into_iter().map(|p| p + ", ").collect()
}

fn settings(md: &mut String, rows: &[&Row]) {
    let _ = writeln!(md, "### Settings\n");
    let mut seen = BTreeSet::new();
    let key_of = |r: &Row| {
        let p = &r.run.preset;
        let o = &p.occlusion;
        format!(
            "{}|{:?}|{:?}|{:?}|{}|{:?}|{}",
            p.data.describe(),
            o.shape,
            o.fill,
            o.level_widths,
            p.sequences.t,
            p.sequences.ordering,
            planner_options(&p.sequences)
        )
    };
    for r in rows {
        let key = key_of(r);
        if !seen.insert(key.clone()) {
            continue;
        }
        let p = &r.run.preset;
        let o = &p.occlusion;
        // The counts come from the last epoch of any run with these settings that has trained.
        let counts = rows
            .iter()
            .filter(|other| key_of(other) == key)
            .find_map(|other| other.epochs.last())
            .map_or_else(
                || "no run of these settings has trained yet".to_string(),
                |e| {
                    let t = p.sequences.t.max(1) as u64;
                    let validation = e
                        .validation
                        .as_ref()
                        .map(|v| format!(" (+ {} validation)", v.overall.total / t))
                        .unwrap_or_default();
                    format!(
                        "{} train{validation} / {} test sequences",
                        e.train.overall.total / t,
                        e.test.overall.total / t
                    )
                },
            );
        let _ = writeln!(
            md,
            "- {}: occluders {:?}/{:?}, level widths {:?} (mix {:?}), T = {}, {}, patterns `{}`, \
             sequence seed {}, {}{}{}.",
            p.data.describe(),
            o.shape,
            o.fill,
            o.level_widths,
            o.level_mix,
            p.sequences.t,
            match p.sequences.ordering {
                OrderingSpec::Patterned => "patterned",
                OrderingSpec::Random => "random order (the same images shuffled)",
            },
            toml::to_string(&p.sequences.patterns)
                .unwrap_or_default()
                .replace('\n', "; ")
                .trim_end_matches("; "),
            p.sequences.seed,
            planner_options(&p.sequences),
            counts,
            p.sequences
                .limit
                .map(|l| format!(" (capped at {l} per split)"))
                .unwrap_or_default()
        );
    }
    let train = rows.iter().find_map(|r| r.run.preset.train.clone());
    if let Some(t) = train {
        let _ = writeln!(
            md,
            "- Training: Adam, learning rate {}, batch {} sequences, weight decay {}, seed {}, \
             epochs as listed per run.",
            t.learning_rate, t.batch_size, t.weight_decay, t.seed
        );
    }
    let _ = writeln!(md);
}

/// `MNIST (mnist)` → `mnist-mnist`: lower-case letters and digits joined by single dashes.
fn slug(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

fn plots_for(md: &mut String, out: &Path, table: TableId, rows: &[&Row]) -> Result<(), String> {
    // One chart per data set, so each holds a handful of lines.
    let mut groups: Vec<(String, Vec<&Row>)> = Vec::new();
    for r in rows.iter().filter(|r| !r.epochs.is_empty()) {
        let key = r.run.preset.data.describe();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    if groups.is_empty() {
        return Ok(());
    }
    let _ = writeln!(md, "### Plots\n");
    for (data, group) in groups {
        let label = |r: &Row| {
            let mut s = r.model();
            if r.run.preset.sequences.ordering == OrderingSpec::Random {
                s.push_str(" random");
            }
            if table == TableId::A3 || table == TableId::B4 {
                s.push_str(&format!(" T={}", r.run.preset.sequences.t));
            }
            if table.name().starts_with('B') {
                s = r.run.preset.name.clone();
            }
            s
        };
        let base = format!("table-{}-{}", table.name().to_lowercase(), slug(&data));
        let curves = LineChart {
            title: format!("Table {}: test accuracy per epoch — {data}", table.name()),
            x_label: "epoch".into(),
            y_label: "test accuracy (%)".into(),
            x_range: None,
            y_range: None,
            integer_x: true,
            legend_left: false,
            series: group
                .iter()
                .map(|r| Series {
                    name: label(r),
                    points: r
                        .epochs
                        .iter()
                        .map(|e| (e.epoch as f64, e.test.accuracy() * 100.0))
                        .collect(),
                })
                .collect(),
        };
        let file = format!("{base}-curves.png");
        plots::write_png(&curves, &out.join(&file), 900, 520).map_err(|e| e.to_string())?;
        let _ = writeln!(md, "![{}]({file})\n", curves.title);
        // Where runs held out validation sequences: training (dropout on) against validation
        // accuracy, the picture of how far a run overfits before early stopping ends it.
        let validated: Vec<&&Row> = group
            .iter()
            .filter(|r| r.epochs.iter().any(|e| e.validation.is_some()))
            .collect();
        if !validated.is_empty() {
            let fit = LineChart {
                title: format!(
                    "Table {}: training and validation accuracy per epoch — {data}",
                    table.name()
                ),
                x_label: "epoch".into(),
                y_label: "accuracy (%)".into(),
                x_range: None,
                y_range: None,
                integer_x: true,
                legend_left: false,
                series: validated
                    .iter()
                    .flat_map(|r| {
                        let train = Series {
                            name: format!("{} train", label(r)),
                            points: r
                                .epochs
                                .iter()
                                .map(|e| (e.epoch as f64, e.train.accuracy() * 100.0))
                                .collect(),
                        };
                        let validation = Series {
                            name: format!("{} validation", label(r)),
                            points: r
                                .epochs
                                .iter()
                                .filter_map(|e| {
                                    let v = e.validation.as_ref()?;
                                    Some((e.epoch as f64, v.accuracy() * 100.0))
                                })
                                .collect(),
                        };
                        [train, validation]
                    })
                    .collect(),
            };
            let file = format!("{base}-fit.png");
            plots::write_png(&fit, &out.join(&file), 900, 520).map_err(|e| e.to_string())?;
            let _ = writeln!(md, "![{}]({file})\n", fit.title);
        }
        let levels = LineChart {
            title: format!(
                "Table {}: test accuracy per occlusion level (each run's result epoch) — {data}",
                table.name()
            ),
            x_label: "occlusion level".into(),
            y_label: "test accuracy (%)".into(),
            x_range: None,
            y_range: None,
            integer_x: true,
            legend_left: true,
            series: group
                .iter()
                .filter_map(|r| {
                    // The epoch the tables report: best by validation, else the last.
                    let result = tables::result_epoch(&r.epochs)?;
                    Some(Series {
                        name: label(r),
                        points: result
                            .test
                            .per_level
                            .iter()
                            .enumerate()
                            .filter_map(|(l, t)| Some((l as f64, t.accuracy()? * 100.0)))
                            .collect(),
                    })
                })
                .collect(),
        };
        let file = format!("{base}-levels.png");
        plots::write_png(&levels, &out.join(&file), 900, 520).map_err(|e| e.to_string())?;
        let _ = writeln!(md, "![{}]({file})\n", levels.title);
    }
    Ok(())
}

fn runs_table(md: &mut String, rows: &[&Row]) {
    let _ = writeln!(md, "### Runs\n");
    let _ = writeln!(
        md,
        "| run | model | data | T | epochs trained | best epoch (validation) | test accuracy | wall time | backend | status |\n|---|---|---|---:|---:|---:|---:|---:|---|---|"
    );
    for r in rows {
        let p = &r.run.preset;
        let acc = r
            .summary
            .as_ref()
            .and_then(|s| s.test_accuracy_percent())
            .map_or_else(
                || "—".into(),
                |a| {
                    if r.finished() {
                        format!("{a:.2} %")
                    } else {
                        format!("{a:.2} % so far")
                    }
                },
            );
        // Converged runs (a validation split) are scored at their best epoch; others at their last.
        let best = r
            .summary
            .as_ref()
            .and_then(|s| s.best_epoch)
            .map_or_else(|| "— (last epoch scored)".into(), |e| e.to_string());
        let status = match r.outcome {
            RunOutcome::Reused => "reused (same config, finished earlier)".to_string(),
            RunOutcome::Finished { .. } => "trained now".to_string(),
            RunOutcome::Failed(e) => format!("**failed**: {}", e.replace('|', "/")),
            RunOutcome::Stopped => "stopped (resume by rerunning)".to_string(),
            RunOutcome::NotRun if r.epochs.is_empty() => "**not run** (report only)".to_string(),
            RunOutcome::NotRun => format!(
                "**unfinished** ({} epoch{} so far; report only, not in the tables)",
                r.epochs.len(),
                if r.epochs.len() == 1 { "" } else { "s" }
            ),
        };
        let wall = if r.epochs.is_empty() {
            "—".to_string()
        } else {
            format!("{:.0} s", r.wall_seconds())
        };
        let _ = writeln!(
            md,
            "| [{}]({}) | {} | {} | {} | {} | {best} | {acc} | {wall} | {} | {status} |",
            r.run.name(),
            r.link(),
            r.model(),
            p.data.describe(),
            p.sequences.t,
            r.epochs.len(),
            r.info.as_ref().map_or("—", |i| i.backend.as_str()),
        );
    }
    let _ = writeln!(md);
}

/// The Markdown as a standalone HTML page.
pub fn to_html(md: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let parser = Parser::new_ext(md, Options::ENABLE_TABLES);
    let mut body = String::new();
    html::push_html(&mut body, parser);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>occlab reproduction report</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:.3em .6em}}\
         th{{background:#f3f3f3}}img{{max-width:100%}}blockquote{{border-left:4px solid #d33;margin:0;padding:.2em 1em;background:#fff4f4}}\
         </style></head><body>\n{body}</body></html>\n"
    )
}

/// A pipe table of the report, parsed back: header cells and rows of cells.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedTable {
    pub heading: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Every pipe table of a report with the `##` heading it stands under (the first table after each
/// `## Table …` heading is the table itself).
pub fn parse_tables(md: &str) -> Vec<ParsedTable> {
    let mut out = Vec::new();
    let mut heading = String::new();
    let mut current: Option<ParsedTable> = None;
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    for line in md.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            heading = h.trim().to_string();
        }
        if line.trim_start().starts_with('|') {
            match current.as_mut() {
                None => {
                    current = Some(ParsedTable {
                        heading: heading.clone(),
                        header: cells(line),
                        rows: Vec::new(),
                    })
                }
                Some(t) => {
                    let c = cells(line);
                    if !c
                        .iter()
                        .all(|c| c.chars().all(|ch| matches!(ch, '-' | ':')))
                    {
                        t.rows.push(c);
                    }
                }
            }
        } else if let Some(t) = current.take() {
            out.push(t);
        }
    }
    out.extend(current);
    out
}

/// The number in a report cell (`[97.12](runs/x/)`, `97.12`, `97.12 (n = 40)`); `None` for "—".
pub fn cell_value(cell: &str) -> Option<f64> {
    let s = cell.trim().trim_start_matches('[');
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(s.len());
    s[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_name_the_planner_options_a_preset_changes() {
        let p = crate::experiment::preset::Preset::load(std::path::Path::new(
            "presets/paper-a/a1-ocr-letters-patterned-crnn.toml",
        ))
        .unwrap();
        assert_eq!(
            planner_options(&p.sequences),
            "test split planned over the patterns the training split got, "
        );
        let mut s = p.sequences.clone();
        s.test_patterns = TestPatterns::All;
        assert_eq!(planner_options(&s), "");
        s.cap = Some(40);
        s.min_share = 0.25;
        assert_eq!(
            planner_options(&s),
            "at most 40 sequences per pattern, balance floor 0.25, "
        );
    }

    #[test]
    fn tables_parse_back() {
        let md = "## Table A1 — x\n\ntext\n\n| model | MNIST (ours) | MNIST (paper) |\n|---|---:|---:|\n| CNN | [97.10](runs/a/) | 89.44 |\n| CRNN | — | 98.33 |\n\nafter\n";
        let t = parse_tables(md);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].heading, "Table A1 — x");
        assert_eq!(t[0].header, ["model", "MNIST (ours)", "MNIST (paper)"]);
        assert_eq!(t[0].rows.len(), 2);
        assert_eq!(cell_value(&t[0].rows[0][1]), Some(97.10));
        assert_eq!(cell_value(&t[0].rows[1][1]), None);
        assert_eq!(cell_value("81.00 (n = 40)"), Some(81.0));
    }

    #[test]
    fn html_has_the_tables() {
        let html = to_html("# R\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<td>2</td>"), "{html}");
    }

    #[test]
    fn today_is_a_date() {
        let d = today();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
    }
}
