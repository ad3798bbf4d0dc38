//! The figures a training run's plots and status lines show, computed from its events or its log:
//! loss per step (downsampled into min/max buckets), accuracy per epoch (overall, per occlusion
//! level, per sequence position), throughput and the time left.
//!
//! The GUI feeds [`RunSeries::apply`] every [`TrainEvent`] it drains, or loads a finished run with
//! `crate::experiment::training::run_series`, and draws what the methods return.

use super::clip_eval::ClipEpochRecord;
use super::engine::TrainEvent;
use super::records::LogLine;
use super::records::{EpochRecord, StepRecord};

/// One bucket of a downsampled series: the mean, smallest and largest `y` of the points it holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// Midpoint between the first and the last `x` of the bucket.
    pub x: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// How many points the bucket holds (≥ 1).
    pub count: usize,
}

/// Splits `points` (sorted by `x`) into at most `max_buckets` runs of consecutive points of
/// near-equal size and summarises each. With no more points than buckets, every point is its own
/// bucket (min = mean = max). Non-finite `y` values are skipped.
pub fn downsample(points: &[[f64; 2]], max_buckets: usize) -> Vec<Bucket> {
    let points: Vec<[f64; 2]> = points
        .iter()
        .copied()
        .filter(|p| p[1].is_finite())
        .collect();
    let n = points.len();
    let buckets = max_buckets.max(1).min(n);
    (0..buckets)
        .map(|b| {
            let chunk = &points[b * n / buckets..(b + 1) * n / buckets];
            let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
            for p in chunk {
                min = min.min(p[1]);
                max = max.max(p[1]);
                sum += p[1];
            }
            Bucket {
                x: (chunk[0][0] + chunk[chunk.len() - 1][0]) / 2.0,
                mean: sum / chunk.len() as f64,
                min,
                max,
                count: chunk.len(),
            }
        })
        .collect()
}

/// Where a run stands.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum RunState {
    /// Created, not started yet (queued, or its data being prepared).
    #[default]
    Waiting,
    Running,
    Paused,
    Stopped {
        after_epoch: usize,
    },
    Finished {
        test_accuracy: f64,
        wall_seconds: f64,
    },
    Failed(String),
}

impl RunState {
    /// Whether the run will report nothing more.
    pub fn is_over(&self) -> bool {
        matches!(
            self,
            RunState::Stopped { .. } | RunState::Finished { .. } | RunState::Failed(_)
        )
    }

    /// One word for the state ("running", "failed", …).
    pub fn word(&self) -> &'static str {
        match self {
            RunState::Waiting => "waiting",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Stopped { .. } => "stopped",
            RunState::Finished { .. } => "finished",
            RunState::Failed(_) => "failed",
        }
    }
}

/// Everything one run has reported so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSeries {
    /// The run's name (its folder name).
    pub name: String,
    /// The model's name ("CRNN").
    pub model: String,
    /// The backend it trains on, once known.
    pub backend: Option<String>,
    pub state: RunState,
    /// Epochs the run will train in all.
    pub total_epochs: usize,
    /// Images in a full training batch (batch size × T): turns throughput into step time.
    pub images_per_step: usize,
    pub steps: Vec<StepRecord>,
    pub epochs: Vec<EpochRecord>,
    /// Clip data: video and subsequence accuracy per epoch.
    pub clips: Vec<ClipEpochRecord>,
}

/// Steps whose throughput the current rate is averaged over.
const RATE_WINDOW: usize = 20;

impl RunSeries {
    /// An empty series for a run about to start.
    pub fn new(
        name: impl Into<String>,
        model: impl Into<String>,
        total_epochs: usize,
        images_per_step: usize,
    ) -> Self {
        RunSeries {
            name: name.into(),
            model: model.into(),
            total_epochs,
            images_per_step,
            ..RunSeries::default()
        }
    }

