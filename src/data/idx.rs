//! IDX files (MNIST, Fashion-MNIST, EMNIST), raw or gzipped.
//!
//! Format: big-endian magic `0x0000_08DD` (type 0x08 = u8, DD = number of dimensions), then one
//! u32 per dimension, then the data. Images are `[n, rows, cols]`, labels `[n]`.
//! EMNIST stores every image transposed (column-major) and its letters split labels 1–26; both are
//! undone by [`IdxLayout::Emnist`].

use super::{DataError, ImageSet, MAX_TOTAL_BYTES, Split};
use std::io::Read;
use std::path::{Path, PathBuf};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// How the images and labels of an IDX pair are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
pub enum IdxLayout {
    /// MNIST / Fashion-MNIST: row-major images, labels 0-based.
    #[default]
    Standard,
    /// EMNIST: images transposed; labels as stored (0-based for digits, balanced, …).
    EmnistTransposed,
    /// EMNIST letters split: images transposed, labels 1–26 for A–Z.
    EmnistLetters,
}

/// Reads a file fully and inflates it when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes =
        super::read_bounded(path, MAX_TOTAL_BYTES + 64).map_err(|e| DataError::io(path, e))?;
    gunzip_if_needed(&bytes, path)
}

/// Inflates `bytes` when they start with the gzip magic, else returns them unchanged.
/// The inflated size is bounded by [`MAX_TOTAL_BYTES`].
pub fn gunzip_if_needed(bytes: &[u8], origin: &Path) -> Result<Vec<u8>, DataError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_TOTAL_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            DataError::format(origin, format!("gzip stream is corrupt or truncated: {e}"))
        })?;
    if out.len() as u64 > MAX_TOTAL_BYTES {
        return Err(DataError::format(
            origin,
            "gzip stream inflates past the size limit",
        ));
    }
    Ok(out)
}

fn header(bytes: &[u8], origin: &Path, magic: u32, what: &str) -> Result<Vec<u32>, DataError> {
    if bytes.len() < 4 {
        return Err(DataError::format(
            origin,
            format!(
                "truncated: {} bytes, too short for an IDX header",
                bytes.len()
            ),
        ));
    }
    let found = u32::from_be_bytes(bytes[0..4].try_into().unwrap());
    if found != magic {
        return Err(DataError::format(
            origin,
            format!("wrong magic 0x{found:08x}: expected 0x{magic:08x} for IDX {what}"),
        ));
    }
    let dims = (magic & 0xff) as usize;
    let need = 4 + 4 * dims;
    if bytes.len() < need {
        return Err(DataError::format(
            origin,
            format!(
                "truncated: header needs {need} bytes, file has {}",
                bytes.len()
            ),
        ));
    }
    Ok((0..dims)
        .map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().unwrap()))
        .collect())
}

/// Checks that the payload after a header of `dims` matches their product exactly.
fn payload<'a>(bytes: &'a [u8], origin: &Path, dims: &[u32]) -> Result<&'a [u8], DataError> {
    let start = 4 + 4 * dims.len();
    let expected = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&n| n <= MAX_TOTAL_BYTES)
        .ok_or_else(|| {
            DataError::format(
                origin,
                format!(
                    "absurd dimensions {dims:?}: their product overflows or exceeds the size limit"
                ),
            )
        })?;
    let have = (bytes.len() - start) as u64;
    if have < expected {
        return Err(DataError::format(
            origin,
            format!("truncated: dimensions {dims:?} need {expected} data bytes, file has {have}"),
        ));
    }
    if have > expected {
        return Err(DataError::format(
            origin,
            format!(
                "{} trailing bytes after the {expected} data bytes that dimensions {dims:?} describe",
                have - expected
            ),
        ));
    }
    Ok(&bytes[start..])
}

