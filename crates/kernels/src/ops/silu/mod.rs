//! SiLU (swish): `y = x·σ(x)` with `σ(x) = 1 / (1 + e^(−x))`.
//!
//! Backward: `dx = dy · σ(x)·(1 + x·(1 − σ(x)))`.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{silu_backward_ref, silu_forward_ref};

use crate::{Result, Tensor};

/// `y = x·σ(x)`, elementwise, any shape.
pub fn silu_forward(x: &Tensor) -> Result<Tensor> {
    let y = dispatch!(
        x,
        |v| Tensor::from_vec(cpu::silu_forward(v), x.shape()),
        |c| cuda::silu_forward(c).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )?;
    Ok(y)
}

/// `dx = dy · σ(x)·(1 + x·(1 − σ(x)))`, elementwise; `dy` must match `x` in shape, dtype, device.
pub fn silu_backward(x: &Tensor, dy: &Tensor) -> Result<Tensor> {
    x.expect_like("silu_backward", dy)?;
    dispatch2!(
        "silu_backward",
        x,
        dy,
        |a, b| Tensor::from_vec(cpu::silu_backward(a, b), x.shape()),
        |a, b| cuda::silu_backward(a, b).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}
