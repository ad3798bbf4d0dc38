//! Pattern libraries: the regular class orders that give a sequence its context.
//!
//! A [`Pattern`] is a named list of class symbols, one per sequence position (T of them):
//! `0-1-2-3-4` and `1-3-5-7-9` for digits, `BOSTON` and `MILTON` for letters,
//! `airplane-automobile-bird-cat-deer` for CIFAR-10. A [`PatternLibrary`] is the set of patterns a
//! sequence set is built from. Four kinds exist ([`LibraryKind`]):
//!
//! * **Digit progressions** ([`PatternLibrary::digits`]): arithmetic progressions over 0–9, with the
//!   steps, directions and wrap-around of [`ProgressionOptions`].
//! * **Label progressions** ([`PatternLibrary::label_progressions`], [`PatternLibrary::cifar10`]):
//!   the same progressions over the class *indices* of any class list, named by the class names.
//! * **City names** ([`PatternLibrary::cities`]): six-letter American and Canadian city names from
//!   `presets/cities.txt` (embedded). For T = 12, 18, 24, 30 the names are concatenated
//!   ([`PatternLibrary::cities_for_length`], [`PatternLibrary::concatenated`]).
//! * **User-defined** ([`PatternLibrary::parse`], [`PatternLibrary::from_file`]): a text list.
//!
//! # Progressions and long sequences
//! A progression of length T with step s starting at a is `a, a+s, …, a+(T−1)s` (ascending) or
//! `a, a−s, …` (descending) over n classes (n = 10 for digits and CIFAR-10). [`Wrap`] decides what
//! happens at the ends of the class range:
//!
//! * [`Wrap::Never`]: only progressions that stay within `0..n` (T = 5, step 1: `0-1-2-3-4` …
//!   `5-6-7-8-9`; step 2: `0-2-4-6-8`, `1-3-5-7-9`). Step s admits them only while (T−1)·s < n.
//! * [`Wrap::Always`]: every progression continues cyclically modulo n (`7-8-9-0-1`), n starts per
//!   step and direction; any T works.
//! * [`Wrap::Auto`] (default): per step, the non-wrapping progressions while they exist, the cyclic
//!   ones once T is too long for them. T = 5 gives exactly the paper's kind of patterns; for T > 10
//!   (paper Table 3 uses T up to 25) every progression continues cyclically, e.g.
//!   `0-1-…-9-0-1-…`.
//!
//! Duplicates (a descending step-1 cycle equals an ascending step-9 cycle) are dropped, keeping
//! the first. Patterns are ordered by step, then ascending (by start) before descending (from the
//! highest start down).
//!
//! # Text format
//! One pattern per line; `#` starts a comment; blank lines are skipped. Symbols are separated by
//! `-` or `,` (`0-1-2-3-4`, `cat,dog,cat`), else by whitespace (`cat dog cat`); a line with none
//! of these is one symbol per character (`BOSTON`, `01234`). The pattern's name is the line as
//! written. Symbols match class names exactly, or else case-insensitively (`boston` spells
//! `B-O-S-T-O-N` over EMNIST's `A`–`Z`).
//!
//! Pattern numbers in errors count from 1, in library (= line) order.
//!
//! Over 600 lines with its tests: the pattern libraries and their validation, one concept.

use std::path::{Path, PathBuf};

/// The embedded default city list (`presets/cities.txt`).
pub const CITIES_TXT: &str = include_str!("../../presets/cities.txt");

/// Length of the names in the default city list.
pub const CITY_NAME_LEN: usize = 6;

/// A named list of class symbols, one per sequence position.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pattern {
    /// Display name: `0-1-2-3-4`, `BOSTON`, `BOSTON+DALLAS`, or a user line as written.
    pub name: String,
    /// Class symbols (class names, or their case-insensitive spelling), one per position.
    pub symbols: Vec<String>,
}

impl Pattern {
    /// A pattern named after its symbols: concatenated when every symbol is a single letter
    /// (`BOSTON`), joined with `-` otherwise (`0-1-2-3-4`, `cat-dog-cat`).
    pub fn new(symbols: Vec<String>) -> Self {
        let letters = symbols.iter().all(|s| {
            let mut c = s.chars();
            matches!((c.next(), c.next()), (Some(ch), None) if ch.is_alphabetic())
        });
        let name = if letters && !symbols.is_empty() {
            symbols.concat()
        } else {
            symbols.join("-")
        };
        Pattern { name, symbols }
    }

