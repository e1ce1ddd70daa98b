//! The estimators on a real model from `nn`: softmax regression (`nn::Linear` in f64 + kernels'
//! cross entropy) on seeded Gaussian-cluster data, trained with SGD while the gradient noise is
//! measured at every step (two-batch GNS with micro-batches, per-coordinate statistics) and the
//! curvature is read through finite-difference Hessian-vector products.

use crate::error::{LawError, Result};
use crate::estimators::{GnsEstimator, HvpCurvature, stats_from_microbatches};
use crate::stats::GradStats;
use kernels::ops::cross_entropy::{
    CrossEntropyOpts, cross_entropy_backward, cross_entropy_forward,
};
use kernels::{DType, Tensor};
use nn::{Accumulate, Linear, Module};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

fn nn_err<E: std::fmt::Display>(e: E) -> LawError {
    LawError::InvalidArgument(format!("model: {e}"))
}

/// Softmax regression `p = softmax(x·W + b)` on `classes` Gaussian clusters in `dim` dimensions.
pub struct SoftmaxProbe {
    pub layer: Linear,
    centers: Vec<Vec<f64>>,
    rng: StdRng,
}

/// What one training step measured.
#[derive(Debug, Clone)]
pub struct ProbeStep {
    pub loss: f64,
    /// Per-coordinate statistics from the micro-batches (`σ̂² = b·var`).
    pub stats: GradStats,
    /// `B_simple` of the EMA two-batch estimator (bias-corrected).
    pub b_simple_ema: Option<f64>,
}

