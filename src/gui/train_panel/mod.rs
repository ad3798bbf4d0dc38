//! Train panel: choose models and hyperparameters, start training jobs on the data set and the
//! occlusion spec of the workbench, steer them (pause, resume, stop) and watch their curves; open
//! finished runs from disk and overlay them.
//!
//! Jobs run one after another through the library's run queue
//! ([`RunQueue`](crate::experiment::queue::RunQueue)). The data of a start is prepared once, on a
//! background thread, for all its models. Every figure drawn comes from [`RunSeries`] (the
//! library); this panel only routes events and draws. The form is in [`form`], the curves in
//! [`plots`].

mod controls;
mod form;
mod plots;

pub use form::TrainForm;

use super::task::{Task, take_done};
use super::widgets;
use super::workbench::{PanelId, Workbench, panel_heading};
use crate::experiment::dataset::{self, Prepared};
use crate::experiment::preset::Preset;
use crate::experiment::queue::{QueueEvent, RunQueue, RunTarget};
use crate::experiment::run::RunDir;
use crate::experiment::training::new_series;
use crate::train::Control;
use crate::train::series::{RunSeries, RunState};
use egui::Color32;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Width of the controls column.
const CONTROLS_WIDTH: f32 = 400.0;

/// One colour per run, in the order the runs were shown.
const RUN_COLORS: [Color32; 8] = [
    Color32::from_rgb(66, 133, 244),
    Color32::from_rgb(234, 67, 53),
    Color32::from_rgb(52, 168, 83),
    Color32::from_rgb(251, 140, 0),
    Color32::from_rgb(142, 36, 170),
    Color32::from_rgb(0, 172, 193),
    Color32::from_rgb(192, 202, 51),
    Color32::from_rgb(121, 85, 72),
];

/// Data being prepared for the presets of one start.
struct Preparing {
    task: Task<Result<Arc<Prepared>, String>>,
    presets: Vec<Preset>,
    /// The runs folder the runs go to (as it was when Start was pressed).
    root: PathBuf,
}

/// A run drawn in the plots.
struct ShownRun {
    path: PathBuf,
    series: RunSeries,
    color: Color32,
    /// Started in this session (else opened from disk).
    live: bool,
    visible: bool,
}

/// The Train panel.
#[derive(Default)]
pub struct TrainPanel {
    pub form: TrainForm,
    preparing: Option<Preparing>,
    /// The runs waiting and the one training now (the library's run launcher).
    queue: RunQueue,
    runs: Vec<ShownRun>,
    colors_used: usize,
    /// The runs folder as last listed, and its runs.
    disk: Option<(PathBuf, Vec<RunDir>)>,
    /// A listing of the runs folder on its way.
    listing: Option<(PathBuf, Task<Vec<RunDir>>)>,
    /// The runs folder's runs have changed since it was listed.
    disk_stale: bool,
    /// Runs on disk being opened (their logs read), in the order they were ticked.
    opening: VecDeque<(PathBuf, Task<Result<RunSeries, String>>)>,
    error: Option<String>,
    /// The last "Save plots as PNG": the files written, or the error.
    saved_plots: Option<Result<Vec<PathBuf>, String>>,
    /// Plots being written.
    saving: Option<Task<Result<Vec<PathBuf>, String>>>,
}

impl TrainPanel {
    /// Takes what the background work has sent: prepared data, job events; starts the next queued
    /// run when one ends. Called every frame, whichever panel is shown. Never blocks.
    pub fn poll(&mut self, ctx: &egui::Context) {
        if let Some(p) = &self.preparing {
            let result = p.task.poll().map(|r| {
                r.map_err(|_| "the data preparation thread stopped".to_string())
                    .and_then(|r| r)
            });
            if let Some(result) = result {
                let p = self.preparing.take().expect("checked above");
                match result {
                    Ok(prepared) => {
                        for preset in p.presets {
                            let target = RunTarget::Stamped(p.root.clone());
                            self.queue.push(preset, target, prepared.clone());
                        }
                    }
                    Err(e) => self.error = Some(format!("Preparing the sequences failed: {e}")),
                }
            }
        }
        if let Some((dir, task)) = &self.listing
            && let Some(result) = task.poll()
        {
            self.disk = Some((dir.clone(), result.unwrap_or_default()));
            self.listing = None;
        }
        if let Some(result) = take_done(&mut self.saving) {
            self.saved_plots = Some(result.map_err(|e| e.to_string()).and_then(|r| r));
        }
        while let Some(result) = self.opening.front().and_then(|(_, task)| task.poll()) {
            let (path, _) = self.opening.pop_front().expect("checked above");
            match result.map_err(|e| e.to_string()).and_then(|r| r) {
                Ok(series) => {
                    let color = self.next_color();
                    self.runs.push(ShownRun {
                        path,
                        series,
                        color,
                        live: false,
                        visible: true,
                    });
                }
                Err(e) => self.error = Some(format!("Cannot open the run: {e}")),
            }
        }
        if self.queue.notify.is_none() {
            let repaint = ctx.clone();
            self.queue.notify = Some(Arc::new(move || repaint.request_repaint()));
        }
        self.queue.backend = self.form.backend;
        for event in self.queue.poll() {
            match event {
                QueueEvent::Started { dir, preset } => {
                    let series = new_series(&preset.name, &preset);
                    let color = self.next_color();
                    self.runs.push(ShownRun {
                        path: dir,
                        series,
                        color,
                        live: true,
                        visible: true,
                    });
                    self.relist();
                }
                QueueEvent::NotStarted { error, .. } => {
                    self.error = Some(format!("Cannot create the run: {error}"));
                }
                QueueEvent::Train { dir, event } => {
                    if let Some(r) = self.runs.iter_mut().find(|r| r.path == dir) {
                        r.series.apply(&event);
                    }
                }
                QueueEvent::Ended { dir, .. } => {
                    if let Some(r) = self.runs.iter_mut().find(|r| r.path == dir)
                        && !r.series.state.is_over()
                    {
                        r.series.state =
                            RunState::Failed("the training thread ended without a word".into());
                    }
                    self.relist(); // relist: the run's files have changed
                }
                QueueEvent::Reused { .. } => {}
            }
        }
    }

