//! Rayon kernels, generic over f32/f64; f32 runs the vectorised math of [`crate::cpu_math`].

use crate::cpu_math::{Map1, Map2, VecMath, map1, map2};

struct Fwd;
impl<F: VecMath> Map1<F> for Fwd {
    #[inline(always)]
    fn apply(&self, x: F) -> F {
        x.vsigmoid_parts().0
    }
}

struct Bwd;
impl<F: VecMath> Map2<F> for Bwd {
    #[inline(always)]
    fn apply(&self, x: F, dy: F) -> F {
        let (s, one_minus_s) = x.vsigmoid_parts();
        dy * s * one_minus_s
    }
}

pub fn sigmoid_forward<F: VecMath>(x: &[F]) -> Vec<F> {
    map1(&Fwd, x)
}

pub fn sigmoid_backward<F: VecMath>(x: &[F], dy: &[F]) -> Vec<F> {
    map2(&Bwd, x, dy)
}
