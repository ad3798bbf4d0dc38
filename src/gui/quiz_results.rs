//! The results side of the Quiz panel: every session file of a folder analysed, trained runs
//! scored on the same images (on a background thread), and the report drawn — paper A's
//! Tables 4–5 with the published numbers beside ours, accuracy bars with 95 % Wilson intervals,
//! accuracy per occlusion level and per position, the McNemar tests, the sessions read.
//! Everything shown comes from [`crate::quiz::analysis`].

use super::task::{Task, take_done};
use super::widgets;
use crate::quiz::analysis::{ModelAnswers, QuizReport, Who, analyze, format_p};
use crate::quiz::items::Condition;
use crate::quiz::session::{self, SessionRecord};
use crate::quiz::{export, scoring};
use crate::train::BackendChoice;
use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, Legend, Line, LineStyle, PlotPoints};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Colours of the two conditions in the charts.
const PATTERNED_COLOR: Color32 = Color32::from_rgb(66, 133, 244);
const RANDOM_COLOR: Color32 = Color32::from_rgb(251, 140, 0);

/// What an analysis produced.
struct Analysis {
    report: QuizReport,
    /// Shared with the CSV export's thread.
    sessions: Arc<Vec<SessionRecord>>,
    models: Arc<Vec<ModelAnswers>>,
    /// Session files that could not be read.
    errors: Vec<String>,
}

/// The results side of the Quiz panel.
#[derive(Default)]
pub struct ResultsView {
    /// The runs to score, from the runs folder.
    runs: widgets::RunPicker,
    job: Option<Task<Result<Analysis, String>>>,
    analysis: Option<Result<Analysis, String>>,
    /// Export CSV, written in the background.
    export: widgets::FileExport,
}

impl ResultsView {
    /// The folder fields (the runs folder is the workbench's one), the runs to score, Analyse /
    /// Export CSV, and the report.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        quiz_dir: &mut String,
        runs_root: &mut String,
        data_dir: Option<&Path>,
    ) {
        self.poll();
        let ctx = ui.ctx().clone();
        let view = self;
        egui::Grid::new("quiz_results_inputs")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                let l = ui.label("Session folder");
                ui.add(egui::TextEdit::singleline(quiz_dir).desired_width(300.0))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Runs folder");
                ui.add(egui::TextEdit::singleline(runs_root).desired_width(300.0))
                    .labelled_by(l.id);
                ui.end_row();
            });
        if let Err(e) = view.runs.list(&ctx, runs_root.trim()) {
            view.analysis = Some(Err(e.to_string()));
        }
        ui.label("Models to score on the same images:");
        view.runs.ui(ui);
        ui.horizontal(|ui| {
            let busy = view.job.is_some();
            if ui
                .add_enabled(!busy, egui::Button::new("Analyse"))
                .clicked()
            {
                let dir = PathBuf::from(quiz_dir.trim());
                let runs = view.runs.chosen();
                let data_dir = data_dir.map(Path::to_path_buf);
                let task = Task::spawn(&ctx, "quiz-analysis", move || {
                    run_analysis(&dir, &runs, data_dir.as_deref())
                });
                match task {
                    Ok(task) => view.job = Some(task),
                    Err(e) => view.analysis = Some(Err(e.to_string())),
                }
            }
            if busy {
                ui.spinner();
                ui.label("Analysing (scoring the models on the quiz's images)…");
            }
            if let Some(Ok(a)) = &view.analysis
                && ui.button("Export CSV").clicked()
            {
                let path = Path::new(quiz_dir.trim()).join("quiz-answers.csv");
                let (sessions, models) = (a.sessions.clone(), a.models.clone());
                view.export.start(&ctx, path, move |path| {
                    export::write_csv(path, &sessions, &models)
                });
            }
        });
        view.export.ui(ui);
        match &view.analysis {
            None => {
                ui.label(RichText::new("Analyse reads every session file in the folder.").weak());
            }
            Some(Err(e)) => widgets::error_text(ui, e.as_str()),
            Some(Ok(a)) => report_ui(ui, a),
        }
    }

    /// Takes a finished analysis.
    fn poll(&mut self) {
        if let Some(result) = take_done(&mut self.job) {
            self.analysis = Some(
                result
                    .map_err(|_| "the analysis thread stopped without a result".to_string())
                    .and_then(|r| r),
            );
        }
        self.runs.poll();
    }

    /// The results of the last analysis.
    pub fn report(&self) -> Option<&QuizReport> {
        match &self.analysis {
            Some(Ok(a)) => Some(&a.report),
            _ => None,
        }
    }

    /// Whether an analysis is running.
    pub fn is_busy(&self) -> bool {
        self.job.is_some()
    }

    /// Whether the runs folder is being listed or the CSV written (background work the panel
    /// waits for).
    pub fn is_listing(&self) -> bool {
        self.runs.is_listing() || self.export.is_running()
    }
}

