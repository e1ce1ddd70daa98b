//! Layer normalisation over the last axis (Ba, Kiros & Hinton 2016), llm.c style: forward
//! saves the per-row mean and reciprocal standard deviation, backward reads them.
//!
//! Forward, per row of width `n`: `μ = Σx/n`, `σ² = Σ(x−μ)²/n` (biased), `rstd = 1/√(σ² + ε)`,
//! `x̂ = (x−μ)·rstd`, `y = x̂·g + β` (gain `g` and bias `β` optional, each `[n]`).
//!
//! Backward (derivation as in llm.c's `doc/layernorm/layernorm.md`): with `d̂ = dy·g`,
//! `∂x̂_j/∂x_i = rstd·(δ_ij − 1/n − x̂_i·x̂_j/n)`, so
//! `dx = rstd·(d̂ − mean(d̂) − x̂·mean(d̂·x̂))`, `dgain = Σ_rows dy·x̂`, `dbias = Σ_rows dy`.
//!
//! CUDA: one warp per row with shuffle reductions (forward and `dx`); `dgain`/`dbias` by a
//! second kernel of column partial sums plus a finishing pass — two kernels, no atomics, so
//! the result is deterministic.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{layernorm_backward_ref, layernorm_forward_ref};

use crate::{Error, Result, Tensor};

/// What the forward pass saves for the backward: per-row mean and `rstd`, shaped like `x`
/// without its last axis.
#[derive(Debug)]
pub struct LayerNormStats {
    pub mean: Tensor,
    pub rstd: Tensor,
}

/// Gradients of a layer norm: `dx` like `x`, `dgain`/`dbias` `[n]` when the forward had them.
#[derive(Debug)]
pub struct LayerNormGrads {
    pub dx: Tensor,
    pub dgain: Option<Tensor>,
    pub dbias: Option<Tensor>,
}

/// `(rows, n)` of `x [.., n]`; `n` must be positive.
pub(crate) fn norm_rows(op: &'static str, x: &Tensor) -> Result<(usize, usize)> {
    match x.shape().last() {
        Some(&n) if n > 0 => Ok((x.numel() / n, n)),
        _ => Err(Error::invalid_shape(
            op,
            x.shape(),
            "needs a last axis of positive width [.., n]",
        )),
    }
}

/// Checks an optional per-feature parameter: shape `[n]`, same dtype and device as `x`.
pub(crate) fn check_param(
    op: &'static str,
    x: &Tensor,
    p: Option<&Tensor>,
    n: usize,
) -> Result<()> {
    if let Some(p) = p {
        x.expect_same_kind(op, p)?;
        p.expect_shape(op, &[n])?;
    }
    Ok(())
}

/// `eps` must be finite and non-negative.
pub(crate) fn check_eps(op: &'static str, eps: f64) -> Result<()> {
    if eps.is_finite() && eps >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("eps must be finite and >= 0, got {eps}"),
        ))
    }
}

/// The host slice of an optional parameter, in the element type the caller infers.
pub(crate) fn host<F: crate::Float>(p: Option<&Tensor>) -> Result<Option<&[F]>> {
    p.map(|t| t.as_slice::<F>()).transpose()
}

/// The device storage of a tensor already checked to live on `x`'s GPU.
#[cfg(feature = "cuda")]
pub(crate) fn device_of<'a>(op: &'static str, t: &'a Tensor) -> Result<&'a crate::CudaStorage> {
    match t.storage() {
        crate::Storage::Cuda(c) => Ok(c),
        _ => Err(Error::DeviceMismatch {
            op,
            a: "cuda".into(),
            b: t.device().to_string(),
        }),
    }
}

/// [`device_of`] for an optional parameter.
#[cfg(feature = "cuda")]
pub(crate) fn device<'a>(
    op: &'static str,
    p: Option<&'a Tensor>,
) -> Result<Option<&'a crate::CudaStorage>> {
    p.map(|t| device_of(op, t)).transpose()
}

