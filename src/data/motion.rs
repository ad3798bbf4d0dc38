//! Generated clips whose class is a **motion**, not an appearance: an embedded MNIST digit that
//! moves left / right / up / down, rotates clockwise / counter-clockwise, grows or shrinks on a
//! black canvas. Offline default data for paper B's experiments: a model that looks at frames one
//! at a time (or at the set of a clip's frames in any order) cannot tell the classes apart, one that
//! sees the order of the frames can.
//!
//! # How a clip is made
//! A clip of `frames` frames has a state per frame: position `(x, y)` (offset of the digit's centre
//! from the canvas centre, pixels), angle `θ` (degrees) and log-scale `s`. Each of the four starts
//! from a random centre value (`x, y ∈ ±max_offset`, `θ ∈ ±max_angle`, `s ∈ ±max_log_scale` around
//! `log(digit_scale)`). The class's parameter moves by a fixed step per frame
//! (`step_px`, `step_deg`, `step_log_scale`, all times `speed`), on a path centred on its centre
//! value: frame `k` has `centre + (k − (frames−1)/2) · step`. Every other parameter is constant
//! over the clip at `centre + u · (frames−1)/2 · step` with `u` uniform in ±1, so that **a single
//! frame's state has the same distribution whatever the class** (a frame of a digit rotating
//! clockwise looks like a frame of one moving left), and a clip and its time reverse (left /
//! right, grow / shrink, …) have exactly the same set of frames. Only the order says which way
//! it went.
//!
//! Digits come from the embedded MNIST set: training clips from its training split, test clips
//! from its test split. Frames are rendered by bilinear sampling of the 28×28 digit under the
//! inverse transform. Occlusion is not drawn here: the experiment's occlusion spec hides every
//! clip behind one occluder that stays put while the digit moves (see
//! `crate::sequence::clip_data`). Clip `i` has class `i % classes` and its own random stream
//! `(seed, i)`; the last `test_fraction` of each class's clips are the test split.

use super::clips::{ClipSet, VideoClip};
use super::{DataError, ImageSet, Split, embedded};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

const ORIGIN: &str = "generated motion clips";

/// A motion class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Motion {
    Left,
    Right,
    Up,
    Down,
    RotateCw,
    RotateCcw,
    Grow,
    Shrink,
}

impl Motion {
    pub const ALL: [Motion; 8] = [
        Motion::Left,
        Motion::Right,
        Motion::Up,
        Motion::Down,
        Motion::RotateCw,
        Motion::RotateCcw,
        Motion::Grow,
        Motion::Shrink,
    ];

    /// The class name.
    pub fn name(self) -> &'static str {
        match self {
            Motion::Left => "left",
            Motion::Right => "right",
            Motion::Up => "up",
            Motion::Down => "down",
            Motion::RotateCw => "rotate cw",
            Motion::RotateCcw => "rotate ccw",
            Motion::Grow => "grow",
            Motion::Shrink => "shrink",
        }
    }

    /// Which state parameter moves (0 x, 1 y, 2 angle, 3 log-scale) and which way (±1). Image
    /// y grows downwards; clockwise is a negative angle in the usual maths sense, drawn on an
    /// image with y down it turns clockwise on screen.
    fn axis(self) -> (usize, f32) {
        match self {
            Motion::Left => (0, -1.0),
            Motion::Right => (0, 1.0),
            Motion::Up => (1, -1.0),
            Motion::Down => (1, 1.0),
            Motion::RotateCw => (2, 1.0),
            Motion::RotateCcw => (2, -1.0),
            Motion::Grow => (3, 1.0),
            Motion::Shrink => (3, -1.0),
        }
    }
}

/// How the motion clips are generated.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MotionConfig {
    /// Clips per class.
    pub per_class: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Side of the square canvas, pixels.
    pub size: usize,
    /// The classes, in order.
    pub motions: Vec<Motion>,
    /// Seed of everything random (clip `i` uses the stream `(seed, i)`).
    pub seed: u64,
    /// Share of each class's clips in the test split.
    pub test_fraction: f64,
    /// Multiplies every per-frame step.
    pub speed: f32,
    /// Translation per frame, pixels.
    pub step_px: f32,
    /// Rotation per frame, degrees.
    pub step_deg: f32,
    /// Change of the log-scale per frame.
    pub step_log_scale: f32,
    /// Size of the digit's 28×28 box on the canvas at the centre scale, as a share of 28 px.
    pub digit_scale: f32,
    /// Range of the centre values: offset (pixels), angle (degrees), log-scale.
    pub max_offset: f32,
    pub max_angle: f32,
    pub max_log_scale: f32,
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig {
            per_class: 250,
            frames: 8,
            size: 32,
            motions: Motion::ALL.to_vec(),
            seed: 1,
            test_fraction: 0.2,
            speed: 1.0,
            step_px: 1.25,
            step_deg: 7.0,
            step_log_scale: 0.05,
            digit_scale: 0.62,
            max_offset: 3.0,
            max_angle: 15.0,
            max_log_scale: 0.08,
        }
    }
}

