//! RMS normalisation over the last axis (Zhang & Sennrich 2019), with or without a gain; the
//! parameter-free form is GAU-α's post-norm.
//!
//! Forward, per row of width `n`: `rstd = 1/√(Σx²/n + ε)`, `x̂ = x·rstd`, `y = x̂·g`
//! (or `y = x̂` without gain). The stats keep `rstd` per row.
//!
//! Backward: `∂x̂_j/∂x_i = rstd·(δ_ij − x̂_i·x̂_j/n)`, so with `d̂ = dy·g` (or `dy`),
//! `dx = rstd·(d̂ − x̂·mean(d̂·x̂))` and `dgain = Σ_rows dy·x̂`.
//!
//! CUDA: one warp per row with shuffle reductions; `dgain` by column partial sums and a
//! finishing pass (two kernels, no atomics, deterministic).

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{rmsnorm_backward_ref, rmsnorm_forward_ref};

use crate::ops::layernorm::{check_eps, check_param, host, norm_rows};
#[cfg(feature = "cuda")]
use crate::ops::layernorm::{device, device_of};
use crate::{Result, Tensor};

/// What the forward saves: `rstd` per row, shaped like `x` without its last axis.
#[derive(Debug)]
pub struct RmsNormStats {
    pub rstd: Tensor,
}

/// Gradients of an RMS norm: `dx` like `x`, `dgain` `[n]` when the forward had a gain.
#[derive(Debug)]
pub struct RmsNormGrads {
    pub dx: Tensor,
    pub dgain: Option<Tensor>,
}

/// `y = x·rstd·g` with `rstd = 1/√(mean(x²) + eps)` over the last axis of `x [.., n]`;
/// `gain` is `[n]` when given.
pub fn rmsnorm_forward(
    x: &Tensor,
    gain: Option<&Tensor>,
    eps: f64,
) -> Result<(Tensor, RmsNormStats)> {
    let op = "rmsnorm_forward";
    let (_, n) = norm_rows(op, x)?;
    check_param(op, x, gain, n)?;
    check_eps(op, eps)?;
    let stat_shape = &x.shape()[..x.shape().len() - 1];
    let (y, rstd) = dispatch!(
        x,
        |v| {
            let (y, r) = cpu::rmsnorm_forward(v, n, host(gain)?, eps);
            (
                Tensor::from_vec(y, x.shape())?,
                Tensor::from_vec(r, stat_shape)?,
            )
        },
        |c| {
            let (y, r) = cuda::rmsnorm_forward(c, n, device(op, gain)?, eps)?;
            (
                Tensor::from_cuda(y, x.shape())?,
                Tensor::from_cuda(r, stat_shape)?,
            )
        }
    );
    Ok((y, RmsNormStats { rstd }))
}

/// Gradients for the cotangent `dy` (shaped like `x`): `dx = rstd·(d̂ − x̂·mean(d̂·x̂))` with
/// `d̂ = dy·g`, and `dgain = Σ_rows dy·x̂` when `gain` is given.
pub fn rmsnorm_backward(
    x: &Tensor,
    gain: Option<&Tensor>,
    stats: &RmsNormStats,
    dy: &Tensor,
) -> Result<RmsNormGrads> {
    let op = "rmsnorm_backward";
    let (_, n) = norm_rows(op, x)?;
    check_param(op, x, gain, n)?;
    x.expect_like(op, dy)?;
    x.expect_same_kind(op, &stats.rstd)?;
    stats
        .rstd
        .expect_shape(op, &x.shape()[..x.shape().len() - 1])?;
    let (dx, dgain) = dispatch!(
        x,
        |v| {
            let (rstd, dy) = (stats.rstd.as_slice()?, dy.as_slice()?);
            let dx = cpu::rmsnorm_backward_dx(v, n, host(gain)?, rstd, dy);
            let dg =
                gain.map(|_| Tensor::from_vec(cpu::rmsnorm_backward_dgain(v, n, rstd, dy), &[n]));
            (Tensor::from_vec(dx, x.shape())?, dg.transpose()?)
        },
        |c| {
            let (dx, dg) = cuda::rmsnorm_backward(
                c,
                n,
                device(op, gain)?,
                device_of(op, &stats.rstd)?,
                device_of(op, dy)?,
            )?;
            (
                Tensor::from_cuda(dx, x.shape())?,
                dg.map(|g| Tensor::from_cuda(g, &[n])).transpose()?,
            )
        }
    );
    Ok(RmsNormGrads { dx, dgain })
}
