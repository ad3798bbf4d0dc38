//! "Sweeps", a section of the Results panel: the sweep folders under a folder (`sweeps/` by
//! default, where `occlab sweep` puts them), one sweep's table (swept values, test accuracy, per
//! level, epochs, time, where it ran) and its chart (a metric against one swept key, one line per
//! value of another), with CSV and PNG export. Folders are listed, sweeps read and files written
//! on background tasks ([`crate::experiment::sweep::report`] does the work).

use super::task::Task;
use super::widgets;
use crate::experiment::plots::LineChart;
use crate::experiment::sweep::report::{self, Metric, RowState, SweepTable};
use crate::experiment::sweep::spec::{PlotChoice, value_text};
use egui::RichText;
use egui_plot::{Legend, Line, PlotPoints, Points};
use std::path::PathBuf;

/// Rows drawn at most (the CSV has them all).
const MAX_ROWS: usize = 400;

type Read = Result<SweepTable, String>;

/// The section's state.
pub struct SweepSection {
    /// The folder whose sweep folders are listed (or a sweep folder itself).
    pub folder: String,
    /// The sweep folders found there.
    found: Option<Vec<PathBuf>>,
    listing: Option<Task<Vec<PathBuf>>>,
    /// The sweep shown, or why it cannot be read.
    table: Option<Read>,
    reading: Option<(PathBuf, Task<Read>)>,
    /// The chart's choices and the chart they give (or why not).
    choice: PlotChoice,
    chart: Option<Result<LineChart, String>>,
    exporting: Option<Task<Result<Vec<PathBuf>, String>>>,
    exported: Option<Result<Vec<PathBuf>, String>>,
}

impl Default for SweepSection {
    fn default() -> Self {
        SweepSection {
            folder: "sweeps".into(),
            found: None,
            listing: None,
            table: None,
            reading: None,
            choice: PlotChoice::default(),
            chart: None,
            exporting: None,
            exported: None,
        }
    }
}

impl SweepSection {
    /// Whether a listing, a read or an export is under way.
    pub fn is_reading(&self) -> bool {
        self.listing.is_some() || self.reading.is_some() || self.exporting.is_some()
    }

    /// The sweep shown, once read.
    pub fn table(&self) -> Option<&SweepTable> {
        self.table.as_ref().and_then(|t| t.as_ref().ok())
    }

    /// Lists the sweep folders of [`Self::folder`] on a background task.
    pub fn list(&mut self, ctx: &egui::Context) {
        let root = PathBuf::from(self.folder.trim());
        let task = Task::spawn(ctx, "list-sweeps", move || {
            // The folder itself may be a sweep.
            if root
                .join(crate::experiment::sweep::plan::INDEX_FILE)
                .is_file()
            {
                vec![root]
            } else {
                report::list_sweeps(&root)
            }
        });
        match task {
            Ok(t) => self.listing = Some(t),
            Err(e) => self.table = Some(Err(e.to_string())),
        }
    }

    /// Reads one sweep folder on a background task.
    pub fn open(&mut self, ctx: &egui::Context, dir: PathBuf) {
        let d = dir.clone();
        match Task::spawn(ctx, "read-sweep", move || {
            report::read(&d).map_err(|e| e.to_string())
        }) {
            Ok(t) => self.reading = Some((dir, t)),
            Err(e) => self.table = Some(Err(e.to_string())),
        }
    }

    fn poll(&mut self) {
        if let Some(t) = &self.listing
            && let Some(r) = t.poll()
        {
            self.listing = None;
            match r {
                Ok(found) => self.found = Some(found),
                Err(e) => self.table = Some(Err(e.to_string())),
            }
        }
        if let Some((_, t)) = &self.reading
            && let Some(r) = t.poll()
        {
            self.reading = None;
            let table = r.map_err(|e| e.to_string()).and_then(|t| t);
            self.choice = table.as_ref().map(|t| t.plot.clone()).unwrap_or_default();
            self.table = Some(table);
            self.update_chart();
        }
        if let Some(t) = &self.exporting
            && let Some(r) = t.poll()
        {
            self.exporting = None;
            self.exported = Some(r.map_err(|e| e.to_string()).and_then(|r| r));
        }
    }

    fn update_chart(&mut self) {
        self.chart = self.table().map(|t| t.chart(&self.choice));
    }

