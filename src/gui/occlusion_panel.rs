//! Occlusion panel: edit every field of the [`OcclusionSpec`], see it applied to sample images
//! level by level, and read the coverage the library measures.

use super::task::Task;
use super::widgets;
use super::workbench::{LoadedData, PanelId, Workbench, panel_heading};
use crate::occlusion::{Fill, LevelCoverage, OcclusionSpec, Shape, image_seed};
use egui::{RichText, TextureHandle};
use egui_plot::{Bar, BarChart};

/// Sample images per preview row.
const PREVIEW_COLUMNS: usize = 8;
/// Images the coverage is measured on.
const COVERAGE_IMAGES: usize = 500;
/// Side of one preview image, in points.
const PREVIEW_CELL: f32 = 54.0;
/// Width of the controls column when the preview stands beside it.
const CONTROLS_WIDTH: f32 = 450.0;
/// Narrowest preview column beside the controls.
const PREVIEW_MIN_WIDTH: f32 = 520.0;
/// Width of the "Level n" captions before the preview rows.
const CAPTION_WIDTH: f32 = 80.0;
/// Widest level width the spec accepts (see `OcclusionSpec::validate`).
const MAX_WIDTH: f32 = OcclusionSpec::MAX_WIDTH;

/// What a preview was drawn from: it is redrawn only when this changes.
#[derive(Clone, Debug, PartialEq)]
struct PreviewKey {
    generation: u64,
    spec: OcclusionSpec,
    seed: u64,
}

struct Preview {
    key: PreviewKey,
    /// Row 0 unoccluded, then one row per level.
    rows: Vec<Vec<TextureHandle>>,
    /// Measured coverage per level (of this key, or of the previous one while this one is
    /// measured); `None` while the spec is invalid or before the first measurement.
    coverage: Option<Vec<LevelCoverage>>,
}

/// The Occlusion panel.
#[derive(Default)]
pub struct OcclusionPanel {
    preview: Option<Preview>,
    /// The coverage of a key being measured, off the UI thread.
    measuring: Option<(PreviewKey, Task<Vec<LevelCoverage>>)>,
}

