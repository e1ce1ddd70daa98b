//! Least-squares fits of the scalar laws to measured `(B, η)` or `(S, E)` points.

use crate::error::{LawError, Result};
use crate::sgd::SgdLaw;
use crate::signsgd::SurgeLaw;
use crate::surge::peak_of;

fn check_points(points: &[(f64, f64)], min: usize) -> Result<()> {
    if points.len() < min {
        return Err(LawError::InvalidArgument(format!(
            "need at least {min} points, got {}",
            points.len()
        )));
    }
    if let Some(i) = points
        .iter()
        .position(|&(x, y)| !(x > 0.0 && y > 0.0 && x.is_finite() && y.is_finite()))
    {
        return Err(LawError::InvalidArgument(format!(
            "point {i} is not positive and finite: {:?}",
            points[i]
        )));
    }
    Ok(())
}

/// Ordinary least squares `y = α + β x`, returns `(α, β)`.
fn ols(xs: &[f64], ys: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let beta = sxy / sxx;
    (my - beta * mx, beta)
}

/// Fits `1/η = 1/η_max + (B_noise/η_max)(1/B)` (LS of 1/η on 1/B). `dl_max` is not identifiable
/// from η alone and is returned as NaN.
pub fn fit_sgd_law(points: &[(f64, f64)]) -> Result<SgdLaw> {
    check_points(points, 2)?;
    let xs: Vec<f64> = points.iter().map(|p| 1.0 / p.0).collect();
    let ys: Vec<f64> = points.iter().map(|p| 1.0 / p.1).collect();
    let (alpha, beta) = ols(&xs, &ys);
    if alpha <= 0.0 {
        return Err(LawError::NoOptimum(format!("fitted 1/η_max = {alpha} ≤ 0")));
    }
    Ok(SgdLaw {
        eta_max: 1.0 / alpha,
        b_noise: beta / alpha,
        dl_max: f64::NAN,
    })
}

/// Fits Li et al.'s law `ln η = ln η_peak − ln(½(√(B_Li/B) + √(B/B_Li)))` by least squares on ln η:
/// for fixed `B_Li`, `ln η_peak` is the mean residual; `ln B_Li` is found by a grid + golden search.
pub fn fit_surge_law(points: &[(f64, f64)]) -> Result<SurgeLaw> {
    check_points(points, 3)?;
    let shape = |bl: f64, b: f64| -(0.5 * ((bl / b).sqrt() + (b / bl).sqrt())).ln();
    let best_lp = |bl: f64| {
        points
            .iter()
            .map(|&(b, e)| e.ln() - shape(bl, b))
            .sum::<f64>()
            / points.len() as f64
    };
    let sse = |bl: f64| {
        let lp = best_lp(bl);
        points
            .iter()
            .map(|&(b, e)| (e.ln() - lp - shape(bl, b)).powi(2))
            .sum::<f64>()
    };
    let (bmin, bmax) = points
        .iter()
        .fold((f64::MAX, 0.0f64), |(l, h), p| (l.min(p.0), h.max(p.0)));
    let (lo, hi) = (bmin / 1e3, bmax * 1e3);
    let bl = match peak_of(|b| Ok(-sse(b)), lo, hi)? {
        Some((b, _)) => b,
        None => hi,
    };
    Ok(SurgeLaw {
        eta_peak: best_lp(bl).exp(),
        b_noise: bl,
        dl_max: f64::NAN,
    })
}

/// Fits the steps/examples hyperbola `(S/S_min − 1)(E/E_min − 1) = 1` from `(S, E)` pairs by
/// least squares of `1/S` on `1/E`: `1/S = 1/S_min − B_crit/E` (from `S = S_min(1 + B_crit/B)`,
/// `E = B·S`). Returns `(S_min, E_min, B_crit)` with `E_min = B_crit·S_min`.
///
/// (Spec §4 writes the slope as `B_crit/S_min`; that is not dimensionally consistent — the slope
/// of `1/S` on `1/E` is `−B_crit`.)
pub fn fit_steps_examples(points: &[(f64, f64)]) -> Result<(f64, f64, f64)> {
    check_points(points, 2)?;
    let xs: Vec<f64> = points.iter().map(|p| 1.0 / p.1).collect();
    let ys: Vec<f64> = points.iter().map(|p| 1.0 / p.0).collect();
    let (alpha, beta) = ols(&xs, &ys);
    if alpha <= 0.0 {
        return Err(LawError::NoOptimum(format!("fitted 1/S_min = {alpha} ≤ 0")));
    }
    let s_min = 1.0 / alpha;
    let b_crit = -beta;
    Ok((s_min, b_crit * s_min, b_crit))
}
