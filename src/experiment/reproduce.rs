//! `occlab reproduce`: the runs behind each published table, then a report beside the papers.
//!
//! A table ([`TableId`]) names the presets it needs (`presets/paper-a/a1-*.toml` for Table A1 …).
//! A [`Budget`] scales them: `full` runs them as they are; `quick` caps the sequences per split, the
//! epochs and the generated letters so that every table finishes on a laptop's CPU, and the report
//! says so on every table; `smoke` is smaller still, for tests.
//!
//! Each run lands in `<out>/runs/<preset>-<budget>-<hash>`, where the hash is taken over the exact
//! preset the run trains (after the budget is applied). So a second `reproduce` reuses every
//! finished run whose config matches exactly, resumes an interrupted one from its last checkpoint
//! (the engine replays the epochs bit for bit) and trains the rest. The job runs on its own thread
//! and speaks through channels like training does ([`reproduce_in_background`]).
//!
//! Over 600 lines with its tests: tables → presets → budgets → planned runs → training them, one
//! flow.

use super::dataset::{self, Prepared};
use super::preset::Preset;
use super::queue::{self, Launch, LaunchError, RunTarget};
use super::run::RunError;
use crate::data::ImageSet;
use crate::data::source::DataSource;
use crate::train::BackendChoice;
use crate::train::engine::{Control, TrainEvent, TrainOutcome};
use crossbeam_channel::{Receiver, Sender, unbounded};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A published table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableId {
    A1,
    A2,
    A3,
    A4,
    A5,
    B1,
    B2,
    B3,
    B4,
    /// Beyond the papers: real handwritten words against the same letters in random order.
    W1,
}

impl TableId {
    pub const ALL: [TableId; 10] = [
        TableId::A1,
        TableId::A2,
        TableId::A3,
        TableId::A4,
        TableId::A5,
        TableId::B1,
        TableId::B2,
        TableId::B3,
        TableId::B4,
        TableId::W1,
    ];

