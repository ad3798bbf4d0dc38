//! Train panel: choose models and hyperparameters, start training jobs on the data set and the
//! occlusion spec of the workbench, steer them (pause, resume, stop) and watch their curves; open
//! finished runs from disk and overlay them.
//!
//! Jobs run one after another (a queue): on a small CPU, concurrent jobs would only slow each
//! other down. The data of a start is prepared once, on a background thread, for all its models.
//! Every figure drawn comes from [`RunSeries`] (the library); this file only routes events and
//! draws.

use super::app::{PanelId, Workbench, panel_heading};
use super::widgets;
use crate::data::ImageSet;
use crate::experiment::dataset::{self, Prepared};
use crate::experiment::preset::{
    ClipOutput, LibrarySpec, ModelSpec, OrderingSpec, Preset, SequenceSpec,
};
use crate::experiment::run::{RunDir, list_runs};
use crate::model::ModelKind;
use crate::model::resnet::StemKind;
use crate::model::rrn::{SkipPosition, SkipType};
use crate::sequence::patterns::Wrap;
use crate::train::series::{RunSeries, RunState, format_duration};
use crate::train::{BackendChoice, Control, TrainConfig, TrainJob, train_in_background};
use crossbeam_channel::{Receiver, TryRecvError};
use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, Corner, FilledArea, Legend, Line, LineStyle, Plot};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Width of the controls column.
const CONTROLS_WIDTH: f32 = 400.0;
/// Height of each plot.
const PLOT_HEIGHT: f32 = 180.0;
/// Most loss points drawn per run; more steps are folded into min/max buckets.
const LOSS_BUCKETS: usize = 300;
/// Runs folder used when the form leaves it empty.
pub const DEFAULT_RUNS_ROOT: &str = "runs";

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

/// Which pattern library the sequences follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibraryChoice {
    /// Arithmetic progressions over the digits (MNIST and other digit sets).
    Digits,
    /// Six-letter city names (letter sets; T a multiple of 6).
    Cities,
    /// Progressions over the data set's own classes (CIFAR-10, folders).
    Labels,
    /// Windows of T letters of real handwritten words (OCR letters).
    Words,
}

impl LibraryChoice {
    const ALL: [LibraryChoice; 4] = [
        LibraryChoice::Digits,
        LibraryChoice::Cities,
        LibraryChoice::Labels,
        LibraryChoice::Words,
    ];

    fn title(self) -> &'static str {
        match self {
            LibraryChoice::Digits => "Digit progressions",
            LibraryChoice::Cities => "City names",
            LibraryChoice::Labels => "Label progressions",
            LibraryChoice::Words => "Real words",
        }
    }

    /// The library that fits a data set's classes: digits for "0"…"9", city names for single
    /// letters, progressions over the class names otherwise.
    pub fn for_classes(class_names: &[String]) -> Self {
        let single = |f: fn(char) -> bool| {
            !class_names.is_empty()
                && class_names.iter().all(|n| {
                    let mut c = n.trim().chars();
                    c.next().is_some_and(f) && c.next().is_none()
                })
        };
        if single(|c| c.is_ascii_digit()) {
            LibraryChoice::Digits
        } else if single(|c| c.is_ascii_alphabetic()) {
            LibraryChoice::Cities
        } else {
            LibraryChoice::Labels
        }
    }

    /// The sequence length the library is built for (city names have six letters).
    pub fn natural_length(self) -> usize {
        match self {
            LibraryChoice::Cities | LibraryChoice::Words => 6,
            _ => 5,
        }
    }

    fn spec(self) -> LibrarySpec {
        match self {
            LibraryChoice::Digits => LibrarySpec::DigitProgressions {
                steps: vec![1, 2],
                ascending: true,
                descending: true,
                wrap: Wrap::default(),
            },
            LibraryChoice::Cities => LibrarySpec::Cities,
            LibraryChoice::Labels => LibrarySpec::LabelProgressions {
                steps: vec![1, 2],
                ascending: true,
                descending: true,
                wrap: Wrap::default(),
            },
            LibraryChoice::Words => LibrarySpec::Words,
        }
    }
}

