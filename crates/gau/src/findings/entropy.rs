//! Attention entropy (spec/gau.md §7.2, §7.3).
//!
//! `H_i = −Σ_j A_ij ln A_ij` (with `0 ln 0 = 0`) lies in `[0, ln l_i]` for a row with `l_i`
//! visible keys: `ln l_i` is uniform attention, 0 is one-hot.

use crate::{Error, Result};
use kernels::Tensor;
use kernels::testing::{randn, rng};

/// `H = −Σ_j p_j ln p_j` of one row (entries ≤ 0 contribute 0), accumulated in f64.
pub fn row_entropy(p: &[f64]) -> f64 {
    -p.iter()
        .filter(|&&x| x > 0.0)
        .map(|&x| x * x.ln())
        .sum::<f64>()
}

/// The entropy of every row of an attention matrix `a [.., n_k]` (rows along the last axis),
/// in row-major order. Rows are used as given (they should sum to 1; a masked-out all-zero
/// row has entropy 0).
///
/// Errors: a rank-0 tensor or an empty last axis ([`kernels::Error`]), device tensors.
pub fn attention_entropy(a: &Tensor) -> Result<Vec<f64>> {
    let n_k = match a.shape().last() {
        Some(&n) if n > 0 => n,
        _ => {
            return Err(kernels::Error::invalid_shape(
                "attention_entropy",
                a.shape(),
                "needs a last axis of keys with at least one entry",
            )
            .into());
        }
    };
    let v = a.to_dtype(kernels::DType::F64)?.to_vec::<f64>()?;
    Ok(v.chunks(n_k).map(row_entropy).collect())
}

/// The smallest entropy of `softmax(x)` over logits `x ∈ [−1, 1]^n` (τ = 1), for `n ≥ 2`:
/// the minimum sits at a two-level vector with `m` logits at −1 and `n − m` at +1, so this
/// scans `m = 1 … n−1` exactly. For large `n` it tends to `ln n − TAU1_ENTROPY_GAP`.
///
/// Errors: `n < 2` ([`Error::InvalidConfig`]).
pub fn tau1_min_entropy(n: usize) -> Result<f64> {
    if n < 2 {
        return Err(Error::InvalidConfig(format!(
            "tau1_min_entropy needs n ≥ 2, got {n}"
        )));
    }
    let e2 = (-2f64).exp();
    Ok((1..n)
        .map(|m| {
            // m keys with weight e^(−2) relative to n − m keys with weight 1.
            let z = (n - m) as f64 + m as f64 * e2;
            let (hi, lo) = (1.0 / z, e2 / z);
            -((n - m) as f64 * hi * hi.ln() + m as f64 * lo * lo.ln())
        })
        .fold(f64::INFINITY, f64::min))
}

/// `ln n − min H` as `n → ∞` for logits in `[−1, 1]` (spec §7.3; Su first wrote 0.3278):
/// with a fraction `t` of the logits at −1, `H = ln n + ln(1 − t + t e^(−2)) + 2 t e^(−2)/(1 − t
/// + t e^(−2))`, minimised at `t* = (e⁴ − 3e²)/(e⁴ − 2e² + 1) ≈ 0.7945`.
pub const TAU1_ENTROPY_GAP: f64 = 0.474_5;

/// The mean entropy of a "focused" row (spec §7.2): every key draws a logit `N(0, 1)` and the
/// first `targets` keys get `gap` added (this reading reproduces the spec's table; a fixed
/// target logit `gap` does not: 2.68 instead of 2.34 at `n = 64`, `gap = 4`); all logits are
/// multiplied by `lambda`
/// (1 for softmax, `ln n / ln 512` for SoftmaxPlus), over `trials` seeded rows.
///
/// Errors: `targets ≥ n`, `trials = 0`, a non-finite `gap` or `lambda`.
pub fn focused_row_entropy(
    n: usize,
    targets: usize,
    gap: f64,
    lambda: f64,
    trials: usize,
    seed: u64,
) -> Result<f64> {
    if targets >= n || trials == 0 || !gap.is_finite() || !lambda.is_finite() {
        return Err(Error::InvalidConfig(format!(
            "focused_row_entropy: need targets < n, trials > 0, finite gap and lambda; got \
             n={n}, targets={targets}, trials={trials}, gap={gap}, lambda={lambda}"
        )));
    }
    let mut r = rng(seed);
    let mut total = 0.0;
    for _ in 0..trials {
        let mut x = randn(&mut r, n);
        x[..targets].iter_mut().for_each(|v| *v += gap);
        x.iter_mut().for_each(|v| *v *= lambda);
        let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut p: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = p.iter().sum();
        p.iter_mut().for_each(|v| *v /= s);
        total += row_entropy(&p);
    }
    Ok(total / trials as f64)
}
