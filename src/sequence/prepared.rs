//! Prepared sequence data: the loaded images, the pattern library, the built sequences and the
//! planner's result, ready for training, evaluation, the GUI or a summary. `crate::experiment::dataset`
//! prepares it from a preset.

use super::builder::{SequenceSet, SplitPlans};
use super::clip_data::ClipSequences;
use super::patterns::PatternLibrary;
use crate::data::ImageSet;
use std::sync::Arc;
use std::time::Duration;

/// Loaded images and built sequences: what training, evaluation, the GUI and summaries work on.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub images: Arc<ImageSet>,
    pub library: PatternLibrary,
    /// The sequences the preset asks for (patterned, or the random-order control).
    pub sequences: SequenceSet,
    /// The planner's result per split.
    pub plans: SplitPlans,
    pub load_time: Duration,
    pub build_time: Duration,
    /// The data folder relative paths were resolved against, if any.
    pub data_dir: Option<std::path::PathBuf>,
    /// Clip data (paper B): which video each sequence was cut from.
    pub clips: Option<Arc<ClipSequences>>,
}
