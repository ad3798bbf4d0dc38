//! The Quiz panel's session screens: a running session's state, the instructions, a trial (the
//! occluded images and the answer keys), and the feedback after it.

use super::*;

impl Running {
    pub(super) fn new(session: Session, stimuli: Stimuli, notice: Option<String>) -> Self {
        Running {
            session,
            stimuli,
            trial: None,
            textures: None,
            notice,
            error: None,
        }
    }

    /// The next unanswered sequence on screen, or the end.
    pub(super) fn next(mut self: Box<Self>, ctx: &egui::Context) -> Screen {
        match self.session.next_item() {
            Some(k) => {
                let t = self.session.header().items[k].len();
                let limit = self.session.header().config.time_limit();
                self.trial = Some(Trial::new(k, t, limit, Instant::now()));
                self.ensure_textures(ctx, k);
                Screen::Trial(self)
            }
            None => Screen::Finished {
                path: self.session.path().to_path_buf(),
                sequences: self.session.responses().len(),
            },
        }
    }

    /// Textures of item `k`'s occluded images.
    pub(super) fn ensure_textures(&mut self, ctx: &egui::Context, k: usize) {
        if self.textures.as_ref().is_some_and(|(i, _)| *i == k) {
            return;
        }
        let item = &self.session.header().items[k];
        let im = &self.stimuli.images;
        let name = &self.session.header().session;
        let textures = (0..item.len())
            .map(|pos| {
                let px = self.stimuli.render(item, pos);
                widgets::load_nearest(
                    ctx,
                    &format!("quiz-{name}-{k}-{pos}"),
                    widgets::to_color_image(&px, im.height, im.width, im.channels),
                )
            })
            .collect();
        self.textures = Some((k, textures));
    }
}

pub(super) fn resume_notice(session: &Session, recovery: Option<Recovery>) -> String {
    let (done, total) = session.record().progress();
    let mut s = format!(
        "Resuming {}: {done} of {total} sequences were saved; it continues with the next one.",
        session.header().session
    );
    if let Some(r) = recovery {
        s.push_str(&format!(" Note: {r}."));
    }
    s
}

/// The instruction screen; true when "Begin" was clicked.
pub(super) fn instructions_ui(ui: &mut egui::Ui, r: &Running) -> bool {
    let h = r.session.header();
    widgets::section(ui, "Instructions");
    if let Some(n) = &r.notice {
        ui.label(RichText::new(n).strong());
        ui.add_space(8.0);
    }
    ui.label(RichText::new(instructions(&h.config, &h.class_names, h.practice_count())).size(19.0));
    ui.add_space(8.0);
    legend_ui(ui, &h.class_names);
    ui.add_space(16.0);
    ui.add(egui::Button::new(RichText::new("Begin (Enter)").size(22.0)))
        .clicked()
}

/// The class keys, where they are not the class names themselves (CIFAR-10).
pub(super) fn legend_ui(ui: &mut egui::Ui, class_names: &[String]) {
    if !legend_needed(class_names) {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        for (k, name) in key_legend(class_names) {
            ui.label(RichText::new(format!("{k} = {name}")).size(18.0).strong());
            ui.add_space(10.0);
        }
    });
}

