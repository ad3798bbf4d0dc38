//! The `occlab` command: no subcommand opens the workbench; subcommands run the same library
//! calls headless, for scripted and reproducible experiments.
//!
//! Over 600 lines: clap's declaration of every subcommand and one short handler each (train,
//! eval, reproduce, bench, quiz, presets, …) that turns options into library calls and prints
//! progress; no concept of its own lives here. Several sessions add subcommands to it at once,
//! so it stays one file until they have landed; then it splits by subcommand.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use occlab::data::source::data_dir_from;
use occlab::experiment::dataset::{self, Prepared};
use occlab::experiment::preset::Preset;
use occlab::experiment::queue::{Launch, QueueEvent, RunQueue, RunTarget};
use occlab::experiment::run::RunDir;
use occlab::experiment::training;
use occlab::train::{BackendChoice, TrainEvent};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod cli;

#[derive(Parser)]
#[command(
    name = "occlab",
    version,
    about = "Workbench for experiments on severely occluded image sequences"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Build the sequences a preset describes and summarise them (counts, coverage, seed, timing).
    Dataset {
        /// The preset TOML file.
        #[arg(long)]
        preset: PathBuf,
        /// Folder with the data sets (defaults to $OCCLAB_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Write a contact sheet PNG (rows of sequences, each image's level marked).
        #[arg(long)]
        sheet: Option<PathBuf>,
        /// Sequences on the contact sheet.
        #[arg(long, default_value_t = 12)]
        sheet_rows: usize,
        /// Tint the occluded pixels in their level's colour on the sheet (black occluders on a
        /// black background are otherwise visible only where they cut the ink).
        #[arg(long)]
        show_occluders: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Train the model a preset describes; the run lands in a directory (default runs/<preset>).
    Train {
        #[arg(long)]
        preset: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Override the preset's number of epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Keep at most this many sequences of each split (train and test).
        #[arg(long)]
        limit_sequences: Option<usize>,
        /// Override the preset's sequences per batch (`[train] batch_size`); a GPU trains
        /// faster on large batches (e.g. 256).
        #[arg(long)]
        batch: Option<usize>,
        /// Hold out this share of the training sequences for validation (e.g. 0.1; 0 = none):
        /// scored after every epoch, the best epoch by it is the run's result
        /// (`[train] validation_fraction`).
        #[arg(long)]
        validation: Option<f64>,
        /// Early stopping: stop once the validation accuracy has not improved for this many
        /// epochs (`--epochs` is then the most; `[train] patience`). Needs a validation split.
        #[arg(long)]
        patience: Option<usize>,
        /// f32, or mixed: on a GPU, f16 operands for the convolutions and the big products
        /// (tensor cores through Vulkan), the rest f32 (`[train] precision`).
        #[arg(long)]
        precision: Option<occlab::model::Precision>,
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
        /// Run directory (default runs/<preset name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue the run in --out from its last checkpoint (its config.toml is used).
        #[arg(long)]
        resume: bool,
    },
    /// Print speed figures: `foundation` (load, occlude, plan, build on full MNIST), `train`
    /// (training images/s per model on the chosen backend) or `ops` (a CRNN step's parts: time,
    /// TFLOP/s and GPU kernel launches of each).
    Bench {
        #[arg(value_parser = ["foundation", "train", "ops"])]
        what: String,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Models for `train` (default: CRNN and CNN).
        #[arg(long)]
        model: Vec<String>,
        /// Sequences (of 5 images) per batch for `train`; repeat for several (default 32).
        #[arg(long)]
        batch: Vec<usize>,
        #[arg(long, value_enum, default_value_t = BackendChoice::Flex)]
        backend: BackendChoice,
        /// For `train` and `ops` on a GPU: f32, or mixed (f16 operands for the convolutions and
        /// the big products).
        #[arg(long, default_value = "f32")]
        precision: occlab::model::Precision,
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        #[arg(long)]
        json: bool,
    },
    /// Rerun the runs behind published tables (reusing finished ones with the same config) and
    /// write a report (index.md, index.html, plots) with ours beside the published numbers.
    Reproduce {
        /// A1 … A5 (paper A), B1 … B4 (paper B), W1 (real words), a comma-separated list, or all.
        #[arg(long, default_value = "all")]
        table: String,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// quick: data subsets and ≤ 2 epochs (minutes on a CPU); full: whole data sets trained to
        /// convergence (validation split, early stopping, best epoch kept); smoke: tiny, for tests.
        #[arg(long, value_enum, default_value_t = occlab::experiment::reproduce::Budget::Quick)]
        budget: occlab::experiment::reproduce::Budget,
        /// Override every run's epochs (the report says so).
        #[arg(long)]
        epochs: Option<usize>,
        /// Report folder; runs go to OUT/runs/.
        #[arg(long, default_value = "report")]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
        /// Presets folder (default: ./presets, else the presets built into occlab).
        #[arg(long)]
        presets: Option<PathBuf>,
        /// Quiz session files for Tables A4–A5.
        #[arg(long, default_value = "quiz")]
        quiz_dir: PathBuf,
        /// Only create the run directories and print them (to train them elsewhere, e.g. with
        /// `occlab train --resume --out DIR` on a GPU machine); no training, no report.
        #[arg(long)]
        plan_only: bool,
        /// Train nothing: write the report from the runs already finished; list the rest as
        /// not run.
        #[arg(long)]
        report_only: bool,
    },
    /// Score a trained run on its own test sequences or on another preset's (e.g. the random control).
    Eval {
        #[arg(long)]
        run: PathBuf,
        /// Another preset whose sequences to score (same image size and classes).
        #[arg(long)]
        preset: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
        /// Print the metrics as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a quiz session in the terminal: each sequence is printed, one line of answers is read
    /// per sequence, and every sequence is saved (fsync) before the next is shown. Running the
    /// same command again resumes the session at its next sequence.
    Quiz(QuizArgs),
    /// Analyse quiz sessions: accuracy per group (95 % Wilson intervals), with vs without
    /// patterns, per level and position; runs scored on the same images; McNemar tests; a table
    /// in the shape of paper A's Tables 4–5.
    QuizReport(QuizReportArgs),
    /// Sweep a preset over values of any of its keys (grid or zipped), on this machine's cores
    /// or GPUs (--workers) or a Slurm cluster (--slurm), and gather the runs into a table (CSV)
    /// and a chart (PNG). Runs are reused when finished and resumed when interrupted.
    Sweep(Box<cli::sweep::SweepArgs>),
    /// Serve the quiz to a whole class: every participant answers in their own browser (phone or
    /// laptop) on this network; each sequence is saved (fsync) as it is submitted, one session
    /// file per participant in --out; a teacher page shows the class against the chosen runs
    /// live. Running the same command again continues the class session.
    QuizServe(occlab::classroom::cli::QuizServeArgs),
    /// The presets built into occlab: list them, or copy them into a folder to read and edit.
    /// A path such as `presets/quiz/mnist.toml` reads the built-in one when no such file exists.
    Presets {
        #[command(subcommand)]
        action: PresetsAction,
    },
}

#[derive(Subcommand)]
enum PresetsAction {
    /// Print every built-in preset file (paths as the commands accept them).
    List,
    /// Write every built-in preset file under DIR (`DIR/quiz/mnist.toml`, …); existing files
    /// with other content are never overwritten.
    Export { dir: PathBuf },
}

/// Runs the command; an error is printed one line per cause (no sentence twice, see
/// `occlab::errors`), with a backtrace only when `RUST_BACKTRACE` asks for one.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", occlab::errors::chain_text(e.as_ref()));
            if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
                eprintln!("{}", e.backtrace());
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    occlab::train::memory::keep_freed_memory();
    let cli = Cli::parse();
    match cli.command {
        None => occlab::gui::run_native()
            .map_err(|e| anyhow::anyhow!("the workbench window failed: {e}")),
        Some(Command::Dataset {
            preset,
            data_dir,
            sheet,
            sheet_rows,
            show_occluders,
            json,
        }) => {
            let preset = Preset::load(&preset)?;
            let data_dir = data_dir_from(data_dir.as_deref());
            let prepared = dataset::prepare(&preset, data_dir.as_deref())?;
            let summary = prepared.summary(&preset);
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{summary}");
                if let Some((d, paper)) = occlab::experiment::tables::published_sequences(&preset) {
                    let paper_data = ["MNIST", "EMNIST letters", "CIFAR-10"][d.paper_column()];
                    println!(
                        "paper A     {paper} sequences planned from all of {paper_data}; ours {} from {}",
                        summary.train_sequences + summary.test_sequences,
                        d.title()
                    );
                }
            }
            if let Some(path) = sheet {
                let img = prepared.contact_sheet(&preset, sheet_rows, show_occluders);
                img.save(&path)
                    .with_context(|| format!("writing the contact sheet {}", path.display()))?;
                if !json {
                    println!(
                        "contact sheet: {} ({}×{} px)",
                        path.display(),
                        img.width(),
                        img.height()
                    );
                }
            }
            Ok(())
        }
        Some(Command::Train {
            preset,
            data_dir,
            epochs,
            limit_sequences,
            batch,
            validation,
            patience,
            precision,
            backend,
            out,
            resume,
        }) => train(
            preset,
            data_dir,
            TrainOverrides {
                epochs,
                limit: limit_sequences,
                batch,
                validation,
                patience,
                precision,
            },
            backend,
            out,
            resume,
        ),
        Some(Command::Reproduce {
            table,
            data_dir,
            budget,
            epochs,
            out,
            backend,
            presets,
            quiz_dir,
            plan_only,
            report_only,
        }) => {
            let tables = occlab::experiment::reproduce::TableId::parse_list(&table)
                .map_err(anyhow::Error::msg)?;
            let mut opts =
                occlab::experiment::reproduce::ReproduceOptions::new(tables, budget, out);
            opts.epochs = epochs;
            opts.data_dir = data_dir_from(data_dir.as_deref());
            opts.backend = backend;
            opts.quiz_dir = Some(quiz_dir);
            opts.report_only = report_only;
            if let Some(p) = presets {
                opts.presets = p;
            }
            reproduce(&opts, plan_only)
        }
        Some(Command::Eval {
            run,
            preset,
            data_dir,
            backend,
            json,
        }) => eval(&run, preset, data_dir, backend, json),
        Some(Command::Bench {
            what,
            data_dir,
            model,
            batch,
            backend,
            precision,
            repeats,
            json,
        }) => bench(
            &what,
            data_dir,
            (&model, &batch),
            (backend, precision),
            repeats,
            json,
        ),
        Some(Command::Quiz(args)) => quiz(args),
        Some(Command::QuizReport(args)) => quiz_report(args),
        Some(Command::QuizServe(args)) => Ok(occlab::classroom::cli::run(args)?),
        Some(Command::Presets { action }) => presets(action),
        Some(Command::Sweep(args)) => cli::sweep::run(*args),
    }
}

