//! "Train the demo models": a fresh install can demo at once. The demo CNN and CRNN pair on the
//! embedded digits (`presets/train/demo-crnn-embedded.toml` and its CNN twin) is trained in the
//! background through the run launcher ([`RunQueue`], the same one the Train panel uses), into
//! the workbench's runs folder, named by their config (trained once, reused after). The Quiz
//! panel's class session and the Present panel both offer the button and use the pair when it is
//! done.

use super::task::{Task, take_done};
use super::widgets;
use crate::experiment::dataset::{self, Prepared};
use crate::experiment::preset::Preset;
use crate::experiment::queue::{QueueEvent, RunQueue, RunTarget, dir_by_config};
use crate::model::ModelKind;
use crate::train::{BackendChoice, TrainEvent};
use egui::RichText;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The CRNN of the pair; the CNN is the same preset with another model.
pub const DEMO_PRESET: &str = "presets/train/demo-crnn-embedded.toml";
/// The tag in the runs' folder names (`<preset>-demo-<hash>`).
const TAG: &str = "demo";

/// The demo pair's presets: the CNN, then the CRNN (`epochs` overrides the preset's, `limit`
/// keeps at most that many sequences per split).
pub fn demo_presets(epochs: Option<usize>, limit: Option<usize>) -> Result<Vec<Preset>, String> {
    let crnn = Preset::load(Path::new(DEMO_PRESET)).map_err(|e| e.to_string())?;
    let mut cnn = crnn.clone();
    cnn.name = "demo-cnn-embedded".into();
    cnn.description = "Quick demo: CNN on the embedded 10k MNIST digits (the CRNN's twin).".into();
    cnn.model
        .as_mut()
        .ok_or_else(|| format!("{DEMO_PRESET}: no [model] section"))?
        .kind = ModelKind::Cnn;
    let mut presets = vec![cnn, crnn];
    for p in &mut presets {
        if let (Some(e), Some(t)) = (epochs, p.train.as_mut()) {
            t.epochs = e;
        }
        if limit.is_some() {
            p.sequences.limit = limit;
        }
    }
    Ok(presets)
}

/// Training the demo pair in the background.
#[derive(Default)]
pub struct DemoTrainer {
    /// Epochs instead of the preset's (tests make them short).
    pub epochs: Option<usize>,
    /// At most this many sequences per split (tests).
    pub limit_sequences: Option<usize>,
    preparing: Option<Task<Result<Arc<Prepared>, String>>>,
    presets: Vec<Preset>,
    root: PathBuf,
    queue: Option<RunQueue>,
    /// The run training now: its name, and how far it is (0–1).
    current: Option<(String, f32)>,
    /// Runs of the pair finished (trained now, or found finished).
    done: Vec<PathBuf>,
    error: Option<String>,
    /// Counts the times the pair became ready; a view applies [`Self::ready`] when it changes.
    generation: u64,
}

impl DemoTrainer {
    /// Whether the pair is being prepared or trained.
    pub fn is_busy(&self) -> bool {
        self.preparing.is_some() || self.queue.as_ref().is_some_and(RunQueue::is_busy)
    }

    /// The pair's run folders once both are trained, with a number that changes every time they
    /// become ready (a view compares it with the last one it applied).
    pub fn ready(&self) -> Option<(u64, &[PathBuf])> {
        (self.generation > 0 && !self.is_busy()).then_some((self.generation, &self.done[..]))
    }

    /// The pair's run folders when they have become ready since the readiness `applied` (which
    /// this updates): a view calls it every frame and takes the pair up once.
    pub fn newly_ready(&self, applied: &mut u64) -> Option<Vec<PathBuf>> {
        let (generation, dirs) = self.ready()?;
        (generation != *applied).then(|| {
            *applied = generation;
            dirs.to_vec()
        })
    }

    /// The last error.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Where the pair's runs go under `root` (named by their config).
    pub fn run_dirs(&self, root: &Path) -> Result<Vec<PathBuf>, String> {
        Ok(demo_presets(self.epochs, self.limit_sequences)?
            .iter()
            .map(|p| dir_by_config(root, p, TAG))
            .collect())
    }

