//! OCR letters: 52,152 real handwritten lower-case letters from 6,877 words by about 150 writers
//! (R. Kassel, MIT; segmented by B. Taskar et al., NIPS 2003), the nearest real stand-in for EMNIST
//! letters that can be had offline.
//!
//! # Files (one folder)
//! * `ocr-letters-images-16x8-idx3-ubyte[.gz]`: IDX images, 16 rows × 8 columns, binary 0/255,
//!   ink = 255, stored row-major (no EMNIST transpose);
//! * `ocr-letters-labels-idx1-ubyte[.gz]`: labels 1–26 (a–z), the EMNIST-letters convention;
//! * `ocr-letters-folds-idx1-ubyte[.gz]`: the data set's own 10 cross-validation folds (0–9),
//!   split by word;
//! * `ocr-letters-words.tsv`: one line per word (header first): word index, fold, its letters,
//!   their count. The images are stored word after word, each word's letters in the writer's order.
//!
//! # What the loader does
//! Every file is validated against the others (counts, label and fold ranges, each word's letters
//! against the labels, each letter's fold against its word's); any disagreement is an error naming
//! the file and the place. Each glyph is then prepared the way EMNIST prepared its letters: the
//! ink's bounding box is scaled, aspect ratio kept, to fit a `size − 2·margin` square (24×24 by
//! default) and centred in a `size`×`size` image (28×28), bilinear filtering giving the edges grey
//! levels. The split follows the folds (by default folds 8 and 9 are the test split), so no word
//! has letters in both splits. [`ImageSet::groups`] holds each letter's word index, which the real
//! words source (`crate::sequence::words`) reads.
//!
//! Classes are `a`–`z` (pattern symbols match them case-insensitively, so the city names `BOSTON`
//! spell over them). They are very unbalanced (j: 189 … n: 5,024).

use super::folder::ink_box;
use super::idx::{find, parse_images, parse_labels, read_maybe_gz};
use super::{DataError, ImageSet, Split};
use std::path::{Path, PathBuf};

/// Number of classes: the letters a–z.
pub const NUM_LETTERS: usize = 26;
/// Number of folds of the data set.
pub const NUM_FOLDS: u8 = 10;
/// The words file's name.
pub const WORDS_FILE: &str = "ocr-letters-words.tsv";

/// How the OCR letters are loaded.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OcrOptions {
    /// Folds (0–9) that form the test split; the others are the training split.
    pub test_folds: Vec<u8>,
    /// Side of the square output images (28 like EMNIST).
    pub size: usize,
    /// Empty border around the fitted ink box (2: the glyph fits 24×24 inside 28×28, as EMNIST).
    pub margin: usize,
}

impl Default for OcrOptions {
    /// Folds 8 and 9 test (20 %), 28×28 images, glyph fitted into 24×24.
    fn default() -> Self {
        OcrOptions {
            test_folds: vec![8, 9],
            size: 28,
            margin: 2,
        }
    }
}

impl OcrOptions {
    fn check(&self, origin: &Path) -> Result<(), DataError> {
        if let Some(f) = self.test_folds.iter().find(|&&f| f >= NUM_FOLDS) {
            return Err(DataError::format(
                origin,
                format!("test fold {f} does not exist: the folds are 0–9"),
            ));
        }
        if self.test_folds.is_empty() || self.test_folds.len() >= NUM_FOLDS as usize {
            return Err(DataError::format(
                origin,
                format!(
                    "test folds {:?} leave no {} split: name 1 to 9 of the folds 0–9",
                    self.test_folds,
                    if self.test_folds.is_empty() {
                        "test"
                    } else {
                        "training"
                    }
                ),
            ));
        }
        if !(8..=512).contains(&self.size) || 2 * self.margin >= self.size {
            return Err(DataError::format(
                origin,
                format!(
                    "image size {} with margin {} is not usable (size 8–512, margin below half)",
                    self.size, self.margin
                ),
            ));
        }
        Ok(())
    }

    /// "folds 8, 9 test".
    pub fn describe_folds(&self) -> String {
        let folds: Vec<String> = self.test_folds.iter().map(|f| f.to_string()).collect();
        format!("folds {} test", folds.join(", "))
    }
}

/// One line of `ocr-letters-words.tsv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcrWord {
    pub index: u32,
    pub fold: u8,
    /// The letters as written (lower case; the writer's first, capital letter was removed by the
    /// data set's authors).
    pub letters: String,
}

