//! Fused rayon kernels, generic over f32/f64: one pass per tensor reading θ, g, m and writing
//! θ, m. Work is cut into chunks of [`CHUNK`] elements across *all* tensors of a step, so that
//! many small tensors share one parallel launch. Inner loops are branch-free so that they
//! vectorise; on x86-64 a copy compiled for AVX2 is picked at run time (no FMA contraction, so
//! both copies give bit-identical results).

pub mod adamw;
pub mod lion;
mod simd;
pub mod tiger;

use kernels::{DType, Float};
use rayon::prelude::*;

/// Elements per rayon task (64 KiB of f32: each of θ, g, m stays in L2 while a chunk is worked).
pub const CHUNK: usize = 1 << 14;

/// sign(x) with sign(0) = 0 and sign(NaN) = NaN, branch-free.
#[inline(always)]
pub(crate) fn sign<F: Float>(x: F) -> F {
    let z = F::zero();
    let pos = if x > z { F::one() } else { z };
    let neg = if x < z { F::one() } else { z };
    if x.is_nan() { x } else { pos - neg }
}

/// Runs `f` compiled for AVX2 when the CPU has it, else the portable build.
#[inline(always)]
pub(crate) fn with_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// Σ x² in f64 with 8 independent lanes (lane j takes elements j, j + 8, …; the tail goes to
/// lanes 0, 1, …), folded in a fixed order, so deterministic.
#[inline(always)]
pub(crate) fn sum_sq<F: Float>(x: &[F]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut it = x.chunks_exact(8);
    for c in &mut it {
        for j in 0..8 {
            let v = Float::to_f64(c[j]);
            acc[j] += v * v;
        }
    }
    for (j, v) in it.remainder().iter().enumerate() {
        let v = Float::to_f64(*v);
        acc[j] += v * v;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// `x` as `&[f32]` when `F` is f32.
#[inline(always)]
pub(crate) fn as_f32<F: Float>(x: &[F]) -> Option<&[f32]> {
    // SAFETY: F is f32 (checked), so the slice is a slice of f32.
    (F::DTYPE == DType::F32)
        .then(|| unsafe { std::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) })
}

/// `x` as `&mut [f32]` when `F` is f32.
#[inline(always)]
pub(crate) fn as_f32_mut<F: Float>(x: &mut [F]) -> Option<&mut [f32]> {
    // SAFETY: F is f32 (checked), so the slice is a slice of f32.
    (F::DTYPE == DType::F32)
        .then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr() as *mut f32, x.len()) })
}

/// Whether the hand-written AVX2 loops ([`simd`]) can run (detected at run time).
#[inline(always)]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`sum_sq`] at the best SIMD level: hand-written AVX2 for f32 (LLVM widens f32 → f64 two
/// lanes at a time), the AVX2-compiled generic loop for f64. Same lanes, same order, no FMA,
/// so the value is bit-identical to [`sum_sq`].
#[inline(always)]
pub(crate) fn sum_sq_simd<F: Float>(x: &[F]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        fn avx2<F: Float>(x: &[F]) -> f64 {
            sum_sq(x)
        }
        if has_avx2() {
            if let Some(x) = as_f32(x) {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { simd::sum_sq_f32(x) };
            }
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { avx2(x) };
        }
    }
    sum_sq(x)
}

/// Σ θ² over a whole tensor with the fixed chunking of the kernels (the same value the fused
/// Tiger pass leaves for the next step, whatever the thread count).
pub fn tensor_sum_sq<F: Float>(x: &[F]) -> f64 {
    let parts: Vec<f64> = x.par_chunks(CHUNK).map(sum_sq_simd).collect();
    parts.iter().sum()
}

/// What a cached Σθ² was computed from: the buffer's address and length, and the bits of a
/// few sampled elements (first, one third, two thirds, last). A cached Σθ² is used only while
/// the tensor still carries the same stamp, so replacing a parameter's tensor, loading
/// weights into it, re-initialising or rescaling it all force a fresh Σθ² (one read of θ).
/// A sparse in-place edit that misses the samples is not detected: call
/// `Optimizer::invalidate_rms_cache` after one. CUDA tensors are stamped by address only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThetaStamp {
    addr: usize,
    len: usize,
    samples: [u64; 4],
}

impl ThetaStamp {
    /// The stamp of a host tensor (four random reads).
    pub fn of<F: Float>(x: &[F]) -> ThetaStamp {
        let n = x.len();
        let at = |i: usize| x.get(i).map_or(0, |v| Float::to_f64(*v).to_bits());
        ThetaStamp {
            addr: x.as_ptr() as usize,
            len: n,
            samples: [at(0), at(n / 3), at(2 * n / 3), at(n.saturating_sub(1))],
        }
    }

    /// The stamp of a device buffer: address and length only.
    pub fn device(addr: u64, len: usize) -> ThetaStamp {
        ThetaStamp {
            addr: addr as usize,
            len,
            samples: [0; 4],
        }
    }
}

/// Σθ² of a tensor's current θ and the [`ThetaStamp`] of the θ it was computed from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CachedSumSq {
    pub value: f64,
    pub stamp: ThetaStamp,
}

