//! A quiz session's settings: who, which data, how many sequences of each condition, practice,
//! time limit, and the two seeds (which items; in which order).
//!
//! The data, occluders and sequence building come from a [`Preset`], so the stimuli can be rebuilt
//! exactly from the config recorded in the session file. The preset's `ordering` and `limit` are
//! not used: a quiz always draws from both the patterned sequences and their random-order control,
//! and from the whole test split.

use super::QuizError;
use crate::experiment::preset::Preset;
use std::fmt;

/// The participant's group. Paper A compared non-experts (a brief explanation only) with trained
/// experts; any other label is a custom group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    NonExpert,
    Expert,
    Custom(String),
}

impl Group {
    /// The two groups of paper A, in the order of its tables.
    pub const PAPER: [Group; 2] = [Group::NonExpert, Group::Expert];

    /// The label shown and recorded ("Non-expert", "Expert", or the custom label).
    pub fn label(&self) -> &str {
        match self {
            Group::NonExpert => "Non-expert",
            Group::Expert => "Expert",
            Group::Custom(s) => s,
        }
    }

    /// Reads a label: "non-expert", "Non expert", "nonexpert", "novice" → non-expert; "expert" →
    /// expert (case-insensitive); anything else is a custom group (trimmed).
    pub fn parse(label: &str) -> Group {
        let key: String = label
            .trim()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        match key.as_str() {
            "nonexpert" | "novice" | "layperson" => Group::NonExpert,
            "expert" => Group::Expert,
            _ => Group::Custom(label.trim().to_string()),
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl serde::Serialize for Group {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

impl<'de> serde::Deserialize<'de> for Group {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Group::parse(&s))
    }
}

/// How the trials are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialOrder {
    /// Patterned and random sequences shuffled together (the participant's order seed).
    #[default]
    Interleaved,
    /// One block per condition, each shuffled; an even order seed puts the patterned block
    /// first, an odd one the random block, so consecutive seeds counterbalance the block order.
    Blocked,
}

/// Everything that defines a session. Recorded in full in the session file's header.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuizConfig {
    /// Participant ID (names the session file).
    pub participant: String,
    pub group: Group,
    /// The data, occluders and sequence building (its `model` and `train` sections are dropped).
    pub preset: Preset,
    /// Sequences with regular patterns (context).
    pub patterned: usize,
    /// Sequences in random order (the control).
    pub random: usize,
    /// Choose the sequences so that the images' occlusion levels follow the preset's level mix as
    /// closely as possible (per condition); otherwise the first sequences of a seeded shuffle.
    pub balance_levels: bool,
    pub order: TrialOrder,
    /// Seconds per sequence; when it runs out the sequence is submitted with what was answered.
    pub time_limit_seconds: Option<f64>,
    /// Practice sequences (from the training split, with feedback; not analysed).
    pub practice: usize,
    /// Seeds which sequences are shown. The same for every participant by default, so that
    /// groups are compared on the same items.
    pub item_seed: u64,
    /// Seeds the order the sequences are shown in: one per participant (by default derived from
    /// the participant ID, see [`participant_seed`]).
    pub order_seed: u64,
}

/// The design options of a quiz as command-line flags, shared by `occlab quiz` and
/// `occlab quiz-serve` (flattened into each command's arguments).
#[derive(Clone, Debug, clap::Args)]
pub struct QuizDesignArgs {
    /// Sequences with regular patterns.
    #[arg(long, default_value_t = 10)]
    pub patterned: usize,
    /// Sequences in random order.
    #[arg(long, default_value_t = 10)]
    pub random: usize,
    /// Practice sequences (with feedback, not analysed).
    #[arg(long, default_value_t = 2)]
    pub practice: usize,
    /// Seconds per sequence.
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Take the first sequences of the seeded shuffle instead of balancing occlusion levels.
    #[arg(long)]
    pub no_balance: bool,
    /// Two blocks (the participant's order seed picks which comes first) instead of
    /// interleaved conditions.
    #[arg(long)]
    pub blocked: bool,
    /// Which sequences (keep it the same for every participant; each gets their own order).
    #[arg(long, default_value_t = 1)]
    pub item_seed: u64,
}

impl QuizDesignArgs {
    /// Sets these options on `config`.
    pub fn apply(&self, config: &mut QuizConfig) {
        config.patterned = self.patterned;
        config.random = self.random;
        config.practice = self.practice;
        config.time_limit_seconds = self.time_limit;
        config.balance_levels = !self.no_balance;
        if self.blocked {
            config.order = TrialOrder::Blocked;
        }
        config.item_seed = self.item_seed;
    }
}

