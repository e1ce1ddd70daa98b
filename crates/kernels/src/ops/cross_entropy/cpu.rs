//! Rayon kernels, generic over f32/f64, one row per item. Targets arrive validated, with
//! ignored rows as −1.

use crate::Float;
use crate::cpu_util::CHUNK;
use rayon::prelude::*;

/// `(Σ_{i not ignored} (lse_i − x_{i,t_i}) in f64, lse per row)`.
pub fn cross_entropy_forward<F: Float>(x: &[F], targets: &[i64], vocab: usize) -> (f64, Vec<F>) {
    let per_row: Vec<(F, f64)> = x
        .par_chunks(vocab)
        .zip(targets.par_iter())
        .with_min_len((CHUNK / vocab).max(1))
        .map(|(row, &t)| {
            let m = row.iter().fold(F::neg_infinity(), |m, &v| m.max(v));
            let s = row.iter().fold(F::zero(), |s, &v| s + (v - m).exp());
            let lse = m + s.ln();
            let loss = if t >= 0 {
                (lse - row[t as usize]).to_f64()
            } else {
                0.0
            };
            (lse, loss)
        })
        .collect();
    // Summed in row order, so the loss does not depend on the thread count.
    let sum = per_row.iter().map(|&(_, l)| l).sum();
    (sum, per_row.into_iter().map(|(l, _)| l).collect())
}

/// `dx_ij = g·(exp(x_ij − lse_i) − [j = t_i])`, 0 for ignored rows; `g = dloss / K`.
pub fn cross_entropy_backward<F: Float>(
    x: &[F],
    lse: &[F],
    targets: &[i64],
    vocab: usize,
    g: f64,
) -> Vec<F> {
    let g = F::from_f64(g);
    let mut dx = vec![F::zero(); x.len()];
    dx.par_chunks_mut(vocab)
        .zip(x.par_chunks(vocab))
        .zip(lse.par_iter().zip(targets.par_iter()))
        .with_min_len((CHUNK / vocab).max(1))
        .for_each(|((drow, row), (&l, &t))| {
            if t < 0 {
                return;
            }
            for (o, &v) in drow.iter_mut().zip(row) {
                *o = g * (v - l).exp();
            }
            drow[t as usize] -= g;
        });
    dx
}
