//! ScaleNorm (Nguyen & Salazar 2019, "Transformers without Tears"): each row is scaled to a
//! single learned length `g`.
//!
//! Forward, per row of width `n`: `norm = max(‖x‖₂, ε)`, `y = g·x/norm`, with a scalar gain
//! `g` (a `[1]` tensor). The ε guard is the clamp of the authors' code
//! (`x.norm(dim=-1).clamp(min=eps)`, ε = 1e-5 there): it replaces the norm, it is not added to
//! it. The stats keep `norm` per row (and ε, to know which rows were clamped).
//!
//! Backward: for a row with `‖x‖ > ε`, `∂(x/‖x‖)/∂x = (I − x·xᵀ/‖x‖²)/‖x‖`, so
//! `dx = (g/‖x‖)·(dy − x·(x·dy)/‖x‖²)`; for a clamped row the norm is the constant ε and
//! `dx = g·dy/ε`. `dg = Σ_rows (x·dy)/norm`.
//!
//! CUDA: one warp per row with shuffle reductions (forward; `dx` plus one partial `dg` per
//! row), then one block sums the row partials with a shared-memory tree (deterministic).

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{scalenorm_backward_ref, scalenorm_forward_ref};

#[cfg(feature = "cuda")]
use crate::ops::layernorm::device_of;
use crate::ops::layernorm::norm_rows;
use crate::{Error, Result, Tensor};

/// What the forward saves: `norm = max(‖x‖₂, ε)` per row (shaped like `x` without its last
/// axis), and the ε used.
#[derive(Debug)]
pub struct ScaleNormStats {
    pub norm: Tensor,
    pub eps: f64,
}

/// Gradients of ScaleNorm: `dx` like `x`, `dgain` of shape `[1]`.
#[derive(Debug)]
pub struct ScaleNormGrads {
    pub dx: Tensor,
    pub dgain: Tensor,
}

fn check(op: &'static str, x: &Tensor, gain: &Tensor) -> Result<usize> {
    let (_, n) = norm_rows(op, x)?;
    x.expect_same_kind(op, gain)?;
    gain.expect_shape(op, &[1])?;
    Ok(n)
}

/// `y = g·x/max(‖x‖₂, eps)` over the last axis of `x [.., n]`; `gain` is `[1]`, `eps > 0`.
pub fn scalenorm_forward(x: &Tensor, gain: &Tensor, eps: f64) -> Result<(Tensor, ScaleNormStats)> {
    let op = "scalenorm_forward";
    let n = check(op, x, gain)?;
    if !(eps.is_finite() && eps > 0.0) {
        return Err(Error::invalid(
            op,
            format!("eps must be finite and > 0, got {eps}"),
        ));
    }
    let stat_shape = &x.shape()[..x.shape().len() - 1];
    let (y, norm) = dispatch!(
        x,
        |v| {
            let (y, nr) = cpu::scalenorm_forward(v, n, gain.as_slice()?[0], eps);
            (
                Tensor::from_vec(y, x.shape())?,
                Tensor::from_vec(nr, stat_shape)?,
            )
        },
        |c| {
            let g = device_of(op, gain)?;
            let (y, nr) = cuda::scalenorm_forward(c, n, g, eps)?;
            (
                Tensor::from_cuda(y, x.shape())?,
                Tensor::from_cuda(nr, stat_shape)?,
            )
        }
    );
    Ok((y, ScaleNormStats { norm, eps }))
}

/// Gradients for the cotangent `dy` (shaped like `x`): `dx = (g/‖x‖)·(dy − x·(x·dy)/‖x‖²)`
/// (`g·dy/ε` on clamped rows) and `dgain = [Σ_rows (x·dy)/norm]`.
pub fn scalenorm_backward(
    x: &Tensor,
    gain: &Tensor,
    stats: &ScaleNormStats,
    dy: &Tensor,
) -> Result<ScaleNormGrads> {
    let op = "scalenorm_backward";
    let n = check(op, x, gain)?;
    x.expect_like(op, dy)?;
    x.expect_same_kind(op, &stats.norm)?;
    stats
        .norm
        .expect_shape(op, &x.shape()[..x.shape().len() - 1])?;
    let eps = stats.eps;
    let (dx, dgain) = dispatch!(
        x,
        |v| {
            let (norm, dy) = (stats.norm.as_slice()?, dy.as_slice()?);
            let (dx, dg) = cpu::scalenorm_backward(v, n, gain.as_slice()?[0], norm, dy, eps);
            (
                Tensor::from_vec(dx, x.shape())?,
                Tensor::from_vec(vec![dg], &[1])?,
            )
        },
        |c| {
            let (dx, dg) = cuda::scalenorm_backward(
                c,
                n,
                device_of(op, gain)?,
                device_of(op, &stats.norm)?,
                device_of(op, dy)?,
                eps,
            )?;
            (
                Tensor::from_cuda(dx, x.shape())?,
                Tensor::from_cuda(dg, &[1])?,
            )
        }
    );
    Ok(ScaleNormGrads { dx, dgain })
}
