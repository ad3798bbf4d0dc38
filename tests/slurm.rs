//! `occlab sweep --slurm` against a real scheduler (issue 17): starts a one-node Slurm from
//! Debian's packages on this machine — `munged` (as the `munge` user, with its own key and socket
//! in a temporary folder), `slurmctld` and `slurmd` with a one-node `slurm.conf` (the node's CPUs
//! and memory as `slurmd -C` reads them, free ports, every state, spool, log and pid file in the
//! temporary folder) — submits sweeps through it and checks every run folder and the merged table.
//! Every daemon it started is stopped by its pid, also when the test fails (a `Drop` guard).
//!
//! Needs root (munged runs as `munge`, slurmd as root) and the packages `slurm-wlm` and `munge`:
//! `.ci/run` installs them when missing and runs this test. By hand:
//!
//! ```sh
//! sudo apt-get install -y slurm-wlm munge
//! cargo test --test slurm -- --ignored --nocapture
//! ```
//!
//! Where Slurm cannot start, the test fails and says why (with the daemons' logs).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{csv_rows, output_text};

/// The daemons this test started, stopped by pid when it ends (passed or failed).
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
    /// (name, process), in start order; stopped in reverse.
    daemons: Vec<(&'static str, Child)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Jobs first, while the controller is up.
        let _ = Command::new("scancel")
            .arg("--me")
            .env("SLURM_CONF", &self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for (name, child) in self.daemons.iter_mut().rev() {
            // SAFETY: a signal to a child this test started and has not reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        eprintln!("{name} did not stop on SIGTERM; killing it");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
    }
}

impl Cluster {
    fn log_tails(&self) -> String {
        let mut s = String::new();
        for f in [
            "munge/munged.log",
            "slurmctld.log",
            "slurmd.log",
            "slurmctld.out",
            "slurmd.out",
        ] {
            let text = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            s.push_str(&format!(
                "--- {f}\n{}\n",
                lines[lines.len().saturating_sub(15)..].join("\n")
            ));
        }
        s
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths)
            .chain(["/usr/sbin".into(), "/sbin".into()])
            .any(|d| d.join(program).is_file())
    })
}

/// (uid, gid) of a user, from /etc/passwd.
fn user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name) && f.len() > 3)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .flatten()
    })
}