impl SoftmaxProbe {
    /// A probe with seeded data and weights.
    pub fn new(dim: usize, classes: usize, seed: u64) -> Result<Self> {
        let layer = Linear::new(dim, classes, true, DType::F64, seed).map_err(nn_err)?;
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED);
        let centers = (0..classes)
            .map(|_| {
                (0..dim)
                    .map(|_| 1.5 * Distribution::<f64>::sample(&StandardNormal, &mut rng))
                    .collect()
            })
            .collect();
        Ok(SoftmaxProbe {
            layer,
            centers,
            rng,
        })
    }

    /// Number of parameters N.
    pub fn num_params(&self) -> usize {
        self.layer.num_params()
    }

    fn batch(&mut self, n: usize) -> (Vec<f64>, Vec<i64>) {
        let (dim, k) = (self.centers[0].len(), self.centers.len());
        let mut x = Vec::with_capacity(n * dim);
        let mut t = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % k;
            t.push(c as i64);
            x.extend(
                self.centers[c]
                    .iter()
                    .map(|m| m + Distribution::<f64>::sample(&StandardNormal, &mut self.rng) * 2.0),
            );
        }
        (x, t)
    }

    fn flat_grad(&self) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.num_params());
        for (_, p) in self.layer.named_params() {
            let g = p.grad.as_ref().ok_or_else(|| nn_err("missing gradient"))?;
            out.extend(g.as_slice::<f64>().map_err(nn_err)?.iter().copied());
        }
        Ok(out)
    }

    /// Mean loss and flattened gradient on `(x, t)`.
    pub fn loss_grad(&mut self, x: &[f64], t: &[i64]) -> Result<(f64, Vec<f64>)> {
        let dim = self.centers[0].len();
        let xt = Tensor::from_vec(x.to_vec(), &[t.len(), dim]).map_err(nn_err)?;
        self.layer.visit_mut(&nn::Prefix::root(), &mut |_, p| {
            let _ = p.zero_grad();
        });
        let (logits, cache) = self.layer.forward(&xt).map_err(nn_err)?;
        let opts = CrossEntropyOpts::default();
        let fwd = cross_entropy_forward(&logits, t, &opts).map_err(nn_err)?;
        let dl = cross_entropy_backward(&logits, t, &fwd, 1.0, &opts).map_err(nn_err)?;
        self.layer
            .backward(cache, &dl, &mut Accumulate)
            .map_err(nn_err)?;
        Ok((fwd.loss, self.flat_grad()?))
    }

    fn add_to_params(&mut self, delta: &[f64]) -> Result<()> {
        let mut off = 0;
        let mut res = Ok(());
        self.layer.visit_mut(&nn::Prefix::root(), &mut |_, p| {
            if let Ok(v) = p.value.as_slice_mut::<f64>() {
                v.iter_mut().zip(&delta[off..]).for_each(|(w, d)| *w += d);
                off += v.len();
            } else {
                res = Err(nn_err("parameters must be f64"));
            }
        });
        res
    }

    /// One SGD step at learning rate `lr` on `k` micro-batches of `b_small` examples, feeding `gns`.
    pub fn train_step(
        &mut self,
        lr: f64,
        k: usize,
        b_small: usize,
        gns: &mut GnsEstimator,
    ) -> Result<ProbeStep> {
        if k < 2 || b_small == 0 {
            return Err(LawError::InvalidArgument(
                "need k ≥ 2 micro-batches of ≥ 1 example".into(),
            ));
        }
        let mut means = Vec::with_capacity(k);
        let mut loss = 0.0;
        for _ in 0..k {
            let (x, t) = self.batch(b_small);
            let (l, g) = self.loss_grad(&x, &t)?;
            loss += l / k as f64;
            means.push(g);
        }
        let n = means[0].len();
        let big: Vec<f64> = (0..n)
            .map(|i| means.iter().map(|m| m[i]).sum::<f64>() / k as f64)
            .collect();
        let small_norm2 = means
            .iter()
            .map(|m| m.iter().map(|x| x * x).sum::<f64>())
            .sum::<f64>()
            / k as f64;
        gns.update(
            small_norm2,
            big.iter().map(|x| x * x).sum(),
            b_small as f64,
            (b_small * k) as f64,
        )?;
        let stats = stats_from_microbatches(&means, b_small)?;
        self.add_to_params(&big.iter().map(|g| -lr * g).collect::<Vec<_>>())?;
        Ok(ProbeStep {
            loss,
            stats,
            b_simple_ema: gns.b_simple(),
        })
    }

    /// Curvature through central-difference Hessian-vector products of the mean gradient on a
    /// fixed evaluation batch of `n_eval` examples (Hutchinson diagonal with `probes` vectors).
    pub fn curvature(
        &mut self,
        n_eval: usize,
        probes: usize,
    ) -> Result<HvpCurvature<impl Fn(&[f64]) -> Vec<f64> + Sync>> {
        let (x, t) = self.batch(n_eval);
        let layer = Linear::from_tensors(
            self.layer.w.value.try_clone().map_err(nn_err)?,
            self.layer
                .b
                .as_ref()
                .map(|b| b.value.try_clone())
                .transpose()
                .map_err(nn_err)?,
        )
        .map_err(nn_err)?;
        let n = self.num_params();
        let model = std::sync::Mutex::new(SoftmaxProbe {
            layer,
            centers: self.centers.clone(),
            rng: StdRng::seed_from_u64(0),
        });
        let hvp = move |v: &[f64]| -> Vec<f64> {
            let mut m = model.lock().unwrap_or_else(|e| e.into_inner());
            let h = 1e-5 / v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
            let grad_at = |m: &mut SoftmaxProbe, s: f64| -> Vec<f64> {
                let d: Vec<f64> = v.iter().map(|x| s * h * x).collect();
                let _ = m.add_to_params(&d);
                let g = m
                    .loss_grad(&x, &t)
                    .map(|p| p.1)
                    .unwrap_or_else(|_| vec![f64::NAN; v.len()]);
                let _ = m.add_to_params(&d.iter().map(|x| -x).collect::<Vec<_>>());
                g
            };
            let (gp, gm) = (grad_at(&mut m, 1.0), grad_at(&mut m, -1.0));
            gp.iter()
                .zip(&gm)
                .map(|(a, b)| (a - b) / (2.0 * h))
                .collect()
        };
        Ok(HvpCurvature {
            hvp,
            n,
            probes,
            seed: 3,
        })
    }
}
