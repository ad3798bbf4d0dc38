//! A real headless Chromium (Debian's `chromium` and `chromium-driver`, through WebDriver) takes
//! a class quiz: joins with the code from the QR address, reads the instructions, answers the
//! practice sequence by tapping the on-screen keys and gets its feedback, reloads the page
//! (resumes at the next sequence with the token kept by the browser), answers the rest by
//! keyboard with a correction, and finishes. The session file holds exactly what was answered.
//! The teacher page refuses a wrong token and shows the class with the right one. A second test
//! lets the time limit run out: the page submits what was answered in time.
//!
//! `.ci/run` installs Chromium when it is missing; without it this test fails saying so (it
//! never passes without a browser). With `OCCLAB_SCREENSHOTS=<folder>` it also saves the
//! phone-sized page (390×844 CSS pixels, touch) at a trial as `class-phone.png` there (the README's picture).

#![cfg(unix)]

mod class_common;

use class_common::*;
use occlab::quiz::session::SessionRecord;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The first of `names` found on PATH (or at an absolute path).
fn find(names: &[&str]) -> Option<PathBuf> {
    for n in names {
        let p = Path::new(n);
        if p.is_absolute() && p.exists() {
            return Some(p.to_path_buf());
        }
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let c = dir.join(n);
            if c.is_file() {
                return Some(c);
            }
        }
    }
    None
}

