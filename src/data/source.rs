//! Where an experiment's images come from, as a preset names it.

use super::clips::{ClipOptions, ClipSet, VideoClip, list_clips, load_clips};
use super::folder::{FolderOptions, load_folder};
use super::idx::{self, IdxLayout};
use super::letters::{LetterConfig, generate_letters};
use super::motion::{MotionConfig, generate_motion};
use super::ocr::{self, OcrOptions};
use super::{DataError, ImageSet, cifar, embedded};
use std::path::{Path, PathBuf};

/// A data source. Relative paths are resolved against the data folder (`--data-dir` or
/// `OCCLAB_DATA_DIR`); absolute paths are used as they are.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum DataSource {
    /// The ~10,000 real MNIST digits embedded in the binary (works offline, no files).
    #[default]
    EmbeddedDigits,
    /// A folder with the four MNIST-style IDX files (MNIST, Fashion-MNIST), raw or gzipped.
    Idx {
        path: PathBuf,
        /// File-name prefix for EMNIST (`emnist-letters`), none for MNIST names.
        #[serde(default)]
        prefix: Option<String>,
        #[serde(default)]
        layout: IdxLayout,
        #[serde(default = "default_idx_name")]
        name: String,
    },
    /// A folder of CIFAR-10 binary batches.
    Cifar10 { path: PathBuf },
    /// A folder with one sub-folder of images per class.
    Folder {
        path: PathBuf,
        #[serde(default)]
        options: FolderOptions,
    },
    /// Generated EMNIST-like handwritten letters (stand-in for EMNIST letters, offline).
    Letters {
        #[serde(default)]
        config: LetterConfig,
    },
    /// Real handwritten lower-case letters a–z (the "OCR letters" set) in a folder: IDX images of
    /// 16×8, labels, folds and the words file, fitted to 28×28 as EMNIST was; train and test by the
    /// data set's folds, so no word is split. The images remember their words.
    OcrLetters {
        path: PathBuf,
        #[serde(default)]
        options: OcrOptions,
    },
    /// Video clips as frame folders (`Class/clip/frame_00001.jpg`, the UCF-101 extraction
    /// layout); the images are the sampled frames.
    Clips {
        path: PathBuf,
        #[serde(default)]
        options: ClipOptions,
    },
    /// Generated clips whose class is a motion of an embedded digit (paper B's offline default).
    Motion {
        #[serde(default)]
        config: MotionConfig,
    },
}

fn default_idx_name() -> String {
    "MNIST".into()
}

impl DataSource {
    /// Full MNIST in the usual `mnist/` sub-folder of the data folder.
    pub fn mnist() -> Self {
        DataSource::Idx {
            path: "mnist".into(),
            prefix: None,
            layout: IdxLayout::Standard,
            name: "MNIST".into(),
        }
    }

    /// The OCR letters in the usual `ocr-letters/` sub-folder of the data folder, folds 8–9 test.
    pub fn ocr_letters() -> Self {
        DataSource::OcrLetters {
            path: "ocr-letters".into(),
            options: OcrOptions::default(),
        }
    }

    /// Short description for tables and logs.
    pub fn describe(&self) -> String {
        match self {
            DataSource::EmbeddedDigits => "embedded MNIST digits (10k)".into(),
            DataSource::Idx { path, name, .. } => format!("{name} ({})", path.display()),
            DataSource::Cifar10 { path } => format!("CIFAR-10 ({})", path.display()),
            DataSource::Folder { path, .. } => format!("image folder ({})", path.display()),
            DataSource::Letters { config } => {
                format!(
                    "generated letters ({} per class, seed {})",
                    config.per_class, config.seed
                )
            }
            DataSource::OcrLetters { path, options } => format!(
                "OCR letters ({}, {})",
                path.display(),
                options.describe_folds()
            ),
            DataSource::Clips { path, options } => format!(
                "video clips ({}, every {}frame)",
                path.display(),
                ordinal(options.sample_every)
            ),
            DataSource::Motion { config } => format!(
                "motion clips ({} classes × {} clips of {} frames, seed {})",
                config.motions.len(),
                config.per_class,
                config.frames,
                config.seed
            ),
        }
    }

    /// Whether the images are frames of clips (sequences are then cut from the videos).
    pub fn is_clips(&self) -> bool {
        matches!(self, DataSource::Clips { .. } | DataSource::Motion { .. })
    }

    /// The videos of a clip source without decoding any frame, in the order the frames are loaded
    /// (`None` for sources of single images).
    pub fn clip_videos(
        &self,
        data_dir: Option<&Path>,
    ) -> Result<Option<Vec<VideoClip>>, DataError> {
        match self {
            DataSource::Clips { path, options } => {
                Ok(Some(list_clips(&resolve(path, data_dir)?, options)?.1))
            }
            DataSource::Motion { config } => Ok(Some(config.videos()?)),
            _ => Ok(None),
        }
    }

    /// Loads a clip source's frames and videos (`None` for sources of single images).
    pub fn load_clips(&self, data_dir: Option<&Path>) -> Result<Option<ClipSet>, DataError> {
        match self {
            DataSource::Clips { path, options } => {
                Ok(Some(load_clips(&resolve(path, data_dir)?, options)?))
            }
            DataSource::Motion { config } => Ok(Some(generate_motion(config)?)),
            _ => Ok(None),
        }
    }

    /// Whether loading needs the data folder.
    pub fn needs_data_dir(&self) -> bool {
        matches!(self, DataSource::Idx { path, .. } | DataSource::Cifar10 { path } | DataSource::Folder { path, .. } | DataSource::OcrLetters { path, .. } | DataSource::Clips { path, .. } if path.is_relative())
    }

    /// Loads the images.
    pub fn load(&self, data_dir: Option<&Path>) -> Result<ImageSet, DataError> {
        let resolve = |p: &Path| resolve(p, data_dir);
        match self {
            DataSource::EmbeddedDigits => embedded::embedded_digits(),
            DataSource::Idx {
                path,
                prefix,
                layout,
                name,
            } => idx::load_dir(&resolve(path)?, name, prefix.as_deref(), *layout),
            DataSource::Cifar10 { path } => cifar::load_dir(&resolve(path)?),
            DataSource::Folder { path, options } => load_folder(&resolve(path)?, options),
            DataSource::Letters { config } => generate_letters(config),
            DataSource::OcrLetters { path, options } => ocr::load_dir(&resolve(path)?, options),
            DataSource::Clips { path, options } => Ok(load_clips(&resolve(path)?, options)?.frames),
            DataSource::Motion { config } => Ok(generate_motion(config)?.frames),
        }
    }
}

/// A source path resolved against the data folder.
fn resolve(p: &Path, data_dir: Option<&Path>) -> Result<PathBuf, DataError> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    match data_dir {
        Some(d) => Ok(d.join(p)),
        None => Err(DataError::format(
            p,
            "relative data path but no data folder: pass --data-dir or set OCCLAB_DATA_DIR",
        )),
    }
}

/// "10th ", "2nd ", and nothing for 1 ("every frame").
fn ordinal(n: usize) -> String {
    match (n % 10, n % 100) {
        _ if n == 1 => "".into(),
        (1, r) if r != 11 => format!("{n}st "),
        (2, r) if r != 12 => format!("{n}nd "),
        (3, r) if r != 13 => format!("{n}rd "),
        _ => format!("{n}th "),
    }
}

/// The data folder: the explicit option, else `OCCLAB_DATA_DIR`.
pub fn data_dir_from(option: Option<&Path>) -> Option<PathBuf> {
    option
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("OCCLAB_DATA_DIR").map(PathBuf::from))
}
