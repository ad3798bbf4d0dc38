//! Turns sequences into occluded pixels, and sequence sets into contact sheets.
//!
//! Occluders are drawn from the sequence's `occlusion_seed` and the image's id, so an image always
//! shows the same occluder, whoever renders it (training, GUI, quiz, sheet) and in whichever
//! condition (patterned or random order).

use super::builder::Sequence;
use crate::data::ImageSet;
use crate::occlusion::{OcclusionSpec, image_seed};

/// The occluded pixels of one image of a sequence (H×W×C).
pub fn render_image(
    set: &ImageSet,
    seq: &Sequence,
    position: usize,
    spec: &OcclusionSpec,
    mean: &[u8],
) -> Vec<u8> {
    let mut px = set.image(seq.images[position] as usize).to_vec();
    spec.occlude_seeded(
        &mut px,
        (set.height, set.width, set.channels),
        seq.levels[position],
        mean,
        image_seed(seq.occlusion_seed, seq.images[position] as usize),
    );
    px
}

/// The occluded pixels of every image of `sequences`, concatenated: `[n, T, H, W, C]`.
/// Work is split over the available cores.
pub fn render_all(set: &ImageSet, sequences: &[Sequence], spec: &OcclusionSpec) -> Vec<u8> {
    let mean = set.channel_means();
    let Some(first) = sequences.first() else {
        return Vec::new();
    };
    let t = first.images.len();
    let per_seq = t * set.image_len();
    let mut out = vec![0u8; sequences.len() * per_seq];
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = sequences.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (seqs, dst) in sequences.chunks(chunk).zip(out.chunks_mut(chunk * per_seq)) {
            let mean = &mean;
            s.spawn(move || {
                for (seq, dst) in seqs.iter().zip(dst.chunks_mut(per_seq)) {
                    for (pos, d) in dst.chunks_mut(set.image_len()).enumerate() {
                        d.copy_from_slice(set.image(seq.images[pos] as usize));
                        spec.occlude_seeded(
                            d,
                            (set.height, set.width, set.channels),
                            seq.levels[pos],
                            mean,
                            image_seed(seq.occlusion_seed, seq.images[pos] as usize),
                        );
                    }
                }
            });
        }
    });
    out
}

/// One colour per occlusion level (level 0 = grey, then yellow → orange → red → purple → blue as
/// severity grows), shared by the contact sheets, the plots and the GUI legend.
pub fn level_color(level: u8) -> [u8; 3] {
    const PALETTE: [[u8; 3]; 9] = [
        [150, 150, 150],
        [240, 215, 60],
        [245, 165, 45],
        [235, 110, 45],
        [215, 60, 60],
        [180, 50, 120],
        [130, 60, 170],
        [85, 75, 190],
        [50, 90, 170],
    ];
    PALETTE[(level as usize).min(PALETTE.len() - 1)]
}

/// A contact sheet: one row per sequence, each image scaled ×`scale` with a bar under it in its
/// level's colour (the bar's length grows with the level). Images are drawn occluded; with
/// `tint_occluders` the hidden pixels are tinted in the level's colour so that black occluders
/// on a black background can be seen.
pub fn contact_sheet(
    set: &ImageSet,
    sequences: &[Sequence],
    spec: &OcclusionSpec,
    scale: u32,
    tint_occluders: bool,
) -> image::RgbImage {
    let rows: Vec<(&Sequence, Vec<u64>)> = sequences
        .iter()
        .map(|seq| {
            let seeds = seq
                .images
                .iter()
                .map(|&id| image_seed(seq.occlusion_seed, id as usize))
                .collect();
            (seq, seeds)
        })
        .collect();
    sheet(set, &rows, spec, scale, tint_occluders)
}

/// [`contact_sheet`] of `rows`: each a sequence and the occluder seed of each of its images.
pub(crate) fn sheet(
    set: &ImageSet,
    rows: &[(&Sequence, Vec<u64>)],
    spec: &OcclusionSpec,
    scale: u32,
    tint_occluders: bool,
) -> image::RgbImage {
    let mean = set.channel_means();
    let t = rows.iter().map(|(s, _)| s.images.len()).max().unwrap_or(0) as u32;
    let (h, w) = (set.height as u32 * scale, set.width as u32 * scale);
    let (gap, bar) = (4u32, 6u32);
    let cell_w = w + gap;
    let cell_h = h + bar + 2 + gap;
    let levels = spec.num_levels().max(1) as u32;
    let mut img = image::RgbImage::from_pixel(
        (t * cell_w + gap).max(1),
        (rows.len() as u32 * cell_h + gap).max(1),
        image::Rgb([32, 32, 36]),
    );
    for (row, (seq, seeds)) in rows.iter().enumerate() {
        for (pos, (&id, &seed)) in seq.images.iter().zip(seeds).enumerate() {
            let mut px = set.image(id as usize).to_vec();
            let level = seq.levels[pos];
            let dims = (set.height, set.width, set.channels);
            let mask = spec.occlude_seeded(&mut px, dims, level, &mean, seed);
            let (x0, y0) = (gap + pos as u32 * cell_w, gap + row as u32 * cell_h);
            for y in 0..h {
                for x in 0..w {
                    let p = (y / scale) as usize * set.width + (x / scale) as usize;
                    let k = p * set.channels;
                    let mut rgb = if set.channels >= 3 {
                        [px[k], px[k + 1], px[k + 2]]
                    } else {
                        [px[k]; 3]
                    };
                    if tint_occluders && mask[p] {
                        let c = level_color(level);
                        rgb = [0, 1, 2].map(|j| ((rgb[j] as u16 + c[j] as u16 * 2) / 3) as u8);
                    }
                    img.put_pixel(x0 + x, y0 + y, image::Rgb(rgb));
                }
            }
            let len = if level == 0 {
                0
            } else {
                (w * level as u32 / levels).max(2)
            };
            for y in 0..bar {
                for x in 0..len {
                    img.put_pixel(x0 + x, y0 + h + 2 + y, image::Rgb(level_color(level)));
                }
            }
        }
    }
    img
}