    /// "A1" … "B4".
    pub fn name(self) -> &'static str {
        match self {
            TableId::A1 => "A1",
            TableId::A2 => "A2",
            TableId::A3 => "A3",
            TableId::A4 => "A4",
            TableId::A5 => "A5",
            TableId::B1 => "B1",
            TableId::B2 => "B2",
            TableId::B3 => "B3",
            TableId::B4 => "B4",
            TableId::W1 => "W1",
        }
    }

    /// The table's title in the papers.
    pub fn title(self) -> &'static str {
        match self {
            TableId::A1 => "Paper A, Table 1 — accuracy with regular patterns",
            TableId::A2 => "Paper A, Table 2 — accuracy without patterns (random order)",
            TableId::A3 => "Paper A, Table 3 — CRNN with patterns, by sequence length",
            TableId::A4 => "Paper A, Table 4 — people vs CRNN, with patterns",
            TableId::A5 => "Paper A, Table 5 — people vs CRNN, without patterns",
            TableId::B1 => "Paper B, Table 1 — per-frame baselines by block",
            TableId::B2 => "Paper B, Table 2 — temporal skip position",
            TableId::W1 => {
                "Beyond paper A — real handwritten words (OCR letters) against the same letters in random order"
            }
            TableId::B3 => "Paper B, Table 3 — temporal skip type",
            TableId::B4 => "Paper B, Table 4 — temporal context",
        }
    }

    /// Parses "A1", "a1", "all", or a comma-separated list of these.
    pub fn parse_list(s: &str) -> Result<Vec<TableId>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part.eq_ignore_ascii_case("all") {
                out.extend(TableId::ALL);
                continue;
            }
            let t = TableId::ALL
                .into_iter()
                .find(|t| t.name().eq_ignore_ascii_case(part))
                .ok_or_else(|| {
                    format!("unknown table {part:?}; expected A1 … A5, B1 … B4, W1 or all")
                })?;
            out.push(t);
        }
        if out.is_empty() {
            return Err("no table named; expected A1 … A5, B1 … B4, W1 or all".into());
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Presets of another table that this one shares (paper B's tables overlap: Table 3's linear
    /// skip is Table 2's Block4 run, Table 4's context 2 is Table 3's identity run).
    fn shared_presets(self) -> &'static [&'static str] {
        match self {
            TableId::B3 => &["b2-rrn-linear-block4.toml"],
            TableId::B4 => &["b3-rrn-identity-block4.toml"],
            _ => &[],
        }
    }

    /// Which preset files (under the presets folder) the table needs: (sub-folder, file-name
    /// prefixes, required suffix).
    fn preset_globs(self) -> (&'static str, &'static [&'static str], &'static str) {
        match self {
            TableId::A1 => ("paper-a", &["a1-"], ""),
            TableId::A2 => ("paper-a", &["a2-"], ""),
            // The first column of Table 3 is Table 1's CRNN (T = 5, EMNIST 6).
            TableId::A3 => ("paper-a", &["a3-", "a1-"], ""),
            TableId::A4 => ("paper-a", &["a1-"], "-crnn.toml"),
            TableId::A5 => ("paper-a", &["a2-"], "-crnn.toml"),
            TableId::B1 => ("paper-b", &["b1-"], ""),
            TableId::B2 => ("paper-b", &["b2-"], ""),
            TableId::B3 => ("paper-b", &["b3-"], ""),
            TableId::B4 => ("paper-b", &["b4-"], ""),
            TableId::W1 => ("words", &["w1-"], ""),
        }
    }

    /// The preset files the table needs, sorted by name.
    pub fn presets(self, presets_root: &Path) -> Result<Vec<PathBuf>, ReproduceError> {
        let (dir, prefixes, suffix) = self.preset_globs();
        let dir = presets_root.join(dir);
        // The folder on disk; where there is none, the presets built into occlab (a relative
        // `presets/…` folder, see `builtin`).
        let listed: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(source) => match super::builtin::list_dir(&dir) {
                Some(files) if source.kind() == std::io::ErrorKind::NotFound => files,
                _ => {
                    return Err(ReproduceError::Presets {
                        path: dir.clone(),
                        message: source.to_string(),
                    });
                }
            },
        };
        let mut out: Vec<PathBuf> = listed
            .into_iter()
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                let Some(name) = name else { return false };
                self.shared_presets().contains(&name.as_str())
                    || name.ends_with(".toml")
                        && name.ends_with(suffix)
                        && prefixes.iter().any(|pre| name.starts_with(pre))
                        && (self != TableId::A3
                            || name.starts_with("a3-")
                            || name.ends_with("-patterned-crnn.toml"))
            })
            .collect();
        out.sort();
        if out.is_empty() {
            return Err(ReproduceError::Presets {
                path: dir,
                message: format!(
                    "no presets for table {} ({}*{}.toml)",
                    self.name(),
                    prefixes.join("* or "),
                    suffix.trim_end_matches(".toml")
                ),
            });
        }
        Ok(out)
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `full` budget's validation split: this share of each run's training sequences.
pub const FULL_VALIDATION: f64 = 0.1;
/// The `full` budget's early stopping: epochs without a better validation accuracy.
pub const FULL_PATIENCE: usize = 5;
/// The `full` budget's most epochs per run (early stopping usually ends a run sooner).
pub const FULL_MAX_EPOCHS: usize = 100;

/// How much of each experiment to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Budget {
    /// Tiny subsets and one epoch: checks that everything runs (tests).
    Smoke,
    /// Data subsets and at most two epochs: every table on a 2-core CPU in minutes.
    Quick,
    /// Whole data sets, trained to convergence: a validation split, early stopping with
    /// patience, the best epoch's weights kept (see `FULL_PATIENCE`, `FULL_MAX_EPOCHS`).
    Full,
}

