//! CPU GEMM. f32 on an x86-64 host with AVX2 + FMA and no AVX-512: our own BLIS-style kernel
//! (`sgemm_avx2`), except deep products with an untransposed `X` (`k ≥ 4n`), where faer 0.24
//! measured faster. Everything else (f64, AVX-512 hosts, other targets): faer 0.24 for most
//! products, the `gemm` 0.19 crate for large ones with `op(X) = Xᵀ` or a wide output (`n ≥ 4m`)
//! on a host without AVX-512. `docs/cpu-matmul.md` has the measurements behind the split.
//!
//! All three take strided views (ours packs through any strides), so the row-major slices are
//! used in place and the transposes are free: nothing is copied.
//!
//! Why not faer alone: faer 0.24 hands x86 products to `private-gemm-x86`, which writes a
//! row-major `C` as the column-major `Cᵀ = op(Y)ᵀ·op(X)ᵀ` and does not pack its right operand
//! `op(X)ᵀ` (except for tall products). With `tx` that operand is row-major, its micro-kernel
//! strides through memory, and on the AVX2 development VM it ran at 50–72 % of numpy's OpenBLAS.
//! The `gemm` crate packs both operands (84–100 % on the same `tx` products) and also led on wide
//! outputs; our kernel packs both too and reached 80–100 % of numpy on every measured f32 layout,
//! ahead of both libraries except on the deep `512×3200×768` products. On AVX-512 hosts faer
//! keeps every product (its AVX-512 kernels; neither alternative was measured there).

use super::plan::GemmPlan;
use crate::Float;
use faer::traits::ComplexField;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Products with at least this many multiply-adds run in parallel inside (rayon's pool);
/// smaller ones run sequentially, several batch entries at once on rayon's pool. Also the
/// size from which products may go to the `gemm` crate (smaller ones were not measured;
/// faer's small-product kernels take them). Our f32 kernel takes every size: on 64³–128³ it
/// matched faer's small-product kernels.
const PAR_INNER_MIN_MACS: usize = 1 << 21;

fn view<F: Float>(data: &[F], rows: usize, cols: usize, trans: bool) -> MatRef<'_, F> {
    let v = MatRef::from_row_major_slice(data, rows, cols);
    if trans { v.transpose() } else { v }
}

/// Whether this host runs faer's AVX-512 kernels (then faer takes every layout).
fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `C = op(X)·op(Y)` (`Replace`) or `C += op(X)·op(Y)` (`Add`) through faer.
fn gemm_faer<F: Float + ComplexField>(
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
    let cv = MatMut::from_row_major_slice_mut(&mut c[..p.m * p.n], p.m, p.n);
    faer::linalg::matmul::matmul(cv, accum, xv, yv, F::one(), par);
    // faer's x86 kernels leave the AVX upper halves dirty (see `clear_upper_avx_state`).
    match par {
        Par::Seq => crate::cpu_math::clear_upper_avx_state(),
        Par::Rayon(_) => crate::cpu_math::clear_upper_avx_state_everywhere(),
    }
}

/// The same product through the `gemm` crate (`dst := α·dst + β·lhs·rhs`, strides in
/// elements, column stride first).
fn gemm_crate<F: Float>(p: &GemmPlan, x: &[F], y: &[F], c: &mut [F], accum: Accum, par: Par) {
    let (xr, xc) = p.x_stored();
    let (yr, yc) = p.y_stored();
    let (x, y, c) = (&x[..xr * xc], &y[..yr * yc], &mut c[..p.m * p.n]);
    // Row and column strides of op(X) (m×k), op(Y) (k×n) and C (m×n), all row-major storage.
    let (x_rs, x_cs) = if p.tx { (1, p.m) } else { (p.k, 1) };
    let (y_rs, y_cs) = if p.ty { (1, p.k) } else { (p.n, 1) };
    let add = accum == Accum::Add;
    let threads = match par {
        Par::Seq => gemm::Parallelism::None,
        Par::Rayon(n) => gemm::Parallelism::Rayon(n.get()),
    };
    // SAFETY: the three slices hold exactly the elements the strides address (X: k×m or m×k,
    // Y: n×k or k×n, C: m×n), `c` is exclusively borrowed and does not alias `x` or `y`, and
    // `F` is f32 or f64 (`Float` is implemented for nothing else), the types `gemm` accepts.
    unsafe {
        gemm::gemm(
            p.m,
            p.n,
            p.k,
            c.as_mut_ptr(),
            1,
            p.n as isize,
            add,
            x.as_ptr(),
            x_cs as isize,
            x_rs as isize,
            y.as_ptr(),
            y_cs as isize,
            y_rs as isize,
            if add { F::one() } else { F::zero() },
            F::one(),
            false,
            false,
            false,
            threads,
        );
    }
}

/// The element types of the CPU GEMM, and whether one has a kernel of our own on this host.
pub(super) trait GemmScalar: Float + ComplexField {
    /// Runs one product of `p` (`C = op(X)·op(Y)`, or `+=` with `Accum::Add`) through our own
    /// kernel and returns `true`, or returns `false` when this type and host have none.
    fn own_gemm(
        _p: &GemmPlan,
        _x: &[Self],
        _y: &[Self],
        _c: &mut [Self],
        _a: Accum,
        _par: Par,
    ) -> bool {
        false
    }
}

impl GemmScalar for f64 {}

impl GemmScalar for f32 {
    fn own_gemm(p: &GemmPlan, x: &[f32], y: &[f32], c: &mut [f32], accum: Accum, par: Par) -> bool {
        #[cfg(target_arch = "x86_64")]
        if !has_avx512()
            && let Some(cpu) = super::sgemm_avx2::Avx2Fma::detect()
        {
            use super::sgemm_avx2::{Strided, sgemm};
            let xs = Strided::op(&x[..p.m * p.k], p.m, p.k, p.tx);
            let ys = Strided::op(&y[..p.k * p.n], p.k, p.n, p.ty);
            sgemm(
                cpu,
                xs,
                ys,
                &mut c[..p.m * p.n],
                accum == Accum::Add,
                par != Par::Seq,
            );
            return true;
        }
        false
    }
}

/// One product of the plan on the kernel measured fastest for its type and layout (module docs).
fn gemm_one<F: GemmScalar>(p: &GemmPlan, x: &[F], y: &[F], c: &mut [F], accum: Accum, par: Par) {
    // faer led (by 5–10 %) on deep products with an untransposed `X`, e.g. `512×3200×768`.
    let faer_leads = !p.tx && p.k >= 4 * p.n;
    if !faer_leads && F::own_gemm(p, x, y, c, accum, par) {
        return;
    }
    let large = p.m * p.n * p.k >= PAR_INNER_MIN_MACS;
    if large && (p.tx || p.n >= 4 * p.m) && !has_avx512() {
        gemm_crate(p, x, y, c, accum, par);
    } else {
        gemm_faer(p, x, y, c, accum, par);
    }
}

/// Runs the plan into `c` (`p.out_len()` elements, overwritten).
pub fn gemm<F: GemmScalar>(p: &GemmPlan, x: &[F], y: &[F], c: &mut [F]) {
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
