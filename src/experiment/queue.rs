//! The one way runs are launched: where a run goes and what it is called ([`RunTarget`]), whether
//! it is new, half done or done ([`RunState`]), starting its training job ([`Launch::start`]), and
//! a queue that trains runs one after another ([`RunQueue`]). The GUI's Train panel, `occlab train`
//! and `occlab reproduce` all launch runs here.
//!
//! Runs train one after another: on a small CPU, concurrent jobs would only slow each other down.
//! A queue settles and creates each run's folder on a thread of its own, so that a UI polling it
//! never waits for the disk.

use super::dataset::Prepared;
use super::preset::Preset;
use super::run::{RunDir, RunError};
use super::training::train_in_background;
use crate::train::BackendChoice;
use crate::train::engine::{Control, TrainEvent, TrainJob, TrainOutcome};
use crossbeam_channel::{Receiver, TryRecvError, bounded};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a run goes, and so what it is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunTarget {
    /// A new run in exactly this folder; refused if the folder already holds a run
    /// (`occlab train --out`).
    New(PathBuf),
    /// A new run `<root>/<preset name>-<unix seconds>` (`-2`, `-3`, … when taken); the preset is
    /// renamed to match (the GUI).
    Stamped(PathBuf),
    /// `<root>/<preset name>-<tag>-<hash of the exact config>`: the same config is the same run,
    /// reused when finished and resumed when not (`occlab reproduce`, sweeps).
    ByConfig { root: PathBuf, tag: String },
}

/// Whether a run is new, half done or done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    New,
    /// Same config, not finished: continue from its last checkpoint.
    Resume,
    /// Same config, finished: reuse as it is.
    Reuse,
    /// The folder holds a run that cannot be read (`occlab reproduce` plans it so, with the
    /// reason, and goes on with the others): never trained or overwritten.
    Damaged,
}

/// Why a run could not be launched.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{}: holds a different config than its name says; move it away", path.display())]
    ConfigMismatch { path: PathBuf },
    #[error("{name}: no [model] section, nothing to train")]
    NoModel { name: String },
    #[error("{}: a damaged run, left as it is", path.display())]
    Damaged { path: PathBuf },
}

/// 64-bit FNV-1a of `bytes`: a stable short name for a config (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = crate::sequence::builder::Fnv1a::default();
    h.write(bytes);
    h.0
}

/// The folder of `preset`'s run under `root`, named by its exact config:
/// `<root>/<name>-<tag>-<hash>`.
pub fn dir_by_config(root: &Path, preset: &Preset, tag: &str) -> PathBuf {
    let hash = fnv1a(preset.to_toml().as_bytes());
    root.join(format!("{}-{tag}-{:08x}", preset.name, hash as u32))
}

/// `<root>/<base>-<unix seconds>`, with `-2`, `-3`, … until the name is free.
fn stamped_name(root: &Path, base: &str) -> String {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{base}-{stamp}");
    let mut name = base.clone();
    let mut k = 2;
    while root.join(&name).exists() {
        name = format!("{base}-{k}");
        k += 1;
    }
    name
}

/// Whether the run folder `dir` is new, half done or done for `preset`.
pub fn state_on_disk(dir: &Path, preset: &Preset) -> Result<RunState, LaunchError> {
    if !dir.join("config.toml").exists() {
        return Ok(RunState::New);
    }
    let run = RunDir::open(dir)?;
    if run.preset()? != *preset {
        // The name carries the config's hash, so this is a hash collision or a hand edit.
        return Err(LaunchError::ConfigMismatch {
            path: run.config_path(),
        });
    }
    half_done_or_done(&run)
}

/// An existing run: [`RunState::Reuse`] when it has finished (or is a finished run's kept
/// record, [`RunDir::is_kept_record`]), else [`RunState::Resume`].
fn half_done_or_done(run: &RunDir) -> Result<RunState, LaunchError> {
    Ok(if run.is_finished()? || run.is_kept_record()? {
        RunState::Reuse
    } else {
        RunState::Resume
    })
}

