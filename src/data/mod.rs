//! Image sets and their loaders. Every loader returns the same [`ImageSet`].
//!
//! Bad input never panics: every loader returns a [`DataError`] that names the file and the problem.

pub mod cifar;
pub mod clips;
pub mod embedded;
pub mod folder;
pub mod idx;
pub mod letters;
pub mod motion;
pub mod ocr;
pub mod source;

use std::path::{Path, PathBuf};

/// Largest image set a loader accepts (images × pixels): refuses hostile headers before allocating.
pub const MAX_TOTAL_BYTES: u64 = 4 << 30;

/// Reads a whole file, refusing one larger than `limit` bytes before allocating for it (a file
/// that grows while read is cut at `limit + 1` bytes and refused too). The error is an
/// [`std::io::Error`] of kind `InvalidData` that says the size and the limit; callers name the
/// file.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let too_big = |size: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{size} bytes is more than the {limit} bytes this kind of file may hold"),
        )
    };
    let size = file.metadata()?.len();
    if size > limit {
        return Err(too_big(size));
    }
    let mut out = Vec::with_capacity(size as usize);
    file.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(too_big(out.len() as u64));
    }
    Ok(out)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_bounded_text(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, limit)?).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text: {}", e.utf8_error()),
        )
    })
}

/// Which split an image belongs to, as its source defines it (official train/test files), or as a
/// seeded split decides for sources that have none.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Split {
    Train,
    Test,
}

/// N images of H×W×C `u8` pixels (row-major, channels interleaved), one label each.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    /// Human-readable name of the source ("MNIST", "CIFAR-10 subset", "generated letters", …).
    pub name: String,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    /// `len() * height * width * channels` bytes.
    pub pixels: Vec<u8>,
    /// Class index per image, `< class_names.len()`.
    pub labels: Vec<u16>,
    /// Split per image.
    pub splits: Vec<Split>,
    pub class_names: Vec<String>,
    /// The group of each image, for sources whose images come in ordered groups (OCR letters: the
    /// word each letter was written in, the letters of a word in the writer's order by index);
    /// empty for every other source.
    pub groups: Vec<u32>,
}

