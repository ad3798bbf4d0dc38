//! Results tables built from the runs on disk, beside paper A's published numbers.
//!
//! [`scan`] reads every run under a runs root ([`summarize`]: its preset's model, data and
//! ordering, T, and the last epoch's test metrics). [`table`] arranges them in the shape of
//! paper A's Table 1 (patterned sequences) or Table 2 (random order): rows are the six models,
//! columns MNIST / the two EMNIST stand-ins (generated letters, real OCR letters; real EMNIST too
//! when a run used it) / CIFAR-10, each cell our accuracy (with the run it came from) and the
//! published one (EMNIST's for both stand-ins). [`table_by_t`] is Table 3: the CRNN with
//! patterns by sequence length. [`to_csv`] exports a table.
//!
//! A run's epochs are read from `metrics.jsonl`; a folder without one may hold them as
//! `epochs.jsonl` (the same JSON lines: the summaries committed under `docs/runs/`).
//!
//! A run whose `metrics.jsonl` does not end with its `finished` line (still training, or
//! stopped) still fills a cell, marked as not final ([`Ours::finished`]); a finished run of the
//! same cell is preferred to it. An archived `epochs.jsonl` counts as finished: it is kept only
//! as a run's record.
//!
//! Over 600 lines, a quarter of them tests: the results tables (runs matched to cells, CSV
//! export), one concept.

use super::preset::{OrderingSpec, Preset};
use super::published::{PAPER_SEQUENCES, PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3};
use super::run::{LogLine, RunDir, RunError, list_runs};
use crate::data::source::DataSource;
use crate::metrics::{ImagePrediction, Metrics};
use crate::model::ModelKind;
use crate::train::EpochRecord;
use crate::train::clip_eval::ClipEpochRecord;
/// The epoch with the best validation accuracy (the engine's records' rule, used here for results).
pub use crate::train::records::best_by_validation;
use std::path::{Path, PathBuf};

/// A column of paper A's tables: the paper's three data sets, and the two stand-ins for EMNIST
/// letters (which cannot be had offline), each shown beside EMNIST's published numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dataset {
    Mnist,
    /// Real EMNIST letters (IDX files with an `emnist` prefix or name).
    Emnist,
    /// Stand-in: occlab's generated letters.
    GeneratedLetters,
    /// Stand-in: the real handwritten OCR letters (16×8, lower case).
    OcrLetters,
    Cifar10,
}

impl Dataset {
    /// Every column, in table order (the stand-ins after EMNIST).
    pub const ALL: [Dataset; 5] = [
        Dataset::Mnist,
        Dataset::Emnist,
        Dataset::GeneratedLetters,
        Dataset::OcrLetters,
        Dataset::Cifar10,
    ];

    /// The columns a table shows: all but real EMNIST, which only when a run used it (it cannot
    /// be had offline, so its column would otherwise always be empty).
    pub fn columns(with_emnist: bool) -> Vec<Dataset> {
        Self::ALL
            .into_iter()
            .filter(|&d| d != Dataset::Emnist || with_emnist)
            .collect()
    }