/// What the user has chosen in the form (public so that tests can fill it in directly).
#[derive(Clone, Debug)]
pub struct TrainForm {
    /// Paper A's models, index-aligned with [`ModelKind::ALL`].
    pub selected: [bool; 6],
    /// Paper B's models, index-aligned with [`ModelKind::PAPER_B`].
    pub selected_b: [bool; 4],
    /// Paper B's options (the kind is set per model): ResNet shape, temporal skips, baselines.
    pub resnet: ModelSpec,
    /// Clip data: subsequences per video (M); `None`: every non-overlapping one.
    pub per_video: Option<usize>,
    /// Clip data: which per-frame output is a subsequence's.
    pub clip_output: ClipOutput,
    pub config: TrainConfig,
    /// Keep at most this many sequences per split (quick runs).
    pub limit: Option<usize>,
    pub backend: BackendChoice,
    /// Sequence length T.
    pub t: usize,
    pub ordering: OrderingSpec,
    /// `None`: the library that fits the data set's classes.
    pub library: Option<LibraryChoice>,
    /// Train on the Patterns panel's library, T and seed instead (custom lists included).
    pub from_patterns_panel: bool,
    pub sequence_seed: u64,
    /// Folder the run directories are created in.
    pub runs_root: String,
}

impl Default for TrainForm {
    fn default() -> Self {
        let mut selected = [false; 6];
        selected[ModelKind::ALL
            .iter()
            .position(|k| *k == ModelKind::Crnn)
            .unwrap_or(0)] = true;
        TrainForm {
            selected,
            selected_b: [false; 4],
            resnet: ModelSpec::new(ModelKind::Rrn),
            per_video: None,
            clip_output: ClipOutput::Last,
            config: TrainConfig::default(),
            limit: None,
            backend: BackendChoice::Auto,
            t: 5,
            ordering: OrderingSpec::Patterned,
            library: None,
            from_patterns_panel: false,
            sequence_seed: 1,
            runs_root: DEFAULT_RUNS_ROOT.into(),
        }
    }
}

impl TrainForm {
    /// Selects exactly the given models.
    pub fn select_only(&mut self, models: &[ModelKind]) {
        for (k, kind) in ModelKind::ALL.iter().enumerate() {
            self.selected[k] = models.contains(kind);
        }
        for (k, kind) in ModelKind::PAPER_B.iter().enumerate() {
            self.selected_b[k] = models.contains(kind);
        }
    }

    /// The models ticked, paper A's first.
    pub fn models(&self) -> Vec<ModelKind> {
        let a = ModelKind::ALL.iter().zip(self.selected);
        let b = ModelKind::PAPER_B.iter().zip(self.selected_b);
        a.chain(b).filter_map(|(k, s)| s.then_some(*k)).collect()
    }

    /// The model options of one model's run.
    pub fn model_spec(&self, kind: ModelKind) -> ModelSpec {
        if kind.is_paper_b() {
            ModelSpec {
                kind,
                ..self.resnet.clone()
            }
        } else {
            ModelSpec::new(kind)
        }
    }

    /// Fills the form from a preset: its sequences (T, ordering, patterns, seed, limit), its model
    /// (the only one ticked; paper B's options too) and its hyperparameters. Custom pattern lists
    /// have no place in the form: the library then follows the data set's classes.
    pub fn apply_preset(&mut self, preset: &Preset) {
        let s = &preset.sequences;
        self.from_patterns_panel = false;
        self.t = s.t;
        self.ordering = s.ordering;
        self.sequence_seed = s.seed;
        self.limit = s.limit;
        self.library = match &s.patterns {
            LibrarySpec::DigitProgressions { .. } => Some(LibraryChoice::Digits),
            LibrarySpec::Cities => Some(LibraryChoice::Cities),
            LibrarySpec::LabelProgressions { .. } => Some(LibraryChoice::Labels),
            LibrarySpec::Words => Some(LibraryChoice::Words),
            _ => None,
        };
        if let LibrarySpec::Clips {
            per_video, output, ..
        } = &s.patterns
        {
            self.per_video = *per_video;
            self.clip_output = *output;
        }
        if let Some(m) = &preset.model {
            self.select_only(&[m.kind]);
            if m.kind.is_paper_b() {
                self.resnet = m.clone();
            }
        }
        if let Some(t) = &preset.train {
            self.config = t.clone();
        }
    }

    fn runs_root(&self) -> PathBuf {
        let root = self.runs_root.trim();
        PathBuf::from(if root.is_empty() {
            DEFAULT_RUNS_ROOT
        } else {
            root
        })
    }

