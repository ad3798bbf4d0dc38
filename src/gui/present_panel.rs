//! Present panel: a class-room slide show of trained models at work. Test sequences are shown
//! large, every model's guess and confidence above each occluded image (paper A's Fig. 3); the
//! truth can be revealed (guesses turn green or red), the occluders lifted to show what they hid,
//! and the controls hidden so that only the images remain, full screen.
//!
//! Keys: Right / Left next / previous sequence, Space reveal / hide the truth, O occluders on /
//! off, H hide / show the controls, F full screen, Escape leave full screen.
//!
//! The guesses come from [`crate::experiment::showcase::build`], run on a background thread; this
//! file only lists the runs, sends the request and draws the answer.

use super::task::Task;
use super::widgets;
use super::workbench::{PanelId, Workbench, panel_heading};
use crate::experiment::preset::OrderingSpec;
use crate::experiment::showcase::{
    self, Candidate, Showcase, ShowcaseRequest, ShownImage, ShownSequence,
};
use crate::experiment::tables;
use crate::train::BackendChoice;
use egui::{Align, Color32, Key, Layout, Modifiers, RichText, TextureHandle, Vec2};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Width of the controls column.
const CONTROLS_WIDTH: f32 = 380.0;
/// Space between the images of a sequence.
const IMAGE_GAP: f32 = 18.0;
/// Narrowest stage beside the controls; narrower windows stack them.
const MIN_STAGE_WIDTH: f32 = 620.0;
/// Width of a character of a guess line, in units of the font size: on a screenshot
/// "CRNN: 8 (92 %)" took about 0.42 of the size per character; the rest leaves room.
const CHAR_WIDTH: f32 = 0.52;
/// Smallest text the stage's layout aims for, in points (before the projector scale).
const MIN_FONT: f32 = 13.0;
/// Smallest text at all, where the window leaves no room for more (the guesses stay whole).
const TIGHT_FONT: f32 = 10.0;
/// Largest side of an image on the stage, in points.
const MAX_CELL: f32 = 420.0;
/// Most sequences one showcase prepares.
const MAX_COUNT: usize = 500;
/// Band behind a right guess, once the truth is shown (white text on it).
const RIGHT: Color32 = Color32::from_rgb(30, 140, 60);
/// Band behind a wrong guess.
const WRONG: Color32 = Color32::from_rgb(200, 50, 40);

/// The runs found under the runs folder, for one data set.
struct Listing {
    root: PathBuf,
    generation: u64,
    candidates: Vec<Candidate>,
    errors: Vec<String>,
}

/// A showcase being built on a background thread.
struct Pending {
    task: Task<Result<Showcase, String>>,
    request: ShowcaseRequest,
    generation: u64,
}

/// A runs folder being read on a background thread, for the data set of `generation`.
struct Scanning {
    root: PathBuf,
    generation: u64,
    task: Task<(Vec<Candidate>, Vec<String>)>,
}

/// The showcase on the stage.
struct Shown {
    id: u64,
    showcase: Arc<Showcase>,
    request: ShowcaseRequest,
    generation: u64,
}

/// Textures of one sequence: occluded and revealed image per position.
struct StageTextures {
    key: (u64, usize),
    occluded: Vec<TextureHandle>,
    revealed: Vec<TextureHandle>,
}

/// The Present panel.
pub struct PresentPanel {
    /// The folder whose sub-folders are runs.
    pub runs_root: String,
    /// Where the models run.
    pub backend: BackendChoice,
    /// Patterned sequences or the random-order control.
    pub ordering: OrderingSpec,
    /// Shuffle the test sequences (seeded) instead of showing them in the set's order.
    pub shuffle: bool,
    pub shuffle_seed: u64,
    /// Sequences prepared per showcase.
    pub count: usize,
    /// Draw the occluders the first run was trained with (else the Occlusion panel's).
    pub occlusion_as_trained: bool,
    /// The runs to show, in order; `None` until the defaults have been chosen.
    chosen: Option<Vec<PathBuf>>,
    listing: Option<Listing>,
    pending: Option<Pending>,
    scanning: Option<Scanning>,
    shown: Option<Shown>,
    error: Option<String>,
    /// Index of the sequence on the stage.
    current: usize,
    /// Whether the truth is shown (and the guesses coloured right / wrong).
    reveal: bool,
    /// Whether the images are drawn occluded (else unoccluded, the hidden part tinted).
    occluders: bool,
    /// Whether the controls (and the workbench's side bar and status bar) are shown.
    controls: bool,
    /// Whether full screen was asked for.
    fullscreen: bool,
    /// The viewport's full-screen state last reported (it changes when the system changes it).
    seen_fullscreen: Option<bool>,
    /// Whether the first showcase has started on its own.
    auto_started: bool,
    textures: Option<StageTextures>,
    next_id: u64,
}

