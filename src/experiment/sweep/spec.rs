//! What a sweep varies: a base preset, keys set for every run, keys swept as a grid (every
//! combination) and keys zipped (varying together, one axis of the grid).
//!
//! On the command line: `--set key=v1,v2,…` (one value: set for every run; several: a grid axis),
//! `--zip key=v1,v2,…` (all `--zip` keys vary together), values as TOML (`[0.1, 0.2]`, `1e-3`,
//! `true`; anything else is a string, so `model.kind=CNN,CRNN` needs no quotes), commas inside
//! brackets or quotes belong to the value, and integer ranges `1..5` (inclusive) or stepped ranges
//! `0.1..0.5:0.1`. A key is a dotted preset path (`train.seed`, `occlusion.level_widths`); `[i]`
//! picks an element of a list (`occlusion.level_widths[4]`).
//!
//! In a file: a `[sweep]` table, either added to a preset (the preset is the base) or with
//! `base = "presets/…toml"`:
//!
//! ```toml
//! [sweep]
//! name = "occlusion-severity"
//! base = "presets/train/demo-crnn-embedded.toml"
//! [sweep.set]                        # every run
//! "train.epochs" = 1
//! [sweep.grid]                       # every combination
//! "model.kind" = ["CNN", "CRNN"]
//! "train.seed" = [1, 2]
//! [sweep.zip]                        # these vary together (equal lengths)
//! "sequences.t" = [5, 10]
//! "sequences.limit" = [200, 100]
//! [sweep.plot]                       # the report's default chart
//! x = "sequences.t"
//! lines = "model.kind"
//! metric = "test_accuracy"
//! ```
//!
//! Every run's preset is checked against the preset schema: a key the preset does not have
//! (`occlusion.level_width`) or a value of the wrong type is an error naming the key.
//!
//! Axes are ordered by key (not by the order given), so the same sweep given on the command line
//! or read back from its saved `sweep.toml` plans the same runs in the same order.

use crate::experiment::preset::{MAX_PRESET_BYTES, Preset, PresetError};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Value;

/// The most runs one sweep may expand to (a typo such as `1..100000` is an error, not a hang).
pub const MAX_RUNS: usize = 10_000;

