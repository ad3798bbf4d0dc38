//! Small reusable pieces: image → texture conversion, image grids, level colours and legend.
//!
//! Nothing here computes experiment numbers; it only turns pixels and values the library produced
//! into things egui can draw.

use egui::{Color32, ColorImage, RichText, TextureHandle, TextureOptions, Vec2};

/// Space between sections of a panel.
pub const SECTION_GAP: f32 = 18.0;

/// Converts one H×W×C `u8` image (C = 1 grey, 3 RGB; other counts show their first channel) to
/// an egui image.
pub fn to_color_image(pixels: &[u8], height: usize, width: usize, channels: usize) -> ColorImage {
    let size = [width, height];
    match channels {
        3 => ColorImage::from_rgb(size, pixels),
        1 => ColorImage::from_gray(size, pixels),
        c => ColorImage::from_gray_iter(size, pixels.chunks(c.max(1)).map(|px| px[0])),
    }
}

/// Uploads an image as a texture sampled with nearest-neighbour magnification (crisp pixels).
pub fn load_nearest(ctx: &egui::Context, name: &str, image: ColorImage) -> TextureHandle {
    ctx.load_texture(name, image, TextureOptions::NEAREST)
}

/// Draws textures as a grid of `columns` columns, each cell `cell` points wide and high.
pub fn image_grid(
    ui: &mut egui::Ui,
    id_salt: &str,
    textures: &[TextureHandle],
    columns: usize,
    cell: f32,
) {
    egui::Grid::new(id_salt)
        .spacing(Vec2::splat(4.0))
        .show(ui, |ui| {
            for (i, tex) in textures.iter().enumerate() {
                ui.add(egui::Image::new(tex).fit_to_exact_size(Vec2::splat(cell)));
                if (i + 1) % columns.max(1) == 0 {
                    ui.end_row();
                }
            }
        });
}

/// One row of images with a leading caption (used for one occlusion level).
pub fn image_row(
    ui: &mut egui::Ui,
    caption: RichText,
    caption_width: f32,
    textures: &[TextureHandle],
    cell: f32,
) {
    ui.horizontal(|ui| {
        ui.add_sized([caption_width, cell], egui::Label::new(caption));
        for tex in textures {
            ui.add(egui::Image::new(tex).fit_to_exact_size(Vec2::splat(cell)));
        }
    });
}

/// The colour of occlusion level `level` (0 = unoccluded), the same in every chart and legend.
///
/// Level 0 is neutral grey; levels 1.. run from yellow through orange and red to purple, so the
/// severity reads as "warmer = more hidden". More than eight levels reuse the last colours.
pub fn level_color(level: usize) -> Color32 {
    let [r, g, b] = crate::sequence::render::level_color(level.min(u8::MAX as usize) as u8);
    Color32::from_rgb(r, g, b)
}

/// A lighter shade of a level colour (the "pixels hidden" bars beside the solid "ink hidden" ones).
pub fn level_color_light(level: usize) -> Color32 {
    let c = level_color(level);
    let mix = |v: u8| ((v as u16 + 2 * 255) / 3) as u8;
    Color32::from_rgb(mix(c.r()), mix(c.g()), mix(c.b()))
}

/// A small coloured square followed by text.
pub fn swatch(ui: &mut egui::Ui, color: Color32, text: impl Into<RichText>) {
    ui.horizontal(|ui| {
        let size = ui.text_style_height(&egui::TextStyle::Body);
        let (rect, _) = ui.allocate_exact_size(Vec2::splat(size), egui::Sense::hover());
        ui.painter().rect_filled(rect.shrink(1.0), 3.0, color);
        ui.label(text.into());
    });
}

/// Legend of the occlusion levels: a swatch per level with its caption (e.g. the border width).
/// Wraps onto more lines when it does not fit, never between a swatch and its caption.
pub fn level_legend(ui: &mut egui::Ui, captions: &[String]) {
    ui.horizontal_wrapped(|ui| {
        for (level, caption) in captions.iter().enumerate() {
            legend_item(ui, level_color(level), caption);
            ui.add_space(12.0);
        }
    });
}

/// A swatch and its caption as one widget.
fn legend_item(ui: &mut egui::Ui, color: Color32, caption: &str) -> egui::Response {
    let font = egui::TextStyle::Body.resolve(ui.style());
    let text_color = ui.visuals().text_color();
    let galley = ui
        .painter()
        .layout_no_wrap(caption.to_owned(), font, text_color);
    let side = galley.size().y;
    let gap = 6.0;
    let size = Vec2::new(side + gap + galley.size().x, side);
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
    if ui.is_rect_visible(rect) {
        let swatch = egui::Rect::from_min_size(rect.min, Vec2::splat(side));
        ui.painter().rect_filled(swatch.shrink(2.0), 3.0, color);
        ui.painter()
            .galley(rect.min + Vec2::new(side + gap, 0.0), galley, text_color);
    }
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, caption));
    response
}

