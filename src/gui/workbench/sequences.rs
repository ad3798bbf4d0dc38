//! The workbench's one sequence spec, as the panels edit it: the pattern library (with every
//! option the Patterns panel offers, kept while another library is chosen), T, the seed, the
//! order, the planner's cap and balance floor, the limit per split, and how clips are cut.
//!
//! The Patterns panel designs and previews it, the Train panel trains on it, a preset restores it
//! ([`SequenceDraft::apply`]) and saves it ([`SequenceDraft::spec`], the library's
//! [`SequenceSpec`]). Which library fits a data set is the library's rule
//! ([`LibraryKind::fitting`]).

use crate::experiment::preset::{ClipOutput, LibrarySpec, OrderingSpec, SequenceSpec};
use crate::sequence::builder::TestPatterns;
use crate::sequence::patterns::{
    LibraryKind, PatternError, PatternLibrary, ProgressionOptions, Wrap,
};

/// Steps a progression may take (each on or off).
pub const STEPS: [usize; 4] = [1, 2, 3, 4];

/// Where the patterns come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibraryChoice {
    Digits,
    Cities,
    Labels,
    Custom,
    /// Windows of T letters of the real handwritten words (OCR letters).
    Words,
}

impl LibraryChoice {
    pub const ALL: [LibraryChoice; 5] = [
        LibraryChoice::Digits,
        LibraryChoice::Cities,
        LibraryChoice::Labels,
        LibraryChoice::Custom,
        LibraryChoice::Words,
    ];

    /// The libraries the library generates (the Train panel lists these; real words come from
    /// the OCR letters loaded, custom lists from the Patterns panel).
    pub const GENERATED: [LibraryChoice; 4] = [
        LibraryChoice::Digits,
        LibraryChoice::Cities,
        LibraryChoice::Labels,
        LibraryChoice::Words,
    ];

    /// The choice of a library kind.
    pub fn of(kind: LibraryKind) -> Self {
        match kind {
            LibraryKind::DigitProgressions => LibraryChoice::Digits,
            LibraryKind::CityNames => LibraryChoice::Cities,
            LibraryKind::LabelProgressions => LibraryChoice::Labels,
            LibraryKind::UserDefined => LibraryChoice::Custom,
            LibraryKind::Words => LibraryChoice::Words,
        }
    }

    /// The library that fits a data set's classes (the library decides: [`LibraryKind::fitting`]).
    pub fn for_classes(class_names: &[String]) -> Self {
        Self::of(LibraryKind::fitting(class_names))
    }

    /// The sequence length the library is built for (city names have six letters).
    pub fn natural_length(self) -> usize {
        match self {
            LibraryChoice::Cities => LibraryKind::CityNames.natural_length(),
            LibraryChoice::Words => LibraryKind::Words.natural_length(),
            _ => LibraryKind::DigitProgressions.natural_length(),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            LibraryChoice::Digits => "Digit progressions",
            LibraryChoice::Cities => "City names",
            LibraryChoice::Labels => "Label progressions",
            LibraryChoice::Custom => "Custom",
            LibraryChoice::Words => "Real words",
        }
    }

    pub fn hint(self) -> &'static str {
        match self {
            LibraryChoice::Digits => "Arithmetic progressions over 0–9 (MNIST).",
            LibraryChoice::Cities => {
                "Six-letter city names (letters); T = 6, 12, 18 … chains names."
            }
            LibraryChoice::Labels => {
                "Progressions over the data set's own classes, named by class (CIFAR-10)."
            }
            LibraryChoice::Custom => {
                "Your own patterns, one per line: 0-1-2-3-4, BOSTON, cat,dog,cat,dog,cat."
            }
            LibraryChoice::Words => {
                "Windows of T consecutive letters of real handwritten words, as each writer wrote them (OCR letters): English spelling is the context."
            }
        }
    }
}

/// The sequence spec every panel edits (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceDraft {
    /// `None`: the library that fits the data set's classes.
    pub library: Option<LibraryChoice>,
    /// Sequence length T.
    pub t: usize,
    /// Seeds the image assignment, the levels and the occluders.
    pub seed: u64,
    pub ordering: OrderingSpec,
    /// Progressions (digits, labels): which of [`STEPS`] they take.
    pub steps: [bool; 4],
    pub ascending: bool,
    pub descending: bool,
    pub wrap: Wrap,
    /// The custom list, one pattern per line.
    pub custom: String,
    /// The planner's cap: at most this many sequences of any one pattern (0: no cap).
    pub cap: u32,
    /// The planner's balance floor: every buildable pattern gets at least this share of the
    /// mean count per pattern (0: maximum total only).
    pub min_share: f64,
    /// The planner: which patterns the test split may use.
    pub test_patterns: TestPatterns,
    /// Keep at most this many sequences per split (quick runs).
    pub limit: Option<usize>,
    /// Clip data: subsequences per video (M); `None`: every non-overlapping one.
    pub per_video: Option<usize>,
    /// Clip data: which per-frame output is a subsequence's.
    pub clip_output: ClipOutput,
    /// The library that fitted the data set loaded last: T follows it when the kind of data
    /// changes ([`Self::fit_data`]).
    fitted: Option<LibraryChoice>,
}

