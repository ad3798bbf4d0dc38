//! The Train panel's curves: loss per step (min–max bands where steps are folded), accuracy per
//! epoch, per occlusion level and per position, of every run shown; and saving them as PNGs.

use super::widgets;
use super::{ShownRun, TrainPanel};
use egui::RichText;
use egui_plot::{Bar, BarChart, Corner, FilledArea, Legend, Line, LineStyle, Plot};
use std::path::Path;

/// Height of each plot.
const PLOT_HEIGHT: f32 = 180.0;
/// Most loss points drawn per run; more steps are folded into min/max buckets.
const LOSS_BUCKETS: usize = 300;

impl TrainPanel {
    pub(super) fn plots_ui(&mut self, ui: &mut egui::Ui, root: &Path) {
        if self.runs.iter().any(|r| r.visible) {
            ui.horizontal(|ui| {
                if ui
                    .button("Save plots as PNG")
                    .on_hover_text("loss, accuracy, levels and positions of the shown runs, into <runs folder>/plots/")
                    .clicked()
                {
                    self.save_plots(ui.ctx(), root);
                }
                match &self.saved_plots {
                    Some(Ok(files)) => {
                        let dir = files
                            .first()
                            .and_then(|f| f.parent())
                            .map(|d| d.display().to_string())
                            .unwrap_or_default();
                        ui.label(RichText::new(format!("{} plots saved in {dir}", files.len())).weak());
                    }
                    Some(Err(e)) => {
                        ui.colored_label(ui.visuals().error_fg_color, e);
                    }
                    None => {}
                }
            });
        }
        let shown: Vec<&ShownRun> = self.runs.iter().filter(|r| r.visible).collect();
        if shown.is_empty() {
            widgets::section(ui, "Curves");
            ui.label(
                RichText::new("Start a run, or tick runs on disk, to see their curves here.")
                    .weak(),
            );
            return;
        }
        let points: usize = shown.iter().map(|r| r.series.steps.len()).sum();
        ui.columns(2, |cols| {
            let ui = &mut cols[0];
            widgets::section(ui, "Loss per step");
            ui.label(
                RichText::new(format!(
                    "loss points: {points} — band: min–max of folded steps"
                ))
                .weak(),
            );
            plot("train_loss", Corner::RightTop)
                .x_axis_label("step")
                .y_axis_label("loss")
                .show(ui, |plot_ui| {
                    for r in &shown {
                        let buckets = r.series.loss_buckets(LOSS_BUCKETS);
                        if buckets.iter().any(|b| b.count > 1) {
                            let xs: Vec<f64> = buckets.iter().map(|b| b.x).collect();
                            let lo: Vec<f64> = buckets.iter().map(|b| b.min).collect();
                            let hi: Vec<f64> = buckets.iter().map(|b| b.max).collect();
                            plot_ui.add(
                                FilledArea::new(&r.series.name, &xs, &lo, &hi)
                                    .fill_color(r.color.gamma_multiply(0.25)),
                            );
                        }
                        let mean: Vec<[f64; 2]> = buckets.iter().map(|b| [b.x, b.mean]).collect();
                        plot_ui.line(Line::new(&r.series.name, mean).color(r.color).width(1.5));
                    }
                });

            let ui = &mut cols[1];
            // Runs that hold out validation sequences also draw it: early stopping follows it.
            let validates = shown
                .iter()
                .any(|r| !r.series.validation_accuracy().is_empty());
            let (title, note) = if validates {
                (
                    "Accuracy per epoch",
                    "solid: test; dashed: training; dotted: validation (chooses the best epoch)",
                )
            } else {
                ("Accuracy per epoch", "solid: test; dashed: training")
            };
            accuracy_plot(
                ui,
                title,
                note,
                "train_accuracy",
                Corner::RightBottom,
                "epoch",
            )
            .show(ui, |plot_ui| {
                for r in &shown {
                    plot_ui.line(
                        Line::new(&r.series.name, r.series.test_accuracy())
                            .color(r.color)
                            .width(2.0),
                    );
                    plot_ui.line(
                        Line::new(&r.series.name, r.series.train_accuracy())
                            .color(r.color)
                            .style(LineStyle::dashed_dense())
                            .width(1.5),
                    );
                    let validation = r.series.validation_accuracy();
                    if !validation.is_empty() {
                        plot_ui.line(
                            Line::new(&r.series.name, validation)
                                .color(r.color)
                                .style(LineStyle::dotted_dense())
                                .width(1.5),
                        );
                    }
                }
            });
        });

        ui.columns(2, |cols| {
            let ui = &mut cols[0];
            let width = 0.8 / shown.len() as f64;
            let title = "Test accuracy per occlusion level";
            let note = "latest epoch of each run; level 0 = unoccluded";
            accuracy_plot(
                ui,
                title,
                note,
                "train_levels",
                Corner::RightTop,
                "occlusion level",
            )
            // Headroom: the legend sits above the bars.
            .include_y(1.4)
            .show(ui, |plot_ui| {
                for (k, r) in shown.iter().enumerate() {
                    let per_level = r.series.test_accuracy_per_level();
                    let bars: Vec<Bar> = per_level
                        .iter()
                        .enumerate()
                        .filter_map(|(level, points)| {
                            let acc = points.last()?[1];
                            let x = level as f64 - 0.4 + width * (k as f64 + 0.5);
                            Some(Bar::new(x, acc).width(width * 0.9).fill(r.color))
                        })
                        .collect();
                    plot_ui.bar_chart(BarChart::new(&r.series.name, bars).color(r.color));
                }
            });
            let ui = &mut cols[1];
            let (title, note) = ("Test accuracy per position", "latest epoch of each run");
            let x = "position in the sequence";
            accuracy_plot(ui, title, note, "train_positions", Corner::RightBottom, x).show(
                ui,
                |plot_ui| {
                    for r in &shown {
                        plot_ui.line(
                            Line::new(&r.series.name, r.series.test_accuracy_per_position())
                                .color(r.color)
                                .width(2.0),
                        );
                    }
                },
            );
        });
    }
}

/// A section with a note under its title, then an accuracy plot (0–1) over `x`.
fn accuracy_plot(
    ui: &mut egui::Ui,
    title: &str,
    note: &str,
    id: &str,
    legend: Corner,
    x: &str,
) -> Plot<'static> {
    widgets::section(ui, title);
    ui.label(RichText::new(note).weak());
    plot(id, legend)
        .x_axis_label(x)
        .y_axis_label("accuracy")
        .include_y(0.0)
        .include_y(1.0)
}

/// A plot of the panel's size with a legend naming the runs.
fn plot(id: &str, legend: Corner) -> Plot<'static> {
    Plot::new(id.to_string())
        .height(PLOT_HEIGHT)
        .legend(
            Legend::default()
                .position(legend)
                .follow_insertion_order(true),
        )
        .allow_scroll(false)
}
