//! Squared ReLU (So et al., "Primer", 2021): `y = max(x, 0)²`.
//!
//! Backward: `dx = 2·max(x, 0)·dy`. NaN inputs propagate (NaN in, NaN out).

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{relu2_backward_ref, relu2_forward_ref};

use crate::{Result, Tensor};

/// `y = max(x, 0)²`, elementwise, any shape.
pub fn relu2_forward(x: &Tensor) -> Result<Tensor> {
    dispatch!(
        x,
        |v| Tensor::from_vec(cpu::relu2_forward(v), x.shape()),
        |c| cuda::relu2_forward(c).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}

/// `dx = 2·max(x, 0)·dy`, elementwise; `dy` must match `x` in shape, dtype, device.
pub fn relu2_backward(x: &Tensor, dy: &Tensor) -> Result<Tensor> {
    x.expect_like("relu2_backward", dy)?;
    dispatch2!(
        "relu2_backward",
        x,
        dy,
        |a, b| Tensor::from_vec(cpu::relu2_backward(a, b), x.shape()),
        |a, b| cuda::relu2_backward(a, b).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}
