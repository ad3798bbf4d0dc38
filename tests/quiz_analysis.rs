//! The quiz analysis on a small hand-checked pair of session files: accuracies per group,
//! condition, level and position, Wilson intervals, the model row on distinct items, McNemar
//! statistics, the Tables 4–5 shape with the published numbers, and the CSV export.
//!
//! Four items (T = 5) shown to a non-expert and an expert, plus one practice item that must not
//! count. Answers (✓ right, ✗ wrong, – unanswered) and the model's predictions:
//!
//! ```text
//! item  condition  truth      levels     non-expert   expert          model
//! P1    patterned  0 1 2 3 4  1 2 3 4 5  0 1 2 3 9    0 1 2 3 4       0 1 2 3 4
//!                                        ✓ ✓ ✓ ✓ ✗    ✓ ✓ ✓ ✓ ✓       ✓ ✓ ✓ ✓ ✓
//! P2    patterned  1 3 5 7 9  5 4 3 2 1  1 3 5 2 9    1 3 5 7 9       1 3 5 7 0
//!                                        ✓ ✓ ✓ ✗ ✓    ✓ ✓ ✓ ✓ ✓       ✓ ✓ ✓ ✓ ✗
//! R1    random     7 2 9 0 4  1 1 2 2 3  7 2 1 0 8    7 2 9 0 1       7 0 9 0 8
//!                                        ✓ ✓ ✗ ✓ ✗    ✓ ✓ ✓ ✓ ✗       ✓ ✗ ✓ ✓ ✗
//! R2    random     5 8 1 6 3  3 4 4 5 5  5 8 0 6 2    5 8 – 6 9 (time) 5 3 1 6 0
//!                                        ✓ ✓ ✗ ✓ ✗    ✓ ✓ ✗ ✓ ✗       ✓ ✗ ✓ ✓ ✗
//! ```
//!
//! Non-expert: 14/20 (patterned 8/10, random 6/10). Expert: 17/20 (10/10, 7/10), one unanswered.
//! Model: 15/20 (9/10, 6/10) on the four distinct items, although 40 answers were given.
//! Wilson 95 % for 14/20: p̂ = 0.7, z² = 3.8415, centre 0.7 + z²/40 = 0.79604,
//! half width z·√(0.21/20 + z²/1600) = 0.22262, divided by 1 + z²/20 = 1.19207 → [0.48103, 0.85452].
//! McNemar expert vs model (b = expert right & model wrong, c = the reverse): b = 3 (P2/5, R1/2,
//! R2/2), c = 1 (R2/3), both right 14, both wrong 2. χ² = (|3 − 1| − 1)²/4 = 0.25,
//! p(χ²) = erfc(√0.125) = 0.61708; exact p = 2·(C(4,0) + C(4,1))/2⁴ = 0.625.
//! Non-expert vs model: b = 3 (P2/5, R1/2, R2/2), c = 4 (P1/5, P2/4, R1/3, R2/3), both right 11,
//! both wrong 2: χ² = 0, exact p = 2·(1 + 7 + 21 + 35)/128 = 1.

use occlab::data::Split;
use occlab::experiment::preset::Preset;
use occlab::model::ModelKind;
use occlab::quiz::analysis::{ModelAnswers, Who, analyze};
use occlab::quiz::config::{Group, QuizConfig};
use occlab::quiz::export::to_csv;
use occlab::quiz::items::{Condition, QuizItem};
use occlab::quiz::session::{Header, Response, Session, SessionRecord};
use occlab::quiz::stats::McNemarMethod;
use std::collections::HashMap;
use std::path::Path;

fn item(
    condition: Condition,
    labels: [u16; 5],
    levels: [u8; 5],
    first_id: u32,
    practice: bool,
) -> QuizItem {
    QuizItem {
        practice,
        condition,
        split: if practice { Split::Train } else { Split::Test },
        source_index: first_id as usize,
        pattern: (condition == Condition::Patterned).then(|| "hand".to_string()),
        images: (first_id..first_id + 5).collect(),
        labels: labels.to_vec(),
        levels: levels.to_vec(),
        occlusion_seed: 99,
    }
}

fn items() -> Vec<QuizItem> {
    vec![
        item(
            Condition::Patterned,
            [2, 3, 4, 5, 6],
            [1, 1, 1, 1, 1],
            900,
            true,
        ),
        item(
            Condition::Patterned,
            [0, 1, 2, 3, 4],
            [1, 2, 3, 4, 5],
            100,
            false,
        ),
        item(
            Condition::Random,
            [7, 2, 9, 0, 4],
            [1, 1, 2, 2, 3],
            200,
            false,
        ),
        item(
            Condition::Patterned,
            [1, 3, 5, 7, 9],
            [5, 4, 3, 2, 1],
            300,
            false,
        ),
        item(
            Condition::Random,
            [5, 8, 1, 6, 3],
            [3, 4, 4, 5, 5],
            400,
            false,
        ),
    ]
}

