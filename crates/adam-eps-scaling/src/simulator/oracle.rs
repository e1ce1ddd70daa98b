//! `QuadraticOracle`: draws batch gradients, applies the rule, and evaluates the exact quadratic
//! decrease `η φᵀg − ½η² φᵀHφ` — the direct empirical check of the one-step laws.

use crate::error::{LawError, Result, check_batch};
use crate::rules::Rule;
use crate::stats::Curvature;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// How batch gradients are drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Noise {
    /// `g̃ = g + (σ/√B) ⊙ z` (diagonal Gaussian).
    Gaussian,
    /// `g̃ = g + L z/√B` with `L` the lower Cholesky factor of the per-sample Σ (rows of L).
    FullCov(Vec<Vec<f64>>),
    /// Mean of `B` per-sample gradients drawn with replacement from this pool.
    Pool(Vec<Vec<f64>>),
}

/// The oracle: true gradient `g`, per-sample std `sigma` (for `Gaussian`), curvature `h`.
pub struct QuadraticOracle<H: Curvature> {
    pub g: Vec<f64>,
    pub sigma: Vec<f64>,
    pub h: H,
    pub noise: Noise,
}

/// What the oracle measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OracleResult {
    /// Ratio estimator `mean(φᵀg)/mean(φᵀHφ)`.
    pub eta_ratio: f64,
    /// Its delta-method standard error.
    pub eta_ratio_se: f64,
    /// Argmax of the mean decrease over the supplied η grid (NaN for an empty grid).
    pub eta_grid_best: f64,
    pub mean_num: f64,
    pub mean_den: f64,
}

impl<H: Curvature> QuadraticOracle<H> {
    /// One batch gradient; for Gaussian noise, odd draws reuse the previous `z` negated
    /// (antithetic pairs: unbiased, and much less variance at low signal-to-noise).
    fn draw(&self, b: f64, rng: &mut StdRng, out: &mut [f64], z: &mut [f64], antithetic: bool) {
        let n = self.g.len();
        if !antithetic {
            z.iter_mut().for_each(|z| *z = StandardNormal.sample(rng));
        } else {
            z.iter_mut().for_each(|z| *z = -*z);
        }
        match &self.noise {
            Noise::Gaussian => {
                let s = b.sqrt();
                for i in 0..n {
                    out[i] = self.g[i] + self.sigma[i] / s * z[i];
                }
            }
            Noise::FullCov(l) => {
                let s = b.sqrt();
                for i in 0..n {
                    out[i] =
                        self.g[i] + l[i].iter().zip(z.iter()).map(|(a, z)| a * z).sum::<f64>() / s;
                }
            }
            Noise::Pool(pool) => {
                let k = b.round().max(1.0) as usize;
                out.iter_mut().for_each(|o| *o = 0.0);
                for _ in 0..k {
                    let row = &pool[rng.random_range(0..pool.len())];
                    out.iter_mut().zip(row).for_each(|(o, x)| *o += x);
                }
                out.iter_mut().for_each(|o| *o /= k as f64);
            }
        }
    }

    /// `draws` batch gradients at batch size `b` (seeded, chunked over rayon; results depend only
    /// on `seed`, not on the thread count). Gaussian noise uses antithetic pairs `±z`.
    pub fn run(
        &self,
        rule: &Rule,
        b: f64,
        draws: usize,
        seed: u64,
        eta_grid: &[f64],
    ) -> Result<OracleResult> {
        check_batch(b)?;
        rule.validate()?;
        if draws < 2 {
            return Err(LawError::InvalidArgument("need ≥ 2 draws".into()));
        }
        if let Noise::Pool(p) = &self.noise
            && p.is_empty()
        {
            return Err(LawError::InvalidArgument("empty pool".into()));
        }
        const CHUNK: usize = 4096;
        let n = self.g.len();
        let chunks = draws.div_ceil(CHUNK);
        let parts: Vec<(f64, f64, f64, f64, f64)> = (0..chunks)
            .into_par_iter()
            .map(|c| {
                let mut rng = StdRng::seed_from_u64(
                    seed.wrapping_add((c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                );
                let mut gt = vec![0.0; n];
                let mut z = vec![0.0; n];
                let (mut sn, mut sd, mut snn, mut sdd, mut snd) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for k in 0..CHUNK.min(draws - c * CHUNK) {
                    let anti = k % 2 == 1 && !matches!(self.noise, Noise::Pool(_));
                    self.draw(b, &mut rng, &mut gt, &mut z, anti);
                    gt.iter_mut().for_each(|x| *x = rule.apply(*x));
                    let num: f64 = gt.iter().zip(&self.g).map(|(p, g)| p * g).sum();
                    let den = self.h.quad(&gt);
                    sn += num;
                    sd += den;
                    snn += num * num;
                    sdd += den * den;
                    snd += num * den;
                }
                (sn, sd, snn, sdd, snd)
            })
            .collect();
        let k = draws as f64;
        let s = parts.iter().fold([0.0; 5], |a, p| {
            [a[0] + p.0, a[1] + p.1, a[2] + p.2, a[3] + p.3, a[4] + p.4]
        });
        let (mn, md) = (s[0] / k, s[1] / k);
        if md <= 0.0 {
            return Err(LawError::NoOptimum("mean φᵀHφ ≤ 0".into()));
        }
        let r = mn / md;
        // Var(num − r·den) = Var(num) − 2r Cov + r² Var(den) (treating draws as independent:
        // conservative for antithetic pairs, whose correlation is negative).
        let (vn, vd, cnd) = (s[2] / k - mn * mn, s[3] / k - md * md, s[4] / k - mn * md);
        let se = ((vn - 2.0 * r * cnd + r * r * vd).max(0.0) / k).sqrt() / md;
        let best = eta_grid
            .iter()
            .copied()
            .max_by(|a, b| (a * mn - 0.5 * a * a * md).total_cmp(&(b * mn - 0.5 * b * b * md)))
            .unwrap_or(f64::NAN);
        Ok(OracleResult {
            eta_ratio: r,
            eta_ratio_se: se,
            eta_grid_best: best,
            mean_num: mn,
            mean_den: md,
        })
    }
}
