//! `--slurm`: a sweep as a Slurm job array.
//!
//! Each submission writes `slurm/sweep-<k>.sbatch` and a copy of the manifest it indexes
//! (`slurm/manifest-<k>.txt`, so a later re-plan never changes what a queued task trains); task
//! `i` runs `occlab train --resume --out <line i + 1>` with `RAYON_NUM_THREADS` set to its CPUs.
//! Only the runs that are not finished, and not queued or running in an earlier job, are
//! submitted (`#SBATCH --array=0-11%4`, or `3,7-9%4` on a re-submission): re-submitting runs
//! only what is missing. `jobs.json` records every submission.
//!
//! Progress comes from the run folders (a run is done when its `metrics.jsonl` says finished)
//! and `squeue` (running / pending); a task that left the queue with its run unfinished failed,
//! with `sacct`'s state where the cluster keeps accounting, and its log
//! `slurm/logs/<job>_<task>.out`. The sweep folder must be on a file system every node sees.

use super::local::{Progress, backend_arg};
use super::plan::SweepPlan;
use super::spec::SweepError;
use crate::experiment::run::{RunDir, write_atomic};
use crate::train::BackendChoice;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the job script asks of Slurm.
#[derive(Clone, Debug, Default)]
pub struct SlurmOptions {
    /// The occlab binary the tasks run (its path must be the same on every node).
    pub exe: PathBuf,
    pub partition: Option<String>,
    /// Time limit per task (`--time`, e.g. `02:00:00`).
    pub time: Option<String>,
    /// Memory per task (`--mem`, e.g. `8G`).
    pub mem: Option<String>,
    /// GPUs per task (`--gpus-per-task`, e.g. `1` or `a100:1`).
    pub gpus: Option<String>,
    /// CPUs per task (`--cpus-per-task`), the run's compute threads.
    pub cpus_per_task: usize,
    /// Most tasks running at once (`%M` of `--array`).
    pub max_parallel: Option<usize>,
    /// More `#SBATCH` lines, as given (`--account=lab`, `--qos=short`, …).
    pub extra: Vec<String>,
    pub backend: BackendChoice,
    pub data_dir: Option<PathBuf>,
}

/// One submission, as `jobs.json` keeps it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JobRecord {
    pub job_id: String,
    /// The array's task ids and the run folder each trains.
    pub tasks: Vec<(usize, String)>,
    pub script: PathBuf,
    pub submitted_unix: u64,
}

/// A script ready to submit.
#[derive(Clone, Debug)]
pub struct Submission {
    pub script: PathBuf,
    pub manifest: PathBuf,
    /// Task id → run folder name.
    pub tasks: Vec<(usize, String)>,
    /// Runs not submitted because an earlier job still has them queued or running.
    pub in_queue: usize,
}

fn slurm_dir(out: &Path) -> PathBuf {
    out.join("slurm")
}

/// The log of task `task` of job `job`.
pub fn task_log(out: &Path, job: &str, task: usize) -> PathBuf {
    slurm_dir(out)
        .join("logs")
        .join(format!("{job}_{task}.out"))
}

