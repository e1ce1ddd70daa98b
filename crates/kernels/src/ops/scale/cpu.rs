//! Rayon kernels, generic over f32/f64 (memory-bound; baseline SIMD suffices).

use crate::Float;
use crate::cpu_math::{Map1, map1};
use crate::cpu_util::CHUNK;
use rayon::prelude::*;

struct Scale<F>(F);
impl<F: Float> Map1<F> for Scale<F> {
    #[inline(always)]
    fn apply(&self, x: F) -> F {
        self.0 * x
    }
}

pub fn scale<F: Float>(x: &[F], alpha: f64) -> Vec<F> {
    map1(&Scale(F::from_f64(alpha)), x)
}

pub fn scale_assign<F: Float>(x: &mut [F], alpha: f64) {
    let a = F::from_f64(alpha);
    x.par_chunks_mut(CHUNK).for_each(|c| {
        for v in c {
            *v = a * *v;
        }
    });
}
