//! Rayon kernels, generic over f32/f64.

use crate::Float;
use crate::cpu_util::{CHUNK, map_binary};
use rayon::prelude::*;

pub fn add<F: Float>(a: &[F], b: &[F]) -> Vec<F> {
    map_binary(a, b, |a, b| a + b)
}

pub fn add_assign<F: Float>(a: &mut [F], b: &[F]) {
    a.par_chunks_mut(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .for_each(|(a, b)| {
            for (a, &b) in a.iter_mut().zip(b) {
                *a += b;
            }
        });
}
