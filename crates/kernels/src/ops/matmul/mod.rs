//! Batched matrix multiplication with optional transposes, and its backward.
//!
//! `C_i = op(A_i) · op(B_i)` for every batch index `i`, where `op(M)` is `M` or `Mᵀ`. Row-major
//! throughout. The CPU path is our own AVX2+FMA f32 GEMM (`sgemm_avx2`) on hosts that have it,
//! faer or the `gemm` crate otherwise (see `cpu.rs` and `docs/cpu-matmul.md`), the CUDA path
//! cuBLAS `sgemm_strided_batched`.
//!
//! ```
//! use kernels::{Tensor, ops::matmul::matmul};
//! // x[B=2, T=1, d=2] · W[d=2, out=3]: W is shared by the batch (the Linear case).
//! let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 1, 2])?;
//! let w = Tensor::from_vec(vec![1.0f32, 0.0, 1.0, 0.0, 1.0, 1.0], &[2, 3])?;
//! let y = matmul(&x, &w, false, false)?;
//! assert_eq!(y.shape(), &[2, 1, 3]);
//! assert_eq!(y.to_vec::<f32>()?, vec![1.0, 2.0, 3.0, 3.0, 4.0, 7.0]);
//! # Ok::<(), kernels::Error>(())
//! ```

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod plan;
mod reference;
#[cfg(target_arch = "x86_64")]
mod sgemm_avx2;
#[cfg(test)]
mod tests;

pub use reference::{MatmulDims, matmul_backward_ref, matmul_forward_ref};

use crate::{Error, Result, Tensor};
use plan::GemmPlan;

/// Reads the sizes of `op(a)·op(b)` from the shapes, or says what is wrong with them.
fn dims(op: &'static str, a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Result<MatmulDims> {
    a.expect_same_kind(op, b)?;
    let (sa, sb) = (a.shape(), b.shape());
    if sa.len() < 2 {
        return Err(Error::invalid_shape(
            op,
            sa,
            "a must have at least 2 dims [.., m, k]",
        ));
    }
    if sb.len() < 2 {
        return Err(Error::invalid_shape(
            op,
            sb,
            "b must have at least 2 dims [.., k, n]",
        ));
    }
    let (ra, ca) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (rb, cb) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    let (m, k) = if ta { (ca, ra) } else { (ra, ca) };
    let (kb, n) = if tb { (cb, rb) } else { (rb, cb) };
    let batch_dims = &sa[..sa.len() - 2];
    let broadcast_b = sb.len() == 2 && sa.len() > 2;
    let mut expected_b: Vec<usize> = if broadcast_b {
        Vec::new()
    } else {
        batch_dims.to_vec()
    };
    expected_b.extend(if tb { [n, k] } else { [k, n] });
    if kb != k || (!broadcast_b && sb[..sb.len() - 2] != *batch_dims) {
        return Err(Error::shape(op, &expected_b, sb));
    }
    Ok(MatmulDims {
        batch: batch_dims.iter().product(),
        m,
        k,
        n,
        trans_a: ta,
        trans_b: tb,
        broadcast_b,
    })
}

/// The GEMM of the forward pass: `X = a` (batched), `Y = b` (shared when broadcast).
pub(crate) fn forward_plan(d: &MatmulDims) -> GemmPlan {
    let (ta, tb) = (d.trans_a, d.trans_b);
    GemmPlan::new(d.batch, d.m, d.n, d.k, ta, tb, true, !d.broadcast_b, false)
}

/// Which tensors are `(X, Y)` of a backward GEMM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operands {
    DyB,
    BDy,
    ADy,
    DyA,
}

/// The GEMMs of the backward pass, `[da, db]` (the table of [`matmul_backward`]); `db` is
/// summed over the batch when `b` is shared.
pub(crate) fn backward_plans(d: &MatmulDims) -> [(Operands, GemmPlan); 2] {
    let (m, n, k, bb, sum) = (d.m, d.n, d.k, !d.broadcast_b, d.broadcast_b);
    let plan =
        |mm, nn, kk, tx, ty, xb, yb, s| GemmPlan::new(d.batch, mm, nn, kk, tx, ty, xb, yb, s);
    use Operands::*;
    match (d.trans_a, d.trans_b) {
        (false, false) => [
            (DyB, plan(m, k, n, false, true, true, bb, false)),
            (ADy, plan(k, n, m, true, false, true, true, sum)),
        ],
        (false, true) => [
            (DyB, plan(m, k, n, false, false, true, bb, false)),
            (DyA, plan(n, k, m, true, false, true, true, sum)),
        ],
        (true, false) => [
            (BDy, plan(k, m, n, false, true, bb, true, false)),
            (ADy, plan(k, n, m, false, false, true, true, sum)),
        ],
        (true, true) => [
            (BDy, plan(k, m, n, true, true, bb, true, false)),
            (DyA, plan(n, k, m, true, true, true, true, sum)),
        ],
    }
}

