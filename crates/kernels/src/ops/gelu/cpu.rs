//! Rayon kernels, generic over f32/f64; f32 runs the vectorised math of [`crate::cpu_math`].

use super::GeluKind;
use crate::cpu_math::{Map1, Map2, VecMath, map1, map2};

const C: f64 = 0.044715;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// `(σ(2u), 1 − σ(2u), 2u')` for the tanh form.
#[inline(always)]
fn tanh_parts<F: VecMath>(x: F) -> (F, F, F) {
    let k2 = F::from_f64(2.0 * SQRT_2_OVER_PI);
    let c = F::from_f64(C);
    let x2 = x * x;
    let two_u = k2 * (x + c * x2 * x);
    let (s, one_minus_s) = two_u.vsigmoid_parts();
    let two_du = k2 * (F::one() + F::from_f64(3.0 * C) * x2);
    (s, one_minus_s, two_du)
}

struct ErfFwd;
impl<F: VecMath> Map1<F> for ErfFwd {
    #[inline(always)]
    fn apply(&self, x: F) -> F {
        x * x.vnormal_cdf()
    }
}

struct ErfBwd;
impl<F: VecMath> Map2<F> for ErfBwd {
    #[inline(always)]
    fn apply(&self, x: F, dy: F) -> F {
        dy * (x.vnormal_cdf() + x * x.vnormal_pdf())
    }
}

struct TanhFwd;
impl<F: VecMath> Map1<F> for TanhFwd {
    #[inline(always)]
    fn apply(&self, x: F) -> F {
        x * tanh_parts(x).0
    }
}

struct TanhBwd;
impl<F: VecMath> Map2<F> for TanhBwd {
    #[inline(always)]
    fn apply(&self, x: F, dy: F) -> F {
        let (s, one_minus_s, two_du) = tanh_parts(x);
        dy * (s + x * s * one_minus_s * two_du)
    }
}

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
