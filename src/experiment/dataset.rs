//! A preset's data, prepared: images loaded, sequences planned and built, ready for training, the
//! GUI or a summary.

use super::preset::{LibrarySpec, OrderingSpec, Preset, PresetError};
use crate::data::{DataError, ImageSet, Split};
use crate::occlusion::{LevelCoverage, SpecError};
use crate::sequence::builder::{self, BuildConfig, BuildError, Ordering, SequenceSet, SplitPlans};
use crate::sequence::clip_data::{self, ClipCut, build_clip_sequences};
use crate::sequence::patterns::PatternLibrary;
use crate::sequence::planner::{Plan, PlanOptions};
use crate::sequence::render;
use crate::sequence::words::build_word_windows;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A preset's data, prepared (defined with the sequences, which it is).
pub use crate::sequence::prepared::Prepared;

/// Anything that stops a preset's data from being prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Preset(#[from] PresetError),
    #[error("occlusion spec: {0}")]
    Occlusion(#[from] SpecError),
    #[error("sequences: {0}")]
    Build(#[from] BuildError),
    #[error("{0}")]
    Clips(String),
}

/// Loads the preset's images and builds its sequences.
pub fn prepare(preset: &Preset, data_dir: Option<&Path>) -> Result<Prepared, PrepareError> {
    let t0 = Instant::now();
    if let Some(clips) = preset.data.load_clips(data_dir)? {
        let load_time = t0.elapsed();
        let mut prepared = prepare_clips(preset, Arc::new(clips.frames), clips.videos, load_time)?;
        prepared.data_dir = data_dir.map(Path::to_path_buf);
        return Ok(prepared);
    }
    let images = Arc::new(preset.data.load(data_dir)?);
    let load_time = t0.elapsed();
    let mut prepared = prepare_with(preset, images, load_time)?;
    prepared.data_dir = data_dir.map(Path::to_path_buf);
    Ok(prepared)
}

/// Builds the preset's sequences on images already loaded. Clip sources with relative paths need
/// [`prepare_with_dir`].
pub fn prepare_with(
    preset: &Preset,
    images: Arc<ImageSet>,
    load_time: Duration,
) -> Result<Prepared, PrepareError> {
    prepare_with_dir(preset, images, load_time, None)
}

/// Like [`prepare_with`], with the data folder the images were loaded from (clip sources list their
/// videos again there, without decoding frames).
pub fn prepare_with_dir(
    preset: &Preset,
    images: Arc<ImageSet>,
    load_time: Duration,
    data_dir: Option<&Path>,
) -> Result<Prepared, PrepareError> {
    if let Some(videos) = preset.data.clip_videos(data_dir)? {
        let frames: usize = videos.iter().map(|v| v.frames.len()).sum();
        if frames != images.len() {
            return Err(PrepareError::Clips(format!(
                "{}: the clips list {frames} sampled frames but {} images are loaded (changed on disk? load again)",
                preset.data.describe(),
                images.len()
            )));
        }
        let mut prepared = prepare_clips(preset, images, videos, load_time)?;
        prepared.data_dir = data_dir.map(Path::to_path_buf);
        return Ok(prepared);
    }
    preset.occlusion.validate()?;
    let t1 = Instant::now();
    let s = &preset.sequences;
    if s.patterns == LibrarySpec::Words {
        let (patterned, library, plans) =
            build_word_windows(&images, s.t, s.seed, &preset.occlusion.level_mix)?;
        return Ok(finish(
            preset, images, library, patterned, plans, load_time, t1,
        ));
    }
    let library = preset.library(&images.class_names)?;
    let cfg = BuildConfig {
        t: s.t,
        seed: s.seed,
        level_weights: preset.occlusion.level_mix.clone(),
        plan: PlanOptions {
            cap: s.cap,
            min_share: s.min_share,
            ..PlanOptions::default()
        },
        test_patterns: s.test_patterns,
    };
    let (patterned, plans) = builder::build_patterned(&images, &library, &cfg)?;
    Ok(finish(
        preset, images, library, patterned, plans, load_time, t1,
    ))
}

/// The preset's ordering (the patterned set, or its random control) and limit, as [`Prepared`].
fn finish(
    preset: &Preset,
    images: Arc<ImageSet>,
    library: PatternLibrary,
    patterned: SequenceSet,
    plans: SplitPlans,
    load_time: Duration,
    started: Instant,
) -> Prepared {
    let s = &preset.sequences;
    let mut sequences = match s.ordering {
        OrderingSpec::Patterned => patterned,
        OrderingSpec::Random => builder::random_control(&images, &patterned, s.seed),
    };
    if let Some(limit) = s.limit {
        sequences = sequences.limit(limit);
    }
    Prepared {
        images,
        library,
        sequences,
        plans,
        load_time,
        build_time: started.elapsed(),
        data_dir: None,
        clips: None,
    }
}

/// The "plan" of clip data: no patterns, every subsequence that fits (optimal by construction).
fn clip_plans(set: &SequenceSet, classes: usize) -> SplitPlans {
    let plan = |split| {
        let mut images_used = vec![0u32; classes];
        let mut total = 0;
        for q in set.sequences_in(split) {
            total += 1;
            if let Some(c) = q
                .labels
                .first()
                .and_then(|&c| images_used.get_mut(c as usize))
            {
                *c += q.images.len() as u32;
            }
        }
        Plan {
            counts: Vec::new(),
            total,
            images_used,
            upper_bound: total,
            optimal: true,
            solve_time: Duration::ZERO,
        }
    };
    SplitPlans {
        train: plan(Split::Train),
        test: plan(Split::Test),
    }
}

/// Cuts clip data into subsequences (see [`crate::sequence::clip_data`]).
fn prepare_clips(
    preset: &Preset,
    images: Arc<ImageSet>,
    videos: Vec<crate::data::clips::VideoClip>,
    load_time: Duration,
) -> Result<Prepared, PrepareError> {
    preset.occlusion.validate()?;
    let t1 = Instant::now();
    let s = &preset.sequences;
    let LibrarySpec::Clips {
        per_video,
        output,
        occlude,
    } = &s.patterns
    else {
        return Err(PrepareError::Clips(format!(
            "preset {}: {} holds video clips: set [sequences] patterns = {{ library = \"clips\" }}",
            preset.name,
            preset.data.describe()
        )));
    };
    if s.t == 0 {
        return Err(PrepareError::Clips(format!(
            "preset {}: the subsequence length T must be at least 1",
            preset.name
        )));
    }
    let cut = ClipCut {
        t: s.t,
        per_video: *per_video,
        output: *output,
        occlude: *occlude,
        ordering: s.ordering,
        seed: s.seed,
        level_weights: preset.occlusion.level_mix.clone(),
        limit: s.limit,
    };
    let (sequences, clips) = build_clip_sequences(videos, &images.class_names, &cut);
    if sequences.sequences.is_empty() {
        return Err(PrepareError::Clips(format!(
            "preset {}: no video has {} sampled frames: lower T or sample more frames",
            preset.name, s.t
        )));
    }
    let plans = clip_plans(&sequences, images.num_classes());
    Ok(Prepared {
        library: preset.library(&images.class_names)?,
        images,
        sequences,
        plans,
        load_time,
        build_time: t1.elapsed(),
        data_dir: None,
        clips: Some(Arc::new(clips)),
    })
}

/// Most patterns the printed summary lists one by one.
const MAX_PATTERN_LINES: usize = 40;

/// What `occlab dataset` prints.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DatasetSummary {
    pub preset: String,
    pub data: String,
    pub images: usize,
    pub image_size: [usize; 3],
    pub classes: usize,
    pub t: usize,
    pub ordering: String,
    pub seed: u64,
    pub patterns: usize,
    /// Sequences per pattern: (pattern, train, test).
    pub per_pattern: Vec<(String, usize, usize)>,
    pub train_sequences: usize,
    pub test_sequences: usize,
    /// Share of the available images that the sequences use, per split.
    pub images_used: Vec<(String, f64)>,
    pub plan_optimal: bool,
    pub coverage: Vec<LevelCoverage>,
    pub load_ms: f64,
    pub build_ms: f64,
}

