//! The general one-step law (spec §3): `ΔL(η) = η·mᵀg − ½η²·T`, `T = Σ v_i H_ii + mᵀHm`,
//! `η* = mᵀg/T`, `ΔL* = (mᵀg)²/(2T)`.

use crate::error::{LawError, Result, check_batch};
use crate::moments::{Eval, coordinate_mv_reference, update_moments_mv_eval};
use crate::rules::{Moments, Rule};
use crate::stats::{Curvature, GradStats, check_dims};
use rayon::prelude::*;

/// Result of the one-step law at one batch size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneStep {
    /// `η* = mᵀg/T`.
    pub eta_star: f64,
    /// `ΔL* = (mᵀg)²/(2T) = ½η*·mᵀg`.
    pub delta_l_star: f64,
    /// `mᵀg`.
    pub num: f64,
    /// `T = tr(E[φφᵀ]H)`.
    pub den: f64,
}

impl OneStep {
    /// From `num = mᵀg` and `den = T`; `NoOptimum` when `T ≤ 0` or `mᵀg = 0`.
    pub fn from_parts(num: f64, den: f64) -> Result<Self> {
        if !num.is_finite() || !den.is_finite() {
            return Err(LawError::NoOptimum(format!(
                "non-finite moments (mᵀg = {num}, T = {den})"
            )));
        }
        if den <= 0.0 {
            return Err(LawError::NoOptimum(format!(
                "T = {den} ≤ 0 (indefinite curvature along φ)"
            )));
        }
        if num == 0.0 {
            return Err(LawError::NoOptimum("mᵀg = 0".into()));
        }
        Ok(OneStep {
            eta_star: num / den,
            delta_l_star: num * num / (2.0 * den),
            num,
            den,
        })
    }

    /// `ΔL(η) = η·mᵀg − ½η²T`.
    pub fn delta_l(&self, eta: f64) -> f64 {
        eta * self.num - 0.5 * eta * eta * self.den
    }
}

/// `(mᵀg, T)` from moments `m`, `v`.
pub fn num_den<H: Curvature + ?Sized>(st: &GradStats, h: &H, m: &[f64], v: &[f64]) -> (f64, f64) {
    let d = h.diag();
    let (num, tr_v): (f64, f64) = if m.len() > 1 << 14 {
        let num = m.par_iter().zip(st.g.par_iter()).map(|(m, g)| m * g).sum();
        let tv = v.par_iter().zip(d.par_iter()).map(|(v, h)| v * h).sum();
        (num, tv)
    } else {
        (
            m.iter().zip(&st.g).map(|(m, g)| m * g).sum(),
            v.iter().zip(&d).map(|(v, h)| v * h).sum(),
        )
    };
    (num, tr_v + h.quad(m))
}

/// The one-step optimum at batch size `b` (`f64::INFINITY`: the large-batch limit).
///
/// Diagonal H runs the coordinate-major kernel of [`sweep`] with one batch size; other H compute
/// the moment vectors and `mᵀHm`.
pub fn one_step<H: Curvature + ?Sized>(
    rule: &Rule,
    st: &GradStats,
    h: &H,
    b: f64,
    how: &Moments,
) -> Result<OneStep> {
    check_dims(st, h)?;
    if let Some(d) = h.as_diag() {
        return crate::diag_sweep::diag_sweep(rule, st, d, &[b], how)
            .pop()
            .expect("one result per batch size");
    }
    let (num, den) = moments_num_den(rule, st, h, b, how, Eval::Fast)?;
    OneStep::from_parts(num, den)
}