impl OcclusionPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        egui::ScrollArea::vertical()
            .id_salt("occlusion_scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                panel_heading(
                    ui,
                    PanelId::Occlusion,
                    "How the images are hidden, level by level.",
                );
                // Controls beside the preview on wide screens, above it on narrow ones (projector).
                if ui.available_width() >= CONTROLS_WIDTH + 24.0 + PREVIEW_MIN_WIDTH {
                    ui.horizontal_top(|ui| {
                        ui.vertical(|ui| {
                            ui.set_width(CONTROLS_WIDTH);
                            controls_ui(ui, workbench);
                        });
                        ui.add_space(24.0);
                        ui.vertical(|ui| {
                            ui.set_width(ui.available_width());
                            self.preview_area_ui(ui, workbench);
                        });
                    });
                } else {
                    controls_ui(ui, workbench);
                    self.preview_area_ui(ui, workbench);
                }
            });
    }

    fn preview_area_ui(&mut self, ui: &mut egui::Ui, workbench: &Workbench) {
        match &workbench.data {
            Some(data) => {
                let data = data.clone();
                self.refresh(ui.ctx(), workbench, &data);
                self.preview_ui(ui, workbench, &data);
            }
            None => {
                widgets::section(ui, "Preview");
                no_data_ui(ui, workbench);
            }
        }
    }

    /// Whether the coverage is being measured.
    pub fn is_measuring(&self) -> bool {
        self.measuring.is_some()
    }

    /// Redraws the preview textures and remeasures coverage when the spec, seed or data changed.
    fn refresh(&mut self, ctx: &egui::Context, workbench: &Workbench, data: &LoadedData) {
        let key = PreviewKey {
            generation: data.generation,
            spec: workbench.spec.clone(),
            seed: workbench.preview_seed,
        };
        if let Some((measured, task)) = &self.measuring
            && let Some(result) = task.poll()
        {
            if let Some(p) = self.preview.as_mut().filter(|p| p.key == *measured) {
                p.coverage = result.ok();
            }
            self.measuring = None;
        }
        if self.preview.as_ref().is_some_and(|p| p.key == key) {
            return;
        }
        let set = &data.set;
        let spec = &key.spec;
        let count = PREVIEW_COLUMNS.min(set.len());
        let ids = set.sample_ids(count);
        let dims = (set.height, set.width, set.channels);
        let rows = (0..=spec.num_levels())
            .map(|level| {
                ids.iter()
                    .enumerate()
                    .map(|(k, &i)| {
                        let mut pixels = set.image(i).to_vec();
                        // One occluder seed per column: every level of a column draws the same
                        // box, so the rows show the same occluder growing.
                        let seed = image_seed(key.seed, k);
                        spec.occlude_seeded(
                            &mut pixels,
                            dims,
                            level as u8,
                            &data.channel_means,
                            seed,
                        );
                        let image =
                            widgets::to_color_image(&pixels, set.height, set.width, set.channels);
                        widgets::load_nearest(ctx, &format!("occlusion-{level}-{k}"), image)
                    })
                    .collect()
            })
            .collect();
        // The coverage loops over hundreds of images: measured off the UI thread; the previous
        // numbers stay until the new ones arrive.
        self.measuring = None;
        let coverage = if spec.validate().is_ok() {
            let (job_spec, images, seed) = (spec.clone(), set.clone(), key.seed);
            let task = Task::spawn(ctx, "coverage", move || {
                job_spec.coverage(&images, COVERAGE_IMAGES, seed)
            });
            if let Ok(task) = task {
                self.measuring = Some((key.clone(), task));
            }
            self.preview.take().and_then(|p| p.coverage)
        } else {
            None
        };
        self.preview = Some(Preview {
            key,
            rows,
            coverage,
        });
    }

    fn preview_ui(&self, ui: &mut egui::Ui, workbench: &Workbench, data: &LoadedData) {
        let Some(preview) = &self.preview else {
            return;
        };
        widgets::section(ui, "Preview");
        ui.label(
            RichText::new(format!(
                "{} — the same {} images at every level, occluder seed {}",
                data.set.name,
                preview.rows.first().map_or(0, Vec::len),
                workbench.preview_seed
            ))
            .weak(),
        );
        ui.add_space(8.0);
        // Shrink the images rather than cut the rows off on narrow windows.
        let columns = preview.rows.first().map_or(1, Vec::len).max(1) as f32;
        let spacing = ui.spacing().item_spacing.x;
        let cell = ((ui.available_width() - CAPTION_WIDTH - spacing * (columns + 1.0)) / columns)
            .clamp(28.0, PREVIEW_CELL);
        for (level, row) in preview.rows.iter().enumerate() {
            let caption = RichText::new(format!("Level {level}"))
                .size(18.0)
                .strong()
                .color(widgets::level_color(level));
            widgets::image_row(ui, caption, CAPTION_WIDTH, row, cell);
        }
        ui.add_space(6.0);
        let mut captions = vec!["Level 0: unoccluded".to_string()];
        captions.extend(
            preview
                .key
                .spec
                .level_widths
                .iter()
                .enumerate()
                .map(|(i, w)| format!("Level {}: width {:.0} %", i + 1, w * 100.0)),
        );
        widgets::level_legend(ui, &captions);

        widgets::section(ui, "Measured coverage");
        match &preview.coverage {
            Some(coverage) => coverage_ui(ui, coverage, data, workbench.preview_seed),
            None if self.measuring.is_some() => {
                ui.label("Measuring the coverage…");
            }
            None => {
                ui.label("Coverage is measured once the occlusion spec is valid (see the message on the left).");
            }
        }
    }
}

fn no_data_ui(ui: &mut egui::Ui, workbench: &Workbench) {
    if let Some(source) = workbench.loading() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!("Loading {}…", source.describe()));
        });
    } else {
        ui.label("No data set loaded: choose one on the Data panel.");
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
}

