//! Errors of `gau`: kernel and `nn` errors, plus the layer's own shape and configuration checks.

/// What went wrong in a `gau` call. Every variant says what was expected and what came.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from a kernel (shape, dtype, device, CUDA).
    #[error(transparent)]
    Kernel(#[from] kernels::Error),
    /// An error from `nn` (a layer, a checkpoint, a gradient check).
    #[error(transparent)]
    Nn(#[from] nn::Error),
    /// A tensor whose width (last axis) is not the configured one.
    #[error("{what}: width mismatch: expected {expected}, got {got}")]
    WidthMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// Two tensors whose shapes must agree do not.
    #[error("{what}: shape mismatch: expected {expected:?}, got {got:?}")]
    ShapeMismatch {
        what: &'static str,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    /// A mask whose length does not fit the batch or the key axis, or a key length past the key
    /// axis.
    #[error("{what}: mask of the wrong length: expected {expected}, got {got}")]
    MaskLength {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A sequence longer than the layer's configured maximum.
    #[error("sequence length {n} exceeds the configured maximum {max}")]
    TooLong { n: usize, max: usize },
    /// RoPE rotates channel pairs, so the query/key width `s` must be even.
    #[error("RoPE needs an even query/key width s, got s = {s}")]
    OddRopeWidth { s: usize },
    /// A configuration that cannot work (zero widths, a non-finite scale, a floor below 1…).
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// Something this build does not implement yet (for example the attention core on CUDA).
    #[error("{what}: not supported: {reason}")]
    Unsupported { what: &'static str, reason: String },
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// So that `gau` layers can implement `nn`'s traits (whose methods return `nn::Result`).
impl From<Error> for nn::Error {
    fn from(e: Error) -> nn::Error {
        match e {
            Error::Kernel(k) => nn::Error::Kernel(k),
            Error::Nn(n) => n,
            other => nn::Error::InvalidConfig {
                what: "gau",
                reason: other.to_string(),
            },
        }
    }
}
