//! A trained run opened for use: the one way evaluation (`occlab evaluate`), quiz scoring and the
//! Present panel load a run's model.
//!
//! A run keeps its model's config (`model.json`, Burn's `Config`, as Burn's own examples do), so
//! the model is rebuilt as it was trained, whatever data set is loaded now; a data set of another
//! image size or class count is refused by comparing shapes ([`OpenError::Misfit`]) before the
//! checkpoint is read. Runs from before `model.json` are rebuilt from their preset for the images
//! at hand; then a checkpoint whose weights do not fit is refused by Burn's record validation
//! ([`TrainError::CheckpointMisfit`]).

use super::preset::Preset;
use super::run::{RunDir, RunError};
use crate::data::ImageSet;
use crate::model::{Model, ModelConfig};
use crate::train::engine::TrainError;
use crate::train::eval::load_model;
use burn::tensor::Device;
use std::fmt;
use std::path::PathBuf;

/// The images a model takes and the classes it tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageShape {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub classes: usize,
}

impl ImageShape {
    pub fn of_images(images: &ImageSet) -> Self {
        ImageShape {
            height: images.height,
            width: images.width,
            channels: images.channels,
            classes: images.num_classes(),
        }
    }

    pub fn of_model(config: &ModelConfig) -> Self {
        ImageShape {
            height: config.height,
            width: config.width,
            channels: config.in_channels,
            classes: config.num_classes,
        }
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}×{}×{} images of {} classes",
            self.height, self.width, self.channels, self.classes
        )
    }
}

/// Why a run's model cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{}: not a training run (its preset has no [model])", path.display())]
    NoModel { path: PathBuf },
    /// The run's model was built for other images than the data set's.
    #[error("{}: the model takes {trained}, the data set has {data}", path.display())]
    Misfit {
        path: PathBuf,
        trained: ImageShape,
        data: ImageShape,
    },
    /// The checkpoint cannot be read, or its weights do not fit the model
    /// ([`TrainError::CheckpointMisfit`]), or the config is inconsistent.
    #[error(transparent)]
    Load(#[from] TrainError),
}

impl OpenError {
    /// Whether the run was trained for other data (rather than being unreadable).
    pub fn is_misfit(&self) -> bool {
        matches!(
            self,
            OpenError::Misfit { .. } | OpenError::Load(TrainError::CheckpointMisfit { .. })
        )
    }
}

/// A run's trained model, loaded.
pub struct TrainedModel {
    pub run: RunDir,
    /// The run's exact preset.
    pub preset: Preset,
    pub config: ModelConfig,
    /// The weights of the run's last checkpoint, on the device it was opened for.
    pub model: Model,
}

impl TrainedModel {
    /// Opens `run`'s model (its best epoch's weights when it held out validation sequences, else
    /// its last checkpoint) on `device`, for the images of `images`: a run trained for another
    /// image size or class count is refused with [`OpenError::is_misfit`].
    pub fn open(run: &RunDir, images: &ImageSet, device: &Device) -> Result<Self, OpenError> {
        let preset = run.preset()?;
        let data = ImageShape::of_images(images);
        let config = match run.model_config()? {
            Some(config) => {
                let trained = ImageShape::of_model(&config);
                if trained != data {
                    return Err(OpenError::Misfit {
                        path: run.path.clone(),
                        trained,
                        data,
                    });
                }
                config
            }
            // A run from before `model.json`: its preset's model for the images at hand.
            None => preset
                .model
                .as_ref()
                .ok_or_else(|| OpenError::NoModel {
                    path: run.path.clone(),
                })?
                .config(data.channels, data.height, data.width, data.classes),
        };
        config.validate().map_err(TrainError::from)?;
        let model = load_model(&run.scored_model_path(), &config, device)?;
        Ok(TrainedModel {
            run: run.clone(),
            preset,
            config,
            model,
        })
    }
}
