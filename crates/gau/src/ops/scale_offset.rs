//! Per-dimension scale and offset (GAU's `OffsetScale`, spec/gau.md §2.1):
//! `y[r, j] = x[r, j]·γ[j] + β[j]` for `x [.., s]`, `γ, β [s]` (β optional).
//!
//! Backward: `dx = dy ⊙ γ` (row-broadcast), `dγ[j] = Σ_r dy[r, j]·x[r, j]`,
//! `dβ[j] = Σ_r dy[r, j]`. The column sums reuse `kernels`' `bias_add_backward` (whose CPU
//! reduction order is fixed) on `dy ⊙ x` from `mul_forward`.

use crate::{Error, Result};
use kernels::ops::bias_add::{bias_add_backward, bias_add_forward};
use kernels::ops::mul::mul_forward;
use kernels::{Float, Storage, Tensor};
use rayon::prelude::*;

fn scale_cols_cpu<F: Float>(x: &[F], g: &[F]) -> Vec<F> {
    let mut y = x.to_vec();
    y.par_chunks_mut(g.len().max(1)).for_each(|row| {
        row.iter_mut().zip(g).for_each(|(a, &gj)| *a *= gj);
    });
    y
}

/// `y[r, j] = x[r, j]·γ[j]`.
fn scale_cols(x: &Tensor, gamma: &Tensor) -> Result<Tensor> {
    const WHAT: &str = "scale_offset";
    let s = *x.shape().last().ok_or_else(|| {
        kernels::Error::invalid_shape(WHAT, x.shape(), "needs at least one axis [.., s]")
    })?;
    x.expect_same_kind(WHAT, gamma)?;
    if gamma.shape() != [s] {
        return Err(Error::WidthMismatch {
            what: "scale_offset: gamma",
            expected: s,
            got: gamma.numel(),
        });
    }
    match (x.storage(), gamma.storage()) {
        (Storage::F32(a), Storage::F32(g)) => {
            Ok(Tensor::from_vec(scale_cols_cpu(a, g), x.shape())?)
        }
        (Storage::F64(a), Storage::F64(g)) => {
            Ok(Tensor::from_vec(scale_cols_cpu(a, g), x.shape())?)
        }
        _ => Err(Error::Unsupported {
            what: WHAT,
            reason: "runs on the CPU only so far".into(),
        }),
    }
}

/// `y = x ⊙ γ + β` over the last axis (module docs).
pub fn scale_offset_forward(x: &Tensor, gamma: &Tensor, beta: Option<&Tensor>) -> Result<Tensor> {
    let y = scale_cols(x, gamma)?;
    match beta {
        Some(b) => Ok(bias_add_forward(&y, b)?),
        None => Ok(y),
    }
}

/// `(dx, dγ, dβ)` for the cotangent `dy` (module docs); `dβ` only when `with_beta`.
pub fn scale_offset_backward(
    x: &Tensor,
    gamma: &Tensor,
    dy: &Tensor,
    with_beta: bool,
) -> Result<(Tensor, Tensor, Option<Tensor>)> {
    x.expect_like("scale_offset_backward", dy)?;
    let dx = scale_cols(dy, gamma)?;
    let dgamma = bias_add_backward(&mul_forward(dy, x)?)?;
    let dbeta = with_beta.then(|| bias_add_backward(dy)).transpose()?;
    Ok((dx, dgamma, dbeta))
}
