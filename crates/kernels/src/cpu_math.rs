//! Vectorisable math for the CPU kernels, and loops that run it with the best SIMD extension
//! the CPU has, chosen at run time.
//!
//! # Why
//! libm's scalar `expf` costs tens of cycles and blocks vectorisation, which makes SiLU or GELU
//! compute-bound on two cores. The f32 functions here are branch-free (selects, not jumps), use
//! only `+ − × ÷`, comparisons and bit casts, so LLVM turns a loop over them into AVX2/AVX-512
//! code. The f64 instantiation ([`VecMath`] for `f64`) keeps the exact std/libm functions: it is
//! what gradient checks and references run.
//!
//! # Accuracy (f32, measured by `tests` in this file against f64 libm on dense sweeps)
//! - [`exp_f32`]: Cody–Waite range reduction `x = k·ln2 + r`, |r| ≤ ln2/2, Cephes' degree-6
//!   polynomial for `e^r`, `2^k` from exponent bits. Relative error ≤ 2e-7 for x in
//!   [−87.3, 88.7]; 0 below −87.34 (the true value is below f32's normal range), +∞ above
//!   88.72, NaN in → NaN out.
//! - [`sigmoid_parts_f32`]: `σ(x)` and `1 − σ(x)` from `e = exp(−|x|)`, each with relative error
//!   ≤ 5e-7 (no cancellation in `1 − σ` for large x).
//! - [`normal_cdf_f32`]: `Φ(x) = ½·erfc(−x/√2)` with the Chebyshev erfc of Numerical Recipes
//!   (§6.2, `erfcc`, fractional error < 1.2e-7): absolute error ≤ 2e-7 everywhere, relative
//!   error ≤ 1e-6·(1 + x²/8) in the left tail.
//!
//! # Run-time dispatch
//! [`map1`] and [`map2`] run a [`Map1`]/[`Map2`] kernel over rayon chunks of [`CHUNK`]
//! elements; each chunk's loop is compiled three times — AVX-512, AVX2+FMA and portable
//! (x86-64 baseline / other targets) — and [`isa`] picks one once per process with
//! `is_x86_feature_detected!`. Nothing depends on `target-cpu=native`. The FMA loops call
//! [`Map1::apply_fma`]/[`Map2::apply_fma`], where kernels run the math with [`Fused`]
//! multiply-adds (`vfmadd`); the portable loop calls `apply`, with [`Separate`] ones, since
//! `f32::mul_add` without the instruction is a slow software call. The accuracy bounds above
//! are tested at every level, so for both.

use crate::Float;
use crate::cpu_util::CHUNK;
use rayon::prelude::*;
use std::sync::OnceLock;

/// The instruction-set level the f32 loops run at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F (+ BW/DQ/VL) and FMA.
    Avx512,
    /// AVX2 and FMA.
    Avx2Fma,
    /// Whatever the compilation target guarantees (SSE2 on x86-64).
    Portable,
}

/// The best level this CPU supports, detected once.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("fma")
            {
                return Isa::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Isa::Avx2Fma;
            }
        }
        Isa::Portable
    })
}

