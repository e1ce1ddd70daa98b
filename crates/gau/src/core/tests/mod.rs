//! Tests of the attention core, by topic: the fused core against the materialising one and a
//! naive f64 reference written straight from spec/gau.md §2.3–2.4 (`forward`), backward and
//! gradient checks (`backward`), bad input (`errors`), attention dropout (`dropout`), and the
//! CUDA core against the CPU (`gpu`, run only with `--features cuda` on a GPU). This file holds
//! the shared helpers.

mod backward;
mod dropout;
mod errors;
mod forward;
mod gpu;

use super::*;
use crate::mask::KeyPadding;
use crate::norm::{Normalization, Relu2Denom};
use kernels::testing::{randn, rng};
use nn::gradcheck::{Checkable, GradCheckOptions};
use nn::{GradSink, Module, Param, ParamRole, Prefix};

/// Masks every test sweeps, for batch 2 and `n_k` keys: none, lengths (one sequence padded,
/// one full), an explicit key mask that hides key 0 of the second sequence (so its first causal
/// row sees nothing: the empty-row case).
pub(super) fn masks(n_k: usize) -> Vec<Mask> {
    let hidden: &[usize] = if n_k > 3 { &[0, 2] } else { &[0] };
    crate::test_support::mask_sweep(n_k, [n_k.div_ceil(2), n_k], hidden)
}

/// Naive f64 forward from the definitions: visibility, `l_i`, `λ_i`, `ν`, each computed here.
pub(super) fn naive(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    d: Dims,
    mask: &Mask,
    norm: Normalization,
    c: f64,
) -> Vec<f64> {
    let Dims {
        batch,
        n_q,
        n_k,
        s,
        e,
    } = d;
    let mut out = vec![0.0; batch * n_q * e];
    for b in 0..batch {
        let real = |j: usize| match &mask.keys {
            KeyPadding::None => true,
            KeyPadding::Lengths(l) => j < l[b],
            KeyPadding::Mask(m) => m[b * n_k + j],
        };
        let valid = (0..n_k).filter(|&j| real(j)).count();
        for i in 0..n_q {
            let allowed: Vec<usize> = (0..n_k)
                .filter(|&j| real(j) && (!mask.causal || j + n_q <= i + n_k))
                .collect();
            let l = allowed.len();
            if l == 0 {
                continue;
            }
            let x: Vec<f64> = allowed
                .iter()
                .map(|&j| {
                    (0..s)
                        .map(|t| q[(b * n_q + i) * s + t] * k[(b * n_k + j) * s + t])
                        .sum()
                })
                .collect();
            let a: Vec<f64> = match norm {
                Normalization::Softmax | Normalization::SoftmaxPlus { .. } => {
                    let lam = match norm {
                        Normalization::SoftmaxPlus { floor } => {
                            (l.max(floor) as f64).ln() / 512f64.ln()
                        }
                        _ => 1.0,
                    };
                    let z: Vec<f64> = x.iter().map(|&x| lam * c * x).collect();
                    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = z.iter().map(|&z| (z - m).exp()).sum();
                    z.iter().map(|&z| (z - m).exp() / sum).collect()
                }
                Normalization::Relu2OverLen => x
                    .iter()
                    .map(|&x| (c * x).max(0.0).powi(2) / l as f64)
                    .collect(),
                Normalization::Relu2Paper { denom } => {
                    let nu = match denom {
                        Relu2Denom::PaddedLen => n_k as f64,
                        Relu2Denom::ValidLen => valid as f64,
                        Relu2Denom::Fixed(nu) => nu,
                    };
                    x.iter().map(|&x| (c * x / nu).max(0.0).powi(2)).collect()
                }
            };
            for (&j, &aj) in allowed.iter().zip(&a) {
                for t in 0..e {
                    out[(b * n_q + i) * e + t] += aj * v[(b * n_k + j) * e + t];
                }
            }
        }
    }
    out
}

pub(super) fn inputs(d: Dims, seed: u64, mag: f64) -> [Vec<f64>; 3] {
    let mut r = rng(seed);
    let mut g = |n| {
        randn(&mut r, n)
            .into_iter()
            .map(|x| x * mag)
            .collect::<Vec<_>>()
    };
    [
        g(d.batch * d.n_q * d.s),
        g(d.batch * d.n_k * d.s),
        g(d.batch * d.n_k * d.e),
    ]
}