    /// Starts preparing the digits' sequences, then trains both runs one after the other.
    pub fn start(&mut self, ctx: &egui::Context, root: &Path) {
        if self.is_busy() {
            return;
        }
        self.error = None;
        self.done.clear();
        self.presets = match demo_presets(self.epochs, self.limit_sequences) {
            Ok(p) => p,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        self.root = root.to_path_buf();
        let preset = self.presets[1].clone();
        match Task::spawn(ctx, "demo-prepare", move || {
            dataset::prepare(&preset, None)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        }) {
            Ok(t) => self.preparing = Some(t),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Takes what the background work sent; never blocks. Called every frame by the views that
    /// show the button.
    pub fn poll(&mut self, ctx: &egui::Context) {
        if let Some(result) = take_done(&mut self.preparing) {
            match result.map_err(|e| e.to_string()).and_then(|r| r) {
                Ok(prepared) => {
                    let repaint = ctx.clone();
                    let mut queue = RunQueue::new(
                        BackendChoice::Auto,
                        Some(Arc::new(move || repaint.request_repaint())),
                    );
                    for p in &self.presets {
                        let target = RunTarget::ByConfig {
                            root: self.root.clone(),
                            tag: TAG.into(),
                        };
                        queue.push(p.clone(), target, prepared.clone());
                    }
                    self.queue = Some(queue);
                }
                Err(e) => self.error = Some(format!("Preparing the digits failed: {e}")),
            }
        }
        let Some(queue) = &mut self.queue else {
            return;
        };
        let mut ended = false;
        for event in queue.poll() {
            match event {
                QueueEvent::Started { dir, preset } => {
                    let _ = dir;
                    self.current = Some((preset.name.clone(), 0.0));
                }
                QueueEvent::Reused { dir } => self.done.push(dir),
                QueueEvent::NotStarted { name, error } => {
                    self.error = Some(format!("{name}: {error}"));
                }
                QueueEvent::Train { event, .. } => {
                    if let (TrainEvent::Step(s), Some((_, f))) = (&*event, &mut self.current) {
                        let epochs = self
                            .presets
                            .first()
                            .and_then(|p| p.train.as_ref())
                            .map_or(1, |t| t.epochs.max(1));
                        *f = ((s.epoch.saturating_sub(1)) as f32
                            + (s.step + 1) as f32 / s.steps_per_epoch.max(1) as f32)
                            / epochs as f32;
                    }
                }
                QueueEvent::Ended { dir, outcome } => {
                    self.current = None;
                    match outcome {
                        Ok(crate::train::engine::TrainOutcome::Finished { .. }) => {
                            self.done.push(dir)
                        }
                        Ok(_) => self.error = Some(format!("{}: stopped", dir.display())),
                        Err(e) => self.error = Some(format!("{}: {e}", dir.display())),
                    }
                }
            }
            ended = true;
        }
        if ended && !queue.is_busy() && !queue.is_winding_down() {
            self.queue = None;
            if self.done.len() == self.presets.len() {
                self.generation += 1;
            }
        }
    }

    /// The button, the progress while training, and what is ready.
    pub fn ui(&mut self, ui: &mut egui::Ui, root: &Path) {
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        ui.horizontal_wrapped(|ui| {
            let busy = self.is_busy();
            if ui
                .add_enabled(
                    !busy,
                    egui::Button::new("Train the demo models (CNN + CRNN on the embedded digits)"),
                )
                .on_hover_text(
                    "Trains the demo pair in the background (a few minutes on a laptop CPU) into \
                     the runs folder; both are used here when done. Runs already trained are reused.",
                )
                .clicked()
            {
                self.start(&ctx, root);
            }
            if self.preparing.is_some() {
                ui.spinner();
                ui.label("Preparing the digit sequences…");
            } else if busy {
                let done = self.done.len();
                let (name, f) = self
                    .current
                    .clone()
                    .unwrap_or_else(|| ("starting".into(), 0.0));
                let overall = (done as f32 + f) / self.presets.len().max(1) as f32;
                ui.add(
                    egui::ProgressBar::new(overall)
                        .desired_width(220.0)
                        .text(format!("{name}: {:.0} %", f * 100.0)),
                );
                ui.label(format!("{done} of {} trained", self.presets.len()));
            } else if self.generation > 0 {
                ui.label(RichText::new("The demo models are trained and in use.").weak());
            }
        });
        if let Some(e) = &self.error {
            widgets::error_text(ui, e.as_str());
        }
        if self.is_busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(200));
        }
    }
}
