//! Rayon kernels, generic over f32/f64: rows in parallel, one pass for `Σx²` (no cancellation:
//! every term is non-negative), one for the output.

use crate::Float;
use crate::ops::bias_add::cpu::sum_over_rows;
use rayon::prelude::*;

fn min_rows(n: usize) -> usize {
    (crate::cpu_util::CHUNK / n.max(1)).max(1)
}

/// `(y, rstd)`; `n > 0`.
pub fn rmsnorm_forward<F: Float>(
    x: &[F],
    n: usize,
    gain: Option<&[F]>,
    eps: f64,
) -> (Vec<F>, Vec<F>) {
    let rows = x.len() / n;
    let (mut y, mut rstd) = (vec![F::zero(); x.len()], vec![F::zero(); rows]);
    let (eps, nf) = (F::from_f64(eps), F::from_f64(n as f64));
    y.par_chunks_mut(n)
        .zip(x.par_chunks(n))
        .zip(rstd.par_iter_mut())
        .with_min_len(min_rows(n))
        .for_each(|((y, x), rs)| {
            *rs = F::one() / (x.iter().map(|&v| v * v).sum::<F>() / nf + eps).sqrt();
            for (j, (y, &v)) in y.iter_mut().zip(x).enumerate() {
                *y = gain.map_or(v * *rs, |g| v * *rs * g[j]);
            }
        });
    (y, rstd)
}

/// `dx = rstd·(d̂ − x̂·mean(d̂·x̂))` per row, `d̂ = dy·g`, `x̂ = x·rstd`.
pub fn rmsnorm_backward_dx<F: Float>(
    x: &[F],
    n: usize,
    gain: Option<&[F]>,
    rstd: &[F],
    dy: &[F],
) -> Vec<F> {
    let nf = F::from_f64(n as f64);
    let mut dx = vec![F::zero(); x.len()];
    dx.par_chunks_mut(n)
        .zip(x.par_chunks(n).zip(dy.par_chunks(n)))
        .zip(rstd.par_iter())
        .with_min_len(min_rows(n))
        .for_each(|((dx, (x, dy)), &rs)| {
            let dhat = |j: usize| gain.map_or(dy[j], |g| dy[j] * g[j]);
            let c = x
                .iter()
                .enumerate()
                .map(|(j, &v)| dhat(j) * v * rs)
                .sum::<F>()
                / nf;
            for (j, (dx, &v)) in dx.iter_mut().zip(x).enumerate() {
                *dx = rs * (dhat(j) - v * rs * c);
            }
        });
    dx
}

/// `dgain = Σ_rows dy·x̂`, a deterministic column sum.
pub fn rmsnorm_backward_dgain<F: Float>(x: &[F], n: usize, rstd: &[F], dy: &[F]) -> Vec<F> {
    sum_over_rows(rstd.len(), n, |r, acc| {
        let (x, dy) = (&x[r * n..(r + 1) * n], &dy[r * n..(r + 1) * n]);
        for ((a, &g), &v) in acc.iter_mut().zip(dy).zip(x) {
            *a += g * v * rstd[r];
        }
    })
}