/// A run about to be launched: its exact preset, its folder and its state there.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The exact preset the run trains (renamed for [`RunTarget::Stamped`]; the run's own when
    /// resuming).
    pub preset: Preset,
    pub dir: PathBuf,
    pub state: RunState,
}

/// A run whose training job has started.
pub struct Launched {
    pub run: RunDir,
    pub job: TrainJob,
}

impl Launch {
    /// The run in `dir`, to be continued from its last checkpoint with its own config
    /// (`occlab train --resume`); a finished run is [`RunState::Reuse`]: nothing to train, and
    /// its files stay as they are.
    pub fn resume(dir: PathBuf) -> Result<Launch, LaunchError> {
        let run = RunDir::open(&dir)?;
        let preset = run.preset()?;
        let state = half_done_or_done(&run)?;
        Ok(Launch { preset, dir, state })
    }

    /// Settles where `preset` runs for `target` and whether that run is new, half done or done.
    pub fn plan(preset: Preset, target: RunTarget) -> Result<Launch, LaunchError> {
        let (mut preset, dir, state) = match target {
            RunTarget::New(dir) => {
                RunDir::refuse_existing(&dir)?;
                (preset, dir, RunState::New)
            }
            RunTarget::Stamped(root) => {
                let mut preset = preset;
                preset.name = stamped_name(&root, &preset.name);
                let dir = root.join(&preset.name);
                (preset, dir, RunState::New)
            }
            RunTarget::ByConfig { root, tag } => {
                let dir = dir_by_config(&root, &preset, &tag);
                let state = state_on_disk(&dir, &preset)?;
                (preset, dir, state)
            }
        };
        if preset.model.is_none() {
            return Err(LaunchError::NoModel {
                name: std::mem::take(&mut preset.name),
            });
        }
        Ok(Launch { preset, dir, state })
    }

    /// The run's name (its folder name).
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    }

    /// Creates the run's folder (or opens it, to resume) and starts training it on `prepared` on
    /// a background thread; `notify` is called after every event (a UI passes its repaint). A
    /// finished run ([`RunState::Reuse`]) trains nothing: `None`.
    pub fn start(
        &self,
        prepared: Arc<Prepared>,
        backend: BackendChoice,
        notify: Option<Arc<dyn Fn() + Send + Sync>>,
    ) -> Result<Option<Launched>, LaunchError> {
        let run = match self.state {
            RunState::Reuse => return Ok(None),
            RunState::New => RunDir::create(&self.dir, &self.preset)?,
            RunState::Resume => RunDir::open(&self.dir)?,
            RunState::Damaged => {
                return Err(LaunchError::Damaged {
                    path: self.dir.clone(),
                });
            }
        };
        let resume = self.state == RunState::Resume;
        let job = train_in_background(prepared, run.clone(), backend, resume, notify);
        Ok(Some(Launched { run, job }))
    }
}

/// What a [`RunQueue`] reports.
#[derive(Debug)]
pub enum QueueEvent {
    /// A run's folder is made and its job has started.
    Started { dir: PathBuf, preset: Box<Preset> },
    /// A queued run was found finished in its folder ([`RunState::Reuse`]): nothing to train.
    Reused { dir: PathBuf },
    /// A queued run could not be launched; the queue goes on with the next.
    NotStarted { name: String, error: String },
    /// An event of the job training now.
    Train {
        dir: PathBuf,
        event: Box<TrainEvent>,
    },
    /// The job has ended: its outcome, or why it failed.
    Ended {
        dir: PathBuf,
        outcome: Result<TrainOutcome, String>,
    },
}

/// A queued run and its data.
struct Queued {
    preset: Preset,
    plan: Plan,
    prepared: Arc<Prepared>,
}

