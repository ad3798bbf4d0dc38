//! The session file: `quiz/<session>.jsonl`, append-only.
//!
//! ```text
//! {"kind":"header","format":"occlab-quiz-session","version":1,"session":…,"config":{…},"items":[…],…}
//! {"kind":"response","item":0,"answers":[0,1,2,3,4],"answer_ms":[…],"sequence_ms":…,…}
//! {"kind":"response","item":1,…}
//! ```
//!
//! * The header holds the full [`QuizConfig`] (preset included) and the item list (image ids,
//!   labels, levels, condition), so the stimuli and the analysis need nothing else.
//! * Response line k answers item k: items are answered in order, each exactly once.
//! * [`Session::append`] writes a line with one `write` and `fsync`s it before returning, so a
//!   sequence confirmed as saved survives a crash or a kill; the caller shows the next sequence
//!   only after that.
//! * [`Session::create`] never overwrites: the header is written to a temporary file, synced and
//!   hard-linked to the final name, which fails if that name exists. A session file is therefore
//!   either absent or complete with its header.
//! * [`Session::open`] resumes: a partially written last line (the process was killed during the
//!   `write`) is cut off — it was never confirmed — and the session continues at the next
//!   unanswered item. Any other damage is an error naming the file and the line, never a guess.
//!
//! Over 600 lines: one file format and its guarantees (never overwritten, each confirmed line
//! synced, a torn last line cut on resume), with reading, writing and resuming side by side.

use super::QuizError;
use super::config::QuizConfig;
use super::items::{ItemPool, QuizItem, Stimuli, select_items};
use crate::data::{ImageSet, read_bounded};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Identifies a quiz session file.
pub const FORMAT: &str = "occlab-quiz-session";
/// Version of the file format.
pub const VERSION: u32 = 1;

/// The first line: everything that defines the session.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The session's name (the file is `<session>.jsonl`).
    pub session: String,
    pub occlab_version: String,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    pub config: QuizConfig,
    /// The image set's name, as loaded when the session was created.
    pub data_name: String,
    pub class_names: Vec<String>,
    /// Practice items first, then the trials, in the order they are shown.
    pub items: Vec<QuizItem>,
}

impl Header {
    /// A header for `config` with the `items` selected on `images`.
    pub fn new(config: &QuizConfig, images: &ImageSet, items: Vec<QuizItem>) -> Self {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            session: config.session_name(),
            occlab_version: env!("CARGO_PKG_VERSION").into(),
            created_unix: unix_ms() / 1000,
            config: config.clone(),
            data_name: images.name.clone(),
            class_names: images.class_names.clone(),
            items,
        }
    }

    /// The class name of `class` (its number if out of range).
    pub fn class_name(&self, class: u16) -> String {
        self.class_names
            .get(class as usize)
            .cloned()
            .unwrap_or_else(|| class.to_string())
    }

    /// Number of practice items (they come first).
    pub fn practice_count(&self) -> usize {
        self.items.iter().take_while(|i| i.practice).count()
    }
}

/// One submitted sequence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Response {
    /// Index into [`Header::items`].
    pub item: usize,
    /// Class per image; `None` where time ran out before an answer.
    pub answers: Vec<Option<u16>>,
    /// Milliseconds from the sequence's onset to each image's final answer.
    pub answer_ms: Vec<Option<f64>>,
    /// Milliseconds from onset to submission.
    pub sequence_ms: f64,
    /// How many times an answer already given was changed or cleared before submitting.
    pub corrections: u32,
    /// Submitted by the time limit, not by the participant.
    pub timed_out: bool,
    /// Milliseconds since the Unix epoch at submission.
    pub submitted_unix_ms: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Header(Box<Header>),
    Response(Response),
}

/// The largest session file read: a session of a few hundred sequences is well under 1 MiB.
pub const MAX_SESSION_BYTES: u64 = 256 << 20;

/// A session file that cannot be used; names the file (and the line).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: already exists and is never overwritten: resume it, or choose another participant ID",
        path.display()
    )]
    Exists { path: PathBuf },
    #[error("{}{}: {problem}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Format {
        path: PathBuf,
        line: Option<usize>,
        problem: String,
    },
    #[error("{}: {problem}", path.display())]
    Invalid { path: PathBuf, problem: String },
}