/// Parses an IDX image file (already inflated): `(n, rows, cols, pixels)`.
pub fn parse_images(
    bytes: &[u8],
    origin: &Path,
) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    let dims = header(bytes, origin, IMAGES_MAGIC, "images (3 dimensions, u8)")?;
    if dims[1] == 0 || dims[2] == 0 {
        return Err(DataError::format(
            origin,
            format!("image size {}×{} is empty", dims[1], dims[2]),
        ));
    }
    let data = payload(bytes, origin, &dims)?;
    Ok((
        dims[0] as usize,
        dims[1] as usize,
        dims[2] as usize,
        data.to_vec(),
    ))
}

/// Parses an IDX label file (already inflated).
pub fn parse_labels(bytes: &[u8], origin: &Path) -> Result<Vec<u8>, DataError> {
    let dims = header(bytes, origin, LABELS_MAGIC, "labels (1 dimension, u8)")?;
    Ok(payload(bytes, origin, &dims)?.to_vec())
}

/// Builds an [`ImageSet`] from parsed images and labels, undoing the layout.
#[allow(clippy::too_many_arguments)]
pub fn image_set_from_parts(
    name: &str,
    (n, rows, cols, mut pixels): (usize, usize, usize, Vec<u8>),
    labels: Vec<u8>,
    layout: IdxLayout,
    class_names: Option<Vec<String>>,
    split: Split,
    images_path: &Path,
    labels_path: &Path,
) -> Result<ImageSet, DataError> {
    if labels.len() != n {
        return Err(DataError::format(
            labels_path,
            format!(
                "{} labels but {} holds {n} images",
                labels.len(),
                images_path.display()
            ),
        ));
    }
    if layout != IdxLayout::Standard {
        let per = rows * cols;
        let mut buf = vec![0u8; per];
        for img in pixels.chunks_exact_mut(per) {
            // Stored column-major: pixel (r, c) sits at c*rows + r.
            for r in 0..rows {
                for c in 0..cols {
                    buf[r * cols + c] = img[c * rows + r];
                }
            }
            img.copy_from_slice(&buf);
        }
    }
    // What the layout promises: every label names one of its classes. Checked here, with the
    // label file and the record named, rather than inferring the class count from the largest
    // label seen (which let a corrupt file with label 200 train a 201-class model).
    let classes = class_names
        .as_ref()
        .map_or_else(|| promised_classes(None, layout), Vec::len);
    let first_label = usize::from(layout == IdxLayout::EmnistLetters);
    if let Some((i, &l)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| (l as usize) < first_label || l as usize >= classes + first_label)
    {
        let range = if first_label == 1 {
            format!("1–{classes} of the EMNIST letters split")
        } else {
            format!("0–{} ({classes} classes)", classes.saturating_sub(1))
        };
        return Err(DataError::format(
            labels_path,
            format!("record {i} has label {l}, outside {range}"),
        ));
    }
    let labels: Vec<u16> = match layout {
        IdxLayout::EmnistLetters => labels.iter().map(|&l| l as u16 - 1).collect(),
        _ => labels.iter().map(|&l| l as u16).collect(),
    };
    let class_names = match (class_names, layout) {
        (Some(names), _) => names,
        (None, IdxLayout::EmnistLetters) => {
            (b'A'..=b'Z').map(|c| (c as char).to_string()).collect()
        }
        (None, _) => (0..classes).map(|c| c.to_string()).collect(),
    };
    let splits = vec![split; n];
    ImageSet::new(
        name,
        rows,
        cols,
        1,
        pixels,
        labels,
        splits,
        class_names,
        images_path,
    )
}