    /// Takes in the lines of a run's log.
    pub fn load_log(&mut self, log: &[LogLine]) {
        for line in log {
            match line {
                LogLine::Step(s) => self.steps.push(*s),
                LogLine::Epoch(e) => self.epochs.push((**e).clone()),
                LogLine::Clips(c) => self.clips.push((**c).clone()),
                LogLine::Finished {
                    test_accuracy,
                    wall_seconds,
                    ..
                } => {
                    self.state = RunState::Finished {
                        test_accuracy: *test_accuracy,
                        wall_seconds: *wall_seconds,
                    }
                }
            }
        }
        if !self.state.is_over() {
            self.state = RunState::Stopped {
                after_epoch: self.epochs.last().map_or(0, |e| e.epoch),
            };
        }
    }

    /// Takes in one event of the run's job.
    pub fn apply(&mut self, event: &TrainEvent) {
        match event {
            TrainEvent::Started {
                backend,
                model,
                epochs,
                first_epoch,
                ..
            } => {
                self.backend = Some(backend.clone());
                self.model = model.clone();
                self.total_epochs = *epochs;
                self.state = RunState::Running;
                // A resumed run re-trains from `first_epoch`: forget what came after it.
                self.steps.retain(|s| s.epoch < *first_epoch);
                self.epochs.retain(|e| e.epoch < *first_epoch);
                self.clips.retain(|c| c.epoch < *first_epoch);
            }
            TrainEvent::Step(s) => self.steps.push(*s),
            TrainEvent::Epoch(e) => self.epochs.push(e.clone()),
            TrainEvent::Clips(c) => self.clips.push((**c).clone()),
            TrainEvent::Checkpoint { .. } => {}
            TrainEvent::Paused => self.state = RunState::Paused,
            TrainEvent::Resumed => self.state = RunState::Running,
            TrainEvent::Finished {
                test_accuracy,
                wall_seconds,
                ..
            } => {
                self.state = RunState::Finished {
                    test_accuracy: *test_accuracy,
                    wall_seconds: *wall_seconds,
                }
            }
            TrainEvent::Stopped { after_epoch } => {
                self.state = RunState::Stopped {
                    after_epoch: *after_epoch,
                }
            }
            TrainEvent::Failed(message) => self.state = RunState::Failed(message.clone()),
        }
    }

    /// (global step, loss) of every step.
    pub fn loss_points(&self) -> Vec<[f64; 2]> {
        self.steps
            .iter()
            .map(|s| [s.global_step as f64, s.loss])
            .collect()
    }

    /// The loss per step in at most `max_buckets` buckets.
    pub fn loss_buckets(&self, max_buckets: usize) -> Vec<Bucket> {
        downsample(&self.loss_points(), max_buckets)
    }

    /// (epoch, training accuracy) per epoch.
    pub fn train_accuracy(&self) -> Vec<[f64; 2]> {
        self.epochs
            .iter()
            .map(|e| [e.epoch as f64, e.train.accuracy()])
            .collect()
    }

    /// (epoch, validation accuracy) per epoch that scored a validation split (runs with
    /// `validation_fraction` > 0; empty otherwise).
    pub fn validation_accuracy(&self) -> Vec<[f64; 2]> {
        self.epochs
            .iter()
            .filter_map(|e| Some([e.epoch as f64, e.validation.as_ref()?.accuracy()]))
            .collect()
    }

    /// The best epoch so far by validation accuracy (the one early stopping keeps and the run
    /// reports), when the run validates.
    pub fn best_epoch(&self) -> Option<&EpochRecord> {
        super::records::best_by_validation(&self.epochs)
    }

    /// (epoch, test accuracy) per epoch.
    pub fn test_accuracy(&self) -> Vec<[f64; 2]> {
        self.epochs
            .iter()
            .map(|e| [e.epoch as f64, e.test.accuracy()])
            .collect()
    }

