//! [`Map1`]/[`Map2`] kernels and the loops that run them: each chunk's loop compiled for
//! AVX-512, AVX2+FMA and the portable baseline, the level picked at run time, chunks in parallel.

use super::output::filled_output;
use super::{Isa, isa};
use crate::Float;
use crate::cpu_util::CHUNK;
use std::mem::MaybeUninit;

/// A one-input elementwise kernel `y = f(x)`; implement `apply` with `#[inline(always)]`.
///
/// Loops compiled with FMA call [`Map1::apply_fma`] instead, which a kernel overrides to run
/// its math with [`Fused`](super::Fused) multiply-adds (default: `apply`).
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
/// (`x.vsigmoid_parts::<M>()`), which is [`Separate`] in `apply` and [`Fused`] in `apply_fma`.
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

/// One chunk of [`map1`] at a given level. `level` must be one of [`available_isas`](super::available_isas).
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

/// One chunk of [`map2`] at a given level. `level` must be one of [`available_isas`](super::available_isas).
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

/// `out[i] = k(x[i])` into a new vector, in parallel chunks of [`CHUNK`], at level [`isa`].
pub fn map1<F: Float, K: Map1<F>>(k: &K, x: &[F]) -> Vec<F> {
    map1_at(isa(), k, x)
}

/// [`map1`] at an explicit level (one of [`available_isas`](super::available_isas)).
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

/// [`map2`] at an explicit level (one of [`available_isas`](super::available_isas)).
pub fn map2_at<F: Float, K: Map2<F>>(level: Isa, k: &K, a: &[F], b: &[F]) -> Vec<F> {
    filled_output(a.len().min(b.len()), |i, o| {
        let at = i * CHUNK..i * CHUNK + o.len();
        map2_chunk_uninit(level, k, o, &a[at.clone()], &b[at]);
    })
}
