//! Data panel: choose a data source, load it in the background, look at what was loaded.

use super::app::{PanelId, Workbench, panel_heading};
use super::widgets;
use crate::data::folder::{Fit, FolderOptions, Polarity};
use crate::data::idx::IdxLayout;
use crate::data::letters::LetterConfig;
use crate::data::source::DataSource;
use crate::data::{ImageSet, Split};
use crossbeam_channel::Receiver;
use egui::{RichText, TextureHandle};
use egui_plot::{Bar, BarChart, Legend};
use std::path::PathBuf;

/// Number of sample images shown (a square grid).
const SAMPLE_COLUMNS: usize = 8;
const SAMPLE_ROWS: usize = 8;

const TRAIN_COLOR: egui::Color32 = egui::Color32::from_rgb(70, 130, 200);
const TEST_COLOR: egui::Color32 = egui::Color32::from_rgb(160, 200, 235);

/// The kinds of source the panel offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SourceKind {
    Embedded,
    Letters,
    Idx,
    Cifar10,
    Folder,
}

impl SourceKind {
    const ALL: [SourceKind; 5] = [
        SourceKind::Embedded,
        SourceKind::Letters,
        SourceKind::Idx,
        SourceKind::Cifar10,
        SourceKind::Folder,
    ];

    fn title(self) -> &'static str {
        match self {
            SourceKind::Embedded => "Embedded digits",
            SourceKind::Letters => "Generated letters",
            SourceKind::Idx => "IDX folder (MNIST-style)",
            SourceKind::Cifar10 => "CIFAR-10 folder",
            SourceKind::Folder => "Image folder",
        }
    }

    fn help(self) -> &'static str {
        match self {
            SourceKind::Embedded => "10,000 real MNIST digits built into occlab: no files needed.",
            SourceKind::Letters => "EMNIST-like handwritten letters A–Z, generated from a seed.",
            SourceKind::Idx => {
                "A folder with the four IDX files of MNIST, Fashion-MNIST or EMNIST (raw or .gz)."
            }
            SourceKind::Cifar10 => {
                "A folder with the CIFAR-10 binary batches (data_batch_1.bin …)."
            }
            SourceKind::Folder => "A folder with one sub-folder of PNG/JPEG images per class.",
        }
    }

    fn needs_path(self) -> bool {
        matches!(
            self,
            SourceKind::Idx | SourceKind::Cifar10 | SourceKind::Folder
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
            DataSource::Folder { path, options } => {
                draft.kind = SourceKind::Folder;
                draft.path = path.display().to_string();
                draft.folder = options.clone();
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
            SourceKind::Folder => DataSource::Folder {
                path,
                options: self.folder.clone(),
            },
        })
    }
}

/// Textures of the sample grid, made once per data set.
struct SampleGrid {
    generation: u64,
    textures: Vec<TextureHandle>,
}

/// The Data panel.
pub struct DataPanel {
    draft: SourceDraft,
    /// Problem with the form itself (e.g. no path), shown under the Load button.
    form_error: Option<String>,
    /// A folder dialog running on its own thread.
    browse: Option<Receiver<Option<PathBuf>>>,
    samples: Option<SampleGrid>,
}