/// A session file as read: header, responses in item order.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    pub path: PathBuf,
    pub header: Header,
    pub responses: Vec<Response>,
    /// Bytes of a partially written last line that were ignored (0 when the file is intact).
    pub torn_bytes: usize,
}

impl SessionRecord {
    /// Reads a session file without changing it (a torn last line is ignored and counted in
    /// [`Self::torn_bytes`]).
    pub fn read(path: &Path) -> Result<Self, SessionError> {
        let bytes = read_bounded(path, MAX_SESSION_BYTES).map_err(|source| SessionError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        parse(path, &bytes)
    }

    /// The next item to show, `None` when every item is answered.
    pub fn next_item(&self) -> Option<usize> {
        (self.responses.len() < self.header.items.len()).then_some(self.responses.len())
    }

    pub fn is_finished(&self) -> bool {
        self.next_item().is_none()
    }

    /// (submitted, total) sequences, practice included.
    pub fn progress(&self) -> (usize, usize) {
        (self.responses.len(), self.header.items.len())
    }

    /// The responses to analysed (non-practice) items, with their items.
    pub fn trials(&self) -> impl Iterator<Item = (&QuizItem, &Response)> + '_ {
        self.responses
            .iter()
            .filter_map(|r| Some((self.header.items.get(r.item)?, r)))
            .filter(|(i, _)| !i.practice)
    }

    /// Checks a response against the header (item in order, lengths, classes in range).
    fn check_response(&self, r: &Response) -> Result<(), String> {
        let expected = self.responses.len();
        if r.item != expected {
            return Err(if r.item < expected {
                format!("item {} is answered a second time", r.item)
            } else {
                format!("item {} is answered before item {expected}", r.item)
            });
        }
        let Some(item) = self.header.items.get(r.item) else {
            return Err(format!(
                "item {} does not exist: the session has {} items",
                r.item,
                self.header.items.len()
            ));
        };
        if r.answers.len() != item.len() || r.answer_ms.len() != item.len() {
            return Err(format!(
                "item {}: {} answers and {} times for {} images",
                r.item,
                r.answers.len(),
                r.answer_ms.len(),
                item.len()
            ));
        }
        let classes = self.header.class_names.len();
        if let Some(bad) = r.answers.iter().flatten().find(|&&a| a as usize >= classes) {
            return Err(format!(
                "item {}: answer {bad} is not one of the {classes} classes",
                r.item
            ));
        }
        Ok(())
    }
}

/// Checks what the header promises: classes named, every item's images, labels and levels
/// alike in number and its labels among the classes.
fn check_header(header: &Header) -> Result<(), String> {
    let classes = header.class_names.len();
    if classes == 0 || classes > u16::MAX as usize {
        return Err(format!("{classes} class names: expected 1 to {}", u16::MAX));
    }
    for (k, item) in header.items.iter().enumerate() {
        if item.is_empty() || item.labels.len() != item.len() || item.levels.len() != item.len() {
            return Err(format!(
                "item {k}: {} images, {} labels and {} levels (expected as many of each, at least 1)",
                item.len(),
                item.labels.len(),
                item.levels.len()
            ));
        }
        if let Some(bad) = item.labels.iter().find(|&&l| l as usize >= classes) {
            return Err(format!(
                "item {k}: label {bad} is not one of the {classes} classes"
            ));
        }
    }
    Ok(())
}

/// Parses the bytes of a session file.
fn parse(path: &Path, bytes: &[u8]) -> Result<SessionRecord, SessionError> {
    let format = |line: Option<usize>, problem: String| SessionError::Format {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let torn_bytes = bytes.len() - complete;
    let text = std::str::from_utf8(&bytes[..complete])
        .map_err(|e| format(None, format!("not UTF-8 text: {e}")))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, first)) = lines.next() else {
        return Err(format(
            Some(1),
            if torn_bytes > 0 {
                "the header line is incomplete".into()
            } else {
                "empty file: no session header".into()
            },
        ));
    };
    let header = match serde_json::from_str::<Line>(first) {
        Ok(Line::Header(h)) => *h,
        Ok(Line::Response(_)) => {
            return Err(format(
                Some(1),
                "the first line is a response, not the session header".into(),
            ));
        }
        Err(e) => return Err(format(Some(1), format!("not a session header: {e}"))),
    };
    if header.format != FORMAT || header.version != VERSION {
        return Err(format(
            Some(1),
            format!(
                "format \"{}\" version {} is not {FORMAT} version {VERSION}",
                header.format, header.version
            ),
        ));
    }
    check_header(&header).map_err(|m| format(Some(1), m))?;
    let mut record = SessionRecord {
        path: path.to_path_buf(),
        header,
        responses: Vec::new(),
        torn_bytes,
    };
    for (i, line) in lines {
        let response = match serde_json::from_str::<Line>(line) {
            Ok(Line::Response(r)) => r,
            Ok(Line::Header(_)) => {
                return Err(format(Some(i + 1), "a second session header".into()));
            }
            Err(e) => return Err(format(Some(i + 1), format!("not a response: {e}"))),
        };
        record
            .check_response(&response)
            .map_err(|m| format(Some(i + 1), m))?;
        record.responses.push(response);
    }
    Ok(record)
}

