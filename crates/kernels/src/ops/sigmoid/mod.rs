//! Logistic sigmoid: `y = σ(x) = 1 / (1 + e^(−x))`.
//!
//! Backward: `dx = dy · σ(x)·(1 − σ(x))`. The CPU f32 kernel evaluates `σ` and `1 − σ` from
//! `e^(−|x|)` (see [`crate::cpu_math`]) so neither loses precision for large `|x|`.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{sigmoid_backward_ref, sigmoid_forward_ref};

use crate::{Result, Tensor};

/// `y = σ(x)`, elementwise, any shape.
pub fn sigmoid_forward(x: &Tensor) -> Result<Tensor> {
    dispatch!(
        x,
        |v| Tensor::from_vec(cpu::sigmoid_forward(v), x.shape()),
        |c| cuda::sigmoid_forward(c).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}

/// `dx = dy · σ(x)·(1 − σ(x))`, elementwise; `dy` must match `x` in shape, dtype, device.
pub fn sigmoid_backward(x: &Tensor, dy: &Tensor) -> Result<Tensor> {
    x.expect_like("sigmoid_backward", dy)?;
    dispatch2!(
        "sigmoid_backward",
        x,
        dy,
        |a, b| Tensor::from_vec(cpu::sigmoid_backward(a, b), x.shape()),
        |a, b| cuda::sigmoid_backward(a, b).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}