/// Gives a widget the accessible name `label` (what screen readers say and kittest queries by)
/// without drawing any text: for controls whose caption is already shown by their row or column.
pub fn accessible_name(ui: &egui::Ui, response: &egui::Response, label: &str) {
    ui.ctx()
        .accesskit_node_builder(response.id, |node| node.set_label(label));
}

/// A grid row for an optional count: a checkbox captioned `caption` (with `hover` text) and
/// beside it the count, editable while the box is ticked, named `name` for screen readers;
/// `default` is shown while the box is off. Ends the grid row.
pub fn optional_count_row(
    ui: &mut egui::Ui,
    value: &mut Option<usize>,
    caption: &str,
    hover: &str,
    name: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) {
    let mut on = value.is_some();
    ui.checkbox(&mut on, caption).on_hover_text(hover);
    let mut n = value.unwrap_or(default);
    let r = ui.add_enabled(on, egui::DragValue::new(&mut n).range(range));
    accessible_name(ui, &r, name);
    *value = on.then_some(n);
    ui.end_row();
}

/// Grid rows for an image size (`noun` "Image" or "Frame": "Image size", "Image height", …)
/// within `range` pixels, and grey or RGB colour. Ends both grid rows.
pub fn size_and_colour_rows(
    ui: &mut egui::Ui,
    noun: &str,
    [height, width]: [&mut u32; 2],
    channels: &mut u8,
    range: std::ops::RangeInclusive<u32>,
) {
    ui.label(format!("{noun} size"));
    ui.horizontal(|ui| {
        ui.add(
            egui::DragValue::new(height)
                .range(range.clone())
                .suffix(" px high"),
        )
        .on_hover_text(format!("{noun} height"));
        ui.label("×");
        ui.add(egui::DragValue::new(width).range(range).suffix(" px wide"))
            .on_hover_text(format!("{noun} width"));
    });
    ui.end_row();
    ui.label("Colour");
    ui.horizontal(|ui| {
        ui.radio_value(channels, 1, "Grey");
        ui.radio_value(channels, 3, "RGB");
    });
    ui.end_row();
}

/// An error shown in place: red, wrapped.
pub fn error_text(ui: &mut egui::Ui, text: impl Into<String>) {
    let color = ui.visuals().error_fg_color;
    ui.add(egui::Label::new(RichText::new(text.into()).color(color).strong()).wrap());
}

/// A section heading with a little space above.
pub fn section(ui: &mut egui::Ui, title: &str) {
    ui.add_space(SECTION_GAP);
    ui.label(RichText::new(title).size(20.0).strong());
    ui.add_space(4.0);
}

/// A bar chart with no pan/zoom: charts here are read, not explored.
pub fn static_plot(id: &str, height: f32) -> egui_plot::Plot<'static> {
    egui_plot::Plot::new(id)
        .height(height)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_grid([false, true])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_and_rgb_images_convert() {
        let grey = to_color_image(&[0, 255, 128, 7], 2, 2, 1);
        assert_eq!(grey.size, [2, 2]);
        assert_eq!(grey.pixels[1], Color32::from_gray(255));
        let rgb = to_color_image(&[255, 0, 0, 0, 0, 255], 1, 2, 3);
        assert_eq!(rgb.size, [2, 1]);
        assert_eq!(rgb.pixels[0], Color32::from_rgb(255, 0, 0));
        assert_eq!(rgb.pixels[1], Color32::from_rgb(0, 0, 255));
    }

    #[test]
    fn level_colours_differ() {
        for a in 0..6 {
            for b in a + 1..6 {
                assert_ne!(level_color(a), level_color(b));
            }
        }
    }
}

/// A file written on a background thread (an Export CSV button) and what came of the last one:
/// "Wrote <path>" or the error, shown in place.
#[derive(Default)]
pub struct FileExport {
    job: Option<super::task::Task<Result<std::path::PathBuf, String>>>,
    last: Option<Result<std::path::PathBuf, String>>,
}