    pub fn title(self) -> &'static str {
        match self {
            Dataset::Mnist => "MNIST",
            Dataset::Emnist => "EMNIST",
            Dataset::GeneratedLetters => "generated letters (EMNIST stand-in)",
            Dataset::OcrLetters => "OCR letters (EMNIST stand-in)",
            Dataset::Cifar10 => "CIFAR-10",
        }
    }

    /// Whether the column stands in for a data set of the paper (EMNIST).
    pub fn is_stand_in(self) -> bool {
        matches!(self, Dataset::GeneratedLetters | Dataset::OcrLetters)
    }

    /// The paper's column whose published numbers this column is compared with (0 MNIST,
    /// 1 EMNIST, 2 CIFAR-10).
    pub fn paper_column(self) -> usize {
        match self {
            Dataset::Mnist => 0,
            Dataset::Emnist | Dataset::GeneratedLetters | Dataset::OcrLetters => 1,
            Dataset::Cifar10 => 2,
        }
    }

    fn is_letters(self) -> bool {
        self.paper_column() == 1
    }

    /// The column a data source belongs to: MNIST (embedded or IDX files), EMNIST (IDX files with
    /// an `emnist` prefix or name), the generated letters, the OCR letters, CIFAR-10. Other
    /// sources (folders, other IDX sets) have no column.
    pub fn of(source: &DataSource) -> Option<Dataset> {
        match source {
            DataSource::EmbeddedDigits => Some(Dataset::Mnist),
            DataSource::Idx { prefix, name, .. } => {
                let emnist = prefix
                    .as_deref()
                    .is_some_and(|p| p.to_ascii_lowercase().contains("emnist"))
                    || name.to_ascii_lowercase().contains("emnist");
                if emnist {
                    Some(Dataset::Emnist)
                } else if name.eq_ignore_ascii_case("mnist") {
                    Some(Dataset::Mnist)
                } else {
                    None
                }
            }
            DataSource::Letters { .. } => Some(Dataset::GeneratedLetters),
            DataSource::OcrLetters { .. } => Some(Dataset::OcrLetters),
            DataSource::Cifar10 { .. } => Some(Dataset::Cifar10),
            DataSource::Folder { .. } | DataSource::Clips { .. } | DataSource::Motion { .. } => {
                None
            }
        }
    }

    /// Sequence length of Tables 1 and 2 (5; 6 for the letters' city names).
    pub fn paper_t(self) -> usize {
        if self.is_letters() { 6 } else { 5 }
    }

    /// The sequence lengths of Table 3.
    pub fn table3_lengths(self) -> [usize; 5] {
        if self.is_letters() {
            [6, 12, 18, 24, 30]
        } else {
            [5, 10, 15, 20, 25]
        }
    }
}

/// Which of paper A's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableKind {
    /// Table 1: with regular patterns.
    Patterned,
    /// Table 2: without patterns (random order).
    Random,
    /// Table 3: CRNN with patterns, by sequence length.
    ByLength,
}

impl TableKind {
    pub const ALL: [TableKind; 3] = [TableKind::Patterned, TableKind::Random, TableKind::ByLength];

    pub fn title(self) -> &'static str {
        match self {
            TableKind::Patterned => "Table 1 — with regular patterns",
            TableKind::Random => "Table 2 — without patterns (random order)",
            TableKind::ByLength => "Table 3 — CRNN with patterns, by sequence length",
        }
    }

    /// A short name for file names: `table1-patterned`.
    pub fn slug(self) -> &'static str {
        match self {
            TableKind::Patterned => "table1-patterned",
            TableKind::Random => "table2-random",
            TableKind::ByLength => "table3-by-length",
        }
    }
}

/// The paper's sequence count to compare a preset's plan with: when the preset builds the paper's
/// kind of designed patterns at the paper's T on one of its data sets (or a stand-in).
pub fn published_sequences(preset: &Preset) -> Option<(Dataset, usize)> {
    use super::preset::LibrarySpec;
    let dataset = Dataset::of(&preset.data)?;
    let paper_kind = match &preset.sequences.patterns {
        LibrarySpec::DigitProgressions { .. } => dataset == Dataset::Mnist,
        LibrarySpec::Cities => dataset.paper_column() == 1,
        LibrarySpec::LabelProgressions { .. } => dataset == Dataset::Cifar10,
        _ => false,
    };
    (paper_kind && preset.sequences.t == dataset.paper_t())
        .then(|| (dataset, PAPER_SEQUENCES[dataset.paper_column()]))
}

/// The published accuracy (%) of `model` on `dataset` in Table 1 or 2.
pub fn published(kind: TableKind, model: ModelKind, dataset: Dataset) -> Option<f64> {
    let row = ModelKind::ALL.iter().position(|&m| m == model)?;
    match kind {
        TableKind::Patterned => Some(PAPER_TABLE1[row][dataset.paper_column()]),
        TableKind::Random => Some(PAPER_TABLE2[row][dataset.paper_column()]),
        TableKind::ByLength => None,
    }
}

