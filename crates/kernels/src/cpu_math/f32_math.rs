//! Branch-free f32 approximations of `exp`, `σ`, `Φ` and `φ` (inline(always): they are meant
//! to be inlined into a SIMD loop). Bounds are in [`crate::cpu_math`]'s docs and are tested by
//! `tests.rs` at every ISA level.

use super::MulAdd;

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4; // few mantissa bits: k·LN2_HI is exact
const LN2_LO: f32 = -2.121_944_4e-4;
/// Below this `e^x` is under f32's normal range (k would be < −126); the result is 0.
const EXP_LO: f32 = -87.336_55;
/// Above this `e^x` overflows (k ≤ 128); the result is +∞.
const EXP_HI: f32 = 88.722_83;

/// `1.5·2^23 + 127`: `x·log2(e) + MAGIC_BIASED` rounds `x·log2(e)` to an integer `k` held in
/// the low bits together with the exponent bias, so `bits << 23` is `2^k` as an f32.
const MAGIC_BIASED: f32 = 12_583_039.0;

/// `(k as f32, 2^k as bits-shifted f32, r)` with `x = k·ln2 + r`, |r| ≤ ln2/2 (Cody–Waite, two
/// constants). The `2^k` factor is valid for k in −126..=127; callers handle the rest.
#[inline(always)]
fn reduce<M: MulAdd>(xc: f32) -> (f32, f32, f32) {
    let t = M::mul_add(xc, LOG2E, MAGIC_BIASED);
    let two_k = f32::from_bits(t.to_bits() << 23);
    let kf = t - MAGIC_BIASED;
    let r = M::mul_add(kf, -LN2_LO, M::mul_add(kf, -LN2_HI, xc));
    (kf, two_k, r)
}

/// `e^r − 1` for |r| ≤ ln2/2 by Cephes' degree-7 polynomial `r + r²·p(r)`, with `p` evaluated
/// by Estrin's scheme (three levels instead of five Horner steps: shorter dependency chains,
/// the same operations and the same accuracy).
#[inline(always)]
fn expm1_reduced_p7<M: MulAdd>(r: f32) -> f32 {
    let r2 = r * r;
    let a = M::mul_add(8.333_452e-3, r, 4.166_579_6e-2);
    let b = M::mul_add(0.166_666_65, r, 0.5);
    let c = M::mul_add(1.987_569_1e-4, r, 1.398_199_9e-3);
    let p = M::mul_add(M::mul_add(c, r2, a), r2, b);
    M::mul_add(p, r2, r)
}

/// `e^r − 1` for |r| ≤ ln2/2 by a degree-5 polynomial `r + r²·q(r)`, `q` minimax-fitted here
/// for relative error 1.03e-7 of `e^r` in exact arithmetic (`1 + r` kept exact); Estrin's scheme.
#[inline(always)]
fn expm1_reduced_p5<M: MulAdd>(r: f32) -> f32 {
    let r2 = r * r;
    let lo = M::mul_add(0.166_670_9, r, 0.499_992_3);
    let hi = M::mul_add(0.008_314_719, r, 0.041_890_208);
    M::mul_add(M::mul_add(hi, r2, lo), r2, r)
}

/// `e^x` in f32, any x: 0 below −87.34, +∞ above 88.72, NaN in → NaN out.
#[inline(always)]
pub fn exp_f32<M: MulAdd>(x: f32) -> f32 {
    // `clamp` passes NaN through (unlike max/min), so NaN in gives NaN out.
    let (kf, _, r) = reduce::<M>(x.clamp(EXP_LO, EXP_HI));
    let y = expm1_reduced_p7::<M>(r) + 1.0;
    // 2^k as two normal factors, since k runs from −126 to 128.
    let k = kf as i32;
    let k1 = k >> 1;
    let e = y * pow2i(k1) * pow2i(k - k1);
    if x > EXP_HI {
        f32::INFINITY
    } else if x < EXP_LO {
        0.0
    } else {
        e
    }
}

