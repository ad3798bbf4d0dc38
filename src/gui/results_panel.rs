//! Results panel: paper A's Tables 1–3 filled with the runs found under a runs folder, our number
//! beside the published one; a run's confusion matrix, and the misclassified test images of a
//! (truth, predicted) pair. Everything shown comes from [`crate::experiment::tables`].
//!
//! Over 600 lines: one panel's views of one scan of the runs folder (the tables, a run's confusion
//! matrix, its misclassified images).

use super::reproduce_section::ReproduceSection;
use super::sweep_section::SweepSection;
use super::task::Task;
use super::widgets;
use super::workbench::{PanelId, Workbench, panel_heading};
use crate::experiment::tables::{self, ResultsTable, RunSummary, Scan, TableKind};
use crate::metrics::ImagePrediction;
use egui::{Color32, RichText, Vec2};
use std::path::{Path, PathBuf};

/// Most misclassified images listed.
const MAX_LISTED: usize = 200;
/// Side of a confusion-matrix cell, in points.
const MATRIX_CELL: Vec2 = Vec2::new(36.0, 24.0);
/// Width of a confusion-matrix row label.
const MATRIX_LABEL_WIDTH: f32 = 64.0;
/// Space between confusion-matrix cells.
const MATRIX_GAP: f32 = 2.0;
/// Narrowest details column (run, confusion matrix, images) beside the tables.
const DETAILS_WIDTH: f32 = 500.0;
/// Space between the tables and the details beside them.
const COLUMN_GAP: f32 = 24.0;

/// The Results panel.
#[derive(Default)]
pub struct ResultsPanel {
    scan: Option<Scan>,
    /// The runs folder being read.
    scanning: Option<(PathBuf, Task<Scan>)>,
    tables: Vec<ResultsTable>,
    /// The run whose details are shown.
    selected: Option<String>,
    /// The (truth, predicted) cell of its confusion matrix whose images are listed.
    pair: Option<(u16, u16)>,
    /// Per-image predictions of the selected run (loaded when a matrix cell is clicked).
    predictions: Option<(String, Result<Vec<ImagePrediction>, String>)>,
    /// Their reading from `predictions.csv`.
    predictions_task: Option<(String, Task<ReadPredictions>)>,
    /// Why the runs folder could not be read (its worker was lost).
    scan_error: Option<String>,
    /// Export CSV, written in the background.
    export: widgets::FileExport,
    /// "Reproduce the papers": runs the tables' experiments and writes the report.
    pub reproduce: ReproduceSection,
    /// "Sweeps": a sweep's table and chart.
    pub sweeps: SweepSection,
    /// The images of the listed predictions: (run, pair) they belong to, and the textures or why
    /// there are none.
    images: Option<(ImagesKey, DrawnImages)>,
    /// Their rendering on a background thread.
    images_job: Option<(ImagesKey, Task<RenderedImages>)>,
    /// Width the widest table needs to show all its columns (measured when last drawn; 0 before).
    tables_width: f32,
    /// A number was just clicked: scroll the details into view if they are under the tables.
    reveal_details: bool,
}

/// A run's per-image predictions, or why they cannot be read.
type ReadPredictions = Result<Vec<ImagePrediction>, String>;

/// Which run and which (truth, predicted) cell the images are of.
type ImagesKey = (String, (u16, u16));

/// The occluded pixels of each image, or why there are none.
type RenderedImages = Result<Vec<Vec<u8>>, String>;

/// The drawn images, or why there are none.
type DrawnImages = Result<Vec<egui::TextureHandle>, String>;

/// Misclassified images drawn under the list.
const MAX_IMAGES: usize = 24;

impl ResultsPanel {
    /// The run whose confusion matrix is shown.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Rereads the runs folder, on a background thread.
    pub fn refresh(&mut self, ctx: &egui::Context, root: PathBuf) {
        let dir = root.clone();
        match Task::spawn(ctx, "scan-runs", move || tables::scan(&dir)) {
            Ok(task) => self.scanning = Some((root, task)),
            Err(e) => self.scan_error = Some(e.to_string()),
        }
    }

    /// Whether the runs folder or a run's predictions are being read.
    pub fn is_reading(&self) -> bool {
        self.scanning.is_some()
            || self.predictions_task.is_some()
            || self.images_job.is_some()
            || self.export.is_running()
            || self.sweeps.is_reading()
    }