/// Prints a line above the progress bar; where the bar is hidden (output not a terminal: logs,
/// pipes, tests), prints it plainly so that scripted runs keep their log.
fn say(bar: &indicatif::ProgressBar, line: impl AsRef<str>) {
    if bar.is_hidden() {
        println!("{}", line.as_ref());
    } else {
        bar.println(line);
    }
}

/// A progress bar of training steps drawn with `template` (indicatif's syntax).
fn step_bar(template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

/// Moves `bar` to the step `s` of its epoch.
fn show_step(bar: &indicatif::ProgressBar, s: &occlab::train::StepRecord) {
    bar.set_length(s.steps_per_epoch as u64);
    bar.set_position(s.step as u64 + 1);
}

fn reproduce(
    opts: &occlab::experiment::reproduce::ReproduceOptions,
    plan_only: bool,
) -> Result<()> {
    use occlab::experiment::reproduce::{self as rep, ReproduceEvent, RunOutcome, RunState};
    if plan_only {
        for run in rep::plan(opts)? {
            if run.state == RunState::New {
                RunDir::create(&run.dir, &run.preset)?;
            }
            println!(
                "{}\t{:?}\t{}",
                run.dir.display(),
                run.state,
                run.source.display()
            );
        }
        return Ok(());
    }
    let job = rep::reproduce_in_background(opts.clone(), occlab::report::write_report, None);
    let bar = step_bar("{prefix} [{bar:25}] {pos}/{len} steps  {msg}  eta {eta}");
    let mut total = 0;
    for event in job.events.iter() {
        match event {
            ReproduceEvent::Planned { runs } => {
                total = runs.len();
                let reuse = runs.iter().filter(|r| r.1 == RunState::Reuse).count();
                let resume = runs.iter().filter(|r| r.1 == RunState::Resume).count();
                let damaged = runs.iter().filter(|r| r.1 == RunState::Damaged).count();
                say(
                    &bar,
                    format!(
                        "{total} runs for tables {}: {reuse} finished earlier (reused), {resume} to resume, {} new{}; budget {}",
                        opts.tables
                            .iter()
                            .map(|t| t.name())
                            .collect::<Vec<_>>()
                            .join(", "),
                        total - reuse - resume - damaged,
                        if damaged > 0 {
                            format!(", {damaged} damaged (left as they are, see the report)")
                        } else {
                            String::new()
                        },
                        opts.budget.name()
                    ),
                );
            }
            ReproduceEvent::RunStarted { index, name, .. } => {
                bar.set_prefix(format!("run {}/{total} {name}", index + 1));
                bar.reset();
            }
            ReproduceEvent::Train { event, .. } => match *event {
                TrainEvent::Step(s) => {
                    show_step(&bar, &s);
                    bar.set_message(format!(
                        "epoch {} loss {:.3} {:.0} img/s",
                        s.epoch, s.loss, s.images_per_second
                    ));
                }
                TrainEvent::Epoch(e) => say(
                    &bar,
                    format!(
                        "    epoch {}: test accuracy {:.2} %",
                        e.epoch,
                        e.test.accuracy() * 100.0
                    ),
                ),
                _ => {}
            },
            ReproduceEvent::RunEnded {
                index,
                name,
                outcome,
                seconds,
            } => {
                let what = match outcome {
                    RunOutcome::Reused => "reused".to_string(),
                    RunOutcome::Finished { test_accuracy } => {
                        format!("test accuracy {:.2} %", test_accuracy * 100.0)
                    }
                    RunOutcome::Failed(e) => format!("FAILED: {e}"),
                    RunOutcome::Stopped => "stopped".to_string(),
                    RunOutcome::NotRun => "not run (--report-only)".to_string(),
                };
                say(
                    &bar,
                    format!("[{}/{total}] {name}: {what} ({seconds:.0} s)", index + 1),
                );
            }
            ReproduceEvent::ReportWritten { markdown, html } => {
                bar.finish_and_clear();
                println!("report: {} and {}", markdown.display(), html.display());
            }
            ReproduceEvent::Stopped => println!("stopped: rerun the same command to resume"),
        }
    }
    match job.handle.join() {
        Ok(Ok(summary)) => {
            let failed = summary
                .runs
                .iter()
                .filter(|(_, o)| matches!(o, RunOutcome::Failed(_)))
                .count();
            println!(
                "{} runs in {:.0} s{}",
                summary.runs.len(),
                summary.wall_seconds,
                if failed > 0 {
                    format!(", {failed} failed (see the report)")
                } else {
                    String::new()
                }
            );
            if failed > 0 {
                bail!("{failed} runs failed");
            }
            Ok(())
        }
        Ok(Err(e)) => bail!("reproduce failed: {e}"),
        Err(_) => bail!("the reproduce thread panicked"),
    }
}

/// What `occlab train` overrides in the preset.
struct TrainOverrides {
    epochs: Option<usize>,
    limit: Option<usize>,
    batch: Option<usize>,
    validation: Option<f64>,
    patience: Option<usize>,
    precision: Option<occlab::model::Precision>,
}

fn train(
    preset: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    overrides: TrainOverrides,
    backend: BackendChoice,
    out: Option<PathBuf>,
    resume: bool,
) -> Result<()> {
    let data_dir = data_dir_from(data_dir.as_deref());
    let launch = if resume {
        let Some(out) = out.clone() else {
            bail!("--resume needs --out RUN_DIR")
        };
        if overrides.epochs.is_some()
            || overrides.limit.is_some()
            || overrides.batch.is_some()
            || overrides.validation.is_some()
            || overrides.patience.is_some()
            || overrides.precision.is_some()
        {
            bail!(
                "--epochs, --limit-sequences, --batch, --validation, --patience and --precision \
                 apply to a new run: a resumed run keeps them as its config.toml says"
            );
        }
        // A crash while a metrics line was appended leaves it torn: say so; resuming rewrites
        // the log up to the last checkpoint without it.
        if let Some(note) = RunDir::open(&out)?.read_log()?.torn {
            eprintln!("{note}");
        }
        Launch::resume(out)?
    } else {
        let Some(path) = preset.as_ref() else {
            bail!("--preset is required (or --resume --out RUN_DIR)")
        };
        let mut p = Preset::load(path)?;
        if p.model.is_none() {
            bail!(
                "{}: no [model] section, nothing to train (dataset presets are for `occlab dataset`)",
                path.display()
            );
        }
        let train = p.train.get_or_insert_with(Default::default);
        if let Some(e) = overrides.epochs {
            train.epochs = e;
        }
        if let Some(b) = overrides.batch {
            if b == 0 {
                bail!("--batch must be at least 1 sequence");
            }
            train.batch_size = b;
        }
        if let Some(v) = overrides.validation {
            train.validation_fraction = v;
        }
        if overrides.patience.is_some() {
            train.patience = overrides.patience;
        }
        if let Some(p) = overrides.precision {
            train.precision = p;
        }
        // The preset was checked when read; the overrides are checked the same way.
        if let Err(m) = train.check() {
            bail!("{m} (`occlab train`: --validation SHARE, --patience N)");
        }
        if let Some(l) = overrides.limit {
            p.sequences.limit = Some(l);
        }
        let dir = out.unwrap_or_else(|| Path::new("runs").join(&p.name));
        Launch::plan(p, RunTarget::New(dir))?
    };
    let run_path = launch.dir.clone();
    if launch.state == occlab::experiment::queue::RunState::Reuse {
        // Resuming a finished run trains nothing and leaves its files as they are.
        println!(
            "{}: finished already, nothing to train (`occlab eval --run {}` scores it)",
            run_path.display(),
            run_path.display()
        );
        return Ok(());
    }
    eprintln!("preparing {} …", launch.preset.data.describe());
    let prepared = Arc::new(dataset::prepare(&launch.preset, data_dir.as_deref())?);
    let mut queue = RunQueue::new(backend, None);
    queue.push_planned(launch, prepared);
    // Ctrl-C ends the process; the checkpoint of the last finished epoch stays for --resume.
    let bar = step_bar("epoch {prefix} [{bar:30}] {pos}/{len} steps  {msg}  eta {eta}");
    let mut epochs_total = 0;
    while let Some(event) = queue.wait() {
        let event = match event {
            QueueEvent::Train { event, .. } => *event,
            QueueEvent::Started { .. } | QueueEvent::Reused { .. } => continue,
            QueueEvent::NotStarted { error, .. } => bail!("{error}"),
            QueueEvent::Ended { outcome, .. } => match outcome {
                Ok(_) => return Ok(()),
                Err(e) => bail!("training failed: {e}"),
            },
        };
        match event {
            TrainEvent::Started {
                run,
                backend,
                backend_reason,
                model,
                parameters,
                train_sequences,
                test_sequences,
                first_epoch,
                epochs,
            } => {
                epochs_total = epochs;
                say(
                    &bar,
                    format!(
                        "run {run}: {model} ({parameters} parameters) on {backend} [{backend_reason}]\n{train_sequences} train / {test_sequences} test sequences, epochs {first_epoch}..={epochs}"
                    ),
                );
            }
            TrainEvent::Step(s) => {
                show_step(&bar, &s);
                bar.set_prefix(format!("{}/{epochs_total}", s.epoch));
                bar.set_message(format!(
                    "loss {:.4}  acc {:.1} %  {:.0} img/s",
                    s.loss,
                    s.accuracy * 100.0,
                    s.images_per_second
                ));
            }
            TrainEvent::Epoch(e) => {
                say(
                    &bar,
                    format!(
                        "epoch {:>3}: train loss {:.4} acc {:.2} %  |  test loss {:.4} acc {:.2} %  |  {:.0} img/s, {:.0} s",
                        e.epoch,
                        e.train.loss.unwrap_or(f64::NAN),
                        e.train.accuracy() * 100.0,
                        e.test.loss.unwrap_or(f64::NAN),
                        e.test.accuracy() * 100.0,
                        e.images_per_second,
                        e.train_seconds + e.eval_seconds
                    ),
                );
                bar.reset();
            }
            TrainEvent::Finished {
                epochs,
                test_accuracy,
                wall_seconds,
            } => {
                bar.finish_and_clear();
                println!(
                    "finished {epochs} epochs in {wall_seconds:.0} s: test accuracy {:.2} %  → {}",
                    test_accuracy * 100.0,
                    run_path.display()
                );
            }
            TrainEvent::Stopped { after_epoch } => {
                bar.finish_and_clear();
                println!(
                    "stopped; checkpoint after epoch {after_epoch} kept: resume with `occlab train --resume --out {}`",
                    run_path.display()
                );
            }
            TrainEvent::Failed(e) => {
                bar.finish_and_clear();
                eprintln!("training failed: {e}");
            }
            TrainEvent::Clips(c) => say(
                &bar,
                format!(
                    "           clips: test videos {:.2} % right ({} of {}), subsequences {:.2} %",
                    c.test.videos.accuracy().unwrap_or(0.0) * 100.0,
                    c.test.videos.correct,
                    c.test.videos.total,
                    c.test.subsequences.accuracy().unwrap_or(0.0) * 100.0
                ),
            ),
            TrainEvent::Checkpoint { .. } | TrainEvent::Paused | TrainEvent::Resumed => {}
        }
    }
    Ok(())
}

fn eval(
    run_path: &Path,
    preset: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    backend: BackendChoice,
    json: bool,
) -> Result<()> {
    let data_dir = data_dir_from(data_dir.as_deref());
    let run = RunDir::open(run_path)?;
    let preset = match preset {
        Some(p) => Preset::load(&p)?,
        None => run.preset()?,
    };
    let prepared: Prepared = dataset::prepare(&preset, data_dir.as_deref())?;
    let report = training::evaluate_run(&run, &prepared, &preset, backend)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report.metrics)?);
        return Ok(());
    }
    println!(
        "run {} ({}) on {} [{}]",
        run.name(),
        report.model,
        preset.name,
        report.backend
    );
    println!(
        "{}",
        occlab::metrics::format_metrics(&report.metrics, &prepared.images.class_names)
    );
    if let Some(c) = &report.clips {
        println!(
            "clips: {} test videos, {:.2} % right (error {:.3}); {} subsequences, {:.2} % right",
            c.videos.total,
            c.videos.accuracy().unwrap_or(0.0) * 100.0,
            c.video_error(),
            c.subsequences.total,
            c.subsequences.accuracy().unwrap_or(0.0) * 100.0
        );
    }
    Ok(())
}

