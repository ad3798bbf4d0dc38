//! Data panel: choose a data source (see [`super::source_form`]), load it in the background,
//! look at what was loaded.

use super::app::{PanelId, Workbench, panel_heading};
use super::source_form::SourceForm;
use super::widgets;
use crate::data::source::DataSource;
use crate::data::{ImageSet, Split};
use egui::{RichText, TextureHandle};
use egui_plot::{Bar, BarChart, Legend};

/// Number of sample images shown (a square grid).
const SAMPLE_COLUMNS: usize = 8;
const SAMPLE_ROWS: usize = 8;
/// Side of one sample image, in points.
const SAMPLE_CELL: f32 = 44.0;
/// Width of the summary-and-chart column when the samples stand beside it.
const SUMMARY_WIDTH: f32 = 460.0;

const TRAIN_COLOR: egui::Color32 = egui::Color32::from_rgb(70, 130, 200);
const TEST_COLOR: egui::Color32 = egui::Color32::from_rgb(160, 200, 235);

/// Textures of the sample grid, made once per data set.
struct SampleGrid {
    generation: u64,
    textures: Vec<TextureHandle>,
}
/// The Data panel.
pub struct DataPanel {
    form: SourceForm,
    samples: Option<SampleGrid>,
}

impl DataPanel {
    pub fn new(source: &DataSource) -> Self {
        DataPanel {
            form: SourceForm::new(source),
            samples: None,
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                panel_heading(
                    ui,
                    PanelId::Data,
                    "Choose the images the experiment occludes and learns from.",
                );
                self.form.ui(ui, workbench);
                self.current_ui(ui, workbench);
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
        let (train, test) = (set.split_len(Split::Train), set.split_len(Split::Test));
        if self.samples.as_ref().map(|s| s.generation) != Some(data.generation) {
            self.samples = Some(SampleGrid {
                generation: data.generation,
                textures: sample_textures(ui.ctx(), set),
            });
        }
        let summary = |ui: &mut egui::Ui| {
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
            widgets::section(ui, "Images per class");
            class_chart(ui, set);
        };
        let samples = |ui: &mut egui::Ui| {
            ui.label(RichText::new("Samples").weak());
            if let Some(grid) = &self.samples {
                widgets::image_grid(
                    ui,
                    "data_samples",
                    &grid.textures,
                    SAMPLE_COLUMNS,
                    SAMPLE_CELL,
                );
            }
        };
        let samples_width = SAMPLE_COLUMNS as f32 * (SAMPLE_CELL + 4.0);
        // Summary and chart beside the samples on wide screens, above them on narrow ones.
        if ui.available_width() >= SUMMARY_WIDTH + 40.0 + samples_width {
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.set_width(SUMMARY_WIDTH);
                    summary(ui);
                });
                ui.add_space(40.0);
                ui.vertical(samples);
            });
        } else {
            summary(ui);
            ui.add_space(widgets::SECTION_GAP);
            samples(ui);
        }
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
    // Head room above the tallest bar for the legend.
    let tallest = train
        .iter()
        .zip(&test)
        .map(|(a, b)| a + b)
        .max()
        .unwrap_or(0);
    widgets::static_plot("class_counts", 200.0)
        .legend(Legend::default().position(egui_plot::Corner::RightTop))
        .include_y(0.0)
        .include_y(tallest as f64 * 1.35)
        .include_x(-0.6)
        .include_x(n as f64 - 0.4)
        // One mark per class, labelled with its name.
        .x_grid_spacer(move |_| {
            (0..n)
                .map(|c| egui_plot::GridMark {
                    value: c as f64,
                    step_size: 1.0,
                })
                .collect()
        })
        // Class names under the bars, however close together (egui_plot's default hides X labels
        // closer than 60 points; a label is still dropped when it is wider than its slot).
        .custom_x_axes(vec![
            egui_plot::AxisHints::new_x()
                .label_spacing(8.0..=12.0)
                .formatter(move |mark, _| {
                    let v = mark.value;
                    if (v - v.round()).abs() < 1e-6 && v >= 0.0 && (v as usize) < n {
                        names[v as usize].clone()
                    } else {
                        String::new()
                    }
                }),
        ])
        .show(ui, |plot| {
            plot.bar_chart(train_chart);
            plot.bar_chart(test_chart);
        });
}

/// Up to 8×8 sample images, cycling through the classes, as textures.
fn sample_textures(ctx: &egui::Context, set: &ImageSet) -> Vec<TextureHandle> {
    set.sample_ids(SAMPLE_COLUMNS * SAMPLE_ROWS)
        .into_iter()
        .enumerate()
        .map(|(k, i)| {
            let image = widgets::to_color_image(set.image(i), set.height, set.width, set.channels);
            widgets::load_nearest(ctx, &format!("data-sample-{k}"), image)
        })
        .collect()
}