impl Default for PresentPanel {
    fn default() -> Self {
        PresentPanel {
            runs_root: "runs".into(),
            backend: BackendChoice::Auto,
            ordering: OrderingSpec::Patterned,
            shuffle: true,
            shuffle_seed: 1,
            count: 40,
            occlusion_as_trained: true,
            chosen: None,
            listing: None,
            pending: None,
            scanning: None,
            shown: None,
            error: None,
            current: 0,
            reveal: false,
            occluders: true,
            controls: true,
            fullscreen: false,
            seen_fullscreen: None,
            auto_started: false,
            textures: None,
            next_id: 0,
        }
    }
}

impl PresentPanel {
    /// A panel reading the runs under `root`.
    pub fn with_root(root: impl Into<String>) -> Self {
        PresentPanel {
            runs_root: root.into(),
            ..Self::default()
        }
    }

    /// The showcase on the stage.
    pub fn showcase(&self) -> Option<&Showcase> {
        self.shown.as_ref().map(|s| s.showcase.as_ref())
    }

    /// Index of the sequence on the stage (into [`Showcase::sequences`]).
    pub fn current(&self) -> usize {
        self.current
    }

    /// Whether a showcase is being built.
    pub fn is_loading(&self) -> bool {
        self.pending.is_some()
    }

    /// The last error (a refused run, a failed load), if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The runs chosen, in order.
    pub fn chosen(&self) -> &[PathBuf] {
        self.chosen.as_deref().unwrap_or_default()
    }

    /// Whether the truth is shown.
    pub fn truth_shown(&self) -> bool {
        self.reveal
    }

    /// Whether the occluders are drawn.
    pub fn occluders_shown(&self) -> bool {
        self.occluders
    }

    /// Whether the workbench's side bar and status bar are to be hidden (controls hidden).
    pub fn hides_workbench(&self) -> bool {
        !self.controls
    }

