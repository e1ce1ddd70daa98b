//! Errors of `nn`: kernel errors, plus checkpoint and configuration problems.

/// What went wrong in an `nn` call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from a kernel (shape, dtype, device, CUDA).
    #[error(transparent)]
    Kernel(#[from] kernels::Error),
    /// A layer or model configuration that cannot work.
    #[error("invalid config for {what}: {reason}")]
    InvalidConfig { what: &'static str, reason: String },
    /// A checkpoint could not be read or written.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: String, reason: String },
    /// A checkpoint does not fit the model: every missing, extra or mis-shaped tensor is named.
    #[error("checkpoint {path} does not match the model:\n{}", problems.join("\n"))]
    CheckpointMismatch { path: String, problems: Vec<String> },
    /// An I/O error.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A gradient check failed.
    #[error("gradient check failed: {0}")]
    GradCheck(String),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
