//! Noise on the scores (spec/gau.md §7.1, Su-Findings).
//!
//! `õ = Σ_i e^(s_i+ε_i) v_i / Σ_i e^(s_i+ε_i)`: numerator and denominator are sample means
//! that pick up the same factor `E[e^ε]` when the `ε_i` are i.i.d. and independent of `(s, v)`,
//! so `õ → o` as `n` grows; to first order `E‖õ − o‖² ≈ (e^(σ²) − 1)·E_w‖v − o‖²/n_eff` for
//! Gaussian `ε` of std `σ` (an `n^(−1/2)` fall of the error). relu² does not factorise the
//! noise and keeps a bias; correlated noise is not averaged away.

use crate::{Error, Result};
use kernels::Tensor;
use kernels::ops::add::add_forward;
use kernels::testing::{randn, rng};

/// How a row of scores becomes weights of an average of value rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Aggregator {
    /// `w_i = e^(s_i)`, normalised by the sum (softmax).
    Softmax,
    /// `w_i = relu(s_i + shift)²`, normalised by the sum (spec §7.1 uses shift 1).
    Relu2 { shift: f64 },
}

/// The noise added to the scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NoiseKind {
    /// `ε_i ~ N(0, std²)` i.i.d., independent of the scores and values.
    Iid { std: f64 },
    /// `ε_i = s_i`: as large as the scores but a function of them (not averaged away).
    EqualToScores,
}

/// `scores + ε` with `ε ~ N(0, std²)` i.i.d. (seeded), in the scores' dtype, through
/// `kernels::ops::add`. Errors: a non-finite or negative `std`, device tensors.
pub fn inject_noise(scores: &Tensor, std: f64, seed: u64) -> Result<Tensor> {
    if !(std.is_finite() && std >= 0.0) {
        return Err(Error::InvalidConfig(format!(
            "noise std must be finite and ≥ 0, got {std}"
        )));
    }
    let eps: Vec<f64> = randn(&mut rng(seed), scores.numel())
        .into_iter()
        .map(|e| e * std)
        .collect();
    let eps = Tensor::from_vec(eps, scores.shape())?.to_dtype(scores.dtype())?;
    Ok(add_forward(scores, &eps)?)
}

/// `Σ_i w_i v_i / Σ_i w_i` for scores `s [n]` and values `v [n × dim]` (row-major), with the
/// weights of `agg`; all zeros when every weight is 0. Softmax subtracts the max first.
///
/// Errors: `v.len() ≠ n·dim`, `n = 0` or `dim = 0`.
pub fn aggregate(s: &[f64], v: &[f64], dim: usize, agg: Aggregator) -> Result<Vec<f64>> {
    if s.is_empty() || dim == 0 || v.len() != s.len() * dim {
        return Err(Error::ShapeMismatch {
            what: "aggregate: values [n × dim]",
            expected: vec![s.len(), dim],
            got: vec![v.len()],
        });
    }
    let w: Vec<f64> = match agg {
        Aggregator::Softmax => {
            let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            s.iter().map(|x| (x - m).exp()).collect()
        }
        Aggregator::Relu2 { shift } => s.iter().map(|x| (x + shift).max(0.0).powi(2)).collect(),
    };
    let total: f64 = w.iter().sum();
    let mut o = vec![0.0; dim];
    if total > 0.0 {
        for (wi, vi) in w.iter().zip(v.chunks(dim)) {
            o.iter_mut().zip(vi).for_each(|(a, b)| *a += wi * b);
        }
        o.iter_mut().for_each(|a| *a /= total);
    }
    Ok(o)
}

/// The experiment of spec §7.1: `v_i ~ N(0, I_dim)`, `s_i = ⟨w, v_i⟩` with a random unit `w`,
/// `o` the noiseless average and `õ` the one with `noise` on the scores; returns the mean of
/// `‖õ − o‖` over `trials` seeded trials.
///
/// Errors: `n = 0`, `dim = 0`, `trials = 0`, a bad noise std.
pub fn noise_error(
    n: usize,
    dim: usize,
    trials: usize,
    noise: NoiseKind,
    agg: Aggregator,
    seed: u64,
) -> Result<f64> {
    if n == 0 || dim == 0 || trials == 0 {
        return Err(Error::InvalidConfig(format!(
            "noise_error needs n, dim, trials > 0, got ({n}, {dim}, {trials})"
        )));
    }
    if let NoiseKind::Iid { std } = noise
        && !(std.is_finite() && std >= 0.0)
    {
        return Err(Error::InvalidConfig(format!(
            "noise std must be finite and ≥ 0, got {std}"
        )));
    }
    let mut r = rng(seed);
    let mut total = 0.0;
    for _ in 0..trials {
        let mut w = randn(&mut r, dim);
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        w.iter_mut().for_each(|x| *x /= norm);
        let v = randn(&mut r, n * dim);
        let s: Vec<f64> = v
            .chunks(dim)
            .map(|vi| vi.iter().zip(&w).map(|(a, b)| a * b).sum())
            .collect();
        let noisy: Vec<f64> = match noise {
            NoiseKind::Iid { std } => s
                .iter()
                .zip(randn(&mut r, n))
                .map(|(x, e)| x + std * e)
                .collect(),
            NoiseKind::EqualToScores => s.iter().map(|x| 2.0 * x).collect(),
        };
        let o = aggregate(&s, &v, dim, agg)?;
        let ot = aggregate(&noisy, &v, dim, agg)?;
        total += o
            .iter()
            .zip(&ot)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
    }
    Ok(total / trials as f64)
}

/// The least-squares slope of `ln y` against `ln x` (a power law `y ∝ x^slope`).
///
/// Errors: fewer than two points, lengths that differ, non-positive values.
pub fn loglog_slope(x: &[f64], y: &[f64]) -> Result<f64> {
    if x.len() != y.len() || x.len() < 2 || x.iter().chain(y).any(|&v| v <= 0.0) {
        return Err(Error::InvalidConfig(
            "loglog_slope needs ≥ 2 points of positive x and y, equally many".into(),
        ));
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let k = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / k, ly.iter().sum::<f64>() / k);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    Ok(sxy / sxx)
}
