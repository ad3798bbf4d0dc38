//! The Train panel's left and top parts: the form's controls (models, sequences, hyperparameters,
//! start / pause / stop), the status of the run training now, and the runs on disk to overlay.

use super::form::{
    backend_title, clip_options_ui, library_title, ordering_title, paper_b_help, precision_title,
    resnet_options_ui,
};
use super::{TrainPanel, widgets};
use crate::experiment::preset::OrderingSpec;
use crate::experiment::run::list_runs;
use crate::experiment::training::run_series;
use crate::gui::task::Task;
use crate::gui::workbench::{LibraryChoice, Workbench};
use crate::model::{ModelKind, Precision};
use crate::train::series::{RunSeries, RunState, format_duration};
use crate::train::{BackendChoice, Control};
use egui::RichText;
use std::path::Path;

impl TrainPanel {
    pub(super) fn controls_ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        let classes = workbench
            .data
            .as_ref()
            .map(|d| d.set.class_names.clone())
            .unwrap_or_default();
        let form = &mut self.form;

        widgets::section(ui, "Models");
        egui::Grid::new("train_models")
            .num_columns(3)
            .spacing([16.0, 6.0])
            .show(ui, |ui| {
                for (k, kind) in ModelKind::ALL.iter().enumerate() {
                    ui.checkbox(&mut form.selected[k], kind.to_string());
                    if k % 3 == 2 {
                        ui.end_row();
                    }
                }
            });
        ui.label(
            RichText::new("Paper B: residual networks (any sequence data, made for clips)").weak(),
        );
        ui.horizontal_wrapped(|ui| {
            for (k, kind) in ModelKind::PAPER_B.iter().enumerate() {
                ui.checkbox(&mut form.selected_b[k], kind.to_string())
                    .on_hover_text(paper_b_help(*kind));
            }
        });
        if form.selected_b.iter().any(|s| *s) {
            resnet_options_ui(ui, form, workbench);
        }

