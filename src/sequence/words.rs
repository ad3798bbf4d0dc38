//! Sequences from real handwritten words: natural context instead of a designed pattern.
//!
//! Paper A asks whether a model uses the regular patterns of a sequence. Its patterns are designed
//! (digit progressions, city names). Here the context is English spelling as people wrote it: each
//! sequence is a window of T consecutive letters of one real word, every image the very letter its
//! writer wrote at that place (OCR letters, whose images remember their word: see
//! [`ImageSet::groups`]). A word of n letters gives ⌊n/T⌋ windows, cut from its start without
//! overlap, so no image is used twice and the random-order control
//! ([`super::builder::random_control`]) is exactly the same letters shuffled. A word never crosses
//! the splits (the OCR letters are split by word), and a window never crosses words.
//!
//! The windows' spellings are the patterns: the library lists each distinct spelling once, in the
//! order first met, and every sequence points at its spelling. There is nothing to plan: the plan
//! of a split is simply every window it holds (optimal by construction). Sequence order and
//! occlusion levels are seeded exactly as the patterned builder does them.

use super::builder::{
    BuildError, Ordering, SPLITS, Sequence, SequenceSet, SplitPlans, check_level_weights,
    set_occlusion_seed, shuffle_order, split_levels,
};
use super::patterns::{LibraryKind, Pattern, PatternLibrary};
use super::planner::Plan;
use crate::data::{ImageSet, Split};
use std::collections::HashMap;
use std::time::Duration;

/// The words of an image set: each a run of consecutive image indices with the same group, in
/// index order (the writer's order).
pub fn words(images: &ImageSet) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=images.groups.len() {
        if i == images.groups.len() || images.groups[i] != images.groups[start] {
            out.push(start..i);
            start = i;
        }
    }
    out
}

/// Builds the word-window sequences (see the module docs): the set, the library of spellings,
/// and the per-split "plans" (every window).
pub fn build_word_windows(
    images: &ImageSet,
    t: usize,
    seed: u64,
    level_weights: &[f64],
) -> Result<(SequenceSet, PatternLibrary, SplitPlans), BuildError> {
    if t == 0 {
        return Err(BuildError::Config("T must be at least 1".into()));
    }
    check_level_weights(level_weights)?;
    if !images.has_groups() {
        return Err(BuildError::Config(format!(
            "{} has no words: sequences of real words need the OCR letters",
            images.name
        )));
    }
    let mut patterns: Vec<Pattern> = Vec::new();
    let mut pattern_of: HashMap<Vec<u16>, u32> = HashMap::new();
    // Per split: (pattern, image ids) of every window, in word order.
    let mut windows: [Vec<(u32, Vec<u32>)>; 2] = [Vec::new(), Vec::new()];
    for word in words(images) {
        let split = images.splits[word.start];
        if let Some(i) = word.clone().find(|&i| images.splits[i] != split) {
            return Err(BuildError::Config(format!(
                "{}: word {} has letters in both splits (image {i})",
                images.name, images.groups[word.start]
            )));
        }
        let ids: Vec<usize> = word.collect();
        for chunk in ids.chunks_exact(t) {
            let labels: Vec<u16> = chunk.iter().map(|&i| images.labels[i]).collect();
            let p = *pattern_of.entry(labels.clone()).or_insert_with(|| {
                patterns.push(Pattern::new(
                    labels
                        .iter()
                        .map(|&l| images.class_names[l as usize].clone())
                        .collect(),
                ));
                patterns.len() as u32 - 1
            });
            let s = SPLITS.iter().position(|&x| x == split).expect("a split");
            windows[s].push((p, chunk.iter().map(|&i| i as u32).collect()));
        }
    }
    if patterns.is_empty() {
        return Err(BuildError::Config(format!(
            "{}: no word has {t} letters: lower T",
            images.name
        )));
    }
    let library = PatternLibrary {
        name: format!("real words T={t}"),
        kind: LibraryKind::Words,
        patterns,
    };
    let mut set = SequenceSet {
        t,
        seed,
        ordering: Ordering::Patterned,
        pattern_names: library.names(),
        class_names: images.class_names.clone(),
        sequences: Vec::new(),
    };
    let occlusion_seed = set_occlusion_seed(seed);
    let mut plans = Vec::new();
    for (split, mut ws) in SPLITS.into_iter().zip(windows) {
        shuffle_order(&mut ws, seed, split);
        let levels = split_levels(ws.len() * t, level_weights, seed, split);
        let mut counts = vec![0u32; library.patterns.len()];
        let mut images_used = vec![0u32; images.num_classes()];
        for (j, (p, ids)) in ws.into_iter().enumerate() {
            counts[p as usize] += 1;
            let labels: Vec<u16> = ids.iter().map(|&i| images.labels[i as usize]).collect();
            for &l in &labels {
                images_used[l as usize] += 1;
            }
            set.sequences.push(Sequence {
                images: ids,
                labels,
                levels: levels[j * t..(j + 1) * t].to_vec(),
                pattern: Some(p),
                split,
                occlusion_seed,
            });
        }
        let total = counts.iter().sum();
        plans.push(Plan {
            counts,
            total,
            images_used,
            upper_bound: total,
            optimal: true,
            solve_time: Duration::ZERO,
        });
    }
    let test = plans.pop().expect("two plans");
    let train = plans.pop().expect("two plans");
    Ok((set, library, SplitPlans { train, test }))
}