impl Prepared {
    /// Counts, coverage and timing for the CLI and the GUI.
    pub fn summary(&self, preset: &Preset) -> DatasetSummary {
        let seqs = &self.sequences;
        let mut per_pattern: Vec<(String, usize, usize)> = Vec::new();
        let names = &seqs.pattern_names;
        if self.clips.is_some() {
            // Clip data: subsequences per class (the patterns of clip data).
            for (c, name) in self.images.class_names.iter().enumerate() {
                let count = |split| {
                    seqs.sequences_in(split)
                        .filter(|q| q.labels.first() == Some(&(c as u16)))
                        .count()
                };
                per_pattern.push((name.clone(), count(Split::Train), count(Split::Test)));
            }
        } else if seqs.ordering == Ordering::Patterned {
            for (i, name) in names.iter().enumerate() {
                let count = |split| {
                    seqs.sequences
                        .iter()
                        .filter(|q| q.split == split && q.pattern == Some(i as u32))
                        .count()
                };
                per_pattern.push((name.clone(), count(Split::Train), count(Split::Test)));
            }
        } else {
            per_pattern.push((
                "(random order)".into(),
                seqs.len(Split::Train),
                seqs.len(Split::Test),
            ));
        }
        let images_used = [Split::Train, Split::Test]
            .into_iter()
            .map(|split| {
                let available = self.images.indices(split).len().max(1);
                let used: usize = seqs
                    .sequences
                    .iter()
                    .filter(|q| q.split == split)
                    .map(|q| q.images.len())
                    .sum();
                (
                    format!("{split:?}").to_lowercase(),
                    used as f64 / available as f64,
                )
            })
            .collect();
        DatasetSummary {
            preset: preset.name.clone(),
            data: self.images.name.clone(),
            images: self.images.len(),
            image_size: [self.images.height, self.images.width, self.images.channels],
            classes: self.images.num_classes(),
            t: seqs.t,
            ordering: match preset.sequences.ordering {
                OrderingSpec::Patterned => "patterned".into(),
                OrderingSpec::Random => "random".into(),
            },
            seed: seqs.seed,
            patterns: self.library.patterns.len(),
            per_pattern,
            train_sequences: seqs.len(Split::Train),
            test_sequences: seqs.len(Split::Test),
            images_used,
            plan_optimal: self.plans.train.optimal && self.plans.test.optimal,
            coverage: preset.occlusion.coverage(&self.images, 2000, seqs.seed),
            load_ms: self.load_time.as_secs_f64() * 1e3,
            build_ms: self.build_time.as_secs_f64() * 1e3,
        }
    }

