//! Why training or scoring failed.

/// An error of a [`RecordSink`](super::RecordSink), whatever its storage.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The record sink (a run directory) could not keep a record.
    #[error("{0}")]
    Sink(#[from] SinkError),
    #[error("backend: {0}")]
    Backend(String),
    #[error("model: {0}")]
    Model(#[from] crate::model::rrn::RrnConfigError),
    #[error("no training sequences: the data and patterns give nothing to train on")]
    NoData,
    #[error(
        "the loss became {value} at epoch {epoch}, step {step}: training stopped (after step {stopped_at}) instead of \
         going on with garbage ({})", advice(*mixed)
    )]
    NonFinite {
        value: f32,
        epoch: usize,
        step: usize,
        /// The last step run: losses are read back every few steps on a GPU, so a run stops up
        /// to `read_every − 1` steps after its loss went wrong.
        stopped_at: usize,
        /// Whether the run trained in mixed precision.
        mixed: bool,
    },
    /// The checkpoint's weights have other shapes than the model (trained for other data).
    #[error("checkpoint {}: its weights do not fit the model: {message}", path.display())]
    CheckpointMisfit {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("reading tensor data: {0}")]
    Tensor(String),
    #[error(
        "{run}: the sequences this preset builds now (fingerprint {now}) are not the ones the run \
         started with ({recorded}, in its run.json): resuming would train and test on other data. \
         Start a new run, or resume with the occlab version and data folder it started with"
    )]
    SequencesChanged {
        run: String,
        recorded: String,
        now: String,
    },
}

/// What to try after a non-finite loss.
fn advice(mixed: bool) -> &'static str {
    if mixed {
        "lower the learning rate? In mixed precision an f16 gradient can also overflow: \
         precision = \"f32\" shows which"
    } else {
        "lower the learning rate?"
    }
}
