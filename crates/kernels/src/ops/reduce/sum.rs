//! `sum`: `y[o, i] = Σ_a x[o, a, i]`. Backward: `dx[o, a, i] = dy[o, i]`.

use super::{Kind, broadcast_backward, reduce_forward};
use crate::{Result, Tensor};

/// `y = Σ_axis x`; the output drops `axis` from the shape. An empty axis sums to 0.
pub fn sum_forward(x: &Tensor, axis: usize) -> Result<Tensor> {
    reduce_forward("sum_forward", x, axis, Kind::Sum)
}

/// `dx[o, a, i] = dy[o, i]`: `dy` has `x_shape` without `axis`; the result has `x_shape`.
pub fn sum_backward(dy: &Tensor, x_shape: &[usize], axis: usize) -> Result<Tensor> {
    broadcast_backward("sum_backward", dy, x_shape, axis, 1.0, None)
}
