//! Adam's ε: SoftSignSGD / AdamDiv / Clip moments in closed and approximate form, Su's mean-field
//! law, and the corrected large-ε limit (spec §6).

use crate::error::{LawError, Result};
use crate::rules::softsign;
use crate::sgd::SgdLaw;
use crate::signsgd::MeanFieldVariant;
use crate::stats::{Curvature, GradStats, check_dims};
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_2, PI};

fn phi_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}
fn phi_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// Closed-form moments of the Clip surrogate `f = clip(x/b, −1, 1)`, `x = a + z` (spec §6.2):
///
/// `M = ½(E₊+E₋) + (a/2b)(E₊−E₋) + (e^{−(a+b)²/2} − e^{−(a−b)²/2})/(b√(2π))`, `E± = erf((a±b)/√2)` \[Su\];
/// `Q = Φ(a−b) + Φ(−a−b) + [(1+a²)(Φ(b−a) − Φ(−b−a)) − (a+b)ϕ(a−b) − (b−a)ϕ(a+b)]/b²` \[derived\].
/// Both lose digits to cancellation for `b ≲ 1e-2`; [`crate::moments`] switches to quadrature there.
pub fn clip_closed_moments(a: f64, b: f64) -> (f64, f64) {
    let ep = libm::erf((a + b) * FRAC_1_SQRT_2);
    let em = libm::erf((a - b) * FRAC_1_SQRT_2);
    let m = 0.5 * (ep + em)
        + a / (2.0 * b) * (ep - em)
        + ((-0.5 * (a + b) * (a + b)).exp() - (-0.5 * (a - b) * (a - b)).exp())
            / (b * (2.0 * PI).sqrt());
    let q = phi_cdf(a - b)
        + phi_cdf(-a - b)
        + ((1.0 + a * a) * (phi_cdf(b - a) - phi_cdf(-b - a))
            - (a + b) * phi_pdf(a - b)
            - (b - a) * phi_pdf(a + b))
            / (b * b);
    (m, q)
}

/// Su 2024 approximate moments (spec §6.3), dimensionless: `m ≈ a/√(a²+b²+π/2)`,
/// `q ≈ 1 − b²/(a²+b²+π/2)`, hence `v = q − m² = (π/2)/(a²+b²+π/2)`. At b = 0 this is §5.2's
/// sign approximation. Derived for SoftSign; used unchanged for AdamDiv and Clip (R3 gives its error).
#[inline(always)]
pub fn su2024_mv(a: f64, b: f64) -> (f64, f64) {
    let d = a * a + b * b + FRAC_PI_2;
    (a / d.sqrt(), FRAC_PI_2 / d)
}

/// Mean-field 2025 moments (spec §5.4/§6.4): `m ≈ a/√(a²+1+b²)`, `q ≈ (a²+1)/(a²+1+b²)`,
/// `v = 1/(a²+1+b²)`. No Gaussian assumption; its ε → ∞ limit is exactly SGD.
#[inline(always)]
pub fn mean_field_2025_mv(a: f64, b: f64) -> (f64, f64) {
    let d = a * a + 1.0 + b * b;
    (a / d.sqrt(), 1.0 / d)
}

/// Su's mean-field law for SoftSign (spec §6.3/§6.4), `u = softsign(g, ε)`, `P = uᵀHu − D`:
///
/// `β_B = (1 + c/B)^(−1/2)`, `η*(B) ≈ uᵀg/(D/β_B + β_B P)`, `ΔL* ≈ ΔL_max/(1 + B_n2/B)`,
/// `ΔL_max = (uᵀg)²/(2uᵀHu)`, `B_n2 = c·D/uᵀHu`; a peak at finite B iff `P > D`, at
/// `B_peak = c·D/(P − D)` with `η_peak = uᵀg/(2√(D P))`.
/// `c = π κ_ε²/2` (Su 2024, `κ_ε² = Σσ²/Σ(g²+ε²)`) or `B_simple,ε = trΣ/(|g|² + Nε²)` (2025).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftSignMeanField {
    pub ug: f64,
    pub uhu: f64,
    pub trace_h: f64,
    pub c: f64,
}