impl DataPanel {
    pub fn new(source: &DataSource) -> Self {
        DataPanel {
            draft: SourceDraft::from_source(source),
            form_error: None,
            browse: None,
            samples: None,
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        self.poll_browse();
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                panel_heading(
                    ui,
                    PanelId::Data,
                    "Choose the images the experiment occludes and learns from.",
                );
                self.source_ui(ui, workbench);
                self.current_ui(ui, workbench);
            });
    }

    fn poll_browse(&mut self) {
        if let Some(rx) = &self.browse
            && let Ok(picked) = rx.try_recv()
        {
            self.browse = None;
            if let Some(path) = picked {
                self.draft.path = path.display().to_string();
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
            SourceKind::Idx | SourceKind::Cifar10 | SourceKind::Folder => {
                self.path_ui(ui, workbench);
            }
        }
        match self.draft.kind {
            SourceKind::Idx => self.idx_ui(ui),
            SourceKind::Folder => self.folder_ui(ui),
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
                self.browse = Some(spawn_folder_dialog(ui.ctx(), &self.draft.path, workbench));
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
                let l = ui.label("Layout");
                egui::ComboBox::from_id_salt("idx_layout")
                    .selected_text(layout_title(self.draft.idx_layout))
                    .show_ui(ui, |ui| {
                        for layout in [
                            IdxLayout::Standard,
                            IdxLayout::EmnistTransposed,
                            IdxLayout::EmnistLetters,
                        ] {
                            ui.selectable_value(
                                &mut self.draft.idx_layout,
                                layout,
                                layout_title(layout),
                            );
                        }
                    })
                    .response
                    .labelled_by(l.id);
                ui.end_row();
            });
    }

    fn folder_ui(&mut self, ui: &mut egui::Ui) {
        let o = &mut self.draft.folder;
        egui::Grid::new("folder_form")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                ui.label("Image size");
                ui.horizontal(|ui| {
                    ui.add(
                        egui::DragValue::new(&mut o.height)
                            .range(4..=512)
                            .suffix(" px high"),
                    )
                    .on_hover_text("Image height");
                    ui.label("×");
                    ui.add(
                        egui::DragValue::new(&mut o.width)
                            .range(4..=512)
                            .suffix(" px wide"),
                    )
                    .on_hover_text("Image width");
                });
                ui.end_row();
                ui.label("Colour");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut o.channels, 1, "Grey");
                    ui.radio_value(&mut o.channels, 3, "RGB");
                });
                ui.end_row();
                let l = ui.label("Brightness");
                egui::ComboBox::from_id_salt("folder_polarity")
                    .selected_text(polarity_title(o.polarity))
                    .show_ui(ui, |ui| {
                        for p in [Polarity::DarkBackground, Polarity::Keep, Polarity::Invert] {
                            ui.selectable_value(&mut o.polarity, p, polarity_title(p));
                        }
                    })
                    .response
                    .labelled_by(l.id);
                ui.end_row();
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
                let l = ui.label("Test share");
                ui.add(egui::Slider::new(&mut o.test_fraction, 0.0..=0.9).fixed_decimals(2))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Split seed");
                ui.add(egui::DragValue::new(&mut o.seed)).labelled_by(l.id);
                ui.end_row();
            });
    }

    fn current_ui(&mut self, ui: &mut egui::Ui, workbench: &Workbench) {
        widgets::section(ui, "Current data set");
        let Some(data) = &workbench.data else {
            if workbench.is_loading() {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Loading…");
                });
            } else {
                ui.label("No data set loaded yet: choose a source above and press Load.");
            }
            return;
        };
        let set = &data.set;
        let train: usize = set.class_counts(Some(Split::Train)).iter().sum();
        let test: usize = set.class_counts(Some(Split::Test)).iter().sum();
        if self.samples.as_ref().map(|s| s.generation) != Some(data.generation) {
            self.samples = Some(SampleGrid {
                generation: data.generation,
                textures: sample_textures(ui.ctx(), set),
            });
        }
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                egui::Grid::new("data_summary")
                    .num_columns(2)
                    .spacing([24.0, 6.0])
                    .show(ui, |ui| {
                        summary_row(ui, "Name", &set.name);
                        summary_row(ui, "Source", &data.source.describe());
                        summary_row(ui, "Images", &set.len().to_string());
                        summary_row(ui, "Train split", &train.to_string());
                        summary_row(ui, "Test split", &test.to_string());
                        let colour = if set.channels == 1 {
                            "grey".to_string()
                        } else {
                            format!("{} channels", set.channels)
                        };
                        summary_row(
                            ui,
                            "Image size",
                            &format!("{} × {} px, {colour}", set.height, set.width),
                        );
                        summary_row(ui, "Classes", &set.num_classes().to_string());
                        summary_row(
                            ui,
                            "Loaded in",
                            &format!("{:.2} s", data.load_time.as_secs_f64()),
                        );
                    });
            });
            ui.add_space(40.0);
            ui.vertical(|ui| {
                ui.label(RichText::new("Samples").weak());
                if let Some(grid) = &self.samples {
                    widgets::image_grid(ui, "data_samples", &grid.textures, SAMPLE_COLUMNS, 40.0);
                }
            });
        });

        widgets::section(ui, "Images per class");
        class_chart(ui, set);
    }
}

