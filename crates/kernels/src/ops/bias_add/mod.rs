//! Bias add over the last axis: `y[r, :] = x[r, :] + b` for `x [.., n]` and `b [n]`.
//!
//! Backward: `dx = dy` (the identity, so no tensor is made: the caller passes `dy` on) and
//! `db[j] = Σ_r dy[r, j]`, a column sum over every row.
//!
//! ```
//! use kernels::{Tensor, ops::bias_add::{bias_add_backward, bias_add_forward}};
//! let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
//! let b = Tensor::from_vec(vec![10.0f32, 20.0], &[2])?;
//! assert_eq!(bias_add_forward(&x, &b)?.to_vec::<f32>()?, vec![11.0, 22.0, 13.0, 24.0]);
//! assert_eq!(bias_add_backward(&x)?.to_vec::<f32>()?, vec![4.0, 6.0]);
//! # Ok::<(), kernels::Error>(())
//! ```

pub(crate) mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{bias_add_backward_ref, bias_add_forward_ref};

use crate::{Error, Result, Tensor};

/// The width `n` of the last axis and the number of rows, or an error for a 0-d tensor.
pub(crate) fn rows_of(op: &'static str, x: &Tensor) -> Result<(usize, usize)> {
    match x.shape().last() {
        Some(&n) => Ok((x.numel().checked_div(n).unwrap_or(0), n)),
        None => Err(Error::invalid_shape(
            op,
            x.shape(),
            "needs at least one axis [.., n]",
        )),
    }
}

/// `y[r, j] = x[r, j] + b[j]`; `x` is `[.., n]`, `b` is `[n]`, same dtype and device.
pub fn bias_add_forward(x: &Tensor, b: &Tensor) -> Result<Tensor> {
    let op = "bias_add_forward";
    let (_, n) = rows_of(op, x)?;
    x.expect_same_kind(op, b)?;
    b.expect_shape(op, &[n])?;
    dispatch2!(
        op,
        x,
        b,
        |xv, bv| Tensor::from_vec(cpu::bias_add_forward(xv, bv), x.shape()),
        |cx, cb| cuda::bias_add_forward(cx, cb, n).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}

/// `db[j] = Σ_r dy[r, j]` for `dy [.., n]`, shape `[n]`. (`dx = dy`: pass `dy` on.)
pub fn bias_add_backward(dy: &Tensor) -> Result<Tensor> {
    let (rows, n) = rows_of("bias_add_backward", dy)?;
    dispatch!(
        dy,
        |v| Tensor::from_vec(cpu::column_sums(v, rows, n), &[n]),
        |c| cuda::bias_add_backward(c, rows, n).and_then(|s| Tensor::from_cuda(s, &[n]))
    )
}