/// Where a queued run goes: planned when it starts (a stamped name is taken then), or already.
enum Plan {
    Target(RunTarget),
    Ready(Box<Launch>),
}

/// Runs trained one after another. [`RunQueue::poll`] never blocks (a UI calls it every frame);
/// [`RunQueue::wait`] blocks until the next event (a command line).
pub struct RunQueue {
    /// The backend the next run starts on.
    pub backend: BackendChoice,
    /// Called after every job event (a UI passes its repaint).
    pub notify: Option<Arc<dyn Fn() + Send + Sync>>,
    queued: VecDeque<Queued>,
    /// The next run being planned and its folder made, on its own thread.
    starting: Option<Starting>,
    /// Controls sent while a run was starting: they go to its job once it has started.
    deferred: Vec<Control>,
    active: Option<Launched>,
    /// Jobs that have sent their last event, their threads returning.
    finishing: Vec<Launched>,
}

/// A run being launched: its name (for errors) and the launch's result, to come.
struct Starting {
    name: String,
    preset: Preset,
    result: Receiver<Result<(Launch, Option<Launched>), LaunchError>>,
}

impl Default for RunQueue {
    fn default() -> Self {
        RunQueue::new(BackendChoice::Auto, None)
    }
}

impl RunQueue {
    /// An empty queue; `notify` is called after every job event (a UI passes its repaint).
    pub fn new(backend: BackendChoice, notify: Option<Arc<dyn Fn() + Send + Sync>>) -> Self {
        RunQueue {
            backend,
            notify,
            queued: VecDeque::new(),
            starting: None,
            deferred: Vec::new(),
            active: None,
            finishing: Vec::new(),
        }
    }

    /// Queues a run of `preset` at `target`, to train on `prepared`.
    pub fn push(&mut self, preset: Preset, target: RunTarget, prepared: Arc<Prepared>) {
        self.queued.push_back(Queued {
            preset,
            plan: Plan::Target(target),
            prepared,
        });
    }

    /// Queues a run already planned (e.g. [`Launch::resume`]), to train on `prepared`.
    pub fn push_planned(&mut self, launch: Launch, prepared: Arc<Prepared>) {
        self.queued.push_back(Queued {
            preset: launch.preset.clone(),
            plan: Plan::Ready(Box::new(launch)),
            prepared,
        });
    }

    /// Whether a job is training, starting or queued.
    pub fn is_busy(&self) -> bool {
        self.active.is_some() || self.starting.is_some() || !self.queued.is_empty()
    }

    /// Whether a job that has ended has yet to be reported as [`QueueEvent::Ended`].
    pub fn is_winding_down(&self) -> bool {
        !self.finishing.is_empty()
    }

    /// The folder of the run training now.
    pub fn active_run(&self) -> Option<&Path> {
        self.active.as_ref().map(|a| a.run.path.as_path())
    }

    /// The presets still waiting (the one starting first), in order.
    pub fn waiting(&self) -> impl Iterator<Item = &Preset> {
        let starting = self.starting.as_ref().map(|s| &s.preset);
        starting
            .into_iter()
            .chain(self.queued.iter().map(|q| &q.preset))
    }

    /// Tells the job training now to pause, resume or stop (the one starting, once it has).
    pub fn send(&mut self, control: Control) {
        if let Some(a) = &self.active {
            let _ = a.job.control.send(control);
        } else if self.starting.is_some() {
            self.deferred.push(control);
        }
    }

    /// Stops the job training now and drops the queue.
    pub fn stop_all(&mut self) {
        self.send(Control::Stop);
        self.queued.clear();
    }

    /// Everything that has happened since the last call, without blocking: the active job's
    /// events, its end, and the start of the next queued run.
    pub fn poll(&mut self) -> Vec<QueueEvent> {
        let mut out = Vec::new();
        while let Some(e) = self.next(false) {
            out.push(e);
        }
        out
    }

    /// The next event, blocking until there is one; `None` once the queue is empty and idle.
    pub fn wait(&mut self) -> Option<QueueEvent> {
        self.next(true)
    }

