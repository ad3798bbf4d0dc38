//! The state every panel reads and edits: the data set in use (loaded in the background), the
//! occlusion spec, the preview seed, the sequence spec ([`sequences`]), the runs folder; and which
//! panels there are. Panels import this, never the app (`app.rs`), which imports the panels.

pub mod sequences;

pub use sequences::{LibraryChoice, SequenceDraft};

use super::task::Task;
use super::widgets;
use crate::data::source::DataSource;
use crate::data::{ImageSet, Split};
use crate::occlusion::OcclusionSpec;
use crate::sequence::words::word_lengths;
use egui::RichText;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The workbench's panels, in the order of the experiment's data flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelId {
    Data,
    Occlusion,
    Patterns,
    Train,
    Results,
    Quiz,
    Present,
}

/// The panels the side bar lists, in order: every one.
pub const LISTED_PANELS: &[PanelId] = &PanelId::ALL;

impl PanelId {
    pub const ALL: [PanelId; 7] = [
        PanelId::Data,
        PanelId::Occlusion,
        PanelId::Patterns,
        PanelId::Train,
        PanelId::Results,
        PanelId::Quiz,
        PanelId::Present,
    ];

    /// The title shown in the side bar and as the panel's heading.
    pub fn title(self) -> &'static str {
        match self {
            PanelId::Data => "Data",
            PanelId::Occlusion => "Occlusion",
            PanelId::Patterns => "Patterns",
            PanelId::Train => "Train",
            PanelId::Results => "Results",
            PanelId::Quiz => "Quiz",
            PanelId::Present => "Present",
        }
    }

    /// Parses a panel name, case-insensitively (`"occlusion"`, `"Data"`).
    pub fn from_name(name: &str) -> Option<PanelId> {
        PanelId::ALL
            .into_iter()
            .find(|p| p.title().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether the side bar lists this panel.
    pub fn is_listed(self) -> bool {
        LISTED_PANELS.contains(&self)
    }
}

/// A data set in use, with what panels need to draw it (counted once, on the loader's thread:
/// the UI thread never loops over a data set).
#[derive(Clone, Debug)]
pub struct LoadedData {
    pub set: Arc<ImageSet>,
    /// Where it came from.
    pub source: DataSource,
    /// Mean pixel value per channel (the "mean" occluder fill).
    pub channel_means: Vec<u8>,
    /// Images per class of the train and the test split.
    pub class_counts: [Vec<usize>; 2],
    /// Words per length (the index) of the train and the test split (OCR letters; else empty).
    pub word_lengths: [Vec<usize>; 2],
    /// Increases with every data set loaded in this run: part of every texture-cache key.
    pub generation: u64,
    pub load_time: Duration,
}

impl LoadedData {
    /// `set` from `source` with its counts (generation 0, no load time: the workbench sets them).
    pub fn new(set: ImageSet, source: DataSource) -> Self {
        let splits = [Split::Train, Split::Test];
        LoadedData {
            channel_means: set.channel_means(),
            class_counts: splits.map(|s| set.class_counts(Some(s))),
            word_lengths: splits.map(|s| word_lengths(&set, s)),
            set: Arc::new(set),
            source,
            generation: 0,
            load_time: Duration::ZERO,
        }
    }

    /// Images in the train and the test split.
    pub fn split_sizes(&self) -> [usize; 2] {
        self.class_counts.each_ref().map(|c| c.iter().sum())
    }
}

/// A failed load, shown in place on the panels.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadFailure {
    pub source: DataSource,
    /// The loader's error (names the file and the problem).
    pub message: String,
}

struct PendingLoad {
    source: DataSource,
    task: Task<Result<LoadedData, String>>,
}

/// State shared by all panels: the data set, the occlusion spec, the preview seed, the sequence
/// spec, the runs folder, and the background load in progress. Panels read and change it; they
/// keep only view state themselves.
pub struct Workbench {
    /// Folder that relative data paths are resolved against (`--data-dir` / `OCCLAB_DATA_DIR`).
    pub data_dir: Option<PathBuf>,
    /// The data set in use, once one has loaded.
    pub data: Option<LoadedData>,
    pub spec: OcclusionSpec,
    /// Seed of the occluders drawn in previews and coverage measurements.
    pub preview_seed: u64,
    /// The last load's error, until the next load succeeds.
    pub load_error: Option<LoadFailure>,
    loading: Option<PendingLoad>,
    generation: u64,
    /// The source last asked for (persisted even when its load has not finished).
    requested: DataSource,
    /// The one sequence spec: the Patterns panel designs and previews it, the Train panel trains
    /// on it, a preset saves and restores it.
    pub sequences: SequenceDraft,
    /// The one runs folder: the Train panel starts runs in it, and the Results, Quiz and Present
    /// panels read it (as typed; see [`Self::runs_dir`]).
    pub runs_root: String,
    /// The demo CNN + CRNN pair trained in the background (the class session and the Present
    /// panel offer it and use it when done).
    pub demo: super::demo_runs::DemoTrainer,
}