    /// The preset of one model's run (its name is settled when the run starts).
    pub fn preset(&self, kind: ModelKind, workbench: &Workbench, images: &ImageSet) -> Preset {
        let data = workbench.data.as_ref().map(|d| d.source.clone());
        let library = self
            .library
            .unwrap_or_else(|| LibraryChoice::for_classes(&images.class_names));
        let clips = data.as_ref().is_some_and(|d| d.is_clips());
        let patterns = if clips {
            LibrarySpec::Clips {
                per_video: self.per_video,
                output: self.clip_output,
                occlude: true,
            }
        } else {
            library.spec()
        };
        let (patterns, t, seed, cap, min_share) =
            match (&workbench.patterns, self.from_patterns_panel && !clips) {
                (Some(shared), true) => (
                    shared.spec.clone(),
                    shared.t,
                    shared.seed,
                    shared.cap,
                    shared.min_share,
                ),
                _ => (patterns, self.t, self.sequence_seed, None, 0.0),
            };
        Preset {
            name: format!("gui-{}", kind.to_string().to_ascii_lowercase()),
            description: format!("{kind} trained from the workbench's Train panel"),
            data: data.unwrap_or_default(),
            occlusion: workbench.spec.clone(),
            sequences: SequenceSpec {
                t,
                ordering: self.ordering,
                patterns,
                seed,
                cap,
                min_share,
                limit: self.limit,
            },
            model: Some(self.model_spec(kind)),
            train: Some(self.config.clone()),
        }
    }
}

/// Data being prepared for the presets of one start.
struct Preparing {
    rx: Receiver<Result<Arc<Prepared>, String>>,
    presets: Vec<Preset>,
    started: Instant,
}

/// The job training now.
struct Active {
    job: TrainJob,
    path: PathBuf,
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
    /// The library last chosen automatically: T follows it when it changes.
    auto_library: Option<LibraryChoice>,
    preparing: Option<Preparing>,
    queue: VecDeque<(Preset, Arc<Prepared>)>,
    active: Option<Active>,
    runs: Vec<ShownRun>,
    colors_used: usize,
    /// The runs folder as last listed, and its runs.
    disk: Option<(PathBuf, Vec<RunDir>)>,
    error: Option<String>,
    /// The last "Save plots as PNG": the files written, or the error.
    saved_plots: Option<Result<Vec<PathBuf>, String>>,
}

