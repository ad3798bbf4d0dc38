//! Generated EMNIST-like handwritten-style letters: a stand-in for EMNIST letters, which cannot be
//! had offline.
//!
//! 26 classes "A"–"Z"; like EMNIST letters, each class merges the capital and the small letter
//! (`lowercase_share` of each class is small). Each image is a glyph of one of the embedded fonts
//! ([`embedded_fonts`]: five handwriting-style fonts and one plain sans), drawn as MNIST/EMNIST
//! images look after loading: white ink (255) on black (0), upright, 28×28 by default.
//!
//! # How one image is made
//! 1. The glyph is rasterised (antialiased, by `ab_glyph`) with its larger side 64 px, and turned
//!    into a signed distance field (exact Euclidean distance transform): negative inside the ink.
//! 2. A random affine map (rotation, shear, per-axis scale) and a Simard-style elastic
//!    distortion (a field of uniform random displacements, smoothed by a Gaussian of
//!    `elastic_sigma` and scaled by `elastic_alpha`, both in pixels of a 28×28 image, as in
//!    Simard et al. 2003) warp the field.
//! 3. The ink is the region where the warped field is below an offset chosen so that the stroke,
//!    once the letter is scaled into the output box, is `stroke_min`–`stroke_max` pixels wide: the
//!    fonts' own weights are normalised away and replaced by a random pen width.
//! 4. MNIST preprocessing: the ink's bounding box is scaled (aspect ratio kept) into a 20×20 box
//!    (`size`·20/28), and the image is shifted so that the centre of mass of the ink lies at the
//!    centre, then by a small random translation. Edges are antialiased with a random softness.
//!
//! Image `i` has label `i % 26` and its own random stream `(seed, i)`, so it does not depend on
//! `per_class`: any subset is reproducible, and generation runs in parallel on all cores.

mod fields;

use super::embedded::embedded_fonts;
use super::{DataError, ImageSet, seeded_split};
use ab_glyph::{Font, FontRef, PxScale};
use fields::{ElasticField, Field, signed_distance};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::sync::OnceLock;

/// Number of classes: the letters A–Z.
pub const NUM_LETTERS: usize = 26;
/// Fonts whose small letters are only small capitals: used for capitals only.
const CAPITALS_ONLY: &[&str] = &["Humor-Sans"];
/// Working resolution: the glyph's larger side, in pixels.
const GLYPH_BOX: f32 = 64.0;
/// Working canvas side (the glyph sits in its middle with room for the warp).
const CANVAS: usize = 128;
/// Name used in errors and as the set's origin.
const ORIGIN: &str = "generated letters";

/// How the letters are generated. Lengths are in pixels of a 28×28 image (scaled with `size`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LetterConfig {
    /// Images per class (26 classes).
    pub per_class: usize,
    /// Seed of everything random (image `i` uses the stream `(seed, i)`).
    pub seed: u64,
    /// Share of each class put in the test split (seeded by `seed`).
    pub test_fraction: f64,
    /// Side of the square images (28 like EMNIST).
    pub size: usize,
    /// Share of small letters in each class (EMNIST letters merge both cases).
    pub lowercase_share: f64,
    /// Largest rotation, either way, in degrees.
    pub max_rotation_deg: f32,
    /// Largest horizontal shear (slant), either way: x += shear·y.
    pub max_shear: f32,
    /// Largest per-axis scale change (0.15 = ×0.86…×1.16 in log scale); the size is renormalised
    /// to the box afterwards, so in effect this varies the aspect ratio.
    pub scale_jitter: f32,
    /// Largest random shift, either way per axis, after centring the centre of mass.
    pub max_translation: f32,
    /// Elastic distortion strength α (Simard et al. use 34 with σ = 4); 0 turns it off.
    pub elastic_alpha: f32,
    /// Elastic distortion smoothness σ.
    pub elastic_sigma: f32,
    /// Narrowest pen width.
    pub stroke_min: f32,
    /// Widest pen width.
    pub stroke_max: f32,
    /// Fonts to draw from, by name (see [`font_names`]); empty means all.
    pub fonts: Vec<String>,
}