    /// Per occlusion level (index 0 = unoccluded): (epoch, test accuracy at that level) for the
    /// epochs in which the level occurred.
    pub fn test_accuracy_per_level(&self) -> Vec<Vec<[f64; 2]>> {
        let levels = self
            .epochs
            .iter()
            .map(|e| e.test.per_level.len())
            .max()
            .unwrap_or(0);
        (0..levels)
            .map(|level| {
                self.epochs
                    .iter()
                    .filter_map(|e| {
                        let acc = e.test.per_level.get(level)?.accuracy()?;
                        Some([e.epoch as f64, acc])
                    })
                    .collect()
            })
            .collect()
    }

    /// (1-based position in the sequence, test accuracy) at the latest epoch.
    pub fn test_accuracy_per_position(&self) -> Vec<[f64; 2]> {
        self.epochs.last().map_or_else(Vec::new, |e| {
            e.test
                .per_position
                .iter()
                .enumerate()
                .filter_map(|(p, t)| Some([(p + 1) as f64, t.accuracy()?]))
                .collect()
        })
    }

    /// Training throughput: mean images per second over the last steps.
    pub fn images_per_second(&self) -> Option<f64> {
        let recent = &self.steps[self.steps.len().saturating_sub(RATE_WINDOW)..];
        let rates: Vec<f64> = recent
            .iter()
            .map(|s| s.images_per_second)
            .filter(|r| r.is_finite() && *r > 0.0)
            .collect();
        (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
    }

    /// Steps still to train: the rest of the current epoch and every later one.
    pub fn steps_left(&self) -> Option<usize> {
        let last = self.steps.last()?;
        let rest_of_epoch = last.steps_per_epoch.saturating_sub(last.step + 1);
        let later = self.total_epochs.saturating_sub(last.epoch) * last.steps_per_epoch;
        Some(rest_of_epoch + later)
    }

    /// Estimated seconds until the run finishes: the steps left at the current throughput, plus
    /// one evaluation per epoch left at the last evaluation's duration. `None` before the first
    /// step, and once the run is over.
    pub fn eta_seconds(&self) -> Option<f64> {
        if self.state.is_over() {
            return None;
        }
        let last = self.steps.last()?;
        let rate = self.images_per_second()?;
        let step_seconds = self.images_per_step.max(1) as f64 / rate;
        let evals_left = self.total_epochs.saturating_sub(last.epoch) + 1
            - usize::from(self.epochs.last().is_some_and(|e| e.epoch == last.epoch));
        let eval_seconds = self.epochs.last().map_or(0.0, |e| e.eval_seconds);
        Some(self.steps_left()? as f64 * step_seconds + evals_left as f64 * eval_seconds)
    }

    /// Latest (epoch, step within the epoch, steps per epoch), for "epoch 2/5, step 14/40".
    pub fn position(&self) -> Option<(usize, usize, usize)> {
        self.steps
            .last()
            .map(|s| (s.epoch, s.step + 1, s.steps_per_epoch))
    }
}

/// Seconds as "1 h 05 min", "3 min 20 s" or "12 s".
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::metrics::{Metrics, Tally};

    pub(crate) fn step(
        epoch: usize,
        step: usize,
        per_epoch: usize,
        loss: f64,
        ips: f64,
    ) -> StepRecord {
        StepRecord {
            epoch,
            step,
            steps_per_epoch: per_epoch,
            global_step: (epoch - 1) * per_epoch + step,
            loss,
            accuracy: 0.5,
            images_per_second: ips,
        }
    }

    pub(crate) fn epoch(
        n: usize,
        train: (u64, u64),
        test: (u64, u64),
        eval_seconds: f64,
    ) -> EpochRecord {
        let metrics = |(correct, total): (u64, u64)| Metrics {
            overall: Tally { correct, total },
            per_level: vec![Tally { correct, total }, Tally::default()],
            per_position: vec![Tally { correct, total }, Tally { correct: 0, total }],
            ..Metrics::default()
        };
        EpochRecord {
            epoch: n,
            train: metrics(train),
            test: metrics(test),
            validation: None,
            train_seconds: 1.0,
            eval_seconds,
            images_per_second: 100.0,
        }
    }

