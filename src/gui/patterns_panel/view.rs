//! The Patterns panel's results: the plan (sequences per pattern and split, the chart) and the
//! strips of example sequences, patterned and in random order.

use super::*;
use crate::data::Split;

impl PatternsPanel {
    pub(super) fn result_ui(&mut self, ui: &mut egui::Ui) {
        widgets::section(ui, "Plan");
        let Some(b) = &self.built else {
            ui.label(RichText::new("Build to see how many sequences of each pattern fit.").weak());
            return;
        };
        let train = &b.plans.train;
        let test = &b.plans.test;
        ui.label(
            RichText::new(format!(
                "Total: {} sequences ({} train, {} test)",
                train.total + test.total,
                train.total,
                test.total
            ))
            .size(20.0)
            .strong(),
        );
        ui.label(format!(
            "Images used: {:.1} % of train, {:.1} % of test",
            b.share[0] * 100.0,
            b.share[1] * 100.0
        ));
        let optimal = |p: &crate::sequence::planner::Plan| {
            if p.optimal {
                "proven optimal".to_string()
            } else {
                format!("not proven optimal (bound {})", p.upper_bound)
            }
        };
        ui.label(format!(
            "Plan: train {}, test {}; solved in {:.0} ms + {:.0} ms (build {:.0} ms)",
            optimal(train),
            optimal(test),
            train.solve_time.as_secs_f64() * 1000.0,
            test.solve_time.as_secs_f64() * 1000.0,
            b.build_time.as_secs_f64() * 1000.0
        ));
        ui.label(RichText::new(format!("{} · seed {}", b.library.name, b.set.seed)).weak());
        ui.add_space(8.0);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(360.0);
                egui::ScrollArea::vertical()
                    .id_salt("plan_table")
                    .max_height(260.0)
                    .show(ui, |ui| {
                        egui::Grid::new("plan_grid")
                            .striped(true)
                            .num_columns(3)
                            .show(ui, |ui| {
                                ui.label(RichText::new("pattern").strong());
                                ui.label(RichText::new("train").strong());
                                ui.label(RichText::new("test").strong());
                                ui.end_row();
                                let mut rows: Vec<usize> = (0..b.set.pattern_names.len()).collect();
                                if rows.len() > MAX_PLAN_ROWS {
                                    // Real words: thousands of spellings; the most frequent.
                                    rows.sort_by_key(|&i| {
                                        std::cmp::Reverse(train.counts[i] + test.counts[i])
                                    });
                                    rows.truncate(MAX_PLAN_ROWS);
                                }
                                for &i in &rows {
                                    ui.label(RichText::new(&b.set.pattern_names[i]).monospace());
                                    ui.label(train.counts[i].to_string());
                                    ui.label(test.counts[i].to_string());
                                    ui.end_row();
                                }
                                if rows.len() < b.set.pattern_names.len() {
                                    ui.label(
                                        RichText::new(format!(
                                            "… {} more",
                                            b.set.pattern_names.len() - rows.len()
                                        ))
                                        .weak(),
                                    );
                                    ui.end_row();
                                }
                            });
                    });
            });
            ui.add_space(12.0);
            ui.vertical(|ui| {
                ui.set_width(ui.available_width().max(240.0));
                plan_chart(ui, b);
                ui.horizontal(|ui| {
                    widgets::swatch(ui, TRAIN_COLOR, "train");
                    widgets::swatch(ui, TEST_COLOR, "test");
                });
            });
        });
    }

    pub(super) fn strips_ui(
        &mut self,
        ui: &mut egui::Ui,
        workbench: &Workbench,
        data: &LoadedData,
    ) {
        let Some(b) = &self.built else {
            return;
        };
        widgets::section(ui, "Sample sequences (test split)");
        if b.generation != data.generation {
            ui.label(
                RichText::new("Built from an earlier data set: build again to see samples.").weak(),
            );
            return;
        }
        let key = (b.id, data.generation, workbench.spec.clone());
        if self.strips.as_ref().is_none_or(|s| s.key != key) {
            let patterned = render_strips(ui.ctx(), "pat", b, &b.set, data, &workbench.spec);
            let random = render_strips(ui.ctx(), "rnd", b, &b.control, data, &workbench.spec);
            self.strips = Some(Strips {
                key,
                patterned,
                random,
            });
        }
        let strips = self.strips.as_ref().expect("rendered above");
        let captions: Vec<String> = std::iter::once("unoccluded".to_string())
            .chain((1..=workbench.spec.num_levels()).map(|l| format!("level {l}")))
            .collect();
        widgets::level_legend(ui, &captions);
        let t = b.set.t.max(1) as f32;
        let half = (ui.available_width() - 40.0) / 2.0;
        let caption_width = 130.0;
        let cell = ((half - caption_width) / t - 8.0).clamp(10.0, 48.0);
        ui.horizontal_top(|ui| {
            for (title, list) in [
                ("With patterns", &strips.patterned),
                ("Random order (control)", &strips.random),
            ] {
                ui.vertical(|ui| {
                    ui.set_width(half);
                    ui.label(RichText::new(title).strong());
                    for (caption, images) in list {
                        strip_ui(ui, caption, caption_width, images, cell);
                    }
                });
                ui.add_space(20.0);
            }
        });
    }
}

