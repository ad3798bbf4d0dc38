//! People against models on the quiz's images.
//!
//! [`analyze`] takes session files and, optionally, the models' answers on exactly the images
//! those sessions showed ([`ModelAnswers`], from [`super::scoring`]) and returns a [`QuizReport`]:
//!
//! * per group (and data set): accuracy with a 95 % Wilson interval overall, per condition
//!   (patterned / random), per occlusion level and per position in the sequence;
//! * per model: the same, on the distinct items the sessions showed (an item shown to several
//!   participants counts once);
//! * McNemar's test of each group against each model on the shared images: every image a member
//!   of the group answered is paired with the model's prediction on that same image;
//! * a table in the shape of paper A's Tables 4–5 with the published numbers beside ours.
//!
//! Counting rules: practice sequences are left out; an image left unanswered because time ran
//! out counts as wrong (it is also counted separately as unanswered).
//!
//! Over 600 lines: one report (paper A's Tables 4–5 and their figures) and the counts behind it,
//! which share the same tallies.

use super::config::Group;
use super::items::{Condition, QuizItem};
use super::session::{Response, SessionRecord};
use super::stats::{McNemar, Z95, wilson};
use crate::experiment::published::PAPER_PEOPLE;
use crate::experiment::tables::{self, Dataset, TableKind};
use crate::metrics::Tally;
use crate::model::ModelKind;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

/// The published accuracy (%) of a group of paper A.
pub fn published_people(group: &Group, condition: Condition, dataset: Dataset) -> Option<f64> {
    let g = match group {
        Group::NonExpert => 0,
        Group::Expert => 1,
        Group::Custom(_) => return None,
    };
    let c = match condition {
        Condition::Patterned => 0,
        Condition::Random => 1,
    };
    Some(PAPER_PEOPLE[g][c][dataset.paper_column()])
}

/// The published accuracy (%) of a model (Tables 1–2; the CRNN row is also Tables 4–5's).
pub fn published_model(kind: ModelKind, condition: Condition, dataset: Dataset) -> Option<f64> {
    let table = match condition {
        Condition::Patterned => TableKind::Patterned,
        Condition::Random => TableKind::Random,
    };
    tables::published(table, kind, dataset)
}

/// An accuracy with its 95 % Wilson interval (all in 0–1).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Score {
    pub correct: u64,
    pub total: u64,
    pub accuracy: f64,
    pub low: f64,
    pub high: f64,
}

impl Score {
    /// The score of a tally; `None` when it counted nothing.
    pub fn of(t: Tally) -> Option<Score> {
        let (low, high) = wilson(t.correct, t.total, Z95)?;
        Some(Score {
            correct: t.correct,
            total: t.total,
            accuracy: t.correct as f64 / t.total as f64,
            low,
            high,
        })
    }

    /// "93.33 % [78.7, 98.2] (28/30)".
    pub fn describe(&self) -> String {
        format!(
            "{:.2} % [{:.1}, {:.1}] ({}/{})",
            self.accuracy * 100.0,
            self.low * 100.0,
            self.high * 100.0,
            self.correct,
            self.total
        )
    }
}

/// Who answered: a group of people or a trained run.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Who {
    Group { group: Group },
    Model { run: String, model: String },
}

impl Who {
    /// "Non-expert", "CRNN (runs/a1-mnist-patterned-crnn)".
    pub fn label(&self) -> String {
        match self {
            Who::Group { group } => group.label().to_string(),
            Who::Model { run, model } => format!("{model} ({run})"),
        }
    }
}

/// One condition's numbers.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ConditionScores {
    pub condition: Condition,
    pub score: Option<Score>,
    /// (level, score), levels that occurred.
    pub by_level: Vec<(u8, Score)>,
    /// (position 0-based, score).
    pub by_position: Vec<(usize, Score)>,
    /// Mean milliseconds from a sequence's onset to an image's final answer (people only).
    pub mean_answer_ms: Option<f64>,
    /// Mean milliseconds per sequence (people only).
    pub mean_sequence_ms: Option<f64>,
}