impl Default for LetterConfig {
    fn default() -> Self {
        LetterConfig {
            per_class: 1000,
            seed: 0,
            test_fraction: 0.2,
            size: 28,
            lowercase_share: 0.5,
            max_rotation_deg: 12.0,
            max_shear: 0.3,
            scale_jitter: 0.15,
            max_translation: 0.6,
            elastic_alpha: 20.0,
            elastic_sigma: 4.0,
            stroke_min: 1.8,
            stroke_max: 3.4,
            fonts: Vec::new(),
        }
    }
}

impl LetterConfig {
    fn check(&self) -> Result<(), DataError> {
        let bad = |problem: String| Err(DataError::format(ORIGIN, problem));
        if !(8..=512).contains(&self.size) {
            return bad(format!("image size {} is outside 8–512", self.size));
        }
        if self.per_class > 1_000_000 {
            return bad(format!(
                "{} images per class is more than 1,000,000",
                self.per_class
            ));
        }
        let total = self.per_class as u64 * 26 * self.size as u64 * self.size as u64;
        if total > super::MAX_TOTAL_BYTES {
            return bad(format!(
                "{} images per class of {}×{} pass the size limit of {} GiB",
                self.per_class,
                self.size,
                self.size,
                super::MAX_TOTAL_BYTES >> 30
            ));
        }
        if !(0.0..=1.0).contains(&self.test_fraction) {
            return bad(format!(
                "test fraction {} is outside 0–1",
                self.test_fraction
            ));
        }
        if !(0.0..=1.0).contains(&self.lowercase_share) {
            return bad(format!(
                "lowercase share {} is outside 0–1",
                self.lowercase_share
            ));
        }
        let finite_nonneg = [
            ("max_rotation_deg", self.max_rotation_deg),
            ("max_shear", self.max_shear),
            ("scale_jitter", self.scale_jitter),
            ("max_translation", self.max_translation),
            ("elastic_alpha", self.elastic_alpha),
            ("stroke_min", self.stroke_min),
        ];
        for (name, v) in finite_nonneg {
            if !v.is_finite() || v < 0.0 {
                return bad(format!("{name} = {v} must be a finite number ≥ 0"));
            }
        }
        if self.max_rotation_deg > 90.0 || self.max_shear > 1.0 || self.scale_jitter > 0.7 {
            return bad("rotation above 90°, shear above 1 or scale jitter above 0.7 make letters unreadable".into());
        }
        if !(self.elastic_sigma.is_finite() && (0.5..=20.0).contains(&self.elastic_sigma)) {
            return bad(format!(
                "elastic_sigma = {} is outside 0.5–20",
                self.elastic_sigma
            ));
        }
        if !(self.stroke_max.is_finite()
            && self.stroke_max >= self.stroke_min
            && self.stroke_max <= 8.0)
        {
            return bad(format!(
                "stroke range {}–{} must satisfy 0 ≤ min ≤ max ≤ 8",
                self.stroke_min, self.stroke_max
            ));
        }
        Ok(())
    }
}

/// Names of the fonts the generator can use (all the embedded fonts).
pub fn font_names() -> Vec<&'static str> {
    embedded_fonts().into_iter().map(|(name, _)| name).collect()
}

/// Class names "A".."Z".
pub fn letter_class_names() -> Vec<String> {
    (b'A'..=b'Z').map(|c| (c as char).to_string()).collect()
}

