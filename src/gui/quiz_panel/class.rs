//! The Quiz panel's "Class session": the quiz of the Session tab's form served to every
//! participant's browser ([`crate::classroom`]), and the projector view — the join address
//! with its QR code, who has joined and how far they are, the class against the chosen runs on
//! the same images (95 % Wilson intervals, patterned vs random, per occlusion level), updating as
//! answers arrive; the Tables 4–5 shape and the per-answer CSV.
//!
//! The server is started by a background task (loading the images, choosing the sequences,
//! scoring the runs) and runs on its own thread; a watcher thread sends a new
//! [`ClassView`] whenever the class changes. The UI thread only draws what arrives.

use super::super::quiz_results::{accuracy_chart, breakdown_chart};
use super::super::task::{Task, take_done};
use super::super::widgets;
use super::super::workbench::Workbench;
use super::QuizForm;
use crate::classroom::qr::QrGrid;
use crate::classroom::results::Watcher;
use crate::classroom::{self, ClassServer, ClassSettings, ClassView};
use crate::quiz::items::Condition;
use crate::train::BackendChoice;
use egui::{Color32, RichText, TextureHandle};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a class session's files go unless the teacher chooses another folder.
pub const DEFAULT_CLASS_DIR: &str = "quiz/class";

/// A server started, with what the view needs of it.
struct Started {
    server: ClassServer,
    qr: Option<QrGrid>,
}

/// A running class session.
struct Live {
    server: ClassServer,
    watcher: Watcher,
    view: Option<Arc<ClassView>>,
    qr: Option<QrGrid>,
    qr_texture: Option<TextureHandle>,
}

/// The class session view of the Quiz panel.
pub struct ClassPanel {
    /// The class folder.
    pub folder: String,
    /// Listen on every interface (the room's network) instead of this machine only.
    pub open_to_room: bool,
    pub port: u16,
    /// The runs shown against the class.
    runs: widgets::RunPicker,
    starting: Option<Task<Result<Started, String>>>,
    live: Option<Live>,
    error: Option<String>,
    /// Export CSV, written in the background.
    export: widgets::FileExport,
    /// The demo pair's readiness last applied (see `workbench.demo`).
    demo_applied: u64,
}

impl Default for ClassPanel {
    fn default() -> Self {
        ClassPanel {
            folder: DEFAULT_CLASS_DIR.into(),
            open_to_room: false,
            port: 8080,
            runs: widgets::RunPicker::default(),
            starting: None,
            live: None,
            error: None,
            export: widgets::FileExport::default(),
            demo_applied: 0,
        }
    }
}

impl ClassPanel {
    /// The server is being started.
    pub fn is_starting(&self) -> bool {
        self.starting.is_some()
    }

    /// The address participants open, while a class session runs.
    pub fn join_url(&self) -> Option<&str> {
        self.live.as_ref().map(|l| l.server.join_url.as_str())
    }

    /// The teacher page, while a class session runs.
    pub fn teacher_url(&self) -> Option<&str> {
        self.live.as_ref().map(|l| l.server.teacher_url.as_str())
    }

    /// The class as last shown.
    pub fn view(&self) -> Option<&ClassView> {
        self.live.as_ref()?.view.as_deref()
    }

    /// The last error (starting the server, or the server stopping).
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The per-answer CSV written, or why not.
    pub fn exported(&self) -> Option<&Result<PathBuf, String>> {
        self.export.last()
    }

    /// Background work the view is waiting for.
    pub fn is_busy(&self) -> bool {
        self.starting.is_some() || self.export.is_running() || self.runs.is_listing()
    }

    /// The runs ticked to show against the class.
    pub fn chosen_runs(&self) -> Vec<PathBuf> {
        self.runs.chosen()
    }

    /// Ticks the run whose folder name is `name` (tests; the checkboxes do it by hand).
    pub fn choose_run(&mut self, name: &str) -> bool {
        self.runs.choose(name)
    }