/// Reads and checks `ocr-letters-words.tsv`: a header, then `index, fold, letters, n` per line with
/// indices 0, 1, 2, … in order, folds 0–9, letters a–z, and n their count.
pub fn read_words(path: &Path) -> Result<Vec<OcrWord>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.starts_with("word_index") => {}
        _ => {
            return Err(DataError::format(
                path,
                "line 1: expected the header word_index, fold, letters, n",
            ));
        }
    }
    let mut words = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |problem: String| DataError::format(path, format!("line {}: {problem}", i + 1));
        let fields: Vec<&str> = line.split('\t').collect();
        let [index, fold, letters, n] = fields[..] else {
            return Err(bad(format!(
                "{} tab-separated fields, expected 4 (index, fold, letters, n)",
                fields.len()
            )));
        };
        let index: u32 = index
            .trim()
            .parse()
            .map_err(|_| bad(format!("word index \"{index}\" is not a number")))?;
        if index as usize != words.len() {
            return Err(bad(format!(
                "word index {index} out of order: expected {}",
                words.len()
            )));
        }
        let fold: u8 = fold
            .trim()
            .parse()
            .ok()
            .filter(|&f| f < NUM_FOLDS)
            .ok_or_else(|| bad(format!("fold \"{fold}\" is not one of 0–9")))?;
        let letters = letters.trim().to_string();
        if letters.is_empty() || !letters.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(bad(format!("letters \"{letters}\" are not a–z")));
        }
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| bad(format!("letter count \"{n}\" is not a number")))?;
        if n != letters.len() {
            return Err(bad(format!(
                "letter count {n} differs from the {} letters \"{letters}\"",
                letters.len()
            )));
        }
        words.push(OcrWord {
            index,
            fold,
            letters,
        });
    }
    if words.is_empty() {
        return Err(DataError::format(path, "no words"));
    }
    Ok(words)
}

/// Finds the image file: `ocr-letters-images-16x8-idx3-ubyte` or `ocr-letters-images-idx3-ubyte`
/// (raw or `.gz`).
fn images_file(dir: &Path) -> Result<PathBuf, DataError> {
    find(
        dir,
        &[
            "ocr-letters-images-16x8-idx3-ubyte",
            "ocr-letters-images-idx3-ubyte",
        ],
    )
}

/// Loads the OCR letters folder (see the module docs).
pub fn load_dir(dir: &Path, opts: &OcrOptions) -> Result<ImageSet, DataError> {
    opts.check(dir)?;
    let images_path = images_file(dir)?;
    let labels_path = find(dir, &["ocr-letters-labels-idx1-ubyte"])?;
    let folds_path = find(dir, &["ocr-letters-folds-idx1-ubyte"])?;
    let words_path = dir.join(WORDS_FILE);

    let (n, rows, cols, pixels) = parse_images(&read_maybe_gz(&images_path)?, &images_path)?;
    let labels = parse_labels(&read_maybe_gz(&labels_path)?, &labels_path)?;
    let folds = parse_labels(&read_maybe_gz(&folds_path)?, &folds_path)?;
    for (path, len, what) in [
        (&labels_path, labels.len(), "labels"),
        (&folds_path, folds.len(), "folds"),
    ] {
        if len != n {
            return Err(DataError::format(
                path,
                format!(
                    "{len} {what} but {} holds {n} images",
                    images_path.display()
                ),
            ));
        }
    }
    if let Some(i) = labels.iter().position(|l| !(1..=26).contains(l)) {
        return Err(DataError::format(
            &labels_path,
            format!("letter {i} has label {}, outside 1–26", labels[i]),
        ));
    }
    if let Some(i) = folds.iter().position(|&f| f >= NUM_FOLDS) {
        return Err(DataError::format(
            &folds_path,
            format!("letter {i} is in fold {}, outside 0–9", folds[i]),
        ));
    }

    // Words: their letters must be the labels, in order, and share the word's fold.
    let words = read_words(&words_path)?;
    let total: usize = words.iter().map(|w| w.letters.len()).sum();
    if total != n {
        return Err(DataError::format(
            &words_path,
            format!(
                "the words hold {total} letters but {} holds {n} images",
                images_path.display()
            ),
        ));
    }
    let mut groups = Vec::with_capacity(n);
    for w in &words {
        for ch in w.letters.bytes() {
            let i = groups.len();
            if labels[i] != ch - b'a' + 1 {
                return Err(DataError::format(
                    &words_path,
                    format!(
                        "word {} \"{}\": letter {i} is '{}' but {} labels it '{}'",
                        w.index,
                        w.letters,
                        ch as char,
                        labels_path.display(),
                        (b'a' + labels[i] - 1) as char
                    ),
                ));
            }
            if folds[i] != w.fold {
                return Err(DataError::format(
                    &words_path,
                    format!(
                        "word {} \"{}\" is in fold {} but {} puts its letter {i} in fold {}",
                        w.index,
                        w.letters,
                        w.fold,
                        folds_path.display(),
                        folds[i]
                    ),
                ));
            }
            groups.push(w.index);
        }
    }

    let size = opts.size;
    let fitted = fit_all(&pixels, n, rows, cols, size, opts.margin);
    let splits = folds
        .iter()
        .map(|f| {
            if opts.test_folds.contains(f) {
                Split::Test
            } else {
                Split::Train
            }
        })
        .collect();
    let class_names = (b'a'..=b'z').map(|c| (c as char).to_string()).collect();
    ImageSet::new(
        "OCR letters",
        size,
        size,
        1,
        fitted,
        labels.iter().map(|&l| l as u16 - 1).collect(),
        splits,
        class_names,
        &images_path,
    )?
    .with_groups(groups, &words_path)
}

