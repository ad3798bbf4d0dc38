//! `occlab sweep`: define a sweep (`--preset`, `--set`, `--zip`), print its plan (`--plan`), run
//! it here (`--workers N`) or on Slurm (`--slurm`), and gather it (`--report`). The work is done
//! by `occlab::experiment::sweep`; this file parses the options and prints.

use anyhow::{Context, Result, bail};
use occlab::data::source::data_dir_from;
use occlab::experiment::sweep::local::{self, LocalEvent, LocalOptions};
use occlab::experiment::sweep::plan::{self, SPEC_FILE};
use occlab::experiment::sweep::report::{self, RowState, SweepTable};
use occlab::experiment::sweep::slurm::{self, SlurmOptions};
use occlab::experiment::sweep::spec::{PlotChoice, SweepSpec};
use occlab::train::BackendChoice;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct SweepArgs {
    /// The base preset, or a sweep file: a preset with a [sweep] table, or a [sweep] table with
    /// base = "…". Default: the sweep saved in --out (OUT/sweep.toml).
    #[arg(long)]
    preset: Option<PathBuf>,
    /// KEY=V1,V2,…: one value sets KEY in every run, several are a grid axis. Values are TOML
    /// (`[0.1,0.2]`, `1e-3`; bare words are strings); ranges `1..5`, `0.1..0.5:0.1`; `KEY[i]`
    /// sets one element of a list.
    #[arg(long = "set", value_name = "KEY=VALUES")]
    set: Vec<String>,
    /// KEY=V1,V2,…: keys that vary together (the same number of values each), one grid axis.
    #[arg(long = "zip", value_name = "KEY=VALUES")]
    zip: Vec<String>,
    /// The sweep's name (default: the sweep file's, else the preset's).
    #[arg(long)]
    name: Option<String>,
    /// The sweep folder (default sweeps/<name>); its runs go to OUT/runs/.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the runs and their state (new / resume / finished); create and train nothing.
    #[arg(long)]
    plan: bool,
    /// Runs at a time on this machine (default: one per GPU on a GPU machine, else 1).
    #[arg(long)]
    workers: Option<usize>,
    /// Compute threads per run (default: the cores shared among the workers).
    #[arg(long)]
    threads: Option<usize>,
    /// GPUs to spread local workers over (default: the NVIDIA GPUs found, none with flex).
    #[arg(long)]
    gpus: Option<usize>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Run the sweep as a Slurm job array (the sweep folder must be on a file system every node
    /// sees).
    #[arg(long)]
    slurm: bool,
    /// With --slurm: write the job script and print the sbatch command; submit nothing.
    #[arg(long)]
    emit_only: bool,
    /// With --slurm: submit and return instead of following the job.
    #[arg(long)]
    no_wait: bool,
    /// Slurm partition.
    #[arg(long)]
    partition: Option<String>,
    /// Slurm time limit per run (e.g. 02:00:00).
    #[arg(long)]
    time: Option<String>,
    /// Slurm memory per run (e.g. 8G).
    #[arg(long)]
    mem: Option<String>,
    /// Slurm GPUs per run (`--gpus-per-task`, e.g. 1 or a100:1).
    #[arg(long = "slurm-gpus", value_name = "GPUS")]
    slurm_gpus: Option<String>,
    /// Slurm CPUs per run (its compute threads).
    #[arg(long, default_value_t = 1)]
    cpus_per_task: usize,
    /// Most runs at once on Slurm (`%M` of --array).
    #[arg(long)]
    max_parallel: Option<usize>,
    /// An extra #SBATCH line (repeatable), e.g. --sbatch=--account=lab.
    #[arg(long = "sbatch", value_name = "LINE", allow_hyphen_values = true)]
    sbatch: Vec<String>,
    /// The occlab binary Slurm tasks run (default: this one; it must exist on every node).
    #[arg(long)]
    slurm_exe: Option<PathBuf>,
    /// Seconds between looks at the queue while following a Slurm job.
    #[arg(long, default_value_t = 5.0)]
    poll: f64,
    /// Give up following after this many seconds (the job keeps running).
    #[arg(long)]
    follow_timeout: Option<f64>,
    /// Train nothing: gather the runs into the table (CSV) and the chart (PNG).
    #[arg(long)]
    report: bool,
    /// The chart's x axis: a swept key (a list element with [i]).
    #[arg(long)]
    x: Option<String>,
    /// The chart's lines: a swept key (`none` for one line).
    #[arg(long)]
    lines: Option<String>,
    /// test_accuracy, level<N>, epochs or seconds.
    #[arg(long)]
    metric: Option<String>,
    /// Where to write the table (default OUT/report/<name>.csv).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Where to write the chart (default OUT/report/<name>-<metric>.png).
    #[arg(long)]
    png: Option<PathBuf>,
}

/// The sweep the options describe.
fn spec(a: &SweepArgs) -> Result<SweepSpec> {
    let mut spec = match (&a.preset, &a.out) {
        (Some(p), _) => SweepSpec::load(p)?,
        (None, Some(out)) if out.join(SPEC_FILE).is_file() => {
            SweepSpec::load(&out.join(SPEC_FILE))?
        }
        _ => bail!("--preset is required (or --out with a sweep folder that has a {SPEC_FILE})"),
    };
    for s in &a.set {
        spec.set(s)?;
    }
    for z in &a.zip {
        spec.zip(z)?;
    }
    if let Some(n) = &a.name {
        spec.rename(n)?;
    }
    if a.x.is_some() {
        spec.plot.x = a.x.clone();
    }
    if a.lines.is_some() {
        spec.plot.lines = a.lines.clone();
    }
    if a.metric.is_some() {
        spec.plot.metric = a.metric.clone();
    }
    Ok(spec)
}

pub fn run(a: SweepArgs) -> Result<()> {
    // `--report` on an existing folder reads it as it is.
    if a.report && a.preset.is_none() && a.set.is_empty() && a.zip.is_empty() {
        let Some(out) = &a.out else {
            bail!("--report needs --out SWEEP_FOLDER (or --preset to name the sweep)")
        };
        return write_report(&a, out);
    }
    let spec = spec(&a)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| Path::new("sweeps").join(&spec.name));
    let plan = plan::plan(&spec, &out)?;
    if a.plan {
        print!("{}", plan.describe());
        return Ok(());
    }
    let data_dir = data_dir_from(a.data_dir.as_deref());
    let exe = std::env::current_exe().context("finding the occlab binary")?;
    // Settled before anything is written: too many threads for this machine is an error.
    let local = if a.slurm || a.report {
        None
    } else {
        Some(LocalOptions::settle(
            exe.clone(),
            a.workers,
            a.threads,
            a.gpus,
            a.backend,
            data_dir.clone(),
        )?)
    };
    plan.write()?;
    if a.report {
        return write_report(&a, &plan.out);
    }
    let (new, resume, reuse, damaged) = plan.counts();
    println!(
        "sweep {}: {} runs ({new} new, {resume} to resume, {reuse} finished{}) in {}",
        spec.name,
        plan.runs.len(),
        if damaged > 0 {
            format!(", {damaged} damaged: left as they are")
        } else {
            String::new()
        },
        plan.out.display()
    );
    let ok = if let Some(opts) = &local {
        run_here(&plan, opts)?
    } else {
        let opts = SlurmOptions {
            exe: a.slurm_exe.clone().unwrap_or(exe),
            partition: a.partition.clone(),
            time: a.time.clone(),
            mem: a.mem.clone(),
            gpus: a.slurm_gpus.clone(),
            cpus_per_task: a.cpus_per_task,
            max_parallel: a.max_parallel,
            extra: a.sbatch.clone(),
            backend: a.backend,
            data_dir,
        };
        match run_slurm(&a, &plan, &opts)? {
            Some(ok) => ok,
            None => return Ok(()),
        }
    };
    write_report(&a, &plan.out)?;
    if !ok {
        bail!("some runs failed (listed above); run the same command again to retry them");
    }
    Ok(())
}