/// Number of windows of `t` letters the words of a split hold (what [`build_word_windows`] cuts).
pub fn window_count(images: &ImageSet, t: usize, split: Split) -> usize {
    windows_of(&word_lengths(images, split), t)
}

/// How many words of each length (the index) a split holds.
pub fn word_lengths(images: &ImageSet, split: Split) -> Vec<usize> {
    let mut counts = Vec::new();
    for w in words(images)
        .into_iter()
        .filter(|w| images.splits[w.start] == split)
    {
        if counts.len() <= w.len() {
            counts.resize(w.len() + 1, 0);
        }
        counts[w.len()] += 1;
    }
    counts
}

/// Number of windows of `t` letters in words of these lengths ([`word_lengths`]): each word is
/// cut into `len / t` windows.
pub fn windows_of(lengths: &[usize], t: usize) -> usize {
    if t == 0 {
        return 0;
    }
    lengths
        .iter()
        .enumerate()
        .map(|(len, &n)| n * (len / t))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Two words, "abcab" (train) and "bca" (test), over classes a–c.
    fn tiny() -> ImageSet {
        let labels = vec![0, 1, 2, 0, 1, 1, 2, 0];
        let splits = [[Split::Train; 5].as_slice(), &[Split::Test; 3]].concat();
        ImageSet::new(
            "tiny",
            1,
            1,
            1,
            (0..8).collect(),
            labels,
            splits,
            vec!["a".into(), "b".into(), "c".into()],
            Path::new("tiny"),
        )
        .unwrap()
        .with_groups(vec![0, 0, 0, 0, 0, 1, 1, 1], Path::new("tiny"))
        .unwrap()
    }

    #[test]
    fn windows_follow_the_words_in_order() {
        let images = tiny();
        let (set, lib, plans) = build_word_windows(&images, 2, 3, &[1.0; 5]).unwrap();
        // "abcab" → ab, ca (b left over); "bca" → bc (a left over).
        assert_eq!(lib.names(), ["ab", "ca", "bc"]);
        assert_eq!(plans.train.total, 2);
        assert_eq!(plans.test.total, 1);
        let mut train: Vec<Vec<u32>> = set
            .sequences_in(Split::Train)
            .map(|s| s.images.clone())
            .collect();
        train.sort();
        assert_eq!(train, [vec![0, 1], vec![2, 3]]);
        let test: Vec<&Sequence> = set.sequences_in(Split::Test).collect();
        assert_eq!(test[0].images, [5, 6]);
        assert_eq!(test[0].labels, [1, 2]);
        assert_eq!(lib.names()[test[0].pattern.unwrap() as usize], "bc");
        set.check().unwrap();
        assert_eq!(window_count(&images, 2, Split::Train), 2);
        // T longer than every word: an error that says so.
        let e = build_word_windows(&images, 6, 3, &[]).unwrap_err();
        assert!(e.to_string().contains("no word has 6 letters"), "{e}");
    }

    #[test]
    fn a_set_without_words_is_refused() {
        let mut images = tiny();
        images.groups.clear();
        let e = build_word_windows(&images, 2, 0, &[]).unwrap_err();
        assert!(e.to_string().contains("OCR letters"), "{e}");
    }
}