/// `2^k` for `k` in −126..=127 (a normal f32).
#[inline(always)]
fn pow2i(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// Where [`exp_nonpos_f32`] clamps its argument: `k = round(−88·log2 e) = −127`, whose `2^k`
/// built from exponent bits is exactly 0, so everything at or below the clamp comes out 0
/// without a select.
const EXP_NONPOS_LO: f32 = -88.0;

/// `e^x` for `x ≤ 0` (and NaN), for the activations (every exponent they take is
/// non-positive: `−|x|`, `−x²/2`): `2^k·(1 + (e^r − 1))` as one multiply-add with `2^k` a single
/// factor (k ≤ 0), the degree-5 polynomial of `expm1_reduced_p5`, no select: the argument is
/// clamped at −88, where `k = −127` makes the `2^k` factor exactly 0. So the result is 0 below
/// about −87.68 (`k = −127`), and between there and −87.34 (`k = −126`) the correctly scaled
/// subnormal value; above, relative error ≤ 2e-7. For x > 0 the result is wrong (unchecked).
#[inline(always)]
pub fn exp_nonpos_f32<M: MulAdd>(x: f32) -> f32 {
    // `x < LO ? LO : x` is one `vmaxps` and keeps NaN (then `2^k` is 0 and `0·NaN` is NaN).
    let xc = if x < EXP_NONPOS_LO { EXP_NONPOS_LO } else { x };
    let (_, two_k, r) = reduce::<M>(xc);
    M::mul_add(two_k, expm1_reduced_p5::<M>(r), two_k)
}

/// `(σ(x), 1 − σ(x))` with `σ(x) = 1/(1 + e^(−x))`, both without cancellation: with
/// `e = exp(−|x|)`, `σ = 1/(1+e)` for x ≥ 0 and `e/(1+e)` otherwise, and `1 − σ` the other one.
#[inline(always)]
pub fn sigmoid_parts_f32<M: MulAdd>(x: f32) -> (f32, f32) {
    let e = exp_nonpos_f32::<M>(-x.abs());
    let big = 1.0 / (1.0 + e);
    let small = e * big;
    // A select on the sign bit (one `vblendvps` on x itself; σ(−0) = σ(0) either way).
    if x.is_sign_negative() {
        (small, big)
    } else {
        (big, small)
    }
}

/// `t·σ(z)` with `σ(z) = 1/(1 + e^(−z))`, as `(z < 0 ? t·e : t) / (1 + e)` with
/// `e = exp(−|z|)`: one division and no separate `σ`, so SiLU (`t = z`), the logistic itself
/// (`t = 1`) and the tanh-form GELU (`z = 2u`, `t = x`) cost one multiply less than through
/// [`sigmoid_parts_f32`]. Relative error as there (≤ 5e-7, tested with `t = 1`).
#[inline(always)]
pub fn scaled_sigmoid_f32<M: MulAdd>(z: f32, t: f32) -> f32 {
    let e = exp_nonpos_f32::<M>(-z.abs());
    let num = if z.is_sign_negative() { t * e } else { t };
    num / (1.0 + e)
}

const INV_SQRT_2PI: f32 = 0.398_942_3;

/// `(Φ(−|x|), φ(x))` from one exponential: `φ(x) = e^(−x²/2)/√(2π)` and
/// `Φ(−a) = φ(a)·R(a)` with `R` Mills' ratio, here a degree-4/5 rational in `a = |x|`
/// (fitted on [0, 14] for relative error 2e-8 in exact arithmetic; all coefficients positive,
/// so the f32 evaluation has no cancellation). `a` is capped at 14 for the rational only: there
/// `φ` is already 0 in f32, and the cap keeps `a⁵` finite for huge inputs.
#[inline(always)]
pub fn normal_tail_pdf_f32<M: MulAdd>(x: f32) -> (f32, f32) {
    const P: [f32; 5] = [
        1.253_314_1,
        1.096_021_9,
        0.457_360_4,
        0.101_197_51,
        0.010_220_759,
    ];
    const Q: [f32; 5] = [
        1.672_383_9,
        1.199_285_5,
        0.467_425_23,
        0.101_204_32,
        0.010_220_63,
    ];
    let a = x.abs();
    let a = if a < 14.0 { a } else { 14.0 };
    let pdf = INV_SQRT_2PI * exp_nonpos_f32::<M>(-0.5 * x * x);
    let mut p = P[4];
    p = M::mul_add(p, a, P[3]);
    p = M::mul_add(p, a, P[2]);
    p = M::mul_add(p, a, P[1]);
    p = M::mul_add(p, a, P[0]);
    let mut q = Q[4];
    q = M::mul_add(q, a, Q[3]);
    q = M::mul_add(q, a, Q[2]);
    q = M::mul_add(q, a, Q[1]);
    q = M::mul_add(q, a, Q[0]);
    q = M::mul_add(q, a, 1.0);
    (pdf * (p / q), pdf)
}

/// `(Φ(x), φ(x))`, the standard normal CDF and density, from one exponential.
#[inline(always)]
pub fn normal_cdf_pdf_f32<M: MulAdd>(x: f32) -> (f32, f32) {
    let (tail, pdf) = normal_tail_pdf_f32::<M>(x);
    (if x >= 0.0 { 1.0 - tail } else { tail }, pdf)
}

/// `Φ(x)`, the standard normal CDF, in f32.
#[inline(always)]
pub fn normal_cdf_f32<M: MulAdd>(x: f32) -> f32 {
    normal_cdf_pdf_f32::<M>(x).0
}

/// `φ(x) = e^(−x²/2)/√(2π)`, the standard normal density, in f32.
#[inline(always)]
pub fn normal_pdf_f32<M: MulAdd>(x: f32) -> f32 {
    INV_SQRT_2PI * exp_nonpos_f32::<M>(-0.5 * x * x)
}
