//! The Train panel's form: which models, their options (paper B's ResNet shapes and temporal
//! skips, clip outputs), the sequences and the hyperparameters; and the preset of one model's run.

use crate::data::ImageSet;
use crate::experiment::preset::{
    ClipOutput, LibrarySpec, ModelSpec, OrderingSpec, Preset, SequenceSpec,
};
use crate::gui::patterns_panel::LibraryChoice;
use crate::gui::widgets;
use crate::gui::workbench::Workbench;
use crate::model::ModelKind;
use crate::model::resnet::StemKind;
use crate::model::rrn::{SkipPosition, SkipType};
use crate::sequence::patterns::Wrap;
use crate::train::{BackendChoice, TrainConfig};

/// What the user has chosen in the form (public so that tests can fill it in directly).
#[derive(Clone, Debug)]
pub struct TrainForm {
    /// Paper A's models, index-aligned with [`ModelKind::ALL`].
    pub selected: [bool; 6],
    /// Paper B's models, index-aligned with [`ModelKind::PAPER_B`].
    pub selected_b: [bool; 4],
    /// Paper B's options (the kind is set per model): ResNet shape, temporal skips, baselines.
    pub resnet: ModelSpec,
    /// Clip data: subsequences per video (M); `None`: every non-overlapping one.
    pub per_video: Option<usize>,
    /// Clip data: which per-frame output is a subsequence's.
    pub clip_output: ClipOutput,
    pub config: TrainConfig,
    /// Keep at most this many sequences per split (quick runs).
    pub limit: Option<usize>,
    pub backend: BackendChoice,
    /// Sequence length T.
    pub t: usize,
    pub ordering: OrderingSpec,
    /// `None`: the library that fits the data set's classes.
    pub library: Option<LibraryChoice>,
    /// Train on the Patterns panel's library, T and seed instead (custom lists included).
    pub from_patterns_panel: bool,
    pub sequence_seed: u64,
}

impl Default for TrainForm {
    fn default() -> Self {
        let mut selected = [false; 6];
        selected[ModelKind::ALL
            .iter()
            .position(|k| *k == ModelKind::Crnn)
            .unwrap_or(0)] = true;
        TrainForm {
            selected,
            selected_b: [false; 4],
            resnet: ModelSpec::new(ModelKind::Rrn),
            per_video: None,
            clip_output: ClipOutput::Last,
            config: TrainConfig::default(),
            limit: None,
            backend: BackendChoice::Auto,
            t: 5,
            ordering: OrderingSpec::Patterned,
            library: None,
            from_patterns_panel: false,
            sequence_seed: 1,
        }
    }
}

impl TrainForm {
    /// Selects exactly the given models.
    pub fn select_only(&mut self, models: &[ModelKind]) {
        for (k, kind) in ModelKind::ALL.iter().enumerate() {
            self.selected[k] = models.contains(kind);
        }
        for (k, kind) in ModelKind::PAPER_B.iter().enumerate() {
            self.selected_b[k] = models.contains(kind);
        }
    }

    /// The models ticked, paper A's first.
    pub fn models(&self) -> Vec<ModelKind> {
        let a = ModelKind::ALL.iter().zip(self.selected);
        let b = ModelKind::PAPER_B.iter().zip(self.selected_b);
        a.chain(b).filter_map(|(k, s)| s.then_some(*k)).collect()
    }

    /// The model options of one model's run.
    pub fn model_spec(&self, kind: ModelKind) -> ModelSpec {
        if kind.is_paper_b() {
            ModelSpec {
                kind,
                ..self.resnet.clone()
            }
        } else {
            ModelSpec::new(kind)
        }
    }

