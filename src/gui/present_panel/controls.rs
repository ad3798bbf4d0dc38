//! The Present panel's controls: the runs folder and the runs to show, the sequences (order,
//! shuffle, count), the occluders, the backend, and the Show button.

use super::*;

impl PresentPanel {
    pub(super) fn controls_ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        widgets::section(ui, "Runs");
        ui.horizontal(|ui| {
            ui.label("Runs folder");
            let edit = ui.add(
                egui::TextEdit::singleline(&mut workbench.runs_root)
                    .desired_width(170.0)
                    .font(egui::TextStyle::Monospace),
            );
            widgets::accessible_name(ui, &edit, "Runs folder");
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            if ui.button("Refresh").clicked() || enter {
                self.refresh(workbench, ui.ctx());
            }
        });
        self.runs_ui(ui);
        // A fresh install has no runs: the demo pair, trained in the background, shown when done.
        let root = workbench.runs_dir();
        workbench.demo.ui(ui, &root);
        if let Some(dirs) = workbench.demo.newly_ready(&mut self.demo_applied) {
            self.chosen = Some(dirs);
            self.refresh(workbench, ui.ctx());
        }

        widgets::section(ui, "Sequences");
        egui::Grid::new("present_sequences")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                widgets::combo_row(
                    ui,
                    "Order",
                    "present_ordering",
                    &mut self.ordering,
                    [OrderingSpec::Patterned, OrderingSpec::Random],
                    ordering_title,
                );
                ui.checkbox(&mut self.shuffle, "Shuffle, seed")
                    .on_hover_text("Show the test sequences in a seeded random order");
                let r = ui.add_enabled(self.shuffle, egui::DragValue::new(&mut self.shuffle_seed));
                widgets::accessible_name(ui, &r, "Shuffle seed");
                ui.end_row();
                let l = ui.label("Sequences");
                ui.add(egui::DragValue::new(&mut self.count).range(1..=MAX_COUNT))
                    .labelled_by(l.id);
                ui.end_row();
                widgets::combo_row(
                    ui,
                    "Occluders",
                    "present_occlusion",
                    &mut self.occlusion_as_trained,
                    [true, false],
                    occlusion_title,
                );
            });
        ui.label(
            RichText::new("Test split of the first run's sequences (its patterns, T and seed).")
                .weak(),
        );

        ui.add_space(12.0);
        let request = self.request(workbench);
        let generation = workbench.data.as_ref().map(|d| d.generation);
        let current = self
            .shown
            .as_ref()
            .is_some_and(|s| s.request == request && Some(s.generation) == generation)
            || self
                .pending
                .as_ref()
                .is_some_and(|p| p.request == request && Some(p.generation) == generation);
        ui.horizontal(|ui| {
            let can = workbench.data.is_some() && !request.runs.is_empty();
            let text = RichText::new("Show").strong();
            let button = if current {
                egui::Button::new(text)
            } else {
                egui::Button::new(text.color(Color32::WHITE)).fill(ui.visuals().selection.bg_fill)
            };
            if ui
                .add_enabled(can, button)
                .on_hover_text("Load the chosen runs and predict the sequences")
                .clicked()
            {
                self.start(workbench, ui.ctx());
            }
            if let Some(p) = &self.pending {
                ui.spinner();
                ui.label(format!(
                    "Predicting… {:.1} s",
                    p.task.elapsed().as_secs_f64()
                ));
            } else if !current && self.shown.is_some() {
                ui.label(RichText::new("Settings changed: press Show").weak());
            }
        });
        if let Some(e) = &self.error {
            widgets::error_text(ui, e.clone());
        }
        if let Some(s) = self.showcase() {
            ui.label(
                RichText::new(format!(
                    "{} of {} test sequences, T = {}, sequence seed {}{}; occluders {}; {} in {:.1} s",
                    s.sequences.len(),
                    s.test_sequences,
                    s.t,
                    s.sequence_seed,
                    s.shuffle_seed
                        .map_or(String::new(), |seed| format!(", shuffled with seed {seed}")),
                    if s.occlusion_as_trained {
                        "as trained"
                    } else {
                        "as on the Occlusion panel"
                    },
                    s.backend,
                    s.elapsed.as_secs_f64()
                ))
                .weak(),
            );
            // Chosen runs that could not be loaded (damaged): the file and the reason.
            for why in &s.skipped {
                widgets::error_text(ui, why.as_str());
            }
        }

        widgets::section(ui, "Keys");
        egui::Grid::new("present_keys")
            .num_columns(2)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                for (key, what) in [
                    ("Right / Left", "next / previous sequence"),
                    ("Space", "reveal / hide the truth"),
                    ("O", "occluders off / on"),
                    ("H", "hide / show the controls"),
                    ("F", "full screen"),
                    ("Esc", "leave full screen"),
                ] {
                    ui.label(RichText::new(key).monospace().strong());
                    ui.label(what);
                    ui.end_row();
                }
            });
    }

    /// One check box per run with a trained model; runs that do not fit the data are greyed out
    /// with the reason.
    pub(super) fn runs_ui(&mut self, ui: &mut egui::Ui) {
        let Some(listing) = &self.listing else {
            ui.label(RichText::new("No data set loaded yet.").weak());
            return;
        };
        for e in &listing.errors {
            widgets::error_text(ui, e.as_str());
        }
        if listing.candidates.is_empty() {
            ui.label(
                RichText::new(format!(
                    "No trained runs in {}: train some on the Train panel.",
                    listing.root.display()
                ))
                .weak(),
            );
            return;
        }
        let chosen = self.chosen.get_or_insert_with(Vec::new);
        egui::ScrollArea::vertical()
            .id_salt("present_runs")
            .max_height(260.0)
            .show(ui, |ui| {
                for c in &listing.candidates {
                    let s = &c.summary;
                    let model = s.model.map_or(String::new(), |k| k.to_string());
                    let accuracy = s
                        .test_accuracy_percent()
                        .map_or(String::new(), |a| format!(", {a:.1} %"));
                    let mut on = chosen.contains(&s.path);
                    let text = format!("{} ({model}{accuracy})", s.name);
                    let response =
                        ui.add_enabled(c.fit.is_ok(), egui::Checkbox::new(&mut on, text));
                    if let Err(why) = &c.fit {
                        ui.label(RichText::new(format!("does not fit: {why}")).small().weak());
                    }
                    if response.changed() {
                        if on {
                            chosen.push(s.path.clone());
                        } else {
                            chosen.retain(|p| p != &s.path);
                        }
                    }
                }
            });
    }
}