/// An open session: its record and the file, ready to append.
#[derive(Debug)]
pub struct Session {
    record: SessionRecord,
    file: File,
    /// Bytes in the file (all complete lines).
    len: u64,
}

/// What [`Session::open`] had to do to a file left by a killed process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes of the partially written last line that were cut off.
    pub dropped_bytes: usize,
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cut off a partially written last line ({} bytes): the program stopped while saving \
             it, before it was confirmed; that sequence is shown again",
            self.dropped_bytes
        )
    }
}

impl Session {
    /// Creates `dir/<header.session>.jsonl` with the header, synced to disk. Fails if the file
    /// exists ([`SessionError::Exists`]).
    pub fn create(dir: &Path, header: Header) -> Result<Self, SessionError> {
        let path = dir.join(format!("{}.jsonl", header.session));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SessionError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        if path.exists() {
            return Err(SessionError::Exists { path });
        }
        let mut text = serde_json::to_string(&Line::Header(Box::new(header.clone())))
            .expect("a header always serialises");
        text.push('\n');
        let tmp = dir.join(format!(
            ".{}.jsonl.{}.tmp",
            header.session,
            std::process::id()
        ));
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(text.as_bytes()).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        // A hard link never replaces an existing file: the name appears complete or not at all.
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(SessionError::Exists { path });
            }
            Err(_) => {
                // File systems without hard links: exclusive create (never overwrites either).
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(|e| {
                        if e.kind() == std::io::ErrorKind::AlreadyExists {
                            SessionError::Exists { path: path.clone() }
                        } else {
                            io(&path)(e)
                        }
                    })?;
                f.write_all(text.as_bytes()).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
            }
        }
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        Ok(Session {
            record: SessionRecord {
                path,
                header,
                responses: Vec::new(),
                torn_bytes: 0,
            },
            file,
            len: text.len() as u64,
        })
    }

    /// Opens a session file to continue it. A partially written last line is cut off (and
    /// reported); everything else must be intact.
    pub fn open(path: &Path) -> Result<(Self, Option<Recovery>), SessionError> {
        let io = |source| SessionError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bytes = read_bounded(path, MAX_SESSION_BYTES).map_err(io)?;
        let mut record = parse(path, &bytes)?;
        let file = OpenOptions::new().append(true).open(path).map_err(io)?;
        let len = (bytes.len() - record.torn_bytes) as u64;
        let recovery = if record.torn_bytes > 0 {
            file.set_len(len).map_err(io)?;
            file.sync_all().map_err(io)?;
            let r = Recovery {
                dropped_bytes: record.torn_bytes,
            };
            record.torn_bytes = 0;
            Some(r)
        } else {
            None
        };
        Ok((Session { record, file, len }, recovery))
    }

    pub fn record(&self) -> &SessionRecord {
        &self.record
    }

    pub fn header(&self) -> &Header {
        &self.record.header
    }

    pub fn path(&self) -> &Path {
        &self.record.path
    }

    pub fn responses(&self) -> &[Response] {
        &self.record.responses
    }

    /// The next item to show, `None` when the session is complete.
    pub fn next_item(&self) -> Option<usize> {
        self.record.next_item()
    }

    /// Appends a response and syncs it to disk before returning. The response must answer
    /// [`Self::next_item`].
    pub fn append(&mut self, response: Response) -> Result<(), SessionError> {
        let path = self.record.path.clone();
        self.record
            .check_response(&response)
            .map_err(|problem| SessionError::Invalid {
                path: path.clone(),
                problem,
            })?;
        let mut text = serde_json::to_string(&Line::Response(response.clone()))
            .expect("a response always serialises");
        text.push('\n');
        let written = self
            .file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            // Leave no partial line behind for the next append to follow.
            let _ = self.file.set_len(self.len);
            return Err(SessionError::Io { path, source });
        }
        self.len += text.len() as u64;
        self.record.responses.push(response);
        Ok(())
    }
}

