//! Rayon kernels, generic over f32/f64.

use crate::Float;
use crate::cpu_util::{map_binary, map_unary};

#[inline(always)]
fn sigmoid<F: Float>(x: F) -> F {
    F::one() / (F::one() + (-x).exp())
}

pub fn silu_forward<F: Float>(x: &[F]) -> Vec<F> {
    map_unary(x, |x| x * sigmoid(x))
}

pub fn silu_backward<F: Float>(x: &[F], dy: &[F]) -> Vec<F> {
    map_binary(x, dy, |x, dy| {
        let s = sigmoid(x);
        dy * s * (F::one() + x * (F::one() - s))
    })
}
