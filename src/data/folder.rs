//! Image folders: one sub-folder per class, PNG or JPEG files inside, converted to the requested
//! size, channel count and polarity. Folders have no official split, so a seeded one is made.

use super::{DataError, ImageSet, MAX_TOTAL_BYTES, seeded_split};
use image::imageops::FilterType;
use std::path::{Path, PathBuf};

/// What to do with the brightness of the images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
pub enum Polarity {
    /// Keep pixels as they are.
    Keep,
    /// Invert every image.
    Invert,
    /// Invert the images whose border is brighter than their centre, so that every image ends up
    /// with light ink on a dark background like MNIST/EMNIST (sketches and scans are usually the
    /// other way round).
    #[default]
    DarkBackground,
}

/// How an image is brought to the requested size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
pub enum Fit {
    /// Resize the whole image (photos, CIFAR-like folders).
    #[default]
    Resize,
    /// MNIST/EMNIST preprocessing for strokes: crop to the ink's bounding box, scale it to fit a
    /// box of `size − 2·margin` keeping the aspect ratio, centre it.
    InkBox { margin: u32 },
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FolderOptions {
    pub height: u32,
    pub width: u32,
    /// 1 (grey) or 3 (RGB).
    pub channels: u8,
    pub polarity: Polarity,
    pub fit: Fit,
    /// Share of each class put in the test split.
    pub test_fraction: f64,
    pub seed: u64,
}

impl Default for FolderOptions {
    fn default() -> Self {
        FolderOptions {
            height: 28,
            width: 28,
            channels: 1,
            polarity: Polarity::DarkBackground,
            fit: Fit::InkBox { margin: 4 },
            test_fraction: 0.2,
            seed: 0,
        }
    }
}

/// Image file extensions the folder and clip loaders read.
pub(super) const EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

/// The entries of `dir`, sorted by path.
pub(super) fn list_sorted(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        out.push(entry.map_err(|e| DataError::io(dir, e))?.path());
    }
    out.sort();
    Ok(out)
}

/// The image files of `dir` (by extension: [`EXTENSIONS`]), sorted by path.
pub(super) fn image_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    Ok(list_sorted(dir)?
        .into_iter()
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect())
}

/// The class folders of `root`: its sub-folders in name order, less those `skip` names; refused
/// when there are none (`none` says what was expected) or more than a class label can number.
pub(super) fn class_folders(
    root: &Path,
    skip: impl Fn(&Path) -> bool,
    none: &str,
) -> Result<Vec<PathBuf>, DataError> {
    let class_dirs: Vec<PathBuf> = list_sorted(root)?
        .into_iter()
        .filter(|p| p.is_dir() && !skip(p))
        .collect();
    if class_dirs.is_empty() {
        return Err(DataError::format(root, none));
    }
    if class_dirs.len() > u16::MAX as usize {
        return Err(DataError::format(
            root,
            format!(
                "{} class folders: at most {} classes",
                class_dirs.len(),
                u16::MAX
            ),
        ));
    }
    Ok(class_dirs)
}

/// The last part of a path, as text.
pub(super) fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// Checks a requested image shape: 1 or 3 channels, each side in `1..=max` (`what` names the
/// size in the message: "size", "frame size").
pub(super) fn check_shape(
    root: &Path,
    channels: u8,
    height: u32,
    width: u32,
    max: u32,
    what: &str,
) -> Result<(), DataError> {
    if !(channels == 1 || channels == 3) {
        return Err(DataError::format(
            root,
            format!("{channels} channels requested: only 1 or 3"),
        ));
    }
    if height == 0 || width == 0 || height > max || width > max {
        return Err(DataError::format(
            root,
            format!("requested {what} {height}×{width} is outside 1–{max}"),
        ));
    }
    Ok(())
}