impl SoftSignMeanField {
    /// Summaries from statistics (`ε = 0` gives [`crate::signsgd::SignMeanField`]'s values).
    pub fn from_stats<H: Curvature + ?Sized>(
        st: &GradStats,
        h: &H,
        eps: f64,
        variant: MeanFieldVariant,
    ) -> Result<Self> {
        st.validate()?;
        check_dims(st, h)?;
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(LawError::InvalidEps(eps));
        }
        let u: Vec<f64> = st.g.iter().map(|&g| softsign(g, eps)).collect();
        let ug = u.iter().zip(&st.g).map(|(u, g)| u * g).sum();
        let uhu = h.quad(&u);
        let trace_h = h.trace();
        let denom = st.g_norm2() + st.len() as f64 * eps * eps;
        let c = match variant {
            MeanFieldVariant::Su2024 => FRAC_PI_2 * st.trace_sigma() / denom,
            MeanFieldVariant::MeanField2025 => st.trace_sigma() / denom,
        };
        Self::from_summaries(ug, uhu, trace_h, c)
    }

    /// From scalar summaries (`c > 0`, `D > 0`).
    pub fn from_summaries(ug: f64, uhu: f64, trace_h: f64, c: f64) -> Result<Self> {
        for (what, v) in [("ug", ug), ("uhu", uhu), ("trace_h", trace_h), ("c", c)] {
            if !v.is_finite() {
                return Err(LawError::NonFinite {
                    what,
                    index: 0,
                    value: v,
                });
            }
        }
        if trace_h <= 0.0 || c < 0.0 {
            return Err(LawError::InvalidArgument("need tr H > 0 and c ≥ 0".into()));
        }
        Ok(SoftSignMeanField {
            ug,
            uhu,
            trace_h,
            c,
        })
    }

    /// `P = uᵀHu − D`.
    pub fn p(&self) -> f64 {
        self.uhu - self.trace_h
    }
    /// Normalised batch size `β_B = (1 + c/B)^(−1/2)`.
    pub fn beta(&self, b: f64) -> f64 {
        (1.0 + self.c / b).powf(-0.5)
    }
    /// `η*(B) = uᵀg/(D/β + βP)`.
    pub fn eta(&self, b: f64) -> f64 {
        let beta = self.beta(b);
        self.ug / (self.trace_h / beta + beta * self.p())
    }
    /// `ΔL*(B) = ΔL_max/(1 + B_n2/B)`.
    pub fn dl(&self, b: f64) -> f64 {
        self.dl_max() / (1.0 + self.b_n2() / b)
    }
    /// `ΔL_max = (uᵀg)²/(2uᵀHu)`.
    pub fn dl_max(&self) -> f64 {
        self.ug * self.ug / (2.0 * self.uhu)
    }
    /// `B_n2 = c·D/uᵀHu`.
    pub fn b_n2(&self) -> f64 {
        self.c * self.trace_h / self.uhu
    }
    /// `β_noise = √(D/P)` when `P > 0`.
    pub fn beta_noise(&self) -> Option<f64> {
        (self.p() > 0.0).then(|| (self.trace_h / self.p()).sqrt())
    }
    /// `B_peak = c·D/(P − D)` when `P > D ⇔ uᵀHu > 2 tr H`, else `None` (monotone in B).
    pub fn b_peak(&self) -> Option<f64> {
        (self.p() > self.trace_h).then(|| self.c * self.trace_h / (self.p() - self.trace_h))
    }
    /// `η_peak = uᵀg/(2√(D P))` (the sup over β, reached at finite B only if `P > D`).
    pub fn eta_peak(&self) -> Option<f64> {
        (self.p() > 0.0).then(|| self.ug / (2.0 * (self.trace_h * self.p()).sqrt()))
    }
}

/// The **exact** ε → ∞ limit of `η*/ε` for SoftSign and AdamDiv: SGD with the true noise,
/// `|g|²/(gᵀHg + tr(ΣH)/B)` (spec §6.3, correcting Su 2024).
pub fn large_eps_limit_exact<H: Curvature + ?Sized>(st: &GradStats, h: &H, b: f64) -> Result<f64> {
    Ok(SgdLaw::from_stats(st, h)?.eta(b))
}

/// Su 2024's per-coordinate ε → ∞ limit: `|g|²/(gᵀHg + (π/2)·Σσ_i²H_ii/B)` — SGD with the noise
/// inflated by π/2, an artifact of the approximate second moment (kept so nobody "fixes" it).
pub fn large_eps_limit_su2024<H: Curvature + ?Sized>(st: &GradStats, h: &H, b: f64) -> Result<f64> {
    st.validate()?;
    check_dims(st, h)?;
    let d = h.diag();
    let tr_sh: f64 = st.sigma2.iter().zip(&d).map(|(s, h)| s * h).sum();
    Ok(st.g_norm2() / (h.quad(&st.g) + FRAC_PI_2 * tr_sh / b))
}

/// Su 2024's global-κ ε → ∞ limit: `|g|²/(gᵀHg + π σ̄² D/(2B))`, `σ̄² = trΣ/N`.
pub fn large_eps_limit_su2024_global<H: Curvature + ?Sized>(
    st: &GradStats,
    h: &H,
    b: f64,
) -> Result<f64> {
    st.validate()?;
    check_dims(st, h)?;
    let sbar2 = st.trace_sigma() / st.len() as f64;
    Ok(st.g_norm2() / (h.quad(&st.g) + PI * sbar2 * h.trace() / (2.0 * b)))
}