/// A loader's error: always names the file (or folder) and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {problem}", path.display())]
    Format { path: PathBuf, problem: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DataError {
    pub fn format(path: impl AsRef<Path>, problem: impl Into<String>) -> Self {
        DataError::Format {
            path: path.as_ref().to_path_buf(),
            problem: problem.into(),
        }
    }
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

impl ImageSet {
    /// Checks that all the parts agree; `origin` names the source in the error.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: impl Into<String>,
        height: usize,
        width: usize,
        channels: usize,
        pixels: Vec<u8>,
        labels: Vec<u16>,
        splits: Vec<Split>,
        class_names: Vec<String>,
        origin: &Path,
    ) -> Result<Self, DataError> {
        let per = height * width * channels;
        if per == 0 {
            return Err(DataError::format(origin, "image dimensions are zero"));
        }
        if pixels.len() != labels.len() * per {
            return Err(DataError::format(
                origin,
                format!(
                    "{} pixel bytes do not make {} images of {height}×{width}×{channels}",
                    pixels.len(),
                    labels.len()
                ),
            ));
        }
        if splits.len() != labels.len() {
            return Err(DataError::format(
                origin,
                "split count differs from label count",
            ));
        }
        if let Some(bad) = labels.iter().find(|&&l| l as usize >= class_names.len()) {
            return Err(DataError::format(
                origin,
                format!(
                    "label {bad} is out of range for {} classes",
                    class_names.len()
                ),
            ));
        }
        Ok(ImageSet {
            name: name.into(),
            height,
            width,
            channels,
            pixels,
            labels,
            splits,
            class_names,
            groups: Vec::new(),
        })
    }

    /// The same set with a group per image (see [`ImageSet::groups`]); `origin` names the source in
    /// the error when the counts differ.
    pub fn with_groups(mut self, groups: Vec<u32>, origin: &Path) -> Result<Self, DataError> {
        if groups.len() != self.len() {
            return Err(DataError::format(
                origin,
                format!("{} groups for {} images", groups.len(), self.len()),
            ));
        }
        self.groups = groups;
        Ok(self)
    }

    /// Whether the images come in groups (words).
    pub fn has_groups(&self) -> bool {
        !self.groups.is_empty()
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }
    /// Bytes per image (H·W·C).
    pub fn image_len(&self) -> usize {
        self.height * self.width * self.channels
    }
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }
    /// Number of images per class, optionally restricted to one split.
    pub fn class_counts(&self, split: Option<Split>) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for (l, s) in self.labels.iter().zip(&self.splits) {
            if split.is_none_or(|want| want == *s) {
                counts[*l as usize] += 1;
            }
        }
        counts
    }
    /// Number of images in a split.
    pub fn split_len(&self, split: Split) -> usize {
        self.splits.iter().filter(|&&s| s == split).count()
    }

    /// `count` image indices for a sample grid, cycling through the classes (first image of each
    /// class, then the second, …) so that a grid shows every class even when the set is sorted by
    /// class. Deterministic.
    pub fn sample_ids(&self, count: usize) -> Vec<usize> {
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.num_classes()];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class[l as usize].push(i);
        }
        let mut out = Vec::with_capacity(count.min(self.len()));
        let mut round = 0;
        while out.len() < count.min(self.len()) {
            for ids in &by_class {
                if let Some(&i) = ids.get(round)
                    && out.len() < count
                {
                    out.push(i);
                }
            }
            round += 1;
        }
        out
    }

    /// Indices of the images in a split.
    pub fn indices(&self, split: Split) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.splits[i] == split)
            .collect()
    }
    /// Appends another set with the same geometry and classes (used to join train and test files).
    pub fn append(&mut self, other: ImageSet, origin: &Path) -> Result<(), DataError> {
        if (other.height, other.width, other.channels) != (self.height, self.width, self.channels)
            || other.class_names != self.class_names
        {
            return Err(DataError::format(
                origin,
                format!(
                    "{}×{}×{} images with {} classes cannot join a set of {}×{}×{} with {} classes",
                    other.height,
                    other.width,
                    other.channels,
                    other.num_classes(),
                    self.height,
                    self.width,
                    self.channels,
                    self.num_classes()
                ),
            ));
        }
        if self.has_groups() != other.has_groups() {
            return Err(DataError::format(
                origin,
                "a set with groups (words) cannot join a set without",
            ));
        }
        self.pixels.extend_from_slice(&other.pixels);
        self.labels.extend_from_slice(&other.labels);
        self.splits.extend_from_slice(&other.splits);
        self.groups.extend_from_slice(&other.groups);
        Ok(())
    }
    /// Keeps at most `per_class` images of each class in each split (in order): small, balanced subsets.
    pub fn subset_per_class(&self, per_class: usize) -> ImageSet {
        let mut taken = std::collections::HashMap::new();
        let mut keep = Vec::new();
        for i in 0..self.len() {
            let c = taken
                .entry((self.labels[i], self.splits[i]))
                .or_insert(0usize);
            if *c < per_class {
                *c += 1;
                keep.push(i);
            }
        }
        self.select(&keep)
    }
    /// The images at `ids`, in that order.
    pub fn select(&self, ids: &[usize]) -> ImageSet {
        let n = self.image_len();
        let mut pixels = Vec::with_capacity(ids.len() * n);
        for &i in ids {
            pixels.extend_from_slice(self.image(i));
        }
        ImageSet {
            name: self.name.clone(),
            height: self.height,
            width: self.width,
            channels: self.channels,
            pixels,
            labels: ids.iter().map(|&i| self.labels[i]).collect(),
            splits: ids.iter().map(|&i| self.splits[i]).collect(),
            class_names: self.class_names.clone(),
            groups: if self.has_groups() {
                ids.iter().map(|&i| self.groups[i]).collect()
            } else {
                Vec::new()
            },
        }
    }
    /// Mean pixel value per channel over the whole set (used by the "mean" occluder fill).
    pub fn channel_means(&self) -> Vec<u8> {
        let c = self.channels;
        let mut sums = vec![0u64; c];
        for (i, &p) in self.pixels.iter().enumerate() {
            sums[i % c] += p as u64;
        }
        let per = (self.pixels.len() / c).max(1) as u64;
        sums.iter().map(|s| (s / per) as u8).collect()
    }
}

/// Assigns a seeded test split of `test_fraction` per class to a set that has no official split.
pub fn seeded_split(
    labels: &[u16],
    num_classes: usize,
    test_fraction: f64,
    seed: u64,
) -> Vec<Split> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut splits = vec![Split::Train; labels.len()];
    for class in 0..num_classes {
        let mut ids: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] as usize == class)
            .collect();
        ids.shuffle(&mut rng);
        let n_test = (ids.len() as f64 * test_fraction).round() as usize;
        for &i in &ids[..n_test] {
            splits[i] = Split::Test;
        }
    }
    splits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_ids_cycle_through_the_classes() {
        let labels = vec![0, 0, 0, 1, 1, 2];
        let set = ImageSet::new(
            "t",
            1,
            1,
            1,
            vec![0; 6],
            labels,
            vec![Split::Train; 6],
            vec!["a".into(), "b".into(), "c".into()],
            Path::new("t"),
        )
        .unwrap();
        assert_eq!(set.sample_ids(4), vec![0, 3, 5, 1]);
        assert_eq!(set.sample_ids(100).len(), 6);
        assert_eq!(set.split_len(Split::Train), 6);
    }
}
