//! The Present and Quiz panels on real handwriting (issue 15): the OCR letters' real-words
//! preset, driven through the real app (egui_kittest). Present shows a CNN and a CRNN trained
//! here on a few real words, each guess a letter; the Quiz runs a session answered with the
//! letter keys and saves it with the letters as its classes. Both read the shared data folder
//! (`OCCLAB_DATA_DIR`), so both are `#[ignore]`d; `.ci/run` runs them.

use egui::Key;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use occlab::experiment::preset::Preset;
use occlab::gui::quiz_panel::QuizScreen;
use occlab::gui::{OcclabApp, PanelId};
use occlab::quiz::session::SessionRecord;
use occlab::train::BackendChoice;
use std::path::Path;
use std::time::Duration;

mod common;
mod gui_common;

use gui_common::shows;

const WORDS_DATA: &str = "presets/data/ocr-words-patterned.toml";

/// The app with the OCR letters loaded through the real-words preset, data from `data`.
fn words_harness(data: &Path) -> Harness<'static, OcclabApp> {
    let mut h = gui_common::harness();
    h.state_mut().workbench.data_dir = Some(data.to_path_buf());
    let ctx = h.ctx.clone();
    h.state_mut()
        .open_preset(Path::new(WORDS_DATA), &ctx)
        .unwrap();
    gui_common::wait_until_loaded(&mut h);
    assert_eq!(h.state().workbench.data.as_ref().unwrap().set.len(), 52_152);
    h
}

fn open_panel(h: &mut Harness<'static, OcclabApp>, panel: PanelId) {
    h.get_by_role_and_label(Role::Button, panel.title()).click();
    gui_common::settle(h);
    assert_eq!(h.state().panel(), panel);
}

/// One epoch of the W1 preset `file` (real words, T = 6) on 12 + 12 windows, into `root/name`.
fn train_words_run(root: &Path, data: &Path, file: &str, name: &str) {
    let mut p = Preset::load(&Path::new("presets/words").join(file)).unwrap();
    p.name = name.into();
    p.sequences.limit = Some(12);
    let train = p.train.as_mut().unwrap();
    train.epochs = 1;
    train.batch_size = 4;
    if let Some(m) = p.model.as_mut() {
        m.lstm_hidden = 32;
    }
    common::train_to_end_with(&p, &root.join(name), Some(data));
}

