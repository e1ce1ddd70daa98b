//! Rayon kernels, generic over f32/f64: one reducer plugged into a row loop (`inner == 1`,
//! contiguous) and a column loop (`inner > 1`, accumulators across `inner`).
//!
//! Sums accumulate in f64 for both dtypes; rows use 8 independent lanes (vectorisable), merged
//! in a fixed order, and rows longer than [`SPLIT`] are cut into [`CHUNK`]s reduced in
//! parallel whose partial results are merged in order, so results never depend on scheduling.

use super::{AxisView, Kind};
use crate::Float;
use crate::cpu_math::alloc_output;
use crate::cpu_util::CHUNK;
use rayon::prelude::*;

/// Rows at least this long are split across threads.
const SPLIT: usize = 4 * CHUNK;
/// Columns handled by one task in the column loop.
const COLS: usize = 256;
const LANES: usize = 8;

trait Reducer<F: Float>: Sync {
    type Acc: Copy + Send + Sync;
    fn init(&self) -> Self::Acc;
    fn step(&self, acc: Self::Acc, x: F) -> Self::Acc;
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
    fn finish(&self, acc: Self::Acc, len: usize) -> F;
}

/// The f64-accumulated sums: `Σ x` (`SQUARE = false`) or `Σ x²` (`SQUARE = true`), divided by
/// the length when `DIVIDE`. The flags are constants, so each use compiles to its own loop.
struct F64Sum<const SQUARE: bool, const DIVIDE: bool>;
const SUM: F64Sum<false, false> = F64Sum;
const MEAN: F64Sum<false, true> = F64Sum;
const SUM_SQ: F64Sum<true, false> = F64Sum;

impl<F: Float, const SQUARE: bool, const DIVIDE: bool> Reducer<F> for F64Sum<SQUARE, DIVIDE> {
    type Acc = f64;
    #[inline(always)]
    fn init(&self) -> f64 {
        0.0
    }
    #[inline(always)]
    fn step(&self, acc: f64, x: F) -> f64 {
        let x = x.to_f64();
        acc + if SQUARE { x * x } else { x }
    }
    #[inline(always)]
    fn merge(&self, a: f64, b: f64) -> f64 {
        a + b
    }
    #[inline(always)]
    fn finish(&self, acc: f64, len: usize) -> F {
        F::from_f64(if DIVIDE { acc / len as f64 } else { acc })
    }
}

struct MaxAbs;
impl<F: Float> Reducer<F> for MaxAbs {
    type Acc = F;
    #[inline(always)]
    fn init(&self) -> F {
        F::zero()
    }
    /// NaN sticks: once `acc` is NaN no comparison replaces it, and a NaN `x` replaces `acc`.
    #[inline(always)]
    fn step(&self, acc: F, x: F) -> F {
        let a = x.abs();
        if a > acc || a.is_nan() { a } else { acc }
    }
    #[inline(always)]
    fn merge(&self, a: F, b: F) -> F {
        if b > a || b.is_nan() { b } else { a }
    }
    #[inline(always)]
    fn finish(&self, acc: F, _len: usize) -> F {
        acc
    }
}

struct CountNonfinite;
impl<F: Float> Reducer<F> for CountNonfinite {
    type Acc = u64;
    #[inline(always)]
    fn init(&self) -> u64 {
        0
    }
    #[inline(always)]
    fn step(&self, acc: u64, x: F) -> u64 {
        acc + (!x.is_finite()) as u64
    }
    #[inline(always)]
    fn merge(&self, a: u64, b: u64) -> u64 {
        a + b
    }
    #[inline(always)]
    fn finish(&self, acc: u64, _len: usize) -> F {
        F::from_f64(acc as f64)
    }
}

