//! The entropy-invariant scale (spec/gau.md §7.2) and relu²'s indifference to scale (§7.3).

use crate::norm::Normalization;
use crate::{Error, Result};

/// `SoftmaxPlus`'s logit scale for a row with `l` visible keys at query/key width `s`:
/// `λ(l)/√s` with `λ(l) = ln(max(l, floor)) / ln 512` (Su-EI: entropy `≈ ln n − λ(s_max − s̄)`
/// stays put when λ grows like `ln n`; normalised so that `l = 512` is plain `1/√s`). This is
/// the crate's own [`Normalization::SoftmaxPlus`] coefficient, not a second formula.
///
/// Errors: `l = 0`, `s = 0` or `floor = 0`.
pub fn entropy_invariant_scale(l: usize, floor: usize, s: usize) -> Result<f64> {
    if l == 0 || s == 0 {
        return Err(Error::InvalidConfig(format!(
            "entropy_invariant_scale needs l ≥ 1 and s ≥ 1, got l={l}, s={s}"
        )));
    }
    let norm = Normalization::SoftmaxPlus { floor };
    norm.validate()?;
    Ok(norm.row_coefficients(1.0 / (s as f64).sqrt(), l, l, l).0)
}

/// `relu(λx)² / Σ_j relu(λx_j)²` for one row (all zeros when no logit is positive). Positive
/// homogeneity: for any `λ > 0` this equals the `λ = 1` row, so relu² cannot be tempered and
/// no entropy-invariant relu² exists (Su-Softmax).
pub fn relu2_row_normalised(x: &[f64], lambda: f64) -> Vec<f64> {
    let r: Vec<f64> = x.iter().map(|&v| (lambda * v).max(0.0).powi(2)).collect();
    let s: f64 = r.iter().sum();
    if s > 0.0 {
        r.iter().map(|v| v / s).collect()
    } else {
        r
    }
}