    /// Takes a finished showcase, if one has arrived. Never blocks.
    pub fn poll(&mut self) {
        let Some(p) = &self.pending else {
            return;
        };
        let Some(result) = p.task.poll() else {
            return;
        };
        let result = result
            .map_err(|_| "the presentation thread stopped without a result".to_string())
            .and_then(|r| r);
        let p = self.pending.take().expect("checked above");
        match result {
            Ok(showcase) => {
                self.next_id += 1;
                self.shown = Some(Shown {
                    id: self.next_id,
                    showcase: Arc::new(showcase),
                    request: p.request,
                    generation: p.generation,
                });
                self.error = None;
                self.current = 0;
                self.reveal = false;
                self.occluders = true;
                self.textures = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The presentation keys (see the module docs). Called before anything is drawn, so that the
    /// keys it takes do not also reach a focused button; keys typed into a text field are left
    /// alone.
    pub fn handle_keys(&mut self, ctx: &egui::Context) {
        if let Some(f) = ctx.input(|i| i.viewport().fullscreen)
            && self.seen_fullscreen != Some(f)
        {
            self.seen_fullscreen = Some(f);
            self.fullscreen = f;
        }
        if ctx.text_edit_focused() {
            return;
        }
        let pressed = |key| ctx.input_mut(|i| i.consume_key(Modifiers::NONE, key));
        let mut any = false;
        if pressed(Key::ArrowRight) {
            self.step(1);
            any = true;
        }
        if pressed(Key::ArrowLeft) {
            self.step(-1);
            any = true;
        }
        if pressed(Key::Space) {
            self.reveal = !self.reveal;
            any = true;
        }
        if pressed(Key::O) {
            self.occluders = !self.occluders;
            any = true;
        }
        if pressed(Key::H) {
            self.controls = !self.controls;
            any = true;
        }
        if pressed(Key::F) {
            self.set_fullscreen(ctx, !self.fullscreen);
            any = true;
        }
        if self.fullscreen && pressed(Key::Escape) {
            self.set_fullscreen(ctx, false);
            any = true;
        }
        if any {
            // Arrow keys also move the keyboard focus between widgets: drop it.
            ctx.memory_mut(|m| {
                if let Some(id) = m.focused() {
                    m.surrender_focus(id);
                }
            });
        }
    }

    fn set_fullscreen(&mut self, ctx: &egui::Context, on: bool) {
        self.fullscreen = on;
        ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(on));
    }

    /// Moves `by` sequences on (or back), within the showcase; a new sequence starts with the
    /// truth hidden and the occluders on.
    fn step(&mut self, by: isize) {
        let n = self.showcase().map_or(0, |s| s.sequences.len());
        if n == 0 {
            return;
        }
        let next = (self.current as isize + by).clamp(0, n as isize - 1) as usize;
        if next != self.current {
            self.current = next;
            self.reveal = false;
            self.occluders = true;
        }
    }

    /// Rereads the runs folder for the data set in use, on a background thread.
    pub fn refresh(&mut self, workbench: &Workbench, ctx: &egui::Context) {
        let Some(data) = &workbench.data else {
            self.listing = None;
            self.scanning = None;
            return;
        };
        let root = runs_root(&self.runs_root);
        let (dir, images) = (root.clone(), data.set.clone());
        let task = Task::spawn(ctx, "scan-runs", move || {
            let scan = tables::scan(&dir);
            (showcase::candidates(&scan, &images), scan.errors)
        });
        match task {
            Ok(task) => {
                self.scanning = Some(Scanning {
                    root,
                    generation: data.generation,
                    task,
                })
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Whether the runs folder is being read.
    pub fn is_scanning(&self) -> bool {
        self.scanning.is_some()
    }

    /// Takes a finished reading of the runs folder, if one has arrived.
    fn poll_scan(&mut self) {
        let Some(scanning) = &self.scanning else {
            return;
        };
        let Some(result) = scanning.task.poll() else {
            return;
        };
        let Scanning {
            root, generation, ..
        } = self.scanning.take().expect("checked above");
        let (candidates, errors) = match result {
            Ok(r) => r,
            Err(e) => (Vec::new(), vec![e.to_string()]),
        };
        let same_root = self.listing.as_ref().is_some_and(|l| l.root == root);
        match &mut self.chosen {
            Some(chosen) if same_root => chosen.retain(|p| {
                candidates
                    .iter()
                    .any(|c| &c.summary.path == p && c.fit.is_ok())
            }),
            // First listing, or another folder: its best runs.
            _ => self.chosen = Some(showcase::default_runs(&candidates)),
        }
        self.listing = Some(Listing {
            root,
            generation,
            candidates,
            errors,
        });
    }

    /// The request the controls describe.
    fn request(&self, workbench: &Workbench) -> ShowcaseRequest {
        ShowcaseRequest {
            runs: self.chosen().to_vec(),
            ordering: self.ordering,
            shuffle_seed: self.shuffle.then_some(self.shuffle_seed),
            count: self.count,
            occlusion: (!self.occlusion_as_trained).then(|| workbench.spec.clone()),
            backend: self.backend,
        }
    }

    /// Starts building the showcase the controls describe, on a background thread.
    fn start(&mut self, workbench: &Workbench, ctx: &egui::Context) {
        let Some(data) = &workbench.data else {
            self.error = Some("No data set loaded: choose one on the Data panel.".into());
            return;
        };
        let request = self.request(workbench);
        if request.runs.is_empty() {
            self.error = Some("Choose at least one run to show.".into());
            return;
        }
        let images = data.set.clone();
        let job = request.clone();
        // A newer request drops this task, and its result with it.
        let task = Task::spawn(ctx, "present", move || {
            showcase::build(&job, images).map_err(|e| e.to_string())
        });
        match task {
            Ok(task) => {
                self.error = None;
                self.pending = Some(Pending {
                    task,
                    request,
                    generation: data.generation,
                });
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        self.poll();
        self.poll_scan();
        let generation = workbench.data.as_ref().map(|d| d.generation);
        let scanning = self
            .scanning
            .as_ref()
            .is_some_and(|s| Some(s.generation) == generation);
        if generation.is_some()
            && !scanning
            && self
                .listing
                .as_ref()
                .is_none_or(|l| Some(l.generation) != generation)
        {
            self.refresh(workbench, ui.ctx());
        }
        if !self.auto_started && generation.is_some() && !self.chosen().is_empty() {
            self.auto_started = true;
            self.start(workbench, ui.ctx());
        }
        if self.pending.is_some() {
            // The spinner needs frames while the job runs.
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }

        if !self.controls {
            let height = ui.available_height();
            self.stage_ui(ui, height);
            return;
        }
        if ui.available_width() < CONTROLS_WIDTH + 24.0 + MIN_STAGE_WIDTH {
            // A narrow window (a projector's, or the projector scale): the stage takes the
            // whole width and the controls follow below it.
            let height = ui.available_height();
            egui::ScrollArea::vertical()
                .id_salt("present_narrow")
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    self.stage_ui(ui, height);
                    ui.separator();
                    self.controls_ui(ui, workbench);
                });
            return;
        }
        panel_heading(
            ui,
            PanelId::Present,
            "Test sequences with each model's guess above every image, for class.",
        );
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(CONTROLS_WIDTH);
                egui::ScrollArea::vertical()
                    .id_salt("present_controls")
                    .auto_shrink([false, false])
                    .show(ui, |ui| self.controls_ui(ui, workbench));
            });
            ui.add_space(24.0);
            ui.vertical(|ui| {
                let height = ui.available_height();
                self.stage_ui(ui, height);
            });
        });
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, workbench: &Workbench) {
        widgets::section(ui, "Runs");
        ui.horizontal(|ui| {
            ui.label("Runs folder");
            let edit = ui.add(
                egui::TextEdit::singleline(&mut self.runs_root)
                    .desired_width(170.0)
                    .font(egui::TextStyle::Monospace),
            );
            widgets::accessible_name(ui, &edit, "Runs folder");
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            if ui.button("Refresh").clicked() || enter {
                self.refresh(workbench, ui.ctx());
            }
        });
        self.runs_ui(ui);

        widgets::section(ui, "Sequences");
        egui::Grid::new("present_sequences")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                let l = ui.label("Order");
                egui::ComboBox::from_id_salt("present_ordering")
                    .selected_text(ordering_title(self.ordering))
                    .show_ui(ui, |ui| {
                        for o in [OrderingSpec::Patterned, OrderingSpec::Random] {
                            ui.selectable_value(&mut self.ordering, o, ordering_title(o));
                        }
                    })
                    .response
                    .labelled_by(l.id);
                ui.end_row();
                ui.checkbox(&mut self.shuffle, "Shuffle, seed")
                    .on_hover_text("Show the test sequences in a seeded random order");
                let r = ui.add_enabled(self.shuffle, egui::DragValue::new(&mut self.shuffle_seed));
                widgets::accessible_name(ui, &r, "Shuffle seed");
                ui.end_row();
                let l = ui.label("Sequences");
                ui.add(egui::DragValue::new(&mut self.count).range(1..=MAX_COUNT))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Occluders");
                egui::ComboBox::from_id_salt("present_occlusion")
                    .selected_text(occlusion_title(self.occlusion_as_trained))
                    .show_ui(ui, |ui| {
                        for v in [true, false] {
                            ui.selectable_value(
                                &mut self.occlusion_as_trained,
                                v,
                                occlusion_title(v),
                            );
                        }
                    })
                    .response
                    .labelled_by(l.id);
                ui.end_row();
            });
        ui.label(
            RichText::new("Test split of the first run's sequences (its patterns, T and seed).")
                .weak(),
        );

