//! Quiz sessions on the embedded digits: which items are chosen (test split, no image twice,
//! levels balanced, practice from training, order per participant), and the session file (never
//! overwritten, appended in order, a torn last line cut off on resume, other settings refused).

use occlab::data::Split;
use occlab::experiment::preset::Preset;
use occlab::quiz::QuizError;
use occlab::quiz::config::{Group, QuizConfig, TrialOrder};
use occlab::quiz::items::{Condition, Stimuli, level_histogram, select_items};
use occlab::quiz::session::{self, Session, SessionError, SessionRecord, Started};
use occlab::quiz::trial::Trial;
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

mod common;

fn preset() -> Preset {
    Preset::parse(
        include_str!("../presets/quiz/digits-embedded.toml"),
        Path::new("digits-embedded.toml"),
    )
    .unwrap()
}

fn config(participant: &str) -> QuizConfig {
    let mut c = QuizConfig::new(participant, Group::NonExpert, preset());
    c.patterned = 10;
    c.random = 10;
    c.practice = 3;
    c
}

fn stimuli(c: &QuizConfig) -> Stimuli {
    Stimuli::load(c, None).unwrap()
}

#[test]
fn items_come_from_the_test_split_balanced_and_never_repeat_an_image() {
    let c = config("P01");
    let s = stimuli(&c);
    let items = select_items(&c, s.images.clone()).unwrap();
    assert_eq!(items.len(), 23);
    let practice: Vec<_> = items.iter().take_while(|i| i.practice).collect();
    assert_eq!(practice.len(), 3);
    assert!(practice.iter().all(|i| i.split == Split::Train));
    assert_eq!(
        practice.iter().map(|i| i.condition).collect::<Vec<_>>(),
        [
            Condition::Patterned,
            Condition::Random,
            Condition::Patterned
        ]
    );
    let trials: Vec<_> = items.iter().filter(|i| !i.practice).collect();
    assert!(
        trials
            .iter()
            .all(|i| i.split == Split::Test && i.len() == 5)
    );
    assert_eq!(
        trials
            .iter()
            .filter(|i| i.condition == Condition::Patterned)
            .count(),
        10
    );
    assert!(
        trials
            .iter()
            .filter(|i| i.condition == Condition::Patterned)
            .all(|i| i.pattern.is_some())
    );
    // No image is shown twice, and labels are the images' own.
    let mut seen = HashSet::new();
    for i in &items {
        for (&id, &label) in i.images.iter().zip(&i.labels) {
            assert!(seen.insert(id), "image {id} shown twice");
            assert_eq!(s.images.labels[id as usize], label);
        }
    }
    s.check(&items).unwrap();
    // Levels 1:1:1:1:1 over 50 images per condition: exactly 10 each when balanced.
    for cond in Condition::ALL {
        let h = level_histogram(&items, Some(cond));
        assert_eq!(h.iter().sum::<usize>(), 50);
        assert!(
            h[1..].iter().all(|&n| n.abs_diff(10) <= 1),
            "{cond:?}: {h:?}"
        );
    }
    // Interleaved: the trial order mixes the conditions.
    let conds: Vec<_> = trials.iter().map(|i| i.condition).collect();
    assert!(conds.windows(2).any(|w| w[0] != w[1]));
    assert!(
        conds[..10].contains(&Condition::Random) || conds[10..].contains(&Condition::Patterned)
    );

    // Another participant: the same items (item seed), another order (order seed).
    let other = select_items(&config("P02"), s.images.clone()).unwrap();
    let key = |v: &[occlab::quiz::QuizItem]| {
        let mut k: Vec<_> = v.iter().map(|i| i.key()).collect();
        k.sort();
        k
    };
    assert_eq!(key(&items), key(&other));
    assert_ne!(
        items.iter().map(|i| i.key()).collect::<Vec<_>>(),
        other.iter().map(|i| i.key()).collect::<Vec<_>>()
    );
    // Deterministic.
    assert_eq!(select_items(&c, s.images.clone()).unwrap(), items);

    // Blocked order: the order seed's parity decides which block comes first.
    for seed in [4u64, 7] {
        let mut b = config("P03");
        b.order = TrialOrder::Blocked;
        b.order_seed = seed;
        let its = select_items(&b, s.images.clone()).unwrap();
        let first = if seed % 2 == 0 {
            Condition::Patterned
        } else {
            Condition::Random
        };
        let conds: Vec<_> = its
            .iter()
            .filter(|i| !i.practice)
            .map(|i| i.condition)
            .collect();
        assert!(conds[..10].iter().all(|&c| c == first), "{conds:?}");
        assert!(conds[10..].iter().all(|&c| c != first));
    }

    // Too many asked for: a clear error.
    let mut big = config("P04");
    big.patterned = 100_000;
    let e = select_items(&big, s.images.clone())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("patterned sequences") && e.contains("100000"),
        "{e}"
    );
}