/// The cached Σθ² when `stamp` still matches, else a fresh [`tensor_sum_sq`]-style value from
/// `fresh`.
pub(crate) fn cached_or(
    c: Option<CachedSumSq>,
    stamp: ThetaStamp,
    fresh: impl FnOnce() -> f64,
) -> f64 {
    match c {
        Some(c) if c.stamp == stamp => c.value,
        _ => fresh(),
    }
}

/// Per gradient tensor: Σg² (f64, fixed chunk order) and whether it holds a NaN / any
/// non-finite value, from one parallel read of every gradient.
pub fn grad_stats<F: Float>(gs: &[&[F]]) -> Vec<(f64, bool, bool)> {
    let pieces: Vec<(usize, &[F])> = gs
        .iter()
        .enumerate()
        .flat_map(|(id, g)| g.chunks(CHUNK).map(move |c| (id, c)))
        .collect();
    let parts: Vec<(usize, f64, bool, bool)> = pieces
        .into_par_iter()
        .map(|(id, c)| {
            let nan = with_simd(|| chunk_has_bad(c, BadValues::Nan));
            let bad = with_simd(|| chunk_has_bad(c, BadValues::NonFinite));
            (id, sum_sq_simd(c), nan, bad)
        })
        .collect();
    let mut out = vec![(0.0, false, false); gs.len()];
    for (id, ss, nan, bad) in parts {
        out[id].0 += ss;
        out[id].1 |= nan;
        out[id].2 |= bad;
    }
    out
}

/// Which values count as bad for a guard test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadValues {
    NonFinite,
    Nan,
}

/// True when `g` holds a NaN (or, for `NonFinite`, also ±Inf). One vectorised read of g.
pub fn has_bad<F: Float>(g: &[F], what: BadValues) -> bool {
    g.par_chunks(CHUNK)
        .any(|c| with_simd(|| chunk_has_bad(c, what)))
}

/// Per slice of `gs`: whether it holds a bad value ([`has_bad`] for many tensors in one parallel
/// launch, chunk by chunk).
pub fn bad_flags<F: Float>(gs: &[&[F]], what: BadValues) -> Vec<bool> {
    let pieces: Vec<(usize, &[F])> = gs
        .iter()
        .enumerate()
        .flat_map(|(id, g)| g.chunks(CHUNK).map(move |c| (id, c)))
        .collect();
    let hits: Vec<(usize, bool)> = pieces
        .into_par_iter()
        .map(|(id, c)| (id, with_simd(|| chunk_has_bad(c, what))))
        .collect();
    let mut out = vec![false; gs.len()];
    for (id, b) in hits {
        out[id] |= b;
    }
    out
}

#[inline(always)]
fn chunk_has_bad<F: Float>(c: &[F], what: BadValues) -> bool {
    let mut bad = false;
    match what {
        BadValues::NonFinite => {
            for &x in c {
                bad |= !x.is_finite();
            }
        }
        BadValues::Nan => {
            for &x in c {
                bad |= x.is_nan();
            }
        }
    }
    bad
}

/// `acc += g` (the first micro-step of a group copies instead), chunked: the mean-gradient
/// buffer of Lion and AdamW under k-step accumulation.
pub fn accumulate<F: Float>(acc: &mut [F], g: &[F], first: bool) {
    acc.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .for_each(|(a, g)| {
            with_simd(|| {
                if first {
                    a.copy_from_slice(g);
                } else {
                    for (a, &g) in a.iter_mut().zip(g) {
                        *a += g;
                    }
                }
            })
        });
}

/// The trivial kernel with the traffic of a Lion step (read θ, g, m; write θ, m in place):
/// θ += g; m += g. The ceiling benchmarks compare against.
pub fn same_traffic_ceiling<F: Float>(jobs: &mut [(&mut [F], &mut [F], &[F])]) {
    let mut pieces = Vec::new();
    for (th, m, g) in jobs.iter_mut() {
        for ((a, b), c) in th
            .chunks_mut(CHUNK)
            .zip(m.chunks_mut(CHUNK))
            .zip(g.chunks(CHUNK))
        {
            pieces.push((a, b, c));
        }
    }
    pieces.into_par_iter().for_each(|(th, m, g)| {
        with_simd(|| {
            for ((t, m), &g) in th.iter_mut().zip(m.iter_mut()).zip(g) {
                *t += g;
                *m += g;
            }
        })
    });
}

/// The trivial kernel with AdamW's traffic (read θ, g, m, v; write θ, m, v in place).
/// One tensor's buffers for [`same_traffic_ceiling4`]: (θ, m, v, g).
pub type Four<'a, F> = (&'a mut [F], &'a mut [F], &'a mut [F], &'a [F]);

pub fn same_traffic_ceiling4<F: Float>(jobs: &mut [Four<'_, F>]) {
    let mut pieces = Vec::new();
    for (th, m, v, g) in jobs.iter_mut() {
        for (((a, b), c), d) in th
            .chunks_mut(CHUNK)
            .zip(m.chunks_mut(CHUNK))
            .zip(v.chunks_mut(CHUNK))
            .zip(g.chunks(CHUNK))
        {
            pieces.push((a, b, c, d));
        }
    }
    pieces.into_par_iter().for_each(|(th, m, v, g)| {
        with_simd(|| {
            for (((t, m), v), &g) in th.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                *t += g;
                *m += g;
                *v += g;
            }
        })
    });
}
