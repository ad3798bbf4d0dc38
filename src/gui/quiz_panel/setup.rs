//! The Quiz panel's setup screen: the participant, the group, the stimuli and the timing, and
//! the sessions to resume.

use super::*;

impl QuizPanel {
    pub(super) fn setup_ui(&mut self, ui: &mut egui::Ui) -> Option<Action> {
        let mut action = None;
        let form = &mut self.form;
        widgets::section(ui, "Participant");
        egui::Grid::new("quiz_participant")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                let l = ui.label("Participant ID");
                ui.add(egui::TextEdit::singleline(&mut form.participant).desired_width(240.0))
                    .labelled_by(l.id);
                ui.end_row();
                ui.label("Group");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut form.group, GroupChoice::NonExpert, "Non-expert");
                    ui.radio_value(&mut form.group, GroupChoice::Expert, "Expert");
                    ui.radio_value(&mut form.group, GroupChoice::Custom, "Other:");
                    let r = ui.add_enabled(
                        form.group == GroupChoice::Custom,
                        egui::TextEdit::singleline(&mut form.custom_group).desired_width(160.0),
                    );
                    widgets::accessible_name(ui, &r, "Group label");
                });
                ui.end_row();
            });

        widgets::section(ui, "Stimuli");
        egui::Grid::new("quiz_stimuli")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                let l = ui.label("Preset");
                ui.add(
                    egui::TextEdit::singleline(&mut form.preset_path)
                        .desired_width(420.0)
                        .font(egui::TextStyle::Monospace),
                )
                .labelled_by(l.id)
                .on_hover_text(
                    "A preset TOML: data, occluders and how sequences are built (presets/quiz/, \
                     presets/data/). Sequences come from its test split; practice from training.",
                );
                ui.end_row();
                let l = ui.label("Patterned sequences");
                ui.add(egui::DragValue::new(&mut form.patterned).range(0..=500))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Random-order sequences");
                ui.add(egui::DragValue::new(&mut form.random).range(0..=500))
                    .labelled_by(l.id);
                ui.end_row();
                ui.label("");
                ui.checkbox(&mut form.balance_levels, "Balance occlusion levels");
                ui.end_row();
                ui.label("Order");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut form.order, TrialOrder::Interleaved, "Interleaved");
                    ui.radio_value(&mut form.order, TrialOrder::Blocked, "Blocks")
                        .on_hover_text(
                            "One block per condition; the order seed's parity decides which \
                             comes first (consecutive seeds counterbalance).",
                        );
                });
                ui.end_row();
                let l = ui.label("Practice sequences");
                ui.add(egui::DragValue::new(&mut form.practice).range(0..=20))
                    .labelled_by(l.id);
                ui.end_row();
                ui.checkbox(&mut form.time_limit, "Time limit (s)");
                let r = ui.add_enabled(
                    form.time_limit,
                    egui::DragValue::new(&mut form.time_limit_seconds).range(1.0..=600.0),
                );
                widgets::accessible_name(ui, &r, "Seconds per sequence");
                ui.end_row();
                let l = ui.label("Item seed");
                ui.add(egui::DragValue::new(&mut form.item_seed))
                    .labelled_by(l.id)
                    .on_hover_text("Which sequences: keep it the same for every participant.");
                ui.end_row();
                ui.label("Order seed");
                ui.horizontal(|ui| {
                    let mut own = form.order_seed.is_some();
                    if ui.checkbox(&mut own, "set").changed() {
                        form.order_seed =
                            own.then(|| participant_seed(&form.participant) % 1_000_000);
                    }
                    match &mut form.order_seed {
                        Some(seed) => {
                            let r = ui.add(egui::DragValue::new(seed));
                            widgets::accessible_name(ui, &r, "Order seed value");
                        }
                        None => {
                            ui.label(
                                RichText::new(format!(
                                    "{} (from the participant ID)",
                                    participant_seed(&form.participant)
                                ))
                                .weak(),
                            );
                        }
                    }
                });
                ui.end_row();
                let l = ui.label("Session folder");
                ui.add(egui::TextEdit::singleline(&mut form.quiz_dir).desired_width(240.0))
                    .labelled_by(l.id);
                ui.end_row();
            });
        ui.add_space(12.0);
        if ui
            .add(egui::Button::new(RichText::new("Start session").size(20.0)))
            .clicked()
        {
            action = Some(Action::Start);
        }
        if let Some(e) = &self.error {
            widgets::error_text(ui, e.as_str());
        }

        // Sessions on disk, to resume.
        let dir = self.form.quiz_dir.trim().to_string();
        if let Some((d, task)) = &self.listing
            && let Some(found) = task.poll()
        {
            let found = found.unwrap_or_else(|e| vec![Err(e.to_string())]);
            self.listed = Some((d.clone(), found));
            self.listing = None;
        }
        let listed = self.listed.as_ref().is_some_and(|(d, _)| *d == dir);
        let listing = self.listing.as_ref().is_some_and(|(d, _)| *d == dir);
        if !listed && !listing {
            let folder = PathBuf::from(&dir);
            let task = Task::spawn(ui.ctx(), "list-sessions", move || {
                session::list_sessions(&folder)
                    .into_iter()
                    .map(|r| r.map_err(|e| e.to_string()))
                    .collect()
            });
            match task {
                Ok(task) => self.listing = Some((dir.clone(), task)),
                Err(e) => self.listed = Some((dir.clone(), vec![Err(e.to_string())])),
            }
        }
        widgets::section(ui, &format!("Sessions in {dir}"));
        if ui.small_button("Refresh").clicked() {
            self.listed = None;
        }
        if let Some((_, found)) = self.listed.as_ref().filter(|(d, _)| *d == dir) {
            if found.is_empty() {
                ui.label(RichText::new("None yet.").weak());
            }
            egui::Grid::new("quiz_sessions")
                .striped(true)
                .spacing([14.0, 6.0])
                .show(ui, |ui| {
                    for s in found {
                        match s {
                            Ok(rec) => {
                                let (done, total) = rec.progress();
                                let c = &rec.header.config;
                                ui.label(RichText::new(&rec.header.session).monospace());
                                ui.label(c.group.label());
                                ui.label(format!("{done} of {total} sequences"));
                                if rec.is_finished() {
                                    ui.label(RichText::new("complete").weak());
                                } else if ui
                                    .button(format!("Resume {}", rec.header.session))
                                    .clicked()
                                {
                                    action = Some(Action::Resume(rec.path.clone()));
                                }
                            }
                            Err(e) => {
                                widgets::error_text(ui, e.as_str());
                            }
                        }
                        ui.end_row();
                    }
                });
        }
        action
    }
}
