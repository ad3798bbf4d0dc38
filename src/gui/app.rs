//! The workbench window: navigation, the panels, the side bar and status bar, persistence. The
//! state the panels share is in [`super::workbench`].
//!
//! Adding a panel:
//! 1. write `src/gui/<name>_panel.rs` with a struct holding only view state (caches, form drafts)
//!    and a `ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench)` method;
//! 2. add a field for it to [`OcclabApp`] and an arm to the `match` in [`OcclabApp::panel_ui`];
//! 3. add its [`PanelId`] to [`LISTED_PANELS`] (the side bar lists exactly these, in this order).

use super::data_panel::DataPanel;
use super::occlusion_panel::OcclusionPanel;
use super::patterns_panel::PatternsPanel;
use super::present_panel::PresentPanel;
use super::quiz_panel::QuizPanel;
use super::results_panel::ResultsPanel;
use super::task::{Task, take_done};
use super::train_panel::TrainPanel;
pub use super::workbench::{
    LISTED_PANELS, LoadFailure, LoadedData, PanelId, Workbench, panel_heading,
};
use crate::data::source::DataSource;
use crate::experiment::preset::Preset;
use crate::occlusion::OcclusionSpec;
use egui::{RichText, Vec2};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Zoom factor of the "projector" scale.
pub const PROJECTOR_ZOOM: f32 = 1.5;

/// Environment variable naming the panel shown at start (`data`, `occlusion`, …); overrides the
/// saved session. Useful for screenshots and demos.
pub const START_PANEL_ENV: &str = "OCCLAB_START_PANEL";

/// What is remembered between runs (eframe persistence, key [`eframe::APP_KEY`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Session {
    /// The data source of the data set in use.
    pub source: DataSource,
    pub spec: OcclusionSpec,
    pub panel: PanelId,
    /// `ctx.zoom_factor()`: 1.0 normal, [`PROJECTOR_ZOOM`] projector.
    pub zoom: f32,
    pub preview_seed: u64,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            source: DataSource::EmbeddedDigits,
            spec: OcclusionSpec::paper_default(),
            panel: PanelId::Data,
            zoom: 1.0,
            preview_seed: 1,
        }
    }
}

/// What a preset file dialog brought: the file chosen and what was read or written (`None`: the
/// dialog was cancelled).
enum PresetFile {
    Opened(Option<(PathBuf, Result<Box<Preset>, String>)>),
    Saved(Option<Result<PathBuf, String>>),
}

/// The workbench application.
pub struct OcclabApp {
    /// Shared state that every panel reads and changes.
    pub workbench: Workbench,
    panel: PanelId,
    zoom: f32,
    data_panel: DataPanel,
    occlusion_panel: OcclusionPanel,
    /// The Patterns panel (public so tests can read its build).
    pub patterns_panel: PatternsPanel,
    /// The Results panel.
    pub results_panel: ResultsPanel,
    /// The Train panel (public so tests can fill in its form).
    pub train_panel: TrainPanel,
    /// The Present panel (public so tests can choose its runs folder).
    pub present_panel: PresentPanel,
    /// The Quiz panel (public so tests can fill in its form and follow the session).
    pub quiz_panel: QuizPanel,
    /// The last preset opened or saved from the side bar, or the error.
    preset_message: Option<Result<String, String>>,
    /// A preset file dialog (and the reading or writing of the file) on its way.
    preset_dialog: Option<Task<PresetFile>>,
    /// Frame-time measurement, when [`FRAME_STATS_ENV`] is set.
    frame_stats: Option<FrameStats>,
}

impl OcclabApp {
    /// Builds the app from the saved session in `storage` (if any), applies the look and the zoom
    /// to `ctx`, and starts loading the session's data set in the background.
    /// `data_dir` resolves relative data paths (else `OCCLAB_DATA_DIR`).
    /// The panel named by `OCCLAB_START_PANEL`, if set, is shown first.
    pub fn new(
        ctx: &egui::Context,
        storage: Option<&dyn eframe::Storage>,
        data_dir: Option<PathBuf>,
    ) -> Self {
        let session = storage
            .and_then(|s| eframe::get_value::<Session>(s, eframe::APP_KEY))
            .unwrap_or_default();
        Self::from_session(ctx, session, data_dir)
    }