fn response(item: usize, answers: [Option<u16>; 5], timed_out: bool) -> Response {
    Response {
        item,
        answers: answers.to_vec(),
        answer_ms: answers
            .iter()
            .enumerate()
            .map(|(i, a)| a.map(|_| 500.0 * (i + 1) as f64))
            .collect(),
        sequence_ms: 3000.0,
        corrections: 0,
        timed_out,
        submitted_unix_ms: 1,
    }
}

fn all(a: [u16; 5]) -> [Option<u16>; 5] {
    a.map(Some)
}

fn write_session(
    dir: &Path,
    participant: &str,
    group: Group,
    answers: [[Option<u16>; 5]; 4],
) -> SessionRecord {
    let preset = Preset::parse(
        include_str!("../presets/quiz/digits-embedded.toml"),
        Path::new("digits-embedded.toml"),
    )
    .unwrap();
    let mut config = QuizConfig::new(participant, group, preset);
    config.patterned = 2;
    config.random = 2;
    config.practice = 1;
    let header = Header {
        format: occlab::quiz::session::FORMAT.into(),
        version: occlab::quiz::session::VERSION,
        session: config.session_name(),
        occlab_version: "test".into(),
        created_unix: 0,
        config,
        data_name: "embedded MNIST digits".into(),
        class_names: (0..10).map(|d| d.to_string()).collect(),
        items: items(),
    };
    let mut s = Session::create(dir, header).unwrap();
    // The practice item (all wrong: it must not count anywhere).
    s.append(response(0, all([9, 9, 9, 9, 9]), false)).unwrap();
    // Items 1..=4 are P1, R1, P2, R2 in the file's order.
    for (k, a) in answers.into_iter().enumerate() {
        let timed_out = a.iter().any(Option::is_none);
        s.append(response(k + 1, a, timed_out)).unwrap();
    }
    SessionRecord::read(s.path()).unwrap()
}

fn sessions(dir: &Path) -> Vec<SessionRecord> {
    let novice = write_session(
        dir,
        "N1",
        Group::NonExpert,
        [
            all([0, 1, 2, 3, 9]),
            all([7, 2, 1, 0, 8]),
            all([1, 3, 5, 2, 9]),
            all([5, 8, 0, 6, 2]),
        ],
    );
    let expert = write_session(
        dir,
        "E1",
        Group::Expert,
        [
            all([0, 1, 2, 3, 4]),
            all([7, 2, 9, 0, 1]),
            all([1, 3, 5, 7, 9]),
            [Some(5), Some(8), None, Some(6), Some(9)],
        ],
    );
    vec![novice, expert]
}

fn model() -> ModelAnswers {
    let preds: [[u16; 5]; 4] = [
        [0, 1, 2, 3, 4],
        [7, 0, 9, 0, 8],
        [1, 3, 5, 7, 0],
        [5, 3, 1, 6, 0],
    ];
    let mut predictions = HashMap::new();
    for s in 0..2 {
        for (k, p) in preds.iter().enumerate() {
            predictions.insert((s, k + 1), p.to_vec());
        }
    }
    ModelAnswers {
        run: "crnn-run".into(),
        model: "CRNN".into(),
        kind: Some(ModelKind::Crnn),
        predictions,
        caveats: Vec::new(),
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 5e-6, "{a} vs {b}");
}

