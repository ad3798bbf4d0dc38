//! The occlusion engine: black (or noise, or mean-coloured) occluders at graded severity levels.
//!
//! Paper A hides images behind black rectangles whose *border width* sets the severity, five levels
//! drawn in the ratio 1:1:1:1:1, at a random position. The paper gives no geometry, so occlab
//! defines it here, exposes every number in [`OcclusionSpec`], and documents the default:
//!
//! * **Frame** (default): a hollow rectangle. Its outer box has sides drawn uniformly from
//!   `box_min..=box_max` of the image side, at a uniformly random position inside the image, and
//!   a border of `level_widths[level-1]` × the shorter image side. A wide border leaves only a small
//!   window in the middle of the box, so the higher levels hide most of a centred digit.
//! * **Block**: a filled rectangle, side = `2 × width + 0.15` of the image side (clamped to 1),
//!   random position.
//! * **Bars**: two parallel bars across the whole image, each `width` thick, horizontal or vertical
//!   at random, at random offsets.
//!
//! Everything random comes from a seed: `occlude_seeded(…, seed)` draws the same occluder for the
//! same seed, so a sequence set stores one seed per sequence and its pixels can be rebuilt exactly.

use crate::data::ImageSet;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Occlusion level: 0 means unoccluded, 1..=L are increasingly severe.
pub type OcclusionLevel = u8;

/// Occluder shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    #[default]
    Frame,
    Block,
    Bars,
}

/// What the occluded pixels become.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// Zero in every channel (paper A).
    #[default]
    Black,
    /// Uniform random noise.
    Noise,
    /// The data set's mean colour.
    Mean,
}

/// Every parameter of the occluders. Serialised into presets and run configs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct OcclusionSpec {
    pub shape: Shape,
    pub fill: Fill,
    /// Border width of each level as a share of the shorter image side; the number of entries is
    /// the number of levels.
    pub level_widths: Vec<f32>,
    /// Relative frequency of each level (paper A: 1:1:1:1:1).
    pub level_mix: Vec<f64>,
    /// Smallest and largest side of the occluder's outer box, as a share of the image side.
    pub box_min: f32,
    pub box_max: f32,
}

impl Default for OcclusionSpec {
    fn default() -> Self {
        Self::paper_default()
    }
}

/// An occluder spec that cannot be used, with the reason.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    #[error("at least one occlusion level is needed")]
    NoLevels,
    #[error("{levels} level widths but {mix} level-mix weights: give one weight per level")]
    MixLength { levels: usize, mix: usize },
    #[error("level {level} width {width} is outside 0–0.5 of the image side")]
    Width { level: usize, width: f32 },
    #[error("level mix weights must be ≥ 0 and not all zero")]
    Mix,
    #[error("occluder box {min}–{max} must satisfy 0 < min ≤ max ≤ 1")]
    Box { min: f32, max: f32 },
}

impl OcclusionSpec {
    /// occlab's documented default for paper A: hollow black frames, five levels in 1:1:1:1:1,
    /// borders of 4 %, 8 %, 13 %, 19 % and 26 % of the image side (1, 2, 4, 5 and 7 px on 28×28),
    /// outer box 60–95 % of the side. Chosen by looking at MNIST: level 1 is a thin line, levels
    /// 4–5 leave only a small window of the digit.
    pub fn paper_default() -> Self {
        OcclusionSpec {
            shape: Shape::Frame,
            fill: Fill::Black,
            level_widths: vec![0.04, 0.08, 0.13, 0.19, 0.26],
            level_mix: vec![1.0; 5],
            box_min: 0.6,
            box_max: 0.95,
        }
    }

    pub fn num_levels(&self) -> usize {
        self.level_widths.len()
    }

    /// Largest level width accepted by [`validate`](Self::validate).
    pub const MAX_WIDTH: f32 = 0.5;

    /// Adds a level after the last one, 5 % of the side wider (capped), drawn as often as level 1.
    pub fn push_level(&mut self) {
        let next = self
            .level_widths
            .last()
            .map_or(0.04, |w| (w + 0.05).min(Self::MAX_WIDTH));
        self.level_widths.push(next);
        self.level_mix.resize(self.level_widths.len(), 1.0);
    }

    /// Removes the last level (and its weight); the last remaining level stays.
    pub fn pop_level(&mut self) {
        if self.level_widths.len() > 1 {
            self.level_widths.pop();
            self.level_mix.truncate(self.level_widths.len());
        }
    }

    pub fn validate(&self) -> Result<(), SpecError> {
        if self.level_widths.is_empty() {
            return Err(SpecError::NoLevels);
        }
        if self.level_mix.len() != self.level_widths.len() {
            return Err(SpecError::MixLength {
                levels: self.level_widths.len(),
                mix: self.level_mix.len(),
            });
        }
        for (i, &w) in self.level_widths.iter().enumerate() {
            if !(0.0..=0.5).contains(&w) {
                return Err(SpecError::Width {
                    level: i + 1,
                    width: w,
                });
            }
        }
        if self
            .level_mix
            .iter()
            .any(|&m| m.is_nan() || m < 0.0 || !m.is_finite())
            || self.level_mix.iter().sum::<f64>() <= 0.0
        {
            return Err(SpecError::Mix);
        }
        if !(self.box_min > 0.0 && self.box_min <= self.box_max && self.box_max <= 1.0) {
            return Err(SpecError::Box {
                min: self.box_min,
                max: self.box_max,
            });
        }
        Ok(())
    }