impl Budget {
    pub fn name(self) -> &'static str {
        match self {
            Budget::Smoke => "smoke",
            Budget::Quick => "quick",
            Budget::Full => "full",
        }
    }

    /// (images per split, most epochs, generated letters per class); `None` = the preset's.
    fn limits(self) -> (Option<usize>, Option<usize>, Option<usize>) {
        match self {
            Budget::Smoke => (Some(60), Some(1), Some(40)),
            Budget::Quick => (Some(1000), Some(2), Some(300)),
            Budget::Full => (None, None, None),
        }
    }

    /// What the budget changes, for the report (said on every table).
    pub fn describe(self) -> String {
        match self.limits() {
            (Some(images), Some(epochs), Some(letters)) => format!(
                "**{} budget** — data subsets: at most {images} images per split \
                 (⌊{images} / T⌋ sequences), at most {epochs} epoch{}, generated letters \
                 {letters} per class. Accuracies are far from converged and not comparable with \
                 the published ones; they show that the pipeline runs and which way the effects \
                 point. Use `--budget full` for the real comparison.",
                self.name(),
                if epochs == 1 { "" } else { "s" }
            ),
            _ => format!(
                "**full budget** — whole data sets, trained to convergence: {:.0} % of each run's \
                 training sequences are held out for validation, training stops once the \
                 validation accuracy has not improved for {FULL_PATIENCE} epochs (at most \
                 {FULL_MAX_EPOCHS}), and each run's result is its best epoch by validation \
                 accuracy (weights kept in `checkpoint/best-model.bpk`). The runs table states \
                 the epochs each run trained and its best epoch.",
                FULL_VALIDATION * 100.0
            ),
        }
    }

    /// The preset a run of this budget trains (with `epochs`, if given, overriding the epochs).
    pub fn apply(self, preset: &Preset, epochs: Option<usize>) -> Preset {
        let mut p = preset.clone();
        let (images, max_epochs, letters) = self.limits();
        if let Some(images) = images {
            let t = p.sequences.t.max(1);
            let n = (images / t).max(2);
            p.sequences.limit = Some(p.sequences.limit.map_or(n, |l| l.min(n)));
        }
        let train = p.train.get_or_insert_with(Default::default);
        if let Some(e) = max_epochs {
            train.epochs = train.epochs.min(e);
        }
        // Full: converged training, unless the preset says how it validates itself.
        if self == Budget::Full && !train.validates() {
            train.validation_fraction = FULL_VALIDATION;
            train.patience = Some(train.patience.unwrap_or(FULL_PATIENCE));
            train.epochs = train.epochs.max(FULL_MAX_EPOCHS);
        }
        if let Some(e) = epochs {
            train.epochs = e;
        }
        match (letters, &mut p.data) {
            (Some(per_class), DataSource::Letters { config }) => {
                config.per_class = config.per_class.min(per_class);
            }
            // Generated motion clips: as many clips per class as letters (a clip is several
            // images, so this keeps the B tables' share of the budget alike).
            (Some(per_class), DataSource::Motion { config }) => {
                config.per_class = config.per_class.min(per_class / 2).max(8);
            }
            _ => {}
        }
        p
    }
}

/// Why `reproduce` could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    #[error("{}: {message}", path.display())]
    Presets { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Preset { path: PathBuf, message: String },
    #[error("{0}")]
    Run(#[from] RunError),
    /// A preset file that cannot be read (the error names it).
    #[error(transparent)]
    PresetFile(Box<super::preset::PresetError>),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("report: {0}")]
    Report(String),
}

impl From<super::preset::PresetError> for ReproduceError {
    fn from(e: super::preset::PresetError) -> Self {
        ReproduceError::PresetFile(Box::new(e))
    }
}

/// What to reproduce, where.
#[derive(Clone, Debug)]
pub struct ReproduceOptions {
    pub tables: Vec<TableId>,
    pub budget: Budget,
    /// Overrides every run's epochs (the report says so).
    pub epochs: Option<usize>,
    pub data_dir: Option<PathBuf>,
    /// The report folder; runs go to `<out>/runs/`.
    pub out: PathBuf,
    pub backend: BackendChoice,
    /// The presets folder (`presets/` of the repository).
    pub presets: PathBuf,
    /// Quiz session files for Tables A4 and A5 (`quiz/` by default).
    pub quiz_dir: Option<PathBuf>,
    /// Train nothing: write the report from the runs already finished (e.g. runs trained on
    /// another machine with `--plan-only` + `occlab train --resume`); the others are listed as
    /// not run.
    pub report_only: bool,
}