/// The published CRNN accuracy (%) with patterns of length `t` on `dataset` (Table 3).
pub fn published_by_length(dataset: Dataset, t: usize) -> Option<f64> {
    let col = dataset.table3_lengths().iter().position(|&x| x == t)?;
    Some(PAPER_TABLE3[dataset.paper_column()][col])
}

/// What the tables need to know about one run.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub name: String,
    pub path: PathBuf,
    pub model: Option<ModelKind>,
    pub data: DataSource,
    pub dataset: Option<Dataset>,
    pub ordering: OrderingSpec,
    pub t: usize,
    /// Epochs logged (the epochs the run trained).
    pub epochs: usize,
    /// The epoch that is the run's result: the best by validation accuracy when the run held out
    /// validation sequences, else the last (its `test` metrics give the accuracy and the
    /// confusion matrix).
    pub result: Option<EpochRecord>,
    /// The best epoch by validation accuracy, when the run validates.
    pub best_epoch: Option<usize>,
    /// The run ended (its log's last line is `finished`): its result is final.
    pub finished: bool,
}

impl RunSummary {
    /// Test accuracy of the run's result epoch ([`Self::result`]), in %.
    pub fn test_accuracy_percent(&self) -> Option<f64> {
        self.result.as_ref().map(|e| e.test.accuracy() * 100.0)
    }

    /// The run directory.
    pub fn run(&self) -> RunDir {
        RunDir {
            path: self.path.clone(),
        }
    }

    /// Class names for the confusion matrix: the data set's, where the source tells them.
    pub fn class_names(&self) -> Vec<String> {
        let n = self
            .result
            .as_ref()
            .map_or(0, |e| e.test.confusion.len().max(e.test.per_class.len()));
        class_names_for(&self.data, n)
    }
}

/// Class names of a data source without loading it: digits for MNIST, CIFAR-10's names, letters
/// A… for EMNIST and the generated letters, a… for the OCR letters, else the class numbers.
pub fn class_names_for(source: &DataSource, n: usize) -> Vec<String> {
    match Dataset::of(source) {
        Some(Dataset::Mnist) if n <= 10 => (0..n).map(|i| i.to_string()).collect(),
        Some(Dataset::Cifar10) if n <= 10 => crate::data::cifar::CIFAR10_CLASSES[..n]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Some(Dataset::OcrLetters) if n <= 26 => (0..n)
            .map(|i| ((b'a' + i as u8) as char).to_string())
            .collect(),
        Some(Dataset::Emnist | Dataset::GeneratedLetters) if n <= 26 => (0..n)
            .map(|i| ((b'A' + i as u8) as char).to_string())
            .collect(),
        _ => (0..n).map(|i| i.to_string()).collect(),
    }
}

/// The epochs of a kept record, `epochs.jsonl` (none when the file is absent).
fn read_archived_epochs(run: &RunDir) -> Result<Vec<EpochRecord>, RunError> {
    let p = run.path.join("epochs.jsonl");
    let text = match crate::data::read_bounded_text(&p, super::run::MAX_METRICS_BYTES) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(RunError::Io { path: p, source }),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<LogLine>(line) {
            Ok(LogLine::Epoch(e)) => out.push(*e),
            Ok(_) => {}
            Err(e) => {
                return Err(RunError::Format {
                    path: p,
                    message: format!("line {}: {e}", i + 1),
                });
            }
        }
    }
    Ok(out)
}

/// What a report shows of one run, from one read of its `metrics.jsonl`.
#[derive(Clone, Debug)]
pub struct RunRecords {
    pub summary: RunSummary,
    /// Every epoch record: `metrics.jsonl`'s, or else `epochs.jsonl`'s (see the module docs).
    pub epochs: Vec<EpochRecord>,
    /// The clip records (clip data only), in order.
    pub clips: Vec<ClipEpochRecord>,
}

