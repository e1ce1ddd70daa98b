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
//! - [`exp_nonpos_f32`], for x ≤ 0 (every exponent the activations take is non-positive):
//!   Cody–Waite range reduction `x = k·ln2 + r`, |r| ≤ ln2/2, a degree-5 minimax polynomial for
//!   `e^r` fitted here, `2^k` as one factor folded into the last
//!   multiply-add, a clamp at −88 (where the `2^k` factor is exactly 0) instead of underflow and
//!   overflow selects — 12 vector operations. Relative error ≤ 2e-7 on [−87.3, 0]
//!   (1.8e-7 measured at every ISA level); 0 below about −87.68, subnormal values just above.
//! - [`sigmoid_parts_f32`]: `σ(x)` and `1 − σ(x)` from `e = exp(−|x|)`, each with relative error
//!   ≤ 5e-7 (no cancellation in `1 − σ` for large x).
//! - [`gate`]: GELU (both forms) and its derivative from piecewise-polynomial tables looked up
//!   with `vpermps`, without an exponential: absolute error ≤ 5e-8 on `Φ(−|x|)` (accuracy and
//!   layout in that module's docs).
//!
//! # Run-time dispatch
//! [`map1`] and [`map2`] run a [`Map1`]/[`Map2`] kernel over rayon chunks of [`CHUNK`](crate::cpu_util::CHUNK)
//! elements; each chunk's loop is compiled three times — AVX-512, AVX2+FMA and portable
//! (x86-64 baseline / other targets) — and [`isa`] picks one once per process with
//! `is_x86_feature_detected!`. Nothing depends on `target-cpu=native`. The FMA loops call
//! [`Map1::apply_fma`]/[`Map2::apply_fma`], where kernels run the math with [`Fused`]
//! multiply-adds (`vfmadd`); the portable loop calls `apply`, with [`Separate`] ones, since
//! `f32::mul_add` without the instruction is a slow software call. The accuracy bounds above
//! are tested at every level, so for both.

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
pub use f32_math::{exp_nonpos_f32, scaled_sigmoid_f32, sigmoid_parts_f32};

// ---------------------------------------------------------------------------------------------
// The generic kernels' math, the loops that run it, and their output buffers.

mod map;
mod output;
mod vec_math;
pub(crate) use map::vec_math_kernel;
pub use map::{Map1, Map2, map1, map1_at, map1_chunk, map2, map2_at, map2_chunk};
use output::filled_output;
pub use output::{alloc_output, clear_upper_avx_state, clear_upper_avx_state_everywhere};
pub use vec_math::VecMath;

#[cfg(test)]
mod tests;
