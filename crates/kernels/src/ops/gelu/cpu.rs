//! Rayon kernels, generic over f32/f64; f32 runs the vectorised math of [`crate::cpu_math`].

use super::GeluKind;
use crate::cpu_math::{MulAdd, VecMath, map1, map2, vec_math_kernel};

const C: f64 = 0.044715;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// `(σ(2u), 1 − σ(2u), 2u')` for the tanh form.
#[inline(always)]
fn tanh_parts<F: VecMath, M: MulAdd>(x: F) -> (F, F, F) {
    let k2 = F::from_f64(2.0 * SQRT_2_OVER_PI);
    let x2 = x * x;
    // 2u = k2·(x + c·x³) = x·(k2 + k2·c·x²): three operations after x², a short chain.
    let two_u = x * (k2 + F::from_f64(2.0 * SQRT_2_OVER_PI * C) * x2);
    let (s, one_minus_s) = two_u.vsigmoid_parts::<M>();
    let two_du = k2 * (F::one() + F::from_f64(3.0 * C) * x2);
    (s, one_minus_s, two_du)
}

vec_math_kernel!(ErfFwd, |x| x * x.vnormal_cdf::<M>());
vec_math_kernel!(ErfBwd, |x, dy| {
    // Φ and φ share one exponential in f32.
    let (cdf, pdf) = x.vnormal_cdf_pdf::<M>();
    dy * (cdf + x * pdf)
});
vec_math_kernel!(TanhFwd, |x| x * tanh_parts::<F, M>(x).0);
vec_math_kernel!(TanhBwd, |x, dy| {
    let (s, one_minus_s, two_du) = tanh_parts::<F, M>(x);
    dy * (s + x * s * one_minus_s * two_du)
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
