//! Video clips as frame folders, in the layout UCF-101 frame extractions use:
//! `root/<Class>/<clip>/frame_00001.jpg` (any PNG/JPEG/BMP names; ordered by the number in the
//! name, then by name).
//!
//! - **Sampling**: every `sample_every`-th frame is kept (paper B: every 10th), starting with the
//!   first.
//! - **Split**: the official `trainlist0N.txt` / `testlist0N.txt` (N = `split_list`) when they are
//!   found in `root`, `root/ucfTrainTestlist` or `root/../ucfTrainTestlist` (lines
//!   `Class/v_Class_g08_c01.avi [label]`; a clip is matched by `Class/<folder name>`, extension
//!   ignored). Otherwise a seeded split by **clip group**: UCF names clips `v_<Class>_gGG_cCC`, and
//!   the clips of one group (same actors, same place) must not be split between train and test; a
//!   clip without a `_gGG_` part is its own group. Per class, a `test_fraction` of the groups (at
//!   least one and at least one left for training, when the class has two or more) goes to the
//!   test split. A class with a single group stays in training. `split_by = "time"` instead cuts
//!   every video in two: its first sampled frames train, its last `test_fraction` test (for demos
//!   on a handful of videos; frames of one video on both sides are not independent).
//! - Frames are decoded and resized to `height × width` (grey or RGB) in parallel.
//!
//! A video becomes training data by cutting it into subsequences of T frames
//! ([`subsequence_starts`]); at test time the class probabilities of a video's subsequences are
//! averaged into the video's prediction ([`average_video_probabilities`]).

use super::folder::{
    Fit, FolderOptions, Polarity, check_shape, class_folders, file_name, image_files, list_sorted,
    load_one,
};
use super::{DataError, ImageSet, Split};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// How clips without official split files are split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipSplit {
    /// Whole clip groups go to train or test (seeded).
    #[default]
    Group,
    /// Every video's last frames are its test part.
    Time,
}

/// How a frame-folder clip source is read.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClipOptions {
    /// Frame height after resizing (UCF-101 frames are 320×240; the shared clips 160×120).
    pub height: u32,
    pub width: u32,
    /// 1 (grey) or 3 (RGB).
    pub channels: u8,
    /// Keep every k-th frame (paper B: 10).
    pub sample_every: usize,
    /// Which official split list to use (`trainlist0N.txt`), 1–3 for UCF-101.
    pub split_list: u8,
    /// How to split when there are no official lists.
    pub split_by: ClipSplit,
    /// Share of each class's groups (or of each video's frames) put in the test split.
    pub test_fraction: f64,
    /// Seeds the group split.
    pub seed: u64,
}

impl Default for ClipOptions {
    fn default() -> Self {
        ClipOptions {
            height: 60,
            width: 80,
            channels: 3,
            sample_every: 10,
            split_list: 1,
            split_by: ClipSplit::Group,
            test_fraction: 0.3,
            seed: 0,
        }
    }
}

/// One video (or, with the time split, one part of a video) of a clip set.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VideoClip {
    /// `Class/clip`.
    pub name: String,
    pub class: u16,
    pub split: Split,
    /// Clip group (`g08`), or the clip's own name.
    pub group: String,
    /// Ids of its sampled frames in the clip set's frame [`ImageSet`], in time order.
    pub frames: Vec<u32>,
    /// Position of each sampled frame among the folder's frames (0-based).
    pub frame_numbers: Vec<u32>,
    /// Frames in the folder (before sampling).
    pub folder_frames: usize,
    /// The frame files in time order (empty for generated clips).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PathBuf>,
}

/// Frames of every video, and the videos.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipSet {
    /// Every sampled frame, video after video, labelled with its video's class and split.
    pub frames: ImageSet,
    pub videos: Vec<VideoClip>,
}

