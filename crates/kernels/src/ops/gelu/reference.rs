//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against. The erf form
//! uses libm's `erfc`; the tanh form uses `tanh` directly (the kernels use `σ(2u)` instead).

use super::GeluKind;
use std::f64::consts::{FRAC_1_SQRT_2, PI};

const C: f64 = 0.044715;

/// `Φ(x) = ½·erfc(−x/√2)`.
pub(super) fn phi_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

/// `φ(x) = e^(−x²/2)/√(2π)`.
pub(super) fn phi_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

fn gelu(x: f64, kind: GeluKind) -> f64 {
    match kind {
        GeluKind::Erf => x * phi_cdf(x),
        GeluKind::Tanh => {
            let u = (2.0 / PI).sqrt() * (x + C * x * x * x);
            0.5 * x * (1.0 + u.tanh())
        }
    }
}

fn gelu_grad(x: f64, kind: GeluKind) -> f64 {
    match kind {
        GeluKind::Erf => phi_cdf(x) + x * phi_pdf(x),
        GeluKind::Tanh => {
            let k = (2.0 / PI).sqrt();
            let t = (k * (x + C * x * x * x)).tanh();
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * C * x * x)
        }
    }
}

/// `y = gelu(x)`.
pub fn gelu_forward_ref(x: &[f64], kind: GeluKind) -> Vec<f64> {
    x.iter().map(|&x| gelu(x, kind)).collect()
}

/// `dx = dy · gelu'(x)`.
pub fn gelu_backward_ref(x: &[f64], dy: &[f64], kind: GeluKind) -> Vec<f64> {
    x.iter()
        .zip(dy)
        .map(|(&x, &dy)| dy * gelu_grad(x, kind))
        .collect()
}
