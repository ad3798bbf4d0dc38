//! Patterns panel: choose a pattern library (digit progressions, city names, label progressions,
//! the user's own list, or the real handwritten words of the OCR letters), validate it against the
//! data set, build the patterned sequences on a background thread, and show the planner's result,
//! sample sequence strips and the random-order control beside them.

mod view;

use super::task::Task;
use super::widgets;
use super::workbench::sequences::STEPS;
use super::workbench::{
    LibraryChoice, LoadedData, PanelId, SequenceDraft, Workbench, panel_heading,
};
use crate::data::ImageSet;
use crate::occlusion::OcclusionSpec;
use crate::sequence::builder::{
    BuildConfig, SPLITS, SequenceSet, SplitPlans, TestPatterns, build_patterned, random_control,
};
use crate::sequence::patterns::{PatternLibrary, Wrap};
use crate::sequence::render::render_image;
use crate::sequence::words::{build_word_windows, windows_of};
use egui::{Color32, RichText, Stroke, StrokeKind, TextureHandle, Vec2};
use egui_plot::{Bar, BarChart};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sample sequences shown per condition.
const STRIP_COUNT: usize = 6;
/// Longest sequence the T field accepts.
const MAX_T: usize = 30;
/// Most patterns the plan table lists (real words have thousands of spellings).
const MAX_PLAN_ROWS: usize = 200;
/// Width of the controls column.
const CONTROLS_WIDTH: f32 = 430.0;

/// A finished build: the planner's result and both conditions.
pub struct BuiltSequences {
    /// Distinguishes builds (texture cache key).
    pub id: u64,
    /// The data set generation it was built from.
    pub generation: u64,
    pub library: PatternLibrary,
    pub set: SequenceSet,
    pub plans: SplitPlans,
    /// The random-order control of `set`.
    pub control: SequenceSet,
    /// Share of the split's images the plan uses: train, test.
    pub share: [f64; 2],
    /// Wall time of the whole build (planning, dealing, control).
    pub build_time: Duration,
}

type PendingBuild = Task<Result<BuiltSequences, String>>;

/// One rendered sequence: caption and (texture, level) per position.
type Strip = (String, Vec<(TextureHandle, u8)>);

struct Strips {
    key: (u64, u64, OcclusionSpec),
    patterned: Vec<Strip>,
    random: Vec<Strip>,
}

/// The Patterns panel: designs the workbench's sequence spec ([`SequenceDraft`]) and previews
/// it; it keeps only the new pattern being typed and its builds.
#[derive(Default)]
pub struct PatternsPanel {
    new_pattern: String,
    pending: Option<PendingBuild>,
    built: Option<BuiltSequences>,
    build_error: Option<String>,
    strips: Option<Strips>,
    next_id: u64,
    /// Whether the first build (started on its own when the panel is first shown) has started.
    started_once: bool,
}

impl PatternsPanel {
    /// The last finished build, if any.
    pub fn built(&self) -> Option<&BuiltSequences> {
        self.built.as_ref()
    }

