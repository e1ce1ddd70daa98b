//! GELU, the Gaussian error linear unit (Hendrycks & Gimpel, 2016), in two forms:
//!
//! - [`GeluKind::Erf`], exact: `y = x·Φ(x)`, `Φ(x) = ½·(1 + erf(x/√2))`.
//!   Backward: `dx = dy · (Φ(x) + x·φ(x))`, `φ(x) = e^(−x²/2)/√(2π)`.
//! - [`GeluKind::Tanh`], the tanh approximation: `y = ½·x·(1 + tanh(u))`,
//!   `u = √(2/π)·(x + 0.044715·x³)`. Since `½·(1 + tanh(u)) = σ(2u)`, `y = x·σ(2u)`.
//!   Backward: `dx = dy · (σ(2u) + x·σ(2u)·(1 − σ(2u))·2u')`, `u' = √(2/π)·(1 + 3·0.044715·x²)`.
//!
//! The CPU f32 kernels evaluate both forms from tables of the gate (8 polynomials each, see
//! [`crate::cpu_math::gate`]; relative error ≤ 2.5e-7 for x ≥ 0, absolute ≤ 3e-7 below);
//! f64 evaluates the closed forms with libm.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{gelu_backward_ref, gelu_forward_ref};

use crate::{Result, Tensor};

/// Which GELU: the exact erf form or the tanh approximation (GPT-2, BERT's original code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum GeluKind {
    /// `x·Φ(x)`, exact.
    #[default]
    Erf,
    /// `½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    Tanh,
}

impl GeluKind {
    /// The code the CUDA kernels take: 0 for `Erf`, 1 for `Tanh`.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    fn code(self) -> i32 {
        match self {
            GeluKind::Erf => 0,
            GeluKind::Tanh => 1,
        }
    }
}

/// `y = gelu(x)` of the given kind, elementwise, any shape.
pub fn gelu_forward(x: &Tensor, kind: GeluKind) -> Result<Tensor> {
    dispatch!(
        x,
        |v| Tensor::from_vec(cpu::GeluCpu::gelu_forward(v, kind), x.shape()),
        |c| cuda::gelu_forward(c, kind.code()).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}

/// `dx = dy · gelu'(x)` of the given kind (formulas in the module docs); `dy` must match `x`
/// in shape, dtype and device.
pub fn gelu_backward(x: &Tensor, dy: &Tensor, kind: GeluKind) -> Result<Tensor> {
    x.expect_like("gelu_backward", dy)?;
    dispatch2!(
        "gelu_backward",
        x,
        dy,
        |a, b| Tensor::from_vec(cpu::GeluCpu::gelu_backward(a, b, kind), x.shape()),
        |a, b| cuda::gelu_backward(a, b, kind.code()).and_then(|s| Tensor::from_cuda(s, x.shape()))
    )
}