impl TrainPanel {
    /// Takes what the background work has sent: prepared data, job events; starts the next queued
    /// run when one ends. Called every frame, whichever panel is shown. Never blocks.
    pub fn poll(&mut self, ctx: &egui::Context) {
        if let Some(p) = &self.preparing {
            let result = match p.rx.try_recv() {
                Ok(result) => Some(result),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => {
                    Some(Err("the data preparation thread stopped".into()))
                }
            };
            if let Some(result) = result {
                let p = self.preparing.take().expect("checked above");
                match result {
                    Ok(prepared) => self
                        .queue
                        .extend(p.presets.into_iter().map(|s| (s, prepared.clone()))),
                    Err(e) => self.error = Some(format!("Preparing the sequences failed: {e}")),
                }
            }
        }
        if let Some(active) = &self.active {
            let mut ended = false;
            let index = self.runs.iter().position(|r| r.path == active.path);
            loop {
                match active.job.events.try_recv() {
                    Ok(event) => {
                        if let Some(i) = index {
                            self.runs[i].series.apply(&event);
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        ended = true;
                        break;
                    }
                }
            }
            if let Some(i) = index {
                let series = &mut self.runs[i].series;
                if ended && !series.state.is_over() {
                    series.state =
                        RunState::Failed("the training thread ended without a word".into());
                }
                ended |= series.state.is_over();
            }
            if ended {
                self.active = None;
                self.disk = None; // relist: the run's files have changed
            }
        }
        if self.active.is_none() {
            self.start_next(ctx);
        }
    }

    /// Whether a job is training, queued or being prepared.
    pub fn is_busy(&self) -> bool {
        self.active.is_some() || self.preparing.is_some() || !self.queue.is_empty()
    }

    /// The series of every run shown (live and opened), in the order they were added.
    pub fn series(&self) -> impl Iterator<Item = &RunSeries> {
        self.runs.iter().map(|r| &r.series)
    }

    /// The run directory of the job training now.
    pub fn active_run(&self) -> Option<&Path> {
        self.active.as_ref().map(|a| a.path.as_path())
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
        let (tx, rx) = crossbeam_channel::bounded(1);
        let preset = presets[0].clone();
        let images = data.set.clone();
        let load_time = data.load_time;
        let data_dir = workbench.data_dir.clone();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("occlab-prepare".into())
            .spawn(move || {
                let result =
                    dataset::prepare_with_dir(&preset, images, load_time, data_dir.as_deref())
                        .map(Arc::new)
                        .map_err(|e| e.to_string());
                let _ = tx.send(result);
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.preparing = Some(Preparing {
                    rx,
                    presets,
                    started: Instant::now(),
                })
            }
            Err(e) => self.error = Some(format!("cannot start the preparation thread: {e}")),
        }
    }

    /// Starts the next queued run, if any.
    fn start_next(&mut self, ctx: &egui::Context) {
        while let Some((mut preset, prepared)) = self.queue.pop_front() {
            let root = self.form.runs_root();
            let stamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let base = format!("{}-{stamp}", preset.name);
            let mut name = base.clone();
            let mut k = 2;
            while root.join(&name).exists() {
                name = format!("{base}-{k}");
                k += 1;
            }
            preset.name = name.clone();
            let path = root.join(&name);
            let run = match RunDir::create(&path, &preset) {
                Ok(run) => run,
                Err(e) => {
                    self.error = Some(format!("Cannot create the run: {e}"));
                    continue;
                }
            };
            let train = preset.train.clone().unwrap_or_default();
            let model = preset
                .model
                .as_ref()
                .map_or(String::new(), |m| m.kind.to_string());
            let series = RunSeries::new(
                name,
                model,
                train.epochs,
                train.batch_size * preset.sequences.t,
            );
            let repaint = ctx.clone();
            let notify: Arc<dyn Fn() + Send + Sync> = Arc::new(move || repaint.request_repaint());
            let job = train_in_background(prepared, run, self.form.backend, false, Some(notify));
            let color = self.next_color();
            self.runs.push(ShownRun {
                path: path.clone(),
                series,
                color,
                live: true,
                visible: true,
            });
            self.active = Some(Active { job, path });
            self.disk = None;
            return;
        }
    }

    fn send(&self, control: Control) {
        if let Some(a) = &self.active {
            let _ = a.job.control.send(control);
        }
    }

    /// Stops the job training now and drops the queue.
    fn stop_all(&mut self) {
        self.send(Control::Stop);
        self.queue.clear();
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
                        ui.columns(2, |cols| {
                            self.status_ui(&mut cols[0]);
                            self.disk_ui(&mut cols[1]);
                        });
                        self.plots_ui(ui);
                    });
                });
            });
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, workbench: &Workbench) {
        let classes = workbench
            .data
            .as_ref()
            .map(|d| d.set.class_names.clone())
            .unwrap_or_default();
        let auto = LibraryChoice::for_classes(&classes);
        if self.auto_library != Some(auto) {
            // A new kind of data: T follows the library that fits it.
            if self.auto_library.is_some() || self.form.library.is_none() {
                self.form.t = auto.natural_length();
            }
            self.auto_library = Some(auto);
        }
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
        egui::Grid::new("train_sequences")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                if clips {
                    clip_options_ui(ui, form);
                    return;
                }
                ui.label("");
                let shared = workbench.patterns.as_ref();
                ui.add_enabled_ui(shared.is_some(), |ui| {
                    ui.checkbox(
                        &mut form.from_patterns_panel,
                        "Use the Patterns panel's library",
                    )
                    .on_hover_text(
                        "Train on the library, T and seed designed in the Patterns panel \
                             (custom patterns included)",
                    );
                });
                ui.end_row();
                if form.from_patterns_panel
                    && let Some(shared) = shared
                {
                    ui.label("Patterns");
                    ui.label(format!(
                        "{} — T = {}, seed {} (from the Patterns panel)",
                        library_title(&shared.spec),
                        shared.t,
                        shared.seed
                    ));
                    ui.end_row();
                    return;
                }
                let l = ui.label("Patterns");
                let current = form.library.unwrap_or(auto);
                let text = if form.library.is_none() {
                    format!("{} (fits the data)", current.title())
                } else {
                    current.title().to_string()
                };
                egui::ComboBox::from_id_salt("train_library")
                    .selected_text(text)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut form.library, None, "Fits the data");
                        for lib in LibraryChoice::ALL {
                            ui.selectable_value(&mut form.library, Some(lib), lib.title());
                        }
                    })
                    .response
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Length T");
                ui.add(egui::DragValue::new(&mut form.t).range(2..=30))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Order");
                egui::ComboBox::from_id_salt("train_ordering")
                    .selected_text(ordering_title(form.ordering))
                    .show_ui(ui, |ui| {
                        for o in [OrderingSpec::Patterned, OrderingSpec::Random] {
                            ui.selectable_value(&mut form.ordering, o, ordering_title(o));
                        }
                    })
                    .response
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Sequence seed");
                ui.add(egui::DragValue::new(&mut form.sequence_seed))
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
                widgets::optional_count_row(
                    ui,
                    &mut form.limit,
                    "Limit per split",
                    "Keep at most this many sequences of each split: quick runs",
                    "Sequences per split",
                    256,
                    1..=1_000_000,
                );
                let l = ui.label("Backend");
                egui::ComboBox::from_id_salt("train_backend")
                    .selected_text(backend_title(form.backend))
                    .show_ui(ui, |ui| {
                        for b in [
                            BackendChoice::Auto,
                            BackendChoice::Wgpu,
                            BackendChoice::Flex,
                        ] {
                            ui.selectable_value(&mut form.backend, b, backend_title(b));
                        }
                    })
                    .response
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Runs folder");
                ui.add(egui::TextEdit::singleline(&mut form.runs_root).desired_width(200.0))
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
            let running = self.active.is_some();
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

    fn active_series(&self) -> Option<&RunSeries> {
        let path = &self.active.as_ref()?.path;
        self.runs
            .iter()
            .find(|r| &r.path == path)
            .map(|r| &r.series)
    }

    /// The state of the current (or last) live run and of the queue.
    fn status_ui(&self, ui: &mut egui::Ui) {
        widgets::section(ui, "Status");
        if let Some(p) = &self.preparing {
            ui.label(format!(
                "Preparing the sequences for {} run(s)… {:.1} s",
                p.presets.len(),
                p.started.elapsed().as_secs_f64()
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
        if !self.queue.is_empty() {
            let names: Vec<String> = self
                .queue
                .iter()
                .filter_map(|(p, _)| p.model.as_ref().map(|m| m.kind.to_string()))
                .collect();
            ui.label(format!("Queued next: {}", names.join(", ")));
        }
    }

    /// One line per run in the plots: its colour, model, state and last test accuracy.
    fn shown_runs_ui(&self, ui: &mut egui::Ui) {
        for r in self.runs.iter().filter(|r| r.visible) {
            let s = &r.series;
            let accuracy = s.test_accuracy().last().map_or("no epoch yet".into(), |p| {
                format!("test {:.1} %", p[1] * 100.0)
            });
            widgets::swatch(
                ui,
                r.color,
                format!("{}: {}, {}, {accuracy}", s.name, s.model, s.state.word()),
            );
        }
    }

    /// The runs folder's runs, with a checkbox each to overlay them.
    fn disk_ui(&mut self, ui: &mut egui::Ui) {
        widgets::section(ui, "Runs on disk");
        let root = self.form.runs_root();
        let stale = self.disk.as_ref().is_none_or(|(r, _)| *r != root);
        let refresh = ui.horizontal(|ui| ui.button("Refresh").clicked()).inner;
        if stale || refresh {
            self.disk = Some((root.clone(), list_runs(&root)));
        }
        let runs = self
            .disk
            .as_ref()
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
                        (None, true) => match RunSeries::from_run(&run) {
                            Ok(series) => {
                                let color = self.next_color();
                                self.runs.push(ShownRun {
                                    path: run.path.clone(),
                                    series,
                                    color,
                                    live: false,
                                    visible: true,
                                });
                            }
                            Err(e) => self.error = Some(format!("Cannot open the run: {e}")),
                        },
                        (None, false) => {}
                    }
                }
            });
    }

    /// Writes the shown runs' curves as PNGs into `<runs folder>/plots/`.
    pub fn save_plots(&mut self) -> Result<Vec<PathBuf>, String> {
        let series: Vec<&crate::train::series::RunSeries> = self
            .runs
            .iter()
            .filter(|r| r.visible)
            .map(|r| &r.series)
            .collect();
        let dir = self.form.runs_root().join("plots");
        let result =
            crate::experiment::plots::write_series_pngs(&series, &dir).map_err(|e| e.to_string());
        self.saved_plots = Some(result.clone());
        result
    }

    fn plots_ui(&mut self, ui: &mut egui::Ui) {
        if self.runs.iter().any(|r| r.visible) {
            ui.horizontal(|ui| {
                if ui
                    .button("Save plots as PNG")
                    .on_hover_text("loss, accuracy, levels and positions of the shown runs, into <runs folder>/plots/")
                    .clicked()
                {
                    let _ = self.save_plots();
                }
                match &self.saved_plots {
                    Some(Ok(files)) => {
                        let dir = files
                            .first()
                            .and_then(|f| f.parent())
                            .map(|d| d.display().to_string())
                            .unwrap_or_default();
                        ui.label(RichText::new(format!("{} plots saved in {dir}", files.len())).weak());
                    }
                    Some(Err(e)) => {
                        ui.colored_label(ui.visuals().error_fg_color, e);
                    }
                    None => {}
                }
            });
        }
        let shown: Vec<&ShownRun> = self.runs.iter().filter(|r| r.visible).collect();
        if shown.is_empty() {
            widgets::section(ui, "Curves");
            ui.label(
                RichText::new("Start a run, or tick runs on disk, to see their curves here.")
                    .weak(),
            );
            return;
        }
        let points: usize = shown.iter().map(|r| r.series.steps.len()).sum();
        ui.columns(2, |cols| {
            let ui = &mut cols[0];
            widgets::section(ui, "Loss per step");
            ui.label(
                RichText::new(format!(
                    "loss points: {points} — band: min–max of folded steps"
                ))
                .weak(),
            );
            plot("train_loss", Corner::RightTop)
                .x_axis_label("step")
                .y_axis_label("loss")
                .show(ui, |plot_ui| {
                    for r in &shown {
                        let buckets = r.series.loss_buckets(LOSS_BUCKETS);
                        if buckets.iter().any(|b| b.count > 1) {
                            let xs: Vec<f64> = buckets.iter().map(|b| b.x).collect();
                            let lo: Vec<f64> = buckets.iter().map(|b| b.min).collect();
                            let hi: Vec<f64> = buckets.iter().map(|b| b.max).collect();
                            plot_ui.add(
                                FilledArea::new(&r.series.name, &xs, &lo, &hi)
                                    .fill_color(r.color.gamma_multiply(0.25)),
                            );
                        }
                        let mean: Vec<[f64; 2]> = buckets.iter().map(|b| [b.x, b.mean]).collect();
                        plot_ui.line(Line::new(&r.series.name, mean).color(r.color).width(1.5));
                    }
                });

            let ui = &mut cols[1];
            widgets::section(ui, "Accuracy per epoch");
            ui.label(RichText::new("solid: test; dashed: training").weak());
            plot("train_accuracy", Corner::RightBottom)
                .x_axis_label("epoch")
                .y_axis_label("accuracy")
                .include_y(0.0)
                .include_y(1.0)
                .show(ui, |plot_ui| {
                    for r in &shown {
                        plot_ui.line(
                            Line::new(&r.series.name, r.series.test_accuracy())
                                .color(r.color)
                                .width(2.0),
                        );
                        plot_ui.line(
                            Line::new(&r.series.name, r.series.train_accuracy())
                                .color(r.color)
                                .style(LineStyle::dashed_dense())
                                .width(1.5),
                        );
                    }
                });
        });

        ui.columns(2, |cols| {
            let ui = &mut cols[0];
            widgets::section(ui, "Test accuracy per occlusion level");
            ui.label(RichText::new("latest epoch of each run; level 0 = unoccluded").weak());
            let width = 0.8 / shown.len() as f64;
            plot("train_levels", Corner::RightTop)
                // Headroom: the legend sits above the bars.
                .include_y(1.4)
                .x_axis_label("occlusion level")
                .y_axis_label("accuracy")
                .include_y(0.0)
                .include_y(1.0)
                .show(ui, |plot_ui| {
                    for (k, r) in shown.iter().enumerate() {
                        let per_level = r.series.test_accuracy_per_level();
                        let bars: Vec<Bar> = per_level
                            .iter()
                            .enumerate()
                            .filter_map(|(level, points)| {
                                let acc = points.last()?[1];
                                let x = level as f64 - 0.4 + width * (k as f64 + 0.5);
                                Some(Bar::new(x, acc).width(width * 0.9).fill(r.color))
                            })
                            .collect();
                        plot_ui.bar_chart(BarChart::new(&r.series.name, bars).color(r.color));
                    }
                });
            let ui = &mut cols[1];
            widgets::section(ui, "Test accuracy per position");
            ui.label(RichText::new("latest epoch of each run").weak());
            plot("train_positions", Corner::RightBottom)
                .x_axis_label("position in the sequence")
                .y_axis_label("accuracy")
                .include_y(0.0)
                .include_y(1.0)
                .show(ui, |plot_ui| {
                    for r in &shown {
                        plot_ui.line(
                            Line::new(&r.series.name, r.series.test_accuracy_per_position())
                                .color(r.color)
                                .width(2.0),
                        );
                    }
                });
        });
    }
}