/// A group's or a model's numbers on one data set.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScoreRow {
    pub who: Who,
    /// "MNIST", "EMNIST", "CIFAR-10", or the image set's name.
    pub dataset: String,
    /// Sessions counted (0 for a model).
    pub participants: usize,
    /// Images left unanswered (time ran out).
    pub unanswered: u64,
    pub overall: Option<Score>,
    pub conditions: Vec<ConditionScores>,
}

impl ScoreRow {
    /// The scores of one condition.
    pub fn condition(&self, c: Condition) -> Option<&ConditionScores> {
        self.conditions.iter().find(|x| x.condition == c)
    }
}

/// McNemar's test of one group against one model, on one condition or all.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Comparison {
    pub group: Group,
    pub dataset: String,
    pub run: String,
    pub model: String,
    /// `None`: both conditions together.
    pub condition: Option<Condition>,
    /// "first" = the group, "second" = the model.
    pub test: McNemar,
}

/// A column of the Tables 4–5 table.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TableColumn {
    pub dataset: String,
    pub condition: Condition,
}

/// A cell: ours and the published number.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TableCell {
    pub ours: Option<Score>,
    pub paper: Option<f64>,
}

/// A row: a group or a model.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TableRow {
    pub who: Who,
    pub label: String,
    pub cells: Vec<TableCell>,
}

/// People and models in the shape of paper A's Tables 4–5: columns data set × (with, without
/// patterns), rows the groups then the models.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PeopleTable {
    pub columns: Vec<TableColumn>,
    pub rows: Vec<TableRow>,
}

/// One session as the report lists it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SessionSummary {
    pub path: PathBuf,
    pub session: String,
    pub participant: String,
    pub group: Group,
    pub dataset: String,
    /// Sequences submitted (practice included) of the total.
    pub submitted: usize,
    pub total: usize,
    pub item_seed: u64,
    pub order_seed: u64,
    /// Bytes of a torn last line ignored while reading.
    pub torn_bytes: usize,
}

/// A model's answers on the quiz's images.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelAnswers {
    /// The run's name (its folder).
    pub run: String,
    /// "CRNN", "CNN-2-S", …
    pub model: String,
    pub kind: Option<ModelKind>,
    /// `(session index, item index)` → predicted class per image. Sessions the model could not
    /// score (other data) are absent.
    pub predictions: HashMap<(usize, usize), Vec<u16>>,
    /// What the reader should know about this scoring (e.g. the run was trained on other files
    /// than the quiz shows, so it may have seen some of its images).
    pub caveats: Vec<String>,
}

/// Everything the quiz analysis finds.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct QuizReport {
    pub sessions: Vec<SessionSummary>,
    /// Groups first (in [`Group`] order), then models; per data set.
    pub rows: Vec<ScoreRow>,
    pub comparisons: Vec<Comparison>,
    pub table: PeopleTable,
    /// Things the reader should know (e.g. a model that could not score some sessions).
    pub notes: Vec<String>,
}

/// The data set label of a session: the paper's column it belongs to, else the image set's name.
pub fn dataset_label(record: &SessionRecord) -> String {
    match Dataset::of(&record.header.config.preset.data) {
        Some(d) => d.title().to_string(),
        None => record.header.data_name.clone(),
    }
}

fn paper_dataset(label: &str) -> Option<Dataset> {
    Dataset::ALL.into_iter().find(|d| d.title() == label)
}

/// Per condition × (level, position) tallies and times.
#[derive(Default)]
struct Acc {
    overall: Tally,
    unanswered: u64,
    by: BTreeMap<Condition, CondAcc>,
}

#[derive(Default)]
struct CondAcc {
    tally: Tally,
    levels: BTreeMap<u8, Tally>,
    positions: BTreeMap<usize, Tally>,
    answer_ms: (f64, u64),
    sequence_ms: (f64, u64),
}

impl Acc {
    fn add(&mut self, condition: Condition, level: u8, position: usize, correct: bool) {
        self.overall.add(correct);
        let c = self.by.entry(condition).or_default();
        c.tally.add(correct);
        c.levels.entry(level).or_default().add(correct);
        c.positions.entry(position).or_default().add(correct);
    }