impl Default for SequenceDraft {
    fn default() -> Self {
        SequenceDraft {
            library: None,
            t: 5,
            seed: 1,
            ordering: OrderingSpec::Patterned,
            steps: [true, true, false, false],
            ascending: true,
            descending: true,
            wrap: Wrap::Auto,
            custom: "0-1-2-3-4\n1-3-5-7-9\n9-8-7-6-5\n".into(),
            cap: 0,
            min_share: 0.0,
            test_patterns: TestPatterns::All,
            limit: None,
            per_video: None,
            clip_output: ClipOutput::Last,
            fitted: None,
        }
    }
}

impl SequenceDraft {
    /// The library chosen, or the one that fits `class_names`.
    pub fn choice(&self, class_names: &[String]) -> LibraryChoice {
        self.library
            .unwrap_or_else(|| LibraryChoice::for_classes(class_names))
    }

    /// A new data set has loaded: where the library follows the data (or the kind of data has
    /// changed), T becomes the fitting library's length.
    pub fn fit_data(&mut self, class_names: &[String]) {
        let fits = LibraryChoice::for_classes(class_names);
        if self.fitted != Some(fits) {
            if self.fitted.is_some() || self.library.is_none() {
                self.t = fits.natural_length();
            }
            self.fitted = Some(fits);
        }
    }

    /// The progression options (digits, labels).
    pub fn options(&self) -> ProgressionOptions {
        ProgressionOptions {
            t: self.t,
            steps: STEPS
                .iter()
                .zip(self.steps)
                .filter(|(_, on)| *on)
                .map(|(s, _)| *s)
                .collect(),
            ascending: self.ascending,
            descending: self.descending,
            wrap: self.wrap,
        }
    }

    /// The library as a preset names it.
    pub fn library_spec(&self, choice: LibraryChoice) -> LibrarySpec {
        let opts = self.options();
        match choice {
            LibraryChoice::Digits => LibrarySpec::DigitProgressions {
                steps: opts.steps,
                ascending: opts.ascending,
                descending: opts.descending,
                wrap: opts.wrap,
            },
            LibraryChoice::Cities => LibrarySpec::Cities,
            LibraryChoice::Labels => LibrarySpec::LabelProgressions {
                steps: opts.steps,
                ascending: opts.ascending,
                descending: opts.descending,
                wrap: opts.wrap,
            },
            LibraryChoice::Custom => LibrarySpec::Custom {
                patterns: self
                    .custom
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
            },
            LibraryChoice::Words => LibrarySpec::Words,
        }
    }

    /// The sequence spec of a run on a data set with `class_names` (`clips`: a clip source,
    /// whose videos are cut into subsequences instead).
    pub fn spec(&self, class_names: &[String], clips: bool) -> SequenceSpec {
        let (patterns, cap, min_share, test_patterns) = if clips {
            let patterns = LibrarySpec::Clips {
                per_video: self.per_video,
                output: self.clip_output,
                occlude: true,
            };
            (patterns, None, 0.0, TestPatterns::All)
        } else {
            let patterns = self.library_spec(self.choice(class_names));
            let cap = (self.cap > 0).then_some(self.cap);
            (patterns, cap, self.min_share, self.test_patterns)
        };
        SequenceSpec {
            t: self.t,
            ordering: self.ordering,
            patterns,
            seed: self.seed,
            cap,
            min_share,
            limit: self.limit,
            test_patterns,
        }
    }