/// Why a sweep cannot be defined, planned, run or reported.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A sweep file or a sweep folder's file that cannot be used.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Preset(Box<PresetError>),
    /// A swept or set key, or one of its values, that the preset does not accept.
    #[error("sweep key `{key}`: {message}")]
    Key { key: String, message: String },
    /// A run whose combination of values is not a usable preset.
    #[error("sweep run {run}: {message}")]
    Run { run: String, message: String },
    #[error(transparent)]
    Launch(#[from] crate::experiment::queue::LaunchError),
    #[error(transparent)]
    RunDir(#[from] crate::experiment::run::RunError),
    /// Slurm's commands failed or are missing.
    #[error("slurm: {0}")]
    Slurm(String),
    /// A local worker could not be started or watched.
    #[error("local workers: {0}")]
    Local(String),
    #[error("report: {0}")]
    Report(String),
}

impl From<PresetError> for SweepError {
    fn from(e: PresetError) -> Self {
        SweepError::Preset(Box::new(e))
    }
}

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Segment {
    Field(String),
    Index(usize),
}

/// A dotted preset key, e.g. `occlusion.level_widths[4]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath {
    text: String,
    segments: Vec<Segment>,
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl KeyPath {
    /// Parses `section.field`, `section.list[2]`, …
    pub fn parse(text: &str) -> Result<KeyPath, SweepError> {
        let bad = |message: String| SweepError::Key {
            key: text.to_string(),
            message,
        };
        let text = text.trim();
        let mut segments = Vec::new();
        for part in text.split('.') {
            let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(bad(format!(
                    "`{part}` is not a key name (letters, digits, _ and -; `name[i]` for a list element)"
                )));
            }
            segments.push(Segment::Field(name.to_string()));
            while !rest.is_empty() {
                let Some(close) = rest.find(']') else {
                    return Err(bad(format!("`{part}`: `[` without `]`")));
                };
                let index: usize = rest[1..close]
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("`{}` is not a list index", &rest[..=close])))?;
                segments.push(Segment::Index(index));
                rest = &rest[close + 1..];
                if !rest.is_empty() && !rest.starts_with('[') {
                    return Err(bad(format!("`{part}`: text after `]`")));
                }
            }
        }
        Ok(KeyPath {
            text: text.to_string(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The last name of the path with its indices (`level_widths4` for
    /// `occlusion.level_widths[4]`): short names for run folders and table headers.
    pub fn short(&self) -> String {
        let mut out = String::new();
        for s in self.segments.iter().rev() {
            match s {
                Segment::Index(i) => out.insert_str(0, &i.to_string()),
                Segment::Field(f) => {
                    out.insert_str(0, f);
                    break;
                }
            }
        }
        out
    }

    /// Whether `self` names `other` or a part of it (`occlusion.level_widths` covers
    /// `occlusion.level_widths[4]`).
    pub fn covers(&self, other: &KeyPath) -> bool {
        other.segments.starts_with(&self.segments)
    }

    /// The value this path names inside `value`, whose path is `base` (which this path must
    /// cover): `occlusion.level_widths[4]` inside the value of `occlusion.level_widths`.
    pub fn pick<'a>(&self, base: &KeyPath, value: &'a Value) -> Option<&'a Value> {
        let rest = self.segments.strip_prefix(base.segments.as_slice())?;
        let mut v = value;
        for s in rest {
            v = match (s, v) {
                (Segment::Field(f), Value::Table(t)) => t.get(f)?,
                (Segment::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(v)
    }

    /// Sets this path to `value` in a preset's TOML table, creating missing sections.
    fn set(&self, table: &mut toml::Table, value: Value) -> Result<(), String> {
        let mut root = Value::Table(std::mem::take(table));
        let result = set_in(&mut root, &self.segments, 0, value);
        if let Value::Table(t) = root {
            *table = t;
        }
        result
    }
}

fn set_in(here: &mut Value, segments: &[Segment], k: usize, value: Value) -> Result<(), String> {
    let so_far = || prefix_text(&segments[..k]);
    let last = k + 1 == segments.len();
    match &segments[k] {
        Segment::Field(f) => {
            let Value::Table(t) = here else {
                return Err(format!(
                    "`{}` is {}, not a table",
                    so_far(),
                    type_name(here)
                ));
            };
            if last {
                t.insert(f.clone(), value);
                return Ok(());
            }
            let next = t
                .entry(f.clone())
                .or_insert_with(|| Value::Table(toml::Table::new()));
            set_in(next, segments, k + 1, value)
        }
        Segment::Index(i) => {
            let Value::Array(a) = here else {
                return Err(format!(
                    "`{}` is {}, not a list (set the whole value instead)",
                    so_far(),
                    type_name(here)
                ));
            };
            let n = a.len();
            let Some(slot) = a.get_mut(*i) else {
                return Err(format!(
                    "index {i} is out of range: `{}` has {n} entries",
                    so_far()
                ));
            };
            if last {
                *slot = value;
                return Ok(());
            }
            set_in(slot, segments, k + 1, value)
        }
    }
}

fn prefix_text(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Field(f) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(f);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true/false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

/// Splits `a,b,[c,d],"e,f"` at the commas outside brackets, braces and quotes.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// One value as TOML (`3`, `1e-3`, `[0.1, 0.2]`, `true`, `"x"`); anything that is not TOML is a
/// string (`CNN`).
pub fn parse_value(text: &str) -> Value {
    let text = text.trim();
    match toml::from_str::<toml::Table>(&format!("v = {text}")) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| Value::String(text.into())),
        Err(_) => Value::String(text.into()),
    }
}

/// A range `A..B` (integers, inclusive, step 1) or `A..B:STEP` (integers or decimals, inclusive
/// where B is reached); `None` when `text` is no range.
fn parse_range(text: &str) -> Option<Result<Vec<Value>, String>> {
    let (a, rest) = text.split_once("..")?;
    let (b, step) = match rest.split_once(':') {
        Some((b, s)) => (b, Some(s)),
        None => (rest, None),
    };
    let a = a.trim();
    let b = b.trim();
    let num = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
    let (Some(fa), Some(fb)) = (num(a), num(b)) else {
        return None;
    };
    let ints = [Some(a), Some(b), step.map(str::trim)]
        .into_iter()
        .flatten()
        .all(|s| s.parse::<i64>().is_ok());
    let fs = match step.map(str::trim) {
        Some(s) => match num(s) {
            Some(v) if v > 0.0 => v,
            _ => {
                return Some(Err(format!(
                    "range `{text}`: the step must be a number > 0"
                )));
            }
        },
        None if ints => 1.0,
        None => {
            return Some(Err(format!(
                "range `{text}` of decimals needs a step, e.g. `{a}..{b}:0.1`"
            )));
        }
    };
    if fb < fa {
        return Some(Err(format!("range `{text}`: the end is below the start")));
    }
    let n = ((fb - fa) / fs + 1e-9).floor() as usize + 1;
    if n > MAX_RUNS {
        return Some(Err(format!(
            "range `{text}` has {n} values, more than {MAX_RUNS}"
        )));
    }
    Some(Ok((0..n)
        .map(|i| {
            if ints {
                Value::Integer(a.parse::<i64>().unwrap_or(0) + i as i64 * fs as i64)
            } else {
                // Rounded so that 0.1 + 2·0.1 reads 0.3, not 0.30000000000000004.
                Value::Float(((fa + i as f64 * fs) * 1e12).round() / 1e12)
            }
        })
        .collect()))
}

/// The values of `--set key=v1,v2,…` (see the module docs), for `key` (named in errors).
pub fn parse_values(key: &str, text: &str) -> Result<Vec<Value>, SweepError> {
    let bad = |message: String| SweepError::Key {
        key: key.to_string(),
        message,
    };
    let mut out = Vec::new();
    for item in split_top_level(text) {
        let item = item.trim();
        if item.is_empty() {
            return Err(bad(format!("an empty value in `{text}`")));
        }
        match parse_range(item) {
            Some(Ok(values)) => out.extend(values),
            Some(Err(e)) => return Err(bad(e)),
            None => out.push(parse_value(item)),
        }
    }
    Ok(out)
}

/// Splits `key=values` (the argument of `--set` / `--zip`).
pub fn split_assignment(arg: &str) -> Result<(KeyPath, Vec<Value>), SweepError> {
    let Some((key, values)) = arg.split_once('=') else {
        return Err(SweepError::Key {
            key: arg.to_string(),
            message: "expected key=value[,value…], e.g. train.seed=1,2,3".into(),
        });
    };
    let key = KeyPath::parse(key)?;
    let values = parse_values(key.as_str(), values)?;
    Ok((key, values))
}

/// A value as it reads in run names and tables: strings bare, lists joined by `+`.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => format!("{f}"),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join("+"),
        Value::Table(t) => toml::to_string(t)
            .unwrap_or_default()
            .replace('\n', " ")
            .trim()
            .to_string(),
    }
}

/// A value as a number, for plots (integers, decimals, true = 1).
pub fn value_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Boolean(b) => Some(f64::from(u8::from(*b))),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The default plot of a sweep's report.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlotChoice {
    /// The swept key on the x axis (may pick a list element: `occlusion.level_widths[4]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// The swept key whose values are the lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<String>,
    /// `test_accuracy` (default), `level<N>` (test accuracy at occlusion level N), `epochs` or
    /// `seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
}

