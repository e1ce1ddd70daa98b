//! SignSGD (Adam with ε = 0, β1 = β2 = 0): the published approximations (spec §5.2–§5.4).
//! The exact law (erf moments) is [`crate::one_step`](fn@crate::one_step) with [`crate::Rule::Sign`].

use crate::adam_eps::SoftSignMeanField;
use crate::error::{LawError, Result};
use crate::stats::{Curvature, GradStats, check_dims};
use std::f64::consts::PI;

/// S-curve `erf(x) ≈ x/√(x² + π/4)` (same slope 2/√π at 0; max abs error 0.1078, R1).
pub fn erf_scurve(x: f64) -> f64 {
    x / (x * x + PI / 4.0).sqrt()
}

/// S-curve `erf(x) ≈ clip(2x/√π, −1, 1)` (max abs error 0.2101, R1).
pub fn erf_clip(x: f64) -> f64 {
    (2.0 * x / PI.sqrt()).clamp(-1.0, 1.0)
}

/// Which mean-field average replaces the per-coordinate ratio `σ_i²/g_i²`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeanFieldVariant {
    /// Su, 14/18 Nov 2024: `c = π κ²/2`, `κ² = Σσ²/Σg²` (Gaussian + S-curve).
    Su2024,
    /// Su, Sep 2025: `c = B_simple` (no Gaussian assumption).
    MeanField2025,
}

/// Su's mean-field SignSGD law (spec §5.2), `O = sᵀHs − D`:
/// `η*(B) ≈ Σ|g_i|/(D/β_B + β_B O)`, `β_B = (1 + c/B)^(−1/2)`; peak iff `O > D`, at
/// `B_peak = c·D/(O − D)`, `η_peak = Σ|g_i|/(2√(D O))`; `ΔL* = ΔL_max/(1 + B_n2/B)`,
/// `ΔL_max = (Σ|g_i|)²/(2sᵀHs)`, `B_n2 = c·D/sᵀHs`; `1/B_n2 − 1/B_peak = 2/c = 4/(πκ²)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignMeanField {
    pub sum_abs_g: f64,
    pub trace_h: f64,
    pub off: f64,
    pub c: f64,
}

impl SignMeanField {
    /// Summaries from statistics.
    pub fn from_stats<H: Curvature + ?Sized>(
        st: &GradStats,
        h: &H,
        variant: MeanFieldVariant,
    ) -> Result<Self> {
        let l = SoftSignMeanField::from_stats(st, h, 0.0, variant)?;
        Ok(SignMeanField {
            sum_abs_g: l.ug,
            trace_h: l.trace_h,
            off: l.uhu - l.trace_h,
            c: l.c,
        })
    }
    /// From scalar summaries.
    pub fn from_summaries(sum_abs_g: f64, trace_h: f64, off: f64, c: f64) -> Result<Self> {
        let l = SoftSignMeanField::from_summaries(sum_abs_g, off + trace_h, trace_h, c)?;
        Ok(SignMeanField {
            sum_abs_g: l.ug,
            trace_h,
            off,
            c,
        })
    }
    fn law(&self) -> SoftSignMeanField {
        SoftSignMeanField {
            ug: self.sum_abs_g,
            uhu: self.off + self.trace_h,
            trace_h: self.trace_h,
            c: self.c,
        }
    }
    /// `β_B`.
    pub fn beta(&self, b: f64) -> f64 {
        self.law().beta(b)
    }
    /// `η*(B)`.
    pub fn eta(&self, b: f64) -> f64 {
        self.law().eta(b)
    }
    /// `ΔL*(B)`.
    pub fn dl(&self, b: f64) -> f64 {
        self.law().dl(b)
    }
    /// `β_noise = √(D/O)` when `O > 0`.
    pub fn beta_noise(&self) -> Option<f64> {
        self.law().beta_noise()
    }
    /// `B_peak` when `O > D ⇔ sᵀHs > 2 tr H`.
    pub fn b_peak(&self) -> Option<f64> {
        self.law().b_peak()
    }
    /// `η_peak = Σ|g|/(2√(D O))` when `O > 0`.
    pub fn eta_peak(&self) -> Option<f64> {
        self.law().eta_peak()
    }
    /// `ΔL_max`.
    pub fn dl_max(&self) -> f64 {
        self.law().dl_max()
    }
    /// `B_n2`.
    pub fn b_n2(&self) -> f64 {
        self.law().b_n2()
    }
}