fn bench(
    what: &str,
    data_dir: Option<PathBuf>,
    (models, batches): (&[String], &[usize]),
    (backend, precision): (BackendChoice, occlab::model::Precision),
    repeats: usize,
    json: bool,
) -> Result<()> {
    let mut adapter = None;
    let figures = match what {
        "foundation" => {
            let Some(dir) = data_dir_from(data_dir.as_deref()) else {
                bail!(
                    "bench foundation needs the data folder with mnist/: --data-dir or OCCLAB_DATA_DIR"
                )
            };
            occlab::bench::foundation(&dir, repeats)?
        }
        _ => {
            let chosen = occlab::train::choose_device(backend).map_err(anyhow::Error::msg)?;
            eprintln!("backend: {} ({})", chosen.name, chosen.reason);
            let kinds: Vec<occlab::model::ModelKind> = if models.is_empty() {
                vec![
                    occlab::model::ModelKind::Crnn,
                    occlab::model::ModelKind::Cnn,
                ]
            } else {
                models.iter().map(|m| m.parse()).collect::<Result<_, _>>()?
            };
            let batches = if batches.is_empty() {
                &[32][..]
            } else {
                batches
            };
            if batches.contains(&0) {
                bail!("--batch must be at least 1 sequence");
            }
            adapter = chosen.adapter.clone();
            let mut figures = Vec::new();
            if what == "ops" {
                for &b in batches {
                    figures.extend(
                        occlab::bench::crnn_parts(&chosen.device, b, repeats, precision)
                            .map_err(anyhow::Error::msg)?,
                    );
                }
                return print_figures(what, &figures, adapter.as_ref(), json);
            }
            for k in kinds {
                for &b in batches {
                    figures.extend(
                        occlab::bench::train_step(
                            k,
                            &chosen.device,
                            (b, 5),
                            repeats,
                            chosen.adapter.is_some(),
                            precision,
                        )
                        .map_err(anyhow::Error::msg)?,
                    );
                }
            }
            figures
        }
    };
    print_figures(what, &figures, adapter.as_ref(), json)
}

