//! The error type of `lion-tiger`.

/// What went wrong in an optimizer call. Nothing is updated when an error is returned: every
/// check runs before the first write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from a kernel (shape, dtype, device, CUDA).
    #[error(transparent)]
    Kernel(#[from] kernels::Error),
    /// An error from `nn`.
    #[error(transparent)]
    Nn(#[from] nn::Error),
    /// A hyperparameter outside its valid range (β outside [0, 1), negative lr, k = 0, …).
    #[error("invalid hyperparameter {name} = {value}: {reason}")]
    InvalidHyperparameter {
        name: &'static str,
        value: f64,
        reason: &'static str,
    },
    /// A gradient arrived for a parameter this optimizer does not know.
    #[error("{op}: unknown parameter {name:?} (the optimizer was built for another model)")]
    UnknownParam { op: &'static str, name: String },
    /// The optimizer's state for a parameter does not fit its tensor.
    #[error("{op}: parameter {name:?}: expected shape {expected:?}, got {got:?}")]
    ParamShape {
        op: &'static str,
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    /// A parameter has no gradient where one is needed.
    #[error("{op}: parameter {name:?} has no gradient")]
    MissingGradient { op: &'static str, name: String },
    /// The model's parameter list differs from the one the optimizer was built for.
    #[error("{op}: the model does not match the optimizer: {reason}")]
    ModelMismatch { op: &'static str, reason: String },
    /// A checkpoint could not be read or does not belong to this model and optimizer.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: String, reason: String },
    /// An I/O error.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl From<Error> for nn::Error {
    fn from(e: Error) -> nn::Error {
        match e {
            Error::Kernel(k) => nn::Error::Kernel(k),
            Error::Nn(n) => n,
            other => nn::Error::InvalidConfig {
                what: "optimizer",
                reason: other.to_string(),
            },
        }
    }
}