/// `0-3,5,7-9`: task ids as Slurm's `--array` takes them.
pub fn array_ranges(ids: &[usize]) -> String {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// A shell word in single quotes.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The job script: one array task per run of `tasks`, each reading its run folder from line
/// `task + 1` of `manifest`.
pub fn script_text(
    plan: &SweepPlan,
    opts: &SlurmOptions,
    tasks: &[usize],
    manifest: &Path,
) -> String {
    let logs = slurm_dir(&plan.out).join("logs");
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# occlab sweep {}: {} of its {} runs as a Slurm job array (written by occlab {}).\n",
        plan.spec.name,
        tasks.len(),
        plan.runs.len(),
        env!("CARGO_PKG_VERSION")
    ));
    s.push_str(&format!(
        "# The sweep folder {} must be on a file system every node sees (home or shared\n\
         # scratch, not a node's /tmp): each task reads its run folder from the manifest and trains\n\
         # it there, and the binary {} must exist at that path on every node.\n",
        plan.out.display(),
        opts.exe.display()
    ));
    s.push_str(&format!(
        "#SBATCH --job-name={}\n",
        format!("occlab-{}", plan.spec.name)
            .chars()
            .take(64)
            .collect::<String>()
    ));
    let throttle = opts
        .max_parallel
        .map_or_else(String::new, |m| format!("%{m}"));
    s.push_str(&format!(
        "#SBATCH --array={}{throttle}\n",
        array_ranges(tasks)
    ));
    s.push_str(&format!("#SBATCH --output={}/%A_%a.out\n", logs.display()));
    s.push_str(&format!(
        "#SBATCH --cpus-per-task={}\n",
        opts.cpus_per_task.max(1)
    ));
    s.push_str("#SBATCH --ntasks=1\n");
    if let Some(p) = &opts.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &opts.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if let Some(m) = &opts.mem {
        s.push_str(&format!("#SBATCH --mem={m}\n"));
    }
    if let Some(g) = &opts.gpus {
        s.push_str(&format!("#SBATCH --gpus-per-task={g}\n"));
    }
    for line in &opts.extra {
        let line = line.trim();
        let line = line.strip_prefix("#SBATCH").map_or(line, str::trim);
        s.push_str(&format!("#SBATCH {line}\n"));
    }
    s.push_str("\nset -euo pipefail\n");
    s.push_str(&format!(
        "MANIFEST={}\n",
        quote(&manifest.display().to_string())
    ));
    s.push_str(
        "RUN_DIR=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" \"$MANIFEST\")\n\
         if [ -z \"$RUN_DIR\" ]; then\n    \
         echo \"no run for task $SLURM_ARRAY_TASK_ID in $MANIFEST\" >&2\n    exit 2\nfi\n\
         export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n\
         echo \"task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname): $RUN_DIR\"\n",
    );
    let mut cmd = format!(
        "exec {} train --resume --out \"$RUN_DIR\" --backend {}",
        quote(&opts.exe.display().to_string()),
        backend_arg(opts.backend)
    );
    if let Some(d) = &opts.data_dir {
        cmd.push_str(&format!(" --data-dir {}", quote(&d.display().to_string())));
    }
    s.push_str(&cmd);
    s.push('\n');
    s
}

/// Every submission of the sweep in `out`, oldest first.
pub fn jobs(out: &Path) -> Result<Vec<JobRecord>, SweepError> {
    let path = slurm_dir(out).join("jobs.json");
    match crate::data::read_bounded_text(&path, 64 << 20) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| SweepError::File {
            path,
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(SweepError::Io { path, source }),
    }
}

fn save_jobs(out: &Path, jobs: &[JobRecord]) -> Result<(), SweepError> {
    let text = serde_json::to_string_pretty(jobs).expect("job records serialise");
    write_atomic(&slurm_dir(out).join("jobs.json"), text.as_bytes())?;
    Ok(())
}

/// A task's state in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queued {
    Pending,
    Running,
}

/// Runs a Slurm command; its stdout, or an error naming the command.
fn slurm_cmd(program: &str, args: &[&str]) -> Result<String, SweepError> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        SweepError::Slurm(format!(
            "{program} could not be run ({e}): is Slurm installed and on PATH?"
        ))
    })?;
    if !out.status.success() {
        return Err(SweepError::Slurm(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The tasks of `jobs` that are in the queue (`squeue`), by (job, task).
pub fn queue(jobs: &[JobRecord]) -> Result<HashMap<(String, usize), Queued>, SweepError> {
    let mut out = HashMap::new();
    if jobs.is_empty() {
        return Ok(out);
    }
    // Every array task on its own line (-r): array job id, task id, state.
    let text = slurm_cmd("squeue", &["--me", "-h", "-r", "-o", "%F|%K|%t"])?;
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split('|').collect();
        let &[job, task, state] = f.as_slice() else {
            continue;
        };
        if !jobs.iter().any(|j| j.job_id == job) {
            continue;
        }
        let Ok(task) = task.parse::<usize>() else {
            continue;
        };
        let q = match state {
            "R" | "CG" | "CF" | "S" | "ST" | "RQ" | "RS" | "SI" | "SO" => Queued::Running,
            _ => Queued::Pending,
        };
        out.insert((job.to_string(), task), q);
    }
    Ok(out)
}

/// `sacct`'s state of every task of `jobs` (empty where the cluster keeps no accounting).
fn accounting(jobs: &[JobRecord]) -> HashMap<(String, usize), String> {
    let ids: Vec<&str> = jobs.iter().map(|j| j.job_id.as_str()).collect();
    let mut out = HashMap::new();
    if ids.is_empty() {
        return out;
    }
    let list = ids.join(",");
    let Ok(text) = slurm_cmd(
        "sacct",
        &["-n", "-P", "-X", "-j", &list, "-o", "JobID,State,ExitCode"],
    ) else {
        return out;
    };
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split('|').collect();
        let &[id, state, code] = f.as_slice() else {
            continue;
        };
        if let Some((job, task)) = id.split_once('_')
            && let Ok(task) = task.parse::<usize>()
        {
            out.insert((job.to_string(), task), format!("{state} (exit {code})"));
        }
    }
    out
}

/// A task that left the queue with its run unfinished.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedTask {
    pub job: String,
    pub task: usize,
    pub run: String,
    pub log: PathBuf,
    /// `sacct`'s state, or what is known without accounting.
    pub state: String,
}