    /// Fills the form from a preset: its sequences (T, ordering, patterns, seed, limit), its model
    /// (the only one ticked; paper B's options too) and its hyperparameters. Custom pattern lists
    /// have no place in the form: the library then follows the data set's classes.
    pub fn apply_preset(&mut self, preset: &Preset) {
        let s = &preset.sequences;
        self.from_patterns_panel = false;
        self.t = s.t;
        self.ordering = s.ordering;
        self.sequence_seed = s.seed;
        self.limit = s.limit;
        self.library = match &s.patterns {
            LibrarySpec::DigitProgressions { .. } => Some(LibraryChoice::Digits),
            LibrarySpec::Cities => Some(LibraryChoice::Cities),
            LibrarySpec::LabelProgressions { .. } => Some(LibraryChoice::Labels),
            LibrarySpec::Words => Some(LibraryChoice::Words),
            _ => None,
        };
        if let LibrarySpec::Clips {
            per_video, output, ..
        } = &s.patterns
        {
            self.per_video = *per_video;
            self.clip_output = *output;
        }
        if let Some(m) = &preset.model {
            self.select_only(&[m.kind]);
            if m.kind.is_paper_b() {
                self.resnet = m.clone();
            }
        }
        if let Some(t) = &preset.train {
            self.config = t.clone();
        }
    }

    /// The preset of one model's run (its name is settled when the run starts).
    pub fn preset(&self, kind: ModelKind, workbench: &Workbench, images: &ImageSet) -> Preset {
        let data = workbench.data.as_ref().map(|d| d.source.clone());
        let library = self
            .library
            .unwrap_or_else(|| LibraryChoice::for_classes(&images.class_names));
        let clips = data.as_ref().is_some_and(|d| d.is_clips());
        let patterns = if clips {
            LibrarySpec::Clips {
                per_video: self.per_video,
                output: self.clip_output,
                occlude: true,
            }
        } else {
            generated_spec(library)
        };
        let (patterns, t, seed, cap, min_share) =
            match (&workbench.patterns, self.from_patterns_panel && !clips) {
                (Some(shared), true) => (
                    shared.spec.clone(),
                    shared.t,
                    shared.seed,
                    shared.cap,
                    shared.min_share,
                ),
                _ => (patterns, self.t, self.sequence_seed, None, 0.0),
            };
        Preset {
            name: format!("gui-{}", kind.to_string().to_ascii_lowercase()),
            description: format!("{kind} trained from the workbench's Train panel"),
            data: data.unwrap_or_default(),
            occlusion: workbench.spec.clone(),
            sequences: SequenceSpec {
                t,
                ordering: self.ordering,
                patterns,
                seed,
                cap,
                min_share,
                limit: self.limit,
            },
            model: Some(self.model_spec(kind)),
            train: Some(self.config.clone()),
        }
    }
}

pub(super) fn paper_b_help(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::ResNet => "A ResNet with batch norm classifying every frame alone.",
        ModelKind::Rrn => {
            "Recurrent residual network: temporal skip connections from the previous frame."
        }
        ModelKind::ResNetAvg => {
            "Baseline: frame features averaged over the clip, linear classifier."
        }
        ModelKind::ResNetGru => "Baseline: a GRU over the frame features.",
        _ => "",
    }
}