    /// Takes what the background reads have brought.
    fn poll(&mut self) {
        if let Some((_, task)) = &self.scanning
            && let Some(result) = task.poll()
        {
            self.scanning = None;
            match result {
                Ok(scan) => self.apply_scan(scan),
                Err(e) => self.scan_error = Some(e.to_string()),
            }
        }
        if let Some((name, task)) = &self.predictions_task
            && let Some(result) = task.poll()
        {
            let result = result.map_err(|e| e.to_string()).and_then(|r| r);
            self.predictions = Some((name.clone(), result));
            self.predictions_task = None;
        }
    }

    fn apply_scan(&mut self, scan: Scan) {
        self.scan_error = None;
        self.tables = TableKind::ALL
            .iter()
            .map(|&k| tables::table(&scan.runs, k))
            .collect();
        if self
            .selected
            .as_deref()
            .is_some_and(|name| scan.run(name).is_none())
        {
            self.selected = None;
            self.pair = None;
        }
        self.predictions = None;
        self.predictions_task = None;
        self.scan = Some(scan);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        self.poll();
        // Read the one runs folder when first shown, and again when it has changed.
        let root = workbench.runs_dir();
        let scanned = self.scan.as_ref().is_some_and(|s| s.root == root);
        let scanning = self.scanning.as_ref().is_some_and(|(r, _)| *r == root);
        if !scanned && !scanning {
            self.refresh(ui.ctx(), root.clone());
        }
        egui::ScrollArea::vertical()
            .id_salt("results_scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                panel_heading(
                    ui,
                    PanelId::Results,
                    "Our runs beside paper A's published test accuracies (%).",
                );
                self.root_ui(ui, workbench);
                egui::CollapsingHeader::new("Reproduce the papers")
                    .id_salt("reproduce_section")
                    .default_open(self.reproduce.is_running())
                    .show(ui, |ui| {
                        if self.reproduce.ui(ui, workbench.data_dir.clone()) {
                            workbench.runs_root = self.reproduce.runs_root().display().to_string();
                            self.refresh(ui.ctx(), workbench.runs_dir());
                        }
                    });
                egui::CollapsingHeader::new("Sweeps")
                    .id_salt("sweep_section")
                    .show(ui, |ui| self.sweeps.ui(ui));
                ui.add_space(6.0);
                // The details go beside the tables only where every table column and the whole
                // confusion matrix still show; otherwise under them (a number clicked then
                // scrolls them into view).
                let width = ui.available_width();
                let beside = self.tables_width > 0.0
                    && width >= self.tables_width + COLUMN_GAP + self.details_width();
                if beside {
                    // The tables at the width they need; the details take the rest.
                    let tables_width = self.tables_width;
                    ui.horizontal_top(|ui| {
                        ui.vertical(|ui| {
                            ui.set_width(tables_width);
                            self.tables_ui(ui, &root);
                        });
                        ui.add_space(COLUMN_GAP);
                        ui.vertical(|ui| {
                            ui.set_width(width - tables_width - COLUMN_GAP);
                            self.details_ui(ui, workbench);
                        });
                    });
                    // Beside the tables the details are in view; a run just chosen whose
                    // matrix is too wide for beside goes under them next frame, and into view.
                    if width >= self.tables_width + COLUMN_GAP + self.details_width() {
                        self.reveal_details = false;
                    } else {
                        ui.ctx().request_repaint();
                    }
                } else {
                    self.tables_ui(ui, &root);
                    if std::mem::take(&mut self.reveal_details) {
                        ui.scroll_to_cursor(Some(egui::Align::TOP));
                    }
                    self.details_ui(ui, workbench);
                }
            });
    }

    /// Width the details need: at least [`DETAILS_WIDTH`], and the selected run's whole
    /// confusion matrix (26 letter classes need about twice that).
    fn details_width(&self) -> f32 {
        let classes = self
            .selected
            .as_deref()
            .and_then(|name| self.scan.as_ref()?.run(name))
            .and_then(|run| run.result.as_ref())
            .map_or(0, |r| r.test.confusion.len());
        let matrix = MATRIX_LABEL_WIDTH + classes as f32 * (MATRIX_CELL.x + MATRIX_GAP) + 16.0;
        matrix.max(DETAILS_WIDTH)
    }

    fn root_ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        ui.horizontal(|ui| {
            ui.label("Runs folder");
            let edit = ui.add(
                egui::TextEdit::singleline(&mut workbench.runs_root)
                    .desired_width(420.0)
                    .font(egui::TextStyle::Monospace),
            );
            widgets::accessible_name(ui, &edit, "Runs folder");
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Refresh").clicked() || enter {
                self.refresh(ui.ctx(), workbench.runs_dir());
            }
        });
        if let Some(scan) = &self.scan {
            let complete = scan.runs.iter().filter(|r| r.result.is_some()).count();
            ui.label(
                RichText::new(format!(
                    "{} runs in {} ({complete} with test results)",
                    scan.runs.len(),
                    scan.root.display()
                ))
                .weak(),
            );
            for e in &scan.errors {
                widgets::error_text(ui, e.as_str());
            }
        }
        if let Some(e) = &self.scan_error {
            widgets::error_text(ui, e.as_str());
        }
        self.export.ui(ui);
    }

    fn tables_ui(&mut self, ui: &mut egui::Ui, root: &Path) {
        let mut clicked = None;
        let mut export = None;
        let mut needed: f32 = 0.0;
        for (k, table) in self.tables.iter().enumerate() {
            ui.add_space(widgets::SECTION_GAP);
            ui.horizontal(|ui| {
                ui.label(RichText::new(&table.title).size(19.0).strong());
                if ui
                    .small_button("Export CSV")
                    .on_hover_text(format!(
                        "Write {}",
                        tables::default_csv_path(root, table.kind).display()
                    ))
                    .clicked()
                {
                    export = Some(k);
                }
            });
            let grid = table_grid(ui, table, self.selected.as_deref());
            needed = needed.max(grid.width);
            if let Some(name) = grid.clicked {
                clicked = Some(name);
            }
        }
        if needed != self.tables_width {
            // The layout (details beside or under the tables) follows this width: redraw.
            self.tables_width = needed;
            ui.ctx().request_repaint();
        }
        ui.add_space(6.0);
        ui.label(
            RichText::new(
                "Each cell: ours (test accuracy of the run's best epoch by validation, or of its \
                 last epoch when it held none out; the epochs it trained below, its run's name \
                 when hovered) | paper. The letter columns are EMNIST stand-ins (generated and \
                 OCR letters) beside EMNIST's numbers. \"unfinished\" under a number: its run is \
                 still training or was stopped, so the number is not final. Click our number \
                 for details.",
            )
            .weak(),
        );
        if let Some(name) = clicked {
            if self.selected.as_deref() != Some(name.as_str()) {
                self.pair = None;
            }
            self.selected = Some(name);
            self.reveal_details = true;
        }
        if let Some(k) = export {
            let table = self.tables[k].clone();
            let path = tables::default_csv_path(root, table.kind);
            self.export
                .start(ui.ctx(), path, move |path| tables::write_csv(&table, path));
        }
    }

    fn details_ui(&mut self, ui: &mut egui::Ui, workbench: &Workbench) {
        let Some(run) = self
            .selected
            .as_deref()
            .and_then(|name| self.scan.as_ref()?.run(name))
            .cloned()
        else {
            widgets::section(ui, "Run");
            ui.label(RichText::new("Click one of our numbers to see its run.").weak());
            return;
        };
        widgets::section(ui, &format!("Run {}", run.name));
        run_facts_ui(ui, &run);
        let Some(last) = &run.result else {
            return;
        };
        let names = run.class_names();
        ui.add_space(8.0);
        ui.label(
            RichText::new(format!(
                "Confusion matrix of {} (epoch {}, test split)",
                run.name, last.epoch
            ))
            .strong(),
        );
        ui.label(
            RichText::new("Rows: truth; columns: predicted. Click a cell for its images.").weak(),
        );
        if let Some(pair) = confusion_ui(ui, &last.test, &names, self.pair) {
            self.pair = Some(pair);
            let reading = self
                .predictions_task
                .as_ref()
                .is_some_and(|(n, _)| n == &run.name);
            if !reading
                && self
                    .predictions
                    .as_ref()
                    .is_none_or(|(n, _)| n != &run.name)
            {
                let dir = run.run();
                let task = Task::spawn(ui.ctx(), "predictions", move || {
                    dir.predictions().map_err(|e| e.to_string())
                });
                match task {
                    Ok(task) => self.predictions_task = Some((run.name.clone(), task)),
                    Err(e) => self.predictions = Some((run.name.clone(), Err(e.to_string()))),
                }
            }
        }
        if let Some((truth, predicted)) = self.pair {
            self.misclassified_ui(ui, &run, &names, truth, predicted);
            self.images_ui(ui, &run, workbench, (truth, predicted));
        }
    }

    fn misclassified_ui(
        &self,
        ui: &mut egui::Ui,
        run: &RunSummary,
        names: &[String],
        truth: u16,
        predicted: u16,
    ) {
        let name = |c: u16| names.get(c as usize).cloned().unwrap_or(c.to_string());
        ui.add_space(8.0);
        let what = if truth == predicted {
            format!("Class {} recognised", name(truth))
        } else {
            format!("Class {} predicted as {}", name(truth), name(predicted))
        };
        ui.label(RichText::new(what).strong());
        let preds = match &self.predictions {
            Some((n, Ok(p))) if n == &run.name => p,
            Some((n, Err(e))) if n == &run.name => {
                widgets::error_text(ui, format!("No per-image predictions: {e}"));
                return;
            }
            _ => return,
        };
        let list = tables::misclassified(preds, truth, predicted);
        ui.label(format!(
            "{} test images (from predictions.csv), most confident first",
            list.len()
        ));
        egui::ScrollArea::vertical()
            .id_salt("misclassified")
            .max_height(300.0)
            .show(ui, |ui| {
                egui::Grid::new("misclassified_grid")
                    .striped(true)
                    .show(ui, |ui| {
                        for h in ["sequence", "position", "level", "truth", "predicted", "p"] {
                            ui.label(RichText::new(h).strong());
                        }
                        ui.end_row();
                        for p in list.iter().take(MAX_LISTED) {
                            ui.label(p.sequence.to_string());
                            ui.label(p.position.to_string());
                            widgets::swatch(
                                ui,
                                widgets::level_color(p.level as usize),
                                p.level.to_string(),
                            );
                            ui.label(name(p.truth));
                            ui.label(name(p.predicted));
                            ui.label(format!("{:.3}", p.probability));
                            ui.end_row();
                        }
                    });
                if list.len() > MAX_LISTED {
                    ui.label(RichText::new(format!("… {} more", list.len() - MAX_LISTED)).weak());
                }
            });
    }

    /// The first images of the listed predictions, rendered on a background thread from the
    /// run's preset on the loaded data set (only when it is the run's data set).
    fn images_ui(
        &mut self,
        ui: &mut egui::Ui,
        run: &RunSummary,
        workbench: &Workbench,
        pair: (u16, u16),
    ) {
        let key: ImagesKey = (run.name.clone(), pair);
        if let Some((k, task)) = &self.images_job
            && let Some(result) = task.poll()
        {
            let result = result.map_err(|e| e.to_string()).and_then(|r| r);
            let k = k.clone();
            let (h, w, c) = workbench
                .data
                .as_ref()
                .map_or((0, 0, 0), |d| (d.set.height, d.set.width, d.set.channels));
            let textures = result.map(|all| {
                all.iter()
                    .enumerate()
                    .map(|(i, px)| {
                        widgets::load_nearest(
                            ui.ctx(),
                            &format!("misclassified-{}-{i}", k.0),
                            widgets::to_color_image(px, h, w, c),
                        )
                    })
                    .collect()
            });
            self.images = Some((k, textures));
            self.images_job = None;
        }
        let Some(Ok(preds)) = self
            .predictions
            .as_ref()
            .filter(|(n, _)| n == &run.name)
            .map(|(_, p)| p.as_ref())
        else {
            return;
        };
        let list: Vec<ImagePrediction> = tables::misclassified(preds, pair.0, pair.1)
            .into_iter()
            .take(MAX_IMAGES)
            .collect();
        if list.is_empty() {
            return;
        }
        let data = workbench.data.as_ref().filter(|d| d.source == run.data);
        let Some(data) = data else {
            ui.label(
                RichText::new(format!(
                    "Load {} in the Data panel to see these images.",
                    run.data.describe()
                ))
                .weak(),
            );
            return;
        };
        let current = self.images.as_ref().is_some_and(|(k, _)| *k == key);
        let pending = self.images_job.as_ref().is_some_and(|(k, _)| *k == key);
        if !current && !pending {
            let (dir, images) = (run.run(), data.set.clone());
            let task = Task::spawn(ui.ctx(), "misclassified", move || {
                let preset = dir.preset().map_err(|e| e.to_string())?;
                tables::prediction_images(&preset, images, &list)
            });
            match task {
                Ok(task) => self.images_job = Some((key.clone(), task)),
                Err(e) => self.images = Some((key.clone(), Err(e.to_string()))),
            }
        }
        match &self.images {
            Some((k, Ok(textures))) if *k == key => {
                ui.label(
                    RichText::new(format!(
                        "The first {} of them as the model saw them (most confident first):",
                        textures.len()
                    ))
                    .weak(),
                );
                widgets::image_grid(ui, "misclassified_images", textures, 8, 52.0);
            }
            Some((k, Err(e))) if *k == key => {
                widgets::error_text(ui, format!("Cannot draw the images: {e}"));
            }
            _ => {
                // No spinner: the drawing thread wakes the UI when it is done.
                ui.label(RichText::new("Drawing the images…").weak());
            }
        }
    }
}