/// One contiguous run, 8 lanes at a time.
#[inline(always)]
fn fold_run<F: Float, R: Reducer<F>>(r: &R, run: &[F]) -> R::Acc {
    let mut lanes = [r.init(); LANES];
    let mut chunks = run.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            lanes[j] = r.step(lanes[j], c[j]);
        }
    }
    let mut acc = lanes.into_iter().fold(r.init(), |a, b| r.merge(a, b));
    for &x in chunks.remainder() {
        acc = r.step(acc, x);
    }
    acc
}

fn reduce_row<F: Float, R: Reducer<F>>(r: &R, row: &[F]) -> R::Acc {
    if row.len() < SPLIT {
        return fold_run(r, row);
    }
    let parts: Vec<R::Acc> = row.par_chunks(CHUNK).map(|c| fold_run(r, c)).collect();
    parts.into_iter().fold(r.init(), |a, b| r.merge(a, b))
}

fn run<F: Float, R: Reducer<F>>(r: &R, x: &[F], v: AxisView) -> Vec<F> {
    let mut out = alloc_output::<F>(v.outer * v.inner);
    if out.is_empty() {
        return out;
    }
    if v.inner == 1 {
        out.par_iter_mut().enumerate().for_each(|(o, y)| {
            let row = &x[o * v.len..(o + 1) * v.len];
            *y = r.finish(reduce_row(r, row), v.len);
        });
    } else {
        out.par_chunks_mut(v.inner)
            .enumerate()
            .for_each(|(o, orow)| {
                let block = &x[o * v.len * v.inner..(o + 1) * v.len * v.inner];
                orow.par_chunks_mut(COLS).enumerate().for_each(|(b, ys)| {
                    let i0 = b * COLS;
                    let mut acc = [r.init(); COLS];
                    let acc = &mut acc[..ys.len()];
                    for a in 0..v.len {
                        let xs = &block[a * v.inner + i0..a * v.inner + i0 + ys.len()];
                        for (c, &x) in acc.iter_mut().zip(xs) {
                            *c = r.step(*c, x);
                        }
                    }
                    for (y, &c) in ys.iter_mut().zip(acc.iter()) {
                        *y = r.finish(c, v.len);
                    }
                });
            });
    }
    out
}

pub(super) fn reduce<F: Float>(x: &[F], v: AxisView, kind: Kind) -> Vec<F> {
    match kind {
        Kind::Sum => run(&SUM, x, v),
        Kind::Mean => run(&MEAN, x, v),
        Kind::SumSq => run(&SUM_SQ, x, v),
        Kind::MaxAbs => run(&MaxAbs, x, v),
        Kind::CountNonfinite => run(&CountNonfinite, x, v),
    }
}

/// `dx[o, a, i] = scale·dy[o, i]`, or `scale·x[o, a, i]·dy[o, i]` when `x` is given.
pub(super) fn broadcast<F: Float>(dy: &[F], x: Option<&[F]>, v: AxisView, scale: f64) -> Vec<F> {
    let s = F::from_f64(scale);
    let mut dx = alloc_output::<F>(v.outer * v.len * v.inner);
    if dx.is_empty() {
        return dx;
    }
    // One task per (o, a) row of `inner` elements, grouped so that tasks stay near CHUNK.
    let rows_per_task = (CHUNK / v.inner.max(1)).max(1);
    dx.par_chunks_mut(v.inner * rows_per_task)
        .enumerate()
        .for_each(|(t, rows)| {
            for (k, row) in rows.chunks_mut(v.inner).enumerate() {
                let oa = t * rows_per_task + k;
                let o = oa / v.len;
                let g = &dy[o * v.inner..(o + 1) * v.inner];
                match x {
                    None => row.iter_mut().zip(g).for_each(|(d, &g)| *d = s * g),
                    Some(x) => {
                        let xr = &x[oa * v.inner..(oa + 1) * v.inner];
                        for ((d, &g), &xv) in row.iter_mut().zip(g).zip(xr) {
                            *d = s * xv * g;
                        }
                    }
                }
            }
        });
    dx
}