/// Generates `26 · per_class` letters: image `i` has label `i % 26`; split seeded by `seed`.
pub fn generate_letters(cfg: &LetterConfig) -> Result<ImageSet, DataError> {
    let generator = LetterGenerator::new(cfg)?;
    let n = cfg.per_class * NUM_LETTERS;
    let per = cfg.size * cfg.size;
    let mut pixels = vec![0u8; n * per];
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n.div_ceil(64))
        .max(1);
    let chunk_images = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (c, chunk) in pixels.chunks_mut(chunk_images * per).enumerate() {
            let generator = &generator;
            s.spawn(move || {
                for (j, out) in chunk.chunks_exact_mut(per).enumerate() {
                    generator.draw_into(c * chunk_images + j, out);
                }
            });
        }
    });
    let labels: Vec<u16> = (0..n).map(|i| (i % NUM_LETTERS) as u16).collect();
    let splits = seeded_split(
        &labels,
        NUM_LETTERS,
        cfg.test_fraction,
        cfg.seed ^ 0x5EED_5EED_5EED_5EED,
    );
    ImageSet::new(
        "generated letters (EMNIST-like)",
        cfg.size,
        cfg.size,
        1,
        pixels,
        labels,
        splits,
        letter_class_names(),
        Path::new(ORIGIN),
    )
}

struct FontEntry {
    name: &'static str,
    font: FontRef<'static>,
    capitals_only: bool,
}

/// Draws single letters; [`generate_letters`] uses it for whole sets, a GUI preview may use it for
/// a few images. Each glyph is rasterised once, on first use, and kept while the generator lives.
pub struct LetterGenerator {
    cfg: LetterConfig,
    fonts: Vec<FontEntry>,
    /// Indices into `fonts` usable for capitals / small letters.
    for_capitals: Vec<usize>,
    for_small: Vec<usize>,
    /// Glyphs rasterised so far (shared by the threads of [`generate_letters`]).
    glyphs: GlyphCache,
}

impl LetterGenerator {
    pub fn new(cfg: &LetterConfig) -> Result<Self, DataError> {
        cfg.check()?;
        let available = embedded_fonts();
        for wanted in &cfg.fonts {
            if !available.iter().any(|(name, _)| name == wanted) {
                return Err(DataError::format(
                    ORIGIN,
                    format!(
                        "unknown font {wanted:?}: the fonts are {}",
                        font_names().join(", ")
                    ),
                ));
            }
        }
        let mut fonts = Vec::new();
        for (name, bytes) in available {
            if !cfg.fonts.is_empty() && !cfg.fonts.iter().any(|f| f == name) {
                continue;
            }
            let font = FontRef::try_from_slice(bytes).map_err(|e| {
                DataError::format(
                    format!("assets/fonts/{name}"),
                    format!("embedded font does not parse: {e}"),
                )
            })?;
            for ch in ('A'..='Z').chain('a'..='z') {
                if font.glyph_id(ch).0 == 0 {
                    return Err(DataError::format(
                        format!("assets/fonts/{name}"),
                        format!("embedded font has no glyph for {ch:?}"),
                    ));
                }
            }
            fonts.push(FontEntry {
                name,
                font,
                capitals_only: CAPITALS_ONLY.contains(&name),
            });
        }
        let for_capitals: Vec<usize> = (0..fonts.len()).collect();
        let mut for_small: Vec<usize> = (0..fonts.len())
            .filter(|&f| !fonts[f].capitals_only)
            .collect();
        if for_small.is_empty() {
            // Only capitals-only fonts chosen: their small capitals stand in for small letters.
            for_small = for_capitals.clone();
        }
        Ok(LetterGenerator {
            cfg: cfg.clone(),
            glyphs: GlyphCache::new(fonts.len()),
            fonts,
            for_capitals,
            for_small,
        })
    }

    /// Image `index` of the set: its label (`index % 26`) and `size²` pixels.
    pub fn image(&self, index: usize) -> (u16, Vec<u8>) {
        let mut out = vec![0u8; self.cfg.size * self.cfg.size];
        self.draw_into(index, &mut out);
        ((index % NUM_LETTERS) as u16, out)
    }

    /// The font and character that image `index` shows (for inspection and tests).
    pub fn source_of(&self, index: usize) -> (&'static str, char) {
        let (font, ch) = self.pick(&mut self.rng(index), index);
        (self.fonts[font].name, ch)
    }

