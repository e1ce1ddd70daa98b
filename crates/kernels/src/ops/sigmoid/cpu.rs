//! Rayon kernels, generic over f32/f64; f32 runs the vectorised math of [`crate::cpu_math`].

use crate::cpu_math::{Fused, Map1, Map2, MulAdd, Separate, VecMath, map1, map2};

struct Fwd;
impl Fwd {
    #[inline(always)]
    fn eval<F: VecMath, M: MulAdd>(x: F) -> F {
        x.vsigmoid_parts::<M>().0
    }
}
impl<F: VecMath> Map1<F> for Fwd {
    #[inline(always)]
    fn apply(&self, x: F) -> F {
        Self::eval::<F, Separate>(x)
    }
    #[inline(always)]
    fn apply_fma(&self, x: F) -> F {
        Self::eval::<F, Fused>(x)
    }
}

struct Bwd;
impl Bwd {
    #[inline(always)]
    fn eval<F: VecMath, M: MulAdd>(x: F, dy: F) -> F {
        let (s, one_minus_s) = x.vsigmoid_parts::<M>();
        dy * s * one_minus_s
    }
}
impl<F: VecMath> Map2<F> for Bwd {
    #[inline(always)]
    fn apply(&self, x: F, dy: F) -> F {
        Self::eval::<F, Separate>(x, dy)
    }
    #[inline(always)]
    fn apply_fma(&self, x: F, dy: F) -> F {
        Self::eval::<F, Fused>(x, dy)
    }
}

pub fn sigmoid_forward<F: VecMath>(x: &[F]) -> Vec<F> {
    map1(&Fwd, x)
}

pub fn sigmoid_backward<F: VecMath>(x: &[F], dy: &[F]) -> Vec<F> {
    map2(&Bwd, x, dy)
}
