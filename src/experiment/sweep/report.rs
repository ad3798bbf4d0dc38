//! A sweep's results: one row per run (its swept values, test accuracy, accuracy per occlusion
//! level, epochs, training time, where it ran), read from the run folders through
//! [`tables::summarize`] (the Results tables' reader); CSV export; and a chart of a metric
//! against one swept key, one line per value of another (the other swept keys, e.g. seeds,
//! averaged), drawn by [`plots`] as PNG.

use super::plan::{SweepIndex, absolute};
use super::spec::{KeyPath, PlotChoice, SweepError, value_number, value_text};
use crate::experiment::plots::{self, LineChart, Series};
use crate::experiment::run::{LogLine, RunDir, write_atomic};
use crate::experiment::tables;
use std::path::{Path, PathBuf};
use toml::Value;

/// Whether the lines fall from left to right on the whole (their first points above their last).
fn falling(series: &[Series]) -> bool {
    let (mut first, mut last) = (0.0, 0.0);
    for s in series {
        if let (Some(a), Some(b)) = (s.points.first(), s.points.last()) {
            first += a.1;
            last += b.1;
        }
    }
    first > last
}

/// A chart line's label and its (x, values of the runs at x).
type LineGroup = (String, Vec<(f64, Vec<f64>)>);

/// What a chart plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Test accuracy of the run's result epoch, %.
    TestAccuracy,
    /// Test accuracy at one occlusion level (0 = unoccluded), %.
    Level(usize),
    Epochs,
    /// Training and evaluation time summed over the epochs.
    Seconds,
}

impl Metric {
    /// `test_accuracy`, `level<N>`, `epochs`, `seconds`.
    pub fn parse(s: &str) -> Result<Metric, String> {
        let s = s.trim();
        match s {
            "test_accuracy" | "accuracy" => Ok(Metric::TestAccuracy),
            "epochs" => Ok(Metric::Epochs),
            "seconds" | "train_seconds" => Ok(Metric::Seconds),
            _ => s
                .strip_prefix("level")
                .map(|n| n.trim_start_matches(['_', '-']))
                .and_then(|n| n.parse().ok())
                .map(Metric::Level)
                .ok_or_else(|| {
                    format!("metric {s:?}: expected test_accuracy, level<N> (e.g. level5), epochs or seconds")
                }),
        }
    }

    pub fn name(self) -> String {
        match self {
            Metric::TestAccuracy => "test_accuracy".into(),
            Metric::Level(l) => format!("level{l}"),
            Metric::Epochs => "epochs".into(),
            Metric::Seconds => "seconds".into(),
        }
    }

    /// The axis label.
    pub fn label(self) -> String {
        match self {
            Metric::TestAccuracy => "test accuracy (%)".into(),
            Metric::Level(0) => "test accuracy, unoccluded (%)".into(),
            Metric::Level(l) => format!("test accuracy at occlusion level {l} (%)"),
            Metric::Epochs => "epochs".into(),
            Metric::Seconds => "training + evaluation time (s)".into(),
        }
    }
}

/// Where a run stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RowState {
    Finished,
    /// Trained part of the way (or not started).
    Unfinished,
    /// Its folder cannot be read: the file and the reason.
    Damaged(String),
}

/// One run of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    pub index: usize,
    /// The run's folder name.
    pub run: String,
    pub path: PathBuf,
    /// The swept keys' values.
    pub values: Vec<Value>,
    pub state: RowState,
    /// Test accuracy of the result epoch (best by validation, else last), %.
    pub test_accuracy: Option<f64>,
    /// Test accuracy per occlusion level (index = level, 0 unoccluded), %.
    pub per_level: Vec<Option<f64>>,
    /// Epochs trained.
    pub epochs: usize,
    /// Training and evaluation time summed over the epochs (resumes included), seconds.
    pub seconds: Option<f64>,
    /// The machine, backend and threads it trained with, and its Slurm job if any.
    pub host: Option<String>,
    pub backend: Option<String>,
    pub threads: Option<usize>,
    pub slurm_job: Option<String>,
}