impl ReproduceOptions {
    pub fn new(tables: Vec<TableId>, budget: Budget, out: PathBuf) -> Self {
        ReproduceOptions {
            tables,
            budget,
            epochs: None,
            data_dir: None,
            out,
            backend: BackendChoice::Auto,
            presets: default_presets_dir(),
            quiz_dir: None,
            report_only: false,
        }
    }
}

/// `presets/`: the folder of that name in the working directory where there is one, else the
/// presets built into occlab (see [`super::builtin`]), which are the repository's own.
pub fn default_presets_dir() -> PathBuf {
    PathBuf::from(super::builtin::ROOT)
}

/// One run a reproduction needs.
#[derive(Clone, Debug)]
pub struct PlannedRun {
    /// The tables that use it.
    pub tables: Vec<TableId>,
    /// The preset file it came from.
    pub source: PathBuf,
    /// The exact preset it trains (budget applied).
    pub preset: Preset,
    pub dir: PathBuf,
    pub state: RunState,
    /// Why the run directory cannot be used ([`RunState::Damaged`] only): the file and the problem.
    pub damage: Option<String>,
}

/// Whether a planned run is new, half done or done (settled by the run launcher).
pub use super::queue::RunState;

impl PlannedRun {
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    }
}

/// The run directory of `preset` under budget `budget`: `<out>/runs/<name>-<budget>-<hash>`.
pub fn run_dir(out: &Path, preset: &Preset, budget: Budget) -> PathBuf {
    queue::dir_by_config(&out.join("runs"), preset, budget.name())
}

/// The runs the options need, each once, in table order, with their state on disk.
pub fn plan(opts: &ReproduceOptions) -> Result<Vec<PlannedRun>, ReproduceError> {
    let mut runs: Vec<PlannedRun> = Vec::new();
    for &table in &opts.tables {
        for path in table.presets(&opts.presets)? {
            if let Some(existing) = runs.iter_mut().find(|r| r.source == path) {
                existing.tables.push(table);
                continue;
            }
            let base = Preset::load(&path)?;
            if base.model.is_none() {
                return Err(ReproduceError::Preset {
                    path,
                    message: "no [model] section: not a training preset".into(),
                });
            }
            let preset = opts.budget.apply(&base, opts.epochs);
            let target = RunTarget::ByConfig {
                root: opts.out.join("runs"),
                tag: opts.budget.name().into(),
            };
            // A run folder that cannot be read is planned as damaged, with the reason: reported,
            // left as it is, and the other runs go on.
            let (preset, dir, state, damage) = match Launch::plan(preset.clone(), target) {
                Ok(launch) => (launch.preset, launch.dir, launch.state, None),
                Err(e) => {
                    let dir = run_dir(&opts.out, &preset, opts.budget);
                    (preset, dir, RunState::Damaged, Some(e.to_string()))
                }
            };
            runs.push(PlannedRun {
                tables: vec![table],
                source: path,
                preset,
                dir,
                state,
                damage,
            });
        }
    }
    Ok(runs)
}

/// How one run ended in this reproduction.
#[derive(Clone, Debug, PartialEq)]
pub enum RunOutcome {
    Reused,
    Finished {
        test_accuracy: f64,
    },
    Failed(String),
    Stopped,
    /// Not finished and not trained in this reproduction (`report_only`).
    NotRun,
}

/// What a reproduction reports, in order.
#[derive(Clone, Debug)]
pub enum ReproduceEvent {
    Planned {
        runs: Vec<(String, RunState)>,
    },
    RunStarted {
        index: usize,
        total: usize,
        name: String,
        state: RunState,
    },
    Train {
        index: usize,
        event: Box<TrainEvent>,
    },
    RunEnded {
        index: usize,
        name: String,
        outcome: RunOutcome,
        seconds: f64,
    },
    ReportWritten {
        markdown: PathBuf,
        html: PathBuf,
    },
    Stopped,
}

/// The end of a reproduction.
#[derive(Clone, Debug)]
pub struct ReproduceSummary {
    pub runs: Vec<(PlannedRun, RunOutcome)>,
    pub report: PathBuf,
    pub stopped: bool,
    pub wall_seconds: f64,
}