/// Reads one run's preset and its log once: its summary ([`summarize`]'s), epochs and clip
/// records.
pub fn read_run(run: &RunDir) -> Result<RunRecords, RunError> {
    let preset: Preset = run.preset()?;
    let log = run.log()?;
    let mut finished = matches!(log.last(), Some(LogLine::Finished { .. }));
    let mut epochs = Vec::new();
    let mut clips = Vec::new();
    for line in log {
        match line {
            LogLine::Epoch(e) => epochs.push(*e),
            LogLine::Clips(c) => clips.push(*c),
            _ => {}
        }
    }
    // No epochs in `metrics.jsonl`: an archived `epochs.jsonl` (a kept record), if any.
    if epochs.is_empty() {
        epochs = read_archived_epochs(run)?;
        finished |= !epochs.is_empty();
    }
    let summary = RunSummary {
        finished,
        name: run.name(),
        path: run.path.clone(),
        model: preset.model.as_ref().map(|m| m.kind),
        dataset: Dataset::of(&preset.data),
        data: preset.data,
        ordering: preset.sequences.ordering,
        t: preset.sequences.t,
        epochs: epochs.len(),
        best_epoch: best_by_validation(&epochs).map(|e| e.epoch),
        result: result_epoch(&epochs).cloned(),
    };
    Ok(RunRecords {
        summary,
        epochs,
        clips,
    })
}

/// Reads one run's preset and its result epoch (best by validation, else last).
pub fn summarize(run: &RunDir) -> Result<RunSummary, RunError> {
    read_run(run).map(|r| r.summary)
}

/// The epoch a run reports ([`RunSummary::result`]): the best by validation accuracy when the
/// run validates, else the last.
pub fn result_epoch(epochs: &[EpochRecord]) -> Option<&EpochRecord> {
    best_by_validation(epochs).or(epochs.last())
}

/// Every run under `root`, summarised; runs that cannot be read are reported as messages
/// (naming the file) instead.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    pub root: PathBuf,
    pub runs: Vec<RunSummary>,
    pub errors: Vec<String>,
}

impl Scan {
    pub fn run(&self, name: &str) -> Option<&RunSummary> {
        self.runs.iter().find(|r| r.name == name)
    }
}

/// Summarises every run directly under `root` (see [`list_runs`]).
pub fn scan(root: &Path) -> Scan {
    let mut out = Scan {
        root: root.to_path_buf(),
        ..Scan::default()
    };
    for run in list_runs(root) {
        match summarize(&run) {
            Ok(s) => out.runs.push(s),
            Err(e) => out.errors.push(format!("damaged run, left out: {e}")),
        }
    }
    out
}

/// Our result in a cell: the run it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Ours {
    pub run: String,
    /// Test accuracy of the run's result epoch, %.
    pub accuracy: f64,
    pub epochs: usize,
    /// The run finished; `false`: still training or stopped, the number is not final.
    pub finished: bool,
}

/// One cell: ours (if a run matches) and the published number.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub ours: Option<Ours>,
    pub paper: Option<f64>,
    /// What the cell stands for when the column header does not say it all (Table 3: `T = 10`).
    pub note: Option<String>,
}

/// A results table in the paper's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultsTable {
    pub kind: TableKind,
    pub title: String,
    pub row_labels: Vec<String>,
    pub column_labels: Vec<String>,
    /// `cells[row][column]`.
    pub cells: Vec<Vec<Cell>>,
}

/// The run that fills a cell: among the matches, a finished one before one that is not, then the
/// one with the most epochs, then the last name.
fn best<'a>(mut matches: impl Iterator<Item = &'a RunSummary>) -> Option<Ours> {
    let first = matches.next()?;
    let chosen = matches.fold(first, |a, b| {
        if (b.finished, b.epochs, &b.name) >= (a.finished, a.epochs, &a.name) {
            b
        } else {
            a
        }
    });
    Some(Ours {
        run: chosen.name.clone(),
        accuracy: chosen.test_accuracy_percent()?,
        epochs: chosen.epochs,
        finished: chosen.finished,
    })
}