/// The `[sweep]` table of a file.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    description: String,
    /// The base preset's file, when the file holds no preset of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<String>,
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    set: toml::Table,
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    grid: toml::Table,
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    zip: toml::Table,
    #[serde(default)]
    plot: PlotChoice,
}

/// One point of a grid axis: the value of each of its keys (one key, or the zipped keys).
type AxisPoint = Vec<(KeyPath, Value)>;
/// A grid axis: its points.
type Axis = Vec<AxisPoint>;

/// A whole sweep definition.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    /// Names the sweep's folder (default `sweeps/<name>`) and its runs.
    pub name: String,
    pub description: String,
    /// The preset every run starts from.
    pub base: Preset,
    /// Keys set to one value in every run.
    pub fixed: Vec<(KeyPath, Value)>,
    /// Keys swept as a grid: every combination of their values.
    pub grid: Vec<(KeyPath, Vec<Value>)>,
    /// Keys that vary together (equal numbers of values): one axis of the grid.
    pub zip: Vec<(KeyPath, Vec<Value>)>,
    pub plot: PlotChoice,
}

/// One run of a sweep, before it is planned.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    /// The swept keys' values, in key order.
    pub values: Vec<(KeyPath, Value)>,
    /// The exact preset the run trains.
    pub preset: Preset,
    /// The swept values as a file-name part: `kind-CNN_seed-2`.
    pub slug: String,
}

/// Reads a text file, or the built-in file a relative `presets/…` path names.
fn read_text(path: &Path) -> Result<String, SweepError> {
    match crate::data::read_bounded_text(path, MAX_PRESET_BYTES) {
        Ok(text) => Ok(text),
        Err(source) => {
            let builtin = (source.kind() == std::io::ErrorKind::NotFound)
                .then(|| crate::experiment::builtin::lookup(path))
                .flatten()
                .and_then(|b| std::str::from_utf8(b).ok());
            builtin.map(str::to_string).ok_or(SweepError::Io {
                path: path.into(),
                source,
            })
        }
    }
}

