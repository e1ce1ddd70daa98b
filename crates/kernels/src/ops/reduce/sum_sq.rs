//! `sum_sq`: `y[o, i] = Σ_a x[o, a, i]²`. Backward: `dx[o, a, i] = 2·x[o, a, i]·dy[o, i]`.

use super::{Kind, broadcast_backward, reduce_forward};
use crate::{Result, Tensor};

/// `y = Σ_axis x²`; the output drops `axis`. An empty axis gives 0.
pub fn sum_sq_forward(x: &Tensor, axis: usize) -> Result<Tensor> {
    reduce_forward("sum_sq_forward", x, axis, Kind::SumSq)
}

/// `dx = 2·x·dy` with `dy` broadcast along `axis`; `dy` has `x`'s shape without `axis`.
pub fn sum_sq_backward(x: &Tensor, dy: &Tensor, axis: usize) -> Result<Tensor> {
    broadcast_backward("sum_sq_backward", dy, x.shape(), axis, 2.0, Some(x))
}