/// Table 1, 2 or 3 from the summarised runs (see the module docs). A run fills a cell of Table 1
/// or 2 when its model, data set and ordering match and T is the paper's (5; EMNIST 6).
pub fn table(runs: &[RunSummary], kind: TableKind) -> ResultsTable {
    if kind == TableKind::ByLength {
        return table_by_length(runs);
    }
    let ordering = match kind {
        TableKind::Random => OrderingSpec::Random,
        _ => OrderingSpec::Patterned,
    };
    let done = runs.iter().filter(|r| r.result.is_some());
    let done: Vec<&RunSummary> = done.collect();
    let columns = Dataset::columns(with_emnist(runs));
    let cells = ModelKind::ALL
        .iter()
        .map(|&model| {
            columns
                .iter()
                .map(|&dataset| Cell {
                    ours: best(done.iter().copied().filter(|r| {
                        r.model == Some(model)
                            && r.dataset == Some(dataset)
                            && r.ordering == ordering
                            && r.t == dataset.paper_t()
                    })),
                    paper: published(kind, model, dataset),
                    note: None,
                })
                .collect()
        })
        .collect();
    ResultsTable {
        kind,
        title: kind.title().into(),
        row_labels: ModelKind::ALL
            .iter()
            .map(|m| m.name().to_string())
            .collect(),
        column_labels: columns.iter().map(|d| d.title().to_string()).collect(),
        cells,
    }
}

/// Whether any run is on real EMNIST (then its column is shown).
fn with_emnist(runs: &[RunSummary]) -> bool {
    runs.iter().any(|r| r.dataset == Some(Dataset::Emnist))
}

/// Table 3: rows MNIST, (EMNIST,) the two letter stand-ins, CIFAR-10; columns the five sequence
/// lengths (the letters' are 6, 12, … where the others have 5, 10, …).
pub fn table_by_length(runs: &[RunSummary]) -> ResultsTable {
    let rows = Dataset::columns(with_emnist(runs));
    let cells = rows
        .iter()
        .map(|&dataset| {
            dataset
                .table3_lengths()
                .iter()
                .map(|&t| Cell {
                    ours: best(runs.iter().filter(|r| {
                        r.result.is_some()
                            && r.model == Some(ModelKind::Crnn)
                            && r.dataset == Some(dataset)
                            && r.ordering == OrderingSpec::Patterned
                            && r.t == t
                    })),
                    paper: published_by_length(dataset, t),
                    note: Some(format!("T = {t}")),
                })
                .collect()
        })
        .collect();
    ResultsTable {
        kind: TableKind::ByLength,
        title: TableKind::ByLength.title().into(),
        row_labels: rows.iter().map(|d| d.title().to_string()).collect(),
        column_labels: (1..=5)
            .map(|k| format!("T = {} / {}", 5 * k, 6 * k))
            .collect(),
        cells,
    }
}

/// The table as CSV: per column `ours`, `paper`, `run`, `epochs` (empty where unknown).
pub fn to_csv(table: &ResultsTable) -> String {
    /// One cell's four fields; accuracies with two decimals, as the paper prints them.
    #[derive(serde::Serialize)]
    struct CellFields<'a> {
        ours: Option<String>,
        paper: Option<String>,
        run: Option<&'a str>,
        epochs: Option<usize>,
        /// `yes`, or `no` for a run still training or stopped (its number is not final).
        finished: Option<&'static str>,
    }
    let first = if table.kind == TableKind::ByLength {
        "data set"
    } else {
        "model"
    };
    let header =
        std::iter::once(first.to_string()).chain(table.column_labels.iter().flat_map(|c| {
            ["ours", "paper", "run", "epochs", "finished"].map(|field| format!("{c} {field}"))
        }));
    let rows = table
        .row_labels
        .iter()
        .zip(&table.cells)
        .map(|(label, row)| {
            let cells: Vec<CellFields> = row
                .iter()
                .map(|cell| CellFields {
                    ours: cell.ours.as_ref().map(|o| format!("{:.2}", o.accuracy)),
                    paper: cell.paper.map(|p| format!("{p:.2}")),
                    run: cell.ours.as_ref().map(|o| o.run.as_str()),
                    epochs: cell.ours.as_ref().map(|o| o.epochs),
                    finished: cell
                        .ours
                        .as_ref()
                        .map(|o| if o.finished { "yes" } else { "no" }),
                })
                .collect();
            (label, cells)
        });
    crate::csvfile::text(header, rows)
}

