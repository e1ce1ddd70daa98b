//! cuBLAS launcher. cuBLAS is column-major: a row-major `m×n` matrix is its column-major
//! transpose, so the row-major `C = op(X)·op(Y)` is computed as the column-major
//! `Cᵀ = op(Y)ᵀ·op(X)ᵀ` with the operands swapped and no data moved.

use super::plan::GemmPlan;
use crate::{CudaStorage, Error, Result};
use cudarc::cublas::sys::cublasOperation_t::{CUBLAS_OP_N, CUBLAS_OP_T};
use cudarc::cublas::{Gemm, GemmConfig, StridedBatchedConfig};

fn int(op: &'static str, v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::Unsupported {
        op,
        reason: format!("dimension {v} exceeds cuBLAS's 32-bit sizes"),
    })
}

/// Runs the plan on the GPU; returns the `p.out_len()` output values.
pub fn gemm(
    op: &'static str,
    p: &GemmPlan,
    x: &CudaStorage,
    y: &CudaStorage,
) -> Result<CudaStorage> {
    let dev = &x.device;
    let mut c = dev.zeros(p.out_len())?;
    if p.out_len() == 0 || p.k == 0 || p.batch == 0 {
        return Ok(c);
    }
    let blas = dev.blas()?;
    let cm = p.column_major();
    let trans = |t: bool| if t { CUBLAS_OP_T } else { CUBLAS_OP_N };
    let cfg = |beta: f32| -> Result<GemmConfig<f32>> {
        Ok(GemmConfig {
            transa: trans(cm.trans_a),
            transb: trans(cm.trans_b),
            m: int(op, cm.m)?,
            n: int(op, cm.n)?,
            k: int(op, cm.k)?,
            alpha: 1.0,
            lda: int(op, cm.lda)?,
            ldb: int(op, cm.ldb)?,
            beta,
            ldc: int(op, cm.ldc)?,
        })
    };
    let cublas_err = |e: cudarc::cublas::result::CublasError| Error::Cublas {
        op,
        message: format!("{e:?}"),
    };
    if p.sum_batches && p.batch > 1 {
        // Σ_i C_i with beta = 1 after the first product (the plan could not fold the batch).
        for i in 0..p.batch {
            let xv = x.slice.slice(i * cm.stride_b..);
            let yv = y.slice.slice(i * cm.stride_a..);
            let beta = if i == 0 { 0.0 } else { 1.0 };
            // SAFETY: X_i, Y_i lie inside x and y (the plan's strides and stored shapes come
            // from the checked tensor shapes) and C holds m·n values.
            unsafe { blas.gemm(cfg(beta)?, &yv, &xv, &mut c.slice) }.map_err(cublas_err)?;
        }
    } else {
        let batched = StridedBatchedConfig {
            gemm: cfg(0.0)?,
            batch_size: int(op, p.batch)?,
            stride_a: cm.stride_a as i64,
            stride_b: cm.stride_b as i64,
            stride_c: cm.stride_c as i64,
        };
        // SAFETY: as above, for every batch entry; a stride of 0 re-reads the shared operand.
        unsafe { blas.gemm_strided_batched(batched, &y.slice, &x.slice, &mut c.slice) }
            .map_err(cublas_err)?;
    }
    Ok(c)
}