    fn rng(&self, index: usize) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed);
        rng.set_stream(index as u64);
        rng
    }

    fn pick(&self, rng: &mut ChaCha8Rng, index: usize) -> (usize, char) {
        let class = (index % NUM_LETTERS) as u8;
        let small = rng.random::<f64>() < self.cfg.lowercase_share;
        let (pool, ch) = if small {
            (&self.for_small, (b'a' + class) as char)
        } else {
            (&self.for_capitals, (b'A' + class) as char)
        };
        (pool[rng.random_range(0..pool.len())], ch)
    }

    fn draw_into(&self, index: usize, out: &mut [u8]) {
        let cfg = &self.cfg;
        let mut rng = self.rng(index);
        let (font, ch) = self.pick(&mut rng, index);
        let glyph = self.glyphs.get(&self.fonts[font], font, ch);
        let unit = cfg.size as f32 / 28.0; // output pixels per "28×28 pixel"
        let box_side = cfg.size as f32 * 20.0 / 28.0;

        // Random affine map (forward: glyph → warped), and its inverse.
        let theta = rng.random_range(-1.0f32..=1.0) * cfg.max_rotation_deg.to_radians();
        let shear = rng.random_range(-1.0f32..=1.0) * cfg.max_shear;
        let sx = (rng.random_range(-1.0f32..=1.0) * cfg.scale_jitter).exp();
        let sy = (rng.random_range(-1.0f32..=1.0) * cfg.scale_jitter).exp();
        let (sin, cos) = theta.sin_cos();
        // A = R · Sh · S, Sh = [[1, shear], [0, 1]], S = diag(sx, sy).
        let a = [
            [cos * sx, (cos * shear - sin) * sy],
            [sin * sx, (sin * shear + cos) * sy],
        ];
        let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
        let inv = [
            [a[1][1] / det, -a[0][1] / det],
            [-a[1][0] / det, a[0][0] / det],
        ];
        let dist_scale = det.abs().sqrt(); // warped pixels per glyph pixel, on average

        // Elastic field in units of "28×28 pixels": the 64-px glyph box is 20 such pixels.
        let k = GLYPH_BOX / 20.0;
        let field = ElasticField::new(
            &mut rng,
            CANVAS as f32 / k,
            cfg.elastic_alpha,
            cfg.elastic_sigma,
        );
        let stroke = rng.random_range(cfg.stroke_min..=cfg.stroke_max.max(cfg.stroke_min)) * unit;
        let softness = rng.random_range(0.9f32..=1.5) * unit;
        let jitter = [
            rng.random_range(-1.0f32..=1.0) * cfg.max_translation * unit,
            rng.random_range(-1.0f32..=1.0) * cfg.max_translation * unit,
        ];

        let c = CANVAS as f32 / 2.0;
        // Distance (in warped pixels) from warped point p to the glyph's edge; negative inside.
        let warped = |px: f32, py: f32| -> f32 {
            let (dx, dy) = field.at(px / k, py / k);
            let (qx, qy) = (px + dx * k - c, py + dy * k - c);
            let sx = c + inv[0][0] * qx + inv[0][1] * qy;
            let sy = c + inv[1][0] * qx + inv[1][1] * qy;
            glyph.sdf.sample(sx, sy) * dist_scale
        };

        // Bounding box of the warped ink (offset 0). The field is sampled every STRIDE pixels; a
        // sample with d < T lies inside the ink grown by T, at depth T − d, which proves that
        // grown ink reaches T − d further out; shrinking the box by T again gives the ink's box.
        // (T > STRIDE/2 so that no stroke slips between samples.)
        const STRIDE: usize = 2;
        const T: f32 = 1.5;
        // Only where ink can be: the glyph's box through the affine map, widened by the largest
        // elastic shift.
        let (mut rx0, mut ry0, mut rx1, mut ry1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        let [bx0, by0, bx1, by1] = glyph.ink_box;
        for (qx, qy) in [(bx0, by0), (bx1, by0), (bx0, by1), (bx1, by1)] {
            let (qx, qy) = (qx - c, qy - c);
            let px = c + a[0][0] * qx + a[0][1] * qy;
            let py = c + a[1][0] * qx + a[1][1] * qy;
            (rx0, ry0, rx1, ry1) = (rx0.min(px), ry0.min(py), rx1.max(px), ry1.max(py));
        }
        let margin = field.max_shift * k + T + STRIDE as f32 + 1.0;
        let lo = |v: f32| ((v - margin).floor().max(0.0) as usize).min(CANVAS);
        let hi = |v: f32| ((v + margin).ceil().max(0.0) as usize).min(CANVAS);
        let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for y in (lo(ry0)..hi(ry1)).step_by(STRIDE) {
            for x in (lo(rx0)..hi(rx1)).step_by(STRIDE) {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let depth = T - warped(px, py);
                if depth > 0.0 {
                    x0 = x0.min(px - depth + T);
                    x1 = x1.max(px + depth - T);
                    y0 = y0.min(py - depth + T);
                    y1 = y1.max(py + depth - T);
                }
            }
        }
        if x0 > x1 {
            // Nothing survived (cannot happen with valid settings): a black image.
            out.fill(0);
            return;
        }
        // Pen offset u (in warped pixels): the ink is {d < u}; it grows the box by 2u. Choose u so
        // that the stroke, scaled into the box, is `stroke` wide:
        // (w + 2u) · box / (B + 2u) = stroke.
        let b = (x1 - x0).max(y1 - y0);
        let w = glyph.stroke_width * dist_scale;
        let mut u = (stroke * b - w * box_side) / (2.0 * (box_side - stroke));
        u = u.max(-0.35 * w);
        let scale = box_side / (b + 2.0 * u); // output pixels per warped pixel
        let centre = [(x0 + x1) / 2.0, (y0 + y1) / 2.0];

        let eps = 0.5 / scale; // half an output pixel, in warped pixels
        let render = |out: &mut [u8], shift: [f32; 2]| {
            let half = cfg.size as f32 / 2.0;
            for oy in 0..cfg.size {
                for ox in 0..cfg.size {
                    let px = centre[0] + (ox as f32 + 0.5 - half - shift[0]) / scale;
                    let py = centre[1] + (oy as f32 + 0.5 - half - shift[1]) / scale;
                    // Distance to the edge in output pixels. The warp stretches the field
                    // locally; dividing by its gradient turns it back into a distance, so edges
                    // stay equally soft and strokes equally wide where the warp compresses.
                    // The gradient is clamped to 0.5–2, so far from the edge the pixel is
                    // fully ink or background whatever it is: skip computing it there.
                    let d = warped(px, py);
                    let edge = 0.5 * softness / scale;
                    let value = if d > 0.0 && d / 2.0 - u >= edge {
                        0
                    } else if d < 0.0 && d / 2.0 - u <= -edge {
                        255
                    } else {
                        let gx = warped(px + eps, py) - d;
                        let gy = warped(px, py + eps) - d;
                        let gradient = ((gx * gx + gy * gy).sqrt() / eps).clamp(0.5, 2.0);
                        let d = (d / gradient - u) * scale;
                        let coverage = (0.5 - d / softness).clamp(0.0, 1.0);
                        (coverage * 255.0).round() as u8
                    };
                    out[oy * cfg.size + ox] = value;
                }
            }
        };
        render(out, [0.0, 0.0]);
        // Centre of mass to the centre, then the random shift.
        let (mut sum, mut mx, mut my) = (0.0f64, 0.0f64, 0.0f64);
        for (i, &v) in out.iter().enumerate() {
            let v = v as f64;
            sum += v;
            mx += v * ((i % cfg.size) as f64 + 0.5);
            my += v * ((i / cfg.size) as f64 + 0.5);
        }
        if sum > 0.0 {
            let half = cfg.size as f64 / 2.0;
            let shift = [
                (half - mx / sum) as f32 + jitter[0],
                (half - my / sum) as f32 + jitter[1],
            ];
            render(out, shift);
        }
    }
}