/// Where a table's CSV goes by default: beside the runs root, `<root>-table1-patterned.csv`.
pub fn default_csv_path(root: &Path, kind: TableKind) -> PathBuf {
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "runs".into());
    root.with_file_name(format!("{name}-{}.csv", kind.slug()))
}

/// Writes [`to_csv`] of `table` to `path`.
pub fn write_csv(table: &ResultsTable, path: &Path) -> Result<(), RunError> {
    std::fs::write(path, to_csv(table)).map_err(|source| RunError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Each row of a confusion matrix as shares of the row's total (0 for an empty row): the colour
/// scale of the matrix view.
pub fn confusion_shares(m: &Metrics) -> Vec<Vec<f64>> {
    m.confusion
        .iter()
        .map(|row| {
            let total: u64 = row.iter().sum();
            row.iter()
                .map(|&c| {
                    if total == 0 {
                        0.0
                    } else {
                        c as f64 / total as f64
                    }
                })
                .collect()
        })
        .collect()
}

/// The occluded pixels (H×W×C) of predicted test images exactly as the run saw them: the run's
/// sequences are rebuilt from its preset on `images`, which must be the run's data set (the
/// caller checks that the data source matches).
pub fn prediction_images(
    preset: &Preset,
    images: std::sync::Arc<crate::data::ImageSet>,
    preds: &[ImagePrediction],
) -> Result<Vec<Vec<u8>>, String> {
    let prepared = super::dataset::prepare_with(preset, images.clone(), std::time::Duration::ZERO)
        .map_err(|e| e.to_string())?;
    let mean = images.channel_means();
    let seqs = &prepared.sequences.sequences;
    preds
        .iter()
        .map(|p| {
            let seq = seqs.get(p.sequence as usize).ok_or_else(|| {
                format!(
                    "sequence {} is not among the run's {} sequences: the data differ from the run's",
                    p.sequence,
                    seqs.len()
                )
            })?;
            let pos = p.position as usize;
            if pos >= seq.images.len() || seq.levels[pos] != p.level {
                return Err(format!(
                    "sequence {} position {pos} does not match the run's predictions: the data \
                     differ from the run's",
                    p.sequence
                ));
            }
            Ok(crate::sequence::render::render_image(
                &images,
                seq,
                pos,
                &preset.occlusion,
                &mean,
            ))
        })
        .collect()
}

/// The test images of class `truth` predicted as `predicted`, most confident first.
pub fn misclassified(
    preds: &[ImagePrediction],
    truth: u16,
    predicted: u16,
) -> Vec<ImagePrediction> {
    let mut out: Vec<ImagePrediction> = preds
        .iter()
        .filter(|p| p.truth == truth && p.predicted == predicted)
        .copied()
        .collect();
    out.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::preset::ModelSpec;

    fn preset(model: ModelKind, ordering: OrderingSpec, t: usize) -> Preset {
        let mut p = Preset::load(Path::new("presets/train/demo-crnn-embedded.toml")).unwrap();
        p.model = Some(ModelSpec::new(model));
        p.sequences.ordering = ordering;
        p.sequences.t = t;
        p
    }

    fn epoch(n: usize, correct: u16) -> EpochRecord {
        let preds: Vec<ImagePrediction> = (0..10u16)
            .map(|i| ImagePrediction {
                sequence: 0,
                position: i % 5,
                level: 1,
                truth: i,
                predicted: if i < correct { i } else { (i + 1) % 10 },
                probability: 0.5,
            })
            .collect();
        let m = Metrics::from_predictions(&preds, 10, 5, 5);
        EpochRecord {
            epoch: n,
            train: m.clone(),
            test: m,
            validation: None,
            train_seconds: 1.0,
            eval_seconds: 0.1,
            images_per_second: 100.0,
        }
    }

    /// A run with one epoch per entry of `epochs` (its correct answers of 10), not finished.
    fn make_run(root: &Path, name: &str, p: &Preset, epochs: &[u16]) {
        let run = RunDir::create(&root.join(name), p).unwrap();
        for (i, &c) in epochs.iter().enumerate() {
            run.append(&LogLine::Epoch(Box::new(epoch(i + 1, c))))
                .unwrap();
        }
    }

    /// [`make_run`], then the `finished` line a completed run ends with.
    fn make_finished_run(root: &Path, name: &str, p: &Preset, epochs: &[u16]) {
        make_run(root, name, p, epochs);
        let run = RunDir {
            path: root.join(name),
        };
        run.append(&LogLine::Finished {
            epochs: epochs.len(),
            test_accuracy: 0.5,
            wall_seconds: 1.0,
        })
        .unwrap();
    }

    #[test]
    fn runs_fill_the_matching_cells() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        make_finished_run(
            root,
            "cnn-pat",
            &preset(ModelKind::Cnn, OrderingSpec::Patterned, 5),
            &[5, 7],
        );
        // Still training, with more epochs: the finished run above keeps the cell.
        make_run(
            root,
            "cnn-pat-longer",
            &preset(ModelKind::Cnn, OrderingSpec::Patterned, 5),
            &[5, 6, 8],
        );
        make_run(
            root,
            "crnn-rand",
            &preset(ModelKind::Crnn, OrderingSpec::Random, 5),
            &[6],
        );
        make_run(
            root,
            "crnn-t10",
            &preset(ModelKind::Crnn, OrderingSpec::Patterned, 10),
            &[9],
        );
        // Not a run: ignored. A run without epochs: no cell.
        std::fs::create_dir_all(root.join("junk")).unwrap();
        make_run(
            root,
            "empty",
            &preset(ModelKind::Cnn2S, OrderingSpec::Patterned, 5),
            &[],
        );
        let s = scan(root);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.runs.len(), 5);
        assert!(s.run("cnn-pat").unwrap().finished);
        assert!(!s.run("cnn-pat-longer").unwrap().finished);

        let t1 = table(&s.runs, TableKind::Patterned);
        assert_eq!(t1.row_labels[2], "CNN");
        let cnn = &t1.cells[2][0];
        let ours = cnn.ours.as_ref().unwrap();
        assert_eq!(ours.run, "cnn-pat");
        assert_eq!(ours.epochs, 2);
        assert!(ours.finished);
        assert!((ours.accuracy - 70.0).abs() < 1e-9);
        assert_eq!(cnn.paper, Some(89.44));
        assert!(t1.cells[0][0].ours.is_none());
        assert!(t1.cells[5][0].ours.is_none(), "random run not in Table 1");

        let t2 = table(&s.runs, TableKind::Random);
        let unfinished = t2.cells[5][0].ours.as_ref().unwrap();
        assert_eq!(unfinished.run, "crnn-rand");
        assert!(!unfinished.finished, "shown, but marked as not final");
        assert_eq!(t2.cells[5][0].paper, Some(87.89));

        let t3 = table(&s.runs, TableKind::ByLength);
        assert_eq!(t3.cells[0][1].ours.as_ref().unwrap().run, "crnn-t10");
        assert_eq!(t3.cells[0][1].paper, Some(98.11));
        assert_eq!(t3.cells[1][4].paper, Some(97.62));

        let csv = to_csv(&t1);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 7);
        assert!(
            lines[0]
                .starts_with("model,MNIST ours,MNIST paper,MNIST run,MNIST epochs,MNIST finished,")
        );
        assert!(
            lines[3].starts_with("CNN,70.00,89.44,cnn-pat,2,yes,,88.90,,"),
            "{}",
            lines[3]
        );
    }

    #[test]
    fn published_numbers_match_the_paper() {
        assert_eq!(
            published(TableKind::Patterned, ModelKind::Crnn, Dataset::Cifar10),
            Some(90.36)
        );
        assert_eq!(
            published(TableKind::Random, ModelKind::Cnn4S, Dataset::Emnist),
            Some(87.81)
        );
        assert_eq!(published_by_length(Dataset::Emnist, 18), Some(97.76));
        assert_eq!(published_by_length(Dataset::Mnist, 6), None);
        // Table 3 at the shortest length is Table 1's CRNN.
        for d in Dataset::ALL {
            assert_eq!(
                published_by_length(d, d.paper_t()),
                published(TableKind::Patterned, ModelKind::Crnn, d)
            );
        }
    }

    #[test]
    fn committed_summaries_read_from_epochs_jsonl() {
        let s = scan(Path::new("docs/runs"));
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        let cnn = s.run("a1-mnist-patterned-cnn").unwrap();
        assert_eq!(cnn.dataset, Some(Dataset::Mnist));
        assert_eq!(cnn.model, Some(ModelKind::Cnn));
        assert!(cnn.epochs >= 1);
        // The cell shows the matching run with the most epochs.
        let most = s
            .runs
            .iter()
            .filter(|r| {
                r.model == Some(ModelKind::Cnn)
                    && r.dataset == Some(Dataset::Mnist)
                    && r.name.starts_with("a1-")
            })
            .max_by_key(|r| r.epochs)
            .unwrap();
        let t1 = table(&s.runs, TableKind::Patterned);
        assert_eq!(t1.cells[2][0].ours.as_ref().unwrap().run, most.name);
    }

    #[test]
    fn confusion_and_misclassified() {
        let m = epoch(1, 8).test;
        let shares = confusion_shares(&m);
        assert_eq!(shares[8][9], 1.0);
        assert_eq!(shares[0][0], 1.0);
        let preds = [
            ImagePrediction {
                sequence: 1,
                position: 0,
                level: 2,
                truth: 3,
                predicted: 5,
                probability: 0.4,
            },
            ImagePrediction {
                sequence: 2,
                position: 1,
                level: 4,
                truth: 3,
                predicted: 5,
                probability: 0.9,
            },
            ImagePrediction {
                sequence: 3,
                position: 1,
                level: 4,
                truth: 3,
                predicted: 3,
                probability: 0.9,
            },
        ];
        let wrong = misclassified(&preds, 3, 5);
        assert_eq!(wrong.len(), 2);
        assert_eq!(wrong[0].sequence, 2);
        assert_eq!(
            default_csv_path(Path::new("/x/runs"), TableKind::Random),
            PathBuf::from("/x/runs-table2-random.csv")
        );
    }

    #[test]
    fn prediction_images_are_the_runs_occluded_images() {
        let mut p = preset(ModelKind::Crnn, OrderingSpec::Patterned, 5);
        p.sequences.limit = Some(6);
        let images = std::sync::Arc::new(p.data.load(None).unwrap());
        let prepared =
            crate::experiment::dataset::prepare_with(&p, images.clone(), Default::default())
                .unwrap();
        let seqs = &prepared.sequences.sequences;
        let pred = |sequence: usize, position: usize| ImagePrediction {
            sequence: sequence as u32,
            position: position as u16,
            level: seqs[sequence].levels[position],
            truth: seqs[sequence].labels[position],
            predicted: 0,
            probability: 0.5,
        };
        let preds = [pred(7, 2), pred(0, 4)];
        let px = prediction_images(&p, images.clone(), &preds).unwrap();
        assert_eq!(px.len(), 2);
        let id = seqs[7].images[2] as usize;
        assert_eq!(px[0].len(), images.image_len());
        // The run's occluders: black pixels where the clean image may have ink, never new ink.
        let clean = images.image(id);
        assert!(px[0].iter().zip(clean).all(|(&o, &c)| o == c || o == 0));
        let hidden = px[0].iter().zip(clean).filter(|(o, c)| o != c).count();
        assert!(
            seqs[7].levels[2] == 0 || hidden > 0,
            "level {} hides nothing",
            seqs[7].levels[2]
        );
        // Predictions that do not fit the rebuilt sequences are refused, not drawn wrong.
        let mut wrong = pred(1, 1);
        wrong.level = wrong.level % 5 + 1;
        let err = prediction_images(&p, images.clone(), &[wrong]).unwrap_err();
        assert!(err.contains("differ"), "{err}");
        let mut gone = pred(1, 1);
        gone.sequence = 100_000;
        assert!(prediction_images(&p, images, &[gone]).is_err());
    }
}