    pub fn is_building(&self) -> bool {
        self.pending.is_some()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        self.poll();
        egui::ScrollArea::vertical()
            .id_salt("patterns_scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                panel_heading(
                    ui,
                    PanelId::Patterns,
                    "Which regular orders the sequences follow, and how many of each the images allow.",
                );
                let Some(data) = workbench.data.clone() else {
                    if workbench.is_loading() {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("Loading the data set…");
                        });
                    } else {
                        ui.label("No data set loaded: choose one on the Data panel.");
                    }
                    return;
                };
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        ui.set_width(CONTROLS_WIDTH);
                        self.controls_ui(ui, workbench, &data);
                    });
                    ui.add_space(24.0);
                    ui.vertical(|ui| {
                        ui.set_width(ui.available_width());
                        self.result_ui(ui);
                    });
                });
                self.strips_ui(ui, workbench, &data);
            });
    }

    /// Takes a finished build's result, if one has arrived.
    fn poll(&mut self) {
        let Some(pending) = &self.pending else {
            return;
        };
        let Some(result) = pending.poll() else {
            return;
        };
        let result = result
            .map_err(|_| "the build thread stopped without a result".to_string())
            .and_then(|r| r);
        self.pending = None;
        match result {
            Ok(built) => {
                self.built = Some(built);
                self.build_error = None;
            }
            Err(e) => self.build_error = Some(e),
        }
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench, data: &LoadedData) {
        let classes = &data.set.class_names;
        let draft = &mut workbench.sequences;
        widgets::section(ui, "Library");
        let mut choice = draft.choice(classes);
        ui.horizontal_wrapped(|ui| {
            for c in LibraryChoice::ALL {
                if ui.selectable_value(&mut choice, c, c.title()).clicked() {
                    draft.library = Some(c);
                }
            }
        });
        ui.label(RichText::new(choice.hint()).weak());
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.label("T");
            let t = ui.add(egui::DragValue::new(&mut draft.t).range(1..=MAX_T));
            widgets::accessible_name(ui, &t, "Sequence length T");
            ui.add_space(16.0);
            ui.label("Seed");
            let seed = ui.add(egui::DragValue::new(&mut draft.seed));
            widgets::accessible_name(ui, &seed, "Build seed");
        });
        ui.horizontal(|ui| {
            ui.label("Cap per pattern");
            let cap = ui
                .add(egui::DragValue::new(&mut draft.cap).range(0..=100_000))
                .on_hover_text("At most this many sequences of any one pattern; 0: no cap");
            widgets::accessible_name(ui, &cap, "Cap per pattern");
            ui.add_space(16.0);
            ui.label("Balance floor");
            let floor = ui
                .add(
                    egui::DragValue::new(&mut draft.min_share)
                        .range(0.0..=1.0)
                        .speed(0.01),
                )
                .on_hover_text(
                    "Every buildable pattern gets at least this share of the mean count per \
                     pattern (0: the largest total, however uneven)",
                );
            widgets::accessible_name(ui, &floor, "Balance floor");
        });
        let mut trained = draft.test_patterns == TestPatterns::Trained;
        let test_only = ui
            .checkbox(&mut trained, "Test only on patterns trained on")
            .on_hover_text(
                "Plan the test split over the patterns the training split got, so no test \
                 sequence spells a pattern the model never saw (each split is otherwise planned \
                 on its own images, and unbalanced classes can favour different patterns in each)",
            );
        if test_only.changed() {
            draft.test_patterns = if trained {
                TestPatterns::Trained
            } else {
                TestPatterns::All
            };
        }
        match choice {
            LibraryChoice::Digits | LibraryChoice::Labels => progression_ui(ui, draft),
            LibraryChoice::Custom => self.custom_ui(ui, draft),
            LibraryChoice::Cities | LibraryChoice::Words => {}
        }

        let library = build_source(draft, data);
        // The first time the panel is shown, build the default library right away (10 ms for the
        // embedded digits): the plan is what the panel is for.
        if !self.started_once && self.pending.is_none() && self.built.is_none() {
            self.started_once = true;
            if let Ok(lib) = &library {
                self.start_build(ui.ctx(), workbench, data, lib.clone());
            }
        }
        let t = workbench.sequences.t;
        ui.add_space(8.0);
        match &library {
            Ok(BuildSource::Library(lib)) => {
                ui.label(format!("{} patterns of length {t}", lib.len()));
            }
            Ok(BuildSource::Words { windows }) => {
                ui.label(format!(
                    "{windows} windows of {t} letters in the real words"
                ));
            }
            Err(e) => widgets::error_text(ui, e.clone()),
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let can_build = library.is_ok() && self.pending.is_none();
            if ui
                .add_enabled(can_build, egui::Button::new("Build sequences"))
                .clicked()
                && let Ok(lib) = library
            {
                self.start_build(ui.ctx(), workbench, data, lib);
            }
            if let Some(p) = &self.pending {
                ui.spinner();
                ui.label(format!("Planning… {:.1} s", p.elapsed().as_secs_f64()));
            }
        });
        if let Some(e) = &self.build_error {
            widgets::error_text(ui, format!("Build failed: {e}"));
        }
    }

    fn custom_ui(&mut self, ui: &mut egui::Ui, draft: &mut SequenceDraft) {
        // The list, one row per line: edit in place or delete.
        let mut lines: Vec<String> = draft.custom.lines().map(str::to_string).collect();
        let mut changed = false;
        let mut delete = None;
        egui::ScrollArea::vertical()
            .id_salt("custom_patterns")
            .max_height(220.0)
            .show(ui, |ui| {
                for (i, line) in lines.iter_mut().enumerate() {
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(format!("{:>2}", i + 1)).monospace().weak());
                        let edit = ui.add(
                            egui::TextEdit::singleline(line)
                                .desired_width(CONTROLS_WIDTH - 130.0)
                                .font(egui::TextStyle::Monospace),
                        );
                        widgets::accessible_name(ui, &edit, &format!("Pattern {}", i + 1));
                        changed |= edit.changed();
                        if ui
                            .small_button("Delete")
                            .on_hover_text("Delete this pattern")
                            .clicked()
                        {
                            delete = Some(i);
                        }
                    });
                }
            });
        if let Some(i) = delete {
            lines.remove(i);
            changed = true;
        }
        ui.horizontal(|ui| {
            let edit = ui.add(
                egui::TextEdit::singleline(&mut self.new_pattern)
                    .hint_text("new pattern, e.g. 2-4-6-8-0")
                    .desired_width(CONTROLS_WIDTH - 140.0)
                    .font(egui::TextStyle::Monospace),
            );
            widgets::accessible_name(ui, &edit, "New pattern");
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Add pattern").clicked() || enter) && !self.new_pattern.trim().is_empty()
            {
                lines.retain(|l| !l.trim().is_empty());
                lines.push(self.new_pattern.trim().to_string());
                self.new_pattern.clear();
                changed = true;
            }
        });
        if changed {
            draft.custom = lines.join("\n");
        }
        egui::CollapsingHeader::new("Edit as text (one pattern per line, # comments)")
            .id_salt("custom_as_text")
            .show(ui, |ui| {
                let edit = ui.add(
                    egui::TextEdit::multiline(&mut draft.custom)
                        .desired_rows(6)
                        .desired_width(CONTROLS_WIDTH - 20.0)
                        .font(egui::TextStyle::Monospace),
                );
                widgets::accessible_name(ui, &edit, "Custom patterns");
            });
    }

    fn start_build(
        &mut self,
        ctx: &egui::Context,
        workbench: &Workbench,
        data: &LoadedData,
        library: BuildSource,
    ) {
        self.next_id += 1;
        let id = self.next_id;
        let images: Arc<ImageSet> = data.set.clone();
        let generation = data.generation;
        let draft = &workbench.sequences;
        let cfg = BuildConfig {
            t: draft.t,
            seed: draft.seed,
            level_weights: workbench.spec.level_mix.clone(),
            plan: crate::sequence::planner::PlanOptions {
                cap: (draft.cap > 0).then_some(draft.cap),
                min_share: draft.min_share,
                ..Default::default()
            },
            test_patterns: draft.test_patterns,
        };
        let task = Task::spawn(ctx, "patterns", move || {
            build(id, generation, &images, library, &cfg)
        });
        match task {
            Ok(task) => {
                self.pending = Some(task);
                self.build_error = None;
            }
            Err(e) => self.build_error = Some(e.to_string()),
        }
    }
}

