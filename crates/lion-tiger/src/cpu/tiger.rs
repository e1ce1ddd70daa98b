//! Fused Tiger micro-steps.
//!
//! Dense kinds (Matrix, Vector, Gain, Custom) have one η per tensor: each element does
//! `m = b1·m + inc·g` and, on an update micro-step, `θ = d·θ − η·sign(m)` (20 B/param; a
//! non-update micro-step touches only m and g, 12 B/param). For a Matrix the whole-tensor
//! RMS(θ_{t-1}) comes from Σθ² of the *previous* step's new θ, summed per chunk while the chunk
//! is still in cache and added in a fixed order, so no separate read pass is needed.
//!
//! Embeddings ([V, d]) are processed by rows: the row's RMS is taken from the row just before
//! updating it (the row is in L1), then the row is folded and updated in one loop.
//!
//! [`tiger_fused`] runs dense tensors and embedding rows together in one parallel launch. Its
//! pieces run in reverse order: the caller's guard test ([`super::bad_flags`]) has just read the
//! gradients front to back, so the most recently tested gradient lines, still in cache, are the
//! first ones the update reads again.

use super::{CHUNK, sign, sum_sq_simd, with_simd};
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

/// One embedding table's share of a Tiger micro-step: rows of length `d`; `touched` for lazy
/// rows (see [`tiger_rows`]).
pub struct RowJob<'a, F> {
    pub theta: &'a mut [F],
    pub m: &'a mut [F],
    pub g: &'a [F],
    pub d: usize,
    pub s: RowScalars,
    pub touched: Option<&'a mut [bool]>,
}

