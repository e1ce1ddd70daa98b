//! Noisy linear regression with exact statistics: `x ~ N(0, diag(λ))`, `y = xᵀw* + ξ`,
//! `ξ ~ N(0, ν²)`, per-sample loss `½(xᵀw − y)²`. At `e = w − w*`: `g = Λe`, `H = Λ`,
//! `Σ = Λ(eᵀΛe + ν²) + g gᵀ` **\[derived\]** (Isserlis) — not diagonal and not Gaussian, a realistic
//! test of assumptions A3/A4.

use crate::error::{LawError, Result};
use crate::stats::{DiagH, GradStats};
use ndarray::Array2;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

/// The regression problem.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegression {
    /// Feature variances λ_k (default 1/k).
    pub lam: Vec<f64>,
    /// Label noise std ν.
    pub noise_std: f64,
    /// Optimum w*.
    pub w_star: Vec<f64>,
}

impl LinearRegression {
    /// `λ_k = 1/k`, `w* ~ N(0, I)` drawn from `seed`.
    pub fn new(d: usize, noise_std: f64, seed: u64) -> Result<Self> {
        if d == 0 || !(noise_std.is_finite() && noise_std >= 0.0) {
            return Err(LawError::InvalidArgument(format!(
                "need d > 0 and ν ≥ 0, got d={d}, ν={noise_std}"
            )));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        Ok(LinearRegression {
            lam: (1..=d).map(|k| 1.0 / k as f64).collect(),
            noise_std,
            w_star: (0..d).map(|_| StandardNormal.sample(&mut rng)).collect(),
        })
    }

    /// Dimension d.
    pub fn dim(&self) -> usize {
        self.lam.len()
    }

    /// Excess loss `½ eᵀΛe`.
    pub fn excess_loss(&self, w: &[f64]) -> f64 {
        0.5 * w
            .iter()
            .zip(&self.w_star)
            .zip(&self.lam)
            .map(|((w, s), l)| l * (w - s) * (w - s))
            .sum::<f64>()
    }

    /// `g = Λe`.
    pub fn gradient(&self, w: &[f64]) -> Vec<f64> {
        w.iter()
            .zip(&self.w_star)
            .zip(&self.lam)
            .map(|((w, s), l)| l * (w - s))
            .collect()
    }

    /// `H = Λ`.
    pub fn hessian(&self) -> DiagH {
        DiagH(self.lam.clone())
    }

    /// Full per-sample covariance `Σ = Λ(eᵀΛe + ν²) + g gᵀ`.
    pub fn covariance(&self, w: &[f64]) -> Array2<f64> {
        let g = self.gradient(w);
        let c = 2.0 * self.excess_loss(w) + self.noise_std * self.noise_std;
        Array2::from_shape_fn((self.dim(), self.dim()), |(i, j)| {
            g[i] * g[j] + if i == j { self.lam[i] * c } else { 0.0 }
        })
    }

    /// Diagonal statistics `(g, diag Σ)` for the one-step laws.
    pub fn grad_stats(&self, w: &[f64]) -> Result<GradStats> {
        let g = self.gradient(w);
        let c = 2.0 * self.excess_loss(w) + self.noise_std * self.noise_std;
        let s2 = g
            .iter()
            .zip(&self.lam)
            .map(|(g, l)| l * c + g * g)
            .collect();
        GradStats::new(g, s2)
    }

    /// One per-sample gradient `x(xᵀw − y)` written into `out`.
    pub fn sample_grad<R: Rng>(&self, w: &[f64], rng: &mut R, out: &mut [f64]) {
        let mut r = 0.0;
        for k in 0..self.dim() {
            let z: f64 = StandardNormal.sample(rng);
            out[k] = self.lam[k].sqrt() * z;
            r += out[k] * (w[k] - self.w_star[k]);
        }
        let xi: f64 = StandardNormal.sample(rng);
        r -= self.noise_std * xi;
        out.iter_mut().for_each(|x| *x *= r);
    }

    /// Mean of `b` per-sample gradients into `out` (`tmp` is scratch of length d).
    pub fn batch_grad<R: Rng>(
        &self,
        w: &[f64],
        b: usize,
        rng: &mut R,
        out: &mut [f64],
        tmp: &mut [f64],
    ) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for _ in 0..b {
            self.sample_grad(w, rng, tmp);
            out.iter_mut().zip(tmp.iter()).for_each(|(o, t)| *o += t);
        }
        out.iter_mut().for_each(|o| *o /= b as f64);
    }

    /// `n` per-sample gradients (for `Noise::Pool` and the estimators).
    pub fn per_example(&self, w: &[f64], n: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let mut o = vec![0.0; self.dim()];
                self.sample_grad(w, &mut rng, &mut o);
                o
            })
            .collect()
    }
}