    /// Takes a preset's sequences. A clip library keeps the designed library (clips follow the
    /// data) and takes its subsequence options.
    pub fn apply(&mut self, spec: &SequenceSpec) {
        let mut progression = |steps: &[usize], ascending: bool, descending: bool, wrap: Wrap| {
            for (on, s) in self.steps.iter_mut().zip(STEPS) {
                *on = steps.contains(&s);
            }
            self.ascending = ascending;
            self.descending = descending;
            self.wrap = wrap;
        };
        self.library = match &spec.patterns {
            LibrarySpec::DigitProgressions {
                steps,
                ascending,
                descending,
                wrap,
            }
            | LibrarySpec::LabelProgressions {
                steps,
                ascending,
                descending,
                wrap,
            } => {
                progression(steps, *ascending, *descending, *wrap);
                Some(
                    if matches!(spec.patterns, LibrarySpec::DigitProgressions { .. }) {
                        LibraryChoice::Digits
                    } else {
                        LibraryChoice::Labels
                    },
                )
            }
            LibrarySpec::Cities => Some(LibraryChoice::Cities),
            LibrarySpec::Words => Some(LibraryChoice::Words),
            LibrarySpec::Custom { patterns } => {
                self.custom = patterns.join("\n");
                self.custom.push('\n');
                Some(LibraryChoice::Custom)
            }
            LibrarySpec::Clips {
                per_video, output, ..
            } => {
                self.per_video = *per_video;
                self.clip_output = *output;
                None
            }
        };
        self.t = spec.t;
        self.seed = spec.seed;
        self.ordering = spec.ordering;
        self.cap = spec.cap.unwrap_or(0);
        self.min_share = spec.min_share;
        self.test_patterns = spec.test_patterns;
        self.limit = spec.limit;
        // T was chosen with the library: a data set loading next does not reset it.
        self.fitted = None;
    }

    /// Whether the library is one only the Patterns panel designs: a custom list, progressions
    /// with other options than the generated ones (steps 1 and 2, both ways, automatic wrap), or
    /// a planner cap or floor. The Train panel says so.
    pub fn designed(&self, class_names: &[String]) -> bool {
        let choice = self.choice(class_names);
        let progression = matches!(choice, LibraryChoice::Digits | LibraryChoice::Labels);
        let generated = SequenceDraft::default();
        let options_changed = self.steps != generated.steps
            || self.ascending != generated.ascending
            || self.descending != generated.descending
            || self.wrap != generated.wrap;
        choice == LibraryChoice::Custom
            || (progression && options_changed)
            || self.cap > 0
            || self.min_share > 0.0
            || self.test_patterns != TestPatterns::All
    }

    /// The chosen library, checked against the data set's classes and T (real words come from
    /// the data: the caller builds their windows).
    pub fn library(&self, class_names: &[String]) -> Result<PatternLibrary, PatternError> {
        let lib = match self.choice(class_names) {
            LibraryChoice::Digits => PatternLibrary::digits(&self.options())?,
            LibraryChoice::Cities => PatternLibrary::cities_for_length(self.t)?,
            LibraryChoice::Labels => PatternLibrary::label_progressions(
                format!("label progressions T={}", self.t),
                class_names,
                &self.options(),
            )?,
            LibraryChoice::Custom => PatternLibrary::parse("custom", &self.custom)?,
            LibraryChoice::Words => {
                return Err(PatternError::FromData {
                    library: "real words".into(),
                });
            }
        };
        lib.validate(class_names, self.t)?;
        Ok(lib)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_library_fits_the_classes() {
        let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
        assert_eq!(LibraryChoice::for_classes(&digits), LibraryChoice::Digits);
        assert_eq!(
            LibraryChoice::for_classes(&names(&["A", "B", "C"])),
            LibraryChoice::Cities
        );
        assert_eq!(
            LibraryChoice::for_classes(&names(&["cat", "dog"])),
            LibraryChoice::Labels
        );
    }

    #[test]
    fn a_preset_s_sequences_come_back_as_they_were() {
        let letters = names(&["A", "B"]);
        for patterns in [
            LibrarySpec::Cities,
            LibrarySpec::Custom {
                patterns: vec!["0-1-2".into(), "2-1-0".into()],
            },
            LibrarySpec::DigitProgressions {
                steps: vec![1, 3],
                ascending: false,
                descending: true,
                wrap: Wrap::Never,
            },
        ] {
            let spec = SequenceSpec {
                t: 12,
                ordering: OrderingSpec::Random,
                patterns,
                seed: 9,
                cap: Some(40),
                min_share: 0.25,
                limit: Some(100),
                test_patterns: TestPatterns::Trained,
            };
            let mut draft = SequenceDraft::default();
            draft.apply(&spec);
            // The preset's data loads after it: T stays the preset's.
            draft.fit_data(&letters);
            assert_eq!(draft.spec(&letters, false), spec);
            assert!(draft.designed(&letters));
        }
    }

    #[test]
    fn t_follows_the_data_while_the_library_does() {
        let mut draft = SequenceDraft::default();
        draft.fit_data(&names(&["A", "B"]));
        assert_eq!(
            (draft.choice(&names(&["A"])), draft.t),
            (LibraryChoice::Cities, 6)
        );
        let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
        draft.fit_data(&digits);
        assert_eq!((draft.choice(&digits), draft.t), (LibraryChoice::Digits, 5));
        // The generated library is not a designed one.
        assert!(!draft.designed(&digits));
    }
}