impl SweepSpec {
    /// A sweep of `base` that varies nothing yet (add keys with [`Self::set`] / [`Self::zip`]).
    pub fn from_preset(base: Preset) -> SweepSpec {
        SweepSpec {
            name: base.name.clone(),
            description: String::new(),
            base,
            fixed: Vec::new(),
            grid: Vec::new(),
            zip: Vec::new(),
            plot: PlotChoice::default(),
        }
    }

    /// Reads a preset (no `[sweep]` table: a sweep that varies nothing yet), a preset with a
    /// `[sweep]` table, or a `[sweep]` table with `base = "…"`.
    pub fn load(path: &Path) -> Result<SweepSpec, SweepError> {
        let text = read_text(path)?;
        Self::parse(&text, path)
    }

    /// Parses a sweep file's text; `origin` names it in errors and anchors a relative `base`.
    pub fn parse(text: &str, origin: &Path) -> Result<SweepSpec, SweepError> {
        let bad = |message: String| SweepError::File {
            path: origin.into(),
            message,
        };
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| bad(format!("not valid TOML: {e}")))?;
        let section = match table.remove("sweep") {
            None => SweepSection::default(),
            Some(Value::Table(t)) => {
                SweepSection::deserialize_table(t).map_err(|e| bad(format!("[sweep]: {e}")))?
            }
            Some(other) => {
                return Err(bad(format!(
                    "`sweep` is {}, not a table",
                    type_name(&other)
                )));
            }
        };
        let base = match (&section.base, table.is_empty()) {
            (Some(_), false) => {
                return Err(bad(
                    "has both a preset and [sweep] base = …: keep one".into()
                ));
            }
            (None, true) => {
                return Err(bad(
                    "no preset: add the preset's tables, or base = \"presets/….toml\" in [sweep]"
                        .into(),
                ));
            }
            (None, false) => {
                let text = toml::to_string(&table).map_err(|e| bad(e.to_string()))?;
                Preset::parse(&text, origin)?
            }
            (Some(base), true) => {
                let given = PathBuf::from(base);
                // Beside the sweep file first, then as given (a file, or a built-in preset).
                let beside = origin.parent().map(|d| d.join(&given));
                match beside.filter(|p| given.is_relative() && p.is_file()) {
                    Some(p) => Preset::load(&p)?,
                    None => Preset::load(&given)?,
                }
            }
        };
        let mut spec = SweepSpec::from_preset(base);
        if let Some(name) = section.name {
            spec.name = name;
        }
        spec.description = section.description;
        spec.plot = section.plot;
        for (key, value) in section.set {
            spec.add(KeyPath::parse(&key)?, vec![value], false)?;
        }
        for (key, value) in section.grid {
            let Value::Array(values) = value else {
                return Err(bad(format!(
                    "[sweep.grid] \"{key}\" must list its values: [v1, v2, …]"
                )));
            };
            spec.add(KeyPath::parse(&key)?, values, false)?;
        }
        for (key, value) in section.zip {
            let Value::Array(values) = value else {
                return Err(bad(format!(
                    "[sweep.zip] \"{key}\" must list its values: [v1, v2, …]"
                )));
            };
            spec.add(KeyPath::parse(&key)?, values, true)?;
        }
        spec.check_name().map_err(bad)?;
        Ok(spec)
    }

    fn check_name(&self) -> Result<(), String> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || self.name.starts_with('.')
        {
            return Err(format!(
                "sweep name {:?}: use letters, digits, -, _ and . (it names folders)",
                self.name
            ));
        }
        Ok(())
    }

    /// Sets the sweep's name (it names the sweep's folder and runs).
    pub fn rename(&mut self, name: &str) -> Result<(), SweepError> {
        self.name = name.to_string();
        self.check_name().map_err(|message| SweepError::Key {
            key: "name".into(),
            message,
        })
    }

    /// `--set key=v1,…`: one value is set in every run, several are a grid axis. Replaces what
    /// the sweep had for the key.
    pub fn set(&mut self, arg: &str) -> Result<(), SweepError> {
        let (key, values) = split_assignment(arg)?;
        self.add(key, values, false)
    }

    /// `--zip key=v1,…`: the key varies together with the other zipped keys.
    pub fn zip(&mut self, arg: &str) -> Result<(), SweepError> {
        let (key, values) = split_assignment(arg)?;
        self.add(key, values, true)
    }

    fn add(&mut self, key: KeyPath, values: Vec<Value>, zip: bool) -> Result<(), SweepError> {
        if values.is_empty() {
            return Err(SweepError::Key {
                key: key.to_string(),
                message: "no values".into(),
            });
        }
        // One key, one role: a later --set replaces a file's value; overlapping keys conflict.
        self.fixed.retain(|(k, _)| *k != key);
        self.grid.retain(|(k, _)| *k != key);
        self.zip.retain(|(k, _)| *k != key);
        let others = self
            .fixed
            .iter()
            .map(|(k, _)| k)
            .chain(self.grid.iter().map(|(k, _)| k))
            .chain(self.zip.iter().map(|(k, _)| k));
        for other in others {
            if other.covers(&key) || key.covers(other) {
                return Err(SweepError::Key {
                    key: key.to_string(),
                    message: format!("overlaps `{other}`: set one or the other"),
                });
            }
        }
        match (zip, values.len()) {
            (true, _) => self.zip.push((key, values)),
            (false, 1) => self
                .fixed
                .push((key, values.into_iter().next().expect("one value"))),
            (false, _) => self.grid.push((key, values)),
        }
        Ok(())
    }

    /// The swept keys (grid and zipped), in key order.
    pub fn swept_keys(&self) -> Vec<KeyPath> {
        let mut keys: Vec<KeyPath> = self
            .grid
            .iter()
            .chain(&self.zip)
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    /// The grid's axes, in key order: one per grid key, and the zipped keys as one.
    fn axes(&self) -> Result<Vec<Axis>, SweepError> {
        let mut axes: Vec<(KeyPath, Axis)> = self
            .grid
            .iter()
            .map(|(k, vs)| {
                (
                    k.clone(),
                    vs.iter().map(|v| vec![(k.clone(), v.clone())]).collect(),
                )
            })
            .collect();
        if !self.zip.is_empty() {
            let n = self.zip[0].1.len();
            if let Some((k, vs)) = self.zip.iter().find(|(_, vs)| vs.len() != n) {
                return Err(SweepError::Key {
                    key: k.to_string(),
                    message: format!(
                        "zipped keys need as many values each: `{}` has {n}, `{k}` has {}",
                        self.zip[0].0,
                        vs.len()
                    ),
                });
            }
            let mut zip = self.zip.clone();
            zip.sort_by(|a, b| a.0.cmp(&b.0));
            let points = (0..n)
                .map(|i| {
                    zip.iter()
                        .map(|(k, vs)| (k.clone(), vs[i].clone()))
                        .collect()
                })
                .collect();
            axes.push((zip[0].0.clone(), points));
        }
        axes.sort_by(|a, b| a.0.cmp(&b.0));
        let total = axes
            .iter()
            .try_fold(1usize, |acc, (_, p)| acc.checked_mul(p.len()))
            .unwrap_or(usize::MAX);
        if total > MAX_RUNS {
            return Err(SweepError::Key {
                key: self.swept_keys()[0].to_string(),
                message: format!("the sweep has {total} runs, more than {MAX_RUNS}"),
            });
        }
        Ok(axes.into_iter().map(|(_, p)| p).collect())
    }

    /// Every run: the base preset with the set keys, then each combination of swept values,
    /// each checked against the preset schema.
    pub fn expand(&self) -> Result<Vec<SweepPoint>, SweepError> {
        let mut base: toml::Table = self
            .base
            .to_toml()
            .parse()
            .expect("a preset's own TOML parses");
        let base_origin = PathBuf::from(format!("sweep {}", self.name));
        for (key, value) in &self.fixed {
            key.set(&mut base, value.clone())
                .map_err(|message| SweepError::Key {
                    key: key.to_string(),
                    message,
                })?;
            check_one(&base, key, value, &base_origin)?;
        }
        let axes = self.axes()?;
        let keys = self.swept_keys();
        let shorts = short_names(&keys);
        let mut combos: Vec<Vec<(KeyPath, Value)>> = vec![Vec::new()];
        for axis in &axes {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    axis.iter().map(move |point| {
                        let mut c = c.clone();
                        c.extend(point.iter().cloned());
                        c
                    })
                })
                .collect();
        }
        let mut out: Vec<SweepPoint> = Vec::with_capacity(combos.len());
        for mut values in combos {
            values.sort_by(|a, b| a.0.cmp(&b.0));
            let slug = slug(&values, &keys, &shorts);
            let mut table = base.clone();
            for (key, value) in &values {
                key.set(&mut table, value.clone())
                    .map_err(|message| SweepError::Key {
                        key: key.to_string(),
                        message,
                    })?;
            }
            let mut preset = checked_preset(&table, &base_origin).map_err(|e| match e {
                // Name the key when one value alone is the trouble.
                Checked::Ignored(path) => SweepError::Key {
                    key: path,
                    message:
                        "not a preset key (a misspelt name, or a section the preset does not have)"
                            .into(),
                },
                Checked::Invalid(message) => values
                    .iter()
                    .find_map(|(k, v)| {
                        let mut alone = base.clone();
                        k.set(&mut alone, v.clone()).ok()?;
                        check_one(&alone, k, v, &base_origin).err()
                    })
                    .unwrap_or(SweepError::Run {
                        run: slug.clone(),
                        message,
                    }),
            })?;
            if let Err(e) = preset.occlusion.validate() {
                return Err(SweepError::Run {
                    run: slug.clone(),
                    message: format!("occlusion: {e}"),
                });
            }
            preset.name = self.name.clone();
            if let Some(same) = out.iter().find(|p| p.preset == preset) {
                return Err(SweepError::Run {
                    run: slug,
                    message: format!("the same config as run {}: a value repeats", same.slug),
                });
            }
            out.push(SweepPoint {
                values,
                preset,
                slug,
            });
        }
        Ok(out)
    }

    /// The sweep as a file: the base preset with the `[sweep]` table (loadable by
    /// [`Self::parse`]; the sweep folder keeps it as `sweep.toml`).
    pub fn to_toml(&self) -> String {
        let mut table: toml::Table = self
            .base
            .to_toml()
            .parse()
            .expect("a preset's own TOML parses");
        let list = |v: &[(KeyPath, Vec<Value>)]| -> toml::Table {
            v.iter()
                .map(|(k, vs)| (k.to_string(), Value::Array(vs.clone())))
                .collect()
        };
        let section = SweepSection {
            name: Some(self.name.clone()),
            description: self.description.clone(),
            base: None,
            set: self
                .fixed
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            grid: list(&self.grid),
            zip: list(&self.zip),
            plot: self.plot.clone(),
        };
        table.insert(
            "sweep".into(),
            Value::try_from(&section).expect("a sweep section serialises"),
        );
        toml::to_string_pretty(&table).expect("a sweep serialises")
    }
}