    /// Like [`Self::new`] from an explicit session.
    pub fn from_session(ctx: &egui::Context, session: Session, data_dir: Option<PathBuf>) -> Self {
        setup_style(ctx);
        let data_dir = crate::data::source::data_dir_from(data_dir.as_deref());
        let mut panel = session.panel;
        if let Some(p) = std::env::var(START_PANEL_ENV)
            .ok()
            .and_then(|name| PanelId::from_name(&name))
        {
            panel = p;
        }
        if !panel.is_listed() {
            panel = PanelId::Data;
        }
        let zoom = if session.zoom.is_finite() && session.zoom > 0.0 {
            session.zoom
        } else {
            1.0
        };
        ctx.set_zoom_factor(zoom);
        let mut workbench = Workbench::new(data_dir, session.spec, session.preview_seed);
        workbench.start_load(session.source.clone(), ctx);
        OcclabApp {
            workbench,
            panel,
            zoom,
            data_panel: DataPanel::new(&session.source),
            occlusion_panel: OcclusionPanel::default(),
            patterns_panel: PatternsPanel::default(),
            results_panel: ResultsPanel::default(),
            train_panel: TrainPanel::default(),
            present_panel: PresentPanel::default(),
            quiz_panel: QuizPanel::default(),
            preset_message: None,
            preset_dialog: None,
            frame_stats: FrameStats::from_env(),
        }
    }

    /// The app with a fresh session (embedded digits, paper-default occlusion): for tests.
    pub fn for_test(ctx: &egui::Context) -> Self {
        Self::from_session(ctx, Session::default(), None)
    }

    /// What would be saved now.
    pub fn session(&self) -> Session {
        Session {
            source: self.workbench.session_source().clone(),
            spec: self.workbench.spec.clone(),
            panel: self.panel,
            zoom: self.zoom,
            preview_seed: self.workbench.preview_seed,
        }
    }

    pub fn panel(&self) -> PanelId {
        self.panel
    }

    /// Switches to a listed panel (unlisted ones are ignored).
    pub fn set_panel(&mut self, panel: PanelId) {
        if panel.is_listed() {
            self.panel = panel;
        }
    }

    /// Whether one-shot background work that a panel waits for is still on its way (a load, a
    /// runs-folder listing or scan, a coverage measurement, a run's predictions). Tests step
    /// frames until it is done; the UI never waits.
    pub fn background_pending(&self) -> bool {
        // The panel shown takes its results as it draws; the Train panel polls every frame.
        let shown = match self.panel {
            PanelId::Occlusion => self.occlusion_panel.is_measuring(),
            PanelId::Results => self.results_panel.is_reading(),
            PanelId::Present => self.present_panel.is_scanning(),
            PanelId::Quiz => self.quiz_panel.is_listing(),
            PanelId::Data | PanelId::Patterns | PanelId::Train => false,
        };
        self.workbench.is_loading() || self.train_panel.is_listing() || shown
    }

    pub fn is_loading(&self) -> bool {
        self.workbench.is_loading()
    }

    /// The session as a preset (the same TOML the CLI reads): the data set, the occlusion spec,
    /// and the Train panel's sequences, first chosen model and hyperparameters.
    pub fn session_preset(&self) -> Result<Preset, String> {
        let data = self
            .workbench
            .data
            .as_ref()
            .ok_or("no data set is loaded yet")?;
        let form = &self.train_panel.form;
        let kind = form
            .models()
            .first()
            .copied()
            .ok_or("no model is chosen in the Train panel")?;
        let mut preset = form.preset(kind, &self.workbench, &data.set);
        preset.name = "workbench-session".into();
        preset.description = format!(
            "Saved from the workbench: {}, {kind}",
            data.source.describe()
        );
        Ok(preset)
    }

