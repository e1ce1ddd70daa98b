//! The materialising core: `X = QKᵀ` and `C = A·V` by GEMM (`kernels::ops::matmul`), the
//! normalisation row by row over the stored `X` (rayon over rows, generic over the float).
//! Attention dropout is `kernels::ops::dropout` applied to the stored `A` (`[b, n_q, n_k]`, so
//! its flat index is the `(b·n_q + i)·n_k + j` of `super::dropout`), and to `dA'` in the
//! backward.

use super::{CoreCache, CoreCall, CoreGrads};
use crate::mask::RowPlan;
use crate::norm::Form;
use crate::{Error, Result};
use kernels::ops::dropout::{dropout_backward, dropout_forward};
use kernels::ops::matmul::{matmul, matmul_backward};
use kernels::{Float, Storage, Tensor};
use rayon::prelude::*;

/// Whether key `j` of row `r` (flattened `b·n_q + i`) is visible.
#[inline]
fn visible(plan: &RowPlan, r: usize, j: usize) -> bool {
    j < plan.rows[r].lim && plan.key_real(r / plan.n_q, j)
}

/// `A = Normalise(X)` for raw scores `x [b·n_q, n_k]`.
fn normalise<F: Float>(x: &[F], plan: &RowPlan, form: Form) -> Vec<F> {
    let n_k = plan.n_k;
    let mut a = vec![F::zero(); x.len()];
    a.par_chunks_mut(n_k)
        .zip(x.par_chunks(n_k))
        .enumerate()
        .for_each(|(r, (ar, xr))| {
            let row = plan.rows[r];
            if row.l == 0 {
                return;
            }
            let alpha = F::from_f64(row.alpha);
            match form {
                Form::Softmax => {
                    let m = (0..n_k)
                        .filter(|&j| visible(plan, r, j))
                        .map(|j| alpha * xr[j])
                        .fold(F::neg_infinity(), F::max);
                    let mut sum = F::zero();
                    for j in (0..n_k).filter(|&j| visible(plan, r, j)) {
                        ar[j] = (alpha * xr[j] - m).exp();
                        sum += ar[j];
                    }
                    let inv = sum.recip();
                    ar.iter_mut().for_each(|p| *p *= inv);
                }
                Form::Relu2 => {
                    let beta = F::from_f64(row.beta);
                    for j in (0..n_k).filter(|&j| visible(plan, r, j)) {
                        let t = (alpha * xr[j]).max(F::zero());
                        ar[j] = beta * t * t;
                    }
                }
            }
        });
    a
}

/// `dX` from `X`, `A` and `dA` (module docs of `core`), with `D_i = Σ_j A_ij dA_ij`.
fn normalise_backward<F: Float>(x: &[F], a: &[F], da: &[F], plan: &RowPlan, form: Form) -> Vec<F> {
    let n_k = plan.n_k;
    let mut dx = vec![F::zero(); x.len()];
    dx.par_chunks_mut(n_k).enumerate().for_each(|(r, dxr)| {
        let row = plan.rows[r];
        if row.l == 0 {
            return;
        }
        let o = r * n_k;
        let (xr, ar, dar) = (&x[o..o + n_k], &a[o..o + n_k], &da[o..o + n_k]);
        let alpha = F::from_f64(row.alpha);
        match form {
            Form::Softmax => {
                let d: F = (0..n_k)
                    .filter(|&j| visible(plan, r, j))
                    .map(|j| ar[j] * dar[j])
                    .sum();
                for j in (0..n_k).filter(|&j| visible(plan, r, j)) {
                    dxr[j] = alpha * ar[j] * (dar[j] - d);
                }
            }
            Form::Relu2 => {
                let two_ab = F::from_f64(2.0 * row.alpha * row.beta);
                for j in (0..n_k).filter(|&j| visible(plan, r, j)) {
                    dxr[j] = two_ab * (alpha * xr[j]).max(F::zero()) * dar[j];
                }
            }
        }
    });
    dx
}

fn host_op(
    x: &Tensor,
    f32_op: impl FnOnce(&[f32]) -> Vec<f32>,
    f64_op: impl FnOnce(&[f64]) -> Vec<f64>,
) -> Result<Tensor> {
    match x.storage() {
        Storage::F32(v) => Ok(Tensor::from_vec(f32_op(v), x.shape())?),
        Storage::F64(v) => Ok(Tensor::from_vec(f64_op(v), x.shape())?),
        Storage::Cuda(_) => Err(Error::Unsupported {
            what: "materialising attention core",
            reason: "the normalisation runs on the CPU only so far".into(),
        }),
    }
}

/// `(X, A)`: the raw scores `X = QKᵀ` and `A = Normalise(X)`, both `[b, n_q, n_k]`.
pub(super) fn probabilities(
    q: &Tensor,
    k: &Tensor,
    plan: &RowPlan,
    form: Form,
) -> Result<(Tensor, Tensor)> {
    let scores = matmul(q, k, false, true)?;
    let probs = host_op(
        &scores,
        |x| normalise(x, plan, form),
        |x| normalise(x, plan, form),
    )?;
    Ok((scores, probs))
}

pub(super) fn forward(call: &CoreCall) -> Result<(Tensor, CoreCache)> {
    let (q, k, v, plan, _, form, dropout) = call.parts();
    dropout.resolve()?;
    let (scores, probs) = probabilities(q, k, plan, form)?;
    let c = if dropout.is_active() {
        matmul(
            &dropout_forward(&probs, dropout.p, dropout.seed)?,
            v,
            false,
            false,
        )?
    } else {
        matmul(&probs, v, false, false)?
    };
    let cache = CoreCache::Materialized {
        scores,
        probs,
        dropout,
    };
    Ok((c, cache))
}

pub(super) fn backward(
    call: &CoreCall,
    scores: &Tensor,
    probs: &Tensor,
    dc: &Tensor,
) -> Result<CoreGrads> {
    let (q, k, v, plan, _, form, dropout) = call.parts();
    dropout.resolve()?;
    let (da, dv) = if dropout.is_active() {
        // C = A'·V with A' = drop(A): dA' = dC·Vᵀ, dV = A'ᵀ·dC, then dA = drop(dA').
        let dropped = dropout_forward(probs, dropout.p, dropout.seed)?;
        let (da_dropped, dv) = matmul_backward(&dropped, v, dc, false, false)?;
        (dropout_backward(&da_dropped, dropout.p, dropout.seed)?, dv)
    } else {
        matmul_backward(probs, v, dc, false, false)?
    };
    let dx = match (scores.storage(), probs.storage(), da.storage()) {
        (Storage::F32(x), Storage::F32(a), Storage::F32(g)) => {
            Tensor::from_vec(normalise_backward(x, a, g, plan, form), scores.shape())?
        }
        (Storage::F64(x), Storage::F64(a), Storage::F64(g)) => {
            Tensor::from_vec(normalise_backward(x, a, g, plan, form), scores.shape())?
        }
        _ => {
            return Err(Error::Unsupported {
                what: "materialising attention core backward",
                reason: "cached scores, probabilities and dA must be host tensors of one dtype"
                    .into(),
            });
        }
    };
    let (dq, dk) = matmul_backward(q, k, &dx, false, true)?;
    Ok(CoreGrads { dq, dk, dv })
}
