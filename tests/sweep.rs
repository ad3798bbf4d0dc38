//! `occlab sweep` on this machine (issue 17): a sweep of tiny runs on the embedded digits with two
//! local workers; a second call reuses every finished run; a sweep killed half-way finishes only
//! what was missing when started again, and leaves no run training behind it; a failing run is
//! listed with its log; the report's CSV and PNG.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{csv_rows, output_text as text};

/// Tiny runs: one or two epochs of 40 sequences per split on the embedded digits.
fn sweep_args(out: &Path, epochs: usize) -> Vec<String> {
    [
        "sweep",
        "--preset",
        "presets/train/demo-crnn-embedded.toml",
        "--set",
        "model.kind=CNN,CRNN",
        "--set",
        "train.seed=1,2",
        "--set",
        &format!("train.epochs={epochs}"),
        "--set",
        "sequences.limit=40",
        "--backend",
        "flex",
        "--out",
        &out.display().to_string(),
    ]
    .map(String::from)
    .to_vec()
}

fn occlab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_occlab"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("OCCLAB_DATA_DIR")
        .stdin(Stdio::null());
    c
}

fn run(args: &[String]) -> Output {
    occlab().args(args).output().expect("occlab runs")
}

fn run_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs
}

fn finished(dir: &Path) -> bool {
    occlab::experiment::run::RunDir::open(dir)
        .and_then(|r| r.is_finished())
        .unwrap_or(false)
}

