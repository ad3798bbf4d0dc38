//! The human-vs-machine quiz (paper A, Tables 4–5): people classify the same kind of occluded
//! sequences the models see, and their answers are compared with the models' on exactly the same
//! images.
//!
//! * [`config`]: who takes the quiz (participant, group), on which data (a [`Preset`]), how many
//!   sequences of each condition, practice, time limit, and the seeds.
//! * [`items`]: which sequences are shown, in which order ([`items::select_items`]), and the
//!   [`items::Stimuli`] that render them.
//! * [`session`]: the session file `quiz/<session>.jsonl` — a header with the full config and
//!   item list, then one line per submitted sequence, each fsynced before the next is shown;
//!   resumable after a kill at any moment, never overwritten.
//! * [`trial`]: one sequence being answered (answers, corrections, response times, time limit)
//!   and the keyboard mapping; the GUI and the terminal front end both drive it.
//! * [`analysis`] (with [`stats`]): accuracies with Wilson intervals, McNemar tests of people against models, the
//!   table in the shape of Tables 4–5; [`scoring`] applies trained runs to the quiz's images.
//! * [`export`]: one CSV row per image answer.
//! * [`terminal`]: a headless front end (text prompts, one line of answers per sequence).
//!
//! [`Preset`]: crate::experiment::preset::Preset

pub mod analysis;
pub mod config;
pub mod export;
pub mod items;
pub mod scoring;
pub mod session;
pub mod stats;
pub mod terminal;
pub mod trial;

pub use config::{Group, QuizConfig, TrialOrder};
pub use items::{Condition, QuizItem, Stimuli};
pub use session::{Response, Session, SessionError, SessionRecord};
pub use trial::Trial;

/// Anything that stops a quiz from being set up, run or analysed. Every variant names the file
/// or the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum QuizError {
    #[error("quiz settings: {0}")]
    Config(String),
    #[error(transparent)]
    Prepare(#[from] crate::experiment::dataset::PrepareError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("run {}: {message}", run.display())]
    Run {
        run: std::path::PathBuf,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}
