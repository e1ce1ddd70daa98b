//! Rayon kernels, generic over f32/f64, and the deterministic column sum that the norms'
//! parameter gradients reuse.

use crate::Float;
use crate::cpu_util::CHUNK;
use rayon::prelude::*;

pub fn bias_add_forward<F: Float>(x: &[F], b: &[F]) -> Vec<F> {
    let n = b.len();
    let mut y = vec![F::zero(); x.len()];
    if n == 0 {
        return y;
    }
    let rows_per_task = (CHUNK / n).max(1);
    y.par_chunks_mut(rows_per_task * n)
        .zip(x.par_chunks(rows_per_task * n))
        .for_each(|(y, x)| {
            for (y, x) in y.chunks_mut(n).zip(x.chunks(n)) {
                for ((y, &x), &b) in y.iter_mut().zip(x).zip(b) {
                    *y = x + b;
                }
            }
        });
    y
}

/// `Σ_r contribution(r)` into an `n`-vector, where `add_row(r, acc)` adds row `r`'s
/// contribution into `acc`. Rows are cut into fixed groups (at most 256, independent of the
/// thread count), each summed on one thread, and the partials are added in order, so the
/// result is the same on every run and every pool size.
pub(crate) fn sum_over_rows<F: Float>(
    rows: usize,
    n: usize,
    add_row: impl Fn(usize, &mut [F]) + Sync,
) -> Vec<F> {
    let group = (CHUNK / n.max(1)).max(rows.div_ceil(256)).max(1);
    let partials: Vec<Vec<F>> = (0..rows.div_ceil(group))
        .into_par_iter()
        .map(|g| {
            let mut acc = vec![F::zero(); n];
            for r in g * group..((g + 1) * group).min(rows) {
                add_row(r, &mut acc);
            }
            acc
        })
        .collect();
    let mut total = vec![F::zero(); n];
    for p in partials {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// `db[j] = Σ_r dy[r, j]`.
pub fn column_sums<F: Float>(dy: &[F], rows: usize, n: usize) -> Vec<F> {
    sum_over_rows(rows, n, |r, acc| {
        for (a, &g) in acc.iter_mut().zip(&dy[r * n..(r + 1) * n]) {
            *a += g;
        }
    })
}
