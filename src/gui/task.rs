//! The one way the GUI runs one-shot background work (loading a data set, preparing sequences,
//! scanning a runs folder, building a showcase, scoring a quiz, a file dialog): [`Task::spawn`]
//! runs a closure on its own thread; the UI thread asks [`Task::poll`] each frame, which never
//! blocks. When the closure returns, the thread requests a repaint, so the result is drawn at once.
//!
//! Why not the `poll-promise` crate (egui's demo uses it): its `ready()` panics on the UI thread
//! when the worker panics, and it does not wake egui; this type turns a lost worker into
//! [`TaskLost`] (shown in place like any error) and requests the repaint itself. Long jobs that
//! report progress (training, reproduce, the quiz server) keep their own event channels.

use crossbeam_channel::{Receiver, TryRecvError, bounded};
use std::time::{Duration, Instant};

/// A one-shot job's result, to be taken by the UI thread.
pub struct Task<T> {
    rx: Receiver<T>,
    started: Instant,
}

/// The worker thread ended without a result (it panicked, or could not be started).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TaskLost(pub String);

impl<T: Send + 'static> Task<T> {
    /// Runs `job` on a thread named `occlab-<name>`; `ctx` is asked to repaint when it is done.
    pub fn spawn(
        ctx: &egui::Context,
        name: &str,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Self, TaskLost> {
        let (tx, rx) = bounded(1);
        let ctx = ctx.clone();
        std::thread::Builder::new()
            .name(format!("occlab-{name}"))
            .spawn(move || {
                // The receiver is gone when the task was dropped (replaced or abandoned).
                let _ = tx.send(job());
                // A repaint 1 ms from now: at once for a person; for egui_kittest's
                // `Harness::run` a scheduled, not an immediate, repaint, so a result arriving
                // mid-run does not count as the UI failing to settle (tests wait for it).
                ctx.request_repaint_after(Duration::from_millis(1));
            })
            .map_err(|e| TaskLost(format!("cannot start the {name} thread: {e}")))?;
        Ok(Task {
            rx,
            started: Instant::now(),
        })
    }
}

impl<T> Task<T> {
    /// The result, once it has arrived; `None` while the job runs. After `Some`, the task is
    /// spent: drop it.
    pub fn poll(&self) -> Option<Result<T, TaskLost>> {
        match self.rx.try_recv() {
            Ok(value) => Some(Ok(value)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(TaskLost(
                "the background thread stopped without a result".into(),
            ))),
        }
    }

    /// How long the job has run.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Blocks until the result arrives, at most `timeout`. For tests and command-line tools;
    /// the UI never calls it.
    pub fn wait(&self, timeout: Duration) -> Option<Result<T, TaskLost>> {
        match self.rx.recv_timeout(timeout) {
            Ok(value) => Some(Ok(value)),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Some(Err(TaskLost(
                "the background thread stopped without a result".into(),
            ))),
        }
    }
}

/// Takes a finished task's result out of `slot`, leaving `None`; `None` while it runs or when
/// there is no task.
pub fn take_done<T>(slot: &mut Option<Task<T>>) -> Option<Result<T, TaskLost>> {
    let result = slot.as_ref()?.poll()?;
    *slot = None;
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_hands_over_its_result_once() {
        let ctx = egui::Context::default();
        let mut slot = Some(Task::spawn(&ctx, "test", || 6 * 7).unwrap());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let value = loop {
            if let Some(value) = take_done(&mut slot) {
                break value;
            }
            assert!(std::time::Instant::now() < deadline, "no result in 10 s");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(value, Ok(42));
        // Taken once: the slot is empty now.
        assert!(slot.is_none());
        assert!(take_done(&mut slot).is_none());
    }

    #[test]
    fn a_panicking_job_is_a_lost_task_not_a_panic() {
        let ctx = egui::Context::default();
        let task = Task::spawn(&ctx, "test", || -> u8 { panic!("boom") }).unwrap();
        let result = task.wait(Duration::from_secs(10));
        assert!(matches!(result, Some(Err(TaskLost(_)))), "{result:?}");
    }
}