impl SweepSection {
    fn deserialize_table(t: toml::Table) -> Result<SweepSection, String> {
        let text = toml::to_string(&t).map_err(|e| e.to_string())?;
        toml::from_str(&text).map_err(|e| first_line(&e.to_string()))
    }
}

/// Short names for the swept keys: the last name, or the whole key where two share it.
fn short_names(keys: &[KeyPath]) -> Vec<String> {
    keys.iter()
        .map(|k| {
            let s = k.short();
            if keys.iter().filter(|o| o.short() == s).count() > 1 {
                k.as_str().replace(['[', ']'], "")
            } else {
                s
            }
        })
        .collect()
}

/// `kind-CNN_seed-2`: the swept values as a file-name part (other characters become `_`; long
/// ones are cut, the config hash beside keeps names apart).
fn slug(values: &[(KeyPath, Value)], keys: &[KeyPath], shorts: &[String]) -> String {
    if values.is_empty() {
        return "base".into();
    }
    let mut out = values
        .iter()
        .map(|(k, v)| {
            let i = keys.iter().position(|x| x == k).unwrap_or(0);
            format!(
                "{}-{}",
                shorts.get(i).map_or("", String::as_str),
                value_text(v)
            )
        })
        .collect::<Vec<_>>()
        .join("_");
    out = out
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.len() > 96 {
        out.truncate(96);
    }
    out
}