    fn add_response(&mut self, item: &QuizItem, r: &Response) {
        for (pos, (&truth, &answer)) in item.labels.iter().zip(&r.answers).enumerate() {
            self.add(item.condition, item.levels[pos], pos, answer == Some(truth));
            if answer.is_none() {
                self.unanswered += 1;
            }
        }
        let c = self.by.entry(item.condition).or_default();
        for ms in r.answer_ms.iter().flatten() {
            c.answer_ms.0 += ms;
            c.answer_ms.1 += 1;
        }
        c.sequence_ms.0 += r.sequence_ms;
        c.sequence_ms.1 += 1;
    }

    fn row(self, who: Who, dataset: &str, participants: usize) -> ScoreRow {
        let mean = |(sum, n): (f64, u64)| (n > 0).then(|| sum / n as f64);
        ScoreRow {
            who,
            dataset: dataset.to_string(),
            participants,
            unanswered: self.unanswered,
            overall: Score::of(self.overall),
            conditions: self
                .by
                .into_iter()
                .map(|(condition, c)| ConditionScores {
                    condition,
                    score: Score::of(c.tally),
                    by_level: c
                        .levels
                        .into_iter()
                        .filter_map(|(l, t)| Some((l, Score::of(t)?)))
                        .collect(),
                    by_position: c
                        .positions
                        .into_iter()
                        .filter_map(|(p, t)| Some((p, Score::of(t)?)))
                        .collect(),
                    mean_answer_ms: mean(c.answer_ms),
                    mean_sequence_ms: mean(c.sequence_ms),
                })
                .collect(),
        }
    }
}

/// Analyses `sessions` (and the `models`' answers on their images).
pub fn analyze(sessions: &[SessionRecord], models: &[ModelAnswers]) -> QuizReport {
    let mut report = QuizReport::default();
    let labels: Vec<String> = sessions.iter().map(dataset_label).collect();
    for (s, label) in sessions.iter().zip(&labels) {
        let (submitted, total) = s.progress();
        let c = &s.header.config;
        report.sessions.push(SessionSummary {
            path: s.path.clone(),
            session: s.header.session.clone(),
            participant: c.participant.clone(),
            group: c.group.clone(),
            dataset: label.clone(),
            submitted,
            total,
            item_seed: c.item_seed,
            order_seed: c.order_seed,
            torn_bytes: s.torn_bytes,
        });
        if s.torn_bytes > 0 {
            report.notes.push(format!(
                "{}: a partially written last line ({} bytes) was ignored",
                s.path.display(),
                s.torn_bytes
            ));
        }
    }
    let datasets: BTreeSet<&String> = labels.iter().collect();
    let groups: BTreeSet<&Group> = sessions.iter().map(|s| &s.header.config.group).collect();

    // People.
    for &dataset in &datasets {
        for &group in &groups {
            let members: Vec<usize> = (0..sessions.len())
                .filter(|&i| &labels[i] == dataset && &sessions[i].header.config.group == group)
                .collect();
            if members.is_empty() {
                continue;
            }
            let mut acc = Acc::default();
            for &i in &members {
                for (item, r) in sessions[i].trials() {
                    acc.add_response(item, r);
                }
            }
            report.rows.push(acc.row(
                Who::Group {
                    group: group.clone(),
                },
                dataset,
                members.len(),
            ));
        }
    }

    // Models: each distinct item once per data set.
    for m in models {
        for &dataset in &datasets {
            let mut acc = Acc::default();
            let mut seen = BTreeSet::new();
            for (i, s) in sessions.iter().enumerate() {
                if &labels[i] != dataset {
                    continue;
                }
                for (idx, item) in s.header.items.iter().enumerate() {
                    if item.practice || !s.responses.iter().any(|r| r.item == idx) {
                        continue;
                    }
                    let Some(pred) = m.predictions.get(&(i, idx)) else {
                        continue;
                    };
                    if !seen.insert(item.key()) {
                        continue;
                    }
                    for (pos, (&truth, &p)) in item.labels.iter().zip(pred).enumerate() {
                        acc.add(item.condition, item.levels[pos], pos, p == truth);
                    }
                }
            }
            if seen.is_empty() {
                continue;
            }
            report.rows.push(acc.row(
                Who::Model {
                    run: m.run.clone(),
                    model: m.model.clone(),
                },
                dataset,
                0,
            ));
        }
        report.notes.extend(m.caveats.iter().cloned());
        let missing = sessions
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                s.trials().next().is_some() && !m.predictions.keys().any(|&(si, _)| si == *i)
            })
            .count();
        if missing > 0 {
            report.notes.push(format!(
                "{} ({}) did not score {missing} of the sessions (other data)",
                m.run, m.model
            ));
        }
    }

    // McNemar: each group against each model, on the images the group answered.
    for &dataset in &datasets {
        for &group in &groups {
            for m in models {
                let mut pairs: BTreeMap<Option<Condition>, Vec<(bool, bool)>> = BTreeMap::new();
                for (i, s) in sessions.iter().enumerate() {
                    if &labels[i] != dataset || &s.header.config.group != group {
                        continue;
                    }
                    for (item, r) in s.trials() {
                        let Some(pred) = m.predictions.get(&(i, r.item)) else {
                            continue;
                        };
                        for ((&truth, &answer), &p) in item.labels.iter().zip(&r.answers).zip(pred)
                        {
                            let pair = (answer == Some(truth), p == truth);
                            pairs.entry(None).or_default().push(pair);
                            pairs.entry(Some(item.condition)).or_default().push(pair);
                        }
                    }
                }
                for (condition, p) in pairs {
                    report.comparisons.push(Comparison {
                        group: group.clone(),
                        dataset: dataset.clone(),
                        run: m.run.clone(),
                        model: m.model.clone(),
                        condition,
                        test: McNemar::from_pairs(p),
                    });
                }
            }
        }
    }

    report.table = people_table(&report.rows, models);
    report
}