    /// Takes a preset: loads its data set (in the background), uses its occlusion spec, and
    /// fills the Train panel's form with its sequences, model and hyperparameters.
    pub fn apply_preset(&mut self, preset: &Preset, ctx: &egui::Context) {
        self.workbench.spec = preset.occlusion.clone();
        self.workbench.sequences.apply(&preset.sequences);
        self.train_panel.form.apply_preset(preset);
        if self.workbench.session_source() != &preset.data {
            self.workbench.start_load(preset.data.clone(), ctx);
        }
    }

    /// Writes [`Self::session_preset`] to `path`.
    pub fn save_preset(&self, path: &Path) -> Result<(), String> {
        self.session_preset()?.save(path).map_err(|e| e.to_string())
    }

    /// Reads a preset file and applies it ([`Self::apply_preset`]).
    pub fn open_preset(&mut self, path: &Path, ctx: &egui::Context) -> Result<Preset, String> {
        let preset = Preset::load(path).map_err(|e| e.to_string())?;
        self.apply_preset(&preset, ctx);
        Ok(preset)
    }

    fn preset_ui(&mut self, ui: &mut egui::Ui) {
        if let Some(done) = take_done(&mut self.preset_dialog) {
            match done {
                Ok(PresetFile::Opened(Some((path, Ok(preset))))) => {
                    self.apply_preset(&preset, ui.ctx());
                    self.preset_message =
                        Some(Ok(format!("opened {} ({})", path.display(), preset.name)));
                }
                Ok(PresetFile::Opened(Some((_, Err(e))))) => self.preset_message = Some(Err(e)),
                Ok(PresetFile::Saved(Some(result))) => {
                    self.preset_message =
                        Some(result.map(|path| format!("saved {}", path.display())));
                }
                Ok(PresetFile::Opened(None) | PresetFile::Saved(None)) => {}
                Err(e) => self.preset_message = Some(Err(e.to_string())),
            }
        }
        // The dialogs and the file run on a background thread: the window keeps drawing.
        let idle = self.preset_dialog.is_none();
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(idle, egui::Button::new("Open preset…"))
                .on_hover_text("Load a preset TOML: data, occlusion, sequences, model, training")
                .clicked()
            {
                let task = Task::spawn(ui.ctx(), "open-preset", || {
                    let path = rfd::FileDialog::new()
                        .add_filter("preset", &["toml"])
                        .set_directory("presets")
                        .pick_file();
                    PresetFile::Opened(path.map(|path| {
                        let preset = Preset::load(&path).map(Box::new).map_err(|e| e.to_string());
                        (path, preset)
                    }))
                });
                self.preset_dialog = task.ok();
            }
            if ui
                .add_enabled(idle, egui::Button::new("Save preset…"))
                .on_hover_text("Save this session as a preset TOML the CLI reads")
                .clicked()
            {
                match self.session_preset() {
                    Ok(preset) => {
                        let task = Task::spawn(ui.ctx(), "save-preset", move || {
                            let path = rfd::FileDialog::new()
                                .add_filter("preset", &["toml"])
                                .set_file_name("session.toml")
                                .save_file();
                            PresetFile::Saved(path.map(|path| {
                                preset.save(&path).map(|()| path).map_err(|e| e.to_string())
                            }))
                        });
                        self.preset_dialog = task.ok();
                    }
                    Err(e) => self.preset_message = Some(Err(e)),
                }
            }
        });
        match &self.preset_message {
            Some(Ok(m)) => {
                ui.label(RichText::new(m).weak().small());
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
    }

    fn nav_ui(&mut self, ui: &mut egui::Ui) {
        ui.add_space(12.0);
        ui.label(RichText::new("occlab").size(26.0).strong());
        ui.label(RichText::new("occluded-sequence workbench").weak());
        ui.add_space(16.0);
        let width = ui.available_width();
        for &panel in LISTED_PANELS {
            let text = RichText::new(panel.title()).size(20.0);
            let button = egui::Button::selectable(self.panel == panel, text)
                .min_size(Vec2::new(width, 40.0));
            if ui.add(button).clicked() {
                self.panel = panel;
            }
            ui.add_space(4.0);
        }
        ui.add_space(24.0);
        ui.separator();
        let mut projector = self.zoom > 1.0;
        if ui
            .checkbox(&mut projector, "Projector scale")
            .on_hover_text("Enlarge everything for a projector or a distant screen")
            .changed()
        {
            self.zoom = if projector { PROJECTOR_ZOOM } else { 1.0 };
            ui.ctx().set_zoom_factor(self.zoom);
        }
        ui.add_space(8.0);
        self.preset_ui(ui);
    }

    fn status_ui(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match &self.workbench.data {
                Some(d) => {
                    ui.label(RichText::new(&d.set.name).strong());
                    ui.separator();
                    ui.label(format!("{} images", d.set.len()));
                    ui.separator();
                    ui.label(format!(
                        "{}×{}×{}, {} classes",
                        d.set.height,
                        d.set.width,
                        d.set.channels,
                        d.set.num_classes()
                    ));
                }
                None => {
                    ui.label("No data set loaded");
                }
            }
            if let Some(source) = self.workbench.loading() {
                ui.separator();
                ui.spinner();
                ui.label(format!("Loading {}…", source.describe()));
            } else if self.workbench.load_error.is_some() {
                ui.separator();
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    "Load failed: see the Data panel",
                );
            }
        });
    }

    fn panel_ui(&mut self, ui: &mut egui::Ui) {
        match self.panel {
            PanelId::Data => self.data_panel.ui(ui, &mut self.workbench),
            PanelId::Occlusion => self.occlusion_panel.ui(ui, &mut self.workbench),
            PanelId::Patterns => self.patterns_panel.ui(ui, &mut self.workbench),
            PanelId::Results => self.results_panel.ui(ui, &mut self.workbench),
            PanelId::Train => self.train_panel.ui(ui, &mut self.workbench),
            PanelId::Present => self.present_panel.ui(ui, &mut self.workbench),
            PanelId::Quiz => self.quiz_panel.ui(ui, &mut self.workbench),
        }
    }
}

