//! The surge: where η*(B) stops rising and falls (Li et al. 2024), found numerically on any law.

use crate::error::{LawError, Result};
use crate::one_step::{log_grid, one_step};
use crate::rules::{Moments, Rule};
use crate::stats::{Curvature, GradStats};

/// Coarse-grid points used before the golden-section refinement.
pub const PEAK_GRID: usize = 49;

/// Maximiser of `f` over `ln B ∈ [ln lo, ln hi]`: coarse log grid, then golden-section search on
/// `ln B` around the best grid point. `None` when the grid maximum is at `hi` (monotone on the range).
pub fn peak_of(f: impl Fn(f64) -> Result<f64>, lo: f64, hi: f64) -> Result<Option<(f64, f64)>> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Err(LawError::InvalidArgument(format!(
            "need 0 < lo < hi < ∞, got [{lo}, {hi}]"
        )));
    }
    let grid = log_grid(lo, hi, PEAK_GRID);
    let vals = grid.iter().map(|&b| f(b)).collect::<Result<Vec<_>>>()?;
    let best = (0..vals.len()).fold(0, |k, i| if vals[i] > vals[k] { i } else { k });
    // A maximum equal to the end value up to rounding (a saturated, flat tail) is not a peak.
    let last = vals[vals.len() - 1];
    if best == vals.len() - 1 || vals[best] <= last + 1e-12 * last.abs() {
        return Ok(None);
    }
    let (mut a, mut c) = (grid[best.saturating_sub(1)].ln(), grid[best + 1].ln());
    let r = (5f64.sqrt() - 1.0) / 2.0;
    let (mut x1, mut x2) = (c - r * (c - a), a + r * (c - a));
    let (mut f1, mut f2) = (f(x1.exp())?, f(x2.exp())?);
    for _ in 0..80 {
        if (c - a).abs() < 1e-10 {
            break;
        }
        if f1 < f2 {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + r * (c - a);
            f2 = f(x2.exp())?;
        } else {
            c = x2;
            x2 = x1;
            f2 = f1;
            x1 = c - r * (c - a);
            f1 = f(x1.exp())?;
        }
    }
    let x = 0.5 * (a + c);
    Ok(Some((x.exp(), f(x.exp())?)))
}

/// `(B_peak, η_peak)` of the one-step law of `rule`, or `None` if η*(B) is still rising at `hi`.
pub fn peak_batch<H: Curvature + ?Sized>(
    rule: &Rule,
    st: &GradStats,
    h: &H,
    how: &Moments,
    lo: f64,
    hi: f64,
) -> Result<Option<(f64, f64)>> {
    peak_of(|b| Ok(one_step(rule, st, h, b, how)?.eta_star), lo, hi)
}

/// Whether η*(B) has an interior maximum on `[lo, hi]` that exceeds its value at `hi` by more than
/// `rel_tol` (a surge), with `(B_peak, η_peak / η*(hi))`.
pub fn surge_test<H: Curvature + ?Sized>(
    rule: &Rule,
    st: &GradStats,
    h: &H,
    how: &Moments,
    lo: f64,
    hi: f64,
    rel_tol: f64,
) -> Result<Option<(f64, f64)>> {
    let end = one_step(rule, st, h, hi, how)?.eta_star;
    Ok(peak_batch(rule, st, h, how, lo, hi)?
        .map(|(b, e)| (b, e / end))
        .filter(|&(_, r)| r > 1.0 + rel_tol))
}