/// Prints `bench`'s figures as a table or (`json`) as JSON.
fn print_figures(
    what: &str,
    figures: &[occlab::bench::Figure],
    adapter: Option<&occlab::train::backend::AdapterInfo>,
    json: bool,
) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let profile = if cfg!(debug_assertions) {
        "dev profile"
    } else {
        "release profile"
    };
    if json {
        if what != "foundation" {
            let out = serde_json::json!({
                "adapter": adapter,
                "gpu_features": occlab::train::backend::gpu_features(),
                "gpu_cache": adapter.as_ref().map(|_| occlab::train::gpu_cache::configure().describe()),
                "figures": figures,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(());
        }
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    println!("occlab bench {what} ({profile}, {threads} threads available)");
    if let Some(a) = adapter {
        println!("  adapter: {}; driver {}", a.describe(), a.driver_text());
        if let Some(n) = a.buffers_per_kernel {
            println!(
                "  storage buffers per kernel: {n} (Burn's fusion binds at most {} per fused kernel, its metadata included)",
                n.saturating_sub(1)
            );
        }
        println!(
            "  Burn GPU features: {}",
            occlab::train::backend::gpu_features().join(", ")
        );
        println!(
            "  GPU cache (autotune, kernels): {}",
            occlab::train::gpu_cache::configure().describe()
        );
    }
    for f in figures {
        let mut rate = f
            .per_second
            .map_or(String::new(), |r| match f.unit.as_str() {
                "TFLOP/s" => format!("  {r:>10.3} {}", f.unit),
                _ => format!("  {r:>10.0} {}", f.unit),
            });
        if let Some(l) = f.launches_per_step {
            let per = if what == "ops" { "pass" } else { "step" };
            rate.push_str(&format!(", {l:.0} kernel launches per {per}"));
        }
        println!(
            "  {:<52} median {:>9.1} ms  min {:>9.1} ms  (n={}){rate}",
            f.name, f.median_ms, f.min_ms, f.repeats
        );
    }
    if what == "foundation" {
        let total: f64 = figures
            .iter()
            .filter(|f| !f.name.starts_with("plan digit"))
            .map(|f| f.median_ms)
            .sum();
        println!("  load + occlude + plan/build together: {total:.0} ms");
    }
    Ok(())
}

#[derive(clap::Args)]
struct QuizArgs {
    /// Participant ID (names the session file `<out>/<participant>-<preset>.jsonl`).
    #[arg(long, required_unless_present = "session")]
    participant: Option<String>,
    /// Non-expert, Expert, or any other label.
    #[arg(long, default_value = "Non-expert")]
    group: String,
    /// The preset whose data, occluders and sequences the quiz shows.
    #[arg(long, default_value = "presets/quiz/digits-embedded.toml")]
    preset: PathBuf,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Folder of the session files.
    #[arg(long, default_value = "quiz")]
    out: PathBuf,
    #[command(flatten)]
    design: occlab::quiz::config::QuizDesignArgs,
    /// The order of the sequences (default: derived from the participant ID).
    #[arg(long)]
    order_seed: Option<u64>,
    /// Resume this session file with its recorded settings.
    #[arg(long)]
    session: Option<PathBuf>,
    /// Print only the prompts, not the images as character art.
    #[arg(long)]
    no_images: bool,
}

#[derive(clap::Args)]
struct QuizReportArgs {
    /// Session files (`quiz/*.jsonl`) or folders of them.
    #[arg(required = true)]
    sessions: Vec<PathBuf>,
    /// A trained run to score on exactly the images the sessions showed (repeatable).
    #[arg(long)]
    run: Vec<PathBuf>,
    /// Write one CSV row per image answer (with the runs' predictions).
    #[arg(long)]
    csv: Option<PathBuf>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn quiz(a: QuizArgs) -> Result<()> {
    use occlab::quiz::{QuizConfig, Stimuli, session, terminal};
    let data_dir = data_dir_from(a.data_dir.as_deref());
    let (mut session, stimuli) = match &a.session {
        Some(path) => {
            let (s, recovery, stimuli) = session::resume(path, data_dir.as_deref())?;
            if let Some(r) = recovery {
                eprintln!("note: {}: {r}", path.display());
            }
            (s, stimuli)
        }
        None => {
            let participant = a.participant.as_deref().unwrap_or_default();
            let preset = Preset::load(&a.preset)?;
            let mut c = QuizConfig::new(participant, occlab::quiz::Group::parse(&a.group), preset);
            a.design.apply(&mut c);
            if let Some(s) = a.order_seed {
                c.order_seed = s;
            }
            let stimuli = Stimuli::load(&c, data_dir.as_deref())?;
            let (s, started) = session::start(&a.out, &c, &stimuli)?;
            match started {
                session::Started::Created => eprintln!("new session {}", s.path().display()),
                session::Started::Resumed { recovery } => {
                    if let Some(r) = recovery {
                        eprintln!("note: {}: {r}", s.path().display());
                    }
                }
            }
            (s, stimuli)
        }
    };
    let options = terminal::TerminalOptions {
        show_images: !a.no_images,
    };
    terminal::run(
        &mut session,
        &stimuli,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        options,
    )?;
    Ok(())
}

fn presets(action: PresetsAction) -> Result<()> {
    use occlab::experiment::builtin;
    match action {
        PresetsAction::List => {
            for (name, bytes) in builtin::files() {
                println!("{}/{name}  ({} bytes)", builtin::ROOT, bytes.len());
            }
        }
        PresetsAction::Export { dir } => {
            let written = builtin::export(&dir)?;
            println!(
                "wrote {} of the {} built-in preset files under {}",
                written.len(),
                builtin::files().len(),
                dir.display()
            );
        }
    }
    Ok(())
}

fn quiz_report(a: QuizReportArgs) -> Result<()> {
    use occlab::quiz::session::{SessionRecord, list_sessions};
    use occlab::quiz::{analysis, export, scoring};
    let data_dir = data_dir_from(a.data_dir.as_deref());
    let mut sessions = Vec::new();
    for p in &a.sessions {
        if p.is_dir() {
            for s in list_sessions(p) {
                sessions.push(s?);
            }
        } else {
            sessions.push(SessionRecord::read(p)?);
        }
    }
    if sessions.is_empty() {
        bail!("no session files found");
    }
    let runs: Vec<&Path> = a.run.iter().map(PathBuf::as_path).collect();
    let models = scoring::score_runs(&sessions, &runs, data_dir.as_deref(), a.backend)?;
    let report = analysis::analyze(&sessions, &models);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if let Some(csv) = &a.csv {
        export::write_csv(csv, &sessions, &models)?;
        eprintln!("wrote {}", csv.display());
    }
    Ok(())
}