/// A tensor of a fused Tiger launch.
pub enum TigerWork<'a, F> {
    Dense(TigerJob<'a, F>),
    Rows(RowJob<'a, F>),
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

/// One chunk of a dense job: returns Σθ² of the new θ when asked (0 otherwise). Each loop is
/// its own small [`with_simd`] closure: a large closure body is not inlined into the AVX2
/// wrapper and then runs as plain SSE2 code (measured 2–3× slower).
fn dense_chunk<F: Float>(t: &mut [F], m: &mut [F], g: &[F], s: TigerScalars<F>, want: bool) -> f64 {
    if !s.update {
        with_simd(|| fold(m, g, s.b1, s.inc));
        return 0.0;
    }
    with_simd(|| fold_update(t, m, g, s));
    if want {
        // Σθ² of the new θ while the chunk is still in L2.
        sum_sq_simd(t)
    } else {
        0.0
    }
}

/// Runs every dense job in one parallel pass; returns, per job, Σθ² of the new θ (0 when not
/// asked for).
pub fn tiger_dense<F: Float>(jobs: Vec<TigerJob<'_, F>>) -> Vec<f64> {
    tiger_fused(jobs.into_iter().map(TigerWork::Dense).collect())
}

enum Piece<'a, F> {
    Dense {
        id: usize,
        t: &'a mut [F],
        m: &'a mut [F],
        g: &'a [F],
        s: TigerScalars<F>,
        want: bool,
    },
    Rows {
        t: &'a mut [F],
        m: &'a mut [F],
        g: &'a [F],
        d: usize,
        s: RowScalars,
        tc: &'a mut [bool],
        lazy: bool,
    },
}

/// Runs dense jobs and embedding row jobs in one parallel launch (pieces of ≤ [`CHUNK`]
/// elements, whole rows for embeddings); returns, per job, Σθ² of the new θ for dense jobs
/// that asked for it (0 otherwise). Partial sums are added in the tensor's chunk order,
/// whatever order the pieces ran in.
pub fn tiger_fused<F: Float>(jobs: Vec<TigerWork<'_, F>>) -> Vec<f64> {
    let n_jobs = jobs.len();
    let mut pieces = Vec::new();
    for (id, j) in jobs.into_iter().enumerate() {
        match j {
            TigerWork::Dense(j) => {
                for ((t, m), g) in j
                    .theta
                    .chunks_mut(CHUNK)
                    .zip(j.m.chunks_mut(CHUNK))
                    .zip(j.g.chunks(CHUNK))
                {
                    let (s, want) = (j.s, j.want_sum_sq);
                    pieces.push(Piece::Dense {
                        id,
                        t,
                        m,
                        g,
                        s,
                        want,
                    });
                }
            }
            TigerWork::Rows(j) => {
                let d = j.d.max(1);
                let rows_per = (CHUNK / d).max(1);
                let step = rows_per * d;
                let rows = j.theta.len() / d;
                let touched: &mut [bool] = j.touched.unwrap_or_default();
                let lazy = touched.len() == rows && rows > 0;
                let mut tchunks = touched.chunks_mut(rows_per);
                for ((t, m), g) in j
                    .theta
                    .chunks_mut(step)
                    .zip(j.m.chunks_mut(step))
                    .zip(j.g.chunks(step))
                {
                    let tc = if lazy {
                        tchunks.next().unwrap_or_default()
                    } else {
                        &mut [][..]
                    };
                    let s = j.s;
                    pieces.push(Piece::Rows {
                        t,
                        m,
                        g,
                        d,
                        s,
                        tc,
                        lazy,
                    });
                }
            }
        }
    }
    let partial: Vec<(usize, f64)> = pieces
        .into_par_iter()
        .rev()
        .map(|p| match p {
            Piece::Dense {
                id,
                t,
                m,
                g,
                s,
                want,
            } => (id, dense_chunk(t, m, g, s, want)),
            Piece::Rows {
                t,
                m,
                g,
                d,
                s,
                tc,
                lazy,
            } => {
                rows_chunk(t, m, g, d, s, tc, lazy);
                (usize::MAX, 0.0)
            }
        })
        .collect();
    let mut out = vec![0.0; n_jobs];
    // `partial` is in reverse piece order: add each job's chunks front to back.
    for &(id, p) in partial.iter().rev() {
        if id != usize::MAX {
            out[id] += p;
        }
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
    let job = RowJob {
        theta,
        m,
        g,
        d,
        s,
        touched,
    };
    tiger_fused(vec![TigerWork::Rows(job)]);
}

/// Whole rows of an embedding table (a piece of [`tiger_fused`]); row loops in small
/// [`with_simd`] closures (see [`dense_chunk`]).
fn rows_chunk<F: Float>(
    th: &mut [F],
    m: &mut [F],
    g: &[F],
    d: usize,
    s: RowScalars,
    tc: &mut [bool],
    lazy: bool,
) {
    let inc = F::from_f64(s.inc);
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
                    with_simd(|| row_update(th, m, s));
                }
                continue;
            }
            let b = if tc[r] { 1.0 } else { s.beta };
            tc[r] = true;
            b
        } else {
            s.dense_b1
        };
        let b1 = F::from_f64(b1);
        if s.update {
            // θ's row RMS is of the old row: take it before the fused fold + update.
            let (eta, dm) = row_eta(th, s);
            let rs = TigerScalars {
                b1,
                inc,
                eta,
                decay_mul: dm,
                update: true,
            };
            with_simd(|| fold_update(th, m, g, rs));
        } else {
            with_simd(|| fold(m, g, b1, inc));
        }
    }
}

/// (η, d = 1 − η·λ) of one row from its RMS before the update.
#[inline(always)]
fn row_eta<F: Float>(th: &[F], s: RowScalars) -> (F, F) {
    let rms = (sum_sq_simd(th) / th.len() as f64).sqrt().max(s.rms_floor);
    let eta = s.alpha * rms;
    (F::from_f64(eta), F::from_f64(1.0 - eta * s.lambda))
}

#[inline(always)]
fn row_update<F: Float>(th: &mut [F], m: &[F], s: RowScalars) {
    let (eta, d) = row_eta(th, s);
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