    /// Starts the class session the form describes (on a background task).
    pub fn start(&mut self, ctx: &egui::Context, form: &QuizForm, data_dir: Option<&Path>) {
        self.error = None;
        let mut form = form.clone();
        form.participant = "class".into();
        let ip = if self.open_to_room {
            "0.0.0.0"
        } else {
            "127.0.0.1"
        };
        let bind = match format!("{ip}:{}", self.port).parse() {
            Ok(b) => b,
            Err(e) => {
                self.error = Some(format!("port {}: {e}", self.port));
                return;
            }
        };
        let dir = PathBuf::from(self.folder.trim());
        let runs = self.runs.chosen();
        let data_dir = data_dir.map(Path::to_path_buf);
        let task = Task::spawn(ctx, "class-session", move || {
            let quiz = form.config()?;
            let server = classroom::start(ClassSettings {
                quiz,
                dir,
                data_dir,
                bind,
                public_host: None,
                runs,
                backend: BackendChoice::Auto,
            })
            .map_err(|e| crate::errors::chain_text(&e))?;
            let qr = QrGrid::encode(&server.join_url);
            Ok(Started { server, qr })
        });
        match task {
            Ok(t) => self.starting = Some(t),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Stops the server (it finishes the requests it is answering; nothing waits for it).
    pub fn stop(&mut self) {
        if let Some(mut live) = self.live.take() {
            live.server.stop();
        }
    }

    fn poll(&mut self, ctx: &egui::Context) {
        if let Some(result) = take_done(&mut self.starting) {
            match result.map_err(|e| e.to_string()).and_then(|r| r) {
                Ok(started) => {
                    let repaint = ctx.clone();
                    let watcher = Watcher::spawn(
                        started.server.state.clone(),
                        Arc::new(move || repaint.request_repaint()),
                    );
                    self.live = Some(Live {
                        server: started.server,
                        watcher,
                        view: None,
                        qr: started.qr,
                        qr_texture: None,
                    });
                }
                Err(e) => self.error = Some(e),
            }
        }
        if let Some(live) = &mut self.live {
            while let Ok(v) = live.watcher.views.try_recv() {
                live.view = Some(v);
            }
            if live.server.is_finished() {
                self.error = Some("the class server stopped".into());
                self.live = None;
            }
        }
        self.runs.poll();
    }

    /// The view: the settings and Start while no class session runs; the projector view while
    /// one does.
    pub fn ui(&mut self, ui: &mut egui::Ui, form: &QuizForm, workbench: &mut Workbench) {
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        if self.live.is_some() {
            self.live_ui(ui);
        } else {
            self.setup_ui(ui, form, workbench);
        }
        if self.is_busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn setup_ui(&mut self, ui: &mut egui::Ui, form: &QuizForm, workbench: &mut Workbench) {
        let ctx = ui.ctx().clone();
        let data_dir = workbench.data_dir.clone();
        let data_dir = data_dir.as_deref();
        let runs_root = workbench.runs_dir().display().to_string();
        ui.label(
            "Every participant takes the quiz in their own browser (phone or laptop) on this \
             network: the Session tab's preset, sequences, practice, time limit and item seed, \
             each participant in their own order. Each sequence is saved as it is submitted, \
             one session file per participant in the class folder.",
        );
        ui.add_space(6.0);
        egui::Grid::new("class_settings")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                let l = ui.label("Class folder");
                ui.add(egui::TextEdit::singleline(&mut self.folder).desired_width(300.0))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Port");
                ui.add(egui::DragValue::new(&mut self.port).range(1..=65535))
                    .labelled_by(l.id);
                ui.end_row();
                ui.label("");
                ui.checkbox(
                    &mut self.open_to_room,
                    "Open to the room's network (listen on every interface)",
                );
                ui.end_row();
            });
        let root = runs_root.trim().to_string();
        if let Err(e) = self.runs.list(&ctx, &root) {
            self.error = Some(e.to_string());
        }
        ui.label(format!(
            "Models to show against the class (runs in {root}):"
        ));
        self.runs.ui(ui);
        // A fresh install has no runs: the demo pair, trained in the background, ticked when
        // done.
        let root = workbench.runs_dir();
        workbench.demo.ui(ui, &root);
        if let Some(dirs) = workbench.demo.newly_ready(&mut self.demo_applied) {
            self.runs.relist_ticking(dirs);
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            let starting = self.starting.is_some();
            if ui
                .add_enabled(!starting, egui::Button::new("Start class session"))
                .clicked()
            {
                self.start(&ctx, form, data_dir);
            }
            if starting {
                ui.spinner();
                ui.label(
                    "Starting (loading the images, choosing the sequences, scoring the models)…",
                );
            }
        });
        if let Some(e) = &self.error {
            widgets::error_text(ui, e.as_str());
        }
    }