/// A plot of the panel's size with a legend naming the runs.
fn plot(id: &str, legend: Corner) -> Plot<'static> {
    Plot::new(id.to_string())
        .height(PLOT_HEIGHT)
        .legend(
            Legend::default()
                .position(legend)
                .follow_insertion_order(true),
        )
        .allow_scroll(false)
}

fn paper_b_help(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::ResNet => "A ResNet with batch norm classifying every frame alone.",
        ModelKind::Rrn => {
            "Recurrent residual network: temporal skip connections from the previous frame."
        }
        ModelKind::ResNetAvg => {
            "Baseline: frame features averaged over the clip, linear classifier."
        }
        ModelKind::ResNetGru => "Baseline: a GRU over the frame features.",
        _ => "",
    }
}

/// Paper B's options: ResNet shape, temporal skips, baselines; the problems of the current
/// choice (from the library's check) in place.
fn resnet_options_ui(ui: &mut egui::Ui, form: &mut TrainForm, workbench: &Workbench) {
    let r = &mut form.resnet;
    egui::CollapsingHeader::new("Residual network options")
        .default_open(true)
        .show(ui, |ui| {
            egui::Grid::new("train_resnet")
                .num_columns(2)
                .spacing([16.0, 6.0])
                .show(ui, |ui| {
                    let l = ui.label("Temporal skip");
                    egui::ComboBox::from_id_salt("rrn_skip")
                        .selected_text(r.skip.title())
                        .show_ui(ui, |ui| {
                            for t in SkipType::ALL {
                                ui.selectable_value(&mut r.skip, t, t.title());
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Skip position");
                    egui::ComboBox::from_id_salt("rrn_position")
                        .selected_text(r.skip_position.title())
                        .show_ui(ui, |ui| {
                            for p in SkipPosition::ALL {
                                ui.selectable_value(&mut r.skip_position, p, p.title());
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Temporal context (frames)");
                    ui.add(egui::DragValue::new(&mut r.temporal_context).range(1..=16))
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Features after block");
                    ui.add(egui::DragValue::new(&mut r.feature_block).range(2..=4))
                        .labelled_by(l.id);
                    ui.end_row();
                    ui.label("Baselines");
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut r.z_norm, "z-normalise features");
                        let l = ui.label("GRU units");
                        ui.add(egui::DragValue::new(&mut r.gru_hidden).range(1..=2048))
                            .labelled_by(l.id);
                    });
                    ui.end_row();
                    ui.label("Block widths");
                    ui.horizontal(|ui| {
                        for (i, w) in r.widths.iter_mut().enumerate() {
                            ui.add(egui::DragValue::new(w).range(1..=1024))
                                .on_hover_text(format!("Channels of Block{}", i + 1));
                        }
                    });
                    ui.end_row();
                    ui.label("Units per block");
                    ui.horizontal(|ui| {
                        for (i, u) in r.units.iter_mut().enumerate() {
                            ui.add(egui::DragValue::new(u).range(1..=8))
                                .on_hover_text(format!("Residual units in Block{}", i + 1));
                        }
                    });
                    ui.end_row();
                    let l = ui.label("Stem");
                    egui::ComboBox::from_id_salt("rrn_stem")
                        .selected_text(stem_title(r.stem))
                        .show_ui(ui, |ui| {
                            for s in [StemKind::Auto, StemKind::Small, StemKind::Large] {
                                ui.selectable_value(&mut r.stem, s, stem_title(s));
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Dropout before classifier");
                    ui.add(egui::Slider::new(&mut r.head_dropout, 0.0..=0.9).fixed_decimals(2))
                        .labelled_by(l.id);
                    ui.end_row();
                });
        });
    // The library's check of every ticked paper-B model on the loaded data.
    if let Some(d) = &workbench.data {
        let set = &d.set;
        for kind in form.models().into_iter().filter(|k| k.is_paper_b()) {
            let config = form.model_spec(kind).config(
                set.channels,
                set.height,
                set.width,
                set.num_classes(),
            );
            if let Err(e) = config.validate() {
                widgets::error_text(ui, format!("{kind}: {e}"));
            }
        }
    }
}

/// Clip data: how videos become subsequences.
fn clip_options_ui(ui: &mut egui::Ui, form: &mut TrainForm) {
    let l = ui.label("Subsequence length T");
    ui.add(egui::DragValue::new(&mut form.t).range(1..=64))
        .labelled_by(l.id);
    ui.end_row();
    widgets::optional_count_row(
        ui,
        &mut form.per_video,
        "Subsequences per video",
        "M evenly spread subsequences per video; off: every non-overlapping one",
        "Subsequences per video (M)",
        4,
        1..=256,
    );
    let l = ui.label("Subsequence output");
    egui::ComboBox::from_id_salt("clip_output")
        .selected_text(clip_output_title(form.clip_output))
        .show_ui(ui, |ui| {
            for o in [ClipOutput::Last, ClipOutput::Mean] {
                ui.selectable_value(&mut form.clip_output, o, clip_output_title(o));
            }
        })
        .response
        .labelled_by(l.id);
    ui.end_row();
    let l = ui.label("Frame order");
    egui::ComboBox::from_id_salt("train_ordering")
        .selected_text(match form.ordering {
            OrderingSpec::Patterned => "As filmed",
            OrderingSpec::Random => "Shuffled (control)",
        })
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut form.ordering, OrderingSpec::Patterned, "As filmed");
            ui.selectable_value(
                &mut form.ordering,
                OrderingSpec::Random,
                "Shuffled (control)",
            );
        })
        .response
        .labelled_by(l.id);
    ui.end_row();
    let l = ui.label("Sequence seed");
    ui.add(egui::DragValue::new(&mut form.sequence_seed))
        .labelled_by(l.id);
    ui.end_row();
}

fn clip_output_title(o: ClipOutput) -> &'static str {
    match o {
        ClipOutput::Last => "Last frame (full context)",
        ClipOutput::Mean => "Mean over the frames",
    }
}

fn stem_title(s: StemKind) -> &'static str {
    match s {
        StemKind::Auto => "Automatic (by image size)",
        StemKind::Small => "Small: 3×3 conv",
        StemKind::Large => "Large: 7×7 conv + pooling",
    }
}

fn ordering_title(o: OrderingSpec) -> &'static str {
    match o {
        OrderingSpec::Patterned => "Patterned",
        OrderingSpec::Random => "Random (control)",
    }
}

