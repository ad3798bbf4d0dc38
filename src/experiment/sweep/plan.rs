//! A sweep's runs on disk: each an ordinary run directory under `<out>/runs/`, named by its swept
//! values and the hash of its exact config and planned by the one run launcher
//! ([`Launch::plan`] with [`RunTarget::ByConfig`]): new, half done (resumed) or done (reused).
//!
//! ```text
//! <out>/
//!   sweep.toml      the sweep (base preset + [sweep] table): `occlab sweep --out <out>` reruns it
//!   sweep.json      the swept keys and every run's values (what the report reads)
//!   manifest.txt    one run folder a line, absolute: task i of a job array trains line i + 1
//!   runs/<sweep>-<swept values>-<hash>/   the runs
//!   logs/           local workers' output, one file per run
//!   slurm/          job scripts, their manifests, jobs.json and the tasks' logs
//! ```

use super::spec::{KeyPath, PlotChoice, SweepError, SweepSpec, parse_value, toml_text};
use crate::experiment::preset::Preset;
use crate::experiment::queue::{Launch, RunState, RunTarget, dir_by_config};
use crate::experiment::run::{RunDir, write_atomic};
use std::path::{Path, PathBuf};
use toml::Value;

/// The sweep index file's name in a sweep folder.
pub const INDEX_FILE: &str = "sweep.json";
/// The manifest's name: one absolute run folder a line.
pub const MANIFEST_FILE: &str = "manifest.txt";
/// The saved sweep definition.
pub const SPEC_FILE: &str = "sweep.toml";

/// One run of a planned sweep.
#[derive(Clone, Debug)]
pub struct SweepRun {
    /// Its line in the manifest, from 0 (a job array's task id).
    pub index: usize,
    /// The swept keys' values, in the plan's key order.
    pub values: Vec<(KeyPath, Value)>,
    /// The exact preset it trains.
    pub preset: Preset,
    pub dir: PathBuf,
    pub state: RunState,
    /// Why its folder cannot be used ([`RunState::Damaged`] only).
    pub damage: Option<String>,
}

impl SweepRun {
    /// The run's folder name.
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    }

    /// Whether the run still has to train (new or half done).
    pub fn is_todo(&self) -> bool {
        matches!(self.state, RunState::New | RunState::Resume)
    }
}

/// A sweep laid out in its folder.
#[derive(Clone, Debug)]
pub struct SweepPlan {
    pub spec: SweepSpec,
    /// The sweep folder (absolute).
    pub out: PathBuf,
    /// The swept keys, in order.
    pub keys: Vec<KeyPath>,
    pub runs: Vec<SweepRun>,
}

/// What `sweep.json` holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepIndex {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The swept keys.
    pub keys: Vec<String>,
    pub runs: Vec<IndexedRun>,
    #[serde(default)]
    pub plot: PlotChoice,
}

/// One run in `sweep.json`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IndexedRun {
    pub index: usize,
    /// The run's folder name under `runs/`.
    pub run: String,
    /// Each swept key's value as TOML text, in the order of [`SweepIndex::keys`].
    pub values: Vec<String>,
}