/// A sequence on screen: the images large, an answer box under each, the class buttons, submit.
pub(super) fn trial_ui(ui: &mut egui::Ui, r: &mut Running) -> Option<Action> {
    let mut action = None;
    let trial = r.trial.as_mut()?;
    let header = r.session.header();
    let now = Instant::now();
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(progress_label(header, trial.item))
                .size(22.0)
                .strong(),
        );
        if let Some(left) = trial.remaining(now) {
            ui.add_space(24.0);
            ui.label(RichText::new(format!("{:.0} s left", left.as_secs_f64().ceil())).size(22.0));
        }
    });
    ui.add_space(8.0);
    let Some((_, textures)) = &r.textures else {
        return None;
    };
    let t = textures.len().max(1);
    let gap = 16.0;
    let cell = ((ui.available_width() - gap * (t as f32 - 1.0)) / t as f32).clamp(60.0, MAX_CELL);
    let mut clicked = None;
    ui.horizontal_top(|ui| {
        ui.spacing_mut().item_spacing.x = gap;
        for (pos, tex) in textures.iter().enumerate() {
            ui.vertical(|ui| {
                ui.set_width(cell);
                let selected = trial.selected() == pos;
                let img = ui.add(
                    egui::Image::new(tex)
                        .fit_to_exact_size(Vec2::splat(cell))
                        .sense(egui::Sense::click()),
                );
                if selected {
                    ui.painter().rect_stroke(
                        img.rect.expand(3.0),
                        4.0,
                        Stroke::new(3.0, ui.visuals().selection.stroke.color),
                        egui::StrokeKind::Outside,
                    );
                }
                let answer = trial.answers()[pos].map_or("?".to_string(), |a| header.class_name(a));
                let text = RichText::new(answer).size(30.0).strong();
                let b = ui
                    .add(egui::Button::selectable(selected, text).min_size(Vec2::new(cell, 44.0)));
                widgets::accessible_name(ui, &b, &format!("Answer {}", pos + 1));
                if img.clicked() || b.clicked() {
                    clicked = Some(pos);
                }
            });
        }
    });
    if let Some(pos) = clicked {
        trial.select(pos);
    }
    ui.add_space(12.0);
    ui.label(
        RichText::new(
            "Type the answer for the selected image (it moves on by itself); click an image or \
             use the arrow keys to go back, Backspace to clear, Enter to submit.",
        )
        .weak(),
    );
    // Class buttons: click to answer the selected image.
    let keys = key_legend(&header.class_names);
    let mut chosen = None;
    ui.horizontal_wrapped(|ui| {
        for (c, name) in header.class_names.iter().enumerate() {
            let text = match keys.get(c) {
                Some((k, n)) if legend_needed(&header.class_names) => format!("{k} = {n}"),
                _ => name.clone(),
            };
            if ui
                .add(
                    egui::Button::new(RichText::new(text).size(18.0))
                        .min_size(Vec2::new(44.0, 36.0)),
                )
                .clicked()
            {
                chosen = Some(c as u16);
            }
        }
    });
    if let Some(c) = chosen {
        trial.answer_selected(c, Instant::now());
    }
    ui.add_space(12.0);
    ui.horizontal(|ui| {
        let complete = trial.is_complete();
        if ui
            .add_enabled(
                complete,
                egui::Button::new(RichText::new("Submit (Enter)").size(20.0)),
            )
            .clicked()
        {
            action = Some(Action::Submit);
        }
        if !complete {
            let missing = trial.answers().iter().filter(|a| a.is_none()).count();
            ui.label(RichText::new(format!("{missing} to answer")).weak());
        }
    });
    if let Some(e) = &r.error {
        widgets::error_text(ui, e.as_str());
    }
    action
}

/// Practice feedback: each image with the answer and the truth; true when "Continue" was clicked.
pub(super) fn feedback_ui(
    ui: &mut egui::Ui,
    r: &Running,
    item: usize,
    fb: &[ImageFeedback],
) -> bool {
    let right = fb.iter().filter(|f| f.correct).count();
    ui.label(
        RichText::new(format!(
            "{}: {right} of {} right",
            progress_label(r.session.header(), item),
            fb.len()
        ))
        .size(22.0)
        .strong(),
    );
    ui.add_space(8.0);
    if let Some((_, textures)) = &r.textures {
        let t = textures.len().max(1);
        let cell = ((ui.available_width() - 16.0 * (t as f32 - 1.0)) / t as f32).clamp(60.0, 180.0);
        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing.x = 16.0;
            for (tex, f) in textures.iter().zip(fb) {
                ui.vertical(|ui| {
                    ui.set_width(cell);
                    ui.add(egui::Image::new(tex).fit_to_exact_size(Vec2::splat(cell)));
                    let (color, mark) = if f.correct {
                        (Color32::from_rgb(40, 150, 70), "right:")
                    } else {
                        (ui.visuals().error_fg_color, "wrong:")
                    };
                    let answer = f.answer.clone().unwrap_or_else(|| "–".into());
                    ui.label(
                        RichText::new(format!("{mark} {answer}"))
                            .size(24.0)
                            .color(color),
                    );
                    if !f.correct {
                        ui.label(RichText::new(format!("was {}", f.truth)).size(18.0));
                    }
                });
            }
        });
    }
    ui.add_space(16.0);
    ui.add(egui::Button::new(
        RichText::new("Continue (Enter)").size(20.0),
    ))
    .clicked()
}
