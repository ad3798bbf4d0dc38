//! A run is a directory: the exact preset it ran (config + seed), metrics as JSON lines appended
//! as they happen, the latest checkpoint, and per-image test predictions.
//!
//! ```text
//! runs/<name>/
//!   config.toml        the preset with every override applied (data, occlusion, sequences, model, train)
//!   run.json           occlab version, backend, data folder, start time
//!   model.json         the model's Burn `Config` (what it was built as: kind, image size, classes)
//!   metrics.jsonl      {"kind":"step",…} and {"kind":"epoch",…} lines, then {"kind":"finished",…}
//!   checkpoint/        model.bpk + optimizer.bpk of the last finished epoch, epoch.json says which;
//!                      best-model.bpk: the best epoch's weights (by validation accuracy), when the
//!                      run holds out validation sequences
//!   predictions.csv    sequence,position,level,truth,predicted,probability (test split, last
//!                      epoch; the best epoch when the run validates)
//! ```

use super::preset::Preset;
use crate::metrics::ImagePrediction;
use crate::model::ModelConfig;
use crate::train::EpochRecord;
/// One line of `metrics.jsonl` (the engine's record; defined with it).
pub use crate::train::LogLine;
use crate::train::clip_eval::ClipEpochRecord;
use burn::config::Config;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `metrics.jsonl` as read by [`RunDir::read_log`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsLog {
    pub lines: Vec<LogLine>,
    /// Says that a torn last line was dropped (the file is left as it is until a resume rewrites it).
    pub torn: Option<String>,
}

/// The largest `metrics.jsonl` read (a long run logs a few MiB).
pub const MAX_METRICS_BYTES: u64 = 1 << 30;
/// The largest `predictions.csv`, `run.json` or `checkpoint/epoch.json` read.
pub const MAX_PREDICTIONS_BYTES: u64 = 1 << 30;
const MAX_SMALL_BYTES: u64 = 1 << 20;

/// Metadata written when a run starts.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunInfo {
    pub occlab_version: String,
    pub backend: String,
    pub backend_reason: String,
    pub data_dir: Option<PathBuf>,
    /// Seconds since the Unix epoch.
    pub started_unix: u64,
    /// Compute threads (the CPU backend's pool).
    pub threads: usize,
    /// The machine it trained on (where it started; sweeps report it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The Slurm job and array task it trained in (`123_4`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job: Option<String>,
    /// On a GPU: the Burn GPU features of the binary that trained it (`fusion`, `autotune`,
    /// `vulkan`), which decide its kernels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpu_features: Vec<String>,
    /// Fingerprint of the sequences it trained and was tested on
    /// ([`SequenceSet::fingerprint`](crate::sequence::builder::SequenceSet::fingerprint)); a
    /// resumed job must build the same (runs from before it was recorded have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequences: Option<String>,
}

/// This machine's name (`gethostname`), if it has one.
pub fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer outlives the call and its length is passed.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// The Slurm job this process runs in: `<array job>_<task>` for an array task, else the job id.
pub fn slurm_job() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
        (Some(j), Some(t)) => Some(format!("{j}_{t}")),
        _ => var("SLURM_JOB_ID"),
    }
}

/// An error reading or writing a run directory; names the file.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    /// `config.toml` cannot be read as a preset (the error names the file).
    #[error(transparent)]
    Preset(Box<super::preset::PresetError>),
}