impl SweepRow {
    /// The metric's value for this run.
    pub fn metric(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::TestAccuracy => self.test_accuracy,
            Metric::Level(l) => self.per_level.get(l).copied().flatten(),
            Metric::Epochs => (self.state == RowState::Finished).then_some(self.epochs as f64),
            Metric::Seconds => self.seconds,
        }
    }

    /// "host (backend, N threads)" — where the run trained.
    pub fn where_text(&self) -> String {
        let mut s = self.host.clone().unwrap_or_else(|| "?".into());
        let mut extra = Vec::new();
        if let Some(b) = &self.backend {
            extra.push(b.clone());
        }
        if let Some(t) = self.threads {
            extra.push(format!("{t} threads"));
        }
        if let Some(j) = &self.slurm_job {
            extra.push(format!("slurm {j}"));
        }
        if !extra.is_empty() {
            s.push_str(&format!(" ({})", extra.join(", ")));
        }
        s
    }
}

/// A sweep's runs as a table.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepTable {
    pub name: String,
    /// The sweep folder.
    pub root: PathBuf,
    pub keys: Vec<KeyPath>,
    /// The occlusion levels any run has test results for (columns of the table).
    pub levels: Vec<usize>,
    pub rows: Vec<SweepRow>,
    /// The sweep's default chart.
    pub plot: PlotChoice,
}

/// Reads one run's row.
fn read_row(root: &Path, index: usize, run: &str, values: Vec<Value>) -> SweepRow {
    let path = root.join("runs").join(run);
    let mut row = SweepRow {
        index,
        run: run.to_string(),
        path: path.clone(),
        values,
        state: RowState::Unfinished,
        test_accuracy: None,
        per_level: Vec::new(),
        epochs: 0,
        seconds: None,
        host: None,
        backend: None,
        threads: None,
        slurm_job: None,
    };
    if !path.join("config.toml").is_file() {
        return row;
    }
    let dir = RunDir { path };
    let mut read = || -> Result<(), crate::experiment::run::RunError> {
        let summary = tables::summarize(&dir)?;
        let log = dir.log()?;
        let finished = matches!(log.last(), Some(LogLine::Finished { .. }));
        let epochs: Vec<_> = log
            .iter()
            .filter_map(|l| match l {
                LogLine::Epoch(e) => Some(e.train_seconds + e.eval_seconds),
                _ => None,
            })
            .collect();
        row.epochs = summary.epochs;
        row.seconds = (!epochs.is_empty()).then(|| epochs.iter().sum());
        if let Some(e) = &summary.result {
            row.test_accuracy = Some(e.test.accuracy() * 100.0);
            row.per_level = e
                .test
                .per_level
                .iter()
                .map(|t| t.accuracy().map(|a| a * 100.0))
                .collect();
        }
        if finished {
            row.state = RowState::Finished;
        }
        if let Ok(info) = dir.info() {
            row.host = info.host;
            row.backend = Some(info.backend);
            row.threads = Some(info.threads);
            row.slurm_job = info.slurm_job;
        }
        Ok(())
    };
    if let Err(e) = read() {
        row.state = RowState::Damaged(e.to_string());
        row.test_accuracy = None;
        row.per_level.clear();
    }
    row
}

/// Reads the sweep in folder `out` (its `sweep.json`) and every run of it.
pub fn read(out: &Path) -> Result<SweepTable, SweepError> {
    let root = absolute(out);
    let index = SweepIndex::read(&root)?;
    let keys = index.key_paths()?;
    let rows: Vec<SweepRow> = index
        .runs
        .iter()
        .map(|r| read_row(&root, r.index, &r.run, SweepIndex::values(r)))
        .collect();
    let mut levels: Vec<usize> = rows
        .iter()
        .flat_map(|r| {
            r.per_level
                .iter()
                .enumerate()
                .filter(|(_, a)| a.is_some())
                .map(|(l, _)| l)
        })
        .collect();
    levels.sort_unstable();
    levels.dedup();
    Ok(SweepTable {
        name: index.name,
        root,
        keys,
        levels,
        rows,
        plot: index.plot,
    })
}

/// Reads sweep folders: every folder directly under `root` with a `sweep.json`, sorted.
pub fn list_sweeps(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(super::plan::INDEX_FILE).is_file())
        .collect();
    out.sort();
    out
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(String::new, |v| format!("{v:.digits$}"))
}