    /// The occluder mask (true = hidden) of `level` on an `h`×`w` image, drawn from `rng`.
    pub fn mask(&self, h: usize, w: usize, level: OcclusionLevel, rng: &mut impl Rng) -> Vec<bool> {
        let mut mask = vec![false; h * w];
        if level == 0 || h == 0 || w == 0 {
            return mask;
        }
        let li = (level as usize - 1).min(self.level_widths.len().saturating_sub(1));
        let side = h.min(w) as f32;
        let width = self.level_widths.get(li).copied().unwrap_or(0.0);
        let border = ((width * side).round() as usize).max(1);
        let mut fill_rect = |y0: usize, x0: usize, y1: usize, x1: usize| {
            for y in y0..y1.min(h) {
                mask[y * w + x0.min(w)..y * w + x1.min(w)].fill(true);
            }
        };
        match self.shape {
            Shape::Frame | Shape::Block => {
                let (bh, bw) = if self.shape == Shape::Frame {
                    let lo = self.box_min.min(self.box_max);
                    let hi = self.box_max.max(lo);
                    let bh = ((rng.random_range(lo..=hi) * h as f32).round() as usize).clamp(1, h);
                    let bw = ((rng.random_range(lo..=hi) * w as f32).round() as usize).clamp(1, w);
                    (bh, bw)
                } else {
                    let s = ((2.0 * width + 0.15).min(1.0) * side).round() as usize;
                    (s.clamp(1, h), s.clamp(1, w))
                };
                let y0 = rng.random_range(0..=h - bh);
                let x0 = rng.random_range(0..=w - bw);
                let (y1, x1) = (y0 + bh, x0 + bw);
                if self.shape == Shape::Block || 2 * border >= bh.min(bw) {
                    fill_rect(y0, x0, y1, x1);
                } else {
                    fill_rect(y0, x0, y0 + border, x1); // top
                    fill_rect(y1 - border, x0, y1, x1); // bottom
                    fill_rect(y0, x0, y1, x0 + border); // left
                    fill_rect(y0, x1 - border, y1, x1); // right
                }
            }
            Shape::Bars => {
                let horizontal = rng.random_bool(0.5);
                let extent = if horizontal { h } else { w };
                let thick = border.min(extent);
                for _ in 0..2 {
                    let at = rng.random_range(0..=extent - thick);
                    if horizontal {
                        fill_rect(at, 0, at + thick, w);
                    } else {
                        fill_rect(0, at, h, at + thick);
                    }
                }
            }
        }
        mask
    }

    /// Occludes one H×W×C image in place; returns the mask it applied.
    pub fn occlude(
        &self,
        pixels: &mut [u8],
        (h, w, c): (usize, usize, usize),
        level: OcclusionLevel,
        mean: &[u8],
        rng: &mut impl Rng,
    ) -> Vec<bool> {
        let mask = self.mask(h, w, level, rng);
        for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
            for ch in 0..c {
                pixels[i * c + ch] = match self.fill {
                    Fill::Black => 0,
                    Fill::Noise => rng.random(),
                    Fill::Mean => mean.get(ch).copied().unwrap_or(0),
                };
            }
        }
        mask
    }

    /// Like [`occlude`](Self::occlude) with the occluder drawn from `seed` alone.
    pub fn occlude_seeded(
        &self,
        pixels: &mut [u8],
        dims: (usize, usize, usize),
        level: OcclusionLevel,
        mean: &[u8],
        seed: u64,
    ) -> Vec<bool> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.occlude(pixels, dims, level, mean, &mut rng)
    }

    /// Measures, per level, the share of image pixels hidden and the share of foreground ("ink")
    /// hidden, averaged over up to `max_images` images of `set` (evenly spaced), occluders drawn
    /// from `seed`. Ink is every pixel whose luminance differs from the image's mean border
    /// luminance by more than 64 of 255 (the strokes of a digit, the object of a photo).
    pub fn coverage(&self, set: &ImageSet, max_images: usize, seed: u64) -> Vec<LevelCoverage> {
        let n = set.len().min(max_images.max(1));
        let step = (set.len() / n.max(1)).max(1);
        let (h, w, c) = (set.height, set.width, set.channels);
        let inks: Vec<Vec<bool>> = (0..n)
            .map(|k| ink_mask(set.image(k * step), h, w, c))
            .collect();
        (1..=self.num_levels() as u8)
            .map(|level| {
                let mut rng = ChaCha8Rng::seed_from_u64(
                    seed ^ (level as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                let (mut px, mut ink_hidden, mut ink_total) = (0usize, 0usize, 0usize);
                for ink in &inks {
                    let mask = self.mask(h, w, level, &mut rng);
                    px += mask.iter().filter(|m| **m).count();
                    ink_total += ink.iter().filter(|i| **i).count();
                    ink_hidden += mask.iter().zip(ink).filter(|(m, i)| **m && **i).count();
                }
                LevelCoverage {
                    level,
                    pixels_hidden: px as f64 / (n * h * w).max(1) as f64,
                    ink_hidden: if ink_total == 0 {
                        0.0
                    } else {
                        ink_hidden as f64 / ink_total as f64
                    },
                }
            })
            .collect()
    }
}

/// Measured coverage of one level.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LevelCoverage {
    pub level: OcclusionLevel,
    /// Share of all image pixels hidden, 0–1.
    pub pixels_hidden: f64,
    /// Share of foreground pixels hidden, 0–1.
    pub ink_hidden: f64,
}

