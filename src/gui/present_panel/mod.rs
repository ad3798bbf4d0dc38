//! Present panel: a class-room slide show of trained models at work. Test sequences are shown
//! large, every model's guess and confidence above each occluded image (paper A's Fig. 3); the
//! truth can be revealed (guesses turn green or red), the occluders lifted to show what they hid,
//! and the controls hidden so that only the images remain, full screen.
//!
//! Keys: Right / Left next / previous sequence, Space reveal / hide the truth, O occluders on /
//! off, H hide / show the controls, F full screen, Escape leave full screen.
//!
//! The guesses come from [`crate::experiment::showcase::build`], run on a background thread; this
//! panel only lists the runs, sends the request (`controls`) and draws the answer (`stage`).

mod controls;
mod stage;

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
use std::path::PathBuf;
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
    /// The demo pair's readiness last applied (see `workbench.demo`).
    demo_applied: u64,
}

impl Default for PresentPanel {
    fn default() -> Self {
        PresentPanel {
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
            demo_applied: 0,
        }
    }
}

impl PresentPanel {
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
        let root = workbench.runs_dir();
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
        // Read again for another data set, or when the one runs folder has changed.
        let root = workbench.runs_dir();
        let scanning = self
            .scanning
            .as_ref()
            .is_some_and(|s| Some(s.generation) == generation && s.root == root);
        if generation.is_some()
            && !scanning
            && self
                .listing
                .as_ref()
                .is_none_or(|l| Some(l.generation) != generation || l.root != root)
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
