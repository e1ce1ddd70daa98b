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
    /// Per-row Σθ² cache (empty: none): read for the old row's RMS when `row_ss_valid`, and
    /// after an update micro-step holding Σθ² of every new row (summed in the update loop).
    pub row_ss: &'a mut [f64],
    pub row_ss_valid: bool,
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

/// The fold and update of one chunk, `m = b1·m + inc·g; θ = d·θ − η·sign(m)`, returning Σθ² of
/// the new θ in the eight f64 lanes of
/// [`super::sum_sq`] (so the value is bit-identical to `sum_sq` of the new θ). Portable version
/// of [`super::simd::fold_update_sum_sq_f32`].
#[inline(always)]
pub(crate) fn fold_update_sum_sq<F: Float>(
    th: &mut [F],
    m: &mut [F],
    g: &[F],
    s: TigerScalars<F>,
) -> f64 {
    let mut acc = [0.0f64; 8];
    for (i, ((t, m), &g)) in th.iter_mut().zip(m.iter_mut()).zip(g).enumerate() {
        let mn = *m * s.b1 + g * s.inc;
        *m = mn;
        let tn = *t * s.decay_mul - s.eta * sign(mn);
        *t = tn;
        let v = tn.to_f64();
        acc[i % 8] += v * v;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// [`fold_update_sum_sq`] at the best SIMD level: hand-written AVX2 for f32, the portable loop
/// otherwise (f64, where Σθ² needs no widening, is compiled for AVX2 by [`with_simd`]).
pub(crate) fn fold_update_sum_sq_simd<F: Float>(
    th: &mut [F],
    m: &mut [F],
    g: &[F],
    s: TigerScalars<F>,
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if super::has_avx2()
        && let (Some(t), Some(mm), Some(gg)) = (
            super::as_f32_mut(th),
            super::as_f32_mut(m),
            super::as_f32(g),
        )
    {
        let f = |x: F| x.to_f64() as f32;
        let sc = [f(s.b1), f(s.inc), f(s.eta), f(s.decay_mul)];
        // SAFETY: the CPU supports AVX2 (checked); the slices have the chunk's length.
        return unsafe { super::simd::fold_update_sum_sq_f32(t, mm, gg, sc) };
    }
    with_simd(|| fold_update_sum_sq(th, m, g, s))
}

/// One chunk of a dense job: returns Σθ² of the new θ on an update micro-step (0 otherwise),
/// computed in the same loop as the update, so no second pass over θ.
fn dense_chunk<F: Float>(t: &mut [F], m: &mut [F], g: &[F], s: TigerScalars<F>) -> f64 {
    if !s.update {
        with_simd(|| fold(m, g, s.b1, s.inc));
        return 0.0;
    }
    fold_update_sum_sq_simd(t, m, g, s)
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
        ss: &'a mut [f64],
        valid: bool,
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
                let valid = j.row_ss_valid && j.row_ss.len() == rows;
                let mut sschunks = j.row_ss.chunks_mut(rows_per);
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
                    let ss = sschunks.next().unwrap_or_default();
                    pieces.push(Piece::Rows {
                        t,
                        m,
                        g,
                        d,
                        s,
                        tc,
                        lazy,
                        ss,
                        valid,
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
            } => {
                let ss = dense_chunk(t, m, g, s);
                (id, if want { ss } else { 0.0 })
            }
            Piece::Rows {
                t,
                m,
                g,
                d,
                s,
                tc,
                lazy,
                ss,
                valid,
            } => {
                rows_chunk(t, m, g, d, s, tc, lazy, (ss, valid));
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
        row_ss: &mut [],
        row_ss_valid: false,
    };
    tiger_fused(vec![TigerWork::Rows(job)]);
}

/// Whole rows of an embedding table (a piece of [`tiger_fused`]); row loops in small
/// [`with_simd`] closures (see [`dense_chunk`]).
#[allow(clippy::too_many_arguments)]
fn rows_chunk<F: Float>(
    th: &mut [F],
    m: &mut [F],
    g: &[F],
    d: usize,
    s: RowScalars,
    tc: &mut [bool],
    lazy: bool,
    (ss, valid): (&mut [f64], bool),
) {
    let inc = F::from_f64(s.inc);
    let keep = !ss.is_empty();
    for (r, ((th, m), g)) in th
        .chunks_mut(d)
        .zip(m.chunks_mut(d))
        .zip(g.chunks(d))
        .enumerate()
    {
        // Σθ² of the old row: the cached one, else one read of the row (then in L1).
        let old = |th: &[F]| {
            if valid { ss[r] } else { sum_sq_simd(th) }
        };
        let b1 = if lazy {
            if s.group_start {
                tc[r] = false;
            }
            if g.iter().all(|&x| x == F::zero()) {
                if s.update && tc[r] {
                    let (eta, dm) = row_eta(old(th), d, s);
                    with_simd(|| row_update(th, m, eta, dm));
                    if keep {
                        ss[r] = sum_sq_simd(th);
                    }
                } else if s.update && keep && !valid {
                    ss[r] = sum_sq_simd(th);
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
            let (eta, dm) = row_eta(old(th), d, s);
            let rs = TigerScalars {
                b1,
                inc,
                eta,
                decay_mul: dm,
                update: true,
            };
            let new = fold_update_sum_sq_simd(th, m, g, rs);
            if keep {
                ss[r] = new;
            }
        } else {
            with_simd(|| fold(m, g, b1, inc));
        }
    }
}

/// (η, d = 1 − η·λ) of one row of length `n` from Σθ² of the row before the update.
#[inline(always)]
fn row_eta<F: Float>(sum_sq: f64, n: usize, s: RowScalars) -> (F, F) {
    let rms = (sum_sq / n as f64).sqrt().max(s.rms_floor);
    let eta = s.alpha * rms;
    (F::from_f64(eta), F::from_f64(1.0 - eta * s.lambda))
}

#[inline(always)]
fn row_update<F: Float>(th: &mut [F], m: &[F], eta: F, d: F) {
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