impl MotionConfig {
    /// Class names, in class order.
    pub fn class_names(&self) -> Vec<String> {
        self.motions.iter().map(|m| m.name().to_string()).collect()
    }

    /// Number of clips.
    pub fn clips(&self) -> usize {
        self.per_class.saturating_mul(self.motions.len())
    }

    fn check(&self) -> Result<(), DataError> {
        let bad = |m: String| Err(DataError::format(ORIGIN, m));
        if self.motions.is_empty() {
            return bad("no motions: give at least one class".into());
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(m) = self.motions.iter().find(|m| !seen.insert(**m)) {
            return bad(format!("motion {:?} is listed twice", m.name()));
        }
        if self.per_class == 0 || self.frames == 0 {
            return bad("per_class and frames must be at least 1".into());
        }
        if !(8..=256).contains(&self.size) {
            return bad(format!("canvas size {} is outside 8–256", self.size));
        }
        let bytes = [self.frames, self.size, self.size]
            .iter()
            .try_fold(self.clips() as u64, |acc, &n| acc.checked_mul(n as u64));
        if bytes.is_none_or(|b| b > super::MAX_TOTAL_BYTES) {
            return bad("that many clips would not fit in memory".into());
        }
        if !(0.0..1.0).contains(&self.test_fraction) {
            return bad(format!(
                "test fraction {} is outside 0–1",
                self.test_fraction
            ));
        }
        let numbers = [
            self.speed,
            self.step_px,
            self.step_deg,
            self.step_log_scale,
            self.digit_scale,
            self.max_offset,
            self.max_angle,
            self.max_log_scale,
        ];
        if numbers.iter().any(|v| !v.is_finite() || *v < 0.0) || self.digit_scale <= 0.0 {
            return bad("steps, ranges and scales must be finite and ≥ 0 (digit scale > 0)".into());
        }
        Ok(())
    }

    /// The split of clip `i`: the last `test_fraction` of each class's clips test.
    fn split(&self, i: usize) -> Split {
        let j = i / self.motions.len();
        let n_test = (self.per_class as f64 * self.test_fraction).round() as usize;
        if j + n_test >= self.per_class {
            Split::Test
        } else {
            Split::Train
        }
    }

    /// The clips without their pixels (the layout [`generate_motion`] produces).
    pub fn videos(&self) -> Result<Vec<VideoClip>, DataError> {
        self.check()?;
        let f = self.frames as u32;
        Ok((0..self.clips())
            .map(|i| {
                let class = (i % self.motions.len()) as u16;
                VideoClip {
                    name: format!("{}/clip{i:05}", self.motions[class as usize].name()),
                    class,
                    split: self.split(i),
                    group: format!("clip{i:05}"),
                    frames: (i as u32 * f..(i as u32 + 1) * f).collect(),
                    frame_numbers: (0..f).collect(),
                    folder_frames: self.frames,
                    files: Vec::new(),
                }
            })
            .collect())
    }
}

/// The state of every frame of one clip: `[x, y, angle°, log-scale]`.
pub fn clip_states(cfg: &MotionConfig, motion: Motion, rng: &mut impl Rng) -> Vec<[f32; 4]> {
    let steps = [
        cfg.step_px * cfg.speed,
        cfg.step_px * cfg.speed,
        cfg.step_deg * cfg.speed,
        cfg.step_log_scale * cfg.speed,
    ];
    let ranges = [
        cfg.max_offset,
        cfg.max_offset,
        cfg.max_angle,
        cfg.max_log_scale,
    ];
    let half = (cfg.frames as f32 - 1.0) / 2.0;
    let (axis, sign) = motion.axis();
    let mut centre = [0f32; 4];
    for p in 0..4 {
        let r = ranges[p];
        centre[p] = if r > 0.0 {
            rng.random_range(-r..=r)
        } else {
            0.0
        };
        if p != axis {
            centre[p] += rng.random_range(-1.0f32..=1.0) * half * steps[p];
        }
    }
    (0..cfg.frames)
        .map(|k| {
            let mut s = centre;
            s[axis] += sign * (k as f32 - half) * steps[axis];
            s
        })
        .collect()
}

/// Draws a 28×28 digit on a `size`×`size` black canvas in `state` (bilinear sampling under the
/// inverse transform).
pub fn render_frame(digit: &[u8], size: usize, base_scale: f32, state: [f32; 4]) -> Vec<u8> {
    let [x, y, angle, log_scale] = state;
    let scale = base_scale * log_scale.exp();
    let (sin, cos) = angle.to_radians().sin_cos();
    let c = size as f32 / 2.0;
    let sample = |sx: f32, sy: f32| -> f32 {
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let px = |xi: f32, yi: f32| -> f32 {
            if (0.0..28.0).contains(&xi) && (0.0..28.0).contains(&yi) {
                digit[yi as usize * 28 + xi as usize] as f32
            } else {
                0.0
            }
        };
        px(x0, y0) * (1.0 - fx) * (1.0 - fy)
            + px(x0 + 1.0, y0) * fx * (1.0 - fy)
            + px(x0, y0 + 1.0) * (1.0 - fx) * fy
            + px(x0 + 1.0, y0 + 1.0) * fx * fy
    };
    let mut out = vec![0u8; size * size];
    for oy in 0..size {
        for ox in 0..size {
            // Canvas pixel centre relative to the digit's centre, undo rotation and scale.
            let dx = ox as f32 + 0.5 - c - x;
            let dy = oy as f32 + 0.5 - c - y;
            let ux = (cos * dx + sin * dy) / scale;
            let uy = (-sin * dx + cos * dy) / scale;
            let v = sample(ux + 14.0 - 0.5, uy + 14.0 - 0.5);
            out[oy * size + ox] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Generates the clips (see the module docs).
pub fn generate_motion(cfg: &MotionConfig) -> Result<ClipSet, DataError> {
    let videos = cfg.videos()?;
    let digits = embedded::embedded_digits()?;
    let pools = [digits.indices(Split::Train), digits.indices(Split::Test)];
    if pools.iter().any(Vec::is_empty) {
        return Err(DataError::format(
            ORIGIN,
            "the embedded digits lack a split",
        ));
    }
    let per_clip = cfg.frames * cfg.size * cfg.size;
    let mut pixels = vec![0u8; videos.len() * per_clip];
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = videos.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (k, dst) in pixels.chunks_mut(chunk * per_clip).enumerate() {
            let (videos, digits, pools) = (&videos, &digits, &pools);
            s.spawn(move || {
                for (j, clip) in dst.chunks_mut(per_clip).enumerate() {
                    let i = k * chunk + j;
                    let video = &videos[i];
                    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
                    rng.set_stream(i as u64 + 1);
                    let pool = &pools[(video.split == Split::Test) as usize];
                    let digit = digits.image(pool[rng.random_range(0..pool.len())]);
                    let motion = cfg.motions[video.class as usize];
                    for (frame, state) in clip
                        .chunks_mut(cfg.size * cfg.size)
                        .zip(clip_states(cfg, motion, &mut rng))
                    {
                        frame.copy_from_slice(&render_frame(
                            digit,
                            cfg.size,
                            cfg.digit_scale,
                            state,
                        ));
                    }
                }
            });
        }
    });
    let mut labels = Vec::with_capacity(videos.len() * cfg.frames);
    let mut splits = Vec::with_capacity(videos.len() * cfg.frames);
    for v in &videos {
        labels.extend(std::iter::repeat_n(v.class, cfg.frames));
        splits.extend(std::iter::repeat_n(v.split, cfg.frames));
    }
    let frames = ImageSet::new(
        format!("motion clips ({} classes)", cfg.motions.len()),
        cfg.size,
        cfg.size,
        1,
        pixels,
        labels,
        splits,
        cfg.class_names(),
        Path::new(ORIGIN),
    )?;
    Ok(ClipSet { frames, videos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_and_its_reverse_share_their_frame_states() {
        let cfg = MotionConfig::default();
        let mut a = ChaCha8Rng::seed_from_u64(5);
        let mut b = ChaCha8Rng::seed_from_u64(5);
        let left = clip_states(&cfg, Motion::Left, &mut a);
        let mut right = clip_states(&cfg, Motion::Right, &mut b);
        right.reverse();
        for (l, r) in left.iter().zip(&right) {
            for p in 0..4 {
                assert!((l[p] - r[p]).abs() < 1e-4, "{l:?} {r:?}");
            }
        }
        // Only x moves for Left.
        assert!(
            left.windows(2)
                .all(|w| (w[1][0] - w[0][0] + 1.25).abs() < 1e-5)
        );
        assert!(
            left.windows(2)
                .all(|w| w[1][1] == w[0][1] && w[1][2] == w[0][2])
        );
    }

    #[test]
    fn the_identity_state_draws_the_digit_in_the_middle() {
        let mut digit = vec![0u8; 28 * 28];
        digit[14 * 28 + 14] = 255;
        let out = render_frame(&digit, 28, 1.0, [0.0; 4]);
        let (i, &max) = out.iter().enumerate().max_by_key(|(_, v)| **v).unwrap();
        assert_eq!((i / 28, i % 28, max), (14, 14, 255));
        let moved = render_frame(&digit, 28, 1.0, [3.0, -2.0, 0.0, 0.0]);
        let (j, _) = moved.iter().enumerate().max_by_key(|(_, v)| **v).unwrap();
        assert_eq!((j / 28, j % 28), (12, 17));
    }
}