struct Driver {
    child: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self
            .agent
            .delete(&format!("{}/session/{}", self.base, self.session))
            .call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(chromium: &Path, chromedriver: &Path, profile: &Path) -> Driver {
        let port = free_port();
        let mut child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
        let base = format!("http://127.0.0.1:{port}");
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(120))
            .build();
        let t0 = Instant::now();
        loop {
            if let Ok(r) = agent.get(&format!("{base}/status")).call()
                && r.into_json::<Value>()
                    .is_ok_and(|v| v["value"]["ready"] == true)
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("chromedriver exited at start: {status}");
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "chromedriver did not become ready in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.display()),
                ],
                // A phone: 390×844 CSS pixels, touch events.
                "mobileEmulation": {"deviceMetrics": {
                    "width": 390, "height": 844, "pixelRatio": 2.0, "touch": true,
                }},
            },
        }}});
        let reply = match agent.post(&format!("{base}/session")).send_json(caps) {
            Ok(r) => r.into_json::<Value>().unwrap(),
            Err(ureq::Error::Status(code, r)) => {
                let _ = child.kill();
                panic!(
                    "Chromium could not start through chromedriver ({code}): {}",
                    r.into_string().unwrap_or_default()
                );
            }
            Err(e) => {
                let _ = child.kill();
                panic!("chromedriver: {e}");
            }
        };
        let session = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {reply}"))
            .to_string();
        Driver {
            child,
            base,
            session,
            agent,
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = self.agent.request(method, &url);
        let r = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match r {
            Ok(r) => r.into_json::<Value>().unwrap()["value"].clone(),
            Err(ureq::Error::Status(code, r)) => panic!(
                "WebDriver {method} {path}: {code} {}",
                r.into_string().unwrap_or_default()
            ),
            Err(e) => panic!("WebDriver {method} {path}: {e}"),
        }
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn script(&self, js: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
    }

    /// Waits (at most a minute) until the page shows `screen`.
    fn wait_screen(&self, screen: &str) {
        let t0 = Instant::now();
        loop {
            let now = self.script("return document.body.dataset.screen;");
            if now == screen {
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the page stayed on {now} instead of showing {screen}; status: {}",
                self.script("return document.getElementById('status').textContent;")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (at most a minute) until the JavaScript expression `condition` holds.
    fn wait_for(&self, condition: &str) {
        let t0 = Instant::now();
        while self.script(&format!("return !!({condition});")) != true {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the page never got to {condition}; it shows {} {}",
                self.script("return document.body.dataset.screen;"),
                self.script("return document.getElementById('status').textContent;")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn element(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    fn click(&self, css: &str) {
        let e = self.element(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Key presses sent to the page (not to a field): WebDriver key actions.
    fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for k in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": k.to_string()}));
            actions.push(json!({"type": "keyUp", "value": k.to_string()}));
        }
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
        self.cmd("DELETE", "/actions", None);
    }

    fn screenshot(&self, path: &Path) {
        let b64 = self.cmd("GET", "/screenshot", None);
        std::fs::write(path, base64_decode(b64.as_str().unwrap())).unwrap();
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=' && c != b'\n').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c) << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

const ENTER: &str = "\u{E007}";
const LEFT: &str = "\u{E012}";

#[test]
fn headless_chromium_joins_practises_resumes_and_finishes_a_class_quiz() {
    let (chromium, chromedriver) = browser();
    let dir = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    // One practice sequence, one patterned, one random.
    let server = start_in_process(dir.path(), quiz(1, 1, None));
    let d = Driver::start(&chromium, &chromedriver, profile.path());

    // The address from the QR code carries the join code: the field is filled in.
    d.goto(&server.join_url);
    d.wait_screen("join");
    assert_eq!(
        d.script("return document.getElementById('join-code').value;"),
        server.state.join_code()
    );
    d.type_into("#join-name", "Ada");
    d.click("#join-button");
    d.wait_screen("intro");
    let text = d.script("return document.getElementById('instructions').textContent;");
    assert!(
        text.as_str()
            .unwrap()
            .contains("The first 1 sequences are practice"),
        "{text}"
    );
    d.click("#start-button");

    // Practice: tap the keys 3 3 3 3 3, submit, see the feedback.
    d.wait_screen("trial");
    assert_eq!(
        d.script("return document.getElementById('trial-label').textContent;"),
        "Practice 1 of 1"
    );
    assert_eq!(
        d.script("return document.querySelectorAll('#cells img').length;"),
        5
    );
    // The images are the server's PNGs, loaded.
    assert_eq!(
        d.script(
            "return Array.from(document.querySelectorAll('#cells img')).every(i => i.complete && i.naturalWidth === 28);"
        ),
        true
    );
    for _ in 0..5 {
        d.click(".key[data-class='3']");
    }
    d.click("#submit-button");
    d.wait_screen("feedback");
    assert_eq!(
        d.script("return document.querySelectorAll('#feedback-list li').length;"),
        5
    );
    d.click("#continue-button");
    d.wait_screen("trial");
    assert_eq!(
        d.script("return document.getElementById('trial-label').textContent;"),
        "Sequence 1 of 2"
    );
    if let Some(shots) = std::env::var_os("OCCLAB_SCREENSHOTS") {
        d.keys("71");
        std::fs::create_dir_all(&shots).unwrap();
        d.screenshot(&Path::new(&shots).join("class-phone.png"));
    }

    // A reload (or a closed tab) continues at the next unanswered sequence, with no
    // instructions again: the token is kept by the browser.
    d.cmd("POST", "/refresh", Some(json!({})));
    d.wait_screen("trial");
    assert_eq!(
        d.script("return document.getElementById('trial-label').textContent;"),
        "Sequence 1 of 2"
    );
    // By keyboard: 0 1 2 3 4, then ← and 8 (a correction of the fourth image), Enter.
    d.keys("01234");
    d.keys(LEFT);
    d.keys("8");
    d.keys(ENTER);
    // Saved on the server, then the next sequence is shown.
    d.wait_for(
        "document.body.dataset.screen === 'trial' && \
         document.getElementById('trial-label').textContent === 'Sequence 2 of 2'",
    );
    d.keys("56789");
    d.keys(ENTER);
    d.wait_screen("done");

    let record = SessionRecord::read(&dir.path().join("P001-digits-embedded.jsonl")).unwrap();
    assert_eq!(record.responses.len(), 3);
    assert!(record.header.items[0].practice);
    assert_eq!(record.responses[0].answers, vec![Some(3); 5]);
    let trial1 = &record.responses[1];
    assert_eq!(
        trial1.answers,
        vec![Some(0), Some(1), Some(2), Some(8), Some(4)]
    );
    assert_eq!(trial1.corrections, 1);
    assert!(
        trial1
            .answer_ms
            .iter()
            .all(|t| t.is_some_and(|ms| ms >= 0.0))
    );
    assert!(!trial1.timed_out);
    assert_eq!(
        record.responses[2].answers,
        (5..10).map(Some).collect::<Vec<_>>()
    );
    let joined = std::fs::read_to_string(dir.path().join("joined.log")).unwrap();
    assert_eq!(joined.lines().count(), 1, "the reload did not join again");
    assert!(joined.contains("\"Ada\""));

    // The teacher page: without its token it says why; with it, who joined, the class's score
    // on the two trials (10 images) and the QR code.
    let base = server.join_url.split('#').next().unwrap().to_string();
    d.goto(&format!("{base}teacher#{}", "0".repeat(64)));
    d.wait_for("document.getElementById('status').textContent.includes('not the teacher token')");
    d.goto(&server.teacher_url);
    d.wait_for("document.querySelectorAll('#people tbody tr').length === 1");
    let people = d.script("return document.getElementById('people').textContent;");
    assert!(people.as_str().unwrap().contains("Ada"), "{people}");
    assert!(people.as_str().unwrap().contains("3/3"), "{people}");
    let scores = d.script("return document.getElementById('scores').textContent;");
    assert!(scores.as_str().unwrap().contains("/10)"), "{scores}");
    d.wait_for("document.getElementById('qr').naturalWidth > 100");
    assert_eq!(
        d.script("return document.getElementById('join-code').textContent;"),
        server.state.join_code()
    );
    if let Some(shots) = std::env::var_os("OCCLAB_SCREENSHOTS") {
        d.screenshot(&Path::new(&shots).join("class-teacher-phone.png"));
    }
}

/// The browser and its driver, or a failure saying how to install them.
fn browser() -> (PathBuf, PathBuf) {
    let chromium = find(&["chromium", "chromium-browser", "google-chrome"]).expect(
        "Chromium is not installed: `apt-get install chromium chromium-driver` (.ci/run does)",
    );
    let chromedriver = find(&["chromedriver", "/usr/lib/chromium/chromedriver"])
        .expect("chromedriver is not installed: `apt-get install chromium-driver` (.ci/run does)");
    (chromium, chromedriver)
}

#[test]
fn the_time_limit_submits_what_was_answered_in_time() {
    let (chromium, chromedriver) = browser();
    let dir = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    // No practice, two sequences, 3 s each.
    let server = start_in_process(dir.path(), quiz(0, 1, Some(3.0)));
    let d = Driver::start(&chromium, &chromedriver, profile.path());
    d.goto(&server.join_url);
    d.wait_screen("join");
    d.click("#join-button");
    d.wait_screen("intro");
    let text = d.script("return document.getElementById('instructions').textContent;");
    assert!(
        text.as_str().unwrap().contains("3 seconds per sequence"),
        "{text}"
    );
    d.click("#start-button");
    d.wait_screen("trial");
    // Two answers, then the time runs out: the page submits on its own.
    d.keys("12");
    d.wait_for(
        "document.body.dataset.screen === 'trial' && \
         document.getElementById('trial-label').textContent === 'Sequence 2 of 2'",
    );
    // Nothing answered at all.
    d.wait_screen("done");
    let record = SessionRecord::read(&dir.path().join("P001-digits-embedded.jsonl")).unwrap();
    assert_eq!(record.responses.len(), 2);
    let first = &record.responses[0];
    assert!(first.timed_out);
    assert_eq!(first.sequence_ms, 3000.0);
    assert_eq!(first.answers, vec![Some(1), Some(2), None, None, None]);
    assert!(record.responses[1].timed_out);
    assert_eq!(record.responses[1].answers, vec![None; 5]);
}
