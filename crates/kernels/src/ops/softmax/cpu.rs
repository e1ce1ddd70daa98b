//! Rayon kernels, generic over f32/f64: one row per task item, rows grouped so that a task
//! holds about `CHUNK` elements.

use super::RowMask;
use crate::Float;
use crate::cpu_util::CHUNK;
use rayon::prelude::*;

fn rows_per_task(n: usize) -> usize {
    (CHUNK / n.max(1)).max(1)
}

pub fn softmax_forward<F: Float>(x: &[F], scale: f64, mask: &RowMask) -> Vec<F> {
    let n = mask.n;
    let mut y = vec![F::zero(); x.len()];
    if n == 0 {
        return y;
    }
    let c = F::from_f64(scale);
    y.par_chunks_mut(n)
        .zip(x.par_chunks(n))
        .enumerate()
        .with_min_len(rows_per_task(n))
        .for_each(|(r, (yr, xr))| {
            let l = mask.visible(r);
            let (yv, xv) = (&mut yr[..l], &xr[..l]);
            let m = xv.iter().fold(F::neg_infinity(), |m, &v| m.max(c * v));
            if m == F::neg_infinity() {
                return; // fully masked (or all −∞): the row stays zero
            }
            let mut sum = F::zero();
            for (o, &v) in yv.iter_mut().zip(xv) {
                *o = (c * v - m).exp();
                sum += *o;
            }
            let inv = F::one() / sum;
            yv.iter_mut().for_each(|o| *o *= inv);
        });
    y
}

pub fn softmax_backward<F: Float>(y: &[F], dy: &[F], scale: f64, n: usize) -> Vec<F> {
    let mut dx = vec![F::zero(); y.len()];
    if n == 0 {
        return dx;
    }
    let c = F::from_f64(scale);
    dx.par_chunks_mut(n)
        .zip(y.par_chunks(n).zip(dy.par_chunks(n)))
        .with_min_len(rows_per_task(n))
        .for_each(|(dxr, (yr, dyr))| {
            let dot = yr
                .iter()
                .zip(dyr)
                .fold(F::zero(), |acc, (&a, &b)| acc + a * b);
            for ((o, &a), &b) in dxr.iter_mut().zip(yr).zip(dyr) {
                *o = c * a * (b - dot);
            }
        });
    dx
}