        widgets::section(ui, "Sequences");
        match &workbench.data {
            Some(d) => ui.label(
                RichText::new(format!(
                    "{}, occluded as set on the Occlusion panel ({} levels)",
                    d.set.name,
                    workbench.spec.num_levels()
                ))
                .weak(),
            ),
            None => ui.label(RichText::new("No data set loaded yet.").weak()),
        };
        let clips = workbench.data.as_ref().is_some_and(|d| d.source.is_clips());
        let draft = &mut workbench.sequences;
        egui::Grid::new("train_sequences")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                if clips {
                    clip_options_ui(ui, draft);
                    return;
                }
                let l = ui.label("Patterns");
                let fits = LibraryChoice::for_classes(&classes);
                let current = draft.choice(&classes);
                let text = if draft.library.is_none() {
                    format!("{} (fits the data)", current.title())
                } else {
                    current.title().to_string()
                };
                egui::ComboBox::from_id_salt("train_library")
                    .selected_text(text)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut draft.library, None, "Fits the data");
                        for lib in LibraryChoice::GENERATED {
                            ui.selectable_value(&mut draft.library, Some(lib), lib.title());
                        }
                        if current == LibraryChoice::Custom {
                            ui.selectable_value(
                                &mut draft.library,
                                Some(LibraryChoice::Custom),
                                LibraryChoice::Custom.title(),
                            );
                        }
                    })
                    .response
                    .labelled_by(l.id)
                    .on_hover_text(format!(
                        "The Patterns panel designs and previews the same library; {} fits \
                         this data set",
                        fits.title()
                    ));
                ui.end_row();
                if draft.designed(&classes) {
                    ui.label("");
                    ui.label(format!(
                        "{} — T = {}, seed {} (from the Patterns panel)",
                        library_title(&draft.spec(&classes, false).patterns),
                        draft.t,
                        draft.seed
                    ));
                    ui.end_row();
                }
                let l = ui.label("Length T");
                ui.add(egui::DragValue::new(&mut draft.t).range(2..=30))
                    .labelled_by(l.id);
                ui.end_row();
                widgets::combo_row(
                    ui,
                    "Order",
                    "train_ordering",
                    &mut draft.ordering,
                    [OrderingSpec::Patterned, OrderingSpec::Random],
                    ordering_title,
                );
                let l = ui.label("Sequence seed");
                ui.add(egui::DragValue::new(&mut draft.seed))
                    .labelled_by(l.id);
                ui.end_row();
            });

        widgets::section(ui, "Hyperparameters");
        egui::Grid::new("train_hyper")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                let c = &mut form.config;
                let l = ui.label("Epochs");
                ui.add(egui::DragValue::new(&mut c.epochs).range(1..=1000))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Batch size");
                ui.add(egui::DragValue::new(&mut c.batch_size).range(1..=4096))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Learning rate");
                ui.add(
                    egui::DragValue::new(&mut c.learning_rate)
                        .range(1e-6..=1.0)
                        .speed(1e-4)
                        .max_decimals(6),
                )
                .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Weight decay");
                ui.add(
                    egui::DragValue::new(&mut c.weight_decay)
                        .range(0.0..=1.0)
                        .speed(1e-5)
                        .max_decimals(6),
                )
                .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Seed");
                ui.add(egui::DragValue::new(&mut c.seed)).labelled_by(l.id);
                ui.end_row();
                validation_rows(ui, c);
                widgets::optional_count_row(
                    ui,
                    &mut workbench.sequences.limit,
                    "Limit per split",
                    "Keep at most this many sequences of each split: quick runs",
                    "Sequences per split",
                    256,
                    1..=1_000_000,
                );
                widgets::combo_row(
                    ui,
                    "Backend",
                    "train_backend",
                    &mut form.backend,
                    [
                        BackendChoice::Auto,
                        BackendChoice::Wgpu,
                        BackendChoice::Flex,
                    ],
                    backend_title,
                );
                widgets::combo_row(
                    ui,
                    "Precision",
                    "train_precision",
                    &mut form.config.precision,
                    [Precision::F32, Precision::Mixed],
                    precision_title,
                );
                let l = ui.label("Runs folder");
                ui.add(egui::TextEdit::singleline(&mut workbench.runs_root).desired_width(200.0))
                    .labelled_by(l.id);
                ui.end_row();
            });

        ui.add_space(12.0);
        let paused = self
            .active_series()
            .is_some_and(|s| s.state == RunState::Paused);
        ui.horizontal(|ui| {
            let can_start = workbench.data.is_some() && self.preparing.is_none();
            if ui
                .add_enabled(
                    can_start,
                    egui::Button::new(RichText::new("Start").strong()),
                )
                .clicked()
            {
                self.start(workbench, ui.ctx());
            }
            let running = self.queue.active_run().is_some();
            let (text, control) = if paused {
                ("Resume", Control::Resume)
            } else {
                ("Pause", Control::Pause)
            };
            if ui.add_enabled(running, egui::Button::new(text)).clicked() {
                self.send(control);
            }
            if ui
                .add_enabled(self.is_busy(), egui::Button::new("Stop"))
                .clicked()
            {
                self.stop_all();
            }
        });
        ui.label(
            RichText::new("Several models train one after another (queued), each in runs/<name>/.")
                .weak(),
        );
        if let Some(e) = &self.error {
            widgets::error_text(ui, e.clone());
        }
    }

    pub(super) fn active_series(&self) -> Option<&RunSeries> {
        let path = self.queue.active_run()?;
        self.runs.iter().find(|r| r.path == path).map(|r| &r.series)
    }

    /// The state of the current (or last) live run and of the queue.
    pub(super) fn status_ui(&self, ui: &mut egui::Ui) {
        widgets::section(ui, "Status");
        if let Some(p) = &self.preparing {
            ui.label(format!(
                "Preparing the sequences for {} run(s)… {:.1} s",
                p.presets.len(),
                p.task.elapsed().as_secs_f64()
            ));
        }
        let shown = self
            .active_series()
            .or_else(|| self.runs.iter().rev().find(|r| r.live).map(|r| &r.series));
        let Some(s) = shown else {
            if self.preparing.is_none() {
                ui.label(RichText::new("Nothing trained in this session yet.").weak());
            }
            self.shown_runs_ui(ui);
            return;
        };
        ui.label(RichText::new(format!("{} — {}", s.name, s.model)).strong());
        egui::Grid::new("train_status")
            .num_columns(2)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                ui.label("State");
                let state = match &s.state {
                    RunState::Finished {
                        test_accuracy,
                        wall_seconds,
                    } => format!(
                        "finished: test accuracy {:.1} % in {}",
                        test_accuracy * 100.0,
                        format_duration(*wall_seconds)
                    ),
                    RunState::Stopped { after_epoch } => {
                        format!("stopped after epoch {after_epoch}")
                    }
                    other => other.word().to_string(),
                };
                ui.label(format!("state: {state}"));
                ui.end_row();
                ui.label("Backend");
                ui.label(s.backend.as_deref().unwrap_or("…"));
                ui.end_row();
                ui.label("Progress");
                ui.label(match s.position() {
                    Some((e, k, n)) => format!("epoch {e}/{}, step {k}/{n}", s.total_epochs),
                    None => "waiting for the first step".into(),
                });
                ui.end_row();
                ui.label("Steps");
                ui.label(format!("steps: {}", s.steps.len()));
                ui.end_row();
                ui.label("Speed");
                ui.label(
                    s.images_per_second()
                        .map_or("…".into(), |r| format!("{r:.0} images/s")),
                );
                ui.end_row();
                ui.label("Time left");
                ui.label(s.eta_seconds().map_or("…".into(), format_duration));
                ui.end_row();
                if let Some(best) = best_epoch_text(s) {
                    // Early stopping keeps this epoch's weights; its test figure is the result.
                    ui.label("Best epoch");
                    ui.label(best);
                    ui.end_row();
                }
                if let Some(c) = s.clips.last() {
                    // Clip data: paper B's measure, per video after averaging its subsequences.
                    ui.label("Test videos");
                    ui.label(format!(
                        "{:.1} % right ({} of {}) after epoch {}; subsequences {:.1} %",
                        c.test.videos.accuracy().unwrap_or(0.0) * 100.0,
                        c.test.videos.correct,
                        c.test.videos.total,
                        c.epoch,
                        c.test.subsequences.accuracy().unwrap_or(0.0) * 100.0
                    ));
                    ui.end_row();
                }
            });
        if let RunState::Failed(message) = &s.state {
            widgets::error_text(ui, format!("Training failed: {message}"));
        }
        let names: Vec<String> = self
            .queue
            .waiting()
            .filter_map(|p| p.model.as_ref().map(|m| m.kind.to_string()))
            .collect();
        if !names.is_empty() {
            ui.label(format!("Queued next: {}", names.join(", ")));
        }
    }

    /// One line per run in the plots: its colour, model, state and last test accuracy.
    pub(super) fn shown_runs_ui(&self, ui: &mut egui::Ui) {
        for r in self.runs.iter().filter(|r| r.visible) {
            let s = &r.series;
            let mut accuracy = s.test_accuracy().last().map_or("no epoch yet".into(), |p| {
                format!("test {:.1} %", p[1] * 100.0)
            });
            // With a validation split the run's result is its best epoch, not its latest.
            if let Some(best) = best_epoch_text(s) {
                accuracy.push_str("; ");
                accuracy.push_str(&best);
            }
            widgets::swatch(
                ui,
                r.color,
                format!("{}: {}, {}, {accuracy}", s.name, s.model, s.state.word()),
            );
        }
    }

    /// The runs folder's runs, with a checkbox each to overlay them.
    pub(super) fn disk_ui(&mut self, ui: &mut egui::Ui, root: &Path) {
        widgets::section(ui, "Runs on disk");
        let root = root.to_path_buf();
        let stale = self.disk_stale || self.disk.as_ref().is_none_or(|(r, _)| *r != root);
        let refresh = ui.horizontal(|ui| ui.button("Refresh").clicked()).inner;
        let listing = self.listing.as_ref().is_some_and(|(r, _)| *r == root);
        if (stale && !listing) || refresh {
            let dir = root.clone();
            match Task::spawn(ui.ctx(), "list-runs", move || list_runs(&dir)) {
                Ok(task) => {
                    self.listing = Some((root.clone(), task));
                    self.disk_stale = false;
                }
                Err(e) => self.error = Some(e.to_string()),
            }
        }
        let runs = self
            .disk
            .as_ref()
            .filter(|(r, _)| *r == root)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        if runs.is_empty() {
            ui.label(RichText::new(format!("No runs in {}", root.display())).weak());
            return;
        }
        egui::ScrollArea::vertical()
            .id_salt("train_disk_runs")
            .max_height(220.0)
            .show(ui, |ui| {
                for run in runs {
                    let index = self.runs.iter().position(|r| r.path == run.path);
                    let mut on = index.is_some_and(|i| self.runs[i].visible);
                    let mut text = RichText::new(run.name());
                    if let Some(i) = index {
                        text = text.color(self.runs[i].color);
                    }
                    if !ui.checkbox(&mut on, text).changed() {
                        continue;
                    }
                    match (index, on) {
                        (Some(i), _) if self.runs[i].live => self.runs[i].visible = on,
                        (Some(i), false) => {
                            self.runs.remove(i);
                        }
                        (Some(i), true) => self.runs[i].visible = true,
                        (None, true) => {
                            let dir = run.clone();
                            let task = Task::spawn(ui.ctx(), "open-run", move || {
                                run_series(&dir).map_err(|e| e.to_string())
                            });
                            match task {
                                Ok(task) => self.opening.push_back((run.path.clone(), task)),
                                Err(e) => self.error = Some(e.to_string()),
                            }
                        }
                        (None, false) => {}
                    }
                }
            });
    }
}

