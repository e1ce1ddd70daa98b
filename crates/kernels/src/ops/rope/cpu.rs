//! Rayon kernel, generic over f32/f64: a (cos, sin) table for the `n` positions is built in
//! f64 and rounded once, then rows are rotated in parallel.

use super::{RopeGeom, RopeLayout, RopeOpts};
use crate::Float;
use crate::cpu_util::CHUNK;
use rayon::prelude::*;

pub fn rope<F: Float>(x: &[F], g: &RopeGeom, opts: &RopeOpts, sign: f64) -> Vec<F> {
    let (n, s, half) = (g.n, g.s, g.s / 2);
    let mut y = vec![F::zero(); x.len()];
    if x.is_empty() {
        return y;
    }
    let inv_freq: Vec<f64> = (0..half)
        .map(|m| opts.base.powf(-2.0 * m as f64 / s as f64))
        .collect();
    // table[(p, m)] = (cos, sin) of sign·(offset + p)·θ_m.
    let table: Vec<(F, F)> = (0..n * half)
        .into_par_iter()
        .map(|k| {
            let p = (opts.offset + k / half) as f64;
            let (sin, cos) = (sign * p * inv_freq[k % half]).sin_cos();
            (F::from_f64(cos), F::from_f64(sin))
        })
        .collect();
    y.par_chunks_mut(s)
        .zip(x.par_chunks(s))
        .enumerate()
        .with_min_len((CHUNK / s).max(1))
        .for_each(|(r, (yr, xr))| {
            let cs = &table[(r % n) * half..(r % n + 1) * half];
            match opts.layout {
                RopeLayout::Interleaved => {
                    for ((yp, xp), &(c, sn)) in
                        yr.chunks_exact_mut(2).zip(xr.chunks_exact(2)).zip(cs)
                    {
                        yp[0] = xp[0] * c - xp[1] * sn;
                        yp[1] = xp[1] * c + xp[0] * sn;
                    }
                }
                RopeLayout::HalfSplit => {
                    let (ya, yb) = yr.split_at_mut(half);
                    let (xa, xb) = xr.split_at(half);
                    for m in 0..half {
                        let (c, sn) = cs[m];
                        ya[m] = xa[m] * c - xb[m] * sn;
                        yb[m] = xb[m] * c + xa[m] * sn;
                    }
                }
            }
        });
    y
}
