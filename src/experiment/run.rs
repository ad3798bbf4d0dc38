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
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Metadata written when a run starts.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunInfo {
    pub occlab_version: String,
    pub backend: String,
    pub backend_reason: String,
    pub data_dir: Option<PathBuf>,
    /// Seconds since the Unix epoch.
    pub started_unix: u64,
    pub threads: usize,
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
        Preset::load(&self.config_path()).map_err(|e| RunError::Format {
            path: self.config_path(),
            message: e.to_string(),
        })
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

    pub fn info(&self) -> Result<RunInfo, RunError> {
        let p = self.path.join("run.json");
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
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
        f.write_all(text.as_bytes()).map_err(io(&p))
    }

    /// Every line of `metrics.jsonl` (a torn last line from a crash is ignored).
    pub fn log(&self) -> Result<Vec<LogLine>, RunError> {
        let p = self.metrics_path();
        let f = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&p)(e)),
        };
        let lines: Vec<String> = BufReader::new(f)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(io(&p))?;
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_str(line) {
                Ok(l) => out.push(l),
                Err(_) if i + 1 == lines.len() => {} // torn final line
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

    /// Records that the checkpoint files hold the state after `epoch`.
    pub fn mark_checkpoint(&self, epoch: usize) -> Result<(), RunError> {
        write_atomic(
            &self.checkpoint_epoch_path(),
            format!("{{\"epoch\": {epoch}}}\n").as_bytes(),
        )
    }

    /// The epoch of the last complete checkpoint, if any.
    pub fn checkpoint_epoch(&self) -> Result<Option<usize>, RunError> {
        let p = self.checkpoint_epoch_path();
        match std::fs::read_to_string(&p) {
            Ok(text) => {
                let v: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| RunError::Format {
                        path: p.clone(),
                        message: e.to_string(),
                    })?;
                Ok(v["epoch"].as_u64().map(|e| e as usize))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&p)(e)),
        }
    }

    /// Writes the per-image test predictions.
    pub fn write_predictions(&self, preds: &[ImagePrediction]) -> Result<(), RunError> {
        let mut text = String::from("sequence,position,level,truth,predicted,probability\n");
        for p in preds {
            text.push_str(&format!(
                "{},{},{},{},{},{:.5}\n",
                p.sequence, p.position, p.level, p.truth, p.predicted, p.probability
            ));
        }
        write_atomic(&self.predictions_path(), text.as_bytes())
    }

    /// Reads `predictions.csv`.
    pub fn predictions(&self) -> Result<Vec<ImagePrediction>, RunError> {
        let p = self.predictions_path();
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        let bad = |line: usize, m: &str| RunError::Format {
            path: p.clone(),
            message: format!("line {line}: {m}"),
        };
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 6 {
                return Err(bad(i + 1, "expected 6 fields"));
            }
            let num = |k: usize| {
                f[k].trim()
                    .parse::<f64>()
                    .map_err(|_| bad(i + 1, "not a number"))
            };
            out.push(ImagePrediction {
                sequence: num(0)? as u32,
                position: num(1)? as u16,
                level: num(2)? as u8,
                truth: num(3)? as u16,
                predicted: num(4)? as u16,
                probability: num(5)? as f32,
            });
        }
        Ok(out)
    }
}

/// Writes a file through a temporary sibling and a rename, so a crash never leaves it half written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
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
