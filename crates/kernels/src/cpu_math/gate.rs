//! Gated activations `y = x·g(x)` whose gate is symmetric about `(0, ½)`, `g(−x) = 1 − g(x)`,
//! in f32 from tables: both GELU forms (`g = Φ`, and `g = σ(2u)` with
//! `u = √(2/π)·(x + 0.044715·x³)`).
//!
//! # The two tabulated functions
//! With `a = |x|`, everything follows from two functions of `a ≥ 0`:
//! - the **tail** `T(a) = g(−a)`: `y = x − x·T(a)` for `x ≥ 0` and `y = x·T(a)` for `x < 0`,
//!   that is `y = max(x, 0) − a·T(a)`, one multiply-add;
//! - the **slope** `R(a) = a·g′(a) − g(−a)` (`g′` is even): `dy/dx = g(x) + x·g′(x)` is
//!   `1 + R(a)` for `x ≥ 0` and `−R(a)` for `x < 0`.
//!
//! Only the small part is tabulated, so neither side cancels. Each function is a [`Piecewise`]
//! table: 8 polynomials (degree 5 for the tails, 6 for the slopes) in `t = s − k`, where
//! `s = a·(α − β·a)` maps `[0, limit]` onto `[0, 7.25]` with intervals narrow where the function
//! bends most and wide in the tail, and `k = round(s)` is the interval; `a` is capped at `limit`
//! (5.2–6.2), where the table is exactly 0 by construction and the function below 2e-8. With AVX2
//! the 8 coefficients of one power sit in one register and `vpermps` picks each lane's by `k`,
//! and the two highest powers share one lookup as a bfloat16 pair: a degree-d polynomial costs `d`
//! shuffles and `d` multiply-adds, with no exponential, division or select; a forward is 19
//! vector operations. (Measured on Zen 3, one thread, data in L1: 0.47–0.57 ns per element for
//! the erf GELU forward and 0.6–0.7 for its backward, against 0.9–1.0 and 1.0–1.1 ns for the
//! previous forms built on an exponential and a rational function; SiLU takes 0.42–0.52 and
//! 0.65–0.71.)
//!
//! # Accuracy (tested in `gate_tests.rs` at every ISA level, against f64 libm)
//! The tables (fitted by `scripts/fit_gate_tables.py`, near-minimax per interval) reach an
//! absolute error ≤ 5e-8 (tails) and 6e-8 (slopes) in f32 with FMA, 7e-8 without: about one
//! rounding of a value near ½.
//! The forward is `max(x, 0) − |x|·T` in one multiply-add, so `y` has relative error ≤ 2.5e-7
//! for `x ≥ 0` and absolute error ≤ `|x|·7e-8 + ½ulp(y)` for `x < 0`; the derivative has
//! absolute error ≤ 1.5e-7. In the far left tail (from `|x|` ≈ 5.3–5.6 on, where `T` stops) the
//! result is 0 where the exact value is below 8e-8 in magnitude (closed forms in f32 such as
//! `½·x·(1 + erf(x/√2))`, PyTorch's, lose all relative accuracy there too). NaN in gives NaN
//! out; `±∞` give the limits `+∞` and 0 (value) and 1 and 0 (derivative), where the closed
//! forms give NaN for `−∞·0`.

use super::{Fused, Isa, MulAdd, Separate, filled_output, isa};
use crate::cpu_util::CHUNK;

#[path = "gate_tables.rs"]
mod tables;

/// `1.5·2^23`: adding it to a float in `(−2^22, 2^22)` rounds it to an integer, kept in the low
/// mantissa bits of the sum (so `bits & 7` is that integer mod 8).
const MAGIC: f32 = 12_582_912.0;