/// The straightforward [`one_step`]: per-coordinate [`crate::moments::coordinate_mv_reference`]
/// (libm erf, the reference quadrature) in one parallel pass. Slow; kept as the reference that the
/// fast path is tested against.
pub fn one_step_reference<H: Curvature + ?Sized>(
    rule: &Rule,
    st: &GradStats,
    h: &H,
    b: f64,
    how: &Moments,
) -> Result<OneStep> {
    check_dims(st, h)?;
    if let Some(d) = h.as_diag() {
        // Diagonal H: T = Σ (v_i + m_i²) H_ii, fused in one allocation-free parallel pass.
        rule.validate()?;
        check_batch(b)?;
        st.validate()?;
        let (num, den) = (0..st.len())
            .into_par_iter()
            .with_min_len(2048)
            .map(|i| {
                let (m, v) = coordinate_mv_reference(rule, st.g[i], st.sigma2[i], b, how, i as u64);
                (m * st.g[i], (v + m * m) * d[i])
            })
            .reduce(|| (0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1));
        return OneStep::from_parts(num, den);
    }
    let (num, den) = moments_num_den(rule, st, h, b, how, Eval::Reference)?;
    OneStep::from_parts(num, den)
}

/// `(mᵀg, T)` ([`num_den`]) from the full moment vectors `m`, `v` at batch size `b`, evaluated by
/// `eval`: the path for a general (non-diagonal) curvature.
fn moments_num_den<H: Curvature + ?Sized>(
    rule: &Rule,
    st: &GradStats,
    h: &H,
    b: f64,
    how: &Moments,
    eval: Eval,
) -> Result<(f64, f64)> {
    let (m, v) = update_moments_mv_eval(rule, st, b, how, eval)?;
    Ok(num_den(st, h, &m, &v))
}

/// `ΔL(η)` at batch size `b`.
pub fn delta_l<H: Curvature + ?Sized>(
    rule: &Rule,
    st: &GradStats,
    h: &H,
    b: f64,
    eta: f64,
    how: &Moments,
) -> Result<f64> {
    if !eta.is_finite() {
        return Err(LawError::NonFinite {
            what: "eta",
            index: 0,
            value: eta,
        });
    }
    check_dims(st, h)?;
    check_batch(b)?;
    let (num, den) = moments_num_den(rule, st, h, b, how, Eval::Fast)?;
    Ok(eta * num - 0.5 * eta * eta * den)
}

/// `one_step` at every batch size.
///
/// Diagonal H: one coordinate-major pass over all batch sizes at once, validated once, with the
/// inner loop specialised per rule (see [`crate::diag_sweep`]). 10⁶ coordinates × 50 batch sizes
/// (`benches/laws.rs`) cost about 0.01 s CPU for SGD, 0.1 s for the approximate forms, 0.6 s for
/// exact SignSGD and 50 s for the exact SoftSign/AdamDiv quadrature, measured as CPU time on a
/// shared, heavily loaded 2-core AVX2 machine (wall time on 2 idle cores: about half). Other H:
/// rayon over B.
pub fn sweep<H: Curvature + ?Sized>(
    rule: &Rule,
    st: &GradStats,
    h: &H,
    batches: &[f64],
    how: &Moments,
) -> Vec<Result<OneStep>> {
    if let Err(e) = check_dims(st, h) {
        return batches.iter().map(|_| Err(e.clone())).collect();
    }
    if let Some(d) = h.as_diag() {
        return crate::diag_sweep::diag_sweep(rule, st, d, batches, how);
    }
    batches
        .par_iter()
        .map(|&b| one_step(rule, st, h, b, how))
        .collect()
}

/// [`one_step_reference`] at every batch size (rayon over B): the reference for [`sweep`].
pub fn sweep_reference<H: Curvature + ?Sized>(
    rule: &Rule,
    st: &GradStats,
    h: &H,
    batches: &[f64],
    how: &Moments,
) -> Vec<Result<OneStep>> {
    batches
        .par_iter()
        .map(|&b| one_step_reference(rule, st, h, b, how))
        .collect()
}

/// `n` log-spaced values from `lo` to `hi` inclusive.
pub fn log_grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n <= 1 {
        return vec![lo];
    }
    let (l0, l1) = (lo.ln(), hi.ln());
    (0..n)
        .map(|i| (l0 + (l1 - l0) * i as f64 / (n - 1) as f64).exp())
        .collect()
}