impl From<super::preset::PresetError> for RunError {
    fn from(e: super::preset::PresetError) -> Self {
        RunError::Preset(Box::new(e))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a new run directory; refuses to reuse one that already holds a run.
    pub fn create(path: &Path, preset: &Preset) -> Result<Self, RunError> {
        Self::refuse_existing(path)?;
        std::fs::create_dir_all(path.join("checkpoint")).map_err(io(path))?;
        let run = RunDir {
            path: path.to_path_buf(),
        };
        let config = run.config_path();
        std::fs::write(&config, preset.to_toml()).map_err(io(&config))?;
        Ok(run)
    }

    /// An error if `path` already holds a run (a new run never overwrites one).
    pub fn refuse_existing(path: &Path) -> Result<(), RunError> {
        if path.join("config.toml").exists() {
            return Err(RunError::Format {
                path: path.to_path_buf(),
                message:
                    "already holds a run: pass --resume to continue it, or choose another --out"
                        .into(),
            });
        }
        Ok(())
    }

    /// Opens an existing run directory.
    pub fn open(path: &Path) -> Result<Self, RunError> {
        let run = RunDir {
            path: path.to_path_buf(),
        };
        if !run.config_path().exists() {
            return Err(RunError::Format {
                path: path.to_path_buf(),
                message: "not a run directory (no config.toml)".into(),
            });
        }
        Ok(run)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.toml")
    }
    pub fn model_config_path(&self) -> PathBuf {
        self.path.join("model.json")
    }
    pub fn metrics_path(&self) -> PathBuf {
        self.path.join("metrics.jsonl")
    }
    pub fn predictions_path(&self) -> PathBuf {
        self.path.join("predictions.csv")
    }
    pub fn model_path(&self) -> PathBuf {
        self.path.join("checkpoint/model.bpk")
    }
    pub fn optimizer_path(&self) -> PathBuf {
        self.path.join("checkpoint/optimizer.bpk")
    }
    /// The best epoch's weights (by validation accuracy), kept when the run validates.
    pub fn best_model_path(&self) -> PathBuf {
        self.path.join("checkpoint/best-model.bpk")
    }
    /// The weights a trained run is scored with: the best epoch's when kept, else the last.
    pub fn scored_model_path(&self) -> PathBuf {
        let best = self.best_model_path();
        if best.is_file() {
            best
        } else {
            self.model_path()
        }
    }
    fn checkpoint_epoch_path(&self) -> PathBuf {
        self.path.join("checkpoint/epoch.json")
    }

    /// The run's exact preset.
    pub fn preset(&self) -> Result<Preset, RunError> {
        Ok(Preset::load(&self.config_path())?)
    }

    /// Saves the model's config (Burn's `Config`, as JSON) beside the checkpoint.
    pub fn write_model_config(&self, config: &ModelConfig) -> Result<(), RunError> {
        let text = serde_json::to_string_pretty(config).expect("a model config serialises");
        write_atomic(&self.model_config_path(), text.as_bytes())
    }

    /// The model's saved config; `None` for runs made before runs kept it.
    pub fn model_config(&self) -> Result<Option<ModelConfig>, RunError> {
        let p = self.model_config_path();
        if !p.is_file() {
            return Ok(None);
        }
        ModelConfig::load(&p)
            .map(Some)
            .map_err(|e| RunError::Format {
                path: p,
                message: e.to_string(),
            })
    }

    /// The run's name (its folder name).
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }

    pub fn write_info(&self, info: &RunInfo) -> Result<(), RunError> {
        let p = self.path.join("run.json");
        std::fs::write(&p, serde_json::to_string_pretty(info).expect("serialises")).map_err(io(&p))
    }

    /// [`info`](Self::info), or `None` when the run has no `run.json` yet.
    pub fn info_if_any(&self) -> Result<Option<RunInfo>, RunError> {
        if !self.path.join("run.json").exists() {
            return Ok(None);
        }
        self.info().map(Some)
    }

    pub fn info(&self) -> Result<RunInfo, RunError> {
        let p = self.path.join("run.json");
        let text = crate::data::read_bounded_text(&p, MAX_SMALL_BYTES).map_err(io(&p))?;
        serde_json::from_str(&text).map_err(|e| RunError::Format {
            path: p,
            message: e.to_string(),
        })
    }