/// Writes the report of a reproduction (`crate::report::write_report`, which stands above this
/// layer: it reads quiz sessions too): `(options, runs and outcomes, stopped)` → the Markdown and
/// HTML files written.
pub type WriteReport =
    fn(&ReproduceOptions, &[(PlannedRun, RunOutcome)], bool) -> Result<(PathBuf, PathBuf), String>;

/// Images loaded once per data source (several presets share MNIST, say).
#[derive(Default)]
struct Cache {
    images: HashMap<String, Arc<ImageSet>>,
}

impl Cache {
    fn prepare(&mut self, preset: &Preset, data_dir: Option<&Path>) -> Result<Prepared, String> {
        let key = toml::to_string(&preset.data).unwrap_or_default();
        let t0 = Instant::now();
        let images = match self.images.get(&key) {
            Some(images) => images.clone(),
            None => {
                let images = Arc::new(preset.data.load(data_dir).map_err(|e| e.to_string())?);
                if self.images.len() >= 3 {
                    self.images.clear();
                }
                self.images.insert(key, images.clone());
                images
            }
        };
        let mut prepared =
            dataset::prepare_with(preset, images, t0.elapsed()).map_err(|e| e.to_string())?;
        prepared.data_dir = data_dir.map(Path::to_path_buf);
        Ok(prepared)
    }
}

/// Runs (or reuses) every run the options need, then writes the report. Blocks; `sink` gets the
/// events, `control` can stop it (after the current training step; rerun to resume).
pub fn reproduce(
    opts: &ReproduceOptions,
    write_report: WriteReport,
    sink: &(dyn Fn(ReproduceEvent) + Sync),
    control: &Receiver<Control>,
) -> Result<ReproduceSummary, ReproduceError> {
    let wall = Instant::now();
    std::fs::create_dir_all(opts.out.join("runs")).map_err(|source| ReproduceError::Io {
        path: opts.out.join("runs"),
        source,
    })?;
    let planned = plan(opts)?;
    sink(ReproduceEvent::Planned {
        runs: planned.iter().map(|r| (r.name(), r.state)).collect(),
    });
    let mut cache = Cache::default();
    let mut results: Vec<(PlannedRun, RunOutcome)> = Vec::new();
    let mut stopped = false;
    let total = planned.len();
    for (index, run) in planned.into_iter().enumerate() {
        if stopped {
            results.push((run, RunOutcome::Stopped));
            continue;
        }
        let t0 = Instant::now();
        sink(ReproduceEvent::RunStarted {
            index,
            total,
            name: run.name(),
            state: run.state,
        });
        let outcome = if run.state == RunState::Reuse {
            RunOutcome::Reused
        } else if run.state == RunState::Damaged {
            RunOutcome::Failed(format!(
                "damaged run, left as it is (move it away to train it anew): {}",
                run.damage.as_deref().unwrap_or("unreadable")
            ))
        } else if opts.report_only {
            RunOutcome::NotRun
        } else {
            train_one(opts, &run, index, &mut cache, sink, control)
        };
        if outcome == RunOutcome::Stopped {
            stopped = true;
        }
        sink(ReproduceEvent::RunEnded {
            index,
            name: run.name(),
            outcome: outcome.clone(),
            seconds: t0.elapsed().as_secs_f64(),
        });
        results.push((run, outcome));
    }
    let (markdown, html) = write_report(opts, &results, stopped).map_err(ReproduceError::Report)?;
    sink(ReproduceEvent::ReportWritten {
        markdown: markdown.clone(),
        html,
    });
    if stopped {
        sink(ReproduceEvent::Stopped);
    }
    Ok(ReproduceSummary {
        runs: results,
        report: markdown,
        stopped,
        wall_seconds: wall.elapsed().as_secs_f64(),
    })
}

