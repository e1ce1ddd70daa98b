//! Small dense helpers shared by the fused core's tiles. Every inner loop is an axpy over a
//! contiguous row (`out[..] += a·row[..]`), which the compiler vectorises without reassociating
//! a reduction.

use kernels::Float;

/// `dst[k·nc + c] = src[(j0 + c)·w + k]` for `c < nc`, `k < w`: rows `j0 … j0+nc−1` of the
/// `[·, w]` matrix `src`, transposed into `dst [w × nc]`.
pub(crate) fn transpose_rows<F: Float>(src: &[F], w: usize, j0: usize, nc: usize, dst: &mut [F]) {
    for c in 0..nc {
        let row = &src[(j0 + c) * w..(j0 + c + 1) * w];
        for (k, &x) in row.iter().enumerate() {
            dst[k * nc + c] = x;
        }
    }
}

/// `out [nr × nc] = a [nr × w] · bt [w × nc]`.
pub(crate) fn block_product<F: Float>(a: &[F], w: usize, bt: &[F], nc: usize, out: &mut [F]) {
    for (o, ar) in out.chunks_exact_mut(nc).zip(a.chunks_exact(w)) {
        o.fill(F::zero());
        for (k, &av) in ar.iter().enumerate() {
            if av == F::zero() {
                continue;
            }
            for (oc, &bv) in o.iter_mut().zip(&bt[k * nc..(k + 1) * nc]) {
                *oc += av * bv;
            }
        }
    }
}

/// `out [w] += Σ_c coef[c] · m[(j0 + c)·w ..][..w]`: a weighted sum of rows `j0…` of `m`.
pub(crate) fn add_weighted_rows<F: Float>(coef: &[F], m: &[F], w: usize, j0: usize, out: &mut [F]) {
    for (c, &p) in coef.iter().enumerate() {
        if p == F::zero() {
            continue;
        }
        let row = &m[(j0 + c) * w..(j0 + c + 1) * w];
        for (o, &x) in out.iter_mut().zip(row) {
            *o += p * x;
        }
    }
}
