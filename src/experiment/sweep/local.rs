//! `--workers N`: N runs of a sweep at a time on this machine.
//!
//! Each run is a child process, `occlab train --resume --out <run dir>`: the same command a Slurm
//! task runs, so a run behaves the same here and on a cluster, a crash stays in its process, and
//! a sweep killed half-way leaves every run resumable from its last checkpoint (the next call
//! resumes the half-done ones and reuses the finished ones). Each child gets
//! `RAYON_NUM_THREADS = threads` (the CPU backend's pool) with workers × threads ≤ cores, and on a
//! GPU machine its own GPU (`CUBECL_WGPU_DEFAULT_DEVICE=DiscreteGpu(i)`, the i-th discrete
//! adapter, `train::backend`). On Linux a child dies with the sweep (`PR_SET_PDEATHSIG`), so killing the sweep never
//! leaves a run training behind it. A lock file keeps two sweeps out of one folder.

use super::plan::SweepPlan;
use super::spec::SweepError;
use crate::experiment::queue::RunState;
use crate::experiment::run::RunDir;
use crate::train::BackendChoice;
use std::io::{BufRead, Seek};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a sweep runs on this machine.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// The occlab binary the runs are trained by.
    pub exe: PathBuf,
    /// Runs at a time.
    pub workers: usize,
    /// Compute threads per run.
    pub threads: usize,
    /// GPUs to spread the workers over (0: the CPU, or whatever device `backend` picks).
    pub gpus: usize,
    pub backend: BackendChoice,
    pub data_dir: Option<PathBuf>,
}

/// Cores of this machine.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// NVIDIA GPUs of this machine (`/dev/nvidia0`, `/dev/nvidia1`, …).
pub fn count_gpus() -> usize {
    std::fs::read_dir("/dev")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix("nvidia")
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
        .count()
}

/// The name `occlab train --backend` takes.
pub fn backend_arg(b: BackendChoice) -> &'static str {
    match b {
        BackendChoice::Auto => "auto",
        BackendChoice::Wgpu => "wgpu",
        BackendChoice::Flex => "flex",
    }
}

impl LocalOptions {
    /// Settles workers, threads and GPUs from what was asked and what this machine has: on a
    /// GPU machine (and a backend other than flex) one worker per GPU by default, else one; the
    /// cores shared among the workers. Workers × threads above the cores is an error.
    pub fn settle(
        exe: PathBuf,
        workers: Option<usize>,
        threads: Option<usize>,
        gpus: Option<usize>,
        backend: BackendChoice,
        data_dir: Option<PathBuf>,
    ) -> Result<LocalOptions, SweepError> {
        let cores = cores();
        let gpus = gpus.unwrap_or(if backend == BackendChoice::Flex {
            0
        } else {
            count_gpus()
        });
        let workers = workers.unwrap_or(gpus.max(1));
        if workers == 0 {
            return Err(SweepError::Local("--workers must be at least 1".into()));
        }
        let threads = threads.unwrap_or((cores / workers).max(1));
        if threads == 0 {
            return Err(SweepError::Local("--threads must be at least 1".into()));
        }
        if workers * threads > cores {
            return Err(SweepError::Local(format!(
                "{workers} workers × {threads} threads = {} threads, but this machine has {cores} cores: \
                 lower --workers or --threads",
                workers * threads
            )));
        }
        Ok(LocalOptions {
            exe,
            workers,
            threads,
            gpus,
            backend,
            data_dir,
        })
    }
}

/// What the local executor reports.
#[derive(Clone, Debug)]
pub enum LocalEvent {
    /// A run's process has started.
    Started {
        index: usize,
        name: String,
        resume: bool,
        pid: u32,
        log: PathBuf,
    },
    /// A run's process has ended: finished, or why not (with its log).
    Ended {
        index: usize,
        name: String,
        result: Result<(), String>,
        seconds: f64,
        log: PathBuf,
    },
    /// Counts after every change.
    Progress(Progress),
}

/// Where a sweep stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub running: usize,
    pub pending: usize,
    pub failed: usize,
}

/// How a local sweep ended.
#[derive(Clone, Debug, Default)]
pub struct LocalSummary {
    /// Runs trained to the end in this call.
    pub trained: usize,
    /// Runs found finished (reused).
    pub reused: usize,
    /// Runs that failed: (name, log file, reason).
    pub failed: Vec<(String, PathBuf, String)>,
    /// Stopped before every run was done.
    pub stopped: bool,
    pub wall_seconds: f64,
}

/// Holds `<out>/.sweep.lock` (an exclusive `flock`) while a sweep runs in the folder.
struct FolderLock {
    _file: std::fs::File,
}

impl FolderLock {
    fn take(out: &Path) -> Result<FolderLock, SweepError> {
        let path = out.join(".sweep.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| SweepError::Io {
                path: path.clone(),
                source,
            })?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor this function owns; released when the file closes.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if r != 0 {
                return Err(SweepError::Local(format!(
                    "{}: another occlab sweep is running in this folder",
                    out.display()
                )));
            }
        }
        Ok(FolderLock { _file: file })
    }
}

/// A run's process.
struct Worker {
    index: usize,
    name: String,
    child: Child,
    log: PathBuf,
    started: Instant,
}

/// The log file of run `name` of a local sweep.
pub fn log_path(out: &Path, name: &str) -> PathBuf {
    out.join("logs").join(format!("{name}.log"))
}

