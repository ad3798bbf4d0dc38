//! Quiz panel: run human-vs-machine sessions (set-up, instructions, practice with feedback,
//! trials answered by keyboard or click, finish) and see the results (people against models,
//! paper A's Tables 4–5).
//!
//! The results side lives in [`super::quiz_results`]. Everything is a call into [`crate::quiz`]: the session file (created, resumed, appended and
//! synced by [`Session`]), the trial state ([`Trial`]: answers, corrections, response times, time
//! limit), the key mapping, and the analysis. This file routes keys and clicks and draws.
//!
//! Keys during a sequence: the class keys (digits, letters; number keys with the legend for
//! CIFAR-10) answer the selected image and move on; ←/→ select; Backspace clears; Enter submits.
//! Images are drawn without any hint of their occlusion level.
//!
//! The "Class session" tab ([`class`]) serves the same quiz to a whole class's browsers.
//!
//! Over 600 lines: one session's flow (keys, screens, saving) in one place; drawing lives in
//! `screens`, the set-up form in `setup`, the class session in `class`.

pub mod class;
mod screens;
mod setup;

use super::quiz_results::ResultsView;
use super::task::Task;
use super::widgets;
use super::workbench::{PanelId, Workbench, panel_heading};
use crate::experiment::preset::Preset;
use crate::quiz::analysis::QuizReport;
use crate::quiz::config::{Group, QuizConfig, TrialOrder, participant_seed};
use crate::quiz::items::{QuizItem, Stimuli};
use crate::quiz::session::{self, Recovery, Response, Session, SessionRecord, Started};
use crate::quiz::trial::{
    ImageFeedback, Trial, feedback, instructions, key_class, key_legend, legend_needed,
    progress_label,
};
use egui::{Color32, Event, Key, RichText, Stroke, TextureHandle, Vec2};
use screens::{feedback_ui, instructions_ui, resume_notice, trial_ui};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The preset a new session starts from: the embedded digits, works offline.
pub const DEFAULT_PRESET: &str = "presets/quiz/digits-embedded.toml";
/// Where session files go.
pub const DEFAULT_QUIZ_DIR: &str = "quiz";
/// Largest side of an image during a trial, in points.
const MAX_CELL: f32 = 240.0;

/// The group choice of the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupChoice {
    NonExpert,
    Expert,
    Custom,
}

/// The set-up form.
#[derive(Clone, Debug)]
pub struct QuizForm {
    pub participant: String,
    pub group: GroupChoice,
    pub custom_group: String,
    /// Preset TOML (data, occluders, sequences).
    pub preset_path: String,
    pub patterned: usize,
    pub random: usize,
    pub balance_levels: bool,
    pub order: TrialOrder,
    pub time_limit: bool,
    pub time_limit_seconds: f64,
    pub practice: usize,
    pub item_seed: u64,
    /// `None`: derived from the participant ID.
    pub order_seed: Option<u64>,
    /// Folder of the session files.
    pub quiz_dir: String,
}

impl Default for QuizForm {
    fn default() -> Self {
        QuizForm {
            participant: String::new(),
            group: GroupChoice::NonExpert,
            custom_group: String::new(),
            preset_path: DEFAULT_PRESET.into(),
            patterned: 10,
            random: 10,
            balance_levels: true,
            order: TrialOrder::Interleaved,
            time_limit: false,
            time_limit_seconds: 30.0,
            practice: 2,
            item_seed: 1,
            order_seed: None,
            quiz_dir: DEFAULT_QUIZ_DIR.into(),
        }
    }
}

impl QuizForm {
    /// The group the form names.
    pub fn group(&self) -> Group {
        match self.group {
            GroupChoice::NonExpert => Group::NonExpert,
            GroupChoice::Expert => Group::Expert,
            GroupChoice::Custom => Group::parse(&self.custom_group),
        }
    }

    /// The session config (loads the preset file).
    pub fn config(&self) -> Result<QuizConfig, String> {
        let path = Path::new(self.preset_path.trim());
        let preset = Preset::load(path).map_err(|e| e.to_string())?;
        let mut c = QuizConfig::new(&self.participant, self.group(), preset);
        c.patterned = self.patterned;
        c.random = self.random;
        c.balance_levels = self.balance_levels;
        c.order = self.order;
        c.time_limit_seconds = self.time_limit.then_some(self.time_limit_seconds);
        c.practice = self.practice;
        c.item_seed = self.item_seed;
        c.order_seed = self
            .order_seed
            .unwrap_or_else(|| participant_seed(&self.participant));
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }
}