/// How [`start`] got its session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Started {
    /// A new session file.
    Created,
    /// An existing session file with the same settings, continued at its next item.
    Resumed { recovery: Option<Recovery> },
}

/// The session file `config` names in `dir`.
pub fn session_path(dir: &Path, config: &QuizConfig) -> PathBuf {
    dir.join(format!("{}.jsonl", config.session_name()))
}

/// Creates the session `config` describes in `dir`, or resumes it if its file exists with the
/// same settings. A file of the same name with other settings is an error (it is never
/// overwritten).
pub fn start(
    dir: &Path,
    config: &QuizConfig,
    stimuli: &Stimuli,
) -> Result<(Session, Started), QuizError> {
    start_with(dir, config, stimuli, || {
        select_items(config, stimuli.images.clone())
    })
}

/// [`start`] with the sequences already selected (`pool`, from [`super::items::select_pool`]
/// with the same data and item settings as `config`): a class session selects them once for
/// every participant.
pub fn start_from_pool(
    dir: &Path,
    config: &QuizConfig,
    stimuli: &Stimuli,
    pool: &ItemPool,
) -> Result<(Session, Started), QuizError> {
    start_with(dir, config, stimuli, || {
        Ok(pool.ordered(config.order, config.order_seed))
    })
}

fn start_with(
    dir: &Path,
    config: &QuizConfig,
    stimuli: &Stimuli,
    items: impl FnOnce() -> Result<Vec<QuizItem>, QuizError>,
) -> Result<(Session, Started), QuizError> {
    config.validate()?;
    let path = session_path(dir, config);
    if path.exists() {
        let (session, recovery) = Session::open(&path)?;
        if !same_settings(&session.header().config, config) {
            return Err(SessionError::Invalid {
                path,
                problem: "a session of this name exists with other settings; it is never \
                          overwritten: resume it as it is, or choose another participant ID"
                    .into(),
            }
            .into());
        }
        check_stimuli(&session, stimuli)?;
        return Ok((session, Started::Resumed { recovery }));
    }
    let header = Header::new(config, &stimuli.images, items()?);
    Ok((Session::create(dir, header)?, Started::Created))
}

/// Opens an existing session file and loads its images (relative data paths against
/// `data_dir`), checking that they are the images it was recorded with.
pub fn resume(
    path: &Path,
    data_dir: Option<&Path>,
) -> Result<(Session, Option<Recovery>, Stimuli), QuizError> {
    let (session, recovery) = Session::open(path)?;
    let stimuli = Stimuli::load(&session.header().config, data_dir)?;
    check_stimuli(&session, &stimuli)?;
    Ok((session, recovery, stimuli))
}

fn check_stimuli(session: &Session, stimuli: &Stimuli) -> Result<(), QuizError> {
    stimuli.check(&session.header().items).map_err(|problem| {
        SessionError::Invalid {
            path: session.path().to_path_buf(),
            problem,
        }
        .into()
    })
}

/// Whether two configs are the same settings. Compared as JSON values with numbers equal to
/// 1e-12 relative: a config read back from its file may differ in the last bit of a float.
pub fn same_settings(a: &QuizConfig, b: &QuizConfig) -> bool {
    let value = |c: &QuizConfig| serde_json::to_value(c).expect("a config always serialises");
    json_close(&value(a), &value(b))
}

fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        _ => a == b,
    }
}

/// Every session file (`*.jsonl`) directly in `dir`, read, sorted by file name. Files that
/// cannot be read come back as errors (naming the file).
pub fn list_sessions(dir: &Path) -> Vec<Result<SessionRecord, SessionError>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl") && p.is_file())
        .collect();
    paths.sort();
    paths.iter().map(|p| SessionRecord::read(p)).collect()
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