#[test]
fn a_session_file_is_created_once_appended_in_order_and_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let c = config("P10");
    let s = stimuli(&c);
    let (mut session, started) = session::start(dir.path(), &c, &s).unwrap();
    assert_eq!(started, Started::Created);
    let path = session.path().to_path_buf();
    assert_eq!(path, dir.path().join("P10-digits-embedded.jsonl"));
    // Only the session file: the temporary header file is gone.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    assert_eq!(session.next_item(), Some(0));

    let answer = |session: &mut Session, k: usize| {
        let item = session.header().items[k].clone();
        let t0 = Instant::now();
        let mut trial = Trial::new(k, item.len(), None, t0);
        for &l in &item.labels {
            assert!(trial.answer_selected(l, Instant::now()));
        }
        session
            .append(trial.submit(Instant::now()).unwrap())
            .unwrap();
    };
    for k in 0..4 {
        answer(&mut session, k);
    }
    // Out of order or twice: refused, file unchanged.
    let bytes = std::fs::read(&path).unwrap();
    let mut r = session.responses()[0].clone();
    let e = session.append(r.clone()).unwrap_err();
    assert!(e.to_string().contains("second time"), "{e}");
    r.item = 9;
    assert!(
        session
            .append(r)
            .unwrap_err()
            .to_string()
            .contains("before item 4")
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    drop(session);

    // Never overwritten: creating it again fails, the file is untouched.
    let header = SessionRecord::read(&path).unwrap().header;
    match Session::create(dir.path(), header) {
        Err(SessionError::Exists { path: p }) => assert_eq!(p, path),
        other => panic!("expected Exists, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // Same settings: resumed at item 4.
    let (mut session, started) = session::start(dir.path(), &c, &s).unwrap();
    assert_eq!(started, Started::Resumed { recovery: None });
    assert_eq!(session.next_item(), Some(4));
    answer(&mut session, 4);
    drop(session);

    // Other settings under the same name: refused, never overwritten.
    let mut changed = c.clone();
    changed.random = 9;
    let e = session::start(dir.path(), &changed, &s)
        .unwrap_err()
        .to_string();
    assert!(e.contains("other settings"), "{e}");

    // A torn last line (the process was killed inside the write): ignored when reading, cut off
    // when resuming, then the session goes on as if it had never been written.
    let full = std::fs::read(&path).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    let torn = b"{\"kind\":\"response\",\"item\":5,\"answers\":[1,";
    f.write_all(torn).unwrap();
    drop(f);
    let rec = SessionRecord::read(&path).unwrap();
    assert_eq!(rec.responses.len(), 5);
    assert_eq!(rec.torn_bytes, torn.len());
    let (mut session, recovery, _) = session::resume(&path, None).unwrap();
    assert_eq!(recovery.unwrap().dropped_bytes, torn.len());
    assert_eq!(std::fs::read(&path).unwrap(), full);
    assert_eq!(session.next_item(), Some(5));
    answer(&mut session, 5);
    let rec = SessionRecord::read(&path).unwrap();
    assert_eq!(rec.torn_bytes, 0);
    assert_eq!(
        rec.responses.iter().map(|r| r.item).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5]
    );

    // A damaged complete line is an error naming the file and the line, not a guess.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text = text.replacen("\"item\":2,", "\"item\":2,,", 1);
    std::fs::write(&path, text).unwrap();
    let e = SessionRecord::read(&path).unwrap_err().to_string();
    assert!(e.contains("P10-digits-embedded.jsonl, line 4"), "{e}");
}

#[test]
fn a_session_refuses_other_images_than_it_was_recorded_with() {
    let dir = tempfile::tempdir().unwrap();
    let c = config("P20");
    let s = stimuli(&c);
    let (session, _) = session::start(dir.path(), &c, &s).unwrap();
    let items = session.header().items.clone();
    // The same ids on a set with every label shifted: not the data of the session.
    let mut other = (*s.images).clone();
    for l in &mut other.labels {
        *l = (*l + 1) % 10;
    }
    let wrong = Stimuli::with_images(&c, Arc::new(other));
    let e = wrong.check(&items).unwrap_err();
    assert!(
        e.contains("not the data the session was recorded with"),
        "{e}"
    );
    // And a config that cannot name a file.
    let mut bad = config("  ");
    bad.participant = "  ".into();
    match session::start(dir.path(), &bad, &s) {
        Err(QuizError::Config(m)) => assert!(m.contains("participant")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_quiz_preset_parses_and_names_its_session() {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/presets/quiz")).unwrap() {
        let path = entry.unwrap().path();
        let p = Preset::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.model.is_none() && p.train.is_none(), "{}", path.display());
        let c = QuizConfig::new("P", Group::Expert, p.clone());
        c.validate().unwrap();
        assert_eq!(c.session_name(), format!("P-{}", p.name));
        assert_eq!(
            path.file_stem().unwrap().to_string_lossy(),
            p.name,
            "preset file name and name differ"
        );
    }
}

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn the_real_data_presets_give_sessions() {
    let Some(data) = common::data_dir("the_real_data_presets_give_sessions") else {
        return;
    };
    for name in ["mnist", "cifar10"] {
        let path = format!("{}/presets/quiz/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let mut c = QuizConfig::new("P", Group::Expert, Preset::load(Path::new(&path)).unwrap());
        c.patterned = 20;
        c.random = 20;
        let s = Stimuli::load(&c, Some(&data)).unwrap();
        let items = select_items(&c, s.images.clone()).unwrap();
        assert_eq!(items.len(), 42);
        s.check(&items).unwrap();
        assert!(
            items
                .iter()
                .filter(|i| !i.practice)
                .all(|i| i.split == Split::Test)
        );
        for cond in Condition::ALL {
            let h = level_histogram(&items, Some(cond));
            assert!(
                h[1..].iter().all(|&n| n.abs_diff(20) <= 1),
                "{name} {cond:?}: {h:?}"
            );
        }
    }
}