/// Sequences per pattern: train and test bars side by side.
pub(super) fn plan_chart(ui: &mut egui::Ui, b: &BuiltSequences) {
    let names = b.set.pattern_names.clone();
    let bars = |counts: &[u32], offset: f64, color: Color32, split: &str| -> Vec<Bar> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                Bar::new(i as f64 + offset, c as f64)
                    .width(0.38)
                    .fill(color)
                    .name(format!("{} {split}", names[i]))
            })
            .collect()
    };
    let train = bars(&b.plans.train.counts, -0.2, TRAIN_COLOR, "train");
    let test = bars(&b.plans.test.counts, 0.2, TEST_COLOR, "test");
    let n = names.len();
    let label_names = names.clone();
    widgets::static_plot("plan_chart", 220.0)
        .include_y(0.0)
        .include_x(-0.6)
        .include_x(n as f64 - 0.4)
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() > 1e-6 || i < 0.0 || n > 24 {
                return String::new();
            }
            label_names.get(i as usize).cloned().unwrap_or_default()
        })
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("train", train));
            plot.bar_chart(BarChart::new("test", test));
        });
}

/// The first [`STRIP_COUNT`] test sequences of `set`, rendered with `spec`.
pub(super) fn render_strips(
    ctx: &egui::Context,
    tag: &str,
    b: &BuiltSequences,
    set: &SequenceSet,
    data: &LoadedData,
    spec: &OcclusionSpec,
) -> Vec<Strip> {
    let images = &data.set;
    set.sequences_in(Split::Test)
        .take(STRIP_COUNT)
        .enumerate()
        .map(|(k, seq)| {
            let caption = match seq.pattern {
                Some(p) => set.pattern_names[p as usize].clone(),
                None => seq
                    .labels
                    .iter()
                    .map(|&l| set.class_names[l as usize].as_str())
                    .collect::<Vec<_>>()
                    .join("-"),
            };
            let textures = (0..seq.images.len())
                .map(|pos| {
                    let px = render_image(images, seq, pos, spec, &data.channel_means);
                    let image =
                        widgets::to_color_image(&px, images.height, images.width, images.channels);
                    let name = format!("patterns-{tag}-{}-{k}-{pos}", b.id);
                    (widgets::load_nearest(ctx, &name, image), seq.levels[pos])
                })
                .collect();
            (caption, textures)
        })
        .collect()
}

/// One sequence in a row, each image framed in its level's colour.
pub(super) fn strip_ui(
    ui: &mut egui::Ui,
    caption: &str,
    caption_width: f32,
    images: &[(TextureHandle, u8)],
    cell: f32,
) {
    ui.horizontal(|ui| {
        ui.add_sized(
            [caption_width, cell],
            egui::Label::new(RichText::new(caption).monospace()).truncate(),
        );
        for (tex, level) in images {
            let r = ui.add(egui::Image::new(tex).fit_to_exact_size(Vec2::splat(cell)));
            ui.painter().rect_stroke(
                r.rect,
                2.0,
                Stroke::new(3.0, widgets::level_color(*level as usize)),
                StrokeKind::Outside,
            );
            ui.add_space(2.0);
        }
    });
}