/// Runs folder used when none is typed.
pub const DEFAULT_RUNS_ROOT: &str = "runs";

impl Workbench {
    pub fn new(data_dir: Option<PathBuf>, spec: OcclusionSpec, preview_seed: u64) -> Self {
        Workbench {
            data_dir,
            data: None,
            spec,
            preview_seed,
            load_error: None,
            loading: None,
            generation: 0,
            requested: DataSource::EmbeddedDigits,
            sequences: SequenceDraft::default(),
            runs_root: DEFAULT_RUNS_ROOT.into(),
            demo: Default::default(),
        }
    }

    /// The runs folder as a path ([`DEFAULT_RUNS_ROOT`] when the field is empty).
    pub fn runs_dir(&self) -> PathBuf {
        let root = self.runs_root.trim();
        PathBuf::from(if root.is_empty() {
            DEFAULT_RUNS_ROOT
        } else {
            root
        })
    }

    /// Starts loading `source` on a background thread; the result replaces the current data set
    /// when it arrives (see [`Self::poll_load`]). A load already running is abandoned.
    pub fn start_load(&mut self, source: DataSource, ctx: &egui::Context) {
        let data_dir = self.data_dir.clone();
        let job = source.clone();
        // A newer load drops this task: its result is then dropped with it.
        let task = Task::spawn(ctx, "load", move || {
            job.load(data_dir.as_deref())
                .map(|set| LoadedData::new(set, job))
                .map_err(|e| e.to_string())
        });
        self.requested = source.clone();
        match task {
            Ok(task) => self.loading = Some(PendingLoad { source, task }),
            Err(e) => {
                self.loading = None;
                self.load_error = Some(LoadFailure {
                    source,
                    message: e.to_string(),
                });
            }
        }
    }

    /// Takes a finished load's result, if one has arrived. Called once per frame.
    pub fn poll_load(&mut self) {
        let Some(pending) = &self.loading else {
            return;
        };
        let Some(result) = pending.task.poll() else {
            return;
        };
        let result = result
            .map_err(|_| "the loader thread stopped without a result".to_string())
            .and_then(|r| r);
        let pending = self.loading.take().expect("checked above");
        match result {
            Ok(mut data) => {
                self.sequences.fit_data(&data.set.class_names);
                self.generation += 1;
                data.generation = self.generation;
                data.load_time = pending.task.elapsed();
                self.data = Some(data);
                self.load_error = None;
            }
            Err(message) => {
                // Remember the data set still in use, not the one that failed.
                if let Some(data) = &self.data {
                    self.requested = data.source.clone();
                }
                self.load_error = Some(LoadFailure {
                    source: pending.source,
                    message,
                })
            }
        }
    }

    /// Abandons the running load (its thread finishes on its own; the result is dropped).
    pub fn cancel_load(&mut self) {
        self.loading = None;
        if let Some(data) = &self.data {
            self.requested = data.source.clone();
        }
    }

    /// The source being loaded, if a load is running.
    pub fn loading(&self) -> Option<&DataSource> {
        self.loading.as_ref().map(|p| &p.source)
    }

    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// How long the running load has taken so far.
    pub fn loading_for(&self) -> Option<Duration> {
        self.loading.as_ref().map(|p| p.task.elapsed())
    }

    /// The source to remember: the one last asked for.
    pub fn session_source(&self) -> &DataSource {
        &self.requested
    }

    /// Blocks until the running load (if any) has finished and taken effect. For tests and
    /// command-line tools; the UI never calls it.
    pub fn wait_for_load(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.is_loading() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
            self.poll_load();
        }
        true
    }
}

/// Where a panel's heading goes, with a one-line description under it.
pub fn panel_heading(ui: &mut egui::Ui, panel: PanelId, description: &str) {
    ui.heading(RichText::new(panel.title()).strong());
    ui.label(RichText::new(description).weak());
    ui.add_space(widgets::SECTION_GAP / 2.0);
}
