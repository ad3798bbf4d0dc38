//! CSV export: one row per image answer (practice included, marked), with the models'
//! predictions on the same image where runs were scored.
//!
//! Columns: `session, participant, group, dataset, practice, condition, item, pattern, level,
//! position, image, truth, answer, correct, time_ms, sequence_ms, timed_out, corrections`, then
//! per model `<run>_prediction, <run>_correct`. `position` is 1-based; `answer` is empty where time
//! ran out; `time_ms` is the time from the sequence's onset to the image's final answer.

use super::QuizError;
use super::analysis::{ModelAnswers, dataset_label};
use super::session::SessionRecord;
use std::path::Path;

/// The fixed columns, before the models' two each.
const HEADER: [&str; 18] = [
    "session",
    "participant",
    "group",
    "dataset",
    "practice",
    "condition",
    "item",
    "pattern",
    "level",
    "position",
    "image",
    "truth",
    "answer",
    "correct",
    "time_ms",
    "sequence_ms",
    "timed_out",
    "corrections",
];

/// One image answer (a row; the fields in [`HEADER`]'s order), then per model its prediction and
/// whether it is right (empty where the model was not scored on the image).
#[derive(serde::Serialize)]
struct AnswerRow<'a> {
    session: &'a str,
    participant: &'a str,
    group: &'a str,
    dataset: &'a str,
    practice: bool,
    condition: &'a str,
    item: usize,
    pattern: &'a str,
    level: u8,
    position: usize,
    image: u32,
    truth: String,
    answer: Option<String>,
    correct: bool,
    /// Whole milliseconds.
    time_ms: Option<String>,
    sequence_ms: String,
    timed_out: bool,
    corrections: u32,
    models: Vec<(Option<String>, Option<bool>)>,
}

/// The CSV text.
pub fn to_csv(sessions: &[SessionRecord], models: &[ModelAnswers]) -> String {
    let mut header: Vec<String> = HEADER.iter().map(|s| s.to_string()).collect();
    for m in models {
        header.push(format!("{}_prediction", m.run));
        header.push(format!("{}_correct", m.run));
    }
    let datasets: Vec<String> = sessions.iter().map(dataset_label).collect();
    let mut rows = Vec::new();
    for (si, s) in sessions.iter().enumerate() {
        let h = &s.header;
        let dataset = &datasets[si];
        for r in &s.responses {
            let Some(item) = h.items.get(r.item) else {
                continue;
            };
            for pos in 0..item.len() {
                let truth = item.labels[pos];
                let answer = r.answers.get(pos).copied().flatten();
                rows.push(AnswerRow {
                    session: &h.session,
                    participant: &h.config.participant,
                    group: h.config.group.label(),
                    dataset,
                    practice: item.practice,
                    condition: item.condition.slug(),
                    item: r.item,
                    pattern: item.pattern.as_deref().unwrap_or_default(),
                    level: item.levels[pos],
                    position: pos + 1,
                    image: item.images[pos],
                    truth: h.class_name(truth),
                    answer: answer.map(|a| h.class_name(a)),
                    correct: answer == Some(truth),
                    time_ms: r
                        .answer_ms
                        .get(pos)
                        .copied()
                        .flatten()
                        .map(|ms| format!("{ms:.0}")),
                    sequence_ms: format!("{:.0}", r.sequence_ms),
                    timed_out: r.timed_out,
                    corrections: r.corrections,
                    models: models
                        .iter()
                        .map(
                            |m| match m.predictions.get(&(si, r.item)).and_then(|p| p.get(pos)) {
                                Some(&p) => (Some(h.class_name(p)), Some(p == truth)),
                                None => (None, None),
                            },
                        )
                        .collect(),
                });
            }
        }
    }
    crate::csvfile::text(header, rows)
}

/// Writes the CSV to `path`.
pub fn write_csv(
    path: &Path,
    sessions: &[SessionRecord],
    models: &[ModelAnswers],
) -> Result<(), QuizError> {
    std::fs::write(path, to_csv(sessions, models)).map_err(|source| QuizError::Io {
        path: path.to_path_buf(),
        source,
    })
}
