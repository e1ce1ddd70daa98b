//! Rayon kernels, generic over f32/f64. Plain products vectorise at the baseline ISA and are
//! memory-bound, so they need no run-time ISA dispatch.

use crate::Float;
use crate::cpu_math::{Map2, alloc_output, map2};
use crate::cpu_util::CHUNK;
use rayon::prelude::*;

struct Mul;
impl<F: Float> Map2<F> for Mul {
    #[inline(always)]
    fn apply(&self, a: F, b: F) -> F {
        a * b
    }
}

pub fn mul_forward<F: Float>(a: &[F], b: &[F]) -> Vec<F> {
    map2(&Mul, a, b)
}

/// One pass: reads `a`, `b`, `dy` and writes `da`, `db` (20 B/elem in f32).
pub fn mul_backward<F: Float>(a: &[F], b: &[F], dy: &[F]) -> (Vec<F>, Vec<F>) {
    let mut da = alloc_output(a.len());
    let mut db = alloc_output(a.len());
    da.par_chunks_mut(CHUNK)
        .zip(db.par_chunks_mut(CHUNK))
        .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
        .zip(dy.par_chunks(CHUNK))
        .for_each(|(((da, db), (a, b)), dy)| {
            for ((((da, db), &a), &b), &dy) in da.iter_mut().zip(db).zip(a).zip(b).zip(dy) {
                *da = dy * b;
                *db = dy * a;
            }
        });
    (da, db)
}