pub(super) fn t64(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

pub(super) fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

pub(super) fn core(norm: Normalization, kind: CoreKind, s: usize) -> AttentionCore {
    let scale = crate::ScoreScale::Auto.resolve(s, &norm).unwrap();
    AttentionCore { norm, scale, kind }
}

pub(super) const DIMS: Dims = Dims {
    batch: 2,
    n_q: 11,
    n_k: 11,
    s: 6,
    e: 5,
};
pub(super) const ODD_TILES: Tiles = Tiles { rows: 3, keys: 4 };

/// The core as a `Checkable`: input `q`, parameters `k` and `v`.
pub(super) struct CoreCheck {
    pub core: AttentionCore,
    pub mask: Mask,
    pub dropout: AttentionDropout,
    pub k: Param,
    pub v: Param,
}

impl Module for CoreCheck {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        f(&p.join("k"), &self.k);
        f(&p.join("v"), &self.v);
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("k"), &mut self.k);
        f(&p.join("v"), &mut self.v);
    }
}

impl Checkable for CoreCheck {
    type Input = Tensor;
    fn check_forward(&self, q: &Tensor) -> nn::Result<Tensor> {
        Ok(self
            .core
            .forward_with_dropout(q, &self.k.value, &self.v.value, &self.mask, self.dropout)?
            .0)
    }
    fn check_backward(
        &mut self,
        q: &Tensor,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> nn::Result<Option<Tensor>> {
        let (_, cache) = self.core.forward_with_dropout(
            q,
            &self.k.value,
            &self.v.value,
            &self.mask,
            self.dropout,
        )?;
        let g = self
            .core
            .backward(q, &self.k.value, &self.v.value, &self.mask, &cache, dy)?;
        sink.accept("k", &mut self.k, g.dk)?;
        sink.accept("v", &mut self.v, g.dv)?;
        Ok(Some(g.dq))
    }
}

/// Gradient-check options: ε = 1e-5 rather than 1e-6. The fused forward's online rescaling
/// rounds differently from a two-pass softmax, and central differences divide that roundoff
/// (about 1e-16·|L|) by 2ε; with `SoftmaxPlus`'s small λ (0.26 at l = 5) the gradients are
/// small enough that at ε = 1e-6 this noise reached 1.6e-6 relative. At ε = 1e-5 the noise is
/// 10× smaller and the truncation error (ε² times the third derivative, about 1e-10) stays far
/// below the 1e-6 tolerance.
pub(crate) fn check_opts() -> GradCheckOptions {
    GradCheckOptions {
        eps: 1e-5,
        ..Default::default()
    }
}

/// f64 gradcheck of Q (input), K and V (parameters) for every normalisation × mask × core kind
/// with `dropout`, inputs drawn with `seed`; each case must reach 1e-6. Returns the worst error.
pub(super) fn gradcheck_sweep(dropout: AttentionDropout, seed: u64) -> f64 {
    let d = Dims {
        batch: 2,
        n_q: 5,
        n_k: 5,
        s: 4,
        e: 3,
    };
    let [q, k, v] = inputs(d, seed, 1.0);
    let mut worst: f64 = 0.0;
    for norm in Normalization::all() {
        for mask in masks(d.n_k) {
            for kind in [
                CoreKind::Materialized,
                CoreKind::Fused(Tiles { rows: 2, keys: 3 }),
            ] {
                let mut m = CoreCheck {
                    core: core(norm, kind, d.s),
                    mask: mask.clone(),
                    dropout,
                    k: Param::new(t64(&k, &[d.batch, d.n_k, d.s]), ParamRole::Other),
                    v: Param::new(t64(&v, &[d.batch, d.n_k, d.e]), ParamRole::Other),
                };
                let x = t64(&q, &[d.batch, d.n_q, d.s]);
                let rep = nn::gradcheck::gradcheck(&mut m, &x, &check_opts())
                    .unwrap_or_else(|e| panic!("{norm:?} {mask:?} {kind:?}: {e}"));
                assert_eq!(rep.entries.len(), 3);
                assert!(rep.worst() < 1e-6, "{norm:?} {mask:?} {kind:?}\n{rep}");
                worst = worst.max(rep.worst());
            }
        }
    }
    worst
}