fn backend_title(b: BackendChoice) -> &'static str {
    match b {
        BackendChoice::Auto => "Automatic",
        BackendChoice::Wgpu => "wgpu (GPU)",
        BackendChoice::Flex => "flex (CPU)",
    }
}

/// A short name of a preset's pattern library.
fn library_title(spec: &LibrarySpec) -> String {
    match spec {
        LibrarySpec::DigitProgressions { steps, .. } => {
            format!("digit progressions, steps {steps:?}")
        }
        LibrarySpec::LabelProgressions { steps, .. } => {
            format!("label progressions, steps {steps:?}")
        }
        LibrarySpec::Cities => "city names".into(),
        LibrarySpec::Words => "real words".into(),
        LibrarySpec::Custom { patterns } => format!("{} custom patterns", patterns.len()),
        LibrarySpec::Clips { .. } => "clips".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_fits_the_classes() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
        assert_eq!(LibraryChoice::for_classes(&digits), LibraryChoice::Digits);
        assert_eq!(
            LibraryChoice::for_classes(&names(&["A", "B", "C"])),
            LibraryChoice::Cities
        );
        assert_eq!(
            LibraryChoice::for_classes(&names(&["cat", "dog"])),
            LibraryChoice::Labels
        );
    }

    #[test]
    fn the_default_form_trains_the_crnn() {
        let form = TrainForm::default();
        assert_eq!(form.models(), vec![ModelKind::Crnn]);
        assert_eq!(form.config, TrainConfig::default());
        assert_eq!(form.runs_root(), PathBuf::from("runs"));
    }
}