/// Environment variable naming a file that receives frame-time statistics (see [`FrameStats`]).
pub const FRAME_STATS_ENV: &str = "OCCLAB_FRAME_STATS";

/// Frame times of the real window, for measuring the whole frame (egui, tessellation and the
/// renderer, software or not): while active the app repaints continuously and every 200 frames
/// writes the median, 95th percentile and maximum interval between frames to the file, with
/// whether a training job was running, and the 95th percentile of every frame drawn while a job
/// trained since the start.
pub struct FrameStats {
    path: PathBuf,
    last: Option<Instant>,
    intervals: Vec<f64>,
    training: usize,
    /// Every interval that ended while a job was training, since the start.
    all_training: Vec<f64>,
}

impl FrameStats {
    /// Active when [`FRAME_STATS_ENV`] names a file.
    pub fn from_env() -> Option<Self> {
        let path = std::env::var_os(FRAME_STATS_ENV)?;
        Some(FrameStats {
            path: PathBuf::from(path),
            last: None,
            intervals: Vec::new(),
            training: 0,
            all_training: Vec::new(),
        })
    }

    fn frame(&mut self, ctx: &egui::Context, training: bool) {
        let now = Instant::now();
        if let Some(last) = self.last {
            let ms = (now - last).as_secs_f64() * 1000.0;
            self.intervals.push(ms);
            self.training += usize::from(training);
            if training {
                self.all_training.push(ms);
            }
        }
        self.last = Some(now);
        if self.intervals.len() >= 200 {
            let mut v = std::mem::take(&mut self.intervals);
            v.sort_by(f64::total_cmp);
            let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
            let mut all = self.all_training.clone();
            all.sort_by(f64::total_cmp);
            let overall = match all.len() {
                0 => String::new(),
                n => format!(
                    "; all {n} frames while training so far: p95 {:.1} ms",
                    all[((n - 1) as f64 * 0.95).round() as usize]
                ),
            };
            let line = format!(
                "frames {} (training during {}): median {:.1} ms, p95 {:.1} ms, max {:.1} ms{overall}\n",
                v.len(),
                self.training,
                q(0.5),
                q(0.95),
                v[v.len() - 1]
            );
            self.training = 0;
            // Appended off the UI thread; nothing waits for it.
            let path = self.path.clone();
            let _ = Task::spawn(ctx, "frame-stats", move || {
                let _ = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
            });
        }
        ctx.request_repaint();
    }
}