fn train_one(
    opts: &ReproduceOptions,
    run: &PlannedRun,
    index: usize,
    cache: &mut Cache,
    sink: &(dyn Fn(ReproduceEvent) + Sync),
    control: &Receiver<Control>,
) -> RunOutcome {
    let prepared = match cache.prepare(&run.preset, opts.data_dir.as_deref()) {
        Ok(p) => Arc::new(p),
        Err(e) => return RunOutcome::Failed(format!("preparing the data: {e}")),
    };
    let launch = Launch {
        preset: run.preset.clone(),
        dir: run.dir.clone(),
        state: run.state,
    };
    let job = match launch.start(prepared, opts.backend, None) {
        Ok(Some(launched)) => launched.job,
        Ok(None) => return RunOutcome::Reused,
        Err(e) => return RunOutcome::Failed(e.to_string()),
    };
    // The reproduction's control goes to the run training now; if its sender is gone, stop.
    let never = crossbeam_channel::never();
    let mut control_open = true;
    loop {
        crossbeam_channel::select! {
            recv(job.events) -> event => match event {
                Ok(event) => sink(ReproduceEvent::Train {
                    index,
                    event: Box::new(event),
                }),
                Err(_) => break,
            },
            recv(if control_open { control } else { &never }) -> c => {
                let c = c.unwrap_or_else(|_| {
                    control_open = false;
                    Control::Stop
                });
                let _ = job.control.send(c);
            }
        }
    }
    match job.handle.join() {
        Ok(Ok(TrainOutcome::Finished { test_accuracy })) => RunOutcome::Finished { test_accuracy },
        Ok(Ok(TrainOutcome::Stopped { .. })) => RunOutcome::Stopped,
        Ok(Err(e)) => RunOutcome::Failed(e),
        Err(_) => RunOutcome::Failed("the training thread panicked".into()),
    }
}

/// A reproduction on its own thread.
pub struct ReproduceJob {
    pub control: Sender<Control>,
    pub events: Receiver<ReproduceEvent>,
    pub handle: std::thread::JoinHandle<Result<ReproduceSummary, String>>,
}