#[test]
fn a_sweep_runs_on_two_workers_then_reuses_its_runs_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let mut args = sweep_args(&out, 1);
    args.extend(["--workers", "2", "--threads", "1"].map(String::from));

    // --plan prints the four runs and creates nothing.
    let mut plan = sweep_args(&out, 1);
    plan.push("--plan".into());
    let o = run(&plan);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("4 runs (4 new, 0 to resume, 0 finished)"),
        "{}",
        text(&o)
    );
    assert!(!out.exists(), "--plan wrote {}", out.display());

    let o = run(&args);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(log.contains("2 workers × 1 threads"), "{log}");
    assert!(log.contains("4 trained, 0 reused, 0 failed"), "{log}");
    let dirs = run_dirs(&out);
    assert_eq!(dirs.len(), 4, "{dirs:?}");
    for d in &dirs {
        assert!(finished(d), "{} not finished", d.display());
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("demo-crnn-embedded-kind-C"),
            "named by its swept values: {name}"
        );
        // Each child trained with one compute thread, and says where.
        let info = occlab::experiment::run::RunDir::open(d)
            .unwrap()
            .info()
            .unwrap();
        assert_eq!(info.threads, 1, "{}", d.display());
        assert!(info.host.is_some());
    }
    for f in ["sweep.toml", "sweep.json", "manifest.txt"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let manifest = std::fs::read_to_string(out.join("manifest.txt")).unwrap();
    assert_eq!(manifest.lines().count(), 4);
    assert!(manifest.lines().all(|l| Path::new(l).is_absolute()));

    // The report: the table as CSV (one row per run) and the chart as PNG.
    let csv = out.join("report/demo-crnn-embedded.csv");
    let (header, rows) = csv_rows(&csv);
    assert_eq!(header[..2], ["model.kind", "train.seed"]);
    assert!(
        header.contains(&"level5_accuracy".to_string()),
        "{header:?}"
    );
    assert_eq!(rows.len(), 4);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for r in &rows {
        let acc: f64 = r[col("test_accuracy")].parse().unwrap();
        assert!((0.0..=100.0).contains(&acc), "{r:?}");
        assert_eq!(r[col("epochs")], "1");
        assert_eq!(r[col("state")], "finished");
        assert!(!r[col("host")].is_empty());
    }
    let png = out.join("report/demo-crnn-embedded-test_accuracy.png");
    let img = image::open(&png).unwrap();
    assert!(img.width() > 400 && img.height() > 300);

    // The same command again: every run is reused, nothing trains, the logs stay as they were.
    let before: Vec<Vec<u8>> = dirs
        .iter()
        .map(|d| std::fs::read(d.join("metrics.jsonl")).unwrap())
        .collect();
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("4 runs (0 new, 0 to resume, 4 finished)"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("0 trained, 4 reused"), "{}", text(&o));
    let after: Vec<Vec<u8>> = dirs
        .iter()
        .map(|d| std::fs::read(d.join("metrics.jsonl")).unwrap())
        .collect();
    assert!(before == after, "a reused run was written to");

    // The report alone, from the folder, with another chart.
    let o = run(&[
        "sweep".into(),
        "--out".into(),
        out.display().to_string(),
        "--report".into(),
        "--x".into(),
        "train.seed".into(),
        "--metric".into(),
        "level5".into(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.join("report/demo-crnn-embedded-level5.png").is_file());
}

/// Processes whose command line names `needle` (our children), by pid.
fn processes_naming(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

fn wait_killed(child: &mut Child) {
    // SAFETY: a signal to a child this test started and has not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
    }
    child.wait().unwrap();
}

#[test]
fn a_sweep_killed_half_way_finishes_only_what_was_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("k");
    let mut args = sweep_args(&out, 2);
    args.extend(["--workers", "1"].map(String::from));
    let mut child = occlab()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill the sweep (SIGKILL: no chance to clean up) once a run is finished and the next has
    // started.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert!(Instant::now() < deadline, "no run finished in 300 s");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the sweep ended before it was killed: {status}");
        }
        let dirs = if out.join("runs").is_dir() {
            run_dirs(&out)
        } else {
            Vec::new()
        };
        let done = dirs.iter().filter(|d| finished(d)).count();
        let started_next = dirs
            .iter()
            .any(|d| !finished(d) && d.join("metrics.jsonl").is_file());
        if done >= 1 && started_next {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_killed(&mut child);
    // Its worker dies with it: no process is left training a run of this sweep.
    let needle = out.display().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !processes_naming(&needle).is_empty() {
        assert!(
            Instant::now() < deadline,
            "runs still training 30 s after the sweep was killed: {:?}",
            processes_naming(&needle)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let dirs = run_dirs(&out);
    let done_before: Vec<(PathBuf, Vec<u8>)> = dirs
        .iter()
        .filter(|d| finished(d))
        .map(|d| (d.clone(), std::fs::read(d.join("metrics.jsonl")).unwrap()))
        .collect();
    let n_done = done_before.len();
    assert!((1..4).contains(&n_done), "{n_done} finished");

    // Started again: the finished runs are reused untouched, the rest trained.
    let o = run(&args);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(log.contains(&format!("{n_done} finished)")), "{log}");
    assert!(
        log.contains(&format!(
            "{} trained, {n_done} reused, 0 failed",
            4 - n_done
        )),
        "{log}"
    );
    for d in run_dirs(&out) {
        assert!(finished(&d), "{}", d.display());
    }
    for (d, bytes) in done_before {
        assert!(
            std::fs::read(d.join("metrics.jsonl")).unwrap() == bytes,
            "{} was trained again",
            d.display()
        );
    }
}

#[test]
fn a_failing_run_is_listed_with_its_log_and_the_others_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("fails.toml");
    // The second data source is an IDX folder that does not exist: that run fails when it
    // loads its data, the other trains.
    std::fs::write(
        &file,
        "[sweep]\nname = \"fails\"\nbase = \"presets/train/demo-crnn-embedded.toml\"\n\
         [sweep.set]\n\"train.epochs\" = 1\n\"sequences.limit\" = 30\n\
         [sweep.grid]\ndata = [{ source = \"embedded-digits\" }, \
         { source = \"idx\", path = \"no-such-mnist\", name = \"MNIST\" }]\n",
    )
    .unwrap();
    let out = tmp.path().join("f");
    let args: Vec<String> = [
        "sweep",
        "--preset",
        &file.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--backend",
        "flex",
        "--workers",
        "1",
    ]
    .map(String::from)
    .to_vec();
    let o = run(&args);
    let log = text(&o);
    assert!(!o.status.success(), "{log}");
    assert!(log.contains("1 trained, 0 reused, 1 failed"), "{log}");
    assert!(
        log.contains("no-such-mnist"),
        "the reason, from the run's log: {log}"
    );
    assert!(
        log.contains(&format!("log: {}", out.join("logs").display())),
        "{log}"
    );
    // The table has both runs: one finished, one not.
    let (header, rows) = csv_rows(&out.join("report/fails.csv"));
    let state = header.iter().position(|h| h == "state").unwrap();
    let mut states: Vec<&str> = rows.iter().map(|r| r[state].as_str()).collect();
    states.sort();
    assert_eq!(states, ["finished", "unfinished"]);
}

#[test]
fn bad_sweeps_are_refused_with_the_key_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bad");
    for (set, needle) in [
        ("occlusion.level_width=[0.1],[0.2]", "occlusion.level_width"),
        ("model.kind=CNN,GRU9", "GRU9"),
        ("train.epochs=1..", "train.epochs"),
        ("sequences.t", "key=value"),
    ] {
        let o = run(&[
            "sweep".into(),
            "--preset".into(),
            "presets/train/demo-crnn-embedded.toml".into(),
            "--set".into(),
            set.into(),
            "--out".into(),
            out.display().to_string(),
            "--plan".into(),
        ]);
        assert!(!o.status.success(), "{set}: {}", text(&o));
        assert!(text(&o).contains(needle), "{set}: {}", text(&o));
        assert!(!text(&o).contains("panicked"), "{}", text(&o));
    }
    // More workers × threads than cores: an error saying so, before anything runs.
    let cores = std::thread::available_parallelism().unwrap().get();
    let mut args = sweep_args(&out, 1);
    args.extend([
        "--workers".into(),
        cores.to_string(),
        "--threads".into(),
        "2".into(),
    ]);
    let o = run(&args);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!("this machine has {cores} cores")),
        "{}",
        text(&o)
    );
}
