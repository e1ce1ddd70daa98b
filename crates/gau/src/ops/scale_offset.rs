//! Per-dimension scale and offset (GAU's `OffsetScale`, spec/gau.md §2.1):
//! `y[r, j] = x[r, j]·γ[j] + β[j]` for `x [.., s]`, `γ, β [s]` (β optional).
//!
//! Backward: `dx = dy ⊙ γ` (row-broadcast), `dγ[j] = Σ_r dy[r, j]·x[r, j]`,
//! `dβ[j] = Σ_r dy[r, j]`. The column sums reuse `kernels`' `bias_add_backward` (whose CPU
//! reduction order is fixed) on `dy ⊙ x` from `mul_forward`. On CUDA the scale is
//! `scale_offset.cu`; the offset and the column sums are `kernels`' CUDA ops.

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
        (Storage::Cuda(a), Storage::Cuda(_g)) => kernels::on_cuda!(
            a,
            Ok(Tensor::from_cuda(
                super::cuda::scale_cols(a, _g, s)?,
                x.shape()
            )?)
        ),
        _ => Err(Error::Unsupported {
            what: WHAT,
            reason: "x and gamma must share dtype and device".into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use kernels::testing::{dot, fd_check, randn, rng};

    #[test]
    fn forward_backward_and_errors() {
        let mut r = rng(1);
        let (x, g, b) = (randn(&mut r, 12), randn(&mut r, 4), randn(&mut r, 4));
        let t = |v: &[f64], s: &[usize]| Tensor::from_vec(v.to_vec(), s).unwrap();
        let y = scale_offset_forward(&t(&x, &[3, 4]), &t(&g, &[4]), Some(&t(&b, &[4]))).unwrap();
        let y = y.to_vec::<f64>().unwrap();
        for i in 0..12 {
            assert!((y[i] - (x[i] * g[i % 4] + b[i % 4])).abs() < 1e-15);
        }
        let w = randn(&mut r, 12);
        let (dx, dg, db) =
            scale_offset_backward(&t(&x, &[3, 4]), &t(&g, &[4]), &t(&w, &[3, 4]), true).unwrap();
        let loss = |x: &[f64], g: &[f64], b: &[f64]| {
            let y = scale_offset_forward(&t(x, &[3, 4]), &t(g, &[4]), Some(&t(b, &[4]))).unwrap();
            dot(&y.to_vec::<f64>().unwrap(), &w)
        };
        fd_check(
            "dx",
            &mut |v| loss(v, &g, &b),
            &x,
            &dx.to_vec::<f64>().unwrap(),
            1e-6,
            1e-7,
        )
        .unwrap();
        fd_check(
            "dg",
            &mut |v| loss(&x, v, &b),
            &g,
            &dg.to_vec::<f64>().unwrap(),
            1e-6,
            1e-7,
        )
        .unwrap();
        fd_check(
            "db",
            &mut |v| loss(&x, &g, v),
            &b,
            &db.unwrap().to_vec::<f64>().unwrap(),
            1e-6,
            1e-7,
        )
        .unwrap();
        assert!(matches!(
            scale_offset_forward(&t(&x, &[3, 4]), &t(&g[..3], &[3]), None),
            Err(Error::WidthMismatch {
                expected: 4,
                got: 3,
                ..
            })
        ));
    }
}
