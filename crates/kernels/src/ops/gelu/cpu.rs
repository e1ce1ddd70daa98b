//! Rayon kernels. f32 runs the tabulated gates of [`crate::cpu_math::gate`] (both forms are
//! `x·g(x)` with a gate symmetric about `(0, ½)`); f64 runs the closed forms — the erf form
//! through the reference's `Φ` and `φ` (libm's `erfc` and `exp`), the tanh form as `x·σ(2u)` —
//! which is what gradient checks use.

use super::GeluKind;
use super::reference::{phi_cdf, phi_pdf};
use crate::cpu_math::gate::{GELU_ERF, GELU_TANH};
use crate::cpu_math::{Map1, Map2, MulAdd, VecMath, map1, map2, vec_math_kernel};

const C: f64 = 0.044715;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// `2u = k2·(x + c·x³) = x·(k2 + k2·c·x²)` for the tanh form, with `k2 = 2·√(2/π)`.
#[inline(always)]
fn two_u<F: VecMath, M: MulAdd>(x: F, x2: F) -> F {
    let k2 = F::from_f64(2.0 * SQRT_2_OVER_PI);
    x * x2.vmul_add::<M>(F::from_f64(2.0 * SQRT_2_OVER_PI * C), k2)
}

/// f64 `x·Φ(x)`.
struct ErfFwd;
impl Map1<f64> for ErfFwd {
    #[inline(always)]
    fn apply(&self, x: f64) -> f64 {
        x * phi_cdf(x)
    }
}

/// f64 `dy·(Φ(x) + x·φ(x))`.
struct ErfBwd;
impl Map2<f64> for ErfBwd {
    #[inline(always)]
    fn apply(&self, x: f64, dy: f64) -> f64 {
        dy * (phi_cdf(x) + x * phi_pdf(x))
    }
}
vec_math_kernel!(TanhFwd, |x| two_u::<F, M>(x, x * x).vscaled_sigmoid::<M>(x));
vec_math_kernel!(TanhBwd, |x, dy| {
    // d/dx x·σ(2u) = σ + x·σ(1 − σ)·2u' = σ·(1 + x·(1 − σ)·2u'), 2u' = k2·(1 + 3c·x²).
    let x2 = x * x;
    let (s, one_minus_s) = two_u::<F, M>(x, x2).vsigmoid_parts::<M>();
    let k2 = F::from_f64(2.0 * SQRT_2_OVER_PI);
    let two_du = x2.vmul_add::<M>(F::from_f64(2.0 * SQRT_2_OVER_PI * 3.0 * C), k2);
    dy * s * (x * one_minus_s).vmul_add::<M>(two_du, F::one())
});

/// GELU's CPU kernels for one element type.
pub trait GeluCpu: Sized {
    /// `y = gelu(x)`.
    fn gelu_forward(x: &[Self], kind: GeluKind) -> Vec<Self>;
    /// `dx = dy · gelu'(x)`.
    fn gelu_backward(x: &[Self], dy: &[Self], kind: GeluKind) -> Vec<Self>;
}

impl GeluCpu for f32 {
    fn gelu_forward(x: &[f32], kind: GeluKind) -> Vec<f32> {
        match kind {
            GeluKind::Erf => GELU_ERF.forward(x),
            GeluKind::Tanh => GELU_TANH.forward(x),
        }
    }
    fn gelu_backward(x: &[f32], dy: &[f32], kind: GeluKind) -> Vec<f32> {
        match kind {
            GeluKind::Erf => GELU_ERF.backward(x, dy),
            GeluKind::Tanh => GELU_TANH.backward(x, dy),
        }
    }
}

impl GeluCpu for f64 {
    fn gelu_forward(x: &[f64], kind: GeluKind) -> Vec<f64> {
        match kind {
            GeluKind::Erf => map1(&ErfFwd, x),
            GeluKind::Tanh => map1(&TanhFwd, x),
        }
    }
    fn gelu_backward(x: &[f64], dy: &[f64], kind: GeluKind) -> Vec<f64> {
        match kind {
            GeluKind::Erf => map2(&ErfBwd, x, dy),
            GeluKind::Tanh => map2(&TanhBwd, x, dy),
        }
    }
}
