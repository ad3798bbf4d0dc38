//! Shared helpers of the class server tests: a server in this process or as a real
//! `occlab quiz-serve` process, and a small HTTP client (ureq, plus raw requests for paths a URL
//! library would normalise).
#![allow(dead_code)]

use occlab::classroom::{ClassServer, ClassSettings};
use occlab::experiment::preset::Preset;
use occlab::quiz::config::{Group, QuizConfig};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const PRESET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/presets/quiz/digits-embedded.toml"
);

/// A small quiz on the embedded digits: `practice` practice sequences, `per_condition`
/// patterned and as many random ones.
pub fn quiz(practice: usize, per_condition: usize, time_limit: Option<f64>) -> QuizConfig {
    let preset = Preset::load(Path::new(PRESET)).unwrap();
    let mut q = QuizConfig::new("class", Group::NonExpert, preset);
    q.practice = practice;
    q.patterned = per_condition;
    q.random = per_condition;
    q.time_limit_seconds = time_limit;
    q
}

/// A class server in this process on a free loopback port.
pub fn start_in_process(dir: &Path, quiz: QuizConfig) -> ClassServer {
    occlab::classroom::start(ClassSettings {
        quiz,
        dir: dir.to_path_buf(),
        data_dir: None,
        bind: "127.0.0.1:0".parse().unwrap(),
        public_host: None,
        runs: Vec::new(),
        backend: occlab::train::BackendChoice::Flex,
    })
    .expect("starting the class server")
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `occlab quiz-serve` process: what it printed about itself.
pub struct ServeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub join_code: String,
    pub teacher_token: String,
}

impl ServeProcess {
    /// Starts `occlab quiz-serve` with `args` and reads its address, join code and teacher
    /// token from what it prints (its output keeps being drained by a thread).
    pub fn start(args: &[String]) -> ServeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_occlab"))
            .arg("quiz-serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting occlab quiz-serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Keep draining so the server never blocks on a full pipe.
                    continue;
                }
            }
        });
        let (mut addr, mut code, mut teacher) = (None, None, None);
        while teacher.is_none() {
            let line = match rx.recv_timeout(Duration::from_secs(300)) {
                Ok(l) => l,
                Err(e) => {
                    let status = child.try_wait();
                    panic!("occlab quiz-serve printed no teacher page ({e}); exit: {status:?}");
                }
            };
            if let Some(a) = line.strip_prefix("listening on ") {
                addr = Some(a.trim().parse::<SocketAddr>().expect("an address"));
            } else if let Some((_, c)) = line.split_once("join code ") {
                code = Some(c.trim().to_string());
            } else if let Some((_, t)) = line.split_once("/teacher#") {
                teacher = Some(t.trim().to_string());
            }
        }
        ServeProcess {
            child,
            addr: addr.expect("a `listening on` line"),
            join_code: code.expect("a join code line"),
            teacher_token: teacher.unwrap(),
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `quiz-serve` arguments for a small quiz in `dir` on `port`.
pub fn serve_args(dir: &Path, port: u16, practice: usize, per_condition: usize) -> Vec<String> {
    vec![
        "--preset".into(),
        PRESET.into(),
        "--out".into(),
        dir.display().to_string(),
        "--bind".into(),
        format!("127.0.0.1:{port}"),
        "--practice".into(),
        practice.to_string(),
        "--patterned".into(),
        per_condition.to_string(),
        "--random".into(),
        per_condition.to_string(),
    ]
}

/// A reply: status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `error` reason of a 4xx reply.
    pub fn reason(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A client of one server.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
}

/// Why a request got no reply at all (connection refused or reset: the server is down).
#[derive(Debug)]
pub struct Down(pub String);

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            base: format!("http://{addr}"),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build(),
        }
    }

    /// One request; any HTTP status is a reply, no connection is [`Down`].
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Reply, Down> {
        let mut req = self.agent.request(method, &format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let result = match body {
            Some(b) => req.set("Content-Type", "application/json").send_bytes(b),
            None => req.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(Down(e.to_string())),
        };
        let status = response.status();
        let mut body = Vec::new();
        response
            .into_reader()
            .take(16 << 20)
            .read_to_end(&mut body)
            .map_err(|e| Down(e.to_string()))?;
        Ok(Reply { status, body })
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Reply {
        self.try_request(method, path, token, body)
            .unwrap_or_else(|e| panic!("{method} {path}: no reply: {}", e.0))
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.request("POST", path, token, Some(body.to_string().as_bytes()))
    }

    pub fn join(&self, code: &str, name: &str) -> String {
        let r = self.post_json("/api/join", None, &json!({"code": code, "name": name}));
        assert_eq!(r.status, 200, "join: {}", r.text());
        r.json()["token"].as_str().unwrap().to_string()
    }

    pub fn state(&self, token: &str) -> Value {
        let r = self.request("GET", "/api/state", Some(token), None);
        assert_eq!(r.status, 200, "state: {}", r.text());
        r.json()
    }
}

/// A complete submission for sequence `item` of `t` images, every answer `class`.
pub fn submission(item: u64, t: usize, class: u16) -> Value {
    json!({
        "item": item,
        "answers": vec![class; t],
        "answer_ms": (0..t).map(|k| 300.0 * (k + 1) as f64).collect::<Vec<_>>(),
        "sequence_ms": 300.0 * (t + 1) as f64,
        "corrections": 0,
        "timed_out": false,
    })
}

/// Sends raw bytes as one HTTP/1.1 request and returns the status and body: for paths a URL
/// library would normalise (`/../`).
pub fn raw_request(addr: SocketAddr, request: &str) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Reply {
        status,
        body: body.into_bytes(),
    }
}

/// The session files (`*.jsonl`) in `dir`.
pub fn session_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    v.sort();
    v
}