/// A TCP port nobody listens on now (the kernel picks it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts munged, slurmctld and slurmd; panics with the reason (and their logs) where Slurm
/// cannot start.
fn start_cluster(dir: &Path) -> Cluster {
    for p in [
        "munged",
        "slurmctld",
        "slurmd",
        "sbatch",
        "squeue",
        "sinfo",
        "scancel",
    ] {
        assert!(
            which(p),
            "Slurm cannot start: `{p}` is not installed (apt-get install -y slurm-wlm munge; .ci/run does)"
        );
    }
    // SAFETY: a plain query of this process's effective uid.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "Slurm cannot start: this test needs root (munged runs as the munge user, slurmd as root)"
    );
    let (uid, gid) = user("munge")
        .expect("Slurm cannot start: there is no `munge` user (the munge package creates it)");
    use std::os::unix::fs::{PermissionsExt, chown};
    use std::os::unix::process::CommandExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // munge: its own key, socket, log, pid and seed in a folder the munge user owns (0755, as
    // munged demands of its socket's folder).
    let mdir = dir.join("munge");
    std::fs::create_dir(&mdir).unwrap();
    let mut key = vec![0u8; 1024];
    {
        use std::io::Read;
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .expect("reading /dev/urandom");
    }
    std::fs::write(mdir.join("munge.key"), key).unwrap();
    std::fs::set_permissions(
        mdir.join("munge.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    chown(mdir.join("munge.key"), Some(uid), Some(gid)).unwrap();
    chown(&mdir, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(&mdir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = mdir.join("munge.socket");
    let conf = dir.join("slurm.conf");
    let mut cluster = Cluster {
        dir: dir.to_path_buf(),
        conf: conf.clone(),
        daemons: Vec::new(),
    };
    let munged = Command::new("munged")
        .arg("--foreground")
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--key-file={}", mdir.join("munge.key").display()))
        .arg(format!("--log-file={}", mdir.join("munged.log").display()))
        .arg(format!("--pid-file={}", mdir.join("munged.pid").display()))
        .arg(format!(
            "--seed-file={}",
            mdir.join("munged.seed").display()
        ))
        .uid(uid)
        .gid(gid)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("munged.out")).unwrap())
        .spawn()
        .expect("Slurm cannot start: munged does not run");
    cluster.daemons.push(("munged", munged));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        if let Ok(Some(status)) = cluster.daemons[0].1.try_wait() {
            panic!(
                "Slurm cannot start: munged exited ({status}):\n{}",
                std::fs::read_to_string(dir.join("munged.out")).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "Slurm cannot start: munged made no socket in 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The node as slurmd sees it (`NodeName=… CPUs=… RealMemory=…`).
    let probe = Command::new("slurmd").arg("-C").output().unwrap();
    let node_line = String::from_utf8_lossy(&probe.stdout)
        .lines()
        .find(|l| l.starts_with("NodeName="))
        .unwrap_or_else(|| {
            panic!(
                "Slurm cannot start: `slurmd -C` printed no node:\n{}",
                output_text(&probe)
            )
        })
        .to_string();
    let field = |k: &str| {
        node_line
            .split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("`slurmd -C` gave no {k}: {node_line}"))
            .to_string()
    };
    let (node, cpus, mem) = (field("NodeName"), field("CPUs"), field("RealMemory"));
    for d in ["state", "spool"] {
        std::fs::create_dir(dir.join(d)).unwrap();
    }
    let (ctld_port, slurmd_port) = loop {
        let (a, b) = (free_port(), free_port());
        if a != b {
            break (a, b);
        }
    };
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "# One-node Slurm for occlab's tests/slurm.rs.\n\
             ClusterName=occlabtest\nSlurmctldHost=localhost\n\
             SlurmUser=root\nSlurmdUser=root\n\
             AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket={}\n\
             SlurmctldPort={ctld_port}\nSlurmdPort={slurmd_port}\n\
             StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\n\
             SlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
             SlurmctldLogFile={d}/slurmctld.log\nSlurmdLogFile={d}/slurmd.log\n\
             ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
             SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n\
             SchedulerType=sched/backfill\n\
             AccountingStorageType=accounting_storage/none\nJobAcctGatherType=jobacct_gather/none\n\
             JobCompType=jobcomp/none\nMpiDefault=none\nReturnToService=2\n\
             NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} State=UNKNOWN\n\
             PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
            socket.display()
        ),
    )
    .unwrap();
    for (name, program) in [("slurmctld", "slurmctld"), ("slurmd", "slurmd")] {
        let child = Command::new(program)
            .arg("-D")
            .arg("-f")
            .arg(&conf)
            .env("SLURM_CONF", &conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}.out"))).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("Slurm cannot start: {program}: {e}"));
        cluster.daemons.push((name, child));
        std::thread::sleep(Duration::from_millis(300));
    }
    // Wait until the node is idle.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for (name, child) in cluster.daemons.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                let name = *name;
                let tails = cluster.log_tails();
                panic!("Slurm cannot start: {name} exited ({status})\n{tails}");
            }
        }
        let o = cluster
            .command("sinfo")
            .args(["-h", "-o", "%T"])
            .output()
            .unwrap();
        let state = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if o.status.success() && state == "idle" {
            break;
        }
        if Instant::now() > deadline {
            let tails = cluster.log_tails();
            panic!("Slurm cannot start: the node is {state:?} after 60 s\n{tails}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    cluster
}

/// `occlab sweep … --slurm` against the cluster, bounded in time.
fn sweep(cluster: &Cluster, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_occlab"))
        .arg("sweep")
        .args(args)
        .args([
            "--slurm",
            "--poll",
            "0.5",
            "--follow-timeout",
            "600",
            "--backend",
            "flex",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("SLURM_CONF", &cluster.conf)
        .env_remove("OCCLAB_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(700);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "occlab sweep --slurm ran past 700 s:\n{}\n{}",
                output_text(&o),
                cluster.log_tails()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

#[test]
#[ignore = "starts a one-node Slurm: needs root and slurm-wlm + munge (.ci/run installs them and runs it): cargo test --test slurm -- --ignored"]
fn a_sweep_runs_as_a_job_array_on_a_one_node_slurm() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = start_cluster(tmp.path());
    let out = tmp.path().join("sweep");
    let out_s = out.display().to_string();

    // Four tiny runs on the embedded digits, two CPUs: two tasks at a time.
    let o = sweep(
        &cluster,
        &[
            "--preset",
            "presets/train/demo-crnn-embedded.toml",
            "--set",
            "model.kind=CNN,CRNN",
            "--set",
            "train.seed=1,2",
            "--set",
            "train.epochs=1",
            "--set",
            "sequences.limit=40",
            "--out",
            &out_s,
        ],
    );
    let log = output_text(&o);
    assert!(o.status.success(), "{log}\n{}", cluster.log_tails());
    assert!(log.contains("submitted job"), "{log}");
    assert!(log.contains("slurm: 4 done, 0 failed"), "{log}");
    let script = std::fs::read_to_string(out.join("slurm/sweep-1.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3\n"), "{script}");
    assert!(script.contains("file system every node sees"), "{script}");
    let jobs = occlab::experiment::sweep::slurm::jobs(&out).unwrap();
    assert_eq!(jobs.len(), 1);
    // Every run folder finished, trained in its array task, with its task's log.
    for (task, run) in &jobs[0].tasks {
        let dir = out.join("runs").join(run);
        let r = occlab::experiment::run::RunDir::open(&dir).unwrap();
        assert!(r.is_finished().unwrap(), "{}", dir.display());
        let info = r.info().unwrap();
        assert_eq!(
            info.slurm_job.as_deref(),
            Some(format!("{}_{task}", jobs[0].job_id).as_str())
        );
        assert_eq!(info.threads, 1, "--cpus-per-task 1 → one compute thread");
        let task_log = occlab::experiment::sweep::slurm::task_log(&out, &jobs[0].job_id, *task);
        assert!(task_log.is_file(), "{}", task_log.display());
    }
    // The merged table: four rows with their accuracy and where they ran.
    let (header, rows) = csv_rows(&out.join("report/demo-crnn-embedded.csv"));
    assert_eq!(rows.len(), 4);
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    for r in &rows {
        assert_eq!(r[col("state")], "finished");
        assert!(r[col("test_accuracy")].parse::<f64>().is_ok(), "{r:?}");
        assert!(r[col("slurm_job")].starts_with(&jobs[0].job_id), "{r:?}");
    }
    // Again: nothing to submit, the same table.
    let o = sweep(&cluster, &["--out", &out_s]);
    assert!(o.status.success(), "{}", output_text(&o));
    assert!(
        output_text(&o).contains("nothing to submit"),
        "{}",
        output_text(&o)
    );
    assert_eq!(
        occlab::experiment::sweep::slurm::jobs(&out).unwrap().len(),
        1
    );

    // A sweep with a run that fails (its data folder does not exist): the failed task is listed
    // with its log; submitting again sends only that run.
    let file = tmp.path().join("fails.toml");
    std::fs::write(
        &file,
        "[sweep]\nname = \"fails\"\nbase = \"presets/train/demo-crnn-embedded.toml\"\n\
         [sweep.set]\n\"train.epochs\" = 1\n\"sequences.limit\" = 30\n\
         [sweep.grid]\ndata = [{ source = \"embedded-digits\" }, \
         { source = \"idx\", path = \"no-such-mnist\", name = \"MNIST\" }]\n",
    )
    .unwrap();
    let out2 = tmp.path().join("fails");
    let args = [
        "--preset",
        &file.display().to_string(),
        "--out",
        &out2.display().to_string(),
    ]
    .map(String::from);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = sweep(&cluster, &args);
    let log = output_text(&o);
    assert!(!o.status.success(), "{log}");
    assert!(log.contains("slurm: 1 done, 1 failed"), "{log}");
    let jobs = occlab::experiment::sweep::slurm::jobs(&out2).unwrap();
    let failed_log = out2
        .join("slurm/logs")
        .join(format!("{}_1.out", jobs[0].job_id));
    assert!(log.contains(&failed_log.display().to_string()), "{log}");
    assert!(
        std::fs::read_to_string(&failed_log)
            .unwrap()
            .contains("no-such-mnist"),
        "the task's log says why"
    );
    let o = sweep(&cluster, &args);
    assert!(!o.status.success());
    let jobs = occlab::experiment::sweep::slurm::jobs(&out2).unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(
        jobs[1].tasks.len(),
        1,
        "only the unfinished run: {:?}",
        jobs[1].tasks
    );
    assert_eq!(jobs[1].tasks[0].0, 1);
    let script = std::fs::read_to_string(&jobs[1].script).unwrap();
    assert!(script.contains("#SBATCH --array=1\n"), "{script}");
    drop(cluster);
}
