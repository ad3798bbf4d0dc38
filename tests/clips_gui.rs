//! Clip data in the workbench (headless egui_kittest): the Data panel loads generated motion clips
//! and real frame folders and previews a clip's frames with the sampled ones marked; the Train
//! panel offers paper B's models with their options, says when a choice cannot be built, and
//! trains an RRN on clips, showing the per-video accuracy.

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use occlab::data::clips::ClipOptions;
use occlab::data::motion::{Motion, MotionConfig};
use occlab::data::source::DataSource;
use occlab::gui::{OcclabApp, PanelId};
use occlab::model::ModelKind;
use occlab::model::rrn::SkipPosition;
use occlab::train::BackendChoice;
use std::time::Duration;

mod common;
mod gui_common;

use gui_common::step_until;

fn has_label_starting(harness: &Harness<'static, OcclabApp>, prefix: &str) -> bool {
    harness
        .query_all_by(|n| n.value().is_some_and(|v| v.starts_with(prefix)))
        .next()
        .is_some()
}

/// Steps until the background load has arrived (the clip preview keeps a spinner going, so the
/// harness never settles: no `run`).
fn wait_loaded(harness: &mut Harness<'static, OcclabApp>) {
    step_until(harness, Duration::from_secs(60), "the data set", |h| {
        !h.state().is_loading()
    });
    harness.step();
    let error = &harness.state().workbench.load_error;
    assert!(error.is_none(), "load failed: {error:?}");
}

fn load(harness: &mut Harness<'static, OcclabApp>, source: DataSource) {
    let ctx = harness.ctx.clone();
    harness.state_mut().workbench.start_load(source, &ctx);
    harness.step();
    wait_loaded(harness);
}

fn small_motion() -> DataSource {
    DataSource::Motion {
        config: MotionConfig {
            per_class: 6,
            frames: 6,
            size: 24,
            motions: vec![Motion::Left, Motion::Right, Motion::Up, Motion::Down],
            test_fraction: 0.34,
            ..MotionConfig::default()
        },
    }
}

#[test]
fn the_data_panel_loads_motion_clips_and_previews_a_clip() {
    let mut harness = gui_common::harness();
    // Through the form: the motion source with its defaults.
    harness.get_by_label("Motion clips").click();
    harness.run();
    harness.get_by_label("Clips per class");
    harness.get_by_label("Frames per clip");
    harness.get_by_role_and_label(Role::Button, "Load").click();
    harness.step();
    wait_loaded(&mut harness);
    let data = harness.state().workbench.data.as_ref().unwrap();
    assert_eq!(
        data.set.len(),
        8 * 250 * 8,
        "8 classes × 250 clips × 8 frames"
    );
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the clip list",
        |h| has_label_starting(h, "2000 videos (1600 train, 400 test)"),
    );
    step_until(&mut harness, Duration::from_secs(30), "the strip", |h| {
        has_label_starting(h, "Frames 1–8 of the clip; every frame is used")
            && h.query_all_by_label("8").next().is_some()
    });
}

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn the_data_panel_marks_every_tenth_frame_of_a_real_clip() {
    let Some(dir) = common::data_dir("the_data_panel_marks_every_tenth_frame") else {
        return;
    };
    let mut harness = gui_common::harness();
    load(
        &mut harness,
        DataSource::Clips {
            path: dir.join("action-clips"),
            options: ClipOptions::default(),
        },
    );
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the clip list",
        |h| has_label_starting(h, "4 videos (4 train, 0 test), 105 sampled frames"),
    );
    // Folder frames 1–36 of the first video are decoded in the background.
    step_until(&mut harness, Duration::from_secs(60), "the strip", |h| {
        has_label_starting(h, "Frames 1–36 of the clip; every 10th frame is sampled")
            && h.query_all_by_label("36").next().is_some()
            && h.query_all_by_label("11").next().is_some()
    });
}

#[test]
fn the_train_panel_offers_the_rrn_family_and_trains_one_on_clips() {
    let root = tempfile::tempdir().unwrap();
    let mut harness = gui_common::harness();
    load(&mut harness, small_motion());
    harness
        .get_by_role_and_label(Role::Button, PanelId::Train.title())
        .click();
    harness.step();
    harness.step();
    // Paper B's options appear once one of its models is ticked.
    assert!(harness.query_by_label("Temporal skip").is_none());
    harness
        .get_by_role_and_label(Role::CheckBox, "CRNN")
        .click();
    harness.get_by_role_and_label(Role::CheckBox, "RRN").click();
    harness.run();
    assert_eq!(
        harness.state().train_panel.form.models(),
        vec![ModelKind::Rrn]
    );
    harness.get_by_label("Temporal skip");
    harness.get_by_label("Skip position");
    harness.get_by_label("Temporal context (frames)");
    // Clip data: subsequences instead of patterns.
    harness.get_by_label("Subsequence length T");
    harness.get_by_label("Subsequences per video (M)");
    // A context the network cannot hold is named in place.
    {
        let form = &mut harness.state_mut().train_panel.form;
        form.resnet.skip_position = SkipPosition::Block1;
        form.resnet.temporal_context = 5;
    }
    harness.run();
    assert!(has_label_starting(
        &harness,
        "RRN: a temporal context of 5 frames needs 4 temporal skip connections ending at Block1"
    ));
    {
        let form = &mut harness.state_mut().train_panel.form;
        form.resnet.skip_position = SkipPosition::Block2;
        form.resnet.temporal_context = 2;
        form.resnet.widths = [4, 8, 8, 8];
        form.config.epochs = 1;
        form.config.batch_size = 4;
        form.backend = BackendChoice::Flex;
        let sequences = &mut harness.state_mut().workbench.sequences;
        sequences.t = 3;
        sequences.per_video = Some(2);
    }
    // The workbench's one runs folder.
    harness.state_mut().workbench.runs_root = root.path().display().to_string();
    harness.run();
    let preset = {
        let state = harness.state();
        let set = state.workbench.data.as_ref().unwrap().set.clone();
        state
            .train_panel
            .form
            .preset(ModelKind::Rrn, &state.workbench, &set)
    };
    let model = preset.model.as_ref().unwrap();
    assert_eq!(
        (model.kind, model.skip_position),
        (ModelKind::Rrn, SkipPosition::Block2)
    );
    assert!(matches!(
        preset.sequences.patterns,
        occlab::experiment::preset::LibrarySpec::Clips {
            per_video: Some(2),
            ..
        }
    ));
    // The paper-B options push the Start button down: a taller window keeps it on screen.
    harness.set_size(egui::vec2(1500.0, 2200.0));
    harness.step();
    harness.get_by_role_and_label(Role::Button, "Start").click();
    harness.step();
    step_until(
        &mut harness,
        Duration::from_secs(120),
        "the video accuracy",
        |h| {
            h.query_all_by(|n| {
                n.value()
                    .is_some_and(|v| v.contains("% right (") && v.contains(" of 8) after epoch 1"))
            })
            .next()
            .is_some()
        },
    );
    // The run landed on disk with its clip records.
    let runs = occlab::experiment::run::list_runs(root.path());
    assert_eq!(runs.len(), 1);
    let clips = runs[0].clip_epochs().unwrap();
    assert_eq!(clips.len(), 1);
    assert_eq!(clips[0].test.videos.total, 8, "2 test clips per class");
}
