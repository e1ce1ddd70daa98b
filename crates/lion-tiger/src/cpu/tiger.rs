//! Fused Tiger micro-steps.
//!
//! Dense kinds (Matrix, Vector, Gain, Custom) have one η per tensor: each element does
//! `m = b1·m + inc·g` and, on an update micro-step, `θ = d·θ − η·sign(m)` (20 B/param; a
//! non-update micro-step touches only m and g, 12 B/param). For a Matrix the whole-tensor
//! RMS(θ_{t-1}) comes from Σθ² of the *previous* step's new θ, summed per chunk while the chunk
//! is still in cache and added in a fixed order, so no separate read pass is needed.
//!
//! Embeddings ([V, d]) are processed by rows: the row's RMS is taken from the row just before
//! updating it (the row is in cache), then the row is updated.

use super::{CHUNK, sign, sum_sq, with_simd};
use kernels::Float;
use rayon::prelude::*;

/// Per-tensor scalars of a dense Tiger micro-step.
#[derive(Clone, Copy, Debug)]
pub struct TigerScalars<F> {
    /// β on the first micro-step of a group, else 1.
    pub b1: F,
    /// (1 − β)/k.
    pub inc: F,
    /// η (0 and unused on non-update micro-steps).
    pub eta: F,
    /// d = 1 − η·λ.
    pub decay_mul: F,
    /// Whether θ moves on this micro-step.
    pub update: bool,
}

/// One dense tensor's share of a Tiger micro-step. When `update` and `want_sum_sq`, the job's
/// entry of the result is Σθ² of the new θ.
pub struct TigerJob<'a, F> {
    pub theta: &'a mut [F],
    pub m: &'a mut [F],
    pub g: &'a [F],
    pub s: TigerScalars<F>,
    pub want_sum_sq: bool,
}

#[inline(always)]
fn fold<F: Float>(m: &mut [F], g: &[F], b1: F, inc: F) {
    for (m, &g) in m.iter_mut().zip(g) {
        *m = *m * b1 + g * inc;
    }
}

#[inline(always)]
fn fold_update<F: Float>(th: &mut [F], m: &mut [F], g: &[F], s: TigerScalars<F>) {
    for ((t, m), &g) in th.iter_mut().zip(m.iter_mut()).zip(g) {
        let mn = *m * s.b1 + g * s.inc;
        *m = mn;
        *t = *t * s.decay_mul - s.eta * sign(mn);
    }
}

/// Runs every dense job in one parallel pass; returns, per job, Σθ² of the new θ (0 when not
/// asked for).
pub fn tiger_dense<F: Float>(jobs: Vec<TigerJob<'_, F>>) -> Vec<f64> {
    let n_jobs = jobs.len();
    let mut pieces = Vec::new();
    for (id, j) in jobs.into_iter().enumerate() {
        for ((t, m), g) in j
            .theta
            .chunks_mut(CHUNK)
            .zip(j.m.chunks_mut(CHUNK))
            .zip(j.g.chunks(CHUNK))
        {
            pieces.push((id, t, m, g, j.s, j.want_sum_sq));
        }
    }
    let partial: Vec<(usize, f64)> = pieces
        .into_par_iter()
        .map(|(id, t, m, g, s, want)| {
            with_simd(|| {
                if s.update {
                    fold_update(t, m, g, s);
                    (id, if want { sum_sq(t) } else { 0.0 })
                } else {
                    fold(m, g, s.b1, s.inc);
                    (id, 0.0)
                }
            })
        })
        .collect();
    let mut out = vec![0.0; n_jobs];
    for (id, p) in partial {
        out[id] += p;
    }
    out
}

/// Row-wise knobs of an embedding micro-step.
#[derive(Clone, Copy, Debug)]
pub struct RowScalars {
    /// β (applied on a row's first fold of the group).
    pub beta: f64,
    /// (1 − β)/k.
    pub inc: f64,
    /// True on the first micro-step of a group (lazy rows reset their `touched` flag).
    pub group_start: bool,
    /// b1 for non-lazy rows (β when the group's decay is due, else 1).
    pub dense_b1: f64,
    /// Whether θ moves on this micro-step.
    pub update: bool,
    /// α·schedule·lr_mult: η_row = alpha·max(RMS(row), floor).
    pub alpha: f64,
    /// λ for this tensor.
    pub lambda: f64,
    pub rms_floor: f64,
}

/// One embedding micro-step over rows of length `d`. With `touched` (lazy rows), rows whose
/// gradient is all zero are skipped and only rows touched in the group move.
pub fn tiger_rows<F: Float>(
    theta: &mut [F],
    m: &mut [F],
    g: &[F],
    d: usize,
    s: RowScalars,
    touched: Option<&mut [bool]>,
) {
    let d = d.max(1);
    let rows_per = (CHUNK / d).max(1);
    let step = rows_per * d;
    let rows = theta.len() / d;
    let mut dummy;
    let touched: &mut [bool] = match touched {
        Some(t) => t,
        None => {
            dummy = Vec::new();
            &mut dummy[..]
        }
    };
    let lazy = touched.len() == rows && rows > 0;
    let tchunks: Vec<&mut [bool]> = if lazy {
        touched.chunks_mut(rows_per).collect()
    } else {
        (0..theta.len().div_ceil(step))
            .map(|_| &mut [][..])
            .collect()
    };
    theta
        .par_chunks_mut(step)
        .zip(m.par_chunks_mut(step))
        .zip(g.par_chunks(step))
        .zip(tchunks.into_par_iter())
        .for_each(|(((th, m), g), tc)| {
            with_simd(|| {
                for (r, ((th, m), g)) in th
                    .chunks_mut(d)
                    .zip(m.chunks_mut(d))
                    .zip(g.chunks(d))
                    .enumerate()
                {
                    let b1 = if lazy {
                        if s.group_start {
                            tc[r] = false;
                        }
                        if g.iter().all(|&x| x == F::zero()) {
                            if s.update && tc[r] {
                                row_update(th, m, s);
                            }
                            continue;
                        }
                        let b = if tc[r] { 1.0 } else { s.beta };
                        tc[r] = true;
                        b
                    } else {
                        s.dense_b1
                    };
                    fold(m, g, F::from_f64(b1), F::from_f64(s.inc));
                    if s.update {
                        row_update(th, m, s);
                    }
                }
            })
        });
}

#[inline(always)]
fn row_update<F: Float>(th: &mut [F], m: &[F], s: RowScalars) {
    let rms = (sum_sq(th) / th.len() as f64).sqrt().max(s.rms_floor);
    let eta = s.alpha * rms;
    let d = F::from_f64(1.0 - eta * s.lambda);
    let eta = F::from_f64(eta);
    for (t, &m) in th.iter_mut().zip(m) {
        *t = *t * d - eta * sign(m);
    }
}

/// The guard's shrink: θ = (θ − c)·s + c.
pub fn shrink<F: Float>(theta: &mut [F], centre: f64, ratio: f64) {
    let (c, r) = (F::from_f64(centre), F::from_f64(ratio));
    theta.par_chunks_mut(CHUNK).for_each(|t| {
        with_simd(|| {
            for x in t.iter_mut() {
                *x = (*x - c) * r + c;
            }
        })
    });
}
