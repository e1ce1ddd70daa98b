//! Rayon kernels, generic over f32/f64; f32 runs the vectorised math of [`crate::cpu_math`].

use crate::cpu_math::{VecMath, map1, map2, vec_math_kernel};

vec_math_kernel!(Fwd, |x| x.vscaled_sigmoid::<M>(F::one()));
vec_math_kernel!(Bwd, |x, dy| {
    let (s, one_minus_s) = x.vsigmoid_parts::<M>();
    dy * s * one_minus_s
});

pub fn sigmoid_forward<F: VecMath>(x: &[F]) -> Vec<F> {
    map1(&Fwd, x)
}

pub fn sigmoid_backward<F: VecMath>(x: &[F], dy: &[F]) -> Vec<F> {
    map2(&Bwd, x, dy)
}