    /// A pattern with an explicit name.
    pub fn named(name: impl Into<String>, symbols: Vec<String>) -> Self {
        Pattern {
            name: name.into(),
            symbols,
        }
    }

    /// Number of positions (T).
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True for a pattern without symbols (never valid).
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
}

/// Where a library's patterns come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LibraryKind {
    /// Arithmetic progressions over the digits 0–9.
    DigitProgressions,
    /// City names spelled letter by letter (possibly several names concatenated).
    CityNames,
    /// Progressions over the class indices of a labelled set (CIFAR-10), named by class names.
    LabelProgressions,
    /// Parsed from a user's text list.
    UserDefined,
    /// The spellings of windows of real handwritten words (made from the data: see
    /// `crate::sequence::words`).
    Words,
}

impl LibraryKind {
    /// The library that fits a data set's classes: digit progressions for the classes "0"…"9",
    /// city names for single letters, progressions over the class names otherwise.
    pub fn fitting(class_names: &[String]) -> LibraryKind {
        let single = |f: fn(char) -> bool| {
            !class_names.is_empty()
                && class_names.iter().all(|n| {
                    let mut c = n.trim().chars();
                    c.next().is_some_and(f) && c.next().is_none()
                })
        };
        if single(|c| c.is_ascii_digit()) {
            LibraryKind::DigitProgressions
        } else if single(|c| c.is_ascii_alphabetic()) {
            LibraryKind::CityNames
        } else {
            LibraryKind::LabelProgressions
        }
    }

    /// The sequence length the library is built for (city names have six letters; real words
    /// are cut into windows of six to match them).
    pub fn natural_length(self) -> usize {
        match self {
            LibraryKind::CityNames | LibraryKind::Words => 6,
            _ => 5,
        }
    }
}

/// What a progression does at the ends of the class range (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wrap {
    /// Only progressions that stay within the class range.
    Never,
    /// Every progression continues cyclically modulo the number of classes.
    Always,
    /// Per step: non-wrapping progressions while T allows them, cyclic ones beyond.
    #[default]
    Auto,
}

/// Which progressions a digit or label library holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ProgressionOptions {
    /// Sequence length T (≥ 1).
    pub t: usize,
    /// Steps between consecutive classes, each in `1..n` (paper: 1 and 2).
    pub steps: Vec<usize>,
    /// Include ascending progressions (`0-1-2-3-4`).
    pub ascending: bool,
    /// Include descending progressions (`4-3-2-1-0`).
    pub descending: bool,
    /// Behaviour at the ends of the class range.
    pub wrap: Wrap,
}

impl Default for ProgressionOptions {
    /// T = 5, steps 1 and 2, both directions, [`Wrap::Auto`]: the paper's digit patterns.
    fn default() -> Self {
        ProgressionOptions {
            t: 5,
            steps: vec![1, 2],
            ascending: true,
            descending: true,
            wrap: Wrap::Auto,
        }
    }
}

impl ProgressionOptions {
    /// The defaults with sequence length `t`.
    pub fn with_t(t: usize) -> Self {
        ProgressionOptions {
            t,
            ..Self::default()
        }
    }
}

/// A problem with a pattern or a library; always names the pattern (numbered from 1) and the issue.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    /// A pattern without symbols.
    #[error("pattern {index} \"{pattern}\" is empty")]
    Empty {
        /// 1-based pattern number.
        index: usize,
        /// The pattern's name.
        pattern: String,
    },
    /// A symbol that names no class.
    #[error("unknown symbol '{symbol}' in pattern {index} \"{pattern}\" (classes: {classes})")]
    UnknownSymbol {
        /// 1-based pattern number.
        index: usize,
        /// The pattern's name.
        pattern: String,
        /// The offending symbol.
        symbol: String,
        /// The known class names (abbreviated when long).
        classes: String,
    },
    /// A pattern whose length is not the sequence length T.
    #[error("wrong length {len} in pattern {index} \"{pattern}\", expected {expected}")]
    WrongLength {
        /// 1-based pattern number.
        index: usize,
        /// The pattern's name.
        pattern: String,
        /// Its length.
        len: usize,
        /// The sequence length T.
        expected: usize,
    },
    /// Two separators in a row, or a separator at an end of the line.
    #[error("empty symbol in pattern {index} \"{pattern}\" (two separators in a row?)")]
    EmptySymbol {
        /// 1-based pattern number.
        index: usize,
        /// The pattern's name.
        pattern: String,
    },
    /// A library without patterns.
    #[error("pattern library \"{library}\" has no patterns")]
    NoPatterns {
        /// The library's name.
        library: String,
    },
    /// Progression options that make no sense.
    #[error("progression options: {0}")]
    Options(String),
    /// No progression of this length fits the class range without wrap-around.
    #[error(
        "no progression of length {t} with steps {steps:?} fits within {classes} classes without \
         wrap-around; use Wrap::Auto or Wrap::Always"
    )]
    NoProgression {
        /// Sequence length T.
        t: usize,
        /// The requested steps.
        steps: Vec<usize>,
        /// Number of classes.
        classes: usize,
    },
    /// City names (6 letters) cannot make a sequence of this length.
    #[error("city names have {name_len} letters: T = {t} is not a positive multiple of {name_len}")]
    CityLength {
        /// Requested T.
        t: usize,
        /// Length of the names.
        name_len: usize,
    },
    /// A library that only the loaded data can make (real words).
    #[error(
        "the {library} library is made from the data set's own words: load the OCR letters to build it"
    )]
    FromData {
        /// The library's name.
        library: String,
    },
    /// A pattern file that cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
}

