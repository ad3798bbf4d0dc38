//! The Train panel's form: which models, their options (paper B's ResNet shapes and temporal
//! skips) and the hyperparameters; and the preset of one model's run, with the workbench's data,
//! occlusion and sequences.

use crate::data::ImageSet;
use crate::experiment::preset::{ClipOutput, LibrarySpec, ModelSpec, OrderingSpec, Preset};
use crate::gui::widgets;
use crate::gui::workbench::{SequenceDraft, Workbench};
use crate::model::resnet::StemKind;
use crate::model::rrn::{SkipPosition, SkipType};
use crate::model::{ModelKind, Precision};
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
    pub config: TrainConfig,
    pub backend: BackendChoice,
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
            config: TrainConfig::default(),
            backend: BackendChoice::Auto,
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

    /// Fills the form from a preset: its model (the only one ticked; paper B's options too) and
    /// its hyperparameters. (Its sequences go to the workbench's [`SequenceDraft`].)
    pub fn apply_preset(&mut self, preset: &Preset) {
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

    /// The preset of one model's run (its name is settled when the run starts): the workbench's
    /// data set, occlusion spec and sequences, with this form's model and hyperparameters.
    pub fn preset(&self, kind: ModelKind, workbench: &Workbench, images: &ImageSet) -> Preset {
        let data = workbench.data.as_ref().map(|d| d.source.clone());
        let clips = data.as_ref().is_some_and(|d| d.is_clips());
        Preset {
            name: format!("gui-{}", kind.to_string().to_ascii_lowercase()),
            description: format!("{kind} trained from the workbench's Train panel"),
            data: data.unwrap_or_default(),
            occlusion: workbench.spec.clone(),
            sequences: workbench.sequences.spec(&images.class_names, clips),
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
                    let skip = &mut r.skip;
                    widgets::combo_row(ui, "Temporal skip", "rrn_skip", skip, SkipType::ALL, |t| {
                        t.title()
                    });
                    let (position, positions) = (&mut r.skip_position, SkipPosition::ALL);
                    widgets::combo_row(
                        ui,
                        "Skip position",
                        "rrn_position",
                        position,
                        positions,
                        |p| p.title(),
                    );
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
                    widgets::combo_row(
                        ui,
                        "Stem",
                        "rrn_stem",
                        &mut r.stem,
                        [StemKind::Auto, StemKind::Small, StemKind::Large],
                        stem_title,
                    );
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
pub(super) fn clip_options_ui(ui: &mut egui::Ui, draft: &mut SequenceDraft) {
    let l = ui.label("Subsequence length T");
    ui.add(egui::DragValue::new(&mut draft.t).range(1..=64))
        .labelled_by(l.id);
    ui.end_row();
    widgets::optional_count_row(
        ui,
        &mut draft.per_video,
        "Subsequences per video",
        "M evenly spread subsequences per video; off: every non-overlapping one",
        "Subsequences per video (M)",
        4,
        1..=256,
    );
    widgets::combo_row(
        ui,
        "Subsequence output",
        "clip_output",
        &mut draft.clip_output,
        [ClipOutput::Last, ClipOutput::Mean],
        clip_output_title,
    );
    let orders = [OrderingSpec::Patterned, OrderingSpec::Random];
    let order = &mut draft.ordering;
    widgets::combo_row(
        ui,
        "Frame order",
        "train_ordering",
        order,
        orders,
        |o| match o {
            OrderingSpec::Patterned => "As filmed",
            OrderingSpec::Random => "Shuffled (control)",
        },
    );
    let l = ui.label("Sequence seed");
    ui.add(egui::DragValue::new(&mut draft.seed))
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

pub(super) fn precision_title(p: Precision) -> &'static str {
    match p {
        Precision::F32 => "f32",
        Precision::Mixed => "mixed (f16 products, GPU only)",
    }
}

pub(super) fn backend_title(b: BackendChoice) -> &'static str {
    match b {
        BackendChoice::Auto => "Automatic",
        BackendChoice::Wgpu => "wgpu (GPU)",
        BackendChoice::Flex => "flex (CPU)",
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
        workbench.data = Some(crate::gui::workbench::LoadedData::new(
            (*images).clone(),
            crate::data::source::DataSource::EmbeddedDigits,
        ));
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