/// A glyph rasterised at the working resolution: its signed distance field and pen width.
struct Glyph {
    sdf: Field,
    /// Mean stroke width in pixels of the working resolution (2·area / perimeter).
    stroke_width: f32,
    /// Box around every pixel with some ink: `[x0, y0, x1, y1]`, canvas coordinates.
    ink_box: [f32; 4],
}

/// Rasterised glyphs, each made once on first use and shared by all threads (the randomness
/// comes after rasterising).
struct GlyphCache(Vec<OnceLock<Glyph>>);

impl GlyphCache {
    fn new(fonts: usize) -> Self {
        GlyphCache((0..fonts * 52).map(|_| OnceLock::new()).collect())
    }

    fn get(&self, entry: &FontEntry, font: usize, ch: char) -> &Glyph {
        let slot = match ch {
            'A'..='Z' => ch as usize - 'A' as usize,
            _ => 26 + (ch as usize - 'a' as usize),
        };
        self.0[font * 52 + slot].get_or_init(|| rasterise(&entry.font, ch))
    }
}

/// Rasterises `ch` with its larger side `GLYPH_BOX`, centred on the canvas.
fn rasterise(font: &FontRef<'static>, ch: char) -> Glyph {
    let id = font.glyph_id(ch);
    let probe = 100.0;
    let mut coverage = vec![0f32; CANVAS * CANVAS];
    let bounds = font
        .outline_glyph(id.with_scale_and_position(PxScale::from(probe), ab_glyph::point(0.0, 0.0)))
        .map(|o| o.px_bounds());
    if let Some(bounds) = bounds {
        let side = bounds.width().max(bounds.height()).max(1.0);
        let scale = probe * GLYPH_BOX / side;
        if let Some(outline) = font.outline_glyph(
            id.with_scale_and_position(PxScale::from(scale), ab_glyph::point(0.0, 0.0)),
        ) {
            let b = outline.px_bounds();
            let off_x = (CANVAS as f32 / 2.0 - (b.min.x + b.max.x) / 2.0 + b.min.x).round() as i64;
            let off_y = (CANVAS as f32 / 2.0 - (b.min.y + b.max.y) / 2.0 + b.min.y).round() as i64;
            outline.draw(|x, y, v| {
                let (x, y) = (x as i64 + off_x, y as i64 + off_y);
                if (0..CANVAS as i64).contains(&x) && (0..CANVAS as i64).contains(&y) {
                    let cell = &mut coverage[y as usize * CANVAS + x as usize];
                    *cell = (*cell + v).min(1.0);
                }
            });
        }
    }
    // Pen width: 2·area / perimeter, the perimeter by the co-area formula (Σ |∇coverage|).
    let area: f32 = coverage.iter().sum();
    let mut perimeter = 0.0f32;
    for y in 1..CANVAS - 1 {
        for x in 1..CANVAS - 1 {
            let gx = (coverage[y * CANVAS + x + 1] - coverage[y * CANVAS + x - 1]) / 2.0;
            let gy = (coverage[(y + 1) * CANVAS + x] - coverage[(y - 1) * CANVAS + x]) / 2.0;
            perimeter += (gx * gx + gy * gy).sqrt();
        }
    }
    let stroke_width = if perimeter > 0.0 {
        2.0 * area / perimeter
    } else {
        1.0
    };
    let mut ink_box = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
    for (i, _) in coverage.iter().enumerate().filter(|(_, c)| **c > 0.0) {
        let (x, y) = ((i % CANVAS) as f32, (i / CANVAS) as f32);
        ink_box = [
            ink_box[0].min(x),
            ink_box[1].min(y),
            ink_box[2].max(x + 1.0),
            ink_box[3].max(y + 1.0),
        ];
    }
    if ink_box[0] > ink_box[2] {
        ink_box = [0.0, 0.0, CANVAS as f32, CANVAS as f32];
    }
    Glyph {
        sdf: signed_distance(&coverage),
        stroke_width,
        ink_box,
    }
}
