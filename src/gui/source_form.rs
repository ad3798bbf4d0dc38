//! The data-source form of the Data panel: which kind of source, its path and options, the
//! folder dialog, and the Load / Cancel buttons with their messages.
//!
//! One form: the fields of every kind of data source (IDX, CIFAR, folders, clips, letters, motion,
//! words) and the folder dialog; splitting it by kind would spread one form over files.

use super::task::{Task, TaskLost};
use super::widgets;
use super::workbench::Workbench;
use crate::data::clips::{ClipOptions, ClipSplit};
use crate::data::folder::{Fit, FolderOptions, Polarity};
use crate::data::idx::IdxLayout;
use crate::data::letters::LetterConfig;
use crate::data::motion::{Motion, MotionConfig};
use crate::data::ocr::{NUM_FOLDS, OcrOptions};
use crate::data::source::DataSource;
use egui::RichText;
use std::path::PathBuf;
use std::time::Duration;

/// The kinds of source the form offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SourceKind {
    Embedded,
    Letters,
    OcrLetters,
    Idx,
    Cifar10,
    Folder,
    Motion,
    Clips,
}

impl SourceKind {
    const ALL: [SourceKind; 8] = [
        SourceKind::Embedded,
        SourceKind::Letters,
        SourceKind::OcrLetters,
        SourceKind::Idx,
        SourceKind::Cifar10,
        SourceKind::Folder,
        SourceKind::Motion,
        SourceKind::Clips,
    ];

    fn title(self) -> &'static str {
        match self {
            SourceKind::Embedded => "Embedded digits",
            SourceKind::Letters => "Generated letters",
            SourceKind::OcrLetters => "OCR letters (real handwriting)",
            SourceKind::Idx => "IDX folder (MNIST-style)",
            SourceKind::Cifar10 => "CIFAR-10 folder",
            SourceKind::Folder => "Image folder",
            SourceKind::Motion => "Motion clips",
            SourceKind::Clips => "Video clips",
        }
    }

    fn help(self) -> &'static str {
        match self {
            SourceKind::Embedded => "10,000 real MNIST digits built into occlab: no files needed.",
            SourceKind::Letters => "EMNIST-like handwritten letters A–Z, generated from a seed.",
            SourceKind::OcrLetters => {
                "52,152 real handwritten letters a–z from 6,877 words (the ocr-letters folder), fitted to 28×28 as EMNIST was; split by the data set's folds, so no word is split."
            }
            SourceKind::Idx => {
                "A folder with the four IDX files of MNIST, Fashion-MNIST or EMNIST (raw or .gz)."
            }
            SourceKind::Cifar10 => {
                "A folder with the CIFAR-10 binary batches (data_batch_1.bin …)."
            }
            SourceKind::Folder => "A folder with one sub-folder of PNG/JPEG images per class.",
            SourceKind::Motion => {
                "Generated clips of an embedded digit that moves, turns, grows or shrinks: the class is the motion (paper B, offline)."
            }
            SourceKind::Clips => {
                "Video frame folders, Class/clip/frame_00001.jpg (UCF-101 layout), with trainlist/testlist files if present."
            }
        }
    }

    fn needs_path(self) -> bool {
        matches!(
            self,
            SourceKind::Idx
                | SourceKind::Cifar10
                | SourceKind::Folder
                | SourceKind::Clips
                | SourceKind::OcrLetters
        )
    }
}

/// The source being edited in the form (not yet loaded).
#[derive(Clone, Debug)]
struct SourceDraft {
    kind: SourceKind,
    path: String,
    letters: LetterConfig,
    idx_name: String,
    idx_prefix: String,
    idx_layout: IdxLayout,
    folder: FolderOptions,
    motion: MotionConfig,
    clips: ClipOptions,
    ocr: OcrOptions,
}

