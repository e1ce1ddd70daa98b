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
//! - [`exp_f32`]: Cody–Waite range reduction `x = k·ln2 + r`, |r| ≤ ln2/2, Cephes' degree-7
//!   polynomial for `e^r` (evaluated by Estrin's scheme), `2^k` from exponent bits. Relative
//!   error ≤ 2e-7 for x in [−87.3, 88.7] (8e-8 measured); 0 below −87.34 (the true value is
//!   below f32's normal range), +∞ above 88.72, NaN in → NaN out.
//! - [`exp_nonpos_f32`], for x ≤ 0, is what the activations use: the same reduction, a
//!   degree-5 minimax polynomial fitted here, `2^k` as one factor folded into the last
//!   multiply-add, a clamp at −88 (where the `2^k` factor is exactly 0) instead of underflow and
//!   overflow selects — 12 vector operations against 18. Relative error ≤ 2e-7 on [−87.3, 0]
//!   (1.8e-7 measured at every ISA level); 0 below about −87.68, subnormal values just above.
//! - [`sigmoid_parts_f32`]: `σ(x)` and `1 − σ(x)` from `e = exp(−|x|)`, each with relative error
//!   ≤ 5e-7 (no cancellation in `1 − σ` for large x).
//! - [`normal_cdf_f32`], [`normal_pdf_f32`], [`normal_cdf_pdf_f32`]: `φ(x) = e^(−x²/2)/√(2π)`
//!   and `Φ(−|x|) = φ(x)·R(|x|)` with `R` Mills' ratio as a degree-4/5 rational (one exp, one
//!   division, nine multiply-adds for both `Φ` and `φ`): `Φ` to absolute error ≤ 2e-7
//!   everywhere and relative error ≤ 1e-6·(1 + x²/8) in the left tail; `φ` to relative error
//!   ≤ 3e-7·(1 + x²/2) (the f32 rounding of x² inside exp). The GELU kernels no longer use
//!   them (they run [`gate`], below); they stay for callers that need `Φ` with relative accuracy
//!   in the left tail.
//! - [`gate`]: GELU (both forms) and its derivative from piecewise-polynomial tables looked up
//!   with `vpermps`, without an exponential: absolute error ≤ 5e-8 on `Φ(−|x|)` (accuracy and
//!   layout in that module's docs).
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
use std::mem::MaybeUninit;
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
    /// Whether [`MulAdd::mul_add`] rounds once (as the FMA instruction does).
    const FUSED: bool;
    /// `a·b + c`.
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// `a·b + c` with one rounding (`f32::mul_add`); only for code compiled with FMA.
pub struct Fused;
impl MulAdd for Fused {
    const FUSED: bool = true;
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// `a·b + c` as a multiply then an add (two roundings); for the portable loop.
pub struct Separate;
impl MulAdd for Separate {
    const FUSED: bool = false;
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar f32 functions.

mod f32_math;
pub mod gate;
pub use f32_math::{
    exp_f32, exp_nonpos_f32, normal_cdf_f32, normal_cdf_pdf_f32, normal_pdf_f32,
    normal_tail_pdf_f32, scaled_sigmoid_f32, sigmoid_parts_f32,
};

// ---------------------------------------------------------------------------------------------
// The math the generic kernels call: fast f32 above, exact std/libm for f64.

/// Elementwise math for the CPU kernels: vectorisable approximations in f32, exact in f64.
/// `M` says how f32 computes `a·b + c` ([`Fused`] only inside FMA-compiled loops); f64 ignores it.
pub trait VecMath: Float {
    /// `e^x`.
    fn vexp<M: MulAdd>(self) -> Self;
    /// `(σ(x), 1 − σ(x))`, both accurate to a few ulp relative.
    fn vsigmoid_parts<M: MulAdd>(self) -> (Self, Self);
    /// `t·σ(self)`, to the same accuracy as `t` times [`VecMath::vsigmoid_parts`]`.0`.
    fn vscaled_sigmoid<M: MulAdd>(self, t: Self) -> Self;
    /// `self·b + c`: one fused multiply-add in f32 loops compiled with FMA (`M` = [`Fused`]),
    /// a multiply then an add otherwise and in f64.
    fn vmul_add<M: MulAdd>(self, b: Self, c: Self) -> Self;
    /// `Φ(x)`, the standard normal CDF.
    fn vnormal_cdf<M: MulAdd>(self) -> Self;
    /// `φ(x)`, the standard normal density.
    fn vnormal_pdf<M: MulAdd>(self) -> Self;
    /// `(Φ(x), φ(x))` together (in f32 from one exponential).
    fn vnormal_cdf_pdf<M: MulAdd>(self) -> (Self, Self);
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
    fn vscaled_sigmoid<M: MulAdd>(self, t: Self) -> Self {
        scaled_sigmoid_f32::<M>(self, t)
    }
    #[inline(always)]
    fn vmul_add<M: MulAdd>(self, b: Self, c: Self) -> Self {
        M::mul_add(self, b, c)
    }
    #[inline(always)]
    fn vnormal_cdf<M: MulAdd>(self) -> Self {
        normal_cdf_f32::<M>(self)
    }
    #[inline(always)]
    fn vnormal_pdf<M: MulAdd>(self) -> Self {
        normal_pdf_f32::<M>(self)
    }
    #[inline(always)]
    fn vnormal_cdf_pdf<M: MulAdd>(self) -> (Self, Self) {
        normal_cdf_pdf_f32::<M>(self)
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
    fn vscaled_sigmoid<M: MulAdd>(self, t: Self) -> Self {
        let e = (-self.abs()).exp();
        let num = if self.is_sign_negative() { t * e } else { t };
        num / (1.0 + e)
    }
    #[inline(always)]
    fn vmul_add<M: MulAdd>(self, b: Self, c: Self) -> Self {
        self * b + c
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
    #[inline(always)]
    fn vnormal_cdf_pdf<M: MulAdd>(self) -> (Self, Self) {
        (self.vnormal_cdf::<M>(), self.vnormal_pdf::<M>())
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

/// `vec_math_kernel!(Name, |x| body)` defines a unit struct `Name` implementing [`Map1`] (or,
/// with `|x, dy| body`, [`Map2`]) for every `F: VecMath`; `body` may call the math with `M`
/// (`x.vexp::<M>()`), which is [`Separate`] in `apply` and [`Fused`] in `apply_fma`.
macro_rules! vec_math_kernel {
    ($name:ident, |$x:ident| $body:expr) => {
        struct $name;
        impl $name {
            #[inline(always)]
            fn eval<F: $crate::cpu_math::VecMath, M: $crate::cpu_math::MulAdd>($x: F) -> F {
                $body
            }
        }
        impl<F: $crate::cpu_math::VecMath> $crate::cpu_math::Map1<F> for $name {
            #[inline(always)]
            fn apply(&self, x: F) -> F {
                Self::eval::<F, $crate::cpu_math::Separate>(x)
            }
            #[inline(always)]
            fn apply_fma(&self, x: F) -> F {
                Self::eval::<F, $crate::cpu_math::Fused>(x)
            }
        }
    };
    ($name:ident, |$x:ident, $dy:ident| $body:expr) => {
        struct $name;
        impl $name {
            #[inline(always)]
            fn eval<F: $crate::cpu_math::VecMath, M: $crate::cpu_math::MulAdd>($x: F, $dy: F) -> F {
                $body
            }
        }
        impl<F: $crate::cpu_math::VecMath> $crate::cpu_math::Map2<F> for $name {
            #[inline(always)]
            fn apply(&self, x: F, dy: F) -> F {
                Self::eval::<F, $crate::cpu_math::Separate>(x, dy)
            }
            #[inline(always)]
            fn apply_fma(&self, x: F, dy: F) -> F {
                Self::eval::<F, $crate::cpu_math::Fused>(x, dy)
            }
        }
    };
}
pub(crate) use vec_math_kernel;

/// Elements per step of the loops below: two AVX2 vectors (or one AVX-512 vector) per step
/// gives the out-of-order core two independent dependency chains of the math to overlap; one
/// vector per step measured 10–25 % slower on SiLU (Zen 3, in L1).
const UNROLL: usize = 16;

#[inline(always)]
fn run1<F: Copy, K: Map1<F>, const FMA: bool>(k: &K, out: &mut [MaybeUninit<F>], x: &[F]) {
    let f = |x: F| if FMA { k.apply_fma(x) } else { k.apply(x) };
    let n = out.len().min(x.len());
    let (out, x) = (&mut out[..n], &x[..n]);
    let mut out_blocks = out.chunks_exact_mut(UNROLL);
    let mut x_blocks = x.chunks_exact(UNROLL);
    for (o, x) in (&mut out_blocks).zip(&mut x_blocks) {
        for (o, &x) in o.iter_mut().zip(x) {
            o.write(f(x));
        }
    }
    for (o, &x) in out_blocks
        .into_remainder()
        .iter_mut()
        .zip(x_blocks.remainder())
    {
        o.write(f(x));
    }
}

#[inline(always)]
fn run2<F: Copy, K: Map2<F>, const FMA: bool>(k: &K, out: &mut [MaybeUninit<F>], a: &[F], b: &[F]) {
    let f = |a: F, b: F| {
        if FMA {
            k.apply_fma(a, b)
        } else {
            k.apply(a, b)
        }
    };
    let n = out.len().min(a.len()).min(b.len());
    let (out, a, b) = (&mut out[..n], &a[..n], &b[..n]);
    let mut out_blocks = out.chunks_exact_mut(UNROLL);
    let (mut a_blocks, mut b_blocks) = (a.chunks_exact(UNROLL), b.chunks_exact(UNROLL));
    for ((o, a), b) in (&mut out_blocks).zip(&mut a_blocks).zip(&mut b_blocks) {
        for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
            o.write(f(a, b));
        }
    }
    let tail = out_blocks.into_remainder().iter_mut();
    for ((o, &a), &b) in tail.zip(a_blocks.remainder()).zip(b_blocks.remainder()) {
        o.write(f(a, b));
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Map1, Map2, run1, run2};
    use std::mem::MaybeUninit;
    type Out<'a, F> = &'a mut [MaybeUninit<F>];

    #[target_feature(enable = "avx2,fma")]
    pub fn run1_avx2<F: Copy, K: Map1<F>>(k: &K, out: Out<F>, x: &[F]) {
        run1::<F, K, true>(k, out, x)
    }
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
    pub fn run1_avx512<F: Copy, K: Map1<F>>(k: &K, out: Out<F>, x: &[F]) {
        run1::<F, K, true>(k, out, x)
    }
    #[target_feature(enable = "avx2,fma")]
    pub fn run2_avx2<F: Copy, K: Map2<F>>(k: &K, out: Out<F>, a: &[F], b: &[F]) {
        run2::<F, K, true>(k, out, a, b)
    }
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
    pub fn run2_avx512<F: Copy, K: Map2<F>>(k: &K, out: Out<F>, a: &[F], b: &[F]) {
        run2::<F, K, true>(k, out, a, b)
    }
}

/// `out` viewed as possibly uninitialised memory; the loops only ever write initialised values
/// through it.
fn as_uninit<F: Copy>(out: &mut [F]) -> &mut [MaybeUninit<F>] {
    // SAFETY: `MaybeUninit<F>` has the layout of `F`; the view is only written with valid `F`
    // values (never `MaybeUninit::uninit()`), so `out` stays initialised.
    unsafe { &mut *(out as *mut [F] as *mut [MaybeUninit<F>]) }
}

/// One chunk of [`map1`] at a given level. `level` must be one of [`available_isas`].
pub fn map1_chunk<F: Copy, K: Map1<F>>(level: Isa, k: &K, out: &mut [F], x: &[F]) {
    map1_chunk_uninit(level, k, as_uninit(out), x)
}

/// [`map1_chunk`] into memory that may be uninitialised: writes `out[i]` for every
/// `i < min(out.len(), x.len())`.
fn map1_chunk_uninit<F: Copy, K: Map1<F>>(level: Isa, k: &K, out: &mut [MaybeUninit<F>], x: &[F]) {
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
    map2_chunk_uninit(level, k, as_uninit(out), a, b)
}

/// [`map2_chunk`] into memory that may be uninitialised: writes `out[i]` for every
/// `i < min(out.len(), a.len(), b.len())`.
fn map2_chunk_uninit<F: Copy, K: Map2<F>>(
    level: Isa,
    k: &K,
    out: &mut [MaybeUninit<F>],
    a: &[F],
    b: &[F],
) {
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

/// Clears the upper halves of the AVX registers (`vzeroupper`) on the calling thread.
///
/// faer's x86 GEMM kernels (`private-gemm-x86`, hand-written) return with dirty upper halves;
/// until a `vzeroupper`, every SSE-encoded instruction the thread runs next (scalar code, libm's
/// `exp`, non-VEX loops) pays a transition penalty — measured here as 10–20× slower element-wise
/// passes after a faer product. Call it after handing work to such kernels.
#[inline]
pub fn clear_upper_avx_state() {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        fn zero_upper() {
            std::arch::x86_64::_mm256_zeroupper()
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is available (checked on the line above).
            unsafe { zero_upper() }
        }
    }
}

/// [`clear_upper_avx_state`] on this thread and on every thread of the current rayon pool
/// (after a GEMM that ran on the pool).
pub fn clear_upper_avx_state_everywhere() {
    rayon::broadcast(|_| clear_upper_avx_state());
    clear_upper_avx_state();
}

/// A zeroed output vector of `n` elements (for kernels that need zeros or hand the buffer to a
/// library, such as the GEMMs).
///
/// Large outputs are fresh `mmap`ed memory, and on Linux their first touch costs one page fault
/// per 4 KiB page: for a 40 MB output that is ten thousand faults, several times the time the
/// kernel itself takes. So for outputs of 4 MiB and more this asks the kernel for transparent
/// huge pages (`madvise(MADV_HUGEPAGE)`, a hint: where THP is off it does nothing) before the
/// first touch. The memory is zero-initialised and owned by an ordinary `Vec`.
pub fn alloc_output<F: Float>(n: usize) -> Vec<F> {
    let v = vec![F::default(); n];
    #[cfg(target_os = "linux")]
    advise_huge_pages(&v);
    v
}

/// A new vector of `n` elements, every one written by `fill` in parallel chunks of [`CHUNK`]
/// (`fill(chunk_index, chunk)`), with no zeroing first: for outputs that glibc recycles from its
/// heap (those under its mmap threshold, up to 32 MB) `vec![0; n]` would `memset` the whole
/// buffer, a second write of every byte. Huge pages as in [`alloc_output`].
///
/// `fill` must write every element of the chunk it is given; [`map1_chunk_uninit`] and
/// [`map2_chunk_uninit`] do, given inputs of the chunk's length.
fn filled_output<F: Float>(
    n: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<F>]) + Sync + Send,
) -> Vec<F> {
    let mut out: Vec<F> = Vec::with_capacity(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    #[cfg(target_os = "linux")]
    advise_huge_pages(spare);
    spare
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(i, c)| fill(i, c));
    // SAFETY: `fill` wrote all `n` elements (the callers below hand the chunk loops inputs of
    // each chunk's length, and those loops write every element); F is Copy, nothing to drop.
    unsafe { out.set_len(n) };
    out
}

#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(v: &[T]) {
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
    filled_output(x.len(), |i, o| {
        let at = i * CHUNK..i * CHUNK + o.len();
        map1_chunk_uninit(level, k, o, &x[at]);
    })
}

/// `out[i] = k(a[i], b[i])` into a new vector, in parallel chunks of [`CHUNK`], at level [`isa`].
/// The ops check that `a` and `b` have the same shape first; given different lengths, the
/// result has the shorter one's.
pub fn map2<F: Float, K: Map2<F>>(k: &K, a: &[F], b: &[F]) -> Vec<F> {
    map2_at(isa(), k, a, b)
}

/// [`map2`] at an explicit level (one of [`available_isas`]).
pub fn map2_at<F: Float, K: Map2<F>>(level: Isa, k: &K, a: &[F], b: &[F]) -> Vec<F> {
    filled_output(a.len().min(b.len()), |i, o| {
        let at = i * CHUNK..i * CHUNK + o.len();
        map2_chunk_uninit(level, k, o, &a[at.clone()], &b[at]);
    })
}

#[cfg(test)]
mod tests;