/// Every field of the spec, plus reseed / reset, plus the validation message.
fn controls_ui(ui: &mut egui::Ui, workbench: &mut Workbench) {
    ui.spacing_mut().slider_width = 190.0;
    let spec = &mut workbench.spec;

    widgets::section(ui, "Occluder");
    egui::Grid::new("occluder_kind")
        .num_columns(2)
        .spacing([16.0, 8.0])
        .show(ui, |ui| {
            let l = ui.label("Shape");
            egui::ComboBox::from_id_salt("occluder_shape")
                .selected_text(shape_title(spec.shape))
                .show_ui(ui, |ui| {
                    for shape in [Shape::Frame, Shape::Block, Shape::Bars] {
                        ui.selectable_value(&mut spec.shape, shape, shape_title(shape))
                            .on_hover_text(shape_help(shape));
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
            let fills = [Fill::Black, Fill::Noise, Fill::Mean];
            widgets::combo_row(
                ui,
                "Fill",
                "occluder_fill",
                &mut spec.fill,
                fills,
                fill_title,
            );
        });
    ui.label(RichText::new(shape_help(spec.shape)).weak());

    widgets::section(ui, "Levels");
    ui.label(
        RichText::new(
            "Width: share of the shorter image side. Weight: how often the level is drawn.",
        )
        .weak(),
    );
    ui.add_space(4.0);
    egui::Grid::new("levels")
        .num_columns(3)
        .spacing([14.0, 8.0])
        .show(ui, |ui| {
            ui.label("");
            ui.label(RichText::new("Border width").weak());
            ui.label(RichText::new("Weight").weak());
            ui.end_row();
            for i in 0..spec.level_widths.len() {
                let level = i + 1;
                widgets::swatch(
                    ui,
                    widgets::level_color(level),
                    RichText::new(format!("Level {level}")).strong(),
                );
                let width = ui.add(
                    egui::Slider::new(&mut spec.level_widths[i], 0.0..=MAX_WIDTH)
                        .custom_formatter(|v, _| format!("{:.1} %", v * 100.0))
                        .custom_parser(parse_percent),
                );
                widgets::accessible_name(ui, &width, &format!("Level {level} width"));
                match spec.level_mix.get_mut(i) {
                    Some(weight) => {
                        let weight = ui.add(
                            egui::DragValue::new(weight)
                                .range(0.0..=100.0)
                                .speed(0.05)
                                .max_decimals(2),
                        );
                        widgets::accessible_name(ui, &weight, &format!("Level {level} weight"));
                    }
                    None => {
                        ui.label(RichText::new("missing").weak());
                    }
                }
                ui.end_row();
            }
        });
    ui.horizontal(|ui| {
        if ui.button("Add level").clicked() {
            spec.push_level();
        }
        if ui
            .add_enabled(
                spec.level_widths.len() > 1,
                egui::Button::new("Remove level"),
            )
            .clicked()
        {
            spec.pop_level();
        }
    });

    widgets::section(ui, "Occluder box");
    ui.label(
        RichText::new(if spec.shape == Shape::Frame {
            "Side of the frame's outer box, drawn between min and max of the image side."
        } else {
            "Used by the Frame shape only."
        })
        .weak(),
    );
    ui.add(
        egui::Slider::new(&mut spec.box_min, 0.05..=1.0)
            .text("Box min")
            .custom_formatter(|v, _| format!("{:.0} %", v * 100.0))
            .custom_parser(parse_percent),
    );
    ui.add(
        egui::Slider::new(&mut spec.box_max, 0.05..=1.0)
            .text("Box max")
            .custom_formatter(|v, _| format!("{:.0} %", v * 100.0))
            .custom_parser(parse_percent),
    );

    if let Err(e) = spec.validate() {
        ui.add_space(8.0);
        widgets::error_text(ui, format!("Invalid occlusion spec: {e}"));
    }

    widgets::section(ui, "Preview seed");
    ui.horizontal(|ui| {
        ui.label(format!("Seed {}", workbench.preview_seed));
        if ui
            .button("Reseed")
            .on_hover_text("Draw new occluders for the preview and the coverage")
            .clicked()
        {
            workbench.preview_seed = image_seed(workbench.preview_seed, 0) % 1_000_000;
        }
        if ui.button("Reset to paper default").clicked() {
            workbench.spec = OcclusionSpec::paper_default();
        }
    });
}

fn coverage_ui(ui: &mut egui::Ui, coverage: &[LevelCoverage], data: &LoadedData, seed: u64) {
    ui.label(
        RichText::new(format!(
            "Share hidden, averaged over {} images of {} (occluders from seed {seed}).",
            COVERAGE_IMAGES.min(data.set.len()),
            data.set.name
        ))
        .weak(),
    );
    let chart_width = (ui.available_width() - 330.0).clamp(240.0, 480.0);
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(chart_width);
            coverage_chart(ui, coverage);
            ui.horizontal(|ui| {
                widgets::swatch(ui, widgets::level_color_light(3), "left, light: all pixels");
                widgets::swatch(
                    ui,
                    widgets::level_color(3),
                    "right, solid: ink (foreground)",
                );
            });
        });
        ui.add_space(16.0);
        ui.vertical(|ui| {
            for c in coverage {
                let text = format!(
                    "Level {}: {:.1} % pixels, {:.1} % ink",
                    c.level,
                    c.pixels_hidden * 100.0,
                    c.ink_hidden * 100.0
                );
                ui.label(
                    RichText::new(text)
                        .size(17.0)
                        .color(widgets::level_color(c.level as usize)),
                );
            }
        });
    });
}

