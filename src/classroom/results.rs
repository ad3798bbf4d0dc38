//! The class as it stands: who joined, how far each one is, and the class against the chosen
//! runs on the same images (the quiz analysis of [`crate::quiz::analysis`]: Wilson intervals,
//! patterned vs random, per occlusion level, the table in the shape of Tables 4–5), plus the
//! per-answer CSV. The teacher page and the workbench show the same [`ClassView`].

use super::state::ClassState;
use crate::quiz::analysis::{QuizReport, analyze};
use crate::quiz::export::to_csv;
use crossbeam_channel::Receiver;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One participant as the teacher sees them (no answers).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ParticipantView {
    pub participant: String,
    pub name: String,
    /// Sequences saved (practice included) of the total.
    pub submitted: usize,
    pub total: usize,
    pub finished: bool,
}

/// The class at one moment.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClassView {
    /// [`ClassState::version`] it was computed at.
    pub version: u64,
    pub join_code: String,
    pub participants: Vec<ParticipantView>,
    /// Everyone's analysed answers against the runs (as `occlab quiz-report` gives it).
    pub report: QuizReport,
    /// The report as text (the Tables 4–5 shape at its end).
    pub report_text: String,
}

impl ClassView {
    /// Participants who answered every sequence.
    pub fn finished(&self) -> usize {
        self.participants.iter().filter(|p| p.finished).count()
    }
}

/// Computes the view of the class now.
pub fn view(state: &ClassState) -> ClassView {
    let version = state.version();
    let snapshot = state.snapshot();
    let participants = snapshot
        .iter()
        .map(|(participant, name, record)| {
            let (submitted, total) = record.progress();
            ParticipantView {
                participant: participant.clone(),
                name: name.clone(),
                submitted,
                total,
                finished: record.is_finished(),
            }
        })
        .collect();
    let records: Vec<_> = snapshot.into_iter().map(|(_, _, r)| r).collect();
    let models = state.model_answers(&records);
    let report = analyze(&records, &models);
    ClassView {
        version,
        join_code: state.join_code().to_string(),
        participants,
        report_text: report.to_string(),
        report,
    }
}

/// The per-answer CSV of every participant (with the runs' predictions), as `occlab
/// quiz-report --csv` writes it.
pub fn csv(state: &ClassState) -> String {
    let records: Vec<_> = state.snapshot().into_iter().map(|(_, _, r)| r).collect();
    let models = state.model_answers(&records);
    to_csv(&records, &models)
}

/// A thread that recomputes the [`ClassView`] whenever the class changes (checked four times a
/// second) and sends it, calling `notify` after each (the workbench passes its repaint).
/// It ends when the receiver is dropped or `stop` is set.
pub struct Watcher {
    pub views: Receiver<Arc<ClassView>>,
    stop: Arc<AtomicBool>,
}

impl Watcher {
    pub fn spawn(state: Arc<ClassState>, notify: Arc<dyn Fn() + Send + Sync>) -> Watcher {
        let (tx, rx) = crossbeam_channel::bounded(2);
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let _ = std::thread::Builder::new()
            .name("class-results".into())
            .spawn(move || {
                let mut seen = 0;
                while !stop2.load(Ordering::Acquire) {
                    let v = state.version();
                    if v != seen {
                        // A full channel: the receiver has not caught up; try again next tick.
                        match tx.try_send(Arc::new(view(&state))) {
                            Ok(()) => {
                                seen = v;
                                notify();
                            }
                            Err(crossbeam_channel::TrySendError::Full(_)) => notify(),
                            Err(crossbeam_channel::TrySendError::Disconnected(_)) => return,
                        }
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            });
        Watcher { views: rx, stop }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}