/// The progression options: steps, directions, wrap.
fn progression_ui(ui: &mut egui::Ui, draft: &mut SequenceDraft) {
    ui.horizontal(|ui| {
        ui.label("Steps");
        for (on, step) in draft.steps.iter_mut().zip(STEPS) {
            ui.checkbox(on, step.to_string());
        }
    });
    ui.horizontal(|ui| {
        ui.checkbox(&mut draft.ascending, "Ascending");
        ui.checkbox(&mut draft.descending, "Descending");
    });
    ui.horizontal(|ui| {
        ui.label("Wrap");
        for (wrap, title) in [
            (Wrap::Auto, "Auto"),
            (Wrap::Never, "Never"),
            (Wrap::Always, "Always"),
        ] {
            ui.selectable_value(&mut draft.wrap, wrap, title);
        }
    });
}

/// What a build will make on `data`: the chosen library, or the words' windows; else why not.
fn build_source(draft: &SequenceDraft, data: &LoadedData) -> Result<BuildSource, String> {
    let images = &data.set;
    if draft.choice(&images.class_names) != LibraryChoice::Words {
        return draft
            .library(&images.class_names)
            .map(BuildSource::Library)
            .map_err(|e| format!("Invalid patterns: {e}"));
    }
    if !images.has_groups() {
        return Err(format!(
            "{} has no words: load the OCR letters on the Data panel for real words.",
            images.name
        ));
    }
    let windows: usize = data
        .word_lengths
        .iter()
        .map(|lengths| windows_of(lengths, draft.t))
        .sum();
    if windows == 0 {
        return Err(format!("No word has {} letters: lower T.", draft.t));
    }
    Ok(BuildSource::Words { windows })
}

const TRAIN_COLOR: Color32 = Color32::from_rgb(70, 130, 200);
const TEST_COLOR: Color32 = Color32::from_rgb(150, 195, 235);

/// What a build makes: sequences of a designed library, or windows of the data's real words.
#[derive(Clone)]
enum BuildSource {
    Library(PatternLibrary),
    Words { windows: usize },
}

/// Builds the patterned set, its plans and its random control (on the build thread).
fn build(
    id: u64,
    generation: u64,
    images: &ImageSet,
    source: BuildSource,
    cfg: &BuildConfig,
) -> Result<BuiltSequences, String> {
    let started = Instant::now();
    let (set, library, plans) = match source {
        BuildSource::Library(library) => {
            let (set, plans) = build_patterned(images, &library, cfg).map_err(|e| e.to_string())?;
            (set, library, plans)
        }
        BuildSource::Words { .. } => {
            build_word_windows(images, cfg.t, cfg.seed, &cfg.level_weights)
                .map_err(|e| e.to_string())?
        }
    };
    let control = random_control(images, &set, cfg.seed.wrapping_add(1));
    let mut share = [0.0; 2];
    for (k, split) in SPLITS.into_iter().enumerate() {
        let available: Vec<u32> = images
            .class_counts(Some(split))
            .iter()
            .map(|&c| c.min(u32::MAX as usize) as u32)
            .collect();
        share[k] = plans.get(split).images_share(&available);
    }
    Ok(BuiltSequences {
        id,
        generation,
        library,
        set,
        plans,
        control,
        share,
        build_time: started.elapsed(),
    })
}
