//! Rayon kernel, generic over f32/f64: chunks of the flat index, each element's mask bit
//! recomputed from `(key, i)`.

use super::{GAMMA, mix64};
use crate::Float;
use crate::cpu_util::CHUNK;
use rayon::prelude::*;

pub fn dropout<F: Float>(x: &[F], threshold: u64, scale: f64, key: u64) -> Vec<F> {
    let scale = F::from_f64(scale);
    let mut y = vec![F::zero(); x.len()];
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .enumerate()
        .for_each(|(c, (yc, xc))| {
            let base = (c * CHUNK) as u64;
            for (k, (o, &v)) in yc.iter_mut().zip(xc).enumerate() {
                let h = mix64(key.wrapping_add((base + k as u64).wrapping_mul(GAMMA)));
                *o = if h >> 32 >= threshold {
                    v * scale
                } else {
                    F::zero()
                };
            }
        });
    y
}
