//! "Reproduce the papers", a section of the Results panel: pick tables and a budget, start the
//! reproduction on its background thread ([`crate::experiment::reproduce`]), watch its progress,
//! stop it (rerun to resume), and open the report it writes.

use crate::experiment::reproduce::{
    Budget, ReproduceEvent, ReproduceJob, ReproduceOptions, RunOutcome, RunState, TableId,
    reproduce_in_background,
};
use crate::train::{Control, TrainEvent};
use egui::RichText;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Progress of the job, as its events told it.
#[derive(Default)]
struct Progress {
    total: usize,
    reused: usize,
    /// (index, run name) of the run in progress.
    current: Option<(usize, String)>,
    /// (epoch, step + 1, steps per epoch, images/s) of the run in progress.
    step: Option<(usize, usize, usize, f64)>,
    /// One line per finished run.
    log: Vec<(String, bool)>,
    report: Option<PathBuf>,
    error: Option<String>,
    stopped: bool,
    finished: bool,
}

/// The section's state.
pub struct ReproduceSection {
    /// Which tables, in [`TableId::ALL`] order.
    pub chosen: [bool; TableId::ALL.len()],
    pub budget: Budget,
    /// The report folder (runs in `<out>/runs`).
    pub out: String,
    /// The presets folder the tables' presets are read from.
    pub presets: PathBuf,
    job: Option<ReproduceJob>,
    progress: Progress,
    open_error: Option<String>,
}

impl Default for ReproduceSection {
    fn default() -> Self {
        ReproduceSection {
            chosen: [
                true, true, true, false, false, false, false, false, false, false,
            ],
            budget: Budget::Quick,
            out: "report".into(),
            presets: crate::experiment::reproduce::default_presets_dir(),
            job: None,
            progress: Progress::default(),
            open_error: None,
        }
    }
}

impl ReproduceSection {
    /// Whether a reproduction is running.
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// Why the last reproduction failed, if it did.
    pub fn error(&self) -> Option<&str> {
        self.progress.error.as_deref()
    }

    /// The report written by the last reproduction.
    pub fn report(&self) -> Option<&Path> {
        self.progress.report.as_deref()
    }

    /// The runs folder of the report folder (what the tables above should show afterwards).
    pub fn runs_root(&self) -> PathBuf {
        Path::new(self.out.trim()).join("runs")
    }

    /// Starts a reproduction of the chosen tables.
    pub fn start(&mut self, ctx: &egui::Context, data_dir: Option<PathBuf>) {
        let tables: Vec<TableId> = TableId::ALL
            .into_iter()
            .zip(self.chosen)
            .filter_map(|(t, on)| on.then_some(t))
            .collect();
        if tables.is_empty() {
            self.progress.error = Some("choose at least one table".into());
            return;
        }
        let mut opts = ReproduceOptions::new(tables, self.budget, PathBuf::from(self.out.trim()));
        opts.data_dir = data_dir;
        opts.presets = self.presets.clone();
        let ctx = ctx.clone();
        let notify: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
        self.progress = Progress::default();
        self.job = Some(reproduce_in_background(
            opts,
            crate::report::write_report,
            Some(notify),
        ));
    }

    /// Drains the job's events; returns true when the job ended this frame.
    pub fn poll(&mut self) -> bool {
        let Some(job) = &self.job else { return false };
        // Whether the thread had returned is read before draining: everything it sent is then in
        // the channel, so its last events (the last run's end, the report) are never dropped with
        // the job.
        let ended = job.handle.is_finished();
        let p = &mut self.progress;
        while let Ok(event) = job.events.try_recv() {
            match event {
                ReproduceEvent::Planned { runs } => {
                    p.total = runs.len();
                    p.reused = runs.iter().filter(|r| r.1 == RunState::Reuse).count();
                }
                ReproduceEvent::RunStarted { index, name, .. } => {
                    p.current = Some((index, name));
                    p.step = None;
                }
                ReproduceEvent::Train { event, .. } => {
                    if let TrainEvent::Step(s) = *event {
                        p.step =
                            Some((s.epoch, s.step + 1, s.steps_per_epoch, s.images_per_second));
                    }
                }
                ReproduceEvent::RunEnded {
                    name,
                    outcome,
                    seconds,
                    ..
                } => {
                    let (text, ok) = match outcome {
                        RunOutcome::Reused => ("reused".to_string(), true),
                        RunOutcome::Finished { test_accuracy } => {
                            (format!("{:.2} %", test_accuracy * 100.0), true)
                        }
                        RunOutcome::Failed(e) => (format!("failed: {e}"), false),
                        RunOutcome::Stopped => ("stopped".to_string(), true),
                        RunOutcome::NotRun => ("not run".to_string(), false),
                    };
                    p.log.push((format!("{name}: {text} ({seconds:.0} s)"), ok));
                }
                ReproduceEvent::ReportWritten { markdown, .. } => p.report = Some(markdown),
                ReproduceEvent::Stopped => p.stopped = true,
            }
        }
        if ended {
            let job = self.job.take().expect("checked above");
            match job.handle.join() {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => self.progress.error = Some(e),
                Err(_) => self.progress.error = Some("the reproduce thread panicked".into()),
            }
            self.progress.finished = true;
            return true;
        }
        false
    }