/// The number of classes an IDX set promises, from its layout and (for EMNIST) its file-name
/// prefix: MNIST-style files 10; EMNIST letters 26; EMNIST `digits`/`mnist` 10, `balanced`/`bymerge`
/// 47, `byclass` (and an unknown prefix) 62. A label outside is an error naming the file.
pub fn promised_classes(prefix: Option<&str>, layout: IdxLayout) -> usize {
    match layout {
        IdxLayout::Standard => 10,
        IdxLayout::EmnistLetters => 26,
        IdxLayout::EmnistTransposed => {
            let split = prefix.unwrap_or_default().to_ascii_lowercase();
            if split.ends_with("digits") || split.ends_with("mnist") {
                10
            } else if split.ends_with("balanced") || split.ends_with("bymerge") {
                47
            } else {
                62
            }
        }
    }
}

/// Loads one IDX image file and its label file.
pub fn load_pair(
    name: &str,
    images_path: &Path,
    labels_path: &Path,
    layout: IdxLayout,
    class_names: Option<Vec<String>>,
    split: Split,
) -> Result<ImageSet, DataError> {
    let images = parse_images(&read_maybe_gz(images_path)?, images_path)?;
    let labels = parse_labels(&read_maybe_gz(labels_path)?, labels_path)?;
    image_set_from_parts(
        name,
        images,
        labels,
        layout,
        class_names,
        split,
        images_path,
        labels_path,
    )
}

/// Finds `stem` or `stem.gz` in `dir`.
pub(crate) fn find(dir: &Path, stems: &[&str]) -> Result<PathBuf, DataError> {
    for stem in stems {
        for candidate in [dir.join(stem), dir.join(format!("{stem}.gz"))] {
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(DataError::format(
        dir,
        format!(
            "no IDX file named {} (or .gz) in this folder",
            stems.join(" / ")
        ),
    ))
}

/// Loads a folder holding the standard four MNIST-style files (train and test, images and labels),
/// e.g. MNIST or Fashion-MNIST; also accepts the EMNIST file names with `prefix` such as
/// `emnist-letters`.
pub fn load_dir(
    dir: &Path,
    name: &str,
    prefix: Option<&str>,
    layout: IdxLayout,
) -> Result<ImageSet, DataError> {
    let (tri, trl, tei, tel) = match prefix {
        Some(p) => (
            format!("{p}-train-images-idx3-ubyte"),
            format!("{p}-train-labels-idx1-ubyte"),
            format!("{p}-test-images-idx3-ubyte"),
            format!("{p}-test-labels-idx1-ubyte"),
        ),
        None => (
            "train-images-idx3-ubyte".into(),
            "train-labels-idx1-ubyte".into(),
            "t10k-images-idx3-ubyte".into(),
            "t10k-labels-idx1-ubyte".into(),
        ),
    };
    let (tri, trl) = (
        find(dir, &[&tri, "train-images.idx3-ubyte"])?,
        find(dir, &[&trl, "train-labels.idx1-ubyte"])?,
    );
    let (tei, tel) = (
        find(dir, &[&tei, "t10k-images.idx3-ubyte"])?,
        find(dir, &[&tel, "t10k-labels.idx1-ubyte"])?,
    );
    // The classes the files promise; every label must be one of them.
    let names: Option<Vec<String>> = match layout {
        IdxLayout::EmnistLetters => None,
        _ => Some(
            (0..promised_classes(prefix, layout))
                .map(|c| c.to_string())
                .collect(),
        ),
    };
    // Parse both splits on two threads: inflating full MNIST dominates the load time.
    let (train, test) = std::thread::scope(|s| {
        let test = s.spawn(|| load_pair(name, &tei, &tel, layout, names.clone(), Split::Test));
        let train = load_pair(name, &tri, &trl, layout, names.clone(), Split::Train);
        let test = test
            .join()
            .unwrap_or_else(|_| Err(DataError::format(&tei, "the IDX loader thread panicked")));
        (train, test)
    });
    let mut train = train?;
    train.append(test?, dir)?;
    Ok(train)
}

/// Writes images and labels as an IDX pair (raw, not gzipped); used by tests and the asset script.
pub fn encode_images(n: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + pixels.len());
    out.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
    for d in [n, rows, cols] {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as an IDX label file.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}