        ui.add_space(12.0);
        let request = self.request(workbench);
        let generation = workbench.data.as_ref().map(|d| d.generation);
        let current = self
            .shown
            .as_ref()
            .is_some_and(|s| s.request == request && Some(s.generation) == generation)
            || self
                .pending
                .as_ref()
                .is_some_and(|p| p.request == request && Some(p.generation) == generation);
        ui.horizontal(|ui| {
            let can = workbench.data.is_some() && !request.runs.is_empty();
            let text = RichText::new("Show").strong();
            let button = if current {
                egui::Button::new(text)
            } else {
                egui::Button::new(text.color(Color32::WHITE)).fill(ui.visuals().selection.bg_fill)
            };
            if ui
                .add_enabled(can, button)
                .on_hover_text("Load the chosen runs and predict the sequences")
                .clicked()
            {
                self.start(workbench, ui.ctx());
            }
            if let Some(p) = &self.pending {
                ui.spinner();
                ui.label(format!(
                    "Predicting… {:.1} s",
                    p.task.elapsed().as_secs_f64()
                ));
            } else if !current && self.shown.is_some() {
                ui.label(RichText::new("Settings changed: press Show").weak());
            }
        });
        if let Some(e) = &self.error {
            widgets::error_text(ui, e.clone());
        }
        if let Some(s) = self.showcase() {
            ui.label(
                RichText::new(format!(
                    "{} of {} test sequences, T = {}, sequence seed {}{}; occluders {}; {} in {:.1} s",
                    s.sequences.len(),
                    s.test_sequences,
                    s.t,
                    s.sequence_seed,
                    s.shuffle_seed
                        .map_or(String::new(), |seed| format!(", shuffled with seed {seed}")),
                    if s.occlusion_as_trained {
                        "as trained"
                    } else {
                        "as on the Occlusion panel"
                    },
                    s.backend,
                    s.elapsed.as_secs_f64()
                ))
                .weak(),
            );
            for why in &s.skipped {
                widgets::error_text(ui, why.as_str());
            }
        }

