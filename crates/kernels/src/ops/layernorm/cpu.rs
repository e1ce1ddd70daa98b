//! Rayon kernels, generic over f32/f64: rows in parallel, each row in two passes (mean, then
//! the centred variance). The mean is summed relative to the row's first value (the "shifted
//! data" method), so a row with mean 1e3 and spread 1 loses no digits to cancellation in f32.

use crate::Float;
use crate::ops::bias_add::cpu::sum_over_rows;
use rayon::prelude::*;

/// Rows per rayon task: about 16 K elements.
fn min_rows(n: usize) -> usize {
    (crate::cpu_util::CHUNK / n.max(1)).max(1)
}

/// `(mean, rstd)` of one row: shifted sum for the mean, centred second pass for the variance.
#[inline]
fn row_moments<F: Float>(x: &[F], eps: F) -> (F, F) {
    let nf = F::from_f64(x.len() as f64);
    let shift = x[0];
    let mu = shift + x.iter().map(|&v| v - shift).sum::<F>() / nf;
    let var = x.iter().map(|&v| (v - mu) * (v - mu)).sum::<F>() / nf;
    (mu, F::one() / (var + eps).sqrt())
}

/// `(y, mean, rstd)`; `n > 0`.
pub fn layernorm_forward<F: Float>(
    x: &[F],
    n: usize,
    gain: Option<&[F]>,
    bias: Option<&[F]>,
    eps: f64,
) -> (Vec<F>, Vec<F>, Vec<F>) {
    let rows = x.len() / n;
    let (mut y, mut mean, mut rstd) = (
        vec![F::zero(); x.len()],
        vec![F::zero(); rows],
        vec![F::zero(); rows],
    );
    let eps = F::from_f64(eps);
    y.par_chunks_mut(n)
        .zip(x.par_chunks(n))
        .zip(mean.par_iter_mut().zip(rstd.par_iter_mut()))
        .with_min_len(min_rows(n))
        .for_each(|((y, x), (mu, rs))| {
            (*mu, *rs) = row_moments(x, eps);
            for (j, (y, &v)) in y.iter_mut().zip(x).enumerate() {
                let mut h = (v - *mu) * *rs;
                if let Some(g) = gain {
                    h *= g[j];
                }
                if let Some(b) = bias {
                    h += b[j];
                }
                *y = h;
            }
        });
    (y, mean, rstd)
}

/// `dx` per row: `rstd·(d̂ − mean(d̂) − x̂·mean(d̂·x̂))` with `d̂ = dy·g`, `x̂ = (x−μ)·rstd`.
pub fn layernorm_backward_dx<F: Float>(
    x: &[F],
    n: usize,
    gain: Option<&[F]>,
    mean: &[F],
    rstd: &[F],
    dy: &[F],
) -> Vec<F> {
    let nf = F::from_f64(n as f64);
    let mut dx = vec![F::zero(); x.len()];
    dx.par_chunks_mut(n)
        .zip(x.par_chunks(n).zip(dy.par_chunks(n)))
        .zip(mean.par_iter().zip(rstd.par_iter()))
        .with_min_len(min_rows(n))
        .for_each(|((dx, (x, dy)), (&mu, &rs))| {
            let dhat = |j: usize| gain.map_or(dy[j], |g| dy[j] * g[j]);
            let (mut c1, mut c2) = (F::zero(), F::zero());
            for (j, &v) in x.iter().enumerate() {
                let d = dhat(j);
                c1 += d;
                c2 += d * (v - mu) * rs;
            }
            let (c1, c2) = (c1 / nf, c2 / nf);
            for (j, (dx, &v)) in dx.iter_mut().zip(x).enumerate() {
                *dx = rs * (dhat(j) - c1 - (v - mu) * rs * c2);
            }
        });
    dx
}

/// `(dgain, dbias)`: `Σ_rows dy·x̂` and `Σ_rows dy`, deterministic column sums.
pub fn layernorm_backward_params<F: Float>(
    x: &[F],
    n: usize,
    mean: &[F],
    rstd: &[F],
    dy: &[F],
) -> (Vec<F>, Vec<F>) {
    let rows = mean.len();
    let both = sum_over_rows(rows, 2 * n, |r, acc| {
        let (ag, ab) = acc.split_at_mut(n);
        let (x, dy) = (&x[r * n..(r + 1) * n], &dy[r * n..(r + 1) * n]);
        for (((ag, ab), &g), &v) in ag.iter_mut().zip(ab).zip(dy).zip(x) {
            *ag += g * (v - mean[r]) * rstd[r];
            *ab += g;
        }
    });
    let (g, b) = both.split_at(n);
    (g.to_vec(), b.to_vec())
}