    /// Appends one line to `metrics.jsonl` and flushes it.
    pub fn append(&self, line: &LogLine) -> Result<(), RunError> {
        let p = self.metrics_path();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .map_err(io(&p))?;
        let mut text = serde_json::to_string(line).expect("serialises");
        text.push('\n');
        if crate::crashpoint::due("metrics-append") {
            let _ = f.write_all(&text.as_bytes()[..text.len() / 2]);
            crate::crashpoint::kill_now();
        }
        f.write_all(text.as_bytes()).map_err(io(&p))
    }

    /// Every line of `metrics.jsonl` (a torn last line from a crash is dropped: see
    /// [`Self::read_log`] for the note that says so).
    pub fn log(&self) -> Result<Vec<LogLine>, RunError> {
        Ok(self.read_log()?.lines)
    }

    /// Every line of `metrics.jsonl`, and a note when its last line was torn (cut short by a
    /// crash while it was appended: no final newline, not valid JSON) and dropped. Any other bad
    /// line is an error naming the file and the line.
    pub fn read_log(&self) -> Result<MetricsLog, RunError> {
        let p = self.metrics_path();
        let bytes = match crate::data::read_bounded(&p, MAX_METRICS_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(MetricsLog::default());
            }
            Err(e) => return Err(io(&p)(e)),
        };
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let text = std::str::from_utf8(&bytes[..complete]).map_err(|e| RunError::Format {
            path: p.clone(),
            message: format!("not UTF-8 text: {e}"),
        })?;
        let mut out = MetricsLog::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let l = serde_json::from_str(line).map_err(|e| RunError::Format {
                path: p.clone(),
                message: format!("line {}: {e}", i + 1),
            })?;
            out.lines.push(l);
        }
        let tail = &bytes[complete..];
        if !tail.is_empty() {
            match std::str::from_utf8(tail)
                .ok()
                .and_then(|t| serde_json::from_str::<LogLine>(t).ok())
            {
                // A whole record whose newline is missing: keep it.
                Some(l) => out.lines.push(l),
                None => {
                    out.torn = Some(format!(
                        "{}: dropped a torn last line ({} bytes, cut short while it was written)",
                        p.display(),
                        tail.len()
                    ))
                }
            }
        }
        Ok(out)
    }

    /// The epoch records of the log, in order.
    pub fn epochs(&self) -> Result<Vec<EpochRecord>, RunError> {
        Ok(self
            .log()?
            .into_iter()
            .filter_map(|l| {
                if let LogLine::Epoch(e) = l {
                    Some(*e)
                } else {
                    None
                }
            })
            .collect())
    }

    /// The clip records of the log (clip data only), in order.
    pub fn clip_epochs(&self) -> Result<Vec<ClipEpochRecord>, RunError> {
        Ok(self
            .log()?
            .into_iter()
            .filter_map(|l| match l {
                LogLine::Clips(c) => Some(*c),
                _ => None,
            })
            .collect())
    }

    /// Whether the log ends with a `finished` line.
    pub fn is_finished(&self) -> Result<bool, RunError> {
        Ok(matches!(self.log()?.last(), Some(LogLine::Finished { .. })))
    }

    /// Whether the folder is the kept record of a finished run rather than a run: no log, and
    /// its epochs in `epochs.jsonl` (the summaries committed under `docs/`, which the results
    /// tables read as finished runs; see `experiment::tables`). Copied into a report's runs
    /// folder, such a record is reused like a finished run, never trained again.
    pub fn is_kept_record(&self) -> Result<bool, RunError> {
        Ok(self.log()?.is_empty()
            && std::fs::metadata(self.path.join("epochs.jsonl")).is_ok_and(|m| m.len() > 0))
    }

    /// Drops log lines of epochs after `epoch` (a stopped run's partial epoch) so that a resumed
    /// run's log reads as if it had never stopped.
    pub fn truncate_log_after(&self, epoch: usize) -> Result<(), RunError> {
        let kept: Vec<LogLine> = self
            .log()?
            .into_iter()
            .filter(|l| l.epoch().is_some_and(|e| e <= epoch))
            .collect();
        let p = self.metrics_path();
        let mut text = String::new();
        for l in &kept {
            text.push_str(&serde_json::to_string(l).expect("serialises"));
            text.push('\n');
        }
        write_atomic(&p, text.as_bytes())
    }

    /// Starts writing a checkpoint: an empty `checkpoint/next/` folder (an unfinished one from
    /// a killed process is cleared first). Write [`CHECKPOINT_FILES`] into it, then call
    /// [`Self::mark_checkpoint`]. Until then the last complete checkpoint stays as it is.
    pub fn begin_checkpoint(&self) -> Result<PathBuf, RunError> {
        self.recover_checkpoint()?;
        let next = self.path.join("checkpoint/next");
        if next.exists() {
            std::fs::remove_dir_all(&next).map_err(io(&next))?;
        }
        std::fs::create_dir_all(&next).map_err(io(&next))?;
        Ok(next)
    }

    /// Makes the checkpoint written into `checkpoint/next/` the run's checkpoint after `epoch`,
    /// such that a crash at any moment leaves either the previous checkpoint or this one, never
    /// a mix or a half-written file:
    /// 1. every file of `next/` and its `epoch.json` are synced to disk;
    /// 2. `next/` is renamed `ready/` (the commit point: one atomic rename);
    /// 3. the files move from `ready/` into `checkpoint/`, `epoch.json` last, and `ready/` goes.
    ///
    /// A crash during 3 is finished by [`Self::recover_checkpoint`] (which resume calls).
    pub fn mark_checkpoint(&self, epoch: usize) -> Result<(), RunError> {
        let dir = self.path.join("checkpoint");
        let next = dir.join("next");
        for name in CHECKPOINT_FILES {
            let p = next.join(name);
            sync_file(&p)?;
        }
        let marker = next.join("epoch.json");
        std::fs::write(&marker, format!("{{\"epoch\": {epoch}}}\n")).map_err(io(&marker))?;
        sync_file(&marker)?;
        sync_dir(&next)?;
        let ready = dir.join("ready");
        std::fs::rename(&next, &ready).map_err(io(&ready))?;
        sync_dir(&dir)?;
        crate::crashpoint::point("checkpoint-ready");
        self.recover_checkpoint()
    }

    /// Finishes a checkpoint commit that a crash interrupted (a `checkpoint/ready/` folder: its
    /// files move into place), and clears an uncommitted `checkpoint/next/`. Does nothing to a
    /// run without either.
    pub fn recover_checkpoint(&self) -> Result<(), RunError> {
        let dir = self.path.join("checkpoint");
        let ready = dir.join("ready");
        if ready.is_dir() {
            for name in CHECKPOINT_FILES.iter().chain(&["epoch.json"]) {
                let from = ready.join(name);
                if from.exists() {
                    std::fs::rename(&from, dir.join(name)).map_err(io(&from))?;
                    if *name == CHECKPOINT_FILES[0] {
                        crate::crashpoint::point("checkpoint-moved");
                    }
                }
            }
            sync_dir(&dir)?;
            std::fs::remove_dir_all(&ready).map_err(io(&ready))?;
        }
        let next = dir.join("next");
        if next.is_dir() {
            std::fs::remove_dir_all(&next).map_err(io(&next))?;
        }
        Ok(())
    }

    /// The epoch of the last complete checkpoint, if any.
    pub fn checkpoint_epoch(&self) -> Result<Option<usize>, RunError> {
        let p = self.checkpoint_epoch_path();
        match crate::data::read_bounded_text(&p, MAX_SMALL_BYTES) {
            Ok(text) => {
                #[derive(serde::Deserialize)]
                struct Marker {
                    epoch: u32,
                }
                let m: Marker = serde_json::from_str(&text).map_err(|e| RunError::Format {
                    path: p.clone(),
                    message: format!("not a checkpoint marker {{\"epoch\": N}}: {e}"),
                })?;
                Ok(Some(m.epoch as usize))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&p)(e)),
        }
    }

    /// Writes the per-image test predictions.
    pub fn write_predictions(&self, preds: &[ImagePrediction]) -> Result<(), RunError> {
        let text = crate::csvfile::text(PREDICTIONS_HEADER, preds);
        write_atomic(&self.predictions_path(), text.as_bytes())
    }

    /// Reads `predictions.csv`.
    pub fn predictions(&self) -> Result<Vec<ImagePrediction>, RunError> {
        let p = self.predictions_path();
        let bytes = crate::data::read_bounded(&p, MAX_PREDICTIONS_BYTES).map_err(io(&p))?;
        crate::csvfile::parse(&bytes, &PREDICTIONS_HEADER, |row: &ImagePrediction| {
            if (0.0..=1.0).contains(&row.probability) {
                Ok(())
            } else {
                Err(format!(
                    "probability {} is not a number in 0–1",
                    row.probability
                ))
            }
        })
        .map_err(|e| RunError::Format {
            path: p.clone(),
            message: e.to_string(),
        })
    }
}