/// `y = (x−μ)·rstd·g + β` over the last axis of `x [.., n]`, and the saved [`LayerNormStats`].
/// `gain` and `bias` are `[n]` when given; `eps` (PyTorch's default is 1e-5) is added to the
/// variance inside the square root.
pub fn layernorm_forward(
    x: &Tensor,
    gain: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<(Tensor, LayerNormStats)> {
    let op = "layernorm_forward";
    let (_, n) = norm_rows(op, x)?;
    check_param(op, x, gain, n)?;
    check_param(op, x, bias, n)?;
    check_eps(op, eps)?;
    let stat_shape = &x.shape()[..x.shape().len() - 1];
    let (y, mean, rstd) = dispatch!(
        x,
        |v| {
            let (y, m, r) = cpu::layernorm_forward(v, n, host(gain)?, host(bias)?, eps);
            (
                Tensor::from_vec(y, x.shape())?,
                Tensor::from_vec(m, stat_shape)?,
                Tensor::from_vec(r, stat_shape)?,
            )
        },
        |c| {
            let (y, m, r) =
                cuda::layernorm_forward(c, n, device(op, gain)?, device(op, bias)?, eps)?;
            (
                Tensor::from_cuda(y, x.shape())?,
                Tensor::from_cuda(m, stat_shape)?,
                Tensor::from_cuda(r, stat_shape)?,
            )
        }
    );
    Ok((y, LayerNormStats { mean, rstd }))
}

/// Gradients for the cotangent `dy` (shaped like `x`), given the forward's inputs and stats:
/// `dx = rstd·(d̂ − mean(d̂) − x̂·mean(d̂·x̂))` with `d̂ = dy·g`; `dgain = Σ_rows dy·x̂` when
/// `gain` is given, `dbias = Σ_rows dy` when `bias` is given (only its shape is read).
pub fn layernorm_backward(
    x: &Tensor,
    gain: Option<&Tensor>,
    bias: Option<&Tensor>,
    stats: &LayerNormStats,
    dy: &Tensor,
) -> Result<LayerNormGrads> {
    let op = "layernorm_backward";
    let (_, n) = norm_rows(op, x)?;
    check_param(op, x, gain, n)?;
    check_param(op, x, bias, n)?;
    x.expect_like(op, dy)?;
    let stat_shape = &x.shape()[..x.shape().len() - 1];
    for s in [&stats.mean, &stats.rstd] {
        x.expect_same_kind(op, s)?;
        s.expect_shape(op, stat_shape)?;
    }
    let (want_g, want_b) = (gain.is_some(), bias.is_some());
    let (dx, dgain, dbias) = dispatch!(
        x,
        |v| {
            let (mean, rstd, dy) = (
                stats.mean.as_slice()?,
                stats.rstd.as_slice()?,
                dy.as_slice()?,
            );
            let dx = cpu::layernorm_backward_dx(v, n, host(gain)?, mean, rstd, dy);
            let (dg, db) = if want_g || want_b {
                let (g, b) = cpu::layernorm_backward_params(v, n, mean, rstd, dy);
                (Some(g), Some(b))
            } else {
                (None, None)
            };
            let wrap = |p: Option<Vec<_>>, keep: bool| {
                p.filter(|_| keep)
                    .map(|p| Tensor::from_vec(p, &[n]))
                    .transpose()
            };
            (
                Tensor::from_vec(dx, x.shape())?,
                wrap(dg, want_g)?,
                wrap(db, want_b)?,
            )
        },
        |c| {
            let (dx, dg, db) = cuda::layernorm_backward(
                c,
                n,
                device(op, gain)?,
                device_of(op, &stats.mean)?,
                device_of(op, &stats.rstd)?,
                device_of(op, dy)?,
                want_g,
                want_b,
            )?;
            let wrap =
                |p: Option<crate::CudaStorage>| p.map(|p| Tensor::from_cuda(p, &[n])).transpose();
            (Tensor::from_cuda(dx, x.shape())?, wrap(dg)?, wrap(db)?)
        }
    );
    Ok(LayerNormGrads { dx, dgain, dbias })
}
