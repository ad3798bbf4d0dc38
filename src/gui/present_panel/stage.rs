//! The Present panel's stage: the bar above the sequence, every image with each model's guess
//! above it (sized to the window), the truth and the summary; and the textures they need.

use super::*;

impl PresentPanel {
    /// The sequence on the stage: counter and state, then the images with the guesses above.
    /// `height`: what the stage may fill, from its top.
    pub(super) fn stage_ui(&mut self, ui: &mut egui::Ui, height: f32) {
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
    pub(super) fn stage_bar_ui(&mut self, ui: &mut egui::Ui, showcase: &Showcase) {
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
        let state = [
            if self.reveal {
                "truth shown"
            } else {
                "truth hidden"
            }
            .to_string(),
            if self.occluders {
                "occluders on"
            } else {
                "occluders off"
            }
            .to_string(),
            ordering_title(showcase.ordering).to_lowercase(),
        ];
        ui.horizontal_wrapped(|ui| {
            ui.label(text(format!("Sequence {} of {n}", self.current + 1), true));
            for part in state {
                ui.label(text("·".into(), false));
                ui.label(text(part, false));
            }
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
    pub(super) fn sequence_ui(
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
    pub(super) fn image_ui(
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
    pub(super) fn summary_ui(&self, ui: &mut egui::Ui, showcase: &Showcase, seq: &ShownSequence) {
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
    pub(super) fn ensure_textures(
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
        // One texture per image of the sequence, of the pixels `pixels` gives (`channels` each).
        let textures = |kind: &str, channels: usize, pixels: &dyn Fn(&ShownImage) -> Vec<u8>| {
            seq.images
                .iter()
                .enumerate()
                .map(|(pos, im)| {
                    let image = widgets::to_color_image(&pixels(im), h, w, channels);
                    widgets::load_nearest(ctx, &name(pos, kind), image)
                })
                .collect()
        };
        let occluded = textures("occluded", c, &|im| im.occluded.clone());
        let revealed = textures("revealed", 3, &|im| im.revealed_rgb(c));
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
pub(super) fn guess_line(ui: &mut egui::Ui, text: String, font: f32, verdict: Option<bool>) {
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
pub(super) fn layout_width(ui: &egui::Ui, text: &str, size: f32) -> f32 {
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
