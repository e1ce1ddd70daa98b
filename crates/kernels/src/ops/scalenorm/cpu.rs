//! Rayon kernels, generic over f32/f64: rows in parallel; the gain's gradient as per-row
//! partials added in row order (deterministic).

use crate::Float;
use rayon::prelude::*;

fn min_rows(n: usize) -> usize {
    (crate::cpu_util::CHUNK / n.max(1)).max(1)
}

/// `(y, norm)` with `norm = max(‖x‖₂, eps)`; `n > 0`.
pub fn scalenorm_forward<F: Float>(x: &[F], n: usize, g: F, eps: f64) -> (Vec<F>, Vec<F>) {
    let rows = x.len() / n;
    let (mut y, mut norm) = (vec![F::zero(); x.len()], vec![F::zero(); rows]);
    let eps = F::from_f64(eps);
    y.par_chunks_mut(n)
        .zip(x.par_chunks(n))
        .zip(norm.par_iter_mut())
        .with_min_len(min_rows(n))
        .for_each(|((y, x), nr)| {
            *nr = x.iter().map(|&v| v * v).sum::<F>().sqrt().max(eps);
            let s = g / *nr;
            for (y, &v) in y.iter_mut().zip(x) {
                *y = s * v;
            }
        });
    (y, norm)
}

/// `(dx, dg)`; see [`scalenorm_backward_ref`](super::scalenorm_backward_ref) for the formulas.
pub fn scalenorm_backward<F: Float>(
    x: &[F],
    n: usize,
    g: F,
    norm: &[F],
    dy: &[F],
    eps: f64,
) -> (Vec<F>, F) {
    let eps = F::from_f64(eps);
    let mut dx = vec![F::zero(); x.len()];
    let mut row_dg = vec![F::zero(); norm.len()];
    dx.par_chunks_mut(n)
        .zip(x.par_chunks(n).zip(dy.par_chunks(n)))
        .zip(norm.par_iter().zip(row_dg.par_iter_mut()))
        .with_min_len(min_rows(n))
        .for_each(|((dx, (x, dy)), (&nr, dg))| {
            let xd = x.iter().zip(dy).map(|(&a, &b)| a * b).sum::<F>();
            let s = g / nr;
            if nr <= eps {
                for (dx, &d) in dx.iter_mut().zip(dy) {
                    *dx = s * d;
                }
            } else {
                let c = xd / (nr * nr);
                for ((dx, &d), &v) in dx.iter_mut().zip(dy).zip(x) {
                    *dx = s * (d - v * c);
                }
            }
            *dg = xd / nr;
        });
    (dx, row_dg.into_iter().sum())
}