impl SweepIndex {
    /// Reads `<out>/sweep.json`.
    pub fn read(out: &Path) -> Result<SweepIndex, SweepError> {
        let path = out.join(INDEX_FILE);
        let text =
            crate::data::read_bounded_text(&path, 64 << 20).map_err(|source| SweepError::Io {
                path: path.clone(),
                source,
            })?;
        let index: SweepIndex = serde_json::from_str(&text).map_err(|e| SweepError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if let Some(r) = index
            .runs
            .iter()
            .find(|r| r.values.len() != index.keys.len())
        {
            return Err(SweepError::File {
                path,
                message: format!(
                    "run {} has {} values for {} keys",
                    r.run,
                    r.values.len(),
                    index.keys.len()
                ),
            });
        }
        Ok(index)
    }

    /// The swept keys, parsed.
    pub fn key_paths(&self) -> Result<Vec<KeyPath>, SweepError> {
        self.keys.iter().map(|k| KeyPath::parse(k)).collect()
    }

    /// A run's values, parsed.
    pub fn values(run: &IndexedRun) -> Vec<Value> {
        run.values.iter().map(|v| parse_value(v)).collect()
    }
}

/// The absolute form of `path` (relative to the working folder), without touching the disk.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Plans every run of `spec` under `<out>/runs/` and sees which are done. Writes nothing
/// ([`SweepPlan::write`] does).
pub fn plan(spec: &SweepSpec, out: &Path) -> Result<SweepPlan, SweepError> {
    let out = absolute(out);
    let root = out.join("runs");
    let points = spec.expand()?;
    let mut runs = Vec::with_capacity(points.len());
    for (index, point) in points.into_iter().enumerate() {
        let target = RunTarget::ByConfig {
            root: root.clone(),
            tag: point.slug.clone(),
        };
        // A run folder that cannot be read is planned as damaged, with the reason, and the
        // others go on (as `occlab reproduce` does).
        let (preset, dir, state, damage) = match Launch::plan(point.preset.clone(), target) {
            Ok(launch) => (launch.preset, launch.dir, launch.state, None),
            Err(e) => {
                let dir = dir_by_config(&root, &point.preset, &point.slug);
                (point.preset, dir, RunState::Damaged, Some(e.to_string()))
            }
        };
        runs.push(SweepRun {
            index,
            values: point.values,
            preset,
            dir,
            state,
            damage,
        });
    }
    Ok(SweepPlan {
        keys: spec.swept_keys(),
        spec: spec.clone(),
        out,
        runs,
    })
}

impl SweepPlan {
    /// Creates the new runs' folders (config only, as `occlab reproduce --plan-only` does) and
    /// writes `sweep.toml`, `sweep.json` and `manifest.txt`.
    pub fn write(&self) -> Result<(), SweepError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SweepError::Io { path, source }
        };
        let runs_root = self.out.join("runs");
        std::fs::create_dir_all(&runs_root).map_err(io(&runs_root))?;
        for run in &self.runs {
            if run.state == RunState::New && !run.dir.join("config.toml").exists() {
                RunDir::create(&run.dir, &run.preset)?;
            }
        }
        write_atomic(&self.out.join(SPEC_FILE), self.spec.to_toml().as_bytes())?;
        let json = serde_json::to_string_pretty(&self.index()).expect("an index serialises");
        write_atomic(&self.out.join(INDEX_FILE), json.as_bytes())?;
        write_atomic(
            &self.out.join(MANIFEST_FILE),
            self.manifest_text().as_bytes(),
        )?;
        Ok(())
    }

    /// `sweep.json`'s content.
    pub fn index(&self) -> SweepIndex {
        SweepIndex {
            name: self.spec.name.clone(),
            description: self.spec.description.clone(),
            keys: self.keys.iter().map(ToString::to_string).collect(),
            runs: self
                .runs
                .iter()
                .map(|r| IndexedRun {
                    index: r.index,
                    run: r.name(),
                    values: r.values.iter().map(|(_, v)| toml_text(v)).collect(),
                })
                .collect(),
            plot: self.spec.plot.clone(),
        }
    }

    /// One absolute run folder a line, in index order.
    pub fn manifest_text(&self) -> String {
        self.runs
            .iter()
            .map(|r| format!("{}\n", r.dir.display()))
            .collect()
    }

    /// (new, to resume, finished, damaged) counts.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let n = |s: RunState| self.runs.iter().filter(|r| r.state == s).count();
        (
            n(RunState::New),
            n(RunState::Resume),
            n(RunState::Reuse),
            n(RunState::Damaged),
        )
    }

    /// The plan as lines for `--plan`: index, state, swept values, folder.
    pub fn describe(&self) -> String {
        let (new, resume, reuse, damaged) = self.counts();
        let mut out = format!(
            "sweep {}: {} runs ({new} new, {resume} to resume, {reuse} finished{}) in {}\n",
            self.spec.name,
            self.runs.len(),
            if damaged > 0 {
                format!(", {damaged} damaged")
            } else {
                String::new()
            },
            self.out.display()
        );
        if !self.spec.fixed.is_empty() {
            let set: Vec<String> = self
                .spec
                .fixed
                .iter()
                .map(|(k, v)| format!("{k} = {}", toml_text(v)))
                .collect();
            out.push_str(&format!("every run: {}\n", set.join(", ")));
        }
        for r in &self.runs {
            let values: Vec<String> = r
                .values
                .iter()
                .map(|(k, v)| format!("{k} = {}", toml_text(v)))
                .collect();
            let state = match r.state {
                RunState::New => "new",
                RunState::Resume => "resume",
                RunState::Reuse => "finished",
                RunState::Damaged => "damaged",
            };
            out.push_str(&format!(
                "{:>4}  {state:<8}  {}\n      {}\n",
                r.index,
                values.join(", "),
                r.dir.display()
            ));
            if let Some(d) = &r.damage {
                out.push_str(&format!("      {d}\n"));
            }
        }
        out
    }
}