impl SourceDraft {
    fn from_source(source: &DataSource) -> Self {
        let mut draft = SourceDraft {
            kind: SourceKind::Embedded,
            path: String::new(),
            letters: LetterConfig::default(),
            idx_name: "MNIST".into(),
            idx_prefix: String::new(),
            idx_layout: IdxLayout::Standard,
            folder: FolderOptions::default(),
            motion: MotionConfig::default(),
            clips: ClipOptions::default(),
            ocr: OcrOptions::default(),
        };
        match source {
            DataSource::EmbeddedDigits => {}
            DataSource::Letters { config } => {
                draft.kind = SourceKind::Letters;
                draft.letters = config.clone();
            }
            DataSource::Idx {
                path,
                prefix,
                layout,
                name,
            } => {
                draft.kind = SourceKind::Idx;
                draft.path = path.display().to_string();
                draft.idx_prefix = prefix.clone().unwrap_or_default();
                draft.idx_layout = *layout;
                draft.idx_name = name.clone();
            }
            DataSource::Cifar10 { path } => {
                draft.kind = SourceKind::Cifar10;
                draft.path = path.display().to_string();
            }
            DataSource::OcrLetters { path, options } => {
                draft.kind = SourceKind::OcrLetters;
                draft.path = path.display().to_string();
                draft.ocr = options.clone();
            }
            DataSource::Folder { path, options } => {
                draft.kind = SourceKind::Folder;
                draft.path = path.display().to_string();
                draft.folder = options.clone();
            }
            DataSource::Motion { config } => {
                draft.kind = SourceKind::Motion;
                draft.motion = config.clone();
            }
            DataSource::Clips { path, options } => {
                draft.kind = SourceKind::Clips;
                draft.path = path.display().to_string();
                draft.clips = options.clone();
            }
        }
        draft
    }

    /// The source the form describes, or what is missing.
    fn to_source(&self) -> Result<DataSource, String> {
        let path = PathBuf::from(self.path.trim());
        if self.kind.needs_path() && self.path.trim().is_empty() {
            return Err("Type a folder path or choose one with “Browse…”.".into());
        }
        Ok(match self.kind {
            SourceKind::Embedded => DataSource::EmbeddedDigits,
            SourceKind::Letters => DataSource::Letters {
                config: self.letters.clone(),
            },
            SourceKind::Idx => DataSource::Idx {
                path,
                prefix: Some(self.idx_prefix.trim().to_string()).filter(|p| !p.is_empty()),
                layout: self.idx_layout,
                name: if self.idx_name.trim().is_empty() {
                    "MNIST".into()
                } else {
                    self.idx_name.trim().into()
                },
            },
            SourceKind::Cifar10 => DataSource::Cifar10 { path },
            SourceKind::OcrLetters => DataSource::OcrLetters {
                path,
                options: self.ocr.clone(),
            },
            SourceKind::Folder => DataSource::Folder {
                path,
                options: self.folder.clone(),
            },
            SourceKind::Motion => DataSource::Motion {
                config: self.motion.clone(),
            },
            SourceKind::Clips => DataSource::Clips {
                path,
                options: self.clips.clone(),
            },
        })
    }
}

/// The form: a draft source, edited until Load turns it into a [`DataSource`] to load.
pub struct SourceForm {
    draft: SourceDraft,
    /// Problem with the form itself (e.g. no path), shown under the Load button.
    form_error: Option<String>,
    /// A folder dialog running on its own thread, and when it was opened.
    browse: Option<Task<Option<PathBuf>>>,
}

impl SourceForm {
    /// A form showing `source` (the one in use).
    pub fn new(source: &DataSource) -> Self {
        SourceForm {
            draft: SourceDraft::from_source(source),
            form_error: None,
            browse: None,
        }
    }

