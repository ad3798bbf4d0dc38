//! The papers' published numbers, each written once: paper A's Tables 1–3 (models) and 4–5
//! (people), and paper B's UCF-101 errors. The results tables (`tables.rs`), the quiz analysis and
//! the reproduction report read them from here.

use super::preset::Preset;

/// Paper A, Table 1 (test accuracy in %, patterned): rows in [`ModelKind::ALL`] order
/// (CNN-2-S, CNN-4-S, CNN, CRNN-2-S, CRNN-4-S, CRNN), columns MNIST, EMNIST, CIFAR-10.
pub const PAPER_TABLE1: [[f64; 3]; 6] = [
    [86.22, 86.01, 44.39],
    [88.02, 87.26, 42.12],
    [89.44, 88.90, 54.99],
    [98.27, 97.95, 89.11],
    [98.15, 97.90, 90.18],
    [98.33, 98.14, 90.36],
];

/// Paper A, Table 2 (random order), same layout as [`PAPER_TABLE1`].
pub const PAPER_TABLE2: [[f64; 3]; 6] = [
    [86.37, 86.10, 44.21],
    [88.28, 87.81, 41.40],
    [89.37, 89.22, 53.88],
    [86.68, 86.66, 45.64],
    [88.15, 88.16, 48.21],
    [87.89, 87.81, 50.62],
];

/// Paper A, Table 3: CRNN with patterns, rows MNIST, EMNIST, CIFAR-10, columns the five lengths
/// of [`Dataset::table3_lengths`].
pub const PAPER_TABLE3: [[f64; 5]; 3] = [
    [98.33, 98.11, 98.23, 98.10, 98.06],
    [98.14, 97.83, 97.76, 97.78, 97.62],
    [90.36, 88.29, 88.11, 88.19, 87.93],
];

/// Paper A's sequence counts, planned by linear programming from the whole data sets: MNIST
/// (digit progressions of 5), EMNIST letters (city names of 6), CIFAR-10 (label progressions of 5).
pub const PAPER_SEQUENCES: [usize; 3] = [13_135, 14_611, 12_000];

/// Paper A, Tables 4 and 5: accuracy (%) of people, `[group][condition][dataset]` with groups
/// non-expert, expert; conditions with / without patterns; data sets MNIST, EMNIST, CIFAR-10.
pub const PAPER_PEOPLE: [[[f64; 3]; 2]; 2] = [
    [[93.96, 92.52, 71.11], [75.56, 71.79, 50.19]],
    [[100.00, 99.26, 97.78], [81.00, 78.89, 71.67]],
];

/// Paper B's published UCF-101 error for the setting a preset trains (its model options), if the
/// paper reports that setting.
pub fn paper_b_error(preset: &Preset) -> Option<f64> {
    use crate::model::ModelKind;
    use crate::model::rrn::{SkipPosition, SkipType};
    let m = preset.model.as_ref()?;
    match m.kind {
        ModelKind::ResNetAvg => match (m.feature_block, m.z_norm) {
            (4, true) => Some(0.236),
            (4, false) => Some(0.237),
            (3, true) => Some(0.309),
            (2, true) => Some(0.431),
            _ => None,
        },
        ModelKind::ResNetGru => match (m.feature_block, m.z_norm) {
            (4, true) => Some(0.239),
            (4, false) => Some(0.276),
            (3, true) => Some(0.403),
            (2, true) => Some(0.440),
            _ => None,
        },
        // Temporal context 1: the per-frame baseline of Table 4.
        ModelKind::ResNet => Some(0.236),
        ModelKind::Rrn => match (m.skip, m.skip_position, m.temporal_context) {
            (SkipType::Linear, SkipPosition::Block1, 2) => Some(0.265),
            (SkipType::Linear, SkipPosition::Block2, 2) => Some(0.234),
            (SkipType::Linear, SkipPosition::MidBlock4, 2) => Some(0.231),
            (SkipType::Linear, SkipPosition::Block4, 2) => Some(0.219),
            (SkipType::NonLinear, SkipPosition::Block4, 2) => Some(0.210),
            (SkipType::Identity, SkipPosition::Block4, 2) => Some(0.197),
            (SkipType::Identity, SkipPosition::Block4, 3) => Some(0.194),
            (SkipType::Identity, SkipPosition::Block4, 5) => Some(0.209),
            _ => None,
        },
        _ => None,
    }
}