/// Grouped bars: per level, pixels hidden (light) and ink hidden (solid), in percent.
fn coverage_chart(ui: &mut egui::Ui, coverage: &[LevelCoverage]) {
    let pixels: Vec<Bar> = coverage
        .iter()
        .map(|c| {
            Bar::new(c.level as f64 - 0.2, c.pixels_hidden * 100.0)
                .width(0.38)
                .fill(widgets::level_color_light(c.level as usize))
                .name(format!("level {} pixels", c.level))
        })
        .collect();
    let ink: Vec<Bar> = coverage
        .iter()
        .map(|c| {
            Bar::new(c.level as f64 + 0.2, c.ink_hidden * 100.0)
                .width(0.38)
                .fill(widgets::level_color(c.level as usize))
                .name(format!("level {} ink", c.level))
        })
        .collect();
    let levels = coverage.len();
    widgets::static_plot("coverage_chart", 150.0)
        .include_y(0.0)
        .include_y(100.0)
        .include_x(0.4)
        .include_x(levels as f64 + 0.6)
        .y_axis_formatter(|mark, _| format!("{:.0} %", mark.value))
        .x_axis_formatter(move |mark, _| {
            let v = mark.value;
            if (v - v.round()).abs() < 1e-6 && v >= 1.0 && v <= levels as f64 {
                format!("L{}", v as usize)
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("pixels hidden", pixels));
            plot.bar_chart(BarChart::new("ink hidden", ink));
        });
}

fn parse_percent(text: &str) -> Option<f64> {
    let t = text.trim().trim_end_matches('%').trim();
    t.parse::<f64>().ok().map(|v| v / 100.0)
}

fn shape_title(shape: Shape) -> &'static str {
    match shape {
        Shape::Frame => "Frame",
        Shape::Block => "Block",
        Shape::Bars => "Bars",
    }
}

fn shape_help(shape: Shape) -> &'static str {
    match shape {
        Shape::Frame => {
            "Hollow rectangle at a random place; the level sets its border width (paper A)."
        }
        Shape::Block => "Filled square at a random place, side = 2 × width + 15 % of the image.",
        Shape::Bars => "Two bars across the whole image, each as thick as the level's width.",
    }
}

fn fill_title(fill: Fill) -> &'static str {
    match fill {
        Fill::Black => "Black",
        Fill::Noise => "Noise",
        Fill::Mean => "Mean colour",
    }
}