/// The Tables 4–5 arrangement of the rows.
fn people_table(rows: &[ScoreRow], models: &[ModelAnswers]) -> PeopleTable {
    let datasets: BTreeSet<&String> = rows.iter().map(|r| &r.dataset).collect();
    // Paper order for the paper's data sets, then the others by name.
    let mut datasets: Vec<&String> = datasets.into_iter().collect();
    datasets.sort_by_key(|d| (paper_dataset(d).map_or(3, |p| p as usize), (*d).clone()));
    let columns: Vec<TableColumn> = datasets
        .iter()
        .flat_map(|d| {
            Condition::ALL.map(|condition| TableColumn {
                dataset: (*d).clone(),
                condition,
            })
        })
        .collect();
    let mut whos: Vec<&Who> = Vec::new();
    for r in rows {
        if !whos.contains(&&r.who) {
            whos.push(&r.who);
        }
    }
    let kind_of = |run: &str| models.iter().find(|m| m.run == run).and_then(|m| m.kind);
    let table_rows = whos
        .into_iter()
        .map(|who| TableRow {
            who: who.clone(),
            label: who.label(),
            cells: columns
                .iter()
                .map(|col| {
                    let ours = rows
                        .iter()
                        .find(|r| &r.who == who && r.dataset == col.dataset)
                        .and_then(|r| r.condition(col.condition))
                        .and_then(|c| c.score);
                    let paper = paper_dataset(&col.dataset).and_then(|d| match who {
                        Who::Group { group } => published_people(group, col.condition, d),
                        Who::Model { run, .. } => {
                            kind_of(run).and_then(|k| published_model(k, col.condition, d))
                        }
                    });
                    TableCell { ours, paper }
                })
                .collect(),
        })
        .collect();
    PeopleTable {
        columns,
        rows: table_rows,
    }
}