    /// A contact sheet of the first `rows` test sequences (training ones if there are none).
    pub fn contact_sheet(
        &self,
        preset: &Preset,
        rows: usize,
        tint_occluders: bool,
    ) -> image::RgbImage {
        let mut picked: Vec<_> = self
            .sequences
            .sequences
            .iter()
            .filter(|q| q.split == Split::Test)
            .take(rows)
            .cloned()
            .collect();
        if picked.is_empty() {
            picked = self
                .sequences
                .sequences
                .iter()
                .take(rows)
                .cloned()
                .collect();
        }
        let scale = if self.images.height <= 32 { 3 } else { 1 };
        if let Some(clips) = &self.clips {
            // Clip data: every frame of a video behind the video's one occluder, as trained.
            let seqs = &self.sequences.sequences;
            let test: Vec<usize> = (0..seqs.len())
                .filter(|&i| seqs[i].split == Split::Test)
                .take(rows)
                .collect();
            let ids = if test.is_empty() {
                (0..seqs.len().min(rows)).collect()
            } else {
                test
            };
            return clip_data::clip_contact_sheet(
                &self.images,
                seqs,
                clips,
                &ids,
                &preset.occlusion,
                scale,
                tint_occluders,
            );
        }
        render::contact_sheet(
            &self.images,
            &picked,
            &preset.occlusion,
            scale,
            tint_occluders,
        )
    }
}

impl fmt::Display for DatasetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "preset      {}", self.preset)?;
        writeln!(
            f,
            "data        {}: {} images of {}×{}×{}, {} classes",
            self.data,
            self.images,
            self.image_size[0],
            self.image_size[1],
            self.image_size[2],
            self.classes
        )?;
        writeln!(
            f,
            "sequences   T = {}, {} ordering, seed {}",
            self.t, self.ordering, self.seed
        )?;
        writeln!(
            f,
            "            {} train + {} test = {} sequences from {} patterns (plan optimal: {})",
            self.train_sequences,
            self.test_sequences,
            self.train_sequences + self.test_sequences,
            self.patterns,
            self.plan_optimal
        )?;
        for (split, share) in &self.images_used {
            writeln!(
                f,
                "            {split}: {:.1} % of the images used",
                share * 100.0
            )?;
        }
        writeln!(
            f,
            "per pattern {:<28} {:>7} {:>7}",
            "pattern", "train", "test"
        )?;
        // Real words have thousands of spellings: the most frequent stand for the rest.
        let mut shown: Vec<&(String, usize, usize)> = self.per_pattern.iter().collect();
        if shown.len() > MAX_PATTERN_LINES {
            shown.sort_by_key(|(_, train, test)| std::cmp::Reverse(train + test));
            shown.truncate(MAX_PATTERN_LINES);
        }
        for (name, train, test) in &shown {
            writeln!(f, "            {name:<28} {train:>7} {test:>7}")?;
        }
        if shown.len() < self.per_pattern.len() {
            writeln!(
                f,
                "            … and {} more patterns (the {MAX_PATTERN_LINES} most frequent shown)",
                self.per_pattern.len() - shown.len()
            )?;
        }
        writeln!(f, "coverage    level  pixels hidden  ink hidden")?;
        for c in &self.coverage {
            writeln!(
                f,
                "            {:>5}  {:>12.1} %  {:>8.1} %",
                c.level,
                c.pixels_hidden * 100.0,
                c.ink_hidden * 100.0
            )?;
        }
        writeln!(
            f,
            "timing      load {:.0} ms, plan + build {:.0} ms",
            self.load_ms, self.build_ms
        )
    }
}
