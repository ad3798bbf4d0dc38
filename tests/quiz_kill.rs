//! A real `occlab quiz` process, killed with SIGKILL in the middle of a session, then resumed:
//! every sequence submitted before the kill is in the file exactly once, and the session goes on
//! at the next sequence. The second test kills the process at many moments while it is saving
//! a stream of answers (so some kills land inside a write or an fsync) and checks the same after
//! every kill.

#![cfg(unix)]

use occlab::quiz::session::SessionRecord;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PRESET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/presets/quiz/digits-embedded.toml"
);

/// Fails clearly when the binary at `CARGO_BIN_EXE_occlab` is not this checkout's (a build in
/// another checkout sharing the target folder can replace it).
fn check_binary_has_quiz() {
    let out = Command::new(env!("CARGO_BIN_EXE_occlab"))
        .args(["quiz", "--help"])
        .output()
        .expect("running occlab");
    assert!(
        out.status.success(),
        "{} has no `quiz` command: not the binary of this checkout (another build sharing the \
         target folder replaced it?): {}",
        env!("CARGO_BIN_EXE_occlab"),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `occlab quiz` with its stdin, and its stdout collected by a thread.
struct Quiz {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
    /// Collects stdout; joined after the process exits so that no output is missed.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Quiz {
    fn start(dir: &Path, participant: &str) -> Quiz {
        Self::start_with(dir, participant, 6)
    }

    /// `per_condition` patterned and as many random sequences, plus two practice ones.
    fn start_with(dir: &Path, participant: &str, per_condition: usize) -> Quiz {
        check_binary_has_quiz();
        let n = per_condition.to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_occlab"))
            .args([
                "quiz",
                "--participant",
                participant,
                "--group",
                "Expert",
                "--preset",
                PRESET,
            ])
            .arg("--out")
            .arg(dir)
            .args([
                "--patterned",
                &n,
                "--random",
                &n,
                "--practice",
                "2",
                "--no-images",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting occlab quiz");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Quiz {
            child,
            stdin,
            out,
            reader: Some(reader),
        }
    }

    /// Waits for the process to exit by itself and for its last output to be collected.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        status
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits until the process prompts for answers (it has loaded and opened the session).
    fn wait_for_prompt(&self) {
        wait_for("the first prompt", Duration::from_secs(120), || {
            self.output().contains("answers for 5 images>")
        });
    }

    fn send(&mut self, lines: &[String]) {
        let stdin = self.stdin.as_mut().unwrap();
        for l in lines {
            stdin.write_all(l.as_bytes()).unwrap();
            stdin.write_all(b"\n").unwrap();
        }
        stdin.flush().unwrap();
    }

    /// SIGKILL (what `Child::kill` sends on Unix); checks that the signal is what ended it.
    fn kill(self) {
        assert!(
            self.kill_or_finished(),
            "the process had exited before the kill"
        );
    }

    /// SIGKILL unless the process has already finished by itself: true when the signal ended
    /// it, false when it had exited successfully before.
    fn kill_or_finished(mut self) -> bool {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        if status.signal() == Some(9) {
            return true;
        }
        assert!(status.success(), "{status:?}");
        false
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn session_file(dir: &Path, participant: &str) -> PathBuf {
    dir.join(format!("{participant}-digits-embedded.jsonl"))
}

/// The line the test answers item `k` with: the truth, except the first image of every third
/// item (so that the file's answers prove which line they came from).
fn answer_line(record: &SessionRecord, k: usize) -> (String, Vec<Option<u16>>) {
    let item = &record.header.items[k];
    let mut answers: Vec<u16> = item.labels.clone();
    if k.is_multiple_of(3) {
        answers[0] = (answers[0] + 1) % 10;
    }
    let line = answers
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    (line, answers.into_iter().map(Some).collect())
}

/// Every response is item 0, 1, 2, … in order, once each, with the answers the test sent.
fn check_consistent(record: &SessionRecord) {
    for (k, r) in record.responses.iter().enumerate() {
        assert_eq!(r.item, k, "responses out of order or duplicated");
        assert_eq!(
            r.answers,
            answer_line(record, k).1,
            "item {k}: answers differ from the line sent"
        );
    }
    // And in the raw file: one response line per item.
    let text = std::fs::read_to_string(&record.path).unwrap();
    for k in 0..record.responses.len() {
        let n = text
            .matches(&format!("\"kind\":\"response\",\"item\":{k},"))
            .count();
        assert_eq!(n, 1, "item {k} appears {n} times");
    }
}

#[test]
fn a_session_killed_mid_way_resumes_at_the_next_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "K1");
    let mut quiz = Quiz::start(dir.path(), "K1");
    quiz.wait_for_prompt();
    let header = SessionRecord::read(&path).unwrap();
    let total = header.header.items.len();
    assert_eq!(total, 14);
    let lines: Vec<String> = (0..total).map(|k| answer_line(&header, k).0).collect();

    // Five sequences (two practice, three trials), then the process waits for the sixth.
    quiz.send(&lines[..5]);
    wait_for("five saved sequences", Duration::from_secs(60), || {
        SessionRecord::read(&path).is_ok_and(|r| r.responses.len() == 5)
    });
    wait_for("the sixth prompt", Duration::from_secs(60), || {
        quiz.output().contains("saved (5 of 14)")
    });
    assert!(
        quiz.output().contains("practice feedback"),
        "{}",
        quiz.output()
    );
    quiz.kill();

    let after_kill = SessionRecord::read(&path).unwrap();
    assert_eq!(after_kill.torn_bytes, 0);
    assert_eq!(after_kill.responses.len(), 5);
    assert_eq!(after_kill.header, header.header);
    check_consistent(&after_kill);

    // The same command again: resumed at sequence 6.
    let mut quiz = Quiz::start(dir.path(), "K1");
    quiz.wait_for_prompt();
    assert!(
        quiz.output()
            .contains("Resuming session K1-digits-embedded at sequence 6 of 14 (5 saved)"),
        "{}",
        quiz.output()
    );
    quiz.send(&lines[5..]);
    drop(quiz.stdin.take());
    let status = quiz.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(
        quiz.output()
            .contains("Session complete: 14 sequences saved"),
        "{}",
        quiz.output()
    );

    let done = SessionRecord::read(&path).unwrap();
    assert_eq!(done.header, header.header, "the header never changes");
    assert_eq!(done.responses.len(), 14);
    check_consistent(&done);
    // What was saved before the kill is still exactly there.
    assert_eq!(done.responses[..5], after_kill.responses[..]);
}

#[test]
fn killed_at_many_moments_nothing_is_lost_or_duplicated() {
    const PER_CONDITION: usize = 20;
    const TOTAL: usize = 2 * PER_CONDITION + 2;
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "K2");
    let mut saved = Vec::new();
    let mut torn_seen = 0;
    // Each round sends every remaining answer at once and kills the process a little later:
    // from at once to a few milliseconds into the stream of saves (each one a write + fsync).
    for round in 0..40u64 {
        let mut quiz = Quiz::start_with(dir.path(), "K2", PER_CONDITION);
        quiz.wait_for_prompt();
        let before = SessionRecord::read(&path).unwrap();
        if before.torn_bytes > 0 {
            torn_seen += 1;
        }
        let next = before.responses.len();
        if next > 0 {
            assert!(
                quiz.output()
                    .contains(&format!("at sequence {} of {TOTAL}", next + 1)),
                "{}",
                quiz.output()
            );
        }
        let lines: Vec<String> = (next..TOTAL).map(|k| answer_line(&before, k).0).collect();
        quiz.send(&lines);
        std::thread::sleep(Duration::from_micros(round * 150));
        let killed = quiz.kill_or_finished();
        let after = SessionRecord::read(&path).unwrap();
        check_consistent(&after);
        // Nothing saved earlier is lost.
        assert!(after.responses.len() >= next);
        assert_eq!(after.responses[..next], before.responses[..]);
        saved.push(after.responses.len());
        if !killed {
            assert!(after.is_finished(), "exited without finishing");
        }
        if after.is_finished() {
            break;
        }
    }
    println!(
        "sequences saved after each kill: {saved:?} of {TOTAL} (torn last lines cut off on resume: \
         {torn_seen})"
    );
    assert!(
        saved.len() >= 3,
        "too few kills landed inside the session: {saved:?}"
    );

    // Finish without a kill.
    let mut quiz = Quiz::start_with(dir.path(), "K2", PER_CONDITION);
    let before = SessionRecord::read(&path).unwrap();
    let next = before.responses.len();
    if next < TOTAL {
        quiz.wait_for_prompt();
        let lines: Vec<String> = (next..TOTAL).map(|k| answer_line(&before, k).0).collect();
        quiz.send(&lines);
    }
    drop(quiz.stdin.take());
    assert!(quiz.wait_exit().success());
    let done = SessionRecord::read(&path).unwrap();
    assert_eq!(done.responses.len(), TOTAL);
    assert_eq!(done.torn_bytes, 0);
    check_consistent(&done);
}
