//! [`VecMath`]: the elementwise math the generic CPU kernels call — the fast f32 functions of
//! this module, and the exact std/libm functions in f64.

use super::{MulAdd, f32_math::*};
use crate::Float;

/// Elementwise math for the CPU kernels: vectorisable approximations in f32, exact in f64.
/// `M` says how f32 computes `a·b + c` ([`Fused`](super::Fused) only inside FMA-compiled loops); f64 ignores it.
pub trait VecMath: Float {
    /// `(σ(x), 1 − σ(x))`, both accurate to a few ulp relative.
    fn vsigmoid_parts<M: MulAdd>(self) -> (Self, Self);
    /// `t·σ(self)`, to the same accuracy as `t` times [`VecMath::vsigmoid_parts`]`.0`.
    fn vscaled_sigmoid<M: MulAdd>(self, t: Self) -> Self;
    /// `self·b + c`: one fused multiply-add in f32 loops compiled with FMA (`M` = [`Fused`](super::Fused)),
    /// a multiply then an add otherwise and in f64.
    fn vmul_add<M: MulAdd>(self, b: Self, c: Self) -> Self;
}

impl VecMath for f32 {
    #[inline(always)]
    fn vsigmoid_parts<M: MulAdd>(self) -> (Self, Self) {
        sigmoid_parts_f32::<M>(self)
    }
    #[inline(always)]
    fn vscaled_sigmoid<M: MulAdd>(self, t: Self) -> Self {
        scaled_sigmoid_f32::<M>(self, t)
    }
    #[inline(always)]
    fn vmul_add<M: MulAdd>(self, b: Self, c: Self) -> Self {
        M::mul_add(self, b, c)
    }
}

impl VecMath for f64 {
    #[inline(always)]
    fn vsigmoid_parts<M: MulAdd>(self) -> (Self, Self) {
        let e = (-self.abs()).exp();
        let big = 1.0 / (1.0 + e);
        let small = e * big;
        if self >= 0.0 {
            (big, small)
        } else {
            (small, big)
        }
    }
    #[inline(always)]
    fn vscaled_sigmoid<M: MulAdd>(self, t: Self) -> Self {
        let e = (-self.abs()).exp();
        let num = if self.is_sign_negative() { t * e } else { t };
        num / (1.0 + e)
    }
    #[inline(always)]
    fn vmul_add<M: MulAdd>(self, b: Self, c: Self) -> Self {
        self * b + c
    }
}
