//! Estimating the statistics from real gradients (spec §8.4): per-example and micro-batch
//! statistics, McCandlish et al.'s two-batch identity, the EMA gradient-noise-scale estimator,
//! mean-field summaries, a Hutchinson curvature diagonal and the direct one-step measurement.

use crate::error::{LawError, Result, check_finite};
use crate::stats::{Curvature, GradStats, check_dims};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Statistics from `n` per-example gradients (`rows[k]` has N entries): `ĝ` = mean,
/// `σ̂²` = unbiased sample variance (divides by n − 1).
pub fn stats_from_per_example(rows: &[Vec<f64>]) -> Result<GradStats> {
    let n = rows.len();
    if n < 2 {
        return Err(LawError::InvalidArgument(format!(
            "need ≥ 2 per-example gradients, got {n}"
        )));
    }
    let d = rows[0].len();
    let mut mean = vec![0.0; d];
    for (k, r) in rows.iter().enumerate() {
        if r.len() != d {
            return Err(LawError::LengthMismatch {
                what: "per-example row",
                expected: d,
                got: r.len(),
            });
        }
        check_finite("per-example gradient", r).map_err(|e| match e {
            LawError::NonFinite { value, .. } => LawError::NonFinite {
                what: "per-example gradient row",
                index: k,
                value,
            },
            e => e,
        })?;
        mean.iter_mut().zip(r).for_each(|(m, x)| *m += x);
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut var = vec![0.0; d];
    for r in rows {
        var.iter_mut()
            .zip(r)
            .zip(&mean)
            .for_each(|((v, x), m)| *v += (x - m) * (x - m));
    }
    var.iter_mut().for_each(|v| *v /= (n - 1) as f64);
    GradStats::new(mean, var)
}

/// Statistics from `k` micro-batch mean gradients of size `b`: `ĝ` = mean, `σ̂² = b·var_k`.
pub fn stats_from_microbatches(means: &[Vec<f64>], b: usize) -> Result<GradStats> {
    if b == 0 {
        return Err(LawError::NonPositiveBatch(0.0));
    }
    let st = stats_from_per_example(means)?;
    GradStats::new(st.g, st.sigma2.iter().map(|v| v * b as f64).collect())
}

/// Unbiased squared mean per coordinate, `ĝ_i² − σ̂_i²/n_total` (may be negative: clip only for display).
pub fn unbiased_g2(st: &GradStats, n_total: usize) -> Vec<f64> {
    st.g.iter()
        .zip(&st.sigma2)
        .map(|(g, s)| g * g - s / n_total as f64)
        .collect()
}

/// McCandlish et al. App. A.1 two-batch identity (valid per coordinate too), both unbiased:
/// `|g|² ≈ (B_big|G_big|² − B_small|G_small|²)/(B_big − B_small)`,
/// `trΣ ≈ (|G_small|² − |G_big|²)/(1/B_small − 1/B_big)`. Returns `(|g|², trΣ)`.
pub fn two_batch(small_norm2: f64, big_norm2: f64, b_small: f64, b_big: f64) -> Result<(f64, f64)> {
    crate::error::check_batch(b_small)?;
    crate::error::check_batch(b_big)?;
    check_finite("norms", &[small_norm2, big_norm2])?;
    if b_big <= b_small {
        return Err(LawError::InvalidArgument(format!(
            "need B_big > B_small, got {b_big} ≤ {b_small}"
        )));
    }
    let g2 = (b_big * big_norm2 - b_small * small_norm2) / (b_big - b_small);
    let tr = (small_norm2 - big_norm2) / (1.0 / b_small - 1.0 / b_big);
    Ok((g2, tr))
}

/// EMA of the two-batch estimates with bias correction `1 − decay^t`; reports
/// `B_simple = EMA(trΣ)/EMA(|g|²)` (a ratio of averages: the per-step ratio is very noisy).
#[derive(Debug, Clone, PartialEq)]
pub struct GnsEstimator {
    pub decay: f64,
    ema_g2: f64,
    ema_tr: f64,
    t: u32,
}

impl GnsEstimator {
    /// `decay ∈ [0, 1)`.
    pub fn new(decay: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&decay) {
            return Err(LawError::InvalidArgument(format!(
                "decay must be in [0, 1), got {decay}"
            )));
        }
        Ok(GnsEstimator {
            decay,
            ema_g2: 0.0,
            ema_tr: 0.0,
            t: 0,
        })
    }
    /// Folds in one step's norms (signed estimates are kept inside the EMA).
    pub fn update(
        &mut self,
        small_norm2: f64,
        big_norm2: f64,
        b_small: f64,
        b_big: f64,
    ) -> Result<()> {
        let (g2, tr) = two_batch(small_norm2, big_norm2, b_small, b_big)?;
        self.ema_g2 = self.decay * self.ema_g2 + (1.0 - self.decay) * g2;
        self.ema_tr = self.decay * self.ema_tr + (1.0 - self.decay) * tr;
        self.t += 1;
        Ok(())
    }
    fn correction(&self) -> f64 {
        1.0 - self.decay.powi(self.t as i32)
    }
    /// Bias-corrected `|g|²`.
    pub fn g_norm2(&self) -> Option<f64> {
        (self.t > 0).then(|| self.ema_g2 / self.correction())
    }
    /// Bias-corrected `trΣ`.
    pub fn trace_sigma(&self) -> Option<f64> {
        (self.t > 0).then(|| self.ema_tr / self.correction())
    }
    /// `B_simple = EMA(trΣ)/EMA(|g|²)` (`None` before the first update or if `|g|²` ≤ 0).
    pub fn b_simple(&self) -> Option<f64> {
        let g2 = self.g_norm2()?;
        (g2 > 0.0).then(|| self.trace_sigma().unwrap_or(0.0) / g2)
    }
}