    #[test]
    fn few_points_are_their_own_buckets() {
        let b = downsample(&[[0.0, 1.0], [1.0, 3.0]], 10);
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[1],
            Bucket {
                x: 1.0,
                mean: 3.0,
                min: 3.0,
                max: 3.0,
                count: 1
            }
        );
        assert!(downsample(&[], 10).is_empty());
    }

    #[test]
    fn many_points_fold_into_min_mean_max() {
        let points: Vec<[f64; 2]> = (0..1000).map(|i| [i as f64, (i % 10) as f64]).collect();
        let b = downsample(&points, 100);
        assert_eq!(b.len(), 100);
        assert!(b.iter().all(|b| b.count == 10));
        assert_eq!(b[0].x, 4.5);
        assert_eq!((b[0].min, b[0].mean, b[0].max), (0.0, 4.5, 9.0));
        assert_eq!(b.iter().map(|b| b.count).sum::<usize>(), 1000);
        // Uneven sizes still cover every point once.
        let b = downsample(&points[..997], 7);
        assert_eq!(b.len(), 7);
        assert_eq!(b.iter().map(|b| b.count).sum::<usize>(), 997);
        assert!(b.windows(2).all(|w| w[0].x < w[1].x));
    }

    #[test]
    fn non_finite_losses_are_skipped() {
        let b = downsample(&[[0.0, f64::NAN], [1.0, 2.0], [2.0, f64::INFINITY]], 5);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].mean, 2.0);
    }

    #[test]
    fn events_build_the_series() {
        let mut s = RunSeries::new("r", "CNN", 2, 100);
        s.apply(&TrainEvent::Started {
            run: "r".into(),
            backend: "flex (CPU)".into(),
            backend_reason: String::new(),
            model: "CNN".into(),
            parameters: 10,
            train_sequences: 40,
            test_sequences: 10,
            first_epoch: 1,
            epochs: 2,
        });
        assert_eq!(s.state, RunState::Running);
        for k in 0..4 {
            s.apply(&TrainEvent::Step(step(
                1,
                k,
                4,
                2.0 - k as f64 * 0.1,
                200.0,
            )));
        }
        // 4 steps left in epoch 2, 0.5 s each, and two evaluations of unknown length.
        assert_eq!(s.steps_left(), Some(4));
        assert_eq!(s.eta_seconds(), Some(2.0));
        s.apply(&TrainEvent::Epoch(epoch(1, (30, 40), (6, 10), 3.0)));
        // Epoch 1 is evaluated: one evaluation (3 s) left.
        assert_eq!(s.eta_seconds(), Some(5.0));
        assert_eq!(s.position(), Some((1, 4, 4)));
        assert_eq!(s.train_accuracy(), vec![[1.0, 0.75]]);
        assert_eq!(s.test_accuracy(), vec![[1.0, 0.6]]);
        // Level 1 never occurred: no points.
        assert_eq!(s.test_accuracy_per_level(), vec![vec![[1.0, 0.6]], vec![]]);
        assert_eq!(s.test_accuracy_per_position(), vec![[1.0, 0.6], [2.0, 0.0]]);
        s.apply(&TrainEvent::Paused);
        assert_eq!(s.state.word(), "paused");
        s.apply(&TrainEvent::Stopped { after_epoch: 1 });
        assert!(s.state.is_over());
        assert_eq!(s.eta_seconds(), None);
        assert_eq!(s.loss_buckets(2).len(), 2);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(12.4), "12 s");
        assert_eq!(format_duration(200.0), "3 min 20 s");
        assert_eq!(format_duration(3900.0), "1 h 05 min");
    }
}
