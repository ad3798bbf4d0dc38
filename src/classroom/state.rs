//! The class folder and what a request may do to it.
//!
//! ```text
//! <dir>/class.json          join code, teacher token, the quiz settings (written once, never overwritten)
//! <dir>/joined.log          one JSON line per participant: token, participant ID, name (appended, fsynced)
//! <dir>/P001-<preset>.jsonl the session files, exactly as `occlab quiz` writes them
//! ```
//!
//! Joining creates the participant's session file (fsynced) and then appends its line to
//! `joined.log` (fsynced) before the token is handed out; a kill between the two leaves a session
//! file without a token, which the next participant to join takes over (same ID, nothing
//! answered). A partially written last line of `joined.log` was never confirmed and is cut off.
//! Opening the folder again with the same settings gives every participant back their token and
//! their session at its next unanswered sequence; other settings are refused.
//!
//! Every method validates its input and returns a [`Reject`] (an HTTP status and a reason) for a
//! bad request; none panics on input.
//!
//! Over 600 lines: the class folder and every request's checks share the roster and its locks;
//! the request and reply types and the submission's validation are most of it.

use super::{ClassError, ClassSettings};
use crate::data::read_bounded;
use crate::quiz::analysis::ModelAnswers;
use crate::quiz::config::{QuizConfig, participant_seed};
use crate::quiz::items::{ItemPool, QuizItem, Stimuli, select_pool};
use crate::quiz::scoring::score_runs;
use crate::quiz::session::{
    self, Header, Response, Session, SessionRecord, same_settings, unix_ms,
};
use crate::quiz::trial::{feedback, instructions, key_class, key_legend, legend_needed};
use rand::TryRngCore;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Identifies `class.json`.
pub const CLASS_FORMAT: &str = "occlab-class-session";
pub const CLASS_VERSION: u32 = 1;
/// Participants one class session takes.
pub const MAX_PARTICIPANTS: usize = 999;
/// Longest display name (characters).
pub const MAX_NAME: usize = 40;
/// Characters of a join code: no 0/O, 1/I/L, so that it reads unambiguously off a projector.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 6;
/// Random bytes of a token (256 bits), written as 64 hex digits.
const TOKEN_BYTES: usize = 32;
/// Slack on the time limit for the network and the page's timer before the server closes a
/// sequence itself.
const TIME_GRACE: Duration = Duration::from_secs(10);
/// Largest time a submission may report (a day), in milliseconds.
const MAX_MS: f64 = 86_400_000.0;

/// A request that cannot be done: the HTTP status and the reason shown to the sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub status: u16,
    pub reason: String,
}

