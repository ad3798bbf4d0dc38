//! The terminal front end driven in-process: instructions, character art, a bad line asked
//! again, practice feedback, the end of the input pausing the session, resuming, and the time
//! limit.

use occlab::experiment::preset::Preset;
use occlab::quiz::config::{Group, QuizConfig};
use occlab::quiz::items::Stimuli;
use occlab::quiz::session::{self, SessionRecord};
use occlab::quiz::terminal::{TerminalOptions, TerminalOutcome, run};
use std::io::Cursor;
use std::path::Path;

fn config(participant: &str) -> QuizConfig {
    let preset = Preset::parse(
        include_str!("../presets/quiz/digits-embedded.toml"),
        Path::new("digits-embedded.toml"),
    )
    .unwrap();
    let mut c = QuizConfig::new(participant, Group::Custom("teachers".into()), preset);
    c.patterned = 2;
    c.random = 2;
    c.practice = 1;
    c
}

/// Runs the terminal session on the lines of `input`; its outcome and what it printed.
fn answer(
    s: &mut session::Session,
    stimuli: &Stimuli,
    input: String,
    show_images: bool,
) -> (TerminalOutcome, String) {
    let mut out = Vec::new();
    let options = TerminalOptions { show_images };
    let outcome = run(s, stimuli, &mut Cursor::new(input), &mut out, options).unwrap();
    (outcome, String::from_utf8(out).unwrap())
}

fn line(labels: &[u16]) -> String {
    labels.iter().map(|l| l.to_string()).collect::<String>()
}

#[test]
fn a_terminal_session_pauses_at_the_end_of_input_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let c = config("T1");
    let stimuli = Stimuli::load(&c, None).unwrap();
    let (mut s, _) = session::start(dir.path(), &c, &stimuli).unwrap();
    let items = s.header().items.clone();
    // Practice with one mistake, a bad line, then one trial; the input ends.
    let mut wrong = items[0].labels.clone();
    wrong[1] = (wrong[1] + 1) % 10;
    let input = format!("{}\n\n1 2 3\n{}\n", line(&wrong), line(&items[1].labels));
    let (outcome, text) = answer(&mut s, &stimuli, input, true);
    assert_eq!(
        outcome,
        TerminalOutcome::Paused {
            submitted: 2,
            total: 5
        }
    );
    assert!(
        text.contains("You will see 4 sequences of 5 images each"),
        "{text}"
    );
    assert!(
        text.contains("[1]") && text.chars().any(|c| "#%@".contains(c)),
        "no art:\n{text}"
    );
    assert!(text.contains("practice feedback: 4 of 5 right"), "{text}");
    assert!(
        text.contains(&format!("✗ ({})", items[0].labels[1])),
        "{text}"
    );
    assert!(text.contains("3 answers for 5 images"), "{text}");
    assert!(text.contains("Paused: 2 of 5 sequences saved"), "{text}");
    drop(s);

    let (mut s, recovery, stimuli) =
        session::resume(&dir.path().join("T1-digits-embedded.jsonl"), None).unwrap();
    assert_eq!(recovery, None);
    let input: String = items[2..]
        .iter()
        .map(|i| format!("{}\n", line(&i.labels)))
        .collect();
    let (outcome, text) = answer(&mut s, &stimuli, input, false);
    assert_eq!(outcome, TerminalOutcome::Finished);
    assert!(text.contains("Resuming session T1-digits-embedded at sequence 3 of 5 (2 saved)"));
    assert!(
        !text.chars().any(|c| "#%@".contains(c)),
        "images printed although turned off"
    );
    let rec = SessionRecord::read(s.path()).unwrap();
    assert_eq!(rec.responses.len(), 5);
    assert_eq!(rec.header.config.group, Group::Custom("teachers".into()));
    assert_eq!(rec.responses[0].answers[1], Some(wrong[1]));
    for r in &rec.responses[1..] {
        let item = &rec.header.items[r.item];
        assert_eq!(
            r.answers,
            item.labels.iter().map(|&l| Some(l)).collect::<Vec<_>>()
        );
    }
}

#[test]
fn answers_after_the_time_limit_are_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config("T2");
    c.practice = 0;
    c.time_limit_seconds = Some(0.001);
    let stimuli = Stimuli::load(&c, None).unwrap();
    let (mut s, _) = session::start(dir.path(), &c, &stimuli).unwrap();
    let items = s.header().items.clone();
    let input: String = items
        .iter()
        .map(|i| format!("{}\n", line(&i.labels)))
        .collect();
    // The answers are read after the limit has passed (each line needs more than 1 ms to come).
    struct Slow(Cursor<String>);
    impl std::io::Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl std::io::BufRead for Slow {
        fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
            std::thread::sleep(std::time::Duration::from_millis(5));
            self.0.fill_buf()
        }
        fn consume(&mut self, n: usize) {
            self.0.consume(n)
        }
    }
    let mut out = Vec::new();
    let outcome = run(
        &mut s,
        &stimuli,
        &mut Slow(Cursor::new(input)),
        &mut out,
        TerminalOptions { show_images: false },
    )
    .unwrap();
    assert_eq!(outcome, TerminalOutcome::Finished);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("Time is up"), "{text}");
    let rec = SessionRecord::read(s.path()).unwrap();
    assert_eq!(rec.responses.len(), 4);
    for r in &rec.responses {
        assert!(r.timed_out);
        assert!(r.answers.iter().all(Option::is_none));
        assert_eq!(r.sequence_ms, 1.0);
    }
}