/// Paper B's options: ResNet shape, temporal skips, baselines; the problems of the current
/// choice (from the library's check) in place.
pub(super) fn resnet_options_ui(ui: &mut egui::Ui, form: &mut TrainForm, workbench: &Workbench) {
    let r = &mut form.resnet;
    egui::CollapsingHeader::new("Residual network options")
        .default_open(true)
        .show(ui, |ui| {
            egui::Grid::new("train_resnet")
                .num_columns(2)
                .spacing([16.0, 6.0])
                .show(ui, |ui| {
                    let l = ui.label("Temporal skip");
                    egui::ComboBox::from_id_salt("rrn_skip")
                        .selected_text(r.skip.title())
                        .show_ui(ui, |ui| {
                            for t in SkipType::ALL {
                                ui.selectable_value(&mut r.skip, t, t.title());
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Skip position");
                    egui::ComboBox::from_id_salt("rrn_position")
                        .selected_text(r.skip_position.title())
                        .show_ui(ui, |ui| {
                            for p in SkipPosition::ALL {
                                ui.selectable_value(&mut r.skip_position, p, p.title());
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Temporal context (frames)");
                    ui.add(egui::DragValue::new(&mut r.temporal_context).range(1..=16))
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Features after block");
                    ui.add(egui::DragValue::new(&mut r.feature_block).range(2..=4))
                        .labelled_by(l.id);
                    ui.end_row();
                    ui.label("Baselines");
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut r.z_norm, "z-normalise features");
                        let l = ui.label("GRU units");
                        ui.add(egui::DragValue::new(&mut r.gru_hidden).range(1..=2048))
                            .labelled_by(l.id);
                    });
                    ui.end_row();
                    ui.label("Block widths");
                    ui.horizontal(|ui| {
                        for (i, w) in r.widths.iter_mut().enumerate() {
                            ui.add(egui::DragValue::new(w).range(1..=1024))
                                .on_hover_text(format!("Channels of Block{}", i + 1));
                        }
                    });
                    ui.end_row();
                    ui.label("Units per block");
                    ui.horizontal(|ui| {
                        for (i, u) in r.units.iter_mut().enumerate() {
                            ui.add(egui::DragValue::new(u).range(1..=8))
                                .on_hover_text(format!("Residual units in Block{}", i + 1));
                        }
                    });
                    ui.end_row();
                    let l = ui.label("Stem");
                    egui::ComboBox::from_id_salt("rrn_stem")
                        .selected_text(stem_title(r.stem))
                        .show_ui(ui, |ui| {
                            for s in [StemKind::Auto, StemKind::Small, StemKind::Large] {
                                ui.selectable_value(&mut r.stem, s, stem_title(s));
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Dropout before classifier");
                    ui.add(egui::Slider::new(&mut r.head_dropout, 0.0..=0.9).fixed_decimals(2))
                        .labelled_by(l.id);
                    ui.end_row();
                });
        });
    // The library's check of every ticked paper-B model on the loaded data.
    if let Some(d) = &workbench.data {
        let set = &d.set;
        for kind in form.models().into_iter().filter(|k| k.is_paper_b()) {
            let config = form.model_spec(kind).config(
                set.channels,
                set.height,
                set.width,
                set.num_classes(),
            );
            if let Err(e) = config.validate() {
                widgets::error_text(ui, format!("{kind}: {e}"));
            }
        }
    }
}

/// Clip data: how videos become subsequences.
pub(super) fn clip_options_ui(ui: &mut egui::Ui, form: &mut TrainForm) {
    let l = ui.label("Subsequence length T");
    ui.add(egui::DragValue::new(&mut form.t).range(1..=64))
        .labelled_by(l.id);
    ui.end_row();
    widgets::optional_count_row(
        ui,
        &mut form.per_video,
        "Subsequences per video",
        "M evenly spread subsequences per video; off: every non-overlapping one",
        "Subsequences per video (M)",
        4,
        1..=256,
    );
    let l = ui.label("Subsequence output");
    egui::ComboBox::from_id_salt("clip_output")
        .selected_text(clip_output_title(form.clip_output))
        .show_ui(ui, |ui| {
            for o in [ClipOutput::Last, ClipOutput::Mean] {
                ui.selectable_value(&mut form.clip_output, o, clip_output_title(o));
            }
        })
        .response
        .labelled_by(l.id);
    ui.end_row();
    let l = ui.label("Frame order");
    egui::ComboBox::from_id_salt("train_ordering")
        .selected_text(match form.ordering {
            OrderingSpec::Patterned => "As filmed",
            OrderingSpec::Random => "Shuffled (control)",
        })
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut form.ordering, OrderingSpec::Patterned, "As filmed");
            ui.selectable_value(
                &mut form.ordering,
                OrderingSpec::Random,
                "Shuffled (control)",
            );
        })
        .response
        .labelled_by(l.id);
    ui.end_row();
    let l = ui.label("Sequence seed");
    ui.add(egui::DragValue::new(&mut form.sequence_seed))
        .labelled_by(l.id);
    ui.end_row();
}

pub(super) fn clip_output_title(o: ClipOutput) -> &'static str {
    match o {
        ClipOutput::Last => "Last frame (full context)",
        ClipOutput::Mean => "Mean over the frames",
    }
}

pub(super) fn stem_title(s: StemKind) -> &'static str {
    match s {
        StemKind::Auto => "Automatic (by image size)",
        StemKind::Small => "Small: 3×3 conv",
        StemKind::Large => "Large: 7×7 conv + pooling",
    }
}

pub(super) fn ordering_title(o: OrderingSpec) -> &'static str {
    match o {
        OrderingSpec::Patterned => "Patterned",
        OrderingSpec::Random => "Random (control)",
    }
}

