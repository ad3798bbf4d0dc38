//! Sweeps: many runs of one preset that differ in a few keys, fanned out to what the user has —
//! this machine's cores or GPUs, or a Slurm cluster — and gathered into one table and plot.
//!
//! - [`spec`]: what varies. `--set key=v1,v2` / ranges (`1..3`) on the command line, or a
//!   `[sweep]` table in a TOML file; grid (every combination) or zipped (keys that vary together).
//!   Every key is any preset key, checked against the preset's schema (an unknown key or a value
//!   of the wrong type is an error naming the key).
//! - [`plan`]: the runs, each an ordinary run directory under `<out>/runs/` named by its swept
//!   values and the hash of its exact config, planned by the one run launcher
//!   ([`super::queue::Launch::plan`] with [`super::queue::RunTarget::ByConfig`]), so a second call
//!   reuses finished runs and resumes half-done ones; the manifest (`manifest.txt`, one run folder
//!   a line) and `sweep.json` (the swept values of every run) beside them.
//! - [`local`]: `--workers N`: N runs at a time on this machine, each a child process
//!   `occlab train --resume --out <run dir>` (the same command a Slurm task runs).
//! - [`slurm`]: `--slurm`: a job-array script over the manifest, `sbatch`, and progress from
//!   `squeue`/`sacct` and the run folders.
//! - [`report`]: the table (one row per run) as CSV, and a chart of a metric against one swept
//!   key, one line per value of another, as PNG.

pub mod local;
pub mod plan;
pub mod report;
pub mod slurm;
pub mod spec;

pub use plan::{SweepPlan, SweepRun};
pub use report::{Metric, SweepTable};
pub use spec::{KeyPath, SweepError, SweepSpec};