    /// The form; Load starts a background load on `workbench`.
    pub fn ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        self.poll_browse();
        self.source_ui(ui, workbench);
    }

    fn poll_browse(&mut self) {
        if let Some(task) = &self.browse
            && let Some(picked) = task.poll()
        {
            let quick = task.elapsed() < Duration::from_millis(300);
            let picked = picked.ok().flatten();
            self.browse = None;
            match picked {
                Some(path) => {
                    self.draft.path = path.display().to_string();
                    self.form_error = None;
                }
                // rfd answers `None` both for "cancelled" and for "no dialog could be shown"
                // (no xdg-desktop-portal); an answer faster than a person can cancel is the latter.
                None if quick => {
                    self.form_error = Some(
                        "No folder dialog is available here (it needs xdg-desktop-portal): type the path instead."
                            .into(),
                    )
                }
                None => {}
            }
        }
    }

    fn source_ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        widgets::section(ui, "Source");
        ui.horizontal_wrapped(|ui| {
            for kind in SourceKind::ALL {
                ui.selectable_value(&mut self.draft.kind, kind, kind.title());
            }
        });
        ui.label(RichText::new(self.draft.kind.help()).weak());
        ui.add_space(6.0);

        match self.draft.kind {
            SourceKind::Embedded => {}
            SourceKind::Letters => {
                egui::Grid::new("letters_form")
                    .num_columns(2)
                    .spacing([16.0, 8.0])
                    .show(ui, |ui| {
                        let l = ui.label("Letters per class");
                        ui.add(
                            egui::DragValue::new(&mut self.draft.letters.per_class)
                                .range(1..=10_000),
                        )
                        .labelled_by(l.id);
                        ui.end_row();
                        let l = ui.label("Letters seed");
                        ui.add(egui::DragValue::new(&mut self.draft.letters.seed))
                            .labelled_by(l.id);
                        ui.end_row();
                    });
            }
            SourceKind::Idx
            | SourceKind::Cifar10
            | SourceKind::Folder
            | SourceKind::Clips
            | SourceKind::OcrLetters => {
                self.path_ui(ui, workbench);
            }
            SourceKind::Motion => self.motion_ui(ui),
        }
        match self.draft.kind {
            SourceKind::Idx => self.idx_ui(ui),
            SourceKind::Folder => self.folder_ui(ui),
            SourceKind::Clips => self.clips_ui(ui),
            SourceKind::OcrLetters => self.ocr_ui(ui),
            _ => {}
        }

        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let loading = workbench.is_loading();
            let load = ui.add_enabled(
                !loading,
                egui::Button::new(RichText::new("Load").size(18.0).strong()),
            );
            if load.clicked() {
                match self.draft.to_source() {
                    Ok(source) => {
                        self.form_error = None;
                        workbench.start_load(source, ui.ctx());
                    }
                    Err(e) => self.form_error = Some(e),
                }
            }
            if let Some(source) = workbench.loading() {
                ui.spinner();
                let secs = workbench.loading_for().unwrap_or_default().as_secs_f32();
                ui.label(format!("Loading {}… ({secs:.1} s)", source.describe()));
                if ui.button("Cancel").clicked() {
                    workbench.cancel_load();
                }
            }
        });
        if let Some(e) = &self.form_error {
            widgets::error_text(ui, e.clone());
        }
        if let Some(failure) = &workbench.load_error {
            widgets::error_text(
                ui,
                format!(
                    "Could not load {}: {}",
                    failure.source.describe(),
                    failure.message
                ),
            );
        }
    }

    fn path_ui(&mut self, ui: &mut egui::Ui, workbench: &Workbench) {
        ui.horizontal(|ui| {
            let l = ui.label("Folder path");
            ui.add(egui::TextEdit::singleline(&mut self.draft.path).desired_width(520.0))
                .labelled_by(l.id);
            let browsing = self.browse.is_some();
            if ui
                .add_enabled(!browsing, egui::Button::new("Browse…"))
                .clicked()
            {
                match spawn_folder_dialog(ui.ctx(), &self.draft.path, workbench) {
                    Ok(task) => self.browse = Some(task),
                    Err(e) => self.form_error = Some(e.to_string()),
                }
            }
            if browsing {
                ui.spinner();
            }
        });
        let note = match &workbench.data_dir {
            Some(dir) => format!(
                "Relative paths are read from the data folder {}.",
                dir.display()
            ),
            None => {
                "Relative paths need a data folder (--data-dir or OCCLAB_DATA_DIR); none is set."
                    .into()
            }
        };
        ui.label(RichText::new(note).weak());
    }

    fn idx_ui(&mut self, ui: &mut egui::Ui) {
        egui::Grid::new("idx_form")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                let l = ui.label("Data set name");
                ui.add(egui::TextEdit::singleline(&mut self.draft.idx_name).desired_width(200.0))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("File-name prefix");
                ui.add(
                    egui::TextEdit::singleline(&mut self.draft.idx_prefix)
                        .hint_text("none (MNIST names); e.g. emnist-letters")
                        .desired_width(320.0),
                )
                .labelled_by(l.id);
                ui.end_row();
                widgets::combo_row(
                    ui,
                    "Layout",
                    "idx_layout",
                    &mut self.draft.idx_layout,
                    [
                        IdxLayout::Standard,
                        IdxLayout::EmnistTransposed,
                        IdxLayout::EmnistLetters,
                    ],
                    layout_title,
                );
            });
    }

    fn ocr_ui(&mut self, ui: &mut egui::Ui) {
        let o = &mut self.draft.ocr;
        ui.horizontal_wrapped(|ui| {
            ui.label("Test folds");
            for fold in 0..NUM_FOLDS {
                let mut on = o.test_folds.contains(&fold);
                let r = ui.checkbox(&mut on, fold.to_string());
                widgets::accessible_name(ui, &r, &format!("Fold {fold} is test"));
                if r.changed() {
                    if on {
                        o.test_folds.push(fold);
                        o.test_folds.sort_unstable();
                    } else {
                        o.test_folds.retain(|&f| f != fold);
                    }
                }
            }
        });
        ui.label(
            RichText::new(
                "The other folds train. The data set's folds are split by word, so a word's letters are all in one split.",
            )
            .weak(),
        );
    }

    fn motion_ui(&mut self, ui: &mut egui::Ui) {
        let m = &mut self.draft.motion;
        egui::Grid::new("motion_form")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                let l = ui.label("Clips per class");
                ui.add(egui::DragValue::new(&mut m.per_class).range(1..=5_000))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Frames per clip");
                ui.add(egui::DragValue::new(&mut m.frames).range(1..=64))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Frame size");
                ui.add(
                    egui::DragValue::new(&mut m.size)
                        .range(16..=128)
                        .suffix(" px"),
                )
                .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Speed");
                ui.add(egui::Slider::new(&mut m.speed, 0.25..=3.0).fixed_decimals(2))
                    .labelled_by(l.id);
                ui.end_row();
                ui.label("Motions");
                ui.horizontal_wrapped(|ui| {
                    for motion in Motion::ALL {
                        let mut on = m.motions.contains(&motion);
                        if ui.checkbox(&mut on, motion.name()).changed() {
                            if on {
                                m.motions.push(motion);
                                m.motions
                                    .sort_by_key(|x| Motion::ALL.iter().position(|y| y == x));
                            } else if m.motions.len() > 1 {
                                m.motions.retain(|x| *x != motion);
                            }
                        }
                    }
                });
                ui.end_row();
                split_rows(ui, &mut m.test_fraction, &mut m.seed, "Motion seed");
            });
    }

    fn clips_ui(&mut self, ui: &mut egui::Ui) {
        let o = &mut self.draft.clips;
        egui::Grid::new("clips_form")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                widgets::size_and_colour_rows(
                    ui,
                    "Frame",
                    [&mut o.height, &mut o.width],
                    &mut o.channels,
                    8..=512,
                );
                let l = ui.label("Keep every k-th frame");
                ui.add(egui::DragValue::new(&mut o.sample_every).range(1..=100))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Official split list");
                ui.add(
                    egui::DragValue::new(&mut o.split_list)
                        .range(1..=9)
                        .prefix("trainlist0"),
                )
                .labelled_by(l.id);
                ui.end_row();
                ui.label("Without lists, split by");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut o.split_by, ClipSplit::Group, "clip group");
                    ui.radio_value(&mut o.split_by, ClipSplit::Time, "time (last frames test)");
                });
                ui.end_row();
                split_rows(ui, &mut o.test_fraction, &mut o.seed, "Split seed");
            });
    }

    fn folder_ui(&mut self, ui: &mut egui::Ui) {
        let o = &mut self.draft.folder;
        egui::Grid::new("folder_form")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                widgets::size_and_colour_rows(
                    ui,
                    "Image",
                    [&mut o.height, &mut o.width],
                    &mut o.channels,
                    4..=512,
                );
                widgets::combo_row(
                    ui,
                    "Brightness",
                    "folder_polarity",
                    &mut o.polarity,
                    [Polarity::DarkBackground, Polarity::Keep, Polarity::Invert],
                    polarity_title,
                );
                ui.label("Fit");
                ui.horizontal(|ui| {
                    let ink = matches!(o.fit, Fit::InkBox { .. });
                    if ui.radio(!ink, "Resize whole image").clicked() {
                        o.fit = Fit::Resize;
                    }
                    if ui.radio(ink, "Crop to ink, centre (MNIST-style)").clicked() && !ink {
                        o.fit = Fit::InkBox { margin: 4 };
                    }
                    if let Fit::InkBox { margin } = &mut o.fit {
                        ui.add(
                            egui::DragValue::new(margin)
                                .range(0..=64)
                                .prefix("margin ")
                                .suffix(" px"),
                        )
                        .on_hover_text("Ink box margin");
                    }
                });
                ui.end_row();
                split_rows(ui, &mut o.test_fraction, &mut o.seed, "Split seed");
            });
    }
}