/// What drawing a results table gave.
struct TableGrid {
    /// The run whose number was clicked.
    clicked: Option<String>,
    /// Width the table needs to show all its columns, the model names included.
    width: f32,
}

/// One results table, per column ours | paper. The row labels (models) stay put while the data
/// columns scroll sideways beneath a narrow window, so a number never loses the model it belongs
/// to. The two grids are kept row-aligned by giving every row the same explicit height in both.
fn table_grid(ui: &mut egui::Ui, table: &ResultsTable, selected: Option<&str>) -> TableGrid {
    let mut clicked = None;
    let spacing = Vec2::new(14.0, 6.0);
    let heights = RowHeights::new(ui);
    let row_height = |label: &str, row: &[tables::Cell]| {
        let label = if header_lines(label).1.is_some() {
            heights.two_lines
        } else {
            heights.line
        };
        if row.iter().any(|c| c.ours.is_some()) {
            heights.ours.max(label)
        } else {
            label
        }
    };
    let header_height = if table
        .column_labels
        .iter()
        .any(|c| header_lines(c).1.is_some())
    {
        heights.two_lines
    } else {
        heights.line
    };
    let width = ui
        .horizontal_top(|ui| {
            ui.spacing_mut().item_spacing.x = 0.0;
            let labels = egui::Grid::new(("results_rows", table.kind.slug()))
                .striped(true)
                .spacing(spacing)
                .min_col_width(0.0)
                .show(ui, |ui| {
                    ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
                    with_height(ui, header_height, |_| {});
                    ui.end_row();
                    for (label, row) in table.row_labels.iter().zip(&table.cells) {
                        let height = row_height(label, row);
                        with_height(ui, height, |ui| two_line_label(ui, label, Some(height)));
                        ui.end_row();
                    }
                });
            ui.add_space(spacing.x);
            let columns = egui::ScrollArea::horizontal()
                .id_salt(("results_table_scroll", table.kind.slug()))
                .show(ui, |ui| {
                    egui::Grid::new(("results_table", table.kind.slug()))
                        .striped(true)
                        .spacing(spacing)
                        .min_col_width(60.0)
                        .show(ui, |ui| {
                            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
                            for (j, c) in table.column_labels.iter().enumerate() {
                                two_line_label(ui, c, None);
                                let paper = |ui: &mut egui::Ui| {
                                    ui.label(RichText::new("paper").weak());
                                };
                                // The first column's "paper" fixes the row's height.
                                if j == 0 {
                                    with_height(ui, header_height, paper);
                                } else {
                                    paper(ui);
                                }
                            }
                            ui.end_row();
                            for (label, row) in table.row_labels.iter().zip(&table.cells) {
                                for (j, cell) in row.iter().enumerate() {
                                    match &cell.ours {
                                        Some(o) => {
                                            if ours_cell(ui, o, cell, selected) {
                                                clicked = Some(o.run.clone());
                                            }
                                        }
                                        None => {
                                            ui.label(RichText::new("—").weak());
                                        }
                                    }
                                    let paper = |ui: &mut egui::Ui| {
                                        if let Some(p) = cell.paper {
                                            ui.label(RichText::new(format!("{p:.2}")).weak());
                                        }
                                    };
                                    if j == 0 {
                                        with_height(ui, row_height(label, row), paper);
                                    } else {
                                        ui.horizontal(paper);
                                    }
                                }
                                ui.end_row();
                            }
                        });
                });
            labels.response.rect.width() + spacing.x + columns.content_size.x
        })
        .inner;
    TableGrid { clicked, width }
}