/// The levels this CPU can run (always includes [`Isa::Portable`]); tests run each.
pub fn available_isas() -> Vec<Isa> {
    let mut v = vec![Isa::Portable];
    match isa() {
        Isa::Avx512 => v.extend([Isa::Avx2Fma, Isa::Avx512]),
        Isa::Avx2Fma => v.push(Isa::Avx2Fma),
        Isa::Portable => {}
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Multiply-add: fused where the loop is compiled with FMA, separate otherwise.

/// How the f32 math computes `a·b + c`. The loops compiled with FMA ([`Isa::Avx2Fma`],
/// [`Isa::Avx512`]) use [`Fused`] (one `vfmadd` per step, shorter dependency chains and one
/// rounding); the portable loop uses [`Separate`], because without the FMA instruction
/// `f32::mul_add` is a slow software call.
pub trait MulAdd {
    /// `a·b + c`.
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// `a·b + c` with one rounding (`f32::mul_add`); only for code compiled with FMA.
pub struct Fused;
impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// `a·b + c` as a multiply then an add (two roundings); for the portable loop.
pub struct Separate;
impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar f32 functions (inline(always): they are meant to be inlined into a SIMD loop).

const MAGIC: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer held in the low bits

/// `e^x` in f32, branch-free (see the module docs for the error bound).
#[inline(always)]
pub fn exp_f32<M: MulAdd>(x: f32) -> f32 {
    const HI: f32 = 88.722_83; // k ≤ 128; above it the result is +∞ (selected below)
    const LO: f32 = -87.336_55; // k ≥ −126; below it the result is 0 (selected below)
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // few mantissa bits: k·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    // `clamp` passes NaN through (unlike max/min), so NaN in gives NaN out.
    let xc = x.clamp(LO, HI);
    let t = M::mul_add(xc, LOG2E, MAGIC);
    let k = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let kf = t - MAGIC;
    let r = M::mul_add(kf, -LN2_LO, M::mul_add(kf, -LN2_HI, xc));
    let mut p = 1.987_569_1e-4f32;
    p = M::mul_add(p, r, 1.398_199_9e-3);
    p = M::mul_add(p, r, 8.333_452e-3);
    p = M::mul_add(p, r, 4.166_579_6e-2);
    p = M::mul_add(p, r, 0.166_666_65);
    p = M::mul_add(p, r, 0.5);
    let y = M::mul_add(p * r, r, r) + 1.0;
    // 2^k as two normal factors, since k runs from −126 to 128.
    let k1 = k >> 1;
    let s1 = f32::from_bits(((k1 + 127) as u32) << 23);
    let s2 = f32::from_bits(((k - k1 + 127) as u32) << 23);
    let e = y * s1 * s2;
    if x > HI {
        f32::INFINITY
    } else if x < LO {
        0.0
    } else {
        e
    }
}

/// `(σ(x), 1 − σ(x))` with `σ(x) = 1/(1 + e^(−x))`, both without cancellation: with
/// `e = exp(−|x|)`, `σ = 1/(1+e)` for x ≥ 0 and `e/(1+e)` otherwise, and `1 − σ` the other one.
#[inline(always)]
pub fn sigmoid_parts_f32<M: MulAdd>(x: f32) -> (f32, f32) {
    let e = exp_f32::<M>(-x.abs());
    let big = 1.0 / (1.0 + e);
    let small = e * big;
    if x >= 0.0 { (big, small) } else { (small, big) }
}

/// `Φ(x)`, the standard normal CDF, in f32: `½·erfc(−x/√2)` with Numerical Recipes' `erfcc`.
#[inline(always)]
pub fn normal_cdf_f32<M: MulAdd>(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / M::mul_add(0.5, z, 1.0);
    // The Horner steps stay separate multiply-adds even under FMA: Numerical Recipes' fit leaves
    // little room in the 2e-7 absolute bound, and fused steps measured 2.05e-7 near x = 0.002
    // (separate: 1.83e-7 on the same sweep).
    type H = Separate;
    let mut p = 0.170_872_77f32;
    p = H::mul_add(p, t, -0.822_152_23);
    p = H::mul_add(p, t, 1.488_515_9);
    p = H::mul_add(p, t, -1.135_204);
    p = H::mul_add(p, t, 0.278_868_07);
    p = H::mul_add(p, t, -0.186_288_06);
    p = H::mul_add(p, t, 0.096_784_18);
    p = H::mul_add(p, t, 0.374_091_96);
    p = H::mul_add(p, t, 1.000_023_7);
    p = H::mul_add(p, t, -1.265_512_2);
    let half_erfc = 0.5 * t * exp_f32::<M>(p - z * z); // ½·erfc(|x|/√2) = Φ(−|x|)
    if x >= 0.0 { 1.0 - half_erfc } else { half_erfc }
}

/// `φ(x) = e^(−x²/2)/√(2π)`, the standard normal density, in f32.
#[inline(always)]
pub fn normal_pdf_f32<M: MulAdd>(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    INV_SQRT_2PI * exp_f32::<M>(-0.5 * x * x)
}

// ---------------------------------------------------------------------------------------------
// The math the generic kernels call: fast f32 above, exact std/libm for f64.

/// Elementwise math for the CPU kernels: vectorisable approximations in f32, exact in f64.
/// `M` says how f32 computes `a·b + c` ([`Fused`] only inside FMA-compiled loops); f64 ignores it.
pub trait VecMath: Float {
    /// `e^x`.
    fn vexp<M: MulAdd>(self) -> Self;
    /// `(σ(x), 1 − σ(x))`, both accurate to a few ulp relative.
    fn vsigmoid_parts<M: MulAdd>(self) -> (Self, Self);
    /// `Φ(x)`, the standard normal CDF.
    fn vnormal_cdf<M: MulAdd>(self) -> Self;
    /// `φ(x)`, the standard normal density.
    fn vnormal_pdf<M: MulAdd>(self) -> Self;
}

impl VecMath for f32 {
    #[inline(always)]
    fn vexp<M: MulAdd>(self) -> Self {
        exp_f32::<M>(self)
    }
    #[inline(always)]
    fn vsigmoid_parts<M: MulAdd>(self) -> (Self, Self) {
        sigmoid_parts_f32::<M>(self)
    }
    #[inline(always)]
    fn vnormal_cdf<M: MulAdd>(self) -> Self {
        normal_cdf_f32::<M>(self)
    }
    #[inline(always)]
    fn vnormal_pdf<M: MulAdd>(self) -> Self {
        normal_pdf_f32::<M>(self)
    }
}

impl VecMath for f64 {
    #[inline(always)]
    fn vexp<M: MulAdd>(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn vsigmoid_parts<M: MulAdd>(self) -> (Self, Self) {
        let e = (-self.abs()).exp();
        let big = 1.0 / (1.0 + e);
        let small = e * big;
        if self >= 0.0 {
            (big, small)
        } else {
            (small, big)
        }
    }
    #[inline(always)]
    fn vnormal_cdf<M: MulAdd>(self) -> Self {
        0.5 * libm::erfc(-self * std::f64::consts::FRAC_1_SQRT_2)
    }
    #[inline(always)]
    fn vnormal_pdf<M: MulAdd>(self) -> Self {
        const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
        INV_SQRT_2PI * (-0.5 * self * self).exp()
    }
}

// ---------------------------------------------------------------------------------------------
// Loops with run-time ISA dispatch.

/// A one-input elementwise kernel `y = f(x)`; implement `apply` with `#[inline(always)]`.
///
/// Loops compiled with FMA call [`Map1::apply_fma`] instead, which a kernel overrides to run
/// its math with [`Fused`] multiply-adds (default: `apply`).
pub trait Map1<F>: Sync {
    /// The value for one element.
    fn apply(&self, x: F) -> F;
    /// The value for one element, in a loop compiled with the FMA instruction.
    #[inline(always)]
    fn apply_fma(&self, x: F) -> F {
        self.apply(x)
    }
}

/// A two-input elementwise kernel `y = f(a, b)`; implement `apply` with `#[inline(always)]`.
///
/// Loops compiled with FMA call [`Map2::apply_fma`] (default: `apply`), as for [`Map1`].
pub trait Map2<F>: Sync {
    /// The value for one element.
    fn apply(&self, a: F, b: F) -> F;
    /// The value for one element, in a loop compiled with the FMA instruction.
    #[inline(always)]
    fn apply_fma(&self, a: F, b: F) -> F {
        self.apply(a, b)
    }
}

#[inline(always)]
fn run1<F: Copy, K: Map1<F>, const FMA: bool>(k: &K, out: &mut [F], x: &[F]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = if FMA { k.apply_fma(x) } else { k.apply(x) };
    }
}

#[inline(always)]
fn run2<F: Copy, K: Map2<F>, const FMA: bool>(k: &K, out: &mut [F], a: &[F], b: &[F]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = if FMA {
            k.apply_fma(a, b)
        } else {
            k.apply(a, b)
        };
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Map1, Map2, run1, run2};

    #[target_feature(enable = "avx2,fma")]
    pub fn run1_avx2<F: Copy, K: Map1<F>>(k: &K, out: &mut [F], x: &[F]) {
        run1::<F, K, true>(k, out, x)
    }
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
    pub fn run1_avx512<F: Copy, K: Map1<F>>(k: &K, out: &mut [F], x: &[F]) {
        run1::<F, K, true>(k, out, x)
    }
    #[target_feature(enable = "avx2,fma")]
    pub fn run2_avx2<F: Copy, K: Map2<F>>(k: &K, out: &mut [F], a: &[F], b: &[F]) {
        run2::<F, K, true>(k, out, a, b)
    }
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
    pub fn run2_avx512<F: Copy, K: Map2<F>>(k: &K, out: &mut [F], a: &[F], b: &[F]) {
        run2::<F, K, true>(k, out, a, b)
    }
}

/// One chunk of [`map1`] at a given level. `level` must be one of [`available_isas`].
pub fn map1_chunk<F: Copy, K: Map1<F>>(level: Isa, k: &K, out: &mut [F], x: &[F]) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: callers pass only levels from `isa()`/`available_isas()`, which were detected.
        Isa::Avx512 => unsafe { x86::run1_avx512(k, out, x) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2Fma => unsafe { x86::run1_avx2(k, out, x) },
        _ => run1::<F, K, false>(k, out, x),
    }
}

/// One chunk of [`map2`] at a given level. `level` must be one of [`available_isas`].
pub fn map2_chunk<F: Copy, K: Map2<F>>(level: Isa, k: &K, out: &mut [F], a: &[F], b: &[F]) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: callers pass only levels from `isa()`/`available_isas()`, which were detected.
        Isa::Avx512 => unsafe { x86::run2_avx512(k, out, a, b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2Fma => unsafe { x86::run2_avx2(k, out, a, b) },
        _ => run2::<F, K, false>(k, out, a, b),
    }
}

/// A zeroed output vector of `n` elements for a streaming kernel.
///
/// Large outputs are fresh `mmap`ed memory, and on Linux their first touch costs one page fault
/// per 4 KiB page: for a 40 MB output that is ten thousand faults, several times the time the
/// kernel itself takes. So for outputs of 4 MiB and more this asks the kernel for transparent
/// huge pages (`madvise(MADV_HUGEPAGE)`, a hint: where THP is off it does nothing) before the
/// first touch. The memory is still zero-initialised and owned by an ordinary `Vec`.
pub fn alloc_output<F: Float>(n: usize) -> Vec<F> {
    let v = vec![F::default(); n];
    #[cfg(target_os = "linux")]
    advise_huge_pages(&v);
    v
}

#[cfg(target_os = "linux")]
fn advise_huge_pages<F>(v: &[F]) {
    const MIN_BYTES: usize = 4 << 20;
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(v);
    if bytes < MIN_BYTES {
        return;
    }
    let start = v.as_ptr() as usize;
    let first = start.next_multiple_of(HUGE);
    let end = (start + bytes) / HUGE * HUGE;
    if end > first {
        // SAFETY: [first, end) lies inside the vector's own allocation; MADV_HUGEPAGE only
        // changes how the kernel backs those pages, never their contents. Failure is harmless.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

/// `out[i] = k(x[i])` into a new vector, in parallel chunks of [`CHUNK`], at level [`isa`].
pub fn map1<F: Float, K: Map1<F>>(k: &K, x: &[F]) -> Vec<F> {
    map1_at(isa(), k, x)
}

/// [`map1`] at an explicit level (one of [`available_isas`]).
pub fn map1_at<F: Float, K: Map1<F>>(level: Isa, k: &K, x: &[F]) -> Vec<F> {
    let mut out = alloc_output(x.len());
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(o, x)| map1_chunk(level, k, o, x));
    out
}

/// `out[i] = k(a[i], b[i])` into a new vector, in parallel chunks of [`CHUNK`], at level [`isa`].
/// `a` and `b` must have the same length (the ops check shapes first).
pub fn map2<F: Float, K: Map2<F>>(k: &K, a: &[F], b: &[F]) -> Vec<F> {
    map2_at(isa(), k, a, b)
}

/// [`map2`] at an explicit level (one of [`available_isas`]).
pub fn map2_at<F: Float, K: Map2<F>>(level: Isa, k: &K, a: &[F], b: &[F]) -> Vec<F> {
    debug_assert_eq!(a.len(), b.len());
    let mut out = alloc_output(a.len());
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
        .for_each(|(o, (a, b))| map2_chunk(level, k, o, a, b));
    out
}

#[cfg(test)]
#[path = "cpu_math_tests.rs"]
mod tests;