enum Checked {
    /// A key the preset does not have.
    Ignored(String),
    /// Any other reason the table is not a preset.
    Invalid(String),
}

fn first_line(s: &str) -> String {
    // toml's messages quote the (generated) text with line numbers, which mean nothing to the
    // user; the reason is the last line that is neither a quote nor the position.
    s.lines()
        .map(str::trim)
        .rfind(|l| {
            !l.is_empty()
                && !l.starts_with('|')
                && !l.starts_with("TOML parse error")
                && !l.chars().next().is_some_and(|c| c.is_ascii_digit())
        })
        .unwrap_or(s)
        .to_string()
}

/// The table as a preset, every key known to the schema.
fn checked_preset(table: &toml::Table, origin: &Path) -> Result<Preset, Checked> {
    let text = toml::to_string(table).map_err(|e| Checked::Invalid(e.to_string()))?;
    let de = toml::de::Deserializer::parse(&text)
        .map_err(|e| Checked::Invalid(first_line(&e.to_string())))?;
    let mut ignored = Vec::new();
    let parsed: Result<Preset, _> =
        serde_ignored::deserialize(de, |path| ignored.push(path.to_string()));
    if let Some(path) = ignored.into_iter().next() {
        return Err(Checked::Ignored(path));
    }
    parsed.map_err(|e| Checked::Invalid(first_line(&e.to_string())))?;
    // The preset's own checks (T in range, …).
    Preset::parse(&text, origin).map_err(|e| match e {
        PresetError::Parse { message, .. } => Checked::Invalid(first_line(&message)),
        other => Checked::Invalid(other.to_string()),
    })
}