/// Reads the sessions in `dir`, scores `runs` on their images and analyses everything.
fn run_analysis(dir: &Path, runs: &[PathBuf], data_dir: Option<&Path>) -> Result<Analysis, String> {
    let mut sessions = Vec::new();
    let mut errors = Vec::new();
    for s in session::list_sessions(dir) {
        match s {
            Ok(s) => sessions.push(s),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if sessions.is_empty() {
        return Err(format!(
            "no session files in {}{}",
            dir.display(),
            if errors.is_empty() {
                String::new()
            } else {
                format!(" ({})", errors.join("; "))
            }
        ));
    }
    let run_refs: Vec<&Path> = runs.iter().map(PathBuf::as_path).collect();
    let models = scoring::score_runs(&sessions, &run_refs, data_dir, BackendChoice::Auto)
        .map_err(|e| e.to_string())?;
    let report = analyze(&sessions, &models);
    Ok(Analysis {
        report,
        sessions: Arc::new(sessions),
        models: Arc::new(models),
        errors,
    })
}

/// The analysis: the Tables 4–5 grid, accuracy bars with Wilson intervals, per level and
/// position, McNemar tests.
fn report_ui(ui: &mut egui::Ui, a: &Analysis) {
    let report = &a.report;
    for e in &a.errors {
        widgets::error_text(ui, e.as_str());
    }
    for n in &report.notes {
        ui.label(RichText::new(n).weak());
    }
    ui.label(format!(
        "{} sessions, {} models scored on the same images",
        report.sessions.len(),
        a.models.len()
    ));

    widgets::section(
        ui,
        "Tables 4–5: accuracy (%), ours [95 % Wilson interval] | paper",
    );
    let t = &report.table;
    egui::ScrollArea::horizontal()
        .id_salt("quiz_table_scroll")
        .show(ui, |ui| {
            egui::Grid::new("quiz_table")
                .striped(true)
                .spacing([14.0, 6.0])
                .show(ui, |ui| {
                    ui.label("");
                    for c in &t.columns {
                        ui.label(
                            RichText::new(format!("{} {}", c.dataset, c.condition.label()))
                                .strong(),
                        );
                        ui.label(RichText::new("paper").weak());
                    }
                    ui.end_row();
                    for row in &t.rows {
                        ui.label(RichText::new(&row.label).strong());
                        for cell in &row.cells {
                            match cell.ours {
                                Some(s) => ui
                                    .label(
                                        RichText::new(format!(
                                            "{:.2} [{:.1}, {:.1}]",
                                            s.accuracy * 100.0,
                                            s.low * 100.0,
                                            s.high * 100.0
                                        ))
                                        .strong(),
                                    )
                                    .on_hover_text(format!("{} of {} images", s.correct, s.total)),
                                None => ui.label(RichText::new("—").weak()),
                            };
                            ui.label(
                                RichText::new(cell.paper.map_or("—".into(), |p| format!("{p:.2}")))
                                    .weak(),
                            );
                        }
                        ui.end_row();
                    }
                });
        });

    widgets::section(ui, "Accuracy with 95 % Wilson intervals");
    accuracy_chart(ui, report);

    ui.columns(2, |cols| {
        widgets::section(&mut cols[0], "Per occlusion level");
        breakdown_chart(&mut cols[0], report, "quiz_levels", true);
        widgets::section(&mut cols[1], "Per position in the sequence");
        breakdown_chart(&mut cols[1], report, "quiz_positions", false);
    });

    if !report.comparisons.is_empty() {
        widgets::section(
            ui,
            "McNemar: each group against each model on the same images",
        );
        ui.label(
            RichText::new(
                "b: the group right and the model wrong; c: the reverse. p: exact binomial when \
                 b + c < 25, else chi-square with continuity correction (both shown).",
            )
            .weak(),
        );
        egui::Grid::new("quiz_mcnemar")
            .striped(true)
            .spacing([14.0, 6.0])
            .show(ui, |ui| {
                for h in [
                    "group",
                    "model",
                    "data",
                    "condition",
                    "pairs",
                    "b",
                    "c",
                    "chi-square",
                    "p (chi-square)",
                    "p (exact)",
                ] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for c in &report.comparisons {
                    let m = &c.test;
                    ui.label(c.group.label());
                    ui.label(format!("{} ({})", c.model, c.run));
                    ui.label(c.dataset.as_str());
                    ui.label(c.condition.map_or("all", |x| x.label()));
                    ui.label(m.pairs.to_string());
                    ui.label(m.only_first.to_string());
                    ui.label(m.only_second.to_string());
                    ui.label(m.chi_square.map_or("—".into(), |x| format!("{x:.3}")));
                    ui.label(m.p_chi_square.map_or("—".into(), format_p));
                    ui.label(format_p(m.p_exact));
                    ui.end_row();
                }
            });
    }

    widgets::section(ui, "Sessions");
    egui::Grid::new("quiz_report_sessions")
        .striped(true)
        .spacing([14.0, 6.0])
        .show(ui, |ui| {
            for s in &report.sessions {
                ui.label(RichText::new(&s.session).monospace());
                ui.label(s.group.label());
                ui.label(s.dataset.as_str());
                ui.label(format!("{} of {} sequences", s.submitted, s.total));
                ui.label(
                    RichText::new(format!(
                        "item seed {}, order seed {}",
                        s.item_seed, s.order_seed
                    ))
                    .weak(),
                );
                ui.end_row();
            }
        });
}

/// Top of the accuracy chart's y range (%): the legend sits above the 100 % line.
const LEGEND_ROOM: f64 = 135.0;

/// Bars per group / model and condition, with Wilson intervals as whiskers.
pub(super) fn accuracy_chart(ui: &mut egui::Ui, report: &QuizReport) {
    let rows = &report.rows;
    let labels: Vec<String> = rows
        .iter()
        .map(|r| match &r.who {
            Who::Group { .. } => format!("{} · {}", r.who.label(), r.dataset),
            Who::Model { model, .. } => format!("{model} · {}", r.dataset),
        })
        .collect();
    let mut charts = Vec::new();
    let mut whiskers = Vec::new();
    for (k, cond) in Condition::ALL.iter().enumerate() {
        let offset = if k == 0 { -0.2 } else { 0.2 };
        let color = if k == 0 {
            PATTERNED_COLOR
        } else {
            RANDOM_COLOR
        };
        let mut bars = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let Some(s) = r.condition(*cond).and_then(|c| c.score) else {
                continue;
            };
            let x = i as f64 + offset;
            bars.push(
                Bar::new(x, s.accuracy * 100.0)
                    .width(0.36)
                    .fill(color)
                    .name(format!("{} {}", labels[i], cond.label())),
            );
            // One name for every whisker: one legend entry, not one per bar.
            whiskers.push(
                Line::new(
                    "95 % Wilson interval",
                    PlotPoints::from(vec![[x, s.low * 100.0], [x, s.high * 100.0]]),
                )
                .color(Color32::from_gray(40))
                .width(2.0),
            );
        }
        charts.push(BarChart::new(cond.label(), bars).color(color));
    }
    let n = rows.len();
    widgets::static_plot("quiz_accuracy", 240.0)
        .legend(Legend::default())
        .include_y(0.0)
        // Head room above 100 % for the legend, so that it never covers a bar.
        .include_y(LEGEND_ROOM)
        .y_axis_formatter(|mark, _| {
            if mark.value > 100.0 + 1e-6 {
                String::new()
            } else {
                format!("{:.0}", mark.value)
            }
        })
        .include_x(-0.6)
        .include_x(n as f64 - 0.4)
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            labels.get(i as usize).cloned().unwrap_or_default()
        })
        .show(ui, |plot| {
            for c in charts {
                plot.bar_chart(c);
            }
            for w in whiskers {
                plot.line(w);
            }
        });
}

/// Accuracy per level (or per position): a line per group / model and condition (solid with
/// patterns, dashed without).
pub(super) fn breakdown_chart(ui: &mut egui::Ui, report: &QuizReport, id: &str, levels: bool) {
    let mut lines = Vec::new();
    for r in &report.rows {
        for c in &r.conditions {
            let points: Vec<[f64; 2]> = if levels {
                c.by_level
                    .iter()
                    .map(|(l, s)| [*l as f64, s.accuracy * 100.0])
                    .collect()
            } else {
                c.by_position
                    .iter()
                    .map(|(p, s)| [*p as f64 + 1.0, s.accuracy * 100.0])
                    .collect()
            };
            let name = format!("{} · {} {}", r.who.label(), r.dataset, c.condition.label());
            let style = match c.condition {
                Condition::Patterned => LineStyle::Solid,
                Condition::Random => LineStyle::dashed_loose(),
            };
            lines.push(
                Line::new(name, PlotPoints::from(points))
                    .style(style)
                    .width(2.0),
            );
        }
    }
    widgets::static_plot(id, 220.0)
        .legend(Legend::default())
        .include_y(0.0)
        .include_y(100.0)
        .show(ui, |plot| {
            for l in lines {
                plot.line(l);
            }
        });
}