/// A named set of patterns that sequences are built from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PatternLibrary {
    /// Display name ("digit progressions T=5", "cities", a file name, …).
    pub name: String,
    /// Where the patterns come from.
    pub kind: LibraryKind,
    /// The patterns, in a fixed order (a sequence refers to its pattern by index).
    pub patterns: Vec<Pattern>,
}

/// The longest sequence length T accepted (paper A uses 5–30): a bound that keeps a hostile
/// preset from asking for patterns of billions of images.
pub const MAX_T: usize = 1000;

/// The 10 digit symbols `"0"`..`"9"`.
pub fn digit_symbols() -> Vec<String> {
    (0..10).map(|d| d.to_string()).collect()
}

impl PatternLibrary {
    /// Digit progressions over 0–9 (see the module docs). Default options give the 16 patterns
    /// of T = 5: step 1 `0-1-2-3-4` … `5-6-7-8-9`, step 2 `0-2-4-6-8`, `1-3-5-7-9`, each also
    /// descending.
    pub fn digits(opts: &ProgressionOptions) -> Result<Self, PatternError> {
        let patterns = progressions(&digit_symbols(), opts)?;
        Ok(PatternLibrary {
            name: format!("digit progressions T={}", opts.t),
            kind: LibraryKind::DigitProgressions,
            patterns,
        })
    }

    /// Progressions over the class indices of `class_names`, each position named by its class.
    pub fn label_progressions(
        name: impl Into<String>,
        class_names: &[String],
        opts: &ProgressionOptions,
    ) -> Result<Self, PatternError> {
        let patterns = progressions(class_names, opts)?;
        Ok(PatternLibrary {
            name: name.into(),
            kind: LibraryKind::LabelProgressions,
            patterns,
        })
    }

    /// CIFAR-10 label progressions (airplane … truck), like the digits.
    pub fn cifar10(opts: &ProgressionOptions) -> Result<Self, PatternError> {
        let names: Vec<String> = crate::data::cifar::CIFAR10_CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect();
        Self::label_progressions(
            format!("CIFAR-10 label progressions T={}", opts.t),
            &names,
            opts,
        )
    }

    /// The embedded default city list: six-letter American and Canadian city names (T = 6).
    pub fn cities() -> Self {
        let mut lib = Self::parse("cities", CITIES_TXT)
            .expect("the embedded city list parses (checked by tests)");
        lib.kind = LibraryKind::CityNames;
        lib
    }

    /// City names for sequence length `t`: the default list for T = 6, and for T = 6k its
    /// [`concatenated`](Self::concatenated) k-name chains (T = 12: two cities, … T = 30: five).
    pub fn cities_for_length(t: usize) -> Result<Self, PatternError> {
        if t == 0 || !t.is_multiple_of(CITY_NAME_LEN) {
            return Err(PatternError::CityLength {
                t,
                name_len: CITY_NAME_LEN,
            });
        }
        let lib = Self::cities();
        Ok(lib.concatenated(t / CITY_NAME_LEN))
    }