/// A table's row or column label in bold, what it has in brackets on a second, smaller line;
/// centred in `height` when given (a row label), at the top otherwise (a column header).
fn two_line_label(ui: &mut egui::Ui, label: &str, height: Option<f32>) {
    let (name, aside) = header_lines(label);
    let Some(aside) = aside else {
        ui.label(RichText::new(name).strong());
        return;
    };
    ui.vertical(|ui| {
        ui.spacing_mut().item_spacing.y = 0.0;
        if let Some(height) = height {
            let lines = ui.text_style_height(&egui::TextStyle::Body)
                + ui.text_style_height(&egui::TextStyle::Small);
            ui.add_space(((height - lines) / 2.0).max(0.0));
        }
        ui.label(RichText::new(name).strong());
        ui.label(RichText::new(aside).small().weak());
    });
}

/// A row or column label split into its name and what stands in brackets, for a second, smaller
/// line ("OCR letters (EMNIST stand-in)" → "OCR letters", "EMNIST stand-in"): the tables stay
/// narrow enough to fit beside the run details.
fn header_lines(label: &str) -> (&str, Option<&str>) {
    match label.split_once(" (") {
        Some((name, rest)) if rest.ends_with(')') => (name, Some(&rest[..rest.len() - 1])),
        _ => (label, None),
    }
}

