//! Rayon kernels, generic over f32/f64; f32 runs the vectorised math of [`crate::cpu_math`].

use super::GeluKind;
use crate::cpu_math::{MulAdd, VecMath, map1, map2, vec_math_kernel};

const C: f64 = 0.044715;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// `2u = k2·(x + c·x³) = x·(k2 + k2·c·x²)` for the tanh form, with `k2 = 2·√(2/π)`: a short
/// chain (x², one multiply-add, one multiply).
#[inline(always)]
fn two_u<F: VecMath, M: MulAdd>(x: F, x2: F) -> F {
    let k2 = F::from_f64(2.0 * SQRT_2_OVER_PI);
    x * x2.vmul_add::<M>(F::from_f64(2.0 * SQRT_2_OVER_PI * C), k2)
}

vec_math_kernel!(ErfFwd, |x| x * x.vnormal_cdf::<M>());
vec_math_kernel!(ErfBwd, |x, dy| {
    // Φ and φ share one exponential in f32.
    let (cdf, pdf) = x.vnormal_cdf_pdf::<M>();
    dy * (cdf + x * pdf)
});
vec_math_kernel!(TanhFwd, |x| two_u::<F, M>(x, x * x).vscaled_sigmoid::<M>(x));
vec_math_kernel!(TanhBwd, |x, dy| {
    // d/dx x·σ(2u) = σ + x·σ(1 − σ)·2u' = σ·(1 + x·(1 − σ)·2u'), 2u' = k2·(1 + 3c·x²).
    let x2 = x * x;
    let (s, one_minus_s) = two_u::<F, M>(x, x2).vsigmoid_parts::<M>();
    let k2 = F::from_f64(2.0 * SQRT_2_OVER_PI);
    let two_du = x2.vmul_add::<M>(F::from_f64(2.0 * SQRT_2_OVER_PI * 3.0 * C), k2);
    dy * s * (x * one_minus_s).vmul_add::<M>(two_du, F::one())
});

pub fn gelu_forward<F: VecMath>(x: &[F], kind: GeluKind) -> Vec<F> {
    match kind {
        GeluKind::Erf => map1(&ErfFwd, x),
        GeluKind::Tanh => map1(&TanhFwd, x),
    }
}

pub fn gelu_backward<F: VecMath>(x: &[F], dy: &[F], kind: GeluKind) -> Vec<F> {
    match kind {
        GeluKind::Erf => map2(&ErfBwd, x, dy),
        GeluKind::Tanh => map2(&TanhBwd, x, dy),
    }
}