    /// Whether the runs folder is being listed (or will be, as a job has ended), a run on disk
    /// opened, or plots written.
    pub fn is_listing(&self) -> bool {
        self.listing.is_some()
            || !self.opening.is_empty()
            || self.saving.is_some()
            || self.queue.is_winding_down()
    }

    /// Whether a job is training, queued or being prepared.
    pub fn is_busy(&self) -> bool {
        self.queue.is_busy() || self.preparing.is_some()
    }

    /// The series of every run shown (live and opened), in the order they were added.
    pub fn series(&self) -> impl Iterator<Item = &RunSeries> {
        self.runs.iter().map(|r| &r.series)
    }

    /// The run directory of the job training now.
    pub fn active_run(&self) -> Option<&Path> {
        self.queue.active_run()
    }

    fn next_color(&mut self) -> Color32 {
        let c = RUN_COLORS[self.colors_used % RUN_COLORS.len()];
        self.colors_used += 1;
        c
    }

    /// Prepares the data for every selected model on a background thread; the runs are queued
    /// when it is ready.
    fn start(&mut self, workbench: &Workbench, ctx: &egui::Context) {
        self.error = None;
        let Some(data) = &workbench.data else {
            self.error = Some("No data set loaded: choose one on the Data panel.".into());
            return;
        };
        let models = self.form.models();
        if models.is_empty() {
            self.error = Some("Choose at least one model.".into());
            return;
        }
        let presets: Vec<Preset> = models
            .iter()
            .map(|&k| self.form.preset(k, workbench, &data.set))
            .collect();
        let preset = presets[0].clone();
        let images = data.set.clone();
        let load_time = data.load_time;
        let data_dir = workbench.data_dir.clone();
        let task = Task::spawn(ctx, "prepare", move || {
            dataset::prepare_with_dir(&preset, images, load_time, data_dir.as_deref())
                .map(Arc::new)
                .map_err(|e| e.to_string())
        });
        match task {
            Ok(task) => {
                self.preparing = Some(Preparing {
                    task,
                    presets,
                    root: workbench.runs_dir(),
                })
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Lists the runs folder again (its runs have changed).
    fn relist(&mut self) {
        self.disk_stale = true;
        self.listing = None;
    }

    fn send(&mut self, control: Control) {
        self.queue.send(control);
    }

    /// Stops the job training now and drops the queue.
    fn stop_all(&mut self) {
        self.queue.stop_all();
        self.preparing = None;
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        self.poll(ui.ctx());
        egui::ScrollArea::vertical()
            .id_salt("train_scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                panel_heading(
                    ui,
                    PanelId::Train,
                    "Train models on the occluded sequences and watch them learn.",
                );
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        ui.set_width(CONTROLS_WIDTH);
                        self.controls_ui(ui, workbench);
                    });
                    ui.add_space(24.0);
                    ui.vertical(|ui| {
                        ui.set_width(ui.available_width().max(300.0));
                        let root = workbench.runs_dir();
                        ui.columns(2, |cols| {
                            self.status_ui(&mut cols[0]);
                            self.disk_ui(&mut cols[1], &root);
                        });
                        self.plots_ui(ui, &root);
                    });
                });
            });
    }

    /// Writes the shown runs' curves as PNGs into `<runs folder>/plots/`, on a background
    /// thread.
    fn save_plots(&mut self, ctx: &egui::Context, root: &Path) {
        let series: Vec<RunSeries> = self
            .runs
            .iter()
            .filter(|r| r.visible)
            .map(|r| r.series.clone())
            .collect();
        let dir = root.join("plots");
        let task = Task::spawn(ctx, "save-plots", move || {
            let series: Vec<&RunSeries> = series.iter().collect();
            crate::experiment::plots::write_series_pngs(&series, &dir).map_err(|e| e.to_string())
        });
        match task {
            Ok(task) => self.saving = Some(task),
            Err(e) => self.saved_plots = Some(Err(e.to_string())),
        }
    }
}
