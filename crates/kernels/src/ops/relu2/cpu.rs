//! Rayon kernels, generic over f32/f64.

use crate::Float;
use crate::cpu_math::{Map1, Map2, map1, map2};

/// `max(x, 0)` that lets NaN through (`f32::max` would turn it into 0).
#[inline(always)]
fn relu<F: Float>(x: F) -> F {
    if x < F::zero() { F::zero() } else { x }
}

struct Fwd;
impl<F: Float> Map1<F> for Fwd {
    #[inline(always)]
    fn apply(&self, x: F) -> F {
        let r = relu(x);
        r * r
    }
}

struct Bwd;
impl<F: Float> Map2<F> for Bwd {
    #[inline(always)]
    fn apply(&self, x: F, dy: F) -> F {
        let r = relu(x);
        (r + r) * dy
    }
}

pub fn relu2_forward<F: Float>(x: &[F]) -> Vec<F> {
    map1(&Fwd, x)
}

pub fn relu2_backward<F: Float>(x: &[F], dy: &[F]) -> Vec<F> {
    map2(&Bwd, x, dy)
}