/// A session being run.
struct Running {
    session: Session,
    stimuli: Stimuli,
    /// The sequence on screen.
    trial: Option<Trial>,
    /// Textures of the item on screen: (item, occluded images).
    textures: Option<(usize, Vec<TextureHandle>)>,
    /// Shown once above the instructions (a resumed session, a recovered file).
    notice: Option<String>,
    /// A failed save: shown in place; the sequence stays on screen.
    error: Option<String>,
}

/// What the session side shows.
enum Screen {
    Setup,
    Preparing(Task<Result<Running, String>>),
    Instructions(Box<Running>),
    Trial(Box<Running>),
    /// The answered sequence being appended and synced to the session file, off the UI thread;
    /// the next screen comes only once it is on disk.
    Saving(Task<Saved>),
    Feedback(Box<Running>, usize, Vec<ImageFeedback>),
    Finished {
        path: PathBuf,
        sequences: usize,
    },
}

/// A sequence's save, back from its thread with the session.
struct Saved {
    running: Box<Running>,
    response: Response,
    result: Result<(), String>,
}

/// Which screen is up (for tests and the status line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuizScreen {
    Setup,
    Preparing,
    Instructions,
    Trial,
    /// The answered sequence is being written to disk.
    Saving,
    Feedback,
    Finished,
}

/// The two halves of the panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuizTab {
    Session,
    Results,
    /// The quiz served to a whole class's browsers, with live results ([`class`]).
    Class,
}

/// Session files of a folder, or why each could not be read.
type ListedSessions = Vec<Result<SessionRecord, String>>;

/// The Quiz panel.
pub struct QuizPanel {
    pub form: QuizForm,
    pub tab: QuizTab,
    screen: Screen,
    /// Session files found in the quiz folder (for "Resume").
    listed: Option<(String, ListedSessions)>,
    /// Their listing, on a background thread.
    listing: Option<(String, Task<ListedSessions>)>,
    /// The last set-up error.
    error: Option<String>,
    results: ResultsView,
    /// The class session view.
    pub class: class::ClassPanel,
}

impl Default for QuizPanel {
    fn default() -> Self {
        QuizPanel {
            form: QuizForm::default(),
            tab: QuizTab::Session,
            screen: Screen::Setup,
            listed: None,
            listing: None,
            error: None,
            results: ResultsView::default(),
            class: class::ClassPanel::default(),
        }
    }
}

impl QuizPanel {
    /// Whether the session files or the results tab's runs folder are being listed.
    pub fn is_listing(&self) -> bool {
        self.listing.is_some() || self.results.is_listing() || self.is_saving()
    }

    /// Whether an answered sequence is being written to disk.
    pub fn is_saving(&self) -> bool {
        matches!(self.screen, Screen::Saving(_))
    }

    /// Which screen is up.
    pub fn screen(&self) -> QuizScreen {
        match &self.screen {
            Screen::Setup => QuizScreen::Setup,
            Screen::Preparing(_) => QuizScreen::Preparing,
            Screen::Instructions(_) => QuizScreen::Instructions,
            Screen::Trial(_) => QuizScreen::Trial,
            Screen::Saving(_) => QuizScreen::Saving,
            Screen::Feedback(..) => QuizScreen::Feedback,
            Screen::Finished { .. } => QuizScreen::Finished,
        }
    }

    /// The session file of the running (or just finished) session.
    pub fn session_path(&self) -> Option<PathBuf> {
        match &self.screen {
            Screen::Instructions(r) | Screen::Trial(r) | Screen::Feedback(r, ..) => {
                Some(r.session.path().to_path_buf())
            }
            Screen::Finished { path, .. } => Some(path.clone()),
            _ => None,
        }
    }

    /// The item on screen during a trial, with its index in the session.
    pub fn current_item(&self) -> Option<(usize, &QuizItem)> {
        match &self.screen {
            Screen::Trial(r) => {
                let t = r.trial.as_ref()?;
                Some((t.item, r.session.header().items.get(t.item)?))
            }
            _ => None,
        }
    }