impl eframe::App for OcclabApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        if let Some(stats) = &mut self.frame_stats {
            stats.frame(ui.ctx(), self.train_panel.is_busy());
        }
        self.workbench.poll_load();
        // Training jobs report whichever panel is shown; the queue moves on in the background.
        self.train_panel.poll(ui.ctx());
        if self.panel == PanelId::Present {
            // Its keys first, so that a focused button does not take their Space.
            self.present_panel.handle_keys(ui.ctx());
            if self.present_panel.hides_workbench() {
                // Controls hidden: only the images, no side bar or status bar.
                egui::CentralPanel::default()
                    .frame(
                        egui::Frame::central_panel(ui.style())
                            .inner_margin(egui::Margin::same(12))
                            .fill(egui::Color32::TRANSPARENT),
                    )
                    .show(ui, |ui| self.panel_ui(ui));
                return;
            }
        }
        // The panels leave their background to the clear colour (`clear_color`, the same
        // colour): with a software renderer every filled pixel costs, and three panels filling
        // the whole window were a full extra pass per frame.
        egui::Panel::bottom("status_bar")
            .frame(
                egui::Frame::side_top_panel(ui.style())
                    .inner_margin(egui::Margin::symmetric(12, 6))
                    .fill(egui::Color32::TRANSPARENT),
            )
            .show(ui, |ui| self.status_ui(ui));
        egui::Panel::left("navigation")
            .resizable(false)
            .exact_size(200.0)
            .frame(egui::Frame::side_top_panel(ui.style()).fill(egui::Color32::TRANSPARENT))
            .show(ui, |ui| self.nav_ui(ui));
        egui::CentralPanel::default()
            .frame(
                egui::Frame::central_panel(ui.style())
                    .inner_margin(egui::Margin::same(20))
                    .fill(egui::Color32::TRANSPARENT),
            )
            .show(ui, |ui| self.panel_ui(ui));
    }

    /// The panels' own colour, so that they need not fill themselves (see `ui`).
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        visuals.panel_fill.to_normalized_gamma_f32()
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.session());
    }
}

/// Larger text and more generous spacing than egui's defaults: readable on a projector.
fn setup_style(ctx: &egui::Context) {
    use egui::{FontFamily, FontId, TextStyle};
    ctx.all_styles_mut(|style| {
        style.text_styles = [
            (
                TextStyle::Heading,
                FontId::new(28.0, FontFamily::Proportional),
            ),
            (TextStyle::Body, FontId::new(16.0, FontFamily::Proportional)),
            (
                TextStyle::Button,
                FontId::new(16.0, FontFamily::Proportional),
            ),
            (
                TextStyle::Monospace,
                FontId::new(15.0, FontFamily::Monospace),
            ),
            (
                TextStyle::Small,
                FontId::new(12.0, FontFamily::Proportional),
            ),
        ]
        .into();
        style.spacing.item_spacing = Vec2::new(10.0, 8.0);
        style.spacing.button_padding = Vec2::new(10.0, 5.0);
        style.spacing.slider_width = 220.0;
        style.spacing.interact_size.y = 26.0;
    });
}