/// Heights of the two kinds of table row, at least what their contents need.
struct RowHeights {
    /// A row of plain labels.
    line: f32,
    /// A row of labels over small second lines (the data sets' names and asides).
    two_lines: f32,
    /// A row with one of our numbers (a large selectable number over a small run line).
    ours: f32,
}

impl RowHeights {
    fn new(ui: &egui::Ui) -> Self {
        let style = ui.style();
        let body = ui.text_style_height(&egui::TextStyle::Body);
        let small = ui.text_style_height(&egui::TextStyle::Small);
        let large = ui
            .ctx()
            .fonts_mut(|f| f.row_height(&egui::FontId::proportional(OURS_SIZE)));
        let button =
            large.max(style.spacing.interact_size.y) + 2.0 * style.spacing.button_padding.y;
        Self {
            line: body.max(style.spacing.interact_size.y),
            two_lines: (body + small).ceil() + 2.0,
            ours: (button + style.spacing.item_spacing.y + small).ceil() + 2.0,
        }
    }
}

/// A grid cell at least `height` tall: an invisible strut beside its contents (one cell per
/// row in both grids of a table gets the row's height, so their rows line up).
fn with_height(ui: &mut egui::Ui, height: f32, add: impl FnOnce(&mut egui::Ui)) {
    let size = Vec2::new(ui.available_width(), height);
    ui.allocate_ui_with_layout(
        size,
        egui::Layout::left_to_right(egui::Align::Center),
        |ui| {
            ui.spacing_mut().item_spacing.x = 0.0;
            ui.allocate_exact_size(Vec2::new(0.0, height), egui::Sense::hover());
            add(ui);
        },
    );
}