impl SweepTable {
    /// The table's column names: swept keys, then the results.
    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        h.push("test_accuracy".into());
        h.extend(self.levels.iter().map(|l| format!("level{l}_accuracy")));
        h.extend(
            [
                "epochs",
                "train_seconds",
                "state",
                "host",
                "backend",
                "threads",
                "slurm_job",
                "run",
            ]
            .map(String::from),
        );
        h
    }

    /// A row's cells, in [`Self::header`]'s order.
    pub fn cells(&self, row: &SweepRow) -> Vec<String> {
        let mut c: Vec<String> = row.values.iter().map(value_text).collect();
        c.push(fmt_opt(row.test_accuracy, 2));
        c.extend(
            self.levels
                .iter()
                .map(|&l| fmt_opt(row.per_level.get(l).copied().flatten(), 2)),
        );
        c.push(row.epochs.to_string());
        c.push(fmt_opt(row.seconds, 1));
        c.push(match &row.state {
            RowState::Finished => "finished".into(),
            RowState::Unfinished => "unfinished".into(),
            RowState::Damaged(e) => format!("damaged: {e}"),
        });
        c.push(row.host.clone().unwrap_or_default());
        c.push(row.backend.clone().unwrap_or_default());
        c.push(row.threads.map_or_else(String::new, |t| t.to_string()));
        c.push(row.slurm_job.clone().unwrap_or_default());
        c.push(row.run.clone());
        c
    }

    /// `<sweep>/report/<name>.csv`.
    pub fn default_csv_path(&self) -> PathBuf {
        self.root.join("report").join(format!("{}.csv", self.name))
    }

    /// `<sweep>/report/<name>-<metric>.png`.
    pub fn default_png_path(&self, metric: Metric) -> PathBuf {
        self.root
            .join("report")
            .join(format!("{}-{}.png", self.name, metric.name()))
    }

    /// The table as CSV text (one row per run, [`Self::header`]'s columns).
    pub fn csv_text(&self) -> String {
        crate::csvfile::text(self.header(), self.rows.iter().map(|r| self.cells(r)))
    }

    /// Writes the table as CSV (atomically: a reader never sees half a file).
    pub fn write_csv(&self, path: &Path) -> Result<(), SweepError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| SweepError::Report(format!("{}: {e}", dir.display())))?;
        }
        write_atomic(path, self.csv_text().as_bytes())?;
        Ok(())
    }

    /// The swept key (of [`Self::keys`]) that `key` names or picks from, and its position.
    fn source_of(&self, key: &KeyPath) -> Option<usize> {
        self.keys.iter().position(|k| k.covers(key))
    }

    /// The chart's x key, line key and metric: as chosen, else the sweep's defaults, else the
    /// first swept key with numbers (seeds last) for x and the next swept key for the lines.
    pub fn resolve(
        &self,
        choice: &PlotChoice,
    ) -> Result<(KeyPath, Option<KeyPath>, Metric), String> {
        // The sweep's own defaults count only where they still name a swept key (a key fixed
        // later with --set is no longer swept); a choice made now must.
        let swept = |k: &String| {
            KeyPath::parse(k).is_ok_and(|k| self.source_of(&k).is_some()) || k == "none"
        };
        let pick = |a: &Option<String>, b: &Option<String>| {
            a.clone().or_else(|| b.clone().filter(|k| swept(k)))
        };
        let metric = match choice.metric.clone().or_else(|| self.plot.metric.clone()) {
            Some(m) => Metric::parse(&m)?,
            None => Metric::TestAccuracy,
        };
        let is_seed = |k: &KeyPath| k.short().contains("seed");
        let numeric = |k: &KeyPath| {
            let i = self.source_of(k);
            i.is_some_and(|i| {
                let base = &self.keys[i];
                self.rows
                    .iter()
                    .all(|r| k.pick(base, &r.values[i]).and_then(value_number).is_some())
            })
        };
        let x = match pick(&choice.x, &self.plot.x) {
            Some(x) => {
                let x = KeyPath::parse(&x).map_err(|e| e.to_string())?;
                if self.source_of(&x).is_none() {
                    return Err(format!(
                        "x = `{x}` is not a swept key (swept: {})",
                        self.keys
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !numeric(&x) {
                    return Err(format!(
                        "x = `{x}` has values that are not numbers; pick one element of a list with [i], e.g. `occlusion.level_widths[4]`"
                    ));
                }
                x
            }
            None => {
                let mut candidates: Vec<&KeyPath> =
                    self.keys.iter().filter(|k| numeric(k)).collect();
                candidates.sort_by_key(|k| is_seed(k));
                match candidates.first() {
                    Some(k) => (*k).clone(),
                    None => {
                        return Err(
                            "no swept key has numbers to plot against: choose x (e.g. `occlusion.level_widths[4]`)"
                                .into(),
                        );
                    }
                }
            }
        };
        let lines = match pick(&choice.lines, &self.plot.lines) {
            Some(l) if l.is_empty() || l == "none" => None,
            Some(l) => {
                let l = KeyPath::parse(&l).map_err(|e| e.to_string())?;
                if self.source_of(&l).is_none() {
                    return Err(format!("lines = `{l}` is not a swept key"));
                }
                Some(l)
            }
            None => {
                let xi = self.source_of(&x);
                let mut others: Vec<&KeyPath> = self
                    .keys
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != xi)
                    .map(|(_, k)| k)
                    .collect();
                others.sort_by_key(|k| is_seed(k));
                others.first().map(|k| (*k).clone())
            }
        };
        Ok((x, lines, metric))
    }

    /// The chart `choice` asks for (see [`Self::resolve`]): the metric's mean over the runs
    /// that share a line and an x value (the other swept keys, e.g. seeds, averaged).
    pub fn chart(&self, choice: &PlotChoice) -> Result<LineChart, String> {
        let (x, lines, metric) = self.resolve(choice)?;
        let xi = self.source_of(&x).expect("resolved x is swept");
        let li = lines.as_ref().and_then(|l| self.source_of(l));
        // (line label, x) → values
        let mut groups: Vec<LineGroup> = Vec::new();
        for row in &self.rows {
            let Some(xv) = x
                .pick(&self.keys[xi], &row.values[xi])
                .and_then(value_number)
            else {
                continue;
            };
            let Some(m) = row.metric(metric) else {
                continue;
            };
            let label = match (&lines, li) {
                (Some(l), Some(i)) => l.pick(&self.keys[i], &row.values[i]).map_or_else(
                    || "?".into(),
                    |v| format!("{} = {}", l.short(), value_text(v)),
                ),
                _ => self.name.clone(),
            };
            let g = match groups.iter_mut().position(|(n, _)| *n == label) {
                Some(i) => &mut groups[i].1,
                None => {
                    groups.push((label, Vec::new()));
                    &mut groups.last_mut().expect("just pushed").1
                }
            };
            match g.iter_mut().find(|(gx, _)| *gx == xv) {
                Some((_, vs)) => vs.push(m),
                None => g.push((xv, vec![m])),
            }
        }
        let averaged: Vec<String> = self
            .keys
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != xi && Some(*i) != li)
            .map(|(_, k)| k.short())
            .collect();
        let series: Vec<Series> = groups
            .into_iter()
            .map(|(name, mut points)| {
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                Series {
                    name,
                    points: points
                        .into_iter()
                        .map(|(x, vs)| (x, vs.iter().sum::<f64>() / vs.len() as f64))
                        .collect(),
                }
            })
            .collect();
        let integer_x = self.rows.iter().all(|r| {
            x.pick(&self.keys[xi], &r.values[xi])
                .is_some_and(|v| matches!(v, Value::Integer(_)))
        });
        Ok(LineChart {
            title: format!(
                "{}: {}{}",
                self.name,
                metric.label(),
                if averaged.is_empty() {
                    String::new()
                } else {
                    format!(", mean over {}", averaged.join(", "))
                }
            ),
            x_label: x.to_string(),
            y_label: metric.label(),
            x_range: None,
            y_range: None,
            integer_x,
            // Lines that fall to the right leave the lower left corner free for the legend.
            legend_left: falling(&series),
            series,
        })
    }

    /// Draws [`Self::chart`] into a PNG.
    pub fn write_png(&self, choice: &PlotChoice, path: &Path) -> Result<(), SweepError> {
        let chart = self.chart(choice).map_err(SweepError::Report)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| SweepError::Report(format!("{}: {e}", dir.display())))?;
        }
        plots::write_png(&chart, path, 900, 560).map_err(|e| SweepError::Report(e.to_string()))
    }
}