pub(super) fn backend_title(b: BackendChoice) -> &'static str {
    match b {
        BackendChoice::Auto => "Automatic",
        BackendChoice::Wgpu => "wgpu (GPU)",
        BackendChoice::Flex => "flex (CPU)",
    }
}

/// The library spec of a generated library, with the steps the Train panel uses (1 and 2).
pub(super) fn generated_spec(choice: LibraryChoice) -> LibrarySpec {
    match choice {
        LibraryChoice::Digits => LibrarySpec::DigitProgressions {
            steps: vec![1, 2],
            ascending: true,
            descending: true,
            wrap: Wrap::default(),
        },
        LibraryChoice::Cities => LibrarySpec::Cities,
        // Not offered by the Train panel (a custom list trains through the Patterns panel).
        LibraryChoice::Custom => LibrarySpec::Custom {
            patterns: Vec::new(),
        },
        LibraryChoice::Labels => LibrarySpec::LabelProgressions {
            steps: vec![1, 2],
            ascending: true,
            descending: true,
            wrap: Wrap::default(),
        },
        LibraryChoice::Words => LibrarySpec::Words,
    }
}

/// A short name of a preset's pattern library.
pub(super) fn library_title(spec: &LibrarySpec) -> String {
    match spec {
        LibrarySpec::DigitProgressions { steps, .. } => {
            format!("digit progressions, steps {steps:?}")
        }
        LibrarySpec::LabelProgressions { steps, .. } => {
            format!("label progressions, steps {steps:?}")
        }
        LibrarySpec::Cities => "city names".into(),
        LibrarySpec::Words => "real words".into(),
        LibrarySpec::Custom { patterns } => format!("{} custom patterns", patterns.len()),
        LibrarySpec::Clips { .. } => "clips".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::dataset;
    use std::path::PathBuf;
    use std::sync::Arc;

    #[test]
    fn the_library_fits_the_classes() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
        assert_eq!(LibraryChoice::for_classes(&digits), LibraryChoice::Digits);
        assert_eq!(
            LibraryChoice::for_classes(&names(&["A", "B", "C"])),
            LibraryChoice::Cities
        );
        assert_eq!(
            LibraryChoice::for_classes(&names(&["cat", "dog"])),
            LibraryChoice::Labels
        );
    }

    #[test]
    fn the_default_form_trains_a_crnn_on_the_loaded_digits() {
        let form = TrainForm::default();
        assert_eq!(form.models(), vec![ModelKind::Crnn]);
        // Its preset, on the embedded digits, prepares sequences the engine can train.
        let images = Arc::new(
            crate::data::source::DataSource::EmbeddedDigits
                .load(None)
                .unwrap(),
        );
        let mut workbench =
            Workbench::new(None, crate::occlusion::OcclusionSpec::paper_default(), 1);
        assert_eq!(workbench.runs_dir(), PathBuf::from("runs"));
        workbench.data = Some(crate::gui::workbench::LoadedData {
            channel_means: images.channel_means(),
            set: images.clone(),
            source: crate::data::source::DataSource::EmbeddedDigits,
            generation: 1,
            load_time: std::time::Duration::ZERO,
        });
        let preset = form.preset(ModelKind::Crnn, &workbench, &images);
        assert!(matches!(
            preset.sequences.patterns,
            LibrarySpec::DigitProgressions { .. }
        ));
        let prepared = dataset::prepare_with(&preset, images, Default::default()).unwrap();
        assert!(prepared.sequences.len(crate::data::Split::Train) > 0);
        let spec = crate::experiment::training::train_spec(&preset, &prepared).unwrap();
        assert_eq!((spec.model.height, spec.model.num_classes), (28, 10));
    }
}