/// Text size of our numbers in the tables.
const OURS_SIZE: f32 = 17.0;

/// Our number in a table cell: the accuracy (click to select its run) over the run's name and
/// epochs. True when clicked.
fn ours_cell(
    ui: &mut egui::Ui,
    o: &tables::Ours,
    cell: &tables::Cell,
    selected: Option<&str>,
) -> bool {
    ui.vertical(|ui| {
        let on = selected == Some(o.run.as_str());
        let clicked = ui
            .selectable_label(
                on,
                RichText::new(format!("{:.2}", o.accuracy))
                    .size(OURS_SIZE)
                    .strong(),
            )
            .on_hover_text(format!(
                "{}: {} epochs{}{}",
                o.run,
                o.epochs,
                if o.finished {
                    ""
                } else {
                    " so far (still training or stopped: not final)"
                },
                cell.note
                    .as_ref()
                    .map(|n| format!(", {n}"))
                    .unwrap_or_default()
            ))
            .clicked();
        ui.label(
            RichText::new(format!(
                "{} ep{}",
                o.epochs,
                if o.finished { "" } else { " · unfinished" }
            ))
            .small()
            .weak(),
        )
        .on_hover_text(&o.run);
        clicked
    })
    .inner
}

fn run_facts_ui(ui: &mut egui::Ui, run: &RunSummary) {
    let model = run.model.map_or("no model", |m| m.name());
    let data = run.dataset.map_or("other data", |d| d.title());
    let ordering = match run.ordering {
        crate::experiment::preset::OrderingSpec::Patterned => "patterned",
        crate::experiment::preset::OrderingSpec::Random => "random order",
    };
    ui.label(format!(
        "{model} · {data} · {ordering} · T = {} · {} epochs{}",
        run.t,
        run.epochs,
        if run.finished {
            ""
        } else {
            " so far: unfinished (still training or stopped), the figures are not final"
        }
    ));
    if let Some(acc) = run.test_accuracy_percent() {
        match run.best_epoch {
            Some(best) => ui.label(format!(
                "Test accuracy {acc:.2} % at epoch {best}, the best by validation accuracy"
            )),
            None => ui.label(format!("Test accuracy {acc:.2} %")),
        };
    } else {
        ui.label(RichText::new("No finished epoch yet.").weak());
    }
    ui.label(RichText::new(run.path.display().to_string()).weak().small());
}