/// Li et al., "Surge Phenomenon in Optimal Learning Rate and Batch Size Scaling", NeurIPS 2024
/// (spec §5.3): small-batch linearisation `m_i ≈ √(2B/π) g_i/σ_i`, `O' = Σ_{i≠j} r_i r_j H_ij`
/// (`r = g/σ`), `B_Li = πD/(2O')`, `η_peak = √(B_Li/(2π))·Σ(g_i²/σ_i)/D`,
/// `η*(B) = η_peak/(½(√(B_Li/B) + √(B/B_Li)))`, `ΔL* = ΔL_max/(1 + B_Li/B)`.
/// Valid only for `B ≪ πσ_i²/(2g_i²)` for every i; predicts a peak whenever `O' > 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurgeLaw {
    pub eta_peak: f64,
    pub b_noise: f64,
    /// `ΔL_max = (Σ g_i²/σ_i)²/(2O')`.
    pub dl_max: f64,
}

impl SurgeLaw {
    /// From statistics; every `σ_i` must be > 0, and `O' > 0` (else `NoOptimum`: no surge).
    pub fn from_stats<H: Curvature + ?Sized>(st: &GradStats, h: &H) -> Result<Self> {
        st.validate()?;
        check_dims(st, h)?;
        if let Some(i) = st.sigma2.iter().position(|&s| s <= 0.0) {
            return Err(LawError::InvalidArgument(format!(
                "Li et al.'s law needs σ_i > 0 (σ²[{i}] = 0)"
            )));
        }
        let r: Vec<f64> =
            st.g.iter()
                .zip(&st.sigma2)
                .map(|(g, s)| g / s.sqrt())
                .collect();
        let d = h.diag();
        let o_prime = h.quad(&r) - r.iter().zip(&d).map(|(r, h)| r * r * h).sum::<f64>();
        let trace_h: f64 = d.iter().sum();
        let s: f64 =
            st.g.iter()
                .zip(&st.sigma2)
                .map(|(g, s)| g * g / s.sqrt())
                .sum();
        if o_prime <= 0.0 {
            return Err(LawError::NoOptimum(format!(
                "O' = {o_prime} ≤ 0: Li et al.'s law has no peak"
            )));
        }
        let b_li = PI * trace_h / (2.0 * o_prime);
        Ok(SurgeLaw {
            eta_peak: (b_li / (2.0 * PI)).sqrt() * s / trace_h,
            b_noise: b_li,
            dl_max: s * s / (2.0 * o_prime),
        })
    }
    /// `η*(B)`.
    pub fn eta(&self, b: f64) -> f64 {
        self.eta_peak / (0.5 * ((self.b_noise / b).sqrt() + (b / self.b_noise).sqrt()))
    }
    /// `ΔL*(B)`.
    pub fn dl(&self, b: f64) -> f64 {
        self.dl_max / (1.0 + self.b_noise / b)
    }
}

/// McCandlish et al.'s appendix heuristic for Adam, `η* ≈ η_max/(1 + B_noise/B)^α`, `0.5 < α < 1`
/// (a grid-search fit; cannot produce a surge).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerLaw {
    pub eta_max: f64,
    pub b_noise: f64,
    pub alpha: f64,
}

impl PowerLaw {
    /// `η*(B)`.
    pub fn eta(&self, b: f64) -> f64 {
        self.eta_max / (1.0 + self.b_noise / b).powf(self.alpha)
    }
}