impl FileExport {
    /// Writes `path` with `write` on its own thread (a running export is replaced).
    pub fn start<E: std::fmt::Display>(
        &mut self,
        ctx: &egui::Context,
        path: std::path::PathBuf,
        write: impl FnOnce(&std::path::Path) -> Result<(), E> + Send + 'static,
    ) {
        let task = super::task::Task::spawn(ctx, "export", move || {
            write(&path).map(|()| path).map_err(|e| e.to_string())
        });
        match task {
            Ok(task) => self.job = Some(task),
            Err(e) => self.last = Some(Err(e.to_string())),
        }
    }

    /// Whether a file is being written.
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// The last file written, or why not.
    pub fn last(&self) -> Option<&Result<std::path::PathBuf, String>> {
        self.last.as_ref()
    }

    /// Takes a finished write and says how the last one went.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        if let Some(result) = super::task::take_done(&mut self.job) {
            self.last = Some(result.map_err(|e| e.to_string()).and_then(|r| r));
        }
        match &self.last {
            Some(Ok(path)) => {
                ui.label(format!("Wrote {}", path.display()));
            }
            Some(Err(e)) => error_text(ui, format!("Export failed: {e}")),
            None => {}
        }
    }
}

/// A grid row: `label`, then a drop-down of `options` (each shown by `title`) that edits `value`
/// and is labelled by the label (screen readers and tests find it by that name).
pub fn combo_row<T: Copy + PartialEq, S: Into<egui::WidgetText>>(
    ui: &mut egui::Ui,
    label: &str,
    id: &str,
    value: &mut T,
    options: impl IntoIterator<Item = T>,
    title: impl Fn(T) -> S,
) {
    let l = ui.label(label);
    egui::ComboBox::from_id_salt(id)
        .selected_text(title(*value))
        .show_ui(ui, |ui| {
            for option in options {
                ui.selectable_value(value, option, title(option));
            }
        })
        .response
        .labelled_by(l.id);
    ui.end_row();
}

/// The runs of a runs folder as check boxes: the folder is listed on a background thread when
/// it changes (or when asked again); runs can be ticked once listed.
#[derive(Default)]
pub struct RunPicker {
    /// (run folder, ticked).
    runs: Vec<(std::path::PathBuf, bool)>,
    listed_from: Option<String>,
    listing: Option<(String, super::task::Task<Vec<std::path::PathBuf>>)>,
    /// Runs to tick once the folder is listed again.
    tick: Vec<std::path::PathBuf>,
}

impl RunPicker {
    /// Takes a finished listing.
    pub fn poll(&mut self) {
        if let Some((root, task)) = &self.listing
            && let Some(result) = task.poll()
        {
            let tick = std::mem::take(&mut self.tick);
            self.runs = result
                .unwrap_or_default()
                .into_iter()
                .map(|p| {
                    let on = tick.contains(&p);
                    (p, on)
                })
                .collect();
            self.listed_from = Some(root.clone());
            self.listing = None;
        }
    }

    /// Lists `root` in the background unless it is the folder listed or being listed.
    pub fn list(&mut self, ctx: &egui::Context, root: &str) -> Result<(), super::task::TaskLost> {
        let listing = self.listing.as_ref().is_some_and(|(r, _)| r == root);
        if self.listed_from.as_deref() == Some(root) || listing {
            return Ok(());
        }
        let dir = std::path::PathBuf::from(root);
        let task = super::task::Task::spawn(ctx, "list-runs", move || {
            crate::experiment::run::list_runs(&dir)
                .into_iter()
                .map(|r| r.path)
                .collect()
        })?;
        self.listing = Some((root.to_string(), task));
        Ok(())
    }

    /// Lists the folder again, then ticks `runs` in it.
    pub fn relist_ticking(&mut self, runs: Vec<std::path::PathBuf>) {
        self.tick = runs;
        self.listed_from = None;
    }

    /// Whether the folder is being listed.
    pub fn is_listing(&self) -> bool {
        self.listing.is_some()
    }

    /// The check boxes, one per run (named by its folder), or a note that there is none.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        if self.runs.is_empty() {
            ui.label(RichText::new("No runs in that folder.").weak());
        }
        ui.horizontal_wrapped(|ui| {
            for (path, on) in &mut self.runs {
                let name = path
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned());
                ui.checkbox(on, name);
            }
        });
    }

    /// The runs ticked.
    pub fn chosen(&self) -> Vec<std::path::PathBuf> {
        self.runs
            .iter()
            .filter(|(_, on)| *on)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Ticks the run whose folder name is `name`; false when there is none.
    pub fn choose(&mut self, name: &str) -> bool {
        let mut found = false;
        for (p, on) in &mut self.runs {
            if p.file_name().is_some_and(|n| n == name) {
                *on = true;
                found = true;
            }
        }
        found
    }
}