/// Starts [`reproduce`] on a background thread; `notify` is called after every event (the GUI
/// passes `request_repaint`).
pub fn reproduce_in_background(
    opts: ReproduceOptions,
    write_report: WriteReport,
    notify: Option<Arc<dyn Fn() + Send + Sync>>,
) -> ReproduceJob {
    let (control_tx, control_rx) = unbounded();
    let (event_tx, event_rx) = unbounded();
    let handle = std::thread::Builder::new()
        .name("occlab-reproduce".into())
        .spawn(move || {
            let sink = move |e: ReproduceEvent| {
                let _ = event_tx.send(e);
                if let Some(n) = &notify {
                    n();
                }
            };
            reproduce(&opts, write_report, &sink, &control_rx).map_err(|e| e.to_string())
        })
        .expect("spawning the reproduce thread");
    ReproduceJob {
        control: control_tx,
        events: event_rx,
        handle,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::run::RunDir;

    #[test]
    fn table_names_parse() {
        assert_eq!(TableId::parse_list("all").unwrap().len(), 10);
        assert_eq!(
            TableId::parse_list("a2, A1,a2").unwrap(),
            vec![TableId::A1, TableId::A2]
        );
        let err = TableId::parse_list("C7").unwrap_err();
        assert!(err.contains("C7"), "{err}");
        assert!(TableId::parse_list("").is_err());
    }

    #[test]
    fn paper_a_tables_find_their_presets() {
        let root = Path::new("presets");
        let a1 = TableId::A1.presets(root).unwrap();
        assert_eq!(
            a1.len(),
            24,
            "6 models × 4 data sets (MNIST, two letter stand-ins, CIFAR-10)"
        );
        assert_eq!(TableId::A2.presets(root).unwrap().len(), 24);
        let a3 = TableId::A3.presets(root).unwrap();
        assert_eq!(a3.len(), 20, "4 data sets × 5 lengths");
        assert!(
            a3.iter()
                .any(|p| p.ends_with("a1-mnist-patterned-crnn.toml"))
        );
        assert_eq!(TableId::A4.presets(root).unwrap().len(), 4);
        assert_eq!(TableId::A5.presets(root).unwrap().len(), 4);
        assert_eq!(
            TableId::W1.presets(root).unwrap().len(),
            4,
            "CNN and CRNN × words and random order"
        );
        let err = TableId::A1
            .presets(Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/paper-a"), "{err}");
    }

    #[test]
    fn budgets_scale_presets_and_name_runs_by_config() {
        let p = Preset::load(Path::new("presets/paper-a/a1-letters-patterned-crnn.toml")).unwrap();
        let q = Budget::Quick.apply(&p, None);
        assert_eq!(q.sequences.limit, Some(1000 / 6));
        assert_eq!(q.train.as_ref().unwrap().epochs, 2);
        match &q.data {
            DataSource::Letters { config } => assert_eq!(config.per_class, 300),
            other => panic!("{other:?}"),
        }
        // Full: the whole data, converged (validation split, early stopping, at most 100 epochs).
        let f = Budget::Full.apply(&p, None);
        assert_eq!(
            (f.data.clone(), f.sequences.clone()),
            (p.data.clone(), p.sequences.clone())
        );
        let ft = f.train.as_ref().unwrap();
        assert_eq!(ft.validation_fraction, FULL_VALIDATION);
        assert_eq!(ft.patience, Some(FULL_PATIENCE));
        assert_eq!(ft.epochs, FULL_MAX_EPOCHS);
        let e = Budget::Full.apply(&p, Some(3));
        assert_eq!(e.train.as_ref().unwrap().epochs, 3);
        // Quick and smoke stay single, unvalidated runs.
        assert!(!q.train.as_ref().unwrap().validates());

        let out = Path::new("/r");
        let a = run_dir(out, &q, Budget::Quick);
        assert_eq!(a, run_dir(out, &q.clone(), Budget::Quick), "stable");
        assert!(
            a.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("a1-letters-patterned-crnn-quick-")
        );
        let mut q2 = q.clone();
        q2.train.as_mut().unwrap().seed = 2;
        assert_ne!(
            a,
            run_dir(out, &q2, Budget::Quick),
            "another config, another run"
        );
    }

    #[test]
    fn plan_shares_runs_between_tables_and_sees_finished_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = ReproduceOptions::new(
            vec![TableId::A1, TableId::A3, TableId::A4],
            Budget::Smoke,
            dir.path().to_path_buf(),
        );
        opts.presets = PathBuf::from("presets");
        let runs = plan(&opts).unwrap();
        // A1: 24; A3 adds its 16 longer ones (T = 5/6 come from A1); A4 adds none.
        assert_eq!(runs.len(), 40);
        let crnn = runs
            .iter()
            .find(|r| r.source.ends_with("a1-mnist-patterned-crnn.toml"))
            .unwrap();
        assert_eq!(crnn.tables, vec![TableId::A1, TableId::A3, TableId::A4]);
        assert!(runs.iter().all(|r| r.state == RunState::New));

        // A run directory with the same config, finished: reused; unfinished: resumed.
        let run = RunDir::create(&crnn.dir, &crnn.preset).unwrap();
        let state =
            |runs: Vec<PlannedRun>| runs.into_iter().find(|r| r.dir == crnn.dir).unwrap().state;
        assert_eq!(state(plan(&opts).unwrap()), RunState::Resume);
        run.append(&crate::experiment::run::LogLine::Finished {
            epochs: 1,
            test_accuracy: 0.5,
            wall_seconds: 1.0,
        })
        .unwrap();
        assert_eq!(state(plan(&opts).unwrap()), RunState::Reuse);

        // A finished run's kept record (its epochs in `epochs.jsonl`, as committed under docs/)
        // copied into the folder is reused too: `--report-only` rebuilds a report from records.
        let cnn = runs
            .iter()
            .find(|r| r.source.ends_with("a1-mnist-patterned-cnn.toml"))
            .unwrap();
        RunDir::create(&cnn.dir, &cnn.preset).unwrap();
        let state =
            |runs: Vec<PlannedRun>| runs.into_iter().find(|r| r.dir == cnn.dir).unwrap().state;
        std::fs::write(cnn.dir.join("epochs.jsonl"), "").unwrap();
        assert_eq!(
            state(plan(&opts).unwrap()),
            RunState::Resume,
            "empty record"
        );
        let kept = std::fs::read_to_string(
            "docs/reproduction-full/runs/a1-mnist-patterned-cnn-full-fa8aa013/epochs.jsonl",
        )
        .unwrap();
        std::fs::write(cnn.dir.join("epochs.jsonl"), kept).unwrap();
        assert_eq!(state(plan(&opts).unwrap()), RunState::Reuse);
    }
}