/// Fits every glyph (see [`fit_glyph`]), on all cores.
fn fit_all(
    pixels: &[u8],
    n: usize,
    rows: usize,
    cols: usize,
    size: usize,
    margin: usize,
) -> Vec<u8> {
    let per_in = rows * cols;
    let per_out = size * size;
    let mut out = vec![0u8; n * per_out];
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n.div_ceil(1024))
        .max(1);
    let chunk = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (c, dst) in out.chunks_mut(chunk * per_out).enumerate() {
            let src = &pixels[c * chunk * per_in..];
            s.spawn(move || {
                for (j, img) in dst.chunks_exact_mut(per_out).enumerate() {
                    let glyph = &src[j * per_in..(j + 1) * per_in];
                    img.copy_from_slice(&fit_glyph(glyph, rows, cols, size, margin));
                }
            });
        }
    });
    out
}

/// One glyph of `rows`×`cols` (row-major, ink bright) as EMNIST prepared its letters: the ink's
/// bounding box scaled, aspect ratio kept, into a `size − 2·margin` square and centred in a
/// `size`×`size` image. A blank glyph stays blank.
pub fn fit_glyph(glyph: &[u8], rows: usize, cols: usize, size: usize, margin: usize) -> Vec<u8> {
    let img = image::GrayImage::from_raw(cols as u32, rows as u32, glyph.to_vec())
        .expect("glyph buffer has rows × cols bytes");
    ink_box(&img, size as u32, size as u32, margin as u32).into_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glyph_fills_the_inner_box_keeping_its_aspect_ratio() {
        // A 6-row × 3-column block of ink in a 16×8 glyph: 24 rows × 12 columns once fitted.
        let mut g = vec![0u8; 16 * 8];
        for r in 5..11 {
            for c in 2..5 {
                g[r * 8 + c] = 255;
            }
        }
        let out = fit_glyph(&g, 16, 8, 28, 2);
        let ink: Vec<(usize, usize)> = (0..28 * 28)
            .filter(|&i| out[i] > 127)
            .map(|i| (i / 28, i % 28))
            .collect();
        let (r0, r1) = (
            ink.iter().map(|p| p.0).min().unwrap(),
            ink.iter().map(|p| p.0).max().unwrap(),
        );
        let (c0, c1) = (
            ink.iter().map(|p| p.1).min().unwrap(),
            ink.iter().map(|p| p.1).max().unwrap(),
        );
        assert_eq!((r0, r1), (2, 25), "24 rows, centred");
        assert_eq!((c0, c1), (8, 19), "12 columns, centred");
        assert!(fit_glyph(&[0; 128], 16, 8, 28, 2).iter().all(|&p| p == 0));
    }

    #[test]
    fn options_out_of_range_are_refused() {
        let o = |test_folds: Vec<u8>, size, margin| OcrOptions {
            test_folds,
            size,
            margin,
        };
        assert!(o(vec![8, 9], 28, 2).check(Path::new("x")).is_ok());
        let e = o(vec![10], 28, 2).check(Path::new("x")).unwrap_err();
        assert!(e.to_string().contains("fold 10"), "{e}");
        assert!(o(vec![], 28, 2).check(Path::new("x")).is_err());
        assert!(o((0..10).collect(), 28, 2).check(Path::new("x")).is_err());
        assert!(o(vec![9], 28, 14).check(Path::new("x")).is_err());
    }

    #[test]
    fn a_words_file_with_a_wrong_count_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(WORDS_FILE);
        std::fs::write(
            &p,
            "word_index\tfold\tletters\tn\n0\t3\tabc\t3\n1\t3\tde\t3\n",
        )
        .unwrap();
        let e = read_words(&p).unwrap_err().to_string();
        assert!(e.contains(WORDS_FILE) && e.contains("line 3"), "{e}");
        std::fs::write(&p, "word_index\tfold\tletters\tn\n0\t12\tabc\t3\n").unwrap();
        assert!(read_words(&p).unwrap_err().to_string().contains("fold"));
        std::fs::write(&p, "0\t1\tabc\t3\n").unwrap();
        assert!(read_words(&p).unwrap_err().to_string().contains("header"));
    }
}