    /// Draws the section.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll();
        if self.found.is_none() && self.listing.is_none() {
            self.list(ui.ctx());
        }
        ui.horizontal(|ui| {
            ui.label("Sweeps folder");
            let edit = ui.add(
                egui::TextEdit::singleline(&mut self.folder)
                    .desired_width(360.0)
                    .font(egui::TextStyle::Monospace),
            );
            widgets::accessible_name(ui, &edit, "Sweeps folder");
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("List sweeps").clicked() || enter {
                self.list(ui.ctx());
            }
        });
        let mut open = None;
        match &self.found {
            Some(found) if found.is_empty() => {
                ui.label(
                    RichText::new(
                        "No sweeps here: `occlab sweep --preset … --set key=v1,v2 --workers N` \
                         writes them to sweeps/<name>.",
                    )
                    .weak(),
                );
            }
            Some(found) => {
                ui.horizontal_wrapped(|ui| {
                    for dir in found {
                        let name = dir
                            .file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                        let shown = self
                            .reading
                            .as_ref()
                            .map(|(d, _)| d)
                            .or(self.table().map(|t| &t.root))
                            == Some(dir);
                        if ui.selectable_label(shown, name).clicked() {
                            open = Some(dir.clone());
                        }
                    }
                });
            }
            None => {
                ui.spinner();
            }
        }
        if let Some(dir) = open {
            self.open(ui.ctx(), dir);
        }
        if self.reading.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("reading the sweep's runs …");
            });
        }
        if let Some(Err(e)) = &self.table {
            widgets::error_text(ui, e.as_str());
        }
        if matches!(self.table, Some(Ok(_))) {
            self.table_ui(ui);
        }
    }

    fn table_ui(&mut self, ui: &mut egui::Ui) {
        // Taken out while drawn (the controls change `self`), put back at the end.
        let Some(Ok(owned)) = self.table.take() else {
            return;
        };
        let table = &owned;
        let finished = table
            .rows
            .iter()
            .filter(|r| r.state == RowState::Finished)
            .count();
        ui.label(
            RichText::new(format!(
                "Sweep {}: {} runs ({finished} finished) in {}",
                table.name,
                table.rows.len(),
                table.root.display()
            ))
            .strong(),
        );
        // The chart's choices: any swept key (a list element with [i]), any metric.
        let mut x_keys: Vec<String> = Vec::new();
        for (i, k) in table.keys.iter().enumerate() {
            let first = table.rows.first().map(|r| &r.values[i]);
            match first {
                Some(toml::Value::Array(a)) => {
                    x_keys.extend((0..a.len()).map(|j| format!("{k}[{j}]")));
                }
                _ => x_keys.push(k.to_string()),
            }
        }
        let line_keys: Vec<String> = std::iter::once("none".to_string())
            .chain(table.keys.iter().map(ToString::to_string))
            .collect();
        let metrics: Vec<Metric> = [Metric::TestAccuracy]
            .into_iter()
            .chain(table.levels.iter().map(|&l| Metric::Level(l)))
            .chain([Metric::Epochs, Metric::Seconds])
            .collect();
        let resolved = table.resolve(&self.choice).ok();
        let mut changed = false;
        ui.horizontal(|ui| {
            let current = |v: Option<String>| v.unwrap_or_else(|| "—".into());
            let l = ui.label("Chart x");
            egui::ComboBox::from_id_salt("sweep_x")
                .selected_text(current(resolved.as_ref().map(|r| r.0.to_string())))
                .show_ui(ui, |ui| {
                    for k in &x_keys {
                        if ui.selectable_label(false, k).clicked() {
                            self.choice.x = Some(k.clone());
                            changed = true;
                        }
                    }
                })
                .response
                .labelled_by(l.id);
            let l = ui.label("Lines");
            egui::ComboBox::from_id_salt("sweep_lines")
                .selected_text(current(resolved.as_ref().map(|r| {
                    r.1.as_ref()
                        .map_or_else(|| "none".into(), ToString::to_string)
                })))
                .show_ui(ui, |ui| {
                    for k in &line_keys {
                        if ui.selectable_label(false, k).clicked() {
                            self.choice.lines = Some(k.clone());
                            changed = true;
                        }
                    }
                })
                .response
                .labelled_by(l.id);
            let l = ui.label("Metric");
            egui::ComboBox::from_id_salt("sweep_metric")
                .selected_text(current(resolved.as_ref().map(|r| r.2.name())))
                .show_ui(ui, |ui| {
                    for m in &metrics {
                        if ui.selectable_label(false, m.name()).clicked() {
                            self.choice.metric = Some(m.name());
                            changed = true;
                        }
                    }
                })
                .response
                .labelled_by(l.id);
            if ui.button("Export CSV and PNG").clicked() {
                let t = table.clone();
                let choice = self.choice.clone();
                let task = Task::spawn(ui.ctx(), "export-sweep", move || {
                    let csv = t.default_csv_path();
                    t.write_csv(&csv).map_err(|e| e.to_string())?;
                    let (_, _, metric) = t.resolve(&choice)?;
                    let png = t.default_png_path(metric);
                    t.write_png(&choice, &png).map_err(|e| e.to_string())?;
                    Ok(vec![csv, png])
                });
                match task {
                    Ok(t) => self.exporting = Some(t),
                    Err(e) => self.exported = Some(Err(e.to_string())),
                }
            }
        });
        match &self.exported {
            Some(Ok(files)) => {
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                ui.label(format!("Wrote {}", names.join(" and ")));
            }
            Some(Err(e)) => widgets::error_text(ui, format!("Export failed: {e}")),
            None => {}
        }
        match &self.chart {
            Some(Ok(chart)) => chart_ui(ui, chart),
            Some(Err(e)) => widgets::error_text(ui, format!("No chart: {e}")),
            None => {}
        }
        grid_ui(ui, table);
        self.table = Some(Ok(owned));
        if changed {
            self.update_chart();
        }
    }
}