fn summary_row(ui: &mut egui::Ui, key: &str, value: &str) {
    ui.label(RichText::new(key).weak());
    ui.label(RichText::new(value).strong());
    ui.end_row();
}

/// Train and test counts per class, stacked, with class names on the x axis.
fn class_chart(ui: &mut egui::Ui, set: &ImageSet) {
    let train = set.class_counts(Some(Split::Train));
    let test = set.class_counts(Some(Split::Test));
    let names = set.class_names.clone();
    let train_bars: Vec<Bar> = train
        .iter()
        .enumerate()
        .map(|(c, &n)| {
            Bar::new(c as f64, n as f64)
                .name(&names[c])
                .width(0.7)
                .fill(TRAIN_COLOR)
        })
        .collect();
    let test_bars: Vec<Bar> = test
        .iter()
        .enumerate()
        .map(|(c, &n)| {
            Bar::new(c as f64, n as f64)
                .name(&names[c])
                .width(0.7)
                .fill(TEST_COLOR)
        })
        .collect();
    let train_chart = BarChart::new("train", train_bars).color(TRAIN_COLOR);
    let test_chart = BarChart::new("test", test_bars)
        .color(TEST_COLOR)
        .stack_on(&[&train_chart]);
    let n = names.len();
    widgets::static_plot("class_counts", 220.0)
        .legend(Legend::default())
        .include_y(0.0)
        .include_x(-0.6)
        .include_x(n as f64 - 0.4)
        .x_axis_formatter(move |mark, _| {
            let v = mark.value;
            if (v - v.round()).abs() < 1e-6 && v >= 0.0 && (v as usize) < n {
                names[v as usize].clone()
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            plot.bar_chart(train_chart);
            plot.bar_chart(test_chart);
        });
}

/// Up to 8×8 images spread evenly over the set, as textures.
fn sample_textures(ctx: &egui::Context, set: &ImageSet) -> Vec<TextureHandle> {
    let count = (SAMPLE_COLUMNS * SAMPLE_ROWS).min(set.len());
    (0..count)
        .map(|k| {
            let i = k * set.len() / count.max(1);
            let image = widgets::to_color_image(set.image(i), set.height, set.width, set.channels);
            widgets::load_nearest(ctx, &format!("data-sample-{k}"), image)
        })
        .collect()
}

/// Opens the native folder dialog on its own thread (so the UI keeps drawing); the chosen folder
/// (or `None` when cancelled) arrives on the returned channel.
fn spawn_folder_dialog(
    ctx: &egui::Context,
    current: &str,
    workbench: &Workbench,
) -> Receiver<Option<PathBuf>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let start = {
        let p = PathBuf::from(current.trim());
        if p.is_absolute() && p.is_dir() {
            Some(p)
        } else if let Some(dir) = &workbench.data_dir {
            Some(dir.join(p))
                .filter(|d| d.is_dir())
                .or(Some(dir.clone()))
        } else {
            None
        }
    };
    let ctx = ctx.clone();
    let spawned = std::thread::Builder::new()
        .name("occlab-browse".into())
        .spawn({
            let tx = tx.clone();
            move || {
                let mut dialog = rfd::FileDialog::new().set_title("Choose a data folder");
                if let Some(dir) = start {
                    dialog = dialog.set_directory(dir);
                }
                let _ = tx.send(dialog.pick_folder());
                ctx.request_repaint();
            }
        });
    if spawned.is_err() {
        let _ = tx.send(None);
    }
    rx
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
