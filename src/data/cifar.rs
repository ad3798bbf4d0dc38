//! CIFAR-10 binary batches: `data_batch_N.bin`, `test_batch.bin`, class names from
//! `batches.meta.txt`. Each record is 1 label byte + 3,072 bytes (R, G, B planes of 32×32).

use super::{DataError, ImageSet, MAX_TOTAL_BYTES, Split};
use std::path::Path;

const SIDE: usize = 32;
const PLANE: usize = SIDE * SIDE;
const RECORD: usize = 1 + 3 * PLANE;

/// The class names CIFAR-10 uses when `batches.meta.txt` is absent.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Parses one binary batch into interleaved RGB pixels (H×W×3) and labels.
pub fn parse_batch(
    bytes: &[u8],
    origin: &Path,
    num_classes: usize,
) -> Result<(Vec<u8>, Vec<u16>), DataError> {
    if bytes.is_empty() {
        return Err(DataError::format(origin, "empty file: no CIFAR-10 records"));
    }
    if !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::format(
            origin,
            format!(
                "{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records (truncated or not a binary batch)",
                bytes.len()
            ),
        ));
    }
    let n = bytes.len() / RECORD;
    let mut pixels = vec![0u8; n * 3 * PLANE];
    let mut labels = Vec::with_capacity(n);
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        let label = rec[0] as usize;
        if label >= num_classes {
            return Err(DataError::format(
                origin,
                format!("record {i} has label {label}, outside the {num_classes} classes"),
            ));
        }
        labels.push(label as u16);
        let out = &mut pixels[i * 3 * PLANE..(i + 1) * 3 * PLANE];
        for p in 0..PLANE {
            for c in 0..3 {
                out[p * 3 + c] = rec[1 + c * PLANE + p];
            }
        }
    }
    Ok((pixels, labels))
}

/// Reads `batches.meta.txt` (one class name per line) if present.
pub fn read_meta(dir: &Path) -> Result<Vec<String>, DataError> {
    let path = dir.join("batches.meta.txt");
    if !path.exists() {
        return Ok(CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect());
    }
    let text = super::read_bounded_text(&path, 1 << 20).map_err(|e| DataError::io(&path, e))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() || names.len() > 256 {
        return Err(DataError::format(
            &path,
            format!("{} class names: expected 1 to 256", names.len()),
        ));
    }
    Ok(names)
}

/// Loads every `data_batch_N.bin` (train) and `test_batch.bin` (test) found in `dir`.
pub fn load_dir(dir: &Path) -> Result<ImageSet, DataError> {
    let class_names = read_meta(dir)?;
    let mut files: Vec<(std::path::PathBuf, Split)> = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with("data_batch_") && name.ends_with(".bin") {
            files.push((path, Split::Train));
        } else if name == "test_batch.bin" {
            files.push((path, Split::Test));
        }
    }
    if files.is_empty() {
        return Err(DataError::format(
            dir,
            "no CIFAR-10 binary batches (data_batch_N.bin, test_batch.bin) in this folder",
        ));
    }
    files.sort();
    let mut set: Option<ImageSet> = None;
    let mut total = 0u64;
    for (path, split) in files {
        let bytes =
            super::read_bounded(&path, MAX_TOTAL_BYTES).map_err(|e| DataError::io(&path, e))?;
        total += bytes.len() as u64;
        if total > MAX_TOTAL_BYTES {
            return Err(DataError::format(
                &path,
                format!(
                    "the batches together pass the size limit of {} GiB",
                    MAX_TOTAL_BYTES >> 30
                ),
            ));
        }
        let (pixels, labels) = parse_batch(&bytes, &path, class_names.len())?;
        let n = labels.len();
        let part = ImageSet::new(
            "CIFAR-10",
            SIDE,
            SIDE,
            3,
            pixels,
            labels,
            vec![split; n],
            class_names.clone(),
            &path,
        )?;
        match set.as_mut() {
            None => set = Some(part),
            Some(s) => s.append(part, &path)?,
        }
    }
    Ok(set.expect("at least one batch"))
}
