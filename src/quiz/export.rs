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
use crate::experiment::tables::csv_field;
use std::path::Path;

/// The CSV text.
pub fn to_csv(sessions: &[SessionRecord], models: &[ModelAnswers]) -> String {
    let mut out = String::new();
    let mut head: Vec<String> = [
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for m in models {
        head.push(format!("{}_prediction", m.run));
        head.push(format!("{}_correct", m.run));
    }
    push_row(&mut out, &head);
    for (si, s) in sessions.iter().enumerate() {
        let h = &s.header;
        let dataset = dataset_label(s);
        for r in &s.responses {
            let Some(item) = h.items.get(r.item) else {
                continue;
            };
            for pos in 0..item.len() {
                let truth = item.labels[pos];
                let answer = r.answers.get(pos).copied().flatten();
                let mut row = vec![
                    h.session.clone(),
                    h.config.participant.clone(),
                    h.config.group.label().to_string(),
                    dataset.clone(),
                    item.practice.to_string(),
                    item.condition.slug().to_string(),
                    r.item.to_string(),
                    item.pattern.clone().unwrap_or_default(),
                    item.levels[pos].to_string(),
                    (pos + 1).to_string(),
                    item.images[pos].to_string(),
                    h.class_name(truth),
                    answer.map(|a| h.class_name(a)).unwrap_or_default(),
                    (answer == Some(truth)).to_string(),
                    r.answer_ms
                        .get(pos)
                        .copied()
                        .flatten()
                        .map_or(String::new(), |ms| format!("{ms:.0}")),
                    format!("{:.0}", r.sequence_ms),
                    r.timed_out.to_string(),
                    r.corrections.to_string(),
                ];
                for m in models {
                    match m.predictions.get(&(si, r.item)).and_then(|p| p.get(pos)) {
                        Some(&p) => {
                            row.push(h.class_name(p));
                            row.push((p == truth).to_string());
                        }
                        None => {
                            row.push(String::new());
                            row.push(String::new());
                        }
                    }
                }
                push_row(&mut out, &row);
            }
        }
    }
    out
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

fn push_row(out: &mut String, fields: &[String]) {
    let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&quoted.join(","));
    out.push('\n');
}
