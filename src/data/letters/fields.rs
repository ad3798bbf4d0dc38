//! The geometry of a generated letter: the glyph's signed distance field (an exact Euclidean
//! distance transform, sampled bilinearly) and Simard et al.'s elastic distortion field.

use super::CANVAS;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A square grid of f32, sampled bilinearly; outside the grid, the border value plus the distance.
pub(super) struct Field {
    side: usize,
    values: Vec<f32>,
}

impl Field {
    pub(super) fn sample(&self, x: f32, y: f32) -> f32 {
        // Values sit at pixel centres.
        let max = (self.side - 1) as f32;
        let (fx, fy) = (x - 0.5, y - 0.5);
        let (cx, cy) = (fx.clamp(0.0, max), fy.clamp(0.0, max));
        let outside = if cx == fx && cy == fy {
            0.0
        } else {
            ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt()
        };
        let (ix, iy) = (
            (cx as usize).min(self.side - 2),
            (cy as usize).min(self.side - 2),
        );
        let (tx, ty) = (cx - ix as f32, cy - iy as f32);
        let at = |x: usize, y: usize| self.values[y * self.side + x];
        let top = at(ix, iy) * (1.0 - tx) + at(ix + 1, iy) * tx;
        let bottom = at(ix, iy + 1) * (1.0 - tx) + at(ix + 1, iy + 1) * tx;
        top * (1.0 - ty) + bottom * ty + outside
    }
}

/// Signed distance (pixels) to the edge of `coverage ≥ 0.5`: negative inside.
pub(super) fn signed_distance(coverage: &[f32]) -> Field {
    let inside: Vec<bool> = coverage.iter().map(|&c| c >= 0.5).collect();
    let to_inside = distance_transform(&inside, true);
    let to_outside = distance_transform(&inside, false);
    let values = (0..coverage.len())
        .map(|i| {
            if inside[i] {
                // Refine with coverage near the edge: a pixel of coverage c is ~c−0.5 inside.
                -(to_outside[i].sqrt() - 0.5).max(coverage[i] - 0.5)
            } else {
                (to_inside[i].sqrt() - 0.5).max(0.5 - coverage[i])
            }
        })
        .collect();
    Field {
        side: CANVAS,
        values,
    }
}

/// Squared Euclidean distance from each pixel to the nearest pixel whose `inside` equals `target`
/// (Felzenszwalb & Huttenlocher's exact transform, rows then columns).
fn distance_transform(inside: &[bool], target: bool) -> Vec<f32> {
    let n = CANVAS;
    const FAR: f32 = 1e7; // beyond any squared distance on the canvas, exact in f32
    let mut grid: Vec<f32> = inside
        .iter()
        .map(|&v| if v == target { 0.0 } else { FAR })
        .collect();
    let mut f = vec![0f32; n];
    let mut d = vec![0f32; n];
    let mut v = vec![0usize; n];
    let mut z = vec![0f32; n + 1];
    for y in 0..n {
        f.copy_from_slice(&grid[y * n..(y + 1) * n]);
        edt_1d(&f, &mut d, &mut v, &mut z);
        grid[y * n..(y + 1) * n].copy_from_slice(&d);
    }
    for x in 0..n {
        for y in 0..n {
            f[y] = grid[y * n + x];
        }
        edt_1d(&f, &mut d, &mut v, &mut z);
        for y in 0..n {
            grid[y * n + x] = d[y];
        }
    }
    grid
}

fn edt_1d(f: &[f32], d: &mut [f32], v: &mut [usize], z: &mut [f32]) {
    let n = f.len();
    let mut k = 0usize;
    v[0] = 0;
    z[0] = f32::NEG_INFINITY;
    z[1] = f32::INFINITY;
    for q in 1..n {
        let mut s;
        loop {
            let p = v[k];
            s = ((f[q] + (q * q) as f32) - (f[p] + (p * p) as f32)) / (2.0 * (q - p) as f32);
            // z[0] is −∞, so k never goes below 0.
            if s <= z[k] {
                k -= 1;
            } else {
                break;
            }
        }
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = f32::INFINITY;
    }
    k = 0;
    for (q, out) in d.iter_mut().enumerate() {
        while z[k + 1] < q as f32 {
            k += 1;
        }
        let p = v[k];
        *out = (q as f32 - p as f32).powi(2) + f[p];
    }
}