#[test]
fn the_hand_checked_sessions_give_the_hand_computed_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = sessions(dir.path());
    let report = analyze(&sessions, &[model()]);
    println!("{report}");

    let row = |who: &Who| report.rows.iter().find(|r| &r.who == who).unwrap();
    let novice = row(&Who::Group {
        group: Group::NonExpert,
    });
    let expert = row(&Who::Group {
        group: Group::Expert,
    });
    let crnn = row(&Who::Model {
        run: "crnn-run".into(),
        model: "CRNN".into(),
    });
    assert_eq!(novice.dataset, "MNIST");
    assert_eq!(novice.participants, 1);

    let o = novice.overall.unwrap();
    assert_eq!((o.correct, o.total), (14, 20));
    close(o.accuracy, 0.7);
    close(o.low, 0.481027);
    close(o.high, 0.854523);
    let p = novice.condition(Condition::Patterned).unwrap();
    let r = novice.condition(Condition::Random).unwrap();
    assert_eq!((p.score.unwrap().correct, p.score.unwrap().total), (8, 10));
    assert_eq!((r.score.unwrap().correct, r.score.unwrap().total), (6, 10));
    close(p.score.unwrap().low, 0.490162);
    close(r.score.unwrap().high, 0.831820);
    // Per level (patterned): L1 2/2, L2 1/2, L3 2/2, L4 2/2, L5 1/2.
    let levels: Vec<(u8, u64, u64)> = p
        .by_level
        .iter()
        .map(|(l, s)| (*l, s.correct, s.total))
        .collect();
    assert_eq!(
        levels,
        vec![(1, 2, 2), (2, 1, 2), (3, 2, 2), (4, 2, 2), (5, 1, 2)]
    );
    // Per position (patterned): 2/2, 2/2, 2/2, 1/2, 1/2.
    let positions: Vec<(usize, u64)> = p.by_position.iter().map(|(k, s)| (*k, s.correct)).collect();
    assert_eq!(positions, vec![(0, 2), (1, 2), (2, 2), (3, 1), (4, 1)]);
    // Times: every answer at 500·position ms → mean 1500 ms; 3000 ms per sequence.
    close(p.mean_answer_ms.unwrap(), 1500.0);
    close(p.mean_sequence_ms.unwrap(), 3000.0);

    let o = expert.overall.unwrap();
    assert_eq!((o.correct, o.total), (17, 20));
    close(o.low, 0.639581);
    close(o.high, 0.947631);
    assert_eq!(expert.unanswered, 1);
    let r = expert.condition(Condition::Random).unwrap().score.unwrap();
    assert_eq!((r.correct, r.total), (7, 10));
    close(r.low, 0.396778);
    close(r.high, 0.892209);
    let p = expert
        .condition(Condition::Patterned)
        .unwrap()
        .score
        .unwrap();
    close(p.high, 1.0);
    close(p.low, 0.722467);

    // The model: each distinct item once (20 images, not 40).
    let o = crnn.overall.unwrap();
    assert_eq!((o.correct, o.total), (15, 20));
    let p = crnn.condition(Condition::Patterned).unwrap().score.unwrap();
    assert_eq!((p.correct, p.total), (9, 10));
    close(p.low, 0.595850);

    // McNemar.
    let cmp = |group: Group, condition: Option<Condition>| {
        report
            .comparisons
            .iter()
            .find(|c| c.group == group && c.condition == condition)
            .unwrap()
            .test
    };
    let e = cmp(Group::Expert, None);
    assert_eq!(
        (
            e.pairs,
            e.both_right,
            e.only_first,
            e.only_second,
            e.both_wrong
        ),
        (20, 14, 3, 1, 2)
    );
    close(e.chi_square.unwrap(), 0.25);
    assert!((e.p_chi_square.unwrap() - 0.617075).abs() < 1e-5);
    close(e.p_exact, 0.625);
    assert_eq!(e.method, McNemarMethod::ExactBinomial);
    let n = cmp(Group::NonExpert, None);
    assert_eq!(
        (
            n.pairs,
            n.both_right,
            n.only_first,
            n.only_second,
            n.both_wrong
        ),
        (20, 11, 3, 4, 2)
    );
    close(n.chi_square.unwrap(), 0.0);
    close(n.p_exact, 1.0);
    let ep = cmp(Group::Expert, Some(Condition::Patterned));
    assert_eq!((ep.pairs, ep.only_first, ep.only_second), (10, 1, 0));
    close(ep.p_exact, 1.0);

    // Tables 4–5 shape: MNIST with / without patterns, ours beside the paper's.
    let t = &report.table;
    assert_eq!(t.columns.len(), 2);
    assert_eq!(t.columns[0].dataset, "MNIST");
    assert_eq!(t.columns[0].condition, Condition::Patterned);
    let labels: Vec<&str> = t.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["Non-expert", "Expert", "CRNN (crnn-run)"]);
    assert_eq!(t.rows[0].cells[0].paper, Some(93.96));
    assert_eq!(t.rows[1].cells[1].paper, Some(81.00));
    assert_eq!(t.rows[2].cells[0].paper, Some(98.33));
    assert_eq!(t.rows[2].cells[1].paper, Some(87.89));
    close(t.rows[0].cells[0].ours.unwrap().accuracy, 0.8);
    close(t.rows[1].cells[1].ours.unwrap().accuracy, 0.7);

    let text = report.to_string();
    assert!(text.contains("70.00 % [48.1, 85.5] (14/20)"), "{text}");
    assert!(text.contains("93.96"));
}

#[test]
fn the_csv_has_one_row_per_image_answer() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = sessions(dir.path());
    let csv = to_csv(&sessions, &[model()]);
    let lines: Vec<&str> = csv.lines().collect();
    // 2 sessions × 5 sequences (practice included) × 5 images, plus the header.
    assert_eq!(lines.len(), 1 + 2 * 5 * 5);
    assert_eq!(
        lines[0],
        "session,participant,group,dataset,practice,condition,item,pattern,level,position,image,\
         truth,answer,correct,time_ms,sequence_ms,timed_out,corrections,crnn-run_prediction,\
         crnn-run_correct"
    );
    // The expert's unanswered image: R2 (item 4), position 3.
    let row = lines
        .iter()
        .find(|l| l.starts_with("E1-digits-embedded,E1,Expert,MNIST,false,random,4,,4,3,"))
        .unwrap();
    assert_eq!(
        *row,
        "E1-digits-embedded,E1,Expert,MNIST,false,random,4,,4,3,402,1,,false,,3000,true,0,1,true"
    );
    // Practice rows are there, marked.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains(",true,patterned,0,"))
            .count(),
        10
    );
}