/// Runs one batched GEMM on the operands' device.
fn run(op: &'static str, x: &Tensor, y: &Tensor, p: GemmPlan, shape: &[usize]) -> Result<Tensor> {
    dispatch2!(
        op,
        x,
        y,
        |xv, yv| {
            // Huge pages for large outputs: a fresh 10 MB output otherwise costs ~2500 page
            // faults per call, measured as 20 % of a 768×512×3200 product on 2 threads.
            let mut c = crate::cpu_math::alloc_output(p.out_len());
            cpu::gemm(&p, xv, yv, &mut c);
            Tensor::from_vec(c, shape)
        },
        |cx, cy| cuda::gemm(op, &p, cx, cy).and_then(|s| Tensor::from_cuda(s, shape))
    )
}

/// `y = op(a)·op(b)`, batched.
///
/// - `a`: `[..batch, m, k]`, or `[..batch, k, m]` when `trans_a` (`op(a) = aᵀ` per batch entry);
/// - `b`: `[..batch, k, n]` (`[..batch, n, k]` when `trans_b`) with the same batch dims, or
///   2-D `[k, n]` (`[n, k]`) shared by every batch entry (the Linear case `x[B,T,d]·W[d,out]`);
/// - output: `[..batch, m, n]`, `y_i[r, c] = Σ_j op(a_i)[r, j]·op(b_i)[j, c]`.
///
/// Shapes that do not fit return [`Error::InvalidShape`] (rank below 2) or
/// [`Error::ShapeMismatch`] (contraction or batch dims differ; `expected` is the `b` shape
/// that would fit), mixed dtypes or devices their own typed errors.
pub fn matmul(a: &Tensor, b: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor> {
    let d = dims("matmul", a, b, trans_a, trans_b)?;
    let p = forward_plan(&d);
    let mut shape = a.shape()[..a.shape().len() - 2].to_vec();
    shape.extend([d.m, d.n]);
    run("matmul", a, b, p, &shape)
}

/// Gradients of `y = op(a)·op(b)` for the cotangent `dy` (shaped like `y`): `(da, db)` shaped
/// like `a` and `b`.
///
/// With `G = dy_i`, `d op(a_i) = G·op(b_i)ᵀ` and `d op(b_i) = op(a_i)ᵀ·G`; undoing the
/// transposes gives, per batch entry,
///
/// | `trans_a`, `trans_b` | `da`      | `db`      |
/// | ---                  | ---       | ---       |
/// | no, no               | `G·bᵀ`    | `aᵀ·G`    |
/// | no, yes              | `G·b`     | `Gᵀ·a`    |
/// | yes, no              | `b·Gᵀ`    | `a·G`     |
/// | yes, yes             | `bᵀ·Gᵀ`   | `Gᵀ·aᵀ`   |
///
/// When `b` is 2-D and shared by the batch, `db = Σ_i` of the per-entry terms; without
/// `trans_a` that sum is one GEMM over the stacked `(batch·m)` rows (`aᵀ·G` with `a` seen as
/// `[batch·m, k]`), with `trans_a` a loop accumulating one product per batch entry.
pub fn matmul_backward(
    a: &Tensor,
    b: &Tensor,
    dy: &Tensor,
    trans_a: bool,
    trans_b: bool,
) -> Result<(Tensor, Tensor)> {
    let op = "matmul_backward";
    let d = dims(op, a, b, trans_a, trans_b)?;
    a.expect_same_kind(op, dy)?;
    let mut y_shape = a.shape()[..a.shape().len() - 2].to_vec();
    y_shape.extend([d.m, d.n]);
    dy.expect_shape(op, &y_shape)?;
    let pick = |o: Operands| match o {
        Operands::DyB => (dy, b),
        Operands::BDy => (b, dy),
        Operands::ADy => (a, dy),
        Operands::DyA => (dy, a),
    };
    let [(oa, pa), (ob, pb)] = backward_plans(&d);
    let (x, y) = pick(oa);
    let da = run(op, x, y, pa, a.shape())?;
    let (x, y) = pick(ob);
    let db = run(op, x, y, pb, b.shape())?;
    Ok((da, db))
}
