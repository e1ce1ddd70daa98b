//! Update rules `φ = f(g̃_B)` and the ways their moments can be computed.

use crate::error::{LawError, Result};

/// A coordinate-wise update rule (spec §6.1). ε is Adam's epsilon; the learning rate is `η`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// `f(x) = x` (McCandlish et al. 2018).
    Sgd,
    /// `f(x) = sign(x)` — Adam with ε = 0 and β1 = β2 = 0 (Li et al. 2024).
    Sign,
    /// `f(x) = x/√(x² + ε²)` — Su's SoftSignSGD (ε inside the square root).
    SoftSign { eps: f64 },
    /// `f(x) = x/(|x| + ε)` — what Adam with β1 = β2 = 0 computes (`m̂/(√v̂ + ε)`).
    AdamDiv { eps: f64 },
    /// `f(x) = clip(x/ε, −1, 1)` — piecewise-linear surrogate with closed-form moments.
    Clip { eps: f64 },
}

impl Rule {
    /// Adam's ε of the rule (0 for `Sign`, `None` for `Sgd`).
    pub fn eps(&self) -> Option<f64> {
        match *self {
            Rule::Sgd => None,
            Rule::Sign => Some(0.0),
            Rule::SoftSign { eps } | Rule::AdamDiv { eps } | Rule::Clip { eps } => Some(eps),
        }
    }

    /// Typed check: ε finite and ≥ 0.
    pub fn validate(&self) -> Result<()> {
        match self.eps() {
            Some(e) if !(e.is_finite() && e >= 0.0) => Err(LawError::InvalidEps(e)),
            _ => Ok(()),
        }
    }

    /// `f(x, ε)` in physical units (used by the simulators and Monte Carlo).
    #[inline]
    pub fn apply(&self, x: f64) -> f64 {
        match *self {
            Rule::Sgd => x,
            Rule::Sign => sign0(x),
            Rule::SoftSign { eps } => softsign(x, eps),
            Rule::AdamDiv { eps } => adam_div(x, eps),
            Rule::Clip { eps } => clip_rule(x, eps),
        }
    }

    /// Short label for tables and plots.
    pub fn label(&self) -> String {
        match *self {
            Rule::Sgd => "SGD".into(),
            Rule::Sign => "SignSGD".into(),
            Rule::SoftSign { eps } => format!("SoftSign(ε={eps:.3e})"),
            Rule::AdamDiv { eps } => format!("AdamDiv(ε={eps:.3e})"),
            Rule::Clip { eps } => format!("Clip(ε={eps:.3e})"),
        }
    }
}

/// `sign(x)` with `sign(0) = 0`.
#[inline]
pub fn sign0(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// `softsign(x, ε) = x/√(x² + ε²)` (`sign(x)` at ε = 0).
#[inline]
pub fn softsign(x: f64, eps: f64) -> f64 {
    if eps == 0.0 {
        sign0(x)
    } else {
        x / x.hypot(eps)
    }
}

/// `x/(|x| + ε)` (`sign(x)` at ε = 0).
#[inline]
pub fn adam_div(x: f64, eps: f64) -> f64 {
    if eps == 0.0 {
        sign0(x)
    } else {
        x / (x.abs() + eps)
    }
}

/// `clip(x/ε, −1, 1)` (`sign(x)` at ε = 0).
#[inline]
pub fn clip_rule(x: f64, eps: f64) -> f64 {
    if eps == 0.0 {
        sign0(x)
    } else {
        (x / eps).clamp(-1.0, 1.0)
    }
}

/// How the moments `m = E φ`, `q = E φ²` are computed (spec §8.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Moments {
    /// erf for `Sign`, composite Gauss–Legendre quadrature for `SoftSign`/`AdamDiv`, closed forms
    /// for `Clip`; SGD is always exact.
    Exact,
    /// Su, 18 Nov 2024 (kexue.fm/archives/10563): S-curve substitute for erf, per coordinate.
    Su2024,
    /// Su, Sep 2025 (kexue.fm/archives/11280): `E[g/√g²] ≈ E g/√(E g²)`, per coordinate.
    MeanField2025,
    /// Monte Carlo with Gaussian batch noise, `draws` samples per coordinate, seeded.
    MonteCarlo { draws: usize, seed: u64 },
}

impl Moments {
    /// Label naming the source.
    pub fn label(&self) -> &'static str {
        match self {
            Moments::Exact => "exact",
            Moments::Su2024 => "Su 2024",
            Moments::MeanField2025 => "mean-field 2025",
            Moments::MonteCarlo { .. } => "Monte Carlo",
        }
    }
}