fn bar(total: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "[{bar:30}] {pos}/{len} runs done  {msg}  {elapsed}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

fn say(bar: &indicatif::ProgressBar, line: impl AsRef<str>) {
    if bar.is_hidden() {
        println!("{}", line.as_ref());
    } else {
        bar.println(line);
    }
}

/// Runs the sweep on this machine; whether every run finished.
fn run_here(plan: &plan::SweepPlan, opts: &LocalOptions) -> Result<bool> {
    println!(
        "{} workers × {} threads{} (this machine: {} cores)",
        opts.workers,
        opts.threads,
        if opts.gpus > 0 {
            format!(", over {} GPUs", opts.gpus)
        } else {
            String::new()
        },
        local::cores()
    );
    let bar = bar(plan.runs.len());
    let stop = AtomicBool::new(false);
    let mut sink = |e: LocalEvent| match e {
        LocalEvent::Started {
            index,
            name,
            resume,
            ..
        } => say(
            &bar,
            format!(
                "  start  {index:>3} {name}{}",
                if resume { " (resuming)" } else { "" }
            ),
        ),
        LocalEvent::Ended {
            index,
            name,
            result,
            seconds,
            log,
        } => match result {
            Ok(()) => say(&bar, format!("  done   {index:>3} {name} ({seconds:.0} s)")),
            Err(e) => say(
                &bar,
                format!(
                    "  FAILED {index:>3} {name}: {e}\n         log: {}",
                    log.display()
                ),
            ),
        },
        LocalEvent::Progress(p) => {
            bar.set_position(p.done as u64);
            bar.set_message(format!(
                "running {}, pending {}, failed {}",
                p.running, p.pending, p.failed
            ));
        }
    };
    let summary = local::run_local(plan, opts, &mut sink, &stop)?;
    bar.finish_and_clear();
    println!(
        "{} trained, {} reused, {} failed in {:.0} s",
        summary.trained,
        summary.reused,
        summary.failed.len(),
        summary.wall_seconds
    );
    for (name, log, why) in &summary.failed {
        println!("  failed: {name}: {why}\n          log: {}", log.display());
    }
    Ok(summary.failed.is_empty())
}

/// Submits (or only writes) the job array and follows it until no task is queued or running:
/// whether every run finished; `None` when it was not followed (`--emit-only`, `--no-wait`).
fn run_slurm(a: &SweepArgs, plan: &plan::SweepPlan, opts: &SlurmOptions) -> Result<Option<bool>> {
    let sub = slurm::prepare(plan, opts)?;
    match &sub {
        None => println!("nothing to submit: every run is finished or already in the queue"),
        Some(sub) => {
            if a.emit_only {
                println!(
                    "wrote {} ({} tasks; manifest {})\nsubmit it with: sbatch {}",
                    sub.script.display(),
                    sub.tasks.len(),
                    sub.manifest.display(),
                    sub.script.display()
                );
                return Ok(None);
            }
            let job = slurm::submit(plan, sub)?;
            println!(
                "submitted job {} ({} tasks{}): {}",
                job.job_id,
                job.tasks.len(),
                if sub.in_queue > 0 {
                    format!("; {} runs still queued from earlier jobs", sub.in_queue)
                } else {
                    String::new()
                },
                sub.script.display()
            );
        }
    }
    if a.emit_only || a.no_wait {
        return Ok(None);
    }
    let jobs = slurm::jobs(&plan.out)?;
    let bar = bar(plan.runs.len());
    let t0 = Instant::now();
    let last = loop {
        let p = slurm::progress(plan, &jobs)?;
        bar.set_position(p.counts.done as u64);
        bar.set_message(format!(
            "running {}, pending {}, failed {}",
            p.counts.running, p.counts.pending, p.counts.failed
        ));
        if p.counts.running + p.counts.pending == 0 {
            break p;
        }
        if a.follow_timeout
            .is_some_and(|t| t0.elapsed().as_secs_f64() > t)
        {
            bar.finish_and_clear();
            bail!(
                "gave up following after {:.0} s; the job keeps running: `occlab sweep --out {} --slurm` follows it again",
                t0.elapsed().as_secs_f64(),
                plan.out.display()
            );
        }
        std::thread::sleep(Duration::from_secs_f64(a.poll.max(0.2)));
    };
    bar.finish_and_clear();
    println!(
        "slurm: {} done, {} failed, {} never submitted ({:.0} s)",
        last.counts.done,
        last.failed.len(),
        last.not_submitted,
        t0.elapsed().as_secs_f64()
    );
    for f in &last.failed {
        println!(
            "  failed: task {} of job {} ({}): {}\n          log: {}",
            f.task,
            f.job,
            f.run,
            f.state,
            f.log.display()
        );
    }
    Ok(Some(last.failed.is_empty() && last.not_submitted == 0))
}

/// Reads the sweep folder, prints the table, writes CSV and PNG.
fn write_report(a: &SweepArgs, out: &Path) -> Result<()> {
    let table = report::read(out)?;
    print_table(&table);
    let csv = a.csv.clone().unwrap_or_else(|| table.default_csv_path());
    table.write_csv(&csv)?;
    println!("table: {}", csv.display());
    let choice = PlotChoice {
        x: a.x.clone(),
        lines: a.lines.clone(),
        metric: a.metric.clone(),
    };
    match table.resolve(&choice) {
        Ok((_, _, metric)) => {
            let png = a
                .png
                .clone()
                .unwrap_or_else(|| table.default_png_path(metric));
            table.write_png(&choice, &png)?;
            println!("chart: {}", png.display());
        }
        Err(e) => println!("no chart: {e}"),
    }
    Ok(())
}

fn print_table(t: &SweepTable) {
    let mut header: Vec<String> = t.keys.iter().map(|k| k.short()).collect();
    header.push("test %".into());
    header.extend(t.levels.iter().map(|l| format!("L{l} %")));
    header.extend(["epochs", "time s", "where"].map(String::from));
    let rows: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| {
            let mut c: Vec<String> = r
                .values
                .iter()
                .map(occlab::experiment::sweep::spec::value_text)
                .collect();
            let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
            c.push(match &r.state {
                RowState::Damaged(_) => "damaged".into(),
                _ => pct(r.test_accuracy),
            });
            c.extend(
                t.levels
                    .iter()
                    .map(|&l| pct(r.per_level.get(l).copied().flatten())),
            );
            c.push(match r.state {
                RowState::Finished => r.epochs.to_string(),
                _ => format!("{} (unfinished)", r.epochs),
            });
            c.push(r.seconds.map_or("-".into(), |s| format!("{s:.1}")));
            c.push(r.where_text());
            c
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(&header));
    for r in &rows {
        println!("{}", line(r));
    }
    for r in &t.rows {
        if let RowState::Damaged(e) = &r.state {
            println!("damaged: {}: {e}", r.run);
        }
    }
}