impl fmt::Display for QuizReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sessions ({})", self.sessions.len())?;
        for s in &self.sessions {
            writeln!(
                f,
                "  {:<28} {:<12} {:<10} {:<9} {:>3}/{:<3} sequences  item seed {}, order seed {}",
                s.session,
                s.participant,
                s.group.label(),
                s.dataset,
                s.submitted,
                s.total,
                s.item_seed,
                s.order_seed
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "accuracy (%) in the shape of paper A's Tables 4–5: ours [95 % Wilson interval] | paper"
        )?;
        let t = &self.table;
        write!(f, "  {:<34}", "")?;
        for c in &t.columns {
            write!(
                f,
                "  {:>36}",
                format!("{} {}", c.dataset, c.condition.label())
            )?;
        }
        writeln!(f)?;
        for row in &t.rows {
            write!(f, "  {:<34}", truncate(&row.label, 34))?;
            for cell in &row.cells {
                let ours = cell.ours.map_or("—".to_string(), |s| {
                    format!(
                        "{:.2} [{:.1}, {:.1}] n={}",
                        s.accuracy * 100.0,
                        s.low * 100.0,
                        s.high * 100.0,
                        s.total
                    )
                });
                let paper = cell.paper.map_or("—".to_string(), |p| format!("{p:.2}"));
                write!(f, "  {:>36}", format!("{ours} | {paper}"))?;
            }
            writeln!(f)?;
        }
        for row in &self.rows {
            writeln!(f)?;
            let who = match &row.who {
                Who::Group { .. } => format!(
                    "{} ({} participant{})",
                    row.who.label(),
                    row.participants,
                    if row.participants == 1 { "" } else { "s" }
                ),
                Who::Model { .. } => row.who.label(),
            };
            writeln!(f, "{who} on {}", row.dataset)?;
            if let Some(s) = row.overall {
                writeln!(f, "  overall            {}", s.describe())?;
            }
            if row.unanswered > 0 {
                writeln!(
                    f,
                    "  unanswered         {} image{} (time ran out; counted as wrong)",
                    row.unanswered,
                    if row.unanswered == 1 { "" } else { "s" }
                )?;
            }
            for c in &row.conditions {
                if let Some(s) = c.score {
                    writeln!(f, "  {:<18} {}", c.condition.label(), s.describe())?;
                }
                let levels: Vec<String> = c
                    .by_level
                    .iter()
                    .map(|(l, s)| format!("L{l} {:.1} (n={})", s.accuracy * 100.0, s.total))
                    .collect();
                writeln!(f, "    per level        {}", levels.join("  "))?;
                let positions: Vec<String> = c
                    .by_position
                    .iter()
                    .map(|(p, s)| format!("{} {:.1}", p + 1, s.accuracy * 100.0))
                    .collect();
                writeln!(f, "    per position     {}", positions.join("  "))?;
                if let (Some(a), Some(q)) = (c.mean_answer_ms, c.mean_sequence_ms) {
                    writeln!(
                        f,
                        "    mean time        {:.0} ms to an answer, {:.0} ms per sequence",
                        a, q
                    )?;
                }
            }
        }
        if !self.comparisons.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "McNemar: group vs model on the same images (b = group right & model wrong, \
                 c = group wrong & model right; exact binomial p when b + c < 25, else χ² with \
                 continuity correction)"
            )?;
            for c in &self.comparisons {
                let t = &c.test;
                writeln!(
                    f,
                    "  {:<12} vs {:<28} {:<9} {:<17} pairs {:>5}  b {:>4}  c {:>4}  χ² {:>7}  p(χ²) {:>8}  p(exact) {:>8}  → p = {}",
                    c.group.label(),
                    truncate(&format!("{} ({})", c.model, c.run), 28),
                    c.dataset,
                    c.condition.map_or("all", |x| x.label()),
                    t.pairs,
                    t.only_first,
                    t.only_second,
                    t.chi_square.map_or("—".into(), |x| format!("{x:.3}")),
                    t.p_chi_square.map_or("—".into(), format_p),
                    format_p(t.p_exact),
                    format_p(t.p())
                )?;
            }
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

/// A p-value for reading: four decimals, or scientific notation below 0.0001.
pub fn format_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