/// A function of `a ≥ 0` as 8 polynomials of degree `N + 1` in `t = s − k`, where
/// `s = a·(α − β·a)` and `k = round(s)` is the interval (so |t| ≤ ½; with `β > 0` the intervals
/// widen as `a` grows), with `a` capped at `limit` (on interval 7), where the table is exactly 0.
///
/// That zero is built into the coefficients: interval 7 is fitted with a root at the cap whose
/// last multiply-add, evaluated with one rounding, cancels exactly (the fit script makes the
/// inner Horner value there a 12-bit number and `t` a 12-bit number, so their product is exact).
/// So the SIMD code needs no select for the cut-off: capping `a` (one `vminps`, which also stands
/// in for `+∞`) is all. Code with separate multiplies and adds rounds differently and selects 0.
///
/// The coefficients of `t^0 … t^(N−1)` are f32; the two highest, which contribute least, share
/// one 32-bit word per interval (one table lookup for both): its low half is the bfloat16 of
/// `t^(N+1)`'s coefficient, and the whole word read as an f32 is `t^N`'s (the low half perturbs it
/// only below bfloat16's resolution, and the fit chooses the high half knowing the low one; it
/// rounds these two first and refits the others around them).
pub struct Piecewise<const N: usize> {
    /// `α` of the map `s = a·(α − β·a)`.
    pub alpha: f32,
    /// `β` of the map `s = a·(α − β·a)`.
    pub beta: f32,
    /// The cap on `a`, where the table is exactly 0 (the function is below 2e-8 there).
    pub limit: f32,
    /// `coef[j][k]`: the coefficient of `t^j` on interval `k`, for `j < N`.
    pub coef: [[f32; 8]; N],
    /// `top[k]`: on interval `k`, `t^N`'s coefficient as an f32 whose low 16 bits are the
    /// bfloat16 of `t^(N+1)`'s.
    pub top: [u32; 8],
}

impl<const N: usize> Piecewise<N> {
    /// `a` capped at `limit`, as `vminps(limit, a)` computes it (NaN stays NaN).
    #[inline(always)]
    pub fn cap(&self, a: f32) -> f32 {
        if a >= self.limit { self.limit } else { a }
    }

    /// The value at `a ≥ 0` (0 from `limit` on and at `+∞`, NaN for NaN), computing `a·b + c`
    /// with `M`: with [`Fused`] bit-identical to the AVX2 lanes.
    #[inline(always)]
    pub fn eval<M: MulAdd>(&self, a: f32) -> f32 {
        let p = self.eval_capped::<M>(self.cap(a));
        // Fused evaluation is exactly 0 at the cap (see the type's docs); separate rounding
        // is not, so it selects.
        if !M::FUSED && a >= self.limit { 0.0 } else { p }
    }

    #[inline(always)]
    fn eval_capped<M: MulAdd>(&self, a: f32) -> f32 {
        let g = M::mul_add(a, -self.beta, self.alpha);
        let r = M::mul_add(a, g, MAGIC);
        let k = r - MAGIC;
        let t = M::mul_add(a, g, -k);
        let i = (r.to_bits() & 7) as usize;
        let (hi, lo) = bf16_pair(self.top[i]);
        let mut p = M::mul_add(lo, t, hi);
        for row in self.coef.iter().rev() {
            p = M::mul_add(p, t, row[i]);
        }
        p
    }
}

/// The two coefficients a pair word holds: the whole word as an f32, and its low half as a
/// bfloat16 (shifted into an f32's high half).
#[inline(always)]
fn bf16_pair(pair: u32) -> (f32, f32) {
    (f32::from_bits(pair), f32::from_bits(pair << 16))
}

/// The two tables of one symmetric gate (see the module docs).
pub struct SymmetricGate<const NT: usize, const NR: usize> {
    /// `T(a) = g(−a)`.
    pub tail: Piecewise<NT>,
    /// `R(a) = a·g′(a) − g(−a)`.
    pub slope: Piecewise<NR>,
}

/// The erf-form GELU's gate, `g = Φ` (tail degree 5, slope degree 6).
pub const GELU_ERF: SymmetricGate<4, 5> = SymmetricGate {
    tail: tables::ERF_TAIL,
    slope: tables::ERF_SLOPE,
};

/// The tanh-form GELU's gate, `g(x) = σ(2u)`, `u = √(2/π)·(x + 0.044715·x³)` (tail degree 5,
/// slope degree 6).
pub const GELU_TANH: SymmetricGate<4, 5> = SymmetricGate {
    tail: tables::TANH_TAIL,
    slope: tables::TANH_SLOPE,
};

impl<const NT: usize, const NR: usize> SymmetricGate<NT, NR> {
    /// `x·g(x) = max(x, 0) − a·T(a)` for one element, `a = |x|` capped at the table's limit
    /// (where `T` is 0, so that `+∞` gives `+∞`).
    #[inline(always)]
    pub fn forward_one<M: MulAdd>(&self, x: f32) -> f32 {
        let a = x.abs();
        let tail = self.tail.eval::<M>(a);
        // Written as `vmaxps(x, 0)` computes it (NaN and −0 give 0), so that the scalar
        // remainder matches the SIMD lanes bit for bit.
        let relu = if x > 0.0 { x } else { 0.0 };
        M::mul_add(-self.tail.cap(a), tail, relu)
    }