/// Mean-field summaries of spec §8.4.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summaries {
    /// `κ² = Σσ²/Σg²` (= B_simple).
    pub kappa2: f64,
    /// `κ_ε² = Σσ²/Σ(g²+ε²)`.
    pub kappa_eps2: f64,
    /// `Σ|g_i|`.
    pub sum_abs_g: f64,
    /// `O = sᵀHs − D`.
    pub off: f64,
    /// `uᵀg`, `u = softsign(g, ε)`.
    pub ug: f64,
    /// `uᵀHu`.
    pub uhu: f64,
    /// `D = tr H`.
    pub trace_h: f64,
}

/// Summaries at Adam's ε.
pub fn summaries<H: Curvature + ?Sized>(st: &GradStats, h: &H, eps: f64) -> Result<Summaries> {
    st.validate()?;
    check_dims(st, h)?;
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(LawError::InvalidEps(eps));
    }
    let s: Vec<f64> = st.g.iter().map(|&g| crate::rules::sign0(g)).collect();
    let u: Vec<f64> =
        st.g.iter()
            .map(|&g| crate::rules::softsign(g, eps))
            .collect();
    let trace_h = h.trace();
    let tr = st.trace_sigma();
    Ok(Summaries {
        kappa2: tr / st.g_norm2(),
        kappa_eps2: tr / (st.g_norm2() + st.len() as f64 * eps * eps),
        sum_abs_g: st.g.iter().map(|g| g.abs()).sum(),
        off: h.quad(&s) - trace_h,
        ug: u.iter().zip(&st.g).map(|(u, g)| u * g).sum(),
        uhu: h.quad(&u),
        trace_h,
    })
}

/// Curvature given only by a Hessian-vector product `v ↦ Hv`; the diagonal is Hutchinson's
/// estimate `E[z ⊙ Hz]` over `probes` Rademacher vectors (seeded), `quad(v) = vᵀ(Hv)` is exact.
pub struct HvpCurvature<F: Fn(&[f64]) -> Vec<f64> + Sync> {
    pub hvp: F,
    pub n: usize,
    pub probes: usize,
    pub seed: u64,
}

impl<F: Fn(&[f64]) -> Vec<f64> + Sync> Curvature for HvpCurvature<F> {
    fn dim(&self) -> usize {
        self.n
    }
    fn diag(&self) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut acc = vec![0.0; self.n];
        for _ in 0..self.probes.max(1) {
            let z: Vec<f64> = (0..self.n)
                .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
                .collect();
            let hz = (self.hvp)(&z);
            acc.iter_mut()
                .zip(z.iter().zip(&hz))
                .for_each(|(a, (z, h))| *a += z * h);
        }
        acc.iter().map(|a| a / self.probes.max(1) as f64).collect()
    }
    fn quad(&self, v: &[f64]) -> f64 {
        (self.hvp)(v).iter().zip(v).map(|(h, v)| h * v).sum()
    }
}

/// Direct measurement of the one-step optimum along sampled updates:
/// `η*_meas = mean(φᵀg)/mean(φᵀHφ)`.
pub fn measured_eta<H: Curvature + ?Sized>(phis: &[Vec<f64>], g: &[f64], h: &H) -> Result<f64> {
    if phis.is_empty() {
        return Err(LawError::InvalidArgument("no updates".into()));
    }
    let (mut num, mut den) = (0.0, 0.0);
    for p in phis {
        if p.len() != g.len() {
            return Err(LawError::LengthMismatch {
                what: "update",
                expected: g.len(),
                got: p.len(),
            });
        }
        num += p.iter().zip(g).map(|(a, b)| a * b).sum::<f64>();
        den += h.quad(p);
    }
    if den <= 0.0 {
        return Err(LawError::NoOptimum("mean φᵀHφ ≤ 0".into()));
    }
    Ok(num / den)
}