impl QuizConfig {
    /// A config with paper-like defaults: 10 patterned and 10 random sequences, levels balanced,
    /// interleaved, no time limit, 2 practice sequences, item seed 1 and the participant's own
    /// order seed.
    pub fn new(participant: &str, group: Group, preset: Preset) -> Self {
        QuizConfig {
            participant: participant.trim().to_string(),
            group,
            preset: quiz_preset(preset),
            patterned: 10,
            random: 10,
            balance_levels: true,
            order: TrialOrder::Interleaved,
            time_limit_seconds: None,
            practice: 2,
            item_seed: 1,
            order_seed: participant_seed(participant),
        }
    }

    /// Checks the settings; the message says which one is wrong.
    pub fn validate(&self) -> Result<(), QuizError> {
        let bad = |m: String| Err(QuizError::Config(m));
        if self.participant.trim().is_empty() {
            return bad("the participant ID is empty".into());
        }
        if sanitize(&self.participant).is_empty() {
            return bad(format!(
                "participant ID {:?} has no letters or digits to name the session file with",
                self.participant
            ));
        }
        if self.group.label().trim().is_empty() {
            return bad("the group label is empty".into());
        }
        if self.patterned + self.random == 0 {
            return bad("no sequences: ask for at least one patterned or random sequence".into());
        }
        if let Some(s) = self.time_limit_seconds
            && !(s.is_finite() && s > 0.0)
        {
            return bad(format!(
                "time limit {s} s: must be a positive number of seconds"
            ));
        }
        if self.preset.sequences.t == 0 {
            return bad("sequence length T is 0".into());
        }
        Ok(())
    }

    /// The session's name: participant ID and preset name, reduced to letters, digits, `-` and
    /// `_` (the file is `<name>.jsonl`).
    pub fn session_name(&self) -> String {
        let preset = sanitize(&self.preset.name);
        let participant = sanitize(&self.participant);
        if preset.is_empty() {
            participant
        } else {
            format!("{participant}-{preset}")
        }
    }

    /// Number of analysed sequences.
    pub fn trials(&self) -> usize {
        self.patterned + self.random
    }

    /// The time limit as a duration.
    pub fn time_limit(&self) -> Option<std::time::Duration> {
        self.time_limit_seconds
            .map(std::time::Duration::from_secs_f64)
    }
}

/// The preset as a quiz records it: without model and training sections (they play no part in the
/// stimuli), without a sequence limit.
pub fn quiz_preset(mut preset: Preset) -> Preset {
    preset.model = None;
    preset.train = None;
    preset.sequences.limit = None;
    preset
}

/// A participant's default order seed: FNV-1a of the trimmed ID, so the same participant always
/// gets the same order and different participants (almost surely) different ones.
pub fn participant_seed(participant: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in participant.trim().bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Letters, digits, `-` and `_` of `s` (other characters become `_`, runs of them one `_`, and
/// leading/trailing ones are dropped).
pub fn sanitize(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_and_round_trip() {
        assert_eq!(Group::parse(" non-expert "), Group::NonExpert);
        assert_eq!(Group::parse("Non Expert"), Group::NonExpert);
        assert_eq!(Group::parse("EXPERT"), Group::Expert);
        assert_eq!(
            Group::parse(" radiologists "),
            Group::Custom("radiologists".into())
        );
        for g in [
            Group::NonExpert,
            Group::Expert,
            Group::Custom("class 4b".into()),
        ] {
            let json = serde_json::to_string(&g).unwrap();
            assert_eq!(serde_json::from_str::<Group>(&json).unwrap(), g);
        }
    }

    #[test]
    fn session_names_are_file_safe() {
        assert_eq!(sanitize("P 07/ä"), "P_07");
        assert_eq!(sanitize("../etc"), "etc");
        let preset = Preset::parse(
            include_str!("../../presets/data/embedded-demo.toml"),
            std::path::Path::new("embedded-demo.toml"),
        )
        .unwrap();
        let c = QuizConfig::new("P 01", Group::Expert, preset);
        assert_eq!(c.session_name(), "P_01-embedded-demo");
        assert_eq!(c.order_seed, participant_seed("P 01"));
        assert_ne!(participant_seed("P01"), participant_seed("P02"));
        c.validate().unwrap();
        let mut bad = c.clone();
        bad.participant = " / ".into();
        assert!(bad.validate().is_err());
        let mut bad = c;
        bad.time_limit_seconds = Some(0.0);
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("time limit")
        );
    }
}
