//! Small rayon helpers shared by the CPU kernels.

use rayon::prelude::*;

/// Elements per rayon task for streaming loops: large enough to amortise scheduling, small
/// enough to balance two to sixty-four threads.
pub const CHUNK: usize = 1 << 14;

/// `out[i] = f(x[i])`, in parallel chunks; the inner loop is plain so that it vectorises.
pub fn map_unary<F: Copy + Send + Sync + Default>(x: &[F], f: impl Fn(F) -> F + Sync) -> Vec<F> {
    let mut out = vec![F::default(); x.len()];
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(o, x)| {
            for (o, &x) in o.iter_mut().zip(x) {
                *o = f(x);
            }
        });
    out
}

/// `out[i] = f(a[i], b[i])`, in parallel chunks.
pub fn map_binary<F: Copy + Send + Sync + Default>(
    a: &[F],
    b: &[F],
    f: impl Fn(F, F) -> F + Sync,
) -> Vec<F> {
    let mut out = vec![F::default(); a.len()];
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
        .for_each(|(o, (a, b))| {
            for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                *o = f(a, b);
            }
        });
    out
}