/// "best epoch N: validation …, test …" for a run that validates: its result so far.
fn best_epoch_text(s: &RunSeries) -> Option<String> {
    let best = s.best_epoch()?;
    let v = best.validation.as_ref()?;
    Some(format!(
        "best epoch {}: validation {:.1} %, test {:.1} %",
        best.epoch,
        v.accuracy() * 100.0,
        best.test.accuracy() * 100.0
    ))
}

/// Grid rows for converged training: a share of the training sequences held out for validation
/// (it chooses the best epoch, whose weights and test figures the run keeps) and, with it, early
/// stopping after a number of epochs without a better validation accuracy. Ends both rows.
fn validation_rows(ui: &mut egui::Ui, c: &mut crate::train::TrainConfig) {
    let mut on = c.validates();
    ui.checkbox(&mut on, "Validation split").on_hover_text(
        "Hold out this share of the training sequences (seeded) and score it after every \
         epoch: the best epoch by validation is the run's result",
    );
    // Shown in whole percent; a preset's share (0.125, say) is kept until the value is dragged.
    let mut percent = (c.validation_fraction * 100.0).round().clamp(1.0, 90.0) as usize;
    if !c.validates() {
        percent = 10; // the `full` budget's share
    }
    let r = ui.add_enabled(
        on,
        egui::DragValue::new(&mut percent)
            .range(1..=90)
            .suffix(" %"),
    );
    widgets::accessible_name(ui, &r, "Validation share");
    ui.end_row();
    if !on {
        c.validation_fraction = 0.0;
    } else if !c.validates() || r.changed() {
        c.validation_fraction = percent as f64 / 100.0;
    }

    let mut stop = on && c.patience.is_some();
    let r = ui.add_enabled(on, egui::Checkbox::new(&mut stop, "Early stopping"));
    r.on_hover_text(
        "Stop once the validation accuracy has not improved for this many epochs \
         (Epochs is then the most)",
    );
    let mut patience = c.patience.unwrap_or(5);
    let r = ui.add_enabled(
        stop,
        egui::DragValue::new(&mut patience)
            .range(1..=100)
            .suffix(" epochs"),
    );
    widgets::accessible_name(ui, &r, "Patience");
    ui.end_row();
    c.patience = stop.then_some(patience);
}