/// Loads `root/<class>/<image>` into an [`ImageSet`]; classes are the sub-folders in name order.
pub fn load_folder(root: &Path, opts: &FolderOptions) -> Result<ImageSet, DataError> {
    check_shape(root, opts.channels, opts.height, opts.width, 4096, "size")?;
    let class_dirs = class_folders(
        root,
        |_| false,
        "no class sub-folders: expected one folder of images per class",
    )?;
    let per = opts.height as u64 * opts.width as u64 * opts.channels as u64;
    let mut class_names = Vec::new();
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (class, dir) in class_dirs.iter().enumerate() {
        class_names.push(file_name(dir));
        let files = image_files(dir)?;
        if files.is_empty() {
            return Err(DataError::format(
                dir,
                "empty class folder: no PNG or JPEG images",
            ));
        }
        for file in files {
            if pixels.len() as u64 + per > MAX_TOTAL_BYTES {
                return Err(DataError::format(
                    &file,
                    format!(
                        "the folder's images at {}×{}×{} pass the size limit of {} GiB",
                        opts.height,
                        opts.width,
                        opts.channels,
                        MAX_TOTAL_BYTES >> 30
                    ),
                ));
            }
            pixels.extend(load_one(&file, opts)?);
            labels.push(class as u16);
        }
    }
    let splits = seeded_split(&labels, class_names.len(), opts.test_fraction, opts.seed);
    ImageSet::new(
        file_name(root),
        opts.height as usize,
        opts.width as usize,
        opts.channels as usize,
        pixels,
        labels,
        splits,
        class_names,
        root,
    )
}

/// Decodes one file and converts it as `opts` says.
pub fn load_one(file: &Path, opts: &FolderOptions) -> Result<Vec<u8>, DataError> {
    let img = image::ImageReader::open(file)
        .map_err(|e| DataError::io(file, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(file, e))?
        .decode()
        .map_err(|e| DataError::format(file, format!("unreadable image: {e}")))?;
    let (w, h) = (opts.width, opts.height);
    if opts.channels == 3 {
        let mut rgb = img.to_rgb8();
        let invert = match opts.polarity {
            Polarity::Keep => false,
            Polarity::Invert => true,
            Polarity::DarkBackground => {
                border_brighter(&image::DynamicImage::ImageRgb8(rgb.clone()).to_luma8())
            }
        };
        if invert {
            image::imageops::invert(&mut rgb);
        }
        let out = image::imageops::resize(&rgb, w, h, FilterType::Triangle);
        return Ok(out.into_raw());
    }
    let mut grey = img.to_luma8();
    let invert = match opts.polarity {
        Polarity::Keep => false,
        Polarity::Invert => true,
        Polarity::DarkBackground => border_brighter(&grey),
    };
    if invert {
        image::imageops::invert(&mut grey);
    }
    let out = match opts.fit {
        Fit::Resize => image::imageops::resize(&grey, w, h, FilterType::Triangle),
        Fit::InkBox { margin } => ink_box(&grey, w, h, margin),
    };
    Ok(out.into_raw())
}

/// Mean of the outermost pixel ring brighter than the mean of the whole image.
fn border_brighter(img: &image::GrayImage) -> bool {
    let (w, h) = img.dimensions();
    let (mut border, mut nb, mut all) = (0u64, 0u64, 0u64);
    for (x, y, p) in img.enumerate_pixels() {
        all += p.0[0] as u64;
        if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
            border += p.0[0] as u64;
            nb += 1;
        }
    }
    let n = (w as u64 * h as u64).max(1);
    border * n > all * nb.max(1)
}

/// Crops to the ink (pixels above a quarter of the maximum), scales into the inner box keeping the
/// aspect ratio, and centres it on a black canvas.
pub(crate) fn ink_box(img: &image::GrayImage, w: u32, h: u32, margin: u32) -> image::GrayImage {
    let max = img.pixels().map(|p| p.0[0]).max().unwrap_or(0);
    let threshold = max / 4;
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        if p.0[0] > threshold {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    let mut canvas = image::GrayImage::new(w, h);
    if x0 > x1 || max == 0 {
        return canvas; // blank image: stays blank
    }
    let crop = image::imageops::crop_imm(img, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image();
    let (bw, bh) = (
        w.saturating_sub(2 * margin).max(1),
        h.saturating_sub(2 * margin).max(1),
    );
    let scale = (bw as f32 / crop.width() as f32).min(bh as f32 / crop.height() as f32);
    let nw = ((crop.width() as f32 * scale).round() as u32).clamp(1, bw);
    let nh = ((crop.height() as f32 * scale).round() as u32).clamp(1, bh);
    let scaled = image::imageops::resize(&crop, nw, nh, FilterType::Triangle);
    image::imageops::overlay(
        &mut canvas,
        &scaled,
        ((w - nw) / 2) as i64,
        ((h - nh) / 2) as i64,
    );
    canvas
}