    /// Chains of `k` patterns: as many chains as patterns (N), chain j made of patterns
    /// j, j+s, j+2s, … (indices mod N) with stride s = max(1, N / k), named `BOSTON+DALLAS`.
    /// Each pattern then appears exactly once in each chain position, and (for k ≤ N) no chain
    /// repeats a pattern. Deterministic; `k = 1` (or `k = 0`) returns a copy.
    pub fn concatenated(&self, k: usize) -> Self {
        let n = self.patterns.len();
        if k <= 1 || n == 0 {
            return self.clone();
        }
        let stride = (n / k).max(1);
        let patterns = (0..n)
            .map(|j| {
                let parts: Vec<&Pattern> = (0..k)
                    .map(|i| &self.patterns[(j + i * stride) % n])
                    .collect();
                Pattern::named(
                    parts
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join("+"),
                    parts
                        .iter()
                        .flat_map(|p| p.symbols.iter().cloned())
                        .collect(),
                )
            })
            .collect();
        PatternLibrary {
            name: format!("{} ×{k}", self.name),
            kind: self.kind,
            patterns,
        }
    }

    /// Parses a user list (see the module docs for the format). Fails on an empty symbol or a
    /// text without patterns; symbols are checked against classes later, by [`validate`](Self::validate).
    pub fn parse(name: impl Into<String>, text: &str) -> Result<Self, PatternError> {
        let name = name.into();
        let mut patterns = Vec::new();
        for raw in text.lines() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let index = patterns.len() + 1;
            let symbols: Vec<String> = if line.contains(['-', ',']) {
                line.split(['-', ','])
                    .map(|s| s.trim().to_string())
                    .collect()
            } else if line.contains(char::is_whitespace) {
                line.split_whitespace().map(str::to_string).collect()
            } else {
                line.chars().map(|c| c.to_string()).collect()
            };
            if symbols.iter().any(String::is_empty) {
                return Err(PatternError::EmptySymbol {
                    index,
                    pattern: line.to_string(),
                });
            }
            patterns.push(Pattern::named(line, symbols));
        }
        if patterns.is_empty() {
            return Err(PatternError::NoPatterns { library: name });
        }
        Ok(PatternLibrary {
            name,
            kind: LibraryKind::UserDefined,
            patterns,
        })
    }

    /// Reads and [`parse`](Self::parse)s a pattern file; the library is named after the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, PatternError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PatternError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Self::parse(name, &text)
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// True when the library holds no patterns.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The pattern names, in order.
    pub fn names(&self) -> Vec<String> {
        self.patterns.iter().map(|p| p.name.clone()).collect()
    }

    /// The common length of all patterns, if they share one.
    pub fn uniform_length(&self) -> Option<usize> {
        let first = self.patterns.first()?.len();
        self.patterns
            .iter()
            .all(|p| p.len() == first)
            .then_some(first)
    }

    /// Checks every pattern against the classes and the sequence length `t`: non-empty, length
    /// `t`, every symbol a class. The first problem found is returned, naming the pattern.
    pub fn validate(&self, class_names: &[String], t: usize) -> Result<(), PatternError> {
        if self.patterns.is_empty() {
            return Err(PatternError::NoPatterns {
                library: self.name.clone(),
            });
        }
        for (i, p) in self.patterns.iter().enumerate() {
            if p.is_empty() {
                return Err(PatternError::Empty {
                    index: i + 1,
                    pattern: p.name.clone(),
                });
            }
            if p.len() != t {
                return Err(PatternError::WrongLength {
                    index: i + 1,
                    pattern: p.name.clone(),
                    len: p.len(),
                    expected: t,
                });
            }
        }
        self.labels(class_names).map(|_| ())
    }

    /// The class index of every position of every pattern. Fails on an empty pattern or an
    /// unknown symbol (lengths are not checked: see [`validate`](Self::validate)).
    pub fn labels(&self, class_names: &[String]) -> Result<Vec<Vec<u16>>, PatternError> {
        self.patterns
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if p.is_empty() {
                    return Err(PatternError::Empty {
                        index: i + 1,
                        pattern: p.name.clone(),
                    });
                }
                p.symbols
                    .iter()
                    .map(|s| {
                        resolve_symbol(s, class_names).ok_or_else(|| PatternError::UnknownSymbol {
                            index: i + 1,
                            pattern: p.name.clone(),
                            symbol: s.clone(),
                            classes: abbreviate(class_names),
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// Per pattern, how many images of each class one sequence uses (`[pattern][class]`).
    pub fn class_counts(&self, class_names: &[String]) -> Result<Vec<Vec<u32>>, PatternError> {
        Ok(self
            .labels(class_names)?
            .iter()
            .map(|labels| {
                let mut counts = vec![0u32; class_names.len()];
                for &l in labels {
                    counts[l as usize] += 1;
                }
                counts
            })
            .collect())
    }
}

/// The class index a symbol names: an exact match, else the only case-insensitive match.
fn resolve_symbol(symbol: &str, class_names: &[String]) -> Option<u16> {
    if let Some(i) = class_names.iter().position(|c| c == symbol) {
        return Some(i as u16);
    }
    let mut hits = class_names
        .iter()
        .enumerate()
        .filter(|(_, c)| c.to_lowercase() == symbol.to_lowercase());
    match (hits.next(), hits.next()) {
        (Some((i, _)), None) => Some(i as u16),
        _ => None,
    }
}

/// Class names for an error message: all of them, or the first 12 and a count.
fn abbreviate(class_names: &[String]) -> String {
    const SHOWN: usize = 12;
    if class_names.len() <= SHOWN {
        class_names.join(", ")
    } else {
        format!(
            "{}, … ({} in all)",
            class_names[..SHOWN].join(", "),
            class_names.len()
        )
    }
}

/// Progressions over `symbols` (class index i is `symbols[i]`); see the module docs.
pub fn progressions(
    symbols: &[String],
    opts: &ProgressionOptions,
) -> Result<Vec<Pattern>, PatternError> {
    let n = symbols.len();
    let t = opts.t;
    if t == 0 || t > MAX_T {
        return Err(PatternError::Options(format!(
            "T = {t} is outside 1–{MAX_T}"
        )));
    }
    if n < 2 {
        return Err(PatternError::Options(format!(
            "progressions need at least 2 classes, got {n}"
        )));
    }
    if opts.steps.is_empty() {
        return Err(PatternError::Options("no steps given".into()));
    }
    if let Some(&bad) = opts.steps.iter().find(|&&s| s == 0 || s >= n) {
        return Err(PatternError::Options(format!(
            "step {bad} is outside 1..{n} for {n} classes"
        )));
    }
    if !opts.ascending && !opts.descending {
        return Err(PatternError::Options(
            "neither ascending nor descending progressions requested".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut patterns = Vec::new();
    for &step in &opts.steps {
        let fits = (t - 1) * step < n;
        let cyclic = match opts.wrap {
            Wrap::Never => false,
            Wrap::Always => true,
            Wrap::Auto => !fits,
        };
        if !cyclic && !fits {
            continue;
        }
        let directions = [(opts.ascending, true), (opts.descending, false)];
        for (wanted, up) in directions {
            if !wanted {
                continue;
            }
            let starts: Vec<usize> = if cyclic {
                (0..n).collect()
            } else if up {
                (0..n - (t - 1) * step).collect()
            } else {
                ((t - 1) * step..n).rev().collect()
            };
            for a in starts {
                let idx: Vec<usize> = (0..t)
                    .map(|i| {
                        let off = (i * step) % n;
                        if up { (a + off) % n } else { (a + n - off) % n }
                    })
                    .collect();
                if seen.insert(idx.clone()) {
                    patterns.push(Pattern::new(
                        idx.iter().map(|&i| symbols[i].clone()).collect(),
                    ));
                }
            }
        }
    }
    if patterns.is_empty() {
        return Err(PatternError::NoProgression {
            t,
            steps: opts.steps.clone(),
            classes: n,
        });
    }
    Ok(patterns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_digit_patterns_for_t5() {
        let lib = PatternLibrary::digits(&ProgressionOptions::default()).unwrap();
        let names = lib.names();
        assert_eq!(lib.len(), 16);
        for want in [
            "0-1-2-3-4",
            "5-6-7-8-9",
            "0-2-4-6-8",
            "1-3-5-7-9",
            "9-7-5-3-1",
            "4-3-2-1-0",
        ] {
            assert!(
                names.contains(&want.to_string()),
                "{want} missing from {names:?}"
            );
        }
    }

    #[test]
    fn cities_embed_and_cover_the_alphabet() {
        let lib = PatternLibrary::cities();
        assert!(lib.len() >= 100);
        let letters: Vec<String> = (b'A'..=b'Z').map(|c| (c as char).to_string()).collect();
        lib.validate(&letters, 6).unwrap();
        let counts = lib.class_counts(&letters).unwrap();
        for (k, letter) in letters.iter().enumerate() {
            assert!(counts.iter().any(|c| c[k] > 0), "no city uses {letter}");
        }
    }
}