fn letter(class: u16, names: &[String]) -> Key {
    Key::from_name(&names[class as usize].to_uppercase()).expect("a letter key")
}

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn the_present_panel_shows_letter_guesses_on_real_words() {
    let Some(data) = common::data_dir("the_present_panel_shows_letter_guesses_on_real_words")
    else {
        return;
    };
    let runs = tempfile::tempdir().unwrap();
    train_words_run(
        runs.path(),
        &data,
        "w1-ocr-words-patterned-cnn.toml",
        "words-cnn",
    );
    train_words_run(
        runs.path(),
        &data,
        "w1-ocr-words-patterned-crnn.toml",
        "words-crnn",
    );

    let mut h = words_harness(&data);
    h.state_mut().present_panel.backend = BackendChoice::Flex;
    h.state_mut().workbench.runs_root = runs.path().display().to_string();
    open_panel(&mut h, PanelId::Present);
    // Both runs fit the loaded letters and are chosen; the showcase is built off the UI thread.
    assert_eq!(
        gui_common::chosen_run_names(&h),
        ["words-cnn", "words-crnn"]
    );
    gui_common::step_until(&mut h, Duration::from_secs(180), "the showcase", |h| {
        let panel = &h.state().present_panel;
        assert!(panel.error().is_none(), "{:?}", panel.error());
        panel.showcase().is_some()
    });
    gui_common::settle(&mut h);
    let showcase = h.state().present_panel.showcase().unwrap().clone();
    assert!(!showcase.sequences.is_empty());
    assert_eq!(showcase.class_names.len(), 26);
    assert_eq!(showcase.class_names[0], "a");
    let n = showcase.sequences.len();
    h.get_by_label(&format!("Sequence 1 of {n}"));
    // Six images of one word, each with both models' guesses: a letter and its probability.
    let first = &showcase.sequences[0];
    assert_eq!(first.images.len(), 6);
    for (m, model) in showcase.models.iter().enumerate() {
        for image in &first.images {
            let g = &image.guesses[m];
            let name = showcase.class_name(g.predicted);
            assert!(
                name.len() == 1 && name.chars().all(|c| c.is_ascii_lowercase()),
                "{name:?}"
            );
            let label = format!("{}: {name} ({:.0} %)", model.label, g.probability * 100.0);
            assert!(shows(&h, &label), "{label} not shown");
        }
    }
    // Space reveals the word as written: each image's true letter.
    h.key_press(Key::Space);
    gui_common::settle(&mut h);
    for image in &first.images {
        let truth = format!("truth {}", showcase.class_name(image.truth));
        assert!(shows(&h, &truth), "{truth} not shown");
    }
}

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn a_quiz_on_real_words_is_answered_with_the_letter_keys() {
    let Some(data) = common::data_dir("a_quiz_on_real_words_is_answered_with_the_letter_keys")
    else {
        return;
    };
    let quiz_dir = tempfile::tempdir().unwrap();
    let mut h = words_harness(&data);
    open_panel(&mut h, PanelId::Quiz);
    {
        let form = &mut h.state_mut().quiz_panel.form;
        form.quiz_dir = quiz_dir.path().display().to_string();
        form.preset_path =
            concat!(env!("CARGO_MANIFEST_DIR"), "/presets/quiz/ocr-words.toml").into();
        form.practice = 1;
        form.patterned = 1;
        form.random = 1;
    }
    gui_common::settle(&mut h);
    h.get_by_label("Participant ID").focus();
    h.run();
    h.get_by_label("Participant ID").type_text("W1");
    h.run();
    h.get_by_label("Non-expert").click();
    h.run();
    h.get_by_role_and_label(Role::Button, "Start session")
        .click();
    gui_common::step_until(&mut h, Duration::from_secs(120), "the instructions", |h| {
        h.state().quiz_panel.screen() == QuizScreen::Instructions
    });
    h.run();
    assert!(shows(&h, "You will see 2 sequences of 6 images each"));
    // Letters are typed as themselves: no number legend.
    assert!(!shows(&h, "0 = a"));
    h.key_press(Key::Enter);
    gui_common::settle(&mut h);

    let mut given: Vec<Vec<u16>> = Vec::new();
    while h.state().quiz_panel.screen() != QuizScreen::Finished {
        assert_eq!(h.state().quiz_panel.screen(), QuizScreen::Trial);
        let (_, item) = h.state().quiz_panel.current_item().unwrap();
        let (item, names) = (
            item.clone(),
            h.state().quiz_panel.class_names().unwrap().to_vec(),
        );
        assert_eq!(item.labels.len(), 6);
        // The true letters, except the first answered as the next letter of the alphabet.
        let mut answers = item.labels.clone();
        answers[0] = (answers[0] + 1) % 26;
        for &a in &answers {
            h.key_press(letter(a, &names));
            gui_common::settle(&mut h);
        }
        assert_eq!(gui_common::answers_given(&h), answers);
        h.key_press(Key::Enter);
        gui_common::settle(&mut h);
        given.push(answers);
        if item.practice {
            assert_eq!(h.state().quiz_panel.screen(), QuizScreen::Feedback);
            assert!(shows(&h, "Practice 1 of 1: 5 of 6 right"));
            h.key_press(Key::Enter);
            gui_common::settle(&mut h);
        }
    }
    let record = SessionRecord::read(&quiz_dir.path().join("W1-ocr-words.jsonl")).unwrap();
    assert_eq!(record.header.class_names.len(), 26);
    assert_eq!(record.header.class_names[25], "z");
    assert_eq!(record.responses.len(), 3, "practice and both trials saved");
    for (r, want) in record.responses.iter().zip(&given) {
        let got: Vec<u16> = r.answers.iter().map(|a| a.unwrap()).collect();
        assert_eq!(&got, want);
    }
}