/// The confusion matrix as a grid of counts, coloured by their share of the row (diagonal green,
/// errors red). Returns the cell clicked.
fn confusion_ui(
    ui: &mut egui::Ui,
    m: &crate::metrics::Metrics,
    names: &[String],
    selected: Option<(u16, u16)>,
) -> Option<(u16, u16)> {
    let shares = tables::confusion_shares(m);
    let mut clicked = None;
    let label = |i: usize| names.get(i).cloned().unwrap_or(i.to_string());
    egui::ScrollArea::horizontal()
        .id_salt("confusion_scroll")
        .show(ui, |ui| {
            egui::Grid::new("confusion_grid")
                .spacing(Vec2::splat(MATRIX_GAP))
                .show(ui, |ui| {
                    ui.add_sized(
                        [MATRIX_LABEL_WIDTH, MATRIX_CELL.y],
                        egui::Label::new(RichText::new("truth \\ pred").small().weak()),
                    );
                    for j in 0..m.confusion.len() {
                        ui.label(RichText::new(label(j)).small().strong());
                    }
                    ui.end_row();
                    for (i, row) in m.confusion.iter().enumerate() {
                        ui.label(RichText::new(label(i)).small().strong());
                        for (j, &count) in row.iter().enumerate() {
                            let share = shares[i][j];
                            let fill = share_color(share, i == j);
                            let text_color = if share > 0.5 {
                                Color32::WHITE
                            } else {
                                Color32::BLACK
                            };
                            let on = selected == Some((i as u16, j as u16));
                            let button = egui::Button::new(
                                RichText::new(count.to_string()).small().color(text_color),
                            )
                            .fill(fill)
                            .stroke(if on {
                                egui::Stroke::new(2.0, ui.visuals().strong_text_color())
                            } else {
                                egui::Stroke::NONE
                            })
                            .min_size(MATRIX_CELL);
                            let r = ui.add(button).on_hover_text(format!(
                                "truth {}, predicted {}: {count} ({:.1} % of the row)",
                                label(i),
                                label(j),
                                share * 100.0
                            ));
                            if r.clicked() {
                                clicked = Some((i as u16, j as u16));
                            }
                        }
                        ui.end_row();
                    }
                });
        });
    clicked
}

/// Cell colour for a share of its row: white → green on the diagonal, white → red elsewhere.
fn share_color(share: f64, diagonal: bool) -> Color32 {
    let s = share.clamp(0.0, 1.0).sqrt() as f32;
    let (r, g, b) = if diagonal {
        (40.0, 140.0, 70.0)
    } else {
        (200.0, 40.0, 50.0)
    };
    let mix = |c: f32| (245.0 + (c - 245.0) * s).round() as u8;
    Color32::from_rgb(mix(r), mix(g), mix(b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bracketed_aside_goes_on_the_headers_second_line() {
        use super::header_lines;
        assert_eq!(
            header_lines("OCR letters (EMNIST stand-in)"),
            ("OCR letters", Some("EMNIST stand-in"))
        );
        assert_eq!(header_lines("MNIST"), ("MNIST", None));
        assert_eq!(header_lines("CIFAR-10"), ("CIFAR-10", None));
        // Brackets inside the name are not an aside.
        assert_eq!(header_lines("a (b) c"), ("a (b) c", None));
    }
}