    fn next(&mut self, block: bool) -> Option<QueueEvent> {
        // A job that has said its last word: its end, once its thread has returned.
        if let Some(i) = self
            .finishing
            .iter()
            .position(|f| block || f.job.handle.is_finished())
        {
            let done = self.finishing.remove(i);
            let outcome = match done.job.handle.join() {
                Ok(result) => result,
                Err(_) => Err("the training thread panicked".into()),
            };
            return Some(QueueEvent::Ended {
                dir: done.run.path,
                outcome,
            });
        }
        // The run being launched.
        if let Some(starting) = &self.starting {
            let result = if block {
                starting
                    .result
                    .recv()
                    .map_err(|_| TryRecvError::Disconnected)
            } else {
                starting.result.try_recv()
            };
            let name = starting.name.clone();
            return match result {
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => {
                    self.starting = None;
                    self.deferred.clear();
                    Some(QueueEvent::NotStarted {
                        name,
                        error: "the thread launching the run stopped without a result".into(),
                    })
                }
                Ok(started) => {
                    self.starting = None;
                    let deferred = std::mem::take(&mut self.deferred);
                    Some(match started {
                        Ok((launch, Some(launched))) => {
                            for control in deferred {
                                let _ = launched.job.control.send(control);
                            }
                            self.active = Some(launched);
                            QueueEvent::Started {
                                dir: launch.dir,
                                preset: Box::new(launch.preset),
                            }
                        }
                        Ok((launch, None)) => QueueEvent::Reused { dir: launch.dir },
                        Err(e) => QueueEvent::NotStarted {
                            name,
                            error: e.to_string(),
                        },
                    })
                }
            };
        }
        // The job training now.
        if let Some(active) = &self.active {
            let received = if block {
                active
                    .job
                    .events
                    .recv()
                    .map_err(|_| TryRecvError::Disconnected)
            } else {
                active.job.events.try_recv()
            };
            return match received {
                Ok(event) => {
                    let dir = active.run.path.clone();
                    if matches!(
                        event,
                        TrainEvent::Finished { .. }
                            | TrainEvent::Stopped { .. }
                            | TrainEvent::Failed(_)
                    ) {
                        // Its last word: the next run may start while this thread returns.
                        self.finishing.extend(self.active.take());
                    }
                    Some(QueueEvent::Train {
                        dir,
                        event: Box::new(event),
                    })
                }
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => {
                    self.finishing.extend(self.active.take());
                    self.next(block)
                }
            };
        }
        self.start_next(block)
    }

    /// Starts launching the next queued run on its own thread (planning it touches the disk, and
    /// so does making its folder); its result arrives through [`Self::next`]. `None` when no run
    /// is left, or (not blocking) while the launch has not finished.
    fn start_next(&mut self, block: bool) -> Option<QueueEvent> {
        let q = self.queued.pop_front()?;
        let name = q.preset.name.clone();
        let preset = q.preset.clone();
        let (backend, notify) = (self.backend, self.notify.clone());
        let (tx, result) = bounded(1);
        let launcher = std::thread::Builder::new()
            .name("occlab-launch".into())
            .spawn(move || {
                let planned = match q.plan {
                    Plan::Target(target) => Launch::plan(q.preset, target),
                    Plan::Ready(launch) => Ok(*launch),
                };
                let started = planned.and_then(|launch| {
                    let launched = launch.start(q.prepared, backend, notify.clone())?;
                    Ok((launch, launched))
                });
                let _ = tx.send(started);
                if let Some(notify) = notify {
                    notify();
                }
            });
        if let Err(e) = launcher {
            return Some(QueueEvent::NotStarted {
                name,
                error: format!("cannot start the thread launching the run: {e}"),
            });
        }
        self.starting = Some(Starting {
            name,
            preset,
            result,
        });
        self.next(block)
    }
}
