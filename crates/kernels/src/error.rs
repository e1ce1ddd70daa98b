//! The one error type of `kernels`: every public function returns `Result<T, Error>`.

/// What went wrong in a `kernels` call. Every variant names the operation and what was
/// expected, so that the message alone says how to fix the call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that must agree do not.
    #[error("{op}: shape mismatch: expected {expected:?}, got {got:?}")]
    ShapeMismatch {
        op: &'static str,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    /// A shape that is invalid on its own (wrong rank, zero where a size is needed, odd width…).
    #[error("{op}: invalid shape {shape:?}: {reason}")]
    InvalidShape {
        op: &'static str,
        shape: Vec<usize>,
        reason: String,
    },
    /// The element type of an input is not the one the op needs.
    #[error("{op}: dtype mismatch: expected {expected}, got {got}")]
    DTypeMismatch {
        op: &'static str,
        expected: crate::DType,
        got: crate::DType,
    },
    /// Inputs live on different devices; ops never copy silently.
    #[error("{op}: device mismatch: {a} vs {b} (copy with Tensor::to_device first)")]
    DeviceMismatch {
        op: &'static str,
        a: String,
        b: String,
    },
    /// The op exists only on some devices or dtypes (f64 lives on the CPU only).
    #[error("{op}: not supported: {reason}")]
    Unsupported { op: &'static str, reason: String },
    /// An argument outside its valid range (a probability outside [0, 1), an index past the table…).
    #[error("{op}: invalid argument: {reason}")]
    InvalidArgument { op: &'static str, reason: String },
    /// No CUDA device can be had: the crate was built without the `cuda` feature, the driver
    /// library is not installed, or the ordinal does not exist.
    #[error("CUDA unavailable: {0}")]
    CudaUnavailable(String),
    /// The CUDA driver reported an error.
    #[error("CUDA driver error in {op}: {message}")]
    Driver { op: &'static str, message: String },
    /// NVRTC could not compile a kernel; `log` is the compiler's own log.
    #[error("NVRTC failed to compile {module}: {message}\n{log}")]
    Compile {
        module: &'static str,
        message: String,
        log: String,
    },
    /// cuBLAS reported an error.
    #[error("cuBLAS error in {op}: {message}")]
    Cublas { op: &'static str, message: String },
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::ShapeMismatch`].
    pub fn shape(op: &'static str, expected: &[usize], got: &[usize]) -> Self {
        Error::ShapeMismatch {
            op,
            expected: expected.to_vec(),
            got: got.to_vec(),
        }
    }

    /// Shorthand for [`Error::InvalidShape`].
    pub fn invalid_shape(op: &'static str, shape: &[usize], reason: impl Into<String>) -> Self {
        Error::InvalidShape {
            op,
            shape: shape.to_vec(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(op: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            reason: reason.into(),
        }
    }
}