    /// The class names of the running session (what its keys answer), as its file records them.
    pub fn class_names(&self) -> Option<&[String]> {
        match &self.screen {
            Screen::Instructions(r) | Screen::Trial(r) | Screen::Feedback(r, ..) => {
                Some(&r.session.header().class_names)
            }
            _ => None,
        }
    }

    /// The answers given so far to the sequence on screen.
    pub fn current_answers(&self) -> Option<Vec<Option<u16>>> {
        match &self.screen {
            Screen::Trial(r) => r.trial.as_ref().map(|t| t.answers().to_vec()),
            _ => None,
        }
    }

    /// The last error of the set-up (or of saving).
    pub fn error(&self) -> Option<String> {
        match &self.screen {
            Screen::Trial(r) | Screen::Instructions(r) => r.error.clone().or(self.error.clone()),
            _ => self.error.clone(),
        }
    }

    /// The results of the last analysis.
    pub fn report(&self) -> Option<&QuizReport> {
        self.results.report()
    }

    /// Whether a background job (preparing a session, analysing) is running.
    pub fn is_busy(&self) -> bool {
        matches!(self.screen, Screen::Preparing(_) | Screen::Saving(_))
            || self.results.is_busy()
            || self.class.is_busy()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        self.poll(ui.ctx());
        let data_dir = workbench.data_dir.clone();
        // During a session the trial takes the keys, before any widget sees them.
        if self.tab == QuizTab::Session {
            self.handle_keys(ui);
        }
        egui::ScrollArea::vertical()
            .id_salt("quiz_scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                panel_heading(
                    ui,
                    PanelId::Quiz,
                    "People against the models on the same occluded sequences (paper A, Tables 4–5).",
                );
                let in_session = !matches!(self.screen, Screen::Setup | Screen::Finished { .. });
                if !in_session {
                    ui.horizontal(|ui| {
                        ui.selectable_value(&mut self.tab, QuizTab::Session, "Session");
                        ui.selectable_value(&mut self.tab, QuizTab::Results, "Results");
                        ui.selectable_value(&mut self.tab, QuizTab::Class, "Class session");
                    });
                    ui.separator();
                }
                match self.tab {
                    QuizTab::Session => self.session_ui(ui, data_dir.as_deref()),
                    QuizTab::Results => self.results.ui(
                        ui,
                        &mut self.form.quiz_dir,
                        &mut workbench.runs_root,
                        data_dir.as_deref(),
                    ),
                    QuizTab::Class => self.class.ui(ui, &self.form, workbench),
                }
            });
        if matches!(self.screen, Screen::Preparing(_)) || self.results.is_busy() {
            ui.ctx().request_repaint_after(Duration::from_millis(50));
        }
    }

    /// Takes finished background work.
    fn poll(&mut self, ctx: &egui::Context) {
        if let Screen::Saving(task) = &self.screen
            && let Some(done) = task.poll()
        {
            self.screen = match done {
                Ok(saved) => saved_screen(saved, ctx),
                Err(lost) => {
                    // The session file holds every sequence saved before; it resumes there.
                    self.error = Some(format!(
                        "Could not save this sequence ({lost}); resume the session to go on"
                    ));
                    Screen::Setup
                }
            };
        }
        if let Screen::Preparing(task) = &self.screen {
            match task.poll() {
                Some(Ok(Ok(running))) => self.screen = Screen::Instructions(Box::new(running)),
                Some(Ok(Err(e))) => {
                    self.error = Some(e);
                    self.screen = Screen::Setup;
                }
                None => {}
                Some(Err(_)) => {
                    self.error = Some("the preparing thread stopped without a result".into());
                    self.screen = Screen::Setup;
                }
            }
        }
    }

    // ----- keys -----

    fn handle_keys(&mut self, ui: &mut egui::Ui) {
        if ui.ctx().text_edit_focused() {
            return;
        }
        let keys: Vec<Key> = ui.input(|i| {
            i.events
                .iter()
                .filter_map(|e| match e {
                    Event::Key {
                        key,
                        pressed: true,
                        modifiers,
                        ..
                    } if !modifiers.ctrl && !modifiers.alt && !modifiers.command => Some(*key),
                    _ => None,
                })
                .collect()
        });
        if keys.is_empty() {
            return;
        }
        let mut used = Vec::new();
        for key in keys {
            if self.key(key, ui.ctx()) {
                used.push(key);
            }
        }
        if !used.is_empty() {
            // Widgets drawn after this (a focused button) must not act on the same keys.
            ui.input_mut(|i| {
                i.events
                    .retain(|e| !matches!(e, Event::Key { key, .. } if used.contains(key)))
            });
        }
    }

    /// One key press; true when it was used.
    fn key(&mut self, key: Key, ctx: &egui::Context) -> bool {
        let confirm = matches!(key, Key::Enter | Key::Space);
        match self.screen() {
            QuizScreen::Instructions if confirm => {
                self.begin(ctx);
                return true;
            }
            QuizScreen::Feedback if confirm => {
                self.advance(ctx);
                return true;
            }
            QuizScreen::Trial => {}
            _ => return false,
        }
        if key == Key::Enter {
            self.submit(ctx);
            return true;
        }
        let Screen::Trial(running) = &mut self.screen else {
            return false;
        };
        let now = Instant::now();
        let classes = &running.session.header().class_names;
        let Some(trial) = running.trial.as_mut() else {
            return false;
        };
        match key {
            Key::Backspace | Key::Delete => trial.clear_selected(now),
            Key::ArrowLeft => trial.move_selection(-1),
            Key::ArrowRight => trial.move_selection(1),
            _ => {
                let mut name = key.name().chars();
                let (Some(c), None) = (name.next(), name.next()) else {
                    return false;
                };
                let Some(class) = key_class(c, classes) else {
                    return false;
                };
                trial.answer_selected(class, now);
            }
        }
        true
    }

    // ----- session flow -----

    /// Starts (or resumes) the session the form describes, on a background thread.
    pub fn start(&mut self, ctx: &egui::Context, data_dir: Option<&Path>) {
        self.error = None;
        let form = self.form.clone();
        let dir = PathBuf::from(self.form.quiz_dir.trim());
        let data_dir = data_dir.map(Path::to_path_buf);
        self.spawn(ctx, move || {
            let config = form.config()?;
            let stimuli = Stimuli::load(&config, data_dir.as_deref()).map_err(|e| e.to_string())?;
            let (session, started) =
                session::start(&dir, &config, &stimuli).map_err(|e| e.to_string())?;
            let notice = match started {
                Started::Created => None,
                Started::Resumed { recovery } => Some(resume_notice(&session, recovery)),
            };
            Ok(Running::new(session, stimuli, notice))
        });
    }

    /// Resumes a session file, on a background thread.
    pub fn resume(&mut self, path: PathBuf, ctx: &egui::Context, data_dir: Option<&Path>) {
        self.error = None;
        let data_dir = data_dir.map(Path::to_path_buf);
        self.spawn(ctx, move || {
            let (session, recovery, stimuli) =
                session::resume(&path, data_dir.as_deref()).map_err(|e| e.to_string())?;
            let notice = resume_notice(&session, recovery);
            Ok(Running::new(session, stimuli, Some(notice)))
        });
    }

    fn spawn(
        &mut self,
        ctx: &egui::Context,
        job: impl FnOnce() -> Result<Running, String> + Send + 'static,
    ) {
        match Task::spawn(ctx, "quiz-prepare", job) {
            Ok(task) => self.screen = Screen::Preparing(task),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Instructions → the first unanswered sequence.
    fn begin(&mut self, ctx: &egui::Context) {
        let screen = std::mem::replace(&mut self.screen, Screen::Setup);
        self.screen = match screen {
            Screen::Instructions(mut r) => {
                r.notice = None;
                r.next(ctx)
            }
            other => other,
        };
    }

    /// Feedback → the next sequence.
    fn advance(&mut self, ctx: &egui::Context) {
        let screen = std::mem::replace(&mut self.screen, Screen::Setup);
        self.screen = match screen {
            Screen::Feedback(r, ..) => r.next(ctx),
            other => other,
        };
    }

    /// Saves the sequence on screen (synced to disk) and moves on: feedback after practice,
    /// else the next sequence. A failed save keeps the sequence on screen with the error.
    fn submit(&mut self, ctx: &egui::Context) {
        let screen = std::mem::replace(&mut self.screen, Screen::Setup);
        let Screen::Trial(mut r) = screen else {
            self.screen = screen;
            return;
        };
        let Some(trial) = r.trial.as_ref() else {
            self.screen = Screen::Trial(r);
            return;
        };
        let response = match trial.submit(Instant::now()) {
            Ok(resp) => resp,
            Err(e) => {
                r.error = Some(format!("Not yet: {e}."));
                self.screen = Screen::Trial(r);
                return;
            }
        };
        // Appended and synced on a thread of its own (never on the UI thread); the next screen
        // comes only once the sequence is on disk.
        let job = move || {
            let result = r
                .session
                .append(response.clone())
                .map_err(|e| e.to_string());
            Saved {
                running: r,
                response,
                result,
            }
        };
        self.screen = match Task::spawn(ctx, "quiz-save", job) {
            Ok(task) => Screen::Saving(task),
            Err(e) => {
                self.error = Some(format!(
                    "Could not save this sequence ({e}); resume the session to go on"
                ));
                Screen::Setup
            }
        };
    }

    fn session_ui(&mut self, ui: &mut egui::Ui, data_dir: Option<&Path>) {
        let ctx = ui.ctx().clone();
        let mut action = None;
        match &mut self.screen {
            Screen::Setup => {}
            Screen::Preparing(_) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Preparing the session (loading the images, choosing the sequences)…");
                });
            }
            Screen::Instructions(r) => {
                if instructions_ui(ui, r) {
                    action = Some(Action::Begin);
                }
            }
            Screen::Trial(r) => {
                action = trial_ui(ui, r);
            }
            Screen::Saving(_) => {
                // Milliseconds: a word, not a spinner that would keep the window repainting.
                ui.label("Saving…");
            }
            Screen::Feedback(r, item, fb) => {
                if feedback_ui(ui, r, *item, fb) {
                    action = Some(Action::Continue);
                }
            }
            Screen::Finished { path, sequences } => {
                widgets::section(ui, "Session complete");
                ui.label(
                    RichText::new(format!(
                        "Session complete: {sequences} sequences saved in {}. Thank you!",
                        path.display()
                    ))
                    .size(20.0),
                );
                ui.add_space(12.0);
                ui.horizontal(|ui| {
                    if ui.button("New session").clicked() {
                        action = Some(Action::NewSession);
                    }
                    if ui.button("See the results").clicked() {
                        action = Some(Action::ShowResults);
                    }
                });
            }
        }
        if matches!(self.screen, Screen::Setup) {
            action = self.setup_ui(ui);
        }
        match action {
            Some(Action::Start) => self.start(&ctx, data_dir),
            Some(Action::Resume(p)) => self.resume(p, &ctx, data_dir),
            Some(Action::Begin) => self.begin(&ctx),
            Some(Action::Continue) => self.advance(&ctx),
            Some(Action::Submit) => self.submit(&ctx),
            Some(Action::NewSession) => {
                self.screen = Screen::Setup;
                self.listed = None;
                self.form.participant.clear();
            }
            Some(Action::ShowResults) => {
                self.screen = Screen::Setup;
                self.listed = None;
                self.tab = QuizTab::Results;
            }
            None => {}
        }
        // A trial whose time ran out is submitted with what was answered.
        if let Screen::Trial(r) = &self.screen
            && let Some(t) = &r.trial
        {
            let now = Instant::now();
            if t.is_expired(now) {
                self.submit(&ctx);
            } else if let Some(left) = t.remaining(now) {
                ctx.request_repaint_after(left.min(Duration::from_millis(250)));
            }
        }
    }
}

/// What a screen asked for.
enum Action {
    Start,
    Resume(PathBuf),
    Begin,
    Continue,
    Submit,
    NewSession,
    ShowResults,
}

/// Where a finished save leads: feedback after practice, else the next sequence; a failed save
/// keeps the sequence on screen with the error.
fn saved_screen(saved: Saved, ctx: &egui::Context) -> Screen {
    let Saved {
        mut running,
        response,
        result,
    } = saved;
    if let Err(e) = result {
        running.error = Some(format!("Could not save this sequence: {e}"));
        return Screen::Trial(running);
    }
    running.error = None;
    running.trial = None;
    let item = response.item;
    let practice = running
        .session
        .header()
        .items
        .get(item)
        .is_some_and(|i| i.practice);
    if practice {
        let fb = feedback(running.session.header(), &response);
        Screen::Feedback(running, item, fb)
    } else {
        running.next(ctx)
    }
}