/// The number in a frame's file name (`frame_00012.jpg` → 12), for ordering.
fn frame_number(p: &Path) -> Option<u64> {
    let stem = p.file_stem()?.to_string_lossy();
    let digits: String = stem
        .chars()
        .rev()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// The clip group of a UCF-style clip name (`v_ApplyEyeMakeup_g08_c01` → `g08`); the name itself
/// otherwise.
pub fn clip_group(name: &str) -> String {
    let parts: Vec<&str> = name.split('_').collect();
    for w in parts.windows(2) {
        let is = |s: &str, p: char| {
            s.len() > 1 && s.starts_with(p) && s[1..].chars().all(|c| c.is_ascii_digit())
        };
        if is(w[0], 'g') && is(w[1], 'c') {
            return w[0].to_string();
        }
    }
    name.to_string()
}

/// The `class/clip` keys (lower case, no extension) of an official list.
type ListedClips = BTreeSet<String>;

/// The official split lists for `split_list`, if found: the clips listed for training and for
/// testing.
fn official_split(
    root: &Path,
    split_list: u8,
) -> Result<Option<(ListedClips, ListedClips)>, DataError> {
    let dirs = [
        root.to_path_buf(),
        root.join("ucfTrainTestlist"),
        root.join("..").join("ucfTrainTestlist"),
    ];
    for dir in dirs {
        let train = dir.join(format!("trainlist{split_list:02}.txt"));
        let test = dir.join(format!("testlist{split_list:02}.txt"));
        if train.is_file() && test.is_file() {
            let read = |p: &Path| -> Result<BTreeSet<String>, DataError> {
                let text =
                    super::read_bounded_text(p, 64 << 20).map_err(|e| DataError::io(p, e))?;
                let mut keys = BTreeSet::new();
                for (i, line) in text.lines().enumerate() {
                    let Some(entry) = line.split_whitespace().next() else {
                        continue;
                    };
                    let entry = entry.replace('\\', "/");
                    let Some((class, clip)) = entry.rsplit_once('/') else {
                        return Err(DataError::format(
                            p,
                            format!("line {}: expected Class/clip, found {entry:?}", i + 1),
                        ));
                    };
                    let class = class.rsplit('/').next().unwrap_or(class);
                    let stem = Path::new(clip)
                        .file_stem()
                        .map_or(clip.to_string(), |s| s.to_string_lossy().into_owned());
                    keys.insert(format!("{class}/{stem}").to_lowercase());
                }
                Ok(keys)
            };
            return Ok(Some((read(&train)?, read(&test)?)));
        }
    }
    Ok(None)
}

fn check_options(root: &Path, opts: &ClipOptions) -> Result<(), DataError> {
    check_shape(
        root,
        opts.channels,
        opts.height,
        opts.width,
        1024,
        "frame size",
    )?;
    if opts.sample_every == 0 {
        return Err(DataError::format(root, "sample_every must be at least 1"));
    }
    if !(0.0..1.0).contains(&opts.test_fraction) {
        return Err(DataError::format(
            root,
            format!("test fraction {} is outside 0–1", opts.test_fraction),
        ));
    }
    Ok(())
}

/// Lists the classes and videos of `root` with their sampled frames and splits, without decoding
/// any image. Frame ids are assigned in order, video after video, as [`load_clips`] stores them.
pub fn list_clips(
    root: &Path,
    opts: &ClipOptions,
) -> Result<(Vec<String>, Vec<VideoClip>), DataError> {
    check_options(root, opts)?;
    let class_dirs = class_folders(
        root,
        |p| file_name(p).eq_ignore_ascii_case("ucfTrainTestlist"),
        "no class folders: expected Class/clip/frame_00001.jpg",
    )?;
    let official = official_split(root, opts.split_list)?;
    let mut classes = Vec::new();
    let mut videos = Vec::new();
    for (class, dir) in class_dirs.iter().enumerate() {
        let class_name = file_name(dir);
        let clip_dirs: Vec<PathBuf> = list_sorted(dir)?
            .into_iter()
            .filter(|p| p.is_dir())
            .collect();
        if clip_dirs.is_empty() {
            return Err(DataError::format(
                dir,
                "class folder without clip folders (expected Class/clip/frame_00001.jpg)",
            ));
        }
        classes.push(class_name.clone());
        for clip in clip_dirs {
            let mut files = image_files(&clip)?;
            if files.is_empty() {
                return Err(DataError::format(
                    &clip,
                    "clip folder without PNG or JPEG frames",
                ));
            }
            files.sort_by_key(|p| (frame_number(p), file_name(p)));
            let clip_name = file_name(&clip);
            let name = format!("{class_name}/{clip_name}");
            let split = match &official {
                Some((train, test)) => {
                    let key = name.to_lowercase();
                    if test.contains(&key) {
                        Split::Test
                    } else if train.contains(&key) {
                        Split::Train
                    } else {
                        return Err(DataError::format(
                            &clip,
                            format!(
                                "clip {name} is in neither trainlist{0:02}.txt nor testlist{0:02}.txt",
                                opts.split_list
                            ),
                        ));
                    }
                }
                None => Split::Train, // decided below
            };
            let frame_numbers: Vec<u32> = (0..files.len())
                .step_by(opts.sample_every)
                .map(|i| i as u32)
                .collect();
            videos.push(VideoClip {
                name,
                class: class as u16,
                split,
                group: clip_group(&clip_name),
                frames: Vec::new(),
                frame_numbers,
                folder_frames: files.len(),
                files,
            });
        }
    }
    if official.is_none() {
        videos = match opts.split_by {
            ClipSplit::Group => split_by_group(videos, opts),
            ClipSplit::Time => split_by_time(videos, opts),
        };
    }
    let mut next = 0u32;
    for v in &mut videos {
        v.frames = (next..next + v.frame_numbers.len() as u32).collect();
        next += v.frame_numbers.len() as u32;
    }
    Ok((classes, videos))
}

fn split_by_group(mut videos: Vec<VideoClip>, opts: &ClipOptions) -> Vec<VideoClip> {
    let mut groups: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    for v in &videos {
        groups.entry(v.class).or_default().insert(v.group.clone());
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    let mut test: HashMap<(u16, String), bool> = HashMap::new();
    for (class, set) in groups {
        let mut list: Vec<String> = set.into_iter().collect();
        list.shuffle(&mut rng);
        let n = list.len();
        let n_test = if n < 2 {
            0
        } else {
            ((n as f64 * opts.test_fraction).round() as usize).clamp(1, n - 1)
        };
        for (i, g) in list.into_iter().enumerate() {
            test.insert((class, g), i < n_test);
        }
    }
    for v in &mut videos {
        if test
            .get(&(v.class, v.group.clone()))
            .copied()
            .unwrap_or(false)
        {
            v.split = Split::Test;
        }
    }
    videos
}

fn split_by_time(videos: Vec<VideoClip>, opts: &ClipOptions) -> Vec<VideoClip> {
    let mut out = Vec::new();
    for v in videos {
        let n = v.frame_numbers.len();
        let n_test = ((n as f64 * opts.test_fraction).round() as usize).min(n);
        let cut = n - n_test;
        let mut train = v.clone();
        train.frame_numbers.truncate(cut);
        let mut test = v;
        test.frame_numbers.drain(..cut);
        test.split = Split::Test;
        out.extend(
            [train, test]
                .into_iter()
                .filter(|p| !p.frame_numbers.is_empty()),
        );
    }
    out
}

/// How a single frame is read: the folder loader's decoding at the clips' size and colour, kept
/// as it is (no inversion, resized, no split of its own).
fn frame_options(opts: &ClipOptions) -> FolderOptions {
    FolderOptions {
        height: opts.height,
        width: opts.width,
        channels: opts.channels,
        polarity: Polarity::Keep,
        fit: Fit::Resize,
        test_fraction: 0.0,
        seed: 0,
    }
}

/// Loads every sampled frame of the clips under `root` (see the module docs).
pub fn load_clips(root: &Path, opts: &ClipOptions) -> Result<ClipSet, DataError> {
    let (class_names, videos) = list_clips(root, opts)?;
    let folder = frame_options(opts);
    let jobs: Vec<&Path> = videos
        .iter()
        .flat_map(|v| {
            v.frame_numbers
                .iter()
                .map(|&i| v.files[i as usize].as_path())
        })
        .collect();
    let per = opts.height as usize * opts.width as usize * opts.channels as usize;
    if jobs.len() as u64 * per as u64 > super::MAX_TOTAL_BYTES {
        return Err(DataError::format(
            root,
            format!(
                "{} sampled frames of {}×{}×{} pass the size limit of {} GiB (sample fewer frames)",
                jobs.len(),
                opts.height,
                opts.width,
                opts.channels,
                super::MAX_TOTAL_BYTES >> 30
            ),
        ));
    }
    let mut pixels = vec![0u8; jobs.len() * per];
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = jobs.len().div_ceil(threads).max(1);
    let results: Vec<Result<(), DataError>> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .zip(pixels.chunks_mut(chunk * per))
            .map(|(files, dst)| {
                let folder = &folder;
                s.spawn(move || -> Result<(), DataError> {
                    for (file, d) in files.iter().zip(dst.chunks_mut(per)) {
                        d.copy_from_slice(&load_one(file, folder)?);
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(DataError::format(root, "a frame decoder thread panicked"))
                })
            })
            .collect()
    });
    for r in results {
        r?;
    }
    let mut labels = Vec::with_capacity(jobs.len());
    let mut splits = Vec::with_capacity(jobs.len());
    for v in &videos {
        labels.extend(std::iter::repeat_n(v.class, v.frames.len()));
        splits.extend(std::iter::repeat_n(v.split, v.frames.len()));
    }
    let frames = ImageSet::new(
        format!("{} (clips)", file_name(root)),
        opts.height as usize,
        opts.width as usize,
        opts.channels as usize,
        pixels,
        labels,
        splits,
        class_names,
        root,
    )?;
    Ok(ClipSet { frames, videos })
}

/// One frame of a preview strip.
#[derive(Clone, Debug, PartialEq)]
pub struct StripFrame {
    /// Position among the folder's frames (0-based).
    pub position: u32,
    /// `height × width × channels` pixels, at the clip options' size.
    pub pixels: Vec<u8>,
    /// Whether sampling keeps this frame.
    pub sampled: bool,
}

/// `count` consecutive folder frames of `video` from position `first`, decoded at the options'
/// size, each marked as sampled or not: what the Data panel shows of a clip.
pub fn frame_strip(
    video: &VideoClip,
    opts: &ClipOptions,
    first: usize,
    count: usize,
) -> Result<Vec<StripFrame>, DataError> {
    let folder = frame_options(opts);
    let sampled: BTreeSet<u32> = video.frame_numbers.iter().copied().collect();
    video
        .files
        .iter()
        .enumerate()
        .skip(first)
        .take(count)
        .map(|(i, file)| {
            Ok(StripFrame {
                position: i as u32,
                pixels: load_one(file, &folder)?,
                sampled: sampled.contains(&(i as u32)),
            })
        })
        .collect()
}

/// Start frames of the subsequences of `t` frames cut from a video of `len` sampled frames: with
/// `per_video = Some(M)`, M windows spread evenly from the first frame to the last (overlapping
/// where `M·t > len`; one window sits in the middle); with `None`, as many non-overlapping windows
/// as fit, from the start. A video shorter than `t` gives none.
pub fn subsequence_starts(len: usize, t: usize, per_video: Option<usize>) -> Vec<usize> {
    if t == 0 || len < t {
        return Vec::new();
    }
    let span = len - t;
    match per_video {
        None => (0..len / t).map(|i| i * t).collect(),
        Some(0) => Vec::new(),
        Some(1) => vec![span / 2],
        Some(m) => (0..m)
            .map(|i| ((i * span) as f64 / (m - 1) as f64).round() as usize)
            .collect(),
    }
}

/// A video's prediction: the mean of its subsequences' class probabilities, paper B's test-time
/// rule. `probabilities` holds one row of `classes` probabilities per subsequence and `video_of`
/// the video of each row; the result has one row per video (`None` for a video with no
/// subsequence).
pub fn average_video_probabilities(
    probabilities: &[f32],
    classes: usize,
    video_of: &[u32],
    videos: usize,
) -> Vec<Option<Vec<f32>>> {
    let mut sums = vec![vec![0f64; classes]; videos];
    let mut counts = vec![0usize; videos];
    for (row, &v) in probabilities.chunks(classes.max(1)).zip(video_of) {
        let v = v as usize;
        if v >= videos {
            continue;
        }
        counts[v] += 1;
        for (s, p) in sums[v].iter_mut().zip(row) {
            *s += *p as f64;
        }
    }
    sums.into_iter()
        .zip(counts)
        .map(|(s, n)| (n > 0).then(|| s.iter().map(|x| (x / n as f64) as f32).collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_video() {
        assert_eq!(subsequence_starts(10, 3, None), vec![0, 3, 6]);
        assert_eq!(subsequence_starts(10, 3, Some(4)), vec![0, 2, 5, 7]);
        assert_eq!(subsequence_starts(10, 4, Some(1)), vec![3]);
        assert_eq!(subsequence_starts(2, 3, Some(2)), Vec::<usize>::new());
        assert_eq!(subsequence_starts(5, 5, Some(3)), vec![0, 0, 0]);
    }

    #[test]
    fn groups_come_from_ucf_names() {
        assert_eq!(clip_group("v_ApplyEyeMakeup_g08_c01"), "g08");
        assert_eq!(clip_group("ApplyEyeMakeup_clip01"), "ApplyEyeMakeup_clip01");
        assert_eq!(frame_number(Path::new("a/frame_00012.jpg")), Some(12));
        assert_eq!(frame_number(Path::new("a/img7x.png")), Some(7));
    }
}