/// The rows of a generated or split source's test share and the seed of its split.
fn split_rows(ui: &mut egui::Ui, test_fraction: &mut f64, seed: &mut u64, seed_label: &str) {
    let l = ui.label("Test share");
    ui.add(egui::Slider::new(test_fraction, 0.0..=0.9).fixed_decimals(2))
        .labelled_by(l.id);
    ui.end_row();
    let l = ui.label(seed_label);
    ui.add(egui::DragValue::new(seed)).labelled_by(l.id);
    ui.end_row();
}

/// Opens the native folder dialog on its own thread (so the UI keeps drawing); the chosen folder
/// (or `None` when cancelled) is the task's result.
fn spawn_folder_dialog(
    ctx: &egui::Context,
    current: &str,
    workbench: &Workbench,
) -> Result<Task<Option<PathBuf>>, TaskLost> {
    let current = PathBuf::from(current.trim());
    let data_dir = workbench.data_dir.clone();
    Task::spawn(ctx, "browse", move || {
        // Where the dialog opens: the folder typed, else under the data folder.
        let start = if current.is_absolute() && current.is_dir() {
            Some(current)
        } else if let Some(dir) = &data_dir {
            Some(dir.join(current))
                .filter(|d| d.is_dir())
                .or(Some(dir.clone()))
        } else {
            None
        };
        let mut dialog = rfd::FileDialog::new().set_title("Choose a data folder");
        if let Some(dir) = start {
            dialog = dialog.set_directory(dir);
        }
        dialog.pick_folder()
    })
}

fn layout_title(layout: IdxLayout) -> &'static str {
    match layout {
        IdxLayout::Standard => "Standard (MNIST, Fashion-MNIST)",
        IdxLayout::EmnistTransposed => "EMNIST (transposed images)",
        IdxLayout::EmnistLetters => "EMNIST letters (labels 1–26)",
    }
}

fn polarity_title(p: Polarity) -> &'static str {
    match p {
        Polarity::DarkBackground => "Light ink on dark (invert bright backgrounds)",
        Polarity::Keep => "Keep as is",
        Polarity::Invert => "Invert all",
    }
}
