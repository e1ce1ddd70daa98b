//! Typed errors: bad statistics, no optimum, malformed gradient dumps.

/// Errors of the one-step laws, the estimators and the simulators.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LawError {
    /// A batch size was ≤ 0 or NaN (`f64::INFINITY` is allowed: the large-batch limit).
    #[error("batch size must be > 0, got {0}")]
    NonPositiveBatch(f64),
    /// A per-sample variance was negative.
    #[error("variance must be ≥ 0: {what}[{index}] = {value}")]
    NegativeVariance {
        what: &'static str,
        index: usize,
        value: f64,
    },
    /// Adam's ε was negative or not finite.
    #[error("epsilon must be finite and ≥ 0, got {0}")]
    InvalidEps(f64),
    /// A statistic was NaN or infinite.
    #[error("{what}[{index}] is not finite ({value})")]
    NonFinite {
        what: &'static str,
        index: usize,
        value: f64,
    },
    /// Two inputs that must have equal lengths do not.
    #[error("length mismatch for {what}: expected {expected}, got {got}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// Any other invalid argument (empty input, bad grid, bad decay …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `T ≤ 0` (indefinite curvature along φ) or `mᵀg = 0`: the one-step law has no maximiser.
    #[error("no optimum: {0}")]
    NoOptimum(String),
}

/// Errors reading a gradient dump (JSON or safetensors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("malformed JSON statistics: {0}")]
    Json(#[from] serde_json::Error),
    #[error("malformed safetensors dump: {0}")]
    Safetensors(String),
    #[error("malformed gradient dump: {0}")]
    Malformed(String),
    #[error(transparent)]
    Law(#[from] LawError),
}

/// Result alias of this crate.
pub type Result<T, E = LawError> = std::result::Result<T, E>;

/// Checks that `b` is a valid batch size (> 0, not NaN; +∞ allowed).
pub fn check_batch(b: f64) -> Result<()> {
    if b > 0.0 {
        Ok(())
    } else {
        Err(LawError::NonPositiveBatch(b))
    }
}

/// Checks every entry of `v` is finite.
pub fn check_finite(what: &'static str, v: &[f64]) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(LawError::NonFinite {
            what,
            index,
            value: v[index],
        }),
        None => Ok(()),
    }
}

/// Checks `v.len() == expected`.
pub fn check_len(what: &'static str, expected: usize, v: &[f64]) -> Result<()> {
    if v.len() == expected {
        Ok(())
    } else {
        Err(LawError::LengthMismatch {
            what,
            expected,
            got: v.len(),
        })
    }
}
