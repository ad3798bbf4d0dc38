//! A class on loopback: 60 simulated participants join a real `occlab quiz-serve` process and
//! answer concurrently (state, every image, submit, for each sequence). Half-way through the
//! server is killed with SIGKILL and started again with the same command; the participants keep
//! their tokens and go on. At the end every sequence anyone submitted is in their session file
//! exactly once, with the answers sent, and every participant has finished.
//!
//! The server's response times as the participants saw them are printed (median, p95, max), not
//! asserted; docs/PERFORMANCE.md records a measurement.

#![cfg(unix)]

mod class_common;

use class_common::*;
use occlab::quiz::session::SessionRecord;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PARTICIPANTS: usize = 60;
const PRACTICE: usize = 1;
const PER_CONDITION: usize = 3;
const ITEMS: usize = PRACTICE + 2 * PER_CONDITION;
/// How long a participant keeps retrying while the server is down before the test fails.
const PATIENCE: Duration = Duration::from_secs(240);

/// The answers participant `p` gives to sequence `item` (5 images): a pattern of their own.
fn answers(p: usize, item: usize) -> Vec<u16> {
    (0..5)
        .map(|k| ((p * 7 + item * 3 + k) % 10) as u16)
        .collect()
}

struct Shared {
    client: Client,
    code: String,
    /// (request kind, milliseconds) of every request that got a reply.
    times: Mutex<Vec<(&'static str, f64)>>,
    joined: AtomicUsize,
    submitted: AtomicUsize,
    retries: AtomicUsize,
}

impl Shared {
    /// A request, retried while the server is down (for at most [`PATIENCE`]).
    fn call(
        &self,
        kind: &'static str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Reply {
        let start = Instant::now();
        loop {
            let t = Instant::now();
            match self.client.try_request(method, path, token, body) {
                Ok(r) if r.status < 500 => {
                    self.times
                        .lock()
                        .unwrap()
                        .push((kind, t.elapsed().as_secs_f64() * 1e3));
                    return r;
                }
                Ok(r) => panic!("{method} {path}: server error {} {}", r.status, r.text()),
                Err(Down(e)) => {
                    assert!(
                        start.elapsed() < PATIENCE,
                        "{method} {path}: the server stayed down for {PATIENCE:?}: {e}"
                    );
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

/// One participant: joins, answers every sequence, returns (token, answers confirmed per item).
fn participant(shared: &Shared, p: usize) -> (String, Vec<Vec<u16>>) {
    let r = shared.call(
        "join",
        "POST",
        "/api/join",
        None,
        Some(
            json!({"code": shared.code, "name": format!("sim {p}"), "request": format!("sim-{p}")})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 200, "join: {}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_string();
    shared.joined.fetch_add(1, Ordering::Relaxed);
    let mut confirmed = Vec::new();
    loop {
        let r = shared.call("state", "GET", "/api/state", Some(&token), None);
        assert_eq!(
            r.status,
            200,
            "participant {p} lost their session: {}",
            r.text()
        );
        let s = r.json();
        assert_eq!(s["submitted"].as_u64().unwrap() as usize, confirmed.len());
        let Some(next) = s["next"].as_object() else {
            break;
        };
        let item = next["item"].as_u64().unwrap() as usize;
        assert_eq!(
            item,
            confirmed.len(),
            "participant {p} resumes at the next sequence"
        );
        for pos in 0..next["images"].as_u64().unwrap() {
            let r = shared.call(
                "image",
                "GET",
                &format!("/api/image/{item}/{pos}"),
                Some(&token),
                None,
            );
            assert_eq!(r.status, 200, "{}", r.text());
        }
        let a = answers(p, item);
        let body = json!({
            "item": item,
            "answers": a,
            "answer_ms": [400.0, 800.0, 1200.0, 1600.0, 2000.0],
            "sequence_ms": 2100.0,
            "corrections": 0,
            "timed_out": false,
        })
        .to_string();
        let r = shared.call(
            "submit",
            "POST",
            "/api/submit",
            Some(&token),
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 200, "submit: {}", r.text());
        confirmed.push(a);
        shared.submitted.fetch_add(1, Ordering::Relaxed);
    }
    (token, confirmed)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[test]
fn sixty_participants_answer_concurrently_and_a_sigkill_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = serve_args(dir.path(), port, PRACTICE, PER_CONDITION);
    let server = ServeProcess::start(&args);
    let shared = Arc::new(Shared {
        client: Client::new(server.addr),
        code: server.join_code.clone(),
        times: Mutex::new(Vec::new()),
        joined: AtomicUsize::new(0),
        submitted: AtomicUsize::new(0),
        retries: AtomicUsize::new(0),
    });
    let started = Instant::now();
    let handles: Vec<_> = (0..PARTICIPANTS)
        .map(|p| {
            let shared = shared.clone();
            std::thread::spawn(move || participant(&shared, p))
        })
        .collect();

    // Half-way (everyone has joined: a join whose reply a kill cut off would be a new
    // participant when sent again), SIGKILL, then the same command again.
    let total = PARTICIPANTS * ITEMS;
    while shared.submitted.load(Ordering::Relaxed) < total / 2
        || shared.joined.load(Ordering::Relaxed) < PARTICIPANTS
    {
        assert!(
            started.elapsed() < PATIENCE,
            "only {} of {total} sequences submitted after {PATIENCE:?}",
            shared.submitted.load(Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let at_kill = shared.submitted.load(Ordering::Relaxed);
    server.kill();
    let killed = Instant::now();
    let server = ServeProcess::start(&args);
    let restart = killed.elapsed();
    assert_eq!(server.addr.port(), port);

    let results: Vec<(String, Vec<Vec<u16>>)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = started.elapsed();
    drop(server);

    // Every participant finished, every confirmed sequence is on disk exactly once with the
    // answers sent, and the folder has one session per participant, no more.
    let files = session_files(dir.path());
    assert_eq!(
        files.len(),
        PARTICIPANTS,
        "one session file per participant"
    );
    let joined = std::fs::read_to_string(dir.path().join("joined.log")).unwrap();
    assert_eq!(joined.lines().count(), PARTICIPANTS);
    let mut on_disk = 0;
    for (p, (token, confirmed)) in results.iter().enumerate() {
        assert_eq!(confirmed.len(), ITEMS, "participant {p} finished");
        let line = joined
            .lines()
            .find(|l| l.contains(token.as_str()))
            .unwrap_or_else(|| panic!("participant {p}'s token is recorded"));
        let id = serde_json::from_str::<serde_json::Value>(line).unwrap()["participant"]
            .as_str()
            .unwrap()
            .to_string();
        let record =
            SessionRecord::read(&dir.path().join(format!("{id}-digits-embedded.jsonl"))).unwrap();
        assert_eq!(record.torn_bytes, 0);
        assert_eq!(record.responses.len(), ITEMS, "{id}: every sequence once");
        for (k, (resp, sent)) in record.responses.iter().zip(confirmed).enumerate() {
            assert_eq!(resp.item, k);
            let saved: Vec<u16> = resp.answers.iter().map(|a| a.unwrap()).collect();
            assert_eq!(&saved, sent, "{id}, sequence {k}: the answers sent");
        }
        let text = std::fs::read_to_string(&record.path).unwrap();
        assert_eq!(text.lines().count(), 1 + ITEMS, "{id}: no line twice");
        on_disk += record.responses.len();
    }
    assert_eq!(on_disk, total);
    // `occlab quiz-report` reads the class folder as it reads any sessions.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_occlab"))
        .args(["quiz-report", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sessions"].as_array().unwrap().len(), PARTICIPANTS);
    let overall = &report["rows"][0]["overall"];
    assert_eq!(
        overall["total"].as_u64().unwrap() as usize,
        PARTICIPANTS * 2 * PER_CONDITION * 5,
        "every analysed image of every participant"
    );

    let times = shared.times.lock().unwrap();
    let mut report = format!(
        "class load test: {PARTICIPANTS} participants × {ITEMS} sequences = {total} submitted, \
         {on_disk} on disk (each once); {} requests in {:.1} s; SIGKILL after {at_kill} \
         sequences, restart took {:.1} s, {} retried requests while it was down\n",
        times.len(),
        elapsed.as_secs_f64(),
        restart.as_secs_f64(),
        shared.retries.load(Ordering::Relaxed)
    );
    for kind in ["all", "join", "state", "image", "submit"] {
        let mut v: Vec<f64> = times
            .iter()
            .filter(|(k, _)| kind == "all" || *k == kind)
            .map(|&(_, ms)| ms)
            .collect();
        v.sort_by(f64::total_cmp);
        report.push_str(&format!(
            "  {kind:<6} n = {:>5}  median {:>7.2} ms  p95 {:>7.2} ms  max {:>8.2} ms\n",
            v.len(),
            percentile(&v, 0.5),
            percentile(&v, 0.95),
            v.last().copied().unwrap_or(f64::NAN)
        ));
    }
    println!("{report}");
}