/// Separable Gaussian smoothing of a `side`×`side` grid, reflecting at the edges (like
/// scipy.ndimage's default), times `gain`.
fn smooth_reflect(src: &[f32], side: usize, kernel: &[f32], gain: f32) -> Vec<f32> {
    let radius = kernel.len() / 2;
    let reflect = |i: isize| -> usize {
        let m = side as isize;
        let i = if i < 0 { -i - 1 } else { i } % (2 * m);
        (if i >= m { 2 * m - 1 - i } else { i }) as usize
    };
    let padded: Vec<usize> = (0..side + 2 * radius)
        .map(|j| reflect(j as isize - radius as isize))
        .collect();
    let mut line = vec![0f32; padded.len()];
    let mut pass = |input: &[f32], stride: usize, step: usize, scale: f32| -> Vec<f32> {
        // Smooths along lines: element `x` of line `l` sits at `l * stride + x * step`.
        let mut out = vec![0f32; side * side];
        for l in 0..side {
            for (slot, &x) in line.iter_mut().zip(&padded) {
                *slot = input[l * stride + x * step];
            }
            for x in 0..side {
                let window = &line[x..x + kernel.len()];
                out[l * stride + x * step] =
                    scale * kernel.iter().zip(window).map(|(k, v)| k * v).sum::<f32>();
            }
        }
        out
    };
    let rows = pass(src, side, 1, 1.0);
    pass(&rows, 1, side, gain)
}

/// Simard et al.'s elastic distortion: uniform random displacements in −1…1 per grid cell,
/// smoothed by a Gaussian of σ cells and multiplied by α; read bilinearly between cells.
pub(super) struct ElasticField {
    side: usize,
    dx: Vec<f32>,
    dy: Vec<f32>,
    /// Largest displacement anywhere (cells).
    pub(super) max_shift: f32,
}

impl ElasticField {
    pub(super) fn new(rng: &mut ChaCha8Rng, extent: f32, alpha: f32, sigma: f32) -> Self {
        let side = extent.ceil() as usize + 2;
        let raw = |rng: &mut ChaCha8Rng| -> Vec<f32> {
            (0..side * side)
                .map(|_| rng.random_range(-1.0f32..=1.0))
                .collect::<Vec<_>>()
        };
        let (rx, ry) = (raw(rng), raw(rng));
        if alpha == 0.0 {
            return ElasticField {
                side,
                dx: vec![0.0; side * side],
                dy: vec![0.0; side * side],
                max_shift: 0.0,
            };
        }
        let radius = (3.0 * sigma).ceil() as isize;
        let kernel: Vec<f32> = (-radius..=radius)
            .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
            .collect();
        let total: f32 = kernel.iter().sum();
        let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
        let (dx, dy) = (
            smooth_reflect(&rx, side, &kernel, alpha),
            smooth_reflect(&ry, side, &kernel, alpha),
        );
        let max_shift = dx
            .iter()
            .zip(&dy)
            .map(|(x, y)| (x * x + y * y).sqrt())
            .fold(0.0, f32::max);
        ElasticField {
            side,
            dx,
            dy,
            max_shift,
        }
    }

    /// Displacement at `(x, y)` (in cells).
    pub(super) fn at(&self, x: f32, y: f32) -> (f32, f32) {
        let max = (self.side - 1) as f32;
        let (x, y) = (x.clamp(0.0, max), y.clamp(0.0, max));
        let (ix, iy) = (
            (x as usize).min(self.side - 2),
            (y as usize).min(self.side - 2),
        );
        let (tx, ty) = (x - ix as f32, y - iy as f32);
        let lerp = |v: &[f32]| {
            let at = |x: usize, y: usize| v[y * self.side + x];
            let top = at(ix, iy) * (1.0 - tx) + at(ix + 1, iy) * tx;
            let bottom = at(ix, iy + 1) * (1.0 - tx) + at(ix + 1, iy + 1) * tx;
            top * (1.0 - ty) + bottom * ty
        };
        (lerp(&self.dx), lerp(&self.dy))
    }
}