/// Foreground pixels of one image (see [`OcclusionSpec::coverage`]).
pub fn ink_mask(img: &[u8], h: usize, w: usize, c: usize) -> Vec<bool> {
    let lum = |i: usize| -> i32 {
        if c >= 3 {
            (img[i * c] as i32 * 299 + img[i * c + 1] as i32 * 587 + img[i * c + 2] as i32 * 114)
                / 1000
        } else {
            img[i * c] as i32
        }
    };
    let (mut sum, mut n) = (0i64, 0i64);
    for y in 0..h {
        for x in 0..w {
            if y == 0 || x == 0 || y + 1 == h || x + 1 == w {
                sum += lum(y * w + x) as i64;
                n += 1;
            }
        }
    }
    let border = (sum / n.max(1)) as i32;
    (0..h * w).map(|i| (lum(i) - border).abs() > 64).collect()
}

/// Derives the occluder seed of one image from a set's occlusion seed and the image's id (one
/// SplitMix64 step), so that any image can be rebuilt on its own and looks the same wherever it
/// appears.
pub fn image_seed(set_seed: u64, image_id: usize) -> u64 {
    let mut z = set_seed.wrapping_add((image_id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_can_be_added_and_removed_with_their_weights() {
        let mut spec = OcclusionSpec::paper_default();
        spec.push_level();
        assert_eq!(spec.num_levels(), 6);
        assert_eq!(spec.level_mix.len(), 6);
        assert!((spec.level_widths[5] - 0.31).abs() < 1e-6);
        spec.validate().unwrap();
        for _ in 0..10 {
            spec.pop_level();
        }
        assert_eq!((spec.level_widths.len(), spec.level_mix.len()), (1, 1));
    }

    #[test]
    fn masks_grow_with_the_level_and_are_reproducible() {
        let spec = OcclusionSpec::paper_default();
        let hidden = |level| {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            (0..200)
                .map(|_| {
                    spec.mask(28, 28, level, &mut rng)
                        .iter()
                        .filter(|m| **m)
                        .count()
                })
                .sum::<usize>()
        };
        let counts: Vec<usize> = (0..=5).map(hidden).collect();
        assert_eq!(counts[0], 0, "level 0 hides nothing");
        assert!(counts.windows(2).all(|w| w[1] > w[0]), "{counts:?}");
        let mut a = vec![200u8; 784];
        let mut b = a.clone();
        spec.occlude_seeded(&mut a, (28, 28, 1), 4, &[0], 99);
        spec.occlude_seeded(&mut b, (28, 28, 1), 4, &[0], 99);
        assert_eq!(a, b);
        assert!(a.contains(&0) && a.contains(&200));
    }

    #[test]
    fn invalid_specs_are_named() {
        let mut spec = OcclusionSpec::paper_default();
        spec.level_mix.pop();
        assert_eq!(
            spec.validate(),
            Err(SpecError::MixLength { levels: 5, mix: 4 })
        );
        let spec = OcclusionSpec {
            box_min: 0.9,
            box_max: 0.5,
            ..OcclusionSpec::paper_default()
        };
        assert!(
            spec.validate()
                .unwrap_err()
                .to_string()
                .contains("0 < min ≤ max ≤ 1")
        );
        let spec = OcclusionSpec {
            level_mix: vec![0.0; 5],
            ..OcclusionSpec::paper_default()
        };
        assert_eq!(spec.validate(), Err(SpecError::Mix));
    }

    #[test]
    fn every_shape_and_fill_hides_pixels() {
        for shape in [Shape::Frame, Shape::Block, Shape::Bars] {
            for fill in [Fill::Black, Fill::Noise, Fill::Mean] {
                let spec = OcclusionSpec {
                    shape,
                    fill,
                    ..OcclusionSpec::paper_default()
                };
                let mut px = vec![255u8; 32 * 32 * 3];
                let mask = spec.occlude_seeded(&mut px, (32, 32, 3), 5, &[10, 20, 30], 1);
                let hidden = mask.iter().filter(|m| **m).count();
                assert!(hidden > 50, "{shape:?}/{fill:?}: {hidden}");
                let i = mask.iter().position(|m| *m).unwrap();
                if fill == Fill::Mean {
                    assert_eq!(&px[i * 3..i * 3 + 3], &[10, 20, 30]);
                }
                if fill == Fill::Black {
                    assert_eq!(&px[i * 3..i * 3 + 3], &[0, 0, 0]);
                }
            }
        }
    }
}