    fn live_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let Some(live) = &mut self.live else { return };
        if live.qr_texture.is_none()
            && let Some(grid) = &live.qr
        {
            let (side, px) = grid.pixels(1);
            let image = egui::ColorImage::from_gray([side, side], &px);
            live.qr_texture = Some(widgets::load_nearest(&ctx, "class-qr", image));
        }
        let mut stop = false;
        let mut export = false;
        ui.horizontal(|ui| {
            if let Some(tex) = &live.qr_texture {
                // Large enough to scan from the back of a room off a projector.
                let side = (ui.available_width() * 0.32).clamp(240.0, 440.0);
                ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(side, side)))
                    .on_hover_text("the join address as a QR code");
            }
            ui.vertical(|ui| {
                ui.label(RichText::new("Open").size(22.0));
                let url = live
                    .server
                    .join_url
                    .split('#')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                ui.label(RichText::new(url).size(34.0).strong().monospace());
                ui.label(RichText::new("Join code").size(22.0));
                ui.label(
                    RichText::new(live.server.state.join_code())
                        .size(56.0)
                        .strong()
                        .monospace(),
                );
                let (joined, finished) = live
                    .view
                    .as_ref()
                    .map_or((0, 0), |v| (v.participants.len(), v.finished()));
                ui.label(
                    RichText::new(format!("{joined} joined · {finished} finished")).size(22.0),
                );
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.button("Stop class session").clicked() {
                        stop = true;
                    }
                    if ui
                        .add_enabled(!self.export.is_running(), egui::Button::new("Export CSV"))
                        .clicked()
                    {
                        export = true;
                    }
                });
                // The teacher page's address holds its token: never drawn on the projector,
                // only copied.
                if ui
                    .small_button("Copy the teacher page's address")
                    .on_hover_text(
                        "The live results in a browser, protected by a token of their own: keep \
                         the address private",
                    )
                    .clicked()
                {
                    ctx.copy_text(live.server.teacher_url.clone());
                }
                ui.label(
                    RichText::new(format!(
                        "Session files in {}",
                        live.server.state.dir().display()
                    ))
                    .weak()
                    .small(),
                );
            });
        });
        self.export.ui(ui);
        if let Some(view) = live.view.clone() {
            view_ui(ui, &view);
        } else {
            ui.label(RichText::new("Waiting for the first participant…").weak());
        }
        if export {
            let state = live.server.state.clone();
            let path = state.dir().join("class-answers.csv");
            self.export.start(&ctx, path, move |path| {
                std::fs::write(path, classroom::results::csv(&state))
                    .map_err(|e| format!("{}: {e}", path.display()))
            });
        }
        if stop {
            self.stop();
        }
    }
}

/// Who has joined, the class against the models, and the report.
fn view_ui(ui: &mut egui::Ui, view: &ClassView) {
    let report = &view.report;
    widgets::section(
        ui,
        "The class against the models on the same images: accuracy [95 % Wilson interval]",
    );
    egui::Grid::new("class_scores")
        .striped(true)
        .spacing([18.0, 6.0])
        .show(ui, |ui| {
            for h in [
                "",
                "all",
                Condition::Patterned.label(),
                Condition::Random.label(),
            ] {
                ui.label(RichText::new(h).strong().size(18.0));
            }
            ui.end_row();
            for row in &report.rows {
                ui.label(RichText::new(row.who.label()).strong().size(18.0));
                let cell = |s: Option<crate::quiz::analysis::Score>| {
                    s.map_or("—".to_string(), |s| s.describe())
                };
                ui.label(RichText::new(cell(row.overall)).size(18.0));
                for c in Condition::ALL {
                    let s = row.condition(c).and_then(|x| x.score);
                    ui.label(RichText::new(cell(s)).size(18.0));
                }
                ui.end_row();
            }
        });
    if !report.rows.is_empty() {
        ui.columns(2, |cols| {
            widgets::section(&mut cols[0], "Accuracy with 95 % Wilson intervals");
            accuracy_chart(&mut cols[0], report);
            widgets::section(&mut cols[1], "Per occlusion level");
            breakdown_chart(&mut cols[1], report, "class_levels", true);
        });
    }
    widgets::section(ui, "Participants");
    egui::Grid::new("class_people")
        .striped(true)
        .spacing([14.0, 4.0])
        .show(ui, |ui| {
            for p in &view.participants {
                ui.label(RichText::new(&p.participant).monospace());
                ui.label(&p.name);
                ui.add(
                    egui::ProgressBar::new(p.submitted as f32 / p.total.max(1) as f32)
                        .desired_width(160.0)
                        .text(format!("{}/{}", p.submitted, p.total)),
                );
                if p.finished {
                    ui.label(RichText::new("finished").color(Color32::from_rgb(40, 140, 60)));
                } else {
                    ui.label("");
                }
                ui.end_row();
            }
        });
    egui::CollapsingHeader::new("Tables 4–5 and the full report")
        .default_open(!view.participants.is_empty() && view.finished() == view.participants.len())
        .show(ui, |ui| {
            ui.label(RichText::new(&view.report_text).monospace());
        });
}