    /// `dy·(g(x) + x·g′(x))` for one element.
    #[inline(always)]
    pub fn backward_one<M: MulAdd>(&self, x: f32, dy: f32) -> f32 {
        let slope = self.slope.eval::<M>(x.abs());
        dy * if x.is_sign_negative() {
            -slope
        } else {
            1.0 + slope
        }
    }

    /// `y[i] = x[i]·g(x[i])` into a new vector, in parallel chunks, at level [`isa`].
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        self.forward_at(isa(), x)
    }

    /// [`SymmetricGate::forward`] at an explicit level (one of [`super::available_isas`]).
    pub fn forward_at(&self, level: Isa, x: &[f32]) -> Vec<f32> {
        filled_output(x.len(), |c, out| {
            let x = &x[c * CHUNK..c * CHUNK + out.len()];
            match level {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: callers pass only detected levels; both FMA levels have AVX2 and FMA.
                Isa::Avx2Fma | Isa::Avx512 => unsafe { avx2::forward(self, out, x) },
                _ => {
                    for (o, &x) in out.iter_mut().zip(x) {
                        o.write(self.forward_one::<Separate>(x));
                    }
                }
            }
        })
    }

    /// `dx[i] = dy[i]·(g(x[i]) + x[i]·g′(x[i]))` into a new vector (the shorter input's length),
    /// in parallel chunks, at level [`isa`].
    pub fn backward(&self, x: &[f32], dy: &[f32]) -> Vec<f32> {
        self.backward_at(isa(), x, dy)
    }

    /// [`SymmetricGate::backward`] at an explicit level (one of [`super::available_isas`]).
    pub fn backward_at(&self, level: Isa, x: &[f32], dy: &[f32]) -> Vec<f32> {
        filled_output(x.len().min(dy.len()), |c, out| {
            let at = c * CHUNK..c * CHUNK + out.len();
            let (x, dy) = (&x[at.clone()], &dy[at]);
            match level {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as in `forward_at`.
                Isa::Avx2Fma | Isa::Avx512 => unsafe { avx2::backward(self, out, x, dy) },
                _ => {
                    for ((o, &x), &dy) in out.iter_mut().zip(x).zip(dy) {
                        o.write(self.backward_one::<Separate>(x, dy));
                    }
                }
            }
        })
    }
}