/// Checks one key's value applied alone; an error names the key and the value.
fn check_one(
    table: &toml::Table,
    key: &KeyPath,
    value: &Value,
    origin: &Path,
) -> Result<(), SweepError> {
    match checked_preset(table, origin) {
        Ok(_) => Ok(()),
        Err(Checked::Ignored(path)) => Err(SweepError::Key {
            key: key.to_string(),
            message: if path == key.as_str() || key.as_str().starts_with(&path) {
                "not a preset key (a misspelt name, or a section the preset does not have)".into()
            } else {
                format!("`{path}` is not a preset key")
            },
        }),
        Err(Checked::Invalid(message)) => Err(SweepError::Key {
            key: key.to_string(),
            message: format!("value {}: {message}", toml_text(value)),
        }),
    }
}

/// A value as TOML text (`"CNN"`, `[0.1, 0.2]`).
pub fn toml_text(v: &Value) -> String {
    let mut t = toml::Table::new();
    t.insert("v".into(), v.clone());
    toml::to_string(&t)
        .unwrap_or_default()
        .trim()
        .trim_start_matches("v = ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> SweepSpec {
        SweepSpec::from_preset(
            Preset::load(Path::new("presets/train/demo-crnn-embedded.toml")).unwrap(),
        )
    }

    fn texts(values: &[Value]) -> Vec<String> {
        values.iter().map(toml_text).collect()
    }

    #[test]
    fn values_parse_as_toml_lists_ranges_and_bare_words() {
        let v = parse_values("k", "CNN,CRNN").unwrap();
        assert_eq!(texts(&v), ["\"CNN\"", "\"CRNN\""]);
        let v = parse_values("k", "[0.1, 0.2],[0.3,0.4]").unwrap();
        assert_eq!(texts(&v), ["[0.1, 0.2]", "[0.3, 0.4]"]);
        assert_eq!(
            texts(&parse_values("k", "1..4").unwrap()),
            ["1", "2", "3", "4"]
        );
        assert_eq!(
            texts(&parse_values("k", "0..10:5").unwrap()),
            ["0", "5", "10"]
        );
        assert_eq!(
            texts(&parse_values("k", "0.1..0.3:0.1").unwrap()),
            ["0.1", "0.2", "0.3"]
        );
        assert_eq!(
            texts(&parse_values("k", "1e-3,3e-4").unwrap()),
            ["0.001", "0.0003"]
        );
        assert_eq!(
            texts(&parse_values("k", "\"a,b\",c").unwrap()),
            ["\"a,b\"", "\"c\""]
        );
        for bad in ["", "1,,2", "5..1", "0.1..0.5", "1..3:0", "0..100000"] {
            let e = parse_values("train.seed", bad).unwrap_err().to_string();
            assert!(e.contains("train.seed"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn keys_parse_with_indices() {
        let k = KeyPath::parse("occlusion.level_widths[4]").unwrap();
        assert_eq!(k.short(), "level_widths4");
        let whole = KeyPath::parse("occlusion.level_widths").unwrap();
        assert!(whole.covers(&k) && !k.covers(&whole));
        let v = parse_value("[0.1, 0.2, 0.3, 0.4, 0.5]");
        assert_eq!(k.pick(&whole, &v), Some(&Value::Float(0.5)));
        for bad in ["", "a..b", "a[x]", "a[1", "a[1]b", "a b"] {
            assert!(KeyPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_grid_expands_to_every_combination_in_key_order() {
        let mut s = demo();
        s.set("train.seed=1,2").unwrap();
        s.set("model.kind=CNN,CRNN").unwrap();
        s.set("train.epochs=1").unwrap();
        let runs = s.expand().unwrap();
        assert_eq!(runs.len(), 4);
        // model.kind before train.seed whatever the order given.
        let slugs: Vec<&str> = runs.iter().map(|r| r.slug.as_str()).collect();
        assert_eq!(
            slugs,
            [
                "kind-CNN_seed-1",
                "kind-CNN_seed-2",
                "kind-CRNN_seed-1",
                "kind-CRNN_seed-2"
            ]
        );
        assert!(
            runs.iter()
                .all(|r| r.preset.train.as_ref().unwrap().epochs == 1)
        );
        assert_eq!(runs[3].preset.train.as_ref().unwrap().seed, 2);
        assert_eq!(runs[3].preset.name, "demo-crnn-embedded");
    }

    #[test]
    fn zipped_keys_vary_together_and_must_match_in_length() {
        let mut s = demo();
        s.zip("sequences.t=5,10").unwrap();
        s.zip("sequences.limit=200,100").unwrap();
        s.set("train.seed=1,2,3").unwrap();
        let runs = s.expand().unwrap();
        assert_eq!(runs.len(), 6);
        assert!(runs.iter().all(|r| {
            (r.preset.sequences.t, r.preset.sequences.limit) == (5, Some(200))
                || (r.preset.sequences.t, r.preset.sequences.limit) == (10, Some(100))
        }));
        s.zip("sequences.cap=1,2,3").unwrap();
        let e = s.expand().unwrap_err().to_string();
        assert!(e.contains("sequences.cap") && e.contains("3"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let mut s = demo();
        s.set("occlusion.level_width=[0.1],[0.2]").unwrap();
        let e = s.expand().unwrap_err().to_string();
        assert!(
            e.contains("occlusion.level_width") && e.contains("not a preset key"),
            "{e}"
        );

        let mut s = demo();
        s.set("model.kind=CNN,LSTM9").unwrap();
        let e = s.expand().unwrap_err().to_string();
        assert!(e.contains("model.kind") && e.contains("LSTM9"), "{e}");

        let mut s = demo();
        s.set("train.epochs=two").unwrap();
        let e = s.expand().unwrap_err().to_string();
        assert!(e.contains("train.epochs"), "{e}");

        let mut s = demo();
        s.set("occlusion.level_widths[9]=0.1,0.2").unwrap();
        let e = s.expand().unwrap_err().to_string();
        assert!(e.contains("out of range") && e.contains("5 entries"), "{e}");

        let mut s = demo();
        s.set("sequences.t=0,5").unwrap();
        let e = s.expand().unwrap_err().to_string();
        assert!(e.contains("sequences.t"), "{e}");

        // Widths past half the side: the occlusion spec's own check names the run.
        let mut s = demo();
        s.set("occlusion.level_widths[4]=0.3,0.7").unwrap();
        let e = s.expand().unwrap_err().to_string();
        assert!(
            e.contains("level_widths4-0.7") && e.contains("occlusion"),
            "{e}"
        );

        let mut s = demo();
        s.set("train.seed=1,1").unwrap();
        assert!(s.expand().unwrap_err().to_string().contains("repeats"));

        let mut s = demo();
        s.set("occlusion.level_widths=[0.1,0.2,0.3,0.4,0.45]")
            .unwrap();
        let e = s
            .set("occlusion.level_widths[1]=0.3,0.4")
            .unwrap_err()
            .to_string();
        assert!(e.contains("overlaps"), "{e}");
    }

    #[test]
    fn a_sweep_file_round_trips_and_names_its_problems() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "[sweep]\nname = \"s1\"\nbase = \"presets/train/demo-crnn-embedded.toml\"\n\
             [sweep.set]\n\"train.epochs\" = 1\n\
             [sweep.grid]\n\"model.kind\" = [\"CNN\", \"CRNN\"]\n\
             [sweep.zip]\n\"sequences.t\" = [5, 6]\n\"sequences.limit\" = [10, 12]\n\
             [sweep.plot]\nx = \"sequences.t\"\n",
        )
        .unwrap();
        let s = SweepSpec::load(&file).unwrap();
        assert_eq!(s.name, "s1");
        assert_eq!(s.expand().unwrap().len(), 4);
        // Saved as a preset with a [sweep] table, it reads back the same and plans the same runs.
        let saved = dir.path().join("saved.toml");
        std::fs::write(&saved, s.to_toml()).unwrap();
        let back = SweepSpec::load(&saved).unwrap();
        assert_eq!(back.expand().unwrap(), s.expand().unwrap());
        assert_eq!(back.plot.x.as_deref(), Some("sequences.t"));

        for (text, needle) in [
            ("[sweep]\nname = \"x\"\n", "no preset"),
            (
                "[sweep]\nbase = \"presets/train/demo-crnn-embedded.toml\"\ngird = {}\n",
                "gird",
            ),
            (
                "[sweep]\nbase = \"presets/train/demo-crnn-embedded.toml\"\n[sweep.grid]\n\"train.seed\" = 3\n",
                "must list its values",
            ),
            ("[sweep]\nbase = \"nowhere.toml\"\n", "nowhere.toml"),
            (
                "[sweep]\nname = \"a/b\"\nbase = \"presets/train/demo-crnn-embedded.toml\"\n",
                "a/b",
            ),
        ] {
            std::fs::write(&file, text).unwrap();
            let e = SweepSpec::load(&file).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
