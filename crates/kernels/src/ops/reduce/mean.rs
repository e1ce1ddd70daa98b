//! `mean`: `y[o, i] = (1/len)·Σ_a x[o, a, i]`. Backward: `dx[o, a, i] = dy[o, i] / len`.

use super::{AxisView, Kind, broadcast_backward, reduce_forward};
use crate::{Error, Result, Tensor};

/// `y = mean over axis of x`; the output drops `axis`. An empty axis is an `InvalidShape` error.
pub fn mean_forward(x: &Tensor, axis: usize) -> Result<Tensor> {
    reduce_forward("mean_forward", x, axis, Kind::Mean)
}

/// `dx[o, a, i] = dy[o, i] / len`: `dy` has `x_shape` without `axis`; the result has `x_shape`.
pub fn mean_backward(dy: &Tensor, x_shape: &[usize], axis: usize) -> Result<Tensor> {
    const OP: &str = "mean_backward";
    let v = AxisView::new(OP, x_shape, axis)?;
    if v.len == 0 {
        return Err(Error::invalid_shape(OP, x_shape, "mean over an empty axis"));
    }
    broadcast_backward(OP, dy, x_shape, axis, 1.0 / v.len as f64, None)
}