/// The AVX2+FMA loops: 16 elements (two independent vectors) per step, the remainder through
/// the scalar code with fused multiply-adds, which computes bit for bit what a lane does.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Fused, MAGIC, Piecewise, SymmetricGate};
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    /// `a` capped at the table's limit (`vminps(limit, a)`: NaN stays NaN).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn cap<const N: usize>(table: &Piecewise<N>, a: __m256) -> __m256 {
        _mm256_min_ps(_mm256_set1_ps(table.limit), a)
    }

    /// One vector of `Piecewise::eval` at an already capped `a`: the coefficient of each power
    /// is one `vpermps` of that power's 8 interval values by the lanes' interval indices.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn eval<const N: usize>(table: &Piecewise<N>, a: __m256) -> __m256 {
        let magic = _mm256_set1_ps(MAGIC);
        let g = _mm256_fnmadd_ps(a, _mm256_set1_ps(table.beta), _mm256_set1_ps(table.alpha));
        let r = _mm256_fmadd_ps(a, g, magic);
        let k = _mm256_sub_ps(r, magic);
        let t = _mm256_fmsub_ps(a, g, k);
        // vpermps reads only the low 3 bits of each index lane: `k mod 8`.
        let idx = _mm256_castps_si256(r);
        // SAFETY: `top` is 8 contiguous u32.
        let top = unsafe { _mm256_loadu_si256(table.top.as_ptr().cast()) };
        let pair = _mm256_permutevar8x32_epi32(top, idx);
        let hi = _mm256_castsi256_ps(pair);
        let lo = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(pair));
        let mut p = _mm256_fmadd_ps(lo, t, hi);
        for row in table.coef.iter().rev() {
            // SAFETY: `row` is 8 contiguous f32.
            let row = unsafe { _mm256_loadu_ps(row.as_ptr()) };
            p = _mm256_fmadd_ps(p, t, _mm256_permutevar8x32_ps(row, idx));
        }
        p
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn abs(x: __m256) -> __m256 {
        _mm256_andnot_ps(_mm256_set1_ps(-0.0), x)
    }

    /// `max(x, 0) − a·T(a)` with `a = min(|x|, limit)` (`T` is 0 from the limit on).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn forward8<const NT: usize, const NR: usize>(g: &SymmetricGate<NT, NR>, x: __m256) -> __m256 {
        let a = cap(&g.tail, abs(x));
        let relu = _mm256_max_ps(x, _mm256_setzero_ps());
        _mm256_fnmadd_ps(a, eval(&g.tail, a), relu)
    }

    /// `dy·(x ≥ 0 ? 1 + R : −R)`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn backward8<const NT: usize, const NR: usize>(
        g: &SymmetricGate<NT, NR>,
        x: __m256,
        dy: __m256,
    ) -> __m256 {
        let slope = eval(&g.slope, cap(&g.slope, abs(x)));
        let neg = _mm256_xor_ps(slope, _mm256_set1_ps(-0.0));
        let grad = _mm256_blendv_ps(_mm256_add_ps(_mm256_set1_ps(1.0), slope), neg, x);
        _mm256_mul_ps(dy, grad)
    }

    /// `out[i] = x[i]·g(x[i])` for `i < min(out.len(), x.len())`.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward<const NT: usize, const NR: usize>(
        g: &SymmetricGate<NT, NR>,
        out: &mut [MaybeUninit<f32>],
        x: &[f32],
    ) {
        let n = out.len().min(x.len());
        let (o, xp) = (out.as_mut_ptr().cast::<f32>(), x.as_ptr());
        let mut i = 0;
        // SAFETY: every load and store is at `i..i + 16 ≤ n` (or `i..i + 8 ≤ n`).
        unsafe {
            while i + 16 <= n {
                let y0 = forward8(g, _mm256_loadu_ps(xp.add(i)));
                let y1 = forward8(g, _mm256_loadu_ps(xp.add(i + 8)));
                _mm256_storeu_ps(o.add(i), y0);
                _mm256_storeu_ps(o.add(i + 8), y1);
                i += 16;
            }
            if i + 8 <= n {
                _mm256_storeu_ps(o.add(i), forward8(g, _mm256_loadu_ps(xp.add(i))));
                i += 8;
            }
        }
        for (o, &x) in out[i..n].iter_mut().zip(&x[i..n]) {
            o.write(g.forward_one::<Fused>(x));
        }
    }

    /// `out[i] = dy[i]·(g(x[i]) + x[i]·g′(x[i]))` for `i < min(out.len(), x.len(), dy.len())`.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn backward<const NT: usize, const NR: usize>(
        g: &SymmetricGate<NT, NR>,
        out: &mut [MaybeUninit<f32>],
        x: &[f32],
        dy: &[f32],
    ) {
        let n = out.len().min(x.len()).min(dy.len());
        let (o, xp, dp) = (out.as_mut_ptr().cast::<f32>(), x.as_ptr(), dy.as_ptr());
        let mut i = 0;
        // SAFETY: every load and store is at `i..i + 16 ≤ n` (or `i..i + 8 ≤ n`).
        unsafe {
            while i + 16 <= n {
                let d0 = backward8(g, _mm256_loadu_ps(xp.add(i)), _mm256_loadu_ps(dp.add(i)));
                let d1 = backward8(
                    g,
                    _mm256_loadu_ps(xp.add(i + 8)),
                    _mm256_loadu_ps(dp.add(i + 8)),
                );
                _mm256_storeu_ps(o.add(i), d0);
                _mm256_storeu_ps(o.add(i + 8), d1);
                i += 16;
            }
            if i + 8 <= n {
                let d = backward8(g, _mm256_loadu_ps(xp.add(i)), _mm256_loadu_ps(dp.add(i)));
                _mm256_storeu_ps(o.add(i), d);
                i += 8;
            }
        }
        for ((o, &x), &dy) in out[i..n].iter_mut().zip(&x[i..n]).zip(&dy[i..n]) {
            o.write(g.backward_one::<Fused>(x, dy));
        }
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
