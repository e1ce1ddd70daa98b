//! Rayon kernels, generic over f32/f64; f32 runs the vectorised math of [`crate::cpu_math`].

use crate::cpu_math::{VecMath, map1, map2, vec_math_kernel};

vec_math_kernel!(Fwd, |x| x.vscaled_sigmoid::<M>(x));
vec_math_kernel!(Bwd, |x, dy| {
    let (s, one_minus_s) = x.vsigmoid_parts::<M>();
    dy * s * (F::one() + x * one_minus_s)
});

pub fn silu_forward<F: VecMath>(x: &[F]) -> Vec<F> {
    map1(&Fwd, x)
}

pub fn silu_backward<F: VecMath>(x: &[F], dy: &[F]) -> Vec<F> {
    map2(&Bwd, x, dy)
}
