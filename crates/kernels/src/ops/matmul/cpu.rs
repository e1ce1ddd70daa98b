//! CPU GEMM through faer 0.24 (pure Rust, AVX2/AVX-512 kernels chosen at run time); see
//! `docs/cpu-matmul.md` for the measurements that picked it over `matrixmultiply`.
//!
//! faer views carry strides, so the row-major slices become `MatRef`s with no copy and the
//! transposes are free (`.transpose()` swaps the strides).

use super::plan::GemmPlan;
use crate::Float;
use faer::traits::ComplexField;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Products with at least this many multiply-adds use faer's own rayon parallelism; smaller
/// ones run sequentially, several batch entries at once on rayon's pool.
const PAR_INNER_MIN_MACS: usize = 1 << 21;

fn view<F: Float>(data: &[F], rows: usize, cols: usize, trans: bool) -> MatRef<'_, F> {
    let v = MatRef::from_row_major_slice(data, rows, cols);
    if trans { v.transpose() } else { v }
}

fn gemm_one<F: Float + ComplexField>(
    p: &GemmPlan,
    x: &[F],
    y: &[F],
    c: &mut [F],
    accum: Accum,
    par: Par,
) {
    let (xr, xc) = p.x_stored();
    let (yr, yc) = p.y_stored();
    let xv = view(&x[..xr * xc], xr, xc, p.tx);
    let yv = view(&y[..yr * yc], yr, yc, p.ty);
    let cv = MatMut::from_row_major_slice_mut(c, p.m, p.n);
    faer::linalg::matmul::matmul(cv, accum, xv, yv, F::one(), par);
}

/// Runs the plan into `c` (`p.out_len()` elements, overwritten).
pub fn gemm<F: Float + ComplexField>(p: &GemmPlan, x: &[F], y: &[F], c: &mut [F]) {
    let mn = p.m * p.n;
    if mn == 0 {
        return;
    }
    if p.k == 0 || p.batch == 0 {
        c.fill(F::zero());
        return;
    }
    let macs = p.m * p.n * p.k;
    let inner = if macs >= PAR_INNER_MIN_MACS {
        Par::rayon(0)
    } else {
        Par::Seq
    };
    let xs = |i: usize| &x[i * p.stride_x..];
    let ys = |i: usize| &y[i * p.stride_y..];
    if p.sum_batches {
        // Σ_i C_i: accumulate in order (deterministic), each product parallel inside.
        for i in 0..p.batch {
            let accum = if i == 0 { Accum::Replace } else { Accum::Add };
            gemm_one(p, xs(i), ys(i), c, accum, inner);
        }
    } else if inner == Par::Seq && p.batch > 1 {
        c.par_chunks_mut(mn)
            .enumerate()
            .for_each(|(i, ci)| gemm_one(p, xs(i), ys(i), ci, Accum::Replace, Par::Seq));
    } else {
        for (i, ci) in c.chunks_mut(mn).enumerate() {
            gemm_one(p, xs(i), ys(i), ci, Accum::Replace, inner);
        }
    }
}