    /// Asks the job to stop after the current training step.
    pub fn stop(&self) {
        if let Some(job) = &self.job {
            let _ = job.control.send(Control::Stop);
        }
    }

    /// Draws the section; returns true when a reproduction ended this frame (the caller rereads
    /// the runs).
    pub fn ui(&mut self, ui: &mut egui::Ui, data_dir: Option<PathBuf>) -> bool {
        let ended = self.poll();
        let running = self.is_running();
        ui.add_enabled_ui(!running, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label("Tables");
                for (t, on) in TableId::ALL.iter().zip(self.chosen.iter_mut()) {
                    ui.checkbox(on, t.name()).on_hover_text(t.title());
                }
            });
            ui.horizontal(|ui| {
                ui.label("Budget");
                for b in [Budget::Quick, Budget::Full, Budget::Smoke] {
                    ui.radio_value(&mut self.budget, b, b.name());
                }
                ui.label("Report folder");
                let edit = ui.add(
                    egui::TextEdit::singleline(&mut self.out)
                        .desired_width(220.0)
                        .font(egui::TextStyle::Monospace),
                );
                super::widgets::accessible_name(ui, &edit, "Report folder");
            });
            ui.label(RichText::new(budget_hint(self.budget)).weak());
        });
        ui.horizontal(|ui| {
            if running {
                if ui.button("Stop reproduction").clicked() {
                    self.stop();
                }
            } else if ui.button("Start reproduction").clicked() {
                self.start(ui.ctx(), data_dir);
            }
            if let Some(report) = self.progress.report.clone() {
                let html = report.with_extension("html");
                if ui.button("Open report").clicked() {
                    self.open_error = open_in_browser(&html).err();
                }
                ui.label(RichText::new(report.display().to_string()).monospace());
            }
        });
        if let Some(e) = &self.open_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        let p = &self.progress;
        if p.total > 0 {
            let done = p.log.len();
            ui.add(
                egui::ProgressBar::new(done as f32 / p.total as f32)
                    .text(format!("{done} of {} runs ({} reused)", p.total, p.reused))
                    .desired_width(480.0),
            );
        }
        if running && let Some((index, name)) = &p.current {
            let step = p
                .step
                .map_or_else(String::new, |(epoch, step, steps, ips)| {
                    format!(" — epoch {epoch}, step {step}/{steps}, {ips:.0} images/s")
                });
            ui.label(format!("run {}: {name}{step}", index + 1));
        }
        if p.stopped {
            ui.label("Stopped: start again to resume (finished runs are reused).");
        }
        if let Some(e) = &p.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if !p.log.is_empty() {
            egui::CollapsingHeader::new(format!("Runs ({})", p.log.len()))
                .id_salt("reproduce_log")
                .show(ui, |ui| {
                    for (line, ok) in &p.log {
                        if *ok {
                            ui.label(RichText::new(line).monospace());
                        } else {
                            ui.colored_label(ui.visuals().error_fg_color, line);
                        }
                    }
                });
        }
        ended
    }
}

fn budget_hint(b: Budget) -> &'static str {
    match b {
        Budget::Quick => {
            "quick: data subsets, at most 2 epochs — minutes on a CPU; says so on every table"
        }
        Budget::Full => {
            "full: whole data sets, trained to convergence (validation split, early stopping) — hours on a CPU, use a GPU"
        }
        Budget::Smoke => "smoke: tiny subsets, 1 epoch — checks that everything runs",
    }
}

/// Opens a file in the desktop's browser (`xdg-open`, `open` on macOS).
fn open_in_browser(path: &Path) -> Result<(), String> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(path)
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("{opener} {}: {e}", path.display()))
}