/// The columns of `predictions.csv` (the fields of [`ImagePrediction`], in order).
const PREDICTIONS_HEADER: [&str; 6] = [
    "sequence",
    "position",
    "level",
    "truth",
    "predicted",
    "probability",
];

/// The files of a checkpoint besides its `epoch.json`.
pub const CHECKPOINT_FILES: [&str; 2] = ["model.bpk", "optimizer.bpk"];

/// Writes a file through a temporary sibling that is synced to disk and renamed over it, so a
/// crash never leaves it half written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

fn sync_file(path: &Path) -> Result<(), RunError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

/// Syncs a folder so that the renames in it are on disk (a no-op where folders cannot be opened).
fn sync_dir(path: &Path) -> Result<(), RunError> {
    match File::open(path) {
        Ok(f) => f.sync_all().or(Ok(())),
        Err(_) => Ok(()),
    }
}

/// Every run directory directly under `root` (those with a `config.toml`), sorted by name.
pub fn list_runs(root: &Path) -> Vec<RunDir> {
    let mut runs: Vec<RunDir> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("config.toml").is_file())
        .map(|path| RunDir { path })
        .collect();
    runs.sort_by(|a, b| a.path.cmp(&b.path));
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_csv_keeps_its_format_and_names_a_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir {
            path: dir.path().to_path_buf(),
        };
        let preds = [
            ImagePrediction {
                sequence: 64,
                position: 0,
                level: 2,
                truth: 5,
                predicted: 3,
                probability: 0.172_9,
            },
            ImagePrediction {
                sequence: 64,
                position: 1,
                level: 0,
                truth: 6,
                predicted: 6,
                probability: 1.0,
            },
        ];
        run.write_predictions(&preds).unwrap();
        // The format people and older runs read: five decimals, no quotes.
        let text = std::fs::read_to_string(run.predictions_path()).unwrap();
        assert_eq!(
            text,
            "sequence,position,level,truth,predicted,probability\n\
             64,0,2,5,3,0.17290\n64,1,0,6,6,1.00000\n"
        );
        let back = run.predictions().unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back[0].sequence, back[0].predicted), (64, 3));
        assert!((back[0].probability - 0.1729).abs() < 1e-6);
        // A damaged row is named by file, line and field.
        std::fs::write(
            run.predictions_path(),
            text.replace("64,1,0,6,6", "64,1,x,6,6"),
        )
        .unwrap();
        let err = run.predictions().unwrap_err().to_string();
        assert!(
            err.contains("predictions.csv: line 3: level \"x\""),
            "{err}"
        );
        std::fs::write(run.predictions_path(), text.replace("1.00000", "1.5")).unwrap();
        let err = run.predictions().unwrap_err().to_string();
        assert!(
            err.ends_with("line 3: probability 1.5 is not a number in 0–1"),
            "{err}"
        );
    }
}