fn chart_ui(ui: &mut egui::Ui, chart: &LineChart) {
    ui.label(RichText::new(&chart.title).strong());
    let lines: Vec<(String, Vec<[f64; 2]>)> = chart
        .series
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.points.iter().map(|&(x, y)| [x, y]).collect(),
            )
        })
        .collect();
    egui_plot::Plot::new("sweep_chart")
        .height(260.0)
        .legend(Legend::default())
        .x_axis_label(chart.x_label.clone())
        .y_axis_label(chart.y_label.clone())
        .show(ui, |plot| {
            for (name, points) in lines {
                plot.line(Line::new(name.clone(), PlotPoints::from(points.clone())).width(2.0));
                plot.points(Points::new(name, PlotPoints::from(points)).radius(3.0));
            }
        });
}

fn grid_ui(ui: &mut egui::Ui, table: &SweepTable) {
    let pct = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.2}"));
    egui::ScrollArea::horizontal()
        .id_salt("sweep_table_scroll")
        .show(ui, |ui| {
            egui::Grid::new("sweep_table")
                .striped(true)
                .spacing([14.0, 4.0])
                .show(ui, |ui| {
                    for k in &table.keys {
                        ui.label(RichText::new(k.short()).strong())
                            .on_hover_text(k.to_string());
                    }
                    ui.label(RichText::new("test %").strong());
                    for l in &table.levels {
                        ui.label(RichText::new(format!("level {l} %")).strong());
                    }
                    for h in ["epochs", "time (s)", "where", "run"] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for row in table.rows.iter().take(MAX_ROWS) {
                        for v in &row.values {
                            ui.label(value_text(v));
                        }
                        match &row.state {
                            RowState::Damaged(e) => {
                                ui.label("damaged").on_hover_text(e);
                            }
                            _ => {
                                ui.label(pct(row.test_accuracy));
                            }
                        }
                        for &l in &table.levels {
                            ui.label(pct(row.per_level.get(l).copied().flatten()));
                        }
                        ui.label(match row.state {
                            RowState::Finished => row.epochs.to_string(),
                            _ => format!("{} (unfinished)", row.epochs),
                        });
                        ui.label(
                            row.seconds
                                .map_or_else(|| "–".into(), |s| format!("{s:.1}")),
                        );
                        ui.label(row.where_text());
                        ui.label(RichText::new(&row.run).weak().small());
                        ui.end_row();
                    }
                });
        });
    if table.rows.len() > MAX_ROWS {
        ui.label(
            RichText::new(format!(
                "{} more runs in the CSV export",
                table.rows.len() - MAX_ROWS
            ))
            .weak(),
        );
    }
}
