//! SGD (f = identity): McCandlish et al., "An Empirical Model of Large-Batch Training",
//! arXiv:1812.06162, 2018 (spec §4). No Gaussian or independence assumption is needed.

use crate::error::{LawError, Result};
use crate::stats::{Curvature, GradStats, check_dims};

/// `η*(B) = η_max/(1 + B_noise/B)`, `ΔL*(B) = ΔL_max/(1 + B_noise/B)` with
/// `η_max = |g|²/gᵀHg`, `ΔL_max = |g|⁴/(2gᵀHg)`, `B_noise = tr(ΣH)/gᵀHg`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdLaw {
    pub eta_max: f64,
    pub b_noise: f64,
    pub dl_max: f64,
}

impl SgdLaw {
    /// From per-sample statistics (diagonal Σ: `tr(ΣH) = Σσ_i²H_ii`, exact whenever Σ or H is diagonal).
    pub fn from_stats<H: Curvature + ?Sized>(st: &GradStats, h: &H) -> Result<Self> {
        st.validate()?;
        check_dims(st, h)?;
        let tr_sh: f64 = st.sigma2.iter().zip(h.diag()).map(|(s, h)| s * h).sum();
        Self::from_summaries(st.g_norm2(), h.quad(&st.g), tr_sh)
    }

    /// From `|g|²`, `gᵀHg` and `tr(ΣH)`.
    pub fn from_summaries(g_norm2: f64, g_h_g: f64, tr_sigma_h: f64) -> Result<Self> {
        for (what, v) in [
            ("g_norm2", g_norm2),
            ("g_h_g", g_h_g),
            ("tr_sigma_h", tr_sigma_h),
        ] {
            if !v.is_finite() {
                return Err(LawError::NonFinite {
                    what,
                    index: 0,
                    value: v,
                });
            }
        }
        if g_h_g <= 0.0 || g_norm2 <= 0.0 {
            return Err(LawError::NoOptimum(format!(
                "SGD law needs gᵀHg > 0 and |g|² > 0 (got {g_h_g}, {g_norm2})"
            )));
        }
        if tr_sigma_h < 0.0 {
            return Err(LawError::NegativeVariance {
                what: "tr_sigma_h",
                index: 0,
                value: tr_sigma_h,
            });
        }
        Ok(SgdLaw {
            eta_max: g_norm2 / g_h_g,
            b_noise: tr_sigma_h / g_h_g,
            dl_max: g_norm2 * g_norm2 / (2.0 * g_h_g),
        })
    }

    /// `η*(B)`; `B = ∞` gives `η_max`.
    pub fn eta(&self, b: f64) -> f64 {
        self.eta_max / (1.0 + self.b_noise / b)
    }
    /// `ΔL*(B)`.
    pub fn dl(&self, b: f64) -> f64 {
        self.dl_max / (1.0 + self.b_noise / b)
    }
    /// `S/S_min = 1 + B_noise/B` (steps to a fixed loss decrease, statistics held constant).
    pub fn steps_over_min(&self, b: f64) -> f64 {
        1.0 + self.b_noise / b
    }
    /// `E/E_min = (B + B_noise)/B_noise` (examples used).
    pub fn examples_over_min(&self, b: f64) -> f64 {
        (b + self.b_noise) / self.b_noise
    }
}

/// `B_simple = trΣ/|g|²` (McCandlish et al.; equals B_noise when H ∝ I).
pub fn b_simple(st: &GradStats) -> Result<f64> {
    st.validate()?;
    let g2 = st.g_norm2();
    if g2 <= 0.0 {
        return Err(LawError::NoOptimum("B_simple needs |g|² > 0".into()));
    }
    Ok(st.trace_sigma() / g2)
}

/// `B_noise = tr(ΣH)/gᵀHg`.
pub fn b_noise<H: Curvature + ?Sized>(st: &GradStats, h: &H) -> Result<f64> {
    Ok(SgdLaw::from_stats(st, h)?.b_noise)
}