impl Reject {
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Reject {
            status,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    format: String,
    version: u32,
    join_code: String,
    teacher_token: String,
    created_unix_ms: u64,
    /// The quiz as every participant takes it (participant ID and order seed are per participant).
    quiz: QuizConfig,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinedLine {
    token: String,
    participant: String,
    name: String,
    joined_unix_ms: u64,
    /// The page's own id of its join request: sent again (its reply was lost), it gets the
    /// same token instead of a second participant.
    #[serde(default)]
    request: Option<String>,
}

/// One participant: their session and what the server knows of their current sequence.
#[derive(Debug)]
pub struct Participant {
    pub participant: String,
    pub name: String,
    session: Session,
    /// The sequence last shown, and when it was first shown (for the time limit).
    shown: Option<(usize, Instant)>,
}

impl Participant {
    pub fn record(&self) -> &SessionRecord {
        self.session.record()
    }
}

struct Roster {
    by_token: HashMap<String, Arc<Mutex<Participant>>>,
    /// Join request id → token.
    by_request: HashMap<String, String>,
    /// In order of joining.
    order: Vec<Arc<Mutex<Participant>>>,
    log: File,
    log_path: PathBuf,
}

/// A class session: its folder, images, sequences and participants. Shared by the server's
/// request handlers (and the workbench); every method takes `&self`.
pub struct ClassState {
    dir: PathBuf,
    join_code: String,
    teacher_token: String,
    quiz: QuizConfig,
    stimuli: Stimuli,
    pool: ItemPool,
    /// The chosen runs' answers per item (by the item's key).
    models: Vec<ModelPredictions>,
    roster: Mutex<Roster>,
    /// Bumped on every join and every saved sequence.
    version: AtomicU64,
}

/// A run's predictions on the quiz's items.
#[derive(Clone, Debug)]
pub struct ModelPredictions {
    pub run: String,
    pub model: String,
    pub kind: Option<crate::model::ModelKind>,
    pub caveats: Vec<String>,
    by_item: HashMap<ItemKey, Vec<u16>>,
}

type ItemKey = (crate::quiz::Condition, Vec<u32>, Vec<u8>, u64);

/// A sequence as the participant submits it (times measured by the page).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub item: usize,
    pub answers: Vec<Option<u16>>,
    pub answer_ms: Vec<Option<f64>>,
    pub sequence_ms: f64,
    pub corrections: u32,
    #[serde(default)]
    pub timed_out: bool,
}

/// What the page needs to show a participant where they are.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ParticipantState {
    pub participant: String,
    pub name: String,
    pub submitted: usize,
    pub total: usize,
    pub practice: usize,
    pub instructions: String,
    pub class_names: Vec<String>,
    /// Typed key → class (both cases of letters).
    pub keys: Vec<(String, u16)>,
    /// Key and class name, shown when the keys are not the names themselves.
    pub legend: Vec<(String, String)>,
    pub legend_needed: bool,
    pub time_limit_ms: Option<f64>,
    /// The sequence to answer now; `None` when every sequence is answered.
    pub next: Option<NextItem>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct NextItem {
    pub item: usize,
    /// "Practice 1 of 2", "Sequence 3 of 20".
    pub label: String,
    pub practice: bool,
    pub images: usize,
    /// Time left of the limit since the sequence was first shown.
    pub remaining_ms: Option<f64>,
}

/// The reply to a submission.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SubmitReply {
    /// The sequence was saved before (a repeated request): nothing was written.
    pub already_saved: bool,
    pub submitted: usize,
    pub total: usize,
    pub finished: bool,
    /// Practice sequences: per image the true class, the answer and whether it is right.
    pub feedback: Option<Vec<FeedbackImage>>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct FeedbackImage {
    pub truth: String,
    pub answer: Option<String>,
    pub correct: bool,
}

fn folder_err(path: &Path, problem: impl Into<String>) -> ClassError {
    ClassError::Folder {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ClassError + '_ {
    move |source| ClassError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `n` random bytes from the operating system.
fn os_random(n: usize) -> Result<Vec<u8>, ClassError> {
    let mut buf = vec![0u8; n];
    rand::rngs::OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|e| ClassError::Server(format!("the OS random number generator: {e}")))?;
    Ok(buf)
}

/// A fresh token: 256 bits from the OS, as 64 hex digits.
pub fn new_token() -> Result<String, ClassError> {
    Ok(os_random(TOKEN_BYTES)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A fresh join code (6 characters of [`CODE_ALPHABET`]).
fn new_join_code() -> Result<String, ClassError> {
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - 256 % CODE_ALPHABET.len();
    let mut code = String::new();
    while code.len() < CODE_LEN {
        for b in os_random(16)? {
            if (b as usize) < limit && code.len() < CODE_LEN {
                code.push(CODE_ALPHABET[b as usize % CODE_ALPHABET.len()] as char);
            }
        }
    }
    Ok(code)
}

/// A token as a request carries it: 64 lowercase hex digits.
pub fn well_formed_token(token: &str) -> bool {
    token.len() == TOKEN_BYTES * 2
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Compares two strings in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Writes `text` to `path` only if it does not exist, completely or not at all (temporary file,
/// fsync, hard link, fsync of the folder).
fn create_new_synced(path: &Path, text: &str) -> Result<(), ClassError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".class.json.{}.tmp", std::process::id()));
    {
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(folder_err(
                path,
                "appeared while the class was being set up",
            ));
        }
        Err(_) => {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(io_err(path))?;
            f.write_all(text.as_bytes()).map_err(io_err(path))?;
            f.sync_all().map_err(io_err(path))?;
        }
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl ClassState {
    /// Opens the class folder `settings.dir` (creating it for a new class), loads the quiz's
    /// images, selects its sequences, scores the chosen runs on them and reopens every
    /// participant's session.
    pub fn open(settings: &ClassSettings) -> Result<Self, ClassError> {
        let dir = settings.dir.clone();
        let mut quiz = settings.quiz.clone();
        quiz.participant = "class".into();
        quiz.order_seed = 0;
        quiz.validate()?;
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let class_path = dir.join("class.json");
        let (join_code, teacher_token) = if class_path.exists() {
            let bytes = read_bounded(&class_path, 16 << 20).map_err(io_err(&class_path))?;
            let file: ClassFile = serde_json::from_slice(&bytes)
                .map_err(|e| folder_err(&class_path, format!("not a class session file: {e}")))?;
            if file.format != CLASS_FORMAT || file.version != CLASS_VERSION {
                return Err(folder_err(
                    &class_path,
                    format!(
                        "format \"{}\" version {} is not {CLASS_FORMAT} version {CLASS_VERSION}",
                        file.format, file.version
                    ),
                ));
            }
            if !same_settings(&file.quiz, &quiz) {
                return Err(folder_err(
                    &class_path,
                    "this folder holds a class session with other quiz settings (preset, \
                     sequences, practice, time limit or seeds); it is never overwritten: run the \
                     command with its settings to continue it, or choose another --out folder",
                ));
            }
            if file.join_code.len() != CODE_LEN || !well_formed_token(&file.teacher_token) {
                return Err(folder_err(
                    &class_path,
                    "malformed join code or teacher token",
                ));
            }
            (file.join_code, file.teacher_token)
        } else {
            let file = ClassFile {
                format: CLASS_FORMAT.into(),
                version: CLASS_VERSION,
                join_code: new_join_code()?,
                teacher_token: new_token()?,
                created_unix_ms: unix_ms(),
                quiz: quiz.clone(),
            };
            let mut text = serde_json::to_string_pretty(&file)
                .map_err(|e| folder_err(&class_path, e.to_string()))?;
            text.push('\n');
            create_new_synced(&class_path, &text)?;
            (file.join_code, file.teacher_token)
        };

        let stimuli = Stimuli::load(&quiz, settings.data_dir.as_deref())?;
        let pool = select_pool(&quiz, stimuli.images.clone())?;
        let models = score_models(&quiz, &stimuli, &pool, settings)?;

        // Who joined: every complete line of joined.log (a torn last line is cut off).
        let log_path = dir.join("joined.log");
        let mut lines = Vec::new();
        if log_path.exists() {
            let bytes = read_bounded(&log_path, 64 << 20).map_err(io_err(&log_path))?;
            let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let text = std::str::from_utf8(&bytes[..complete])
                .map_err(|e| folder_err(&log_path, format!("not UTF-8: {e}")))?;
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let joined: JoinedLine = serde_json::from_str(line)
                    .map_err(|e| folder_err(&log_path, format!("line {}: {e}", i + 1)))?;
                if !well_formed_token(&joined.token) {
                    return Err(folder_err(
                        &log_path,
                        format!("line {}: malformed token", i + 1),
                    ));
                }
                lines.push(joined);
            }
            if complete < bytes.len() {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&log_path)
                    .map_err(io_err(&log_path))?;
                f.set_len(complete as u64).map_err(io_err(&log_path))?;
                f.sync_all().map_err(io_err(&log_path))?;
            }
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err(&log_path))?;
        let mut roster = Roster {
            by_token: HashMap::new(),
            by_request: HashMap::new(),
            order: Vec::new(),
            log,
            log_path: log_path.clone(),
        };
        for joined in lines {
            let config = participant_config(&quiz, &joined.participant);
            let (session, _) = session::start_from_pool(&dir, &config, &stimuli, &pool)?;
            let p = Arc::new(Mutex::new(Participant {
                participant: joined.participant,
                name: joined.name,
                session,
                shown: None,
            }));
            if let Some(r) = joined.request {
                roster.by_request.insert(r, joined.token.clone());
            }
            if roster.by_token.insert(joined.token, p.clone()).is_some() {
                return Err(folder_err(&log_path, "a token appears twice"));
            }
            roster.order.push(p);
        }
        Ok(ClassState {
            dir,
            join_code,
            teacher_token,
            quiz,
            stimuli,
            pool,
            models,
            roster: Mutex::new(roster),
            version: AtomicU64::new(1),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn join_code(&self) -> &str {
        &self.join_code
    }

    pub fn teacher_token(&self) -> &str {
        &self.teacher_token
    }

    /// The quiz as every participant takes it.
    pub fn quiz(&self) -> &QuizConfig {
        &self.quiz
    }

    pub fn models(&self) -> &[ModelPredictions] {
        &self.models
    }

    /// Changes with every join and every saved sequence.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub fn participant_count(&self) -> usize {
        self.roster().order.len()
    }

    fn roster(&self) -> MutexGuard<'_, Roster> {
        // A handler that panicked while holding the lock left the roster consistent (every
        // change is one push after the disk write), so the poison is ignored.
        self.roster.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Joins the class with its code: creates the participant's session file and records the
    /// new token, both synced, then returns the token. `request` is the page's id of this join
    /// (up to 64 letters, digits, `-`, `_`): sent again, it returns the same token.
    pub fn join(&self, code: &str, name: &str, request: Option<&str>) -> Result<String, Reject> {
        let code = code.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(Reject::new(400, "no join code given"));
        }
        if !same_secret(&code, &self.join_code) {
            return Err(Reject::new(403, "wrong join code"));
        }
        let name: String = name.trim().chars().filter(|c| !c.is_control()).collect();
        if name.chars().count() > MAX_NAME {
            return Err(Reject::new(
                400,
                format!("the name is longer than {MAX_NAME} characters"),
            ));
        }
        if let Some(r) = request
            && (r.is_empty()
                || r.len() > 64
                || !r
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return Err(Reject::new(
                400,
                "the join request id must be 1 to 64 letters, digits, - or _",
            ));
        }
        let internal = |e: &dyn std::fmt::Display| {
            Reject::new(
                500,
                format!("the server could not save the new participant: {e}"),
            )
        };
        let mut roster = self.roster();
        if let Some(token) = request.and_then(|r| roster.by_request.get(r)) {
            return Ok(token.clone());
        }
        if roster.order.len() >= MAX_PARTICIPANTS {
            return Err(Reject::new(
                409,
                format!("the class is full ({MAX_PARTICIPANTS} participants)"),
            ));
        }
        let participant = format!("P{:03}", roster.order.len() + 1);
        let config = participant_config(&self.quiz, &participant);
        let (session, _) = session::start_from_pool(&self.dir, &config, &self.stimuli, &self.pool)
            .map_err(|e| internal(&e))?;
        let token = new_token().map_err(|e| internal(&e))?;
        let line = JoinedLine {
            token: token.clone(),
            participant: participant.clone(),
            name: name.clone(),
            joined_unix_ms: unix_ms(),
            request: request.map(str::to_string),
        };
        let mut text = serde_json::to_string(&line).map_err(|e| internal(&e))?;
        text.push('\n');
        let written = roster
            .log
            .write_all(text.as_bytes())
            .and_then(|()| roster.log.sync_data());
        if let Err(e) = written {
            return Err(internal(&format!("{}: {e}", roster.log_path.display())));
        }
        let p = Arc::new(Mutex::new(Participant {
            participant,
            name,
            session,
            shown: None,
        }));
        roster.by_token.insert(token.clone(), p.clone());
        if let Some(r) = request {
            roster.by_request.insert(r.to_string(), token.clone());
        }
        roster.order.push(p);
        drop(roster);
        self.version.fetch_add(1, Ordering::AcqRel);
        Ok(token)
    }

    /// The participant a token belongs to.
    pub fn participant(&self, token: Option<&str>) -> Result<Arc<Mutex<Participant>>, Reject> {
        let Some(token) = token else {
            return Err(Reject::new(
                401,
                "no participant token: join the class first",
            ));
        };
        if !well_formed_token(token) {
            return Err(Reject::new(401, "malformed participant token"));
        }
        self.roster()
            .by_token
            .get(token)
            .cloned()
            .ok_or_else(|| Reject::new(401, "unknown participant token: join the class again"))
    }

    /// Checks the teacher token.
    pub fn check_teacher(&self, token: Option<&str>) -> Result<(), Reject> {
        match token {
            None => Err(Reject::new(401, "no teacher token")),
            Some(t) if same_secret(t, &self.teacher_token) => Ok(()),
            Some(_) => Err(Reject::new(403, "not the teacher token")),
        }
    }

    /// Where a participant is: the instructions, keys, and the sequence to answer now (its
    /// time limit counts from the first time it is shown).
    pub fn state(&self, p: &Mutex<Participant>) -> ParticipantState {
        let mut p = lock(p);
        let header = p.session.header().clone();
        let names = &header.class_names;
        let limit = header.config.time_limit();
        let next = p.session.next_item().map(|k| {
            let now = Instant::now();
            let since = match p.shown {
                Some((item, t)) if item == k => t,
                _ => {
                    p.shown = Some((k, now));
                    now
                }
            };
            let item = &header.items[k];
            NextItem {
                item: k,
                label: crate::quiz::trial::progress_label(&header, k),
                practice: item.practice,
                images: item.len(),
                remaining_ms: limit.map(|l| {
                    l.saturating_sub(now.saturating_duration_since(since))
                        .as_secs_f64()
                        * 1e3
                }),
            }
        });
        let mut keys = Vec::new();
        for c in (b'!'..=b'~').map(char::from) {
            if let Some(class) = key_class(c, names) {
                keys.push((c.to_string(), class));
            }
        }
        ParticipantState {
            participant: p.participant.clone(),
            name: p.name.clone(),
            submitted: p.session.responses().len(),
            total: header.items.len(),
            practice: header.practice_count(),
            instructions: instructions(&header.config, names, header.practice_count()),
            class_names: names.clone(),
            keys,
            legend: key_legend(names)
                .into_iter()
                .map(|(k, n)| (k.to_string(), n))
                .collect(),
            legend_needed: legend_needed(names),
            time_limit_ms: header.config.time_limit_seconds.map(|s| s * 1e3),
            next,
        }
    }

    /// One image of the sequence the participant is answering now, as PNG. Other sequences
    /// (answered or still to come) are refused.
    pub fn image_png(
        &self,
        p: &Mutex<Participant>,
        item: usize,
        position: usize,
    ) -> Result<Vec<u8>, Reject> {
        let quiz_item: QuizItem = {
            let p = lock(p);
            let header = p.session.header();
            if item >= header.items.len() {
                return Err(Reject::new(
                    404,
                    format!(
                        "sequence {item} does not exist: the session has {}",
                        header.items.len()
                    ),
                ));
            }
            if p.session.next_item() != Some(item) {
                return Err(Reject::new(
                    403,
                    format!("sequence {item} is not the one being answered"),
                ));
            }
            let it = &header.items[item];
            if position >= it.len() {
                return Err(Reject::new(
                    404,
                    format!(
                        "image {position} does not exist: the sequence has {}",
                        it.len()
                    ),
                ));
            }
            it.clone()
        };
        let pixels = self.stimuli.render(&quiz_item, position);
        png(&pixels, &self.stimuli)
            .map_err(|e| Reject::new(500, format!("encoding the image: {e}")))
    }

    /// Saves a submitted sequence (appended and fsynced before this returns). The sequence
    /// must be the next unanswered one; one saved before is acknowledged without writing.
    pub fn submit(&self, p: &Mutex<Participant>, sub: Submission) -> Result<SubmitReply, Reject> {
        let mut p = lock(p);
        let header = p.session.header().clone();
        let total = header.items.len();
        let submitted = p.session.responses().len();
        let reply = |p: &Participant, already: bool, response: &Response| {
            let is_practice = header.items.get(response.item).is_some_and(|i| i.practice);
            SubmitReply {
                already_saved: already,
                submitted: p.session.responses().len(),
                total,
                finished: p.session.next_item().is_none(),
                feedback: is_practice.then(|| {
                    feedback(&header, response)
                        .into_iter()
                        .map(|f| FeedbackImage {
                            truth: f.truth,
                            answer: f.answer,
                            correct: f.correct,
                        })
                        .collect()
                }),
            }
        };
        if sub.item < submitted {
            let saved = p.session.responses()[sub.item].clone();
            return Ok(reply(&p, true, &saved));
        }
        if sub.item >= total {
            return Err(Reject::new(
                400,
                format!(
                    "sequence {} does not exist: the session has {total}",
                    sub.item
                ),
            ));
        }
        if sub.item > submitted {
            return Err(Reject::new(
                409,
                format!(
                    "sequence {} is not the one being answered (sequence {submitted} is)",
                    sub.item
                ),
            ));
        }
        let item = &header.items[sub.item];
        let t = item.len();
        if sub.answers.len() != t || sub.answer_ms.len() != t {
            return Err(Reject::new(
                400,
                format!(
                    "{} answers and {} times for a sequence of {t} images",
                    sub.answers.len(),
                    sub.answer_ms.len()
                ),
            ));
        }
        let classes = header.class_names.len();
        if let Some(bad) = sub
            .answers
            .iter()
            .flatten()
            .find(|&&a| a as usize >= classes)
        {
            return Err(Reject::new(
                400,
                format!(
                    "answer {bad} is not one of the {classes} classes (0 to {})",
                    classes - 1
                ),
            ));
        }
        for (k, (a, ms)) in sub.answers.iter().zip(&sub.answer_ms).enumerate() {
            if a.is_some() != ms.is_some() {
                return Err(Reject::new(
                    400,
                    format!("image {k}: an answer needs its time and a time its answer"),
                ));
            }
            if let Some(ms) = ms
                && !(ms.is_finite() && (0.0..=MAX_MS).contains(ms))
            {
                return Err(Reject::new(
                    400,
                    format!("image {k}: answer time {ms} ms is not between 0 and a day"),
                ));
            }
        }
        if !(sub.sequence_ms.is_finite() && (0.0..=MAX_MS).contains(&sub.sequence_ms)) {
            return Err(Reject::new(
                400,
                format!(
                    "sequence time {} ms is not between 0 and a day",
                    sub.sequence_ms
                ),
            ));
        }
        if sub.corrections > 100_000 {
            return Err(Reject::new(400, "more than 100000 corrections"));
        }
        let limit = header.config.time_limit();
        let mut response = Response {
            item: sub.item,
            answers: sub.answers,
            answer_ms: sub.answer_ms,
            sequence_ms: sub.sequence_ms,
            corrections: sub.corrections,
            timed_out: sub.timed_out,
            submitted_unix_ms: unix_ms(),
        };
        match limit {
            None if response.timed_out => {
                return Err(Reject::new(400, "this quiz has no time limit to run out"));
            }
            None => {}
            Some(limit) => {
                let limit_ms = limit.as_secs_f64() * 1e3;
                // The server's own clock closes a sequence the page kept open past the limit.
                let overdue = matches!(p.shown, Some((k, t0)) if k == sub.item
                    && t0.elapsed() > limit + TIME_GRACE);
                if overdue {
                    response.timed_out = true;
                }
                if response.timed_out {
                    response.sequence_ms = limit_ms;
                    for (a, ms) in response.answers.iter_mut().zip(&mut response.answer_ms) {
                        if ms.is_some_and(|m| m > limit_ms) {
                            *a = None;
                            *ms = None;
                        }
                    }
                }
            }
        }
        if !response.timed_out && response.answers.iter().any(Option::is_none) {
            let missing = response.answers.iter().filter(|a| a.is_none()).count();
            return Err(Reject::new(
                400,
                format!("{missing} of the {t} images have no answer yet"),
            ));
        }
        p.session.append(response.clone()).map_err(|e| {
            Reject::new(500, format!("the server could not save the sequence: {e}"))
        })?;
        p.shown = None;
        self.version.fetch_add(1, Ordering::AcqRel);
        Ok(reply(&p, false, &response))
    }

    /// Every participant's ID, name and session as it is now (copies).
    pub fn snapshot(&self) -> Vec<(String, String, SessionRecord)> {
        let order: Vec<_> = self.roster().order.clone();
        order
            .iter()
            .map(|p| {
                let p = lock(p);
                (
                    p.participant.clone(),
                    p.name.clone(),
                    p.session.record().clone(),
                )
            })
            .collect()
    }

    /// The chosen runs' answers on `sessions`' items, in the shape the analysis takes.
    pub fn model_answers(&self, sessions: &[SessionRecord]) -> Vec<ModelAnswers> {
        self.models
            .iter()
            .map(|m| {
                let mut predictions = HashMap::new();
                for (s, record) in sessions.iter().enumerate() {
                    for (i, item) in record.header.items.iter().enumerate() {
                        if let Some(p) = m.by_item.get(&item.key()) {
                            predictions.insert((s, i), p.clone());
                        }
                    }
                }
                ModelAnswers {
                    run: m.run.clone(),
                    model: m.model.clone(),
                    kind: m.kind,
                    predictions,
                    caveats: m.caveats.clone(),
                }
            })
            .collect()
    }
}

fn lock(p: &Mutex<Participant>) -> MutexGuard<'_, Participant> {
    // A panic while holding a participant's lock cannot leave a half-saved sequence: the
    // session file is appended in one write and its record pushed after.
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// The quiz as `participant` takes it: their ID and their own order seed (as on the desktop).
pub fn participant_config(quiz: &QuizConfig, participant: &str) -> QuizConfig {
    let mut c = quiz.clone();
    c.participant = participant.to_string();
    c.order_seed = participant_seed(participant);
    c
}

/// Scores the chosen runs once on every item of the pool; the live results look answers up by
/// item.
fn score_models(
    quiz: &QuizConfig,
    stimuli: &Stimuli,
    pool: &ItemPool,
    settings: &ClassSettings,
) -> Result<Vec<ModelPredictions>, ClassError> {
    if settings.runs.is_empty() {
        return Ok(Vec::new());
    }
    let items = pool.ordered(quiz.order, 0);
    // The runs score the items a session has answered: here every item stands in as answered
    // (a record only scored, never written).
    let responses = items
        .iter()
        .enumerate()
        .map(|(k, it)| Response {
            item: k,
            answers: vec![None; it.len()],
            answer_ms: vec![None; it.len()],
            sequence_ms: 0.0,
            corrections: 0,
            timed_out: true,
            submitted_unix_ms: 0,
        })
        .collect();
    let record = SessionRecord {
        path: settings.dir.join("class.json"),
        header: Header::new(quiz, &stimuli.images, items),
        responses,
        torn_bytes: 0,
    };
    let runs: Vec<&Path> = settings.runs.iter().map(PathBuf::as_path).collect();
    let answers = score_runs(
        std::slice::from_ref(&record),
        &runs,
        settings.data_dir.as_deref(),
        settings.backend,
    )?;
    Ok(answers
        .into_iter()
        .map(|a| ModelPredictions {
            by_item: a
                .predictions
                .iter()
                .filter_map(|(&(_, i), p)| Some((record.header.items.get(i)?.key(), p.clone())))
                .collect(),
            run: a.run,
            model: a.model,
            kind: a.kind,
            caveats: a.caveats,
        })
        .collect())
}

/// Occluded pixels (H×W×C, C = 1 or 3) as a PNG.
fn png(pixels: &[u8], stimuli: &Stimuli) -> Result<Vec<u8>, String> {
    use image::ImageEncoder;
    let im = &stimuli.images;
    let color = match im.channels {
        1 => image::ExtendedColorType::L8,
        3 => image::ExtendedColorType::Rgb8,
        c => return Err(format!("{c} channels")),
    };
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(pixels, im.width as u32, im.height as u32, color)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_codes_are_random_and_well_formed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert!(well_formed_token(&a) && well_formed_token(&b));
        assert_ne!(a, b);
        assert!(!well_formed_token(&a.to_uppercase()));
        assert!(!well_formed_token(&a[1..]));
        let code = new_join_code().unwrap();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|c| CODE_ALPHABET.contains(&c)));
        assert!(
            same_secret("ABC", "ABC") && !same_secret("ABC", "ABD") && !same_secret("AB", "ABC")
        );
    }
}