/// The last `n` lines of a log, for an error message.
fn tail(path: &Path, n: usize) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let _ = f.seek(std::io::SeekFrom::Start(len.saturating_sub(8192)));
    let lines: Vec<String> = std::io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

fn spawn(
    plan: &SweepPlan,
    opts: &LocalOptions,
    index: usize,
    slot: usize,
) -> Result<Worker, SweepError> {
    let run = &plan.runs[index];
    let name = run.name();
    let log = log_path(&plan.out, &name);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SweepError::Io { path, source }
    };
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(io(&log))?;
    let err = file.try_clone().map_err(io(&log))?;
    let mut cmd = Command::new(&opts.exe);
    cmd.arg("train")
        .arg("--resume")
        .arg("--out")
        .arg(&run.dir)
        .arg("--backend")
        .arg(backend_arg(opts.backend))
        .env("RAYON_NUM_THREADS", opts.threads.to_string())
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err);
    if let Some(d) = &opts.data_dir {
        cmd.arg("--data-dir").arg(d);
    }
    if opts.gpus > 0 {
        cmd.env(
            "CUBECL_WGPU_DEFAULT_DEVICE",
            format!("DiscreteGpu({})", slot % opts.gpus),
        );
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to signal the child when
        // the sweep process dies.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
    }
    let child = cmd
        .spawn()
        .map_err(|e| SweepError::Local(format!("starting {}: {e}", opts.exe.display())))?;
    Ok(Worker {
        index,
        name,
        child,
        log,
        started: Instant::now(),
    })
}

/// Trains every unfinished run of `plan` (written with [`SweepPlan::write`]) with
/// `opts.workers` processes at a time; blocks until they are done or `stop` is set (the running
/// processes are then ended; their runs resume on the next call).
pub fn run_local(
    plan: &SweepPlan,
    opts: &LocalOptions,
    sink: &mut dyn FnMut(LocalEvent),
    stop: &AtomicBool,
) -> Result<LocalSummary, SweepError> {
    let _lock = FolderLock::take(&plan.out)?;
    let wall = Instant::now();
    let mut summary = LocalSummary::default();
    let mut todo: std::collections::VecDeque<usize> = plan
        .runs
        .iter()
        .filter(|r| r.is_todo())
        .map(|r| r.index)
        .collect();
    for r in &plan.runs {
        match r.state {
            RunState::Reuse => summary.reused += 1,
            RunState::Damaged => summary.failed.push((
                r.name(),
                r.dir.clone(),
                r.damage.clone().unwrap_or_else(|| "damaged".into()),
            )),
            _ => {}
        }
    }
    let mut slots: Vec<Option<Worker>> = (0..opts.workers).map(|_| None).collect();
    let progress = |summary: &LocalSummary, slots: &[Option<Worker>], todo: usize| Progress {
        done: summary.reused + summary.trained,
        running: slots.iter().flatten().count(),
        pending: todo,
        failed: summary.failed.len(),
    };
    sink(LocalEvent::Progress(progress(&summary, &slots, todo.len())));
    loop {
        if stop.load(Ordering::Relaxed) {
            summary.stopped = true;
            for w in slots.iter_mut().flatten() {
                // SAFETY: a signal to a child this process started and has not yet reaped.
                unsafe {
                    libc::kill(w.child.id() as libc::pid_t, libc::SIGTERM);
                }
                let _ = w.child.wait();
            }
            break;
        }
        // Fill the free slots.
        let mut started = false;
        for (slot, place) in slots.iter_mut().enumerate() {
            if place.is_some() {
                continue;
            }
            let Some(index) = todo.pop_front() else { break };
            let w = spawn(plan, opts, index, slot)?;
            sink(LocalEvent::Started {
                index,
                name: w.name.clone(),
                resume: plan.runs[index].state == RunState::Resume,
                pid: w.child.id(),
                log: w.log.clone(),
            });
            *place = Some(w);
            started = true;
        }
        if started {
            sink(LocalEvent::Progress(progress(&summary, &slots, todo.len())));
        }
        if slots.iter().all(Option::is_none) && todo.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        // Reap the processes that have ended.
        let mut changed = false;
        for place in slots.iter_mut() {
            let Some(w) = place else { continue };
            let status = match w.child.try_wait() {
                Ok(Some(status)) => status,
                Ok(None) => continue,
                Err(e) => return Err(SweepError::Local(format!("watching {}: {e}", w.name))),
            };
            let w = place.take().expect("a worker in the slot");
            let finished = RunDir::open(&plan.runs[w.index].dir)
                .and_then(|r| r.is_finished())
                .unwrap_or(false);
            let result = if status.success() && finished {
                summary.trained += 1;
                Ok(())
            } else {
                let why = if status.success() {
                    "the process ended without finishing the run".to_string()
                } else {
                    format!("{status}")
                };
                let reason = format!("{why}: {}", tail(&w.log, 3));
                summary
                    .failed
                    .push((w.name.clone(), w.log.clone(), reason.clone()));
                Err(reason)
            };
            sink(LocalEvent::Ended {
                index: w.index,
                name: w.name,
                result,
                seconds: w.started.elapsed().as_secs_f64(),
                log: w.log,
            });
            changed = true;
        }
        if changed {
            sink(LocalEvent::Progress(progress(&summary, &slots, todo.len())));
        }
    }
    summary.wall_seconds = wall.elapsed().as_secs_f64();
    Ok(summary)
}