/// Where a Slurm sweep stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlurmProgress {
    pub counts: Progress,
    /// Runs never submitted (and not finished).
    pub not_submitted: usize,
    pub failed: Vec<FailedTask>,
}

/// The progress of `plan`'s runs: the run folders, the queue and, for tasks that left it
/// unfinished, accounting.
pub fn progress(plan: &SweepPlan, jobs: &[JobRecord]) -> Result<SlurmProgress, SweepError> {
    let queued = queue(jobs)?;
    let mut p = SlurmProgress::default();
    let mut gone = Vec::new();
    for run in &plan.runs {
        let name = run.name();
        let finished = RunDir::open(&run.dir)
            .and_then(|r| r.is_finished())
            .unwrap_or(false);
        if finished {
            p.counts.done += 1;
            continue;
        }
        // The latest submission of this run.
        let latest = jobs.iter().rev().find_map(|j| {
            j.tasks
                .iter()
                .find(|(_, r)| *r == name)
                .map(|(t, _)| (j.job_id.clone(), *t))
        });
        match latest {
            None => p.not_submitted += 1,
            Some(key) => match queued.get(&key) {
                Some(Queued::Running) => p.counts.running += 1,
                Some(Queued::Pending) => p.counts.pending += 1,
                None => gone.push((key, name)),
            },
        }
    }
    if !gone.is_empty() {
        let acct = accounting(jobs);
        for ((job, task), run) in gone {
            let state = acct
                .get(&(job.clone(), task))
                .cloned()
                .unwrap_or_else(|| "left the queue with its run unfinished".into());
            p.failed.push(FailedTask {
                log: task_log(&plan.out, &job, task),
                job,
                task,
                run,
                state,
            });
        }
    }
    p.counts.failed = p.failed.len();
    Ok(p)
}

/// Writes the job script and its manifest for the runs that still need a task: unfinished, and
/// not queued or running in an earlier job. `None` when there are none.
pub fn prepare(plan: &SweepPlan, opts: &SlurmOptions) -> Result<Option<Submission>, SweepError> {
    let earlier = jobs(&plan.out)?;
    let queued = queue(&earlier)?;
    let mut active: Vec<&str> = Vec::new();
    for j in &earlier {
        for (t, r) in &j.tasks {
            if queued.contains_key(&(j.job_id.clone(), *t)) {
                active.push(r);
            }
        }
    }
    let mut tasks = Vec::new();
    let mut in_queue = 0;
    for run in &plan.runs {
        if !run.is_todo() {
            continue;
        }
        if active.contains(&run.name().as_str()) {
            in_queue += 1;
            continue;
        }
        tasks.push((run.index, run.name()));
    }
    if tasks.is_empty() {
        return Ok(None);
    }
    let dir = slurm_dir(&plan.out);
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|source| SweepError::Io {
        path: logs.clone(),
        source,
    })?;
    let k = (1..)
        .find(|k| !dir.join(format!("sweep-{k}.sbatch")).exists())
        .expect("a free number");
    let manifest = dir.join(format!("manifest-{k}.txt"));
    write_atomic(&manifest, plan.manifest_text().as_bytes())?;
    let ids: Vec<usize> = tasks.iter().map(|(i, _)| *i).collect();
    let script = dir.join(format!("sweep-{k}.sbatch"));
    write_atomic(&script, script_text(plan, opts, &ids, &manifest).as_bytes())?;
    Ok(Some(Submission {
        script,
        manifest,
        tasks,
        in_queue,
    }))
}

/// Submits a prepared script with `sbatch --parsable` and records the job in `jobs.json`.
pub fn submit(plan: &SweepPlan, sub: &Submission) -> Result<JobRecord, SweepError> {
    let script = sub.script.display().to_string();
    let text = slurm_cmd("sbatch", &["--parsable", &script])?;
    // `--parsable` prints `<job id>[;<cluster>]`.
    let job_id = text
        .trim()
        .split(';')
        .next()
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| {
            SweepError::Slurm(format!("sbatch printed {:?}, not a job id", text.trim()))
        })?
        .to_string();
    let record = JobRecord {
        job_id,
        tasks: sub.tasks.clone(),
        script: sub.script.clone(),
        submitted_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let mut all = jobs(&plan.out)?;
    all.push(record.clone());
    save_jobs(&plan.out, &all)?;
    Ok(record)
}