        widgets::section(ui, "Keys");
        egui::Grid::new("present_keys")
            .num_columns(2)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                for (key, what) in [
                    ("Right / Left", "next / previous sequence"),
                    ("Space", "reveal / hide the truth"),
                    ("O", "occluders off / on"),
                    ("H", "hide / show the controls"),
                    ("F", "full screen"),
                    ("Esc", "leave full screen"),
                ] {
                    ui.label(RichText::new(key).monospace().strong());
                    ui.label(what);
                    ui.end_row();
                }
            });
    }

    /// One check box per run with a trained model; runs that do not fit the data are greyed out
    /// with the reason.
    fn runs_ui(&mut self, ui: &mut egui::Ui) {
        let Some(listing) = &self.listing else {
            ui.label(RichText::new("No data set loaded yet.").weak());
            return;
        };
        for e in &listing.errors {
            widgets::error_text(ui, e.as_str());
        }
        if listing.candidates.is_empty() {
            ui.label(
                RichText::new(format!(
                    "No trained runs in {}: train some on the Train panel.",
                    listing.root.display()
                ))
                .weak(),
            );
            return;
        }
        let chosen = self.chosen.get_or_insert_with(Vec::new);
        egui::ScrollArea::vertical()
            .id_salt("present_runs")
            .max_height(260.0)
            .show(ui, |ui| {
                for c in &listing.candidates {
                    let s = &c.summary;
                    let model = s.model.map_or(String::new(), |k| k.to_string());
                    let accuracy = s
                        .test_accuracy_percent()
                        .map_or(String::new(), |a| format!(", {a:.1} %"));
                    let mut on = chosen.contains(&s.path);
                    let text = format!("{} ({model}{accuracy})", s.name);
                    let response =
                        ui.add_enabled(c.fit.is_ok(), egui::Checkbox::new(&mut on, text));
                    if let Err(why) = &c.fit {
                        ui.label(RichText::new(format!("does not fit: {why}")).small().weak());
                    }
                    if response.changed() {
                        if on {
                            chosen.push(s.path.clone());
                        } else {
                            chosen.retain(|p| p != &s.path);
                        }
                    }
                }
            });
    }

    /// The sequence on the stage: counter and state, then the images with the guesses above.
    /// `height`: what the stage may fill, from its top.
    fn stage_ui(&mut self, ui: &mut egui::Ui, height: f32) {
        let top = ui.cursor().top();
        let Some(shown) = &self.shown else {
            ui.add_space(40.0);
            if self.pending.is_some() {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(RichText::new("Loading the models and predicting…").size(22.0));
                });
            } else {
                ui.label(
                    RichText::new("Choose runs and press Show (or H to show the controls).")
                        .size(22.0)
                        .weak(),
                );
            }
            return;
        };
        let showcase = shown.showcase.clone();
        let id = shown.id;
        let Some(seq) = showcase.sequences.get(self.current) else {
            ui.label("No sequences.");
            return;
        };
        self.ensure_textures(ui.ctx(), id, &showcase, seq);

        self.stage_bar_ui(ui, &showcase);
        ui.add_space(if self.controls { 16.0 } else { 8.0 });
        let left = height - (ui.cursor().top() - top);
        self.sequence_ui(ui, &showcase, seq, left);
        ui.add_space(16.0);
        self.summary_ui(ui, &showcase, seq);
    }

    /// "Sequence 3 of 40", the state, and (with the controls) the buttons the keys stand for.
    fn stage_bar_ui(&mut self, ui: &mut egui::Ui, showcase: &Showcase) {
        let n = showcase.sequences.len();
        let size = if self.controls { 22.0 } else { 16.0 };
        let weak = !self.controls;
        let text = |s: String, strong: bool| {
            let t = RichText::new(s).size(size);
            match (strong, weak) {
                (_, true) => t.weak(),
                (true, false) => t.strong(),
                (false, false) => t,
            }
        };
        ui.horizontal_wrapped(|ui| {
            ui.label(text(format!("Sequence {} of {n}", self.current + 1), true));
            ui.label(text("·".into(), false));
            ui.label(text(
                if self.reveal {
                    "truth shown"
                } else {
                    "truth hidden"
                }
                .into(),
                false,
            ));
            ui.label(text("·".into(), false));
            ui.label(text(
                if self.occluders {
                    "occluders on"
                } else {
                    "occluders off"
                }
                .into(),
                false,
            ));
            ui.label(text("·".into(), false));
            ui.label(text(
                ordering_title(showcase.ordering).to_lowercase(),
                false,
            ));
        });
        if !self.controls {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            let ctx = ui.ctx().clone();
            if ui
                .add_enabled(self.current > 0, egui::Button::new("Previous"))
                .clicked()
            {
                self.step(-1);
            }
            if ui
                .add_enabled(self.current + 1 < n, egui::Button::new("Next"))
                .clicked()
            {
                self.step(1);
            }
            let reveal = if self.reveal {
                "Hide the truth"
            } else {
                "Reveal the truth"
            };
            if ui.button(reveal).clicked() {
                self.reveal = !self.reveal;
            }
            let occ = if self.occluders {
                "Lift the occluders"
            } else {
                "Put the occluders back"
            };
            if ui.button(occ).clicked() {
                self.occluders = !self.occluders;
            }
            if ui.button("Hide the controls").clicked() {
                self.controls = false;
            }
            let full = if self.fullscreen {
                "Leave full screen"
            } else {
                "Full screen"
            };
            if ui.button(full).clicked() {
                self.set_fullscreen(&ctx, !self.fullscreen);
            }
        });
    }

    /// The images of `seq` side by side, each with the models' guesses above and its level and
    /// truth below, as large as the space allows.
    /// The images of `seq`, each with the models' guesses above and its level and truth below,
    /// as large as `height` and the width allow; long sequences wrap onto more rows.
    fn sequence_ui(
        &self,
        ui: &mut egui::Ui,
        showcase: &Showcase,
        seq: &ShownSequence,
        height: f32,
    ) {
        let Some(textures) = &self.textures else {
            return;
        };
        let t = seq.images.len().max(1);
        let width = ui.available_width();
        // Below the images: the summary line(s).
        let height = height - 70.0;
        // The longest guess line ("CRNN: airplane (100 %)" and its mark), in characters.
        let chars = showcase
            .models
            .iter()
            .map(|m| m.label.chars().count())
            .max()
            .unwrap_or(4)
            + showcase
                .class_names
                .iter()
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(1)
            + 11;
        // Text as large as fits a guess line on a slot's width.
        let font_for = |slot: f32| {
            (slot * 0.14)
                .min(slot / (CHAR_WIDTH * chars as f32))
                .clamp(TIGHT_FONT, 34.0)
        };
        // Width a guess line needs at the smallest font.
        let text_min = CHAR_WIDTH * chars as f32 * MIN_FONT;
        // Room for the guesses above and the level and truth below each image.
        let lines = showcase.models.len() as f32 + 2.0;
        let text_height = |slot: f32| lines * font_for(slot) * 1.45 + 24.0;
        // Each image has a slot (a column) at least as wide as itself and, where there is room,
        // as wide as its guess lines. As many rows as make the images largest with the guesses
        // readable (long sequences wrap), fewest on a tie.
        let layout = |rows: usize| {
            let per_row = t.div_ceil(rows);
            let n = per_row as f32;
            let w = (width - IMAGE_GAP * (n - 1.0)) / n;
            let slot = w.min(MAX_CELL.max(text_min));
            let h = (height - IMAGE_GAP * (rows as f32 - 1.0)) / rows as f32 - text_height(slot);
            let cell = w.min(h).clamp(32.0, MAX_CELL);
            let slot = cell.max(text_min.min(w));
            let score = cell * (slot / text_min).min(1.0);
            (per_row, cell, slot, score)
        };
        let (per_row, cell, slot, _) = (1..=t)
            .map(layout)
            .fold(layout(1), |best, c| if c.3 > best.3 { c } else { best });
        let font = font_for(slot);
        let block = cell + text_height(slot);
        let rows = t.div_ceil(per_row);
        let levels = showcase.occlusion.num_levels().max(1);
        if !self.controls {
            // Only the images: centre them on the screen.
            let used = rows as f32 * block + IMAGE_GAP * (rows as f32 - 1.0);
            ui.add_space(((height - used) / 2.0).max(0.0));
        }
        for (r, chunk) in seq.images.chunks(per_row).enumerate() {
            if r > 0 {
                ui.add_space(IMAGE_GAP);
            }
            let n = chunk.len() as f32;
            let row = slot * n + IMAGE_GAP * (n - 1.0);
            ui.horizontal_top(|ui| {
                // The gaps are IMAGE_GAP exactly.
                ui.spacing_mut().item_spacing.x = 0.0;
                ui.add_space(((width - row) / 2.0).max(0.0));
                for (k, image) in chunk.iter().enumerate() {
                    let pos = r * per_row + k;
                    if k > 0 {
                        ui.add_space(IMAGE_GAP);
                    }
                    let texture = if self.occluders {
                        &textures.occluded[pos]
                    } else {
                        &textures.revealed[pos]
                    };
                    ui.allocate_ui_with_layout(
                        Vec2::new(slot, block),
                        Layout::top_down(Align::Center),
                        |ui| {
                            ui.set_width(slot);
                            self.image_ui(ui, showcase, image, texture, cell, font, levels);
                        },
                    );
                }
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn image_ui(
        &self,
        ui: &mut egui::Ui,
        showcase: &Showcase,
        image: &ShownImage,
        texture: &TextureHandle,
        cell: f32,
        font: f32,
        levels: usize,
    ) {
        ui.spacing_mut().item_spacing.y = 2.0;
        for (model, guess) in showcase.models.iter().zip(&image.guesses) {
            let text = format!(
                "{}: {} ({:.0} %)",
                model.label,
                showcase.class_name(guess.predicted),
                guess.probability * 100.0
            );
            let verdict = self.reveal.then(|| guess.is_right(image.truth));
            guess_line(ui, text, font, verdict);
        }
        ui.add_space(6.0);
        ui.add(egui::Image::new(texture).fit_to_exact_size(Vec2::splat(cell)));
        // The level: a bar in its colour whose length grows with the level.
        let (rect, _) = ui.allocate_exact_size(Vec2::new(cell, 8.0), egui::Sense::hover());
        let share = image.level as f32 / levels as f32;
        let bar = egui::Rect::from_min_size(rect.min, Vec2::new(cell * share, rect.height()));
        ui.painter()
            .rect_filled(bar, 2.0, widgets::level_color(image.level as usize));
        ui.label(
            RichText::new(format!("level {}", image.level))
                .size((font * 0.7).max(12.0))
                .weak(),
        );
        let truth = if self.reveal {
            format!("truth {}", showcase.class_name(image.truth))
        } else {
            "truth ?".into()
        };
        ui.label(RichText::new(truth).size(font * 1.15).strong());
    }

    /// Under the images: how many each model got right (once the truth is shown), the pattern.
    fn summary_ui(&self, ui: &mut egui::Ui, showcase: &Showcase, seq: &ShownSequence) {
        let size = if self.controls { 18.0 } else { 16.0 };
        if !self.reveal {
            if self.controls {
                ui.vertical_centered(|ui| {
                    ui.label(
                        RichText::new("Space: reveal the truth · O: lift the occluders")
                            .size(size)
                            .weak(),
                    );
                });
            }
            return;
        }
        let t = seq.images.len();
        ui.vertical_centered(|ui| {
            let scores: Vec<String> = showcase
                .models
                .iter()
                .enumerate()
                .map(|(m, model)| format!("{} {} of {t} right", model.label, seq.right(m)))
                .collect();
            ui.label(
                RichText::new(scores.join("  ·  "))
                    .size(size + 4.0)
                    .strong(),
            );
            if let Some(pattern) = &seq.pattern {
                ui.label(
                    RichText::new(format!("pattern {pattern}"))
                        .size(size)
                        .weak(),
                );
            }
        });
    }

    /// Uploads the textures of the sequence on the stage when it changed.
    fn ensure_textures(
        &mut self,
        ctx: &egui::Context,
        id: u64,
        showcase: &Showcase,
        seq: &ShownSequence,
    ) {
        let key = (id, self.current);
        if self.textures.as_ref().is_some_and(|t| t.key == key) {
            return;
        }
        let (h, w, c) = (showcase.height, showcase.width, showcase.channels);
        let name = |pos: usize, kind: &str| format!("present-{id}-{}-{pos}-{kind}", self.current);
        let occluded = seq
            .images
            .iter()
            .enumerate()
            .map(|(pos, im)| {
                widgets::load_nearest(
                    ctx,
                    &name(pos, "occluded"),
                    widgets::to_color_image(&im.occluded, h, w, c),
                )
            })
            .collect();
        let revealed = seq
            .images
            .iter()
            .enumerate()
            .map(|(pos, im)| {
                widgets::load_nearest(
                    ctx,
                    &name(pos, "revealed"),
                    widgets::to_color_image(&im.revealed_rgb(c), h, w, 3),
                )
            })
            .collect();
        self.textures = Some(StageTextures {
            key,
            occluded,
            revealed,
        });
    }
}

/// One model's guess above an image, centred. Once the truth is shown it stands on a green
/// (right) or red (wrong) band with a painted tick or cross, so that it reads without colour too;
/// its accessible text then ends in ", right" or ", wrong".
fn guess_line(ui: &mut egui::Ui, text: String, font: f32, verdict: Option<bool>) {
    let width = ui.available_width();
    let pad = (font * 0.2).max(3.0);
    let mark = if verdict.is_some() { font * 0.8 } else { 0.0 };
    let room = (width - mark - 4.0 * pad).max(10.0);
    let layout = |size: f32| {
        let mut rich = RichText::new(text.as_str()).size(size);
        if verdict.is_some() {
            rich = rich.strong().color(Color32::WHITE);
        }
        egui::WidgetText::from(rich).into_galley(
            ui,
            Some(egui::TextWrapMode::Truncate),
            room,
            egui::TextStyle::Body,
        )
    };
    let mut galley = layout(font);
    if galley.elided {
        // Too long for the slot: smaller rather than cut, down to a size still legible.
        let whole = layout_width(ui, &text, font);
        galley = layout((font * room / whole).max(8.0));
    }
    let (rect, response) = ui.allocate_exact_size(
        Vec2::new(width, galley.size().y + 2.0 * pad),
        egui::Sense::hover(),
    );
    let content = if mark > 0.0 { mark + pad } else { 0.0 } + galley.size().x;
    let left = rect.center().x - content / 2.0;
    let painter = ui.painter();
    let text_color = ui.visuals().text_color();
    if let Some(right) = verdict {
        let band = egui::Rect::from_center_size(
            rect.center(),
            Vec2::new((content + 2.0 * pad).min(width), rect.height()),
        );
        painter.rect_filled(band, pad, if right { RIGHT } else { WRONG });
        let c = egui::pos2(left + mark / 2.0, rect.center().y);
        let r = mark * 0.38;
        let stroke = egui::Stroke::new((font * 0.13).max(2.0), Color32::WHITE);
        let v = egui::vec2;
        if right {
            painter.line_segment([c + v(-r, 0.0), c + v(-r * 0.25, r * 0.75)], stroke);
            painter.line_segment([c + v(-r * 0.25, r * 0.75), c + v(r, -r * 0.8)], stroke);
        } else {
            painter.line_segment([c + v(-r, -r), c + v(r, r)], stroke);
            painter.line_segment([c + v(-r, r), c + v(r, -r)], stroke);
        }
    }
    let x = if mark > 0.0 { left + mark + pad } else { left };
    painter.galley(
        egui::pos2(x, rect.center().y - galley.size().y / 2.0),
        galley,
        text_color,
    );
    let label = match verdict {
        Some(true) => format!("{text}, right"),
        Some(false) => format!("{text}, wrong"),
        None => text,
    };
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
}

/// Width of `text` at `size` on one line, bold (the widest a guess line gets).
fn layout_width(ui: &egui::Ui, text: &str, size: f32) -> f32 {
    egui::WidgetText::from(RichText::new(text).size(size).strong())
        .into_galley(
            ui,
            Some(egui::TextWrapMode::Extend),
            f32::INFINITY,
            egui::TextStyle::Body,
        )
        .size()
        .x
}

fn runs_root(text: &str) -> PathBuf {
    let t = text.trim();
    Path::new(if t.is_empty() { "runs" } else { t }).to_path_buf()
}

fn ordering_title(o: OrderingSpec) -> &'static str {
    match o {
        OrderingSpec::Patterned => "Patterned",
        OrderingSpec::Random => "Random order (control)",
    }
}

fn occlusion_title(as_trained: bool) -> &'static str {
    if as_trained {
        "As the first run was trained"
    } else {
        "As on the Occlusion panel"
    }
}
